"""Bounds on integer values in aten graphs, for lowering integer arithmetic through float32 exactly.

`int_bound(node)` is an upper bound on |value| over every element of an integer or boolean aten node, proved
from the graph (booleans and comparisons are 0/1; casts keep bounds; sums and products combine them;
constants and aranges are known), or None when nothing is known (a graph input, a value read from data).
"""
from __future__ import annotations

from typing import Optional

import torch
import torch.fx

aten = torch.ops.aten

_BOOLEAN = {
    aten.eq.Scalar, aten.eq.Tensor, aten.ne.Scalar, aten.ne.Tensor, aten.lt.Scalar, aten.lt.Tensor,
    aten.le.Scalar, aten.le.Tensor, aten.gt.Scalar, aten.gt.Tensor, aten.ge.Scalar, aten.ge.Tensor,
    aten.logical_and.default, aten.logical_or.default, aten.logical_not.default, aten.logical_xor.default,
    aten.isnan.default, aten.isinf.default,
}
_SAME = {aten._to_copy.default, aten.clone.default, aten.view.default, aten._unsafe_view.default,
         aten.reshape.default, aten.unsqueeze.default, aten.squeeze.dim, aten.squeeze.dims, aten.permute.default,
         aten.expand.default, aten.slice.Tensor, aten.select.int, aten.alias.default, aten.neg.default,
         aten.abs.default, aten.t.default, aten.transpose.int, aten.repeat.default}
_MAX_DEPTH = 32


def _const(x) -> Optional[int]:
    if isinstance(x, bool):
        return int(x)
    if isinstance(x, int):
        return abs(x)
    if isinstance(x, float) and x.is_integer():
        return abs(int(x))
    return None


def int_bound(node, depth: int = 0, inputs: Optional[dict] = None, memo: Optional[dict] = None) -> Optional[int]:
    """max |value| of an integer/boolean aten value, or None if unknown. `inputs` assumes bounds for some nodes
    (graph inputs a runtime guard will hold to them). Each node is bounded once per call (`memo`): a value used
    twice (x + x, a mask reused) would otherwise be walked again on every path to it, exponentially."""
    if not isinstance(node, torch.fx.Node):
        return _const(node)
    if inputs and node in inputs:
        return inputs[node]
    if memo is None:
        memo = {}
    if node not in memo:
        memo[node] = _bound(node, depth, inputs, memo)
    return memo[node]


def _bound(node: torch.fx.Node, depth: int, inputs: Optional[dict], memo: dict) -> Optional[int]:
    v = node.meta.get("val")
    if isinstance(v, torch.Tensor):
        if v.dtype == torch.bool:
            return 1
        if v.dtype.is_floating_point or v.dtype.is_complex:
            return None
    if depth > _MAX_DEPTH or node.op != "call_function":
        return None
    t, args = node.target, node.args
    if t in _BOOLEAN:
        return 1
    if t in _SAME and args:
        return int_bound(args[0], depth + 1, inputs, memo)
    if t in (aten.add.Tensor, aten.sub.Tensor, aten.add.Scalar, aten.sub.Scalar) and len(args) >= 2:
        a, b = int_bound(args[0], depth + 1, inputs, memo), int_bound(args[1], depth + 1, inputs, memo)
        alpha = _const(node.kwargs.get("alpha", 1))
        return None if a is None or b is None or alpha is None else a + alpha * b
    if t in (aten.mul.Tensor, aten.mul.Scalar, aten.bitwise_and.Tensor) and len(args) >= 2:
        a, b = int_bound(args[0], depth + 1, inputs, memo), int_bound(args[1], depth + 1, inputs, memo)
        if t is aten.bitwise_and.Tensor and (a == 1 or b == 1):
            return 1
        return None if a is None or b is None else a * b
    if t in (aten.full.default, aten.scalar_tensor.default) and args:
        return _const(args[-1] if t is aten.full.default else args[0])
    if t in (aten.ones.default, aten.ones_like.default):
        return 1
    if t in (aten.zeros.default, aten.zeros_like.default):
        return 0
    if t in (aten.arange.default, aten.arange.start, aten.arange.start_step):
        ends = [_const(a) for a in args[:2]]
        return None if any(e is None for e in ends) else max(ends)
    if t is aten.where.self and len(args) == 3:
        a, b = int_bound(args[1], depth + 1, inputs, memo), int_bound(args[2], depth + 1, inputs, memo)
        return None if a is None or b is None else max(a, b)
    if t in (aten.sum.default, aten.sum.dim_IntList) and args:
        a = int_bound(args[0], depth + 1, inputs, memo)
        v0 = args[0].meta.get("val") if isinstance(args[0], torch.fx.Node) else None
        if a is None or not isinstance(v0, torch.Tensor) or not isinstance(v, torch.Tensor):
            return None
        return a * max(1, v0.numel() // max(1, v.numel()))          # terms summed into one output element
    if t in (aten.pow.Tensor_Scalar,) and len(args) >= 2 and isinstance(args[1], int) and args[1] >= 0:
        a = int_bound(args[0], depth + 1, inputs, memo)
        return None if a is None else a ** args[1]
    if t is aten.cumsum.default and args:
        a = int_bound(args[0], depth + 1, inputs, memo)
        v0 = args[0].meta.get("val") if isinstance(args[0], torch.fx.Node) else None
        if a is None or not isinstance(v0, torch.Tensor):
            return None
        return a * int(v0.shape[int(args[1]) % v0.dim()]) if v0.dim() else a
    return None
