"""Element-wise unary ops (activations, math functions, predicates, rounding, tril/triu, fill, polyval).

Each op checks its input as the real one does (dtypes of its documentation table: SUPPORTED_DTYPES) and
computes through the SFPU model in sfpu.py (numerics, lookup tables of bf16 patterns, padding, storage).
"""
from __future__ import annotations

import builtins
import inspect
import math
from typing import Callable, Optional

import torch

from .._op import ttnn_op
from ..tensor import Tensor
from ..types import FLOAT_DTYPES, INT_DTYPES, GeluVariant, Layout, SigmoidMode
from ._common import fail, on_device, require_dtype, require_layout, require_rank, require_tensor, round_to
from .sfpu import (BF16, BFP8, FP32, INT32, SUPPORTED_DTYPES, UINT16, UINT32, UINT8, _ALL, _BF16_BFP8, _F, _LN2,
                   _approx, _cbrt, _emit, _erf_fast, _eval_float, _exp, _gelu_exact, _gelu_fastlut, _gelu_tanh, _log,
                   _log_fast, _mish, _rsqrt_fast, _sigmoid, _softplus, _sqrt_fast, _tanh_fast, _torch_golden, _unary,
                   table_key)

# ------------------------------------------------------------------------------------------------
# Table-driven ops: (input_tensor, *, memory_config=None, output_tensor=None, sub_core_grids=None)
# ------------------------------------------------------------------------------------------------

def _def_plain(name: str, f: Callable, dtypes, golden: Callable, int_f: Optional[Callable] = None,
               doc: str = ""):
    SUPPORTED_DTYPES[name] = tuple(dtypes)

    def op(input_tensor, *, memory_config=None, output_tensor=None, sub_core_grids=None):
        return _unary(name, input_tensor, f, memory_config=memory_config, output_tensor=output_tensor, int_f=int_f,
                      key=table_key(name))

    op.__name__ = op.__qualname__ = name
    op.__doc__ = doc or f"ttnn.{name}: element-wise {name} of input_tensor (same dtype and layout)."
    return ttnn_op(name, golden=golden)(op)


def _def_fast(name: str, f: Callable, dtypes, golden: Callable, doc: str = ""):
    """Ops with (input_tensor, *, fast_and_approximate_mode=False, memory_config, output_tensor,
    sub_core_grids); f(x, approx)."""
    SUPPORTED_DTYPES[name] = tuple(dtypes)

    def op(input_tensor, *, fast_and_approximate_mode=False, memory_config=None, output_tensor=None,
           sub_core_grids=None):
        require_tensor(name, "input_tensor", input_tensor)
        approx = _approx(input_tensor, fast_and_approximate_mode)
        return _unary(name, input_tensor, lambda x: f(x, approx), memory_config=memory_config,
                      output_tensor=output_tensor, key=table_key(name, approx))

    op.__name__ = op.__qualname__ = name
    op.__doc__ = doc or (f"ttnn.{name}: element-wise {name}; fast_and_approximate_mode=True uses the device's "
                         "faster, less accurate approximation.")
    return ttnn_op(name, golden=golden)(op)


_PLAIN = [
    # name, float function, dtypes, torch reference, integer function
    ("relu6", lambda x: x.clamp(0.0, 6.0), _ALL, torch.nn.functional.relu6, lambda v: v.clamp(0, 6)),
    ("silu", lambda x: x * _sigmoid(x), _F, torch.nn.functional.silu, None),
    ("swish", lambda x: x * _sigmoid(x), _F, torch.nn.functional.silu, None),
    ("log_sigmoid", torch.nn.functional.logsigmoid, _F, torch.nn.functional.logsigmoid, None),
    ("tanhshrink", lambda x: x - torch.tanh(x), _F, torch.nn.functional.tanhshrink, None),
    ("exp2", torch.exp2, _F, torch.exp2, None),
    ("expm1", torch.expm1, _F, torch.expm1, None),
    ("cbrt", _cbrt, _F, _cbrt, None),
    ("reciprocal", torch.reciprocal, _BF16_BFP8, torch.reciprocal, None),
    ("square", lambda x: x * x, (BF16, BFP8, INT32, UINT32, UINT16), torch.square, lambda v: v * v),
    ("abs", torch.abs, _F + (INT32,), torch.abs, torch.abs),
    ("neg", torch.neg, _F, torch.neg, None),
    ("sign", torch.sign, _F, torch.sign, None),
    ("signbit", torch.signbit, _F + (INT32,), torch.signbit, lambda v: v < 0),
    ("floor", torch.floor, _F, torch.floor, None),
    ("ceil", torch.ceil, _F, torch.ceil, None),
    ("trunc", torch.trunc, _F, torch.trunc, None),
    ("frac", torch.frac, _F, torch.frac, None),
    ("hardswish", torch.nn.functional.hardswish, _F, torch.nn.functional.hardswish, None),
    ("hardsigmoid", torch.nn.functional.hardsigmoid, _F, torch.nn.functional.hardsigmoid, None),
    ("softsign", lambda x: x / (1.0 + x.abs()), _F, torch.nn.functional.softsign, None),
    ("sin", torch.sin, _F, torch.sin, None),
    ("cos", torch.cos, _F, torch.cos, None),
    ("tan", torch.tan, _F, torch.tan, None),
    ("asin", torch.asin, _F, torch.asin, None),
    ("acos", torch.acos, _F, torch.acos, None),
    ("atan", torch.atan, _F, torch.atan, None),
    ("sinh", torch.sinh, _F, torch.sinh, None),
    ("cosh", torch.cosh, _F, torch.cosh, None),
    ("asinh", torch.asinh, _F, torch.asinh, None),
    ("acosh", torch.acosh, _F, torch.acosh, None),
    ("atanh", torch.atanh, _F, torch.atanh, None),
    ("erfc", torch.erfc, _BF16_BFP8, torch.erfc, None),
    ("erfinv", torch.erfinv, _F, torch.erfinv, None),
    ("logical_not", lambda x: x == 0, _F + (INT32, UINT16, UINT32), torch.logical_not, lambda v: v == 0),
    ("isnan", torch.isnan, _F, torch.isnan, None),
    ("isinf", torch.isinf, _F, torch.isinf, None),
    ("isfinite", torch.isfinite, _F, torch.isfinite, None),
    ("isposinf", torch.isposinf, _F, torch.isposinf, None),
    ("isneginf", torch.isneginf, _F, torch.isneginf, None),
    ("eqz", lambda x: x == 0, _F + (INT32, UINT16, UINT32), lambda t: torch.eq(t, 0), lambda v: v == 0),
    ("nez", lambda x: x != 0, _F + (INT32, UINT16, UINT32), lambda t: torch.ne(t, 0), lambda v: v != 0),
    ("gtz", lambda x: x > 0, _BF16_BFP8 + (INT32,), lambda t: torch.gt(t, 0), lambda v: v > 0),
    ("ltz", lambda x: x < 0, _BF16_BFP8 + (INT32,), lambda t: torch.lt(t, 0), lambda v: v < 0),
    ("gez", lambda x: x >= 0, _BF16_BFP8 + (INT32,), lambda t: torch.ge(t, 0), lambda v: v >= 0),
    ("lez", lambda x: x <= 0, _BF16_BFP8 + (INT32,), lambda t: torch.le(t, 0), lambda v: v <= 0),
    ("identity", lambda x: x, _F + (UINT32, UINT16, UINT8), torch.clone, lambda v: v),
    ("deg2rad", lambda x: x * (math.pi / 180.0), _F, torch.deg2rad, None),
    ("rad2deg", lambda x: x * (180.0 / math.pi), _F, torch.rad2deg, None),
    ("lgamma", torch.lgamma, (BF16, FP32), torch.lgamma, None),
    ("digamma", torch.digamma, (BF16, FP32), torch.digamma, None),
    ("i0", torch.i0, _F, torch.i0, None),
    ("bitwise_not", None, (INT32,), torch.bitwise_not, torch.bitwise_not),
]

for _name, _f, _dtypes, _golden, _int_f in _PLAIN:
    _def_plain(_name, _f, _dtypes, _torch_golden(_golden), _int_f)

_FAST = [
    ("exp", _exp, torch.exp),
    ("log", _log, torch.log),
    ("log2", lambda x, a: _log(x, a) / _LN2, torch.log2),
    ("log10", lambda x, a: _log(x, a) / math.log(10.0), torch.log10),
    ("log1p", lambda x, a: _log_fast(1.0 + x) if a else torch.log1p(x), torch.log1p),
    ("sqrt", lambda x, a: _sqrt_fast(x) if a else torch.sqrt(x), torch.sqrt),
    ("rsqrt", lambda x, a: _rsqrt_fast(x) if a else torch.rsqrt(x), torch.rsqrt),
    ("erf", lambda x, a: _erf_fast(x) if a else torch.erf(x), torch.erf),
    ("mish", _mish, lambda t: torch.nn.functional.mish(t.float())),
]

for _name, _f, _golden in _FAST:
    _def_fast(_name, _f, _F, _torch_golden(_golden))

del _name, _f, _dtypes, _golden, _int_f


# ------------------------------------------------------------------------------------------------
# Ops with their own parameters
# ------------------------------------------------------------------------------------------------

SUPPORTED_DTYPES["relu"] = _ALL


@ttnn_op("relu", golden=_torch_golden(torch.relu))
def relu(input_tensor, *, memory_config=None, output_tensor=None, sub_core_grids=None):
    """ttnn.relu: max(x, 0) element-wise (exact; integer dtypes supported)."""
    return _unary("relu", input_tensor, lambda x: x.clamp_min(0.0), memory_config=memory_config,
                  output_tensor=output_tensor, int_f=lambda v: v.clamp_min(0), key=table_key("relu"))


SUPPORTED_DTYPES["relu_max"] = _ALL


def _golden_relu_max(input_tensor, upper_limit, *args, **kwargs):
    return torch.relu(torch.minimum(input_tensor, torch.tensor(upper_limit, dtype=input_tensor.dtype)))


@ttnn_op("relu_max", golden=_golden_relu_max)
def relu_max(input_tensor, upper_limit, *, memory_config=None, output_tensor=None, sub_core_grids=None):
    """ttnn.relu_max: min(max(x, 0), upper_limit)."""
    u = float(upper_limit)
    return _unary("relu_max", input_tensor, lambda x: torch.minimum(x.clamp_min(0.0), torch.tensor(u, dtype=x.dtype)),
                  memory_config=memory_config, output_tensor=output_tensor,
                  int_f=lambda v: torch.minimum(v.clamp_min(0), torch.tensor(int(u))), key=table_key("relu_max", u))


SUPPORTED_DTYPES["relu_min"] = _ALL


def _golden_relu_min(input_tensor, lower_limit, *args, **kwargs):
    return torch.max(input_tensor, torch.tensor(lower_limit, dtype=input_tensor.dtype))


@ttnn_op("relu_min", golden=_golden_relu_min)
def relu_min(input_tensor, lower_limit, *, memory_config=None, output_tensor=None, sub_core_grids=None):
    """ttnn.relu_min: max(x, lower_limit)."""
    lo = float(lower_limit)
    return _unary("relu_min", input_tensor, lambda x: x.clamp_min(lo), memory_config=memory_config,
                  output_tensor=output_tensor, int_f=lambda v: v.clamp_min(int(lo)), key=table_key("relu_min", lo))


SUPPORTED_DTYPES["gelu"] = _BF16_BFP8


def _golden_gelu(input_tensor, *args, variant=None, fast_and_approximate_mode=False, **kwargs):
    approximate = "tanh" if variant == GeluVariant.Tanh else "none"
    return torch.nn.functional.gelu(input_tensor.float(), approximate=approximate).to(input_tensor.dtype)


def gelu(input_tensor, *, variant=GeluVariant.Accurate, memory_config=None, output_tensor=None,
         sub_core_grids=None, fast_and_approximate_mode=None):
    """ttnn.gelu: Accurate = x * Phi(x) (erf form), Tanh = the tanh form, FastLut = a 6-segment
    piecewise-linear table (~1% absolute error). The legacy keyword fast_and_approximate_mode of the other
    real overload is accepted too (True -> FastLut, False -> Accurate)."""
    require_tensor("gelu", "input_tensor", input_tensor)
    if fast_and_approximate_mode is not None:
        variant = GeluVariant.FastLut if fast_and_approximate_mode else GeluVariant.Accurate
    try:
        variant = GeluVariant(int(variant))
    except (TypeError, ValueError):
        fail("gelu", f"variant must be a ttnn.GeluVariant, got {variant!r}")
    if variant == GeluVariant.Tanh:
        f = _gelu_tanh
    elif variant == GeluVariant.FastLut and _approx(input_tensor, True):
        f = _gelu_fastlut
    else:
        f = _gelu_exact
    return _unary("gelu", input_tensor, f, memory_config=memory_config, output_tensor=output_tensor,
                  key=table_key("gelu", f.__name__))


# Real gelu has two overloads (variant= / fast_and_approximate_mode=); the registered signature is the first.
gelu.__signature__ = inspect.signature(gelu).replace(
    parameters=[p for p in inspect.signature(gelu).parameters.values() if p.name != "fast_and_approximate_mode"])
gelu = ttnn_op("gelu", golden=_golden_gelu)(gelu)


SUPPORTED_DTYPES["sigmoid"] = (BF16,)


@ttnn_op("sigmoid", golden=_torch_golden(torch.sigmoid))
def sigmoid(input_tensor, *, vector_mode=4, mode=SigmoidMode.Accurate, memory_config=None, output_tensor=None,
            sub_core_grids=None):
    """ttnn.sigmoid: 1 / (1 + exp(-x)). mode: Accurate (exact), AccurateWithFastExp (approximate exp),
    FastApproximate (piecewise-linear table). vector_mode 4 (RC) processes whole tiles."""
    require_tensor("sigmoid", "input_tensor", input_tensor)
    if vector_mode == 2:
        raise NotImplementedError("ttnn.sigmoid: vector_mode=2 (VectorMode::C, first column only) is not modelled "
                                  "by the simulator; use the default vector_mode=4")
    if vector_mode != 4:
        fail("sigmoid", f"vector_mode must be 2 (C) or 4 (RC), got {vector_mode!r}")
    mode = SigmoidMode(int(mode))
    if mode == SigmoidMode.FastApproximate and _approx(input_tensor, True):
        f = lambda x: 0.5 + 0.5 * _tanh_fast(0.5 * x)  # noqa: E731
        key = table_key("sigmoid", "fast_tanh")
    else:
        fast_exp = mode == SigmoidMode.AccurateWithFastExp and _approx(input_tensor, True)
        f = lambda x: _sigmoid(x, fast_exp)  # noqa: E731
        key = table_key("sigmoid", "exp", fast_exp)
    return _unary("sigmoid", input_tensor, f, memory_config=memory_config, output_tensor=output_tensor, key=key)


SUPPORTED_DTYPES["sigmoid_accurate"] = _F


@ttnn_op("sigmoid_accurate", golden=_torch_golden(torch.sigmoid))
def sigmoid_accurate(input_tensor, fast_and_approximate_mode=False, *, memory_config=None, output_tensor=None,
                     sub_core_grids=None):
    """ttnn.sigmoid_accurate (deprecated alias of sigmoid): 1 / (1 + exp(-x)); fast_and_approximate_mode
    selects the approximate exp."""
    require_tensor("sigmoid_accurate", "input_tensor", input_tensor)
    fast_exp = _approx(input_tensor, fast_and_approximate_mode)
    return _unary("sigmoid_accurate", input_tensor, lambda x: _sigmoid(x, fast_exp), memory_config=memory_config,
                  output_tensor=output_tensor, key=table_key("sigmoid_accurate", fast_exp))


SUPPORTED_DTYPES["tanh"] = _F


def _golden_tanh(input_tensor, *args, **kwargs):
    return torch.tanh(input_tensor)


@ttnn_op("tanh", golden=_golden_tanh)
def tanh(input_tensor, *, memory_config=None, output_tensor=None, fast_and_approximate_mode=False,
         sub_core_grids=None):
    """ttnn.tanh; fast_and_approximate_mode uses a piecewise-linear table (abs error < 0.015).
    BFLOAT8_B input is documented as supported only with fast_and_approximate_mode=True."""
    require_tensor("tanh", "input_tensor", input_tensor)
    if input_tensor._dtype == BFP8 and not fast_and_approximate_mode:
        fail("tanh", "input_tensor is BFLOAT8_B, which is supported only with fast_and_approximate_mode=True")
    approx = _approx(input_tensor, fast_and_approximate_mode)
    return _unary("tanh", input_tensor, _tanh_fast if approx else torch.tanh, memory_config=memory_config,
                  output_tensor=output_tensor, key=table_key("tanh", approx))


SUPPORTED_DTYPES["round"] = _F


def _golden_round(input_tensor, decimals=None, *args, **kwargs):
    return torch.round(input_tensor) if decimals is None else torch.round(input_tensor, decimals=decimals)


@ttnn_op("round", golden=_golden_round)
def round(input_tensor, *, decimals=0, memory_config=None, output_tensor=None, sub_core_grids=None):  # noqa: A001
    """ttnn.round: round to `decimals` decimal places (half to even), decimals in [-6, 7]."""
    if not isinstance(decimals, int) or not -6 <= decimals <= 7:
        fail("round", f"decimals must be an integer in [-6, 7], got {decimals!r}")
    return _unary("round", input_tensor, lambda x: torch.round(x, decimals=decimals), memory_config=memory_config,
                  output_tensor=output_tensor, key=table_key("round", decimals))


# --- clamp / clip -----------------------------------------------------------------------------------

SUPPORTED_DTYPES["clamp"] = _F + (INT32,)
SUPPORTED_DTYPES["clip"] = (BF16,)
_INT_CLAMP_DEFAULT = 16775716      # the bound real clamp uses for a missing int32 limit
_FLT_MAX = float(torch.finfo(torch.float32).max)


def _golden_clamp(input_tensor, min=None, max=None, *args, **kwargs):  # noqa: A002
    return torch.clamp(input_tensor, min, max)


def _clamp(op: str, input_tensor, lo, hi, memory_config, output_tensor):
    device = on_device(op, input_tensor=input_tensor, output_tensor=output_tensor,
                       **{k: v for k, v in (("min", lo), ("max", hi)) if isinstance(v, Tensor)})
    require_dtype(op, "input_tensor", input_tensor, SUPPORTED_DTYPES[op])
    if lo is None and hi is None:
        fail(op, "only one of 'min' or 'max' can be None; give at least one")
    tensors = isinstance(lo, Tensor) or isinstance(hi, Tensor)
    pad = input_tensor._pad if input_tensor._layout == Layout.TILE else None
    if tensors:
        if input_tensor._dtype in INT_DTYPES:
            fail(op, "INT32 input is supported only with scalar min/max")
        bounds = []
        for name, b in (("min", lo), ("max", hi)):
            if isinstance(b, Tensor):
                require_dtype(op, name, b, FLOAT_DTYPES)
                bounds.append(b._value.to(torch.float64))
            else:
                bounds.append(None if b is None else torch.tensor(float(b), dtype=torch.float64))
        x = input_tensor._value.to(torch.float64)
        try:
            shape = torch.broadcast_shapes(x.shape, *[b.shape for b in bounds if b is not None])
        except RuntimeError:
            fail(op, f"min/max shapes do not broadcast with input_tensor shape {list(x.shape)}")
        value = torch.clamp(x.expand(shape), bounds[0], bounds[1]).to(torch.float32)
        pad = None if any(isinstance(b, Tensor) for b in (lo, hi)) else pad
        return _emit(op, device, input_tensor, value, pad, memory_config=memory_config, output_tensor=output_tensor,
                     rounding="packer")
    if input_tensor._dtype == INT32:
        scalars = [b for b in (lo, hi) if b is not None]
        if all(isinstance(b, int) for b in scalars):
            a = -_INT_CLAMP_DEFAULT if lo is None else int(lo)
            b = _INT_CLAMP_DEFAULT if hi is None else int(hi)
            value = torch.clamp(input_tensor._value, a, b)
            if pad is not None:
                pad = float(builtins.min(builtins.max(int(pad), a), b))
            return _emit(op, device, input_tensor, value, pad, memory_config=memory_config,
                         output_tensor=output_tensor)
        # float limits: the input is first converted to FLOAT32, and so is the result
        x32 = round_to(input_tensor._value.to(torch.float32), FP32, device)
        a = -_FLT_MAX if lo is None else float(lo)
        b = _FLT_MAX if hi is None else float(hi)
        value = _eval_float(lambda x: torch.clamp(x, a, b), x32, device.ideal)
        if pad is not None:
            pad = float(_eval_float(lambda x: torch.clamp(x, a, b), torch.tensor([pad]), device.ideal)[0])
        return _emit(op, device, input_tensor, value, pad, memory_config=memory_config, output_tensor=output_tensor,
                     dtype=FP32)
    a = -_FLT_MAX if lo is None else float(lo)
    b = _FLT_MAX if hi is None else float(hi)
    return _unary(op, input_tensor, lambda x: torch.clamp(x, a, b), memory_config=memory_config,
                  output_tensor=output_tensor, key=table_key(op, a, b))



@ttnn_op("clamp", golden=_golden_clamp)
def clamp(input_tensor, min=None, max=None, *, memory_config=None, output_tensor=None):  # noqa: A002
    """ttnn.clamp: min(max(x, min), max); min/max are numbers or tensors (at least one given). INT32 input with
    int limits stays INT32; with float limits it is computed (and returned) as FLOAT32."""
    return _clamp("clamp", input_tensor, min, max, memory_config, output_tensor)


@ttnn_op("clip", golden=_golden_clamp)
def clip(input_tensor, min=None, max=None, *, memory_config=None):  # noqa: A002
    """ttnn.clip: same as clamp (BFLOAT16 only per its documentation)."""
    return _clamp("clip", input_tensor, min, max, memory_config, None)


# --- parameterised activations ------------------------------------------------------------------------

SUPPORTED_DTYPES["hardtanh"] = _F


def _golden_hardtanh(input_tensor, *args, min_val=-1.0, max_val=1.0, **kwargs):
    return torch.nn.functional.hardtanh(input_tensor, min_val, max_val)


@ttnn_op("hardtanh", golden=_golden_hardtanh)
def hardtanh(input_tensor, *, min_val=-1.0, max_val=1.0, memory_config=None, output_tensor=None,
             sub_core_grids=None):
    """ttnn.hardtanh: clamp(x, min_val, max_val)."""
    lo, hi = float(min_val), float(max_val)
    return _unary("hardtanh", input_tensor, lambda x: torch.clamp(x, lo, hi), memory_config=memory_config,
                  output_tensor=output_tensor, key=table_key("hardtanh", lo, hi))


SUPPORTED_DTYPES["hardshrink"] = _F
SUPPORTED_DTYPES["softshrink"] = _F


def _golden_hardshrink(input_tensor, *args, lambd=0.5, **kwargs):
    return torch.nn.functional.hardshrink(input_tensor, lambd=lambd)


def _golden_softshrink(input_tensor, *args, lambd=0.5, **kwargs):
    return torch.nn.functional.softshrink(input_tensor, lambd=lambd)


@ttnn_op("hardshrink", golden=_golden_hardshrink)
def hardshrink(input_tensor, *, lambd=0.5, memory_config=None, output_tensor=None, sub_core_grids=None):
    """ttnn.hardshrink: x where |x| > lambd, else 0."""
    lam = float(lambd)
    return _unary("hardshrink", input_tensor, lambda x: torch.where(x.abs() > lam, x, torch.zeros_like(x)),
                  memory_config=memory_config, output_tensor=output_tensor, key=table_key("hardshrink", lam))


@ttnn_op("softshrink", golden=_golden_softshrink)
def softshrink(input_tensor, *, lambd=0.5, memory_config=None, output_tensor=None, sub_core_grids=None):
    """ttnn.softshrink: x - lambd above lambd, x + lambd below -lambd, else 0."""
    lam = float(lambd)

    def f(x):
        return torch.where(x > lam, x - lam, torch.where(x < -lam, x + lam, torch.zeros_like(x)))
    return _unary("softshrink", input_tensor, f, memory_config=memory_config, output_tensor=output_tensor,
                  key=table_key("softshrink", lam))


SUPPORTED_DTYPES["leaky_relu"] = _F + (UINT32, UINT16, UINT8)


def _golden_leaky_relu(input_tensor, negative_slope=0.01, *args, **kwargs):
    return torch.nn.functional.leaky_relu(input_tensor, negative_slope=negative_slope)


@ttnn_op("leaky_relu", golden=_golden_leaky_relu)
def leaky_relu(input_tensor, negative_slope, *, memory_config=None, output_tensor=None, sub_core_grids=None):
    """ttnn.leaky_relu: x for x >= 0, negative_slope * x below (unsigned inputs pass unchanged)."""
    s = float(negative_slope)
    return _unary("leaky_relu", input_tensor, lambda x: torch.where(x >= 0, x, s * x), memory_config=memory_config,
                  output_tensor=output_tensor, int_f=lambda v: v, key=table_key("leaky_relu", s))


SUPPORTED_DTYPES["elu"] = _BF16_BFP8
SUPPORTED_DTYPES["celu"] = _F
SUPPORTED_DTYPES["selu"] = _F


def _golden_elu(input_tensor, *args, alpha=1.0, **kwargs):
    return torch.nn.functional.elu(input_tensor, alpha=alpha)


def _golden_celu(input_tensor, *args, alpha=1.0, **kwargs):
    return torch.celu(input_tensor, alpha=alpha)


def _golden_selu(input_tensor, *args, scale=1.0507009873554805, alpha=1.6732632423543772, **kwargs):
    return torch.where(input_tensor >= 0, scale * input_tensor, scale * alpha * (torch.exp(input_tensor) - 1))


@ttnn_op("elu", golden=_golden_elu)
def elu(input_tensor, *, alpha=1.0, memory_config=None, output_tensor=None, sub_core_grids=None):
    """ttnn.elu: x for x > 0, alpha * (exp(x) - 1) below."""
    a = float(alpha)
    return _unary("elu", input_tensor, lambda x: torch.where(x > 0, x, a * torch.expm1(x)),
                  memory_config=memory_config, output_tensor=output_tensor, key=table_key("elu", a))


@ttnn_op("celu", golden=_golden_celu)
def celu(input_tensor, *, alpha=1.0, memory_config=None, output_tensor=None, sub_core_grids=None):
    """ttnn.celu: max(0, x) + min(0, alpha * (exp(x / alpha) - 1))."""
    a = float(alpha)
    if a == 0:
        fail("celu", "alpha must be non-zero")
    return _unary("celu", input_tensor,
                  lambda x: x.clamp_min(0.0) + (a * torch.expm1(x / a)).clamp_max(0.0),
                  memory_config=memory_config, output_tensor=output_tensor, key=table_key("celu", a))


@ttnn_op("selu", golden=_golden_selu)
def selu(input_tensor, *, scale=1.0506999492645264, alpha=1.673259973526001, memory_config=None,
         output_tensor=None, sub_core_grids=None):
    """ttnn.selu: scale * (max(0, x) + min(0, alpha * (exp(x) - 1)))."""
    s, a = float(scale), float(alpha)
    return _unary("selu", input_tensor, lambda x: s * (x.clamp_min(0.0) + (a * torch.expm1(x)).clamp_max(0.0)),
                  memory_config=memory_config, output_tensor=output_tensor, key=table_key("selu", s, a))


SUPPORTED_DTYPES["softplus"] = _F


def _golden_softplus(input_tensor, *args, beta=1.0, threshold=20.0, **kwargs):
    return torch.nn.functional.softplus(input_tensor, beta=beta, threshold=threshold)


@ttnn_op("softplus", golden=_golden_softplus)
def softplus(input_tensor, *, beta=1.0, threshold=20.0, memory_config=None, output_tensor=None,
             sub_core_grids=None):
    """ttnn.softplus: log(1 + exp(beta * x)) / beta, and x where beta * x > threshold."""
    b, t = float(beta), float(threshold)
    if b == 0:
        fail("softplus", "beta must be non-zero")
    return _unary("softplus", input_tensor, lambda x: _softplus(x, b, t), memory_config=memory_config,
                  output_tensor=output_tensor, key=table_key("softplus", b, t))


SUPPORTED_DTYPES["threshold"] = _F


def _golden_threshold(input_tensor, threshold, value, *args, **kwargs):
    return torch.threshold(input_tensor, threshold, value)


@ttnn_op("threshold", golden=_golden_threshold)
def threshold(input_tensor, threshold, value, *, memory_config=None, output_tensor=None, sub_core_grids=None):
    """ttnn.threshold: x where x > threshold, else value."""
    th, v = float(threshold), float(value)
    return _unary("threshold", input_tensor, lambda x: torch.where(x > th, x, torch.full_like(x, v)),
                  memory_config=memory_config, output_tensor=output_tensor, key=table_key("threshold", th, v))


SUPPORTED_DTYPES["logit"] = _F


def _golden_logit(input_tensor, *args, eps=None, **kwargs):
    if eps is not None and eps > 0.5:
        x = torch.clamp(input_tensor, 1.0 - eps, eps)
        return torch.log(x / (1.0 - x))
    return torch.special.logit(input_tensor, eps=eps)


@ttnn_op("logit", golden=_golden_logit)
def logit(input_tensor, *, eps=None, memory_config=None, output_tensor=None, sub_core_grids=None):
    """ttnn.logit: log(z / (1 - z)), z = x clamped to [eps, 1 - eps] when eps is given."""
    e = None if eps is None else float(eps)

    def f(x):
        if e is not None:
            lo, hi = (e, 1.0 - e) if e <= 0.5 else (1.0 - e, e)
            x = torch.clamp(x, lo, hi)
        return torch.log(x / (1.0 - x))
    return _unary("logit", input_tensor, f, memory_config=memory_config, output_tensor=output_tensor,
                  key=table_key("logit", e))


# --- fill, tril / triu, polyval ------------------------------------------------------------------------

SUPPORTED_DTYPES["fill"] = _F + (INT32, UINT32, UINT16)


def _golden_fill(input_tensor, fill_value, *args, **kwargs):
    return torch.full_like(input_tensor, fill_value)


@ttnn_op("fill", golden=_golden_fill)
def fill(input_tensor, fill_value, *, memory_config=None, output_tensor=None, sub_core_grids=None):
    """ttnn.fill: a tensor like input_tensor (shape, dtype, layout) filled with fill_value, padding included."""
    fv = fill_value
    return _unary("fill", input_tensor, lambda x: torch.full_like(x, float(fv)), memory_config=memory_config,
                  output_tensor=output_tensor, int_f=lambda v: torch.full_like(v, int(fv)))


for _n in ("tril", "triu"):
    SUPPORTED_DTYPES[_n] = _F
del _n


def _triangle(op: str, input_tensor, diagonal, memory_config):
    device = on_device(op, input_tensor=input_tensor)
    require_layout(op, "input_tensor", input_tensor, Layout.TILE)
    require_dtype(op, "input_tensor", input_tensor, SUPPORTED_DTYPES[op])
    require_rank(op, "input_tensor", input_tensor, 2)
    if not isinstance(diagonal, int):
        fail(op, f"diagonal must be an int, got {diagonal!r}")
    fn = torch.tril if op == "tril" else torch.triu
    value = fn(input_tensor._value, diagonal)
    # the kernel multiplies by a 0/1 mask built over the padded shape: zero padding stays zero
    pad = 0.0 if input_tensor._pad == 0.0 else None
    return _emit(op, device, input_tensor, value, pad, memory_config=memory_config, output_tensor=None,
                 rounding="packer")


def _golden_tril(input_tensor, diagonal=0, *args, **kwargs):
    return torch.tril(input_tensor, diagonal=diagonal)


def _golden_triu(input_tensor, diagonal=0, *args, **kwargs):
    return torch.triu(input_tensor, diagonal=diagonal)


@ttnn_op("tril", golden=_golden_tril)
def tril(input_tensor, *, diagonal=0, memory_config=None):
    """ttnn.tril: keep elements on and below `diagonal` of the last two dims, zero the rest (TILE only)."""
    return _triangle("tril", input_tensor, diagonal, memory_config)


@ttnn_op("triu", golden=_golden_triu)
def triu(input_tensor, *, diagonal=0, memory_config=None):
    """ttnn.triu: keep elements on and above `diagonal` of the last two dims, zero the rest (TILE only)."""
    return _triangle("triu", input_tensor, diagonal, memory_config)


SUPPORTED_DTYPES["polyval"] = _F


def _golden_polyval(input_tensor_a, coeffs, *args, **kwargs):
    result = 0.0
    for c in coeffs:
        result = result * input_tensor_a + c
    return result


@ttnn_op("polyval", golden=_golden_polyval)
def polyval(input_tensor_a, coeffs, *, memory_config=None):
    """ttnn.polyval: sum_i coeffs[i] * x^(n-1-i) (highest power first), evaluated by Horner's rule as a chain
    of element-wise multiply / add ops, each rounded by the packer to the working dtype."""
    device = on_device("polyval", input_tensor_a=input_tensor_a)
    require_dtype("polyval", "input_tensor_a", input_tensor_a, SUPPORTED_DTYPES["polyval"])
    coeffs = [float(c) for c in coeffs]
    if not coeffs:
        fail("polyval", "coeffs must hold at least one coefficient")
    work = FP32 if input_tensor_a._dtype == FP32 else BF16

    def step(v: torch.Tensor) -> torch.Tensor:  # each intermediate op's output (exact in ideal mode)
        return v if device.ideal else round_to(v, work, device)

    def horner(x: torch.Tensor) -> torch.Tensor:
        acc = step(torch.full_like(x, coeffs[0]))
        for c in coeffs[1:]:
            acc = step(step(acc * x) + c)
        return acc

    x = input_tensor_a._value.to(torch.float32)
    value = horner(x)
    pad = input_tensor_a._pad if input_tensor_a._layout == Layout.TILE else None
    if pad is not None:
        pad = float(horner(torch.tensor([pad], dtype=torch.float32))[0])
    return _emit("polyval", device, input_tensor_a, value, pad, memory_config=memory_config, output_tensor=None,
                 rounding="packer")
