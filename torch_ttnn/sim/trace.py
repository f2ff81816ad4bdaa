"""Trace capture and replay (ttnn.begin_trace_capture / end_trace_capture / execute_trace / release_trace).

On the chip, a trace records the dispatch commands of the ops enqueued between begin and end into a buffer in
the device's TRACE region (`open_device(trace_region_size=...)`); execute_trace replays them without the host
enqueueing each op. The simulator keeps the same contract and its refusals:

- while capturing, reads and writes between host and device raise (the real docstring: "Operations that
  synchronize with host (event recording, reads, writes) are not supported while a trace is being captured");
- the ops run with the shapes, buffers and arguments they had at capture: replay recomputes each captured op
  on the same tensor objects, writing its results into the buffers allocated at capture (no allocation
  happens during replay), so new data reaches a trace only through its input tensors
  (`ttnn.copy_host_to_device_tensor` into a tensor allocated before the capture);
- the trace buffer must fit the TRACE region: end_trace_capture raises when it does not;
- buffers freed during the capture are the trace's scratch space: it writes them again on every replay. A
  buffer allocated there after the capture is overwritten by the next execute_trace; on the chip its values
  are silently corrupted (TT-Metal only logs a warning at allocation), in the simulator reading it before it
  is written again raises instead of computing a wrong result.

Modelled time: capturing costs the host its enqueue time and runs nothing; execute_trace costs one command
from the host, then each captured program with the traced op-to-op gap (perf/profiler.py).
"""
from __future__ import annotations

import bisect
import logging
import weakref
from dataclasses import dataclass, field
from typing import Optional

from . import memory as _memory

log = logging.getLogger(__name__)

REPLAYING = False            # inside execute_trace: ops compute, nothing is allocated, counted or modelled
CAPTURING: dict = {}         # device -> the Trace being captured on it

_OFFERED: Optional[tuple] = None   # (op name, kernel) offered by the op execute_trace is running whole


def offer_kernel(op: str, tensors: tuple, device, kernel) -> None:
    """Called by op `op` while a trace replays: `kernel(*tensors)` recomputes what this call just computed, from
    the current values of the same tensors (None entries stay None), returning (values, padding) of its output.

    A replay calls the same ops on the same tensors with the same metadata, so what an op decides from metadata
    (its checks, shapes, configs, output buffer) is decided once: execute_trace runs the whole op at the first
    replay and the kernel it offers at the next ones. A kernel is made of the op's own functions (the same bits)
    and must hold no tensor itself: the trace holds `tensors` by weak reference (it does not keep its inputs
    alive), and when one of them is gone or the device's numerics mode changed, the op runs whole again and
    offers a new kernel."""
    global _OFFERED
    if not REPLAYING:
        return
    refs = [None if t is None else weakref.ref(t) for t in tensors]
    ideal = device.ideal

    def run():
        held = tuple(None if r is None else r() for r in refs)
        if device.ideal != ideal or any(h is None and r is not None for h, r in zip(held, refs)):
            return None
        return kernel(*held)
    _OFFERED = (op, run)


class MeshTraceId:
    """The id of a captured trace (real constructor: MeshTraceId(int))."""

    __slots__ = ("_id",)

    def __init__(self, arg: int):
        self._id = int(arg)

    def __int__(self) -> int:
        return self._id

    def __eq__(self, other) -> bool:
        return isinstance(other, MeshTraceId) and other._id == self._id

    def __hash__(self) -> int:
        return hash(("MeshTraceId", self._id))

    def __repr__(self) -> str:
        return f"MeshTraceId({self._id})"


class _Slot:
    """A device tensor inside a captured call: `index` into the trace's tensors."""
    __slots__ = ("index",)

    def __init__(self, index: int):
        self.index = index


@dataclass
class _Entry:
    """One op called at the top level while capturing, its tensors replaced by slots: enough to compute it again
    without keeping the captured tensors (and their buffers) alive."""
    op: object               # the registered Operation
    args: tuple
    kwargs: dict
    out: object              # the result's structure, device tensors as slots
    plan: object = None      # _replay_plan(): (args, kwargs holding slots, output shadow), made at first replay
    kernel: object = None    # the kernel the op offered at a replay (offer_kernel); False: it offered none


@dataclass
class Trace:
    id: int
    device: object
    entries: list = field(default_factory=list)
    launches: list = field(default_factory=list)      # (op name, OpCost, inputs, outputs) per captured program
    allocations: list = field(default_factory=list)   # buffers allocated during the capture
    scratch: object = None                            # (freed count, buffer type -> merged ranges), cached
    buffer: object = None                             # the trace buffer's Allocation in the TRACE region
    owned: set = field(default_factory=set)           # id() of the allocations made during the capture
    # slot -> (weakref to the user's tensor, shadow tensor or None): a slot made by a captured op has a shadow
    # (its metadata, no buffer) that replay computes into; a slot that existed before the capture is an input
    slots: list = field(default_factory=list)
    slot_of: object = None                            # WeakKeyDictionary tensor -> slot index
    restore: list = field(default_factory=list)       # (tensor, values, padding) of inputs before the capture
    bytes: int = 0
    executions: int = 0

    @property
    def programs(self) -> int:
        return len(self.launches)


class _Traces:
    """The traces of one device (device._traces)."""

    def __init__(self):
        self.next_id = 0
        self.live: dict[int, Trace] = {}
        self.warned_alloc = False


def _traces(device) -> _Traces:
    t = getattr(device, "_traces", None)
    if t is None:
        t = device._traces = _Traces()
    return t


def _trace_of(device, trace_id, what: str) -> Trace:
    if not isinstance(trace_id, MeshTraceId):
        raise TypeError(f"ttnn.{what}: trace_id must be a ttnn.MeshTraceId (from begin_trace_capture), "
                        f"got {type(trace_id).__name__}")
    tr = _traces(device).live.get(int(trace_id))
    if tr is None:
        raise RuntimeError(f"ttnn.{what}: trace {int(trace_id)} does not exist on device {device.device_id} "
                           f"(released, or never captured)")
    return tr


# --- hooks called by the op registry and the allocator ----------------------------------------------------
def capturing(device) -> Optional[Trace]:
    return CAPTURING.get(device) if CAPTURING else None


def values_before(args, kwargs) -> list:
    """(tensor, values, padding) of the device tensors a call gets, taken before it runs while capturing."""
    found: list = []
    _visit_device_tensors(args, found)
    _visit_device_tensors(list(kwargs.values()), found)
    return found


def _visit_device_tensors(v, found: list) -> None:
    # module-level, not a closure: a recursive closure is a reference cycle that would keep tensors (and their
    # device buffers) alive until the garbage collector runs
    from .tensor import Tensor
    if isinstance(v, Tensor):
        if v._device is not None:
            found.append((v, v._value, v._pad))
    elif isinstance(v, (list, tuple)):
        for x in v:
            _visit_device_tensors(x, found)


def record(device, op, args, kwargs, out, before=()) -> None:
    tr = CAPTURING.get(device)
    if tr is None:
        return
    for t, value, pad in before or ():     # capturing runs nothing on the chip: a tensor from before the
        if t not in (tr.slot_of or {}) and all(t is not u for u, _, _ in tr.restore):   # capture keeps its values
            tr.restore.append((t, value, pad))
    if tr.slot_of is None:
        tr.slot_of = weakref.WeakKeyDictionary()
    a = _template(tr, args, False)
    kw = {k: _template(tr, v, False) for k, v in kwargs.items()}
    tr.entries.append(_Entry(op, a, kw, _template(tr, out, True)))


def _template(tr: Trace, v, produced: bool):
    """`v` with its device tensors replaced by slots (host tensors and other values are kept as they are)."""
    from .tensor import Tensor
    if isinstance(v, Tensor):
        if v._device is None:
            return v
        k = tr.slot_of.get(v)
        if k is None:
            k = len(tr.slots)
            shadow = None
            if produced:
                shadow = Tensor._new(None, v._dtype, v._layout, v._device, v._memory_config, None, v._pad)
            tr.slots.append((weakref.ref(v), shadow))
            tr.slot_of[v] = k
        return _Slot(k)
    if isinstance(v, (list, tuple)):
        return type(v)(_template(tr, x, produced) for x in v)
    return v


def note_allocation(device, alloc) -> None:
    """Called by the allocator helper for every device buffer allocated outside replay."""
    tr = capturing(device)
    if tr is not None:
        tr.allocations.append(alloc)
    elif getattr(device, "_traces", None) is not None and device._traces.live and not device._traces.warned_alloc:
        device._traces.warned_alloc = True
        log.warning("ttnn: allocating device buffers while a trace exists on device %d: a buffer placed in the "
                    "trace's scratch space is overwritten by every execute_trace (reading it afterwards "
                    "raises in the simulator)", device.device_id)


def refuse_transfer(device, direction: str) -> None:
    """Reads and writes between host and device synchronize with the host: refused while capturing."""
    if capturing(device) is not None:
        what = "writing a tensor from the host to" if direction == "to" else "reading a tensor back from"
        raise RuntimeError(f"ttnn: {what} device {device.device_id} while a trace is being captured: reads and "
                           f"writes between host and device are not supported during trace capture (move them "
                           f"before begin_trace_capture or after end_trace_capture)")


# --- the real API -------------------------------------------------------------------------------------------
def begin_trace_capture(mesh_device, *, cq_id=None) -> MeshTraceId:
    """Start recording the ops enqueued on `mesh_device` into a new trace."""
    mesh_device.check_open("ttnn.begin_trace_capture")
    if getattr(mesh_device, "is_mesh", False):
        raise NotImplementedError("ttnn.begin_trace_capture: trace capture on a multi-chip mesh is not simulated "
                                  "(capture on a single device, or run the mesh program dispatched)")
    if capturing(mesh_device) is not None:
        raise RuntimeError(f"ttnn.begin_trace_capture: a trace is already being captured on device "
                           f"{mesh_device.device_id}; end it first")
    traces = _traces(mesh_device)
    tr = Trace(traces.next_id, mesh_device)
    traces.next_id += 1
    traces.live[tr.id] = tr
    CAPTURING[mesh_device] = tr
    return MeshTraceId(tr.id)


def end_trace_capture(mesh_device, trace_id, *, cq_id=None) -> None:
    """Stop recording; the trace's commands go to a buffer in the TRACE region, which must hold them."""
    tr = _trace_of(mesh_device, trace_id, "end_trace_capture")
    if CAPTURING.get(mesh_device) is not tr:
        raise RuntimeError(f"ttnn.end_trace_capture: trace {tr.id} is not being captured on device "
                           f"{mesh_device.device_id}")
    del CAPTURING[mesh_device]
    for t, value, pad in tr.restore:       # the simulator computed while capturing; the chip does not
        t._value, t._pad = value, pad
    tr.restore.clear()
    rates = mesh_device.profiler.rates
    tr.bytes = sum(rates.trace_bytes(cost.cores) for _, cost, _, _ in tr.launches)
    from .memory import OutOfMemoryError
    from .types import BufferType
    region = mesh_device.memory[BufferType.TRACE]
    try:
        per_bank = -(-max(tr.bytes, 1) // region.num_banks)
        tr.buffer = region.allocate(tr.bytes, per_bank)
    except OutOfMemoryError:
        _traces(mesh_device).live.pop(tr.id, None)
        raise RuntimeError(
            f"ttnn.end_trace_capture: the trace of {tr.programs} programs needs {tr.bytes} B of trace buffer "
            f"({per_bank} B in each of {region.num_banks} DRAM banks), but the TRACE region has "
            f"{region.largest_free_block()} B free per bank (open_device(trace_region_size="
            f"{mesh_device.trace_region_size})); open the device with a larger trace_region_size") from None
    tr.owned = {id(a) for a in tr.allocations}


def _clobber_scratch(device, tr: Trace) -> None:
    """A replay writes the trace's scratch space: live buffers there that the trace does not own lose their
    contents (on the chip they are silently overwritten; here reading them raises, see check_readable)."""
    spans_by_type = _scratch(tr)
    for bt, spans in spans_by_type.items():
        alloc = device.memory[bt]
        starts = [s for s, _ in spans]
        for block_start in alloc.space.starts:
            owner = alloc.owner(block_start)
            if owner is None or id(owner) in tr.owned or owner.clobbered is not None:
                continue
            block_end = block_start + alloc.space.sizes[block_start]
            i = bisect.bisect_right(starts, block_start) - 1
            for s, e in spans[max(i, 0):]:
                if s >= block_end:
                    break
                if e > block_start:
                    owner.clobbered = tr.id
                    _memory.CLOBBERED += 1
                    break


def _scratch(tr: Trace) -> dict:
    """Buffer type -> merged [start, end) ranges (per bank) of the buffers allocated during the capture and
    freed since: the trace writes them on every replay."""
    freed = sum(a.freed for a in tr.allocations)
    if tr.scratch is not None and tr.scratch[0] == freed:
        return tr.scratch[1]
    by_type: dict = {}
    for a in tr.allocations:
        if a.freed:
            by_type.setdefault(a.buffer_type, []).append((a.address, a.address + a.bank_bytes))
    for bt, spans in by_type.items():
        spans.sort()
        merged = [list(spans[0])]
        for s, e in spans[1:]:
            if s <= merged[-1][1]:
                merged[-1][1] = max(merged[-1][1], e)
            else:
                merged.append([s, e])
        by_type[bt] = merged
    tr.scratch = (freed, by_type)
    return by_type


def check_readable(tensor, what: str) -> None:
    """Raise if a trace replay overwrote `tensor`'s buffer since it was last written."""
    a = tensor._alloc
    if a is not None and a.clobbered is not None and not a.freed:
        raise RuntimeError(
            f"{what}: this {a.buffer_type.name} buffer (address {a.address}) was allocated while trace {a.clobbered} "
            f"existed, in the space the trace's intermediates used, and its replay overwrote it; on the chip the "
            f"values read would be silently corrupted. Allocate tensors that must survive a replay before "
            f"begin_trace_capture, or write them again after execute_trace")


def written(tensor) -> None:
    """`tensor` was written in full: its buffer holds valid contents again."""
    a = getattr(tensor, "_alloc", None)
    if a is not None and a.clobbered is not None:
        a.clobbered = None
        _memory.CLOBBERED -= 1


def execute_trace(mesh_device, trace_id, *, cq_id=None, blocking=True) -> None:
    """Replay a captured trace: every captured op runs again on the tensors it was captured with."""
    global REPLAYING, _OFFERED
    mesh_device.check_open("ttnn.execute_trace")
    if mesh_device.queue(cq_id, "ttnn.execute_trace") != 0:
        raise RuntimeError("ttnn.execute_trace: the simulator replays traces on command queue 0 (queue 1 carries "
                           "the host transfers that overlap them)")
    tr = _trace_of(mesh_device, trace_id, "execute_trace")
    if capturing(mesh_device) is not None:
        raise RuntimeError("ttnn.execute_trace: a trace is being captured on this device; end it first")
    if tr.buffer is None:
        raise RuntimeError(f"ttnn.execute_trace: trace {tr.id} was never ended (end_trace_capture)")
    _clobber_scratch(mesh_device, tr)
    values: dict = {}           # slot -> the tensor replay uses for it
    REPLAYING = True
    try:
        for e in tr.entries:
            if e.op.name == "deallocate":
                v = e.args[0] if e.args else e.kwargs.get("tensor")
                shadow = tr.slots[v.index][1] if isinstance(v, _Slot) else None
                if shadow is not None:
                    shadow._value = None     # a scratch buffer again: its values are not kept
                continue
            plan = e.plan
            if plan is None:
                plan = e.plan = _replay_plan(tr, e)
            args, kwargs = e.args, e.kwargs
            if plan[0]:
                args = list(args)
                for i in plan[0]:
                    args[i] = _resolve(tr, values, args[i])
            if plan[1]:
                kwargs = dict(kwargs)
                for k in plan[1]:
                    kwargs[k] = _resolve(tr, values, kwargs[k])
            kernel, shadow = e.kernel, plan[2]
            if kernel:
                got = kernel()
                if got is not None:
                    shadow._value, shadow._pad = got
                    values[e.out.index] = shadow
                    continue
                e.kernel = kernel = None        # made with what changed: the op runs whole and offers a new one
            _OFFERED = None
            _bind(tr, values, e.out, e.op.fn(*args, **kwargs))
            if kernel is None and shadow is not None:
                e.kernel = _OFFERED[1] if _OFFERED is not None and _OFFERED[0] == e.op.name else False
    finally:
        REPLAYING, _OFFERED = False, None
    for ref, shadow in tr.slots:       # what the user still holds gets this replay's values
        if shadow is None:
            continue
        t = ref()
        if t is not None and t is not shadow:
            t._value, t._pad = shadow._value, shadow._pad
            if _memory.CLOBBERED:
                written(t)
        shadow._value = None
    counts = mesh_device.counters.op_launches
    for name, _, _, _ in tr.launches:
        counts[name] += 1
    mesh_device.profiler.replay(tr.launches, blocking=bool(blocking))
    tr.executions += 1


def _holds_slot(v) -> bool:
    return isinstance(v, _Slot) or (isinstance(v, (list, tuple)) and any(_holds_slot(x) for x in v))


def _replay_plan(tr: Trace, e: _Entry) -> tuple:
    """Which arguments of a captured call hold slots (only those are resolved on each replay), and the shadow
    of its output when it is one tensor the op computes (where a replay kernel may write)."""
    shadow = tr.slots[e.out.index][1] if isinstance(e.out, _Slot) else None
    return (tuple(i for i, v in enumerate(e.args) if _holds_slot(v)),
            tuple(k for k, v in e.kwargs.items() if _holds_slot(v)), shadow)


def _resolve(tr: Trace, values: dict, v):
    """`v` with its slots replaced by the tensors replay uses: the shadows computed so far, the inputs."""
    if isinstance(v, _Slot):
        t = values.get(v.index)
        if t is None:
            ref, shadow = tr.slots[v.index]
            if shadow is not None:
                raise RuntimeError(f"ttnn.execute_trace: trace {tr.id} reads a tensor before computing it")
            t = ref()
            if t is None or not t.is_allocated():
                raise RuntimeError(f"ttnn.execute_trace: an input tensor of trace {tr.id} was deallocated after "
                                   f"the capture; the trace reads its buffer")
            if _memory.CLOBBERED:
                check_readable(t, f"ttnn.execute_trace (trace {tr.id})")
            values[v.index] = t
        return t
    if isinstance(v, (list, tuple)):
        return type(v)(_resolve(tr, values, x) for x in v)
    return v


def _bind(tr: Trace, values: dict, template, new) -> None:
    """Store a replayed op's results in the shadows of the slots it produced."""
    from .tensor import Tensor
    if isinstance(template, _Slot):
        if isinstance(new, Tensor):
            _, shadow = tr.slots[template.index]
            if shadow is None:              # an op that returns its (input) argument
                values.setdefault(template.index, new)
                return
            if new is not shadow:
                shadow._value, shadow._pad = new._value, new._pad
            values[template.index] = shadow
    elif isinstance(template, (list, tuple)) and isinstance(new, (list, tuple)):
        for t, n in zip(template, new):
            _bind(tr, values, t, n)


def release_trace(mesh_device, trace_id) -> None:
    """Free a trace and its buffer; its id is no longer valid."""
    tr = _trace_of(mesh_device, trace_id, "release_trace")
    if CAPTURING.get(mesh_device) is tr:
        del CAPTURING[mesh_device]
    if tr.buffer is not None and getattr(mesh_device, "is_open", False):
        from .types import BufferType
        mesh_device.memory[BufferType.TRACE].free(tr.buffer)
    tr.entries.clear()
    tr.slots.clear()
    _traces(mesh_device).live.pop(tr.id, None)


def is_trace_capture_active(device) -> bool:
    """Whether a trace is being captured on `device`."""
    return capturing(device) is not None
