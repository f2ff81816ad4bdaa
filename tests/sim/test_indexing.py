"""Indexing ops of the simulated device (torch_ttnn/sim/ops/indexing.py): embedding, gather, scatter,
scatter_add, index_fill."""
import pytest
import torch
import torch.nn.functional as F

import torch_ttnn.sim as ttnn
from torch_ttnn.sim import formats
from torch_ttnn.sim.errors import TTNNError


def bf16(*shape):
    return torch.randn(*shape).to(torch.bfloat16)


@pytest.fixture
def table():
    return bf16(50, 64)


def test_embedding_matches_torch(device, table):
    ids = torch.randint(0, 50, (3, 7))
    w = ttnn.from_torch(table, dtype=ttnn.bfloat16, device=device)
    out = ttnn.embedding(ttnn.from_torch(ids, dtype=ttnn.uint32, device=device), w)
    assert tuple(out.shape) == (3, 7, 64) and out.layout == ttnn.ROW_MAJOR_LAYOUT and out.dtype == ttnn.bfloat16
    assert torch.equal(ttnn.to_torch(out), F.embedding(ids, table))
    # rank-1 indices give [S, D]; BFLOAT16 indices are accepted (converted to integers)
    one = ttnn.embedding(ttnn.from_torch(ids[0].to(torch.bfloat16), dtype=ttnn.bfloat16, device=device), w)
    assert tuple(one.shape) == (7, 64) and torch.equal(ttnn.to_torch(one), F.embedding(ids[0], table))


def test_embedding_layout_dtype_and_types(device, table):
    ids = torch.randint(0, 50, (2, 32))
    tids = ttnn.from_torch(ids, dtype=ttnn.uint32, device=device)
    w = ttnn.from_torch(table, dtype=ttnn.bfloat16, device=device)
    tiled = ttnn.embedding(tids, w, layout=ttnn.TILE_LAYOUT, dtype=ttnn.bfloat8_b)
    assert tiled.layout == ttnn.TILE_LAYOUT and tiled.dtype == ttnn.bfloat8_b
    ref = formats.quantize_bfp_packer(F.embedding(ids, table).float(), ttnn.bfloat8_b)
    assert torch.equal(ttnn.to_torch(tiled).float(), ref)
    # the weight's layout is the default output layout
    wt = ttnn.from_torch(table, dtype=ttnn.bfloat16, layout=ttnn.TILE_LAYOUT, device=device)
    assert ttnn.embedding(tids, wt).layout == ttnn.TILE_LAYOUT
    # PADDED reads the pad row like any other row (forward equals torch); BINARY maps 0 -> row 0, else row 1
    padded = ttnn.embedding(tids, w, padding_idx=3)
    assert torch.equal(ttnn.to_torch(padded), F.embedding(ids, table))
    w2 = ttnn.from_torch(table[:2], dtype=ttnn.bfloat16, device=device)
    binary = ttnn.embedding(tids, w2, embeddings_type=ttnn.EmbeddingsType.BINARY)
    assert torch.equal(ttnn.to_torch(binary), F.embedding((ids != 0).long(), table[:2]))
    with pytest.raises(TTNNError, match="Can only typecast"):
        ttnn.embedding(tids, w, dtype=ttnn.float32)


def test_embedding_refusals(device, table):
    ids = torch.randint(0, 50, (2, 5))
    w = ttnn.from_torch(table, dtype=ttnn.bfloat16, device=device)
    with pytest.raises(TTNNError, match="UINT32 or BFLOAT16"):
        ttnn.embedding(ttnn.from_torch(ids, dtype=ttnn.int32, device=device), w)
    tids = ttnn.from_torch(ids, dtype=ttnn.uint32, device=device)
    with pytest.raises(TTNNError, match="BFLOAT16 dtype"):
        ttnn.embedding(tids, ttnn.from_torch(table.float(), dtype=ttnn.float32, device=device))
    with pytest.raises(TTNNError, match="on the host"):
        ttnn.embedding(tids, ttnn.from_torch(table, dtype=ttnn.bfloat16))
    with pytest.raises(TTNNError, match="outside"):
        ttnn.embedding(ttnn.from_torch(ids + 50, dtype=ttnn.uint32, device=device), w)
    with pytest.raises(TTNNError, match="2 embeddings"):
        ttnn.embedding(tids, w, embeddings_type=ttnn.EmbeddingsType.BINARY)


@pytest.mark.parametrize("shape,index_shape,dim,dtype", [
    ((4, 37, 20), (4, 9, 20), 1, ttnn.bfloat16),
    ((3, 50), (2, 7), -1, ttnn.float32),
    ((2, 3, 5, 40), (2, 3, 5, 33), 3, ttnn.int32),
])
def test_gather_matches_torch(device, shape, index_shape, dim, dtype):
    src = torch.randint(-100, 100, shape) if dtype == ttnn.int32 else bf16(*shape).float()
    idx = torch.randint(0, shape[dim], index_shape)
    out = ttnn.gather(ttnn.from_torch(src, dtype=dtype, layout=ttnn.TILE_LAYOUT, device=device), dim,
                      ttnn.from_torch(idx, dtype=ttnn.uint32, layout=ttnn.TILE_LAYOUT, device=device))
    ref = torch.gather(src[tuple(slice(0, n) if k != dim % len(shape) else slice(None)
                                 for k, n in enumerate(index_shape))], dim, idx)
    assert tuple(out.shape) == index_shape and out.dtype == dtype and out.layout == ttnn.TILE_LAYOUT
    assert torch.equal(ttnn.to_torch(out).to(ref.dtype), ref)


def test_gather_refusals(device):
    src, idx = bf16(4, 8), torch.randint(0, 8, (4, 3))
    tsrc = ttnn.from_torch(src, dtype=ttnn.bfloat16, layout=ttnn.TILE_LAYOUT, device=device)
    tidx = ttnn.from_torch(idx, dtype=ttnn.uint32, layout=ttnn.TILE_LAYOUT, device=device)
    with pytest.raises(TTNNError, match="TILE layout"):
        ttnn.gather(ttnn.from_torch(src, dtype=ttnn.bfloat16, device=device), 1, tidx)
    with pytest.raises(TTNNError, match="index has dtype INT32"):
        ttnn.gather(tsrc, 1, ttnn.from_torch(idx, dtype=ttnn.int32, layout=ttnn.TILE_LAYOUT, device=device))
    with pytest.raises(TTNNError, match="same number of dimensions"):
        ttnn.gather(tsrc, 1, ttnn.from_torch(idx[0], dtype=ttnn.uint32, layout=ttnn.TILE_LAYOUT, device=device))
    with pytest.raises(TTNNError, match="on the host"):
        ttnn.gather(tsrc, 1, ttnn.from_torch(idx, dtype=ttnn.uint32, layout=ttnn.TILE_LAYOUT))


def test_scatter_and_scatter_add(device):
    inp, src = bf16(4, 37, 20), bf16(4, 9, 20)
    perm = torch.stack([torch.randperm(37)[:9] for _ in range(80)]).reshape(4, 20, 9).permute(0, 2, 1)
    tin = ttnn.from_torch(inp, dtype=ttnn.bfloat16, device=device)
    tsrc = ttnn.from_torch(src, dtype=ttnn.bfloat16, device=device)
    out = ttnn.scatter(tin, 1, ttnn.from_torch(perm.contiguous(), dtype=ttnn.int32, device=device), tsrc)
    assert out.layout == ttnn.ROW_MAJOR_LAYOUT and torch.equal(ttnn.to_torch(out), torch.scatter(inp, 1, perm, src))
    dup = torch.randint(0, 37, (4, 9, 20))
    added = ttnn.scatter_add(tin, 1, ttnn.from_torch(dup, dtype=ttnn.uint32, device=device), tsrc)
    ref = formats.round_bf16_packer(torch.scatter_add(inp.float(), 1, dup, src.float()))
    assert torch.equal(ttnn.to_torch(added).float(), ref)
    amax = ttnn.scatter(tin, 1, ttnn.from_torch(dup, dtype=ttnn.uint32, device=device), tsrc, reduce="amax")
    assert torch.equal(ttnn.to_torch(amax), torch.scatter_reduce(inp, 1, dup, src, "amax"))
    tiled = ttnn.scatter(ttnn.from_torch(inp, dtype=ttnn.bfloat16, layout=ttnn.TILE_LAYOUT, device=device), 1,
                         ttnn.from_torch(perm.contiguous(), dtype=ttnn.uint32, device=device), tsrc)
    assert tiled.layout == ttnn.TILE_LAYOUT


def test_scatter_refusals(device):
    inp, src, idx = torch.randn(4, 8), torch.randn(4, 3), torch.randint(0, 8, (4, 3))
    tidx = ttnn.from_torch(idx, dtype=ttnn.uint32, device=device)
    with pytest.raises(TTNNError, match="fp32 tiled"):
        ttnn.scatter(ttnn.from_torch(inp, dtype=ttnn.float32, layout=ttnn.TILE_LAYOUT, device=device), 1, tidx,
                     ttnn.from_torch(src, dtype=ttnn.float32, device=device))
    with pytest.raises(TTNNError, match="input_dtype differs from src_dtype"):
        ttnn.scatter(ttnn.from_torch(inp, dtype=ttnn.bfloat16, device=device), 1, tidx,
                     ttnn.from_torch(src, dtype=ttnn.float32, device=device))
    with pytest.raises(TTNNError, match="Index tensor has dimension 0"):
        ttnn.scatter(ttnn.from_torch(inp, dtype=ttnn.float32, device=device), 1,
                     ttnn.from_torch(idx[:2], dtype=ttnn.uint32, device=device),
                     ttnn.from_torch(src, dtype=ttnn.float32, device=device))


def test_index_fill(device):
    inp = bf16(3, 6, 5)
    idx = torch.tensor([0, 4])
    out = ttnn.index_fill(ttnn.from_torch(inp, dtype=ttnn.bfloat16, device=device), 1,
                          ttnn.from_torch(idx, dtype=ttnn.uint32, device=device), 2.5)
    assert torch.equal(ttnn.to_torch(out), torch.index_fill(inp, 1, idx, 2.5))
    ints = torch.randint(-9, 9, (4, 7))
    out = ttnn.index_fill(ttnn.from_torch(ints, dtype=ttnn.int32, device=device), 0,
                          ttnn.from_torch(torch.tensor([1, 2]), dtype=ttnn.uint32, device=device), 7)
    assert torch.equal(ttnn.to_torch(out).long(), torch.index_fill(ints, 0, torch.tensor([1, 2]), 7))
    with pytest.raises(TTNNError, match="ROW_MAJOR"):
        ttnn.index_fill(ttnn.from_torch(inp, dtype=ttnn.bfloat16, layout=ttnn.TILE_LAYOUT, device=device), 1,
                        ttnn.from_torch(idx, dtype=ttnn.uint32, device=device), 1.0)


@pytest.fixture(scope="module")
def real_ttnn():
    return pytest.importorskip("ttnn")


def test_goldens_match_real(device, real_ttnn, table):
    ids = torch.randint(0, 50, (2, 9))
    real = real_ttnn.get_golden_function(real_ttnn.embedding)(ids.to(torch.int32), table)
    assert torch.equal(ttnn.get_golden_function(ttnn.embedding)(ids.to(torch.int32), table), real)
    out = ttnn.embedding(ttnn.from_torch(ids, dtype=ttnn.uint32, device=device),
                         ttnn.from_torch(table, dtype=ttnn.bfloat16, device=device))
    assert torch.equal(ttnn.to_torch(out), real)
    src, idx = bf16(5, 40), torch.randint(0, 40, (5, 11))
    real = real_ttnn.get_golden_function(real_ttnn.gather)(src, 1, idx)
    assert torch.equal(ttnn.get_golden_function(ttnn.gather)(src, 1, idx), real)
    out = ttnn.gather(ttnn.from_torch(src, dtype=ttnn.bfloat16, layout=ttnn.TILE_LAYOUT, device=device), 1,
                      ttnn.from_torch(idx, dtype=ttnn.uint32, layout=ttnn.TILE_LAYOUT, device=device))
    assert torch.equal(ttnn.to_torch(out), real)
    for name in ("scatter", "scatter_add"):
        s2 = bf16(5, 11)
        real = real_ttnn.get_golden_function(getattr(real_ttnn, name))(src, 1, idx, s2)
        assert torch.equal(ttnn.get_golden_function(getattr(ttnn, name))(src, 1, idx, s2), real)
