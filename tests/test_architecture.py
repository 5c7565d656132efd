"""Architecture guard: file and function sizes, no import cycles, and the layering of packages.

It reads the source (ast) of dispatch/, gateways/, web/ and state_machines/; nothing is
imported. An allow-list entry is a debt with its reason: when the code no longer needs it, the
test says so, and the entry goes.
"""

from __future__ import annotations

import ast
import functools
import itertools
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("dispatch", "gateways", "web", "state_machines")
MAX_FILE_LINES = 400
MAX_FUNCTION_LINES = 60
EXEMPT_DIRS = ("dispatch/storage/migrations/versions/",)
"""Alembic revisions are frozen schemas of past releases: they are never edited again."""

SPLIT_PENDING = "over the limit when the guard came; its owner splits it by concept"

LONG_FILES: dict[str, str] = {}
"""path → why it may exceed MAX_FILE_LINES for now."""

LONG_FUNCTIONS: dict[str, str] = {}
"""path::qualified.name → why it may exceed MAX_FUNCTION_LINES for now."""

CYCLE_EDGES: dict[tuple[str, str], str] = {}
"""(importer, imported) → why this import, which closes a cycle, is tolerated for now."""

LAYER_EXCEPTIONS: dict[tuple[str, str], str] = {}
"""(importer, imported) → why this import against the layering is tolerated for now."""

MOVING_TO_GATEWAYS: dict[str, str] = {}
"""Modules still under dispatch/ that are judged as the gateways they are becoming."""

DISPATCH_LAYERS: dict[str, int] = {
    "shared": 0,
    "config": 1,
    "events": 2,
    "storage": 3,
    "access": 4,
    "core": 5,
    "intake": 6,
    "service": 7,
    "hub": 7,
    "views": 8,
    "ops": 7,
    "cli": 9,
    "simulate": 9,
    "__main__": 9,
}
"""Each part of `dispatch` imports only parts at or below its own level."""

ENTRY_POINTS = ("dispatch.cli", "dispatch.simulate", "dispatch.__main__")
"""The parts of `dispatch` that compose the whole, so may import `web` and `gateways`."""


@dataclass(frozen=True)
class Module:
    name: str
    path: str
    """Relative to the repository, with forward slashes."""
    tree: ast.Module
    lines: int


@functools.cache
def modules() -> dict[str, Module]:
    found: dict[str, Module] = {}
    for package in PACKAGES:
        for file in sorted((ROOT / package).rglob("*.py")):
            path = file.relative_to(ROOT).as_posix()
            parts = path.removesuffix(".py").split("/")
            if parts[-1] == "__init__":
                parts.pop()
            text = file.read_text(encoding="utf-8")
            found[".".join(parts)] = Module(
                ".".join(parts), path, ast.parse(text, path), len(text.splitlines())
            )
    return found


def exempt(module: Module) -> bool:
    return module.path.startswith(EXEMPT_DIRS)


Function = ast.FunctionDef | ast.AsyncFunctionDef


def functions(node: ast.AST, prefix: str = "") -> Iterator[tuple[str, Function]]:
    """Every function and method, nested ones too, with its qualified name."""
    for child in ast.iter_child_nodes(node):
        if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef):
            yield f"{prefix}{child.name}", child
            yield from functions(child, f"{prefix}{child.name}.")
        elif isinstance(child, ast.ClassDef):
            yield from functions(child, f"{prefix}{child.name}.")
        else:
            yield from functions(child, prefix)


def resolve(importer: Module, node: ast.Import | ast.ImportFrom) -> Iterator[str]:
    """The project modules an import loads: `from a import b` is `a.b` when that is a module, else `a`."""
    known = modules()
    if isinstance(node, ast.Import):
        targets = [alias.name for alias in node.names]
    else:
        base = node.module or ""
        if node.level:
            package = importer.name.split(".")
            if not importer.path.endswith("__init__.py"):
                package.pop()
            package = package[: len(package) - node.level + 1]
            base = ".".join([*package, base]) if base else ".".join(package)
        targets = [f"{base}.{alias.name}" for alias in node.names]
        targets = [target if target in known else base for target in targets]
    for target in targets:
        while target and target not in known:
            target = target.rpartition(".")[0]
        if target and target != importer.name:
            yield target


@functools.cache
def import_graph() -> dict[str, dict[str, int]]:
    """importer → {imported: line}; imports inside functions and under TYPE_CHECKING count."""
    graph: dict[str, dict[str, int]] = {}
    for module in modules().values():
        edges = graph.setdefault(module.name, {})
        for node in ast.walk(module.tree):
            if isinstance(node, ast.Import | ast.ImportFrom):
                for target in resolve(module, node):
                    edges.setdefault(target, node.lineno)
    return graph


def test_no_file_is_too_long() -> None:
    too_long = [
        f"{module.path}: {module.lines} lines (split it by concept; at most {MAX_FILE_LINES})"
        for module in modules().values()
        if module.lines > MAX_FILE_LINES and not exempt(module) and module.path not in LONG_FILES
    ]
    assert not too_long, "\n".join(too_long)


def test_no_function_is_too_long() -> None:
    too_long = []
    for module in modules().values():
        if exempt(module):
            continue
        for name, function in functions(module.tree):
            length = (function.end_lineno or function.lineno) - function.lineno + 1
            key = f"{module.path}::{name}"
            if length > MAX_FUNCTION_LINES and key not in LONG_FUNCTIONS:
                too_long.append(
                    f"{key} (line {function.lineno}): {length} lines "
                    f"(split it into named steps; at most {MAX_FUNCTION_LINES})"
                )
    assert not too_long, "\n".join(too_long)


def test_allow_lists_name_what_still_exists() -> None:
    known = {module.path: module for module in modules().values()}
    stale = [
        f"LONG_FILES[{path!r}]: no longer needed, remove it"
        for path in LONG_FILES
        if path not in known or known[path].lines <= MAX_FILE_LINES
    ]
    lengths = {
        f"{module.path}::{name}": (function.end_lineno or function.lineno) - function.lineno + 1
        for module in modules().values()
        for name, function in functions(module.tree)
    }
    stale += [
        f"LONG_FUNCTIONS[{key!r}]: no longer needed, remove it"
        for key in LONG_FUNCTIONS
        if lengths.get(key, 0) <= MAX_FUNCTION_LINES
    ]
    stale += [
        f"MOVING_TO_GATEWAYS[{name!r}]: no such module any more, remove it"
        for name in MOVING_TO_GATEWAYS
        if name not in modules()
    ]
    graph = import_graph()
    stale += [
        f"{name}[{edge!r}]: {edge[0]} no longer imports {edge[1]}, remove the entry"
        for name, allowed in (("CYCLE_EDGES", CYCLE_EDGES), ("LAYER_EXCEPTIONS", LAYER_EXCEPTIONS))
        for edge in allowed
        if edge[1] not in graph.get(edge[0], {})
    ]
    assert not stale, "\n".join(stale)


def strongly_connected(graph: dict[str, set[str]]) -> list[list[str]]:
    """Tarjan's algorithm, iterative: the groups of modules that import each other in a ring."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[list[str]] = []
    for start in sorted(graph):
        if start in index:
            continue
        work = [(start, iter(sorted(graph[start])))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is None:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[node])
                if low[node] == index[node]:
                    group = []
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        group.append(member)
                        if member == node:
                            break
                    if len(group) > 1:
                        groups.append(sorted(group))
            elif child not in index:
                index[child] = low[child] = len(index)
                stack.append(child)
                on_stack.add(child)
                work.append((child, iter(sorted(graph.get(child, ())))))
            elif child in on_stack:
                low[node] = min(low[node], index[child])
    return groups


def shortest_cycle(graph: dict[str, set[str]], group: list[str]) -> list[str]:
    """A shortest ring through the group's first module, as the modules along it."""
    start, members = group[0], set(group)
    paths = {start: [start]}
    frontier = [start]
    while frontier:
        following = []
        for node in frontier:
            for child in sorted(graph[node] & members):
                if child == start:
                    return [*paths[node], start]
                if child not in paths:
                    paths[child] = [*paths[node], child]
                    following.append(child)
        frontier = following
    return group


def test_no_import_cycles() -> None:
    graph = import_graph()
    pruned = {
        importer: {target for target in edges if (importer, target) not in CYCLE_EDGES}
        for importer, edges in graph.items()
    }
    rings = []
    for group in strongly_connected(pruned):
        cycle = shortest_cycle(pruned, group)
        steps = [
            f"  {importer} imports {imported} (line {graph[importer][imported]} of "
            f"{modules()[importer].path})"
            for importer, imported in itertools.pairwise(cycle)
        ]
        rings.append(
            f"import cycle among {', '.join(group)}; one ring:\n" + "\n".join(steps) + "\n"
            "  Move what both sides need into a module below them both (a TYPE_CHECKING import "
            "still counts)."
        )
    assert not rings, "\n".join(rings)


def layer_of(name: str) -> int | None:
    """The level of a `dispatch` module; None for a module that belongs to no layer yet."""
    parts = name.split(".")
    if len(parts) == 1:
        return None
    return DISPATCH_LAYERS.get(parts[1])


def package_of(name: str) -> str:
    """The top package a module is judged in."""
    return "gateways" if name in MOVING_TO_GATEWAYS else name.split(".")[0]


def layering_problem(importer: str, imported: str) -> str | None:
    source, target = package_of(importer), package_of(imported)
    if source == "state_machines" and target != "state_machines":
        return "state_machines imports nothing of the project"
    if source == "gateways" and target == "web":
        return "gateways never import web"
    if source != "dispatch":
        return None
    if target in ("web", "gateways"):
        if any(importer == entry or importer.startswith(f"{entry}.") for entry in ENTRY_POINTS):
            return None
        return f"dispatch never imports {target} (only {', '.join(ENTRY_POINTS)} compose the whole)"
    if target != "dispatch":
        return None
    low, high = layer_of(importer), layer_of(imported)
    if low is None or high is None:
        unplaced = importer if low is None else imported
        if unplaced == "dispatch":
            return None
        return f"{unplaced} belongs to no layer of dispatch (move it into a package of DISPATCH_LAYERS)"
    if high > low:
        return (
            f"{importer.split('.')[1]} (level {low}) may not import {imported.split('.')[1]} "
            f"(level {high}): move the shared part down, or pass it in from above"
        )
    return None


def test_packages_import_only_downwards() -> None:
    graph = import_graph()
    problems = []
    for importer, edges in sorted(graph.items()):
        for imported, line in sorted(edges.items()):
            problem = layering_problem(importer, imported)
            if problem and (importer, imported) not in LAYER_EXCEPTIONS:
                path = modules()[importer].path
                problems.append(f"{path}:{line}: {importer} imports {imported}: {problem}")
    assert not problems, "\n".join(problems)


def test_the_guard_finds_a_ring_and_names_it() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a", "d"}, "d": set(), "e": {"a"}}
    assert strongly_connected(graph) == [["a", "b", "c"]]
    assert shortest_cycle(graph, ["a", "b", "c"]) == ["a", "b", "c", "a"]


def test_the_guard_knows_the_layers() -> None:
    assert layering_problem("dispatch.core.tasks", "dispatch.storage.writer") is None
    assert layering_problem("dispatch.service", "dispatch.hub") is None
    assert "may not import" in str(layering_problem("dispatch.storage.writer", "dispatch.core.tasks"))
    assert "never imports web" in str(layering_problem("dispatch.core.tasks", "web.app"))
    assert layering_problem("dispatch.cli.main", "web.app") is None
    assert "never import web" in str(layering_problem("gateways.cap", "web.app"))
    assert "nothing of the project" in str(layering_problem("state_machines.task", "dispatch.shared.clock"))
    assert "no layer" in str(layering_problem("dispatch.newcomer", "dispatch.shared.clock"))
