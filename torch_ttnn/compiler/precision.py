"""Choosing the precision of a graph's weights by accuracy: `TorchTtnnOption(precision=...)`.

    "auto" (default)  on the first call of an inference graph, try the faster levels in order (bfloat8_b
                      weights with LoFi, then bfloat8_b weights with HiFi2) and keep the first whose outputs
                      stay at PCC >= 0.99 against the same graph run by torch in fp32 on the host with the
                      call's inputs; else bfloat16. Each decision is logged and kept in
                      option.results.precision (graph, level chosen, PCC of every level tried).
    "bf16"            today's program: bfloat16 weights, TT-NN's default fidelity.
    "bfp8" / "bfp4"   that weight format everywhere it applies (bfp4 with LoFi), unchecked: for users who
                      accept the loss.
Training graphs keep bfloat16 weights (the optimizer updates fp32 parameters every step). `optimize=False`
means "bf16" whatever `precision` says. The levels themselves: passes/precision.py.
"""
from __future__ import annotations

import copy
import logging

import torch

log = logging.getLogger("torch_ttnn")

PRECISIONS = ("auto", "bf16", "bfp8", "bfp4")
AUTO_ORDER = ("bfp8-lofi", "bfp8", "bf16")
MIN_PCC = 0.99


_PRODUCTS = {"aten.mm.default", "aten.addmm.default", "aten.bmm.default", "aten.linear.default",
             "aten.matmul.default"}


def levels_for(option, kind: str, agm=None) -> tuple:
    """The levels to try, in order (one level: no search). No search for a graph without matrix products
    (nothing to convert) or with random ops (their draws cannot be compared with torch's)."""
    p = option.precision if option.optimize else "bf16"
    if kind != "inference" or p == "bf16":
        return ("bf16",)
    if agm is not None and p == "auto":
        from .passes.cleanup import _NONDETERMINISTIC
        targets = [n.target for n in agm.graph.nodes if n.op == "call_function"]
        if any(t in _NONDETERMINISTIC for t in targets) or not any(str(t) in _PRODUCTS for t in targets):
            return ("bf16",)
    if p == "auto":
        return AUTO_ORDER
    return (p,)


def _min_pcc(outs, ref) -> float:
    from ..metrics import pcc, tensors_of
    worst = 1.0
    for o, r in zip(tensors_of(outs), tensors_of(ref)):
        if o.is_floating_point() and r.is_floating_point() and r.numel() > 1:
            worst = min(worst, pcc(o.float(), r.float()))
    return worst


class PrecisionSearch:
    """What aot_autograd calls for an inference graph under precision="auto": compiles the candidate levels
    on the first call, keeps the first accurate one."""

    def __init__(self, agm: torch.fx.GraphModule, levels: tuple, *, option, compile_fn):
        self._boxed_call = True        # an instance attribute: kept by functools.wraps wrappers
        self.agm = agm
        self.levels = levels
        self.option = option
        self.compile_fn = compile_fn
        self.chosen = None
        self.tried: list = []

    def __call__(self, *args):
        if len(args) == 1 and isinstance(args[0], list):   # boxed call
            args = args[0]
        if self.chosen is None:
            return self._choose(args)
        return self.chosen(*args)

    def _choose(self, args):
        from .. import runtime
        from .pipeline import _copy_aten, record_program
        with torch.no_grad():
            ref = self.agm(*args)               # the graph in fp32 on the host: the accuracy reference
        out = None
        for level in self.levels:
            compiled = self.compile_fn(_copy_aten(self.agm), level)
            out = compiled(*args)
            if level == "bf16" or level == self.levels[-1]:
                score = _min_pcc(out, ref)
                self.tried.append((level, round(score, 5)))
                break
            score = _min_pcc(out, ref)
            self.tried.append((level, round(score, 5)))
            if score >= MIN_PCC:
                break
            runtime._release_graph_module(lambda g=compiled.gm: g)   # free the rejected program's weights
        self.chosen = compiled
        record_program(self.option, compiled)
        decision = {"graph": len(self.option.results.reports) - 1, "chosen": level, "tried": list(self.tried)}
        self.option.results.precision.append(decision)
        log.info("torch_ttnn: graph %d precision %s (tried %s)", decision["graph"], level,
                 ", ".join(f"{lv}: PCC {p}" for lv, p in self.tried))
        return out
