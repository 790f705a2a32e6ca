"""The project's import graph: no cycles, and no module outside ``stm_andreev.commands``
imports a command (what a command shares with the GUI lives in engine/, storage/ or
procedures/). Every import counts, including those inside functions and under
``TYPE_CHECKING``: a deferred import still ties two modules together."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# The installed package maps three top-level folders into the stm_andreev namespace.
FOLDERS = {
    "stm_andreev": ROOT / "stm_andreev",
    "stm_andreev.drivers": ROOT / "drivers",
    "stm_andreev.procedures": ROOT / "procedures",
    "stm_andreev.simulators": ROOT / "simulators",
}


def modules() -> dict[str, Path]:
    found = {}
    for package, folder in FOLDERS.items():
        for path in folder.rglob("*.py"):
            parts = list(path.relative_to(folder).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts = parts[:-1]
            found[".".join([package, *parts])] = path
    return found


def import_graph() -> dict[str, set[str]]:
    mods = modules()

    def resolve(name: str) -> str | None:
        while name and name not in mods:
            name = name.rpartition(".")[0]
        return name or None

    graph: dict[str, set[str]] = {name: set() for name in mods}
    for name, path in mods.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    up = package
                    for _ in range(node.level - 1):
                        up = up.rpartition(".")[0]
                    base = f"{up}.{base}" if base else up
                # `from package import module` needs the module, not the package's own code
                # (which may well import the importer); `from module import name` the module.
                targets = [f"{base}.{alias.name}" if f"{base}.{alias.name}" in mods else base
                           for alias in node.names]
            else:
                continue
            for target in targets:
                found = resolve(target) if target.startswith("stm_andreev") else None
                if found and found != name:
                    graph[name].add(found)
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    for root in graph:
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph[child]))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
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
    return found


def test_the_graph_is_built_from_the_real_tree():
    graph = import_graph()
    assert "stm_andreev.procedures.plan" in graph["stm_andreev.engine.runner"] or (
        "stm_andreev.procedures" in graph["stm_andreev.engine.runner"])
    assert "stm_andreev.drivers.lockin" in graph
    # the checker sees a cycle when there is one
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_no_import_cycles():
    assert cycles(import_graph()) == []


def test_no_module_outside_commands_imports_a_command():
    offenders = sorted(
        f"{name} -> {target}"
        for name, targets in import_graph().items()
        if not name.startswith("stm_andreev.commands") and name != "stm_andreev.cli"
        for target in targets
        if target.startswith("stm_andreev.commands")
    )
    assert offenders == []
