"""Creation aten ops: full / zeros / ones / empty (and their _like / new_ forms), fill, arange, scalar_tensor.

Tensors are made by the TT-NN creation ops (ttnn.full / ttnn.arange / ttnn.empty with device=), in TILE
layout and the value's device dtype: ttnn.full / ttnn.arange build the buffer on the host and copy it to the
device (Tensor::from_vector, any shape; the tile padding holds the fill value), ttnn.empty allocates on the
device. Integers are created as int32 (exact); int64 values must fit in int32. Integer arange is int32 (exact); a float arange with integral start and step is
exact in bfloat16 up to 256, else float32; a fractional one is computed as start + i * step in float32.
"""
from __future__ import annotations

import torch

from ..meta import meta_value, scalar_value
from ..registry import COMMON, lower
from .data_movement import convert, expand_to, reshape_to

aten = torch.ops.aten

CREATE = COMMON

_INT32_MIN, _INT32_MAX = -(2 ** 31), 2 ** 31 - 1


def _fill_value(ctx, value, tdt):
    if isinstance(value, torch.fx.Node):
        ctx.unsupported("symbolic fill value")
    if tdt == torch.bool:
        return 1.0 if bool(value) else 0.0
    if tdt.is_floating_point:
        return float(value)
    if isinstance(value, float) and not value.is_integer():
        ctx.unsupported("non-integer fill value for an integer tensor")
    v = int(value)
    if not _INT32_MIN <= v <= _INT32_MAX:
        ctx.unsupported(f"integer value {v} outside the device's int32 range")
    return v


def _is_final(ctx, shape, tdt) -> bool:
    out = ctx.out
    return isinstance(out, torch.Tensor) and list(out.shape) == list(shape) and out.dtype == tdt


def full_node(ctx, shape, value, tdt, *, op="full"):
    """A device tensor of `shape` (torch dtype `tdt`) filled with `value` (op="empty": uninitialized)."""
    shape = [int(s) for s in shape]
    final = _is_final(ctx, shape, tdt)
    dtype = ctx.dtype_for(tdt)
    layout = ctx.ttnn.TILE_LAYOUT
    val = None if final else meta_value(shape, tdt)
    if op == "empty":
        return ctx.call("empty", shape, dtype=dtype, layout=layout, device=ctx.device, out_layout=layout,
                        out_dtype=dtype, out_val=val)
    v = _fill_value(ctx, value, tdt)
    return ctx.call("full", shape, v, dtype=dtype, layout=layout, device=ctx.device, out_layout=layout,
                    out_dtype=dtype, out_val=val)


def _full_out(ctx, value):
    return full_node(ctx, ctx.out.shape, value, ctx.out.dtype)


def _empty_out(ctx):
    return full_node(ctx, ctx.out.shape, 0, ctx.out.dtype, op="empty")


@lower(aten.full.default, when=CREATE)
def full(ctx, size, fill_value, **kw):
    return _full_out(ctx, fill_value)


@lower(aten.zeros.default, when=CREATE)
def zeros(ctx, size, **kw):
    return _full_out(ctx, 0)


@lower(aten.ones.default, when=CREATE)
def ones(ctx, size, **kw):
    return _full_out(ctx, 1)


@lower(aten.full_like.default, when=CREATE)
def full_like(ctx, x, fill_value, **kw):
    return _full_out(ctx, fill_value)


@lower(aten.zeros_like.default, when=CREATE)
def zeros_like(ctx, x, **kw):
    return _full_out(ctx, 0)


@lower(aten.ones_like.default, when=CREATE)
def ones_like(ctx, x, **kw):
    return _full_out(ctx, 1)


@lower(aten.new_full.default, when=CREATE)
def new_full(ctx, x, size, fill_value, **kw):
    return _full_out(ctx, fill_value)


@lower(aten.new_zeros.default, when=CREATE)
def new_zeros(ctx, x, size, **kw):
    return _full_out(ctx, 0)


@lower(aten.new_ones.default, when=CREATE)
def new_ones(ctx, x, size, **kw):
    return _full_out(ctx, 1)


@lower(aten.empty.memory_format, aten.empty_like.default, aten.new_empty.default, aten.empty_strided.default,
       aten.new_empty_strided.default, aten.empty_permuted.default, when=CREATE)
def empty(ctx, *args, **kw):
    return _empty_out(ctx)


@lower(aten.scalar_tensor.default, when=CREATE)
def scalar_tensor(ctx, s, **kw):
    return _full_out(ctx, s)


@lower(aten.fill.Scalar, when=CREATE)
def fill_scalar(ctx, x, value):
    return _full_out(ctx, value)


@lower(aten.fill.Tensor, when=CREATE)
def fill_tensor(ctx, x, value):
    s = scalar_value(ctx.node.args[1])
    if s is not None:
        return _full_out(ctx, s)
    shape = list(ctx.out.shape)
    vdt = ctx.torch_dtype(value)
    y = value
    if shape:
        y = reshape_to(ctx, value, [1] * len(shape), dtype=vdt)
        y = expand_to(ctx, y, shape, dtype=vdt)
    if vdt != ctx.out.dtype or y is value:
        return convert(ctx, y, ctx.out.dtype, arg=1)
    return y


# --------------------------------------------------------------------------------------------------
# arange
# --------------------------------------------------------------------------------------------------

def _arange(ctx, start, end, step):
    ttnn = ctx.ttnn
    n = int(ctx.out.shape[0])
    tdt = ctx.out.dtype
    for v in (start, end, step):
        if isinstance(v, torch.fx.Node):
            ctx.unsupported("symbolic arange bounds")
    kw = dict(device=ctx.device, layout=ttnn.TILE_LAYOUT, out_layout=ttnn.TILE_LAYOUT)
    integral = float(start).is_integer() and float(step).is_integer()
    if integral:
        s, st = int(start), int(step)
        last = s + (n - 1) * st
        if not (_INT32_MIN <= min(s, last) and max(s, last) <= _INT32_MAX):
            ctx.unsupported("arange values outside the device's int32 range")
        if not tdt.is_floating_point:
            if tdt in (torch.int8, torch.uint8, torch.int16, torch.bool):
                ctx.unsupported(f"{tdt} arange")
            dt = ttnn.int32
        else:
            dt = ctx.dtype_for(tdt)
            if dt == ttnn.bfloat16 and max(abs(s), abs(last)) > 256:
                dt = ttnn.float32    # bfloat16 holds integers exactly up to 256 only
        return ctx.call("arange", s, s + n * st, st, dtype=dt, out_dtype=dt, **kw)
    if not tdt.is_floating_point:
        ctx.unsupported("fractional arange into an integer dtype")
    f32 = ttnn.float32
    i = ctx.call("arange", 0, n, 1, dtype=f32, out_dtype=f32, out_val=meta_value([n], torch.float32), **kw)
    y = ctx.call("multiply", ctx.tile(i, f32), float(step), out_dtype=f32, out_val=meta_value([n], torch.float32))
    return ctx.call("add", ctx.tile(y, f32), float(start), out_dtype=f32)


@lower(aten.arange.default, when=CREATE)
def arange(ctx, end, **kw):
    return _arange(ctx, 0, end, 1)


@lower(aten.arange.start, when=CREATE)
def arange_start(ctx, start, end, **kw):
    return _arange(ctx, start, end, 1)


@lower(aten.arange.start_step, when=CREATE)
def arange_start_step(ctx, start, end, step=1, **kw):
    return _arange(ctx, start, end, step)
