"""The program TT-NN runs for a matmul/linear called without a program_config.

TT-NN generates one from the operands (ttnn/cpp/ttnn/operations/matmul/device/config/matmul_program_config.cpp:
`generate_matmul_program_config` -> `create_simple_matmul_program_config` for interleaved operands and no user
core grid; `get_estimated_size_of_cbs` and `get_max_l1_space` in device/utilities/matmul_utilities.cpp). The
choice matters for speed: with every operand in DRAM it is a 2D multicast over the whole grid, but as soon as an
operand or the output is in L1 it blocks the output in squares of `per_core_factor` tiles (16, or less when
those circular buffers would not fit beside the L1 buffers allocated) and uses one core per block, and when the
blocks do not fit the grid's rows it falls back to the multi-core program without operand reuse. A compiler
that puts activations in L1 must therefore give large matmuls a program config of its own.

`auto_config` reproduces that selection for what the cost model needs (which program, per-core block, cores,
batch folded or looped) for interleaved operands and a shared second operand; sharded operands (TT-NN derives
the config from the shard spec), batched second operands and a user core grid take other paths, which the
cost rule (sim/perf/rules.py) leaves to its own estimate.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

from ...matmul_rules import cb_bytes, interm_tile_bytes
from ..types import TILE_HEIGHT, DataType, tile_size

TILE = TILE_HEIGHT         # tiles are square: TILE_HEIGHT == TILE_WIDTH
# [MMCFG] a shape whose height/width ratio exceeds this runs a 1D multicast program
NARROW_RATIO = 8


@dataclass(frozen=True)
class AutoProgram:
    """The program TT-NN picks: kind is "2d" (MatmulMultiCoreReuseMultiCastProgramConfig), "1d_in0" / "1d_in1"
    (MatmulMultiCoreReuseMultiCast1DProgramConfig with/without mcast_in0), or "multi_core" (the program without
    operand reuse: every output tile reads its row of in0 and column of in1 again). per_core_M/N are tiles of
    the output block a core computes (of one batch when fuse_batch is False: each core loops over the batch)."""
    kind: str
    grid: tuple            # (x, y) of compute_with_storage_grid_size
    per_core_M: int
    per_core_N: int
    in0_block_w: int
    fuse_batch: bool

    def cores(self, batch: int, Mt: int, Nt: int, total_cores: int) -> int:
        """Cores that get output work."""
        if self.kind == "multi_core":
            return max(1, min(total_cores, batch * Mt * Nt))
        rows = batch * Mt if self.fuse_batch else Mt
        return max(1, math.ceil(rows / self.per_core_M) * math.ceil(Nt / self.per_core_N))


def cb_estimate(pm: int, pn: int, kw: int, a_dtype: DataType, b_dtype: DataType, interm_tile: int,
                bias_tile: int, transpose_a: bool) -> int:
    """[MMCFG] get_estimated_size_of_cbs (matmul_rules.cb_bytes) for operands of these dtypes."""
    return cb_bytes(pm, pn, kw, tile_size(a_dtype), tile_size(b_dtype), interm_tile, bias_tile, transpose_a)


def interm_tile_size(fp32_acc: bool, out_dtype: DataType) -> int:
    """[MMCFG] estimate_interm_tile_size for an output of `out_dtype`."""
    return interm_tile_bytes(fp32_acc, tile_size(out_dtype), tile_size(DataType.BFLOAT16),
                             tile_size(DataType.FLOAT32))


def _narrow(height: int, width: int, all_dram: bool) -> bool:
    ratio = max(height, width) // max(1, min(height, width))
    if ratio > NARROW_RATIO:
        return True
    return all_dram and (height <= TILE or width <= TILE)


def auto_config(a_shape, b_shape, a_dtype: DataType, b_dtype: DataType, *, a_buffer: str, b_buffer: str,
                out_buffer: str, out_dtype: DataType, fp32_acc: bool, bias_tile: int, grid: tuple,
                l1_space: int, transpose_a: bool = False) -> AutoProgram:
    """The program of create_simple_matmul_program_config for a [..., M, K] x [K, N] product of interleaved
    operands (shapes as the product sees them, transposes applied).

    l1_space: bytes of L1 a core has for circular buffers (get_max_l1_space: below the lowest L1 buffer)."""
    gx, gy = grid
    cores = gx * gy
    Mt, Kt, Nt = -(-a_shape[-2] // TILE), -(-a_shape[-1] // TILE), -(-b_shape[-1] // TILE)
    all_dram = a_buffer == b_buffer == out_buffer == "DRAM"
    height, width = Mt * TILE, Nt * TILE
    wide = tall = False
    if _narrow(height, width, all_dram):
        wide = width > height
        tall = not wide
    interm = interm_tile_size(fp32_acc, out_dtype)
    in0_block_w = 2
    factor = 1
    for f in (16, 8, 4, 2):
        if cb_estimate(f, f, in0_block_w, a_dtype, b_dtype, interm, bias_tile, transpose_a) < l1_space:
            factor = f
            break
    blocks_y, blocks_x = -(-Mt // factor), -(-Nt // factor)
    if (blocks_y > 1 or blocks_x > 1) and Kt % in0_block_w:
        in0_block_w = 1
    if not (all_dram or (blocks_x * blocks_y <= cores and Kt % in0_block_w == 0)):
        return AutoProgram("multi_core", grid, 1, 1, 1, False)
    if (blocks_y, blocks_x) != (1, 1) and blocks_y <= gy and blocks_x <= gx:
        range_x, range_y = blocks_x, blocks_y
    else:
        range_x = range_y = 0
    kw1 = 2 if Kt % 2 == 0 else 1           # get_mcast_1d_config's in0_block_w
    if range_y == 1 or wide:                 # get_mcast_1d_config(mcast_in0=True, fuse_batch=False)
        return AutoProgram("1d_in0", grid, Mt, -(-(-(-width // cores)) // TILE), kw1, False)
    if range_x == 1 or tall:                 # get_mcast_1d_config(mcast_in0=False, fuse_batch=False)
        return AutoProgram("1d_in1", grid, -(-(-(-height // cores)) // TILE), Nt, kw1, False)
    if all_dram:                             # 2D over the whole grid, the batch looped
        kw = Kt // gx if Kt % gx == 0 else 1
        return AutoProgram("2d", grid, -(-Mt // gy), -(-Nt // gx), kw, False)
    if range_y > 0:                          # 2D: one core per per_core_factor block
        return AutoProgram("2d", grid, factor, factor, in0_block_w, False)
    return AutoProgram("multi_core", grid, 1, 1, 1, False)
