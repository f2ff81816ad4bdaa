"""Native kernels of the simulator: C compiled on first use, loaded with ctypes, with a pure-torch fallback.

Two kernels: the matrix unit's 16-bit Dst accumulation (dst16.c) and block-float quantization (bfp.c, with
AVX-512 paths where the CPU has them: the same steps lane for lane). The
16-bit Dst accumulation of the matrix unit (a rounding after every K = 16 step and fidelity pass) is a
sequential loop that torch can only run as one small matmul and two bit operations per step; `dst16.c` runs
it as one blocked loop nest, as fast as an fp32 GEMM. It computes exactly the bits of the torch path
(tests/sim/test_native.py compares them), so the native path is only a speed-up: without a C compiler, or with
``TT_SIM_NATIVE=0``, the simulator takes the torch path and gives the same results.

The shared object is built with the system C compiler (``$CC``, else ``cc``) for this CPU (-march=native) into
``$TORCH_TTNN_CACHE`` (default ``~/.cache/torch_ttnn``)/native/<key>/, the key hashing the source, the flags,
the compiler's version and the CPU's feature flags, so a cache shared between different machines never loads
code built for another CPU. Parallel processes building at once each write a private file and rename it.
"""
from __future__ import annotations

import ctypes
import functools
import hashlib
import logging
import os
import shutil
import struct
import subprocess
import tempfile
import threading
from pathlib import Path
from typing import Optional, Sequence

import torch

log = logging.getLogger(__name__)

_SOURCES = [Path(__file__).with_name(n) for n in ("dst16.c", "bfp.c")]
_FLAGS = ["-O3", "-march=native", "-fPIC", "-shared", "-ffp-contract=off", "-fopenmp"]
MR, NR, KSTEP = 12, 32, 16         # the tile of dst16.c; weight slices are padded to multiples of KSTEP x NR
MAX_PASSES = 8

_lock = threading.Lock()
_state: dict = {}


def cache_dir() -> Path:
    from ...local import cache_root
    return cache_root() / "native"


def _cpu_flags() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith(("flags", "Features")):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    import platform
    return platform.machine() + platform.processor()


def _compiler() -> Optional[str]:
    cc = os.environ.get("CC") or "cc"
    return shutil.which(cc)


def _build(cc: str, extra_flags: Sequence[str] = ()) -> Path:
    """The library built for this CPU (`extra_flags` after the usual ones: the tests build it without AVX-512
    too, to check the portable loops against the vector ones)."""
    flags = [*_FLAGS, *extra_flags]
    sources = [p.read_bytes() for p in _SOURCES]
    version = subprocess.run([cc, "--version"], capture_output=True, text=True, timeout=60).stdout
    key = hashlib.sha256(b"\0".join(sources + [" ".join(flags).encode(), version.encode(),
                                               _cpu_flags().encode()])).hexdigest()[:20]
    out = cache_dir() / key / "libttsim.so"
    if out.exists():
        return out
    out.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(suffix=".so", dir=out.parent)
    os.close(fd)
    try:
        r = subprocess.run([cc, *flags, "-o", tmp, *map(str, _SOURCES)], capture_output=True, text=True,
                           timeout=300)
        if r.returncode != 0:       # a compiler without OpenMP: the same kernels on one thread
            r = subprocess.run([cc, *[f for f in flags if f != "-fopenmp"], "-o", tmp, *map(str, _SOURCES)],
                               capture_output=True, text=True, timeout=300)
        if r.returncode != 0:
            raise RuntimeError(f"{cc} failed on {', '.join(p.name for p in _SOURCES)}: {r.stderr.strip()[:2000]}")
        os.replace(tmp, out)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return out


def load(path: Path):
    """The library at `path`, its functions typed for ctypes."""
    lib = ctypes.CDLL(str(path))
    p, i, c, u = ctypes.c_void_p, ctypes.c_int64, ctypes.c_int, ctypes.c_uint32
    signatures = {
        "tt_dst16_matmul": [c, ctypes.POINTER(c), u, u, p, p, p, ctypes.POINTER(p), i, i, i, i, p, i, i, i, i, i,
                            c, ctypes.POINTER(c), u, u],
        "tt_quantize_bfp": [p, p, i, c, c, c],
        "tt_quantize_bfp_rows": [p, p, i, i, u, c, c, c],
        "tt_conv_epilogue": [p, p, p, i, i, c, c, c],
        "tt_dst16_depthwise": [c, ctypes.POINTER(c), u, u, p, p, p, ctypes.POINTER(p), i, i, i, i, p],
        "tt_pack_masked": [p, p, i, i, i, i, i, i, i, i, u],
        "tt_round_bf16": [p, p, i, c],
        "tt_dst16_accumulate": [p, i, i, p],
        "tt_table_lookup": [p, p, p, i],
        "tt_channel_norm": [p, p, i, i, i, p, p, p, p, c],
    }
    for name, args in signatures.items():
        fn = getattr(lib, name)
        fn.argtypes, fn.restype = args, None
    return lib


def library():
    """The loaded kernel library, or None (disabled by TT_SIM_NATIVE=0, no C compiler, or a failed build;
    the reason is logged once and kept in ``unavailable_reason()``)."""
    if "lib" in _state:
        return _state["lib"]
    with _lock:
        if "lib" in _state:
            return _state["lib"]
        lib, reason = None, None
        if os.environ.get("TT_SIM_NATIVE", "1") == "0":
            reason = "disabled by TT_SIM_NATIVE=0"
        elif (cc := _compiler()) is None:
            reason = "no C compiler found (set CC)"
        else:
            try:
                lib = load(_build(cc))
            except (OSError, RuntimeError, subprocess.SubprocessError) as e:
                lib, reason = None, str(e)
        if lib is None:
            log.info("simulator native kernels unavailable (%s): using the torch path, same results, slower",
                     reason)
        _state["lib"], _state["reason"] = lib, reason
        return lib


def unavailable_reason() -> Optional[str]:
    library()
    return _state.get("reason")


def padded(x: torch.Tensor, rows: int, cols: int) -> torch.Tensor:
    """x zero-padded to multiples of (rows, cols) in its last two dims, float32 and contiguous."""
    r, c = x.shape[-2], x.shape[-1]
    pr, pc = -r % rows, -c % cols
    x = x.to(torch.float32)
    if pr or pc:
        x = torch.nn.functional.pad(x, (0, pc, 0, pr))
    return x.contiguous()


SLICE_KINDS = {"hi": 0, "full": 1, "lo": 2}


def dst16_matmul(a: torch.Tensor, kinds: Sequence[str], hi_mask: int, full_mask: int,
                 b: Sequence[torch.Tensor], n: int, cut=None) -> Optional[torch.Tensor]:
    """Dst after the 16-bit accumulation of sum over passes p of slice_p(a) @ b[p], or None if the library is
    unavailable.

    a: activations [B, M, K] (the kernel cuts their slices `kinds[p]`, "hi"/"full"/"lo", with the two masks,
    as numerics.Slices does); b: the weight slice of each pass, `padded` to [B or 1, K', N'] (K' a multiple of
    KSTEP, N' of NR; batch 1 is shared by every batch). Returns float32 [B, M, n].
    cut: None, or (weight slice kinds, hi mask, full mask) when b holds, for every pass, the same int16 tensor of
    the weights' bfloat16 bit patterns, which the kernel cuts as it reads them (numerics.Slices.for_kernel)."""
    a = a.to(torch.float32).contiguous()
    batch, m, k = a.shape
    return _run(a, _offsets(m, k), _offsets(k, 1), m * k, batch, m, k, kinds, hi_mask, full_mask, b, n, cut)


def dst16_conv(x_nhwc: torch.Tensor, groups: int, kh: int, kw: int, stride, dilation, kinds: Sequence[str],
               hi_mask: int, full_mask: int, b: Sequence[torch.Tensor], n: int, cut=None) -> Optional[torch.Tensor]:
    """The convolution of the (already padded) NHWC input as the matmul of its windows, read in place.

    Rows are the output pixels (n, oy, ox), K is ordered (ky, kx, c) within a group as TT-NN lays out conv
    weights; b: each pass's weight slice padded to [G, K', N'] (N' >= channels per group). Returns float32
    [G, N*OH*OW, n]. cut: as dst16_matmul's."""
    x = x_nhwc.to(torch.float32).contiguous()
    cg = x.shape[-1] // groups
    rows, ks, m, k = _windows(tuple(x.shape), cg, kh, kw, tuple(stride), tuple(dilation))
    return _run(x, rows, ks, cg, groups, m, k, kinds, hi_mask, full_mask, b, n, cut)


def dst16_narrow_groups(x_nhwc: torch.Tensor, groups: int, og: int, kh: int, kw: int, stride, dilation,
                        kinds: Sequence[str], hi_mask: int, full_mask: int,
                        w: Sequence[torch.Tensor]) -> Optional[torch.Tensor]:
    """dst16_conv of a grouped convolution with few output channels a group (og; depthwise: og = 1 and one input
    channel a group), every output channel of a pixel at once instead of a group at a time padded to NR
    columns: the same bits. Lane j = o * groups + g is output channel o of group g; the kernel reads lane j's
    input at [pixel][ci][j % period] of the activations laid out [pixel][ci][g] (period = groups) when the
    groups fill whole blocks of 16 lanes, else of a copy laid out [pixel][ci][o][g] (og copies of each value,
    period = all the lanes). w: each pass's weight slice as [KH*KW*Cg, og * groups] (lane order). Returns
    float32 [N*OH*OW, C_out] in channel order (g * og + o)."""
    lib = library()
    if lib is None or not w or len(w) > MAX_PASSES:
        return None
    nb, h, wd, c = x_nhwc.shape
    cg, lanes = c // groups, og * groups
    x = x_nhwc.to(torch.float32)
    period = groups if og == 1 or groups % 16 == 0 else lanes
    if cg > 1:                 # [.., g, ci] -> [.., ci, g]
        x = x.reshape(nb, h, wd, groups, cg).transpose(3, 4)
    if period != groups:       # -> [.., ci, o, g]
        x = x.reshape(nb, h, wd, cg, 1, groups).expand(nb, h, wd, cg, og, groups)
    x = x.reshape(nb, h, wd, cg * period).contiguous()
    rows, ks, m, k = _windows(tuple(x.shape), cg, kh, kw, tuple(stride), tuple(dilation), period)
    w = [t.to(torch.float32).contiguous() for t in w]
    if any(tuple(t.shape) != (k, lanes) for t in w):
        raise ValueError(f"grouped weight slices must be [{k}, {lanes}], got {[list(t.shape) for t in w]}")
    d = torch.empty((m, lanes), dtype=torch.float32)
    if m == 0:
        return d
    kind = (ctypes.c_int * len(w))(*[SLICE_KINDS[x] for x in kinds])
    arr = ctypes.c_void_p * len(w)
    lib.tt_dst16_depthwise(len(w), kind, ctypes.c_uint32(hi_mask & 0xFFFFFFFF),
                           ctypes.c_uint32(full_mask & 0xFFFFFFFF), x.data_ptr(), rows.data_ptr(), ks.data_ptr(),
                           arr(*[t.data_ptr() for t in w]), m, k, lanes, period, d.data_ptr())
    if og == 1:
        return d
    return d.reshape(m, og, groups).transpose(1, 2).reshape(m, lanes)


@functools.lru_cache(maxsize=256)
def _windows(shape, cg: int, kh: int, kw: int, stride, dilation, channel_stride: int = 1):
    """(row offsets, K offsets, M, K) of a convolution's windows in a contiguous NHWC input of `shape`: output
    pixel (n, oy, ox) starts at rows[m], its tap (ky, kx, c) of a group's cg channels is at ks[k] from there
    (channel c at c * channel_stride). Remembered (a model's convolutions repeat a few geometries); the tables
    are read, never written."""
    nb, h, w, c = shape
    sh, sw = stride
    dh, dw = dilation
    oh = (h - dh * (kh - 1) - 1) // sh + 1
    ow = (w - dw * (kw - 1) - 1) // sw + 1
    sy, sx = w * c, c
    rows = (torch.arange(nb).view(-1, 1, 1) * (h * w * c) + torch.arange(oh).view(1, -1, 1) * (sh * sy)
            + torch.arange(ow).view(1, 1, -1) * (sw * sx)).reshape(-1)
    ks = (torch.arange(kh).view(-1, 1, 1) * (dh * sy) + torch.arange(kw).view(1, -1, 1) * (dw * sx)
          + torch.arange(cg).view(1, 1, -1) * channel_stride).reshape(-1)
    return rows.contiguous(), ks.contiguous(), rows.numel(), ks.numel()


_OFFSETS: dict = {}


def _offsets(count: int, step: int) -> torch.Tensor:
    """[0, step, 2 * step, ...] (count values), kept for reuse."""
    key = (count, step)
    t = _OFFSETS.get(key)
    if t is None:
        if len(_OFFSETS) > 256:
            _OFFSETS.clear()
        t = _OFFSETS[key] = torch.arange(count, dtype=torch.int64) * step
    return t


def _run(a: torch.Tensor, roff: torch.Tensor, koff: torch.Tensor, sa: int, batch: int, m: int, k: int,
         kinds: Sequence[str], hi_mask: int, full_mask: int, b: Sequence[torch.Tensor], n: int, cut=None):
    lib = library()
    if lib is None or not b or len(b) > MAX_PASSES:
        return None
    kp, np_ = b[0].shape[-2:]
    if kp < k or kp % KSTEP or np_ % NR:
        raise ValueError(f"weight slices of shape {list(b[0].shape)} are not padded for K={k}")
    d = torch.empty((batch, m, np_), dtype=torch.float32)
    if m == 0 or batch == 0:
        return d[..., :n]
    roff = roff.to(torch.int64).contiguous()
    koff = koff.to(torch.int64).contiguous()
    sb = 0 if b[0].shape[0] == 1 else kp * np_
    kind = (ctypes.c_int * len(b))(*[SLICE_KINDS[x] for x in kinds])
    arr = ctypes.c_void_p * len(b)
    masks = (ctypes.c_uint32(hi_mask & 0xFFFFFFFF), ctypes.c_uint32(full_mask & 0xFFFFFFFF))
    if cut is None:
        weights = (0, None, ctypes.c_uint32(0), ctypes.c_uint32(0))
        if any(w.dtype != torch.float32 or not w.is_contiguous() for w in b):
            raise ValueError("cut weight slices must be contiguous float32")
    else:
        wkinds, whi, wfull = cut
        if len(wkinds) != len(b) or any(w.dtype != torch.int16 or not w.is_contiguous() for w in b):
            raise ValueError("uncut weights must be one contiguous int16 tensor of bfloat16 bit patterns a pass")
        weights = (1, (ctypes.c_int * len(b))(*[SLICE_KINDS[x] for x in wkinds]),
                   ctypes.c_uint32(whi & 0xFFFFFFFF), ctypes.c_uint32(wfull & 0xFFFFFFFF))
    lib.tt_dst16_matmul(len(b), kind, *masks, a.data_ptr(), roff.data_ptr(), koff.data_ptr(),
                        arr(*[w.data_ptr() for w in b]), batch, m, k, np_, d.data_ptr(), np_, np_, sa, sb, m * np_,
                        *weights)
    return d[..., :n]


def quantize_bfp(x: torch.Tensor, mant_bits: int, ties_away: bool, packer: bool = False) -> Optional[torch.Tensor]:
    """formats._quantize_blocks in C (same bits), or None if the library is unavailable. x: float32 whose last
    dim is a multiple of 16. packer=True first stores each value to bfloat16 as the packer does
    (formats.round_bf16_packer), in the same pass."""
    lib = library()
    if lib is None:
        return None
    src = x.to(torch.float32).contiguous()
    out = torch.empty_like(src)
    lib.tt_quantize_bfp(src.data_ptr(), out.data_ptr(), src.numel() // 16, mant_bits, int(ties_away), int(packer))
    return out


def quantize_bfp_rows(x: torch.Tensor, fill: float, mant_bits: int, ties_away: bool,
                      packer: bool = False) -> Optional[torch.Tensor]:
    """quantize_bfp of x padded on the right (last dim) with `fill` up to a multiple of 16, cut back to x's
    shape, without making the padded copy; None if the library is unavailable."""
    lib = library()
    if lib is None:
        return None
    src = x.to(torch.float32).contiguous()
    out = torch.empty_like(src)
    w = src.shape[-1] if src.dim() else 1
    bits = struct.unpack("<I", struct.pack("<f", fill))[0]      # the float32 pattern of the padding value
    lib.tt_quantize_bfp_rows(src.data_ptr(), out.data_ptr(), src.numel() // max(w, 1), w, bits, mant_bits,
                             int(ties_away), int(packer))
    return out


BF16_ROUNDINGS = {"packer": 0, "sfpu": 1}


def round_bf16(x: torch.Tensor, rounding: str) -> Optional[torch.Tensor]:
    """float32 -> the bfloat16 values the device stores (formats.round_bf16_packer / truncate_bf16) in one pass,
    or None if the library is unavailable."""
    lib = library()
    if lib is None:
        return None
    src = x.to(torch.float32).contiguous()
    out = torch.empty_like(src)
    lib.tt_round_bf16(src.data_ptr(), out.data_ptr(), src.numel(), BF16_ROUNDINGS[rounding])
    return out


def table_lookup(table: torch.Tensor, v: torch.Tensor) -> Optional[torch.Tensor]:
    """table[the bfloat16 pattern of each value of v] (v: float32 holding bfloat16 values; table: 65536 float32),
    or None if the library is unavailable."""
    lib = library()
    if lib is None or v.dtype != torch.float32 or table.dtype != torch.float32 or table.numel() != 65536:
        return None
    src = v.contiguous()
    tab = table.contiguous()
    out = torch.empty_like(src)
    lib.tt_table_lookup(src.data_ptr(), tab.data_ptr(), out.data_ptr(), src.numel())
    return out


def dst16_accumulate(partials: torch.Tensor) -> Optional[torch.Tensor]:
    """Add partials[:, s] into a 16-bit Dst for s = 0, 1, ... rounding after every add (numerics.round_dst_),
    per row, or None if the library is unavailable. partials: float32 [rows, steps]."""
    lib = library()
    if lib is None:
        return None
    part = partials.to(torch.float32).t().contiguous()
    out = torch.empty(partials.shape[0], dtype=torch.float32)
    lib.tt_dst16_accumulate(part.data_ptr(), part.shape[0], part.shape[1], out.data_ptr())
    return out


def conv_epilogue(y: torch.Tensor, bias: Optional[torch.Tensor], round16: bool, relu: int,
                  bfp8: bool) -> Optional[torch.Tensor]:
    """A convolution's output stored in one pass (bfp.c tt_conv_epilogue: bias, 16-bit Dst rounding, relu (1) or
    relu6 (2), the packer's bfloat16 or bfloat8_b); None if the library is unavailable. y: contiguous float32
    [rows, cols]."""
    lib = library()
    if lib is None or y.dim() != 2 or y.dtype != torch.float32 or not y.is_contiguous():
        return None
    rows, cols = y.shape
    if bfp8 and cols % 16:
        return None
    b = bias.to(torch.float32).contiguous() if bias is not None else None
    out = torch.empty_like(y)
    lib.tt_conv_epilogue(y.data_ptr(), b.data_ptr() if b is not None else None, out.data_ptr(), rows, cols,
                         int(round16), int(relu), int(bfp8))
    return out


def channel_norm(x: torch.Tensor, mean: torch.Tensor, rstd: torch.Tensor, weight: Optional[torch.Tensor],
                 bias: Optional[torch.Tensor], round16: bool) -> Optional[torch.Tensor]:
    """A batch norm's per-channel steps in one pass (bfp.c tt_channel_norm: (x - mean) * rstd * weight + bias,
    each step rounded as a 16-bit Dst stores it when round16); None if the library is unavailable. x: float32
    [N, C, ...]; the others: C values each (weight, bias may be None)."""
    lib = library()
    if lib is None or x.dim() < 2 or x.dtype != torch.float32:
        return None
    c = x.shape[1]
    per = [None if v is None else v.to(torch.float32).reshape(-1).contiguous() for v in (mean, rstd, weight, bias)]
    if any(v is not None and v.numel() != c for v in per):
        raise ValueError(f"channel_norm: per-channel values must have {c} elements")
    src = x.contiguous()
    out = torch.empty_like(src)
    lib.tt_channel_norm(src.data_ptr(), out.data_ptr(), x.shape[0], c, src.numel() // max(x.shape[0] * c, 1),
                        *[None if v is None else v.data_ptr() for v in per], int(round16))
    return out


def pack_masked(x: torch.Tensor, mask: int, rows: int, cols: int) -> Optional[torch.Tensor]:
    """(x & mask) zero-padded to multiples of (rows, cols) in its last two dims, contiguous, from x with any
    strides (one blocked pass; None if the library is unavailable). x: float32 of rank 2 or 3."""
    lib = library()
    if lib is None or x.dim() not in (2, 3) or x.dtype != torch.float32:
        return None
    x3 = x if x.dim() == 3 else x.unsqueeze(0)
    b, k, n = x3.shape
    kp, np_ = k + (-k % rows), n + (-n % cols)
    out = torch.empty((b, kp, np_), dtype=torch.float32)    # the kernel writes [.., :k, :n]; the rest is zeroed here
    out[:, k:].zero_()
    out[:, :k, n:].zero_()
    sb, sk, sn = x3.stride()
    lib.tt_pack_masked(x3.data_ptr(), out.data_ptr(), b, k, n, sb, sk, sn, kp, np_,
                       ctypes.c_uint32(mask & 0xFFFFFFFF))
    return out if x.dim() == 3 else out[0]
