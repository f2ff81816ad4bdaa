"""conv2d's parallelization as TT-NN chooses it ([CONV] conv2d_utils.cpp), and the cost rule that follows it."""
import pytest
import torch

import torch_ttnn.sim as ttnn
from torch_ttnn.sim.ops import conv_parallel as cp
from torch_ttnn.sim.perf.estimate import estimate, tensor

GRID = (8, 8)


def test_divisors_leave_at_most_one_partly_empty_core():
    assert cp.divisor_with_padding(98, 64) == 49           # 98 row tiles: 49 cores of 2
    assert cp.divisor_with_padding(392, 64) == 56          # 56 x 7 = 392
    assert cp.divisor_with_padding(100, 64) == 50
    assert cp.divisor_with_padding(2, 64) == 2 and cp.divisor_with_padding(1, 64) == 1
    d = cp.divisor_with_padding(37, 64)                    # a prime count: padding under one share
    assert -(-37 // d) * d - 37 < -(-37 // d)
    assert cp.divisor_exact(16, 64, 8) == 8 and cp.divisor_exact(6, 4, 8) == 2
    assert cp.divisor_with_padding(16, 8, 64) == 8


@pytest.mark.parametrize("rows,cin,cout,in_ch,mm,conv1d,layout", [
    (98, 2, 2, 64, False, False, cp.HEIGHT),      # 56x56, 64 -> 64 3x3: many rows, few channels
    (2, 64, 16, 2048, True, False, cp.BLOCK),     # 7x7, 2048 -> 512 1x1 (a matmul: never width)
    (2, 64, 16, 2048, False, False, cp.WIDTH),    # 7x7, 2048 -> 512 3x3: deep input
    (2, 16, 16, 512, False, False, cp.WIDTH),     # 7x7, 512 -> 512 3x3: width reaches as many cores (16)
    (7, 8, 8, 256, False, False, cp.BLOCK),       # 14x14, 256 -> 256 3x3: block reaches 7 x 8
    (98, 64, 64, 2048, False, True, cp.HEIGHT),   # a 1D convolution only height-shards
])
def test_auto_layout_follows_the_core_counts(rows, cin, cout, in_ch, mm, conv1d, layout):
    assert cp.auto_layout(rows, cin, cout, in_ch, GRID, mm, conv1d) == layout


def test_split_blocks():
    h = cp.split(cp.HEIGHT, 98, 2, 2, GRID, False)
    assert (h.cores_rows, h.cores_channels, h.block_rows, h.block_cols) == (49, 1, 2, 2)
    b = cp.split(cp.BLOCK, 2, 64, 16, GRID, True)
    assert (b.cores_rows, b.cores_channels, b.block_rows, b.block_cols) == (2, 8, 1, 2)
    w = cp.split(cp.WIDTH, 2, 64, 16, GRID, False)
    assert (w.cores_rows, w.cores_channels, w.block_rows, w.block_cols) == (1, 16, 2, 1)
    col = cp.split(cp.BLOCK, 98, 4, 4, (8, 4), False, col_major=True)   # rows over the grid's width
    assert col.cores_rows == cp.divisor_with_padding(98, 8) and col.cores_channels == 4
    with pytest.raises(ValueError, match="HEIGHT, BLOCK or WIDTH"):
        cp.split(ttnn.TensorMemoryLayout.INTERLEAVED, 2, 2, 2, GRID, False)


def _conv_cost(shard_layout=None, cin=2048, cout=512, hw=7, k=3):
    x = tensor((1, 1, hw * hw, cin), ttnn.bfloat16)
    w = tensor((1, 1, k * k * cin, cout), ttnn.bfloat16)
    out = tensor((1, 1, hw * hw, cout), ttnn.bfloat16, buffer="L1")
    cfg = ttnn.Conv2dConfig(shard_layout=shard_layout)
    return estimate("conv2d", input_tensor=x, weight_tensor=w, in_channels=cin, out_channels=cout, device=None,
                    bias_tensor=None, kernel_size=(k, k), stride=(1, 1), padding=(k // 2, k // 2), dilation=(1, 1),
                    groups=1, batch_size=1, input_height=hw, input_width=hw, conv_config=cfg, outputs=[out])


def test_cost_follows_the_layout_given_or_chosen():
    auto = _conv_cost()
    assert "width" in auto.note                        # TT-NN's choice for a deep input
    width = _conv_cost(ttnn.TensorMemoryLayout.WIDTH_SHARDED)
    height = _conv_cost(ttnn.TensorMemoryLayout.HEIGHT_SHARDED)
    block = _conv_cost(ttnn.TensorMemoryLayout.BLOCK_SHARDED)
    assert auto.compute_cycles == width.compute_cycles
    # two row tiles: height sharding puts the whole 16-tile output width on 2 cores; width spreads it
    assert height.cores == 2 and height.compute_cycles == 8 * width.compute_cycles
    assert block.cores == 16 and "block 2x8" in block.note


# --- the programs around a convolution, and sharded activations --------------------------------------------

def test_conv_cost_counts_the_activation_programs():
    """An interleaved input is resharded, a windowed convolution gathers its halo, an interleaved output is
    moved out of the convolution's shards: each a launch of its own, in the cost and the note."""
    k3 = _conv_cost(cin=64, cout=64, hw=56, k=3)
    k1 = _conv_cost(cin=64, cout=64, hw=56, k=1)
    assert "+ reshard + halo + to memory_config" in k3.note
    assert "reshard" in k1.note and "halo" not in k1.note       # a 1x1 convolution runs as a matmul


def _activation(device, pixels, channels, memory_config=None):
    g = torch.Generator().manual_seed(pixels + channels)
    x = torch.randn(1, 1, pixels, channels, generator=g)
    return ttnn.from_torch(x, dtype=ttnn.bfloat16, layout=ttnn.TILE_LAYOUT, device=device,
                           memory_config=memory_config or ttnn.L1_MEMORY_CONFIG)


def _conv_on(device, x, cin, cout, hw, k, memory_config):
    g = torch.Generator().manual_seed(cin * k)
    w = ttnn.from_torch(torch.randn(cout, cin, k, k, generator=g) * 0.1, dtype=ttnn.bfloat16)
    return ttnn.conv2d(input_tensor=x, weight_tensor=w, device=device, in_channels=cin, out_channels=cout,
                       batch_size=1, input_height=hw, input_width=hw, kernel_size=(k, k), stride=(1, 1),
                       padding=(k // 2, k // 2), dilation=(1, 1), groups=1, memory_config=memory_config)


def _plan(device, cin, cout, hw, k):
    g = device.compute_with_storage_grid_size()
    return cp.plan(in_channels=cin, out_channels=cout, out_pixels=hw * hw, kernel=(k, k), stride=(1, 1),
                   padding=(k // 2, k // 2), dilation=(1, 1), groups=1, grid=(g.x, g.y), in_width=hw)


def test_a_convolution_writing_the_next_ones_shards_saves_its_reshard(device):
    """1x1 then 3x3 (a bottleneck's first two): the first writes its output in the shards the second reads;
    the second then runs no reshard, and the values are those of the interleaved program."""
    hw, c = 28, 64
    second = _plan(device, c, c, hw, 3)
    shards = second.memory_config(ttnn, hw * hw, c, output=False)

    def run(mc):
        device.profiler.rows.clear()
        device.profiler.recording = True
        a = _conv_on(device, _activation(device, hw * hw, c), c, c, hw, 1, mc)
        b = _conv_on(device, a, c, c, hw, 3, ttnn.L1_MEMORY_CONFIG)
        rows = [r for r in device.profiler.rows if r.op == "conv2d"]
        return ttnn.to_torch(b), rows, a

    plain, rows_plain, _ = run(ttnn.L1_MEMORY_CONFIG)
    sharded, rows, a = run(shards)
    assert a.is_sharded() and cp.config_key(a.memory_config()) == second.key(hw * hw, c, output=False)
    assert "reshard" in rows_plain[1].cost.note and "reshard" not in rows[1].cost.note
    assert rows[1].cost.kernel_us < rows_plain[1].cost.kernel_us
    assert rows[0].cost.kernel_us <= rows_plain[0].cost.kernel_us
    assert torch.equal(plain, sharded)


@pytest.mark.parametrize("change,match", [
    (lambda g, s: (g, (16, s[1])), "whole 32x32 tiles"),
    (lambda g, s: ([((0, 0), (8, 0))], s), "compute grid"),
    (lambda g, s: (g, (s[0], 32)), "does not shard"),
    (lambda g, s: ([((0, 0), (1, 0))], s), "does not shard"),
])
def test_invalid_shard_specs_are_refused(device, change, match):
    """HEIGHT-sharding a [1, 1, 256, 64] activation over 8 cores of 32 rows: shards not of whole tiles, a core
    outside the 8x8 grid, a shard narrower than the tensor, too few cores for its rows: each raises."""
    good_ranges, good_shape = [((0, 0), (7, 0))], (32, 64)
    ranges, shape = change(good_ranges, good_shape)

    def mc(ranges, shape):
        grid = ttnn.CoreRangeSet({ttnn.CoreRange(ttnn.CoreCoord(*a), ttnn.CoreCoord(*b)) for a, b in ranges})
        return ttnn.MemoryConfig(ttnn.TensorMemoryLayout.HEIGHT_SHARDED, ttnn.BufferType.L1,
                                 ttnn.ShardSpec(grid, list(shape), ttnn.ShardOrientation.ROW_MAJOR))

    x = _activation(device, 256, 64)
    ok = ttnn.to_memory_config(x, mc(good_ranges, good_shape))
    assert ok.is_sharded() and torch.equal(ttnn.to_torch(ok), ttnn.to_torch(x))
    with pytest.raises(Exception, match=match):
        ttnn.to_memory_config(x, mc(ranges, shape))
