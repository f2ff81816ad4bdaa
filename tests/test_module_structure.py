"""Module boundaries the design relies on, checked on the source: the compiler and the simulator never import
each other; the lowering rules never import a pass (passes may use lowering analyses, not the reverse); the
package has no import cycle (deferred imports count)."""
import ast
import pathlib

ROOT = pathlib.Path(__file__).resolve().parent.parent / "torch_ttnn"


def _module(path: pathlib.Path) -> str:
    parts = path.relative_to(ROOT.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: pathlib.Path) -> set:
    """Absolute names of the torch_ttnn modules `path` imports (anywhere in it, deferred imports included)."""
    pkg = _module(path).split(".") if path.name == "__init__.py" else _module(path).split(".")[:-1]
    out = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = pkg[: len(pkg) - node.level + 1]
                name = ".".join(base + ([node.module] if node.module else []))
            else:
                name = node.module or ""
            out.add(name)
            out.update(f"{name}.{a.name}" for a in node.names)
        elif isinstance(node, ast.Import):
            out.update(a.name for a in node.names)
    return {n for n in out if n.startswith("torch_ttnn")}


def _files(sub: str):
    return sorted((ROOT / sub).rglob("*.py"))


def test_compiler_and_simulator_never_import_each_other():
    for f in _files("compiler"):
        assert not any(n.startswith("torch_ttnn.sim") for n in _imports(f)), f
    for f in _files("sim"):
        assert not any(n.startswith("torch_ttnn.compiler") for n in _imports(f)), f


def test_lowering_rules_never_import_passes():
    for f in _files("compiler/lowering"):
        bad = [n for n in _imports(f) if n.startswith("torch_ttnn.compiler.passes")]
        assert not bad, (f, bad)


def _cycles() -> list:
    """The groups of torch_ttnn modules that import each other in a cycle (strongly connected components of the
    import graph). A package importing its own submodules is not an edge of the graph; a module importing its
    package (or an ancestor) is."""
    mods = {_module(f): f for f in _files(".")}
    graph = {m: {n for n in _imports(f) if n in mods and n != m and not n.startswith(m + ".")}
             for m, f in mods.items()}
    order, seen = [], set()
    for start in graph:                      # Kosaraju: finishing order on the graph...
        if start in seen:
            continue
        seen.add(start)
        stack = [(start, iter(sorted(graph[start])))]
        while stack:
            node, it = stack[-1]
            nxt = next((n for n in it if n not in seen), None)
            if nxt is None:
                order.append(node)
                stack.pop()
            else:
                seen.add(nxt)
                stack.append((nxt, iter(sorted(graph[nxt]))))
    reverse = {m: set() for m in graph}
    for m, targets in graph.items():
        for t in targets:
            reverse[t].add(m)
    groups, assigned = [], set()
    for start in reversed(order):            # ...then components on the reversed graph
        if start in assigned:
            continue
        group, todo = [], [start]
        assigned.add(start)
        while todo:
            node = todo.pop()
            group.append(node)
            for n in reverse[node] - assigned:
                assigned.add(n)
                todo.append(n)
        if len(group) > 1:
            groups.append(sorted(group))
    return groups


def test_the_package_has_no_import_cycle():
    """Deferred imports count: a cycle held together by imports inside functions is still a cycle."""
    assert _cycles() == []


def test_the_cycle_check_sees_a_cycle_held_by_a_deferred_import(tmp_path, monkeypatch):
    pkg = tmp_path / "torch_ttnn"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "a.py").write_text("from . import b\n")
    (pkg / "b.py").write_text("def f():\n    from .a import g\n")
    (pkg / "c.py").write_text("from .a import b\n")
    monkeypatch.setitem(globals(), "ROOT", pkg)
    assert _cycles() == [["torch_ttnn.a", "torch_ttnn.b"]]
