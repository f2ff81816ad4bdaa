"""Pooling and upsampling of the simulated device (torch_ttnn/sim/ops/pool.py)."""
import pytest
import torch
import torch.nn.functional as F

import torch_ttnn.sim as ttnn
from torch_ttnn.sim import formats
from torch_ttnn.sim.errors import OutOfMemoryError, TTNNError

N, C, H, W = 2, 35, 13, 10


def bf16(*shape):
    return torch.randn(*shape).to(torch.bfloat16).to(torch.float32)


def flat(x):
    n, c, h, w = x.shape
    return x.permute(0, 2, 3, 1).reshape(1, 1, n * h * w, c)


def unflat(t, n, oh, ow):
    return ttnn.to_torch(t).to(torch.float32).reshape(n, oh, ow, -1).permute(0, 3, 1, 2)


def torch_pads(x, padding, fill):
    pt, pb, pl, pr = padding if len(padding) == 4 else (padding[0], padding[0], padding[1], padding[1])
    return F.pad(x, (pl, pr, pt, pb), value=fill)


def expected_avg(x, kernel, stride, padding, ceil_mode, count_include_pad, divisor_override=None):
    """What the device computes: window sum times the fp32 reciprocal of the divisor truncated to bf16."""
    sums = F.avg_pool2d(x, kernel, stride, padding, ceil_mode, True, divisor_override=1)
    avg = F.avg_pool2d(x, kernel, stride, padding, ceil_mode, count_include_pad, divisor_override)
    ones = torch.ones_like(x[:1, :1])
    if divisor_override is not None:
        div = torch.full_like(sums[:1, :1], float(divisor_override))
    else:
        cnt = F.avg_pool2d(ones, kernel, stride, padding, ceil_mode, True, divisor_override=1)
        div = torch.round(cnt / F.avg_pool2d(ones, kernel, stride, padding, ceil_mode, count_include_pad))
    return formats.round_bf16_packer(sums * formats.truncate_bf16(1.0 / div)), avg


@pytest.fixture
def x():
    return bf16(N, C, H, W)


@pytest.mark.parametrize("kernel,stride,padding,dilation,ceil_mode", [
    ((3, 3), (2, 2), (1, 1), (1, 1), False),
    ((2, 2), (2, 2), (0, 0), (1, 1), True),
    ((3, 2), (1, 2), (1, 0, 1, 1), (2, 1), False),
])
def test_max_pool2d_is_exact(device, x, kernel, stride, padding, dilation, ceil_mode):
    tin = ttnn.from_torch(flat(x), dtype=ttnn.bfloat16, device=device)
    out, idx = ttnn.max_pool2d(tin, N, H, W, C, kernel, stride, padding, dilation, ceil_mode, return_indices=True)
    xp = torch_pads(x, padding, float("-inf"))
    ref, ref_idx = F.max_pool2d(xp, kernel, stride, 0, dilation, ceil_mode, return_indices=True)
    oh, ow = ref.shape[2:]
    assert tuple(out.shape) == (1, 1, N * oh * ow, C) and out.layout == ttnn.ROW_MAJOR_LAYOUT
    assert torch.equal(unflat(out, N, oh, ow), ref)
    # indices are flat h * W + w positions in the unpadded input plane, UINT16
    pt, _, pl, _ = padding if len(padding) == 4 else (padding[0], 0, padding[1], 0)
    wp = xp.shape[3]
    ref_idx = (ref_idx // wp - pt) * W + (ref_idx % wp - pl)
    assert idx.dtype == ttnn.uint16
    assert torch.equal(ttnn.to_torch(idx).long().reshape(N, oh, ow, C).permute(0, 3, 1, 2), ref_idx)


def test_max_pool2d_nhwc_tile_input_tile_output(device, x):
    tin = ttnn.from_torch(x.permute(0, 2, 3, 1), dtype=ttnn.bfloat16, layout=ttnn.TILE_LAYOUT, device=device)
    out = ttnn.max_pool2d(tin, N, H, W, C, [2, 2], [2, 2], [0, 0], [1, 1], output_layout=ttnn.TILE_LAYOUT,
                          dtype=ttnn.bfloat8_b)
    assert out.layout == ttnn.TILE_LAYOUT and out.dtype == ttnn.bfloat8_b
    ref = F.max_pool2d(x, 2, 2)
    torch.testing.assert_close(unflat(out, N, 6, 5), ref, rtol=2 ** -6, atol=2 ** -6 * ref.abs().max())


@pytest.mark.parametrize("kernel,stride,padding,ceil_mode,cip,div", [
    ((3, 3), (2, 2), (1, 1), False, True, None),
    ((3, 3), (2, 2), (1, 1), True, False, None),
    ((2, 3), (1, 1), (1, 1), False, True, 5),
])
def test_avg_pool2d(device, x, kernel, stride, padding, ceil_mode, cip, div):
    tin = ttnn.from_torch(flat(x), dtype=ttnn.bfloat16, device=device)
    out = ttnn.avg_pool2d(tin, N, H, W, C, kernel, stride, padding, ceil_mode, cip, div)
    device_ref, torch_ref = expected_avg(x, kernel, stride, padding, ceil_mode, cip, div)
    oh, ow = torch_ref.shape[2:]
    got = unflat(out, N, oh, ow)
    torch.testing.assert_close(got, device_ref, rtol=2 ** -8, atol=1e-6)
    torch.testing.assert_close(got, torch_ref, rtol=2 ** -6, atol=2 ** -8)


def test_avg_pool2d_truncated_reciprocal(device):
    """The bf16 scalar 1/9 is truncated (0.11083984): the average of ones is 0.99609375, not 1."""
    tin = ttnn.from_torch(torch.ones(1, 1, 36, 32), dtype=ttnn.bfloat16, device=device)
    out = ttnn.avg_pool2d(tin, 1, 6, 6, 32, [3, 3], [3, 3], [0, 0])
    assert torch.all(ttnn.to_torch(out).float() == 0.99609375)
    ideal = ttnn.open_device(device_id=2, l1_small_size=16384, numerics="ideal")
    try:
        out = ttnn.avg_pool2d(ttnn.from_torch(torch.ones(1, 1, 36, 32), dtype=ttnn.bfloat16, device=ideal),
                              1, 6, 6, 32, [3, 3], [3, 3], [0, 0])
        assert torch.all(ttnn.to_torch(out).float() == 1.0)
    finally:
        ttnn.close_device(ideal)


@pytest.mark.parametrize("h,w,out_hw", [(13, 10, (1, 1)), (14, 14, (7, 7)), (7, 7, (7, 7))])
def test_adaptive_pools(device, h, w, out_hw):
    xx = bf16(N, C, h, w)
    tin = ttnn.from_torch(flat(xx), dtype=ttnn.bfloat16, device=device)
    oh, ow = out_hw
    mx = ttnn.adaptive_max_pool2d(tin, N, h, w, C, list(out_hw))
    assert torch.equal(unflat(mx, N, oh, ow), F.adaptive_max_pool2d(xx, out_hw))
    av = ttnn.adaptive_avg_pool2d(tin, N, h, w, C, list(out_hw))
    torch.testing.assert_close(unflat(av, N, oh, ow), F.adaptive_avg_pool2d(xx, out_hw), rtol=2 ** -6,
                               atol=2 ** -7)


def test_adaptive_pool_refuses_non_uniform_windows(device):
    tin = ttnn.from_torch(flat(bf16(1, 8, 10, 10)), dtype=ttnn.bfloat16, device=device)
    with pytest.raises(TTNNError, match="Adaptive pooling configuration not supported"):
        ttnn.adaptive_avg_pool2d(tin, 1, 10, 10, 8, [7, 7])


@pytest.mark.parametrize("shape", [(N, H, W, C), (H, W, C)])
def test_global_avg_pool2d(device, shape):
    v = bf16(*shape)
    out = ttnn.global_avg_pool2d(ttnn.from_torch(v, dtype=ttnn.bfloat16, device=device))
    n = shape[0] if len(shape) == 4 else 1
    assert tuple(out.shape) == (n, 1, 1, C) and out.layout == ttnn.TILE_LAYOUT and out.dtype == ttnn.bfloat16
    ref = v.reshape(n, -1, C).mean(1)
    torch.testing.assert_close(ttnn.to_torch(out).float().reshape(n, C), ref, rtol=2 ** -6, atol=2 ** -7)


def test_upsample(device, x):
    tin = ttnn.from_torch(x.permute(0, 2, 3, 1), dtype=ttnn.bfloat16, device=device)
    up = ttnn.upsample(tin, 2)
    assert tuple(up.shape) == (N, 2 * H, 2 * W, C) and up.layout == ttnn.ROW_MAJOR_LAYOUT
    assert torch.equal(ttnn.to_torch(up).float(), F.interpolate(x, scale_factor=2).permute(0, 2, 3, 1))
    up = ttnn.upsample(tin, [2, 3])
    assert torch.equal(ttnn.to_torch(up).float(), F.interpolate(x, scale_factor=(2, 3)).permute(0, 2, 3, 1))
    bl = ttnn.upsample(tin, 2, mode="bilinear")
    ref = F.interpolate(x, scale_factor=2, mode="bilinear").permute(0, 2, 3, 1)
    torch.testing.assert_close(ttnn.to_torch(bl).float(), ref, rtol=2 ** -8, atol=1e-6)
    with pytest.raises(TTNNError, match="integer scale"):
        ttnn.upsample(tin, 1.5, mode="bilinear")


def test_pools_need_l1_small(device):
    dev1 = ttnn.open_device(device_id=1, l1_small_size=0)
    try:
        v = bf16(1, 8, 6, 6)
        tin = ttnn.from_torch(flat(v), dtype=ttnn.bfloat16, device=dev1)
        with pytest.raises(OutOfMemoryError, match="L1_SMALL"):
            ttnn.max_pool2d(tin, 1, 6, 6, 8, [2, 2], [2, 2], [0, 0], [1, 1])
        with pytest.raises(OutOfMemoryError, match="L1_SMALL"):
            ttnn.avg_pool2d(tin, 1, 6, 6, 8, [2, 2], [2, 2], [0, 0])
        assert dev1.memory_stats()["L1_SMALL"]["live_buffers"] == 0
        ttnn.max_pool2d(tin, 1, 6, 6, 8, [2, 2], [2, 2], [0, 0], [1, 1], config_tensor_in_dram=True)
        # the global pool fast path runs without halo, hence without L1_SMALL
        ttnn.global_avg_pool2d(ttnn.from_torch(v.permute(0, 2, 3, 1), dtype=ttnn.bfloat16, device=dev1))
        ttnn.upsample(ttnn.from_torch(v.permute(0, 2, 3, 1), dtype=ttnn.bfloat16, device=dev1), 2)
    finally:
        ttnn.close_device(dev1)


def test_pool_refusals(device, x):
    tin = ttnn.from_torch(flat(x), dtype=ttnn.bfloat16, device=device)
    with pytest.raises(TTNNError, match="on the host"):
        ttnn.max_pool2d(ttnn.from_torch(flat(x), dtype=ttnn.bfloat16), N, H, W, C, [2, 2], [2, 2], [0, 0], [1, 1])
    with pytest.raises(TTNNError, match="FLOAT32"):
        ttnn.max_pool2d(ttnn.from_torch(flat(x), dtype=ttnn.float32, device=device), N, H, W, C, [2, 2], [2, 2],
                        [0, 0], [1, 1])
    with pytest.raises(TTNNError, match="ROW_MAJOR"):
        ttnn.avg_pool2d(tin, N, H, W, C, [2, 2], [2, 2], [0, 0], dtype=ttnn.bfloat8_b)
    with pytest.raises(TTNNError, match="half of kernel"):
        ttnn.max_pool2d(tin, N, H, W, C, [3, 3], [1, 1], [2, 2], [1, 1])
    with pytest.raises(TTNNError, match="input_tensor has shape"):
        ttnn.max_pool2d(tin, N, H + 1, W, C, [2, 2], [2, 2], [0, 0], [1, 1])
    with pytest.raises(TTNNError, match="Only ROW_MAJOR supported when return_indices"):
        ttnn.max_pool2d(tin, N, H, W, C, [2, 2], [2, 2], [0, 0], [1, 1], return_indices=True,
                        output_layout=ttnn.TILE_LAYOUT)


@pytest.fixture(scope="module")
def real_ttnn():
    return pytest.importorskip("ttnn")


def test_upsample_matches_real_golden(device, real_ttnn, x):
    nhwc = x.permute(0, 2, 3, 1)
    real = real_ttnn.get_golden_function(real_ttnn.upsample)(nhwc, [2, 3])
    assert torch.equal(ttnn.get_golden_function(ttnn.upsample)(nhwc, [2, 3]), real)
    got = ttnn.upsample(ttnn.from_torch(nhwc, dtype=ttnn.bfloat16, device=device), [2, 3])
    assert torch.equal(ttnn.to_torch(got).float(), real)
