"""How the apps import each other, read from the source with `ast` (nothing is executed).

One node per app (a package directly under advisor/: every module in it counts, views, template
tags, commands and migrations included) and one edge wherever a module of one app imports a module
of another, at the top of a module or inside a function: a lazy import is a dependency all the
same, only a hidden one, and it is how cycles hide. Imports under `if TYPE_CHECKING:` are left out
(annotations only, never run); `importlib.import_module("advisor...")` with a literal name counts.

Imports run one way, down these layers; an app imports only apps of lower layers (so two apps of
one layer never import each other):

    overview  metrics  api  notifications  demo    pages, exports and shells over everything
       |
    reviews            design reviews, waiver requests, the compliance page
       |
    findings           stored design findings, rules, the waiver pages, migration plans
       |
    scans  accounts    live scans of instances  |  users, API tokens, sign-in
       |
    registry           teams, instances, namespaces, waivers, policy; the write services
       |
    audit              the trail: before/after dicts in, it knows no app
       |
    core, lib          the domain core (Django-free, tests/test_import_graph.py) and small helpers

A lower app that needs a higher one does not import it: a page includes the higher app's template
tags (the registry's namespace page shows the findings card of findings_tags), and the registry's
write services call advisor.registry.hooks, which findings and scans fill at startup. The project
modules (settings, urls, celery) sit above all of this; core and the shared helpers below it.
"""

from __future__ import annotations

from tests.import_reader import ROOT, Import, describe, find_cycle, imports_in, module_name

PACKAGE = ROOT / "advisor"

LAYERS: list[tuple[str, ...]] = [
    ("audit",),
    ("registry",),
    ("scans", "accounts"),
    ("findings",),
    ("reviews",),
    ("overview", "metrics", "api", "notifications", "demo"),
]
RANK = {app: rank for rank, apps in enumerate(LAYERS) for app in apps}
# Below every app; they import none (the core's own rules are in tests/test_import_graph.py).
SHARED = ("advisor.core", "advisor.lib", "advisor.limits", "advisor.lint_cli")


def app_of(module: str) -> str | None:
    """The app a module belongs to (advisor.registry.views -> registry); None outside the apps."""
    parts = module.split(".")
    if len(parts) < 2 or parts[0] != "advisor" or module.startswith(SHARED):
        return None
    return parts[1] if (PACKAGE / parts[1]).is_dir() else None


def _all_imports() -> list[Import]:
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        if "__pycache__" in path.parts:
            continue
        found += imports_in(
            path.read_text(encoding="utf-8"),
            module=module_name(path),
            path=path,
            is_package=path.name == "__init__.py",
        )
    return found


IMPORTS = _all_imports()
APPS = sorted(
    p.name for p in PACKAGE.iterdir() if (p / "__init__.py").exists() and f"advisor.{p.name}" not in SHARED
)


def app_graph(imports: list[Import]) -> dict[str, list[Import]]:
    """app -> the imports by which it reaches another app."""
    graph: dict[str, list[Import]] = {app: [] for app in APPS}
    for edge in imports:
        source, target = app_of(edge.source), app_of(edge.target)
        if source is not None and target is not None and source != target:
            graph.setdefault(source, []).append(edge)
    return graph


def test_the_reader_sees_the_imports_that_are_there():
    # If the reader lost edges, every rule below would pass on an empty graph.
    source = """
from typing import TYPE_CHECKING
from advisor.registry.models import Team
from . import services
import advisor.audit.services

if TYPE_CHECKING:
    from advisor.reviews.models import Review

def lazy():
    from advisor.scans.models import ScanRun
    return importlib.import_module("advisor.metrics.collector")
"""
    path = PACKAGE / "findings" / "example.py"
    found = imports_in(source, module="advisor.findings.example", path=path)
    assert {app_of(i.target) for i in found} - {None} == {"registry", "findings", "audit", "scans", "metrics"}
    assert ("advisor.scans.models.ScanRun", 11) in {(i.target, i.line) for i in found}
    assert "advisor.findings.services" in {i.target for i in found}  # relative, resolved
    graph = app_graph(IMPORTS)
    assert set(APPS) >= {"audit", "registry", "scans", "findings", "reviews", "overview", "api", "demo"}
    assert {app_of(e.target) for e in graph["reviews"]} >= {"registry", "findings", "audit"}
    assert sum(len(edges) for edges in graph.values()) > 100


def test_the_cycle_finder_finds_a_cycle_and_names_its_lines():
    path = PACKAGE / "x.py"
    graph = {
        "audit": [],
        "registry": [Import("advisor.registry.writes", "advisor.findings.services", path, 3)],
        "findings": [Import("advisor.findings.services", "advisor.registry.models", path, 7)],
    }
    cycle = find_cycle(graph, app_of)
    assert cycle is not None
    assert describe(cycle, app_of).startswith("findings -> registry -> findings\n")
    assert "advisor/x.py:7" in describe(cycle, app_of) and "advisor/x.py:3" in describe(cycle, app_of)
    graph["findings"] = []
    assert find_cycle(graph, app_of) is None


def test_no_import_cycle_between_apps():
    cycle = find_cycle(app_graph(IMPORTS), app_of)
    if cycle is not None:
        print("import cycle between apps:\n" + describe(cycle, app_of))
    assert cycle is None, "import cycle between apps:\n" + describe(cycle, app_of)


def test_every_app_has_its_place_in_the_layers():
    # A new app says where it sits (LAYERS above), so that the direction covers it too.
    assert [app for app in APPS if app not in RANK] == []


def test_imports_run_down_the_layers():
    wrong = sorted(
        {
            f"{edge.where}: {edge.source} imports {edge.target} ({app_of(edge.target)} is not below {app})"
            for app, edges in app_graph(IMPORTS).items()
            for edge in edges
            if app in RANK and RANK.get(app_of(edge.target), -1) >= RANK[app]
        }
    )
    assert wrong == [], "\n".join(wrong)


def test_the_shared_modules_import_no_app():
    wrong = [
        f"{edge.where}: {edge.source} imports {edge.target}"
        for edge in IMPORTS
        if edge.source.startswith(SHARED) and app_of(edge.target) is not None
    ]
    assert wrong == [], "\n".join(wrong)
