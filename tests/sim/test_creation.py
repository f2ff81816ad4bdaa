"""Creation ops of the simulated device: full/zeros/ones/empty/arange, *_like, rand/randn/bernoulli."""
import math

import pytest
import torch

import torch_ttnn.sim as ttnn
from torch_ttnn.sim.errors import TTNNError

RM, TL = ttnn.ROW_MAJOR_LAYOUT, ttnn.TILE_LAYOUT


def back(t):
    return ttnn.to_torch(t).to(torch.float32)


@pytest.fixture(scope="module")
def real_ttnn():
    return pytest.importorskip("ttnn")


@pytest.mark.parametrize("shape", [(7,), (3, 5), (2, 3, 33), (1, 2, 32, 40)])
@pytest.mark.parametrize("layout", [RM, TL])
def test_full_zeros_ones_on_device(device, shape, layout):
    before = device.counters.to_device
    t = ttnn.full(shape, 2.5, ttnn.bfloat16, layout, device)
    assert t.shape == ttnn.Shape(shape) and t.layout == layout and t.device() is device
    assert torch.equal(back(t), torch.full(shape, 2.5))
    assert device.counters.to_device == before + 1 and device.counters.ops == 0   # built on the host, copied
    assert torch.equal(back(ttnn.zeros(shape, layout=layout, device=device)), torch.zeros(shape))
    assert torch.equal(back(ttnn.ones(shape, ttnn.float32, layout, device)), torch.ones(shape))
    if layout == TL:
        assert t._pad == 2.5   # the whole host buffer, tile padding included, holds the value


def test_full_defaults_and_host(device):
    t = ttnn.full((3, 5), 1.0)
    assert t.device() is None and t.dtype == ttnn.bfloat16 and t.layout == RM
    b8 = ttnn.full((3, 5), 1.0, ttnn.bfloat8_b)
    assert b8.layout == TL and b8._pad == 0.0      # block floats default to TILE, padded with 0
    assert ttnn.full((2, 2), 259.0).to_torch().float().tolist() == [[260.0, 260.0]] * 2   # bf16 nearest even
    assert torch.equal(ttnn.to_torch(ttnn.full((2,), -1.0, ttnn.uint16)).to(torch.int32) & 0xFFFF,
                       torch.tensor([65535, 65535]))                                      # wraps
    assert torch.equal(ttnn.to_torch(ttnn.full((2,), 2.7, ttnn.int32)), torch.tensor([2, 2], dtype=torch.int32))
    with pytest.raises(TTNNError, match="TILE"):
        ttnn.zeros((2, 2), ttnn.bfloat8_b, RM)


def test_full_optional_tensor(device):
    out = ttnn.zeros((4, 4), device=device)
    res = ttnn.full((1,), 3.0, optional_tensor=out)
    assert res is out and torch.equal(back(out), torch.full((4, 4), 3.0))


def test_like_variants(device):
    x = ttnn.from_torch(torch.randn(3, 40), dtype=ttnn.bfloat16, layout=TL, device=device)
    f = ttnn.full_like(x, 7.0)
    assert f.shape == x.shape and f.layout == TL and f.dtype == ttnn.bfloat16 and f.device() is device
    assert torch.equal(back(f), torch.full((3, 40), 7.0)) and f._pad == 7.0
    assert device.counters.op_launches["full_like"] == 1          # the device fill op
    z = ttnn.zeros_like(x, dtype=ttnn.float32)
    assert z.dtype == ttnn.float32 and torch.equal(back(z), torch.zeros(3, 40))
    o = ttnn.ones_like(x, layout=RM)
    assert o.layout == RM and torch.equal(back(o), torch.ones(3, 40))
    host = ttnn.ones_like(ttnn.from_torch(torch.randn(2, 3)))
    assert host.device() is None and torch.equal(back(host), torch.ones(2, 3))
    moved = ttnn.zeros_like(ttnn.from_torch(torch.randn(2, 3)), device=device)
    assert moved.device() is device


def test_empty(device):
    e = ttnn.empty((2, 33), ttnn.bfloat16, TL, device)
    assert e.shape == ttnn.Shape([2, 33]) and e.layout == TL and e.device() is device
    assert torch.isnan(back(e)).all()              # documented stand-in for uninitialized memory
    i = ttnn.empty([4], ttnn.int32, RM, device)
    assert (ttnn.to_torch(i) == 2 ** 31 - 1).all()
    like = ttnn.empty_like(e, dtype=ttnn.float32)
    assert like.dtype == ttnn.float32 and like.shape == e.shape and like.device() is device
    used = device.memory_stats()["DRAM"]["current_bytes"]
    big = ttnn.empty((1024, 1024), ttnn.bfloat16, TL, device)
    assert device.memory_stats()["DRAM"]["current_bytes"] > used
    del big                                        # the last reference frees the buffer, as in ttnn
    assert device.memory_stats()["DRAM"]["current_bytes"] == used
    with pytest.raises(TTNNError, match="needs a device"):
        ttnn.empty_like(ttnn.from_torch(torch.randn(2, 2)))
    with pytest.raises(TTNNError, match="TILE"):
        ttnn.empty((2, 2), ttnn.bfloat8_b, RM, device)


def test_arange(device):
    assert torch.equal(back(ttnn.arange(0, 10, 3)), torch.tensor([0.0, 3.0, 6.0, 9.0]))
    assert torch.equal(back(ttnn.arange(5, 0, -2)), torch.tensor([5.0, 3.0, 1.0]))
    assert torch.equal(back(ttnn.arange(4)), torch.tensor([0.0, 1.0, 2.0, 3.0]))   # the (end) overload
    t = ttnn.arange(0, 40, 1, dtype=ttnn.int32, device=device, layout=TL)
    assert t.device() is device and t._pad == 0.0
    assert torch.equal(ttnn.to_torch(t), torch.arange(40, dtype=torch.int32))
    assert back(ttnn.arange(255, 262, 1)).tolist() == [255, 256, 256, 258, 260, 260, 260]   # bf16 RNE
    with pytest.raises(TTNNError, match="Step must be nonzero"):
        ttnn.arange(0, 5, 0)
    with pytest.raises(TTNNError, match="Step direction"):
        ttnn.arange(0, 10, -1)
    with pytest.raises(TTNNError, match="integer"):
        ttnn.arange(0.5, 3, 1)
    with pytest.raises(TTNNError, match="not supported"):
        ttnn.arange(0, 3, 1, dtype=ttnn.bfloat8_b)


def test_rand_randn_bernoulli(device):
    a = ttnn.rand((64, 40), device, seed=7, low=-2.0, high=3.0)
    b = ttnn.rand((64, 40), device, seed=7, low=-2.0, high=3.0)
    c = ttnn.rand((64, 40), device, seed=8, low=-2.0, high=3.0)
    va = back(a)
    assert a.layout == TL and a.dtype == ttnn.bfloat16
    assert torch.equal(va, back(b)) and not torch.equal(va, back(c))
    assert va.min() >= -2.0 and va.max() < 3.0 and abs(va.mean().item() - 0.5) < 0.15
    assert device.counters.op_launches["rand"] == 3
    n = back(ttnn.randn((128, 128), device, dtype=ttnn.float32, seed=1))
    assert abs(n.mean().item()) < 0.05 and abs(n.std().item() - 1.0) < 0.05
    p = ttnn.full((64, 64), 0.25, ttnn.bfloat16, TL, device)
    draws = ttnn.bernoulli(p, 3)
    assert draws.dtype == ttnn.float32 and set(back(draws).unique().tolist()) <= {0.0, 1.0}
    assert abs(back(draws).mean().item() - 0.25) < 0.05
    assert torch.equal(back(draws), back(ttnn.bernoulli(p, 3)))
    with pytest.raises(TTNNError, match="not supported"):
        ttnn.rand((2, 2), device, dtype=ttnn.uint8)
    with pytest.raises(TTNNError, match="TILE"):
        ttnn.bernoulli(ttnn.full((4, 4), 0.5, ttnn.bfloat16, RM, device))


def test_oracle_host_creation_bit_exact(real_ttnn):
    """Host-side creation runs on the real wheel: compare values and layout bit for bit."""
    cases = [
        (lambda m: m.full((3, 5), 259.0), None),
        (lambda m: m.full((3, 5), 0.1, m.float32), None),
        (lambda m: m.full((2, 3), -1.0, m.uint16), None),
        (lambda m: m.full((3, 5), 1.7, layout=m.TILE_LAYOUT), None),
        (lambda m: m.arange(255, 262, 1), None),
        (lambda m: m.arange(3, 40, 4, dtype=m.int32), None),
        (lambda m: m.ones((2, 33), m.float32, m.TILE_LAYOUT), None),
    ]
    for make, _ in cases:
        mine, real = make(ttnn), make(real_ttnn)
        assert mine.dtype.name == real.dtype.name and mine.layout.name == real.layout.name
        assert list(mine.shape) == list(real.shape) and list(mine.padded_shape) == list(real.padded_shape)
        assert torch.equal(ttnn.to_torch(mine), real_ttnn.to_torch(real))
    real_full = real_ttnn.full((3, 5), 1.7, layout=real_ttnn.TILE_LAYOUT).to_torch_with_padded_shape()
    assert (real_full[3:, :] == ttnn.full((3, 5), 1.7, layout=TL)._pad).all()   # padding holds the value


def test_oracle_golden(real_ttnn):
    g = real_ttnn.get_golden_function
    assert torch.equal(back(ttnn.zeros((2, 3))), g(real_ttnn.zeros)((2, 3)).float())
    assert torch.equal(back(ttnn.arange(0, 9, 2)), g(real_ttnn.arange)(0, 9, 2).float())
    x = torch.randn(2, 3)
    assert torch.equal(back(ttnn.full_like(ttnn.from_torch(x), 4.0)), g(real_ttnn.full_like)(x, 4.0).float())
    assert math.isclose(back(ttnn.ones((1,))).item(), g(real_ttnn.ones)((1,)).float().item())
