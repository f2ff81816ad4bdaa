"""A 1x1 convolution that no TT-NN conv2d layout can hold (the device refuses every one of them: weight blocks
spanning K that block sharding cannot split) runs as ttnn.linear over its pixel rows; others stay convolutions."""
import pytest
import torch

import torch_ttnn
from torch_ttnn.compiler.passes.wide_conv import conv_fits

GRID, BANK = (8, 8), 1447584       # n150's compute grid and a core's L1 as the simulated device reports them


@pytest.mark.parametrize("cin,cout,hw,weight_tile,fits", [
    (256, 64, 56, 2048, True),      # ResNet-50's 1x1 convolutions
    (1024, 256, 14, 2048, True),
    (2048, 512, 7, 1088, True),
    (528, 528, 96, 1088, True),     # fits with bfloat8_b weights ...
    (528, 528, 96, 2048, False),    # ... not with bfloat16's
    (528, 1056, 96, 1088, False),   # regnet_y_128gf's second stage: 17 and 33 channel tiles share no divisor
])
def test_conv_fits(cin, cout, hw, weight_tile, fits):
    assert conv_fits(in_channels=cin, out_channels=cout, batch=1, height=hw, width=hw, bias=False, grid=GRID,
                     bank_size=BANK, act_tile=2048, weight_tile=weight_tile) is fits


def _conv_model(cin, cout):
    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Conv2d(cin, cout, 1, bias=True), torch.nn.ReLU()).eval()


def test_wide_conv_runs_as_linear(device):
    m = _conv_model(528, 1056)
    x = torch.randn(1, 528, 96, 96)
    opt = torch_ttnn.TorchTtnnOption(device=device)
    cm = torch.compile(m, backend=torch_ttnn.backend, options=opt)
    with torch.no_grad():
        out, ref = cm(x), m(x)
    assert out.shape == ref.shape
    pcc = torch.corrcoef(torch.stack([out.flatten(), ref.flatten()]))[0, 1].item()
    assert pcc >= 0.99
    report = opt.results.reports[-1]
    assert report.convs_as_matmul == [(528, 1056, 96 * 96)]
    assert report.ttnn_ops.get("conv2d", 0) == 0 and report.ttnn_ops.get("linear", 0) >= 1
    assert not report.fallbacks


def test_a_conv_that_fits_stays_a_conv(device):
    m = _conv_model(64, 128)
    opt = torch_ttnn.TorchTtnnOption(device=device)
    cm = torch.compile(m, backend=torch_ttnn.backend, options=opt)
    with torch.no_grad():
        cm(torch.randn(1, 64, 28, 28))
    report = opt.results.reports[-1]
    assert report.convs_as_matmul == [] and report.ttnn_ops.get("conv2d", 0) == 1
