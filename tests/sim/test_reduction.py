"""Reductions of the simulated device (torch_ttnn/sim/ops/reduction.py): sum, mean, max, min, std, var, prod,
argmax, topk, sort, cumsum, cumprod. References are torch (float64) on the bf16-rounded inputs."""
import pytest
import torch

import torch_ttnn.sim as ttnn
from torch_ttnn.sim.errors import TTNNError
from torch_ttnn.sim.formats import round_bf16_rne


def _t(device, x, dtype=ttnn.bfloat16, layout=ttnn.TILE_LAYOUT, **kw):
    return ttnn.from_torch(x, dtype=dtype, layout=layout, device=device, **kw)


def _bf16(*shape):
    return round_bf16_rne(torch.randn(*shape))


def _np(t):
    return ttnn.to_torch(t).double()


SHAPES = [(45,), (7, 45), (3, 33, 20), (2, 3, 40, 50)]


def _cases():
    for shape in SHAPES:
        for dim in (-1, -2, 0):
            if -dim > len(shape):
                continue
            yield shape, dim


@pytest.mark.parametrize("shape,dim", list(_cases()))
@pytest.mark.parametrize("op", ["sum", "mean", "max", "min"])
def test_basic_reductions(device, op, shape, dim):
    x = _bf16(*shape)
    out = getattr(ttnn, op)(_t(device, x), dim=dim)
    ref = {"sum": lambda: x.double().sum(dim), "mean": lambda: x.double().mean(dim),
           "max": lambda: x.double().amax(dim), "min": lambda: x.double().amin(dim)}[op]()
    got = _np(out)
    assert got.shape == ref.shape and out.layout == ttnn.TILE_LAYOUT and out.dtype == ttnn.bfloat16
    if op in ("max", "min"):
        assert torch.equal(got, ref)            # exact
    else:
        n = shape[dim]
        scale = x.abs().double().sum(dim) / (n if op == "mean" else 1)
        assert ((got - ref).abs() <= 0.02 * scale + 2 ** -7 * ref.abs() + 1e-6).all()


def test_keepdim_tuple_none_and_scalar(device):
    x = _bf16(2, 3, 40, 50)
    tx = _t(device, x)
    out = ttnn.sum(tx, dim=(1, 3), keepdim=True)
    assert list(out.shape) == [2, 1, 40, 1]
    assert torch.allclose(_np(out), x.double().sum((1, 3), keepdim=True), rtol=0.02, atol=0.5)
    full = ttnn.mean(tx)
    assert list(full.shape) == []
    assert abs(_np(full).item() - x.double().mean().item()) < 0.01
    assert torch.allclose(_np(ttnn.max(tx, dim=-1, scalar=2.0)), 2 * x.double().amax(-1))
    assert torch.allclose(_np(ttnn.sum(tx, dim=-1, scalar=0.5)), 0.5 * x.double().sum(-1), rtol=0.02, atol=0.1)


def test_padding_is_not_read(device):
    x = _bf16(5, 45)
    tx = _t(device, x, pad_value=100.0)
    assert torch.allclose(_np(ttnn.sum(tx, dim=-1)), x.double().sum(-1), rtol=0.02, atol=0.05)
    assert torch.equal(_np(ttnn.max(tx, dim=-2)), x.double().amax(-2))
    assert ttnn.sum(tx, dim=-1)._pad is None


def test_std_var(device):
    x = _bf16(3, 40, 50)
    tx = _t(device, x)
    for corr in (True, False):
        assert torch.allclose(_np(ttnn.var(tx, dim=-1, correction=corr)),
                              x.double().var(-1, correction=int(corr)), rtol=0.01, atol=1e-3)
        assert torch.allclose(_np(ttnn.std(tx, dim=0, correction=corr)),
                              x.double().std(0, correction=int(corr)), rtol=0.01, atol=1e-3)
    assert torch.allclose(_np(ttnn.var(tx, dim=-1, scalar=3.0)), 9 * x.double().var(-1), rtol=0.01)


def test_long_row_sum_accumulates_in_fp32_dst_unless_told_otherwise(device):
    x = torch.ones(2, 6144)
    tx = _t(device, x)
    # TT-NN's generic reduce accumulates in fp32 Dst whatever the dtype (tt-metal PR #15665)
    assert torch.equal(_np(ttnn.sum(tx, dim=-1)), torch.full((2,), 6144.0).double())
    cfg = ttnn.WormholeComputeKernelConfig(math_fidelity=ttnn.MathFidelity.HiFi4, fp32_dest_acc_en=False)
    assert (_np(ttnn.sum(tx, dim=-1, compute_kernel_config=cfg)) > 6144).all()   # 16-bit Dst: ties away
    ideal = ttnn.open_device(device_id=2, numerics="ideal")
    try:
        assert torch.equal(_np(ttnn.sum(_t(ideal, x), dim=-1, compute_kernel_config=cfg)),
                           torch.full((2,), 6144.0).double())
    finally:
        ttnn.close_device(ideal)


def test_reduce_lofi_truncates_the_input(device):
    x = round_bf16_rne(torch.rand(4, 64) + 1)
    cfg = ttnn.WormholeComputeKernelConfig(math_fidelity=ttnn.MathFidelity.LoFi, fp32_dest_acc_en=True)
    tx = _t(device, x, ttnn.bfloat16)
    lofi = _np(ttnn.sum(tx, dim=-2, compute_kernel_config=cfg, ))
    hifi = _np(ttnn.sum(tx, dim=-2))
    ref = x.double().sum(-2)
    assert (lofi - ref).abs().mean() > (hifi - ref).abs().mean()


def test_fp32_and_int32_inputs(device):
    x = torch.randn(8, 300)
    out = ttnn.sum(_t(device, x, ttnn.float32), dim=-1)
    assert out.dtype == ttnn.float32
    assert torch.allclose(_np(out), x.double().sum(-1), rtol=1e-5, atol=1e-4)
    xi = torch.randint(-1000, 1000, (4, 50), dtype=torch.int32)
    ti = _t(device, xi, ttnn.int32)
    assert torch.equal(ttnn.to_torch(ttnn.sum(ti, dim=-1)).long(), xi.long().sum(-1))
    assert torch.equal(ttnn.to_torch(ttnn.max(ti, dim=0)).long(), xi.long().amax(0))


def test_row_major_4d_sum_keeps_row_major(device):
    x = _bf16(1, 2, 8, 40)
    out = ttnn.sum(_t(device, x, layout=ttnn.ROW_MAJOR_LAYOUT), dim=-1, keepdim=True)
    assert out.layout == ttnn.ROW_MAJOR_LAYOUT
    out2 = ttnn.max(_t(device, x, layout=ttnn.ROW_MAJOR_LAYOUT), dim=-1)
    assert out2.layout == ttnn.TILE_LAYOUT
    out3 = ttnn.sum(_t(device, x), dim=-1, output_layout=ttnn.ROW_MAJOR_LAYOUT)
    assert out3.layout == ttnn.ROW_MAJOR_LAYOUT


def test_prod(device):
    x = round_bf16_rne(1 + 0.1 * torch.randn(3, 20))
    tx = _t(device, x)
    assert torch.allclose(_np(ttnn.prod(tx, dim=-1)), x.double().prod(-1), rtol=0.02)
    full = ttnn.prod(tx)
    assert list(full.shape) == [] and abs(_np(full).item() / x.double().prod().item() - 1) < 0.05
    with pytest.raises(TTNNError, match="keepdim"):
        ttnn.prod(tx, keepdim=True)


# ------------------------------------------------------------------------------------------------
# argmax, topk, sort
# ------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("shape,dim", [((7, 45), -1), ((7, 45), -2), ((2, 3, 20), 0), ((45,), -1)])
def test_argmax(device, shape, dim):
    x = _bf16(*shape)
    out = ttnn.argmax(_t(device, x), dim=dim)
    assert out.dtype == ttnn.uint32 and out.layout == ttnn.ROW_MAJOR_LAYOUT
    assert torch.equal(ttnn.to_torch(out).long(), x.argmax(dim))
    kd = ttnn.argmax(_t(device, x, layout=ttnn.ROW_MAJOR_LAYOUT), dim=dim, keepdim=True)
    assert torch.equal(ttnn.to_torch(kd).long(), x.argmax(dim, keepdim=True))


def test_argmax_layout_and_dtype_rules(device):
    x = _bf16(4, 40)
    assert ttnn.to_torch(ttnn.argmax(_t(device, x, layout=ttnn.ROW_MAJOR_LAYOUT))).item() == x.argmax().item()
    with pytest.raises(TTNNError, match="ROW_MAJOR"):
        ttnn.argmax(_t(device, x))                      # dim=None needs ROW_MAJOR
    xi = _t(device, torch.randint(0, 9, (4, 40), dtype=torch.int32), ttnn.int32, layout=ttnn.ROW_MAJOR_LAYOUT)
    assert ttnn.argmax(xi, dim=-1).shape == ttnn.Shape([4])
    with pytest.raises(TTNNError, match="dtype INT32"):
        ttnn.argmax(xi, dim=0)


def test_topk(device):
    x = _bf16(3, 64)
    v, i = ttnn.topk(_t(device, x), 5)
    ref = torch.sort(x, dim=-1, descending=True, stable=True)
    assert torch.equal(ttnn.to_torch(v).float(), ref.values[:, :5])
    assert torch.equal(ttnn.to_torch(i).long(), ref.indices[:, :5])
    assert i.dtype == ttnn.uint16 and v.layout == ttnn.TILE_LAYOUT and i.layout == ttnn.TILE_LAYOUT
    v2, _ = ttnn.topk(_t(device, x), 2, dim=0, largest=False)
    assert torch.equal(ttnn.to_torch(v2).float(), torch.sort(x, dim=0).values[:2])
    _, i32 = ttnn.topk(_t(device, torch.randn(2, 64), ttnn.float32), 3)
    assert i32.dtype == ttnn.uint32
    with pytest.raises(TTNNError, match="TILE"):
        ttnn.topk(_t(device, x, layout=ttnn.ROW_MAJOR_LAYOUT), 5)
    with pytest.raises(TTNNError, match="k=65"):
        ttnn.topk(_t(device, x), 65)


def test_sort(device):
    x = round_bf16_rne(torch.randint(0, 5, (3, 40)).float())   # many ties
    for layout in (ttnn.TILE_LAYOUT, ttnn.ROW_MAJOR_LAYOUT):
        v, i = ttnn.sort(_t(device, x, layout=layout), -1, True, True)
        ref = torch.sort(x, dim=-1, descending=True, stable=True)
        assert v.layout == layout and i.dtype == ttnn.uint16
        assert torch.equal(ttnn.to_torch(v).float(), ref.values)
        assert torch.equal(ttnn.to_torch(i).long(), ref.indices)


# ------------------------------------------------------------------------------------------------
# cumsum, cumprod
# ------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("shape,dim", [((45,), 0), ((7, 45), -1), ((3, 33, 20), 1), ((2, 3, 8, 40), 0)])
def test_cumsum(device, shape, dim):
    x = _bf16(*shape)
    out = ttnn.cumsum(_t(device, x), dim)
    ref = x.double().cumsum(dim)
    mag = x.abs().double().cumsum(dim)
    assert ((_np(out) - ref).abs() <= 0.02 * mag + 1e-3).all()
    rev = ttnn.cumsum(_t(device, x), dim, reverse_order=True)
    ref_rev = torch.flip(torch.flip(x.double(), [dim]).cumsum(dim), [dim])
    assert torch.allclose(_np(rev), ref_rev, atol=0.05 * x.abs().sum().item() ** 0.5 + 0.05)


def test_cumsum_fp32_and_dtype(device):
    x = torch.randn(4, 300)
    out = ttnn.cumsum(_t(device, x, ttnn.float32), -1)
    assert torch.allclose(_np(out), x.double().cumsum(-1), atol=1e-4)
    out16 = ttnn.cumsum(_t(device, x, ttnn.float32), -1, dtype=ttnn.bfloat16)
    assert out16.dtype == ttnn.bfloat16
    with pytest.raises(TTNNError, match="TILE"):
        ttnn.cumsum(_t(device, x, layout=ttnn.ROW_MAJOR_LAYOUT), -1)


def test_cumprod(device):
    x = round_bf16_rne(1 + 0.05 * torch.randn(3, 30))
    out = ttnn.cumprod(_t(device, x), 1)
    assert torch.allclose(_np(out), x.double().cumprod(1), rtol=0.04)   # 30 bf16-rounded steps
    xi = torch.randint(1, 3, (2, 3, 4, 5), dtype=torch.int32)
    outi = ttnn.cumprod(_t(device, xi, ttnn.int32), 1)
    assert torch.equal(ttnn.to_torch(outi).long(), xi.long().cumprod(1))
    with pytest.raises(TTNNError, match="rank 3..5"):
        ttnn.cumprod(_t(device, xi[0, 0], ttnn.int32), 0)


# ------------------------------------------------------------------------------------------------
# Refusals
# ------------------------------------------------------------------------------------------------

def test_refusals(device):
    x = _bf16(4, 40)
    host = ttnn.from_torch(x, dtype=ttnn.bfloat16, layout=ttnn.TILE_LAYOUT)
    with pytest.raises(TTNNError, match="on a device"):
        ttnn.sum(host, dim=-1)
    with pytest.raises(TTNNError, match="out of range"):
        ttnn.sum(_t(device, x), dim=2)
    u16 = _t(device, torch.ones(4, 40, dtype=torch.int16), ttnn.uint16)
    with pytest.raises(TTNNError, match="dtype UINT16"):
        ttnn.sum(u16, dim=-1)
    i32 = _t(device, torch.ones(4, 40, dtype=torch.int32), ttnn.int32, layout=ttnn.ROW_MAJOR_LAYOUT)
    with pytest.raises(TTNNError, match="TILE"):
        ttnn.max(i32, dim=-1)
    with pytest.raises(TTNNError, match="dtype INT32"):
        ttnn.mean(_t(device, torch.ones(4, 40, dtype=torch.int32), ttnn.int32), dim=-1)


# ------------------------------------------------------------------------------------------------
# Oracle: the real wheel's golden functions
# ------------------------------------------------------------------------------------------------

def test_matches_real_golden_functions(device):
    real_ttnn = pytest.importorskip("ttnn")
    x = _bf16(2, 3, 40, 50)
    tx = _t(device, x)
    for name, kw in [("sum", dict(dim=-1)), ("mean", dict(dim=(1, 2), keepdim=True)), ("max", dict(dim=0)),
                     ("min", dict(dim=None)), ("var", dict(dim=-2)), ("std", dict(dim=-1, keepdim=True))]:
        ref = real_ttnn.get_golden_function(getattr(real_ttnn, name))(x, **kw)
        got = ttnn.to_torch(getattr(ttnn, name)(tx, **kw)).float()
        assert got.shape == ref.shape, name
        assert torch.allclose(got, ref, rtol=0.02, atol=0.05 * (50 if name == "sum" else 1) ** 0.5), name
    ref = real_ttnn.get_golden_function(real_ttnn.argmax)(x, dim=-1)
    assert torch.equal(ttnn.to_torch(ttnn.argmax(tx, dim=-1)).long(), ref)
    vals, _ = real_ttnn.get_golden_function(real_ttnn.topk)(x, 4, -1)
    assert torch.equal(ttnn.to_torch(ttnn.topk(tx, 4)[0]).float(), vals)
    ref = real_ttnn.get_golden_function(real_ttnn.cumsum)(x, 1)
    assert torch.allclose(ttnn.to_torch(ttnn.cumsum(tx, 1)).float(), ref, rtol=0.02, atol=0.05)


def test_var_is_composed_of_tensors_in_the_input_dtype(device):
    """var/std are TT-NN composites whose intermediates are bf16 tensors: a mean that bf16 cannot hold is rounded
    before the deviations are taken. [256, 258] repeated: the exact mean 257 is stored as 258 (ties away), the
    deviations are -2 and 0, so the population variance comes out 2 where the exact value is 1."""
    x = torch.tensor([256.0, 258.0] * 64).reshape(1, 128)
    tx = _t(device, x)
    assert _np(ttnn.var(tx, dim=-1, correction=False)).item() == 2.0
    assert _np(ttnn.std(tx, dim=-1, correction=False)).item() == pytest.approx(2 ** 0.5, rel=2 ** -7)
    device.numerics = "ideal"
    try:
        assert _np(ttnn.var(tx, dim=-1, correction=False)).item() == 1.0
    finally:
        device.numerics = "hardware"
