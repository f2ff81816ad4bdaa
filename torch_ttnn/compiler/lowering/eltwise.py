"""Element-wise aten ops: unary, binary, comparisons, ternary. Families are tables, one line an op."""
from __future__ import annotations

import torch

from ..registry import COMMON, float_inputs, lower, rank_at_most

aten = torch.ops.aten

ELTWISE = COMMON + (rank_at_most(4),)


# --- unary: aten op -> ttnn op (float in, float out) ------------------------------------------------
UNARY = {
    aten.relu: "relu", aten.exp: "exp", aten.log: "log", aten.sqrt: "sqrt", aten.rsqrt: "rsqrt",
    aten.reciprocal: "reciprocal", aten.sigmoid: "sigmoid", aten.tanh: "tanh", aten.erf: "erf",
    aten.abs: "abs", aten.neg: "neg", aten.sign: "sign", aten.floor: "floor", aten.ceil: "ceil",
    aten.trunc: "trunc", aten.sin: "sin", aten.cos: "cos", aten.tan: "tan", aten.asin: "asin",
    aten.acos: "acos", aten.atan: "atan", aten.sinh: "sinh", aten.cosh: "cosh", aten.asinh: "asinh",
    aten.acosh: "acosh", aten.atanh: "atanh", aten.exp2: "exp2", aten.expm1: "expm1", aten.log2: "log2",
    aten.log10: "log10", aten.log1p: "log1p", aten.silu: "silu", aten.mish: "mish", aten.hardswish: "hardswish",
    aten.hardsigmoid: "hardsigmoid", aten.erfc: "erfc", aten.erfinv: "erfinv", aten.frac: "frac",
    aten.lgamma: "lgamma", aten.digamma: "digamma", aten.i0: "i0", aten.square: "square",
    aten.deg2rad: "deg2rad", aten.rad2deg: "rad2deg", aten.relu6: "relu6",
}


def _unary_rule(ttnn_name: str):
    def rule(ctx, x):
        return ctx.call(ttnn_name, ctx.tile(x, ctx.float_dtype()))
    rule.__name__ = f"lower_{ttnn_name}"
    return rule


for _aten, _name in UNARY.items():
    lower(_aten.default, when=ELTWISE + (float_inputs,), family="eltwise_unary")(_unary_rule(_name))
