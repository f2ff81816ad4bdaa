"""Numerics of the compute units of the simulated device: the matrix unit (FPU) and the Dst register.

Specification: FACTS.md, "Compute numerics". Everything here takes and returns float32 torch tensors and never
computes in torch.bfloat16 (the CPUs running the simulator have no bf16 arithmetic; bf16 values are float32
values with 16 zero low bits).

Matrix unit
-----------
``Dst += SrcB @ SrcA``: in a matmul the activations (input A) go to SrcB and the weights (input B) to SrcA.
Each pass multiplies bit slices of the operands, cut from their fp32 bit patterns:

- SrcA (weights):     A_hi = w & 0xFFF80000 (hidden bit + 4 mantissa bits), A_lo = the next 5 mantissa bits;
- SrcB (activations): B_hi = x & 0xFFFE0000 (hidden bit + 6 mantissa bits), B_lo = the next 4 mantissa bits.

Math fidelity picks the passes: LoFi = A_hi*B_hi; HiFi2 adds A_lo*B_hi; HiFi3 adds A_hi*B_lo; HiFi4 adds
A_lo*B_lo. Operands first pass through the unpacker into the 19-bit source registers: fp32 values are truncated
to TF32 (e8m10), or to bf16 when fp32_dest_acc_en is off; bf16 and block-float values pass unchanged.

Dst accumulation
----------------
- fp32_dest_acc_en=True: Dst is fp32. Modelled by few large fp32 matmuls; all slice products are exact in fp32
  (at most 10 x 9 significant bits), so only fp32 summation order differs from the hardware.
- fp32_dest_acc_en=False: Dst is 16-bit (bf16). Every K=16 step of every fidelity pass is added to Dst and the
  sum is rounded to bf16 in two steps, as the FPU does: to TF32 (it computes and accumulates at TF32
  precision), then to bf16, both to nearest with ties away from zero; the double rounding biases long sums
  (Tenstorrent's analysis in tt-metal issue #46101). **Model decision**: the steps run chunk-major: for each K chunk of 16 (in K order), for each fidelity pass (LoFi slice pair first), the
  16-term partial product (summed in fp32) is added to Dst and Dst is rounded.
  Passes whose operand slice is all zero (e.g. bfp4 operands have no low slice) are skipped: adding 0 to a
  bf16 Dst changes nothing.

Ideal numerics (``device.ideal``): one fp32 matmul / fp32 sum on the stored values; no truncation, no slicing,
no Dst rounding (the output is then rounded to its dtype nearest-even by ``round_to``).

Reduce-sum uses the same machinery: the reduction multiplies the input by a scaler tile (1, or 1/N for mean)
in the matrix unit, so fidelity applies to both, and partial sums of 16 values accumulate in Dst. A W (last dim)
sum runs as a matmul with the input as activations (SrcB) and the scaler as weights (SrcA); other reductions
put the input in SrcA and the scaler in SrcB. Reduce-max/min do not use the multipliers and are exact.
"""
from __future__ import annotations

import functools
import math
import os
import struct
from typing import Optional, Sequence

import torch

from .types import MathFidelity
from . import _native
from ._memo import TensorMemo

# Bit masks on the fp32 pattern (as signed int32 constants).
_TF32_MASK = -0x2000          # 0xFFFFE000: e8m10
_BF16_MASK = -0x10000         # 0xFFFF0000: e8m7
_A_HI_MASK = -0x80000         # 0xFFF80000: hidden + 4 mantissa bits
_A_FULL_MASK = -0x4000        # 0xFFFFC000: hidden + 9 mantissa bits (A_hi + A_lo)
_B_HI_MASK = -0x20000         # 0xFFFE0000: hidden + 6 mantissa bits
_B_FULL_MASK = -0x2000        # 0xFFFFE000: hidden + 10 mantissa bits (B_hi + B_lo)

K_STEP = 16                   # one matrix-unit step accumulates 16 products into Dst
_X16 = "x16"                  # Slices cache key of the padded bfloat16 source register (Slices.keep_source16)


def _mask(x: torch.Tensor, mask: int) -> torch.Tensor:
    x = x.to(torch.float32).contiguous()
    return (x.view(torch.int32) & mask).view(torch.float32)


def source_register(x: torch.Tensor, fp32_acc: bool, bf16_exact: bool = False) -> torch.Tensor:
    """What the unpacker puts into SrcA/SrcB: fp32 truncated to TF32 (fp32 Dst) or bf16 (16-bit Dst).

    bf16_exact: the caller knows x holds bf16 values (float32 with zero low 16 bits, e.g. the values of a
    BFLOAT16 or block-float tensor); both truncations keep them as they are, so no mask is applied."""
    if bf16_exact:
        return x.to(torch.float32).contiguous()
    return _mask(x, _TF32_MASK if fp32_acc else _BF16_MASK)


def _finite_nonzero(t: torch.Tensor) -> tuple[bool, bool]:
    """(all finite, any nonzero) with one min/max pass."""
    if t.numel() == 0:
        return True, False
    lo, hi = torch.aminmax(t)
    lo, hi = float(lo), float(hi)
    return math.isfinite(lo) and math.isfinite(hi), lo != 0.0 or hi != 0.0


class Slices:
    """Lazily cut bit slices of one matrix-unit operand ("A" = SrcA, "B" = SrcB).

    bf16_exact: x holds bf16 values (see `source_register`); the full slices (hidden bit + 9 or 10 mantissa bits)
    then equal the source register itself."""

    def __init__(self, x: torch.Tensor, operand: str, fp32_acc: bool, bf16_exact: bool = False):
        self.raw = x
        self.shape = tuple(x.shape)
        self.hi_mask, self.full_mask = ((_A_HI_MASK, _A_FULL_MASK) if operand == "A" else (_B_HI_MASK, _B_FULL_MASK))
        self.fp32_acc = fp32_acc
        self.bf16_exact = bf16_exact
        self._cache: dict = {}

    @property
    def x(self) -> torch.Tensor:
        """The source register's content (cut on first use)."""
        if "x" not in self._cache:
            self._cache["x"] = source_register(self.raw, self.fp32_acc, self.bf16_exact)
            self.raw = None
        return self._cache["x"]

    def masks(self) -> tuple[int, int]:
        """(hi, full) masks on the raw values, the source register's truncation included."""
        src = -1 if self.bf16_exact else (_TF32_MASK if self.fp32_acc else _BF16_MASK)
        return self.hi_mask & src, self.full_mask & src

    def __getitem__(self, name: str) -> torch.Tensor:
        if name not in self._cache:
            if name == "hi":
                v = _mask(self.x, self.hi_mask)
            elif name == "full":
                v = self.x if self.bf16_exact else _mask(self.x, self.full_mask)
            else:  # "lo": exact difference (same exponent, fewer bits); zero where the value is inf/NaN
                hi = self["hi"]
                v = self["full"] - hi
                finite, _ = self._finite_nonzero("hi")
                if not finite:
                    v = torch.where(torch.isfinite(hi), v, torch.zeros_like(v))
            self._cache[name] = v
        return self._cache[name]

    def for_kernel(self, names: Sequence[str]) -> tuple[list, Optional[tuple]]:
        """The weight operands of the native kernel for passes that read the slices `names` (this being an "A"
        operand cut for it): each pass's padded float32 slice and None, or, when only the bfloat16 source
        register was kept (`keep_source16`), that register for every pass and the kernel's `cut` argument."""
        x16 = self._cache.get(_X16)
        if x16 is None:
            return [self.padded(p, _native.KSTEP, _native.NR) for p in names], None
        return [x16] * len(names), (list(names), *self.masks())

    def keep_source16(self, names: Sequence[str]) -> None:
        """Keep, instead of the padded float32 slices `names` (the passes' weights), only the source register,
        padded, as its bfloat16 bit patterns (int16): the native kernel cuts the slices as it reads them. A
        quarter of the memory of two cut slices, for weights beyond the slice memo's budget. The zero/finite
        flags of the slices are kept. Only for a 16-bit Dst, whose source register holds bfloat16 values."""
        if self.fp32_acc:
            raise ValueError("keep_source16: the source register holds bfloat16 values only with a 16-bit Dst")
        src = -1 if self.bf16_exact else _BF16_MASK
        bits = _native.pack_masked(self.raw.to(torch.float32), src, _native.KSTEP, _native.NR)
        if bits is None:
            bits = _native.padded(self.x, _native.KSTEP, _native.NR)
        x16 = bits.view(torch.int32).bitwise_right_shift_(16).to(torch.int16)
        del bits
        self._cache = {_X16: x16}
        self.raw = None
        parts = x16.view(-1).split(1 << 22)      # the flags a few MiB at a time: no whole float32 slice is made
        for name in names:
            flags = [_finite_nonzero(self._from_source16(name, part)) for part in parts]
            self._cache[name + "?"] = (all(f for f, _ in flags), any(n for _, n in flags))

    def to_source16(self) -> None:
        """`keep_source16` for slices already cut for the kernel (padded hi and lo, as `weight_slices` keeps
        them), from those slices: hi + lo is the register where hi is finite, hi itself where it is not (an inf,
        or a NaN whose payload the hi mask dropped: hi is then what the kernel cuts from it either way)."""
        hi = self._cache.get(("hi", _native.KSTEP, _native.NR))
        lo = self._cache.get(("lo", _native.KSTEP, _native.NR))
        if _X16 in self._cache or self.fp32_acc or (hi is None and lo is None) or self.raw is not None:
            return
        x = lo if hi is None else hi if lo is None else torch.where(torch.isfinite(hi), hi + lo, hi)
        self._cache = {k: v for k, v in self._cache.items() if not isinstance(v, torch.Tensor)}
        self._cache[_X16] = (x.view(torch.int32) >> 16).to(torch.int16)

    def _from_source16(self, name: str, x16: Optional[torch.Tensor] = None) -> torch.Tensor:
        """Padded float32 slice `name` cut from the kept bfloat16 source register (as the kernel cuts it), or
        from `x16`, a part of it."""
        u = (self._cache[_X16] if x16 is None else x16).to(torch.int32).bitwise_left_shift_(16)
        hi_mask, full_mask = self.masks()
        hi = (u & hi_mask).view(torch.float32)
        if name == "hi":
            return hi
        full = u.bitwise_and_(full_mask).view(torch.float32)
        if name == "full":
            return full
        return torch.where(torch.isfinite(hi), full - hi, torch.zeros_like(hi))

    def compact(self) -> None:
        """Keep only the padded slices and the zero/finite flags computed so far (what the native kernel
        reads); the source register and the unpadded slices go."""
        self._cache = {k: v for k, v in self._cache.items() if isinstance(k, tuple) or k.endswith("?")}
        self.raw = None

    def padded(self, name: str, rows: int, cols: int) -> torch.Tensor:
        """Slice `name` zero-padded to multiples of (rows, cols) in its last two dims, contiguous (the operand
        layout of the native kernel), kept with the other slices. The hi and full slices of values not yet
        read into the source register are cut straight into the padded buffer (one pass, no copies)."""
        key = (name, rows, cols)
        if _X16 in self._cache and (rows, cols) == (_native.KSTEP, _native.NR):
            return self._from_source16(name)       # cut again on each use: not kept (keep_source16)
        if key not in self._cache:
            if name in ("hi", "full") and self.raw is not None and "x" not in self._cache:
                mask = self.masks()[0 if name == "hi" else 1]
                raw = self.raw.to(torch.float32)
                out = _native.pack_masked(raw, mask, rows, cols)
                if out is None:
                    r, c = raw.shape[-2], raw.shape[-1]
                    out = torch.zeros(*raw.shape[:-2], r + (-r % rows), c + (-c % cols), dtype=torch.float32)
                    torch.bitwise_and(raw.view(torch.int32), mask, out=out[..., :r, :c].view(torch.int32))
                self._cache[key] = out
            else:
                self._cache[key] = _native.padded(self[name], rows, cols)
        return self._cache[key]

    def _finite_nonzero(self, name: str) -> tuple[bool, bool]:
        key = name + "?"
        if key not in self._cache:
            self._cache[key] = _finite_nonzero(self[name])
        return self._cache[key]

    def nonzero(self, name: str) -> bool:
        return self._finite_nonzero(name)[1]


def split_srca(w: torch.Tensor, fp32_acc: bool) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """SrcA (weights) slices: (A_hi, A_lo, A_hi + A_lo) after the source-register truncation."""
    s = Slices(w, "A", fp32_acc)
    return s["hi"], s["lo"], s["full"]


def split_srcb(x: torch.Tensor, fp32_acc: bool) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """SrcB (activations) slices: (B_hi, B_lo, B_hi + B_lo) after the source-register truncation."""
    s = Slices(x, "B", fp32_acc)
    return s["hi"], s["lo"], s["full"]


def phases(fidelity) -> list[tuple[str, str]]:
    """The (SrcB slice, SrcA slice) products of each fidelity pass, in order."""
    f = MathFidelity(fidelity)
    table = [("hi", "hi"), ("hi", "lo"), ("lo", "hi"), ("lo", "lo")]
    n = {MathFidelity.LoFi: 1, MathFidelity.HiFi2: 2, MathFidelity.HiFi3: 3, MathFidelity.HiFi4: 4}.get(f)
    if n is None:
        raise ValueError(f"math fidelity {f!r} is not a valid matrix-unit fidelity")
    return table[:n]


def round_dst_(d: torch.Tensor, buf: Optional[torch.Tensor] = None) -> torch.Tensor:
    """Round a float32 tensor in place as the FPU writes a 16-bit Dst: to TF32, then to bf16, both to nearest
    with ties away from zero (integer operations on the bit patterns; `buf` is unused, kept for callers).
    A negative NaN whose payload has its top 11 mantissa bits set would wrap; the FPU never makes one.

    The two roundings are ((b + 0x1000) & TF32_MASK) + 0x8000, then & BF16_MASK. Clearing the low 13 bits
    between them cannot change the result: adding 0x8000 carries out of bit 15 exactly when bit 15 is set,
    whatever the bits below it, and those bits are masked off at the end. So it is (b + 0x9000) & BF16_MASK:
    two passes over the tensor instead of four (tests/sim/test_numerics.py checks the equality)."""
    d.view(torch.int32).add_(0x9000).bitwise_and_(_BF16_MASK)
    return d


def round_dst(x: torch.Tensor) -> torch.Tensor:
    """`round_dst_` of a copy: a value stored in a 16-bit Dst."""
    return round_dst_(x.to(torch.float32).clone())


def dst_store(x: torch.Tensor, fp32_acc: bool, ideal: bool = False) -> torch.Tensor:
    """An FPU result written to Dst: rounded to bf16 unless Dst is fp32 (or numerics are ideal)."""
    if ideal or fp32_acc:
        return x.to(torch.float32)
    return round_dst(x)


def dst_store_(x: torch.Tensor, fp32_acc: bool, ideal: bool = False) -> torch.Tensor:
    """`dst_store` of a fresh result the caller owns (an arithmetic expression's value): rounded in place
    instead of in a copy. Never pass a tensor something else holds (an operand, a stored value)."""
    if ideal or fp32_acc or x.dtype != torch.float32:
        return dst_store(x, fp32_acc, ideal)
    return round_dst_(x)


def sfpu_store(x: torch.Tensor, fp32_acc: bool, ideal: bool = False) -> torch.Tensor:
    """An SFPU result (computed in fp32) stored to Dst: truncated to bf16 in a 16-bit Dst."""
    if ideal or fp32_acc:
        return x.to(torch.float32)
    return _mask(x, _BF16_MASK)


# ------------------------------------------------------------------------------------------------
# Matrix multiply
# ------------------------------------------------------------------------------------------------

# A weight's SrcA slices are the same on every call: cut once while the weight tensor lives unchanged. The
# budget (TT_SIM_WEIGHT_CACHE_MB, default a quarter of the RAM, at most 8 GiB) bounds the bytes kept; past it,
# further weights are sliced per call rather than evicting others (a model runs its weights in the same order
# every call, which would make an evicting cache miss every time).
def _default_budget_mb() -> int:
    try:
        ram = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        ram = 8 << 30
    budget = min(8 << 30, ram // 4)
    try:                                    # a process with an address-space cap (torch-ttnn zoo's model runs)
        import resource
        cap = resource.getrlimit(resource.RLIMIT_AS)[0]
        if cap != resource.RLIM_INFINITY:
            budget = min(budget, cap // 8)
    except (ImportError, ValueError, OSError):
        pass
    return budget >> 20


def _slices_bytes(s: "Slices") -> int:
    return sum(v.numel() * v.element_size() for v in s._cache.values() if isinstance(v, torch.Tensor))


_WEIGHT_SLICES = TensorMemo(budget_bytes=int(os.environ.get("TT_SIM_WEIGHT_CACHE_MB", _default_budget_mb())) << 20,
                            size=_slices_bytes, evict=False)


# True once the slice memo ran out of room for cut slices (weight_slices): weights then keep their bfloat16 source
# register only, until the memo is empty again
_REGISTERS_ONLY = [False]


def weight_slices(w, fp32_acc: bool, bf16_exact: bool = False, fidelity=None, *, owner=None,
                  key=None) -> "Slices":
    """`Slices(w, "A", ...)`, remembered per weight tensor (a view of it keys on its base and its geometry).
    With `fidelity` and the native kernel, only the padded slices that fidelity multiplies are kept.
    owner, key: remember them under the tensor `owner` instead, `w` then being a callable that derives the
    weight matrix from it (a conv's, from its OIHW weights: made only when the slices are cut)."""
    compact = fidelity is not None and not fp32_acc and _native.library() is not None
    if owner is None:
        base = w if w._base is None else w._base
        key = (tuple(w.shape), tuple(w.stride()), w.storage_offset(), w.dtype)
    else:
        base = owner
    key = (key, fp32_acc, bf16_exact, int(MathFidelity(fidelity)) if compact else None)

    def cut(_):
        s = Slices(w if owner is None else w(), "A", fp32_acc, bf16_exact)
        if compact:
            names = sorted({pa for _, pa in phases(fidelity)}, key=("hi", "full", "lo").index)
            room = _WEIGHT_SLICES.room()
            if _WEIGHT_SLICES.bytes == 0:
                _REGISTERS_ONLY[0] = False
            if room is not None and (_REGISTERS_ONLY[0] or len(names) * _padded_numel(s.shape) * 4 > room):
                # the cut slices would not be remembered: from now on every weight keeps only its register (a
                # quarter of two slices), the ones remembered so far too, so that more of a large model fits
                if not _REGISTERS_ONLY[0]:
                    _REGISTERS_ONLY[0] = True
                    _WEIGHT_SLICES.shrink(Slices.to_source16)
                s.keep_source16(names)
                return s
            for pa in names:
                slice_ = s.padded(pa, _native.KSTEP, _native.NR)
                s._cache[pa + "?"] = _finite_nonzero(slice_)      # the padding adds only zeros
                if not s._cache[pa + "?"][1]:
                    del s._cache[(pa, _native.KSTEP, _native.NR)]
            s.compact()
        elif owner is None and s.x.untyped_storage().data_ptr() == base.untyped_storage().data_ptr():
            s._cache["x"] = s.x.clone()   # a remembered value must not keep its source alive (the memo's weak key)
        return s
    return _WEIGHT_SLICES.get(base, key, cut)


def _padded_numel(shape) -> int:
    """Elements of a weight of `shape` padded for the native kernel."""
    k, n = shape[-2], shape[-1]
    return math.prod(shape[:-2]) * (k + -k % _native.KSTEP) * (n + -n % _native.NR)


def _broadcast_batch(a: torch.Tensor, b: torch.Tensor):
    """Return (a, b, out_batch_shape, mode): mode "2d" folds a's batch into M (b has no batch)."""
    ba, bb = a.shape[:-2], b.shape[:-2]
    if all(d == 1 for d in bb):
        lead = tuple(ba) if len(ba) >= len(bb) else (1,) * (len(bb) - len(ba)) + tuple(ba)
        return a, b.reshape(b.shape[-2], b.shape[-1]), lead, "2d"
    batch = ba if ba == bb else torch.broadcast_shapes(ba, bb)
    a3 = a.expand(*batch, *a.shape[-2:]).reshape(-1, *a.shape[-2:])
    b3 = b.expand(*batch, *b.shape[-2:]).reshape(-1, *b.shape[-2:])
    return a3, b3, tuple(batch), "3d"


def _mm(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    return torch.matmul(x, y)


def fpu_matmul(a: torch.Tensor, b: torch.Tensor, fidelity, fp32_acc: bool, ideal: bool = False, *,
               a_bf16: bool = False, b_bf16: bool = False) -> torch.Tensor:
    """Dst content of ``a @ b`` computed by the matrix unit (before the packer).

    a: activations [..., M, K] (SrcB); b: weights [..., K, N] (SrcA); float32 values; batch dims broadcast
    like torch. Returns float32 [..., M, N] (bf16-valued when fp32_acc is False, unless ideal).
    a_bf16 / b_bf16: the operand holds bf16 values (`Slices`).
    """
    a = a.to(torch.float32)
    b = b.to(torch.float32)
    if ideal:
        return torch.matmul(a, b)
    if a.dim() < 2 or b.dim() < 2:
        raise ValueError("fpu_matmul needs operands of rank >= 2")
    M, K = a.shape[-2], a.shape[-1]
    N = b.shape[-1]
    a_, b_, batch, mode = _broadcast_batch(a, b)
    if mode == "2d":
        a_ = a_.reshape(-1, K)
    fid = MathFidelity(fidelity)

    sb = Slices(a_, "B", fp32_acc, a_bf16)   # activations -> SrcB
    sa = weight_slices(b_, fp32_acc, b_bf16, fid)   # weights -> SrcA

    if fp32_acc:
        if fid == MathFidelity.LoFi:
            out = _mm(sb["hi"], sa["hi"])
        elif fid == MathFidelity.HiFi2:
            out = _mm(sb["hi"], sa["full"])
        elif fid == MathFidelity.HiFi3:
            out = _mm(sb["hi"], sa["full"])
            out += _mm(sb["lo"], sa["hi"])
        else:
            out = _mm(sb["full"], sa["full"])
    else:
        out = _bf16_dst_matmul(sb, sa, fid)
    return out.reshape(*batch, M, N)


def fpu_conv_windows(xh: torch.Tensor, w_oihw: torch.Tensor, weight_matrix, groups: int, kh: int, kw: int, stride,
                     dilation, fidelity, *, a_bf16: bool = False, b_bf16: bool = False) -> Optional[torch.Tensor]:
    """Dst of a convolution with a 16-bit Dst, computed by the native kernel reading the windows of the padded
    NHWC input xh in place: the same bits as `fpu_matmul` of the windows matrix [G, N*OH*OW, KH*KW*Cg] by the
    weight matrix [G, KH*KW*Cg, Cout/G] (`weight_matrix()` makes it from w_oihw, whose slices are remembered).
    Returns [G, N*OH*OW, Cout/G], or None when the native library is unavailable."""
    if _native.library() is None:
        return None
    sb = Slices(xh, "B", False, a_bf16)
    sa = weight_slices(weight_matrix, False, b_bf16, fidelity, owner=w_oihw, key=("conv", groups))
    used = [(pb, pa) for pb, pa in phases(fidelity) if sa.nonzero(pa)]
    ng = w_oihw.shape[0] // groups
    if not used or math.prod(w_oihw.shape[1:]) == 0:
        n, h, w, _ = xh.shape
        oh = (h - dilation[0] * (kh - 1) - 1) // stride[0] + 1
        ow = (w - dilation[1] * (kw - 1) - 1) // stride[1] + 1
        return torch.zeros(groups, n * oh * ow, ng, dtype=torch.float32)
    # narrow groups (depthwise among them), every output channel at once: where the lanes read the activations
    # in place (one output channel a group, or groups filling blocks of 16 lanes), or a copy of at most 4x them
    if groups > 1 and ng < _native.NR and (ng == 1 or groups % 16 == 0 or ng <= 4):
        k = kh * kw * (xh.shape[-1] // groups)
        lanes = [sa.padded(pa, _native.KSTEP, _native.NR)[:, :k, :ng].permute(1, 2, 0).reshape(k, ng * groups)
                 for _, pa in used]                                                     # [K, o * G + g]
        y = _native.dst16_narrow_groups(xh, groups, ng, kh, kw, stride, dilation, [pb for pb, _ in used],
                                        *sb.masks(), lanes)
        if y is not None:
            return y.reshape(-1, groups, ng).transpose(0, 1)   # [G, M, Ng], a view of [M, C_out]
    weights, cut = sa.for_kernel([pa for _, pa in used])
    return _native.dst16_conv(xh, groups, kh, kw, stride, dilation, [pb for pb, _ in used], *sb.masks(), weights, ng,
                              cut)


def _bf16_dst_matmul(sb: Slices, sa: Slices, fid, native: bool = True) -> torch.Tensor:
    """Sequential accumulation in a 16-bit Dst: per K=16 step and fidelity pass, add then round.

    native: run it in the compiled kernel of torch_ttnn.sim._native when available (the same bits, as fast as
    an fp32 matmul); the torch loop below is the definition and the fallback."""
    if native and _native.library() is not None and sb.raw is not None:
        # the kernel cuts the activation slices as it loads them; a pass of all-zero activation slices adds
        # +0 to a Dst that is never -0, so it is run rather than detected (same bits)
        used = [(pb, pa) for pb, pa in phases(fid) if sa.nonzero(pa)]
        a = sb.raw if sb.raw.dim() == 3 else sb.raw.unsqueeze(0)
        n = sa.shape[-1]
        out_shape = (*sb.raw.shape[:-1], n)
        if not used or a.shape[-1] == 0:
            return torch.zeros(out_shape, dtype=torch.float32)
        w, cut = sa.for_kernel([pa for _, pa in used])
        w = [x if x.dim() == 3 else x.unsqueeze(0) for x in w]
        got = _native.dst16_matmul(a, [pb for pb, _ in used], *sb.masks(), w, n, cut)
        if got is not None:
            return got.reshape(out_shape)
    used = [(pb, pa) for pb, pa in phases(fid) if sb.nonzero(pb) and sa.nonzero(pa)]
    b_hi, a_hi = sb["hi"], sa["hi"]
    src_b = {p: sb[p] for p, _ in used}
    src_a = {p: sa[p] for _, p in used}
    K = b_hi.shape[-1]
    out_shape = (*b_hi.shape[:-1], a_hi.shape[-1])
    if not used or K == 0:
        return torch.zeros(out_shape, dtype=torch.float32)
    d = torch.zeros(out_shape, dtype=torch.float32)
    buf = torch.empty(out_shape, dtype=torch.bfloat16)
    accumulate = d.baddbmm_ if d.dim() == 3 else d.addmm_
    # the K=16 steps of each operand slice, as views: step c of a pass is x[..., 16c:16c+16] @ w[..., 16c:16c+16, :]
    steps_b = {p: src_b[p].split(K_STEP, dim=-1) for p in src_b}
    steps_a = {p: src_a[p].split(K_STEP, dim=-2) for p in src_a}
    passes = [(steps_b[pb], steps_a[pa]) for pb, pa in used]
    for c in range(-(-K // K_STEP)):
        for xs, ws in passes:
            accumulate(xs[c], ws[c])
            round_dst_(d, buf)
    return d


# ------------------------------------------------------------------------------------------------
# Reduce-sum
# ------------------------------------------------------------------------------------------------

def _scalar_slices(s: float, operand: str, fp32_acc: bool) -> dict:
    return dict(_scalar_slices_of(struct.pack("<d", s), operand, fp32_acc))


@functools.lru_cache(maxsize=1024)
def _scalar_slices_of(bits: bytes, operand: str, fp32_acc: bool) -> tuple:
    """The slices of a scaler value (remembered by its exact bits: a reduction sees the same few scalers)."""
    t = torch.tensor([struct.unpack("<d", bits)[0]], dtype=torch.float32)
    hi, lo, full = (split_srca if operand == "A" else split_srcb)(t, fp32_acc)
    return (("hi", float(hi[0])), ("lo", float(lo[0])), ("full", float(full[0])))


def fpu_reduce_sum(x: torch.Tensor, dims: Sequence[int], scaler: float, fidelity, fp32_acc: bool,
                   ideal: bool = False, *, input_operand: str = "A", keepdim: bool = True,
                   bf16_exact: bool = False, native: bool = True) -> torch.Tensor:
    """Dst content of ``sum(x * scaler)`` over `dims` computed by the matrix unit (before the packer).

    The reduced elements (the `dims`, flattened in row-major order) are taken 16 at a time; each 16-term
    partial of each fidelity pass is accumulated into Dst (rounded to bf16 when fp32_acc is off).
    input_operand: "A" (input in SrcA, scaler in SrcB; H and other reductions) or "B" (input in SrcB, scaler in
    SrcA; the W reduction that runs as a matmul). `scaler` is the value held in the scaler tile.
    bf16_exact: x holds bf16 values (`Slices`). native: run the 16-bit accumulation in the C kernel when it is
    available (same bits; False: the torch definition, for the tests).
    """
    x = x.to(torch.float32)
    dims = sorted(d % x.dim() for d in dims) if x.dim() else []
    if ideal:
        out = x.sum(dim=dims, keepdim=True) * scaler if dims else x * scaler
        return out if keepdim else _squeeze(out, dims)
    keep = [d for d in range(x.dim()) if d not in dims]
    xp = x.permute(*keep, *dims)
    kept_shape = [x.shape[d] for d in keep]
    R = 1
    for d in dims:
        R *= x.shape[d]
    flat = xp.reshape(-1, R)

    s_operand = "B" if input_operand == "A" else "A"
    xs = Slices(flat, input_operand, fp32_acc, bf16_exact)
    s = _scalar_slices(scaler, s_operand, fp32_acc)
    # fidelity pass list as (input slice, scaler slice)
    pass_list = []
    for pb, pa in phases(fidelity):
        pin, psc = (pa, pb) if input_operand == "A" else (pb, pa)
        pass_list.append((pin, psc))

    if fp32_acc:
        total = torch.zeros(flat.shape[0], dtype=torch.float32)
        # group passes by input slice; each term is exact (<= 10 x 9 significant bits)
        for pin, psc in pass_list:
            if s[psc] != 0.0:
                total += _times(xs[pin], s[psc]).sum(-1)
        out = total
    else:
        used = [(pin, psc) for pin, psc in pass_list if s[psc] != 0.0 and xs.nonzero(pin)]
        nck = -(-R // K_STEP)
        pad = nck * K_STEP - R
        partials = []
        for pin, psc in used:
            v = _times(xs[pin], s[psc])
            if pad:
                v = torch.nn.functional.pad(v, (0, pad))
            partials.append(v.reshape(-1, nck, K_STEP).sum(-1))
        out = None
        if partials and nck * len(partials) > 1 and native:
            # the same steps in one C loop: column c of every pass, then c + 1
            out = _native.dst16_accumulate(torch.stack(partials, dim=-1).reshape(flat.shape[0], -1))
        if out is None:
            d = torch.zeros(flat.shape[0], dtype=torch.float32)
            buf = torch.empty_like(d, dtype=torch.bfloat16)
            columns = [p.unbind(1) for p in partials]          # columns[i][c] is partials[i][:, c]
            for c in range(nck):
                for col in columns:
                    d.add_(col[c])
                    round_dst_(d, buf)
            out = d
    out = out.reshape(kept_shape)
    if keepdim:
        for d in dims:
            out = out.unsqueeze(d)
    return out


def _times(v: torch.Tensor, s: float) -> torch.Tensor:
    """The products v * s that a reduce-sum adds up. A scaler of 1 gives v itself: x * 1 == x exactly, except
    that a signaling NaN comes out quiet, which the sums the products go to do anyway."""
    return v if s == 1.0 else v * s


def _squeeze(t: torch.Tensor, dims: Sequence[int]) -> torch.Tensor:
    for d in sorted(dims, reverse=True):
        t = t.squeeze(d)
    return t


# ------------------------------------------------------------------------------------------------
# SFPU reciprocal
# ------------------------------------------------------------------------------------------------

_RECIP_SEED = 1.4426950408889634   # 1/ln 2: the initial guess held in a programmable SFPU constant


def sfpu_reciprocal(x: torch.Tensor, approx: bool) -> torch.Tensor:
    """The SFPU reciprocal: Newton-Raphson from a fixed seed on the mantissa scaled into [0.5, 1).

    The seed 1/ln2 is refined by r <- r * (2 - m*r), 2 steps in approximate mode and 3 otherwise. Every step
    squares the relative error, which is always an under-estimate: with 2 steps the result is 0% .. -3.84% low
    (worst at mantissas near 1, about -0.6% near 0.5); with 3 steps at most -0.15%.
    """
    x = x.to(torch.float32)
    m, e = torch.frexp(x.abs())                     # |x| = m * 2^e, m in [0.5, 1)
    r = torch.full_like(m, _RECIP_SEED)
    for _ in range(2 if approx else 3):
        r = r * (2.0 - m * r)
    out = torch.ldexp(r, -e) * torch.sign(x)
    if x.numel():
        lo, hi = torch.aminmax(x.abs())
        if float(lo) > 0.0 and float(hi) < math.inf:   # no zero, inf or NaN (a NaN fails both tests)
            return out
    out = torch.where(x == 0, torch.copysign(torch.full_like(x, float("inf")), x), out)
    out = torch.where(torch.isinf(x), torch.zeros_like(x), out)
    return torch.where(torch.isnan(x), x, out)
