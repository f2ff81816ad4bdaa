"""aten-level: the head split and head join of multi-head attention as TT-NN's own ops.

After the view canonicalisation (passes/views.py) an attention block moves its heads with programs of their own
on TT-NN: each projection is reshaped [b, s, e] -> [b, s, h, d] (a re-tiling: the tiled dims change) and
permuted to [b, h, s, d], and the attention output comes back through a permute and a reshape. TT-NN has one
op for each direction: `transformer.split_query_key_value_and_split_heads` reads a fused QKV projection
[b, s, 3 h d] once and writes q, k, v in the head layout; `transformer.concatenate_heads` writes [b, h, s, d]
back as [b, s, h d]. Both need the head size a multiple of the tile width (32), which the matchers check, so
that every fused node lowers.

- FuseQKVLinears: three `aten.linear` of the same [b, s, e] input with static weights of one shape (and all
  with a bias or none), each read only through view [b, s, h, d] -> permute(0, 2, 1, 3) (BERT-style separate
  projections), become one linear on the concatenated weights (computed once by constant folding: the three
  weights are parameters) and `ttnn_fused.split_heads`. One matrix product instead of three, three times as
  wide, and one head split instead of three reshapes and three permutes.
- FuseSplitHeads: a fused projection reshaped to [b, s, 3h, d], sliced in three h-head thirds along dim 2,
  each permuted (0, 2, 1, 3) (what the canonical views make of GPT-2's c_attn split and of
  nn.MultiheadAttention's in-projection) becomes `ttnn_fused.split_heads`.
- FuseConcatHeads: permute(x [b, h, s, d], (0, 2, 1, 3)) read only by a reshape to [b, s, h d] (possibly
  through a clone) becomes
  `ttnn_fused.concatenate_heads`.

- FuseSeqFirstConcatHeads: nn.MultiheadAttention's sequence-first join, permute(x, (2, 0, 1, 3)) -> view
  [s b, h d] -> addmm / mm (the output projection) -> view [s, b, n] -> permute(1, 0, 2), becomes
  `ttnn_fused.concatenate_heads` -> matmul (+ bias) on [b, s, h d]: the projection is row-wise, so the
  rows can be in batch-first order from the start; two permutes and two reshapes go.

Grouped-query attention (fewer K/V heads than query heads) is left alone: TT-NN's split takes that case only
through its Falcon-7B kernel, whose limits we do not model.
"""
from __future__ import annotations

import operator

import torch
import torch.fx

from ...fused_ops import fused_ops
from ...meta import node_shape as _shape, node_val as _val
from ...tiles import TILE
from ..base import Pass, PassResult, static_placeholders
from ._common import _VIEWS, AtenFusion, _is, _meta_of, _single_use

aten = torch.ops.aten
_HEADS_PERM = [0, 2, 1, 3]


def _only_user(n):
    return next(iter(n.users)) if _single_use(n) else None


def _skip_noop_views(n):
    """n, or the end of a chain of same-shape views hanging from it alone."""
    while _single_use(n):
        u = next(iter(n.users))
        if not (_is(u, *_VIEWS) and _shape(u) == _shape(n)):
            break
        n = u
    return n


def _is_heads_permute(n) -> bool:
    return _is(n, aten.permute.default) and [int(d) % 4 for d in n.args[1]] == _HEADS_PERM


def _float(n) -> bool:
    v = _val(n)
    return isinstance(v, torch.Tensor) and v.dtype.is_floating_point


def _emit_split(gm, before: torch.fx.Node, qkv: torch.fx.Node, heads: int, permutes: list) -> None:
    """ttnn_fused.split_heads(qkv, heads) before `before`; its i-th output replaces permutes[i]."""
    g = gm.graph
    target = fused_ops().split_heads.default
    val = _meta_of(gm, target, (qkv, heads), {})
    with g.inserting_before(before):
        node = g.call_function(target, (qkv, heads))
        node.meta["val"] = val
        for key in ("stack_trace", "nn_module_stack"):
            if key in permutes[0].meta:
                node.meta[key] = permutes[0].meta[key]
        for i, p in enumerate(permutes):
            item = g.call_function(operator.getitem, (node, i))
            item.meta["val"] = val[i] if val is not None else p.meta.get("val")
            p.replace_all_uses_with(item)


def _heads_of(view, b, s) -> tuple | None:
    """(h, d) when `view` reshapes a [b, s, h*d] tensor to [b, s, h, d] with d a multiple of the tile."""
    shape = _shape(view)
    if shape is None or len(shape) != 4 or tuple(shape[:2]) != (b, s):
        return None
    h, d = shape[2], shape[3]
    return (h, d) if d % TILE == 0 and h > 0 else None


class FuseSplitHeads(AtenFusion):
    name = "fuse_split_heads"

    def match(self, gm, node):
        if not _is(node, *_VIEWS) or len(node.users) != 3:
            return False
        x = node.args[0]
        xs, shape = _shape(x), _shape(node)
        if xs is None or shape is None or len(xs) != 3 or not _float(x):
            return False
        b, s, e = xs
        heads = _heads_of(node, b, s)
        if heads is None or heads[0] % 3:
            return False
        h = heads[0] // 3
        by_start = {}
        for sl in node.users:
            if not (_is(sl, aten.slice.Tensor) and len(sl.args) >= 4
                    and all(isinstance(a, int) for a in sl.args[1:4]) and sl.args[1] % 4 == 2
                    and (len(sl.args) < 5 or sl.args[4] == 1) and sl.args[3] - sl.args[2] == h):
                return False
            p = _only_user(sl)
            if p is None or not _is_heads_permute(p):
                return False
            by_start[int(sl.args[2])] = p
        if sorted(by_start) != [0, h, 2 * h]:
            return False
        permutes = [by_start[0], by_start[h], by_start[2 * h]]
        _emit_split(gm, min(permutes, key=_position(gm)), x, h, permutes)
        return True


def _position(gm):
    order = {n: i for i, n in enumerate(gm.graph.nodes)}
    return order.__getitem__


class FuseConcatHeads(AtenFusion):
    name = "fuse_concat_heads"

    def match(self, gm, node):
        if not _is_heads_permute(node) or not _float(node):
            return False
        out = _only_user(node)
        while out is not None and _is(out, aten.clone.default):      # .contiguous() before the reshape
            out = _only_user(out)
        src = node.args[0]
        shape = _shape(src)
        if out is None or not _is(out, *_VIEWS) or shape is None or len(shape) != 4:
            return False
        b, h, s, d = shape
        if d % TILE or tuple(_shape(out)) != (b, s, h * d):
            return False
        # a same-shape view between the source and the permute (aten leaves one after SDPA) is skipped
        while _is(src, *_VIEWS) and _single_use(src) and _shape(src.args[0]) == shape:
            src = src.args[0]
        g = gm.graph
        target = fused_ops().concatenate_heads.default
        val = _meta_of(gm, target, (src,), {})
        with g.inserting_before(out):
            new = g.call_function(target, (src,))
            new.meta["val"] = val if val is not None else out.meta.get("val")
            if "stack_trace" in out.meta:
                new.meta["stack_trace"] = out.meta["stack_trace"]
        out.replace_all_uses_with(new)
        return True


class FuseQKVLinears(Pass):
    """Inference graphs only: the concatenated weights are folded once, which needs static weights."""
    name = "fuse_qkv_linears"

    def __init__(self, static_inputs: set):
        self.static_inputs = static_inputs

    def call(self, gm: torch.fx.GraphModule) -> PassResult:
        g = gm.graph
        static = static_placeholders(gm, self.static_inputs)
        modified = False
        for x in list(g.nodes):
            if x.graph is None:
                continue
            try:
                group = self._group(x, static)
                if group is not None:
                    self._fuse(gm, x, *group)
                    modified = True
            except Exception as e:      # never breaks compilation: the projections stay as they were
                self.skip(x, e)
        if modified:
            g.eliminate_dead_code()
        return PassResult(gm, modified)

    @staticmethod
    def _group(x, static):
        xs = _shape(x)
        if xs is None or len(xs) != 3 or not _float(x):
            return None
        b, s, _ = xs
        found = []
        for lin in x.users:
            if not (_is(lin, aten.linear.default) and lin.args[0] is x):
                continue
            w = lin.args[1]
            bias = lin.args[2] if len(lin.args) > 2 else lin.kwargs.get("bias")
            view = _only_user(lin)
            if w not in static or (bias is not None and bias not in static) or view is None:
                continue
            if not _is(view, *_VIEWS):
                continue
            heads = _heads_of(view, b, s)
            perm = _only_user(view)
            if heads is None or perm is None or not _is_heads_permute(perm):
                continue
            found.append((lin, w, bias, heads, perm))
        if len(found) != 3:
            return None
        w_shapes = {tuple(_shape(f[1])) for f in found}
        if len(w_shapes) != 1 or len({f[3] for f in found}) != 1 or len({f[2] is None for f in found}) != 1:
            return None
        return found, found[0][3][0]

    @staticmethod
    def _fuse(gm, x, found, heads):
        """One linear on cat(weights) (and cat(biases)), split by ttnn_fused.split_heads; found is ordered as
        the projections appear in the graph."""
        g = gm.graph
        order = _position(gm)
        found = sorted(found, key=lambda f: order(f[0]))
        first = found[0][0]
        ws = [f[1] for f in found]
        bs = [f[2] for f in found]
        with g.inserting_before(first):
            w = g.call_function(aten.cat.default, (ws, 0))
            w.meta["val"] = _meta_of(gm, aten.cat.default, (ws, 0), {})
            bias = None
            if bs[0] is not None:
                bias = g.call_function(aten.cat.default, (bs, 0))
                bias.meta["val"] = _meta_of(gm, aten.cat.default, (bs, 0), {})
            lin = g.call_function(aten.linear.default, (x, w, bias))
            lin.meta["val"] = _meta_of(gm, aten.linear.default, (x, w, bias), {})
            for key in ("stack_trace", "nn_module_stack"):
                if key in first.meta:
                    lin.meta[key] = first.meta[key]
        _emit_split(gm, min((f[4] for f in found), key=order), lin, heads, [f[4] for f in found])


class FuseSeqFirstConcatHeads(AtenFusion):
    name = "fuse_seq_first_concat_heads"

    def match(self, gm, node):
        if not (_is(node, aten.permute.default) and [int(d) % 4 for d in node.args[1]] == [2, 0, 1, 3]
                and _float(node)):
            return False
        src = node.args[0]
        shape = _shape(src)
        if shape is None or len(shape) != 4 or shape[3] % TILE:
            return False
        b, h, s, d = shape
        flat = _only_user(node)
        if flat is None or not _is(flat, *_VIEWS) or tuple(_shape(flat)) != (s * b, h * d):
            return False
        mm = _only_user(flat)
        if _is(mm, aten.addmm.default) and mm.args[1] is flat:
            bias, w = mm.args[0], mm.args[2]
            if mm.kwargs.get("beta", 1) != 1 or mm.kwargs.get("alpha", 1) != 1:
                return False
        elif _is(mm, aten.mm.default) and mm.args[0] is flat:
            bias, w = None, mm.args[1]
        else:
            return False
        n = _shape(mm)[1]
        if bias is not None and tuple(_shape(bias)) not in ((n,), (1, n)):
            return False
        back = _only_user(mm)
        if back is None or not _is(back, *_VIEWS) or tuple(_shape(back)) != (s, b, n):
            return False
        out = _only_user(back)
        if out is None or not _is(out, aten.permute.default) or [int(x) % 3 for x in out.args[1]] != [1, 0, 2]:
            return False
        g = gm.graph
        with g.inserting_before(out):
            joined = self._node(gm, fused_ops().concatenate_heads.default, (src,))
            y = self._node(gm, aten.matmul.default, (joined, w))
            if bias is not None:
                y = self._node(gm, aten.add.Tensor, (y, bias))
        out.replace_all_uses_with(y)
        return True

    @staticmethod
    def _node(gm, target, args):
        n = gm.graph.call_function(target, args)
        n.meta["val"] = _meta_of(gm, target, args, {})
        return n
