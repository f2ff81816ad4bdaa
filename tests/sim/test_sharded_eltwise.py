"""Element-wise ops on sharded operands: TT-NN 0.81.1's binary_ng takes any mix of sharded and interleaved operands
and chooses its output memory config by its own rules; a unary op keeps its input's."""
import pytest
import torch

import torch_ttnn.sim as ttnn


def _grid(x: int, y: int = 1):
    return ttnn.CoreRangeSet({ttnn.CoreRange(ttnn.CoreCoord(0, 0), ttnn.CoreCoord(x - 1, y - 1))})


def _height(shard, cores: int, buffer=ttnn.BufferType.L1):
    return ttnn.MemoryConfig(ttnn.TensorMemoryLayout.HEIGHT_SHARDED, buffer,
                             ttnn.ShardSpec(_grid(cores), list(shard), ttnn.ShardOrientation.ROW_MAJOR))


def _put(device, x, mc):
    return ttnn.from_torch(x, dtype=ttnn.bfloat16, layout=ttnn.TILE_LAYOUT, device=device, memory_config=mc)


def _round(x):
    return x.to(torch.bfloat16).float()


@pytest.fixture
def xy():
    g = torch.Generator().manual_seed(0)
    return _round(torch.randn(1, 1, 256, 64, generator=g)), _round(torch.randn(1, 1, 256, 64, generator=g))


def test_sharded_operands_keep_their_shards(device, xy):
    x, y = xy
    mc = _height((64, 64), 4)
    out = ttnn.add(_put(device, x, mc), _put(device, y, mc))
    assert out.memory_config() == mc
    # the shards change where the values live, not what they are
    ref = ttnn.add(_put(device, x, ttnn.DRAM_MEMORY_CONFIG), _put(device, y, ttnn.DRAM_MEMORY_CONFIG))
    assert torch.equal(ttnn.to_torch(out), ttnn.to_torch(ref))
    torch.testing.assert_close(ttnn.to_torch(out).float(), x + y, rtol=1e-2, atol=1e-2)


def test_output_follows_the_rules_of_binary_ng(device, xy):
    x, y = xy
    four, eight = _height((64, 64), 4), _height((32, 64), 8)
    dram = _put(device, x, ttnn.DRAM_MEMORY_CONFIG)
    l1 = _put(device, x, ttnn.L1_MEMORY_CONFIG)
    # a in DRAM, b sharded: b's shards
    assert ttnn.add(dram, _put(device, y, four)).memory_config() == four
    # a interleaved in L1: a's config
    assert ttnn.add(l1, _put(device, y, four)).memory_config() == ttnn.L1_MEMORY_CONFIG
    # both sharded: the larger grid
    assert ttnn.add(_put(device, x, four), _put(device, y, eight)).memory_config() == eight
    assert ttnn.add(_put(device, x, eight), _put(device, y, four)).memory_config() == eight
    # asked for: that one, whatever the operands
    assert ttnn.add(_put(device, x, four), _put(device, y, four),
                    memory_config=ttnn.DRAM_MEMORY_CONFIG).memory_config() == ttnn.DRAM_MEMORY_CONFIG
    # sharded without a spec: the sharded operand's
    out = ttnn.multiply(dram, _put(device, y, four), memory_config=ttnn.L1_HEIGHT_SHARDED_MEMORY_CONFIG)
    assert out.memory_config() == four
    torch.testing.assert_close(ttnn.to_torch(out).float(), x * y, rtol=1e-2, atol=1e-2)


def test_a_sharded_output_needs_a_shard_spec_from_somewhere(device, xy):
    x, y = xy
    with pytest.raises(RuntimeError, match="sharded but has no shard spec"):
        ttnn.add(_put(device, x, ttnn.DRAM_MEMORY_CONFIG), _put(device, y, ttnn.DRAM_MEMORY_CONFIG),
                 memory_config=ttnn.L1_HEIGHT_SHARDED_MEMORY_CONFIG)


def test_a_broadcast_scales_the_shard(device):
    g = torch.Generator().manual_seed(1)
    col, full = _round(torch.randn(1, 1, 256, 1, generator=g)), _round(torch.randn(1, 1, 256, 64, generator=g))
    a = _put(device, col, _height((64, 32), 4))            # one logical column, one tile wide
    out = ttnn.add(a, _put(device, full, ttnn.DRAM_MEMORY_CONFIG))
    assert out.memory_config() == _height((64, 64), 4)     # the width scaled from 32 to 64
    ref = ttnn.add(_put(device, col, ttnn.DRAM_MEMORY_CONFIG), _put(device, full, ttnn.DRAM_MEMORY_CONFIG))
    assert torch.equal(ttnn.to_torch(out), ttnn.to_torch(ref))


def test_an_invalid_output_shard_spec_is_refused(device, xy):
    x, y = xy
    with pytest.raises(RuntimeError, match="does not shard a tensor"):
        ttnn.add(_put(device, x, ttnn.L1_MEMORY_CONFIG), _put(device, y, ttnn.L1_MEMORY_CONFIG),
                 memory_config=_height((32, 64), 4))       # 128 of the 256 rows


def test_unary_keeps_its_inputs_shards(device, xy):
    x, _ = xy
    mc = _height((64, 64), 4)
    out = ttnn.relu(_put(device, x, mc))
    assert out.memory_config() == mc
    torch.testing.assert_close(ttnn.to_torch(out).float(), x.clamp(min=0), rtol=0, atol=0)
    assert ttnn.relu(_put(device, x, mc), memory_config=ttnn.DRAM_MEMORY_CONFIG).memory_config() \
        == ttnn.DRAM_MEMORY_CONFIG
