"""Bit-level models of the TT data formats.

Every function takes and returns float32 torch tensors whose values are exactly representable in the
target format (the simulator stores all float formats as float32 values; see FACTS.md for the rules):

- host conversions (`from_torch`, host `typecast`):  bf16 round-to-nearest-even, NaN -> 0x7FC0;
  bfp8/bfp4 shared-exponent blocks rounded to nearest-even, magnitudes saturating.
- device packer (outputs of ops): bf16 round-to-nearest ties-away, denormals flushed, -0 -> +0,
  NaN -> Inf; bfp8 formed from that bf16 by rounding ties-away; bfp4 a truncation of bfp8.
- SFPU results stored to a 16-bit Dst: truncation.
"""
from __future__ import annotations

import torch

from .types import DataType, INT_FORMATS

_EXP_MASK = 0x7F800000
_MANT_MASK = 0x007FFFFF
_SIGN_MASK = -0x80000000  # 0x80000000 as int32


def _bits(x: torch.Tensor) -> torch.Tensor:
    return x.to(torch.float32).contiguous().view(torch.int32)


def _float(b: torch.Tensor) -> torch.Tensor:
    return b.to(torch.int32).view(torch.float32)


def round_bf16_rne(x: torch.Tensor) -> torch.Tensor:
    """Host float32 -> bfloat16: round to nearest, ties to even; overflow -> inf; NaN -> 0x7FC0."""
    b = _bits(x).to(torch.int64) & 0xFFFFFFFF
    lsb = (b >> 16) & 1
    r = (b + 0x7FFF + lsb) & 0xFFFF0000
    r = torch.where(torch.isnan(x), torch.full_like(r, 0x7FC00000), r)
    r = torch.where(r >= 0x80000000, r - 0x100000000, r)
    return _float(r)


def _flush_denormals(b: torch.Tensor) -> torch.Tensor:
    """int32 bit patterns: zero exponent -> +0 (also turns -0 into +0)."""
    return torch.where((b & _EXP_MASK) == 0, torch.zeros_like(b), b)


def round_bf16_packer(x: torch.Tensor) -> torch.Tensor:
    """Device packer float32 Dst -> bfloat16: nearest, ties away from zero; denormals and -0 -> +0;
    NaN -> +Inf."""
    b = _flush_denormals(_bits(x))
    nan = torch.isnan(x)
    b64 = b.to(torch.int64) & 0xFFFFFFFF
    r = (b64 + 0x8000) & 0xFFFF0000
    r = torch.where(r >= 0x80000000, r - 0x100000000, r).to(torch.int32)
    # rounding a finite value up to the exponent 255 gives inf (mantissa 0), which is what the packer does
    r = _flush_denormals(r)
    r = torch.where(nan, torch.full_like(r, 0x7F800000), r)
    return _float(r)


def truncate_bf16(x: torch.Tensor) -> torch.Tensor:
    """SFPU result stored to a 16-bit Dst: the low 16 bits are dropped; denormals flushed."""
    b = _bits(x)
    nan = torch.isnan(x)
    r = _flush_denormals(b & -0x10000)
    r = torch.where(nan, torch.full_like(r, 0x7FC00000), r)
    return _float(r)


def flush_fp32(x: torch.Tensor) -> torch.Tensor:
    """Device float32 result: denormals flushed to +0."""
    b = _bits(x)
    return torch.where(torch.isnan(x), x.to(torch.float32), _float(_flush_denormals(b)))


def truncate_tf32(x: torch.Tensor) -> torch.Tensor:
    """float32 through the matrix unit: keep e8m10 (truncation of the low 13 mantissa bits)."""
    return _float(_bits(x) & -0x2000)


# ----------------------------------------------------------------------------------------------
# Block floats. A block is 16 consecutive values of one row of a 16x16 face, i.e. columns
# [16k, 16k+16) of one row of the padded tensor, so the blocks can be formed without reordering.
# ----------------------------------------------------------------------------------------------

_BFP_MANT_BITS = {DataType.BFLOAT8_B: 7, DataType.BFLOAT4_B: 3}


def _blocks(x: torch.Tensor) -> torch.Tensor:
    if x.shape[-1] % 16 != 0:
        raise ValueError(f"block-float quantization needs a width multiple of 16, got shape {tuple(x.shape)}")
    return x.reshape(*x.shape[:-1], x.shape[-1] // 16, 16)


def _quantize_blocks(x: torch.Tensor, mant_bits: int, ties_away: bool) -> torch.Tensor:
    """Quantize blocks of 16 to a shared exponent and sign + `mant_bits` magnitude with no implicit one."""
    blocks = _blocks(x.to(torch.float32))
    b = _bits(blocks)
    exp = (b >> 23) & 0xFF
    shared = exp.amax(dim=-1, keepdim=True)
    special = shared == 255
    # value = mag * 2^(E - 127 - (mant_bits - 1))
    scale_exp = (shared - 127 - (mant_bits - 1)).to(torch.float64)
    scaled = blocks.abs().to(torch.float64) * torch.pow(2.0, -scale_exp)
    if ties_away:
        mag = torch.floor(scaled + 0.5)
    else:
        mag = torch.round(scaled)  # torch.round is half-to-even
    mag = mag.clamp(max=2 ** mant_bits - 1)
    vals = torch.copysign(mag * torch.pow(2.0, scale_exp), blocks.to(torch.float64)).to(torch.float32)
    # blocks holding inf/NaN: the special element is kept, the rest of the block is zero
    if special.any():
        is_special = ((b >> 23) & 0xFF) == 255
        keep = torch.where(is_special, blocks, torch.zeros_like(blocks))
        vals = torch.where(special, keep, vals)
    return vals.reshape(x.shape)


def quantize_bfp_host(x: torch.Tensor, dtype: DataType) -> torch.Tensor:
    """Host conversion float32 -> bfloat8_b/bfloat4_b (round to nearest even, saturating)."""
    return _quantize_blocks(x, _BFP_MANT_BITS[DataType(dtype)], ties_away=False)


def quantize_bfp_packer(x: torch.Tensor, dtype: DataType) -> torch.Tensor:
    """Device packer float32 Dst -> bfloat8_b (via bf16, ties away); bfloat4_b truncates the bfp8 result."""
    bf16 = round_bf16_packer(x)
    bfp8 = _quantize_blocks(bf16, 7, ties_away=True)
    if DataType(dtype) == DataType.BFLOAT8_B:
        return bfp8
    # bfp4: drop the 4 low magnitude bits of the bfp8 magnitude (same shared exponent)
    blocks = _blocks(bfp8)
    exp = (_bits(bf16.reshape(blocks.shape)) >> 23) & 0xFF
    shared = exp.amax(dim=-1, keepdim=True).to(torch.float64)
    step8 = torch.pow(2.0, shared - 127 - 6)
    mag8 = (blocks.abs().to(torch.float64) / step8).round()
    mag4 = torch.floor(mag8 / 16)
    vals = torch.copysign(mag4 * step8 * 16, blocks.to(torch.float64)).to(torch.float32)
    finite = torch.isfinite(blocks)
    return torch.where(finite, vals, blocks).reshape(x.shape)


# ----------------------------------------------------------------------------------------------
# Integers: narrowing wraps modulo 2^n; float -> int truncates toward zero.
# ----------------------------------------------------------------------------------------------

def wrap_int(x: torch.Tensor, dtype: DataType) -> torch.Tensor:
    """Convert to the integer format `dtype`, stored as int64 values in its range."""
    bits, signed = INT_FORMATS[DataType(dtype)]
    if x.is_floating_point():
        x = torch.nan_to_num(x.to(torch.float64), nan=0.0).trunc()
        x = x.clamp(-(2.0 ** 63), 2.0 ** 63 - 1)
    v = x.to(torch.int64)
    mod = 1 << bits
    v = torch.remainder(v, mod)
    if signed:
        v = torch.where(v >= (1 << (bits - 1)), v - mod, v)
    return v
