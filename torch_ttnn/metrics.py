"""Run a model eagerly and compiled, and measure what users judge a TT compiler by.

Shared by the demo, the `torch-ttnn run` command and the model zoo: one metrics format everywhere.
"""
from __future__ import annotations

import statistics
import time
import traceback
from dataclasses import asdict, dataclass, field
from typing import Any, Callable, Optional

import torch
import torch.utils._pytree as pytree

from . import runtime
from .options import TorchTtnnOption
from .portable import call_with as _call, pcc, tensors_of  # noqa: F401  (the one comparison: metrics.pcc for callers)


def accuracy(out, ref) -> Optional[float]:
    """PCC in percent over all floating outputs (the minimum over outputs); exact match for integer ones."""
    outs, refs = tensors_of(out), tensors_of(ref)
    if len(outs) != len(refs) or not refs:
        return None
    worst = 1.0
    for o, r in zip(outs, refs):
        if o.shape != r.shape:
            return 0.0
        if r.dtype.is_floating_point:
            worst = min(worst, pcc(o, r))
        else:
            worst = min(worst, 1.0 if torch.equal(o.to(r.dtype), r) else 0.0)
    return round(100.0 * worst, 2)


def is_detections(x) -> bool:
    """torchvision detection outputs: a list of dicts with boxes, scores and labels (one per image)."""
    return (isinstance(x, (list, tuple)) and len(x) > 0
            and all(isinstance(d, dict) and {"boxes", "scores", "labels"} <= d.keys() for d in x))


def detection_agreement(out, ref, iou: float = 0.5) -> dict:
    """How many of eager's detections the compiled ones reproduce: the same label and IoU >= `iou`, matched
    greedily in eager's score order, each compiled detection used once. The agreement is the matched share of
    the larger of the two sets (boxes only one side returns, missing or extra, count against it)."""
    from torchvision.ops import box_iou
    total = found = got = 0
    for o, r in zip(out, ref):
        total += len(r["boxes"])
        got += len(o["boxes"])
        if len(r["boxes"]) == 0 or len(o["boxes"]) == 0:
            continue
        overlap = box_iou(r["boxes"].float(), o["boxes"].float())
        overlap[r["labels"][:, None] != o["labels"][None, :]] = -1.0
        for i in torch.argsort(r["scores"], descending=True).tolist():
            j = int(torch.argmax(overlap[i]))
            if overlap[i, j] >= iou:
                found += 1
                overlap[:, j] = -1.0
    return {"eager": total, "compiled": got, "matched": found,
            "agreement": round(100.0 * found / max(total, got), 2) if max(total, got) else 100.0}


def head_accuracy(model, compile_fn, inputs) -> Optional[float]:
    """Accuracy of a detector's network outputs: the PCC of what its `head` submodule returns, compiled vs
    eager, on the same inputs. Box selection (score threshold, top-k, NMS) is a discontinuous function of
    the scores: a difference far below the PCC target reorders near-equal candidates, so the detections
    themselves are compared by `detection_agreement`, and the numerics of the compiled program by this.
    `compile_fn()` compiles the model again once the hook is on (a compile made before does not see it);
    None if the model has no head."""
    head = getattr(model, "head", None)
    if not isinstance(head, torch.nn.Module):
        return None
    seen = []
    handle = head.register_forward_hook(lambda _m, _a, out: seen.append(out))
    try:
        _call(compile_fn(), inputs)
        got = seen[-1] if seen else None
        seen.clear()
        _call(model, inputs)
        ref = seen[-1] if seen else None
    finally:
        handle.remove()
    if got is None or ref is None:
        return None
    return accuracy(got, ref)


def grad_leaves(loss) -> list:
    """The leaf tensors (parameters, inputs) whose .grad a backward of `loss` writes, in graph order."""
    out, seen, stack = [], set(), [getattr(loss, "grad_fn", None)]
    while stack:
        fn = stack.pop()
        if fn is None or fn in seen:
            continue
        seen.add(fn)
        var = getattr(fn, "variable", None)   # AccumulateGrad
        if isinstance(var, torch.Tensor):
            out.append(var)
            continue
        stack.extend(f for f, _ in fn.next_functions)
    return out


def _backward(out, also=()) -> list:
    """Train mode: backward of the loss (the first tensor output; summed when it is not a scalar) with the
    gradients of its leaves (and of `also`) reset first; returns the leaves."""
    loss = tensors_of(out)[0]
    leaves = grad_leaves(loss)
    for t in list(leaves) + list(also):
        t.grad = None
    (loss if loss.numel() == 1 else loss.sum()).backward()
    return leaves


def _grads(leaves) -> list:
    return [t.grad.detach().clone() if t.grad is not None else torch.zeros_like(t) for t in leaves]


@dataclass
class ModelMetrics:
    model_name: str
    mode: str = "eval"
    success: bool = False
    error: Optional[str] = None
    ops_before: int = 0
    ops_before_unique: int = 0
    ops_remaining: int = 0
    ops_remaining_unique: int = 0
    remaining: list = field(default_factory=list)       # [{"op", "reason", "count"}]
    to_device: int = 0
    from_device: int = 0
    to_device_bytes: int = 0
    from_device_bytes: int = 0
    op_launches: int = 0
    eager_ms: Optional[float] = None
    compiled_first_ms: Optional[float] = None
    compiled_ms: Optional[float] = None                 # steady state: median of several runs
    accuracy: Optional[float] = None
    peak_dram_bytes: Optional[int] = None
    peak_l1_bytes: Optional[int] = None
    batch_size: Optional[int] = None
    mesh: Optional[dict] = None                         # on a mesh: shape, split, per-chip memory/transfers
    graphs: int = 0
    graph_breaks: int = 0
    generation: Optional[dict] = None                   # model.generate: token agreement, first divergence
    aten_ops: dict = field(default_factory=dict)
    input_shapes: dict = field(default_factory=dict)
    # modelled device time of one call (torch_ttnn.sim.perf; None on a real device)
    modelled_ms: Optional[float] = None                 # as the calls ran (replayed from traces where the
                                                        # graphs are traced, else dispatched op by op)
    modelled_traced_ms: Optional[float] = None          # the same launches if all replayed from a trace
    trace: Optional[str] = None                         # "traced", or which graphs are not and why
    modelled: Optional[dict] = None                     # profiler summary: arch, bounds, top ops, utilisation
    dynamic_programs: list = field(default_factory=list)  # programs built for graphs with dynamic shapes
    precision: Optional[str] = None                     # weight precision the compiled graphs ran with
    placement: Optional[str] = None                     # where activations lived: dram, l1 or both
    matmul_configs: int = 0                             # matmul program configs the compiler chose
    conv_layouts: int = 0                               # conv2d layouts the compiler chose over TT-NN's
    empty_results: int = 0                              # ops whose result has no elements (nothing computed)
    detections: Optional[dict] = None                   # detectors: agreement of the boxes with eager's

    def as_dict(self) -> dict:
        return asdict(self)

    def fill_from_reports(self, reports) -> None:
        """The op counts, host fallbacks, graphs and input shapes of a compile (compiler.report.summarize)."""
        from .compiler.report import summarize
        for k, v in summarize(reports).items():
            setattr(self, k, v)


def repeat_batch(inputs, n: int):
    """`inputs` with every tensor repeated n times along its first dimension (dicts, lists and tuples
    followed); non-tensors unchanged."""
    if n == 1:
        return inputs
    if isinstance(inputs, torch.Tensor):
        return inputs.repeat(n, *([1] * (inputs.dim() - 1))) if inputs.dim() > 0 else inputs
    if isinstance(inputs, dict):
        return {k: repeat_batch(v, n) for k, v in inputs.items()}
    if isinstance(inputs, (list, tuple)):
        return type(inputs)(repeat_batch(v, n) for v in inputs)
    return inputs


def _modelled(profiler, batch: Optional[int], host_ops: int) -> dict:
    s = profiler.summary(top=8)
    ms = s["latency_us"] / 1e3
    s["latency_ms"] = round(ms, 4)
    s["traced_latency_ms"] = round(s["traced_latency_us"] / 1e3, 4)
    s["batch"] = batch or 1
    s["throughput_per_s"] = round((batch or 1) / (ms / 1e3), 2) if ms > 0 else None
    s["traced_throughput_per_s"] = (round((batch or 1) / (s["traced_latency_us"] / 1e6), 2)
                                    if s["traced_latency_us"] > 0 else None)
    s["host_ops_not_modelled"] = host_ops
    snap = profiler.snapshot()
    s["by_op"] = {op: {"us": round(us, 3), "count": snap["count_by_op"].get(op, 0)}
                  for op, us in sorted(snap["by_op"].items(), key=lambda kv: -kv[1])}
    bounds = dict(s["by_bound_us"])
    if s["transfer_us"]:
        bounds["pcie"] = s["transfer_us"]
    dispatch = max(0.0, s["latency_us"] - s["kernel_us"] - s["transfer_us"])
    if dispatch:
        bounds["dispatch"] = dispatch
    s["bound"] = max(bounds, key=bounds.get) if bounds else None
    s["time_by_bound_us"] = {k: round(v, 3) for k, v in sorted(bounds.items(), key=lambda kv: -kv[1])}
    return s


def _is_generate(fn) -> bool:
    """A bound `generate` method of a module (a transformers model's `model.generate`)."""
    return getattr(fn, "__name__", None) == "generate" and isinstance(getattr(fn, "__self__", None), torch.nn.Module)


def measure(model_name: str, fn: Callable, inputs: Any, *, device, mode: str = "eval", runs: int = 3,
            option_kwargs: Optional[dict] = None, ref_output=None, batch_size=None,
            profile: bool = False, stream: bool = False) -> ModelMetrics:
    """Compile `fn` with the TT-NN backend, run it, and compare with eager.

    `fn` may be a model's bound `generate`: it then runs through `torch_ttnn.generate` (the model's forward
    compiled, static KV cache, see torch_ttnn/generation.py) with the same inputs, and the accuracy is the token
    agreement in % (generated positions equal to eager's) instead of a PCC.

    mode="train": `fn` computes a loss; each run (eager and compiled) also runs loss.backward(), and the
    accuracy is the minimum PCC over the loss and the gradients of every leaf the loss depends on (parameters,
    inputs requiring grad). The eager reference is always recomputed (its gradients are needed).

    On a simulated device the metrics include the modelled device time of one call (the last run) on the
    device's arch; profile=True also keeps that run's per-launch rows on ``device.profiler`` (CSV, trace).
    stream=True also times the steady state of torch_ttnn.stream over copies of the inputs (the next batch
    written on the second command queue during each call): modelled["streamed_latency_ms"] per call."""
    m = ModelMetrics(model_name, mode, batch_size=batch_size)
    mesh = device if getattr(device, "is_mesh", False) else None
    train = mode == "train"
    ctx = torch.no_grad() if mode == "eval" else torch.enable_grad()
    with ctx:
        ref, leaves, ref_grads = _eager_reference(m, fn, inputs, ref_output, train, runs)
        option = TorchTtnnOption(device=device, **(option_kwargs or {}))
        gen = _is_generate(fn) and not train
        if gen:
            from torch._dynamo.utils import counters as dynamo_counters
            from . import generation
            compiled = generation.bound_generate(fn.__self__, option)
            breaks = sum(dynamo_counters["graph_break"].values())
        else:
            compiled = _compile(fn, option, dynamic=True if mesh is not None else None)
        if getattr(device, "memory", None) is not None:
            device.memory.reset_peak()
        if mesh is not None:
            mesh.reset_peak_memory()
        try:
            out = _compiled_runs(m, compiled, inputs, option, device, mesh, runs, profile, leaves if train else None)
            if train:
                out = [tensors_of(out)[0].detach()] + _grads(leaves)
                ref = [ref] + ref_grads
            if gen:
                m.generation = generation.agreement_summary(fn.__self__, inputs, out, ref)
                m.accuracy = m.generation["agreement"]
            elif is_detections(ref) and is_detections(out):
                m.detections = detection_agreement(out, ref)
            else:
                m.accuracy = accuracy(out, ref)
            m.success = True
        except Exception as e:  # the metrics record the failure; the caller decides
            m.error = f"{type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}"
            m.traceback = traceback.format_exc()  # type: ignore[attr-defined]
        finally:
            if gen:
                generation.release(fn.__self__)
    _fill_from_compile(m, option, device, mesh)
    if gen:   # prefill, decode step and encoder are separate graphs by design, not graph breaks
        m.graph_breaks = sum(dynamo_counters["graph_break"].values()) - breaks
    _fill_modelled(m, device, mesh, inputs, batch_size)
    if stream and m.success and m.modelled and not (gen or train or mesh is not None):
        with ctx:
            try:
                _fill_streamed(m, compiled, inputs, out, device)
            except Exception as e:  # reported with the figures, not raised: the plain calls' metrics stand
                m.modelled["streamed_error"] = f"{type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}"
    if m.detections is not None:     # after everything above: this call recompiles and runs again
        with ctx:
            _detector_accuracy(m, fn, inputs, device, option_kwargs)
    # the programs were compiled for this measurement: their device memory and traces go now (dynamo keeps its
    # cache entries, which would hold them for the life of the process)
    runtime.release_programs(option.results)
    m.results = option.results  # type: ignore[attr-defined]
    return m


def _compile(fn, option, dynamic=None):
    """torch.compile with the TT-NN backend, in a recompile region of its own (isolate_recompiles): measuring one
    model again and again would otherwise reach dynamo's limit of 8 and run eagerly, and nothing the user
    compiled before is dropped (no torch._dynamo.reset()). On a mesh the batch must be symbolic to be split
    over the chips (compiler/parallel.py)."""
    import torch_ttnn
    return torch.compile(fn, backend=torch_ttnn.backend, options=option, dynamic=dynamic, isolate_recompiles=True)


def _eager_reference(m, fn, inputs, ref_output, train: bool, runs: int) -> tuple:
    """(reference output, leaves, their gradients) of the eager run; m.eager_ms the median of warm calls."""
    leaves = ref_grads = None
    t0 = time.perf_counter()
    ref = _call(fn, inputs) if ref_output is None or train else ref_output
    if train:
        leaves = _backward(ref)     # compared by identity: the compiled backward writes the same leaves
        ref_grads = _grads(leaves)
        ref = tensors_of(ref)[0].detach()
    m.eager_ms = round((time.perf_counter() - t0) * 1000, 2)
    if not train:  # steady-state eager time: median of warm calls, like the compiled one
        eager = []
        for _ in range(max(1, runs)):
            t0 = time.perf_counter()
            _call(fn, inputs)
            eager.append((time.perf_counter() - t0) * 1000)
        m.eager_ms = round(statistics.median(eager), 2)
    return ref, leaves, ref_grads


def _compiled_runs(m, compiled, inputs, option, device, mesh, runs: int, profile: bool, leaves):
    """The first call (compilation included), the trace-capture call where a graph is traced, then `runs`
    measured calls (the last one profiled when asked); the device counters of the last. Returns its output.
    `leaves`: run the backward too (train mode)."""
    def call():
        out = _call(compiled, inputs)
        if leaves is not None:
            _backward(out, leaves)
        return out

    t0 = time.perf_counter()
    out = call()
    m.compiled_first_ms = round((time.perf_counter() - t0) * 1000, 2)
    if any(getattr(r, "trace", None) == "pending" for r in option.results.reports):
        out = call()      # the capture call: measured runs replay the trace
    times = []
    counters = getattr(device, "counters", None)
    profiler = getattr(device, "profiler", None)
    for i in range(max(1, runs)):
        if counters is not None:
            counters.reset()
        for chip in (mesh.chips if mesh is not None else ()):
            chip.profiler.reset()
        if profiler is not None:
            profiler.reset()
            profiler.recording = profile and i == max(1, runs) - 1
        t0 = time.perf_counter()
        out = call()
        times.append((time.perf_counter() - t0) * 1000)
    if profiler is not None:
        profiler.recording = False
    m.compiled_ms = round(statistics.median(times), 2)
    _fill_counters(m, counters)
    return out


def _fill_counters(m, counters) -> None:
    """Transfers and launches of the last call, from the device's counters (None: nothing to read)."""
    if counters is not None:
        m.to_device, m.from_device = counters.to_device, counters.from_device
        m.to_device_bytes, m.from_device_bytes = counters.to_device_bytes, counters.from_device_bytes
        m.op_launches = counters.ops


def metrics_of_compile(model_name: str, option, *, mode: str = "eval", device=None) -> ModelMetrics:
    """The metrics of what was compiled with `option` and last run on `device`, without running anything (the
    tools measure their own calls): reports, device counters and peak memory."""
    m = ModelMetrics(model_name, mode)
    _fill_from_compile(m, option, device, None)
    _fill_counters(m, getattr(device, "counters", None))
    return m


def _fill_from_compile(m, option, device, mesh) -> None:
    """Peak device memory, the compile's reports (ops, fallbacks, precision, trace, placement, programs)."""
    if getattr(device, "memory", None) is not None:     # a simulated device's memory statistics
        stats = device.memory_stats()
        m.peak_dram_bytes = stats["DRAM"]["peak_bytes"]
        m.peak_l1_bytes = stats["L1"]["peak_bytes"]
    reports = option.results.reports
    m.fill_from_reports(reports)
    m.precision = precision_summary(reports)
    m.trace = trace_summary(reports)
    places = sorted({getattr(r, "placement", "dram") for r in reports})
    m.placement = "+".join(places) if places else None
    m.dynamic_programs = [{"graph": p["graph"], "kind": p["kind"], "shapes": p["shapes"],
                           "bucket": p.get("bucket", False)} for p in option.results.programs]
    if mesh is not None:
        m.mesh = mesh_summary(mesh, option)
        m.peak_dram_bytes = max(c["peak_dram_bytes"] for c in m.mesh["per_chip"])
        m.peak_l1_bytes = max(c["peak_l1_bytes"] for c in m.mesh["per_chip"])


def _fill_modelled(m, device, mesh, inputs, batch_size) -> None:
    """The modelled device time of the last measured call (a mesh: its slowest chip's clock)."""
    profiler = getattr(device, "profiler", None)
    if mesh is not None:      # the chips run in parallel: the slowest one's clock is the call's time
        profiler = max((c.profiler for c in mesh.chips), key=lambda p: p.now_us)
    if profiler is None or not m.success:
        return
    split = [p["batch"] for p in (m.mesh or {}).get("split", []) if p["mode"] == "data" and p["batch"]]
    batch = batch_size or (max(split) if split else None) or _input_batch(inputs) or _batch_of(m.input_shapes)
    m.modelled = _modelled(profiler, batch, m.ops_remaining)
    m.modelled_ms = m.modelled["latency_ms"]
    m.modelled_traced_ms = m.modelled["traced_latency_ms"]


STREAM_CALLS = 4


def _fill_streamed(m, compiled, inputs, out, device) -> None:
    """The modelled time per call of torch_ttnn.stream in its steady state (calls 3 and 4 of 4, each batch a
    copy of `inputs`), and a check that it computes what the plain calls computed."""
    from .stream import stream
    profiler = device.profiler
    batches = [pytree.tree_map(lambda v: v.clone() if isinstance(v, torch.Tensor) else v, inputs)
               for _ in range(STREAM_CALLS)]
    saved = dict(vars(profiler))       # the measured call's clocks, totals and rows (reset makes new ones)
    profiler.reset()
    clock, outs = [], []
    try:
        for y in stream(compiled, batches):
            outs.append(y)
            clock.append(profiler.now_us)
    finally:
        vars(profiler).update(saved)
    for y in outs:
        if not all(torch.equal(a, b) for a, b in zip(tensors_of(y), tensors_of(out))):
            m.success = False
            m.error = "torch_ttnn.stream computed other values than the plain calls on the same inputs"
            return
    us = (clock[-1] - clock[1]) / (STREAM_CALLS - 2)
    batch = m.modelled["batch"]
    m.modelled["streamed_latency_ms"] = round(us / 1e3, 4)
    m.modelled["streamed_throughput_per_s"] = round(batch / (us / 1e6), 2) if us > 0 else None


def _detector_accuracy(m, fn, inputs, device, option_kwargs) -> None:
    """A detector's accuracy: the PCC of its head's outputs (compiled again with a hook on the head), else the
    agreement of the selected boxes."""
    again = TorchTtnnOption(device=device, **(option_kwargs or {}))
    m.accuracy = head_accuracy(fn, lambda: _compile(fn, again), inputs)
    runtime.release_programs(again.results)
    if m.accuracy is None:
        m.accuracy = m.detections["agreement"]
        m.detections["accuracy_of"] = "detections"
    else:
        m.detections["accuracy_of"] = "head"


def mesh_summary(mesh, option) -> dict:
    """How a compile used a mesh: its shape, how each graph was split, per-chip memory, transfers, launches
    and collectives of the last call."""
    ccl = ("all_gather", "reduce_scatter", "all_reduce", "all_broadcast", "point_to_point")
    chips = []
    for c in mesh.chips:
        st = c.memory_stats()
        chips.append({"peak_dram_bytes": st["DRAM"]["peak_bytes"], "peak_l1_bytes": st["L1"]["peak_bytes"],
                      "to_device_bytes": c.counters.to_device_bytes,
                      "from_device_bytes": c.counters.from_device_bytes, "launches": c.counters.ops,
                      "collectives": sum(c.counters.op_launches.get(k, 0) for k in ccl),
                      "modelled_ms": round(c.profiler.now_us / 1e3, 4)})
    return {"shape": f"{mesh.shape[0]}x{mesh.shape[1]}", "chips": len(mesh.chips),
            "split": [{k: p[k] for k in ("graph", "mode", "reason", "batch")} for p in option.results.parallel],
            "per_chip": chips}


def trace_summary(reports) -> Optional[str]:
    """How a model's graphs run: "traced" (all replayed from traces), "k/n traced", or why not."""
    states = [getattr(r, "trace", "off") for r in reports]
    if not states:
        return None
    traced = sum(s.startswith("captured") for s in states)
    if traced == len(states):
        return "traced"
    why = sorted({s.removeprefix("not traced: ") for s in states if not s.startswith("captured")})
    return (f"{traced}/{len(states)} traced" if traced else "not traced") + f" ({'; '.join(why)})"


def precision_summary(reports) -> Optional[str]:
    """The weight precision of a model's graphs: one level, or the levels with their graph counts."""
    levels = [getattr(r, "precision", "bf16") for r in reports]
    if not levels:
        return None
    counts = {lv: levels.count(lv) for lv in dict.fromkeys(levels)}
    if len(counts) == 1:
        return levels[0]
    return ", ".join(f"{lv} x{n}" for lv, n in counts.items())


def _input_batch(inputs) -> Optional[int]:
    """The batch of a call: the leading dim of the first tensor the caller passed (None without one). Not a
    graph input's: aot_autograd lifts parameters and buffers into the graph's inputs, in an order of its own
    (BERT's first was a [2, hidden] token-type table, which made a batch of 8 read as 2)."""
    for t in tensors_of(inputs):
        if isinstance(t, torch.Tensor) and t.dim() >= 1:
            return int(t.shape[0])
    return None


def _batch_of(input_shapes: dict) -> Optional[int]:
    """The batch of a call from the graphs' input shapes (the leading dim of the first graph input): the
    fallback when the caller's inputs hold no tensor."""
    import re
    for sigs in input_shapes.values():
        for sig in sigs:
            hit = re.match(r"\(\[(\d+)[,\]]", sig)
            if hit:
                return int(hit.group(1))
    return None


def format_modelled(s: dict) -> list:
    """Lines describing a modelled-time summary (metrics.modelled)."""
    util = f"matrix engine {s['matrix_engine_utilisation']:.1%}, DRAM {s['dram_utilisation']:.1%} of kernel time"
    lines = [
        f"{'modelled ' + s['arch'] + ':':<22} {s['latency_ms']:.3f} ms per call as run, "
        f"{s['traced_latency_ms']:.3f} ms if all replayed from a trace ({s['launches']} launches, "
        f"{s['transfers']} transfers)",
        f"modelled throughput:   {s['throughput_per_s']} /s at batch {s['batch']} "
        f"({s['traced_throughput_per_s']} /s traced"
        + (f"; {s['streamed_throughput_per_s']} /s streamed, {s['streamed_latency_ms']:.3f} ms a call with the next "
           f"batch written on the second command queue" if s.get("streamed_throughput_per_s") else "") + ")",
        f"modelled bound:        {s['bound']} ({', '.join(f'{k} {v / 1e3:.3f} ms' for k, v in s['time_by_bound_us'].items())})",
        f"modelled utilisation:  {util}",
    ]
    if s.get("streamed_error"):
        lines.append(f"streamed:              failed ({s['streamed_error']})")
    if s.get("host_ops_not_modelled"):
        lines.append(f"not modelled:          {s['host_ops_not_modelled']} torch ops run on the host")
    if s.get("unmodelled"):
        lines.append(f"unmodelled launches:   {s['unmodelled']}")
    return lines


def format_metrics(m: ModelMetrics) -> str:
    def mb(b):
        return "n/a" if b is None else f"{b / 2**20:.2f} MiB"
    lines = [
        f"model:                 {m.model_name} ({m.mode})",
        f"run success:           {'yes' if m.success else 'no: ' + (m.error or '')}",
        f"torch ops before:      {m.ops_before} ({m.ops_before_unique} unique)",
        f"torch ops remaining:   {m.ops_remaining} ({m.ops_remaining_unique} unique)",
    ]
    for r in m.remaining:
        lines.append(f"    {r['count']:4d} x {r['op']}: {r['reason']}")
    lines += [
        f"to/from device:        {m.to_device} / {m.from_device} transfers per call "
        f"({mb(m.to_device_bytes)} / {mb(m.from_device_bytes)})",
        f"TT-NN op launches:     {m.op_launches} per call",
        f"eager run:             {m.eager_ms} ms",
        f"compiled first run:    {m.compiled_first_ms} ms (includes compilation)",
        f"compiled steady state: {m.compiled_ms} ms (median; simulated device on this CPU)",
        f"{'accuracy (tokens):' if m.generation else 'accuracy (PCC):':<23}{m.accuracy} %",
        f"peak device memory:    DRAM {mb(m.peak_dram_bytes)}, L1 {mb(m.peak_l1_bytes)}",
        f"compiled graphs:       {m.graphs} ({m.graph_breaks} graph breaks)",
        f"weight precision:      {m.precision} (activations in {m.placement})",
        f"dispatch:              {m.trace}",
    ]
    if m.dynamic_programs:
        lines.append(f"dynamic-shape programs: {len(m.dynamic_programs)} "
                     f"({'; '.join(p['shapes'] for p in m.dynamic_programs[:4])}"
                     f"{' ...' if len(m.dynamic_programs) > 4 else ''})")
    if m.mesh:
        lines += format_mesh(m.mesh)
    if m.modelled:
        lines += format_modelled(m.modelled)
    return "\n".join(lines)


def format_mesh(mesh: dict) -> list:
    chips = mesh["per_chip"]
    splits = "; ".join(f"graph {p['graph']}: {p['mode']}" + (f" (batch {p['batch']})" if p["mode"] == "data" else
                       f" ({p['reason']})") for p in mesh["split"]) or "-"
    return [
        f"mesh:                  {mesh['shape']} ({mesh['chips']} chips); {splits}",
        f"per chip:              peak DRAM {max(c['peak_dram_bytes'] for c in chips) / 2**20:.2f} MiB, "
        f"L1 {max(c['peak_l1_bytes'] for c in chips) / 2**20:.2f} MiB; host<->device "
        f"{max(c['to_device_bytes'] + c['from_device_bytes'] for c in chips) / 2**10:.1f} KiB; "
        f"{max(c['launches'] for c in chips)} launches; {max(c['collectives'] for c in chips)} collectives; "
        f"modelled {max(c['modelled_ms'] for c in chips)} ms (slowest chip)",
    ]
