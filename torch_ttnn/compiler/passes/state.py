"""State that persists across calls keeps its dtype: float32 inputs updated in place are updated in float32
on the device.

A module buffer (a step counter, running statistics, an accumulator) that the graph updates in place reaches
the compiled graph as an input whose new value aot_autograd asks back as an output (and copies into the
buffer). Computed on the device in bfloat16, such a value loses its low bits on every call: `self.t += 1e-3`
never moves a float32 counter of 10, and 300 increments of x.sum() end at 344. This pass finds, for each
float32 input updated in place, the ops that only compute its new value and marks them `fp32_state`: the
lowering gives them float32 operands and results on the device (TT-NN's float32 element-wise ops), whatever
the graph's default; values they share with the rest of the graph (a bfloat16 x.sum()) are converted to
float32 where they enter. With `fp32=True` everything is float32 already.
"""
from __future__ import annotations

import logging

import torch
import torch.fx

from ..meta import FLOAT32
from .base import Pass, PassResult

log = logging.getLogger("torch_ttnn")


def mutated_outputs(gm: torch.fx.GraphModule) -> list:
    """(input placeholder, output node) for each input the graph updates in place, from aot_autograd's
    metadata of the graph being compiled (empty outside aot_autograd)."""
    ctx = torch._guards.TracingContext.try_get()
    meta = getattr(ctx, "fw_metadata", None) if ctx is not None else None
    if meta is None:
        return []
    placeholders = [n for n in gm.graph.nodes if n.op == "placeholder"]
    out = next(n for n in gm.graph.nodes if n.op == "output")
    outs = out.args[0] if isinstance(out.args[0], (list, tuple)) else [out.args[0]]
    pairs = []
    for k, i in enumerate(getattr(meta, "mutated_inp_runtime_indices", [])):
        info = meta.input_info[i] if i < len(meta.input_info) else None
        if info is None or not getattr(info, "mutates_data", False) or k >= len(outs) or i >= len(placeholders):
            continue
        pairs.append((placeholders[i], outs[k]))
    return pairs


class KeepStateDtype(Pass):
    name = "keep_state_dtype"

    def call(self, gm: torch.fx.GraphModule) -> PassResult:
        marked = 0
        for inp, new in mutated_outputs(gm):
            v = inp.meta.get("val")
            if not (isinstance(v, torch.Tensor) and v.dtype == torch.float32 and isinstance(new, torch.fx.Node)):
                continue
            only = {new}
            todo = [new]
            while todo:   # producers whose every user computes only this new value
                n = todo.pop()
                for p in n.all_input_nodes:
                    if p.op != "call_function" or p in only:
                        continue
                    if all(u in only for u in p.users):
                        only.add(p)
                        todo.append(p)
            for n in only:
                if n.op == "call_function":
                    n.meta[FLOAT32] = True
                    marked += 1
        if marked:
            log.info("torch_ttnn: %d op(s) update float32 state in float32 on the device", marked)
        return PassResult(gm, False)
