"""Indexing aten ops: embedding, index / index_select, gather, scatter, index_put, masked_fill, where.

Indices live on the device as int32 (exact); the TT-NN ops take them as:
- ttnn.embedding: indices UINT32 (or BFLOAT16), weight a BFLOAT16 [V, D] table; [S] -> [S, D], [B, S] ->
  [B, S, D]. Used for lookups along dim 0 of a bfloat16 table.
- ttnn.gather: TILE input, UINT32 TILE index of the input's rank (output = index shape). Used for the other
  lookups (other dims, int/float32 tables): the 1-D index is reshaped and expanded along the other dims.
- ttnn.scatter / scatter_add: INT32 index whose shape equals the input's off `dim`.
aten.index accepts negative indices: they are wrapped on the device (ttnn.remainder, exact in int32).
"""
from __future__ import annotations

import math

import torch

from ..context import In
from ..meta import Req, meta_value, scalar_value, tt_meta
from ..registry import COMMON, lower, unsupported
from .creation import full_node
from .data_movement import (DM, _bounds, _common_req, dtype_of, expand_to, layout_of, norm_dim, relabel,
                            reshape_to, slice_to)

aten = torch.ops.aten

IDX = COMMON


def _index_operand(ctx, idx, size: int, *, wrap: bool):
    """The int index tensor as an int32 device value; negative indices wrapped into [0, size) if `wrap`."""
    if ctx.torch_dtype(idx) in (torch.bool, torch.uint8):
        ctx.unsupported("boolean mask index (data-dependent result shape)")
    if ctx.torch_dtype(idx).is_floating_point:
        ctx.unsupported("floating point index tensor")
    if not wrap:
        return idx
    return ctx.call("remainder", ctx.tile(idx, ctx.ttnn.int32), int(size), out_dtype=ctx.ttnn.int32,
                    out_val=meta_value(ctx.shape(idx), torch.int32))


def _take_rows(ctx, x, d, idx, *, out_shape):
    """x indexed along dim d by the int tensor idx (values in range): x.shape[:d] + idx.shape + x.shape[d+1:]."""
    shape = list(ctx.shape(x))
    r = len(shape)
    ishape = list(ctx.shape(idx))
    m = math.prod(ishape)
    tdt = ctx.torch_dtype(x)
    if d == 0 and dtype_of(ctx, x) == ctx.ttnn.bfloat16 and r >= 1:
        # an embedding lookup in the table x viewed as [V, D]
        rest = math.prod(shape[1:])
        table = reshape_to(ctx, x, [shape[0], rest]) if r != 2 else x
        ids = idx   # ttnn.embedding takes [S] or [B, S] indices
        if len(ishape) not in (1, 2):
            ids = reshape_to(ctx, idx, [m], dtype=ctx.torch_dtype(idx))
        ids_shape = ctx.shape(ids)
        emb_shape = list(ids_shape) + [rest]
        final = list(out_shape) == emb_shape == list(ctx.out.shape) and ctx.out.dtype == tdt
        # the table ROW_MAJOR (parameters are loaded so once), or TILE if it already is (the op untilizes)
        tlayout = ctx.ttnn.TILE_LAYOUT if layout_of(ctx, table) == ctx.ttnn.TILE_LAYOUT and tt_meta(table) \
            else ctx.ttnn.ROW_MAJOR_LAYOUT
        y = ctx.call("embedding", ctx.tile(ids, ctx.ttnn.uint32), In(table, Req(tlayout, ctx.ttnn.bfloat16)),
                     layout=ctx.ttnn.TILE_LAYOUT, out_layout=ctx.ttnn.TILE_LAYOUT, out_dtype=ctx.ttnn.bfloat16,
                     out_val=None if final else meta_value(emb_shape, tdt))
        return y if final else reshape_to(ctx, y, out_shape, dtype=tdt)
    # gather: the flattened index along d, expanded over the other dims
    ishape_b = [1] * r
    ishape_b[d] = m
    full = list(shape)
    full[d] = m
    ir = reshape_to(ctx, idx, ishape_b, dtype=torch.int32)
    ie = expand_to(ctx, ir, full, dtype=torch.int32) if full != ishape_b else ir
    gathered_shape = full
    final = list(out_shape) == gathered_shape == list(ctx.out.shape) and ctx.out.dtype == tdt
    y = ctx.call("gather", ctx.keep(x, ctx.ttnn.TILE_LAYOUT), d, ctx.tile(ie, ctx.ttnn.uint32),
                 out_val=None if final else meta_value(gathered_shape, tdt))
    return y if final else reshape_to(ctx, y, out_shape, dtype=tdt)


@lower(aten.index.Tensor, aten._unsafe_index.Tensor, when=IDX)
def index(ctx, x, indices):
    given = [(d, t) for d, t in enumerate(indices) if t is not None]
    if not given:
        ctx.unsupported("index without index tensors")
    if len(given) > 1:
        return _index_several(ctx, x, given)
    d, idx = given[0]
    size = ctx.shape(x)[d]
    idx = _index_operand(ctx, idx, size, wrap=ctx.node.target is aten.index.Tensor)
    return _take_rows(ctx, x, d, idx, out_shape=ctx.out.shape)


def _moved(ctx, x, perm, tdt):
    """x permuted by `perm` as an intermediate value (a view when only size-1 dims move)."""
    shape = ctx.shape(x)
    if perm == list(range(len(shape))):
        return x
    new = [shape[p] for p in perm]
    big = [p for p in perm if shape[p] != 1]
    if big == sorted(big):
        return reshape_to(ctx, x, new, dtype=tdt, val=meta_value(new, tdt))
    return ctx.call("permute", ctx.keep(x), perm, out_val=meta_value(new, tdt))


def _flat_index(ctx, given, sizes, bshape):
    """One int32 index into the indexed dims flattened (row-major): sum_k wrap(i_k) * stride_k, broadcast to
    `bshape`. Exact in int32 because the caller checked that the product of `sizes` fits."""
    i32 = ctx.ttnn.int32
    flat = None
    for k, (_, t) in enumerate(given):
        stride = math.prod(sizes[k + 1:])
        term = _index_operand(ctx, t, sizes[k], wrap=ctx.node.target is aten.index.Tensor)
        tshape = list(ctx.shape(t))
        if stride != 1:
            term = ctx.call("multiply", ctx.tile(term, i32), int(stride), out_dtype=i32,
                            out_val=meta_value(tshape, torch.int32))
        if flat is None:
            flat = term
            continue
        shape = list(torch.broadcast_shapes(tuple(ctx.shape(flat)), tuple(tshape)))
        flat = ctx.call("add", ctx.tile(flat, i32), ctx.tile(term, i32), out_dtype=i32,
                        out_val=meta_value(shape, torch.int32))
    if list(ctx.shape(flat)) != list(bshape):
        flat = expand_to(ctx, flat, bshape, dtype=ctx.torch_dtype(flat))
    return flat


def _index_several(ctx, x, given):
    """x[i_1, ..., i_k] with index tensors on several dims: the indexed dims are moved to the front and
    flattened into one, the index tensors are broadcast and linearised into one int32 flat index on the
    device, and the rows are taken as for one index tensor. Where aten places the broadcast index dims
    (in place of the indexed dims when those are adjacent, else in front) is restored by a permute."""
    for _, t in given:
        if ctx.torch_dtype(t) in (torch.bool, torch.uint8):
            ctx.unsupported("boolean mask index (data-dependent result shape)")
    shape = list(ctx.shape(x))
    dims = [d for d, _ in given]
    sizes = [shape[d] for d in dims]
    n = math.prod(sizes)
    if n >= 2 ** 31:
        ctx.unsupported(f"indexed dims of {n} elements (the flat int32 index would overflow)")
    tdt = ctx.torch_dtype(x)
    bshape = list(torch.broadcast_shapes(*[tuple(ctx.shape(t)) for _, t in given]))
    rest = [d for d in range(len(shape)) if d not in dims]
    moved = _moved(ctx, x, dims + rest, tdt)
    table = reshape_to(ctx, moved, [n] + [shape[d] for d in rest], dtype=tdt)
    flat = _flat_index(ctx, given, sizes, bshape)
    taken_shape = bshape + [shape[d] for d in rest]
    adjacent = dims == list(range(dims[0], dims[-1] + 1))
    if not adjacent or dims[0] == 0:
        return _take_rows(ctx, table, 0, flat, out_shape=taken_shape)
    # adjacent indexed dims after some leading dims: the index dims go back between them
    y = _take_rows(ctx, table, 0, flat, out_shape=taken_shape)
    nb, lead = len(bshape), dims[0]
    perm = [nb + i for i in range(lead)] + list(range(nb)) + list(range(nb + lead, len(taken_shape)))
    return _moved(ctx, y, perm, tdt)


@lower(aten.index_select.default, when=IDX)
def index_select(ctx, x, dim, index):
    d = norm_dim(dim, ctx.rank(x))
    idx = _index_operand(ctx, index, ctx.shape(x)[d] if ctx.rank(x) else 1, wrap=False)
    if ctx.rank(x) == 0:
        ctx.unsupported("0-dim input")
    return _take_rows(ctx, x, d, idx, out_shape=ctx.out.shape)


@lower(aten.embedding.default, when=IDX)
def embedding(ctx, weight, indices, padding_idx=-1, scale_grad_by_freq=False, sparse=False):
    # padding_idx only affects the gradient: the forward reads the pad row like any other
    if not ctx.torch_dtype(weight).is_floating_point:
        ctx.unsupported(f"{ctx.torch_dtype(weight)} table (ttnn.embedding takes a bfloat16 table)")
    if ctx.rank(weight) != 2:
        ctx.unsupported("table of rank != 2")
    idx = _index_operand(ctx, indices, ctx.shape(weight)[0], wrap=False)
    return _take_rows(ctx, weight, 0, idx, out_shape=ctx.out.shape)


@lower(aten.gather.default, when=IDX)
def gather(ctx, x, dim, index, sparse_grad=False):
    if ctx.rank(x) == 0 or ctx.rank(index) != ctx.rank(x):
        ctx.unsupported("0-dim gather (ttnn.gather needs input and index of the same rank >= 1)")
    d = norm_dim(dim, ctx.rank(x))
    return ctx.call("gather", ctx.keep(x, ctx.ttnn.TILE_LAYOUT), d, ctx.tile(index, ctx.ttnn.uint32))


# --------------------------------------------------------------------------------------------------
# scatter
# --------------------------------------------------------------------------------------------------

def scatter_into(ctx, x, d, index, src):
    """ttnn.scatter of src into x along d at the int32 device `index` (shaped like src)."""
    return _scatter(ctx, x, d, index, src)


def _scatter(ctx, x, dim, index, src, reduce=None, *, add=False):
    r = ctx.rank(x)
    if r == 0:
        ctx.unsupported("0-dim scatter")
    d = norm_dim(dim, r)
    xs, ishape = ctx.shape(x), ctx.shape(index)
    if any(ishape[k] != xs[k] for k in range(r) if k != d):
        ctx.unsupported("index smaller than the input off the scatter dim (ttnn.scatter needs them equal)")
    if not isinstance(src, torch.fx.Node):
        src = full_node(ctx, ishape, src, ctx.out.dtype)
    elif ctx.rank(src) != r:
        ctx.unsupported("src of another rank")
    ttnn = ctx.ttnn
    dt = ctx.dtype_for(ctx.out.dtype)
    long_rows = ishape[d] > 256 or (dt == ttnn.int32 and (xs[d] > 256 or (
        isinstance(src, torch.fx.Node) and ctx.shape(src)[d] > 256)))
    # ttnn.scatter refuses float32 TILE tensors and int32 TILE tensors longer than 256 along dim
    layout = ttnn.ROW_MAJOR_LAYOUT if (dt == ttnn.float32 or long_rows) else ttnn.TILE_LAYOUT
    args = (In(x, Req(layout, dt)), d, In(index, Req(layout, ttnn.int32)), In(src, Req(layout, dt)))
    if add:
        return ctx.call("scatter_add", *args)
    if reduce is None:
        return ctx.call("scatter", *args)
    return ctx.call("scatter", *args, reduce=reduce)


@lower(aten.scatter.src, aten.scatter.value, when=IDX)
def scatter(ctx, x, dim, index, src):
    return _scatter(ctx, x, dim, index, src)


@lower(aten.scatter.reduce, aten.scatter.value_reduce, when=IDX)
def scatter_reduce_legacy(ctx, x, dim, index, src, reduce):
    red = {"add": "sum", "multiply": "prod"}.get(reduce)
    if red is None:
        ctx.unsupported(f"scatter reduce={reduce!r}")
    return _scatter(ctx, x, dim, index, src, red)


@lower(aten.scatter_add.default, when=IDX)
def scatter_add(ctx, x, dim, index, src):
    return _scatter(ctx, x, dim, index, src, add=True)


@lower(aten.scatter_reduce.two, when=IDX)
def scatter_reduce(ctx, x, dim, index, src, reduce, include_self=True):
    red = {"sum": "sum", "prod": "prod", "amax": "amax", "amin": "amin"}.get(reduce)
    if red is None:
        ctx.unsupported(f"scatter_reduce reduce={reduce!r} (ttnn.scatter reduces by sum/prod/amax/amin)")
    if not include_self:
        ctx.unsupported("scatter_reduce with include_self=False")
    if red == "sum":
        return _scatter(ctx, x, dim, index, src, add=True)
    return _scatter(ctx, x, dim, index, src, red)


@lower(aten.index_put.default, when=IDX)
def index_put(ctx, x, indices, values, accumulate=False):
    """x[idx] = values (or +=) with one index tensor on dim 0: a scatter along dim 0 of x viewed as [V, D];
    with a boolean mask and a single value: a where."""
    given = [(d, t) for d, t in enumerate(indices) if t is not None]
    if len(given) != 1 or given[0][0] != 0:
        ctx.unsupported("index_put with index tensors on other dims than (only) dim 0")
    _, idx = given[0]
    if ctx.torch_dtype(idx) in (torch.bool, torch.uint8):
        return _masked_put(ctx, x, idx, values, accumulate)
    shape = list(ctx.shape(x))
    ishape = list(ctx.shape(idx))
    m = math.prod(ishape)
    rest = math.prod(shape[1:])
    tdt = ctx.out.dtype
    ttnn = ctx.ttnn
    dt = ctx.dtype_for(tdt)
    # the table as [V, D], the values as [m, D], the index as [m, D]
    x2 = reshape_to(ctx, x, [shape[0], rest], dtype=ctx.torch_dtype(x))
    vshape = ishape + shape[1:]
    v = values
    if list(ctx.shape(v)) != vshape:
        v = expand_to(ctx, v, vshape, dtype=ctx.torch_dtype(values))
    v2 = reshape_to(ctx, v, [m, rest], dtype=ctx.torch_dtype(values))
    iw = ctx.call("remainder", ctx.tile(idx, ttnn.int32), int(shape[0]), out_dtype=ttnn.int32,
                  out_val=meta_value(ishape, torch.int32))
    i2 = expand_to(ctx, reshape_to(ctx, iw, [m, 1], dtype=torch.int32), [m, rest], dtype=torch.int32)
    layout = ttnn.ROW_MAJOR_LAYOUT if (dt != ttnn.bfloat16 or m > 256 or shape[0] > 256) else ttnn.TILE_LAYOUT
    name = "scatter_add" if accumulate else "scatter"
    y = ctx.call(name, In(x2, Req(layout, dt)), 0, In(i2, Req(layout, ttnn.int32)), In(v2, Req(layout, dt)),
                 out_val=meta_value([shape[0], rest], tdt))
    return reshape_to(ctx, y, ctx.out.shape, dtype=tdt)


def _masked_put(ctx, x, mask, values, accumulate):
    """x[mask] = v (mask over the leading dims, v a single value): where(mask, v, x)."""
    shape, mshape = list(ctx.shape(x)), list(ctx.shape(mask))
    if shape[:len(mshape)] != mshape:
        ctx.unsupported("boolean index_put whose mask does not cover the leading dims")
    if ctx.val(values).numel() != 1:
        ctx.unsupported("boolean index_put of several values (data-dependent)")
    tdt = ctx.out.dtype
    dt = ctx.dtype_for(tdt)
    m = mask
    if len(mshape) < len(shape):
        m = reshape_to(ctx, mask, mshape + [1] * (len(shape) - len(mshape)), dtype=ctx.torch_dtype(mask))
    s = scalar_value(ctx.node.args[2])
    v = s if s is not None else values
    if s is None and ctx.rank(values) != len(shape):
        v = reshape_to(ctx, values, [1] * len(shape), dtype=ctx.torch_dtype(values))
    if accumulate:
        v = ctx.call("add", ctx.tile(x, dt), v if s is not None else ctx.tile(v, dt), out_dtype=dt,
                     out_val=meta_value(shape, tdt))
    tv = _where_value(ctx, None, v, tdt) if not isinstance(v, torch.fx.Node) else ctx.tile(v, dt)
    return ctx.call("where", ctx.tile(m, dtype_of(ctx, m)), tv, ctx.tile(x, dt), out_dtype=dt)


# --------------------------------------------------------------------------------------------------
# where / masked_fill
# --------------------------------------------------------------------------------------------------

def _where_value(ctx, aten_arg, v, dt_torch):
    """A where operand: a Python scalar (constants folded in) or a tensor operand in the result's dtype."""
    s = scalar_value(aten_arg) if isinstance(aten_arg, torch.fx.Node) else (
        v if not isinstance(v, torch.fx.Node) else None)
    if s is not None and not isinstance(s, torch.fx.Node):
        if dt_torch.is_floating_point or dt_torch == torch.bool:
            return float(s)
        if not float(s).is_integer():
            ctx.unsupported("non-integer scalar for an integer where")
        return int(s)
    return ctx.tile(v, ctx.dtype_for(dt_torch))


def _where(ctx, cond, a, b, a_arg, b_arg):
    tdt = ctx.out.dtype
    dt = ctx.dtype_for(tdt)
    t = _where_value(ctx, a_arg, a, tdt)
    f = _where_value(ctx, b_arg, b, tdt)
    if isinstance(t, In) or isinstance(f, In):
        out_shape = list(ctx.out.shape)
        # ttnn.where broadcasts in the 5 innermost dims
        if len(out_shape) > 5:
            ctx.unsupported("rank > 5 where (broadcast limit)")
        return ctx.call("where", ctx.tile(cond, dtype_of(ctx, cond)), t, f, out_dtype=dt)
    # two scalars: the predicate (0/1) in the result's dtype carries the shape and dtype
    p = cond
    if list(ctx.shape(cond)) != list(ctx.out.shape):
        p = expand_to(ctx, cond, ctx.out.shape, dtype=ctx.torch_dtype(cond))
    return ctx.call("where", ctx.tile(p, dt), t, f, out_dtype=dt)


@lower(aten.where.self, when=IDX)
def where(ctx, cond, a, b):
    return _where(ctx, cond, a, b, ctx.node.args[1], ctx.node.args[2])


@lower(aten.where.ScalarSelf, aten.where.ScalarOther, aten.where.Scalar, when=IDX)
def where_scalar(ctx, cond, a, b):
    return _where(ctx, cond, a, b, ctx.node.args[1], ctx.node.args[2])


@lower(aten.masked_fill.Scalar, aten.masked_fill.Tensor, when=IDX)
def masked_fill(ctx, x, mask, value):
    return _where(ctx, mask, value, x, ctx.node.args[2], ctx.node.args[0])


unsupported("boolean-mask selection has a data-dependent result shape", aten.masked_select.default,
            aten.nonzero.default)


# --------------------------------------------------------------------------------------------------
# slice_scatter (a concat, or a scatter at the strided positions)
# --------------------------------------------------------------------------------------------------

@lower(aten.slice_scatter.default, when=DM)
def slice_scatter(ctx, x, src, dim=0, start=None, end=None, step=1):
    """x with x[start:end:step] along dim replaced by src: a concat of the untouched parts and src (step 1)."""
    d = norm_dim(dim, ctx.rank(x))
    size = ctx.shape(x)[d]
    s, e = _bounds(size, start, end)
    if int(step) != 1:
        return _strided_slice_scatter(ctx, x, src, d, s, e, int(step))
    req = _common_req(ctx, [x, src], ctx.out.dtype)
    parts = []
    if s > 0:
        parts.append(slice_to(ctx, x, d, 0, s, dtype=ctx.torch_dtype(x)))
    parts.append(src)
    if e < size:
        parts.append(slice_to(ctx, x, d, e, size, dtype=ctx.torch_dtype(x)))
    if len(parts) == 1:
        return relabel(ctx, src)
    return ctx.call("concat", [In(p, req) for p in parts], d)


def _strided_slice_scatter(ctx, x, src, d, start, end, step):
    """x[start:end:step] = src along d: ttnn.scatter with the positions (an arange) as the index."""
    n = ctx.shape(src)[d]
    r = ctx.rank(x)
    pos = ctx.call("arange", start, start + n * step, step, dtype=ctx.ttnn.int32, device=ctx.device,
                   layout=ctx.ttnn.TILE_LAYOUT, out_layout=ctx.ttnn.TILE_LAYOUT, out_dtype=ctx.ttnn.int32,
                   out_val=meta_value([n], torch.int32))
    bshape = [1] * r
    bshape[d] = n
    idx = expand_to(ctx, reshape_to(ctx, pos, bshape, dtype=torch.int32), ctx.shape(src), dtype=torch.int32)
    return scatter_into(ctx, x, d, idx, src)
