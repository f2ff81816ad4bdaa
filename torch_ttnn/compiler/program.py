"""The callable that aot_autograd gets back for a compiled graph, and what a compile records in option.results."""
from __future__ import annotations

from typing import Optional

import torch
import torch.fx
from torch.utils._python_dispatch import _disable_current_modes


class BoxedProgram:
    """Takes aot_autograd's boxed call (the arguments as one list) as well as a plain one; subclasses implement
    `run(args)`. `_boxed_call` is an instance attribute so that wrappers made with functools.wraps (dynamo's
    disable() around the backward) copy it.

    A program runs outside any active torch dispatch mode: the torch ops inside it are the simulated device's
    arithmetic (or the host side of real TT-NN calls), not operations of the user's graph. aot_autograd wraps the
    first call of every compiled graph in a mode that inspects each aten op for custom-op aliasing; left active,
    it saw every tensor operation of the simulation and its precision-search candidates (seconds on a
    BERT-sized model)."""

    def __init__(self):
        self._boxed_call = True

    def __call__(self, *args):
        if len(args) == 1 and isinstance(args[0], list):   # boxed call (graph inputs are never lists)
            args = args[0]
        with _disable_current_modes():
            return self.run(args)

    def run(self, args):
        raise NotImplementedError


# --- what a compile records in option.results -------------------------------------------------------

def copy_aten(agm: torch.fx.GraphModule) -> torch.fx.GraphModule:
    """A copy of the aten graph as lowering sees it (after the aten-level passes). Node metas are shallow
    copies: a lowered node's meta["val"] is the very object of the aten node it stands for."""
    g = torch.fx.Graph()
    out = g.output(g.graph_copy(agm.graph, {}))
    out.meta = dict(next(n for n in agm.graph.nodes if n.op == "output").meta)   # aot_autograd's output descs
    return torch.fx.GraphModule(agm, g)


def record_program(option, compiled) -> None:
    """Make a compiled program visible in option.results (graphs, graph modules, reports)."""
    res = option.results
    res.graphs.append(compiled.gm.graph)
    res.graph_modules.append(compiled.gm)
    res.reports.append(compiled.report)
    res.aten_graph_modules.append(compiled.aten)
    while res.keep is not None and len(res.graph_modules) > res.keep:   # the oldest program out of the view
        unrecord_program(option, res.graph_modules[0])


def unrecord_program(option, gm) -> None:
    """Take a program that was compiled but not kept (a candidate that lost) out of option.results."""
    mods = option.results.graph_modules
    i = next((k for k, g in enumerate(mods) if g is gm), None)
    if i is None:
        return
    for name in ("graphs", "graph_modules", "reports", "aten_graph_modules"):
        seq = getattr(option.results, name, None)
        if seq is not None and i < len(seq):
            del seq[i]
    option.results.precision = [d for d in option.results.precision if d["graph"] != i]
    for d in option.results.precision:
        if d["graph"] > i:
            d["graph"] -= 1


def record_parallel(option, graph: int, kind: str, reason: Optional[str], *, batch=None, all_reduced=(), mode="data",
           **details) -> None:
    """One entry of option.results.parallel: how a program uses the mesh (reason None: split), or why not."""
    option.results.parallel.append({"graph": graph, "kind": kind, "chips": option.device_in_use.get_num_devices(),
                                    "mode": mode if reason is None else "replicated", "reason": reason,
                                    "batch": batch, "all_reduced": list(all_reduced), **details})


class NotSplittable(Exception):
    """A lowered program cannot run split over the batch (a host fallback between device ops)."""
    user_facing = True      # the pass manager lets it through unwrapped
