"""Dropout: aten.native_dropout (training graphs) -> ttnn.experimental.dropout.

In eval graphs dropout is the identity and aot_autograd removes it before lowering. In training,
native_dropout(x, p, train) returns (x * mask / (1 - p), mask). ttnn.experimental.dropout(x, probability, scale,
seed) draws its keep-mask from `seed` (bfloat16 TILE, rank 2..4); the seed is drawn per call on the host from
torch's generator (so torch.manual_seed makes runs reproducible and each call gets a new mask). When the mask
is used (it is saved for the backward), it is the same op with the same seed applied to ones with scale 1: the
same keep pattern, as bfloat16 0/1 (how booleans live on the device). With option fp32 the output is x * mask *
scale in float32 (ttnn dropout itself is bfloat16 only).
"""
from __future__ import annotations


import torch

from ..meta import HOST_HELPER, meta_value, second_output_used
from ..registry import COMMON, float_inputs, lower, rule_for
from .creation import full_node

aten = torch.ops.aten


def draw_seed() -> int:
    """A fresh ttnn dropout seed from torch's default generator (host, per call)."""
    return int(torch.randint(1, 2 ** 31 - 1, (), dtype=torch.int64).item())


def native_dropout(ctx, x, p, train):
    out_val, mask_val = ctx.out
    p = float(p)
    ttnn = ctx.ttnn
    shape = list(ctx.shape(x))
    if train is False or p == 0.0 or p >= 1.0:
        # deterministic: the identity (mask all true), or everything dropped (mask all false)
        keep = not (train is not False and p >= 1.0)
        mask = full_node(ctx, shape, keep, torch.bool) if second_output_used(ctx.node) else None
        out = x if keep else ctx.call("multiply", ctx.tile(x, ctx.dtype_for(x)), 0.0)
        return out, mask
    if len(shape) > 4:
        ctx.unsupported(f"rank {len(shape)} > 4 (ttnn.experimental.dropout takes rank 2..4)")
    work = shape if len(shape) >= 2 else [1] * (2 - len(shape)) + shape
    tdt = out_val.dtype
    scale = 1.0 / (1.0 - p)
    bf16 = ttnn.bfloat16

    seed = ctx.graph.call_function(draw_seed, ())
    seed.meta["val"] = 0
    seed.meta[HOST_HELPER] = True

    def to_work(v, tdt_v):
        if work == shape:
            return v
        return ctx.call("reshape", ctx.keep(v), work, out_val=meta_value(work, tdt_v))

    def to_aten(v, val):
        if work == shape:
            return v
        return ctx.call("reshape", ctx.keep(v), shape, out_val=val)

    mask = None
    fp32 = ctx.float_dtype() == ttnn.float32
    if fp32 or second_output_used(ctx.node):
        ones = ctx.call("ones", work, dtype=bf16, layout=ttnn.TILE_LAYOUT, device=ctx.device,
                        out_layout=ttnn.TILE_LAYOUT, out_dtype=bf16, out_val=meta_value(work, tdt))
        final = work == shape
        mask = ctx.call("experimental.dropout", ctx.tile(ones, bf16), p, 1.0, seed,
                        out_val=mask_val if final else meta_value(work, torch.bool))
    if fp32:
        f32 = ttnn.float32
        xw = to_work(x, tdt) if work != shape else x
        y = ctx.call("multiply", ctx.tile(xw, f32), ctx.tile(mask, f32), out_dtype=f32,
                     out_val=meta_value(work, tdt))
        out = ctx.call("multiply", ctx.tile(y, f32), scale, out_dtype=f32,
                       out_val=out_val if work == shape else meta_value(work, tdt))
    else:
        xw = to_work(x, tdt) if work != shape else x
        out = ctx.call("experimental.dropout", ctx.tile(xw, bf16), p, scale, seed,
                       out_val=out_val if work == shape else meta_value(work, tdt))
    out = to_aten(out, out_val)
    if mask is not None:
        mask = to_aten(mask, mask_val)
    return out, mask


# The training family (backward.py, imported before this module) may register native_dropout too; the
# registry refuses two rules, so this one is registered only when no other family provides it.
if rule_for(aten.native_dropout.default) is None:
    lower(aten.native_dropout.default, when=COMMON + (float_inputs,))(native_dropout)
