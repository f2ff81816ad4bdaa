"""Element-wise binary ops (binary_ng): add, subtract, multiply, divide, comparisons, logical and bitwise ops,
remainders, transcendental binaries and their in-place variants: each op's element function, dtypes and
signature. How operands, broadcasting, numerics and fused activations behave: binary_core.py.
"""
from __future__ import annotations

import math

import torch

from .._op import ttnn_op
from ..tensor import Tensor
from ..types import INT_DTYPES, DataType, Layout
from ._common import fail, require_dtype, require_layout
from .binary_core import (ARITH, BF16, BFP8, COMPARE, FLOATS, FP32, INT32, UINT16, UINT32, Spec, fpu_multiply,
                          run_binary)


# ------------------------------------------------------------------------------------------------
# Element functions: (a, b, ctx) -> values (float32 / int64 / bool)
# ------------------------------------------------------------------------------------------------

def _nonzero(b: torch.Tensor) -> torch.Tensor:
    return torch.where(b == 0, torch.ones_like(b), b)


def _int_div(a, b, mode):
    """Integer division; division by zero is undefined on the device (modelled as 0)."""
    q = torch.div(a, _nonzero(b), rounding_mode=mode)
    return torch.where(b == 0, torch.zeros_like(q), q)


def _add(a, b, ctx):
    return a + b


def _sub(a, b, ctx):
    return a - b


def _rsub(a, b, ctx):
    return b - a


def _mul(a, b, ctx):
    if not ctx.int_domain and getattr(ctx, "fpu", False):
        return fpu_multiply(a, b, ctx.fidelity)
    return a * b


def _divide(a, b, ctx):
    mode = getattr(ctx, "rounding_mode", None)
    if ctx.int_domain:
        if mode is None:
            return (a.to(torch.float64) / b.to(torch.float64)).to(torch.float32)
        return _int_div(a, b, mode)
    q = a / b
    if mode == "floor":
        q = torch.floor(q)
    elif mode == "trunc":
        q = torch.trunc(q)
    return q


def _divide_out_dtype(ctx, base):
    mode = getattr(ctx, "rounding_mode", None)
    if mode not in (None, "floor", "trunc"):
        fail(ctx.op, f"rounding_mode must be None, 'floor' or 'trunc', got {mode!r}")
    if ctx.int_domain and mode is None:
        if ctx.dtype_kwarg is not None and DataType(ctx.dtype_kwarg) != FP32:
            fail(ctx.op, "integer division with rounding_mode=None yields FLOAT32; dtype must be None or FLOAT32")
        return FP32
    return base


def _int_to_fp32_out(ctx, base):
    return FP32 if ctx.int_domain else base


def _remainder(a, b, ctx):
    if ctx.int_domain:
        r = torch.remainder(a, _nonzero(b))
        return torch.where(b == 0, torch.zeros_like(r), r)
    return torch.remainder(a, b)


def _fmod(a, b, ctx):
    if ctx.int_domain:
        r = torch.fmod(a, _nonzero(b))
        return torch.where(b == 0, torch.zeros_like(r), r)
    return torch.fmod(a, b)


def _floor_div(a, b, ctx):
    if ctx.int_domain:
        return _int_div(a, b, "floor")
    return torch.floor(a / b)


def _div_no_nan(a, b, ctx):
    if ctx.int_domain:
        a, b = a.to(torch.float64), b.to(torch.float64)
    q = torch.where(b == 0, torch.zeros_like(a / _nonzero(b)), a / _nonzero(b))
    return q.to(torch.float32)


def _truth(x):
    return x != 0


def _shift_left(a, b, ctx):
    ok = (b >= 0) & (b <= 31)
    r = torch.bitwise_left_shift(a, b.clamp(0, 31))
    return torch.where(ok, r, torch.zeros_like(r))


def _shift_right(a, b, ctx):
    if ctx.out_dtype == INT32:  # arithmetic shift; counts outside [0, 31] give 0
        ok = (b >= 0) & (b <= 31)
        r = torch.bitwise_right_shift(a, b.clamp(0, 31))
        return torch.where(ok, r, torch.zeros_like(r))
    return torch.bitwise_right_shift(a, b.clamp(0, 31))  # logical; counts >= 32 saturate to 31


def _squared_difference(a, b, ctx):
    d = a - b
    return d * d


def _to_float(x):
    return x if x.is_floating_point() else x.to(torch.float32)


def _isclose(a, b, ctx):
    return torch.isclose(_to_float(a), _to_float(b), rtol=ctx.rtol, atol=ctx.atol, equal_nan=ctx.equal_nan)


def _bias_gelu(a, b, ctx):
    return torch.nn.functional.gelu(a + b, approximate="tanh" if ctx.fast else "none")


def _nextafter(a, b, ctx):
    if FP32 in ctx.in_dtypes:
        return torch.nextafter(a, b)
    return torch.nextafter(a.to(torch.bfloat16), b.to(torch.bfloat16)).to(torch.float32)


def _ldexp(a, b, ctx):
    return a * torch.pow(torch.tensor(2.0), b)


def _logaddexp2(a, b, ctx):
    return torch.logaddexp2(a, b)


def _g2(fn):
    """A golden function taking (a, b, *args, **kwargs)."""
    def golden(input_tensor_a, input_tensor_b, *args, **kwargs):
        return fn(input_tensor_a, input_tensor_b)
    return golden


def _cmp_golden(fn):
    return _g2(lambda a, b: fn(a, b) if torch.is_tensor(b) else fn(a, torch.tensor(b, dtype=a.dtype)))


def _golden_divide(input_tensor_a, input_tensor_b, *args, rounding_mode=None, **kwargs):
    return torch.div(input_tensor_a, input_tensor_b, rounding_mode=rounding_mode)


SPECS = {s.name: s for s in [
    Spec("add", _add, ARITH, kind="fpu_add", scalar_a=True, golden=_g2(torch.add)),
    Spec("subtract", _sub, ARITH, kind="fpu_add", scalar_a=True, golden=_g2(torch.sub)),
    Spec("rsub", _rsub, ARITH, kind="fpu_add", golden=_g2(lambda a, b: b - a)),
    Spec("multiply", _mul, ARITH, kind="fpu_mul", mix="promote", scalar_a=True, float_scalar="promote",
         golden=_g2(torch.mul)),
    Spec("divide", _divide, FLOATS + (INT32,), mix="promote", scalar_a=True, float_scalar="promote",
         hook=_divide_out_dtype, golden=_golden_divide),
    Spec("maximum", lambda a, b, c: torch.maximum(a, b), FLOATS + (INT32, UINT32), kind="exact",
         golden=_cmp_golden(torch.maximum)),
    Spec("minimum", lambda a, b, c: torch.minimum(a, b), FLOATS + (INT32, UINT32), kind="exact",
         golden=_cmp_golden(torch.minimum)),
    Spec("eq", lambda a, b, c: a == b, COMPARE, kind="exact", compare=True, golden=_g2(torch.eq)),
    Spec("ne", lambda a, b, c: a != b, COMPARE, kind="exact", compare=True, golden=_g2(torch.ne)),
    Spec("lt", lambda a, b, c: a < b, COMPARE, kind="exact", compare=True, golden=_g2(torch.lt)),
    Spec("le", lambda a, b, c: a <= b, COMPARE, kind="exact", compare=True, golden=_g2(torch.le)),
    Spec("gt", lambda a, b, c: a > b, COMPARE, kind="exact", compare=True, golden=_g2(torch.gt)),
    Spec("ge", lambda a, b, c: a >= b, COMPARE, kind="exact", compare=True, golden=_g2(torch.ge)),
    Spec("logical_and", lambda a, b, c: _truth(a) & _truth(b), ARITH, kind="exact", compare=True,
         golden=_g2(torch.logical_and)),
    Spec("logical_or", lambda a, b, c: _truth(a) | _truth(b), ARITH, kind="exact", compare=True,
         golden=_g2(torch.logical_or)),
    Spec("logical_xor", lambda a, b, c: _truth(a) ^ _truth(b), ARITH, kind="exact", compare=True,
         golden=_g2(torch.logical_xor)),
    Spec("bitwise_and", lambda a, b, c: a & b, (INT32, UINT16, UINT32), kind="exact", mix="same",
         golden=_g2(torch.bitwise_and)),
    Spec("bitwise_or", lambda a, b, c: a | b, (INT32, UINT16, UINT32), kind="exact", mix="same",
         golden=_g2(torch.bitwise_or)),
    Spec("bitwise_xor", lambda a, b, c: a ^ b, (INT32, UINT16, UINT32), kind="exact", mix="same",
         golden=_g2(torch.bitwise_xor)),
    Spec("bitwise_left_shift", _shift_left, (INT32, UINT16, UINT32), kind="exact", mix="same",
         golden=_g2(torch.bitwise_left_shift)),
    Spec("bitwise_right_shift", _shift_right, (INT32, UINT16, UINT32), kind="exact", mix="same",
         golden=_g2(torch.bitwise_right_shift)),
    Spec("remainder", _remainder, FLOATS + (INT32, UINT32), mix="same", float_scalar="promote",
         golden=_g2(torch.remainder)),
    Spec("fmod", _fmod, FLOATS + (INT32,), mix="same", float_scalar="promote", golden=_g2(torch.fmod)),
    Spec("floor_div", _floor_div, FLOATS + (INT32,), mix="promote", golden=_g2(torch.floor_divide)),
    Spec("atan2", lambda a, b, c: torch.atan2(a, b), FLOATS, mix="same", scalar_b=False,
         golden=_g2(torch.atan2)),
    Spec("xlogy", lambda a, b, c: torch.xlogy(a, b), FLOATS, mix="same", golden=_g2(torch.xlogy)),
    Spec("squared_difference", _squared_difference, ARITH, golden=_g2(lambda a, b: (a - b) ** 2)),
    Spec("hypot", lambda a, b, c: torch.hypot(a, b), FLOATS, mix="same", scalar_b=False,
         golden=_g2(torch.hypot)),
    Spec("logaddexp", lambda a, b, c: torch.logaddexp(a, b), FLOATS, mix="same", golden=_g2(torch.logaddexp)),
    Spec("logaddexp2", _logaddexp2, FLOATS, mix="same", golden=_g2(torch.logaddexp2)),
    Spec("ldexp", _ldexp, FLOATS, mix="same", golden=_g2(torch.ldexp)),
    Spec("div_no_nan", _div_no_nan, FLOATS + (INT32,), mix="promote", hook=_int_to_fp32_out,
         golden=_g2(lambda a, b: torch.where(torch.as_tensor(b) == 0, torch.zeros_like(a / b), a / b))),
    Spec("isclose", _isclose, FLOATS + (INT32,), kind="exact", mix="isclose", scalar_b=False,
         golden=lambda a, b, *args, rtol=1e-05, atol=1e-08, equal_nan=False, **kw: torch.isclose(
             a, b, rtol=rtol, atol=atol, equal_nan=equal_nan)),
    Spec("addalpha", lambda a, b, c: a + c.alpha * b, FLOATS, scalar_b=False,
         golden=lambda a, b, alpha, *args, **kw: torch.add(a, b, alpha=alpha)),
    Spec("subalpha", lambda a, b, c: a - c.alpha * b, FLOATS, scalar_b=False,
         golden=lambda a, b, alpha, *args, **kw: torch.sub(a, b, alpha=alpha)),
    Spec("bias_gelu", _bias_gelu, FLOATS, mix="same",
         golden=_g2(lambda a, b: torch.nn.functional.gelu(a + b))),
    Spec("gcd", lambda a, b, c: torch.gcd(a, b), (INT32,), kind="exact", scalar_b=False, golden=_g2(torch.gcd)),
    Spec("lcm", lambda a, b, c: torch.lcm(a, b), (INT32,), kind="exact", scalar_b=False, golden=_g2(torch.lcm)),
    Spec("nextafter", _nextafter, (BF16, FP32), kind="exact", mix="same", scalar_b=False,
         golden=_g2(torch.nextafter)),
]}


def _golden(name: str):
    return SPECS[name].golden


def _call(name, a, b, names=("input_tensor_a", "input_tensor_b"), **kw):
    op = kw.pop("op", name)
    return run_binary(op, SPECS[name], a, b, names=names, **kw)


# ------------------------------------------------------------------------------------------------
# Registration: one explicit def per real signature shape
# ------------------------------------------------------------------------------------------------

def _register(name: str, fn, spec_name: str, doc: str = ""):
    fn.__name__ = fn.__qualname__ = name
    fn.__doc__ = doc or f"Element-wise {spec_name} (simulated binary_ng op; see torch_ttnn.sim.ops.binary)."
    return ttnn_op(name, golden=_golden(spec_name))(fn)


def _arith(name: str, spec_name: str, fast_default: bool):
    """(a, b, *, fast_and_approximate_mode, dtype, memory_config, output_tensor, activations..., sub_core_grids,
    sub_device_id): add, subtract, multiply, bias_gelu and aliases."""
    def f(input_tensor_a, input_tensor_b, *, fast_and_approximate_mode=fast_default, dtype=None,
          memory_config=None, output_tensor=None, activations=[], input_tensor_a_activations=[],
          input_tensor_b_activations=[], sub_core_grids=None, sub_device_id=None):
        return _call(spec_name, input_tensor_a, input_tensor_b, op=name, fast=fast_and_approximate_mode,
                     dtype=dtype, memory_config=memory_config, output_tensor=output_tensor, activations=activations,
                     a_acts=input_tensor_a_activations, b_acts=input_tensor_b_activations)
    return _register(name, f, spec_name)


for _n, _s, _fast in [("add", "add", True), ("subtract", "subtract", True), ("sub", "subtract", True),
                      ("multiply", "multiply", False), ("mul", "multiply", False),
                      ("bias_gelu", "bias_gelu", False)]:
    _arith(_n, _s, _fast)


def _divide_like(name: str):
    def f(input_tensor_a, input_tensor_b, *, fast_and_approximate_mode=False, rounding_mode=None, dtype=None,
          memory_config=None, output_tensor=None, activations=[], input_tensor_a_activations=[],
          input_tensor_b_activations=[], sub_core_grids=None, sub_device_id=None):
        return _call("divide", input_tensor_a, input_tensor_b, op=name, fast=fast_and_approximate_mode,
                     rounding_mode=rounding_mode, dtype=dtype, memory_config=memory_config,
                     output_tensor=output_tensor, activations=activations, a_acts=input_tensor_a_activations,
                     b_acts=input_tensor_b_activations)
    return _register(name, f, "divide", "Element-wise division (rounding_mode None, 'floor' or 'trunc').")


divide = _divide_like("divide")
div = _divide_like("div")


@ttnn_op("rsub", golden=_golden("rsub"))
def rsub(input_tensor_a, input_tensor_b, *, dtype=None, memory_config=None, output_tensor=None, activations=[],
         input_tensor_a_activations=[], input_tensor_b_activations=[], fast_and_approximate_mode=True):
    """input_tensor_b - input_tensor_a."""
    return _call("rsub", input_tensor_a, input_tensor_b, fast=fast_and_approximate_mode, dtype=dtype,
                 memory_config=memory_config, output_tensor=output_tensor, activations=activations,
                 a_acts=input_tensor_a_activations, b_acts=input_tensor_b_activations)


def _plain(name: str):
    """(a, b, *, dtype, memory_config, output_tensor, activations..., sub_core_grids, sub_device_id)."""
    def f(input_tensor_a, input_tensor_b, *, dtype=None, memory_config=None, output_tensor=None, activations=[],
          input_tensor_a_activations=[], input_tensor_b_activations=[], sub_core_grids=None, sub_device_id=None):
        return _call(name, input_tensor_a, input_tensor_b, dtype=dtype, memory_config=memory_config,
                     output_tensor=output_tensor, activations=activations, a_acts=input_tensor_a_activations,
                     b_acts=input_tensor_b_activations)
    return _register(name, f, name)


for _n in ["eq", "ne", "lt", "le", "gt", "ge", "logical_and", "logical_or", "logical_xor", "remainder", "xlogy",
           "squared_difference", "logaddexp", "logaddexp2", "ldexp"]:
    _plain(_n)


def _plain_no_subdevice(name: str):
    """(a, b, *, dtype, memory_config, output_tensor, activations...): maximum, minimum, gcd, lcm."""
    def f(input_tensor_a, input_tensor_b, *, dtype=None, memory_config=None, output_tensor=None, activations=[],
          input_tensor_a_activations=[], input_tensor_b_activations=[]):
        return _call(name, input_tensor_a, input_tensor_b, dtype=dtype, memory_config=memory_config,
                     output_tensor=output_tensor, activations=activations, a_acts=input_tensor_a_activations,
                     b_acts=input_tensor_b_activations)
    return _register(name, f, name)


for _n in ["maximum", "minimum", "gcd", "lcm"]:
    _plain_no_subdevice(_n)


def _bitwise(name: str):
    def f(input_tensor_a, input_tensor_b, *, memory_config=None, output_tensor=None, activations=[],
          input_tensor_a_activations=[], input_tensor_b_activations=[], sub_core_grids=None, sub_device_id=None):
        return _call(name, input_tensor_a, input_tensor_b, memory_config=memory_config, output_tensor=output_tensor,
                     activations=activations, a_acts=input_tensor_a_activations, b_acts=input_tensor_b_activations)
    return _register(name, f, name)


for _n in ["bitwise_and", "bitwise_or", "bitwise_xor", "bitwise_left_shift", "bitwise_right_shift"]:
    _bitwise(_n)


@ttnn_op("fmod", golden=_golden("fmod"))
def fmod(input_tensor_a, input_tensor_b, *, memory_config=None, sub_core_grids=None, sub_device_id=None):
    """C-style remainder (sign of the dividend)."""
    return _call("fmod", input_tensor_a, input_tensor_b, memory_config=memory_config)


def _memory_only(name: str):
    """(a, b, *, memory_config): floor_div, div_no_nan, atan2, hypot, nextafter."""
    def f(input_tensor_a, input_tensor_b, *, memory_config=None):
        return _call(name, input_tensor_a, input_tensor_b, memory_config=memory_config)
    return _register(name, f, name)


for _n in ["floor_div", "div_no_nan", "atan2", "hypot", "nextafter"]:
    _memory_only(_n)


@ttnn_op("isclose", golden=_golden("isclose"))
def isclose(input_tensor_a, input_tensor_b, *, rtol=9.999999747378752e-06, atol=9.99999993922529e-09,
            equal_nan=False, memory_config=None):
    """1 where |a - b| <= atol + rtol * |b| (in the input dtype), else 0."""
    return _call("isclose", input_tensor_a, input_tensor_b, memory_config=memory_config, rtol=float(rtol),
                 atol=float(atol), equal_nan=bool(equal_nan))


@ttnn_op("addalpha", golden=_golden("addalpha"))
def addalpha(input_tensor_a, input_tensor_b, alpha, *, memory_config=None, output_tensor=None):
    """input_tensor_a + alpha * input_tensor_b."""
    return _call("addalpha", input_tensor_a, input_tensor_b, memory_config=memory_config,
                 output_tensor=output_tensor, alpha=float(alpha))


@ttnn_op("subalpha", golden=_golden("subalpha"))
def subalpha(input_tensor_a, input_tensor_b, alpha, *, memory_config=None, output_tensor=None):
    """input_tensor_a - alpha * input_tensor_b."""
    return _call("subalpha", input_tensor_a, input_tensor_b, memory_config=memory_config,
                 output_tensor=output_tensor, alpha=float(alpha))


# ------------------------------------------------------------------------------------------------
# In-place variants: the result is written into input A (shape, layout, dtype and memory config of A)
# ------------------------------------------------------------------------------------------------

def _inplace_tensor_names(name: str, spec_name: str, fast_default: bool):
    def f(input_tensor_a, input_tensor_b, *, activations=[], input_tensor_a_activations=[],
          input_tensor_b_activations=[], fast_and_approximate_mode=fast_default, sub_core_grids=None,
          sub_device_id=None):
        return _call(spec_name, input_tensor_a, input_tensor_b, op=name, inplace=True,
                     fast=fast_and_approximate_mode, activations=activations, a_acts=input_tensor_a_activations,
                     b_acts=input_tensor_b_activations)
    return _register(name, f, spec_name, f"In-place {spec_name}: writes the result into input_tensor_a.")


def _inplace_ab_fast(name: str, spec_name: str, fast_default: bool, dtypes=None):
    def f(input_a, input_b, *, activations=[], input_tensor_a_activations=[], input_tensor_b_activations=[],
          fast_and_approximate_mode=fast_default, sub_core_grids=None, sub_device_id=None):
        if dtypes is not None and isinstance(input_a, Tensor):
            require_dtype(name, "input_a", input_a, dtypes)
        return _call(spec_name, input_a, input_b, names=("input_a", "input_b"), op=name, inplace=True,
                     fast=fast_and_approximate_mode, activations=activations, a_acts=input_tensor_a_activations,
                     b_acts=input_tensor_b_activations)
    return _register(name, f, spec_name, f"In-place {spec_name}: writes the result into input_a.")


def _inplace_ab(name: str, spec_name: str):
    def f(input_a, input_b, *, activations=[], input_tensor_a_activations=[], input_tensor_b_activations=[],
          sub_core_grids=None, sub_device_id=None):
        return _call(spec_name, input_a, input_b, names=("input_a", "input_b"), op=name, inplace=True,
                     activations=activations, a_acts=input_tensor_a_activations, b_acts=input_tensor_b_activations)
    return _register(name, f, spec_name, f"In-place {spec_name}: writes the result into input_a.")


for _n, _s in [("add_", "add"), ("subtract_", "subtract"), ("sub_", "subtract")]:
    _inplace_tensor_names(_n, _s, True)
for _n, _s, _fast, _dt in [("multiply_", "multiply", False, FLOATS + (UINT16, UINT32)),
                           ("mul_", "multiply", False, FLOATS + (UINT16, UINT32)),
                           ("divide_", "divide", False, FLOATS), ("div_", "divide", False, FLOATS),
                           ("rsub_", "rsub", True, None)]:
    _inplace_ab_fast(_n, _s, _fast, _dt)
for _n in ["eq", "ne", "lt", "le", "gt", "ge", "logical_and", "logical_or", "logical_xor", "ldexp", "logaddexp",
           "logaddexp2", "squared_difference", "bias_gelu"]:
    _inplace_ab(_n + "_", _n)


# ------------------------------------------------------------------------------------------------
# Ops with their own operand rules: pow, rpow, rdiv, prelu
# ------------------------------------------------------------------------------------------------

def _pow_fn(a, b, ctx):
    return torch.pow(a, b)  # int64 wraps modulo 2^64, then the output wraps to its width


_POW_SPEC = Spec("pow", _pow_fn, ARITH, mix="same", scalar_a=True, scalar_fp32=True)


def _golden_pow(input_tensor, exponent, *args, **kwargs):
    return torch.pow(input_tensor, exponent)


@ttnn_op("pow", golden=_golden_pow)
def _pow(input_tensor, exponent, *, dtype=None, memory_config=None, output_tensor=None, activations=[],
        input_tensor_a_activations=[], input_tensor_b_activations=[]):
    """input_tensor ** exponent (tensor ** scalar, tensor ** tensor, or scalar ** tensor)."""
    op = "pow"
    if isinstance(input_tensor, Tensor) and input_tensor._dtype in INT_DTYPES:
        if isinstance(exponent, Tensor):
            fail(op, "integer inputs need a scalar exponent (tensor exponents are refused)")
        if not isinstance(exponent, (int, float)) or float(exponent) != int(exponent) or exponent < 0:
            fail(op, f"integer inputs need a non-negative integral exponent, got {exponent!r}")
        exponent = int(exponent)
        if exponent > 1:
            require_layout(op, "input_tensor", input_tensor, Layout.TILE)
    elif isinstance(input_tensor, Tensor) and isinstance(exponent, Tensor):
        for arg, t in (("input_tensor", input_tensor), ("exponent", exponent)):
            require_dtype(op, arg, t, FLOATS)
    if not isinstance(input_tensor, Tensor) and isinstance(exponent, Tensor):
        require_dtype(op, "exponent", exponent, FLOATS)
    return run_binary(op, _POW_SPEC, input_tensor, exponent, names=("input_tensor", "exponent"), dtype=dtype,
                      memory_config=memory_config, output_tensor=output_tensor, activations=activations,
                      a_acts=input_tensor_a_activations, b_acts=input_tensor_b_activations)


_RPOW_SPEC = Spec("rpow", lambda a, b, c: torch.pow(b, a), (BF16,), scalar_fp32=True)


@ttnn_op("rpow", golden=lambda input_tensor, exponent, *a, **k: torch.pow(exponent, input_tensor))
def rpow(input_tensor, exponent, *, memory_config=None, output_tensor=None, sub_core_grids=None):
    """exponent ** input_tensor (exponent a positive scalar)."""
    if isinstance(exponent, Tensor) or not isinstance(exponent, (int, float)):
        fail("rpow", f"exponent must be a number, got {type(exponent).__name__}")
    if exponent <= 0:
        fail("rpow", f"exponent must be positive, got {exponent}")
    return run_binary("rpow", _RPOW_SPEC, input_tensor, float(exponent), names=("input_tensor", "exponent"),
                      memory_config=memory_config, output_tensor=output_tensor)


_RDIV_SPEC = Spec("rdiv", lambda a, b, c: _divide(b, a, c), (BF16, FP32), scalar_fp32=True)


@ttnn_op("rdiv", golden=lambda input_tensor, value, *a, rounding_mode=None, **k: torch.div(
    torch.full_like(input_tensor, value), input_tensor, rounding_mode=rounding_mode))
def rdiv(input_tensor, value, *, rounding_mode=None, memory_config=None, output_tensor=None, sub_core_grids=None):
    """value / input_tensor, rounded per rounding_mode (None, 'floor', 'trunc')."""
    if isinstance(value, Tensor) or not isinstance(value, (int, float)):
        fail("rdiv", f"value must be a number, got {type(value).__name__}")
    if rounding_mode not in (None, "floor", "trunc"):
        fail("rdiv", f"rounding_mode must be None, 'floor' or 'trunc', got {rounding_mode!r}")
    return run_binary("rdiv", _RDIV_SPEC, input_tensor, float(value), names=("input_tensor", "value"),
                      memory_config=memory_config, output_tensor=output_tensor, rounding_mode=rounding_mode)


_PRELU_SPEC = Spec("prelu", lambda a, w, c: torch.where(a >= 0, a, w * a), (BF16, BFP8, FP32), scalar_fp32=True)


def _golden_prelu(input_tensor_a, weight, *args, **kwargs):
    if not torch.is_tensor(weight):
        weight = torch.tensor(weight, dtype=input_tensor_a.dtype)
    return torch.nn.functional.prelu(input_tensor_a, weight=weight.reshape(-1))


@ttnn_op("prelu", golden=_golden_prelu)
def prelu(input_tensor_a, weight, *, memory_config=None):
    """x if x >= 0 else weight * x; weight a scalar, a list of one float, or a 1-D tensor of one value per
    channel (dim 1 of input_tensor_a)."""
    op = "prelu"
    if isinstance(weight, (list, tuple)):
        if len(weight) != 1:
            fail(op, f"weight as a list must have length 1, got {len(weight)}")
        weight = float(weight[0])
    if isinstance(weight, Tensor) and isinstance(input_tensor_a, Tensor):
        rank = len(input_tensor_a.shape)
        channels = input_tensor_a.shape[1] if rank >= 2 else 1
        numel = math.prod(weight.shape)
        if numel == 1 and rank >= 1:
            view_shape = (1,) * rank
        elif rank >= 2 and numel == channels:
            view_shape = (1, channels) + (1,) * (rank - 2)
        else:
            fail(op, f"weight of shape {list(weight.shape)} must have 1 value or one per channel "
                     f"({channels}) of input_tensor_a {list(input_tensor_a.shape)}")
        weight = Tensor._new(weight._value.reshape(view_shape), weight._dtype, weight._layout, weight._device,
                             weight._memory_config, weight._alloc, None)
    return run_binary(op, _PRELU_SPEC, input_tensor_a, weight, names=("input_tensor_a", "weight"),
                      memory_config=memory_config)
