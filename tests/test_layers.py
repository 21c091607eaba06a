"""The package's layers import downward only, and no modules import each other in a cycle.

Every ``import`` in ``webapp/`` (at module level or inside a function) is read from the
source; a module may import its own layer or a lower one. The layers, low to high:
files/config/tables < language < encoders, index, catalog < search < training, evaluation,
analytics, demo < lifecycle, security, observability < commands, web (the factory in
``webapp/__init__.py`` sits on top).
"""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

from .conftest import ROOT

PACKAGE = ROOT / "webapp"
LAYERS = {
    "files": 0,
    "config": 0,
    "tables": 0,
    "ratelimit_store": 0,
    "restart": 0,
    "language": 1,
    "encoders": 2,
    "index": 2,
    "catalog": 2,
    "search": 3,
    "training": 4,
    "evaluation": 4,
    "analytics": 4,
    "demo": 4,
    "concept_rules": 4,
    "lifecycle": 5,
    "security": 5,
    "observability": 5,
    "commands": 6,
    "web": 6,
    "workers": 6,
}


def module_name(path: Path) -> str:
    """``webapp.search.ranking`` for ``webapp/search/ranking.py`` (packages by their folder)."""
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports(source: str, name: str, *, package: bool = False) -> set[str]:
    """The ``webapp`` modules (or names in them) that module ``name``'s ``source`` imports,
    relative imports resolved (``package``: the source is an ``__init__``)."""
    package_name = name if package else name.rsplit(".", 1)[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package_name.split(".")
                anchor = parts[: len(parts) - node.level + 1]
                base = ".".join(anchor + ([base] if base else []))
            found.update([base] if node.module else [])
            found.update(f"{base}.{alias.name}" for alias in node.names)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return {t for t in found if t == "webapp" or t.startswith("webapp.")}


def graph() -> dict[str, set[str]]:
    """Module → the webapp modules it imports (names inside a module count as the module)."""
    paths = sorted(PACKAGE.rglob("*.py"))
    modules = {module_name(p) for p in paths}
    edges: dict[str, set[str]] = defaultdict(set)
    for path in paths:
        source = module_name(path)
        text = path.read_text(encoding="utf-8")
        for target in imports(text, source, package=path.name == "__init__.py"):
            while target not in modules and "." in target:
                target = target.rsplit(".", 1)[0]
            if target != source and target in modules:
                edges[source].add(target)
    return edges


def layer(module: str) -> int | None:
    """The layer of a module (its sub-package's), None for the package itself."""
    parts = module.split(".")
    return LAYERS[parts[1]] if len(parts) > 1 else None


def test_every_sub_package_and_top_module_has_a_layer() -> None:
    tops = {p.stem if p.is_file() else p.name for p in PACKAGE.iterdir()}
    tops -= {"__init__", "__pycache__"}
    assert tops - {"py"} <= set(LAYERS), sorted(tops - set(LAYERS))


def upward(edges: dict[str, set[str]]) -> list[str]:
    """The imports of ``edges`` that reach a higher layer."""
    return [
        f"{a} -> {b}"
        for a, targets in sorted(edges.items())
        for b in sorted(targets)
        if layer(a) is not None and layer(b) is not None and layer(b) > layer(a)  # type: ignore[operator]
    ]


def cycles(graph_edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected groups of modules (Tarjan's algorithm over the import graph), not
    counting a package importing its own modules in its ``__init__``."""
    edges = {
        a: {b for b in targets if not b.startswith(a + ".")} for a, targets in graph_edges.items()
    }
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for target in edges.get(node, ()):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            group = []
            while True:
                member = stack.pop()
                group.append(member)
                if member == node:
                    break
            if len(group) > 1:
                found.append(sorted(group))

    for node in sorted(edges):
        if node not in index:
            visit(node)
    return found


def test_no_module_imports_a_higher_layer() -> None:
    assert upward(graph()) == []


def test_no_import_cycles() -> None:
    assert cycles(graph()) == []


def test_the_checker_sees_an_upward_import_and_a_cycle() -> None:
    """The checker itself, on made-up sources: an index module importing search (relative,
    inside a function) is upward; three modules importing in a ring are a cycle."""
    source = "def f():\n    from ..search.ranking import Ranker\nfrom . import faiss_index\n"
    found = imports(source, "webapp.index.base")
    assert found == {
        "webapp.search.ranking",
        "webapp.search.ranking.Ranker",
        "webapp.index.faiss_index",
    }
    assert upward({"webapp.index.base": {"webapp.search.ranking"}}) == [
        "webapp.index.base -> webapp.search.ranking"
    ]
    a, b, c = "webapp.search.a", "webapp.search.b", "webapp.search.c"
    ring = {a: {b}, b: {c}, c: {a}, "webapp.search": {a}}
    assert cycles(ring) == [[a, b, c]]
