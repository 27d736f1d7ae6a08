"""Imports read from the source with `ast` (nothing is executed), for the tests that hold the
core (test_import_graph) and the apps (test_app_imports) to their import rules.

Every import statement counts, at the top of a module or inside a function (a lazy import is a
dependency all the same, only a hidden one); imports under `if TYPE_CHECKING:` do not (annotations
only, never run); `importlib.import_module("...")` with a literal name does.
"""

from __future__ import annotations

import ast
from collections.abc import Callable, Collection
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


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


def imports_in(
    source: str, *, module: str, path: Path, is_package: bool = False, modules: Collection[str] | None = None
) -> list[Import]:
    """The imports of one module. `from X import name` is an import of `X.name`; given `modules`
    (the modules that exist), of `X.name` only when that is one of them, else of `X`."""
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
            for alias in stmt.names:
                target = f"{base}.{alias.name}"
                found.append(
                    Import(
                        module, target if modules is None or target in modules else base, path, stmt.lineno
                    )
                )
    return found


def find_cycle(
    graph: dict[str, list[Import]], node_of: Callable[[str], str | None] = lambda m: m
) -> list[Import] | None:
    """One cycle as the imports that make it, or None when the graph has none (depth-first).
    `graph` maps a node to its outgoing imports; `node_of` gives the node a module belongs to."""
    state: dict[str, str] = {}  # "open" while on the current path, "done" once fully explored
    path: list[Import] = []

    def visit(node: str) -> list[Import] | None:
        state[node] = "open"
        for edge in graph.get(node, []):
            target = node_of(edge.target)
            if state.get(target) == "open":
                start = next((k for k, e in enumerate(path) if node_of(e.source) == target), len(path))
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


def describe(cycle: list[Import], node_of: Callable[[str], str | None] = lambda m: m) -> str:
    chain = " -> ".join([node_of(cycle[0].source), *(node_of(e.target) for e in cycle)])
    return chain + "\n" + "\n".join(f"  {e.source} imports {e.target} ({e.where})" for e in cycle)
