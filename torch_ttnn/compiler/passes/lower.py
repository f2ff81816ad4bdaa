"""Lowering: aten graph -> graph of TT-NN calls, with explained fallback.

Each aten node is looked up in the registry; its rule emits TT-NN calls (whose operand requirements the
data movement pass resolves later) or declines with a reason, in which case the aten node is kept as a
host op. Placeholders stay torch tensors; the output node is left for the data movement pass.
"""
from __future__ import annotations

import operator

import torch
import torch.fx

from .. import registry
from ..context import ComplexPair, LoweringContext, Unsupported
from ..meta import FALLBACK, FOLDED, HOST_HELPER, HOST_REASON, INT_GUARD, STATIC
from ..report import GraphReport
from .base import Pass, PassResult, get_attr


# Nodes that are plumbing, not ops: never reported as fallbacks.
_PLUMBING = {operator.getitem}


def _shape_sig(node) -> str:
    parts = []
    for a in node.args:
        v = a.meta.get("val") if isinstance(a, torch.fx.Node) else None
        if isinstance(v, torch.Tensor):
            parts.append(f"{list(v.shape)}:{str(v.dtype).replace('torch.', '')}")
        elif isinstance(a, (int, float, bool)) or a is None:
            parts.append(repr(a))
    return "(" + ", ".join(parts) + ")"


class LowerToTTNN(Pass):
    name = "lower_to_ttnn"
    after = ("int_overflow_guard", "constant_folding")    # reads their host reasons, guards, folds

    def __init__(self, ttnn, option, report: GraphReport, device, static_inputs: set[int]):
        self.ttnn = ttnn
        self.option = option
        self.report = report
        self.device = device
        self.static_inputs = static_inputs

    def call(self, gm: torch.fx.GraphModule) -> PassResult:
        registry.load_rules()
        old = gm.graph
        g = torch.fx.Graph()
        env: dict = {}
        attrs: dict = {"ttnn_device": self.device}
        placeholders = [n for n in old.nodes if n.op == "placeholder"]
        for i, n in enumerate(placeholders):
            p = g.placeholder(n.name)
            p.meta = dict(n.meta)
            p.meta[STATIC] = i in self.static_inputs
            env[n] = p
        device_node = get_attr(g, "ttnn_device")
        for n in placeholders:      # integer inputs held to the range where the device's int32 is exact
            guard = n.meta.get(INT_GUARD)
            if guard is not None:
                from ... import runtime
                checked = g.call_function(runtime.check_int_bound, (env[n], *guard))
                checked.meta = {k: v for k, v in env[n].meta.items() if k != INT_GUARD}
                env[n] = checked
        ctx = LoweringContext(self.ttnn, self.option, g, device_node, report=self.report)

        for node in old.nodes:
            if node.op == "placeholder":
                continue
            if node.op == "output":
                out = g.output(torch.fx.map_arg(node.args[0], lambda n: self._plain(g, env, n)))
                out.meta = dict(node.meta)     # aot_autograd's descriptions of the outputs (saved for backward)
                continue
            if node.op == "get_attr":
                new = get_attr(g, node.target)
                new.meta = dict(node.meta)
                env[node] = new
                attrs[node.target] = getattr(gm, node.target)
                continue
            if node.meta.get(FOLDED) or node.meta.get(HOST_HELPER):
                env[node] = g.node_copy(node, lambda n: env[n])
                continue
            if node.op != "call_function":
                raise RuntimeError(f"unexpected node {node.op} {node.target} in an aten graph")
            if node.target is operator.getitem and isinstance(env[node.args[0]], (tuple, list)):
                env[node] = env[node.args[0]][node.args[1]]
                continue
            env[node] = self._lower_node(ctx, node, env, g)

        attrs.update(ctx.constants)
        new_gm = torch.fx.GraphModule(attrs, g)
        return PassResult(new_gm, True)

    def _lower_node(self, ctx, node, env, g):
        target = node.target
        is_op = target not in _PLUMBING
        if is_op:
            name = str(target)
            self.report.aten_ops[name] += 1
            self.report.input_shapes.setdefault(name, set()).add(_shape_sig(node))
        rule = registry.rule_for(target)
        if any(isinstance(env.get(a), ComplexPair) for a in node.all_input_nodes):
            rule = registry.COMPLEX_RULES.get(target, rule)   # an op on a complex value lowered as a pair
        reason = node.meta.get(HOST_REASON)
        if reason is not None:
            rule = None
        elif rule is None:
            reason = registry.UNSUPPORTED.get(target)
            if reason is None and is_op:
                reason = "no lowering rule for this aten op yet"
        else:
            reason = rule.check(ctx, node)
        if reason is None and rule is not None:
            ctx.node = node
            get = (lambda n: env[n]) if rule.family == "fft" else (lambda n: self._plain(g, env, n))
            args = torch.fx.map_arg(node.args, get)
            kwargs = torch.fx.map_arg(node.kwargs, get)
            mark = len(g.nodes)
            try:
                result = rule.fn(ctx, *args, **kwargs)
                self._check_result(node, result)
                self.report.lowered[str(target)] += 1
                return result
            except Unsupported as e:
                reason = str(e)
                self._erase_since(g, mark)
            finally:
                ctx.node = None
        if is_op:
            self.report.record_fallback(target, reason, strict=getattr(self.option, "strict", False))
        new = g.node_copy(node, lambda n: self._plain(g, env, n))
        if is_op:
            new.meta[FALLBACK] = reason
        return new

    def _plain(self, g, env, n):
        """env[n], with a complex value lowered as a pair of parts (lowering/fft.py) rebuilt on the host for a
        consumer that takes only whole tensors (once per value)."""
        v = env[n]
        if not isinstance(v, ComplexPair):
            return v
        key = ("complex", n)
        if key not in env:
            real = v.real
            imag = v.imag
            if imag is None:
                imag = g.call_function(torch.zeros_like, (real,))
                imag.meta = {"val": real.meta.get("val"), HOST_HELPER: True}
            c = g.call_function(torch.complex, (real, imag))
            c.meta = {"val": n.meta.get("val"), HOST_HELPER: True}
            env[key] = c
        return env[key]

    @staticmethod
    def _erase_since(g: torch.fx.Graph, mark: int) -> None:
        nodes = list(g.nodes)[mark:]
        for n in reversed(nodes):
            g.erase_node(n)

    @staticmethod
    def _check_result(node, result) -> None:
        """A lowered value must stand for the aten value: same logical shape."""
        v = node.meta.get("val")
        if isinstance(result, torch.fx.Node) and isinstance(v, torch.Tensor):
            rv = result.meta.get("val")
            if isinstance(rv, torch.Tensor) and tuple(rv.shape) != tuple(v.shape):
                raise RuntimeError(f"lowering of {node.target} produced shape {tuple(rv.shape)}, "
                                   f"aten has {tuple(v.shape)}")
