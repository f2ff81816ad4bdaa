"""Sample inputs from PyTorch's own OpInfo database, for differential tests of lowering rules.

`samples(name, variant="")` yields (args, kwargs) for the op named `name` in
torch.testing._internal.common_methods_invocations.op_db, float32 on the CPU, limited to tensors of rank
1..4 with no zero-sized dimension (TT-NN tensors are rank >= 1 and non-empty).
"""
from __future__ import annotations

import functools

import torch


@functools.lru_cache(None)
def _db() -> dict:
    from torch.testing._internal.common_methods_invocations import op_db
    out = {}
    for info in op_db:
        out.setdefault((info.name, info.variant_test_name), info)
    return out


def opinfo(name: str, variant: str = ""):
    return _db().get((name, variant))


def _ok_tensor(t) -> bool:
    return isinstance(t, torch.Tensor) and 1 <= t.dim() <= 4 and t.numel() > 0 and all(d > 0 for d in t.shape)


def _tensors(x):
    if isinstance(x, torch.Tensor):
        return [x]
    if isinstance(x, (list, tuple)):
        return [t for v in x for t in _tensors(v)]
    if isinstance(x, dict):
        return [t for v in x.values() for t in _tensors(v)]
    return []


def samples(name: str, variant: str = "", *, dtype=torch.float32, limit: int = 4, requires_grad=False):
    """Up to `limit` OpInfo samples (op, args, kwargs) usable on TT-NN; empty if the op is not in op_db."""
    info = opinfo(name, variant)
    if info is None:
        return []
    out = []
    torch.manual_seed(0)
    for s in info.sample_inputs("cpu", dtype, requires_grad=requires_grad):
        args = (s.input,) + tuple(s.args)
        ts = _tensors(args) + _tensors(s.kwargs)
        if not ts or not all(_ok_tensor(t) for t in ts):
            continue
        if any(t.dtype.is_complex for t in ts):
            continue
        out.append((info.op, args, dict(s.kwargs)))
        if len(out) >= limit:
            break
    return out


def sample_ids(cases) -> list:
    ids = []
    for _, args, kwargs in cases:
        parts = []
        for a in args:
            if isinstance(a, torch.Tensor):
                parts.append("x".join(map(str, a.shape)))
            elif isinstance(a, (int, float, bool)):
                parts.append(repr(a))
        ids.append("-".join(parts) or "scalar")
    return ids
