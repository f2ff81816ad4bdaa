"""The compiler's table of TT-NN ops (compiler/ttnn_ops.py) is closed, complete and true to the real wheel."""
import json
import pathlib
import re
import sys

import pytest

from torch_ttnn.compiler import ttnn_ops
from torch_ttnn.compiler.context import LoweringContext

from ..sim._api import manifest, real_params

ROOT = pathlib.Path(__file__).resolve().parents[2]


def test_every_row_is_a_real_op_the_simulator_offers():
    import torch_ttnn.sim as sim_ttnn
    real = set(manifest()["operations"]) | set(manifest()["functions"])
    assert not [n for n in ttnn_ops.OPS if n not in real]
    resolved = ttnn_ops.resolve(sim_ttnn, list(ttnn_ops.OPS))
    assert len(resolved) == len(ttnn_ops.OPS)


def test_every_keyword_the_table_names_is_in_the_real_signature():
    for op in ttnn_ops.OPS.values():
        for field in ("kernel_config", "activation", "residual"):
            keyword = getattr(op, field)
            if keyword:
                params = {p[0] for overload in real_params(op.name) for p in overload}
                assert keyword in params, f"ttnn.{op.name} has no parameter {keyword!r} ({field})"
        if op.sliding_window and isinstance(op.input, str):
            assert op.input in {p[0] for ov in real_params(op.name) for p in ov}


def test_every_name_the_lowering_rules_emit_is_a_row():
    # literal names at the emission sites, and the names of the element-wise tables
    from torch_ttnn.compiler.lowering import eltwise
    emitted = set()
    for f in (ROOT / "torch_ttnn" / "compiler").rglob("*.py"):
        text = f.read_text()
        emitted |= set(re.findall(r'\.call\("([a-z_.0-9]+)"', text))
        emitted |= set(re.findall(r'"ttnn\.([a-z_][a-z_.0-9]*)"', text))
    for table in (eltwise.UNARY, eltwise.BINARY, eltwise.COMPARE, eltwise.INT_UNARY):
        emitted |= {v for v in table.values() if isinstance(v, str)}
    assert len(emitted) > 100
    assert sorted(emitted - set(ttnn_ops.OPS)) == []


def test_emitting_an_op_outside_the_table_is_an_error_not_a_fallback():
    ctx = LoweringContext.__new__(LoweringContext)
    import torch_ttnn.sim as sim_ttnn
    ctx.ttnn = sim_ttnn
    with pytest.raises(KeyError, match="not in the compiler's op table"):
        ctx.op("relu_but_not_really")
    assert ctx.op("relu") is sim_ttnn.relu


def test_queries_select_by_group_and_field():
    assert set(ttnn_ops.names(view=True)) == {"reshape", "view", "squeeze", "unsqueeze"}
    assert "relu" in ttnn_ops.names("unary", elementwise=True)
    assert "tril" not in ttnn_ops.names(elementwise=True)       # position-dependent
    assert "add_" in ttnn_ops.names(in_place=True) and "add_" not in ttnn_ops.names(in_place=False)
    assert set(ttnn_ops.names_with("residual")) == {"layer_norm", "rms_norm"}
    assert ttnn_ops.info("conv2d").kernel_config == "compute_config"
    assert "FLOAT32" not in ttnn_ops.info("sigmoid").dtypes or "BFLOAT16" in ttnn_ops.info("sigmoid").dtypes
    with pytest.raises(KeyError):
        ttnn_ops.info("no_such_op")


def test_resolving_an_op_the_runtime_lacks_raises():
    class Partial:
        __name__ = "partial_ttnn"
        relu = object()
    with pytest.raises(AttributeError, match="ttnn.exp"):
        ttnn_ops.resolve(Partial, ["relu", "exp"])


def test_the_caps_file_is_generated_from_the_wheels_docstrings():
    sys.path.insert(0, str(ROOT / "tools"))
    try:
        import gen_ttnn_caps
    finally:
        sys.path.pop(0)
    docs = json.loads((ROOT / "tests" / "data" / "ttnn-0.81.1-docstrings.json").read_text())
    assert gen_ttnn_caps.generate(docs) == ttnn_ops.caps()
    # the API manifest read the same tables: the two agree wherever both list an op's dtypes
    for name, entry in manifest()["operations"].items():
        documented = entry.get("supported_dtypes_from_doc")
        if documented and name in ttnn_ops.caps() and all(re.fullmatch(r"[A-Z0-9_]+", d) for d in documented):
            assert set(documented) == set(ttnn_ops.caps()[name]["dtypes"]), name


def test_no_pass_drops_an_unknown_op_silently():
    offenders = [str(p.relative_to(ROOT)) for p in (ROOT / "torch_ttnn" / "compiler").rglob("*.py")
                 if "hasattr(ttnn," in p.read_text()]
    assert offenders == []
