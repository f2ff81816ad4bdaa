"""Constant folding of parameter preprocessing, and conv + batch-norm folding for inference.

Parameters and buffers are graph inputs (aot_autograd lifts them), so "constant" here means: computed only
from parameters, buffers and literals. Such a subgraph (a weight transpose, a folded batch norm, a
reshape of a bias) is extracted into a `FoldedParams` module that runs on the host once and is cached while
its inputs keep their identity and version; its outputs are then treated like parameters (converted and
placed on the device once by the param cache). The report counts folded ops separately: they are not
executed per call.
"""
from __future__ import annotations

import operator
import warnings
import weakref

import torch
import torch.fx

from ..meta import FOLDED, STATIC, meta_value
from .base import Pass, PassResult, static_placeholders
from .cleanup import _NONDETERMINISTIC, writes_nothing

aten = torch.ops.aten


class FoldedParams:
    """Runs a static subgraph on the host once; reruns only when an input changed (identity or version)."""

    def __init__(self, gm: torch.fx.GraphModule, contents: bool = True):
        self.gm = gm
        self.contents = contents
        self._key = None
        self._out = None
        self.runs = 0

    def forget(self) -> None:
        """Drop the cached results (recomputed on the next call)."""
        self._key = self._out = None

    def __call__(self, *inputs):
        from ... import runtime
        key = tuple(runtime.tensor_stamp(x, self.contents) if isinstance(x, torch.Tensor) else (id(x),)
                    for x in inputs)
        refs_alive = self._key is not None and all(r() is x for r, x in zip(self._refs, inputs))
        if key != self._key or not refs_alive:
            with torch.no_grad():
                self._out = tuple(self.gm(*inputs))
            self._key = key
            self._refs = [weakref.ref(x) if isinstance(x, torch.Tensor) else (lambda v=x: v) for x in inputs]
            self.runs += 1
        return self._out


def _is_functional(node: torch.fx.Node) -> bool:
    t = node.target
    if node.op != "call_function" or t in _NONDETERMINISTIC:
        return False
    if t is operator.getitem:
        return True
    return isinstance(t, torch._ops.OpOverload) and writes_nothing(t)


class ConstantFolding(Pass):
    name = "constant_folding"

    def __init__(self, static_inputs: set, report=None, contents: bool = True):
        self.static_inputs = static_inputs
        self.report = report
        self.contents = contents

    def call(self, gm: torch.fx.GraphModule) -> PassResult:
        g = gm.graph
        placeholders = [n for n in g.nodes if n.op == "placeholder"]
        # get_attr nodes (constants) have no inputs: gather them right after the placeholders, so that the
        # folded call placed after them sees every source before any user of a folded value
        anchor = placeholders[-1] if placeholders else None
        for n in [n for n in g.nodes if n.op == "get_attr"]:
            if anchor is None:
                first = next(iter(g.nodes))
                if first is not n:
                    first.prepend(n)
            else:
                anchor.append(n)
            anchor = n
        static = {n for i, n in enumerate(placeholders) if i in self.static_inputs}
        static |= {n for n in g.nodes if n.op == "get_attr"}
        folded = []
        for n in g.nodes:
            if n.op != "call_function" or not _is_functional(n):
                continue
            inputs = n.all_input_nodes
            if inputs and all(i in static for i in inputs):
                static.add(n)
                folded.append(n)
        if not folded:
            return PassResult(gm, False)
        folded_set = set(folded)
        # boundary: folded tensor values used by a non-folded node (or the output)
        outputs = [n for n in folded if isinstance(n.meta.get("val"), torch.Tensor)
                   and any(u not in folded_set for u in n.users)]
        if not outputs:
            return PassResult(gm, False)
        sub = torch.fx.Graph()
        env = {}
        sources = []
        for n in g.nodes:
            if n in folded_set:
                env[n] = sub.node_copy(n, lambda a: env[a])
            elif n in static and n.op in ("placeholder", "get_attr") and any(u in folded_set for u in n.users):
                env[n] = sub.placeholder(n.name)
                env[n].meta = dict(n.meta)
                sources.append(n)
        sub.output(tuple(env[o] for o in outputs))
        sub_gm = torch.fx.GraphModule(gm, sub)
        fold = FoldedParams(sub_gm, self.contents)
        gm.folded_params = fold
        first_op = next(n for n in g.nodes if n.op not in ("placeholder", "get_attr"))
        with g.inserting_before(first_op), warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # a plain attribute, not a module/parameter/buffer
            holder = g.get_attr("folded_params")
            call = g.call_function(_run_folded, (holder, *sources))
            call.meta[FOLDED] = True
        cursor = call
        for i, o in enumerate(outputs):
            with g.inserting_after(cursor):
                item = g.call_function(operator.getitem, (call, i))
            item.meta = {"val": o.meta.get("val"), STATIC: True, FOLDED: True}
            o.replace_all_uses_with(item, delete_user_cb=lambda u: u not in folded_set)
            cursor = item
        for n in reversed(folded):
            if not n.users:
                g.erase_node(n)
        if self.report is not None:
            for n in folded:
                self.report.folded[str(n.target)] += 1
        g.eliminate_dead_code()
        return PassResult(gm, True)


def _run_folded(fold: FoldedParams, *inputs):
    return fold(*inputs)


class FoldConvBatchNorm(Pass):
    """Inference: convolution followed by batch norm with static statistics -> one convolution whose
    weights and bias absorb the normalization (computed by constant folding)."""

    name = "fold_conv_batch_norm"

    def __init__(self, static_inputs: set):
        self.static_inputs = static_inputs

    def call(self, gm: torch.fx.GraphModule) -> PassResult:
        g = gm.graph
        static = static_placeholders(gm, self.static_inputs)
        modified = False
        for bn in list(g.nodes):
            if bn.target is not aten._native_batch_norm_legit_no_training.default:
                continue
            conv, gamma, beta, mean, var, _momentum, eps = bn.args
            if not (isinstance(conv, torch.fx.Node) and conv.target is aten.convolution.default
                    and len(conv.users) == 1):
                continue
            x, w, b, stride, padding, dilation, transposed, out_pad, groups = conv.args
            if transposed or w not in static or any(t is not None and t not in static
                                                     for t in (b, gamma, beta, mean, var)):
                continue
            users = list(bn.users)
            if not all(u.target is operator.getitem and u.args[1] == 0 for u in users):
                continue
            wv = w.meta["val"]
            with g.inserting_before(conv):
                s = self._node(g, aten.add.Scalar, (var, eps), var)
                s = self._node(g, aten.rsqrt.default, (s,), var)
                if gamma is not None:
                    s = self._node(g, aten.mul.Tensor, (s, gamma), var)
                per_out = [wv.shape[0]] + [1] * (wv.dim() - 1)     # conv1d, 2d or 3d weights
                s4 = self._node(g, aten.view.default, (s, per_out),
                                meta_value(per_out, wv.dtype))
                w2 = self._node(g, aten.mul.Tensor, (w, s4), wv)
                shift = self._node(g, aten.neg.default, (mean,), var)
                if b is not None:
                    shift = self._node(g, aten.add.Tensor, (shift, b), var)
                b2 = self._node(g, aten.mul.Tensor, (shift, s), var)
                if beta is not None:
                    b2 = self._node(g, aten.add.Tensor, (b2, beta), var)
            conv.args = (x, w2, b2, stride, padding, dilation, transposed, out_pad, groups)
            for u in users:
                u.replace_all_uses_with(conv)
                g.erase_node(u)
            g.erase_node(bn)
            modified = True
        if modified:
            g.eliminate_dead_code()
        return PassResult(gm, modified)

    @staticmethod
    def _node(g, target, args, like):
        n = g.call_function(target, args)
        v = like.meta["val"] if isinstance(like, torch.fx.Node) else like
        n.meta["val"] = meta_value(v.shape, v.dtype) if isinstance(v, torch.Tensor) else v
        return n
