"""The shape of the house, read from the source with ``ast``: every import of ``bot/`` and
``cogs/``, including those under ``TYPE_CHECKING`` and inside functions, counts.

* no import cycle among the modules, not even a type-only one;
* ``bot/`` never imports ``cogs/`` (where the bot needs a cog it names a protocol it owns);
* at most 6 top-level modules in ``bot/`` (the rest live in packages by concern);
* no module of ``bot/`` or ``cogs/`` over 450 lines, and ``cogs/chat.py`` at most 300.
"""

from __future__ import annotations

import ast
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("bot", "cogs")
MAX_TOP_LEVEL = 6
MAX_LINES = 450
MAX_CHAT_LINES = 300


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def sources() -> dict[str, Path]:
    return {module_name(path): path
            for package in PACKAGES for path in sorted((ROOT / package).rglob("*.py"))}


def imported(tree: ast.AST, name: str, is_package: bool, known: set[str]) -> set[str]:
    """The project modules one module imports, anywhere in it: ``from a import b`` counts
    as ``a.b`` when that is a module, else as ``a``; relative imports are resolved."""
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = name.split(".")
                anchor = anchor[: len(anchor) - node.level + (1 if is_package else 0)]
                base = ".".join([*anchor, base] if base else anchor)
            found |= {f"{base}.{a.name}" if f"{base}.{a.name}" in known else base
                      for a in node.names}
    return {module for module in found if module in known}


def import_graph() -> dict[str, set[str]]:
    modules = sources()
    known = set(modules)
    return {
        name: imported(ast.parse(path.read_text()), name, path.name == "__init__.py", known)
        - {name}
        for name, path in modules.items()
    }


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """One cycle per strongly connected component of more than one module (Tarjan's
    algorithm, iterative: linear in modules and imports)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    for root, targets in graph.items():
        if root in index:
            continue
        work = [(root, iter(sorted(targets)))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, edges = work[-1]
            step = next(edges, None)
            if step is not None:
                if step not in index:
                    index[step] = low[step] = len(index)
                    stack.append(step)
                    on_stack.add(step)
                    work.append((step, iter(sorted(graph.get(step, ())))))
                elif step in on_stack:
                    low[node] = min(low[node], index[step])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component: list[str] = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return found


@given(st.dictionaries(st.sampled_from("abcdefgh"), st.sets(st.sampled_from("abcdefgh"))))
def test_cycles_finds_exactly_the_graphs_with_a_cycle(edges: dict[str, set[str]]) -> None:
    graph = {node: set() for node in "abcdefgh"} | {k: v - {k} for k, v in edges.items()}
    reachable: dict[str, set[str]] = {}
    for start in graph:
        seen, todo = set(), list(graph[start])
        while todo:
            node = todo.pop()
            if node not in seen:
                seen.add(node)
                todo.extend(graph[node])
        reachable[start] = seen
    on_a_cycle = {node for node in graph if node in reachable[node]}
    assert {node for cycle in cycles(graph) for node in cycle} == on_a_cycle


def test_no_import_cycle_not_even_type_only() -> None:
    assert cycles(import_graph()) == []


def test_bot_never_imports_cogs() -> None:
    graph = import_graph()
    crossing = sorted(f"{module} imports {target}" for module, targets in graph.items()
                      if module.split(".")[0] == "bot"
                      for target in targets if target.split(".")[0] == "cogs")
    assert crossing == []


def test_bot_has_few_top_level_modules() -> None:
    top_level = sorted(path.name for path in (ROOT / "bot").glob("*.py"))
    assert len(top_level) <= MAX_TOP_LEVEL, top_level


def test_no_module_is_too_long() -> None:
    lengths = {name: len(path.read_text().splitlines()) for name, path in sources().items()}
    too_long = {name: n for name, n in lengths.items() if n > MAX_LINES}
    assert too_long == {}
    assert lengths["cogs.chat"] <= MAX_CHAT_LINES


def test_docs_testing_names_every_test_file() -> None:
    """``docs/testing.md`` says where each module's tests are; a test file it does not
    name is one a newcomer cannot find by reading it."""
    tests = Path(__file__).resolve().parent
    documented = (tests.parent / "docs" / "testing.md").read_text()
    unnamed = sorted(
        str(path.relative_to(tests)) for path in tests.rglob("test_*.py")
        if path.name not in documented
    )
    assert unnamed == []
