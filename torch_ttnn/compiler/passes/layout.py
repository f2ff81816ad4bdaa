"""Channels-last layout: keep chains of convolutions, pools and element-wise ops in NHWC on the device.

Each conv/pool rule permutes its NCHW operand to NHWC and its flattened [1, 1, N*OH*OW, C] result back to
NCHW, so that every lowered node stands for its aten value. Between two such ops the graph then holds
`reshape -> permute(NCHW) [-> relu ...] -> permute(NHWC)`. This pass, run right after lowering (before data
movement), rewrites the TT-NN graph until nothing changes:

- cancel: permute(permute(x, p), q) with p∘q the identity -> x (otherwise one permute); a reshape/view of a
  reshape/view back to x's shape -> x (otherwise one reshape of x); identity permutes and reshapes -> x;
- sink: a move M (permute / reshape / view) feeding a layout-agnostic element-wise op E (unary, or binary
  with a scalar) is moved after E -- E(M(x)) = M(E(x)) -- when a consumer downstream then cancels or absorbs
  M; a binary element-wise op whose two operands are the same move of same-shaped values becomes one move of
  the op on the unmoved values;
- absorb: a conv/pool whose NHWC input is a reshape of a flattened [1, 1, N*H*W, C] value reads that value
  directly (TT-NN sliding-window ops accept both forms);
- concat: a concat whose parts all arrive through the same permute joins the unpermuted parts (along the
  permuted dim) and is permuted once after (GhostNet and DenseNet concatenate NHWC convolution outputs);
- broadcast: a binary op of a permuted value and a broadcast operand whose non-1 dims keep their order (a
  squeeze-and-excitation scale) runs on the unpermuted value with the operand reshaped to match; a permute
  read by several ops that would each take it (the excitation's mean and its multiply) is split, one each.

Element-wise ops do not care about the order of the elements, so moving permutes across them is exact.
"""
from __future__ import annotations

import math

import torch
import torch.fx

from .. import ttnn_ops
from ..meta import LAYOUT_PASS, Req, TT, TTMeta, TT_IN, meta_value, node_shape as _shape, tt_meta
from ..tiles import is_free_view
from .base import Pass, PassResult

_MOVES = ("permute", "reshape", "view")

_MAX_DEPTH = 8


def _tdtype(n):
    v = n.meta.get("val") if isinstance(n, torch.fx.Node) else None
    return v.dtype if isinstance(v, torch.Tensor) else None


class ChannelsLastLayout(Pass):
    name = "channels_last_layout"
    needs = ("lower_to_ttnn",)

    def __init__(self, ttnn):
        self.ttnn = ttnn
        self.moves = ttnn_ops.resolve(ttnn, _MOVES)
        # layout-agnostic element-wise ops: the output element i depends only on the input elements i (the
        # ternary ones would commute as well; the pass has not been extended to them)
        self.eltwise = set(ttnn_ops.resolve(ttnn, [n for group in ("unary", "binary", "conversion")
                                                   for n in ttnn_ops.names(group, elementwise=True, in_place=False)]))
        # sliding-window ops that also read their NHWC activation flattened as [1, 1, N*H*W, C]: op -> where
        self.sliding = ttnn_ops.resolve(ttnn, ttnn_ops.names(sliding_window=True))
        self.flat_input = {op: ttnn_ops.info(n).input for op, n in self.sliding.items()}
        # ttnn.<name>(x, dims, keepdim): with keepdim, reduce(permute(x, p), dims) = permute(reduce(x, p[dims]), p)
        self.reduce = set(ttnn_ops.resolve(ttnn, ttnn_ops.names(reduces_dims=True)))
        self.concat = getattr(ttnn, "concat", None)
        self.stats = {"cancelled": 0, "sunk": 0, "absorbed": 0, "merged": 0}

    # --- classification ------------------------------------------------------------------------
    def _move(self, n):
        """'permute' / 'reshape' / 'view' for a plain TT-NN move node (x, perm_or_shape), else None."""
        if not isinstance(n, torch.fx.Node) or n.op != "call_function" or n.target not in self.moves:
            return None
        if n.kwargs or len(n.args) != 2 or tt_meta(n) is None or not isinstance(n.args[0], torch.fx.Node):
            return None
        if _shape(n) is None or _shape(n.args[0]) is None:
            return None
        return self.moves[n.target]

    def _tensor_operands(self, n) -> list:
        """[(path, node)] of an element-wise op's tensor operands, or None if it is not a plain one."""
        if n.op != "call_function" or n.target not in self.eltwise or tt_meta(n) is None:
            return None
        tin = n.meta.get(TT_IN) or {}
        paths = sorted(tin)
        if not paths or any(p[0] != "args" or len(p) != 2 for p in paths):
            return None
        out = [(p, n.args[p[1]]) for p in paths]
        # no other tensor node among the arguments (e.g. a host value passed without requirement)
        for a in list(n.args) + list(n.kwargs.values()):
            if isinstance(a, torch.fx.Node) and all(a is not o for _, o in out):
                return None
        shape = _shape(n)
        if shape is None or any(_shape(o) != shape for _, o in out):
            return None   # broadcasting: the operands are not element-aligned with the output
        return out

    # --- the pass ------------------------------------------------------------------------------
    def call(self, gm: torch.fx.GraphModule) -> PassResult:
        g = gm.graph
        self.g = g
        modified = False
        for _ in range(100):
            changed = False
            for n in list(g.nodes):
                if n.graph is not g or getattr(n, "_erased", False):
                    continue
                if self._cancel(n) or self._merge_binary(n) or self._sink(n) or self._absorb(n) or \
                        self._sink_reduce(n) or self._merge_concat(n) or self._sink_broadcast(n) or \
                        self._split_move(n) or self._permute_as_reshape(n):
                    changed = True
            if not changed:
                break
            modified = True
        if modified:
            self._dce(g)
        gm.layout_stats = dict(self.stats)
        return PassResult(gm, modified)

    def _dce(self, g):
        for n in reversed(list(g.nodes)):
            if n.op == "call_function" and not n.users and (self._move(n) or n.target in self.eltwise) \
                    and n.meta.get(LAYOUT_PASS):
                g.erase_node(n)

    def _erase_if_dead(self, n):
        if isinstance(n, torch.fx.Node) and not n.users and n.op == "call_function" and \
                (n.target in self.moves or n.target in self.eltwise):
            args = n.all_input_nodes
            self.g.erase_node(n)
            for a in args:
                self._erase_if_dead(a)

    def _replace(self, old, new):
        old.replace_all_uses_with(new)
        self._erase_if_dead(old)

    # --- cancel / compose ----------------------------------------------------------------------
    @staticmethod
    def _would_alias_outputs(n, src) -> bool:
        """Replacing n by src would return one value twice from the graph (two outputs sharing a tensor)."""
        return any(u.op == "output" for u in n.users) and (any(u.op == "output" for u in src.users)
                                                            or src.op == "placeholder")

    def _cancel(self, n) -> bool:
        kind = self._move(n)
        if kind is None:
            return False
        x = n.args[0]
        # identity move
        if _shape(x) == _shape(n) and _tdtype(x) == _tdtype(n) and tt_meta(x) is not None and \
                not self._would_alias_outputs(n, x) and \
                (kind != "permute" or list(n.args[1]) == list(range(len(n.args[1])))):
            self._replace(n, x)
            self.stats["cancelled"] += 1
            return True
        inner = self._move(x)
        if inner is None:
            return False
        src = x.args[0]
        if _tdtype(src) != _tdtype(n) or tt_meta(src) is None or self._would_alias_outputs(n, src):
            return False
        if kind == "permute" and inner == "permute":
            p, q = list(x.args[1]), list(n.args[1])
            comp = [p[k] for k in q]
            if comp == list(range(len(comp))):
                self._replace(n, src)
                self.stats["cancelled"] += 1
                return True
            new = self._emit_move(n, "permute", src, comp, _shape(n), _tdtype(n), like=n)
            self._replace(n, new)
            self.stats["merged"] += 1
            return True
        if kind in ("reshape", "view") and inner in ("reshape", "view"):
            if _shape(src) == _shape(n):
                self._replace(n, src)
                self.stats["cancelled"] += 1
                return True
            new = self._emit_move(n, "reshape", src, list(_shape(n)), _shape(n), _tdtype(n), like=n)
            self._replace(n, new)
            self.stats["merged"] += 1
            return True
        return False

    def _emit_move(self, before, kind, src, arg, shape, tdt, like):
        """A move node of src placed before `before`: permute, or reshape (a view when it is free)."""
        m = tt_meta(src)
        if kind in ("reshape", "view"):
            kind = "view" if self._free_view(src, shape) else "reshape"
            arg = [int(s) for s in shape]
        with self.g.inserting_before(before):
            new = self.g.call_function(getattr(self.ttnn, kind), (src, list(arg)))
        self._copy_meta(new, like)
        new.meta["val"] = meta_value(shape, tdt) if like is None or _shape(like) != tuple(shape) \
            else like.meta["val"]
        new.meta[TT_IN] = {("args", 0): Req(m.layout, m.dtype)}
        new.meta[TT] = TTMeta(m.layout, m.dtype, None)
        new.meta[LAYOUT_PASS] = True
        return new

    def _free_view(self, src, shape) -> bool:
        return is_free_view(_shape(src), shape, tt_meta(src).layout == self.ttnn.TILE_LAYOUT, scalars=False)

    @staticmethod
    def _copy_meta(new, like):
        if like is None:
            return
        for k in ("aten", "stack_trace"):
            if k in like.meta:
                new.meta[k] = like.meta[k]

    # --- sink a move past element-wise ops -----------------------------------------------------
    def _inverse_of(self, kind, move_node, v) -> bool:
        """Whether move node v applied after `move_node`'s move would cancel it (or be absorbed)."""
        vk = self._move(v)
        if vk is None:
            return False
        src_shape = _shape(move_node.args[0])
        if kind == "permute" and vk == "permute":
            p, q = list(move_node.args[1]), list(v.args[1])
            return [p[k] for k in q] == list(range(len(p)))
        if kind in ("reshape", "view") and vk in ("reshape", "view"):
            return _shape(v) == src_shape
        return False

    def _absorbs(self, kind, move_node, e, depth=0) -> bool:
        """Whether some consumer of e (reached through element-wise ops) cancels or absorbs the move."""
        if depth > _MAX_DEPTH:
            return False
        for v in e.users:
            if self._inverse_of(kind, move_node, v):
                return True
            if kind in ("reshape", "view") and self._flat_reader(v, e) and self._is_flat_of(move_node.args[0], e):
                return True
            if kind == "permute" and v.op == "call_function" and v.target in self.reduce and len(v.args) == 3 \
                    and v.args[0] is e and v.args[2] is True and len(e.users) == 1:
                return True   # a keepdim reduction takes the permute onto its smaller result
            ops = self._tensor_operands(v) if v.op == "call_function" else None
            if ops is not None and len(ops) == 1 and self._absorbs(kind, move_node, v, depth + 1):
                return True
            if ops is not None and len(ops) == 2:
                other = next((o for _, o in ops if o is not e), None)
                if other is not None and other.target is move_node.target and self._move(other) is not None \
                        and list(other.args[1]) == list(move_node.args[1]) \
                        and self._absorbs(kind, move_node, v, depth + 1):
                    return True   # the other operand arrives through the same move: _merge_binary joins them
            if kind == "permute" and self._concat_parts(v) is not None and self._absorbs(kind, move_node, v,
                                                                                          depth + 1):
                return True   # a concat of permuted parts takes the permute after it (_merge_concat)
            if kind == "permute" and self._broadcast_partner(v, e, move_node.args[1]) is not None \
                    and self._absorbs(kind, move_node, v, depth + 1):
                return True   # a broadcast binary op takes it after it (_sink_broadcast)
        return False

    def _takes_move(self, m, u) -> bool:
        """Whether user u of move m would take m after it, or cancel it (see _split_move)."""
        kind = self._move(m)
        if self._inverse_of(kind, m, u):
            return True
        if u.op != "call_function":
            return False
        if kind == "permute" and u.target in self.reduce and len(u.args) == 3 and u.args[0] is m \
                and u.args[2] is True and not u.kwargs:
            return True
        ops = self._tensor_operands(u)
        if ops is not None and len(ops) == 1 and self._absorbs(kind, m, u):
            return True
        return kind == "permute" and self._broadcast_partner(u, m, m.args[1]) is not None \
            and self._absorbs(kind, m, u)

    def _split_move(self, m) -> bool:
        """A permute read by several ops that would each take it after them or cancel it (an activation read
        by a squeeze-and-excitation mean and by the multiply that scales it) becomes one permute per reader,
        so that each can move on its own."""
        if self._move(m) != "permute" or len(m.users) < 2 or any(u.op == "output" for u in m.users):
            return False
        users = list(m.users)
        if len(set(users)) != len(users) or any(sum(a is m for a in u.all_input_nodes) != 1 for u in users) \
                or not all(self._takes_move(m, u) for u in users):
            return False
        for u in users[1:]:
            m2 = self._emit_move(m, "permute", m.args[0], list(m.args[1]), _shape(m), _tdtype(m), like=m)
            u.replace_input_with(m, m2)
        self.stats["merged"] += 1
        return True

    @staticmethod
    def _moved_shape(bs, perm):
        """A broadcast operand's shape `bs` (in the permuted layout) in the unpermuted one, when its non-1 dims
        keep their order (then a reshape moves it), else None."""
        if bs is None or len(bs) != len(perm):
            return None
        moved = [1] * len(perm)
        for d, k in enumerate(perm):
            moved[k] = bs[d]
        big = [d for d in range(len(bs)) if bs[d] != 1]
        if [perm[d] for d in big] != sorted(perm[d] for d in big):
            return None
        return moved

    def _broadcast_partner(self, v, operand, perm):
        """For a binary element-wise op v of `operand` (of v's own shape) and an operand that only broadcasts
        and that a reshape moves into the unpermuted layout: (index of `operand`, the other, its moved shape)."""
        if v.op != "call_function" or v.target not in self.eltwise or tt_meta(v) is None or v.kwargs \
                or len(v.args) != 2 or set(v.meta.get(TT_IN) or {}) != {("args", 0), ("args", 1)}:
            return None
        out = _shape(v)
        for i in (0, 1):
            a, b = v.args[i], v.args[1 - i]
            if a is not operand or not isinstance(b, torch.fx.Node) or b is operand or tt_meta(b) is None \
                    or _shape(a) != out or _shape(b) == out:
                continue
            moved = self._moved_shape(_shape(b), list(perm))
            if moved is not None:
                return i, b, moved
        return None

    def _sink_broadcast(self, e) -> bool:
        """E(permute(x, p), b) -> permute(E(x, b'), p) for a binary element-wise op whose other operand b only
        broadcasts (a squeeze-and-excitation scale [1, C, 1, 1] times an NCHW view of an NHWC activation) and
        keeps the order of its non-1 dims under the inverse permute: b' is b reshaped into x's layout
        ([1, 1, 1, C]). Done when a consumer downstream cancels the permute."""
        if e.op != "call_function" or e.target not in self.eltwise:
            return False
        for m in e.args[:2]:
            if self._move(m) != "permute" or len(m.users) != 1 or tt_meta(m.args[0]) is None:
                continue
            found = self._broadcast_partner(e, m, m.args[1])
            if found is None or not self._absorbs("permute", m, e):
                continue
            i, b, moved = found
            b2 = self._emit_move(e, "reshape", b, moved, tuple(moved), _tdtype(b), like=None)
            args = list(e.args)
            args[i], args[1 - i] = m.args[0], b2
            self._swap(e, args, _shape(m.args[0]), m, "permute")
            self._erase_if_dead(m)
            return True
        return False

    def _sink(self, m) -> bool:
        kind = self._move(m)
        if kind is None or len(m.users) != 1:
            return False
        e = next(iter(m.users))
        ops = self._tensor_operands(e) if e.op == "call_function" else None
        if ops is None or len(ops) != 1 or ops[0][1] is not m:
            return False
        if not self._absorbs(kind, m, e):
            return False
        x = m.args[0]
        if tt_meta(x) is None:
            return False
        path = ops[0][0]
        # E'(x)
        args = list(e.args)
        args[path[1]] = x
        self._swap(e, args, _shape(x), m, kind)
        self._erase_if_dead(m)
        return True

    def _swap(self, e, args, shape, m, kind):
        """Replace E by M(E'(args)): E' is E on the unmoved operands (`shape` its output's), M the move `m`."""
        e2, m2 = self._moved_after(e, e.target, args, shape, m.target, m.args[1], like=m)
        if kind == "view" and not self._free_view(e2, _shape(e)):
            m2.target = self.ttnn.reshape

    def _moved_after(self, old, target, args, shape, move, move_arg, like):
        """Replace node `old` by move(target(*args), move_arg): the op on the unmoved values (`shape` its
        output's, `old`'s keywords and metadata), then the one move that gives `old`'s value. (new op, move)."""
        with self.g.inserting_before(old):
            e2 = self.g.call_function(target, tuple(args), dict(old.kwargs))
        e2.meta = {k: v for k, v in old.meta.items()}
        e2.meta["val"] = meta_value(shape, _tdtype(old))
        e2.meta[TT_IN] = dict(old.meta.get(TT_IN) or {})
        e2.meta[LAYOUT_PASS] = True
        me = tt_meta(e2)
        with self.g.inserting_before(old):
            m2 = self.g.call_function(move, (e2, move_arg))
        self._copy_meta(m2, like)
        m2.meta["val"] = old.meta["val"]
        m2.meta[TT_IN] = {("args", 0): Req(me.layout, me.dtype)}
        m2.meta[TT] = TTMeta(me.layout, me.dtype, None)
        m2.meta[LAYOUT_PASS] = True
        old.replace_all_uses_with(m2)
        self.g.erase_node(old)
        self.stats["sunk"] += 1
        return e2, m2

    def _merge_binary(self, e) -> bool:
        """E(M(a), M(b)) -> M(E(a, b)) when both operands are the same move of same-shaped values."""
        ops = self._tensor_operands(e) if e.op == "call_function" else None
        if ops is None or len(ops) != 2:
            return False
        (pa, ma), (pb, mb) = ops
        ka, kb = self._move(ma), self._move(mb)
        if ka is None or kb is None or ma.target is not mb.target or list(ma.args[1]) != list(mb.args[1]):
            return False
        a, b = ma.args[0], mb.args[0]
        if _shape(a) != _shape(b) or tt_meta(a) is None or tt_meta(b) is None:
            return False
        if not (ma is mb or (len(ma.users) == 1 and len(mb.users) == 1)):
            return False
        args = list(e.args)
        args[pa[1]], args[pb[1]] = a, b
        self._swap(e, args, _shape(a), ma, ka)
        self._erase_if_dead(ma)
        if mb is not ma:
            self._erase_if_dead(mb)
        return True

    def _concat_parts(self, c) -> list:
        """The operand nodes of a plain ttnn.concat(parts, dim) (parts a list of device tensors), else None."""
        if c.op != "call_function" or self.concat is None or c.target is not self.concat or len(c.args) != 2 \
                or c.kwargs or not isinstance(c.args[0], (list, tuple)) or not isinstance(c.args[1], int) \
                or tt_meta(c) is None:
            return None
        parts = list(c.args[0])
        if len(parts) < 2 or not all(isinstance(p, torch.fx.Node) and tt_meta(p) is not None for p in parts):
            return None
        return parts

    def _merge_concat(self, c) -> bool:
        """concat([permute(a, p), permute(b, p), ...], d) -> permute(concat([a, b, ...], p[d]), p): a concat of
        values that all arrive through the same permute (NCHW views of NHWC convolution outputs, GhostNet's
        channel concat) joins them in the unpermuted layout, and the one permute after it cancels against the
        next convolution's."""
        parts = self._concat_parts(c)
        if parts is None or any(self._move(m) != "permute" for m in parts):
            return False
        perm = list(parts[0].args[1])
        if any(list(m.args[1]) != perm for m in parts) or any(len(m.users) != 1 for m in parts) \
                or len(set(parts)) != len(parts):
            return False
        srcs = [m.args[0] for m in parts]
        if any(tt_meta(x) is None or _tdtype(x) != _tdtype(c) for x in srcs):
            return False
        rank = len(perm)
        d = c.args[1] % rank
        nd = perm[d]
        shape = list(_shape(srcs[0]))
        shape[nd] = sum(_shape(x)[nd] for x in srcs)
        self._moved_after(c, c.target, (srcs, nd), shape, parts[0].target, perm, like=parts[0])
        for m in parts:
            self._erase_if_dead(m)
        return True

    # --- reductions and trivial permutes ------------------------------------------------------
    def _sink_reduce(self, r) -> bool:
        """reduce(permute(x, p), dims, keepdim=True) -> permute(reduce(x, p[dims], True), p): the permute then
        moves the (smaller) reduced value, and often only size-1 dims (a reshape)."""
        if r.op != "call_function" or r.target not in self.reduce or r.kwargs or len(r.args) != 3 \
                or r.args[2] is not True or tt_meta(r) is None:
            return False
        m, dims = r.args[0], r.args[1]
        if self._move(m) != "permute" or len(m.users) != 1 or set(r.meta.get(TT_IN) or {}) != {("args", 0)}:
            return False
        x = m.args[0]
        if tt_meta(x) is None:
            return False
        p = list(m.args[1])
        rank = len(p)
        dims_l = [dims] if isinstance(dims, int) else list(dims)
        if not dims_l or any(not isinstance(d, int) for d in dims_l):
            return False
        new_dims = sorted(p[d % rank] for d in dims_l)
        xs = _shape(x)
        red_shape = [1 if i in new_dims else v for i, v in enumerate(xs)]
        rdims = new_dims if isinstance(dims, (list, tuple)) or len(new_dims) > 1 else new_dims[0]
        self._moved_after(r, r.target, (x, rdims, True), red_shape, m.target, p, like=m)
        self._erase_if_dead(m)
        return True

    def _permute_as_reshape(self, n) -> bool:
        """A permute that only moves size-1 dims keeps the order of the values: a reshape (a view when free),
        which composes with neighbouring reshapes."""
        if self._move(n) != "permute":
            return False
        x = n.args[0]
        xs = _shape(x)
        if tt_meta(x) is None or xs is None:
            return False
        big = [d for d in n.args[1] if xs[d] != 1]
        if big != sorted(big):
            return False
        new = self._emit_move(n, "reshape", x, list(_shape(n)), _shape(n), _tdtype(n), like=n)
        self._replace(n, new)
        self.stats["merged"] += 1
        return True

    # --- absorb a reshape into a conv/pool input -----------------------------------------------
    def _flat_reader(self, v, operand) -> bool:
        """Whether v is a sliding-window op reading `operand` as its NHWC activation."""
        if v.op != "call_function" or v.target not in self.flat_input:
            return False
        where = self.flat_input[v.target]
        a = v.kwargs.get(where) if isinstance(where, str) else (v.args[where] if len(v.args) > where else None)
        return a is operand

    @staticmethod
    def _is_flat_of(src, nhwc) -> bool:
        """src is the flattened [1, 1, N*H*W, C] form of the NHWC value nhwc ([N, H, W, C] or [N, L, C])."""
        s, t = _shape(src), _shape(nhwc)
        if s is None or t is None or len(s) != 4 or len(t) not in (3, 4):
            return False
        return s[0] == 1 and s[1] == 1 and s[3] == t[-1] and s[2] == math.prod(t[:-1])

    def _absorb(self, v) -> bool:
        if v.op != "call_function" or v.target not in self.flat_input:
            return False
        where = self.flat_input[v.target]
        r = v.kwargs.get(where) if isinstance(where, str) else (v.args[where] if len(v.args) > where else None)
        if self._move(r) not in ("reshape", "view"):
            return False
        src = r.args[0]
        if tt_meta(src) is None or not self._is_flat_of(src, r):
            return False
        path = ("kwargs", where) if isinstance(where, str) else ("args", where)
        old = v.meta.get(TT_IN, {}).get(path)
        if isinstance(where, str):
            kwargs = dict(v.kwargs)
            kwargs[where] = src
            v.kwargs = kwargs
        else:
            args = list(v.args)
            args[where] = src
            v.args = tuple(args)
        if old is not None and self.ttnn_name(v).startswith("conv"):
            # convolutions read either layout: take the value as it is
            v.meta[TT_IN][path] = Req(tt_meta(src).layout, old.dtype, old.on_device)
        self._erase_if_dead(r)
        self.stats["absorbed"] += 1
        return True

    def ttnn_name(self, v) -> str:
        return self.sliding.get(v.target, "")
