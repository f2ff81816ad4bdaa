"""Graph clean-up passes: dead code elimination and common subexpression elimination."""
from __future__ import annotations

import torch
import torch.fx

from .base import Pass, PassResult

aten = torch.ops.aten

# Ops that draw random numbers: a program with them cannot be compared with torch's run (precision search) nor
# replayed from a trace (the same draws every call).
RANDOM_OPS = frozenset({
    aten.rand.default, aten.randn.default, aten.rand_like.default, aten.randn_like.default,
    aten.bernoulli.default, aten.bernoulli.p, aten.native_dropout.default, aten.randint.low,
    aten.randint.default, aten.randperm.default, aten.uniform.default, aten.normal.Tensor_float,
    aten.multinomial.default,
})
# Ops whose result differs between two calls with the same arguments: never merged by CSE nor folded. An
# uninitialised `empty` is one (its contents are whatever the memory held), but it draws nothing: a graph that
# overwrites it (the functional form of a copy into a new buffer) is as deterministic as its other ops.
_NONDETERMINISTIC = RANDOM_OPS | {aten.empty.memory_format, aten.empty_like.default}


def writes_nothing(op: torch._ops.OpOverload) -> bool:
    """An aten overload that mutates none of its arguments (its result depends only on them)."""
    schema = op._schema
    return not schema.is_mutable and not any(a.alias_info is not None and a.alias_info.is_write
                                             for a in schema.arguments)


class DeadCodeElimination(Pass):
    name = "dead_code_elimination"

    def call(self, gm):
        modified = gm.graph.eliminate_dead_code()
        return PassResult(gm, modified)


class CommonSubexpressionElimination(Pass):
    """Merge aten nodes with the same target and the same arguments (deterministic, functional ops only)."""
    name = "cse"

    def call(self, gm):
        seen: dict = {}
        modified = False
        for node in list(gm.graph.nodes):
            if node.op != "call_function" or node.target in _NONDETERMINISTIC:
                continue
            if isinstance(node.target, torch._ops.OpOverload) and not writes_nothing(node.target):
                continue
            try:
                key = (node.target, _hashable(node.args), _hashable(node.kwargs))
                hash(key)
            except TypeError:
                continue
            prev = seen.get(key)
            if prev is None:
                seen[key] = node
                continue
            node.replace_all_uses_with(prev)
            gm.graph.erase_node(node)
            modified = True
        return PassResult(gm, modified)


def _hashable(x):
    if isinstance(x, dict):
        return tuple(sorted((k, _hashable(v)) for k, v in x.items()))
    if isinstance(x, (list, tuple)):
        return (type(x).__name__,) + tuple(_hashable(v) for v in x)
    if isinstance(x, float):
        return ("float", repr(x))  # keeps 0.0 and -0.0, nan apart
    return x
