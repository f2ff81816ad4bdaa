"""Integer arithmetic that the device's int32 would wrap: guarded at the inputs, or left on the host.

torch computes integer tensors in int64; the device holds them in int32 (and some lowerings go through float32).
An op whose int64 result can exceed int32 would wrap silently on the device: `x * x` for x = 100000, a sum of
2^30 over four elements. This pass looks at every integer op that can grow its values (add, sub, mul, sum,
cumsum, pow) and bounds its result with value_range.int_bound, assuming the graph's integer inputs are at
most L in magnitude:

- it picks the largest L (at most 2^31) for which every such op provably stays within int32, and
  marks those inputs with a guard (`runtime.check_int_bound`, inserted by the lowering) that refuses a call
  whose inputs exceed L with a clear error, instead of a wrapped result;
- an op whose result exceeds int32 whatever the inputs (a sum of large constants) is left on the host, in int64,
  with the reason in the report;
- an op whose bound cannot be proved (it depends on a parameter, or on a float cast to an integer, as T5's
  relative-position buckets do) stays on the device, and the report says so (`report.int_unproven`, a
  warning): moving every such op to the host would take whole families of models off the device for values
  that are small in practice. Proving them needs a range analysis of floats, which this pass does not do.
"""
from __future__ import annotations

import torch
import torch.fx

from ..lowering.value_range import int_bound
from ..meta import FOLDED, HOST_REASON, INT_GUARD
from .base import Pass, PassResult, warn_once

aten = torch.ops.aten
INT32_MAX = 2 ** 31 - 1
GROWTH = frozenset({aten.add.Tensor, aten.add.Scalar, aten.sub.Tensor, aten.sub.Scalar, aten.rsub.Scalar,
                    aten.mul.Tensor, aten.mul.Scalar, aten.sum.default, aten.sum.dim_IntList, aten.cumsum.default,
                    aten.pow.Tensor_Scalar})
OVERFLOW_REASON = ("integer arithmetic whose int64 result exceeds the device's int32 (e.g. a sum of large "
                   "constants): computed on the host, exactly")


def _int64(n) -> bool:
    v = n.meta.get("val") if isinstance(n, torch.fx.Node) else None
    return isinstance(v, torch.Tensor) and v.dtype == torch.int64


def _ancestors(n: torch.fx.Node) -> set:
    seen, todo = set(), [n]
    while todo:
        x = todo.pop()
        for a in x.all_input_nodes:
            if a not in seen:
                seen.add(a)
                todo.append(a)
    return seen


class IntOverflowGuard(Pass):
    name = "int_overflow_guard"

    def __init__(self, static_inputs=frozenset()):
        self.static_inputs = set(static_inputs)

    def call(self, gm: torch.fx.GraphModule) -> PassResult:
        nodes = list(gm.graph.nodes)
        placeholders = [n for n in nodes if n.op == "placeholder"]
        growth = [n for n in nodes if n.op == "call_function" and n.target in GROWTH and _int64(n)
                  and not n.meta.get(FOLDED)]
        if not growth:
            return PassResult(gm, False)
        inputs = [p for i, p in enumerate(placeholders) if i not in self.static_inputs and _int64(p)]
        modified = False
        known = []
        at_one = {}                             # one memo per assumption: each node is bounded once
        for n in growth:
            b = int_bound(n, inputs={p: 1 for p in inputs}, memo=at_one)
            if b is None:                       # not provable: kept on the device, reported
                if self.report is not None:
                    self.report.int_unproven[str(n.target)] += 1
                warn_once(("int_unproven", str(n.target)), "torch_ttnn: %s on int64 values the compiler cannot "
                          "bound: computed in the device's int32, exact only while results stay within +-2^31",
                          n.target)
            elif b > INT32_MAX:                 # too large whatever the inputs: exact on the host
                n.meta[HOST_REASON] = OVERFLOW_REASON
                modified = True
            else:
                known.append(n)

        def fits(L: int) -> bool:
            assumed, memo = {p: L for p in inputs}, {}
            return all(int_bound(n, inputs=assumed, memo=memo) <= INT32_MAX for n in known)

        lo, hi = 1, 2 ** 31          # the largest input magnitude that keeps every bound within int32
        while lo < hi:
            mid = (lo + hi + 1) // 2
            lo, hi = (mid, hi) if fits(mid) else (lo, mid - 1)
        limit = lo
        if limit < INT32_MAX:        # the input boundary already holds int64 inputs to int32
            unassumed = {}
            # the ops that depend on an input, with what they depend on: the guard holds those inputs to `limit`
            needs = {n: _ancestors(n) for n in known if int_bound(n, memo=unassumed) is None}
            for p in inputs:
                ops = sorted({str(n.target).replace("aten.", "") for n, up in needs.items() if p in up})
                if ops:
                    p.meta[INT_GUARD] = (limit, f"integer input {p.name} of {', '.join(ops)} (exact in the "
                                                  f"device's int32 while |values| <= {limit})")
                    modified = True
        return PassResult(gm, modified)
