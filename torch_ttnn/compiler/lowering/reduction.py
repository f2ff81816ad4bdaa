"""Reductions: sum, mean, amax/amin, max/min (with indices), argmax/argmin, prod, var/std/var_mean, any/all,
logsumexp, cumsum, topk, sort.

- Reductions take the dims as a list (normalized to 0..rank-1) and keepdim; reducing every dim without
  keepdim gives a rank-0 result, as in aten. The ops reduce over the logical shape (the tile padding is
  masked by the op), so no padding fix-up is needed here.
- Integer sums run in INT32 (exact; ttnn.sum/max/min document INT32 in TILE); mean/var/std/prod/cumsum/
  topk/sort are floating point only in TT-NN, so integer inputs stay on the host for them.
- Indices (argmax, max.dim, topk, sort) come back as unsigned integers (ttnn.argmax: UINT32 ROW_MAJOR) and
  are exact: the host boundary turns them into int64.
- argmin has no TT-NN op: argmax of the negated input (exact, and the first index wins ties as in aten).
"""
from __future__ import annotations

import math

import torch

from ..meta import meta_value
from ..registry import COMMON, float_inputs, lower, rank_at_most, unsupported
from ..tiles import round_up

aten = torch.ops.aten

REDUCE = COMMON + (rank_at_most(4),)


def norm_dims(ctx, x, dim) -> list:
    """Reduced dims, sorted, in 0..rank-1 (None / [] = all)."""
    r = ctx.rank(x)
    if dim is None:
        return list(range(r))
    if isinstance(dim, int):
        dim = [dim]
    if len(dim) == 0:
        return list(range(r))
    return sorted({int(d) % r for d in dim}) if r else []


def _dim_arg(dims):
    return dims[0] if len(dims) == 1 else list(dims)


def merge_runs(shape, dims) -> tuple:
    """`shape` with each run of adjacent dims that are all reduced, or all kept, merged into one dim:
    (merged shape, the merged dims that are reduced). A reduction over the merged shape is the same
    reduction: each kept index and each reduced set of elements is the same."""
    groups: list = []
    for i, s in enumerate(shape):
        red = i in dims
        if groups and groups[-1][1] == red:
            groups[-1][0] *= int(s)
        else:
            groups.append([int(s), red])
    return [g[0] for g in groups], [i for i, g in enumerate(groups) if g[1]]


def _reduced_shape(shape, dims, keepdim) -> list:
    """The shape of a reduction of `shape` over `dims`."""
    if keepdim:
        return [1 if i in dims else s for i, s in enumerate(shape)]
    return [s for i, s in enumerate(shape) if i not in dims]


def reduce_call(ctx, name, x, dims, keepdim, dtype=None, *, out_val=None, **kwargs):
    """ttnn.<name>(x, dims, keepdim) on a TILE operand of `dtype` (default: the aten result's dtype). TT-NN
    reduces tensors of rank <= 4: a higher-rank operand is reshaped to its merged runs (merge_runs) first."""
    dt = dtype if dtype is not None else ctx.dtype_for(ctx.out.dtype)
    if ctx.rank(x) > 4:
        return _reduce_merged(ctx, name, x, dims, keepdim, dt, out_val, **kwargs)
    if out_val is None:
        out_val = meta_value(_reduced_shape(ctx.shape(x), dims, keepdim),
                             ctx.out.dtype if isinstance(ctx.out, torch.Tensor) else torch.float32)
    return ctx.call(name, ctx.tile(x, dt), _dim_arg(dims), keepdim, out_val=out_val, **kwargs)


def _reduce_merged(ctx, name, x, dims, keepdim, dt, out_val, **kwargs):
    shape = ctx.shape(x)
    mshape, mdims = merge_runs(shape, dims)
    if len(mshape) > 4:
        ctx.unsupported(f"reduction of a rank-{len(shape)} tensor whose reduced and kept dims alternate "
                        f"{len(mshape)} times (TT-NN reduces rank <= 4)")
    out_shape = _reduced_shape(shape, dims, keepdim)
    torch_dt = ctx.out.dtype if isinstance(ctx.out, torch.Tensor) else torch.float32
    xm = reshape(ctx, x, mshape, dt)
    if not out_shape:              # every dim reduced: the rank-1 reduction to a rank-0 result
        return ctx.call(name, ctx.tile(xm, dt), 0, False,
                        out_val=out_val if out_val is not None else meta_value([], torch_dt), **kwargs)
    kept = [1 if i in mdims else s for i, s in enumerate(mshape)]
    y = ctx.call(name, ctx.tile(xm, dt), _dim_arg(mdims), True, out_val=meta_value(kept, torch_dt), **kwargs)
    return reshape(ctx, y, out_shape, dt)


def _identity_rank0(ctx, x):
    """A reduction of a rank-0 tensor is the tensor itself (when its device dtype does not change)."""
    if ctx.dtype_for(x) != ctx.dtype_for(ctx.out.dtype):
        ctx.unsupported("rank-0 reduction with a dtype change")
    return x


def reshape(ctx, x, shape, dtype=None):
    shape = [int(s) for s in shape]
    if list(ctx.shape(x)) == shape:
        return x
    return ctx.call("reshape", ctx.tile(x, dtype if dtype is not None else ctx.dtype_for(x)), shape,
                    out_val=meta_value(shape, ctx.torch_dtype(x)))


# --- sum / mean / amax / amin / max / min / prod -----------------------------------------------------

def _plain(name, *, floats_only=False):
    def rule(ctx, x, dim=None, keepdim=False, *, dtype=None):
        if floats_only and not ctx.out.dtype.is_floating_point:
            ctx.unsupported(f"ttnn.{name} is floating point only ({ctx.out.dtype} result)")
        if ctx.rank(x) == 0:
            return _identity_rank0(ctx, x)
        return reduce_call(ctx, name, x, norm_dims(ctx, x, dim), keepdim, out_val=ctx.out)
    rule.__name__ = f"lower_{name}"
    return rule


def _all_dims(name, *, floats_only=False):
    def rule(ctx, x, *, dtype=None):
        if floats_only and not ctx.out.dtype.is_floating_point:
            ctx.unsupported(f"ttnn.{name} is floating point only ({ctx.out.dtype} result)")
        if ctx.rank(x) == 0:
            return _identity_rank0(ctx, x)
        return reduce_call(ctx, name, x, list(range(ctx.rank(x))), False, out_val=ctx.out)
    rule.__name__ = f"lower_{name}_all"
    return rule


# any rank: reduce_call merges the dims of a rank > 4 operand
lower(aten.sum.dim_IntList, when=COMMON)(_plain("sum"))
lower(aten.sum.default, when=COMMON)(_all_dims("sum"))
lower(aten.mean.dim, when=COMMON)(_plain("mean", floats_only=True))
lower(aten.mean.default, when=COMMON)(_all_dims("mean", floats_only=True))


def _minmax(name):
    def rule(ctx, x, dim=(), keepdim=False):
        if ctx.rank(x) == 0:
            return x
        return reduce_call(ctx, name, x, norm_dims(ctx, x, dim), keepdim, ctx.dtype_for(x), out_val=ctx.out)
    rule.__name__ = f"lower_a{name}"
    return rule


lower(aten.amax.default, when=COMMON)(_minmax("max"))
lower(aten.amin.default, when=COMMON)(_minmax("min"))


def _minmax_all(name):
    def rule(ctx, x):
        if ctx.rank(x) == 0:
            return x
        return reduce_call(ctx, name, x, list(range(ctx.rank(x))), False, ctx.dtype_for(x), out_val=ctx.out)
    rule.__name__ = f"lower_{name}_all"
    return rule


lower(aten.max.default, when=COMMON)(_minmax_all("max"))
lower(aten.min.default, when=COMMON)(_minmax_all("min"))


@lower(aten.prod.dim_int, when=REDUCE + (float_inputs,))
def prod_dim(ctx, x, dim, keepdim=False, *, dtype=None):
    if not ctx.out.dtype.is_floating_point:
        ctx.unsupported("integer product (ttnn.prod is floating point only)")
    if ctx.rank(x) == 0:
        return _identity_rank0(ctx, x)
    return ctx.call("prod", ctx.tile(x, ctx.dtype_for(ctx.out.dtype)), int(dim) % ctx.rank(x), keepdim)


@lower(aten.prod.default, when=REDUCE + (float_inputs,))
def prod_all(ctx, x, *, dtype=None):
    if not ctx.out.dtype.is_floating_point:
        ctx.unsupported("integer product (ttnn.prod is floating point only)")
    if ctx.rank(x) == 0:
        return _identity_rank0(ctx, x)
    return ctx.call("prod", ctx.tile(x, ctx.dtype_for(ctx.out.dtype)))


# --- argmax / argmin / max.dim / min.dim ------------------------------------------------------------

def argmax_call(ctx, x, dim, keepdim, out_val, negate=False):
    """ttnn.argmax (UINT32 ROW_MAJOR result) of x (or of -x for argmin)."""
    r = ctx.rank(x)
    is_int = not ctx.torch_dtype(x).is_floating_point and ctx.torch_dtype(x) != torch.bool
    if dim is not None:
        dim = int(dim) % r
        if is_int and dim != r - 1:
            ctx.unsupported("integer argmax/argmin over a dim other than the last (ttnn.argmax: float only)")
    src = x
    if negate:
        if is_int:
            src = ctx.call("multiply", ctx.tile(x, ctx.ttnn.int32), -1, out_val=ctx.val(x))
        else:
            src = ctx.call("neg", ctx.tile(x, ctx.float_dtype()), out_val=meta_value(ctx.shape(x), ctx.torch_dtype(x)))
    dt = ctx.ttnn.int32 if is_int else ctx.float_dtype()
    operand = ctx.tile(src, dt) if (dim is not None and not is_int) else ctx.rm(src, dt)
    return ctx.call("argmax", operand, dim, keepdim, out_layout=ctx.ttnn.ROW_MAJOR_LAYOUT,
                    out_dtype=ctx.ttnn.uint32, out_val=out_val)


@lower(aten.argmax.default, when=REDUCE)
def argmax(ctx, x, dim=None, keepdim=False):
    if ctx.rank(x) == 0:
        ctx.unsupported("argmax of a rank-0 tensor")
    return argmax_call(ctx, x, dim, keepdim, ctx.out)


@lower(aten.argmin.default, when=REDUCE)
def argmin(ctx, x, dim=None, keepdim=False):
    if ctx.rank(x) == 0:
        ctx.unsupported("argmin of a rank-0 tensor")
    return argmax_call(ctx, x, dim, keepdim, ctx.out, negate=True)


def _minmax_dim(name):
    def rule(ctx, x, dim, keepdim=False):
        if ctx.rank(x) == 0:
            ctx.unsupported(f"{name}.dim of a rank-0 tensor")
        values_val, indices_val = ctx.out
        d = int(dim) % ctx.rank(x)
        values = reduce_call(ctx, name, x, [d], keepdim, ctx.dtype_for(x), out_val=values_val)
        indices = argmax_call(ctx, x, d, keepdim, indices_val, negate=(name == "min"))
        return values, indices
    rule.__name__ = f"lower_{name}_dim"
    return rule


lower(aten.max.dim, when=REDUCE)(_minmax_dim("max"))
lower(aten.min.dim, when=REDUCE)(_minmax_dim("min"))


# --- var / std / var_mean -------------------------------------------------------------------------

def _correction(ctx, x, dims, correction):
    n = math.prod(ctx.shape(x)[d] for d in dims) if dims else 1
    c = 1 if correction is None else correction
    return n, c


def var_call(ctx, name, x, dim, correction, keepdim, out_val):
    """ttnn.var / ttnn.std with aten's general `correction` (ttnn's is Bessel on/off)."""
    if ctx.rank(x) == 0:
        ctx.unsupported(f"{name} of a rank-0 tensor")
    dims = norm_dims(ctx, x, dim)
    n, c = _correction(ctx, x, dims, correction)
    dt = ctx.dtype_for(out_val.dtype)
    if c in (0, 1):
        return ctx.call(name, ctx.tile(x, dt), _dim_arg(dims), keepdim, correction=bool(c), out_val=out_val)
    if n - c <= 0:
        ctx.unsupported(f"{name} with correction {c} >= number of elements {n}")
    biased = ctx.call(name, ctx.tile(x, dt), _dim_arg(dims), keepdim, correction=False, out_val=out_val)
    factor = n / (n - c)
    if name == "std":
        factor = math.sqrt(factor)
    return ctx.call("multiply", ctx.tile(biased, dt), float(factor), out_val=out_val)


@lower(aten.var.correction, when=REDUCE + (float_inputs,))
def var(ctx, x, dim=None, *, correction=None, keepdim=False):
    return var_call(ctx, "var", x, dim, correction, keepdim, ctx.out)


@lower(aten.std.correction, when=REDUCE + (float_inputs,))
def std(ctx, x, dim=None, *, correction=None, keepdim=False):
    return var_call(ctx, "std", x, dim, correction, keepdim, ctx.out)


@lower(aten.var_mean.correction, when=REDUCE + (float_inputs,))
def var_mean(ctx, x, dim=None, *, correction=None, keepdim=False):
    var_val, mean_val = ctx.out
    v = var_call(ctx, "var", x, dim, correction, keepdim, var_val)
    m = reduce_call(ctx, "mean", x, norm_dims(ctx, x, dim), keepdim, ctx.dtype_for(mean_val.dtype),
                    out_val=mean_val)
    return v, m


# --- any / all ------------------------------------------------------------------------------------

def _nonzero01(ctx, x):
    """x as bfloat16 0/1 (a bool tensor already travels so)."""
    bf16 = ctx.ttnn.bfloat16
    if ctx.torch_dtype(x) == torch.bool:
        return x
    return ctx.call("ne", ctx.tile(x), 0, dtype=bf16, out_dtype=bf16, out_val=meta_value(ctx.shape(x), torch.bool))


def _anyall(name, which):
    def rule(ctx, x, dim=None, keepdim=False):
        if ctx.rank(x) == 0:
            ctx.unsupported(f"{which} of a rank-0 tensor")
        nz = _nonzero01(ctx, x)
        dims = norm_dims(ctx, x, dim)
        return reduce_call(ctx, name, nz, dims, keepdim, ctx.ttnn.bfloat16, out_val=ctx.out)
    rule.__name__ = f"lower_{which}"
    return rule


for _op, _name, _which in ((aten.any.dim, "max", "any"), (aten.any.dims, "max", "any"),
                           (aten.all.dim, "min", "all"), (aten.all.dims, "min", "all")):
    lower(_op, when=REDUCE)(_anyall(_name, _which))


@lower(aten.any.default, when=REDUCE)
def any_all_dims(ctx, x):
    return _anyall("max", "any")(ctx, x)


@lower(aten.all.default, when=REDUCE)
def all_all_dims(ctx, x):
    return _anyall("min", "all")(ctx, x)


# --- logsumexp ------------------------------------------------------------------------------------

@lower(aten.logsumexp.default, when=REDUCE + (float_inputs,))
def logsumexp(ctx, x, dim, keepdim=False):
    """max + log(sum(exp(x - max))) (numerically stable)."""
    if ctx.rank(x) == 0:
        return x
    dims = norm_dims(ctx, x, dim)
    dt = ctx.float_dtype()
    kshape = [1 if i in dims else s for i, s in enumerate(ctx.shape(x))]
    m = reduce_call(ctx, "max", x, dims, True, dt, out_val=meta_value(kshape, ctx.out.dtype))
    shifted = ctx.call("subtract", ctx.tile(x, dt), ctx.tile(m, dt), out_val=meta_value(ctx.shape(x), ctx.out.dtype))
    e = ctx.call("exp", ctx.tile(shifted, dt))
    s = reduce_call(ctx, "sum", e, dims, True, dt, out_val=meta_value(kshape, ctx.out.dtype))
    lg = ctx.call("log", ctx.tile(s, dt))
    out = ctx.call("add", ctx.tile(lg, dt), ctx.tile(m, dt), out_val=meta_value(kshape, ctx.out.dtype))
    return reshape(ctx, out, ctx.out.shape)


# --- cumsum / topk / sort ------------------------------------------------------------------------

_EXACT_F32 = 2 ** 24      # every integer of magnitude <= 2^24 is a float32


@lower(aten.cumsum.default, when=REDUCE)
def cumsum(ctx, x, dim, *, dtype=None):
    if ctx.rank(x) == 0:
        return _identity_rank0(ctx, x)
    d = int(dim) % ctx.rank(x)
    if not ctx.out.dtype.is_floating_point:
        # ttnn.cumsum is documented for BFLOAT16/FLOAT32: an integer cumsum is exact in FLOAT32 when every
        # partial sum is an integer of magnitude <= 2^24, i.e. n * max|x| <= 2^24. max|x| comes from the graph
        # (value_range.py: masks, comparisons, counts); for a graph input it is guarded at every call.
        from .value_range import int_bound
        from ... import runtime
        n = ctx.shape(x)[d]
        src = ctx.node.args[0]
        bound = int_bound(src)
        if bound is None and isinstance(src, torch.fx.Node) and src.op == "placeholder" and n > 0:
            limit = _EXACT_F32 // n
            x = ctx.host(runtime.check_int_bound, x, limit,
                         f"input {src.name} of an integer cumsum over {n} elements (exact on the device in "
                         f"float32 while |values| <= {limit})", out_val=ctx.val(x))
            bound = limit
        if bound is None or n * bound > _EXACT_F32:
            ctx.unsupported("integer cumsum of values the compiler cannot bound (ttnn.cumsum is BFLOAT16/FLOAT32 "
                            "only: exact only while partial sums stay within 2^24)")
        f32 = ctx.ttnn.float32
        counts = ctx.call("cumsum", ctx.tile(x, f32), d, out_val=meta_value(ctx.shape(x), torch.float32))
        return ctx.call("typecast", ctx.tile(counts, f32), ctx.ttnn.int32, out_dtype=ctx.ttnn.int32)
    return ctx.call("cumsum", ctx.tile(x, ctx.dtype_for(ctx.out.dtype)), d)


@lower(aten.cumprod.default, when=REDUCE)
def cumprod(ctx, x, dim, *, dtype=None):
    if not ctx.out.dtype.is_floating_point:
        ctx.unsupported("integer cumprod (kept exact on the host)")
    if ctx.rank(x) == 0:
        return _identity_rank0(ctx, x)
    return ctx.call("cumprod", ctx.tile(x, ctx.dtype_for(ctx.out.dtype)), int(dim) % ctx.rank(x))


unsupported("order statistics (median, mode, k-th value) have no TT-NN op", aten.median, aten.nanmedian,
            aten.mode, aten.kthvalue)
unsupported("running max/min with indices have no TT-NN op", aten.cummax, aten.cummin)
unsupported("logcumsumexp has no TT-NN op", aten.logcumsumexp)
unsupported("histograms have no TT-NN op", aten.histc)


def _index_dtype(ctx, x, dim):
    """topk/sort index dtype: UINT16 unless the padded dim exceeds 65536 or the input is FLOAT32."""
    padded = round_up(ctx.shape(x)[dim])
    if padded > 65536 or ctx.dtype_for(x) == ctx.ttnn.float32:
        return ctx.ttnn.uint32
    return ctx.ttnn.uint16


@lower(aten.topk.default, when=REDUCE + (float_inputs,))
def topk(ctx, x, k, dim=-1, largest=True, sorted=True):
    if ctx.rank(x) == 0:
        ctx.unsupported("topk of a rank-0 tensor")
    d = int(dim) % ctx.rank(x)
    dt = ctx.dtype_for(x)
    node = ctx.call("topk", ctx.tile(x, dt), int(k), d, bool(largest), bool(sorted))
    vals, idx = ctx.out
    return ctx.outputs(node, [(vals, ctx.ttnn.TILE_LAYOUT, dt), (idx, ctx.ttnn.TILE_LAYOUT, _index_dtype(ctx, x, d))])


def _sort(ctx, x, dim, descending, stable):
    if ctx.rank(x) == 0:
        ctx.unsupported("sort of a rank-0 tensor")
    d = int(dim) % ctx.rank(x)
    dt = ctx.dtype_for(x)
    node = ctx.call("sort", ctx.tile(x, dt), d, bool(descending), bool(stable))
    vals, idx = ctx.out
    return ctx.outputs(node, [(vals, ctx.ttnn.TILE_LAYOUT, dt), (idx, ctx.ttnn.TILE_LAYOUT, _index_dtype(ctx, x, d))])


@lower(aten.sort.default, when=REDUCE + (float_inputs,))
def sort(ctx, x, dim=-1, descending=False):
    return _sort(ctx, x, dim, descending, False)


@lower(aten.sort.stable, when=REDUCE + (float_inputs,))
def sort_stable(ctx, x, *, stable=None, dim=-1, descending=False):
    return _sort(ctx, x, dim, descending, bool(stable))
