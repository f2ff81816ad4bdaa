"""Convolutions of the simulated device (torch_ttnn/sim/ops/conv.py): conv2d, conv1d, conv_transpose2d."""
import pytest
import torch
import torch.nn.functional as F

import torch_ttnn.sim as ttnn
from torch_ttnn.sim import formats
from torch_ttnn.sim.errors import OutOfMemoryError, TTNNError
from torch_ttnn.sim.ops.conv import fidelity_terms


def bf16(*shape, scale=1.0):
    return (torch.randn(*shape) * scale).to(torch.bfloat16).to(torch.float32)


def nhwc_flat(x):
    n, c, h, w = x.shape
    return x.permute(0, 2, 3, 1).reshape(1, 1, n * h * w, c)


def from_flat(t, n, oh, ow):
    v = ttnn.to_torch(t).to(torch.float32)
    return v.reshape(n, oh, ow, -1).permute(0, 3, 1, 2)


def assert_bf16_close(got, ref):
    # the default config accumulates in a 16-bit Dst (a rounding per K=16 step and fidelity pass, then the
    # bias add and the packer): a few bf16 ulps of the largest output. test_conv2d_accumulates_like_matmul
    # checks the exact values.
    torch.testing.assert_close(got, ref, rtol=2 ** -6, atol=float(ref.abs().max()) * 2 ** -5 + 1e-3)


def pads_of(padding):
    return (padding[0], padding[0], padding[1], padding[1]) if len(padding) == 2 else tuple(padding)


def torch_conv(x, w, b, stride, padding, dilation, groups):
    pt, pb, pl, pr = pads_of(padding)
    return F.conv2d(F.pad(x, (pl, pr, pt, pb)), w, None if b is None else b.reshape(-1), stride, 0, dilation, groups)


def run_conv(device, x, w, b, stride, padding, dilation, groups, **kw):
    n, c, h, wid = x.shape
    return ttnn.conv2d(
        input_tensor=ttnn.from_torch(nhwc_flat(x), dtype=ttnn.bfloat16, device=device),
        weight_tensor=ttnn.from_torch(w, dtype=ttnn.bfloat16),
        bias_tensor=None if b is None else ttnn.from_torch(b, dtype=ttnn.bfloat16),
        device=device, in_channels=c, out_channels=w.shape[0], batch_size=n, input_height=h, input_width=wid,
        kernel_size=tuple(w.shape[2:]), stride=stride, padding=padding, dilation=dilation, groups=groups,
        return_output_dim=True, **kw)


CASES = [
    # N, C, H, W, O, kernel, stride, padding, dilation, groups, bias
    (2, 3, 9, 11, 16, (3, 3), (1, 1), (1, 1), (1, 1), 1, True),        # RGB stem, batch 2, bias
    (1, 17, 10, 7, 33, (3, 3), (2, 2), (1, 0, 2, 1), (1, 1), 1, False),  # non-multiple-of-32 channels, 4-pad
    (1, 8, 12, 12, 8, (3, 3), (1, 1), (2, 2), (2, 2), 1, True),        # dilation
    (2, 8, 6, 9, 12, (3, 2), (1, 2), (1, 1), (1, 1), 2, True),         # groups
    (1, 16, 8, 8, 16, (3, 3), (2, 2), (1, 1), (1, 1), 16, True),       # depthwise
    (2, 40, 5, 5, 24, (1, 1), (1, 1), (0, 0), (1, 1), 1, True),        # 1x1 (matmul path)
]


@pytest.mark.parametrize("n,c,h,w,o,k,s,p,d,g,has_bias", CASES)
def test_conv2d_matches_torch(device, n, c, h, w, o, k, s, p, d, g, has_bias):
    x, wt = bf16(n, c, h, w), bf16(o, c // g, *k, scale=0.3)
    b = bf16(1, 1, 1, o) if has_bias else None
    out, (oh, ow) = run_conv(device, x, wt, b, s, p, d, g)
    ref = torch_conv(x, wt, b, s, p, d, g)
    assert tuple(out.shape) == (1, 1, n * oh * ow, o) and (oh, ow) == tuple(ref.shape[2:])
    assert out.layout == ttnn.TILE_LAYOUT and out.dtype == ttnn.bfloat16
    assert_bf16_close(from_flat(out, n, oh, ow), ref)


def test_conv2d_nhwc_tile_fp32_input(device):
    x, wt = bf16(2, 5, 7, 6), bf16(9, 5, 3, 3)
    tin = ttnn.from_torch(x.permute(0, 2, 3, 1), dtype=ttnn.float32, layout=ttnn.TILE_LAYOUT, device=device)
    out = ttnn.conv2d(input_tensor=tin, weight_tensor=ttnn.from_torch(wt, dtype=ttnn.float32), device=device,
                      in_channels=5, out_channels=9, batch_size=2, input_height=7, input_width=6, kernel_size=(3, 3),
                      padding=(1, 1))
    assert out.dtype == ttnn.float32
    # fp32 x fp32 defaults to HiFi4 with fp32 accumulation: bf16-valued operands multiply exactly
    torch.testing.assert_close(from_flat(out, 2, 7, 6), torch_conv(x, wt, None, 1, (1, 1), 1, 1), rtol=1e-5,
                               atol=1e-5)


def test_conv2d_fidelity_masks_operands(device):
    x, wt = bf16(1, 4, 5, 5), bf16(6, 4, 3, 3)
    lofi = ttnn.WormholeComputeKernelConfig(math_fidelity=ttnn.MathFidelity.LoFi, fp32_dest_acc_en=True)
    out, (oh, ow) = run_conv(device, x, wt, None, (1, 1), (0, 0), (1, 1), 1, compute_config=lofi,
                             dtype=ttnn.float32)
    ((a, b),) = fidelity_terms(x, wt, ttnn.MathFidelity.LoFi, True, False)
    torch.testing.assert_close(from_flat(out, 1, oh, ow), F.conv2d(a, b), rtol=1e-6, atol=1e-5)
    assert not torch.allclose(from_flat(out, 1, oh, ow), F.conv2d(x, wt), rtol=1e-4, atol=1e-4)
    # HiFi4 (the conv default) multiplies bf16 operands exactly; with an fp32 Dst nothing else rounds
    hifi4_acc32 = ttnn.WormholeComputeKernelConfig(math_fidelity=ttnn.MathFidelity.HiFi4, fp32_dest_acc_en=True)
    out4, _ = run_conv(device, x, wt, None, (1, 1), (0, 0), (1, 1), 1, dtype=ttnn.float32,
                       compute_config=hifi4_acc32)
    torch.testing.assert_close(from_flat(out4, 1, oh, ow), F.conv2d(x, wt), rtol=1e-6, atol=1e-5)


@pytest.mark.parametrize("fidelity", ["LoFi", "HiFi2", "HiFi3", "HiFi4"])
def test_conv2d_accumulates_like_matmul(device, fidelity):
    """A conv is the matmul of its input windows by its weights (K ordered kh, kw, cin): with a 16-bit Dst it
    gives bit for bit what ttnn.matmul gives for that product at the same fidelity, partial-sum roundings
    included, and is therefore not the exact product rounded once."""
    n, c, h, w, o = 2, 20, 9, 11, 16
    x, wt = bf16(n, c, h, w), bf16(o, c, 3, 3, scale=0.3)
    cfg = ttnn.WormholeComputeKernelConfig(math_fidelity=getattr(ttnn.MathFidelity, fidelity),
                                           fp32_dest_acc_en=False)
    out, (oh, ow) = run_conv(device, x, wt, None, (1, 1), (1, 1), (1, 1), 1, compute_config=cfg)
    got = from_flat(out, n, oh, ow)
    cols = F.unfold(F.pad(x, (1, 1, 1, 1)), (3, 3)).reshape(n, c, 9, -1).permute(0, 3, 2, 1).reshape(1, 1, -1, 9 * c)
    mm = ttnn.matmul(ttnn.from_torch(cols, dtype=ttnn.bfloat16, layout=ttnn.TILE_LAYOUT, device=device),
                     ttnn.from_torch(wt.permute(2, 3, 1, 0).reshape(9 * c, o), dtype=ttnn.bfloat16,
                                     layout=ttnn.TILE_LAYOUT, device=device), compute_kernel_config=cfg)
    assert torch.equal(got, ttnn.to_torch(mm).float().reshape(n, oh, ow, o).permute(0, 3, 1, 2))
    once = F.conv2d(F.pad(x, (1, 1, 1, 1)), wt).to(torch.bfloat16).float()
    assert (got == once).float().mean() < 0.6


def test_conv2d_return_forms_and_prepared_weight_reuse(device):
    x, wt, b = bf16(1, 6, 8, 8), bf16(10, 6, 3, 3), bf16(1, 1, 1, 10)
    args = dict(input_tensor=ttnn.from_torch(nhwc_flat(x), dtype=ttnn.bfloat16, device=device), device=device,
                in_channels=6, out_channels=10, batch_size=1, input_height=8, input_width=8, kernel_size=(3, 3),
                padding=(1, 1))
    host_w, host_b = ttnn.from_torch(wt, dtype=ttnn.bfloat16), ttnn.from_torch(b, dtype=ttnn.bfloat16)
    dram_before = device.memory_stats()["DRAM"]["live_buffers"]
    plain = ttnn.conv2d(weight_tensor=host_w, bias_tensor=host_b, **args)
    assert isinstance(plain, ttnn.Tensor)
    # prepared weights not returned are freed: only the output stays
    assert device.memory_stats()["DRAM"]["live_buffers"] == dram_before + 1
    out, dims, (w_dev, b_dev) = ttnn.conv2d(weight_tensor=host_w, bias_tensor=host_b, return_output_dim=True,
                                            return_weights_and_bias=True, **args)
    assert dims == (8, 8) and ttnn.is_tensor_storage_on_device(w_dev) and w_dev.layout == ttnn.TILE_LAYOUT
    assert tuple(b_dev.shape) == (1, 1, 1, 10)
    out2, (w_again, b_again) = ttnn.conv2d(weight_tensor=w_dev, bias_tensor=b_dev, return_weights_and_bias=True,
                                           **args)
    assert w_again is w_dev and b_again is b_dev
    assert torch.equal(ttnn.to_torch(out2), ttnn.to_torch(plain)) and torch.equal(ttnn.to_torch(out),
                                                                                    ttnn.to_torch(plain))


def test_prepare_conv_weights_and_bias(device):
    x, wt, b = bf16(1, 6, 7, 7), bf16(12, 3, 3, 3), bf16(1, 1, 1, 12)
    common = dict(input_memory_config=ttnn.DRAM_MEMORY_CONFIG, input_layout=ttnn.ROW_MAJOR_LAYOUT, in_channels=6,
                  out_channels=12, batch_size=1, input_height=7, input_width=7, kernel_size=[3, 3], stride=[1, 1],
                  padding=[1, 1], dilation=[1, 1], groups=2, device=device, input_dtype=ttnn.bfloat16)
    w_dev = ttnn.prepare_conv_weights(weight_tensor=ttnn.from_torch(wt, dtype=ttnn.bfloat16), weights_format="OIHW",
                                      has_bias=True, **common)
    b_dev = ttnn.prepare_conv_bias(bias_tensor=ttnn.from_torch(b, dtype=ttnn.bfloat16), **common)
    assert ttnn.is_tensor_storage_on_device(w_dev) and w_dev.layout == ttnn.TILE_LAYOUT
    with pytest.raises(TypeError):
        ttnn.prepare_conv_weights(ttnn.from_torch(wt, dtype=ttnn.bfloat16))
    out, (oh, ow) = ttnn.conv2d(input_tensor=ttnn.from_torch(nhwc_flat(x), dtype=ttnn.bfloat16, device=device),
                                weight_tensor=w_dev, bias_tensor=b_dev, device=device, in_channels=6, out_channels=12,
                                batch_size=1, input_height=7, input_width=7, kernel_size=(3, 3), padding=(1, 1),
                                groups=2, return_output_dim=True)
    assert w_dev.is_allocated()  # passed-in prepared weights stay with the caller
    assert_bf16_close(from_flat(out, 1, oh, ow), torch_conv(x, wt, b, 1, (1, 1), 1, 2))


def test_conv2d_config_options(device):
    x, wt = bf16(1, 8, 6, 6), bf16(16, 8, 3, 3)
    tin = ttnn.from_torch(nhwc_flat(x), dtype=ttnn.bfloat16, device=device, memory_config=ttnn.L1_MEMORY_CONFIG)
    cfg = ttnn.Conv2dConfig(weights_dtype=ttnn.bfloat8_b, output_layout=ttnn.ROW_MAJOR_LAYOUT,
                            activation=ttnn.UnaryWithParam(ttnn.UnaryOpType.RELU), deallocate_activation=True)
    out = ttnn.conv2d(input_tensor=tin, weight_tensor=ttnn.from_torch(wt, dtype=ttnn.bfloat16), device=device,
                      in_channels=8, out_channels=16, batch_size=1, input_height=6, input_width=6, kernel_size=(3, 3),
                      conv_config=cfg)
    assert out.layout == ttnn.ROW_MAJOR_LAYOUT and not tin.is_allocated()
    got = from_flat(out, 1, 4, 4)
    assert (got >= 0).all()
    # bfloat8_b weights: blocks of 16 output channels of one (kh, kw, cin) row of the prepared matrix
    wq = formats.quantize_bfp_host(wt.permute(2, 3, 1, 0).reshape(72, 16).contiguous(), ttnn.bfloat8_b)
    wq = wq.reshape(3, 3, 8, 16).permute(3, 2, 0, 1)
    assert not torch.equal(wq, wt)
    assert_bf16_close(got, F.relu(F.conv2d(x, wq)))


def test_conv2d_host_input_goes_to_dram(device):
    x, wt = bf16(1, 4, 5, 5), bf16(4, 4, 3, 3)
    before = device.counters.to_device
    out = ttnn.conv2d(input_tensor=ttnn.from_torch(nhwc_flat(x), dtype=ttnn.bfloat16),
                      weight_tensor=ttnn.from_torch(wt, dtype=ttnn.bfloat16), device=device, in_channels=4,
                      out_channels=4, batch_size=1, input_height=5, input_width=5, kernel_size=(3, 3),
                      memory_config=ttnn.L1_MEMORY_CONFIG)
    assert device.counters.to_device == before + 2  # the activations and the prepared weights
    assert out.memory_config().buffer_type == ttnn.BufferType.DRAM  # DRAM path ignores memory_config
    assert device.counters.op_launches["conv2d"] == 1


def test_conv2d_needs_l1_small(device):
    dev1 = ttnn.open_device(device_id=1, l1_small_size=0)
    try:
        x, wt = bf16(1, 4, 6, 6), bf16(8, 4, 3, 3)
        args = dict(weight_tensor=ttnn.from_torch(wt, dtype=ttnn.bfloat16), device=dev1, in_channels=4,
                    out_channels=8, batch_size=1, input_height=6, input_width=6, kernel_size=(3, 3))
        tin = ttnn.from_torch(nhwc_flat(x), dtype=ttnn.bfloat16, device=dev1)
        live = dev1.memory_stats()["DRAM"]["live_buffers"]
        with pytest.raises(OutOfMemoryError, match="L1_SMALL"):
            ttnn.conv2d(input_tensor=tin, **args)
        assert dev1.memory_stats()["DRAM"]["live_buffers"] == live  # prepared weights released
        # config tensors in DRAM, or a 1x1 conv (matmul, no halo), need no L1_SMALL
        ttnn.conv2d(input_tensor=tin, conv_config=ttnn.Conv2dConfig(config_tensors_in_dram=True), **args)
        ttnn.conv2d(input_tensor=tin, weight_tensor=ttnn.from_torch(bf16(8, 4, 1, 1), dtype=ttnn.bfloat16),
                    device=dev1, in_channels=4, out_channels=8, batch_size=1, input_height=6, input_width=6,
                    kernel_size=(1, 1))
    finally:
        ttnn.close_device(dev1)


def test_conv2d_refusals(device):
    x, wt = bf16(1, 4, 6, 6), bf16(8, 4, 3, 3)
    args = dict(device=device, in_channels=4, out_channels=8, batch_size=1, input_height=6, input_width=6,
                kernel_size=(3, 3))
    tw = ttnn.from_torch(wt, dtype=ttnn.bfloat16)
    bad = ttnn.from_torch(nhwc_flat(x).to(torch.int32), dtype=ttnn.uint32, device=device)
    with pytest.raises(TTNNError, match="dtype UINT32"):
        ttnn.conv2d(input_tensor=bad, weight_tensor=tw, **args)
    tin = ttnn.from_torch(nhwc_flat(x), dtype=ttnn.bfloat16, device=device)
    with pytest.raises(TTNNError, match="Row Major"):
        ttnn.conv2d(input_tensor=tin, weight_tensor=tw, dtype=ttnn.bfloat8_b,
                    conv_config=ttnn.Conv2dConfig(output_layout=ttnn.ROW_MAJOR_LAYOUT), **args)
    with pytest.raises(TTNNError, match="weight_tensor has shape"):
        ttnn.conv2d(input_tensor=tin, weight_tensor=ttnn.from_torch(bf16(8, 3, 3, 3), dtype=ttnn.bfloat16), **args)
    with pytest.raises(TTNNError, match="input_tensor has shape"):
        ttnn.conv2d(input_tensor=tin, weight_tensor=tw, **{**args, "input_height": 5})
    with pytest.raises(TypeError):
        ttnn.Conv2dConfig(activation="relu")


def test_conv1d_matches_torch(device):
    x, wt, b = bf16(2, 6, 19), bf16(10, 3, 5), bf16(1, 1, 1, 10)
    out, length = ttnn.conv1d(
        input_tensor=ttnn.from_torch(x.permute(0, 2, 1), dtype=ttnn.bfloat16, device=device),
        weight_tensor=ttnn.from_torch(wt, dtype=ttnn.bfloat16), bias_tensor=ttnn.from_torch(b, dtype=ttnn.bfloat16),
        device=device, in_channels=6, out_channels=10, batch_size=2, input_length=19, kernel_size=5, stride=2,
        padding=2, groups=2, return_output_dim=True)
    ref = F.conv1d(x, wt, b.reshape(-1), 2, 2, 1, 2)
    assert length == ref.shape[2] and tuple(out.shape) == (1, 1, 2 * length, 10)
    got = ttnn.to_torch(out).float().reshape(2, length, 10).permute(0, 2, 1)
    assert_bf16_close(got, ref)


@pytest.mark.parametrize("s,p,op,d,g", [((2, 2), (1, 1), (1, 1), (1, 1), 1), ((2, 1), (0, 1), (0, 0), (1, 2), 2)])
def test_conv_transpose2d_matches_torch(device, s, p, op, d, g):
    n, c, h, w, o = 2, 4, 5, 6, 6
    x, wt, b = bf16(n, c, h, w), bf16(c, o // g, 3, 3), bf16(1, 1, 1, o)
    out, (oh, ow) = ttnn.conv_transpose2d(
        input_tensor=ttnn.from_torch(nhwc_flat(x), dtype=ttnn.bfloat16, device=device),
        weight_tensor=ttnn.from_torch(wt, dtype=ttnn.bfloat16), bias_tensor=ttnn.from_torch(b, dtype=ttnn.bfloat16),
        device=device, in_channels=c, out_channels=o, batch_size=n, input_height=h, input_width=w,
        kernel_size=(3, 3), stride=s, padding=p, output_padding=op, dilation=d, groups=g, return_output_dim=True)
    ref = F.conv_transpose2d(x, wt, b.reshape(-1), s, p, op, g, d)
    assert (oh, ow) == tuple(ref.shape[2:])
    assert_bf16_close(from_flat(out, n, oh, ow), ref)


def test_conv_types_and_helpers():
    cfg = ttnn.Conv2dConfig()
    assert cfg.output_layout == ttnn.TILE_LAYOUT and cfg.weights_dtype is None and not cfg.deallocate_activation
    assert ttnn.Conv1dConfig is ttnn.Conv2dConfig and ttnn.Conv2dSliceConfig is ttnn.Op2DSliceConfig
    assert ttnn.get_conv_output_dim(10, 3, 2, 1) == 5


@pytest.fixture(scope="module")
def real_ttnn():
    return pytest.importorskip("ttnn")


def test_conv2d_matches_real_golden(device, real_ttnn):
    x, wt, b = bf16(2, 5, 7, 8), bf16(6, 5, 3, 3), bf16(1, 1, 1, 6)
    kw = dict(in_channels=5, out_channels=6, batch_size=2, input_height=7, input_width=8, kernel_size=(3, 3),
              stride=(2, 1), padding=(1, 0, 1, 2), dilation=(1, 1), groups=1)
    real = real_ttnn.get_golden_function(real_ttnn.conv2d)(nhwc_flat(x), wt, bias_tensor=b, **kw)
    ours = ttnn.get_golden_function(ttnn.conv2d)(nhwc_flat(x), wt, bias_tensor=b, **kw)
    torch.testing.assert_close(ours, real)
    out, (oh, ow) = run_conv(device, x, wt, b, (2, 1), (1, 0, 1, 2), (1, 1), 1)
    assert_bf16_close(ttnn.to_torch(out).float(), real)
    assert real_ttnn.get_conv_output_dim(13, 3, 2, 1, 2) == ttnn.get_conv_output_dim(13, 3, 2, 1, 2)
