"""The SFPU model behind every element-wise unary op: how a function's value is computed and stored.

Numerics (FACTS.md, "Compute numerics"):
- The SFPU computes in fp32 on the stored input values (bf16 / fp32, block floats unpacked losslessly), with
  denormal inputs flushed to (signed) zero. The simulator evaluates each function in float64 and rounds once to
  fp32, i.e. it models an SFPU whose function approximations are fp32-accurate.
- bf16 / bfp outputs (fp32_dest_acc_en is off for these inputs): the fp32 result is TRUNCATED into the 16-bit
  Dst; the packer then turns NaN into +Inf (and forms bfp8 from that bf16). fp32 outputs keep fp32 with
  denormals flushed. Integer inputs give exact integer results wrapped to the dtype.
- `fast_and_approximate_mode` and the approximate variants add modelled error: exp is a Schraudolph-style
  2^i * (1 + f) estimate (about +-3%, ~6 bf16 ULP), tanh / sigmoid / GELU FastLut are piecewise-linear tables
  (max abs error ~0.015), log is a cubic in the mantissa (abs error ~1e-3), rsqrt / sqrt a magic-constant
  estimate plus one Newton step (~0.2%), erf the 4-term Abramowitz-Stegun 7.1.27 form (abs error 5e-4).
- In the device's ideal numerics mode the exact function is used and rounded to nearest even.
- Speed (same values): a bf16 / block-float input holds one of 65536 bit patterns, so on the hardware path the
  result of an op with bf16 / block-float output is looked up in a table of the float64 evaluation above over
  all patterns, built once per op and parameter set ("bf16 inputs: the SFPU result as a lookup table" below).

Padding: a TILE output's padding scalar is the op applied to the input's padding scalar (exp of 0 is 1).
Dtypes: each op accepts the dtypes of its documentation table (see SUPPORTED_DTYPES), others are refused.

The ops themselves (their parameters, refusals and goldens) are in unary.py.
"""
from __future__ import annotations

import functools
import math
import struct
from collections import OrderedDict
from typing import Callable, Optional

import torch

from .. import _native, formats, trace
from ..tensor import Tensor
from ..types import BLOCK_FLOAT_DTYPES, INT_DTYPES, DataType, Layout
from ._common import (fail, make_output, on_device, out_memory_config, require_dtype, round_to,
                      same_shape_memory_config, stored)

BF16, FP32, BFP8 = DataType.BFLOAT16, DataType.FLOAT32, DataType.BFLOAT8_B
INT32, UINT32, UINT16, UINT8 = DataType.INT32, DataType.UINT32, DataType.UINT16, DataType.UINT8

_F = (BF16, BFP8, FP32)                       # the usual table: BFLOAT16, BFLOAT8_B, FLOAT32
_ALL = _F + (INT32, UINT16, UINT32, UINT8)    # relu family
_BF16_BFP8 = (BF16, BFP8)

# Supported input dtypes by op, from the documentation tables of ttnn 0.81.1 (supported_dtypes_from_doc).
# Ops whose docs give no table (abs, hardtanh, selu, threshold) get the float dtypes; abs also INT32, which
# its integer kernel (abs_tile_int32) handles.
SUPPORTED_DTYPES: dict[str, tuple] = {}

_TINY = 2.0 ** -126
_SIGN_BIT = -0x80000000        # 0x80000000 as int32
_LN2 = math.log(2.0)


# ------------------------------------------------------------------------------------------------
# Approximations used by fast_and_approximate_mode / approximate variants
# ------------------------------------------------------------------------------------------------

# exp: 2^y = 2^i * 2^f ~ 2^i * (1 + f) * K; K balances the relative error of 1 + f against 2^f (+-2.98%).
_EXP_K = 2.0 / (1.0 + (1.0 / _LN2) / 2.0 ** (1.0 / _LN2 - 1.0))
# log: ln(m), m in [1, 2), as a least-squares cubic in (m - 1) through ln(1) = 0 (abs error < 1e-3).
_LOG_C = (0.9866848343274781, -0.40738600835441857, 0.11475664941503529)
# piecewise-linear tables on |x| (value beyond the last knot: 1)
_PWL_KNOTS = torch.tensor([0.0, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0], dtype=torch.float64)
_TANH_TABLE = torch.tanh(_PWL_KNOTS)
_GELU_KNOTS = torch.tensor([0.0, 0.5, 1.0, 1.5, 2.0, 3.0], dtype=torch.float64)
_PHI_TABLE = torch.erf(_GELU_KNOTS / math.sqrt(2.0))   # 6 segments incl. the constant one beyond 3


def _pwl(t: torch.Tensor, knots: torch.Tensor, table: torch.Tensor) -> torch.Tensor:
    """Piecewise-linear interpolation of `table` at `knots` for t >= 0; 1 beyond the last knot."""
    idx = torch.bucketize(t, knots, right=True).clamp(1, len(knots) - 1)
    k0, k1, v0, v1 = knots[idx - 1], knots[idx], table[idx - 1], table[idx]
    out = v0 + (v1 - v0) * (t - k0) / (k1 - k0)
    out = torch.where(t >= knots[-1], torch.ones_like(t), out)
    return torch.where(torch.isnan(t), t, out)


def _exp_fast(x: torch.Tensor) -> torch.Tensor:
    y = x / _LN2
    i = torch.floor(y)
    f = y - i
    r = torch.ldexp((1.0 + f) * _EXP_K, i.clamp(-2000, 2000))
    r = torch.where(x == float("inf"), x, r)
    r = torch.where(x == float("-inf"), torch.zeros_like(x), r)
    return torch.where(torch.isnan(x), x, r)


def _log_fast(x: torch.Tensor) -> torch.Tensor:
    mant, e = torch.frexp(x)           # x = mant * 2^e, mant in [0.5, 1)
    u = 2.0 * mant - 1.0               # m - 1 with m in [1, 2)
    r = (e.to(x.dtype) - 1.0) * _LN2 + u * (_LOG_C[0] + u * (_LOG_C[1] + u * _LOG_C[2]))
    r = torch.where(x == 0, torch.full_like(x, float("-inf")), r)
    r = torch.where(x == float("inf"), x, r)
    return torch.where((x < 0) | torch.isnan(x), torch.full_like(x, float("nan")), r)


def _rsqrt_fast(x: torch.Tensor) -> torch.Tensor:
    x32 = x.to(torch.float32).abs()
    bits = x32.contiguous().view(torch.int32)
    y = (0x5F3759DF - (bits >> 1)).view(torch.float32).to(torch.float64)
    y = y * (1.5 - 0.5 * x32.to(torch.float64) * y * y)
    y = torch.where(x == 0, torch.full_like(x, float("inf")), y)
    y = torch.where(x == float("inf"), torch.zeros_like(x), y)
    return torch.where((x < 0) | torch.isnan(x), torch.full_like(x, float("nan")), y)


def _sqrt_fast(x: torch.Tensor) -> torch.Tensor:
    r = x * _rsqrt_fast(x)
    r = torch.where(x == 0, x, r)
    return torch.where(x == float("inf"), x, r)


def _tanh_fast(x: torch.Tensor) -> torch.Tensor:
    return torch.sign(x) * _pwl(x.abs(), _PWL_KNOTS, _TANH_TABLE)


def _erf_fast(x: torch.Tensor) -> torch.Tensor:
    a = x.abs()
    p = 1.0 + a * (0.278393 + a * (0.230389 + a * (0.000972 + a * 0.078108)))
    return torch.sign(x) * (1.0 - p.pow(-4))


def _gelu_fastlut(x: torch.Tensor) -> torch.Tensor:
    return 0.5 * x + 0.5 * x.abs() * _pwl(x.abs(), _GELU_KNOTS, _PHI_TABLE)


# ------------------------------------------------------------------------------------------------
# Exact functions (float64)
# ------------------------------------------------------------------------------------------------

def _exp(x, approx=False):
    return _exp_fast(x) if approx else torch.exp(x)


def _log(x, approx=False):
    return _log_fast(x) if approx else torch.log(x)


def _sigmoid(x, approx_exp=False):
    return 1.0 / (1.0 + _exp(-x, approx_exp))


def _softplus(x, beta=1.0, threshold=20.0, approx=False):
    bx = beta * x
    soft = torch.log1p(_exp(bx, approx)) / beta
    return torch.where(bx > threshold, x, soft)


def _gelu_exact(x):
    return 0.5 * x * (1.0 + torch.erf(x / math.sqrt(2.0)))


def _gelu_tanh(x):
    return 0.5 * x * (1.0 + torch.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * x * x * x)))


def _cbrt(x):
    return torch.sign(x) * x.abs().pow(1.0 / 3.0)


def _mish(x, approx=False):
    if approx:
        return x * _tanh_fast(torch.log1p(_exp_fast(x)))
    return x * torch.tanh(torch.nn.functional.softplus(x))


# ------------------------------------------------------------------------------------------------
# The shared body of every unary op
# ------------------------------------------------------------------------------------------------

def _daz(x: torch.Tensor) -> torch.Tensor:
    """Denormal inputs read as zero (sign kept)."""
    return torch.where(x.abs() < _TINY, x * 0.0, x)


def _daz_widen(v: torch.Tensor) -> torch.Tensor:
    """float32 values -> float64 with denormals read as zero (sign kept): `_daz` done on the float32 bit
    patterns (zero the exponent and mantissa, keep the sign), which avoids a masked select on float64."""
    b = v.contiguous().view(torch.int32)
    keep = formats.nonzero_exponent_mask(b)
    keep |= _SIGN_BIT
    keep &= b
    return keep.view(torch.float32).to(torch.float64)


def _eval_float(f: Callable, v: torch.Tensor, ideal: bool) -> torch.Tensor:
    if ideal:
        x = v.to(torch.float64)
    elif v.dtype == torch.float32:
        x = _daz_widen(v)
    else:
        x = _daz(v.to(torch.float64))
    y = f(x)
    if y.dtype == torch.bool:
        y = y.to(torch.float64)
    return y.to(torch.float32)


def _sfpu_bf16(value: torch.Tensor) -> torch.Tensor:
    """An fp32 SFPU result as the packer reads it from a 16-bit Dst: truncated to bf16, NaN -> +Inf."""
    value = formats.truncate_bf16(value)
    if formats.has_nan(value):
        value = torch.where(torch.isnan(value), torch.full_like(value, float("inf")), value)
    return value


def _store(value: torch.Tensor, dtype: DataType, ideal: bool, rounding: str, pad: Optional[float],
           in_dst: bool = False) -> torch.Tensor:
    """Round computed values to what the output dtype stores (SFPU: truncation into 16-bit Dst, then the
    packer: NaN -> +Inf, bfp formed from that bf16). `in_dst`: `value` is already `_sfpu_bf16` of the result.
    ideal: the device's ideal numerics (every output rounded to nearest even)."""
    dtype = DataType(dtype)
    if ideal:
        rounding = "host"
    if dtype in INT_DTYPES or value.dtype == torch.int64:
        return round_to(value, dtype, None, rounding=rounding)
    if rounding == "sfpu" and dtype in _TABLE_FORMATS:
        if not in_dst:
            value = _sfpu_bf16(value)
        if dtype == BF16:
            return value                # round_to would truncate again: nothing left to change
    return round_to(value, dtype, None, rounding=rounding, pad=pad)


def _store_pad(pad, dtype: DataType, ideal: bool, rounding: str):
    if pad is None:
        return None
    if type(pad) is float:              # the usual case: remembered (ops see the same few padding values)
        return _stored_pad(struct.pack("<d", pad), DataType(dtype), ideal, rounding)
    return _stored_pad_value(pad, DataType(dtype), ideal, rounding)


@functools.lru_cache(maxsize=4096)
def _stored_pad(bits: bytes, dtype: DataType, ideal: bool, rounding: str) -> float:
    return _stored_pad_value(struct.unpack("<d", bits)[0], dtype, ideal, rounding)


def _stored_pad_value(pad, dtype: DataType, ideal: bool, rounding: str) -> float:
    if dtype in INT_DTYPES:
        return float(formats.wrap_int(torch.tensor([pad]), dtype)[0])
    pad_dtype = BF16 if dtype in BLOCK_FLOAT_DTYPES else dtype
    return float(_store(torch.tensor([float(pad)], dtype=torch.float32), pad_dtype, ideal, rounding, None)[0])


def _emit(op: str, device, like: Tensor, value: torch.Tensor, pad, *, memory_config, output_tensor,
          dtype: Optional[DataType] = None, rounding: str = "sfpu", in_dst: bool = False) -> Tensor:
    """Store `value` (and its padding scalar) as the op's output, or into `output_tensor`."""
    layout = like._layout
    if layout != Layout.TILE:
        pad = None
    if output_tensor is not None:
        if tuple(output_tensor.shape) != tuple(value.shape):
            fail(op, f"output_tensor has shape {list(output_tensor.shape)}, the result has {list(value.shape)}")
        if output_tensor._layout != layout:
            fail(op, f"output_tensor must be in {layout.name} layout like the input, got "
                     f"{output_tensor._layout.name}")
        dtype = output_tensor._dtype
    elif dtype is None:
        dtype = like._dtype
    dtype = DataType(dtype)
    if dtype in BLOCK_FLOAT_DTYPES and layout != Layout.TILE:
        fail(op, "Layout must be Layout::TILE for bfloat8_b or bfloat4_b")
    pad = _store_pad(pad, dtype, device.ideal, rounding)
    stored = _store(value, dtype, device.ideal, rounding, pad, in_dst)
    if output_tensor is None:
        mc = same_shape_memory_config(memory_config, like) if tuple(value.shape) == tuple(like.shape) \
            else out_memory_config(memory_config, like)
        return make_output(op, device, stored, dtype, layout, mc,
                           rounding=rounding, pad=pad, rounded=True)
    output_tensor._value = stored
    output_tensor._pad = pad
    return output_tensor


# ------------------------------------------------------------------------------------------------
# bf16 inputs: the SFPU result as a lookup table
#
# A bf16 (or block-float) input holds one of 65536 bit patterns, and the bf16 result of a unary op on the
# SFPU depends on that pattern alone. For an op run on large tensors, the simulator evaluates the float64 path
# above once on every pattern and then looks each element up: the same values at a fraction of the cost.
# A table is keyed by the op and every parameter of its function (`table_key`); ops whose function depends on
# anything else (tensor operands, positions) have no key.
# ------------------------------------------------------------------------------------------------

_TABLE_FORMATS = (BF16,) + tuple(sorted(BLOCK_FLOAT_DTYPES))   # formats whose values are bf16 patterns
_TABLE_MIN_NUMEL = 4096        # an op with float parameters builds its table for inputs this large only
_MAX_TABLES = 128              # 256 KiB each
_TABLES: "OrderedDict[tuple, torch.Tensor]" = OrderedDict()    # least recently used first


def table_key(op: str, *params) -> Optional[tuple]:
    """The table key of `op` with these parameters of its element function (a float as ("float", its exact
    hex form)), or None when a parameter is NaN (never equal to itself) or not a plain number / string."""
    key = [op]
    for p in params:
        if isinstance(p, float):
            if math.isnan(p):
                return None
            p = ("float", p.hex())
        elif not isinstance(p, (bool, int, str, type(None))):
            return None
        key.append(p)
    return tuple(key)


def _worth_a_table(key: tuple, numel: int) -> bool:
    """Build a table for a large input, or for any input of an op without float parameters (a bounded set of
    tables); an op called with ever new float parameters on small inputs is evaluated directly."""
    return numel >= _TABLE_MIN_NUMEL or not any(isinstance(p, tuple) for p in key)


def _all_bf16_values() -> torch.Tensor:
    """Every bf16 bit pattern as a stored (float32) value; index i holds the pattern i."""
    return (torch.arange(65536, dtype=torch.int32) << 16).view(torch.float32)


def _sfpu_table(key: tuple, f: Callable, build: bool) -> Optional[torch.Tensor]:
    table = _TABLES.get(key)
    if table is not None:
        _TABLES.move_to_end(key)
    elif build:
        table = _sfpu_bf16(_eval_float(f, _all_bf16_values(), ideal=False))
        _TABLES[key] = table
        if len(_TABLES) > _MAX_TABLES:
            _TABLES.popitem(last=False)
    return table


def _lookup(table: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    """table[bf16 pattern of each element of v] (v holds bf16 values stored as float32)."""
    out = _native.table_lookup(table, v)
    if out is not None:
        return out
    idx = v.contiguous().view(torch.int32) >> 16
    idx &= 0xFFFF
    return table.index_select(0, idx.reshape(-1)).reshape(v.shape)


def _unary(op: str, input_tensor, f: Callable, *, memory_config=None, output_tensor=None,
           int_f: Optional[Callable] = None, arg: str = "input_tensor", key: Optional[tuple] = None) -> Tensor:
    """Check the operand, apply `f` (float64 -> float64/bool) or `int_f` (int64 -> int64/bool), store.
    `key`: the table key of `f` (see `table_key`), when f is a pure element function."""
    device = on_device(op, **{arg: input_tensor, "output_tensor": output_tensor})
    require_dtype(op, arg, input_tensor, SUPPORTED_DTYPES[op])
    if input_tensor._dtype in INT_DTYPES and int_f is None:    # a table inconsistency, not a user error
        raise AssertionError(f"ttnn.{op} lists {input_tensor._dtype.name} but has no integer function")
    out_dtype = output_tensor._dtype if output_tensor is not None else input_tensor._dtype
    ideal = device.ideal

    def compute(t):
        """(values, padding scalar, whether the values are already stored as a 16-bit Dst holds them)."""
        pad = t._pad if t._layout == Layout.TILE else None
        if t._dtype in INT_DTYPES:
            value = int_f(t._value).to(torch.int64)
            if pad is not None:
                pad = float(int_f(torch.tensor([int(pad)], dtype=torch.int64)).to(torch.int64)[0])
            return value, pad, False
        table = None
        if key is not None and not ideal and t._dtype in _TABLE_FORMATS and out_dtype in _TABLE_FORMATS:
            table = _sfpu_table(key, f, build=_worth_a_table(key, t._value.numel()))
        if pad is not None:
            pad = _pad_value(f, pad, ideal, key)
        if table is not None:
            return _lookup(table, t._value), pad, True
        return _eval_float(f, t._value, ideal), pad, False

    value, pad, in_dst = compute(input_tensor)
    out = _emit(op, device, input_tensor, value, pad, memory_config=memory_config, output_tensor=output_tensor,
                in_dst=in_dst)
    if trace.REPLAYING and output_tensor is None:
        trace.offer_kernel(op, (input_tensor,), device, _replay_kernel(compute, out._dtype, out._layout, device))
    return out


def _replay_kernel(compute, dtype: DataType, layout: Layout, device):
    """What a trace replay runs of a unary op on its input (trace.offer_kernel): `compute` on the input's current
    values and padding, then `_emit`'s storing without the checks and the buffer."""
    ideal = device.ideal

    def kernel(t):
        value, pad, in_dst = compute(t)
        pad = _store_pad(pad if layout == Layout.TILE else None, dtype, ideal, "sfpu")
        return stored(_store(value, dtype, ideal, "sfpu", pad, in_dst), dtype, layout, device, rounding="sfpu",
                      pad=pad, rounded=True)
    return kernel


_PAD_VALUES: dict = {}          # (table key, bits of the pad, ideal) -> f(pad)


def _pad_value(f: Callable, pad, ideal: bool, key: Optional[tuple]) -> float:
    """f applied to a padding scalar (as `_eval_float` computes it); remembered for ops with a table key."""
    if key is None or type(pad) is not float:
        return float(_eval_float(f, torch.tensor([pad], dtype=torch.float32), ideal)[0])
    slot = (key, struct.pack("<d", pad), ideal)
    value = _PAD_VALUES.get(slot)
    if value is None:
        if len(_PAD_VALUES) >= 4096:
            _PAD_VALUES.clear()
        value = _PAD_VALUES[slot] = float(_eval_float(f, torch.tensor([pad], dtype=torch.float32), ideal)[0])
    return value


def _approx(device_or_tensor, flag) -> bool:
    """Approximations apply only in the hardware numerics mode."""
    dev = device_or_tensor._device if isinstance(device_or_tensor, Tensor) else device_or_tensor
    return bool(flag) and dev is not None and not dev.ideal


def _torch_golden(torch_fn: Callable) -> Callable:
    def golden(input_tensor, *args, **kwargs):
        return torch_fn(input_tensor)
    golden.__name__ = getattr(torch_fn, "__name__", "golden")
    return golden
