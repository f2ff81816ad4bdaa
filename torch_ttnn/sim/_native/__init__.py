"""Native kernels of the simulator: C compiled on first use, loaded with ctypes, with a pure-torch fallback.

The 16-bit Dst accumulation of the matrix unit (a rounding after every K = 16 step and fidelity pass) is a
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
import hashlib
import logging
import os
import shutil
import subprocess
import tempfile
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Optional, Sequence

import torch

log = logging.getLogger(__name__)

_SOURCE = Path(__file__).with_name("dst16.c")
_FLAGS = ["-O3", "-march=native", "-fPIC", "-shared", "-ffp-contract=off"]
MR, NR, KSTEP = 8, 32, 16          # the tile of dst16.c: operands are padded to multiples of these
MAX_PASSES = 8

_lock = threading.Lock()
_state: dict = {}


def cache_dir() -> Path:
    root = os.environ.get("TORCH_TTNN_CACHE") or os.path.join(os.path.expanduser("~"), ".cache", "torch_ttnn")
    return Path(root) / "native"


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


def _build(cc: str) -> Path:
    source = _SOURCE.read_bytes()
    version = subprocess.run([cc, "--version"], capture_output=True, text=True, timeout=60).stdout
    key = hashlib.sha256(b"\0".join([source, " ".join(_FLAGS).encode(), version.encode(),
                                     _cpu_flags().encode()])).hexdigest()[:20]
    out = cache_dir() / key / "libdst16.so"
    if out.exists():
        return out
    out.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(suffix=".so", dir=out.parent)
    os.close(fd)
    try:
        r = subprocess.run([cc, *_FLAGS, "-o", tmp, str(_SOURCE)], capture_output=True, text=True, timeout=300)
        if r.returncode != 0:
            raise RuntimeError(f"{cc} failed on {_SOURCE.name}: {r.stderr.strip()[:2000]}")
        os.replace(tmp, out)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return out


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
                lib = ctypes.CDLL(str(_build(cc)))
                fn = lib.tt_dst16_matmul
                p, i = ctypes.c_void_p, ctypes.c_int64
                fn.argtypes = [ctypes.c_int, ctypes.POINTER(p), ctypes.POINTER(p), i, i, i, i, p,
                               i, i, i, i, i, i, i, i]
                fn.restype = None
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


def _padded(x: torch.Tensor, rows: int, cols: int) -> torch.Tensor:
    r, c = x.shape[-2], x.shape[-1]
    pr, pc = -r % rows, -c % cols
    if pr or pc:
        x = torch.nn.functional.pad(x, (0, pc, 0, pr))
    return x.contiguous()


_pool: dict = {}


def _executor(n: int) -> ThreadPoolExecutor:
    if n not in _pool:
        _pool[n] = ThreadPoolExecutor(max_workers=n, thread_name_prefix="tt-sim-dst16")
    return _pool[n]


def dst16_matmul(passes: Sequence[tuple[torch.Tensor, torch.Tensor]]) -> Optional[torch.Tensor]:
    """Dst after the 16-bit accumulation of sum over passes of a @ b, or None if the library is unavailable.

    passes: (activation slice [B, M, K], weight slice [B, K, N]) per fidelity pass, float32, in pass order;
    a weight slice with batch 1 is shared by every batch. Returns float32 [B, M, N]."""
    lib = library()
    if lib is None or not passes or len(passes) > MAX_PASSES:
        return None
    batch, m, k = passes[0][0].shape
    n = passes[0][1].shape[-1]
    a = [_padded(x.to(torch.float32), MR, KSTEP) for x, _ in passes]
    b = [_padded(w.to(torch.float32), KSTEP, NR) for _, w in passes]
    mp, kp = a[0].shape[-2:]
    np_ = b[0].shape[-1]
    d = torch.empty((batch, mp, np_), dtype=torch.float32)
    sb = 0 if b[0].shape[0] == 1 else kp * np_
    arr = ctypes.c_void_p * len(passes)
    ap, bp = arr(*[x.data_ptr() for x in a]), arr(*[w.data_ptr() for w in b])
    fn = lib.tt_dst16_matmul

    def run(b0: int, b1: int, m0: int, m1: int):
        off_a = [x.data_ptr() + 4 * b0 * mp * kp for x in a]
        off_b = [w.data_ptr() + 4 * (b0 * sb) for w in b]
        fn(len(passes), arr(*off_a), arr(*off_b), b1 - b0, mp, kp, np_, d.data_ptr() + 4 * b0 * mp * np_,
           kp, np_, np_, mp * kp, sb, mp * np_, m0, m1)

    threads = max(1, torch.get_num_threads())
    work = batch * mp * kp * np_
    if threads == 1 or work < (1 << 22):
        fn(len(passes), ap, bp, batch, mp, kp, np_, d.data_ptr(), kp, np_, np_, mp * kp, sb, mp * np_, 0, mp)
    else:
        jobs = []
        if batch >= threads:
            edges = [batch * i // threads for i in range(threads + 1)]
            jobs = [(edges[i], edges[i + 1], 0, mp) for i in range(threads) if edges[i] < edges[i + 1]]
        else:
            tiles = mp // MR
            edges = [MR * (tiles * i // threads) for i in range(threads + 1)]
            jobs = [(0, batch, edges[i], edges[i + 1]) for i in range(threads) if edges[i] < edges[i + 1]]
        list(_executor(threads).map(lambda j: run(*j), jobs))
    return d[:, :m, :n]
