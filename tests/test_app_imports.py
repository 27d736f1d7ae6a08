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

import ast
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
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


@dataclass(frozen=True)
class Import:
    source: str  # the importing module
    target: str  # the imported module, resolved when relative
    path: Path
    line: int

    @property
    def where(self) -> str:
        return f"{self.path.relative_to(ROOT)}:{self.line}"


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def app_of(module: str) -> str | None:
    """The app a module belongs to (advisor.registry.views -> registry); None outside the apps."""
    parts = module.split(".")
    if len(parts) < 2 or parts[0] != "advisor" or module.startswith(SHARED):
        return None
    return parts[1] if (PACKAGE / parts[1]).is_dir() else None


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _statements(node: ast.AST):
    """Every import statement (and import_module call) under `node` that runs, wherever it is."""
    for child in ast.iter_child_nodes(node):
        if isinstance(child, ast.If) and _is_type_checking(child.test):
            for other in child.orelse:
                yield from _statements(ast.Module(body=[other], type_ignores=[]))
            continue
        if isinstance(child, (ast.Import, ast.ImportFrom)):
            yield child
        elif (
            isinstance(child, ast.Call)
            and getattr(child.func, "attr", getattr(child.func, "id", None)) == "import_module"
            and child.args
            and isinstance(child.args[0], ast.Constant)
            and isinstance(child.args[0].value, str)
        ):
            yield child
        yield from _statements(child)


def imports_in(source: str, *, module: str, path: Path, is_package: bool = False) -> list[Import]:
    tree = ast.parse(source, filename=str(path))
    package = module if is_package else module.rpartition(".")[0]
    found: list[Import] = []
    for stmt in _statements(tree):
        if isinstance(stmt, ast.Call):
            found.append(Import(module, stmt.args[0].value, path, stmt.lineno))
        elif isinstance(stmt, ast.Import):
            found += [Import(module, alias.name, path, stmt.lineno) for alias in stmt.names]
        else:
            base = stmt.module or ""
            if stmt.level:
                parts = package.split(".")
                anchor = ".".join(parts[: len(parts) - (stmt.level - 1)])
                base = f"{anchor}.{base}" if base else anchor
            # `from advisor import registry` imports the app as much as `import advisor.registry`.
            found += [Import(module, f"{base}.{alias.name}", path, stmt.lineno) for alias in stmt.names]
    return found


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


def find_cycle(graph: dict[str, list[Import]]) -> list[Import] | None:
    """One cycle as the imports that make it, or None when the graph has none (depth-first)."""
    state: dict[str, str] = {}  # "open" while on the current path, "done" once fully explored
    path: list[Import] = []

    def visit(node: str) -> list[Import] | None:
        state[node] = "open"
        for edge in graph.get(node, []):
            target = app_of(edge.target)
            if state.get(target) == "open":
                start = next((k for k, e in enumerate(path) if app_of(e.source) == target), len(path))
                return [*path[start:], edge]
            if target not in state:
                path.append(edge)
                cycle = visit(target)
                if cycle is not None:
                    return cycle
                path.pop()
        state[node] = "done"
        return None

    for node in sorted(graph):
        if node not in state:
            cycle = visit(node)
            if cycle is not None:
                return cycle
    return None


def describe(cycle: list[Import]) -> str:
    chain = " -> ".join([app_of(cycle[0].source), *(app_of(e.target) for e in cycle)])
    return chain + "\n" + "\n".join(f"  {e.source} imports {e.target} ({e.where})" for e in cycle)


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
    cycle = find_cycle(graph)
    assert cycle is not None
    assert describe(cycle).startswith("findings -> registry -> findings\n")
    assert "advisor/x.py:7" in describe(cycle) and "advisor/x.py:3" in describe(cycle)
    graph["findings"] = []
    assert find_cycle(graph) is None


def test_no_import_cycle_between_apps():
    cycle = find_cycle(app_graph(IMPORTS))
    if cycle is not None:
        print("import cycle between apps:\n" + describe(cycle))
    assert cycle is None, "import cycle between apps:\n" + describe(cycle)


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
