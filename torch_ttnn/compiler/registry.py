"""The lowering registry: one small rule per aten overload.

    @lower(aten.relu.default)
    def relu(ctx, x):
        return ctx.call("relu", ctx.tile(x))

A rule receives the lowering context and the aten node's arguments (tensor arguments as nodes of the
lowered graph, everything else as Python values) and returns the node(s) standing for the aten result, or
calls `ctx.unsupported(reason)` to leave the op to torch. `when=` lists capability predicates
`(ctx, node) -> reason | None` checked before the rule runs; a reason means "TT-NN cannot do this case".
Registering two rules for one overload (or declaring one gap twice) is an error at import; a rule
supersedes a gap another family declared.
"""
from __future__ import annotations

import dataclasses
from typing import Callable, Optional, Sequence

import torch

aten = torch.ops.aten

Predicate = Callable[["LoweringContext", torch.fx.Node], Optional[str]]  # noqa: F821


@dataclasses.dataclass(frozen=True)
class Rule:
    target: object
    fn: Callable
    when: tuple = ()
    family: str = ""

    def check(self, ctx, node) -> Optional[str]:
        for pred in self.when:
            reason = pred(ctx, node)
            if reason:
                return reason
        return None


RULES: dict[object, Rule] = {}
# Aten ops TT-NN has no equivalent for, grouped by reason. They stay on the host (logged, counted).
UNSUPPORTED: dict[object, str] = {}


def _overloads(target) -> list:
    """An OpOverloadPacket stands for all of its overloads."""
    if isinstance(target, torch._ops.OpOverloadPacket):
        return [getattr(target, o) for o in target.overloads()]
    return [target]


COMPLEX_RULES: dict = {}     # aten overload -> Rule for a complex operand lowered as a pair (lowering/fft.py)


def lower_complex(*targets, when: Sequence[Predicate] = ()):
    """Register `fn` for these overloads when an operand is a complex value lowered as (real, imag); the
    op's ordinary rule (if any) serves the real operands."""
    def deco(fn):
        for t in targets:
            for overload in _overloads(t):
                COMPLEX_RULES[overload] = Rule(overload, fn, tuple(when), "fft")
        return fn
    return deco


def lower(*targets, when: Sequence[Predicate] = (), family: str = ""):
    def register(fn):
        for t in targets:
            for overload in _overloads(t):
                if overload in RULES:
                    raise RuntimeError(f"two lowering rules for {overload}: {RULES[overload].fn.__module__}."
                                       f"{RULES[overload].fn.__name__} and {fn.__module__}.{fn.__name__}")
                UNSUPPORTED.pop(overload, None)   # a rule supersedes a gap declared by another family
                RULES[overload] = Rule(overload, fn, tuple(when), family or fn.__module__.rsplit(".", 1)[-1])
        return fn
    return register


def unsupported(reason: str, *targets) -> None:
    """Declare a gap. A rule registered for the same overload by another family (e.g. backward.py lowering a
    backward op a forward family declared impossible) wins, whatever the import order; declaring one gap twice
    is an error."""
    for t in targets:
        for overload in _overloads(t):
            if overload in UNSUPPORTED:
                raise RuntimeError(f"{overload} is already registered")
            if overload in RULES:
                continue
            UNSUPPORTED[overload] = reason


def rule_for(target) -> Optional[Rule]:
    return RULES.get(target)


def load_rules() -> None:
    from . import lowering  # noqa: F401  (imports every family module, which registers its rules)


# --------------------------------------------------------------------------------------------------
# Capability predicates. Each returns None when TT-NN can do the case, else the reason it cannot.
# --------------------------------------------------------------------------------------------------

def _tensor_args(node) -> list:
    out = []
    for a in list(node.args) + list(node.kwargs.values()):
        if isinstance(a, torch.fx.Node) and isinstance(a.meta.get("val"), torch.Tensor):
            out.append(a)
        elif isinstance(a, (list, tuple)):
            out += [x for x in a if isinstance(x, torch.fx.Node) and isinstance(x.meta.get("val"), torch.Tensor)]
    return out


def static_shapes(ctx, node) -> Optional[str]:
    vals = [a.meta["val"] for a in _tensor_args(node)]
    outv = node.meta.get("val")
    if isinstance(outv, torch.Tensor):
        vals.append(outv)
    for v in vals:
        if any(not isinstance(d, int) for d in v.shape):
            return "symbolic (dynamic) shape"
    return None


def rank_at_most(n: int) -> Predicate:
    def pred(ctx, node):
        for a in _tensor_args(node):
            if a.meta["val"].dim() > n:
                return f"rank {a.meta['val'].dim()} > {n}"
        return None
    pred.__name__ = f"rank_at_most_{n}"
    return pred


def rank_at_least(n: int) -> Predicate:
    def pred(ctx, node):
        v = node.args[0].meta["val"]
        if v.dim() < n:
            return f"rank {v.dim()} < {n}"
        return None
    pred.__name__ = f"rank_at_least_{n}"
    return pred


def float_inputs(ctx, node) -> Optional[str]:
    for a in _tensor_args(node):
        dt = a.meta["val"].dtype
        if not dt.is_floating_point:
            return f"{dt} operand (op needs floating point on TT-NN)"
    return None


def no_complex(ctx, node) -> Optional[str]:
    for a in _tensor_args(node):
        if a.meta["val"].dtype.is_complex:
            return "complex dtype"
    return None


def nonempty(ctx, node) -> Optional[str]:
    for a in _tensor_args(node):
        if a.meta["val"].numel() == 0:
            return "empty tensor"
    outv = node.meta.get("val")
    if isinstance(outv, torch.Tensor) and outv.numel() == 0:
        return "empty result"
    return None


def nonempty_result(ctx, node) -> Optional[str]:
    """Only the result must be non-empty (for ops such as cat that can drop empty operands)."""
    outv = node.meta.get("val")
    if isinstance(outv, torch.Tensor) and outv.numel() == 0:
        return "empty result"
    return None


COMMON: tuple = (static_shapes, nonempty, no_complex)
