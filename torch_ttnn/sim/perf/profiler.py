"""The device profiler: a modelled duration for every launch, two timelines, and the reports users read.

Every counted launch on a simulated device gets an OpCost (rules.py). The profiler keeps two clocks:

- as dispatched (no trace): the host enqueues each op in `dispatch_us`; an op starts when both the host has
  enqueued it and the device has finished the previous op plus the op-to-op gap:
  ``start = max(device_free + gap, host_enqueued)``; big ops hide the host, small ops wait for it;
- traced: a captured trace replays without the host: ``start = device_free + gap``.

Host<->device transfers on command queue 0 block on both clocks: ``start = max(host, device)``, then the command
cost plus the bytes over PCIe at the measured rates. A device opened with two command queues has a clock for
queue 1 too: a transfer there waits for the host and that queue only, so it overlaps the programs of queue 0;
events (record_event / wait_for_event / event_synchronize) carry a queue's time to another queue or the host. Running totals are always kept (they cost a few microseconds a launch);
per-launch rows are kept while recording (`device.profiler.start()` / `with device.profiler.record():`), for the
CSV (the columns of TT-Metal's ops performance report, plus the bound) and the Perfetto/Chrome trace.
"""
from __future__ import annotations

import collections
import contextlib
import csv
import json
import logging
import os
from dataclasses import dataclass, field

from .cost import RULES, Call, OpCost, TensorDesc, cb_need, describe
from .rates import ArchRates, rates_for

log = logging.getLogger(__name__)
STRICT_ENV = "TT_SIM_PERF_STRICT"   # "1": a launch without a working cost rule raises (the test suite sets it)


@dataclass
class LaunchRow:
    index: int
    op: str
    cost: OpCost
    inputs: list
    outputs: list
    start_us: float
    end_us: float
    host_us: float           # when the host had enqueued it
    traced_start_us: float
    kind: str = "op"         # "op", "traced" (replayed from a trace) or "transfer"


@dataclass
class Totals:
    launches: int = 0
    kernel_us: float = 0.0
    flops: float = 0.0
    dram_bytes: float = 0.0
    transfer_us: float = 0.0
    transfers: int = 0
    by_bound: collections.Counter = field(default_factory=collections.Counter)   # bound -> kernel us
    by_op: collections.Counter = field(default_factory=collections.Counter)      # op -> kernel us
    count_by_op: collections.Counter = field(default_factory=collections.Counter)
    unmodelled: collections.Counter = field(default_factory=collections.Counter)


class Profiler:
    """Modelled timing of one simulated device (``device.profiler``)."""

    def __init__(self, device):
        self.device = device
        self.rates: ArchRates = rates_for(device.preset)
        self.recording = False
        self.rows: list[LaunchRow] = []
        self.reset()

    # --- state --------------------------------------------------------------------------------
    def reset(self) -> None:
        """Zero the clocks and totals and drop the recorded rows."""
        self.host_us = 0.0
        self.device_us = 0.0            # command queue 0: programs, and the transfers enqueued there
        self.traced_us = 0.0
        self.cq1_us = 0.0               # command queue 1 (a device opened with two): its transfers
        self.cq1_traced_us = 0.0
        self.totals = Totals()
        self.rows = []

    @property
    def now_us(self) -> float:
        """Modelled time (no trace) when everything enqueued so far has finished."""
        return max(self.host_us, self.device_us, self.cq1_us)

    def start(self) -> None:
        self.recording = True

    def stop(self) -> None:
        self.recording = False

    @contextlib.contextmanager
    def record(self, reset: bool = True):
        """Record per-launch rows inside the block (after resetting the clocks unless reset=False)."""
        if reset:
            self.reset()
        was, self.recording = self.recording, True
        try:
            yield self
        finally:
            self.recording = was

    def _l1_free(self) -> int:
        """L1 a core has for circular buffers now: below its lowest L1 buffer (the launch's output included)."""
        from ..types import BufferType
        return self.device.memory[BufferType.L1].cb_space()

    # --- events -------------------------------------------------------------------------------
    def launch(self, name: str, fn, args: tuple, kwargs: dict, described: tuple, out) -> None:
        """Model one launch of ttnn.`name`; `described` is describe_args(args, kwargs) taken before it ran."""
        pre, ins = described
        outs = [describe(t) for t in _tensors(out)]
        rule = RULES.get(name)
        r = self.rates
        try:
            if rule is None:
                raise LookupError(f"no cost rule for ttnn.{name}")
            if fn is None:
                raise ValueError("launched outside a registered op: its arguments are unknown")
            l1_free = self._l1_free if getattr(self.device, "memory", None) is not None else None
            call = Call(name, fn, args, kwargs, pre, ins, outs, r, l1_free)
            cost = rule(call)
            need = cb_need(call) if l1_free is not None else None
        except Exception as e:
            if os.environ.get(STRICT_ENV) == "1" and fn is not None:
                raise
            if not self.totals.unmodelled[name]:
                log.warning("performance model: ttnn.%s launch not modelled (%s: %s)", name, type(e).__name__, e)
            self.totals.unmodelled[name] += 1
            cost = OpCost(name, 0, 0, bound="unmodelled")
            need = None
        if need:
            check_circular_buffers(self.device, name, need)
        self.host_us += r.dispatch_us
        from ..trace import capturing
        tr = capturing(self.device)
        if tr is not None:      # captured, not run: the host spent its enqueue time, the device nothing
            tr.launches.append((name, cost, ins, outs))
            return
        self._run(name, cost, ins, outs, self.host_us)

    def _run(self, name: str, cost: OpCost, ins: list, outs: list, host_us: float, kind: str = "op") -> None:
        """Advance both clocks by one program enqueued by the host at `host_us`."""
        r = self.rates
        start = max(self.device_us + r.op_gap_us, host_us)
        end = start + cost.kernel_us
        traced_start = self.traced_us + r.op_gap_us
        self.device_us, self.traced_us = end, traced_start + cost.kernel_us
        t = self.totals
        t.launches += 1
        t.kernel_us += cost.kernel_us
        t.flops += cost.flops
        t.dram_bytes += cost.dram_bytes
        t.by_bound[cost.bound] += cost.kernel_us
        t.by_op[name] += cost.kernel_us
        t.count_by_op[name] += 1
        if self.recording:
            self.rows.append(LaunchRow(len(self.rows), name, cost, ins, outs, start, end, host_us,
                                       traced_start, kind))

    def wait_until(self, device_us: float, traced_us: float) -> None:
        """A collective starts on every chip of a mesh together: this chip's clocks wait for the slowest."""
        self.device_us = max(self.device_us, device_us)
        self.traced_us = max(self.traced_us, traced_us)

    def replay(self, launches: list, blocking: bool = False) -> None:
        """execute_trace: one command from the host, then the captured programs back to back (op-to-op gap);
        a blocking replay returns to the host when the last has finished."""
        self.host_us += self.rates.dispatch_us
        ready = self.host_us
        for name, cost, ins, outs in launches:
            self._run(name, cost, ins, outs, ready, kind="traced")
        if blocking:
            self.host_waits(0)

    def transfer(self, direction: str, nbytes: int, desc: TensorDesc | None = None, cq: int = 0) -> None:
        """A host->device ("to") or device->host ("from") transfer of `nbytes` on command queue `cq`: on queue 0
        after everything enqueued before it; on queue 1 after the host and that queue only."""
        r = self.rates
        rate = r.h2d_gb_s if direction == "to" else r.d2h_gb_s
        dur = r.dispatch_us + nbytes / (rate * 1e3)
        if cq == 0:
            start = max(self.host_us, self.device_us)
            traced_start = self.traced_us
            self.host_us = self.device_us = start + dur
            self.traced_us += dur
        else:
            start = max(self.host_us, self.cq1_us)
            traced_start = self.cq1_traced_us
            self.host_us = self.cq1_us = start + dur     # the host streams the bytes while the device runs
            self.cq1_traced_us += dur
        end = start + dur
        self.totals.transfers += 1
        self.totals.transfer_us += dur
        if self.recording:
            name = "to_device" if direction == "to" else "from_device"
            cost = OpCost(name, 0, 0, dram_bytes=nbytes, kernel_us=dur, bound="pcie")
            descs = [desc] if desc is not None else []
            self.rows.append(LaunchRow(len(self.rows), name, cost, descs if direction == "to" else [],
                                       descs if direction == "from" else [], start, end, start, traced_start,
                                       kind="transfer" if cq == 0 else "transfer cq1"))

    # --- command queues and events --------------------------------------------------------------
    def queue_clock(self, cq: int) -> tuple:
        """(as dispatched, traced) time when everything enqueued on command queue `cq` has finished."""
        return (self.device_us, self.traced_us) if cq == 0 else (self.cq1_us, self.cq1_traced_us)

    def queue_waits(self, cq: int, until: tuple) -> None:
        """wait_for_event: what is enqueued on queue `cq` from now on starts after `until` (a queue_clock)."""
        if cq == 0:
            self.device_us, self.traced_us = max(self.device_us, until[0]), max(self.traced_us, until[1])
        else:
            self.cq1_us, self.cq1_traced_us = max(self.cq1_us, until[0]), max(self.cq1_traced_us, until[1])

    def host_waits(self, cq: int, until: tuple | None = None) -> None:
        """The host blocks until queue `cq` has finished (or until `until`, an event's queue_clock)."""
        self.host_us = max(self.host_us, (until or self.queue_clock(cq))[0])

    # --- reports ------------------------------------------------------------------------------
    def snapshot(self) -> dict:
        """The clocks and totals now (subtract two snapshots to time a region)."""
        t = self.totals
        return {"now_us": self.now_us, "traced_us": self.traced_us, "kernel_us": t.kernel_us,
                "launches": t.launches, "flops": t.flops, "dram_bytes": t.dram_bytes,
                "transfer_us": t.transfer_us, "transfers": t.transfers, "by_bound": dict(t.by_bound),
                "by_op": dict(t.by_op), "count_by_op": dict(t.count_by_op), "unmodelled": dict(t.unmodelled)}

    def summary(self, top: int = 10) -> dict:
        """Latency (as dispatched and traced), the top ops by modelled kernel time, what bounds the program,
        and the utilisation of the matrix engine and DRAM over the kernel time."""
        s = self.snapshot()
        r = self.rates
        kernel = s["kernel_us"]
        top_ops = sorted(s["by_op"].items(), key=lambda kv: -kv[1])[:top]
        return {
            "arch": r.name,
            "latency_us": s["now_us"],
            "traced_latency_us": s["traced_us"],
            "kernel_us": kernel,
            "dispatch_bound_us": max(0.0, s["now_us"] - s["traced_us"]),
            "transfer_us": s["transfer_us"],
            "launches": s["launches"],
            "transfers": s["transfers"],
            "flops": s["flops"],
            "matrix_engine_utilisation": (s["flops"] / (kernel * 1e-6 * r.peak_flops()) if kernel else 0.0),
            "dram_utilisation": (s["dram_bytes"] / (kernel * 1e-6 * r.dram_gb_s * 1e9) if kernel else 0.0),
            "by_bound_us": s["by_bound"],
            "top_ops": [{"op": op, "us": us, "count": s["count_by_op"][op]} for op, us in top_ops],
            "unmodelled": s["unmodelled"],
        }

    CSV_COLUMNS = ["OP CODE", "OP TYPE", "GLOBAL CALL COUNT", "DEVICE ID", "CORE COUNT",
                   "DEVICE KERNEL DURATION [ns]", "OP TO OP LATENCY [ns]", "DEVICE START [ns]", "BOUND",
                   "MATH FIDELITY", "FLOPS", "DRAM BYTES", "L1 BYTES", "PM IDEAL [ns]", "PM COMPUTE [ns]",
                   "PM BANDWIDTH [ns]", "INPUTS", "OUTPUTS", "NOTE"]

    def csv_rows(self) -> list[dict]:
        out, prev_end = [], None
        for row in self.rows:
            c = row.cost
            gap = 0.0 if prev_end is None else row.start_us - prev_end
            prev_end = row.end_us
            out.append({
                "OP CODE": row.op, "OP TYPE": "transfer" if row.kind == "transfer" else "tt_dnn_device",
                "GLOBAL CALL COUNT": row.index, "DEVICE ID": self.device.device_id, "CORE COUNT": c.cores,
                "DEVICE KERNEL DURATION [ns]": round(c.kernel_us * 1e3), "OP TO OP LATENCY [ns]": round(gap * 1e3),
                "DEVICE START [ns]": round(row.start_us * 1e3), "BOUND": c.bound, "MATH FIDELITY": c.fidelity,
                "FLOPS": round(c.flops), "DRAM BYTES": round(c.dram_bytes), "L1 BYTES": round(c.l1_bytes),
                "PM IDEAL [ns]": round(max(c.compute_us, c.memory_us) * 1e3),
                "PM COMPUTE [ns]": round(c.compute_us * 1e3), "PM BANDWIDTH [ns]": round(c.memory_us * 1e3),
                "INPUTS": " ".join(d.short() for d in row.inputs),
                "OUTPUTS": " ".join(d.short() for d in row.outputs),
                "NOTE": "; ".join(x for x in (c.note, "replayed from a trace" if row.kind == "traced" else "") if x),
            })
        return out

    def to_csv(self, path) -> str:
        """Write the recorded launches as an ops-performance-report-style CSV; returns the path."""
        with open(path, "w", newline="") as f:
            w = csv.DictWriter(f, fieldnames=self.CSV_COLUMNS)
            w.writeheader()
            w.writerows(self.csv_rows())
        return str(path)

    def chrome_trace(self) -> dict:
        """The recorded timeline as a Chrome/Perfetto trace (JSON object format): one track for the device,
        one for the host's enqueueing."""
        pid = self.device.device_id
        events = [{"name": "process_name", "ph": "M", "pid": pid, "args": {"name": f"simulated {self.rates.name}"}},
                  {"name": "thread_name", "ph": "M", "pid": pid, "tid": 0, "args": {"name": "device (modelled)"}},
                  {"name": "thread_name", "ph": "M", "pid": pid, "tid": 1, "args": {"name": "host dispatch"}}]
        for row in self.rows:
            c = row.cost
            events.append({"name": row.op, "cat": row.kind, "ph": "X", "pid": pid, "tid": 0,
                           "ts": round(row.start_us, 3), "dur": round(c.kernel_us, 3),
                           "args": {"bound": c.bound, "cores": c.cores, "flops": c.flops,
                                    "dram_bytes": c.dram_bytes, "inputs": [d.short() for d in row.inputs],
                                    "outputs": [d.short() for d in row.outputs]}})
            if row.kind == "op":
                events.append({"name": "enqueue " + row.op, "cat": "host", "ph": "X", "pid": pid, "tid": 1,
                               "ts": round(row.host_us - self.rates.dispatch_us, 3),
                               "dur": self.rates.dispatch_us})
        return {"traceEvents": events, "displayTimeUnit": "ns"}

    def to_chrome_trace(self, path) -> str:
        with open(path, "w") as f:
            json.dump(self.chrome_trace(), f)
        return str(path)


def _tensors(out) -> list:
    from ..tensor import Tensor
    if isinstance(out, Tensor):
        return [out] if out._value is not None else []
    if isinstance(out, (list, tuple)):
        res = []
        for o in out:
            res.extend(_tensors(o))
        return res
    return []


def collect(args: tuple, kwargs: dict, desc_of) -> tuple[dict, list]:
    """(id(tensor) -> descriptor, the descriptors of every tensor argument in order, a tensor passed twice listed
    twice) for the arguments, also inside lists; `desc_of(value)` gives a value's descriptor or None."""
    pre: dict = {}
    ins: list = []

    def visit(v):
        if isinstance(v, (list, tuple)):
            for x in v:
                visit(x)
            return
        d = pre.get(id(v))
        if d is None:
            d = desc_of(v)
            if d is None:
                return
            pre[id(v)] = d
        ins.append(d)

    for a in args:
        visit(a)
    for a in kwargs.values():
        visit(a)
    return pre, ins


def _sim_desc(v):
    from ..tensor import Tensor
    return describe(v) if isinstance(v, Tensor) and v._value is not None else None


def describe_args(args: tuple, kwargs: dict) -> tuple[dict, list]:
    """collect() of the ttnn.Tensor arguments of a launch, taken before it runs."""
    return collect(args, kwargs, _sim_desc)


def check_circular_buffers(device, name: str, need: int) -> None:
    """Refuse a launch whose circular buffers (and the temporary L1 buffers its op allocates beside them) would
    reach the lowest L1 buffer of a core, as TT-Metal refuses a program whose static circular buffer region
    clashes with an L1 buffer."""
    from ..errors import OutOfMemoryError
    from ..types import BufferType
    l1 = device.memory[BufferType.L1]
    space = l1.cb_space()
    if need <= space:
        return
    if need > l1.bank_size:
        raise OutOfMemoryError(
            f"ttnn.{name}: statically allocated circular buffers on the core grid grow to {need} B, beyond the "
            f"max L1 size of {l1.bank_size} B a core")
    raise OutOfMemoryError(
        f"ttnn.{name}: statically allocated circular buffers clash with L1 buffers on the core grid: the lowest "
        f"L1 buffer is allocated at {space} B and the circular buffer region would end at {need} B "
        f"({l1.current // max(1, l1.num_banks)} B of L1 buffers a core; free L1 for them: deallocate tensors, "
        f"place some in DRAM, or use smaller blocks)")

