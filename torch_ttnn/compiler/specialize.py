"""Dynamic shapes: one TT-NN program per concrete shape, built when a shape is first called.

TT-NN programs have static shapes (tiles, padding, memory configs and core grids follow from them), so a graph
that dynamo captured with symbolic sizes (a second input shape, `torch.compile(dynamic=True)`, a Python int
argument) cannot be lowered as it is. Instead of leaving such a graph on the host, `SpecializingGraph` keeps
the symbolic aten graph and, at call time, retraces it with the call's concrete arguments (make_fx in fake
mode: every size becomes an int, every SymInt argument a constant), compiles that static graph through the
normal pipeline and caches the program under the call's signature (tensor shapes and dtypes, int values).

The cache is bounded (`TorchTtnnOption(max_programs=...)`, default 16): when a new signature would exceed it,
the least recently used program is dropped and a warning says which signatures were seen and what to do
(shape buckets, `torch._dynamo.mark_static`). `option.results.programs` lists every program built: the graph
it specialises, its signature, and whether it is still cached.

Shape buckets (`TorchTtnnOption(shape_buckets=...)`) make a stream of varying shapes reuse a few programs:
see buckets.py.
"""
from __future__ import annotations

import collections
import logging
from typing import Any

import torch
import torch.fx

from .program import BoxedProgram

log = logging.getLogger("torch_ttnn")


def is_symbolic(gm: torch.fx.GraphModule) -> bool:
    """Whether any value of the graph has a symbolic size or is a SymInt/SymFloat/SymBool."""
    def sym(v) -> bool:
        if isinstance(v, (torch.SymInt, torch.SymFloat, torch.SymBool)):
            return True
        if isinstance(v, torch.Tensor):
            return any(not isinstance(d, int) for d in v.shape)
        if isinstance(v, (list, tuple)):
            return any(sym(x) for x in v)
        return False
    return any(sym(n.meta.get("val")) for n in gm.graph.nodes)


def signature(args) -> tuple:
    """The cache key of a call: (shape, dtype) of each tensor, the value of each int/float/bool."""
    key = []
    for a in args:
        if isinstance(a, torch.Tensor):
            key.append((tuple(a.shape), a.dtype))
        elif isinstance(a, (int, float, bool)) or a is None:
            key.append(a)
        else:
            key.append(type(a).__name__)
    return tuple(key)


def describe(sig: tuple) -> str:
    """A short text of a signature: the tensor shapes and scalar values."""
    parts = []
    for s in sig:
        if isinstance(s, tuple) and len(s) == 2 and isinstance(s[0], tuple):
            parts.append("[" + ", ".join(str(d) for d in s[0]) + "]")
        else:
            parts.append(repr(s))
    return "(" + ", ".join(parts) + ")"


def specialize(gm: torch.fx.GraphModule, args) -> torch.fx.GraphModule:
    """The static aten graph of `gm` for these concrete arguments (sizes and scalars become constants)."""
    from torch.fx.experimental.proxy_tensor import make_fx
    with torch.no_grad():
        return make_fx(gm, tracing_mode="fake", _allow_non_fake_inputs=True)(*args)


class SpecializingGraph(BoxedProgram):
    """What aot_autograd calls for a symbolic graph: compiles and caches one program per call signature."""

    def __init__(self, agm: torch.fx.GraphModule, *, option, kind: str, static_inputs, compile_fn):
        super().__init__()
        self.agm = agm
        self.option = option
        self.kind = kind
        self.compile_fn = compile_fn
        self.programs: collections.OrderedDict = collections.OrderedDict()
        self.evicted = 0
        self.id = len(option.results.symbolic_graphs)
        option.results.symbolic_graphs.append(self)
        self.buckets = None
        if option.shape_buckets is not None and kind == "inference":
            from .buckets import Buckets
            self.buckets = Buckets(agm, option.shape_buckets, static_inputs)
            if self.buckets.reason:
                log.warning("torch_ttnn: graph %d: no shape buckets (%s); each shape gets its own program",
                            self.id, self.buckets.reason)
                self.buckets = None

    def run(self, args):
        if self.buckets is not None:
            plan = self.buckets.sizes(args)
            if plan is not None:
                out = self._bucketed(args, plan)
                if out is not None:
                    return out
        return self.program_for(args)(*args)

    def _bucketed(self, args, plan):
        """Run the bucket's program on zero-padded inputs and slice the outputs; the first call of each bucket
        program is checked against torch on the unpadded inputs (None: bucketing refused for this graph)."""
        from .buckets import agree
        b = self.buckets
        padded = b.pad(args, plan)
        key = signature(padded)
        first = key not in b.checked
        if first:
            with torch.no_grad():
                ok, why = agree(b.unpad(self.agm(*padded), plan), self.agm(*args))
            if not ok:
                log.warning("torch_ttnn: graph %d: shape buckets switched off: padding %s to %s changes the "
                            "result (%s); padding is only exact for independent rows or positions masked by "
                            "an attention mask. Its calls get exact-shape programs from now on.", self.id,
                            describe(signature(args)), describe(key), why)
                self.buckets = None
                self.option.results.bucket_refusals.append({"graph": self.id, "reason": why})
                return None
            b.checked.add(key)
        outs = b.unpad(self.program_for(padded)(*padded), plan)
        for p in self.option.results.programs:
            if p["graph"] == self.id and p["signature"] == key:
                p["bucket"] = True
        return outs

    def program_for(self, args) -> Any:
        key = signature(args)
        prog = self.programs.get(key)
        if prog is not None:
            self.programs.move_to_end(key)
            return prog
        limit = max(1, int(self.option.max_programs))
        if len(self.programs) >= limit:
            old, _ = self.programs.popitem(last=False)
            self.evicted += 1
            for p in self.option.results.programs:
                if p["graph"] == self.id and p["signature"] == old:
                    p["cached"] = False
            if self.evicted == 1:
                seen = ", ".join(describe(k) for k in list(self.programs)[:6])
                log.warning("torch_ttnn: graph %d (%s) was called with more than %d input signatures (max_programs);"
                            " dropping the least recently used program %s and compiling %s. Seen: %s. Varying "
                            "shapes cost a compilation each: use TorchTtnnOption(shape_buckets=...) to reuse a "
                            "few programs, or torch._dynamo.mark_static on dims that do not vary.",
                            self.id, self.kind, limit, describe(old), describe(key), seen)
        prog = self._build(args)
        self.programs[key] = prog
        self.option.results.programs.append({"graph": self.id, "kind": self.kind, "signature": key,
                                             "shapes": describe(key), "cached": True})
        log.info("torch_ttnn: graph %d (%s): program %d for %s", self.id, self.kind, len(self.programs),
                 describe(key))
        return prog

    def _build(self, args):
        """The program for the concrete arguments `args`."""
        return self.compile_fn(self.specialized(args))

    def specialized(self, args) -> torch.fx.GraphModule:
        return specialize(self.agm, args)
