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
    """What a pass did. A pass rewrites gm.graph and says so in `modified`; it does not regenerate gm's Python
    code: PassManager does that once, after the last pass (a pass run on its own needs gm.recompile() before gm
    is called)."""
    graph_module: torch.fx.GraphModule
    modified: bool


def chip_geometry(device) -> tuple:
    """(chip, compute grid (x, y), L1 stats of memory_stats()) of the chip a program runs on (any chip of a mesh:
    they are alike); None for the grid or the stats where the device does not report them."""
    from ... import runtime
    chip = runtime.chip_of(device)
    grid = chip.compute_with_storage_grid_size() if hasattr(chip, "compute_with_storage_grid_size") else None
    stats = chip.memory_stats()["L1"] if hasattr(chip, "memory_stats") else None
    return chip, ((int(grid.x), int(grid.y)) if grid is not None else None), stats


STRICT_ENV = "TORCH_TTNN_STRICT_PASSES"   # "1": a rewrite that fails raises instead of being skipped (tests)
_WARNED: set = set()


def warn_once(key, msg: str, *args) -> None:
    """log.warning(msg, *args) the first time `key` is seen in this process."""
    if key not in _WARNED:
        _WARNED.add(key)
        log.warning(msg, *args)


class Pass:
    """Base class: subclasses implement `call(gm) -> PassResult`; `requires`/`ensures` check invariants.

    An optional rewrite (a fusion, a view canonicalisation) that fails on a node is skipped, never breaks the
    compilation: `skip(node, error)` counts it in the graph's report (`report.skipped`), warns once per pass
    and error, and raises when TORCH_TTNN_STRICT_PASSES=1 (the test suite's setting), so that a bug in a
    matcher fails a test instead of looking like "no fusion here"."""

    name: str = ""
    report = None        # the GraphReport of the graph being compiled (set by the pipeline)
    # what the pass needs of the pipeline, by pass name (PassManager refuses an order that breaks it):
    needs: tuple = ()    # passes that must have run before it (it reads what they write)
    after: tuple = ()    # passes that, when the pipeline has them, must run before it

    def skip(self, node, error: BaseException) -> None:
        import os
        if os.environ.get(STRICT_ENV) == "1":
            raise error
        key = (repr(self), f"{type(error).__name__}: {str(error).splitlines()[0] if str(error) else ''}"[:200])
        if self.report is not None:
            self.report.skipped[key] += 1
        warn_once(key, "torch_ttnn: pass %s skipped a rewrite at %s (%s); the graph is compiled without it",
                  key[0], node, key[1])

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

    def check_order(self) -> None:
        """Refuse a pass list in which a pass runs without a pass it needs, or before one it must follow."""
        names = [repr(p) for p in self.passes]
        for i, p in enumerate(self.passes):
            for dep in p.needs:
                if dep not in names[:i]:
                    where = "runs after it" if dep in names[i:] else "is not in the pipeline"
                    raise PassError(f"pass {p!r} needs {dep!r} to run before it, but {dep!r} {where}")
            for dep in p.after:
                if dep in names[i + 1:] and dep not in names[:i]:
                    raise PassError(f"pass {p!r} must run after {dep!r}, which comes later in the pipeline")

    def __call__(self, gm: torch.fx.GraphModule) -> torch.fx.GraphModule:
        self.check_order()
        done = []
        stale = False      # the graph changed since gm's Python code was generated
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
                stale = True
            done.append(p)
            if self.after_each is not None:
                self.after_each(repr(p), gm)
        # passes read and rewrite the graph, never run gm: its code is generated once, at the end (it cost
        # ~30 ms a pass on a 1,000-node graph)
        if stale:
            gm.recompile()
        return gm


def static_placeholders(gm: torch.fx.GraphModule, static_inputs: set) -> set:
    """The placeholder nodes of `gm` at the positions `static_inputs` (parameters and buffers)."""
    placeholders = [n for n in gm.graph.nodes if n.op == "placeholder"]
    return {n for i, n in enumerate(placeholders) if i in static_inputs}


def get_attr(graph: torch.fx.Graph, name: str) -> torch.fx.Node:
    """A get_attr node for a plain (non-module, non-parameter) attribute of the GraphModule."""
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        return graph.get_attr(name)


def constant(gm: torch.fx.GraphModule, name: str, obj) -> torch.fx.Node:
    """The get_attr node of the graph constant `name` (a config, a mapper), made with `obj` at the graph's start
    (after the placeholders) the first time."""
    node = next((n for n in gm.graph.nodes if n.op == "get_attr" and n.target == name), None)
    if node is None:
        setattr(gm, name, obj)
        first = next(x for x in gm.graph.nodes if x.op != "placeholder")
        with gm.graph.inserting_before(first):
            node = get_attr(gm.graph, name)
    return node
