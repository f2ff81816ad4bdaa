"""Unit rows: row-wise ops on [..., 1, H] tensors run on their [rows, H] form.

A decode step of a batched language model carries its activations as [batch, 1, hidden]. TT-NN tiles the last
two dims, so the size-1 dim is padded to a tile of 32 rows: every linear, norm and element-wise op of the step
reads, computes and writes 32 times its data (a 128k-vocabulary LM head at batch 32 becomes a [1024, 2048] x
[2048, 128256] product). Folding the leading dims into the rows, [batch, 1, hidden] -> [batch, hidden], puts
the batch in the tile rows, as hand-written TT-NN decoders lay it out.

The pass visits the graph in order. An op whose output has the shape [d0, ..., 1, n] (the dims before the
size-1 dim multiplying to m > 1) and that works row by row (linear, embedding, the norms over the last dim,
element-wise ops whose other operands are per-row, per-column or scalar, a reduction over the last dim, a slice
or select of the size-1 dim) is recreated on the [m, n] forms of its operands; its users get a view back to
the original shape. Consecutive folded ops therefore meet as view(view(x)), which CanonicalViews (run after this
pass) turns into x: the activations stay [m, n] through the step, and views remain only where the graph needs
the original shape (the attention heads, the outputs). The new graph computes the same values (also on torch).
"""
from __future__ import annotations

import math
import operator

import torch
import torch.fx

from ..meta import node_shape, node_val as _val
from .base import Pass, PassResult

aten = torch.ops.aten

_UNARY = {
    aten.relu.default, aten.gelu.default, aten.silu.default, aten.sigmoid.default, aten.tanh.default,
    aten.neg.default, aten.exp.default, aten.rsqrt.default, aten.sqrt.default, aten.mul.Scalar, aten.add.Scalar,
    aten.div.Scalar, aten.sub.Scalar, aten.pow.Tensor_Scalar, aten._to_copy.default, aten.clone.default,
}
_BINARY = {aten.add.Tensor, aten.sub.Tensor, aten.mul.Tensor, aten.div.Tensor}
_NORMS = {aten._fused_rms_norm.default, aten.native_layer_norm.default}   # tuple results: (y, stats...)


def _shape(n):
    return node_shape(n, static=True)


def _unit_rows(shape) -> bool:
    """[d0, ..., 1, n] with d0 * ... > 1: the shape the pass folds."""
    return shape is not None and len(shape) >= 3 and shape[-2] == 1 and math.prod(shape[:-2]) > 1


class FoldUnitRows(Pass):
    name = "fold_unit_rows"

    def call(self, gm: torch.fx.GraphModule) -> PassResult:
        self.gm, self.g = gm, gm.graph
        self.folded: dict = {}        # node with a [..., 1, n] value -> the node holding its [m, n] form
        modified = False
        for n in list(self.g.nodes):
            if n.op != "call_function" or n.graph is None:
                continue
            try:
                modified |= self._visit(n)
            except Exception as e:   # a rewrite that cannot be typed: leave this op as it is
                self.skip(n, e)
        if modified:
            from .cleanup import DeadCodeElimination
            DeadCodeElimination().call(gm)
            self.g.lint()
        return PassResult(gm, modified)

    # -- the [m, n] form of an operand ------------------------------------------------------------------
    def _rows(self, a, like: tuple, before):
        """The [m, k] form of operand `a` of an op whose output is `like` ([..., 1, n]): a folded node's form, a
        [..., 1, k] tensor viewed as [m, k], a per-column operand ([k], [1, ..., 1, k]) as [k], a scalar as is;
        None when `a` broadcasts another way."""
        if not isinstance(a, torch.fx.Node):
            return a if isinstance(a, (int, float, bool)) or a is None else None
        if a in self.folded:
            return self.folded[a]
        s = _shape(a)
        if s is None:
            return None
        m = math.prod(like[:-2])
        if len(s) == len(like) and s[:-2] == like[:-2] and s[-2] == 1:
            return self._view(a, [m, s[-1]], before, aten.reshape.default)
        if all(d == 1 for d in s[:-1]):
            return self._view(a, [s[-1]], before, aten.reshape.default) if len(s) > 1 else a
        return None

    def _view(self, a, shape, before, op=aten.view.default):
        """op(a, shape): a view of a contiguous result, or a reshape of an operand of any strides."""
        with self.g.inserting_before(before):
            v = self.g.call_function(op, (a, list(shape)))
        v.meta["val"] = _val(a).reshape(shape) if op is aten.reshape.default else _val(a).view(shape)
        return v

    def _emit(self, target, args, kwargs, like_node):
        from .fusion import _meta_of
        val = _meta_of(self.gm, target, args, kwargs)     # before inserting: a failure leaves the graph unchanged
        with self.g.inserting_before(like_node):
            new = self.g.call_function(target, args, kwargs)
        new.meta["val"] = val
        for key in ("stack_trace", "nn_module_stack"):
            if key in like_node.meta:
                new.meta[key] = like_node.meta[key]
        return new

    def _finish(self, n, rows_node, shape) -> bool:
        """`n` is computed as `rows_node` ([m, n]); its users get the original shape back through a view."""
        back = self._view(rows_node, list(shape), n)
        back.meta.update({k: v for k, v in n.meta.items() if k in ("stack_trace", "nn_module_stack")})
        n.replace_all_uses_with(back)
        self.folded[back] = rows_node
        self.g.erase_node(n)
        return True

    # -- the ops ----------------------------------------------------------------------------------------
    def _visit(self, n) -> bool:
        t = n.target
        if t is operator.getitem:
            return self._getitem(n)
        shape = _shape(n)
        if t in (aten.slice.Tensor, aten.select.int):
            return self._unit_dim_index(n)
        if not _unit_rows(shape):
            return False
        args = list(n.args)
        if t is aten.linear.default:
            x = self._rows(args[0], shape[:-1] + (_shape(args[0])[-1],), n) if _shape(args[0]) else None
            if x is None:
                return False
            return self._finish(n, self._emit(t, (x, *args[1:]), dict(n.kwargs), n), shape)
        if t is aten.embedding.default:
            ids = args[1]
            s = _shape(ids)
            if s is None or s != shape[:-1]:
                return False
            flat = self._view(ids, [math.prod(s)], n, aten.reshape.default)
            return self._finish(n, self._emit(t, (args[0], flat, *args[2:]), dict(n.kwargs), n), shape)
        if t in _UNARY:
            x = self._rows(args[0], shape, n)
            if not isinstance(x, torch.fx.Node) or (t is aten._to_copy.default and set(n.kwargs) - {"dtype"}):
                return False
            return self._finish(n, self._emit(t, (x, *args[1:]), dict(n.kwargs), n), shape)
        if t in _BINARY:
            a, b = self._rows(args[0], shape, n), self._rows(args[1], shape, n)
            if a is None or b is None or not any(isinstance(v, torch.fx.Node) and _shape(v) and len(_shape(v)) == 2
                                                 for v in (a, b)):
                return False
            return self._finish(n, self._emit(t, (a, b, *args[2:]), dict(n.kwargs), n), shape)
        if t in (aten.mean.dim, aten.sum.dim_IntList, aten.amax.default):
            dims = args[1] if len(args) > 1 else n.kwargs.get("dim")
            rank = len(_shape(args[0]) or ())
            keep = (args[2] if len(args) > 2 else n.kwargs.get("keepdim", False))
            if rank < 3 or list(dims or []) not in ([-1], [rank - 1]) or not keep:
                return False
            x = self._rows(args[0], _shape(args[0]), n)
            if not isinstance(x, torch.fx.Node):
                return False
            return self._finish(n, self._emit(t, (x, [-1], True), {k: v for k, v in n.kwargs.items()
                                                                    if k not in ("dim", "keepdim")}, n), shape)
        return False

    def _getitem(self, n) -> bool:
        """getitem(norm(x), i) of a norm over the last dim of a [..., 1, n] input: the norm runs on [m, n]."""
        norm, index = n.args
        if not isinstance(norm, torch.fx.Node) or norm.target not in _NORMS or index != 0:
            return False
        x = norm.args[0]
        shape = _shape(x)
        if not _unit_rows(shape) or list(norm.args[1]) != [shape[-1]]:
            return False
        if any(u is not n and u.target is operator.getitem and u.args[1] != 0 and u.users for u in norm.users):
            return False       # the statistics are used (training): keep the op as it is
        rows = self._rows(x, shape, norm)
        if not isinstance(rows, torch.fx.Node):
            return False
        new = self._emit(norm.target, (rows, *norm.args[1:]), dict(norm.kwargs), norm)
        with self.g.inserting_before(n):
            y = self.g.call_function(operator.getitem, (new, 0))
        y.meta["val"] = new.meta["val"][0]
        return self._finish(n, y, _shape(n))

    def _unit_dim_index(self, n) -> bool:
        """slice or select of the size-1 dim of a folded value: the [m, n] form itself (a select drops the dim)."""
        x = n.args[0]
        if x not in self.folded:
            return False
        shape = _shape(x)
        dim = n.args[1] if len(n.args) > 1 else n.kwargs.get("dim", 0)
        if dim % len(shape) != len(shape) - 2:
            return False
        rows = self.folded[x]
        out = _shape(n)
        if n.target is aten.slice.Tensor and out != shape:
            return False
        if n.target is aten.select.int and len(shape) == 3:
            n.replace_all_uses_with(rows)            # [b, 1, n] -> [b, n]: the folded form itself
            self.g.erase_node(n)
            return True
        return self._finish(n, rows, out) if n.target is aten.slice.Tensor else False
