"""Element-wise aten ops: unary, binary, comparisons, ternary. Families are tables, one line an op."""
from __future__ import annotations

import torch

from ..meta import meta_value
from ..registry import COMMON, float_inputs, lower, rank_at_least, rank_at_most

aten = torch.ops.aten

# TT-NN element-wise ops fold outer dims into tile rows; binary broadcasting works up to rank 5
ELTWISE = COMMON + (rank_at_most(5),)


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


# float32 variants of ops whose usual TT-NN op is bfloat16-only (ttnn.sigmoid: BFLOAT16 per its 0.81.1
# docstring; ttnn.sigmoid_accurate: BFLOAT16, BFLOAT8_B, FLOAT32): used when values are kept in float32
FP32_VARIANTS = {"sigmoid": "sigmoid_accurate"}


def _unary_rule(ttnn_name: str):
    def rule(ctx, x):
        dt = ctx.float_dtype()
        name = FP32_VARIANTS.get(ttnn_name, ttnn_name) if dt == ctx.ttnn.float32 else ttnn_name
        return ctx.call(name, ctx.tile(x, dt))
    rule.__name__ = f"lower_{ttnn_name}"
    return rule


# abs and neg keep integer tensors exact (int32 on the device)
INT_UNARY = {aten.abs: "abs", aten.neg: "neg"}

for _aten, _name in UNARY.items():
    if _aten not in INT_UNARY:
        lower(_aten.default, when=ELTWISE + (float_inputs,), family="eltwise_unary")(_unary_rule(_name))


def _int_or_float_unary(ttnn_name: str):
    def rule(ctx, x):
        if ctx.torch_dtype(x).is_floating_point:
            return ctx.call(ttnn_name, ctx.tile(x, ctx.float_dtype()))
        if ctx.torch_dtype(x) == torch.bool:
            ctx.unsupported(f"{ttnn_name} of a bool tensor")
        dt = ctx.dtype_for(x)
        if ttnn_name == "neg":  # ttnn.neg is float-only: an exact int32 multiply by -1
            return ctx.call("multiply", ctx.tile(x, dt), -1, out_dtype=dt)
        return ctx.call(ttnn_name, ctx.tile(x, dt), out_dtype=dt)
    rule.__name__ = f"lower_{ttnn_name}"
    return rule


for _aten, _name in INT_UNARY.items():
    lower(_aten.default, when=ELTWISE, family="eltwise_unary")(_int_or_float_unary(_name))


# --- unary with parameters --------------------------------------------------------------------------

@lower(aten.gelu.default, when=ELTWISE + (float_inputs,))
def gelu(ctx, x, approximate="none"):
    if approximate == "tanh":
        return ctx.call("gelu", ctx.tile(x, ctx.float_dtype()), variant=ctx.ttnn.GeluVariant.Tanh)
    return ctx.call("gelu", ctx.tile(x, ctx.float_dtype()))


@lower(aten.leaky_relu.default, when=ELTWISE + (float_inputs,))
def leaky_relu(ctx, x, negative_slope=0.01):
    return ctx.call("leaky_relu", ctx.tile(x, ctx.float_dtype()), negative_slope=float(negative_slope))


@lower(aten.elu.default, when=ELTWISE + (float_inputs,))
def elu(ctx, x, alpha=1.0, scale=1.0, input_scale=1.0):
    if scale != 1.0 or input_scale != 1.0:
        ctx.unsupported("elu with scale/input_scale (selu form) has no ttnn.elu parameter")
    return ctx.call("elu", ctx.tile(x, ctx.float_dtype()), alpha=float(alpha))


@lower(aten.hardtanh.default, when=ELTWISE + (float_inputs,))
def hardtanh(ctx, x, min_val=-1.0, max_val=1.0):
    return ctx.call("hardtanh", ctx.tile(x, ctx.float_dtype()), min_val=float(min_val), max_val=float(max_val))


@lower(aten.softplus.default, when=ELTWISE + (float_inputs,))
def softplus(ctx, x, beta=1.0, threshold=20.0):
    return ctx.call("softplus", ctx.tile(x, ctx.float_dtype()), beta=float(beta), threshold=float(threshold))


@lower(aten.clamp.default, when=ELTWISE)
def clamp(ctx, x, min=None, max=None):
    dt = ctx.dtype_for(ctx.out.dtype)
    if min is None and max is None:
        return ctx.call("clone", ctx.tile(x, dt))
    return ctx.call("clamp", ctx.tile(x, dt), min=min, max=max)


@lower(aten.clamp_min.default, when=ELTWISE)
def clamp_min(ctx, x, min):
    return ctx.call("clamp", ctx.tile(x, ctx.dtype_for(ctx.out.dtype)), min=min)


@lower(aten.clamp_max.default, when=ELTWISE)
def clamp_max(ctx, x, max):
    return ctx.call("clamp", ctx.tile(x, ctx.dtype_for(ctx.out.dtype)), max=max)


@lower(aten.clamp.Tensor, when=ELTWISE)
def clamp_tensor(ctx, x, min=None, max=None):
    dt = ctx.dtype_for(ctx.out.dtype)
    y = ctx.tile(x, dt)
    if min is not None:
        y = ctx.tile(ctx.call("maximum", y, ctx.tile(min, dt)), dt)
    if max is not None:
        y = ctx.tile(ctx.call("minimum", y, ctx.tile(max, dt)), dt)
    if min is None and max is None:
        return ctx.call("clone", y)
    return y.node


# --- binary: aten op -> ttnn op; operands in the promoted dtype -----------------------------------

def _operand(ctx, v, dt):
    """A tensor operand in dtype `dt`, or a Python scalar as is. A 0-dim tensor becomes shape [1] (TT-NN
    tensors have rank >= 1), which broadcasts the same way."""
    if isinstance(v, torch.fx.Node):
        if ctx.rank(v) == 0:
            one = meta_value((1,), ctx.torch_dtype(v))
            return ctx.tile(ctx.call("reshape", ctx.rm(v, dt), [1], out_val=one), dt)
        return ctx.tile(v, dt)
    if isinstance(v, bool):
        return int(v)
    return v


def _common_dtype(ctx, a, b):
    ta = ctx.torch_dtype(a) if isinstance(a, torch.fx.Node) else None
    tb = ctx.torch_dtype(b) if isinstance(b, torch.fx.Node) else None
    if ta is not None and tb is not None:
        return torch.promote_types(ta, tb)
    if ta is not None:
        return torch.result_type(torch.empty((), dtype=ta), b) if not isinstance(b, torch.fx.Node) else ta
    return torch.result_type(a, torch.empty((), dtype=tb))


# A scalar first operand: the TT-NN op that takes the tensor first and gives the same result.
_SCALAR_FIRST = {"divide": "rdiv"}


def _binary_rule(ttnn_name: str, compare: bool = False, int_ok: bool = True):
    def rule(ctx, a, b, **kw):
        if not isinstance(a, torch.fx.Node) and not isinstance(b, torch.fx.Node):
            ctx.unsupported("no tensor operand")
        common = _common_dtype(ctx, a, b)
        if not compare:
            common = ctx.out.dtype
        if not int_ok and not common.is_floating_point:
            ctx.unsupported(f"ttnn.{ttnn_name} on {common} operands")
        dt = ctx.dtype_for(common)
        name = ttnn_name
        if common == torch.bool and name.startswith("bitwise_"):
            name = "logical_" + name[len("bitwise_"):]  # bools live as 0/1 floats on the device
        if not isinstance(a, torch.fx.Node):
            a, b = b, a
            if name in _SCALAR_FIRST:       # value / x: ttnn.rdiv(x, value)
                return ctx.call(_SCALAR_FIRST[name], ctx.tile(a, dt), float(b), out_dtype=dt)
            if ttnn_name in ("subtract", "divide", "pow", "remainder", "fmod", "atan2", "xlogy", "floor_div"):
                ctx.unsupported(f"scalar first operand of {ttnn_name}")
        return ctx.call(name, _operand(ctx, a, dt), _operand(ctx, b, dt), out_dtype=dt)
    rule.__name__ = f"lower_{ttnn_name}"
    return rule


BINARY = {
    aten.mul.Tensor: "multiply", aten.mul.Scalar: "multiply",
    aten.div.Tensor: "divide", aten.div.Scalar: "divide",
    aten.maximum.default: "maximum", aten.minimum.default: "minimum",
    aten.pow.Tensor_Tensor: "pow", aten.pow.Tensor_Scalar: "pow",
    aten.atan2.default: "atan2", aten.xlogy.Tensor: "xlogy",
    aten.remainder.Tensor: "remainder", aten.remainder.Scalar: "remainder",
    aten.fmod.Tensor: "fmod", aten.fmod.Scalar: "fmod",
    aten.bitwise_and.Tensor: "bitwise_and", aten.bitwise_or.Tensor: "bitwise_or",
    aten.bitwise_xor.Tensor: "bitwise_xor",
}
COMPARE = {
    aten.eq.Tensor: "eq", aten.eq.Scalar: "eq", aten.ne.Tensor: "ne", aten.ne.Scalar: "ne",
    aten.lt.Tensor: "lt", aten.lt.Scalar: "lt", aten.le.Tensor: "le", aten.le.Scalar: "le",
    aten.gt.Tensor: "gt", aten.gt.Scalar: "gt", aten.ge.Tensor: "ge", aten.ge.Scalar: "ge",
    aten.logical_and.default: "logical_and", aten.logical_or.default: "logical_or",
    aten.logical_xor.default: "logical_xor",
}
FLOAT_ONLY = {"divide", "pow", "atan2", "xlogy"}

for _aten, _name in BINARY.items():
    lower(_aten, when=ELTWISE, family="eltwise_binary")(_binary_rule(_name, int_ok=_name not in FLOAT_ONLY))
for _aten, _name in COMPARE.items():
    lower(_aten, when=ELTWISE, family="eltwise_compare")(_binary_rule(_name, compare=True))


@lower(aten.add.Tensor, aten.add.Scalar, aten.sub.Tensor, aten.sub.Scalar, when=ELTWISE, family="eltwise_binary")
def add_sub(ctx, a, b, alpha=1):
    name = "add" if ctx.node.target in (aten.add.Tensor, aten.add.Scalar) else "subtract"
    dt = ctx.dtype_for(ctx.out.dtype)
    if not isinstance(a, torch.fx.Node):
        ctx.unsupported("scalar first operand")
    if alpha != 1:
        if isinstance(b, torch.fx.Node):
            b = ctx.call("multiply", ctx.tile(b, dt), alpha, out_dtype=dt, out_val=ctx.val(b))
        else:
            b = b * alpha
    return ctx.call(name, _operand(ctx, a, dt), _operand(ctx, b, dt), out_dtype=dt)


@lower(aten.rsub.Scalar, aten.rsub.Tensor, when=ELTWISE, family="eltwise_binary")
def rsub(ctx, a, b, alpha=1):
    dt = ctx.dtype_for(ctx.out.dtype)
    x = ctx.tile(a, dt)
    if alpha != 1:
        x = ctx.tile(ctx.call("multiply", x, alpha, out_dtype=dt), dt)
    if isinstance(b, torch.fx.Node):
        return ctx.call("subtract", _operand(ctx, b, dt), x, out_dtype=dt)
    return ctx.call("rsub", x, b, out_dtype=dt)


@lower(aten.div.Tensor_mode, aten.div.Scalar_mode, when=ELTWISE, family="eltwise_binary")
def div_mode(ctx, a, b, rounding_mode=None):
    dt = ctx.dtype_for(ctx.out.dtype)
    if not ctx.out.dtype.is_floating_point:
        ctx.unsupported("integer division with rounding")
    q = ctx.call("divide", ctx.tile(a, dt), _operand(ctx, b, dt), out_dtype=dt)
    if rounding_mode is None:
        return q
    return ctx.call({"floor": "floor", "trunc": "trunc"}[rounding_mode], ctx.tile(q, dt))


@lower(aten.logical_not.default, aten.bitwise_not.default, when=ELTWISE, family="eltwise_unary")
def logical_not(ctx, x):
    if ctx.node.target is aten.bitwise_not.default and ctx.torch_dtype(x) != torch.bool:
        return ctx.call("bitwise_not", ctx.tile(x, ctx.dtype_for(x)))
    return ctx.call("logical_not", ctx.tile(x, ctx.dtype_for(x)))


@lower(aten.sigmoid_backward.default, when=ELTWISE + (float_inputs,), family="eltwise_backward")
def sigmoid_backward(ctx, grad, y):
    dt = ctx.float_dtype()
    one_minus = ctx.call("rsub", ctx.tile(y, dt), 1.0)
    t = ctx.call("multiply", ctx.tile(y, dt), ctx.tile(one_minus, dt))
    return ctx.call("multiply", ctx.tile(grad, dt), ctx.tile(t, dt))


@lower(aten.tanh_backward.default, when=ELTWISE + (float_inputs,), family="eltwise_backward")
def tanh_backward(ctx, grad, y):
    dt = ctx.float_dtype()
    sq = ctx.call("multiply", ctx.tile(y, dt), ctx.tile(y, dt))
    t = ctx.call("rsub", ctx.tile(sq, dt), 1.0)
    return ctx.call("multiply", ctx.tile(grad, dt), ctx.tile(t, dt))


@lower(aten.threshold_backward.default, when=ELTWISE + (float_inputs,), family="eltwise_backward")
def threshold_backward(ctx, grad, x, threshold):
    dt = ctx.float_dtype()
    mask = ctx.call("gt", ctx.tile(x, dt), float(threshold))
    return ctx.call("multiply", ctx.tile(grad, dt), ctx.tile(mask, dt))


@lower(aten.tril.default, aten.triu.default, when=ELTWISE + (rank_at_least(2),), family="eltwise_unary")
def tril_triu(ctx, x, diagonal=0):
    name = "tril" if ctx.node.target is aten.tril.default else "triu"
    return ctx.call(name, ctx.tile(x, ctx.dtype_for(x)), diagonal=int(diagonal))


@lower(aten.pow.Scalar, when=ELTWISE + (float_inputs,), family="eltwise_binary")
def pow_scalar_base(ctx, base, exponent):
    """base ** tensor with a scalar base: ttnn.rpow (the base must be positive)."""
    if not isinstance(base, (int, float)) or base <= 0:
        ctx.unsupported(f"scalar base {base!r} of pow (ttnn.rpow needs a positive number)")
    return ctx.call("rpow", ctx.tile(exponent, ctx.float_dtype()), float(base))
