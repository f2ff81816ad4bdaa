"""Ops whose result has no elements compute nothing: replace each by an empty tensor of its shape and dtype.

Detection post-processing meets such ops whenever no box passes a score threshold: the graph dynamo captures
for that case has static shapes with a 0 in them ([0, 4] boxes), and every op of it (decode, clip, stack)
produces an empty tensor. No device (or host) work can change an empty result, so the op is not lowered nor
left on the host: the node becomes `torch.empty(shape, dtype=...)` (a host helper that allocates nothing),
and the report counts it under `empty_results`. Only functional ops that draw no random numbers, with one
tensor result whose shape is static, are replaced (an uninitialised `empty` of no elements included); an op
that turns empty inputs into a non-empty result (a sum over an empty dim, a cat with an empty operand) is left
to its lowering rule.
"""
from __future__ import annotations

import math

import torch
import torch.fx

from ..meta import HOST_HELPER, node_shape
from ..report import op_name
from .base import Pass, PassResult
from .cleanup import RANDOM_OPS, writes_nothing


class FoldEmptyResults(Pass):
    name = "fold_empty_results"

    def call(self, gm: torch.fx.GraphModule) -> PassResult:
        g = gm.graph
        modified = False
        for n in list(g.nodes):
            if (n.op != "call_function" or not isinstance(n.target, torch._ops.OpOverload)
                    or n.target in RANDOM_OPS or not writes_nothing(n.target)):
                continue
            shape = node_shape(n, static=True)
            if shape is None or math.prod(shape) != 0:
                continue
            v = n.meta["val"]
            with g.inserting_before(n):
                e = g.call_function(torch.empty, (shape,), {"dtype": v.dtype})
            e.meta = {"val": v, HOST_HELPER: True}
            n.replace_all_uses_with(e)
            if self.report is not None:
                self.report.empty_results[op_name(n.target)] += 1
            g.erase_node(n)
            modified = True
        if modified:
            g.eliminate_dead_code()
        return PassResult(gm, modified)
