"""Element-wise ternary ops of the simulated device (torch_ttnn/sim/ops/ternary.py)."""
import pytest
import torch

import torch_ttnn.sim as ttnn
from torch_ttnn.sim import formats
from torch_ttnn.sim.errors import TTNNError

SHAPES = [(7,), (3, 45), (2, 3, 33, 64)]


def bf16(x):
    return x.to(torch.bfloat16).to(torch.float32)


def put(device, x, dtype=ttnn.bfloat16, layout=ttnn.TILE_LAYOUT, **kw):
    return ttnn.from_torch(x, dtype=dtype, layout=layout, device=device, **kw)


def got(t):
    v = ttnn.to_torch(t)
    return v.to(torch.float32) if v.is_floating_point() else v.to(torch.int64)


def _three(shape):
    return bf16(torch.randn(shape)), bf16(torch.randn(shape)), bf16(torch.randn(shape))


def test_where_selects(device):
    for shape in SHAPES:
        p = (torch.rand(shape) > 0.5).float()
        t, f, _ = _three(shape)
        out = ttnn.where(put(device, p), put(device, t), put(device, f))
        assert out.shape == shape and out.dtype == ttnn.bfloat16
        assert torch.equal(got(out), torch.where(p != 0, t, f))
    p = bf16(torch.randn(3, 45))  # any nonzero predicate selects true_value
    out = ttnn.where(put(device, p), 1.0, -2.5)
    assert torch.equal(got(out), torch.where(p != 0, 1.0, -2.5))
    t, f, _ = _three((3, 45))
    assert torch.equal(got(ttnn.where(put(device, p), put(device, t), 0.0)), torch.where(p != 0, t, 0.0))


def test_where_int32_and_broadcast(device):
    p = (torch.rand(2, 3, 33, 64) > 0.5).float()
    t = torch.randint(-1000, 1000, (1, 1, 1, 64), dtype=torch.int32)
    f = torch.randint(-1000, 1000, (2, 3, 33, 64), dtype=torch.int32)
    out = ttnn.where(put(device, p), put(device, t, ttnn.int32), put(device, f, ttnn.int32))
    assert out.dtype == ttnn.int32
    assert torch.equal(got(out), torch.where(p != 0, t, f).long())


@pytest.mark.parametrize("name,ref", [
    ("addcmul", lambda a, b, c: torch.addcmul(a, b, c, value=0.5)),
    ("addcdiv", lambda a, b, c: torch.addcdiv(a, b, c, value=0.5)),
    ("lerp", lambda a, b, c: torch.lerp(a, b, c)),
    ("mac", lambda a, b, c: a * b + c),
])
def test_arithmetic_ternaries(device, name, ref):
    for shape in SHAPES:
        a, b, c = _three(shape)
        if name == "addcdiv":
            c = torch.where(c.abs() < 0.5, c.sign() * 0.5 + c, c)
        kw = {"value": 0.5} if name in ("addcmul", "addcdiv") else {}
        out = getattr(ttnn, name)(put(device, a), put(device, b), put(device, c), **kw)
        assert out.shape == shape and out.dtype == ttnn.bfloat16
        expect = ref(a, b, c)
        torch.testing.assert_close(got(out), expect, rtol=1 / 64, atol=3e-2, msg=name)
        if name == "mac":  # SFPU in fp32, truncated into bf16
            assert torch.equal(got(out), formats.truncate_bf16(a * b + c))


def test_scalar_forms_and_broadcast(device):
    a, b, c = _three((2, 3, 33, 64))
    ta = put(device, a)
    torch.testing.assert_close(got(ttnn.mac(ta, 2.0, 1.0)), a * 2 + 1, rtol=1 / 64, atol=1e-2)
    torch.testing.assert_close(got(ttnn.mac(ta, put(device, b), 1.0)), a * b + 1, rtol=1 / 64, atol=1e-2)
    torch.testing.assert_close(got(ttnn.mac(ta, 3.0, put(device, c))), a * 3 + c, rtol=1 / 64, atol=1e-2)
    torch.testing.assert_close(got(ttnn.lerp(ta, put(device, b), 0.25)), torch.lerp(a, b, 0.25), rtol=1 / 64,
                               atol=1e-2)
    row = bf16(torch.randn(1, 1, 1, 64))
    out = ttnn.addcmul(ta, put(device, row), put(device, c[:, :, :, :]))
    torch.testing.assert_close(got(out), a + row * c, rtol=1 / 64, atol=3e-2)


def test_int32_addcmul(device):
    a = torch.randint(-100, 100, (3, 45), dtype=torch.int32)
    b = torch.randint(-100, 100, (3, 45), dtype=torch.int32)
    c = torch.randint(-100, 100, (3, 45), dtype=torch.int32)
    out = ttnn.addcmul(put(device, a, ttnn.int32), put(device, b, ttnn.int32), put(device, c, ttnn.int32), value=2)
    assert out.dtype == ttnn.int32
    assert torch.equal(got(out), (a + 2 * b * c).long())


def test_fp32(device):
    a, b, c = torch.randn(3, 45), torch.randn(3, 45), torch.randn(3, 45)
    out = ttnn.mac(put(device, a, ttnn.float32), put(device, b, ttnn.float32), put(device, c, ttnn.float32))
    assert out.dtype == ttnn.float32
    torch.testing.assert_close(got(out), a * b + c)
    out = ttnn.lerp(put(device, bf16(a)), put(device, bf16(b)), 0.5, output_tensor=put(device, torch.zeros(3, 45),
                                                                                        ttnn.float32))
    assert out.dtype == ttnn.float32


def test_refusals(device):
    a = put(device, torch.randn(3, 45))
    rm = put(device, torch.randn(3, 45), layout=ttnn.ROW_MAJOR_LAYOUT)
    with pytest.raises(TTNNError, match="ttnn.where: predicate must be in TILE layout, got ROW_MAJOR"):
        ttnn.where(rm, a, a)
    with pytest.raises(TTNNError, match="ttnn.where: true_value must be in TILE layout"):
        ttnn.where(a, rm, a)
    with pytest.raises(TTNNError, match="ttnn.mac: input_tensor_a must be in TILE layout"):
        ttnn.mac(rm, a, a)
    host = ttnn.from_torch(torch.randn(3, 45), dtype=ttnn.bfloat16, layout=ttnn.TILE_LAYOUT)
    with pytest.raises(TTNNError, match="ttnn.where: false_value must be on a device"):
        ttnn.where(a, a, host)
    with pytest.raises(TTNNError, match="ttnn.where: incompatible shapes"):
        ttnn.where(a, put(device, torch.randn(4, 45)), a)
    i32 = put(device, torch.zeros(3, 45, dtype=torch.int32), ttnn.int32)
    with pytest.raises(TTNNError, match="ttnn.addcdiv: input_a has dtype INT32"):
        ttnn.addcdiv(i32, i32, i32)
    with pytest.raises(TTNNError, match="ttnn.addcmul: input_c must be a ttnn.Tensor"):
        ttnn.addcmul(a, a, 1.0)
    with pytest.raises(TTNNError, match="ttnn.lerp: end has dtype FLOAT32"):
        ttnn.lerp(a, put(device, torch.randn(3, 45), ttnn.float32), 0.5)
    with pytest.raises(TTNNError, match="ttnn.mac: output_tensor is only supported"):
        ttnn.mac(a, 1.0, a, output_tensor=a)
    u16 = put(device, torch.zeros(3, 45, dtype=torch.int16), ttnn.uint16)
    with pytest.raises(TTNNError, match="ttnn.where: predicate has dtype UINT16"):
        ttnn.where(u16, a, a)


def test_padding_and_output_tensor(device):
    p = put(device, (torch.rand(3, 45) > 0.5).float(), pad_value=0.0)
    t = put(device, torch.randn(3, 45), pad_value=1.0)
    f = put(device, torch.randn(3, 45), pad_value=2.0)
    assert ttnn.where(p, t, f)._pad == 2.0
    assert ttnn.mac(t, f, t)._pad == 3.0
    assert ttnn.where(p, t, put(device, torch.randn(1, 45)))._pad is None
    dst = put(device, torch.zeros(3, 45))
    out = ttnn.where(p, t, f, output_tensor=dst)
    assert out is dst and torch.equal(got(dst), torch.where(got(p) != 0, got(t), got(f)))


@pytest.fixture(scope="module")
def real_ttnn():
    return pytest.importorskip("ttnn")


@pytest.mark.parametrize("name", ["where", "addcmul", "addcdiv", "lerp", "mac"])
def test_matches_real_golden_function(device, real_ttnn, name):
    a, b, c = _three((2, 3, 33, 64))
    if name == "where":
        a = (a > 0).float()
    if name == "addcdiv":
        c = torch.where(c.abs() < 0.5, c.sign() * 0.5 + c, c)
    golden = real_ttnn.get_golden_function(getattr(real_ttnn, name))
    expect = golden(a.to(torch.bfloat16), b.to(torch.bfloat16), c.to(torch.bfloat16)).to(torch.float32)
    out = got(getattr(ttnn, name)(put(device, a), put(device, b), put(device, c)))
    close = torch.isclose(out, expect, rtol=1 / 32, atol=3e-2)
    assert close.float().mean() > 0.995, name
    ours = ttnn.get_golden_function(getattr(ttnn, name))(a, b, c)
    torch.testing.assert_close(bf16(ours), expect, rtol=1 / 32, atol=3e-2)
