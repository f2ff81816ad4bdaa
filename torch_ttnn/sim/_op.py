"""Registration of simulated TT-NN operations.

Each op is a plain function with the real 0.81.1 signature, registered with `@ttnn_op("name")` ("name" may be
"transformer.x" or "experimental.x"). The registry refuses duplicates; `torch_ttnn.sim` exports exactly what
is registered, so the simulator offers no op that real ttnn lacks (a test checks the names against the real
API manifest). Launches of device ops are counted on the device.
"""
from __future__ import annotations

import functools
from typing import Callable, Optional

from . import memory as _memory
from . import mesh as _mesh
from . import trace as _trace
from ._registry import OPS
from .perf.profiler import describe_args

_SKIP_LAUNCH = False
_LAUNCHED: Optional[list] = None     # launches an uncounted op reported with launched() during its call
_DEPTH = 0                           # registered ops running now (an op may call others)


def launched(device, name: str) -> None:
    """Called by an op registered counted=False when this call does run a device program (a reshape that
    moves tiles, a fill on the device): counted as a launch of `name` and modelled like one."""
    if _trace.REPLAYING:
        return
    if _trace.capturing(device) is None:
        device.counters.op_launches[name] += 1
    if _LAUNCHED is not None:
        _LAUNCHED.append((device, name))
    else:   # called outside a registered op (direct use of an internal helper): count only, model it bare
        device.profiler.launch(name, None, (), {}, ({}, []), None)


def not_launched() -> None:
    """Called by an op that returns without running a program (e.g. to_layout to the layout it already has):
    the registry does not count this call as a launch."""
    global _SKIP_LAUNCH
    _SKIP_LAUNCH = True


class Operation:
    """A callable TT-NN op: counts its launches on the device of its output and gives each a modelled
    duration (device.profiler, torch_ttnn/sim/perf)."""

    def __init__(self, name: str, fn: Callable, golden: Optional[Callable], counted: bool, mesh_native: bool):
        self.name = name
        self.mesh_native = mesh_native    # takes mesh tensors itself (collectives, host conversions)
        self.fn = fn
        self.golden_function = golden
        self.counted = counted
        functools.update_wrapper(self, fn)
        self.__name__ = name.rsplit(".", 1)[-1]
        self.__qualname__ = self.__name__
        self.__module__ = "ttnn" if "." not in name else "ttnn." + name.rsplit(".", 1)[0]
        self.python_fully_qualified_name = "ttnn." + name

    def __call__(self, *args, **kwargs):
        global _SKIP_LAUNCH, _LAUNCHED, _DEPTH
        if _mesh.any_open() and not self.mesh_native:
            mesh = _mesh.mesh_of(args, kwargs)
            if mesh is not None:           # one launch per chip, on that chip's shards
                return _mesh.per_chip(self, mesh, args, kwargs)
        if _trace.REPLAYING:        # execute_trace accounts for the captured launches itself
            return self.fn(*args, **kwargs)
        if _memory.CLOBBERED and _DEPTH == 0 and self.name not in _WRITE_ONLY:
            _check_readable(self.name, args, kwargs)
        outer, _SKIP_LAUNCH = _SKIP_LAUNCH, False
        outer_launched, _LAUNCHED = _LAUNCHED, []
        pre = describe_args(args, kwargs)       # before the op frees or mutates its arguments
        before = _trace.values_before(args, kwargs) if _trace.CAPTURING and _DEPTH == 0 else None
        _DEPTH += 1
        try:
            out = self.fn(*args, **kwargs)
            skip = _SKIP_LAUNCH
            manual = _LAUNCHED
        finally:
            _SKIP_LAUNCH, _LAUNCHED = outer, outer_launched
            _DEPTH -= 1
        if self.counted and not skip:
            dev = _device_of_result(out)
            if getattr(dev, "is_mesh", False):     # a collective: every chip of the mesh runs its program
                start = max(c.profiler.device_us for c in dev.chips), max(c.profiler.traced_us for c in dev.chips)
                host = max(c.profiler.host_us for c in dev.chips)
                for chip in dev.chips:
                    chip.profiler.wait_until(*start)
                    chip.profiler.host_us = host          # one host enqueues it for the whole mesh
                    chip.counters.op_launches[self.name] += 1
                    chip.profiler.launch(self.name, self.fn, args, kwargs, pre, out)
            elif dev is not None:
                if _trace.capturing(dev) is None:
                    dev.counters.op_launches[self.name] += 1
                dev.profiler.launch(self.name, self.fn, args, kwargs, pre, out)
        for dev, name in manual:
            dev.profiler.launch(name, self.fn, args, kwargs, pre, out)
        if _memory.CLOBBERED and kwargs.get("output_tensor") is not None:
            _trace.written(kwargs["output_tensor"])
        if _trace.CAPTURING and _DEPTH == 0:    # a top-level call: the trace computes it again on replay
            dev = _device_of_result(out) or _device_of_result(args) or _device_of_result(list(kwargs.values()))
            if dev is not None:
                _trace.record(dev, self, args, kwargs, out, before)
        return out

    def __repr__(self) -> str:
        return f"<simulated ttnn.{self.name}>"

    def __reduce__(self):
        return (_lookup, (self.name,))


_WRITE_ONLY = frozenset({"copy_host_to_device_tensor", "deallocate"})   # ops that only write or free a buffer


def _check_readable(name: str, args, kwargs) -> None:
    from .tensor import Tensor
    todo = list(args) + [v for k, v in kwargs.items() if k != "output_tensor"]
    while todo:
        v = todo.pop()
        if isinstance(v, Tensor):
            _trace.check_readable(v, f"ttnn.{name}")
        elif isinstance(v, (list, tuple)):
            todo.extend(v)


def _lookup(name: str) -> "Operation":
    return OPS[name]


def _device_of_result(out):
    from .tensor import Tensor
    if isinstance(out, Tensor):
        return out._device
    if isinstance(out, (list, tuple)):
        for o in out:
            d = _device_of_result(o)
            if d is not None:
                return d
    return None


def ttnn_op(name: str, *, golden: Optional[Callable] = None, counted: bool = True, mesh_native: bool = False):
    """Register `fn` as the simulated `ttnn.<name>`. Given tensors on a mesh, an op runs once per chip unless
    it is `mesh_native` (it handles mesh tensors itself)."""

    def register(fn: Callable) -> Operation:
        if name in OPS:
            raise RuntimeError(f"simulated ttnn op {name!r} registered twice "
                               f"({OPS[name].fn.__module__} and {fn.__module__})")
        op = Operation(name, fn, golden, counted, mesh_native)
        OPS[name] = op
        return op

    return register
