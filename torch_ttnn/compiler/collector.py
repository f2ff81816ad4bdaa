"""Python's full garbage collections held off while a program compiles.

Compiling allocates hundreds of thousands of short-lived objects (fx nodes, metas, fake tensors). Each time
enough of them survive into the oldest generation, CPython runs a full collection, which walks every tracked
object of the process: torch, transformers, the model itself, millions of them. On MobileNetV2 two such
collections cost ~0.4 s of a 4.6 s first call (ResNet-50: ~0.5 s). `quiet_collector()` raises the oldest
generation's threshold for its duration, so only the young generations are collected (what the compilation
itself made and dropped, in cycles or not); on exit the threshold is restored and the next full collection
comes as it would have. An explicit `gc.collect()` still collects everything.

Nested uses change the threshold once; a process whose collector is disabled is left alone.
"""
from __future__ import annotations

import gc
import threading
from contextlib import contextmanager

_lock = threading.Lock()
_depth = 0
_saved = None        # the thresholds to restore (None: the outermost entry changed nothing)
_NO_FULL = 1 << 30   # collections of the younger generation needed before a full one: never during a compile


@contextmanager
def quiet_collector():
    global _depth, _saved
    with _lock:
        if _depth == 0:
            _saved = None
            if gc.isenabled():
                _saved = gc.get_threshold()
                gc.set_threshold(_saved[0], _saved[1], _NO_FULL)
        _depth += 1
    try:
        yield
    finally:
        with _lock:
            _depth -= 1
            if _depth == 0 and _saved is not None:
                gc.set_threshold(*_saved)
                _saved = None
