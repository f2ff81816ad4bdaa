"""Trace capture of compiled programs: `TorchTtnnOption(trace="auto")` (default).

A compiled inference graph with static shapes runs the same device programs on every call, so after its first
call (which also compiles TT-NN's programs) it is captured once into a TT-NN trace and then replayed with
`ttnn.execute_trace`: the host no longer enqueues each op (~5 us each), which is what limits small models.

The lowered graph is split in stages (TracePlan):
  0  host work before the device: placeholders, cached parameter loads, folded parameters, configs;
  1  uploads of the call's inputs (ttnn.from_torch(..., device=) / ttnn.to_device);
  2  the device program: every TT-NN op and what consumes only its results; captured;
  3  reads back to the host (ttnn.to_torch / from_device) and whatever the host computes from them.
A graph is traced only when its stages are in this order: nothing the host computes from a read flows back
into the device (a host fallback between device ops), no output is a device tensor, no random op (a trace
would replay the same draws). Otherwise it runs as compiled, and the report says why.

Calls (TraceRunner): the first runs the graph module as compiled; the second uploads the inputs into tensors
that stay allocated, captures stage 2, replays it and reads the outputs; later calls copy the new inputs into
those tensors (ttnn.copy_host_to_device_tensor), replay, and read. Every value of stages 0-1 that the trace
baked in (a parameter's device copy, a config, a scalar) is checked at each call: if one changed (a parameter
updated in place, converted again) the trace is released and captured again. A capture that fails (the
device's trace region is too small, an op that reads from the host) is logged and the graph runs as compiled.
The runner holds the persistent inputs and the trace's outputs: a trace writes its buffers on every replay.

Streaming (torch_ttnn.stream): on a device with two command queues the runner also keeps a DRAM staging copy of
each input (from the first call inside stream(), which captures the trace again with them). While a replay runs on queue 0, queue 1 writes the next batch's inputs (handed over by stream())
into the staging buffers; the next call copies them into the inputs on the device (ttnn.assign) instead of
writing from the host. Events order the queues: a staging buffer is written again only after its copy ran.
"""
from __future__ import annotations

import logging
import weakref
from typing import Optional

import torch
import torch.fx

from .meta import STATE_STORE

log = logging.getLogger("torch_ttnn")

HOST, UPLOAD, DEVICE, READ = 0, 1, 2, 3
MAX_RECAPTURES = 4
_VIEW_OPS = ("reshape", "view", "squeeze", "unsqueeze")


def _is_ttnn_op(target) -> bool:
    name = getattr(target, "python_fully_qualified_name", None)
    return isinstance(name, str) and name.startswith("ttnn.")


class TracePlan:
    """The stages of a lowered graph, or the reason it cannot be traced (`reason`)."""

    def __init__(self, gm: torch.fx.GraphModule, ttnn):
        self.gm = gm
        self.ttnn = ttnn
        self.reason: Optional[str] = None
        self.stage: dict = {}
        self.uploads: list = []
        self.dropped: set = set()      # deallocations of tensors the trace keeps (inputs, outputs)
        self.baked: list = []          # stage 0-1 nodes whose values stage 2 uses (checked every call)
        self.outputs: list = []        # stage 2 nodes whose values stage 3 uses (the trace's outputs)
        self._plan()

    def _plan(self) -> None:
        t = self.ttnn
        upload_fns = {t.from_torch, t.to_device}
        read_fns = {t.to_torch, t.from_device}
        views = {getattr(t, n) for n in _VIEW_OPS if hasattr(t, n)}
        stage = self.stage
        nodes = list(self.gm.graph.nodes)
        for n in nodes:
            ins = [stage[a] for a in n.all_input_nodes]
            top = max(ins, default=HOST)
            if n.op == "output":
                if top == DEVICE:
                    return self._refuse("an output of the graph is a device tensor")
                continue
            if n.op == "call_function" and n.target is t.deallocate:
                continue                                      # placed below, once every user has a stage
            if n.op == "call_function" and n.target in upload_fns:
                if n.target is t.from_torch and n.kwargs.get("device") is None:
                    stage[n] = top                             # a host conversion
                    continue
                if top >= DEVICE:
                    return self._refuse(f"{n.name}: a value computed on the host from device results goes back "
                                        f"to the device (a host fallback between device ops)")
                stage[n] = UPLOAD
                self.uploads.append(n)
            elif (n.op == "call_function" and n.target in read_fns) or n.meta.get(STATE_STORE):
                stage[n] = READ if top == DEVICE else top
            elif n.op == "call_function" and _is_ttnn_op(n.target):
                if top == READ:
                    return self._refuse(f"{n.name}: a device op uses a value read back to the host")
                stage[n] = DEVICE
            else:
                stage[n] = top
        for n in nodes:
            if n.op == "call_function" and n.target is t.deallocate:
                x = n.args[0]
                members = self._alias_group(x, views)
                users = [u for m in members for u in m.users if u.target is not t.deallocate]
                s = max([stage[x]] + [stage[u] for u in users if u in stage])
                stage[n] = s
                if stage[x] <= UPLOAD or s == READ:
                    self.dropped.add(n)
        for n in nodes:
            if n.op == "output" or stage.get(n) != DEVICE:
                continue
            for a in n.all_input_nodes:
                if stage[a] <= UPLOAD and a not in self.uploads and a not in self.baked:
                    if a.op == "placeholder" and isinstance(a.meta.get("val"), torch.Tensor):
                        return self._refuse(f"{n.name}: the device program reads the graph input {a.name} "
                                            f"without uploading it")
                    self.baked.append(a)
        readers = [n for n in nodes if n.op == "output" or stage.get(n, HOST) == READ]
        for n in nodes:
            if stage.get(n) == DEVICE and n.target is not t.deallocate and any(u in readers for u in n.users):
                self.outputs.append(n)
        if not any(stage.get(n) == DEVICE and _is_ttnn_op(n.target) for n in nodes):
            return self._refuse("no device op")

    @staticmethod
    def _alias_group(x, views) -> list:
        group, todo = [x], [x]
        while todo:
            m = todo.pop()
            for u in m.users:
                if u.op == "call_function" and u.target in views and u.args and u.args[0] is m and u not in group:
                    group.append(u)
                    todo.append(u)
        return group

    def _refuse(self, reason: str) -> None:
        self.reason = reason

    def order(self, stages) -> list:
        """The nodes of the given stages, stage by stage, each in graph order (dependencies hold: a node's
        stage is at least its inputs')."""
        nodes = [n for n in self.gm.graph.nodes if n.op not in ("output", "placeholder")]
        return [n for s in stages for n in nodes if self.stage.get(n, HOST) == s]


class _Ref:
    """Equal to another _Ref of the same live object (a weak reference: an object collected and another made
    at its address are not the same parameter)."""

    __slots__ = ("ref",)

    def __init__(self, x):
        try:
            self.ref = weakref.ref(x)
        except TypeError:
            self.ref = lambda x=x: x

    def __eq__(self, other) -> bool:
        a = self.ref()
        return isinstance(other, _Ref) and a is not None and a is other.ref()

    __hash__ = None


def _depends_only_on(order: list, static: set) -> set:
    """The nodes of `order` computed from the nodes of `static` and constants only (get_attr, literals)."""
    only: set = set()
    for n in order:
        if all(a in static or a in only or a.op == "get_attr" for a in n.all_input_nodes) \
                and n.op in ("call_function", "call_method", "get_attr"):
            only.add(n)
    return only


def _same(a, b) -> bool:
    if a is b:
        return True
    if isinstance(a, torch.Tensor) or hasattr(a, "storage_type") or hasattr(a, "is_allocated"):
        return False
    try:
        return bool(a == b)
    except Exception:
        return False


class TraceRunner:
    """Runs a compiled graph module through a trace (see the module docstring)."""

    def __init__(self, gm: torch.fx.GraphModule, plan: TracePlan, device, ttnn, report, *, static_inputs=(),
                 contents: bool = True):
        self.gm = gm
        self.plan = plan
        self.device = device
        self.ttnn = ttnn
        self.report = report
        self.calls = 0
        self.state = "warm-up"     # warm-up -> traced | off
        self.trace_id = None
        self.inputs: dict = {}     # upload node -> the device tensor it fills
        self.held: dict = {}       # trace output node -> its device tensor
        self.baked: dict = {}      # baked node -> its value at capture
        self.recaptures = 0
        nodes = list(gm.graph.nodes)
        self._placeholders = [n for n in nodes if n.op == "placeholder"]
        self._output = next(n for n in nodes if n.op == "output")
        self._pre = plan.order((HOST, UPLOAD))
        self._device = [n for n in plan.order((DEVICE,)) if n not in plan.dropped]
        self._post = [n for n in plan.order((READ,)) if n not in plan.dropped]
        self._returned = set(self._output.all_input_nodes)
        self._for_post = self._returned | {a for n in self._post for a in n.all_input_nodes}
        self._for_device = {a for n in self._device for a in n.all_input_nodes}
        # the host work of stage 0 that depends on the parameters alone (their device copies, what is folded or
        # prepared from them): skipped on a replay while every parameter is the tensor it was, unchanged
        self._param_args = sorted(i for i in set(static_inputs) if i < len(self._placeholders))
        static = {self._placeholders[i] for i in self._param_args}
        self._param_only = _depends_only_on(self._pre, static)
        self._param_out = {n for n in self._param_only if any(u not in self._param_only for u in n.users)}
        self._contents = contents
        self._param_stamps = None    # the parameters (object, stamp) when the values below were computed
        self._param_env: dict = {}
        self._staging: dict = {}     # upload node -> its DRAM staging tensor (two command queues)
        self._staged: dict = {}      # upload node -> (its sources (tensor, version), write event): prefetched
        self._feeds = {n: self._host_chain(n) for n in plan.uploads}
        # the host values an upload is computed from: kept through a call, to compute the next batch's the same way
        self._fed = {a for feed in self._feeds.values() if feed for m in feed[1] for a in (m, *m.all_input_nodes)}
        self._fed |= {a for n in plan.uploads for a in n.all_input_nodes}
        report.trace = "pending"

    # --- running nodes --------------------------------------------------------------------------------------
    def _exec(self, order: list, env: dict, keep: set) -> None:
        """Run `order` in `env`, dropping each value after its last use in `order` unless it is in `keep` (a
        dropped ttnn tensor frees its device buffer, as the compiled code does)."""
        last = {}
        for i, n in enumerate(order):
            for a in n.all_input_nodes:
                last[a] = i
        for i, n in enumerate(order):
            env[n] = self._run_node(n, env)
            for a in n.all_input_nodes:
                if last.get(a) == i and a not in keep and a.op != "placeholder":
                    env.pop(a, None)

    def _run_node(self, n, env):
        load = env.__getitem__
        if n.op == "get_attr":
            obj = self.gm
            for part in n.target.split("."):
                obj = getattr(obj, part)
            return obj
        args = torch.fx.node.map_arg(n.args, load)
        kwargs = torch.fx.node.map_arg(n.kwargs, load)
        if n.op == "call_function":
            return n.target(*args, **kwargs)
        if n.op == "call_method":
            return getattr(args[0], n.target)(*args[1:], **kwargs)
        if n.op == "call_module":
            return self.gm.get_submodule(n.target)(*args, **kwargs)
        raise RuntimeError(f"torch_ttnn trace: unexpected node {n.format_node()}")

    def _outputs(self, env):
        return torch.fx.node.map_arg(self._output.args[0], env.__getitem__)

    # --- calls ----------------------------------------------------------------------------------------------
    def run(self, args):
        self.calls += 1
        if self.state == "off":
            return self.gm(*args)
        if self.state == "warm-up":
            out = self.gm(*args)
            self.state = "capture"
            return out
        env = {p: a for p, a in zip(self._placeholders, args)}
        if self.state == "capture":
            return self._capture(env)
        return self._replay(env)

    def _capture(self, env):
        ttnn, dev = self.ttnn, self.device
        keep = set(self.plan.uploads) | set(self.plan.baked) | set(self.plan.outputs)
        self._exec(self._pre, env, keep | self._for_device | self._for_post | self._fed)
        self._allocate_staging(env)      # before the capture: a replay must not overwrite them
        tid, failure = None, None
        try:
            tid = ttnn.begin_trace_capture(dev, cq_id=0)
            self._exec(self._device, env, keep | self._for_post)
            ttnn.end_trace_capture(dev, tid, cq_id=0)
        except Exception as e:
            failure = f"capture failed ({type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''})"
            if tid is not None and ttnn.is_trace_capture_active(dev):
                try:
                    ttnn.end_trace_capture(dev, tid, cq_id=0)
                except Exception:
                    pass
        if failure is not None:          # outside the handler: its traceback no longer holds the capture's tensors
            self._give_up(failure)
            args = [env[p] for p in self._placeholders]
            env.clear()
            return self.gm(*args)
        self.trace_id = tid
        if self._size()[0] == 0:          # only views and host work: nothing to replay
            ttnn.execute_trace(dev, tid, cq_id=0, blocking=False)
            self.inputs = {n: env[n] for n in self.plan.uploads}
            self.held = {n: env[n] for n in self.plan.outputs}
            self._exec(self._post, env, self._returned)
            out = self._outputs(env)
            self.release()
            self.state = "off"
            self.report.trace = "not traced: no device program to replay"
            return out
        self.inputs = {n: env[n] for n in self.plan.uploads}
        self.baked = {n: env[n] for n in self.plan.baked}
        self.held = {n: env[n] for n in self.plan.outputs}
        self.state = "traced"
        programs, nbytes = self._size()
        self.report.trace = f"captured: {programs} programs" + (f", {nbytes / 1024:.0f} KiB" if nbytes else "")
        log.info("torch_ttnn: %s graph traced (%s)", self.report.kind, self.report.trace)
        ttnn.execute_trace(dev, tid, cq_id=0, blocking=False)
        if self._staging:
            self._prefetch(env, ttnn.record_event(dev, 0))
        self._exec(self._post, env, self._returned)
        return self._outputs(env)

    def _replay(self, env):
        ttnn = self.ttnn
        pre = [n for n in self._pre if n not in self.inputs]
        keep = set(self.plan.baked) | self._fed
        stamps = self._stamps(env)
        if stamps is not None and stamps == self._param_stamps and all(
                not hasattr(v, "is_allocated") or v.is_allocated() for v in self._param_env.values()):
            env.update(self._param_env)     # the same parameters, unchanged: the same device copies
            pre = [n for n in pre if n not in self._param_only]
        self._exec(pre, env, keep | self._for_post | self._param_out)
        self._param_env = {n: env[n] for n in self._param_out if n in env}
        self._param_stamps = stamps
        for n, old in self.baked.items():
            if not _same(env[n], old):
                self._recapture(f"{n.name} changed since the capture")
                return self.run([env[p] for p in self._placeholders])
        if not self._staging and self._streamed(env):
            # the first call in stream(): captured again with staging buffers for the second command queue
            self._recapture("staging buffers for torch_ttnn.stream")
            return self.run([env[p] for p in self._placeholders])
        staged = self._take_staged(env)
        for n, dev_tensor in self.inputs.items():
            if n in staged:        # written by queue 1 during the previous call: copied on the device
                ttnn.wait_for_event(0, staged[n])
                ttnn.assign(self._staging[n], memory_config=dev_tensor.memory_config(), output_tensor=dev_tensor)
            else:
                ttnn.copy_host_to_device_tensor(self._host_upload(n, env), dev_tensor)
        copied = ttnn.record_event(self.device, 0) if self._staging else None
        ttnn.execute_trace(self.device, self.trace_id, cq_id=0, blocking=False)
        if copied is not None:
            self._prefetch(env, copied)
        env.update(self.held)
        self._exec(self._post, env, self._returned)
        return self._outputs(env)

    # --- streaming: the next batch's inputs written on command queue 1 --------------------------------------
    def _host_chain(self, n) -> Optional[tuple]:
        """(placeholders, host nodes in order) that upload node n's host tensor is computed from, or None when
        it depends on anything else than placeholders, constants and host work on them."""
        chain, seen, todo = [], set(), list(n.all_input_nodes)
        while todo:
            a = todo.pop()
            if a in seen:
                continue
            seen.add(a)
            if a.op in ("placeholder", "get_attr"):
                continue
            if self.plan.stage.get(a, HOST) != HOST or a.op != "call_function":
                return None
            chain.append(a)
            todo.extend(a.all_input_nodes)
        order = {m: i for i, m in enumerate(self.gm.graph.nodes)}
        sources = tuple(a for a in seen if a.op == "placeholder")
        return sources, sorted(chain, key=order.__getitem__)

    def _streamed(self, env) -> list:
        """The upload nodes whose next inputs stream() announced, on a device with a second command queue."""
        if getattr(self.device, "num_command_queues", 1) < 2:
            return []
        from ..stream import upcoming
        return [n for n, feed in self._feeds.items()
                if feed is not None and feed[0] and all(upcoming(env.get(p)) is not None for p in feed[0])]

    def _allocate_staging(self, env) -> None:
        """The staging buffers of the streamed inputs, allocated before the capture (a buffer allocated after it
        may lie where the trace's intermediates were, which each replay overwrites)."""
        ttnn = self.ttnn
        for n in self._streamed(env):
            try:
                host = self._host_upload(n, env)
            except KeyError:        # a host value it is computed from is not held: this input is not streamed
                log.debug("torch_ttnn: %s is not streamed (its host inputs are not kept)", n.name)
                continue
            self._staging[n] = ttnn.to_device(host, self.device, memory_config=ttnn.DRAM_MEMORY_CONFIG)

    def _prefetch(self, env, copied) -> None:
        """Write the next batch's inputs (stream()) into the staging buffers on queue 1, once queue 0 has
        copied the staging buffers of this call (event `copied`)."""
        from ..stream import upcoming
        ttnn = self.ttnn
        self._staged = {}
        for n, staging in self._staging.items():
            sources, chain = self._feeds[n]
            nxt = {p: upcoming(env.get(p)) for p in sources}
            if any(t is None for t in nxt.values()):
                continue
            new = dict(env)
            new.update(nxt)
            try:
                for a in chain:
                    new[a] = self._run_node(a, new)
                host = self._host_upload(n, new)
            except KeyError:        # a value of this call's host work is no longer held
                continue
            ttnn.wait_for_event(1, copied)
            ttnn.copy_host_to_device_tensor(host, staging, cq_id=1)
            self._staged[n] = (tuple((t, t._version) for t in nxt.values()), ttnn.record_event(self.device, 1))

    def _take_staged(self, env) -> dict:
        """upload node -> the write event of its staging buffer, for the inputs of this call that were
        prefetched: the very tensors stream() announced, unchanged since."""
        staged, self._staged = self._staged, {}
        out = {}
        for n, (sources, event) in staged.items():
            placeholders = self._feeds[n][0]
            if all(env.get(p) is t and t._version == v for p, (t, v) in zip(placeholders, sources)):
                out[n] = event
        return out

    def _stamps(self, env) -> Optional[list]:
        """(object, runtime.tensor_stamp) of each parameter argument of this call: what ParamCache checks
        before it serves a device copy (the storage, the version counter and, with param_check="contents",
        a hash of the bytes), in one pass; None when the graph has no parameter-only host work."""
        if not self._param_only:
            return None
        from ..runtime import tensor_stamp
        out = []
        for i in self._param_args:
            x = env[self._placeholders[i]]
            out.append((_Ref(x), tensor_stamp(x, contents=self._contents) if isinstance(x, torch.Tensor) else x))
        return out

    def _host_upload(self, n, env):
        """The host tensor an upload node would send (the same conversion, without the device)."""
        load = env.__getitem__
        if n.target is self.ttnn.to_device:
            return load(n.args[0]) if isinstance(n.args[0], torch.fx.Node) else n.args[0]
        args = torch.fx.node.map_arg(n.args, load)
        kwargs = torch.fx.node.map_arg({k: v for k, v in n.kwargs.items() if k not in ("device", "memory_config")},
                                       load)
        return self.ttnn.from_torch(*args, **kwargs)

    def _size(self) -> tuple:
        tr = getattr(self.device, "_traces", None)
        entry = tr.live.get(int(self.trace_id)) if tr is not None else None
        return (entry.programs, entry.bytes) if entry is not None else (len(self._device), 0)

    def _recapture(self, why: str) -> None:
        self.release()
        self.recaptures += 1
        if self.recaptures > MAX_RECAPTURES:
            self._give_up(f"captured {self.recaptures} times ({why})")
        else:
            log.info("torch_ttnn: capturing the trace again: %s", why)
            self.state = "capture"

    def _give_up(self, why: str) -> None:
        self.release()
        self.state = "off"
        self.report.trace = f"not traced: {why}"
        log.warning("torch_ttnn: %s graph runs without trace: %s", self.report.kind, why)

    def release(self) -> None:
        """Release the trace and the tensors it holds."""
        if self.trace_id is not None:
            try:
                self.ttnn.release_trace(self.device, self.trace_id)
            except Exception as e:   # the device is closed already
                log.debug("torch_ttnn: could not release a trace: %s", e)
        self.trace_id = None
        for t in self._staging.values():
            try:
                self.ttnn.deallocate(t)
            except Exception as e:   # the device is closed already
                log.debug("torch_ttnn: could not free a staging buffer: %s", e)
        self.inputs, self.held, self.baked = {}, {}, {}
        self._param_stamps, self._param_env = None, {}
        self._staging, self._staged = {}, {}


def plan_for(gm: torch.fx.GraphModule, *, option, ttnn, report, random_ops: bool,
             static_inputs=()) -> Optional[TraceRunner]:
    """A TraceRunner for a compiled graph when it is to be traced, else None (report.trace says why)."""
    if not option.optimize or option.trace is False or option.trace == "off":
        report.trace = "off"
        return None
    if report.kind != "inference":
        # the hand-over of saved activations (tickets made per call, or host copies) runs on the host
        report.trace = "not traced: training graphs hand their saved activations to autograd on the host"
        return None
    if random_ops:
        report.trace = "not traced: random ops (a trace would replay the same draws)"
        return None
    device = option.device_in_use
    if getattr(device, "is_mesh", False):
        report.trace = "not traced: trace capture on a mesh device is not simulated"
        return None
    if getattr(device, "trace_region_size", None) == 0:
        report.trace = "not traced: the device was opened with trace_region_size=0"
        return None
    plan = TracePlan(gm, ttnn)
    if plan.reason is not None:
        report.trace = f"not traced: {plan.reason}"
        return None
    return TraceRunner(gm, plan, device, ttnn, report, static_inputs=static_inputs,
                       contents=option.param_check == "contents")

