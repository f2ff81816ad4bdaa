"""Pass infrastructure in the torch.fx style: a pass is an object whose call returns PassResult."""
from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from typing import Callable, Optional, Sequence

import torch.fx

log = logging.getLogger("torch_ttnn.passes")


@dataclass
class PassResult:
    graph_module: torch.fx.GraphModule
    modified: bool


class Pass:
    """Base class: subclasses implement `call(gm) -> PassResult`; `requires`/`ensures` check invariants."""

    name: str = ""

    def requires(self, gm: torch.fx.GraphModule) -> None:
        pass

    def ensures(self, gm: torch.fx.GraphModule) -> None:
        pass

    def call(self, gm: torch.fx.GraphModule) -> PassResult:
        raise NotImplementedError

    def __call__(self, gm: torch.fx.GraphModule) -> PassResult:
        self.requires(gm)
        res = self.call(gm)
        self.ensures(res.graph_module)
        return res

    def __repr__(self) -> str:
        return self.name or type(self).__name__


class PassError(RuntimeError):
    pass


@dataclass
class PassManager:
    passes: Sequence[Pass]
    after_each: Optional[Callable[[str, torch.fx.GraphModule], None]] = None
    timings: dict = field(default_factory=dict)

    def __call__(self, gm: torch.fx.GraphModule) -> torch.fx.GraphModule:
        done = []
        for p in self.passes:
            t0 = time.perf_counter()
            try:
                res = p(gm)
            except Exception as e:
                before = ", ".join(map(repr, done)) or "none"
                if getattr(e, "user_facing", False):   # e.g. strict mode: the op and its reason come first
                    e.add_note(f"(raised in pass {p!r}; passes run before it: {before})")
                    raise
                raise PassError(f"{type(e).__name__}: {e} (in pass {p!r}; passes run before it: {before})") from e
            self.timings[repr(p)] = self.timings.get(repr(p), 0.0) + time.perf_counter() - t0
            gm = res.graph_module
            if res.modified:
                gm.graph.lint()
                gm.recompile()
            done.append(p)
            if self.after_each is not None:
                self.after_each(repr(p), gm)
        return gm


def get_attr(graph: torch.fx.Graph, name: str) -> torch.fx.Node:
    """A get_attr node for a plain (non-module, non-parameter) attribute of the GraphModule."""
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        return graph.get_attr(name)
