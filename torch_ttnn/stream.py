"""Streaming inference: `torch_ttnn.stream(model, batches)` writes each next batch to the device while the current
one runs, as TT-NN's own model demos do with two command queues.

A call of a compiled model is synchronous: its inputs go to the device, the program runs, its outputs come back.
For a sequence of batches the host transfer of the next batch need not wait for the current program: on a device
opened with two command queues (torch_ttnn.open_device opens its devices so) a traced program (compiler/trace.py)
runs on queue 0 while queue 1 writes the next batch into a staging buffer in DRAM; at the next call queue 0 copies
the staging buffer into the program's input (ttnn.assign) and replays the trace. Events order the two queues:
the next write waits until the staging buffer has been copied, the copy waits until the write is done.

    for logits in torch_ttnn.stream(compiled_model, loader):
        ...

Each batch is a tensor, a tuple of positional arguments, or a dict of keyword arguments; outputs come in order,
each before the next batch runs. A batch's inputs are paired with the next batch's by position (same structure,
shapes and dtypes); a prefetched input is used only if the call receives that very tensor unchanged (its version
counter), so nothing the user modifies in between is missed. Programs that are not traced, devices with one
command queue and inputs computed on the host before their upload run as plain calls, with the same results.
"""
from __future__ import annotations

import contextlib
import threading
from typing import Any, Callable, Iterable, Iterator

import torch
import torch.utils._pytree as pytree

_STATE = threading.local()


def upcoming(tensor) -> torch.Tensor | None:
    """Inside stream(): the tensor that takes `tensor`'s place in the next batch, or None."""
    nxt = getattr(_STATE, "next", None)
    return None if nxt is None else nxt.get(id(tensor))


def _pairs(cur, nxt) -> dict:
    """id(tensor of `cur`) -> the tensor at the same place in `nxt`, for tensors of the same shape and dtype."""
    a, spec_a = pytree.tree_flatten(cur)
    b, spec_b = pytree.tree_flatten(nxt)
    if spec_a != spec_b:
        return {}
    return {id(x): y for x, y in zip(a, b) if isinstance(x, torch.Tensor) and isinstance(y, torch.Tensor)
            and x.shape == y.shape and x.dtype == y.dtype and x is not y}


@contextlib.contextmanager
def _next_batch(pairs: dict):
    before = getattr(_STATE, "next", None)
    _STATE.next = pairs
    try:
        yield
    finally:
        _STATE.next = before


def _call(fn: Callable, batch: Any):
    if isinstance(batch, dict):
        return fn(**batch)
    if isinstance(batch, (tuple, list)):
        return fn(*batch)
    return fn(batch)


_END = object()


def stream(fn: Callable, batches: Iterable) -> Iterator:
    """Yield fn(batch) for each batch, the next batch's inputs written to the device during the current call."""
    if not callable(fn):
        raise TypeError(f"torch_ttnn.stream: fn must be callable (a model compiled with backend='ttnn'), got "
                        f"{type(fn).__name__}")
    it = iter(batches)
    cur = next(it, _END)
    while cur is not _END:
        nxt = next(it, _END)
        with _next_batch(_pairs(cur, nxt) if nxt is not _END else {}):
            out = _call(fn, cur)
        yield out
        cur = nxt
