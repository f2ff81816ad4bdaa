"""How TT-NN spreads a convolution over the cores: its shard layout and the cores of each dimension.

Shared by the simulator (the cost rule of conv2d, sim/perf/rules.py) and the compiler (the shards a convolution
writes for the convolution reading it, compiler/passes/placement.py), which never import each other: pure
arithmetic on tile counts, and MemoryConfig objects built with whichever ttnn module the caller passes.

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

import enum
from dataclasses import dataclass


class TensorMemoryLayout(enum.IntEnum):
    """TT-NN's TensorMemoryLayout values (they compare equal to the simulator's and the real enum's values)."""
    INTERLEAVED = 0
    HEIGHT_SHARDED = 2
    WIDTH_SHARDED = 3
    BLOCK_SHARDED = 4


def _layout(v) -> TensorMemoryLayout:
    """A TensorMemoryLayout from a simulated, real or local enum value (by name: the real enum is not an int)."""
    return TensorMemoryLayout[v.name] if hasattr(v, "name") else TensorMemoryLayout(int(v))


HEIGHT, BLOCK, WIDTH = (TensorMemoryLayout.HEIGHT_SHARDED, TensorMemoryLayout.BLOCK_SHARDED,
                        TensorMemoryLayout.WIDTH_SHARDED)
# [CONV] select_shard_spec: BLOCK gives way to HEIGHT below this share of the grid, and to WIDTH from this many
# cores when the input has more channels than WIDE_INPUT_CHANNELS
BLOCK_SHARE = 0.75
WIDE_MIN_CORES = 40
WIDE_INPUT_CHANNELS = 1280


def out_dim(size: int, kernel: int, stride: int, pad_before: int, pad_after: int, dilation: int,
            ceil_mode: bool = False) -> int:
    """Output size of a sliding window along one dimension (convolutions, pools)."""
    span = size + pad_before + pad_after - dilation * (kernel - 1) - 1
    if ceil_mode:
        o = -(-span // stride) + 1
        # torch rule: the last window must start inside the input or the left padding
        if (o - 1) * stride >= size + pad_before:
            o -= 1
        return o
    return span // stride + 1


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
    layout = _layout(layout)
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


# --- the sharded memory configs of a convolution's activations ------------------------------------------------
# [CONV] conv2d_utils.cpp create_sharded_memory_config_from_parallel_config: a [1, 1, N*H*W, C] activation
# sharded over the split's cores, the rows padded to a whole number of tile rows per core (not for WIDTH), the
# channels to a whole number of tiles per channel core; HEIGHT and WIDTH grids fill the grid row by row
# (num_cores_to_corerangeset), BLOCK takes the rectangle of its rows (y) by its channel cores (x).

@dataclass(frozen=True)
class ConvPlan:
    """What a conv2d call will run: its layout and split, and whether it runs as a matmul (1x1, stride 1)."""
    layout: TensorMemoryLayout
    split: ConvSplit
    mm_conv: bool
    grid: tuple

    def shard_shape(self, pixels: int, channels: int, *, output: bool) -> tuple:
        """[rows, channels] of one core's shard of a [pixels, channels] activation (the input, or the output)."""
        s = self.split
        chan_cores = s.cores_channels if self.layout != WIDTH or output else divisor_with_padding(
            _ceil(channels, 32), self.grid[0] * self.grid[1])
        rows = _ceil(pixels, 32) * 32 if self.layout == WIDTH else _ceil(pixels, 32 * s.cores_rows) * 32 * s.cores_rows
        return rows // (1 if self.layout == WIDTH else s.cores_rows), _ceil(channels, 32 * chan_cores) * 32

    def ranges(self, cores: int) -> list:
        """The core ranges ((x0, y0), (x1, y1)) of the shard grid of `cores` cores."""
        gx = self.grid[0]
        if self.layout == BLOCK:
            return [((0, 0), (self.split.cores_channels - 1, self.split.cores_rows - 1))]
        full, rest = divmod(cores, gx)
        out = [((0, 0), (gx - 1, full - 1))] if full else []
        return out + ([((0, full), (rest - 1, full))] if rest else [])

    def key(self, pixels: int, channels: int, *, output: bool) -> tuple:
        """A comparable description of the sharded memory config (see config_key)."""
        sh = self.shard_shape(pixels, channels, output=output)
        cores = self.split.cores if self.layout != WIDTH or output else divisor_with_padding(
            _ceil(channels, 32), self.grid[0] * self.grid[1])
        return (self.layout.name, tuple(self.ranges(cores)), sh)

    def memory_config(self, ttnn, pixels: int, channels: int, *, output: bool):
        """The sharded L1 MemoryConfig, built with `ttnn`'s own types (the real module or the simulator)."""
        name, ranges, shape = self.key(pixels, channels, output=output)
        grid = ttnn.CoreRangeSet({ttnn.CoreRange(ttnn.CoreCoord(x0, y0), ttnn.CoreCoord(x1, y1))
                                  for (x0, y0), (x1, y1) in ranges})
        spec = ttnn.ShardSpec(grid, list(shape), ttnn.ShardOrientation.ROW_MAJOR)
        return ttnn.MemoryConfig(getattr(ttnn.TensorMemoryLayout, name), ttnn.BufferType.L1, spec)


def config_key(mc) -> tuple | None:
    """(layout name, core ranges, shard shape) of a sharded memory config (simulated or real), None otherwise."""
    if mc is None or not mc.is_sharded() or getattr(mc, "shard_spec", None) is None:
        return None
    spec = mc.shard_spec
    rs = spec.grid.ranges()
    ranges = tuple(sorted((((r.start.x, r.start.y), (r.end.x, r.end.y)) for r in rs),
                          key=lambda r: (r[0][1], r[0][0])))
    return (_layout(mc.memory_layout).name, ranges, tuple(int(v) for v in spec.shape))


def plan(*, in_channels: int, out_channels: int, out_pixels: int, kernel: tuple, stride: tuple, padding,
         dilation: tuple, groups: int, grid: tuple, shard_layout=None, col_major: bool = False,
         transposed: bool = False, one_d: bool = False, in_width: int = 0) -> ConvPlan:
    """The layout and split TT-NN runs a convolution with (conv_config.shard_layout, else its own choice)."""
    kh, kw = kernel
    flat_pad = [int(p) for p in (padding if isinstance(padding, (list, tuple)) else [padding])]
    mm_conv = (not transposed and kh == kw == 1 and groups == 1 and all(int(v) == 1 for v in stride)
               and not any(flat_pad) and all(int(v) == 1 for v in dilation)
               and (shard_layout is None or _layout(shard_layout) != WIDTH))
    rt, ci, co = _ceil(out_pixels, 32), _ceil(in_channels, 32), _ceil(out_channels, 32)
    layout = (_layout(shard_layout) if shard_layout is not None else
              auto_layout(rt, ci, co, in_channels, grid, mm_conv, conv1d=one_d or (kw == 1 and in_width == 1),
                          col_major=col_major))
    return ConvPlan(layout, split(layout, rt, ci, co, grid, mm_conv, col_major), mm_conv, grid)
