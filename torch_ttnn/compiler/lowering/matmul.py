"""Matrix products: mm, bmm, addmm, baddbmm, linear -> ttnn.matmul / ttnn.linear.

- ttnn.matmul / ttnn.linear take TILE operands in a float dtype (integer products stay on the host).
- A transposed operand (a permute/transpose of the last two dims, e.g. the `permute(weight, [1, 0])` that
  aten puts in front of addmm) is not materialized: the matmul reads the source with transpose_a/transpose_b.
  Weights are graph inputs converted once by the parameter cache, so `linear` costs one op per call.
- Tile padding along K: the kernel multiplies whole tiles, so when K is not a multiple of 32 the padding of
  the two operands along K must not both be nonzero. Host values (inputs, parameters) arrive with zero padding;
  when neither operand does, the padding of one of them is set to zero (ttnn.fill_implicit_tile_padding).
- Batch dims: aten's mm/bmm/baddbmm have none or equal ones (aten's matmul decomposition expands and
  reshapes broadcast batches before bmm), which ttnn.matmul accepts as is.
"""
from __future__ import annotations

import torch

from ..meta import ATEN, TT, TT_MULTI, meta_value
from ..registry import COMMON, float_inputs, lower, rank_at_most, unsupported

aten = torch.ops.aten

MATMUL = COMMON + (float_inputs, rank_at_most(4))


# --------------------------------------------------------------------------------------------------
# helpers shared by the other families (reduction, normalization, attention)
# --------------------------------------------------------------------------------------------------

def finish(ctx, outs):
    """Give the nodes a rule returns the aten values (shape and torch dtype) of the node being lowered, so the
    host boundary restores the right dtype. Nodes the rule did not create (returned inputs) are left alone."""
    single = not isinstance(outs, tuple)
    vals = (ctx.out,) if single else tuple(ctx.out)
    outs_t = (outs,) if single else outs
    for n, v in zip(outs_t, vals):
        if (isinstance(n, torch.fx.Node) and isinstance(v, torch.Tensor) and n.meta.get(ATEN) is ctx.node.target
                and TT in n.meta and tuple(n.meta["val"].shape) == tuple(v.shape)):
            n.meta["val"] = v
    return outs


def target_name(node) -> str:
    """`ttnn.<name>` of a lowered node (its op name), or '' for anything else."""
    if not isinstance(node, torch.fx.Node) or node.op != "call_function":
        return ""
    return getattr(node.target, "python_fully_qualified_name", "") or ""


def is_host_value(node) -> bool:
    """A torch value on the host (input, parameter, host op): it reaches the device with zero tile padding."""
    return isinstance(node, torch.fx.Node) and node.meta.get(TT) is None and not node.meta.get(TT_MULTI)


def transpose_source(ctx, x):
    """If `x` is a transpose of the last two dims of some value (and nothing else), that value; else None."""
    if not isinstance(x, torch.fx.Node) or x.op != "call_function" or not x.args:
        return None
    r = ctx.rank(x)
    if r < 2:
        return None
    swap = list(range(r - 2)) + [r - 1, r - 2]
    name = target_name(x)
    src, perm = None, None
    if name == "ttnn.permute" or x.target is aten.permute.default:
        src, perm = x.args[0], x.args[1] if len(x.args) > 1 else x.kwargs.get("dims")
    elif name == "ttnn.transpose" or x.target is aten.transpose.int:
        src = x.args[0]
        d1, d2 = (x.args[1], x.args[2]) if len(x.args) > 2 else (x.kwargs.get("dim1"), x.kwargs.get("dim2"))
        if d1 is None or d2 is None:
            return None
        perm = list(range(r))
        d1, d2 = d1 % r, d2 % r
        perm[d1], perm[d2] = perm[d2], perm[d1]
    elif x.target is aten.t.default and r == 2:
        src, perm = x.args[0], [1, 0]
    if src is None or perm is None or not isinstance(src, torch.fx.Node):
        return None
    if [int(p) % r for p in perm] != swap:
        return None
    if not isinstance(ctx.val(src), torch.Tensor) or ctx.rank(src) != r:
        return None
    return src


def zero_k_padding(ctx, a, b, k: int, a_is_k_last: bool = True):
    """Make sure the K padding of `a` or `b` is zero (see the module docstring); returns (a, b) nodes."""
    if k % 32 == 0 or is_host_value(a) or is_host_value(b):
        return a, b
    fixed = ctx.call("fill_implicit_tile_padding", ctx.tile(a, ctx.float_dtype()), 0.0, out_val=ctx.val(a))
    return fixed, b


def matmul_call(ctx, name, a, b, *, out_val=None, bias=None, **kwargs):
    """Emit ttnn.matmul/ttnn.linear of a @ b, reading transposed operands in place."""
    ta = tb = False
    sa, sb = transpose_source(ctx, a), transpose_source(ctx, b)
    if sa is not None:
        a, ta = sa, True
    if sb is not None:
        b, tb = sb, True
    k = ctx.shape(a)[-2 if ta else -1]
    a, b = zero_k_padding(ctx, a, b, k)
    dt = ctx.float_dtype()
    if ta:
        kwargs["transpose_a"] = True
    if tb:
        kwargs["transpose_b"] = True
    if bias is not None:
        kwargs["bias"] = ctx.tile(bias, dt)
    return ctx.call(name, ctx.tile(a, dt), ctx.tile(b, dt), out_val=out_val, **kwargs)


def _scaled_sum(ctx, product, bias, beta, alpha):
    """beta * bias + alpha * product (aten: beta == 0 ignores bias, even NaN/inf)."""
    out = product
    if alpha != 1:
        out = ctx.call("multiply", ctx.tile(out, ctx.float_dtype()), float(alpha))
    if beta == 0 or bias is None:
        return out
    b = bias
    if beta != 1:
        b = ctx.call("multiply", ctx.tile(bias, ctx.float_dtype()), float(beta), out_val=ctx.val(bias))
    return ctx.call("add", ctx.tile(out, ctx.float_dtype()), ctx.tile(b, ctx.float_dtype()))


# --------------------------------------------------------------------------------------------------
# rules
# --------------------------------------------------------------------------------------------------

@lower(aten.mm.default, aten.bmm.default, when=MATMUL)
def mm(ctx, a, b):
    return matmul_call(ctx, "matmul", a, b)


def _is_row_bias(ctx, bias, n: int) -> bool:
    shape = ctx.shape(bias)
    return len(shape) >= 1 and shape[-1] == n and all(d == 1 for d in shape[:-1])


@lower(aten.addmm.default, when=MATMUL)
def addmm(ctx, bias, a, b, *, beta=1, alpha=1):
    n = ctx.out.shape[-1]
    if beta == 1 and alpha == 1 and _is_row_bias(ctx, bias, n) and ctx.torch_dtype(bias).is_floating_point:
        # x @ W^T + b: one ttnn.linear, the weight read transposed in place
        return matmul_call(ctx, "linear", a, b, bias=bias)
    prod = matmul_call(ctx, "matmul", a, b, out_val=meta_value(ctx.out.shape, ctx.out.dtype))
    return _scaled_sum(ctx, prod, bias, beta, alpha)


@lower(aten.baddbmm.default, when=MATMUL)
def baddbmm(ctx, bias, a, b, *, beta=1, alpha=1):
    prod = matmul_call(ctx, "matmul", a, b, out_val=meta_value(ctx.out.shape, ctx.out.dtype))
    return _scaled_sum(ctx, prod, bias, beta, alpha)


@lower(aten.linear.default, when=MATMUL)
def linear(ctx, x, weight, bias=None):
    """aten.linear (normally decomposed into permute + addmm by aten; kept for graphs that carry it)."""
    if ctx.rank(weight) != 2:
        ctx.unsupported(f"weight of rank {ctx.rank(weight)} (ttnn.linear needs [out, in])")
    kwargs = {}
    if bias is not None:
        if not _is_row_bias(ctx, bias, ctx.out.shape[-1]):
            ctx.unsupported(f"bias of shape {list(ctx.shape(bias))} is not a row")
        kwargs["bias"] = ctx.tile(bias, ctx.float_dtype())
    k = ctx.shape(x)[-1]
    x, weight = zero_k_padding(ctx, x, weight, k)
    return ctx.call("linear", ctx.tile(x, ctx.float_dtype()), ctx.tile(weight, ctx.float_dtype()),
                    transpose_b=True, **kwargs)


@lower(aten.matmul.default, when=MATMUL)
def matmul(ctx, a, b):
    """aten.matmul of a batched left operand and a 2-D right one (produced by the linear fusion)."""
    if ctx.rank(a) < 2 or ctx.rank(b) != 2:
        ctx.unsupported("matmul other than [..., M, K] @ [K, N]")
    return matmul_call(ctx, "matmul", a, b)


@lower(aten.addmv.default, when=MATMUL)
def addmv(ctx, bias, mat, vec, *, beta=1, alpha=1):
    """beta * bias + alpha * (mat @ vec): a matrix-vector ttnn.matmul."""
    prod = matmul_call(ctx, "matmul", mat, vec, out_val=meta_value(ctx.out.shape, ctx.out.dtype))
    return _scaled_sum(ctx, prod, bias, beta, alpha)


@lower(aten.addbmm.default, when=MATMUL)
def addbmm(ctx, bias, b1, b2, *, beta=1, alpha=1):
    """beta * bias + alpha * sum_b(b1[b] @ b2[b]): batched ttnn.matmul, then ttnn.sum over the batch."""
    bsz, n = ctx.shape(b1)[0], ctx.shape(b1)[1]
    p = ctx.shape(b2)[2]
    prod = matmul_call(ctx, "matmul", b1, b2, out_val=meta_value((bsz, n, p), ctx.out.dtype))
    total = ctx.call("sum", ctx.tile(prod, ctx.float_dtype()), 0, False, out_val=meta_value((n, p), ctx.out.dtype))
    return _scaled_sum(ctx, total, bias, beta, alpha)


unsupported("pairwise distances have no TT-NN op (cdist is decomposed by aten where possible)",
            aten._cdist_forward)
