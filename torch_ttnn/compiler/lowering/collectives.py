"""Collectives of tensor-parallel programs: ttnn_fused.all_reduce / all_gather -> ttnn.all_reduce / all_gather.

The tensor-parallel rewrite (compiler/tensor_parallel.py) puts them into the per-chip aten graph of a mesh
program; they run over every chip of the mesh (cluster_axis None, row-major order, the order in which
ShardTensorToMesh distributed the pieces).
"""
from __future__ import annotations

from ..fused_ops import fused_ops
from ..registry import lower
from ..tiles import TILE

_ops = fused_ops()


@lower(_ops.all_reduce.default)
def all_reduce(ctx, x, chips):
    if ctx.rank(x) < 2:
        ctx.unsupported("ttnn.all_reduce needs a tensor of rank >= 2")
    return ctx.call("all_reduce", ctx.tile(x))


@lower(_ops.all_gather.default)
def all_gather(ctx, x, dim, chips):
    shape = ctx.shape(x)
    d = dim % len(shape)
    # a piece whose tiled dim is not a whole number of tiles would carry its padding into the middle of the
    # gathered dim: such pieces are gathered row-major
    ragged = d >= len(shape) - 2 and shape[d] % TILE
    return ctx.call("all_gather", ctx.rm(x) if ragged else ctx.tile(x), d)
