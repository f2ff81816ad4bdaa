"""How TT-NN spreads a convolution over the cores: its shard layout and the cores of each dimension.

A conv2d runs sharded: the activation rows (N*OH*OW, in tiles) over cores for HEIGHT_SHARDED, the rows over
the grid's rows and the channels over its columns for BLOCK_SHARDED, the channels over the cores for
WIDTH_SHARDED. Given `conv_config.shard_layout` TT-NN uses that layout; given none it chooses one from the core
counts each layout would reach ([CONV] conv2d_utils.cpp, `select_shard_spec`, `determine_parallel_config`,
`determine_output_parallel_config`). The rule, as written there:

- core counts: HEIGHT, the largest divisor of the row tiles, from the grid's core count down, whose padding is
  under one shard; BLOCK, that divisor of the rows from the grid's height times the largest divisor of the
  output and input channel tiles from the grid's width (with padding for a convolution, exact for the 1x1
  matmul one); WIDTH, the largest divisor (with padding) of the input channel tiles from the core count;
- a 1D convolution (weights and input one wide) only height-shards; a 1x1 stride-1 unpadded convolution runs
  as a matmul and does not width-shard;
- BLOCK by default; HEIGHT where it reaches more cores while BLOCK stays under three quarters of the grid, or
  the same count within one grid row; WIDTH where it reaches at least as many cores as the choice so far, or
  (BLOCK chosen) where it reaches 40 cores or more and there are over 1,280 input channels;
- a width-sharded (non-matmul) convolution writes its output over the largest divisor (with padding) of the
  output channel tiles from the core count.

The cost rule (sim/perf/rules.py) computes a core's share of the output from this split, as the convolution
TT-NN would run computes it.
"""
from __future__ import annotations

from dataclasses import dataclass

from ..types import TensorMemoryLayout

HEIGHT, BLOCK, WIDTH = (TensorMemoryLayout.HEIGHT_SHARDED, TensorMemoryLayout.BLOCK_SHARDED,
                        TensorMemoryLayout.WIDTH_SHARDED)
# [CONV] select_shard_spec: BLOCK gives way to HEIGHT below this share of the grid, and to WIDTH from this many
# cores when the input has more channels than WIDE_INPUT_CHANNELS
BLOCK_SHARE = 0.75
WIDE_MIN_CORES = 40
WIDE_INPUT_CHANNELS = 1280


def _ceil(a: int, b: int) -> int:
    return -(-a // b)


def divisor_with_padding(num: int, start: int, other: int | None = None) -> int:
    """The largest d <= start for which padding `num` (and `other`) up to a multiple of d adds less than one
    share num/d: cores that each get a slice, with at most one partly empty."""
    d = max(1, start)
    while d > 1:
        if all(_ceil(v, d) * d - v < _ceil(v, d) for v in ((num,) if other is None else (num, other))):
            return d
        d -= 1
    return 1


def divisor_exact(num: int, other: int, start: int) -> int:
    """The largest d <= start that divides both."""
    d = max(1, start)
    while d > 1 and (num % d or other % d):
        d -= 1
    return d


@dataclass(frozen=True)
class ConvSplit:
    """A convolution's parallelization: its layout, the cores along the rows (N*OH*OW) and along the output
    channels, and a core's block of output tiles (rows x channels)."""
    layout: TensorMemoryLayout
    cores_rows: int
    cores_channels: int
    block_rows: int        # output row tiles a core computes
    block_cols: int        # output channel tiles a core computes

    @property
    def cores(self) -> int:
        return self.cores_rows * self.cores_channels


def split(layout, row_tiles: int, cin_tiles: int, cout_tiles: int, grid: tuple, mm_conv: bool,
          col_major: bool = False) -> ConvSplit:
    """[CONV] determine_parallel_config (+ determine_output_parallel_config for WIDTH) for `layout`."""
    gx, gy = grid
    cores = gx * gy
    layout = TensorMemoryLayout(layout)
    if layout == HEIGHT:
        n = divisor_with_padding(row_tiles, cores)
        return ConvSplit(layout, n, 1, _ceil(row_tiles, n), cout_tiles)
    if layout == BLOCK:
        n = divisor_with_padding(row_tiles, gx if col_major else gy)
        start_c = gy if col_major else gx
        c = (divisor_exact(cout_tiles, cin_tiles, start_c) if mm_conv
             else divisor_with_padding(cout_tiles, start_c, cin_tiles))
        return ConvSplit(layout, n, c, _ceil(row_tiles, n), _ceil(cout_tiles, c))
    if layout == WIDTH:       # never the 1x1 matmul path (TT-NN runs a width-sharded 1x1 as a convolution)
        c_out = divisor_with_padding(cout_tiles, cores)
        return ConvSplit(layout, 1, c_out, row_tiles, _ceil(cout_tiles, c_out))
    raise ValueError(f"conv2d supports HEIGHT, BLOCK or WIDTH sharded layouts, got {layout.name}")


def auto_layout(row_tiles: int, cin_tiles: int, cout_tiles: int, in_channels: int, grid: tuple, mm_conv: bool,
                conv1d: bool, col_major: bool = False) -> TensorMemoryLayout:
    """[CONV] select_shard_spec: the layout TT-NN picks when conv_config.shard_layout is None."""
    gx, gy = grid

    def count(layout):
        if layout == HEIGHT:
            return divisor_with_padding(row_tiles, gx * gy)
        if layout == WIDTH:
            return divisor_with_padding(cin_tiles, gx * gy)      # the input's split decides the choice
        return split(layout, row_tiles, cin_tiles, cout_tiles, grid, mm_conv, col_major).cores

    cc_height = count(HEIGHT)
    cc_width = 0 if mm_conv or conv1d else count(WIDTH)
    cc_block = 0 if conv1d else count(BLOCK)
    layout, best = BLOCK, cc_block
    if (cc_height > best and best < int(BLOCK_SHARE * gx * gy)) or (cc_height == best and cc_height <= gx):
        layout, best = HEIGHT, cc_height
    if cc_width >= best:
        layout, best = WIDTH, cc_width
    if layout == BLOCK and cc_width >= WIDE_MIN_CORES and in_channels > WIDE_INPUT_CHANNELS:
        layout = WIDTH
    return layout
