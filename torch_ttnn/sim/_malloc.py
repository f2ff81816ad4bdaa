"""glibc malloc settings suited to the simulator (a speed setting; it changes no result).

A simulated op allocates and frees several tensor-sized buffers (its operands' bit slices, intermediate Dst
values, the rounded output). With glibc's default settings, big freed blocks go back to the kernel (munmap, or a
trim of the heap top) and the next allocation faults every page in again, zero-filled: for a 1024x1024 op that
page-fault traffic costs more than the arithmetic, and on whole models it is a large share of the run time.

`tune()` keeps freed blocks below 32 MiB in the process for reuse (M_MMAP_THRESHOLD 32 MiB, M_TRIM_THRESHOLD
256 MiB). open_device() calls it once. It does nothing when TT_SIM_MALLOC_TUNING=0, when the process already sets
glibc's own MALLOC_MMAP_THRESHOLD_ / MALLOC_TRIM_THRESHOLD_ / MALLOC_TOP_PAD_, or off glibc. The cost: a process
keeps up to about 256 MiB of freed memory instead of returning it to the system.
"""
from __future__ import annotations

import ctypes
import os
import sys
from typing import Optional

ENV_VAR = "TT_SIM_MALLOC_TUNING"
_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3
MMAP_THRESHOLD = 32 << 20          # glibc's upper limit for M_MMAP_THRESHOLD on 64-bit
TRIM_THRESHOLD = 256 << 20
_GLIBC_VARS = ("MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_", "MALLOC_TOP_PAD_")

_applied: Optional[bool] = None    # None until tune() first runs


def tune() -> bool:
    """Apply the settings once per process; True if they are in effect."""
    global _applied
    if _applied is None:
        _applied = _apply()
    return _applied


def _apply() -> bool:
    if os.environ.get(ENV_VAR, "1") == "0" or any(v in os.environ for v in _GLIBC_VARS):
        return False
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(None)
        libc.gnu_get_libc_version       # glibc only
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes = (ctypes.c_int, ctypes.c_int)
    mallopt.restype = ctypes.c_int
    return bool(mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD)) and bool(mallopt(_M_TRIM_THRESHOLD, TRIM_THRESHOLD))
