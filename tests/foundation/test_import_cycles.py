"""No two product modules import each other, directly or round a loop: each module can be
read, tested and moved on its own. Function-level imports count too (grimp sees them)."""

import tomllib

import grimp

from tests.processes import ROOT

APPS = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]["root_packages"]


def _imports(graph: grimp.ImportGraph) -> dict[str, set[str]]:
    product = {m for m in graph.modules if ".migrations" not in m}
    return {m: graph.find_modules_directly_imported_by(m) & product for m in product}


def _loops(edges: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected groups of more than one module (Tarjan, without recursion)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups = []
    for root in sorted(edges):
        if root in index:
            continue
        work = [(root, iter(sorted(edges[root])))]
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
                    work.append((child, iter(sorted(edges[child]))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
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
    return groups


def _cycle(edges: dict[str, set[str]], group: list[str]) -> str:
    """One loop through the group's first module, as "a -> b -> a"."""
    members, start = set(group), group[0]
    paths = {start: [start]}
    queue = [start]
    while queue:
        node = queue.pop(0)
        for child in sorted(edges[node] & members):
            if child == start:
                return " -> ".join([*paths[node], start])
            if child not in paths:
                paths[child] = [*paths[node], child]
                queue.append(child)
    raise AssertionError(group)


def test_product_modules_import_each_other_in_no_loop():
    edges = _imports(grimp.build_graph(*APPS, cache_dir=None))
    found = [_cycle(edges, g) for g in _loops(edges)]
    assert not found, "import cycles between product modules:\n" + "\n".join(found)


def test_the_cycle_check_names_a_loop():
    edges = {"a.x": {"a.y"}, "a.y": {"a.z"}, "a.z": {"a.x"}, "a.w": {"a.x"}}
    assert [_cycle(edges, g) for g in _loops(edges)] == ["a.x -> a.y -> a.z -> a.x"]
