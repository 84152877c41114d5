"""No import cycle between the modules of `portal/`: every import counts, at module level or inside a
function, because a function-level import is still a dependency (it only hides the cycle from Python's
import machinery until the day someone moves it to the top). The one exception is a block under
`if TYPE_CHECKING:`, which never runs."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "portal"


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def imported_names(path: Path, modules: set[str]) -> set[str]:
    """The modules of `portal` that `path` imports, anywhere in it but under `if TYPE_CHECKING:`."""
    name = module_name(path)
    is_package = path.name == "__init__.py"
    found: set[str] = set()

    def resolve(candidate: str) -> str | None:
        # `from portal.x import y`: y may be a submodule or a name in portal.x
        while candidate and candidate not in modules:
            candidate = candidate.rpartition(".")[0]
        return candidate or None

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.If) and _is_type_checking(node):
            for child in node.orelse:
                visit(child)
            return
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] == "portal" and (target := resolve(alias.name)):
                    found.add(target)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = name.split(".") if is_package else name.split(".")[:-1]
                base = base[: len(base) - (node.level - 1)] if node.level > 1 else base
                stem = ".".join(base + ([node.module] if node.module else []))
            else:
                stem = node.module or ""
            if stem.split(".")[0] != "portal":
                return
            for alias in node.names:
                target = resolve(f"{stem}.{alias.name}") or resolve(stem)
                if target:
                    found.add(target)
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(ast.parse(path.read_text(encoding="utf-8"), filename=str(path)))
    found.discard(name)
    return found


def import_graph() -> dict[str, set[str]]:
    paths = [p for p in PACKAGE.rglob("*.py") if "migrations" not in p.parts]
    modules = {module_name(p) for p in paths}
    return {module_name(p): imported_names(p, modules) for p in paths}


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    counter = [0]

    def strongconnect(node: str) -> None:
        index[node] = low[node] = counter[0]
        counter[0] += 1
        stack.append(node)
        on_stack.add(node)
        for target in sorted(graph.get(node, ())):
            if target not in index:
                strongconnect(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    import sys

    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(max(limit, 10_000))
    try:
        for node in sorted(graph):
            if node not in index:
                strongconnect(node)
    finally:
        sys.setrecursionlimit(limit)
    return found


def describe(component: list[str], graph: dict[str, set[str]]) -> str:
    members = set(component)
    edges = [f"  {a} -> {b}" for a in component for b in sorted(graph[a] & members)]
    return "\n".join([" <-> ".join(component), *edges])


def test_the_walker_sees_a_cycle_through_a_function_level_import(tmp_path):
    """The checker itself can fail: two modules importing each other, one of them inside a function."""
    graph = {"portal.a": {"portal.b"}, "portal.b": {"portal.a"}, "portal.c": {"portal.a"}}
    assert cycles(graph) == [["portal.a", "portal.b"]]
    source = tmp_path / "portal" / "a.py"
    source.parent.mkdir()
    source.write_text(
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n    from portal import c\n"
        "def f():\n    from portal.b import thing\n"
        "from . import d\n",
        encoding="utf-8",
    )
    global ROOT
    saved = ROOT
    ROOT = tmp_path
    try:
        found = imported_names(source, {"portal.a", "portal.b", "portal.c", "portal.d"})
    finally:
        ROOT = saved
    assert found == {"portal.b", "portal.d"}


def test_no_import_cycle_in_portal():
    graph = import_graph()
    assert len(graph) > 50  # the walk found the package
    assert "portal.footage.models" in graph["portal.footage.api"]
    found = cycles(graph)
    if found:
        pytest.fail("Import cycles in portal/:\n" + "\n\n".join(describe(c, graph) for c in found))


def test_services_never_import_a_task_module():
    """Services enqueue with jobs.enqueue_on_commit(kind, id); only the jobs app loads its task module."""
    graph = import_graph()
    offenders = {
        module: sorted(t for t in targets if t.endswith(".tasks"))
        for module, targets in graph.items()
        if module.rsplit(".", 1)[-1] in ("services", "selectors", "models", "engine")
        and any(t.endswith(".tasks") for t in targets)
    }
    assert offenders == {}


def test_toolruns_uses_only_public_footage_services():
    """Tool outputs become versions through footage's public services, not its private helpers."""
    for path in (PACKAGE / "toolruns").rglob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("portal.footage"):
                private = [alias.name for alias in node.names if alias.name.startswith("_")]
                assert not private, f"{path.name} imports {private} from {node.module}"
            if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id == "footage":
                assert not node.attr.startswith("_"), f"{path.name} uses footage.{node.attr}"
