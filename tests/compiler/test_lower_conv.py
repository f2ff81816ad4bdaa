"""Differential tests of the convolution lowering (aten.convolution -> ttnn.conv2d / conv1d / conv_transpose2d):
OpInfo samples and hand-written cases (channels not multiples of 32, batch 2, groups, depthwise, modules whose
parameters go through the load-once cache), compared with eager in bfloat16 (PCC >= 0.99)."""
import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

import torch_ttnn

from .harness import check_lowered, compile_and_run, remaining_aten_ops, ttnn_targets
from .opinfo import sample_ids, samples

OPINFO = [
    # (OpInfo name, expected ttnn op, how many samples)
    ("nn.functional.conv2d", "conv2d", 12),
    ("nn.functional.conv1d", "conv2d", 4),
    ("nn.functional.conv_transpose2d", "conv_transpose2d", 6),
    ("nn.functional.conv_transpose1d", "conv_transpose2d", 3),
]


def _spread(cases, k):
    if len(cases) <= k:
        return cases
    step = len(cases) / k
    return [cases[int(i * step)] for i in range(k)]


def _opinfo_cases():
    out = []
    for name, expect, k in OPINFO:
        cases = _spread(samples(name, limit=100), k)
        for (op, args, kwargs), sid in zip(cases, sample_ids(cases)):
            out.append(pytest.param(op, args, kwargs, expect, id=f"{name.split('.')[-1]}-{sid}-{len(out)}"))
    return out


@pytest.mark.parametrize("op, args, kwargs, expect", _opinfo_cases())
def test_conv_opinfo(device, op, args, kwargs, expect):
    check_lowered(lambda *a: op(*a, **kwargs), args, device=device, expect=(expect,))


def _r(*shape):
    return torch.randn(*shape)


HAND = [
    # name, fn, args, expected ttnn op
    ("conv2d-c3-o5-pad1-bias", lambda x, w, b: F.conv2d(x, w, b, padding=1), (_r(2, 3, 9, 7), _r(5, 3, 3, 3), _r(5)),
     "conv2d"),
    ("conv2d-c40-o36-stride2", lambda x, w: F.conv2d(x, w, stride=2, padding=1), (_r(2, 40, 13, 11), _r(36, 40, 3, 3)),
     "conv2d"),
    ("conv2d-1x1", lambda x, w, b: F.conv2d(x, w, b), (_r(2, 33, 6, 5), _r(17, 33, 1, 1), _r(17)), "conv2d"),
    ("conv2d-dilated-asym", lambda x, w: F.conv2d(x, w, stride=(2, 1), padding=(2, 1), dilation=(2, 3)),
     (_r(1, 6, 12, 10), _r(4, 6, 3, 2)), "conv2d"),
    ("conv2d-groups", lambda x, w, b: F.conv2d(x, w, b, groups=3, padding=1), (_r(2, 12, 8, 8), _r(9, 4, 3, 3), _r(9)),
     "conv2d"),
    ("conv2d-depthwise", lambda x, w, b: F.conv2d(x, w, b, groups=24, padding=2, stride=2),
     (_r(2, 24, 15, 15), _r(24, 1, 5, 5), _r(24)), "conv2d"),
    ("conv2d-depthwise-multiplier", lambda x, w: F.conv2d(x, w, groups=8, padding=1),
     (_r(1, 8, 7, 9), _r(16, 1, 3, 3)), "conv2d"),
    ("conv2d-large-kernel", lambda x, w: F.conv2d(x, w, stride=4, padding=3), (_r(1, 3, 40, 40), _r(8, 3, 7, 7)),
     "conv2d"),
    ("conv1d-bias-stride", lambda x, w, b: F.conv1d(x, w, b, stride=2, padding=2), (_r(2, 3, 20), _r(5, 3, 4), _r(5)),
     "conv2d"),
    ("conv1d-depthwise-dilated", lambda x, w: F.conv1d(x, w, groups=6, dilation=2, padding=2),
     (_r(2, 6, 17), _r(6, 1, 3)), "conv2d"),
    ("conv_transpose2d-stride2-outpad", lambda x, w, b: F.conv_transpose2d(x, w, b, stride=2, padding=1,
                                                                           output_padding=1),
     (_r(2, 3, 9, 7), _r(3, 5, 3, 3), _r(5)), "conv_transpose2d"),
    ("conv_transpose2d-groups-dilated", lambda x, w: F.conv_transpose2d(x, w, stride=(2, 3), groups=2, dilation=2),
     (_r(1, 4, 5, 6), _r(4, 3, 3, 2)), "conv_transpose2d"),
    ("conv_transpose2d-k2s2", lambda x, w, b: F.conv_transpose2d(x, w, b, stride=2),
     (_r(1, 36, 7, 7), _r(36, 20, 2, 2), _r(20)), "conv_transpose2d"),
    ("conv_transpose1d", lambda x, w, b: F.conv_transpose1d(x, w, b, stride=2, padding=1, output_padding=1),
     (_r(2, 3, 20), _r(3, 5, 4), _r(5)), "conv_transpose2d"),
]


@pytest.mark.parametrize("fn, args, expect", [pytest.param(f, a, e, id=n) for n, f, a, e in HAND])
def test_conv_hand(device, fn, args, expect):
    check_lowered(fn, args, device=device, expect=(expect,))


def test_conv_modules_parameters_cached(device):
    """nn.Conv2d / ConvTranspose2d modules: weights and biases come from the load-once cache (host ttnn
    tensors), are prepared on the device once (ParamCache.derive), and the second call moves only the input
    and the output."""
    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(3, 16, 3, padding=1), nn.ReLU(), nn.ConvTranspose2d(16, 8, 2, stride=2)).eval()
    x = torch.randn(2, 3, 10, 12)
    option = check_lowered(model, (x,), device=device, expect=("conv2d", "conv_transpose2d"))
    caches = [gm.param_cache for gm in option.results.graph_modules if hasattr(gm, "param_cache")]
    assert caches and sum(c.conversions for c in caches) == 4   # 2 weights + 2 biases, once
    g = option._out_fx_graphs[0]
    conv = next(n for n in g.nodes if getattr(n.target, "__name__", "") == "conv2d")
    bias, weight = conv.kwargs["bias_tensor"], conv.kwargs["weight_tensor"]
    assert bias.op == "call_method" and bias.args[2] == "prepare_conv_bias"
    assert weight.op == "call_method" and weight.args[2] == "prepare_conv_weights"
    compiled = torch.compile(model, backend=torch_ttnn.backend, options=option)
    with torch.no_grad():
        compiled(x)
        device.counters.reset()
        compiled(x)
    assert device.counters.to_device == 1 and device.counters.from_device == 1
    assert "prepare_conv_weights" not in device.counters.op_launches


def test_conv_weights_computed_on_device(device):
    """Weights that are a device value (here scaled by an element-wise op) come back to the host as the conv
    weight operand."""
    x, w, b = torch.randn(2, 4, 8, 8), torch.randn(6, 4, 3, 3), torch.randn(6)
    check_lowered(lambda x, w, b: F.conv2d(x, torch.tanh(w), b * 2, padding=1), (x, w, b), device=device,
                  expect=("conv2d", "tanh"))


def test_conv_bfloat16_model(device):
    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(3, 12, 3, padding=1), nn.ReLU(), nn.Conv2d(12, 5, 3)).eval().to(torch.bfloat16)
    check_lowered(model, (torch.randn(2, 3, 10, 10, dtype=torch.bfloat16),), device=device, expect=("conv2d",))


def test_conv_fp32_option(device):
    x, w, b = torch.randn(2, 5, 9, 9), torch.randn(7, 5, 3, 3), torch.randn(7)
    check_lowered(lambda x, w, b: F.conv2d(x, w, b, padding=1), (x, w, b), device=device, expect=("conv2d",),
                  min_pcc=0.9999, fp32=True)


def test_conv_then_host_op_keeps_aten_shape(device):
    """The lowered conv stands for the NCHW aten value: a host fallback after it sees the aten layout."""
    def f(x, w):
        return torch.special.bessel_j0(F.conv2d(x, w, padding=1))
    x, w = torch.randn(2, 3, 8, 6) * 0.3, torch.randn(4, 3, 3, 3) * 0.3
    with torch.no_grad():
        out, option = compile_and_run(f, (x, w), device=device)
    torch.testing.assert_close(out, f(x, w), rtol=0.05, atol=0.05)
    assert remaining_aten_ops(option) == ["aten.special_bessel_j0.default"]
    assert "conv2d" in ttnn_targets(option)


def test_conv3d_falls_back_with_reason(device):
    x, w = torch.randn(1, 2, 4, 5, 6), torch.randn(3, 2, 2, 2, 2)
    with torch.no_grad():
        out, option = compile_and_run(lambda x, w: F.conv3d(x, w), (x, w), device=device)
    torch.testing.assert_close(out, F.conv3d(x, w))
    assert remaining_aten_ops(option) == ["aten.convolution.default"]
    assert "3-d convolution" in torch_ttnn.lowering_report(option)
