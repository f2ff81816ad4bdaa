"""Dropout: gone from eval graphs; aten.native_dropout (training) -> ttnn.experimental.dropout.

The device's masks are not torch's (TT-NN has its own generator), so training-mode results are checked by
their properties: the dropped fraction, the scaling of the kept values, the mask agreeing with the output and
with the gradient, a new mask per call, reproducibility under torch.manual_seed."""
import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

import torch_ttnn

from .harness import check_lowered, compile_and_run, remaining_aten_ops, ttnn_targets
from .opinfo import samples


def test_eval_dropout_disappears(device):
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(16, 32), nn.Dropout(0.5), nn.ReLU(), nn.Dropout2d(0.2)).eval()
    option = check_lowered(model, (torch.randn(4, 16),), device=device)
    assert "dropout" not in ttnn_targets(option)
    aten = [str(n.target) for gm in option.results.aten_graph_modules for n in gm.graph.nodes]
    assert not any("dropout" in t for t in aten), aten


@pytest.mark.parametrize("op, args, kwargs", [
    pytest.param(op, args, kw, id=f"{'x'.join(map(str, args[0].shape))}-p{kw['p']}-{kw['training']}")
    for op, args, kw in samples("nn.functional.dropout", limit=12)
    if not (kw["training"] and 0.0 < kw["p"] < 1.0)   # random masks: see the property tests below
])
def test_dropout_opinfo_deterministic(device, op, args, kwargs):
    """OpInfo samples with a deterministic result: training=False, p=0 (identity), p=1 (all zero)."""
    check_lowered(lambda x: op(x, **kwargs), args, device=device, atol=0.0)


@pytest.mark.parametrize("shape, fp32", [((4, 64, 48), False), ((3, 100), False), ((2, 3, 16, 20), False),
                                         ((257,), False), ((6, 50), True)])
def test_training_mode_dropout_properties(device, shape, fp32):
    p = 0.3
    x = torch.randn(*shape)
    with torch.no_grad():
        out, option = compile_and_run(lambda x: F.dropout(x, p, training=True), (x,), device=device, fp32=fp32)
    assert remaining_aten_ops(option) == []
    assert "dropout" in ttnn_targets(option)
    assert out.shape == x.shape and out.dtype == x.dtype
    dropped = (out == 0).float().mean().item()
    n = x.numel()
    assert abs(dropped - p) < 4 * (p * (1 - p) / n) ** 0.5 + 0.01, dropped
    kept = out != 0
    tol = 1e-5 if fp32 else 1.6e-2
    torch.testing.assert_close(out[kept], x[kept] / (1 - p), rtol=tol, atol=tol)


def test_new_mask_per_call_and_seeded(device):
    x = torch.randn(8, 128)
    f = torch.compile(lambda x: F.dropout(x, 0.5, training=True), backend=torch_ttnn.backend,
                      options=torch_ttnn.TorchTtnnOption(device=device), dynamic=False)
    torch._dynamo.reset()
    with torch.no_grad():
        torch.manual_seed(1)
        a, b = f(x), f(x)
        torch.manual_seed(1)
        c = f(x)
    assert not torch.equal(a == 0, b == 0)   # a new mask per call
    assert torch.equal(a, c)                 # torch.manual_seed reproduces the run


def test_training_mask_matches_output_and_gradient(device):
    """The mask returned for the backward is the one applied to the output: grad = upstream * mask / (1-p)."""
    torch._dynamo.reset()
    option = torch_ttnn.TorchTtnnOption(device=device)
    p = 0.4
    f = torch.compile(lambda x: F.dropout(x, p, training=True) * 3.0, backend=torch_ttnn.backend, options=option,
                      dynamic=False)
    x = torch.randn(16, 40, requires_grad=True)
    y = f(x)
    y.sum().backward()
    assert remaining_aten_ops(option) == []
    assert "dropout" in ttnn_targets(option)
    kept = (y != 0).float()
    torch.testing.assert_close(x.grad, kept * 3.0 / (1 - p), rtol=1e-2, atol=1e-2)
    torch.testing.assert_close(y.detach(), x.detach() * kept * 3.0 / (1 - p), rtol=2e-2, atol=2e-2)


def test_training_model_with_dropout(device):
    """A small training step through Linear + Dropout: every op of the forward and backward graphs lowered."""
    torch.manual_seed(0)
    torch._dynamo.reset()
    model = nn.Sequential(nn.Linear(32, 64), nn.ReLU(), nn.Dropout(0.25), nn.Linear(64, 8)).train()
    option = torch_ttnn.TorchTtnnOption(device=device)
    compiled = torch.compile(model, backend=torch_ttnn.backend, options=option, dynamic=False)
    x = torch.randn(4, 32)
    out = compiled(x)
    out.pow(2).mean().backward()
    assert "dropout" in ttnn_targets(option)
    assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in model.parameters())
    assert not [op for op in remaining_aten_ops(option) if "dropout" in op]
