"""Canonical view chains: a chain of view-like aten ops becomes at most reshape, slices, permute, reshape.

PyTorch code reorganises tensors with chains of views (view, unsqueeze, transpose, squeeze, select, slice,
unbind...) that cost nothing on a CPU or GPU. On TT-NN each one is a program over tiled data, and the
intermediate shapes can be very bad for tiles: nn.MultiheadAttention splits q/k/v with
`unflatten(-1, (3, E)).unsqueeze(0).transpose(0, -2).squeeze(-2)`, whose rank-5 intermediate has a size-1 or
size-3 dim in the tiled position (padded to 32: 10-30x the bytes), and the heads are then split by more views
and transposes. Every such chain reads its source through an affine map (offset + sum of index x stride),
and every affine map with positive, nested strides is: reshape the source into factors, slice each factor,
permute, reshape. This pass finds, for each source tensor, the tree of view-like ops hanging from it, computes
the map of each end of the tree exactly (by running the chain on the source's element indices, at compile
time), and replaces the tree by those few ops when that takes fewer ops. Semantics are unchanged (the same
values; the new graph also runs on torch).
"""
from __future__ import annotations

import math
import operator

import torch
import torch.fx

from ..tiles import padded_volume
from ..meta import val as _val
from .base import Pass, PassResult

aten = torch.ops.aten

_VIEWS = {
    aten.view.default, aten._unsafe_view.default, aten.reshape.default, aten.view_copy.default,
    aten.permute.default, aten.transpose.int, aten.t.default, aten.unsqueeze.default, aten.squeeze.dim,
    aten.squeeze.dims, aten.squeeze.default, aten.select.int, aten.slice.Tensor, aten.clone.default,
    aten.alias.default, aten.unbind.int, aten.split.Tensor, aten.split_with_sizes.default,
    aten.unflatten.int, aten.flatten.using_ints, aten.as_strided.default,
}
_MULTI = {aten.unbind.int, aten.split.Tensor, aten.split_with_sizes.default}
MAX_ELEMENTS = 1 << 26          # index tensors are int64: at most 512 MB of compile-time work


def _is_view(n) -> bool:
    if not isinstance(n, torch.fx.Node) or n.op != "call_function":
        return False
    if n.target is operator.getitem:
        return isinstance(n.args[0], torch.fx.Node) and n.args[0].target in _MULTI
    if n.target not in _VIEWS:
        return False
    if n.target is aten.clone.default and n.kwargs.get("memory_format") not in (None, torch.contiguous_format):
        return False
    return True


def _static_shape(v) -> bool:
    return isinstance(v, torch.Tensor) and all(isinstance(s, int) for s in v.shape)


class CanonicalViews(Pass):
    name = "canonical_views"

    def call(self, gm: torch.fx.GraphModule) -> PassResult:
        from torch._subclasses.fake_tensor import unset_fake_temporarily
        with unset_fake_temporarily():
            modified = False
            for src in list(gm.graph.nodes):
                if src.graph is None or _is_view(src) or not _static_shape(_val(src)):
                    continue
                try:
                    modified |= self._rewrite_tree(gm, src)
                except Exception as e:   # never breaks compilation: the tree stays as it was, and says so
                    self.skip(src, e)
            if modified:
                gm.graph.eliminate_dead_code()
        return PassResult(gm, modified)

    def _tree(self, src) -> list:
        """The view-like nodes reachable from `src` through view-like nodes only, in graph order."""
        seen, todo = [], [src]
        while todo:
            n = todo.pop()
            for u in n.users:
                if _is_view(u) and u not in seen and all(a is n or a in seen or a is src or
                                                        not isinstance(a, torch.fx.Node)
                                                        for a in u.all_input_nodes):
                    seen.append(u)
                    todo.append(u)
        order = {n: i for i, n in enumerate(src.graph.nodes)}
        return sorted(seen, key=order.__getitem__)

    def _rewrite_tree(self, gm, src) -> bool:
        tree = self._tree(src)
        if len(tree) < 2:
            return False
        v = _val(src)
        numel = math.prod(v.shape)
        if numel == 0 or numel > MAX_ELEMENTS:
            return False
        strided = any(n.target is aten.as_strided.default for n in tree)
        if strided and not v.is_contiguous():
            return False        # as_strided reads the storage: the index tensor must be laid out like src
        members = set(tree)
        ends = [n for n in tree if _val(n) is not None and isinstance(_val(n), torch.Tensor)
                and any(not _is_view(u) or u not in members for u in n.users)]
        if not ends:
            return False
        # the element indices of src, pushed through the tree; laid out with src's strides, so that a view is
        # legal here exactly where it is legal on the real tensor (a transposed src viewed after a transpose)
        index = torch.arange(numel, dtype=torch.int64).reshape(tuple(v.shape))
        if not strided and all(st > 0 or d == 1 for st, d in zip(v.stride(), v.shape)):
            laid = torch.empty_strided(tuple(v.shape), tuple(v.stride()), dtype=torch.int64)
            index = laid.copy_(index)
        env = {src: index}
        for n in tree:
            args = torch.fx.map_arg(n.args, lambda a: env[a] if a in env else a)
            kwargs = torch.fx.map_arg(n.kwargs, lambda a: env[a] if a in env else a)
            if _has_node(args) or _has_node(kwargs):     # a size computed elsewhere (symbolic)
                return False
            env[n] = n.target(*args, **kwargs)
        plans = {}
        for e in ends:
            plan = _decompose(env[e], tuple(v.shape))
            if plan is None:
                return False
            plans[e] = plan
        prefixes = {tuple((t, repr(a)) for t, a in p[:i + 1]) for p in plans.values() for i in range(len(p))}
        # ends share the steps they have in common (e.g. one reshape); a tree with as_strided (no TT-NN
        # equivalent) is rewritten even when that takes as many ops
        if len(prefixes) > len(tree) or (len(prefixes) == len(tree) and not strided):
            return False
        from .fusion import _meta_of
        g = gm.graph
        made: dict = {}
        # the new nodes read only src: before the tree's first node (after src, before any user of the tree;
        # never between placeholders, where later passes expect none)
        anchor = tree[0].prev
        for e, plan in plans.items():
            x, key = src, ()
            for target, args in plan:
                key = key + ((target, repr(args)),)
                node = made.get(key)
                if node is None:
                    with g.inserting_after(anchor):
                        node = g.call_function(target, (x,) + tuple(args))
                    node.meta["val"] = _meta_of(gm, target, (x,) + tuple(args), {})
                    for k in ("stack_trace", "nn_module_stack"):
                        if k in e.meta:
                            node.meta[k] = e.meta[k]
                    made[key] = anchor = node
                x = node
            e.replace_all_uses_with(x)      # x is src itself when the end is src unchanged
        return True


def _has_node(v) -> bool:
    if isinstance(v, torch.fx.Node):
        return True
    if isinstance(v, (list, tuple)):
        return any(_has_node(x) for x in v)
    if isinstance(v, dict):
        return any(_has_node(x) for x in v.values())
    return False


def _decompose(idx: torch.Tensor, src_shape: tuple):
    """[(aten op, args after the input)] realising `idx` (element indices of a contiguous source of shape
    src_shape) as reshape / slices / permute / reshape; None when `idx` is not such a map."""
    shape = tuple(idx.shape)
    numel = math.prod(src_shape)
    if idx.numel() == 0:
        return None
    flat = idx.reshape(-1)
    offset = int(flat[0])
    if flat.numel() == numel and torch.equal(flat, torch.arange(numel, dtype=flat.dtype)):
        return [] if shape == tuple(src_shape) else [(aten.reshape.default, (list(shape),))]   # same order
    dims = [d for d, s in enumerate(shape) if s > 1]
    if not dims:                                   # one element
        return [(aten.reshape.default, ([numel],)), (aten.slice.Tensor, (0, offset, offset + 1)),
                (aten.reshape.default, (list(shape),))]
    strides = {}
    for d in dims:
        pos = [0] * len(shape)
        pos[d] = 1
        strides[d] = int(idx[tuple(pos)]) - offset
        if strides[d] <= 0:
            return None
    expect = torch.full(shape, offset, dtype=torch.int64)
    for d in dims:
        view = [1] * len(shape)
        view[d] = shape[d]
        expect = expect + (torch.arange(shape[d], dtype=torch.int64) * strides[d]).reshape(view)
    if not torch.equal(expect, idx):
        return None
    order = sorted(dims, key=lambda d: -strides[d])
    ss = [strides[d] for d in order]
    if len(set(ss)) != len(ss) or (ss and numel % ss[0]):
        return None
    if any(a % b for a, b in zip(ss, ss[1:])):
        return None
    factors = ([numel // ss[0]] if ss else [numel]) + [a // b for a, b in zip(ss, ss[1:])]
    trailing = ss[-1] if ss else 1
    if trailing > 1:
        factors.append(trailing)
    starts, rem = [], offset
    for s in ss:
        starts.append(rem // s)
        rem %= s
    if trailing == 1 and rem:
        return None
    plan = []
    cur = tuple(src_shape)
    if tuple(factors) != cur:
        plan.append((aten.reshape.default, (list(factors),)))
        cur = tuple(factors)
    sizes = [shape[d] for d in order]
    for i, (c, n) in enumerate(zip(starts, sizes)):
        if c + n > factors[i]:
            return None
        if (c, n) != (0, factors[i]):
            plan.append((aten.slice.Tensor, (i, c, c + n)))
    if trailing > 1:
        plan.append((aten.slice.Tensor, (len(factors) - 1, rem, rem + 1)))
    kept = sizes + ([1] if trailing > 1 else [])
    if trailing > 1:
        plan.append((aten.reshape.default, (list(sizes),)))
        kept = sizes
    perm = sorted(range(len(order)), key=lambda i: order[i])
    if perm != list(range(len(order))):
        plan.append((aten.permute.default, (perm,)))
        kept = [kept[p] for p in perm]
    if tuple(kept) != shape:
        plan.append((aten.reshape.default, (list(shape),)))
    return plan


# --- moving permutes past row-wise ops ------------------------------------------------------------------------

_ROWWISE_UNARY = {
    aten.relu.default, aten.gelu.default, aten.silu.default, aten.sigmoid.default, aten.tanh.default,
    aten.neg.default, aten.exp.default, aten.mul.Scalar, aten.add.Scalar, aten.div.Scalar, aten.sub.Scalar,
    aten._to_copy.default,
}
_ROWWISE_BINARY = {aten.add.Tensor, aten.sub.Tensor, aten.mul.Tensor, aten.div.Tensor}


def _row_operand(v, last: int) -> bool:
    """A second operand that is the same for every row: a scalar, or a tensor broadcast on all but the last
    dim (a bias)."""
    if not isinstance(v, torch.fx.Node):
        return isinstance(v, (int, float))
    t = _val(v)
    return isinstance(t, torch.Tensor) and all(s == 1 for s in t.shape[:-1]) and t.dim() >= 1 \
        and t.shape[-1] in (1, last)


class SinkPermutes(Pass):
    """A permute that keeps the last dim commutes with ops that work row by row (linear, element-wise ops
    with a scalar or a per-column operand): op(permute(x)) == permute(op(x)). When the permuted tensor pads
    worse in tiles than its source (e.g. nn.MultiheadAttention's [batch, seq, dim] -> [seq, batch, dim] with a
    small batch in the tiled dim), the ops run on the source's layout and the permute moves after them, where
    CanonicalViews often folds it into the view chain that follows."""

    name = "sink_permutes"

    def call(self, gm: torch.fx.GraphModule) -> PassResult:
        from .fusion import _meta_of
        modified = False
        changed = True
        while changed:
            changed = False
            for p in list(gm.graph.nodes):
                if p.graph is None or p.op != "call_function" or p.target is not aten.permute.default:
                    continue
                x, perm = p.args[0], list(p.args[1])
                xv, pv = _val(x), _val(p)
                if not (_static_shape(xv) and _static_shape(pv)) or len(p.users) != 1:
                    continue
                n = len(perm)
                if perm[-1] % n != n - 1 or padded_volume(pv.shape) <= padded_volume(xv.shape):
                    continue
                (u,) = p.users
                last = pv.shape[-1]
                if u.op != "call_function":
                    continue
                if u.target is aten.linear.default and u.args[0] is p:
                    new_args = (x,) + tuple(u.args[1:])
                elif u.target in _ROWWISE_UNARY and u.args[0] is p:
                    new_args = (x,) + tuple(u.args[1:])
                elif u.target in _ROWWISE_BINARY and len(u.args) >= 2:
                    a, b = u.args[0], u.args[1]
                    if a is p and b is not p and _row_operand(b, last):
                        new_args = (x, b) + tuple(u.args[2:])
                    elif b is p and a is not p and _row_operand(a, last):
                        new_args = (a, x) + tuple(u.args[2:])
                    else:
                        continue
                else:
                    continue
                try:
                    val = _meta_of(gm, u.target, new_args, dict(u.kwargs))
                except Exception:
                    continue
                if val is None:
                    continue
                g = gm.graph
                with g.inserting_before(u):
                    moved = g.call_function(u.target, new_args, dict(u.kwargs))
                    moved.meta.update({k: v for k, v in u.meta.items() if k in ("stack_trace", "nn_module_stack")})
                    moved.meta["val"] = val
                    q = g.call_function(aten.permute.default, (moved, perm))
                    q.meta["val"] = u.meta.get("val")
                u.replace_all_uses_with(q)
                g.erase_node(u)
                g.erase_node(p)
                modified = changed = True
        return PassResult(gm, modified)
