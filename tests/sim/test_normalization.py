"""Normalizations of the simulated device (torch_ttnn/sim/ops/normalization.py): softmax, scale_mask_softmax,
layer_norm, rms_norm, group_norm, batch_norm. References are torch (float64) on the bf16-rounded inputs."""
import pytest
import torch

import torch_ttnn.sim as ttnn
from torch_ttnn.sim.errors import TTNNError
from torch_ttnn.sim.formats import round_bf16_rne


def _t(device, x, dtype=ttnn.bfloat16, layout=ttnn.TILE_LAYOUT, **kw):
    return ttnn.from_torch(x, dtype=dtype, layout=layout, device=device, **kw)


def _bf16(*shape, scale=1.0):
    return round_bf16_rne(torch.randn(*shape) * scale)


def _np(t):
    return ttnn.to_torch(t).double()


@pytest.fixture
def ideal_device():
    dev = ttnn.open_device(device_id=3, numerics="ideal")
    yield dev
    ttnn.close_device(dev)


# ------------------------------------------------------------------------------------------------
# softmax
# ------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("shape,dim", [((45,), -1), ((7, 45), -1), ((7, 45), 0), ((2, 3, 33, 64), -1),
                                       ((2, 3, 33, 64), 1)])
def test_softmax_matches_torch(device, shape, dim):
    x = _bf16(*shape, scale=2.0)
    out = ttnn.softmax(_t(device, x), dim)
    ref = torch.softmax(x.double(), dim)
    assert out.dtype == ttnn.bfloat16 and out.layout == ttnn.TILE_LAYOUT
    # approximate reciprocal: up to -3.9%, plus bf16 steps
    assert torch.allclose(_np(out), ref, rtol=0.05, atol=2e-3)


def test_softmax_not_numerically_stable_and_fp32(device):
    x = _bf16(4, 100)
    a = _np(ttnn.softmax(_t(device, x), numeric_stable=False))
    assert torch.allclose(a, torch.softmax(x.double(), -1), rtol=0.05, atol=2e-3)
    x32 = torch.randn(4, 100)
    out = ttnn.softmax(_t(device, x32, ttnn.float32))
    assert out.dtype == ttnn.float32
    assert torch.allclose(_np(out), torch.softmax(x32.double(), -1), rtol=0.04, atol=1e-4)
    exact = ttnn.WormholeComputeKernelConfig(math_fidelity=ttnn.MathFidelity.HiFi4, math_approx_mode=False,
                                             fp32_dest_acc_en=True)
    out = ttnn.softmax(_t(device, x32, ttnn.float32), compute_kernel_config=exact)
    assert torch.allclose(_np(out), torch.softmax(x32.double(), -1), rtol=3e-3, atol=1e-5)


def test_softmax_bias_visible_at_width_8192_in_hardware_mode_only(device, ideal_device):
    x = _bf16(4, 8192)
    hw = _np(ttnn.softmax(_t(device, x))).sum(-1)
    ideal = _np(ttnn.softmax(_t(ideal_device, x))).sum(-1)
    assert (hw - 1).abs().mean() > 0.03          # 16-bit Dst row sum + approximate reciprocal
    assert (ideal - 1).abs().max() < 0.01
    # the same op with an fp32 Dst keeps only the reciprocal's small bias
    cfg = ttnn.WormholeComputeKernelConfig(math_fidelity=ttnn.MathFidelity.HiFi4, fp32_dest_acc_en=True)
    acc32 = _np(ttnn.softmax(_t(device, x), compute_kernel_config=cfg)).sum(-1)
    assert (acc32 - 1).abs().max() < 0.04 and (acc32 <= 1.0 + 2e-3).all()


def test_scale_mask_softmax(device):
    x, mask = _bf16(2, 1, 32, 64), round_bf16_rne(torch.where(torch.rand(1, 1, 32, 64) < 0.3, -1e4, 0.0))
    out = ttnn.scale_mask_softmax(_t(device, x), 0.5, _t(device, mask))
    ref = torch.softmax(x.double() * 0.5 + mask.double(), -1)
    assert torch.allclose(_np(out), ref, rtol=0.05, atol=2e-3)
    # a ROW_MAJOR mask: one padded row as [1, 1, W/32, 32] sticks
    row = round_bf16_rne(torch.where(torch.rand(64) < 0.5, -1e4, 0.0))
    rm = _t(device, row.reshape(1, 1, 2, 32), layout=ttnn.ROW_MAJOR_LAYOUT)
    out = ttnn.scale_mask_softmax(_t(device, x), None, rm)
    assert torch.allclose(_np(out), torch.softmax(x.double() + row.double(), -1), rtol=0.05, atol=2e-3)


def test_softmax_refusals(device):
    x = _bf16(4, 40)
    with pytest.raises(TTNNError, match="TILE"):
        ttnn.softmax(_t(device, x, layout=ttnn.ROW_MAJOR_LAYOUT))
    with pytest.raises(TTNNError, match="on a device"):
        ttnn.softmax(ttnn.from_torch(x, dtype=ttnn.bfloat16, layout=ttnn.TILE_LAYOUT))
    with pytest.raises(TTNNError, match="out of range"):
        ttnn.softmax(_t(device, x), 2)
    with pytest.raises(TTNNError, match="broadcast"):
        ttnn.scale_mask_softmax(_t(device, x), 1.0, _t(device, _bf16(3, 40)))


# ------------------------------------------------------------------------------------------------
# layer_norm, rms_norm
# ------------------------------------------------------------------------------------------------

def _ln_ref(x, w=None, b=None, eps=1e-5):
    return torch.nn.functional.layer_norm(x.double(), (x.shape[-1],), None if w is None else w.double(),
                                          None if b is None else b.double(), eps=eps)


@pytest.mark.parametrize("shape", [(45,), (7, 45), (2, 3, 33, 64)])
def test_layer_norm(device, shape):
    x = round_bf16_rne(_bf16(*shape, scale=3.0) + 1.0)
    out = ttnn.layer_norm(_t(device, x), epsilon=1e-5)
    assert torch.allclose(_np(out), _ln_ref(x), rtol=0.02, atol=0.02)


def test_layer_norm_weight_bias_residual(device):
    x, res = _bf16(5, 96), _bf16(5, 96)
    w, b = _bf16(96), _bf16(96)
    # TILE [1, W] parameters
    out = ttnn.layer_norm(_t(device, x), epsilon=1e-5, weight=_t(device, w.reshape(1, 96)),
                          bias=_t(device, b.reshape(1, 96)), residual_input_tensor=_t(device, res))
    ref = _ln_ref(round_bf16_rne(x + res), w, b)
    assert torch.allclose(_np(out), ref, rtol=0.03, atol=0.05)
    # ROW_MAJOR [W/32, 32] parameters
    out = ttnn.layer_norm(_t(device, x), epsilon=1e-5,
                          weight=_t(device, w.reshape(3, 32), layout=ttnn.ROW_MAJOR_LAYOUT),
                          bias=_t(device, b.reshape(3, 32), layout=ttnn.ROW_MAJOR_LAYOUT))
    assert torch.allclose(_np(out), _ln_ref(x, w, b), rtol=0.03, atol=0.05)
    with pytest.raises(TTNNError, match="weight"):
        ttnn.layer_norm(_t(device, x), weight=_t(device, w.reshape(96, 1)))


def test_rms_norm(device):
    x, w = _bf16(3, 40, 64, scale=2.0), _bf16(64)
    out = ttnn.rms_norm(_t(device, x), epsilon=1e-6, weight=_t(device, w.reshape(1, 64)))
    xd = x.double()
    ref = xd * torch.rsqrt(xd.pow(2).mean(-1, keepdim=True) + 1e-6) * w.double()
    assert torch.allclose(_np(out), ref, rtol=0.03, atol=0.03)


def test_norms_are_exactish_in_ideal_mode(ideal_device):
    x = _bf16(4, 64)
    out = _np(ttnn.layer_norm(_t(ideal_device, x), epsilon=1e-5))
    assert torch.equal(out.float(), round_bf16_rne(_ln_ref(x).float()))


def test_norm_refusals(device):
    x = _bf16(4, 64)
    with pytest.raises(TTNNError, match="TILE"):
        ttnn.layer_norm(_t(device, x, layout=ttnn.ROW_MAJOR_LAYOUT))
    with pytest.raises(TTNNError, match="residual_input_tensor"):
        ttnn.rms_norm(_t(device, x), residual_input_tensor=_t(device, _bf16(4, 32)))
    u = _t(device, torch.ones(4, 64, dtype=torch.int32), ttnn.int32)
    with pytest.raises(TTNNError, match="dtype INT32"):
        ttnn.rms_norm(u)


# ------------------------------------------------------------------------------------------------
# group_norm
# ------------------------------------------------------------------------------------------------

def _group_ref(x, groups, w=None, b=None, eps=1e-5):
    nchw = x.double().permute(0, 3, 1, 2)
    y = torch.nn.functional.group_norm(nchw, groups, None if w is None else w.double(),
                                       None if b is None else b.double(), eps=eps)
    return y.permute(0, 2, 3, 1)


def test_group_norm(device):
    n, hw, c, groups = 2, 50, 64, 8
    x = round_bf16_rne(_bf16(n, 1, hw, c, scale=2.0) + 0.5)
    w, b = _bf16(c), _bf16(c)
    mask = _t(device, torch.ones(1, groups, 32, 32))
    out = ttnn.group_norm(_t(device, x), num_groups=groups, epsilon=1e-5, input_mask=mask,
                          weight=_t(device, w.reshape(1, 1, c // 32, 32), layout=ttnn.ROW_MAJOR_LAYOUT),
                          bias=_t(device, b.reshape(1, 1, c // 32, 32), layout=ttnn.ROW_MAJOR_LAYOUT))
    assert out.layout == ttnn.TILE_LAYOUT and list(out.shape) == [n, 1, hw, c]
    assert torch.allclose(_np(out), _group_ref(x, groups, w, b), rtol=0.03, atol=0.05)


def test_group_norm_refusals(device):
    x = _bf16(1, 1, 64, 64)
    with pytest.raises(TTNNError, match=r"\[N, 1, H\*W, C\]"):
        ttnn.group_norm(_t(device, _bf16(1, 2, 32, 64)), num_groups=4)
    with pytest.raises(TTNNError, match="multiple of 32"):
        ttnn.group_norm(_t(device, _bf16(1, 1, 32, 48)), num_groups=4)
    with pytest.raises(TTNNError, match="TILE"):
        ttnn.group_norm(_t(device, x, layout=ttnn.ROW_MAJOR_LAYOUT), num_groups=4)
    with pytest.raises(TTNNError, match="ROW_MAJOR"):
        ttnn.group_norm(_t(device, x), num_groups=4, weight=_t(device, _bf16(1, 1, 2, 32)))


# ------------------------------------------------------------------------------------------------
# batch_norm
# ------------------------------------------------------------------------------------------------

def test_batch_norm_inference(device):
    x = _bf16(2, 3, 20, 40, scale=2.0)
    rm, rv = _bf16(1, 3, 1, 1), round_bf16_rne(torch.rand(1, 3, 1, 1) + 0.5)
    w, b = _bf16(1, 3, 1, 1), _bf16(1, 3, 1, 1)
    out = ttnn.batch_norm(_t(device, x), running_mean=_t(device, rm), running_var=_t(device, rv),
                          weight=_t(device, w), bias=_t(device, b))
    ref = torch.nn.functional.batch_norm(x.double(), rm.reshape(-1).double(), rv.reshape(-1).double(),
                                         w.reshape(-1).double(), b.reshape(-1).double(), False, 0.1, 1e-5)
    assert torch.allclose(_np(out), ref, rtol=0.03, atol=0.05)


def test_batch_norm_training_updates_running_stats(device):
    x = round_bf16_rne(_bf16(4, 3, 8, 8) + 2.0)
    rm_t, rv_t = torch.zeros(1, 3, 1, 1), torch.ones(1, 3, 1, 1)
    rm, rv = _t(device, rm_t, ttnn.float32), _t(device, rv_t, ttnn.float32)
    out = ttnn.batch_norm(_t(device, x), running_mean=rm, running_var=rv, training=True, momentum=0.1)
    trm, trv = rm_t.reshape(-1).double().clone(), rv_t.reshape(-1).double().clone()
    ref = torch.nn.functional.batch_norm(x.double(), trm, trv, None, None, True, 0.1, 1e-5)
    assert torch.allclose(_np(out), ref, rtol=0.03, atol=0.05)
    assert torch.allclose(_np(rm).reshape(-1), trm, atol=1e-4)
    assert torch.allclose(_np(rv).reshape(-1), trv, atol=1e-4)


def test_batch_norm_refusals(device):
    x = _bf16(2, 3, 8, 8)
    with pytest.raises(TTNNError, match="running_mean and running_var"):
        ttnn.batch_norm(_t(device, x))
    with pytest.raises(TTNNError, match="rank 4"):
        ttnn.batch_norm(_t(device, _bf16(3, 8, 8)), training=True)
    with pytest.raises(TTNNError, match=r"\[1, 3, 1, 1\]"):
        ttnn.batch_norm(_t(device, x), running_mean=_t(device, _bf16(3)), running_var=_t(device, _bf16(3)))
    with pytest.raises(TTNNError, match="TILE"):
        ttnn.batch_norm(_t(device, x, layout=ttnn.ROW_MAJOR_LAYOUT), training=True)


# ------------------------------------------------------------------------------------------------
# Oracle: the real wheel's golden functions
# ------------------------------------------------------------------------------------------------

def test_matches_real_golden_functions(device):
    real_ttnn = pytest.importorskip("ttnn")
    x = _bf16(2, 3, 32, 64)
    ref = real_ttnn.get_golden_function(real_ttnn.softmax)(x, -1)
    assert torch.allclose(_np(ttnn.softmax(_t(device, x), -1)).float(), ref, rtol=0.05, atol=2e-3)
    w, b = _bf16(64), _bf16(64)
    ref = real_ttnn.get_golden_function(real_ttnn.layer_norm)(x.clone(), epsilon=1e-5, weight=w, bias=b)
    got = ttnn.layer_norm(_t(device, x), epsilon=1e-5, weight=_t(device, w.reshape(1, 64)),
                          bias=_t(device, b.reshape(1, 64)))
    assert torch.allclose(_np(got).float(), ref, rtol=0.03, atol=0.05)
    ref = real_ttnn.get_golden_function(real_ttnn.rms_norm)(x, epsilon=1e-5, weight=w)
    got = ttnn.rms_norm(_t(device, x), epsilon=1e-5, weight=_t(device, w.reshape(1, 64)))
    assert torch.allclose(_np(got).float(), ref.float(), rtol=0.03, atol=0.05)
    g = _bf16(1, 1, 64, 64)
    ref = real_ttnn.get_golden_function(real_ttnn.group_norm)(g, num_groups=4, epsilon=1e-5)
    got = ttnn.group_norm(_t(device, g), num_groups=4, epsilon=1e-5)
    assert torch.allclose(_np(got).float(), ref, rtol=0.03, atol=0.05)
    rm, rv = torch.zeros(1, 2, 1, 1), torch.ones(1, 2, 1, 1)
    bn = _bf16(2, 2, 8, 8)
    ref = real_ttnn.get_golden_function(real_ttnn.batch_norm)(bn, running_mean=rm, running_var=rv)
    got = ttnn.batch_norm(_t(device, bn), running_mean=_t(device, rm), running_var=_t(device, rv))
    assert torch.allclose(_np(got).float(), ref, rtol=0.03, atol=0.05)


def test_in_place_variants_write_the_input(device):
    x, mask = _bf16(2, 32, 64), round_bf16_rne(torch.where(torch.rand(1, 32, 64) < 0.3, -1e4, 0.0))
    t = _t(device, x)
    used = device.memory_stats()
    out = ttnn.softmax_in_place(t)
    assert out is t and device.memory_stats() == used
    assert torch.equal(_np(t), _np(ttnn.softmax(_t(device, x))))
    t2 = _t(device, x)
    out = ttnn.scale_mask_softmax_in_place(t2, 0.25, _t(device, mask))
    assert out is t2
    assert torch.allclose(_np(t2), torch.softmax(x.double() * 0.25 + mask.double(), -1), rtol=0.05, atol=2e-3)
