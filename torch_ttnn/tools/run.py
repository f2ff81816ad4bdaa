"""Run one model through the TT-NN backend (or the torch_stat backend) and show what it computed.

What tools/run_transformers.py and tools/run_torchvision.py call:

    res = run_model("mnist", backend="torch_ttnn", task="vision")
    print(format_run(res))

- torch_ttnn: compile, run on the device (simulated unless a chip is present), compare with eager; prints the
  model's output (top classes of a classifier; the predicted token ids of a language model), the metrics
  (torch_ttnn.metrics.ModelMetrics: the format of `torch-ttnn run`) and the lowering report.
- torch_stat: the aten graph without lowering, run by torch: the reference (its output, its aten ops).
"""
from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from typing import Any, Optional

import torch

from .common import backward_of, call, load_model, metrics_from_option, short_error


@dataclass
class RunResult:
    model_name: str
    backend: str
    task: str
    output_lines: list = field(default_factory=list)
    metrics: Any = None             # ModelMetrics (torch_ttnn) or None
    report: str = ""                # lowering report (torch_ttnn) or aten op counts (torch_stat)
    aten_ops: dict = field(default_factory=dict)
    files: list = field(default_factory=list)
    error: Optional[str] = None
    output: Any = None

    def as_dict(self) -> dict:
        return {"model_name": self.model_name, "backend": self.backend, "task": self.task,
                "output": self.output_lines, "metrics": self.metrics.as_dict() if self.metrics else None,
                "aten_ops": self.aten_ops, "files": self.files, "error": self.error}


# --- what the output means --------------------------------------------------------------------------------


def _imagenet_labels() -> Optional[list]:
    try:
        from torchvision.models._meta import _IMAGENET_CATEGORIES
        return list(_IMAGENET_CATEGORIES)
    except Exception:
        return None


def _first(out, pred):
    from ..metrics import tensors_of
    if hasattr(out, "logits") and isinstance(out.logits, torch.Tensor) and pred(out.logits):
        return out.logits
    for t in tensors_of(out):
        if t.dtype.is_floating_point and pred(t):
            return t
    return None


def describe_output(out, task: str = "auto", inputs=None, topk: int = 5) -> tuple:
    """(task, lines): top classes of a classifier, predicted token ids of a language model, else shapes."""
    from ..metrics import tensors_of
    lines = []
    lm = None
    if hasattr(out, "logits") and isinstance(out.logits, torch.Tensor) and out.logits.dim() == 3:
        lm = out.logits
    elif task == "language":
        lm = _first(out, lambda t: t.dim() == 3 and t.shape[-1] >= 1000)
    if lm is not None and task in ("auto", "language"):
        ids = lm.argmax(-1)
        lines.append(f"logits {list(lm.shape)}: predicted token ids per position (argmax):")
        for b in range(min(ids.shape[0], 2)):
            seq = ids[b].tolist()
            shown = seq if len(seq) <= 32 else seq[:16] + ["..."] + seq[-8:]
            lines.append(f"  [{b}] {shown}")
        probs = lm[0, -1].float().softmax(-1)
        p, i = probs.topk(min(topk, probs.numel()))
        lines.append("next token after the last position: " +
                     ", ".join(f"{int(t)} ({float(q):.3f})" for t, q in zip(i, p)))
        if isinstance(inputs, dict) and isinstance(inputs.get("input_ids"), torch.Tensor):
            ii = inputs["input_ids"][0].tolist()
            lines.insert(0, f"input_ids {list(inputs['input_ids'].shape)}: "
                            f"{ii if len(ii) <= 32 else ii[:16] + ['...'] + ii[-8:]}")
        return "language", lines
    cls = _first(out, lambda t: t.dim() == 2 and t.shape[-1] >= 2) if task in ("auto", "vision") else None
    if cls is not None:
        labels = _imagenet_labels() if cls.shape[-1] == 1000 else None
        probs = cls[0].float()
        if not (probs.min() >= 0 and abs(float(probs.sum()) - 1) < 1e-3):
            probs = probs.softmax(-1) if probs.max() > 0 or probs.min() < -50 else probs.exp()
        p, i = probs.topk(min(topk, probs.numel()))
        lines.append(f"scores {list(cls.shape)}: top {len(i)} classes of image 0:")
        for q, c in zip(p, i):
            label = f"{int(c):5d} {labels[int(c)]:<28s}" if labels else f"class {int(c):<5d}"
            lines.append(f"  {label} {float(q):.4f}")
        return "vision", lines
    for k, t in enumerate(tensors_of(out)):
        desc = f"output {k}: {list(t.shape)} {str(t.dtype).replace('torch.', '')}"
        if t.numel() and (t.dtype.is_floating_point):
            desc += f"  mean {float(t.float().mean()):.4g} std {float(t.float().std()) if t.numel() > 1 else 0:.4g}"
        lines.append(desc)
    return task if task != "auto" else "other", lines


# --- running ----------------------------------------------------------------------------------------------


def run_model(name: str, backend: str = "torch_ttnn", *, task: str = "auto", graphviz: bool = False,
              backward: bool = False, profile: bool = False, out_folder: Optional[str] = None, runs: int = 1,
              device=None, build=None) -> RunResult:
    """Run `name` (or the model `build()` gives) through `backend`: "torch_ttnn" (compiled, on the device) or
    "torch_stat" (the aten graphs run by torch, for a reference). Each compile has a recompile region of its
    own (isolate_recompiles): nothing compiled before is dropped."""
    if backend not in ("torch_ttnn", "torch_stat"):
        raise ValueError(f"unknown backend {backend!r} (torch_ttnn or torch_stat)")
    res = RunResult(name, backend, task)
    model, inputs = build() if build is not None else load_model(name)[:2]
    if backward:
        model.train()
    run = _run_stat if backend == "torch_stat" else _run_ttnn
    return run(res, name, model, inputs, task=task, graphviz=graphviz, backward=backward, profile=profile,
               out_folder=out_folder, runs=runs, device=device)


def _run_stat(res, name, model, inputs, *, task, graphviz, backward, profile, out_folder, runs, device):
    from . import stat
    grad = torch.enable_grad() if backward else torch.no_grad()
    option = stat.TorchStatOption(name, out_folder, gen_graphviz=graphviz and out_folder is not None)
    compiled = torch.compile(model, backend=stat.backend, options=option, isolate_recompiles=True)
    with grad:
        try:
            out = call(compiled, inputs)
            if backward:
                backward_of(out)
        except Exception as e:
            res.error = short_error(e)
            return res
    res.output = out
    res.task, res.output_lines = describe_output(out, task, inputs)
    ops: dict = {}
    for g in option.graphs:
        for n in g.graph_module.graph.nodes:
            if n.op == "call_function":
                k = stat.op_type(n)
                ops[k] = ops.get(k, 0) + 1
    res.aten_ops = ops
    res.files += option.files
    lines = [f"aten graphs: {len(option.graphs)} ({', '.join(g.kind for g in option.graphs)}); "
             f"{sum(ops.values())} ops, {len(ops)} unique"]
    for op, n in sorted(ops.items(), key=lambda kv: (-kv[1], kv[0])):
        lines.append(f"  {n:5d}  {op}")
    res.report = "\n".join(lines)
    if profile:
        option.profile_nodes = True
        res.files.append(_profile(out_folder or "stat", name, "aten", compiled, inputs, backward))
    return res


def _run_ttnn(res, name, model, inputs, *, task, graphviz, backward, profile, out_folder, runs, device):
    import torch_ttnn
    from .. import runtime
    from ..compiler.report import format_report
    from ..metrics import accuracy
    from .stat import safe_name
    folder = out_folder or "stat"
    dev = device if device is not None else runtime.open_device()
    ref = None
    t0 = time.perf_counter()
    with torch.no_grad():
        if not backward:
            ref = call(model, inputs)
    eager_ms = (time.perf_counter() - t0) * 1000
    option = torch_ttnn.TorchTtnnOption(device=dev, gen_graphviz=graphviz,
                                        metrics_path=os.path.join(folder, "models", safe_name(name)))
    compiled = torch.compile(model, backend=torch_ttnn.backend, options=option, isolate_recompiles=True)
    mem = getattr(dev, "memory", None)
    if mem is not None and hasattr(mem, "reset_peak"):
        mem.reset_peak()
    out, first_ms, steady = _timed_calls(res, compiled, inputs, dev, backward, runs)
    m = metrics_from_option(name, option, mode="train" if backward else "eval", device=dev)
    m.eager_ms = round(eager_ms, 2) if ref is not None else None
    m.compiled_first_ms = None if first_ms is None else round(first_ms, 2)
    m.compiled_ms = None if steady is None else round(steady, 2)
    m.success = res.error is None
    m.error = res.error
    if out is not None and ref is not None:
        m.accuracy = accuracy(out, ref)
    res.metrics = m
    res.report = format_report(option.results.reports, {"to_device": m.to_device, "from_device": m.from_device})
    res.aten_ops = dict(m.aten_ops)
    if out is not None:
        res.output = out
        res.task, res.output_lines = describe_output(out, task, inputs)
        if ref is not None:
            _, ref_lines = describe_output(ref, res.task, inputs)
            res.output_lines += ["eager PyTorch (reference):"] + ["  " + x for x in ref_lines]
    _write_outputs(res, name, option, compiled, inputs, out_folder, folder, profile, backward)
    runtime.release_programs(option.results)
    return res


def _timed_calls(res, compiled, inputs, dev, backward: bool, runs: int) -> tuple:
    """(last output, first call ms, median ms of `runs` later calls); res.error on a failure."""
    out = first_ms = steady = None
    with torch.enable_grad() if backward else torch.no_grad():
        try:
            t0 = time.perf_counter()
            out = call(compiled, inputs)
            if backward:
                backward_of(out)
            first_ms = (time.perf_counter() - t0) * 1000
            times = []
            counters = getattr(dev, "counters", None)
            for _ in range(max(1, runs)):
                if counters is not None:
                    counters.reset()
                t0 = time.perf_counter()
                out = call(compiled, inputs)
                if backward:
                    backward_of(out)
                times.append((time.perf_counter() - t0) * 1000)
            steady = sorted(times)[len(times) // 2]
        except Exception as e:
            res.error = short_error(e)
    return out, first_ms, steady


def _write_outputs(res, name, option, compiled, inputs, out_folder, folder, profile: bool, backward: bool) -> None:
    """The lowered graphs as JSON records under out_folder; the per-node profile when asked."""
    from .stat import graph_record, profiled, write_graph
    if out_folder is not None:
        counts: dict = {}
        for gm, report in zip(option.results.graph_modules, option.results.reports):
            d = "bw" if report.kind == "backward" else "fw"
            i = counts.get(d, 0)
            counts[d] = i + 1
            res.files.append(write_graph(out_folder, graph_record(gm, model=name, stage="ttnn", kind=report.kind,
                                                                  index=i)))
    if profile and res.error is None:
        for gm in option.results.graph_modules:
            gm.forward = profiled(gm)
        res.files.append(_profile(folder, name, "ttnn", compiled, inputs, backward))


def _profile(folder, name, stage, compiled, inputs, backward) -> str:
    from .stat import _profile as profile_run
    return profile_run(folder, name, stage, compiled, inputs, backward)


def format_run(res: RunResult) -> str:
    from ..metrics import format_metrics
    lines = [f"model {res.model_name} through {res.backend}" + (f": FAILED {res.error}" if res.error else "")]
    if res.output_lines:
        lines += ["", "output:"] + ["  " + x for x in res.output_lines]
    if res.metrics is not None and (res.error is None or res.metrics.graphs):
        lines += ["", format_metrics(res.metrics)]
    if res.report and (res.error is None or res.aten_ops):
        lines += ["", res.report]
    if res.files:
        lines += ["", "files:"] + [f"  {f}" for f in res.files]
    return "\n".join(lines)


def main(argv=None, *, default_model: str, task: str, prog: str) -> int:
    """The command line of tools/run_transformers.py and tools/run_torchvision.py."""
    import argparse
    import json
    import logging
    p = argparse.ArgumentParser(prog=prog, description=f"Run a {task} model of the zoo through the TT-NN "
                                                       "backend (or torch_stat) and print its output.")
    p.add_argument("--model", "-m", default=default_model,
                   help="a model name: torch_ttnn.zoo, the zoo tests' entries, or torchvision")
    p.add_argument("--backend", "-b", default="torch_ttnn", choices=["torch_ttnn", "torch_stat"])
    p.add_argument("--graphviz", action="store_true", help="SVG of the graph after each pass under OUT/models")
    p.add_argument("--backward", action="store_true", help="also run the backward pass (training mode)")
    p.add_argument("--profile", action="store_true", help="PyTorch profiler trace under OUT/profile")
    p.add_argument("--out_folder", "-o", default=None, help="where files go (raw graph JSON; default stat "
                                                              "for --profile/--graphviz)")
    p.add_argument("--runs", type=int, default=1, help="steady-state runs after the first (median)")
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.ERROR, format="%(message)s")
    from .stat import quiet_warnings
    quiet_warnings()
    res = run_model(args.model, args.backend, task=task, graphviz=args.graphviz, backward=args.backward,
                    profile=args.profile, out_folder=args.out_folder, runs=args.runs)
    if args.json:
        print(json.dumps(res.as_dict(), indent=1, default=str))
    else:
        print(format_run(res))
    return 0 if res.error is None else 1
