"""Convolution activations kept in shards between convolutions (compiler/passes/placement.py): a convolution
read only by another convolution writes its output in the L1 shards that one reads (the layout and split TT-NN
runs it with, torch_ttnn/conv_rules.py), so neither the reshard of an interleaved input nor the move out of the
shards runs; the simulator validates the shard spec and models both programs."""
import pytest
import torch
import torch.nn as nn

import torch_ttnn
from torch_ttnn.compiler.passes import placement

from .harness import pcc


def _bottleneck():
    torch.manual_seed(0)
    return nn.Sequential(nn.Conv2d(64, 32, 1), nn.ReLU(), nn.Conv2d(32, 32, 3, padding=1), nn.ReLU(),
                         nn.Conv2d(32, 64, 1)).eval()


def _run(device, model, x):
    torch._dynamo.reset()
    option = torch_ttnn.TorchTtnnOption(device=device)
    c = torch.compile(model, backend=torch_ttnn.backend, options=option)
    with torch.no_grad():
        c(x)
        device.profiler.reset()
        device.profiler.rows.clear()
        device.profiler.recording = True
        y = c(x)
    notes = [r.cost.note for r in device.profiler.rows if r.op == "conv2d"]
    gm = option.results.graph_modules[-1]
    configs = [str(n.kwargs["memory_config"].target) for n in gm.graph.nodes
               if getattr(n.target, "__name__", "") == "conv2d"]
    return y, device.profiler.totals.kernel_us, notes, configs


def test_convolution_chain_runs_on_shards_and_is_modelled_faster(device, monkeypatch):
    model, x = _bottleneck(), torch.randn(2, 64, 28, 28)
    with torch.no_grad():
        ref = model(x)
    y, t, notes, configs = _run(device, model, x)
    assert [c.startswith(placement.SHARDS) for c in configs] == [True, True, False]
    assert all("reshard" not in n for n in notes[1:]), notes       # the second and third read their shards
    assert pcc(y, ref) >= 0.99

    monkeypatch.setattr(placement.L1Placement, "_sharded_edge", lambda self, gm, n: None)
    y0, t0, notes0, configs0 = _run(device, model, x)
    assert not any(c.startswith(placement.SHARDS) for c in configs0)
    assert all("reshard" in n for n in notes0)
    assert t < t0
    torch.testing.assert_close(y, y0, rtol=0, atol=0)


def test_convolution_read_by_two_ops_stays_interleaved(device):
    """The shards are the reading convolution's: a value also read by another op (a residual add) is not
    written in them."""
    class Residual(nn.Module):
        def __init__(self):
            super().__init__()
            self.a, self.b = nn.Conv2d(32, 32, 1), nn.Conv2d(32, 32, 3, padding=1)

        def forward(self, x):
            h = self.a(x)
            return self.b(h) + h

    torch.manual_seed(0)
    model, x = Residual().eval(), torch.randn(1, 32, 28, 28)
    with torch.no_grad():
        ref = model(x)
    y, _, _, configs = _run(device, model, x)
    assert not configs[0].startswith(placement.SHARDS)
    assert pcc(y, ref) >= 0.99
