"""Tensor parallelism over the chips of a mesh: `TorchTtnnOption(mesh=..., parallel="tensor")`.

The weights of linear layers are split over the chips the way Megatron-LM splits transformer blocks, and the
program each chip runs is the model's aten graph rewritten for its pieces:

- a linear whose input is whole on every chip (replicated) is split by output features ("column parallel":
  each chip computes its slice of the outputs, no communication);
- a linear whose input is split by features is split by input features ("row parallel": each chip computes a
  partial sum of the outputs) and followed by `ttnn.all_reduce`, which adds the partial sums over the chips;
- everything between them runs on the pieces when the piece of the output only needs the pieces of the
  inputs: element-wise ops, reshapes that split the features into attention heads, permutes, batched matmuls
  and attention over the heads, softmax and reductions over other dims. A value whose op has no such rule is
  joined first (`ttnn.all_gather`) and the op runs whole.

So an MLP needs one all_reduce, attention with its heads split another; an LM head is split by vocabulary and
its logits joined on the host (`ConcatMeshToTensor`). Each chip holds 1/N of every split weight, which is what
lets a model that does not fit one chip's DRAM run on a mesh.

How values are split (`Split`): along one dim, in `groups` (sizes summing to the dim), each group cut into N
equal consecutive pieces, chip k holding the k-th piece of every group. One group is a plain contiguous split;
several arise from a fused projection (q, k and v in one weight, then split apart) or from heads merged with
an outer dim ([batch, heads] -> [batch * heads]). A weight split in groups is uploaded with its rows reordered
so that ShardTensorToMesh's contiguous pieces are the chips' pieces.

The analysis walks the static aten graph once, in order, and builds the per-chip graph as it goes (literal
shapes of split dims divided by N, collectives inserted); the per-chip graph is then traced again for its
shapes. The compiled program is real TT-NN: weights go to the mesh with `ShardTensorToMesh`, collectives are
`ttnn.all_reduce` / `ttnn.all_gather`.
"""
from __future__ import annotations

import dataclasses
import logging
import math
import operator
import time
from typing import Optional

import torch
import torch.fx

from .fused_ops import fused_ops
from .meta import INPUT_NAMES
from .program import NotSplittable, record_parallel as record, unrecord_program
from .specialize import SpecializingGraph, specialize

log = logging.getLogger("torch_ttnn")

aten = torch.ops.aten


class NotTensorParallel(Exception):
    """The graph cannot be split over the chips (the reason says why); it runs otherwise."""
    user_facing = True


@dataclasses.dataclass(frozen=True)
class Split:
    dim: int
    groups: tuple


@dataclasses.dataclass
class Plan:
    """What the mesh program needs beyond the per-chip graph."""
    chips: int
    params: dict          # placeholder index -> (dim, groups) of the split weight
    outputs: dict         # output position -> ("concat", dim) or "same"
    collectives: list     # ("all_reduce" | "all_gather", the aten node it follows) for the report
    extra: list = dataclasses.field(default_factory=list)   # tensors appended to the inputs (split over chips)

    def param_index(self, index: int) -> Optional[torch.Tensor]:
        """The row order that makes contiguous pieces the chips' pieces (None: no reordering)."""
        dim, groups = self.params[index]
        if len(groups) == 1:
            return None
        n = self.chips
        order, starts = [], [0]
        for g in groups[:-1]:
            starts.append(starts[-1] + g)
        for k in range(n):
            for s, g in zip(starts, groups):
                order.extend(range(s + k * g // n, s + (k + 1) * g // n))
        return torch.tensor(order, dtype=torch.int64)

    def shard(self, index: int, x: torch.Tensor, k: int) -> torch.Tensor:
        """Chip k's piece of parameter `index` (for tracing the per-chip graph)."""
        dim, _ = self.params[index]
        order = self.param_index(index)
        if order is not None:
            x = x.index_select(dim, order)
        return x.chunk(self.chips, dim)[k]


def _val(n):
    return n.meta.get("val") if isinstance(n, torch.fx.Node) else None


def _shape(n) -> Optional[list]:
    v = _val(n)
    return list(v.shape) if isinstance(v, torch.Tensor) else None


# ---------------------------------------------------------------------------------------------------------
# Reshapes: where a split lands
# ---------------------------------------------------------------------------------------------------------

def _dim_groups(a: list, b: list) -> Optional[list]:
    """Pairs (dims of a, dims of b) with equal products covering both shapes in order (size-1 dims attach to
    a neighbouring group), or None."""
    out, i, j = [], 0, 0
    while i < len(a) or j < len(b):
        gi, gj = [], []
        pa = pb = 1
        if i < len(a):
            gi.append(i); pa *= a[i]; i += 1
        if j < len(b):
            gj.append(j); pb *= b[j]; j += 1
        while pa != pb:
            if pa < pb and i < len(a):
                gi.append(i); pa *= a[i]; i += 1
            elif pb < pa and j < len(b):
                gj.append(j); pb *= b[j]; j += 1
            else:
                return None
        while i < len(a) and a[i] == 1 and (j >= len(b) or b[j] != 1):
            gi.append(i); i += 1
        while j < len(b) and b[j] == 1 and (i >= len(a) or a[i] != 1):
            gj.append(j); j += 1
        out.append((gi, gj))
    return out


def reshaped_split(split: Split, old: list, new: list, chips: int) -> Optional[Split]:
    """The split of a value reshaped from `old` to `new`, or None when the chips' pieces are not a split of
    the new shape (then the value must be joined first)."""
    groups = _dim_groups(old, new)
    if groups is None:
        return None
    for gi, gj in groups:
        if split.dim not in gi:
            continue
        pos = gi.index(split.dim)
        outer = math.prod(old[d] for d in gi[:pos])
        inner = math.prod(old[d] for d in gi[pos + 1:])
        flat = [g * inner for _ in range(outer) for g in split.groups]      # the pieces' groups, flattened
        for q, e in enumerate(gj):
            o = math.prod(new[d] for d in gj[:q])
            p = math.prod(new[d] for d in gj[q + 1:])
            if o == 0 or len(flat) % o:
                continue
            block = flat[:len(flat) // o]
            if flat != block * o or any(b % p for b in block):
                continue
            h = tuple(b // p for b in block)
            if sum(h) == new[e] and all(x % chips == 0 for x in h):
                return Split(e, h)
        return None
    return None


def _local_shape(shape: list, split: Optional[Split], chips: int) -> list:
    if split is None:
        return list(shape)
    out = list(shape)
    out[split.dim] = out[split.dim] // chips
    return out


# ---------------------------------------------------------------------------------------------------------
# The walk
# ---------------------------------------------------------------------------------------------------------

_VIEWS = {aten.view.default, aten._unsafe_view.default, aten.reshape.default}
_SOFTMAX = {aten._softmax.default, aten._log_softmax.default}
_SDPA = {aten._scaled_dot_product_flash_attention_for_cpu.default,
         aten._scaled_dot_product_efficient_attention.default,
         aten._scaled_dot_product_flash_attention.default, aten.scaled_dot_product_attention.default}
_REDUCE = {aten.sum.dim_IntList, aten.mean.dim, aten.amax.default, aten.amin.default, aten.var.correction}


class _Walk:
    def __init__(self, gm: torch.fx.GraphModule, params: set, chips: int, tied: bool = True):
        self.gm = gm
        self.tied = tied                         # split an embedding tied to an LM head (both by vocabulary)
        self.chips = chips
        self.params = params                     # placeholder nodes that are parameters
        self.index = {n: i for i, n in enumerate(n for n in gm.graph.nodes if n.op == "placeholder")}
        self.g = torch.fx.Graph()
        self.env: dict = {}
        self.split: dict = {}                     # old node -> Split | None | list (multi-output)
        self.decided: dict = {}                   # param node -> Split
        self.collectives: list = []
        self.producer: dict = {}                  # column-parallel matmul -> the parameters it split
        self.extra: list = []                     # (name, value) of inputs the split graph adds (chip constants)
        self.last_placeholder = None
        self.ops = fused_ops()

    # --- helpers -------------------------------------------------------------------------------------
    def _new(self, a):
        return torch.fx.map_arg(a, lambda x: self.env[x])

    def _param(self, n) -> Optional[tuple]:
        """(param, transposed) when n is a 2-D parameter or its transpose."""
        if n in self.params and len(_shape(n) or []) == 2:
            return n, False
        if isinstance(n, torch.fx.Node) and n.op == "call_function" and n.args and n.args[0] in self.params \
                and len(_shape(n.args[0]) or []) == 2 and (
                    n.target in (aten.t.default,) or (n.target is aten.permute.default and list(n.args[1]) == [1, 0])
                    or (n.target is aten.transpose.int and sorted(d % 2 for d in n.args[1:3]) == [0, 1])):
            return n.args[0], True
        return None

    def _decide(self, param, split: Split, consumer, tied_heads: bool = False) -> bool:
        """Split a parameter read only by `consumer` (directly or through a transpose read only by it): a
        parameter that anything else reads whole (tied weights) stays replicated. tied_heads: also when the
        other readers are transposes that only matrix products read (an LM head tied to the embedding, which
        its own rule then splits the same way, by vocabulary)."""
        old = self.decided.get(param)
        if old is not None:
            return old == split
        if any(g % self.chips for g in split.groups):
            return False
        for u in param.users:
            if u is consumer or (self._param(u) is not None and set(u.users) == {consumer}):
                continue
            if tied_heads and self._param(u) is not None and u.users and all(
                    x.target in (aten.mm.default, aten.addmm.default) for x in u.users):
                continue
            return False
        self.decided[param] = split
        self.split[param] = split
        return True

    def _gather(self, n) -> torch.fx.Node:
        """The new node holding the whole value of old node n (joined when it is split)."""
        s = self.split.get(n)
        new = self.env[n]
        if not isinstance(s, Split):
            return new
        pw = self._param(n)
        if n in self.decided or (pw is not None and pw[0] in self.decided):
            # a split parameter (or its transpose) needed whole: the split was a mistake
            raise NotTensorParallel(f"parameter {(pw[0] if pw else n).name} is split but also used whole")
        if len(s.groups) != 1:
            raise NotTensorParallel(f"{n.name} is split in groups {list(s.groups)} along dim {s.dim} and used by "
                                    f"an op that needs it whole (joining would reorder it)")
        out = self.g.call_function(self.ops.all_gather.default, (new, s.dim, self.chips))
        self.collectives.append(("all_gather", n))
        return out

    def _whole(self, n):
        """Run old node n on whole inputs (gathering split ones); its output is replicated."""
        args = torch.fx.map_arg((n.args, n.kwargs), lambda x: self._gather(x))
        self.env[n] = self.g.create_node(n.op, n.target, args[0], args[1], n.name)
        self.split[n] = None

    def _same(self, n, split, args=None, kwargs=None, target=None):
        a = self._new(n.args) if args is None else args
        k = self._new(n.kwargs) if kwargs is None else kwargs
        if target is None:
            # a view of the original graph relies on its input's strides, which the rewrite may change
            # (a gathered value is contiguous): the local graph reshapes instead (a view where it can be)
            target = aten.reshape.default if n.target in (aten.view.default, aten._unsafe_view.default) else n.target
        self.env[n] = self.g.create_node(n.op, target, a, k, n.name)
        self.split[n] = split

    # --- rules -----------------------------------------------------------------------------------------
    def run(self) -> torch.fx.GraphModule:
        for n in self.gm.graph.nodes:
            if n.op == "placeholder":
                self.env[n] = self.last_placeholder = self.g.placeholder(n.name)
                self.split[n] = None
            elif n.op == "get_attr":
                self.env[n] = self.g.get_attr(n.target)
                self.split[n] = None
            elif n.op == "output":
                self.outputs = self._output(n)
            elif n.op == "call_function":
                ins = [a for a in n.all_input_nodes if isinstance(self.split.get(a), (Split, list))]
                if n.target is aten.embedding.default and not ins and self._embedding(n):
                    continue
                if not ins and n.target not in (aten.mm.default, aten.addmm.default):
                    self._same(n, None)
                elif not self._rule(n):
                    self._whole(n)
            else:
                raise NotTensorParallel(f"node {n.name} ({n.op}) is not supported")
        # parameters decided late (a bias split after its placeholder was copied) keep their placeholders:
        # only the uploads change (Plan.params)
        return torch.fx.GraphModule(self.gm, self.g)

    def _rule(self, n) -> bool:
        t = n.target
        s_of = self.split.get
        if t is operator.getitem:
            src = s_of(n.args[0])
            if isinstance(src, list):
                self._same(n, src[n.args[1]])
                return True
            return False
        if t in (aten.mm.default, aten.addmm.default):
            return self._matmul(n)
        if t in _VIEWS:
            return self._view(n)
        if t is aten.expand.default:
            return self._expand(n)
        if t is aten.permute.default:
            s = s_of(n.args[0])
            perm = [d % len(n.args[1]) for d in n.args[1]]
            self._same(n, Split(perm.index(s.dim), s.groups))
            return True
        if t in (aten.transpose.int, aten.t.default):
            s = s_of(n.args[0])
            rank = len(_shape(n.args[0]))
            a, b = (0, 1) if t is aten.t.default else (n.args[1] % rank, n.args[2] % rank)
            d = b if s.dim == a else a if s.dim == b else s.dim
            self._same(n, Split(d, s.groups))
            return True
        if t in (aten.split_with_sizes.default, aten.split.Tensor):
            return self._split(n)
        if t in _SOFTMAX:
            s = s_of(n.args[0])
            if n.args[1] % len(_shape(n)) == s.dim:
                return False
            self._same(n, s)
            return True
        if t in _REDUCE:
            return self._reduce(n)
        if t is aten.bmm.default:
            a, b = s_of(n.args[0]), s_of(n.args[1])
            if isinstance(a, Split) and a == b and a.dim == 0:
                self._same(n, a)
                return True
            return False
        if t in _SDPA:
            return self._sdpa(n)
        if t is aten.native_layer_norm.default:
            s = s_of(n.args[0])
            rank = len(_shape(n.args[0]))
            if s.dim >= rank - len(n.args[1]):
                return False
            self._same(n, [s, s, s])
            return True
        if isinstance(t, torch._ops.OpOverload) and torch.Tag.pointwise in t.tags:
            return self._pointwise(n)
        if t is aten.slice.Tensor:
            s = s_of(n.args[0])
            dim = (n.args[1] if len(n.args) > 1 else 0) % len(_shape(n.args[0]))
            if dim == s.dim:
                return False
            self._same(n, s)
            return True
        if t is aten.unsqueeze.default:
            s = s_of(n.args[0])
            d = n.args[1] % len(_shape(n))
            self._same(n, Split(s.dim + (1 if d <= s.dim else 0), s.groups))
            return True
        if t is aten.cat.default:
            return self._cat(n)
        if t in (aten.clone.default, aten.alias.default, aten._to_copy.default, aten.contiguous.default):
            self._same(n, s_of(n.args[0]))
            return True
        return False

    def _matmul(self, n) -> bool:
        if n.target is aten.addmm.default:
            bias, x, w = n.args[:3]
            if n.kwargs or len(n.args) > 3:
                return False
        else:
            x, w = n.args[:2]
            bias = None
        sx = self.split.get(x)
        pw = self._param(w)
        if pw is None:
            return False
        param, transposed = pw
        k_dim, n_dim = (1, 0) if transposed else (0, 1)     # the parameter's dims that are K and N
        kk, nn = _shape(w)
        if sx is None:
            # column parallel: split the output features (and the bias with them)
            split = Split(n_dim, (nn,))
            if bias is not None and (bias not in self.params or len(_shape(bias)) != 1):
                return False
            if not self._decide(param, split, n):
                return False
            if bias is not None and not self._decide(bias, Split(0, (nn,)), n):
                del self.decided[param]
                self.split[param] = None
                return False
            self.producer[n] = [param] + ([bias] if bias is not None else [])
            self._same(n, Split(1, (nn,)))
            return True
        if isinstance(sx, Split) and sx.dim == 1:
            # row parallel: split the input features as the input is split; partial sums added over the chips
            if not self._decide(param, Split(k_dim, sx.groups), n):
                return False
            mm = self.g.call_function(aten.mm.default, (self.env[x], self.env[w]))
            out = self.g.call_function(self.ops.all_reduce.default, (mm, self.chips))
            self.collectives.append(("all_reduce", n))
            if bias is not None:
                out = self.g.call_function(aten.add.Tensor, (out, self._gather(bias)))
            self.env[n] = out
            self.split[n] = None
            return True
        if isinstance(sx, Split) and sx.dim == 0 and self.split.get(w) is None and \
                (bias is None or self.split.get(bias) is None):
            self._same(n, sx)        # rows are independent
            return True
        return False

    def _chip_constant(self, name: str, per_chip: list) -> torch.fx.Node:
        """An input of the split graph that holds a different value on each chip (chip k: per_chip[k], a
        1-element tensor), uploaded split like a weight."""
        with self.g.inserting_after(self.last_placeholder):
            node = self.last_placeholder = self.g.placeholder(name)
        self.extra.append((name, torch.tensor(per_chip, dtype=torch.int64)))
        return node

    def _from_inputs(self, n) -> bool:
        """Whether n depends on an input of the model that is not a parameter (token ids do; the positions of
        a learned position table are usually an arange of the graph)."""
        seen, todo = set(), [n]
        while todo:
            x = todo.pop()
            if x in seen or not isinstance(x, torch.fx.Node):
                continue
            seen.add(x)
            if x.op == "placeholder" and x not in self.params:
                return True
            todo.extend(x.all_input_nodes)
        return False

    def _embedding(self, n) -> bool:
        """A vocabulary-parallel embedding (Megatron's): chip k holds rows [k V/N, (k+1) V/N) of the table and
        looks up the ids that fall in them (the others read some row of its piece and are zeroed); the chips'
        rows are added with all_reduce, where every position has exactly one non-zero term (exact)."""
        w, ids = n.args[:2]
        if w not in self.params or len(_shape(w) or []) != 2:     # padding_idx only matters to the gradient
            return False
        vocab = _shape(w)[0]
        if not self._from_inputs(ids):
            return False      # positions the graph computes (a learned position table): small, kept whole
        if vocab % self.chips or not self._decide(w, Split(0, (vocab,)), n, tied_heads=self.tied):
            return False
        rows = vocab // self.chips
        # ids % rows is the row within the chip's piece for the ids it holds; no subtraction, so no integer op
        # that could leave int32 (the range guard would have to assume the chip constants' bounds)
        first = self._chip_constant(f"{w.name}_first_row", [k * rows for k in range(self.chips)])
        end = self._chip_constant(f"{w.name}_end_row", [(k + 1) * rows for k in range(self.chips)])
        inside = self.g.call_function(aten.logical_and.default, (
            self.g.call_function(aten.ge.Tensor, (self.env[ids], first)),
            self.g.call_function(aten.lt.Tensor, (self.env[ids], end))))
        index = self.g.call_function(aten.remainder.Scalar, (self.env[ids], rows))
        rows_out = self.g.call_function(aten.embedding.default, (self.env[w], index))
        mask = self.g.call_function(aten.unsqueeze.default, (inside, -1))
        mask = self.g.call_function(aten._to_copy.default, (mask,), {"dtype": _val(n).dtype})
        partial = self.g.call_function(aten.mul.Tensor, (rows_out, mask))
        self.env[n] = self.g.call_function(self.ops.all_reduce.default, (partial, self.chips))
        self.collectives.append(("all_reduce", n))
        self.split[n] = None
        return True

    def _view(self, n) -> bool:
        s = self.split[n.args[0]]
        old, new = _shape(n.args[0]), _shape(n)
        ns = reshaped_split(s, old, new, self.chips)
        if ns is None:
            return False
        self._same(n, ns, args=(self.env[n.args[0]], _local_shape(new, ns, self.chips)), target=aten.reshape.default)
        return True

    def _expand(self, n) -> bool:
        s = self.split[n.args[0]]
        new = _shape(n)
        d = s.dim + len(new) - len(_shape(n.args[0]))
        ns = Split(d, s.groups)
        self._same(n, ns, args=(self.env[n.args[0]], _local_shape(new, ns, self.chips)) + self._new(n.args[2:]))
        return True

    def _split(self, n) -> bool:
        s = self.split[n.args[0]]
        shape = _shape(n.args[0])
        dim = (n.args[2] if len(n.args) > 2 else n.kwargs.get("dim", 0)) % len(shape)
        sizes = n.args[1]
        if n.target is aten.split.Tensor:
            sizes = [min(sizes, shape[dim] - o) for o in range(0, shape[dim], sizes)]
        if dim != s.dim:
            self._same(n, [s] * len(sizes))
            return True
        if len(sizes) == len(s.groups) and list(sizes) == list(s.groups):
            outs = [Split(dim, (g,)) for g in sizes]
        elif len(s.groups) == 1 and all(x % self.chips == 0 for x in sizes):
            # a contiguous split whose pieces are split in their turn: valid only if the producer can be
            # reordered into these groups, which the weight (if any) decides; refuse otherwise
            return self._regroup(n, s, list(sizes))
        else:
            return False
        self._same(n, outs, args=(self.env[n.args[0]], [g // self.chips for g in sizes], dim))
        return True

    def _regroup(self, n, s: Split, sizes: list) -> bool:
        """A column-parallel linear's output cut into pieces along the split dim (q, k and v of a fused
        projection): the weight and bias are reordered so that each piece is split over the chips. Only when
        nothing else has read the output yet (a single chain of views from the matmul to this split)."""
        chain, src = [], n.args[0]
        while src.op == "call_function" and src.target in _VIEWS:
            chain.append(src)
            src = src.args[0]
        if src not in self.producer:
            return False
        for v in [src] + chain:
            if len(v.users) != 1 or _shape(v)[-1] != sum(s.groups):
                return False
        if s.dim != len(_shape(n.args[0])) - 1:
            return False
        grouped = tuple(sizes)
        for p in self.producer[src]:
            self.decided[p] = self.split[p] = Split(self.decided[p].dim, grouped)
        for v in [src] + chain:
            self.split[v] = Split(self.split[v].dim, grouped)
        outs = [Split(s.dim, (g,)) for g in sizes]
        self._same(n, outs, args=(self.env[n.args[0]], [g // self.chips for g in sizes], s.dim))
        return True

    def _cat(self, n) -> bool:
        """Concatenation of pieces split alike along another dim; empty inputs (an empty KV cache) drop out."""
        parts = [a for a in n.args[0] if not (isinstance(a, torch.fx.Node) and 0 in (_shape(a) or [1]))]
        rank = len(_shape(n))
        dim = (n.args[1] if len(n.args) > 1 else n.kwargs.get("dim", 0)) % rank
        splits = {self.split.get(a) for a in parts}
        if len(splits) != 1:
            return False
        s = splits.pop()
        if not isinstance(s, Split) or s.dim == dim:
            return False
        if len(parts) == 1:
            self.env[n] = self.env[parts[0]]
            self.split[n] = s
            return True
        self._same(n, s, args=([self.env[a] for a in parts], dim))
        return True

    def _reduce(self, n) -> bool:
        s = self.split[n.args[0]]
        rank = len(_shape(n.args[0]))
        dims = n.args[1] if len(n.args) > 1 else None
        if dims is None:
            return False
        dims = [d % rank for d in ([dims] if isinstance(dims, int) else dims)]
        if s.dim in dims:
            return False
        keep = (n.args[2] if len(n.args) > 2 else n.kwargs.get("keepdim", False))
        d = s.dim if keep else s.dim - sum(1 for x in dims if x < s.dim)
        self._same(n, Split(d, s.groups))
        return True

    def _sdpa(self, n) -> bool:
        """Attention with q, k and v split by heads (dim 1): each chip attends with its heads (k and v may
        have fewer heads than q, grouped-query attention: each chip keeps its share of both)."""
        q, k, v = n.args[:3]
        splits = [self.split.get(x) for x in (q, k, v)]
        if not all(isinstance(x, Split) and x.dim == 1 and len(x.groups) == 1 for x in splits):
            return False
        heads = _shape(q)[1]
        for a in list(n.args[3:]) + list(n.kwargs.values()):
            if isinstance(a, torch.fx.Node):
                sa, shape = self.split.get(a), _shape(a)
                if sa is not None and sa != splits[0]:
                    return False
                if sa is None and shape is not None and len(shape) == 4 and shape[1] != 1:
                    return False        # a mask with a head dim would need splitting too
        out = _val(n)
        many = isinstance(out, (tuple, list))
        res = [splits[0] if isinstance(o, torch.Tensor) and o.dim() >= 2 and o.shape[1] == heads else None
               for o in (out if many else [out])]
        if res[0] is None:
            return False
        self._same(n, res if many else res[0])
        return True

    def _pointwise(self, n) -> bool:
        out = _shape(n)
        if out is None:
            return False
        rank = len(out)
        target: Optional[Split] = None
        for a in n.all_input_nodes:
            s = self.split.get(a)
            if isinstance(s, Split):
                d = s.dim + rank - len(_shape(a))
                if _shape(a)[s.dim] != out[d]:
                    return False
                cand = Split(d, s.groups)
                if target is not None and cand != target:
                    return False
                target = cand
        if target is None:
            return False
        for a in n.all_input_nodes:
            s = self.split.get(a)
            shape = _shape(a)
            if s is not None or shape is None:
                continue
            d = target.dim - (rank - len(shape))
            if d < 0 or shape[d] == 1:
                continue                          # broadcast along the split dim
            if a in self.params and self._decide(a, Split(d, target.groups), n):
                continue                          # e.g. a bias or a norm weight: split with the value
            return False
        self._same(n, target)
        return True

    def _output(self, n) -> dict:
        outs = n.args[0]
        flat = list(outs) if isinstance(outs, (list, tuple)) else [outs]
        joins, new = {}, []
        for i, o in enumerate(flat):
            s = self.split.get(o) if isinstance(o, torch.fx.Node) else None
            if isinstance(s, Split) and len(s.groups) == 1 and o not in self.params:
                joins[i] = ("concat", s.dim)
                new.append(self.env[o])
            elif isinstance(s, Split):
                new.append(self._gather(o))
                joins[i] = "same"
            else:
                new.append(self._new(o))
                joins[i] = "same"
        self.g.output(tuple(new) if isinstance(outs, (list, tuple)) else new[0])
        return joins


def plan(gm: torch.fx.GraphModule, static_inputs, chips: int) -> tuple[torch.fx.GraphModule, Plan]:
    """The per-chip graph (shapes not yet re-derived: trace it with `Plan.shard` arguments) and its plan.
    Raises NotTensorParallel when nothing can be split."""
    phs = [n for n in gm.graph.nodes if n.op == "placeholder"]
    params = {p for i, p in enumerate(phs) if i in static_inputs}
    walk = _Walk(gm, params, chips)
    try:
        local = walk.run()
    except NotTensorParallel as e:
        # an embedding split with the LM head tied to it, whose head then could not be split the same way:
        # the walk again with tied weights whole
        if not any(len(p.users) > 1 for p in walk.decided):
            raise
        log.info("torch_ttnn: tensor parallel: a tied embedding kept whole (%s)", e)
        walk = _Walk(gm, params, chips, tied=False)
        local = walk.run()
    if not walk.decided:
        raise NotTensorParallel("no linear layer of the graph can be split over the chips (no weight whose "
                                "output or input features divide by the number of chips)")
    index = {p: i for i, p in enumerate(phs)}
    # a parameter split but also read whole by some op would have raised; a decided parameter is used split
    params_plan = {index[p]: (s.dim, s.groups) for p, s in walk.decided.items()}
    extra = [value for _, value in walk.extra]
    for j, value in enumerate(extra):        # the chip constants: inputs after the graph's own, one piece a chip
        params_plan[len(phs) + j] = (0, (len(value),))
    return local, Plan(chips, params_plan, walk.outputs, walk.collectives, extra)


# ---------------------------------------------------------------------------------------------------------
# The program
# ---------------------------------------------------------------------------------------------------------


class TensorParallelGraph(SpecializingGraph):
    """What aot_autograd calls for a graph compiled with parallel="tensor" on a mesh: per call signature, the
    per-chip program of the split graph, or, when nothing can be split, the whole graph on every chip (the
    reason in option.results.parallel and the log)."""

    def __init__(self, agm, *, option, kind, static_inputs, build, choose: bool = False):
        super().__init__(agm, option=option, kind=kind, static_inputs=static_inputs, compile_fn=None)
        self.buckets = None
        self.build = build            # (static graph, mesh plan, reference or None) -> program
        self.choose = choose          # parallel="auto": keep the split only if its modelled call is faster
        self.static_inputs = set(static_inputs)
        self.chips = option.device_in_use.get_num_devices()

    def _build(self, args):
        index = len(self.option.results.reports)
        reason, details = None, {}
        try:
            if self.kind != "inference":
                raise NotTensorParallel("only inference graphs are split by tensors (train with parallel='data')")
            static = specialize(self.agm, args)
            local, p = plan(static, self.static_inputs, self.chips)
            all_args = list(args) + p.extra
            per_chip = specialize(local, [p.shard(i, a, 0) if i in p.params else a for i, a in enumerate(all_args)])
            with torch.no_grad():
                full = self.agm(*args)
            mesh_plan = {"mode": "tensor", "params": p.params, "outputs": p.outputs,
                         "orders": {i: p.param_index(i) for i in p.params},
                         "extra_static": range(len(args), len(all_args))}
            mesh_plan["orders"] = {i: o for i, o in mesh_plan["orders"].items() if o is not None}
            prog = self.build(per_chip, mesh_plan, lambda a, ref=full: ref)
            if p.extra:
                prog = _WithChipConstants(prog, p.extra)
            prog = _RefusedLate(prog, self, index)
            if self.choose:
                prog = _Faster(prog, self, index)
            names = self.agm.meta.get(INPUT_NAMES) or []
            details = {"split_weights": {names[i] if i < len(names) else i: d for i, (d, _) in sorted(p.params.items())
                                         if i < len(args)},
                       "collectives": [f"{kind} after {n.name}" for kind, n in p.collectives]}
            log.info("torch_ttnn: graph %d: tensor parallel over %d chips: %d weights split, %d collectives",
                     self.id, self.chips, len(p.params), len(p.collectives))
        except (NotTensorParallel, NotSplittable) as e:
            reason = str(e)
            if self.choose:
                reason = ("the graph was captured with static shapes, so its batch cannot be split (compile with "
                          "torch.compile(..., dynamic=True) or torch._dynamo.mark_dynamic(x, 0) for that), and "
                          f"its weights cannot either: {reason}")
            prog = self.replicated(args, reason)
        record(self.option, index, self.kind, reason, mode="tensor", **details)
        return prog

    def replicated(self, args, reason: str):
        log.warning(
            "torch_ttnn: graph %d: not split over the %d chips (%s); every chip runs it whole", self.id, self.chips,
            reason)
        return self.build(specialize(self.agm, args), {"mode": "replicated", "reason": reason}, None)


class _WithChipConstants:
    """A split program whose graph takes chip constants after the model's inputs (the first vocabulary row of
    each chip's embedding piece): the same tensors on every call, so they are uploaded once, like weights."""

    def __init__(self, prog, extra: list):
        self.prog, self.extra = prog, list(extra)

    def __call__(self, *args):
        return self.prog(*args, *self.extra)


def _mesh_us(mesh) -> float:
    """The simulated mesh's modelled clock (its slowest chip's); on a real mesh, which has no model, the host's
    wall clock (a call that returns host outputs has waited for the chips)."""
    modelled = getattr(mesh, "modelled_us", None)
    return modelled() if modelled is not None else time.perf_counter() * 1e6


def _graph_module(prog):
    """The compiled graph module inside a program wrapper (for releasing its device memory)."""
    for attr in ("prog", "chosen"):
        inner = getattr(prog, attr, None)
        if inner is not None:
            return _graph_module(inner)
    return getattr(prog, "gm", None)


class _Faster:
    """parallel="auto" on a graph with static shapes: the split program and the whole graph on every chip are
    both built at the first call, each timed on a second (steady) call (on the modelled mesh, or by the wall
    clock on a real one), and the faster one is kept; the other's device memory is released. The decision and both times are recorded."""

    def __init__(self, split, graph: TensorParallelGraph, entry: int):
        self.split, self.graph, self.entry = split, graph, entry
        self.chosen = None

    def __call__(self, *args):
        if self.chosen is not None:
            return self.chosen(*args)
        from .. import runtime
        mesh = self.graph.option.device_in_use
        self.split(*args)
        t0 = _mesh_us(mesh)
        out = self.split(*args)
        t_split = _mesh_us(mesh) - t0
        rec = next(r for r in self.graph.option.results.parallel if r["graph"] == self.entry)
        if rec["mode"] != "tensor":              # refused at its first call: already whole on every chip
            self.chosen = self.split
            return out
        whole = self.graph.build(specialize(self.graph.agm, list(args)), {"mode": "replicated",
                                                                         "reason": "timing"}, None)
        whole(*args)
        t0 = _mesh_us(mesh)
        out_whole = whole(*args)
        t_whole = _mesh_us(mesh) - t0
        rec["modelled_us"] = {"tensor": round(t_split, 1), "replicated": round(t_whole, 1)}
        if t_split <= t_whole:
            self.chosen, loser = self.split, whole
        else:
            self.chosen, loser, out = whole, self.split, out_whole
            rec.update(mode="replicated", reason=f"the weights' split program is slower on the modelled mesh "
                                                 f"({t_split:.0f} us a call against {t_whole:.0f} us whole), and "
                                                 "the batch of a graph captured with static shapes cannot be "
                                                 "split (compile with dynamic=True for that)",
                       split_weights={}, collectives=[])
        gm = _graph_module(loser)
        if gm is not None:
            runtime._release_graph_module(lambda g=gm: g)
            unrecord_program(self.graph.option, gm)
        return out


class _RefusedLate:
    """A split program whose passes run at its first call (the precision search compiles then): a refusal
    found there (a host fallback between device ops) switches it to the whole graph on every chip, recorded
    like a refusal found at build time."""

    def __init__(self, prog, graph: TensorParallelGraph, entry: int):
        self.prog, self.graph, self.entry = prog, graph, entry
        self.checked = False

    def __call__(self, *args):
        if self.checked:
            return self.prog(*args)
        try:
            out = self.prog(*args)
        except NotSplittable as e:
            reason = str(e)
            for rec in self.graph.option.results.parallel:
                if rec.get("mode") == "tensor" and rec["graph"] == self.entry:
                    rec.update(mode="replicated", reason=reason, split_weights={}, collectives=[])
            self.prog = self.graph.replicated(list(args), reason)
            out = self.prog(*args)
        self.checked = True
        return out
