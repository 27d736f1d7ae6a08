"""How the domain core imports itself, read from the source with `ast` (nothing is executed).

The graph has one node per module of advisor/core (a package is its `__init__`) and one edge per
import statement, at the top of a module or inside a function: a lazy import is a dependency all
the same, only a hidden one. Imports under `if TYPE_CHECKING:` are left out (annotations only,
never run). `from X import name` counts as an import of `X.name` when that is a module, else of
`X`. Importing a submodule from outside its package also runs the package's `__init__`; like
import-linter, the graph does not add that implicit edge.

The rules it holds the core to:
- no cycle;
- a rule module (rules/key.py, ttl.py, ...) imports rules/base and shared modules, never another
  rule module nor the registry (advisor.core.rules);
- rules/base.py imports nothing of advisor.core.rules;
- the registry lists its rules with plain imports, nothing found at run time (importlib);
- nothing in the core imports Django (or the web and task frameworks around it) or an advisor app.
"""

from __future__ import annotations

import ast

import pytest

from tests.import_reader import ROOT, Import, describe, find_cycle, imports_in, module_name

CORE = ROOT / "advisor" / "core"
RULES = "advisor.core.rules"
BASE = "advisor.core.rules.base"
# In the rules package but not rules: the registry, the base, and the catalog as data (which reads
# the registry).
NOT_RULE_MODULES = {RULES, BASE, "advisor.core.rules.docs"}
FRAMEWORKS = ("django", "ninja", "celery", "kombu", "rest_framework")


MODULES = {module_name(path): path for path in sorted(CORE.rglob("*.py")) if "__pycache__" not in path.parts}


def imports_of(module: str) -> list[Import]:
    path = MODULES[module]
    return imports_in(
        path.read_text(encoding="utf-8"),
        module=module,
        path=path,
        is_package=path.name == "__init__.py",
        modules=MODULES,
    )


IMPORTS: dict[str, list[Import]] = {module: imports_of(module) for module in MODULES}


def core_graph() -> dict[str, list[Import]]:
    """Edges between modules of the core, self-imports (a package naming its own module) left out."""
    return {
        module: [i for i in found if i.target in MODULES and i.target != module]
        for module, found in IMPORTS.items()
    }


def test_the_reader_sees_the_imports_that_are_there():
    # If the parser lost edges, every rule below would pass on an empty graph.
    graph = core_graph()
    assert len(MODULES) > 30
    assert {e.target for e in graph["advisor.core.engine"]} >= {RULES, BASE, "advisor.core.findings"}
    assert any(e.target == "advisor.core.findings" for e in graph["advisor.core.rules.key"])
    # A lazy import inside a function is an edge; one under TYPE_CHECKING is not.
    assert any(e.target == "advisor.core.sizing" for e in graph[BASE])
    assert not any(e.target.startswith("advisor.core.design") for e in graph[BASE])


def test_the_cycle_finder_finds_a_cycle_and_names_its_lines():
    edge = lambda a, b, line: Import(a, b, MODULES[a], line)  # noqa: E731
    graph = {
        "advisor.core.engine": [edge("advisor.core.engine", "advisor.core.rules", 1)],
        "advisor.core.rules": [edge("advisor.core.rules", "advisor.core.rules.base", 2)],
        "advisor.core.rules.base": [edge("advisor.core.rules.base", "advisor.core.rules", 3)],
    }
    cycle = find_cycle(graph)
    assert cycle is not None
    assert [(e.source, e.target) for e in cycle] == [
        ("advisor.core.rules", "advisor.core.rules.base"),
        ("advisor.core.rules.base", "advisor.core.rules"),
    ]
    assert describe(cycle).startswith("advisor.core.rules -> advisor.core.rules.base -> advisor.core.rules\n")
    assert "advisor/core/rules/base.py:3" in describe(cycle)
    del graph["advisor.core.rules.base"]
    assert find_cycle(graph) is None


def test_the_core_has_no_import_cycle():
    cycle = find_cycle(core_graph())
    if cycle is not None:
        print("import cycle in advisor/core:\n" + describe(cycle))
    assert cycle is None, "import cycle in advisor/core:\n" + describe(cycle)


RULE_MODULES = sorted(m for m in MODULES if m.startswith(RULES + ".") and m not in NOT_RULE_MODULES)


def test_the_rule_modules_are_the_ones_the_registry_lists():
    names = {m.rpartition(".")[2] for m in RULE_MODULES}
    assert names == {"key", "ttl", "evi", "ins", "hsh", "val", "dur", "drift"}
    registry = {e.target for e in IMPORTS[RULES]}
    assert registry >= set(RULE_MODULES)


@pytest.mark.parametrize("module", RULE_MODULES)
def test_a_rule_module_imports_no_other_rule_module(module):
    wrong = [e for e in IMPORTS[module] if e.target.startswith(RULES) and e.target != BASE]
    assert wrong == [], "\n".join(f"{e.where}: {module} imports {e.target}" for e in wrong)


def test_the_rule_base_imports_nothing_of_the_rules_package():
    wrong = [e for e in IMPORTS[BASE] if e.target == RULES or e.target.startswith(RULES + ".")]
    assert wrong == [], "\n".join(f"{e.where}: imports {e.target}" for e in wrong)


def test_nothing_in_the_core_is_found_at_run_time():
    # A rule (or any module) that is imported by name at run time is invisible to this graph.
    dynamic = [
        f"{MODULES[m].relative_to(ROOT)}:{node.lineno}"
        for m in MODULES
        for node in ast.walk(ast.parse(MODULES[m].read_text(encoding="utf-8")))
        if (isinstance(node, ast.Name) and node.id in ("importlib", "__import__"))
        or (isinstance(node, (ast.Import, ast.ImportFrom)) and "importlib" in _names(node))
    ]
    assert dynamic == []


def _names(node: ast.Import | ast.ImportFrom) -> str:
    return " ".join([getattr(node, "module", None) or "", *(alias.name for alias in node.names)])


def test_the_core_imports_no_framework_and_no_app():
    wrong = [
        f"{e.where}: {e.source} imports {e.target}"
        for found in IMPORTS.values()
        for e in found
        if e.target.split(".")[0] in FRAMEWORKS
        or (e.target.split(".")[0] == "advisor" and not e.target.startswith("advisor.core"))
        or e.target == "advisor"
    ]
    assert wrong == [], "\n".join(wrong)
