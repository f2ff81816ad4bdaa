"""conv2d's parallelization as TT-NN chooses it ([CONV] conv2d_utils.cpp), and the cost rule that follows it."""
import pytest

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
