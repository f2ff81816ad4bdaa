"""Differential testing of lowering rules: compile with the TT-NN backend, compare with eager, and check
that the op was really lowered (its TT-NN target appears, no aten op remains)."""
from __future__ import annotations

import operator

import torch
import torch._dynamo

import torch_ttnn
from torch_ttnn.compiler.meta import tt_meta


def pcc(a: torch.Tensor, b: torch.Tensor) -> float:
    a = a.detach().to(torch.float64).flatten()
    b = b.detach().to(torch.float64).flatten()
    if a.numel() == 0:
        return 1.0
    if torch.equal(a, b):
        return 1.0
    if a.numel() == 1 or a.std() == 0 or b.std() == 0:
        return 1.0 if torch.allclose(a, b, rtol=2e-2, atol=2e-2) else 0.0
    return float(torch.corrcoef(torch.stack([a, b]))[0, 1])


def flatten(x) -> list:
    if isinstance(x, torch.Tensor):
        return [x]
    if isinstance(x, (list, tuple)):
        return [t for v in x for t in flatten(v)]
    if isinstance(x, dict):
        return [t for v in x.values() for t in flatten(v)]
    if hasattr(x, "to_tuple"):
        return flatten(x.to_tuple())
    return []


def remaining_aten_ops(option) -> list:
    """aten ops left on the host in the compiled graphs (host helpers and plumbing excluded)."""
    out = []
    for g in option._out_fx_graphs:
        for n in g.nodes:
            if n.op == "call_function" and isinstance(n.target, torch._ops.OpOverload):
                out.append(str(n.target))
    return out


def ttnn_targets(option) -> list:
    return [getattr(n.target, "__name__", str(n.target)) for g in option._out_fx_graphs for n in g.nodes
            if n.op == "call_function" and not isinstance(n.target, torch._ops.OpOverload)
            and n.target is not operator.getitem]


def run_recorded(model, x, *, device, **option_kwargs):
    """(output, option) of a compiled model's steady call (its second), each launch of it recorded in
    device.profiler.rows."""
    torch._dynamo.reset()
    option = torch_ttnn.TorchTtnnOption(device=device, **option_kwargs)
    c = torch.compile(model, backend=torch_ttnn.backend, options=option)
    with torch.no_grad():
        c(x)
        device.profiler.reset()
        device.profiler.rows.clear()
        device.profiler.recording = True
        y = c(x)
    return y, option


def compile_and_run(fn, args, kwargs=None, *, device, **option_kwargs):
    torch._dynamo.reset()
    option = torch_ttnn.TorchTtnnOption(device=device, **option_kwargs)
    compiled = torch.compile(fn, backend=torch_ttnn.backend, options=option, dynamic=False)
    out = compiled(*args, **(kwargs or {}))
    return out, option


def check_lowered(fn, args, kwargs=None, *, device, expect=(), min_pcc=0.99, atol=None, rtol=None,
                  allow_remaining=(), **option_kwargs):
    """Run `fn` eagerly and compiled; assert agreement and that every aten op was lowered."""
    with torch.no_grad():
        ref = fn(*args, **(kwargs or {}))
        out, option = compile_and_run(fn, args, kwargs, device=device, **option_kwargs)
    left = [op for op in remaining_aten_ops(option) if op not in allow_remaining]
    assert not left, f"aten ops left on the host: {left}\n{torch_ttnn.lowering_report(option)}"
    targets = ttnn_targets(option)
    for name in expect:
        assert name in targets, f"expected ttnn.{name} in the compiled graph, got {sorted(set(targets))}"
    refs, outs = flatten(ref), flatten(out)
    assert len(refs) == len(outs)
    for r, o in zip(refs, outs):
        assert o.shape == r.shape, f"shape {tuple(o.shape)} != eager {tuple(r.shape)}"
        assert o.dtype == r.dtype, f"dtype {o.dtype} != eager {r.dtype}"
        if not r.dtype.is_floating_point:
            assert torch.equal(o, r), f"integer/bool result differs from eager:\n{o}\n{r}"
        elif atol is not None:
            torch.testing.assert_close(o.float(), r.float(), atol=atol, rtol=rtol or 0.0, equal_nan=True)
        else:
            p = pcc(o, r)
            assert p >= min_pcc, f"PCC {p:.5f} < {min_pcc}"
    return option
