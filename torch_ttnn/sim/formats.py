"""Bit-level models of the TT data formats.

Storage model of the simulator (see tensor.py): float formats are held as float32 tensors whose values are
exactly representable in the format (a bfloat16 value is a float32 whose low 16 bits are zero, NaN payloads
included); integer formats are held as int64 tensors with values in the format's range.

Two families of rules live here:

- HOST conversions (`from_torch`, `ttnn.Tensor(...)`, host `typecast`, `to_torch`): bit-exact with the real
  ttnn 0.81.1 wheel. Every host rule below (H, F, B, I, P, T, E) was found by comparing with the wheel;
  tests/sim/test_oracle_conversions.py checks them all.
- DEVICE rules (outputs of simulated ops): the packer (bf16 round-to-nearest ties-away, denormals flushed,
  -0 -> +0, NaN -> Inf; bfp8 formed from that bf16 by rounding ties-away; bfp4 a truncation of bfp8) and the
  SFPU (truncation into a 16-bit Dst). These come from FACTS.md; the wheel cannot run them.

Host rules found with the oracle (real wheel 0.81.1):

  Source torch dtypes
  (H1) "Native" torch dtypes are float32, bfloat16, int32, uint32, uint16, uint8 (and bool, read as uint8):
       the C++ side converts them itself, with the rules below. Any other torch dtype (float64, float16,
       int64, int16, int8) is first converted by torch's own `tensor.to(T)`, T being the torch dtype of the
       target (bfloat16 for BFLOAT16 *and* for BFLOAT8_B / BFLOAT4_B, float32, int32, uint32, uint16, uint8),
       with all of torch's quirks (its float->bf16 turns NaN into 0xFFFF in vectorized loops; float16 NaN ->
       float32 gives 0x7FFFFFFF for a lone element). The simulator calls the same torch conversion.
  (H2) dtype=None picks: float32 -> FLOAT32, bfloat16/float16 -> BFLOAT16, int32 -> INT32, int64 -> UINT32
       (not INT32), int16/uint16 -> UINT16, uint8/bool -> UINT8, uint32 -> UINT32, int8 -> INT8 (the simulator
       refuses INT8); float64 and uint64 have no default: the wheel aborts the process
       ("get_dtype_from_ttnn_datatype: got INVALID or unhandled DataType"), the simulator raises that message
       instead. Complex dtypes raise "get_ttnn_datatype_from_dtype: got unexpected dlpack dtype" either way.
  (H3) layout=None with dtype bfloat8_b/bfloat4_b gives TILE (an explicit ROW_MAJOR raises "Layout must be
       Layout::TILE for bfloat8_b or bfloat4_b"); layout=None otherwise gives ROW_MAJOR.

  Floats
  (F1) float32 -> bfloat16: round to nearest, ties to even; overflow -> inf; denormals kept; every NaN
       (any sign, any payload) -> 0x7FC0. bfloat16 -> bfloat16 and bfloat16 -> float32 keep the bits (NaN
       payloads and sign included); float32 -> float32 keeps the bits.
  (F2) integers -> float: int -> float32 round to nearest even; int -> bfloat16 goes through float32 (double
       rounding: 2^24 + 2^16 + 1 -> 2^24, not 2^24 + 2^17).
  (F3) to_torch of BFLOAT16 is bit-exact (the simulator builds the bf16 bits itself: torch's own float32->bf16
       would turn NaN into 0xFFFF).

  Block floats (bfloat8_b: k = 7 magnitude bits, bfloat4_b: k = 3), from float32 bit patterns:
  (B1) elements with a zero exponent field (zeros and denormals) are flushed to 0 and do not take part in the
       shared exponent, even when the shared exponent would represent them;
  (B2) shared exponent E = the largest exponent field in the block of 16, 255 included (inf/NaN do not zero
       the block: the other elements are quantized against E = 255 and mostly round to 0, 1e38 survives);
  (B3) magnitude = the 24-bit significand (hidden one included) shifted right by (24 - k) + (E - e), rounded
       to nearest, ties to even, saturating at 2^k - 1 (it never bumps the exponent);
  (B4) a magnitude of 0 gives +0 (the sign is dropped; -0.0 -> +0.0);
  (B5) decoding with E = 255 rebuilds the float bits: a magnitude with its top bit set gives exponent 255,
       i.e. inf (rest zero) or a NaN whose mantissa is the remaining magnitude bits (0x7FC00000 stays
       0x7FC00000, 0x7F800001 becomes inf, 0x7FFFFFFF -> 0x7FFE0000 for bfp8 / 0x7FE00000 for bfp4);
  (B6) int32/uint32 sources are converted to float32 first (F2) and quantized from float32; the non-native
       sources go to bfloat16 first (H1), which can round differently (1 + 2^-7 + 2^-9: 1.015625 from float32,
       1.0 through bfloat16).
  (B7) the tile padding takes part in the blocks of the last logical columns (pad_value is visible).

  Float -> integer (float32 or bfloat16 values, also unpacked bfp): the wheel converts a buffer in a
  vectorized loop and finishes with a scalar loop, and the two disagree outside the integer range:
  (I1) buffer of n elements, vector width w: elements [0, w*floor(n/w)) take the vector rule, the last n mod w
       the scalar rule. w = 4 for float32 -> uint16, else 8 (float32 -> uint8/uint32, bfloat16 -> any). A
       TILE buffer (padded, a multiple of 1024) is all vector; a ROW_MAJOR buffer has n = the logical volume.
       Independent of the buffer's alignment.
  (I2) cvt32(x) = truncation toward zero, NaN and |x| >= 2^31 -> INT32_MIN (x86 cvttss2si); cvt64 the 64-bit
       analogue.
       int32:  vector and scalar cvt32.
       uint16/uint8, vector: clamp(cvt32(x), 0, 2^n - 1) (saturating: -1.5 -> 0, 300 -> 255, NaN -> 0);
                     scalar: cvt32(x) mod 2^n (wrapping: -1.5 -> 255, 300.7 -> 44).
       uint32, vector: a = cvt32(x), b = cvt32(float32(x - 2^31)), result a | (b & (a >> 31)) (exact on
                       [0, 2^32); -1.5 -> 2^32 - 1; NaN, inf, >= 2^32 -> 2^31);
               scalar: cvt64(x) mod 2^32 (1e10 -> 1410065408, NaN -> 0).
       Rarely (heap-layout dependent, seen once in hundreds of runs) the wheel converts a whole ROW_MAJOR
       buffer with the scalar rule: its vectorized loop is guarded by a run-time check on the source and
       destination buffers. The simulator models the common case; `scalar_only()` gives the other outcome
       (the oracle tests accept both).
  (I3) integer -> integer: wraps modulo 2^n (static_cast), vector and scalar alike.
  (I4) host typecast follows the same rules from the tensor's stored format; host to_layout ignores dtype.

  Tile padding
  (P1) from_torch(layout=TILE, pad_value=p): p is cast to the *source* element type first (a scalar C++ cast:
       bfloat16 RNE, 1.999 -> 2.0; int32 source -1.5 -> -1, which then wraps to 255 in uint8), then converted
       with the padded buffer (vector rules: float32 -1.5 -> uint8 0).
  (P2) host to_layout(TILE, pad_value=p) casts p to the tensor's own type (uint8: -1.5 -> 255, 300.7 -> 44).
  (P3) host typecast converts the padding like the values.

  ttnn.Tensor(data, shape, data_type, layout, ...)
  (T1) the wheel has an int32 overload and a float32 overload: a list of Python ints that all fit int32 (with an
       int pad_value) is an int32 source (wrapping into narrower ints: 70000 -> 4464 in uint16); any float, or an
       int outside int32, makes the whole list float32 (then the float -> int rules, 2^31 -> INT32_MIN in int32).

  Refusals and small facts
  (E1) host typecast / to_dtype of a ROW_MAJOR tensor to a block float raises "...physical_shape() ==
       output_spec.physical_shape()" unless the shape is tile-aligned, in which case the result is TILE. Host
       to_layout(ROW_MAJOR) of a block float raises "Tensor layout must be ROW_MAJOR for unpadding" unless the
       shape is tile-aligned (then the tensor comes back unchanged, still TILE). ttnn.Tensor(list, ...) of a
       block float in ROW_MAJOR raises "Only TILE layout is supported for BFLOAT8_B dtype!"; a wrong number of
       values raises "Buffer size N differs from shape volume M".
  (E2) to_torch gives torch.uint32 for UINT32 and torch.uint16 for UINT16 (not int32/int16); to_torch(dtype=)
       is torch's own conversion of that result; torch_rank that cannot be reached raises "Unable to squeeze to
       desired rank!". A rank-0 ROW_MAJOR tensor has padded_shape [1]. element_size() of a block float raises
       ValueError("datum for bfp2, bfp4, bfp8 is invalid").

  Not checkable here: with device=..., the wheel's own source may convert on the device (tilize and typecast
  run there when both dtypes allow it). The simulator always converts on the host, then transfers.
"""
from __future__ import annotations

import contextlib
import sys
from typing import Optional

import torch

from .types import BLOCK_FLOAT_DTYPES, FLOAT_DTYPES, INT_DTYPES, INT_FORMATS, DataType

_LITTLE_ENDIAN = sys.byteorder == "little"
_EXP_MASK = 0x7F800000
_MANT_MASK = 0x007FFFFF
_SIGN_MASK = -0x80000000  # 0x80000000 as int32


def _bits(x: torch.Tensor) -> torch.Tensor:
    return x.to(torch.float32).contiguous().view(torch.int32)


def _float(b: torch.Tensor) -> torch.Tensor:
    return b.to(torch.int32).view(torch.float32)


# ----------------------------------------------------------------------------------------------
# bfloat16
#
# The rules below work on the int32 bit patterns with in-place integer arithmetic: element-wise integer ops
# are cheap, while boolean masks (comparisons, masked_fill, where) cost several times more on the CPU. NaNs are
# rare, so they are detected with one reduction (`has_nan`) and only then patched with a mask.
# ----------------------------------------------------------------------------------------------

def has_nan(x: torch.Tensor) -> bool:
    """Whether float tensor `x` holds a NaN (max propagates NaN; one cheap reduction)."""
    return x.numel() > 0 and bool(torch.isnan(x.amax()))


def nonzero_exponent_mask(b: torch.Tensor) -> torch.Tensor:
    """int32 bit patterns -> -1 (all bits set) where the exponent field is nonzero, 0 where it is zero (zeros and
    denormals). AND-ing a result with it flushes those elements to +0."""
    m = b & _EXP_MASK                       # 0 or a positive int32 ...
    m.neg_()                                # ... so its negation is negative exactly when the exponent is nonzero
    m >>= 31                                # arithmetic shift: negative -> -1, zero -> 0
    return m


def round_bf16_rne(x: torch.Tensor) -> torch.Tensor:
    """Host float32 -> bfloat16 (F1): round to nearest, ties to even; overflow -> inf; NaN -> 0x7FC0."""
    x = x.to(torch.float32).contiguous()
    b = x.view(torch.int32)
    r = b >> 16                             # int32 arithmetic wraps: exact for every non-NaN pattern
    r &= 1
    r += 0x7FFF
    r += b
    r &= -0x10000
    if has_nan(x):
        r.masked_fill_(torch.isnan(x), 0x7FC00000)
    return r.view(torch.float32)


def round_bf16_packer(x: torch.Tensor, native: bool = True) -> torch.Tensor:
    """Device packer float32 Dst -> bfloat16: nearest, ties away from zero; denormals and -0 -> +0;
    NaN -> +Inf. (The native kernel computes the same bits in one pass; this is its definition.)"""
    if native and x.numel() >= _NATIVE_MIN:
        from . import _native
        if (got := _native.round_bf16(x, "packer")) is not None:
            return got
    x = x.to(torch.float32).contiguous()
    b = x.view(torch.int32)
    r = b + 0x8000                          # sign-magnitude: ties away from zero; a carry into exponent 255
    r &= -0x10000                           # gives inf (mantissa 0), which is what the packer does
    r &= nonzero_exponent_mask(b)           # denormals and zeros -> +0
    if has_nan(x):
        r.masked_fill_(torch.isnan(x), 0x7F800000)
    return r.view(torch.float32)


def truncate_bf16(x: torch.Tensor, native: bool = True) -> torch.Tensor:
    """SFPU result stored to a 16-bit Dst: the low 16 bits are dropped; denormals flushed; NaN -> 0x7FC00000."""
    if native and x.numel() >= _NATIVE_MIN:
        from . import _native
        if (got := _native.round_bf16(x, "sfpu")) is not None:
            return got
    x = x.to(torch.float32).contiguous()
    b = x.view(torch.int32)
    r = nonzero_exponent_mask(b)            # denormals and zeros -> +0
    r &= b
    r &= -0x10000
    if has_nan(x):
        r.masked_fill_(torch.isnan(x), 0x7FC00000)
    return r.view(torch.float32)


def flush_fp32(x: torch.Tensor) -> torch.Tensor:
    """Device float32 result: denormals flushed to +0."""
    x = x.to(torch.float32).contiguous()
    b = x.view(torch.int32)
    r = nonzero_exponent_mask(b)
    r &= b
    return r.view(torch.float32)


def bf16_to_torch(x: torch.Tensor) -> torch.Tensor:
    """Stored bfloat16 values (float32 with zero low halves) -> a torch.bfloat16 tensor, bit-exact (F3)."""
    flat = x.to(torch.float32).contiguous().reshape(-1)
    if _LITTLE_ENDIAN:
        hi = flat.view(torch.int16)[1::2]            # the upper half of every float32
    else:  # pragma: no cover
        hi = (flat.view(torch.int32) >> 16).to(torch.int16)
    return hi.contiguous().view(torch.bfloat16).reshape(x.shape)


def bf16_from_torch(x: torch.Tensor) -> torch.Tensor:
    """torch.bfloat16 -> stored float32, bit-exact (NaN payloads kept)."""
    flat = x.contiguous().reshape(-1).view(torch.int16)
    if _LITTLE_ENDIAN:
        out = torch.zeros(2 * flat.numel(), dtype=torch.int16)
        out[1::2] = flat
        return out.view(torch.float32).reshape(x.shape)
    return (flat.to(torch.int32) << 16).view(torch.float32).reshape(x.shape)  # pragma: no cover


# ----------------------------------------------------------------------------------------------
# Block floats. A block is 16 consecutive values of one row of a 16x16 face, i.e. columns
# [16k, 16k+16) of one row of the padded tensor, so the blocks can be formed without reordering.
# ----------------------------------------------------------------------------------------------

_BFP_MANT_BITS = {DataType.BFLOAT8_B: 7, DataType.BFLOAT4_B: 3}


def _blocks(x: torch.Tensor) -> torch.Tensor:
    if x.shape[-1] % 16 != 0:
        raise ValueError(f"block-float quantization needs a width multiple of 16, got shape {tuple(x.shape)}")
    return x.reshape(*x.shape[:-1], x.shape[-1] // 16, 16)


_NATIVE_MIN = 1        # elements from which the C kernel (sim/_native/bfp.c, same bits) is worth its call: it is
                       # 5-20x faster than the torch definition from 32 values up (the call costs ~5 us)


def _quantize_blocks(x: torch.Tensor, mant_bits: int, ties_away: bool, native: bool = True) -> torch.Tensor:
    """Quantize blocks of 16 to a shared exponent and sign + `mant_bits` magnitude with no implicit one,
    in exact int32 arithmetic on the float32 bit patterns (rules B1-B5). Selections are done with all-ones /
    all-zero int32 masks (as in the bf16 rules above) rather than boolean tensors. This torch code is the
    definition; large tensors go through its C translation when the native library is available."""
    k = mant_bits
    blocks = _blocks(x.to(torch.float32).contiguous())
    if native and blocks.numel() >= _NATIVE_MIN:
        from . import _native
        got = _native.quantize_bfp(blocks, k, ties_away)
        if got is not None:
            return got.reshape(x.shape)
    b = blocks.view(torch.int32)
    exp = (b >> 23) & 0xFF
    sig = b & _MANT_MASK
    sig |= 0x800000
    sig &= nonzero_exponent_mask(b)                                # B1: zeros and denormals flush
    shared = exp.amax(dim=-1, keepdim=True)                        # B2 (a zero exponent never wins)
    shift = ((24 - k) + (shared - exp)).clamp_(max=31)             # >= 17; from 25 on everything rounds to 0
    q = sig >> shift
    below = sig >> (shift - 1)                                     # q followed by the first dropped bit
    below &= 1                                                     # the first dropped bit: rem >= half
    if ties_away:
        up = below
    else:                                                          # B3: nearest, ties to even
        rest = sig & ((1 << (shift - 1)) - 1)                      # the other dropped bits
        rest.neg_()
        rest >>= 31                                                # -1 where rem > half, given the first bit
        rest |= q                                                  # ... or where q is odd (bit 0)
        up = below & rest
    mag = (q + up).clamp_(max=(1 << k) - 1)                        # B3: saturate, never bump the exponent
    # decode: mag * 2^(E - 127 - (k - 1)) by moving the exponent of float(mag); with E = 255 a magnitude with
    # its top bit set lands on exponent 255 (inf or NaN, B5). No result is denormal: an element of exponent e
    # keeps about k - (E - e) bits, so a nonzero magnitude is worth at least 2^(e - 127) >= 2^-126.
    vbits = mag.to(torch.float32).view(torch.int32) + ((shared - 127 - (k - 1)) << 23)
    vbits |= b & _SIGN_MASK
    nonzero = mag.neg_()
    nonzero >>= 31                                                 # -1 where mag > 0
    vbits &= nonzero                                               # B4: a zero magnitude has no sign
    return vbits.view(torch.float32).reshape(x.shape)


def quantize_bfp_host(x: torch.Tensor, dtype: DataType) -> torch.Tensor:
    """Host conversion float32 -> bfloat8_b/bfloat4_b (rules B1-B5: round to nearest even, saturating)."""
    return _quantize_blocks(x, _BFP_MANT_BITS[DataType(dtype)], ties_away=False)


def quantize_bfp_packer(x: torch.Tensor, dtype: DataType) -> torch.Tensor:
    """Device packer float32 Dst -> bfloat8_b (via bf16, ties away); bfloat4_b truncates the bfp8 result."""
    if DataType(dtype) == DataType.BFLOAT8_B and x.numel() >= _NATIVE_MIN and x.shape[-1] % 16 == 0:
        from . import _native
        got = _native.quantize_bfp(x, 7, True, packer=True)     # both steps in one pass, same bits
        if got is not None:
            return got.reshape(x.shape)
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
    vals = torch.where(mag4 == 0, torch.zeros_like(vals), vals)
    finite = torch.isfinite(blocks)
    return torch.where(finite, vals, blocks).reshape(x.shape)


def bfp_scalar(value: float, dtype: DataType, *, host: bool = True) -> float:
    """What a block made only of `value` stores (the model of a bfp tensor's tile padding)."""
    v = torch.full((16,), float(value), dtype=torch.float32)
    q = quantize_bfp_host(v, dtype) if host else quantize_bfp_packer(v, dtype)
    return float(q[0])


def quantize_bfp_padded(x: torch.Tensor, dtype: DataType, pad: Optional[float], quantize=None) -> torch.Tensor:
    """Quantize logical values whose rows are tile-padded on the right with `pad` (None: 0), rule B7."""
    quantize = quantize_bfp_host if quantize is None else quantize
    if x.dim() == 0:
        return quantize_bfp_padded(x.reshape(1), dtype, pad, quantize).reshape(())
    w = x.shape[-1]
    pw = -(-w // 32) * 32
    if pw == 0:
        return x.to(torch.float32)
    if pw != w:
        x = torch.nn.functional.pad(x.to(torch.float32), (0, pw - w), value=0.0 if pad is None else float(pad))
    return quantize(x, dtype)[..., :w]


# ----------------------------------------------------------------------------------------------
# Host float -> integer (rules I1-I2) and integer -> integer (I3)
# ----------------------------------------------------------------------------------------------

_INT32_MIN = -(1 << 31)
_INT64_MIN = -(1 << 63)


def _cvt32(x: torch.Tensor) -> torch.Tensor:
    """x86 cvttss2si (32-bit): truncate; NaN and out-of-range -> INT32_MIN. float32 in, int64 out."""
    x = x.to(torch.float32)
    ok = (x >= -2.0 ** 31) & (x < 2.0 ** 31)                   # exact bounds in float32; False for NaN
    v = torch.where(ok, x, 0.0).trunc_().to(torch.int32)
    v.masked_fill_(~ok, _INT32_MIN)
    return v.to(torch.int64)


def _cvt64(x: torch.Tensor) -> torch.Tensor:
    """x86 cvttss2si (64-bit): truncate; NaN and out-of-range -> INT64_MIN."""
    x64 = x.to(torch.float64)
    ok = (x64 >= -2.0 ** 63) & (x64 < 2.0 ** 63)
    return torch.where(ok, torch.where(ok, x64, 0.0).trunc().to(torch.int64),
                       torch.full(x64.shape, _INT64_MIN, dtype=torch.int64))


def _wrap(v: torch.Tensor, dtype: DataType) -> torch.Tensor:
    bits, signed = INT_FORMATS[DataType(dtype)]
    mod = 1 << bits
    v = torch.remainder(v, mod) if bits < 64 else v
    if signed:
        v = torch.where(v >= (1 << (bits - 1)), v - mod, v)
    return v


def _float_to_int_vector(x: torch.Tensor, dtype: DataType) -> torch.Tensor:
    dtype = DataType(dtype)
    a = _cvt32(x)
    if dtype == DataType.INT32:
        return a
    if dtype == DataType.UINT32:
        b = _cvt32(x.to(torch.float32) - 2.0 ** 31)            # the subtraction is a float32 one
        au, bu = a & 0xFFFFFFFF, b & 0xFFFFFFFF
        return au | (bu & torch.where(a < 0, 0xFFFFFFFF, 0))
    bits, _ = INT_FORMATS[dtype]
    return a.clamp(0, (1 << bits) - 1)


def _float_to_int_scalar(x: torch.Tensor, dtype: DataType) -> torch.Tensor:
    dtype = DataType(dtype)
    if dtype == DataType.UINT32:
        return _wrap(_cvt64(x), dtype)
    return _wrap(_cvt32(x), dtype)


def vector_width(src: DataType, dst: DataType) -> int:
    """Width of the wheel's vectorized float->int loop (rule I1)."""
    if DataType(src) == DataType.FLOAT32 and DataType(dst) == DataType.UINT16:
        return 4
    return 8


_SCALAR_ONLY = False


@contextlib.contextmanager
def scalar_only():
    """Within the block, ROW_MAJOR host float->int conversions take the wheel's scalar rule for every element
    (its rare fallback, rule I1). For tests."""
    global _SCALAR_ONLY
    old, _SCALAR_ONLY = _SCALAR_ONLY, True
    try:
        yield
    finally:
        _SCALAR_ONLY = old


def host_float_to_int(x: torch.Tensor, dst: DataType, src: DataType = DataType.FLOAT32, *,
                      all_vector: bool = False) -> torch.Tensor:
    """Host float (float32-held) -> integer format `dst` (int64 values), rules I1-I2. The tensor's
    row-major order is the buffer order; `all_vector` for TILE buffers (padded to whole tiles)."""
    flat = x.reshape(-1).to(torch.float32)
    n = flat.numel()
    out = _float_to_int_vector(flat, dst)
    if not all_vector:
        w = vector_width(src, dst)
        nvec = 0 if _SCALAR_ONLY else (n // w) * w
        if nvec < n:
            out = out.clone()
            out[nvec:] = _float_to_int_scalar(flat[nvec:], dst)
    return out.reshape(x.shape)


def host_convert(value: torch.Tensor, src: DataType, dst: DataType, *, all_vector: bool,
                 pad: Optional[float] = None) -> torch.Tensor:
    """Host conversion of stored values of format `src` to format `dst` (the C++ rules of the wheel).

    `all_vector`: the buffer is a TILE buffer (float->int uses the vector rule everywhere). `pad`: the
    padding scalar of a TILE tensor, shared with the last blocks when `dst` is a block float (B7)."""
    src, dst = DataType(src), DataType(dst)
    if src in INT_DTYPES:
        if dst in INT_DTYPES:
            return _wrap(value.to(torch.int64), dst)                            # I3
        value = value.to(torch.float32)                                         # F2 (RNE)
        src = DataType.FLOAT32
    if dst == DataType.FLOAT32:
        return value.to(torch.float32)
    if dst == DataType.BFLOAT16:
        return value if src == DataType.BFLOAT16 else round_bf16_rne(value)     # F1
    if dst in BLOCK_FLOAT_DTYPES:
        return quantize_bfp_padded(value, dst, pad)                             # B1-B7
    if dst in INT_DTYPES:
        fsrc = DataType.BFLOAT16 if src == DataType.BFLOAT16 else DataType.FLOAT32
        return host_float_to_int(value, dst, fsrc, all_vector=all_vector)       # I1-I2
    raise ValueError(f"unsupported conversion {src.name} -> {dst.name}")


def host_convert_scalar(value: float, src: DataType, dst: DataType) -> float:
    """A padding scalar through `host_convert` (TILE buffers: vector rules; a block float pad is the value
    of a block made of padding only)."""
    src, dst = DataType(src), DataType(dst)
    if dst in BLOCK_FLOAT_DTYPES:
        v = host_convert(torch.tensor([value], dtype=torch.float32 if src in FLOAT_DTYPES else torch.int64), src,
                         DataType.FLOAT32, all_vector=True)
        return bfp_scalar(float(v[0]), dst)
    t = torch.tensor([value], dtype=torch.float32 if src in FLOAT_DTYPES else torch.int64)
    return float(host_convert(t, src, dst, all_vector=True)[0])


# ----------------------------------------------------------------------------------------------
# Integers on the device: narrowing wraps modulo 2^n; float -> int truncates toward zero.
# (Device-side model used by simulated ops; the host rules are host_float_to_int / host_convert.)
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
