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


def act_block_rows(block_rows: int, override: int) -> int:
    """[CONV] determine_per_core_conv_block_config: the activation block's height in tiles. A core's whole
    block of output rows unless conv_config.act_block_h_override (a multiple of 32) names fewer; an override
    that does not divide the block becomes the largest divisor of the block not above it."""
    if override <= 0:
        return block_rows
    want = max(1, override // 32)
    if block_rows % want == 0:
        return want
    return next(d for d in range(min(want, block_rows), 0, -1) if block_rows % d == 0)


def act_block_cols(plan: ConvPlan, in_channels: int, kernel: tuple) -> int:
    """[CONV] the activation block's width in tiles: a kernel row of input channels (height sharding), of a
    core's share of the channels (block sharding), or a core's share of the whole window (width sharding)."""
    kh, kw = kernel
    align = 16 if in_channels <= 16 else 32        # [CONV] input channels alignment
    cin = _ceil(in_channels, align) * align
    s = plan.split
    if plan.layout == HEIGHT:
        return _ceil(cin * kw, 32)
    if plan.layout == BLOCK:
        return _ceil(_ceil(cin, s.cores_channels) * kw, 32)
    return max(1, _ceil(cin * kh * kw, 32 * s.cores))


def circular_buffer_bytes(plan: ConvPlan, *, in_channels: int, kernel: tuple, act_block_h: int, in_tile: int,
                          weight_tile: int, out_tile: int, bias: bool, row_major_out: bool,
                          act_double: bool = False, weights_double: bool = False) -> int:
    """[CONV] get_cb_info: the L1 a core's circular buffers take beside the ones placed on the input, output
    and reader-index buffers themselves. Weights: a block of out-channel tiles by the activation block's
    width (a height-sharded convolution with several activation blocks holds a whole kernel column of them,
    otherwise doubled when double-buffered); the activation block (doubled when double-buffered) and its
    tilized copy; the partial sums when the output is row-major; the bias row; the row-major activation of a
    width-sharded convolution (two blocks) or of a block-sharded one whose formats differ (in_tile !=
    out_tile); a 64 B scratch. A 1x1 stride-1 convolution runs as a matmul over the sharded activation: only
    its weight blocks (double-buffered), partials and bias."""
    kh, _ = kernel
    s = plan.split
    abh = act_block_h
    abw = act_block_cols(plan, in_channels, kernel)
    w_tiles = s.block_cols * abw
    partials = s.block_rows * s.block_cols * out_tile if row_major_out else 0
    bias_bytes = s.block_cols * weight_tile if bias else 0
    if plan.mm_conv:
        return 2 * w_tiles * weight_tile + partials + bias_bytes
    if plan.layout == HEIGHT and s.block_rows // max(1, abh) > 1:
        w_tiles *= kh
    elif weights_double:
        w_tiles *= 2
    act = abh * abw * (2 if act_double else 1) * (in_tile if plan.layout == HEIGHT else out_tile)
    tilized = abh * abw * out_tile
    if plan.layout == WIDTH:
        row_major = 2 * abw * in_tile
    elif plan.layout == BLOCK and in_tile != out_tile:
        row_major = abh * abw * in_tile
    else:
        row_major = 0
    return w_tiles * weight_tile + partials + act + tilized + bias_bytes + row_major + 64


def l1_need(plan: ConvPlan, *, in_channels: int, out_channels: int, in_pixels: int, out_pixels: int,
            kernel: tuple, in_width: int, act_block_h: int, in_tile: int, weight_tile: int, out_tile: int,
            bias: bool, row_major_out: bool, resharded: bool, out_moved: bool, windowed: bool,
            act_double: bool = False, weights_double: bool = False) -> int:
    """L1 bytes a core needs while the convolution program runs, beside the buffers allocated before conv2d:
    its circular buffers (circular_buffer_bytes) and the L1 buffers conv2d allocates around the program
    ([CONV] conv2d.cpp): the input resharded into the convolution's shards (`resharded`), the halo output of a
    windowed convolution (a core's input rows and the rows its windows reach beyond them), and the output in
    the convolution's own shards when another memory config was asked for (`out_moved`: it is moved after)."""
    cbs = circular_buffer_bytes(plan, in_channels=in_channels, kernel=kernel, act_block_h=act_block_h,
                                in_tile=in_tile, weight_tile=weight_tile, out_tile=out_tile, bias=bias,
                                row_major_out=row_major_out, act_double=act_double, weights_double=weights_double)
    elem = in_tile // 1024
    rows, chans = plan.shard_shape(in_pixels, in_channels, output=False)
    temps = rows * chans * elem if resharded else 0
    if windowed:
        kh, kw = kernel
        temps += (rows + (kh - 1) * (in_width + kw) + kw) * chans * elem
    if out_moved:
        orows, ochans = plan.shard_shape(out_pixels, out_channels, output=True)
        temps += orows * ochans * out_tile // 1024
    return cbs + temps


def fitting_act_block_h(need_for, block_rows: int, space: int) -> int | None:
    """The largest activation block height (tiles, a divisor of the core's block of output rows) whose
    `need_for(act_block_h)` fits in `space` bytes, or None when none does."""
    for d in range(block_rows, 0, -1):
        if block_rows % d == 0 and need_for(d) <= space:
            return d
    return None

