"""Data-movement ops of the simulated device vs torch (and the real wheel's golden functions)."""
import pytest
import torch

import torch_ttnn.sim as ttnn
from torch_ttnn.sim.errors import TTNNError

RM, TL = ttnn.ROW_MAJOR_LAYOUT, ttnn.TILE_LAYOUT
SHAPES = [(37,), (5, 40), (3, 33, 7), (2, 3, 32, 40)]


def dev_tensor(device, x, layout=TL, dtype=ttnn.bfloat16, pad_value=None):
    return ttnn.from_torch(x, dtype=dtype, layout=layout, device=device, pad_value=pad_value)


def back(t):
    return ttnn.to_torch(t).to(torch.float32)


def bf16(x):
    return x.to(torch.bfloat16).to(torch.float32)


@pytest.fixture(scope="module")
def real_ttnn():
    return pytest.importorskip("ttnn")


# ------------------------------------------------------------------------------------------------
# reshape / view
# ------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("layout", [RM, TL])
@pytest.mark.parametrize("shape,new", [((37,), (1, 37)), ((5, 40), (8, 25)), ((3, 33, 7), (-1, 7)),
                                       ((2, 3, 32, 40), (6, 32, 40)), ((2, 3, 32, 40), (2, 96, 40))])
def test_reshape_matches_torch(device, layout, shape, new):
    x = torch.randn(shape)
    t = dev_tensor(device, x, layout)
    out = ttnn.reshape(t, new)
    assert torch.equal(back(out), bf16(x).reshape(new))
    assert out.layout == layout


def test_reshape_view_shares_buffer_and_is_not_a_launch(device):
    t = dev_tensor(device, torch.randn(2, 64, 40))
    before = device.counters.ops
    v = ttnn.reshape(t, (4, 32, 40))        # last dim same, both second-to-last dims multiples of 32
    assert v._alloc is t._alloc and device.counters.ops == before
    moved = ttnn.reshape(t, (2, 40, 64))    # last dim changes: data moves, one launch
    assert moved._alloc is not t._alloc and device.counters.op_launches["reshape"] == 1
    rm = dev_tensor(device, torch.randn(6, 5, 8), RM)
    assert ttnn.reshape(rm, (30, 8))._alloc is rm._alloc   # ROW_MAJOR: only the last dim matters


def test_reshape_padding_scalar(device):
    t = dev_tensor(device, torch.randn(3, 40), pad_value=5.0)
    assert t._pad == 5.0
    assert ttnn.reshape(t, (1, 3, 40))._pad == 5.0          # view: tiles unchanged
    assert ttnn.reshape(t, (40, 3))._pad == 0.0             # data moved: padding filled with pad_value (0)
    assert ttnn.reshape(t, (40, 3), pad_value=-1.0)._pad == -1.0
    assert ttnn.reshape(t, (40, 3), skip_padding_fill=True)._pad is None


def test_reshape_refusals(device):
    t = dev_tensor(device, torch.randn(4, 6))
    with pytest.raises(TTNNError, match="cannot reshape"):
        ttnn.reshape(t, (5, 5))
    with pytest.raises(TTNNError, match="more than one -1"):
        ttnn.reshape(t, (-1, -1))
    host_tile = ttnn.from_torch(torch.randn(2, 3, 40), layout=TL)
    with pytest.raises(TTNNError, match="host TILE"):
        ttnn.reshape(host_tile, (6, 40))
    host_rm = ttnn.from_torch(torch.randn(2, 3, 40))
    assert ttnn.reshape(host_rm, (3, 80)).shape == ttnn.Shape([3, 80])


def test_view_only_when_free(device):
    t = dev_tensor(device, torch.randn(2, 3, 40))
    v = ttnn.view(t, (1, 2, 3, 40))
    assert v._alloc is t._alloc and torch.equal(back(v), back(t).reshape(1, 2, 3, 40))
    with pytest.raises(TTNNError, match="not a zero-cost view.*second-to-last"):
        ttnn.view(t, (6, 40))                    # TILE, padded second-to-last dim changes
    with pytest.raises(TTNNError, match="last dim changes"):
        ttnn.view(t, (2, 120))
    aligned = dev_tensor(device, torch.randn(2, 64, 8))
    assert ttnn.view(aligned, (4, 32, 8))._alloc is aligned._alloc
    rm = dev_tensor(device, torch.randn(2, 3, 40), RM)
    assert ttnn.view(rm, (6, 40))._alloc is rm._alloc   # ROW_MAJOR pages are rows: free
    with pytest.raises(TTNNError, match="stored on device"):
        ttnn.view(ttnn.from_torch(torch.randn(2, 4)), (4, 2))


@pytest.mark.parametrize("layout", [RM, TL])
def test_squeeze_unsqueeze(device, layout):
    x = torch.randn(1, 3, 1, 40)
    t = dev_tensor(device, x, layout)
    assert torch.equal(back(ttnn.squeeze(t, 0)), bf16(x).squeeze(0))
    assert torch.equal(back(ttnn.squeeze(t)), bf16(x).squeeze())
    assert torch.equal(back(ttnn.squeeze(t, [0, 1])), bf16(x).squeeze(0))   # dim 1 is not size 1: ignored
    assert torch.equal(back(ttnn.unsqueeze(t, -1)), bf16(x).unsqueeze(-1))
    y = dev_tensor(device, torch.randn(7), layout)
    assert ttnn.unsqueeze_to_4D(y).shape == ttnn.Shape([1, 1, 1, 7])
    host = ttnn.from_torch(torch.randn(1, 5))
    assert ttnn.squeeze(host, 0).shape == ttnn.Shape([5])
    with pytest.raises(TTNNError, match="out of range"):
        ttnn.unsqueeze(t, 6)


def test_reshape_on_device(device):
    x = torch.randn(2, 32, 64)
    t = dev_tensor(device, x)
    out = ttnn.reshape_on_device(t, 1, 2, 32, 64)
    assert torch.equal(back(out), bf16(x).reshape(1, 2, 32, 64))
    with pytest.raises(TTNNError, match="X dim"):
        ttnn.reshape_on_device(t, 1, 1, 32, 128)


# ------------------------------------------------------------------------------------------------
# permute / transpose
# ------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("layout", [RM, TL])
@pytest.mark.parametrize("shape,dims", [((5, 40), (1, 0)), ((3, 33, 7), (2, 0, 1)),
                                        ((2, 3, 32, 40), (0, 2, 1, 3)), ((2, 3, 5, 40), (3, 1, 2, 0))])
def test_permute_matches_torch(device, layout, shape, dims):
    x = torch.randn(shape)
    out = ttnn.permute(dev_tensor(device, x, layout), dims)
    assert torch.equal(back(out), bf16(x).permute(dims))


def test_transpose_and_padding_scalar(device):
    x = torch.randn(2, 5, 40)
    t = dev_tensor(device, x, pad_value=3.0)
    wh = ttnn.transpose(t, -1, -2)
    assert torch.equal(back(wh), bf16(x).transpose(-1, -2))
    assert wh._pad == 3.0                         # tiles transposed in place: padding stays padding
    assert ttnn.permute(t, (1, 0, 2))._pad == 0.0   # tiles broken: pad_value written
    assert ttnn.permute(t, (1, 0, 2), pad_value=-2.0)._pad == -2.0
    assert ttnn.permute(t, (0, 2, 1))._pad == 3.0
    with pytest.raises(TTNNError, match="not a permutation"):
        ttnn.permute(t, (0, 0, 1))
    with pytest.raises(TTNNError, match="on the host"):
        ttnn.permute(ttnn.from_torch(x), (1, 0, 2))


def test_block_float_permute_requantizes(device):
    x = torch.randn(32, 64)
    t = dev_tensor(device, x, dtype=ttnn.bfloat8_b)
    out = ttnn.transpose(t, 0, 1)
    assert out.dtype == ttnn.bfloat8_b
    ref = back(t).t()
    assert (back(out) - ref).abs().max() <= ref.abs().max() / 32   # block exponents regroup


# ------------------------------------------------------------------------------------------------
# concat / stack
# ------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("layout", [RM, TL])
@pytest.mark.parametrize("shape,dim", [((37,), 0), ((5, 40), 0), ((3, 33, 7), -1), ((2, 3, 32, 40), 2)])
def test_concat_matches_torch(device, layout, shape, dim):
    xs = [torch.randn(shape), torch.randn(shape)]
    out = ttnn.concat([dev_tensor(device, x, layout) for x in xs], dim)
    assert torch.equal(back(out), torch.cat([bf16(x) for x in xs], dim))


def test_concat_padding_and_refusals(device):
    a = dev_tensor(device, torch.randn(2, 32, 40), pad_value=1.0)
    b = dev_tensor(device, torch.randn(2, 32, 8), pad_value=1.0)
    h = dev_tensor(device, torch.randn(2, 5, 40), pad_value=1.0)
    assert ttnn.concat([a, h], 1)._pad == 1.0        # along H at a tile boundary: whole tiles
    assert ttnn.concat([h, a], 1)._pad is None        # 5 rows then a seam inside a tile: re-tiled
    assert ttnn.concat([a, b], -1)._pad is None        # 40 is not a tile multiple: seams re-tiled
    assert ttnn.concat([a, a], 0)._pad == 1.0
    with pytest.raises(TTNNError, match="only dim"):
        ttnn.concat([a, b], 0)
    with pytest.raises(TTNNError, match="layout"):
        ttnn.concat([a, dev_tensor(device, torch.randn(2, 32, 40), RM)], 0)
    with pytest.raises(TTNNError, match="on the host"):
        ttnn.concat([a, ttnn.from_torch(torch.randn(2, 32, 40), layout=TL)], 0)


def test_concat_output_tensor(device):
    a = dev_tensor(device, torch.randn(4, 8), RM)
    out = ttnn.zeros((8, 8), device=device)
    res = ttnn.concat([a, a], 0, output_tensor=out)
    assert res is out and torch.equal(back(out), torch.cat([back(a), back(a)]))


@pytest.mark.parametrize("layout", [RM, TL])
@pytest.mark.parametrize("dim", [0, 1, -1])
def test_stack(device, layout, dim):
    xs = [torch.randn(3, 33), torch.randn(3, 33)]
    out = ttnn.stack([dev_tensor(device, x, layout) for x in xs], dim)
    assert torch.equal(back(out), torch.stack([bf16(x) for x in xs], dim))


# ------------------------------------------------------------------------------------------------
# slice / split / chunk / narrow
# ------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("layout", [RM, TL])
def test_slice_matches_torch(device, layout):
    x = torch.randn(2, 3, 33, 70)
    t = dev_tensor(device, x, layout)
    out = ttnn.slice(t, [0, 1, 2, 5], [2, 3, 30, 70])
    assert torch.equal(back(out), bf16(x)[0:2, 1:3, 2:30, 5:70])
    out = ttnn.slice(t, [0, 0, 1, 0], [1, 3, 33, 70], [1, 2, 3, 4])
    assert torch.equal(back(out), bf16(x)[0:1, 0:3:2, 1:33:3, 0:70:4])
    out = ttnn.slice(t, [0, 0, 0, -10], [2, 3, 33, 70])
    assert torch.equal(back(out), bf16(x)[..., -10:])
    y = dev_tensor(device, torch.randn(50), layout)
    assert torch.equal(back(ttnn.slice(y, [3], [40], [2])), back(y)[3:40:2])


def test_slice_padding_and_refusals(device):
    t = dev_tensor(device, torch.randn(64, 70), pad_value=2.0)
    assert ttnn.slice(t, [32, 0], [64, 70])._pad == 2.0        # tile-aligned cut: whole tiles
    assert ttnn.slice(t, [1, 0], [64, 70])._pad is None        # undefined by default
    assert ttnn.slice(t, [1, 0], [64, 70], pad_value=0.0)._pad == 0.0
    with pytest.raises(TTNNError, match="empty slice"):
        ttnn.slice(t, [5, 0], [5, 70])
    with pytest.raises(TTNNError, match="one entry per dim"):
        ttnn.slice(t, [0], [5])
    b8 = dev_tensor(device, torch.randn(64, 64), dtype=ttnn.bfloat8_b)
    with pytest.raises(TTNNError, match="bfloat8_b"):
        ttnn.slice(b8, [0, 0], [64, 64], [2, 1])
    with pytest.raises(TTNNError, match="on the host"):
        ttnn.slice(ttnn.from_torch(torch.randn(4, 4)), [0, 0], [2, 2])


@pytest.mark.parametrize("layout", [RM, TL])
def test_split_and_chunk(device, layout):
    x = torch.randn(3, 70)
    t = dev_tensor(device, x, layout)
    for got, ref in zip(ttnn.split(t, 32, 1), torch.split(bf16(x), 32, 1)):
        assert torch.equal(back(got), ref)
    for got, ref in zip(ttnn.split(t, [10, 60], -1), torch.split(bf16(x), [10, 60], -1)):
        assert torch.equal(back(got), ref)
    for got, ref in zip(ttnn.chunk(t, 3, 0), torch.chunk(bf16(x), 3, 0)):
        assert torch.equal(back(got), ref)
    with pytest.raises(TTNNError, match="sum to"):
        ttnn.split(t, [10, 10], 1)
    with pytest.raises(TTNNError, match="> 0"):
        ttnn.split(t, [0, 70], 1)


def test_narrow_is_a_view_with_bank_rules(device):
    t = dev_tensor(device, torch.randn(24, 2, 32), RM)     # pages are rows of 32; 2 pages per outer index
    v = ttnn.narrow(t, 0, 6, 12)                           # starts at page 12 = 12 DRAM banks * 1
    assert v._alloc is t._alloc and torch.equal(back(v), back(t)[6:18])
    with pytest.raises(TTNNError, match="first DRAM bank"):
        ttnn.narrow(t, 0, 1, 4)
    with pytest.raises(TTNNError, match="first non-trivial"):
        ttnn.narrow(t, 2, 0, 16)
    tt = dev_tensor(device, torch.randn(1, 1, 32, 12 * 32 * 2))
    v = ttnn.narrow(tt, -1, 12 * 32, 12 * 32)               # TILE: tile 12 of one tile row
    assert torch.equal(back(v), back(tt)[..., 384:768])
    with pytest.raises(TTNNError, match="multiples of 32"):
        ttnn.narrow(tt, -1, 5, 32)
    with pytest.raises(TTNNError, match="DEVICE"):
        ttnn.narrow(ttnn.from_torch(torch.randn(4, 4)), 0, 0, 2)


# ------------------------------------------------------------------------------------------------
# expand / repeat / repeat_interleave / roll / pad
# ------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("layout", [RM, TL])
def test_expand_repeat_interleave_roll(device, layout):
    x = torch.randn(3, 1, 33)
    t = dev_tensor(device, x, layout)
    assert torch.equal(back(ttnn.expand(t, (2, 3, 5, -1))), bf16(x).expand(2, 3, 5, 33))
    assert torch.equal(back(ttnn.repeat(t, [2, 3, 1])), bf16(x).repeat(2, 3, 1))
    assert torch.equal(back(ttnn.repeat(t, [2])), bf16(x).repeat(1, 1, 2))
    assert torch.equal(back(ttnn.repeat_interleave(t, 2, 0)), bf16(x).repeat_interleave(2, 0))
    assert torch.equal(back(ttnn.roll(t, 5, -1)), torch.roll(bf16(x), 5, -1))
    assert torch.equal(back(ttnn.roll(t, [1, -4], [0, 2])), torch.roll(bf16(x), (1, -4), (0, 2)))
    assert torch.equal(back(ttnn.roll(t, 7)), torch.roll(bf16(x), 7))          # the overload without dim
    with pytest.raises(TTNNError, match="cannot be expanded"):
        ttnn.expand(t, (4, 3, 33))


def test_expand_repeat_padding(device):
    t = dev_tensor(device, torch.randn(1, 5, 40), pad_value=4.0)
    assert ttnn.expand(t, (3, 5, 40))._pad == 4.0
    assert ttnn.repeat(t, [3, 1, 1])._pad == 4.0
    assert ttnn.repeat(t, [1, 1, 2])._pad is None
    assert ttnn.roll(t, 1, 2)._pad is None


@pytest.mark.parametrize("shape,padding", [((5,), [(2, 3)]), ((3, 33), [(1, 0), (0, 7)]),
                                           ((2, 3, 5), [(0, 1), (2, 2)]), ((1, 2, 3, 4), [(1, 1), (0, 0), (0, 5)])])
def test_pad_row_major_device_and_host(device, shape, padding):
    x = torch.randn(shape)
    flat = [v for pair in reversed(padding) for v in pair]
    ref = torch.nn.functional.pad(bf16(x), flat, value=1.5)
    assert torch.equal(back(ttnn.pad(dev_tensor(device, x, RM), padding, 1.5)), ref)
    assert torch.equal(back(ttnn.pad(ttnn.from_torch(x, dtype=ttnn.bfloat16), padding, 1.5)), ref)


def test_pad_tile(device):
    x = torch.randn(2, 3, 40)
    t = dev_tensor(device, x)
    out = ttnn.pad(t, [(0, 0), (0, 5), (0, 30)], -3.0)
    assert out.shape == ttnn.Shape([2, 8, 70]) and out._pad == -3.0   # pad writes its value everywhere
    assert torch.equal(back(out), torch.nn.functional.pad(bf16(x), (0, 30, 0, 5), value=-3.0))
    with pytest.raises(TTNNError, match="front padding"):
        ttnn.pad(t, [(1, 0), (0, 0)], 0.0)
    with pytest.raises(TTNNError, match="ROW_MAJOR"):
        ttnn.pad(ttnn.from_torch(x, layout=TL), [(0, 1)], 0.0)
    with pytest.raises(TTNNError, match="larger than"):
        ttnn.pad(t, [(0, 1)] * 4, 0.0)


def test_pad_int_dtype(device):
    x = torch.randint(-5, 5, (3, 4), dtype=torch.int32)
    t = ttnn.from_torch(x, dtype=ttnn.int32, device=device)
    out = ttnn.to_torch(ttnn.pad(t, [(0, 1), (0, 2)], 7))
    assert torch.equal(out, torch.nn.functional.pad(x, (0, 2, 0, 1), value=7))


# ------------------------------------------------------------------------------------------------
# move / tilize_with_val_padding / untilize_with_unpadding
# ------------------------------------------------------------------------------------------------

def test_move_frees_input(device):
    t = dev_tensor(device, torch.randn(64, 64))
    live = device.memory_stats()["DRAM"]["live_buffers"]
    out = ttnn.move(t)
    assert device.memory_stats()["DRAM"]["live_buffers"] == live
    assert not t.is_allocated() and out.shape == ttnn.Shape([64, 64])
    out_l1 = ttnn.move(out, memory_config=ttnn.L1_MEMORY_CONFIG)
    assert out_l1.memory_config().buffer_type == ttnn.BufferType.L1


def test_tilize_with_val_padding_and_untilize_with_unpadding(device):
    x = torch.randn(2, 3, 40)
    t = dev_tensor(device, x, RM)
    tl = ttnn.tilize_with_val_padding(t, [2, 32, 64], 9.0)
    assert tl.layout == TL and tl.shape == ttnn.Shape([2, 3, 40]) and tl._pad == 9.0
    assert torch.equal(back(tl), bf16(x))
    rm = ttnn.untilize_with_unpadding(tl, [1, 2, 29])
    assert rm.layout == RM and torch.equal(back(rm), bf16(x)[:, :, :30])
    beyond = ttnn.untilize_with_unpadding(tl, [1, 4, 39])         # reads two padding rows
    assert torch.equal(back(beyond)[:, 3:], torch.full((2, 2, 40), 9.0))
    b8 = ttnn.tilize_with_val_padding(t, [2, 32, 64], 0.0, dtype=ttnn.bfloat8_b)
    assert ttnn.untilize_with_unpadding(b8, [1, 2, 39]).dtype == ttnn.bfloat16
    with pytest.raises(TTNNError, match="ROW_MAJOR"):
        ttnn.tilize_with_val_padding(tl, [2, 32, 64], 0.0)
    with pytest.raises(TTNNError, match="divisible by the tile"):
        ttnn.tilize_with_val_padding(t, [2, 3, 40], 0.0)
    with pytest.raises(TTNNError, match="TILE"):
        ttnn.untilize_with_unpadding(t, [1, 2, 39])
    with pytest.raises(TTNNError, match="outside"):
        ttnn.untilize_with_unpadding(tl, [1, 40, 39])


def test_block_float_row_major_is_impossible(device):
    t = dev_tensor(device, torch.randn(4, 40), RM)
    with pytest.raises(TTNNError, match="TILE"):
        ttnn.full((4, 40), 1.0, ttnn.bfloat8_b, RM, device)
    b8 = dev_tensor(device, torch.randn(4, 40), dtype=ttnn.bfloat8_b)
    assert ttnn.reshape(b8, (40, 4)).dtype == ttnn.bfloat8_b and t.layout == RM


# ------------------------------------------------------------------------------------------------
# Oracle: the real wheel's golden functions
# ------------------------------------------------------------------------------------------------

def test_oracle_golden_functions(device, real_ttnn):
    x = bf16(torch.randn(2, 3, 33, 40))
    t = dev_tensor(device, x)
    g = real_ttnn.get_golden_function
    cases = [
        (ttnn.permute(t, (0, 2, 3, 1)), g(real_ttnn.permute)(x, (0, 2, 3, 1))),
        (ttnn.transpose(t, 1, 3), g(real_ttnn.transpose)(x, 1, 3)),
        (ttnn.concat([t, t], 2), g(real_ttnn.concat)([x, x], 2)),
        (ttnn.slice(t, [0, 1, 3, 2], [2, 3, 33, 40], [1, 1, 2, 3]),
         g(real_ttnn.slice)(x, [0, 1, 3, 2], [2, 3, 33, 40], [1, 1, 2, 3])),
        (ttnn.repeat(t, [1, 2, 1, 1]), g(real_ttnn.repeat)(x, [1, 2, 1, 1])),
        (ttnn.repeat_interleave(t, 3, 1), g(real_ttnn.repeat_interleave)(x, 3, dim=1)),
        (ttnn.roll(t, [3], [2]), g(real_ttnn.roll)(x, [3], [2])),
        (ttnn.pad(t, [(0, 2), (0, 7)], 0.5), g(real_ttnn.pad)(x, [(0, 0), (0, 0), (0, 2), (0, 7)], 0.5)),
        (ttnn.stack([t, t], 1), g(real_ttnn.stack)([x, x], 1)),
    ]
    for got, ref in cases:
        assert torch.equal(back(got), ref.to(torch.float32))
    for got, ref in zip(ttnn.split(t, 16, 3), g(real_ttnn.split)(x, 16, 3)):
        assert torch.equal(back(got), ref)
