"""The package's import graph has one direction: no module imports, even inside a
function, a module that imports it back (directly or through others)."""

from __future__ import annotations

import ast
from pathlib import Path

import centrifuge

ROOT = Path(centrifuge.__file__).parent


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def import_graph() -> dict[str, set[str]]:
    modules = {module_name(p): p for p in ROOT.rglob("*.py")}
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        edges = set()
        for node in ast.walk(ast.parse(path.read_text())):
            targets = []
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                # `from a.b import c` imports module a.b.c if there is one, else a.b
                targets = [f"{node.module}.{a.name}" if f"{node.module}.{a.name}" in modules
                           else node.module for a in node.names]
            for t in targets:
                while t and t not in modules:  # the deepest package module it names
                    t = t.rpartition(".")[0]
                if t.startswith("centrifuge") and t != name:
                    edges.add(t)
        graph[name] = edges
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(n):
        state[n] = 1
        stack.append(n)
        for m in sorted(graph.get(n, ())):
            if state.get(m) == 1:
                return stack[stack.index(m):] + [m]
            if m not in state and (found := visit(m)):
                return found
        stack.pop()
        state[n] = 2
        return None

    for n in sorted(graph):
        if n not in state and (found := visit(n)):
            return found
    return None


def test_no_import_cycle():
    graph = import_graph()
    assert len(graph) > 40 and "centrifuge.models.checkpoint" in graph
    # the package root re-exports the API: it may import anything, nothing imports it
    importers = [m for m, edges in graph.items() if "centrifuge" in edges]
    assert importers == [], f"modules importing the package root: {importers}"
    graph.pop("centrifuge")
    cycle = find_cycle(graph)
    assert cycle is None, " → ".join(cycle)


def test_the_walker_sees_a_cycle():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None
