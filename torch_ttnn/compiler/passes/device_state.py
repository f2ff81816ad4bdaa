"""State on the device: an input the graph updates in place (a static KV cache) stays on the device between
calls instead of crossing PCIe twice per call.

aot_autograd gives a compiled graph each input it mutates as an ordinary input and asks for the new value
back as an extra output, which it then copies into the input (`inp.copy_(new)`). Naively the whole tensor
goes host->device at the start of every call and device->host at the end: for a decoder's KV cache that is
the whole cache twice per generated token, the PCIe traffic that bounds a decode step.

This pass, for each such input that is not a parameter or buffer: loads it through `runtime.StateCache`
(uploaded once; reused while the host tensor is exactly what the last call left in it: same storage, and its
version counter advanced only by aot_autograd's copy), writes the new value into that same device tensor
with `ttnn.assign(..., output_tensor=...)` after the last read of the old one (a persistent buffer, as a
trace needs), and returns it through `StateCache.store`: read back to the host as before, or, inside
`runtime.lazy_state()` (what `torch_ttnn.generate` uses for greedy and sampled decoding), not read back at
all: the host copy is brought up to date when the block exits.
"""
from __future__ import annotations

import torch
import torch.fx

from ..meta import DEVICE_STATE, PARAM, STATE_STORE, TT
from .base import Pass, PassResult, get_attr


def mark_state_inputs(agm: torch.fx.GraphModule, static_inputs) -> int:
    """Mark the placeholders of an aten graph that aot_autograd says are updated in place (and are not
    parameters or buffers) with the index of the output carrying their new value. Call while aot_autograd's
    metadata is at hand (compile time of the graph)."""
    from .state import mutated_outputs
    placeholders = [n for n in agm.graph.nodes if n.op == "placeholder"]
    out = next(n for n in agm.graph.nodes if n.op == "output")
    outs = list(out.args[0]) if isinstance(out.args[0], (list, tuple)) else [out.args[0]]
    marked = 0
    for inp, new in mutated_outputs(agm):
        i = placeholders.index(inp)
        if i in static_inputs or not isinstance(inp.meta.get("val"), torch.Tensor) or new not in outs:
            continue
        inp.meta[DEVICE_STATE] = outs.index(new)
        marked += 1
    return marked


class DeviceState(Pass):
    name = "device_state"
    needs = ("insert_conversions",)

    def __init__(self, ttnn):
        self.ttnn = ttnn

    def call(self, gm: torch.fx.GraphModule) -> PassResult:
        ttnn = self.ttnn
        g = gm.graph
        out = next(n for n in g.nodes if n.op == "output")
        outs = list(out.args[0]) if isinstance(out.args[0], (list, tuple)) else [out.args[0]]
        order = {n: i for i, n in enumerate(g.nodes)}
        modified = False
        for p in [n for n in g.nodes if n.op == "placeholder" and DEVICE_STATE in n.meta]:
            k = p.meta[DEVICE_STATE]
            uploads = [u for u in p.users if u.op == "call_function" and u.target is ttnn.from_torch
                       and u.kwargs.get("device") is not None]
            if len(uploads) != 1 or len(p.users) != 1 or k >= len(outs):
                continue
            (up,) = uploads
            read = outs[k]
            if not (isinstance(read, torch.fx.Node) and read.target is ttnn.to_torch
                    and isinstance(read.args[0], torch.fx.Node)):
                continue
            new = read.args[0]
            if getattr(new.meta.get(TT), "dtype", None) != up.kwargs.get("dtype") or \
                    getattr(new.meta.get(TT), "layout", None) != up.kwargs.get("layout"):
                continue        # the new value is not in the loaded tensor's format
            if not hasattr(gm, "state_cache"):
                from ... import runtime
                gm.state_cache = runtime.StateCache(ttnn)
                gm.ttnn_state_config = ttnn.DRAM_MEMORY_CONFIG
            first = next(n for n in g.nodes if n.op != "placeholder")
            with g.inserting_before(first):
                cache = next((n for n in g.nodes if n.op == "get_attr" and n.target == "state_cache"), None) \
                    or get_attr(g, "state_cache")
                mc = up.kwargs.get("memory_config")
                if mc is None:
                    mc = next((n for n in g.nodes if n.op == "get_attr" and n.target == "ttnn_state_config"),
                              None) or get_attr(g, "ttnn_state_config")
            with g.inserting_before(up):
                load = g.call_method("load", (cache, p, up.kwargs["dtype"], up.kwargs["layout"],
                                              up.kwargs["device"], mc))
            load.meta = dict(up.meta)
            load.meta[PARAM] = True          # persistent: never deallocated per call
            up.replace_all_uses_with(load)
            g.erase_node(up)
            # write the new value into the loaded tensor after the last read of the old one
            readers = [u for u in load.users]
            after = max(readers + [new], key=lambda n: order.get(n, len(order)))
            with g.inserting_after(after):
                assign = g.call_function(ttnn.assign, (new,), {"memory_config": mc, "output_tensor": load})
            assign.meta = dict(new.meta)
            assign.meta[PARAM] = True        # it returns the persistent tensor: never deallocated
            with g.inserting_before(out):      # store reads the assigned tensor: the assign is not dead code
                store = g.call_method("store", (cache, p, assign), dict(read.kwargs))
            store.meta = dict(read.meta)
            store.meta[STATE_STORE] = True   # a read back to the host (trace.py puts it after the device program)
            read.replace_all_uses_with(store)
            if not read.users:
                g.erase_node(read)
            modified = True
        if modified:
            g.lint()
        return PassResult(gm, modified)
