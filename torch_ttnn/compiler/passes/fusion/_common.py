"""Helpers of the fusion passes: matching aten nodes, building their fused replacement."""
from __future__ import annotations

import operator
from typing import Optional

import torch
import torch.fx

from ...meta import node_val as _val
from ..base import Pass, PassResult

aten = torch.ops.aten
_VIEWS = (aten.view.default, aten._unsafe_view.default, aten.reshape.default)   # the reshapes aten graphs use

# --------------------------------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------------------------------

def _is(n, *targets) -> bool:
    return isinstance(n, torch.fx.Node) and n.op == "call_function" and n.target in targets


def _single_use(n) -> bool:
    return len(n.users) == 1


def _scalar(x) -> Optional[float]:
    if isinstance(x, bool) or not isinstance(x, (int, float)):
        return None
    return float(x)


def _fake_mode(gm):
    from torch._guards import detect_fake_mode
    vals = [n.meta.get("val") for n in gm.graph.nodes if n.op == "placeholder"]
    return detect_fake_mode([v for v in vals if isinstance(v, torch.Tensor)])


def _meta_of(gm, target, args, kwargs):
    """The aten value (FakeTensor) of target(*args, **kwargs) on the fake values of the graph."""
    mode = _fake_mode(gm)
    fargs = torch.fx.map_arg(args, _val)
    fkwargs = torch.fx.map_arg(kwargs, _val)
    if mode is None:
        return None

    def fake(v):      # a value a pass made as a meta tensor (meta.meta_value) joins the graph's fake CPU ones
        if isinstance(v, torch.Tensor) and v.device.type == "meta":
            return torch.empty(v.shape, dtype=v.dtype)
        return v
    with mode:
        fargs, fkwargs = torch.utils._pytree.tree_map(fake, (fargs, fkwargs))
        return target(*fargs, **fkwargs)


def _replace(gm, old: torch.fx.Node, target, args, kwargs, index=None):
    """Insert target(*args, **kwargs) (and its getitem `index`) before `old` and make it replace `old`."""
    g = gm.graph
    val = _meta_of(gm, target, args, kwargs)   # before any change: a failure leaves the graph as it was
    with g.inserting_before(old):
        new = g.call_function(target, args, kwargs)
        new.meta["val"] = val
        for key in ("stack_trace", "nn_module_stack"):
            if key in old.meta:
                new.meta[key] = old.meta[key]
        res = new
        if index is not None:
            res = g.call_function(operator.getitem, (new, index))
            res.meta["val"] = new.meta["val"][index] if new.meta["val"] is not None else old.meta.get("val")
    if res.meta.get("val") is None:
        res.meta["val"] = old.meta.get("val")
    old.replace_all_uses_with(res)
    return res


class AtenFusion(Pass):
    def call(self, gm):
        modified = False
        for node in list(gm.graph.nodes):
            if node.graph is None or node.op != "call_function":
                continue
            try:
                modified |= bool(self.match(gm, node))
            except Exception as e:  # a fusion never breaks compilation: it does not apply, and says so
                self.skip(node, e)
        if modified:
            gm.graph.eliminate_dead_code()
        return PassResult(gm, modified)

    def match(self, gm, node) -> bool:
        raise NotImplementedError
