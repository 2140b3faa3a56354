"""No import circle in ``idp``: the package's modules form a graph that points one way.

The walk reads every ``import`` in ``idp/**/*.py`` with ``ast``, also those inside functions (a
deferred import still closes a circle; it only waits to fail until the function runs), but not
those under ``if TYPE_CHECKING:``. Importing ``a.b.c`` from outside the package ``a.b`` also
counts as importing ``a.b``, whose ``__init__`` runs first.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable, Iterator
from pathlib import Path

import idp

Graph = dict[str, set[str]]


def module_files(root: Path) -> dict[str, Path]:
    """Each module of the package in ``root`` by its dotted name."""
    found = {}
    for path in sorted(root.rglob("*.py")):
        parts = [root.name, *path.relative_to(root).with_suffix("").parts]
        if parts[-1] == "__init__":
            parts.pop()
        found[".".join(parts)] = path
    return found


def _imported_names(nodes: Iterable[ast.AST], package: str) -> Iterator[str]:
    """The dotted names the import statements among ``nodes`` (and inside them) name,
    skipping ``if TYPE_CHECKING:`` blocks; ``package`` anchors relative imports."""
    for node in nodes:
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            yield from _imported_names(node.orelse, package)
            continue
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, *([node.module] if node.module else [])])
            yield from (f"{base}.{alias.name}" for alias in node.names)
        yield from _imported_names(ast.iter_child_nodes(node), package)


def import_graph(root: Path) -> Graph:
    modules = module_files(root)
    graph: Graph = {}
    for name, path in modules.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        targets = set()
        for imported in _imported_names(ast.parse(path.read_text(encoding="utf-8")).body, package):
            while imported and imported not in modules:  # a name in a module: the module
                imported = imported.rpartition(".")[0]
            if not imported:
                continue
            targets.add(imported)
            parts = imported.split(".")
            for depth in range(2, len(parts)):
                parent = ".".join(parts[:depth])
                if name != parent and not name.startswith(parent + "."):
                    targets.add(parent)
        targets.discard(name)
        graph[name] = targets
    return graph


def circles(graph: Graph) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for target in sorted(graph[node]):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def describe(graph: Graph, component: list[str]) -> str:
    members = set(component)
    return "; ".join(f"{m} -> {', '.join(sorted(graph[m] & members))}" for m in component)


def test_the_walk_finds_a_circle_and_its_edges(tmp_path: Path) -> None:
    package = tmp_path / "pkg"
    (package / "sub").mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "sub" / "__init__.py").write_text("from pkg.sub import b\n")
    (package / "a.py").write_text("def later():\n    from pkg.sub.b import thing\n")
    (package / "sub" / "b.py").write_text(
        "from typing import TYPE_CHECKING\nfrom . import c\nif TYPE_CHECKING:\n    from pkg import a\n")
    (package / "sub" / "c.py").write_text("import pkg.a\n")
    graph = import_graph(package)
    assert graph["pkg.a"] == {"pkg.sub", "pkg.sub.b"}
    assert graph["pkg.sub.b"] == {"pkg.sub.c"}
    assert circles(graph) == [["pkg.a", "pkg.sub", "pkg.sub.b", "pkg.sub.c"]]


def test_idp_has_no_import_circle() -> None:
    graph = import_graph(Path(idp.__file__).parent)
    assert "idp.settings" in graph["idp.app"]  # the walk sees the modules and their imports
    found = circles(graph)
    assert not found, "import circles in idp:\n" + "\n".join(describe(graph, c) for c in found)
