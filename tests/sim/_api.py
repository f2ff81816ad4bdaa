"""The real ttnn 0.81.1 API manifest (tests/data/ttnn-0.81.1-api.json, read off the real wheel)."""
import functools
import re
import inspect
import json
import pathlib

MANIFEST = pathlib.Path(__file__).parent.parent / "data" / "ttnn-0.81.1-api.json"


@functools.lru_cache(None)
def manifest() -> dict:
    return json.loads(MANIFEST.read_text())


def real_params(name: str):
    """Parameters of the real op or function `name`: a list of overloads, each [(name, kind, default|REQUIRED)]."""
    m = manifest()
    entry = m["operations"].get(name) or m["functions"].get(name)
    if entry is None:
        return None
    return [[(p["name"], p["kind"], "<required>" if p.get("required") else p.get("default"))
             for p in ov["params"]] for ov in entry["overloads"]]


def _norm_default(d):
    if d is inspect.Parameter.empty:
        return "<required>"
    if hasattr(d, "name") and hasattr(d, "value"):  # enums
        return f"{type(d).__name__}.{d.name}"
    if isinstance(d, tuple):
        return list(d)
    return d


def sim_params(fn):
    sig = inspect.signature(fn)
    return [(p.name, p.kind.name, _norm_default(p.default)) for p in sig.parameters.values()]


def signature_mismatch(name: str, fn) -> str | None:
    """None if the simulated op's signature equals one overload of the real op, else a description."""
    overloads = real_params(name)
    if overloads is None:
        return f"ttnn.{name} does not exist in real ttnn 0.81.1"
    mine = sim_params(fn)
    for ov in overloads:
        if [k for _, k, _ in ov] == ["VAR_POSITIONAL", "VAR_KEYWORD"]:
            return None  # the real op is a Python wrapper taking (*args, **kwargs): any signature conforms
        if len(ov) != len(mine):
            continue
        if all(_same(a, b) for a, b in zip(mine, ov)):
            return None
    return f"ttnn.{name}: simulated {mine}\n  real overloads: {overloads}"


def _same(mine, real):
    (n1, k1, d1), (n2, k2, d2) = mine, real
    if n1 != n2 or k1 != k2:
        return False
    if d2 == "<required>" or d1 == "<required>":
        return d1 == d2
    if isinstance(d2, str) and isinstance(d1, str):
        return d1 == d2 or d2.endswith(d1) or d1.endswith(d2.split(".")[-1])
    if isinstance(d2, str) and d1 is not None and not isinstance(d1, (int, float, bool, list, str)):
        opaque = re.match(r"^<([\w.]+) object at 0x[0-9a-f]+>$", d2)
        if opaque:  # the manifest kept only the class of an object default
            return type(d1).__name__ == opaque.group(1).rsplit(".", 1)[-1]
        if d2.endswith("...") and "(" in d2:  # a truncated repr: compare the class and the fields shown
            if d2.split("(", 1)[0] != type(d1).__name__:
                return False
            for field, _, member in re.findall(r"(\w+)=(\w+)::(\w+)", d2):
                mine = getattr(d1, field, None)
                if mine is not None and getattr(mine, "name", None) != member:
                    return False
            return True
        return repr(d1) == d2 or str(d1).split(".")[-1] == d2.split(".")[-1]
    if isinstance(d2, str):
        # nanobind shows enum defaults as 'Layout.TILE' etc.
        return str(d1).split(".")[-1] == d2.split(".")[-1]
    return d1 == d2
