"""Parameter preprocessing on the device, done once per compiled model.

After data movement, a TT-NN op whose tensor operands are all parameters (or values derived from them only), or
that creates a tensor from constants alone (arange, full), computes the same result on every call while the
parameters are unchanged: conv weight preparation, the
typecast or tilization of a weight, a reshaped bias. Such ops run through `ParamCache.derive`, which
executes them once and reuses their result; their outputs count as parameters (never deallocated per call).
"""
from __future__ import annotations

import operator

import torch
import torch.fx

from ..meta import PARAM, TT, TT_MULTI
from .base import Pass, PassResult


_RANDOM = ("rand", "bernoulli", "dropout", "uniform", "normal")   # a fresh draw every call: never cached


class CacheParamDerived(Pass):
    name = "cache_param_derived"
    needs = ("insert_conversions",)

    def __init__(self, ttnn, param_cache_attr: str = "param_cache"):
        self.ttnn = ttnn
        self.attr = param_cache_attr
        self.skip = {getattr(ttnn, "deallocate", None), getattr(ttnn, "to_torch", None)}

    def call(self, gm: torch.fx.GraphModule) -> PassResult:
        g = gm.graph
        if not hasattr(gm, self.attr):
            return PassResult(gm, False)
        cache = next((n for n in g.nodes if n.op == "get_attr" and n.target == self.attr), None)
        constants = {n for n in g.nodes if n.op == "get_attr"}
        params = {n for n in g.nodes if n.meta.get(PARAM)}
        modified = False
        for i, n in enumerate(list(g.nodes)):
            if n.op != "call_function" or n.target in self.skip or n.target is operator.getitem:
                continue
            if n.meta.get(TT) is None and not n.meta.get(TT_MULTI):
                continue
            inputs = n.all_input_nodes
            if not inputs or not all(a in params or a in constants for a in inputs):
                continue
            qualified = getattr(n.target, "python_fully_qualified_name", "")
            if not qualified.startswith("ttnn.") or any(r in qualified for r in _RANDOM):
                continue
            with g.inserting_before(n):
                new = g.call_method("derive", (cache, f"{n.name}", qualified[len("ttnn."):]) + tuple(n.args),
                                    dict(n.kwargs))
            new.meta = dict(n.meta)
            new.meta[PARAM] = True
            n.replace_all_uses_with(new)
            g.erase_node(n)
            params.add(new)
            for u in new.users:  # outputs of a multi-output op derived from parameters
                if u.target is operator.getitem:
                    u.meta[PARAM] = True
                    params.add(u)
            modified = True
        return PassResult(gm, modified)
