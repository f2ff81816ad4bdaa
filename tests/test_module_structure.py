"""Module boundaries the design relies on, checked on the source: the compiler and the simulator never import
each other; the lowering rules never import a pass (passes may use lowering analyses, not the reverse); the
simulator's op families, and the lowering families, do not import each other in a cycle."""
import ast
import pathlib

ROOT = pathlib.Path(__file__).resolve().parent.parent / "torch_ttnn"


def _module(path: pathlib.Path) -> str:
    return ".".join(path.relative_to(ROOT.parent).with_suffix("").parts)


def _imports(path: pathlib.Path) -> set:
    """Absolute names of the torch_ttnn modules `path` imports (anywhere in it, deferred imports included)."""
    pkg = _module(path).split(".")[:-1] if path.name != "__init__.py" else _module(path).split(".")[:-1]
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


def _cycles(sub: str) -> list:
    mods = {_module(f): f for f in _files(sub)}
    graph = {m: {n for n in _imports(f) if n in mods and n != m} for m, f in mods.items()}

    def reaches(a, b, seen=()):
        return any(x == b or (x not in seen and reaches(x, b, seen + (x,))) for x in graph[a])

    return [(a, b) for a in graph for b in graph[a] if reaches(b, a)]


def test_simulator_op_families_have_no_import_cycle():
    assert not _cycles("sim/ops")


def test_lowering_families_have_no_import_cycle():
    """Deferred imports count: a cycle held together by imports inside functions is still a cycle."""
    assert not _cycles("compiler/lowering")
