"""The tracer: what the fx graphs of a model hold, before lowering (the aten graph) and after (TT-NN calls).

    from torch_ttnn.tools import stat
    option = stat.TorchStatOption(model_name="mlp", out_folder="stat")
    model = torch.compile(model, backend=stat.backend, options=option)   # the `torch_stat` backend
    model(x)            # records the aten graph, writes stat/raw/fw_mlp__aten_0.json, runs it with torch

`trace_model(name, out_folder, trace_orig=..., trace_modi=...)` does both stages for a zoo model (what
tools/stat_models.py and `torch-ttnn stat` run). One JSON file per graph under OUT/raw/:

    {"model": "mlp", "stage": "aten" | "ttnn", "kind": "forward" | "backward" | "inference",
     "direction": "fw" | "bw", "index": 0, "node_count": N,
     "nodes": [{"name", "op", "op_type", "inputs": [TENSOR...], "outputs": [TENSOR...], ...}]}

with TENSOR = {"shape", "dtype", "size_bytes"} (torch dtype sizes), and for TT-NN values also "layout",
"torch_dtype" and "padded_shape"/"padded_size_bytes" (the tile padding): sizes are those of the data type
the value really has (bfloat16 on the device is 2 bytes per element).
"""
from __future__ import annotations

import json
import logging
import operator
import os
import re
import time
from dataclasses import dataclass, field
from typing import Optional

import torch
import torch.fx

from ..compiler.meta import ATEN, DEALLOC, DM_INSERTED, FALLBACK, TT, TT_MULTI
from .common import (TT_ELEMENT_BYTES, backward_of, call, jsonable, load_model, metrics_from_option, numel,
                     padded_tile_shape, short_error)

log = logging.getLogger("torch_ttnn")

STAGES = {"orig": "aten", "modi": "ttnn"}


# --- what a node holds ------------------------------------------------------------------------------------


def op_type(node: torch.fx.Node) -> str:
    """The name a statistic groups a node by: aten.add.Tensor, ttnn.matmul, getitem, placeholder..."""
    if node.op == "call_function":
        t = node.target
        fq = getattr(t, "python_fully_qualified_name", None)   # ttnn operations (real and simulated)
        if isinstance(fq, str):
            return fq
        if isinstance(t, torch._ops.OpOverload) or isinstance(t, torch._ops.OpOverloadPacket):
            return str(t)
        if t is operator.getitem:
            return "getitem"
        return getattr(t, "__name__", None) or str(t)
    if node.op == "call_method":
        return f"method.{node.target}"
    if node.op == "call_module":
        return f"module.{node.target}"
    return node.op


def _tt_dtype_name(dtype) -> str:
    return getattr(dtype, "name", str(dtype)).upper()


def tensor_info(v, tt=None) -> Optional[dict]:
    """Shape, dtype and size in bytes of a value (FakeTensor or tensor) as the graph holds it."""
    if not isinstance(v, torch.Tensor):
        return None
    shape = [jsonable(d) for d in v.shape]
    static = all(isinstance(d, int) for d in shape)
    info = {"shape": shape, "dtype": str(v.dtype)}
    if tt is None:
        info["size_bytes"] = int(numel(shape) * v.dtype.itemsize) if static else None
        return info
    name = _tt_dtype_name(tt.dtype)
    layout = getattr(tt.layout, "name", str(tt.layout)).upper()
    per = TT_ELEMENT_BYTES.get(name, float(v.dtype.itemsize))
    info.update({"dtype": f"ttnn.{name.lower()}", "torch_dtype": str(v.dtype), "layout": layout})
    if static:
        info["size_bytes"] = int(round(numel(shape) * per))
        padded = padded_tile_shape(shape) if layout == "TILE" else shape
        info["padded_shape"] = padded
        info["padded_size_bytes"] = int(round(numel(padded) * per))
    else:
        info["size_bytes"] = None
    return info


def value_infos(node) -> list:
    """Infos of what a node yields (several for a multi-output node)."""
    if not isinstance(node, torch.fx.Node):
        return []
    v = node.meta.get("val")
    tt = node.meta.get(TT)
    if isinstance(v, (tuple, list)):
        return [i for i in (tensor_info(x) for x in v) if i is not None]
    i = tensor_info(v, tt)
    return [] if i is None else [i]


def node_record(node: torch.fx.Node) -> dict:
    ins: list = []
    if node.op == "output":
        args = node.args[0]
    else:
        args = (node.args, node.kwargs)
    torch.fx.map_arg(args, lambda n: ins.append(n) or n)
    rec = {"name": node.name, "op": node.op, "op_type": op_type(node),
           "inputs": [i for n in ins for i in value_infos(n)],
           "outputs": [] if node.op == "output" else value_infos(node)}
    if node.meta.get(TT) is not None or node.meta.get(TT_MULTI):
        rec["device"] = True
    aten = node.meta.get(ATEN)
    if aten is not None:
        rec["aten"] = str(aten)
    if node.meta.get(FALLBACK):
        rec["fallback"] = node.meta[FALLBACK]
    if node.meta.get(DM_INSERTED):
        rec["inserted"] = "data_movement"
    if node.meta.get(DEALLOC):
        rec["inserted"] = "deallocate"
    return rec


def graph_record(gm: torch.fx.GraphModule, *, model: str, stage: str, kind: str, index: int) -> dict:
    nodes = [node_record(n) for n in gm.graph.nodes]
    return {"model": model, "stage": stage, "kind": kind, "direction": "bw" if kind == "backward" else "fw",
            "index": index, "node_count": len(nodes), "nodes": nodes}


def safe_name(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.\-]+", "--", name)


def write_graph(out_folder: str, record: dict) -> str:
    raw = os.path.join(out_folder, "raw")
    os.makedirs(raw, exist_ok=True)
    path = os.path.join(raw, f"{record['direction']}_{safe_name(record['model'])}__{record['stage']}_"
                             f"{record['index']}.json")
    with open(path, "w") as f:
        json.dump(record, f, indent=1)
    return path


# --- profiling: one profiler range per node ------------------------------------------------------------


class _ProfiledInterpreter(torch.fx.Interpreter):
    def run_node(self, n):
        if n.op in ("placeholder", "output", "get_attr"):
            return super().run_node(n)
        with torch.profiler.record_function(f"{op_type(n)} [{n.name}]"):
            return super().run_node(n)


def profiled(gm: torch.fx.GraphModule):
    """A callable running `gm` node by node, each node a named range in a PyTorch profiler trace."""
    def run(*args):
        return _ProfiledInterpreter(gm).run(*args)
    return run


# --- the torch_stat backend -------------------------------------------------------------------------------


@dataclass
class StatGraph:
    kind: str
    graph_module: torch.fx.GraphModule


class TorchStatOption:
    """Options of the `torch_stat` backend: records the aten graphs (no lowering) and runs them with torch.

    model_name: the name in the files written; out_folder: where raw/ JSON files go (None: nothing written);
    gen_graphviz: SVG of each aten graph under out_folder/models/<model>/graphviz;
    profile_nodes: run graphs node by node with a profiler range per node.
    """

    def __init__(self, model_name: str = "model", out_folder: Optional[str] = None, gen_graphviz: bool = False,
                 profile_nodes: bool = False):
        self.model_name = model_name
        self.out_folder = out_folder
        self.gen_graphviz = gen_graphviz
        self.profile_nodes = profile_nodes
        self.graphs: list = []          # StatGraph, in compile order
        self.files: list = []           # JSON files written

    def records(self) -> list:
        counts: dict = {}
        out = []
        for g in self.graphs:
            direction = "bw" if g.kind == "backward" else "fw"
            i = counts.get(direction, 0)
            counts[direction] = i + 1
            out.append(graph_record(g.graph_module, model=self.model_name, stage="aten", kind=g.kind, index=i))
        return out


def backend(gm: torch.fx.GraphModule, example_inputs, options: Optional[TorchStatOption] = None):
    """The `torch_stat` backend: aot_autograd with the decompositions of torch_ttnn, no lowering."""
    from torch._dynamo.backends.common import aot_autograd
    from torch._functorch.aot_autograd import make_boxed_func

    from ..compiler.decompositions import decomposition_table
    option = options if options is not None else TorchStatOption()

    def compiler(kind):
        def compile_one(agm: torch.fx.GraphModule, ex):
            option.graphs.append(StatGraph(kind, agm))
            direction = "bw" if kind == "backward" else "fw"
            index = sum(1 for g in option.graphs if ("bw" if g.kind == "backward" else "fw") == direction) - 1
            if option.out_folder:
                rec = graph_record(agm, model=option.model_name, stage="aten", kind=kind, index=index)
                option.files.append(write_graph(option.out_folder, rec))
                if option.gen_graphviz:
                    from .graphviz import write_pass_svg
                    write_pass_svg(agm, os.path.join(option.out_folder, "models", safe_name(option.model_name),
                                                     "graphviz"), f"aten_{kind}{index}", "aten")
            def run(*args):   # profile_nodes is read at each call: it can be switched on after compiling
                return profiled(agm)(*args) if option.profile_nodes else agm(*args)
            return make_boxed_func(run)
        return compile_one

    return aot_autograd(fw_compiler=compiler("forward"), bw_compiler=compiler("backward"),
                        inference_compiler=compiler("inference"),
                        decompositions=decomposition_table())(gm, example_inputs)


# --- tracing a model --------------------------------------------------------------------------------------


@dataclass
class TraceResult:
    model_name: str
    backward: bool
    graphs: list = field(default_factory=list)     # {"stage", "kind", "index", "node_count", "file"}
    errors: dict = field(default_factory=dict)     # stage -> error message
    profiles: list = field(default_factory=list)
    metrics: Optional[dict] = None                 # torch_ttnn.metrics.ModelMetrics.as_dict() (ttnn stage)
    seconds: float = 0.0

    def as_dict(self) -> dict:
        return {"model_name": self.model_name, "backward": self.backward, "graphs": self.graphs,
                "errors": self.errors, "profiles": self.profiles, "metrics": self.metrics,
                "seconds": round(self.seconds, 2)}


def _run(compiled, inputs, backward: bool):
    ctx = torch.enable_grad() if backward else torch.no_grad()
    with ctx:
        out = call(compiled, inputs)
        if backward:
            backward_of(out)
    return out


def _profile(out_folder, name, stage, compiled, inputs, backward) -> str:
    from torch.profiler import ProfilerActivity, profile
    path = os.path.join(out_folder, "profile", f"{safe_name(name)}__{stage}.json")
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with profile(activities=[ProfilerActivity.CPU], record_shapes=True) as prof:
        with torch.profiler.record_function(f"{name} ({stage}{', fw+bw' if backward else ''})"):
            _run(compiled, inputs, backward)
    prof.export_chrome_trace(path)
    return path


def trace_model(name: str, out_folder: str = "stat", *, trace_orig: bool = True, trace_modi: bool = False,
                backward: bool = False, profile: bool = False, graphviz: bool = False, device=None,
                build=None) -> TraceResult:
    """Trace `name` (a zoo model, or `build() -> (model, inputs)`): JSON per graph under out_folder/raw/."""
    import torch._dynamo
    t0 = time.perf_counter()
    res = TraceResult(name, backward)

    def fresh():
        torch._dynamo.reset()
        model, inputs = build() if build is not None else load_model(name)[:2]
        if backward:
            model.train()
        return model, inputs

    if trace_orig:
        try:
            model, inputs = fresh()
            option = TorchStatOption(name, out_folder, gen_graphviz=graphviz, profile_nodes=False)
            compiled = torch.compile(model, backend=backend, options=option)
            _run(compiled, inputs, backward)
            for rec, path in zip(option.records(), option.files):
                res.graphs.append({"stage": "aten", "kind": rec["kind"], "index": rec["index"],
                                   "node_count": rec["node_count"], "file": path})
            if profile:
                option.profile_nodes = True   # the graphs compiled above now run node by node
                res.profiles.append(_profile(out_folder, name, "aten", compiled, inputs, backward))
        except Exception as e:
            log.debug("trace of %s (aten) failed", name, exc_info=True)
            res.errors["aten"] = short_error(e)

    if trace_modi:
        import torch_ttnn
        from .. import runtime
        option = None
        try:
            model, inputs = fresh()
            dev = device if device is not None else runtime.open_device()
            ref = None
            if not backward:
                with torch.no_grad():
                    ref = call(model, inputs)
            # profiled: every node runs as a named range, which a replayed trace would skip
            option = torch_ttnn.TorchTtnnOption(device=dev, gen_graphviz=graphviz, trace=not profile,
                                                metrics_path=os.path.join(out_folder, "models", safe_name(name)))
            compiled = torch.compile(model, backend=torch_ttnn.backend, options=option)
            counters = getattr(dev, "counters", None)
            if counters is not None:
                counters.reset()
            out = _run(compiled, inputs, backward)
            m = metrics_from_option(name, option, mode="train" if backward else "eval", device=dev)
            if ref is not None:
                from ..metrics import accuracy
                m.accuracy = accuracy(out, ref)
            m.success = True
            res.metrics = m.as_dict()
            if profile:
                for gm in option.results.graph_modules:
                    gm.forward = profiled(gm)
                res.profiles.append(_profile(out_folder, name, "ttnn", compiled, inputs, backward))
        except Exception as e:
            log.debug("trace of %s (ttnn) failed", name, exc_info=True)
            res.errors["ttnn"] = short_error(e)
            if option is not None:
                m = metrics_from_option(name, option, mode="train" if backward else "eval")
                m.error = res.errors["ttnn"]
                res.metrics = m.as_dict()
        if option is not None:   # graphs compiled before a failure are still written
            counts: dict = {}
            for gm, report in zip(option.results.graph_modules, option.results.reports):
                direction = "bw" if report.kind == "backward" else "fw"
                i = counts.get(direction, 0)
                counts[direction] = i + 1
                rec = graph_record(gm, model=name, stage="ttnn", kind=report.kind, index=i)
                path = write_graph(out_folder, rec)
                res.graphs.append({"stage": "ttnn", "kind": report.kind, "index": i,
                                   "node_count": rec["node_count"], "file": path})
    torch._dynamo.reset()
    res.seconds = time.perf_counter() - t0
    return res


DEFAULT_MODELS = ["mnist", "mlp", "autoencoder-linear", "transformer-block"]


def format_trace_results(results: list) -> str:
    from .common import table
    rows = []
    for r in results:
        by = {}
        for g in r.graphs:
            key = (g["stage"], "bw" if g["kind"] == "backward" else "fw")
            by[key] = by.get(key, 0) + g["node_count"]
        m = r.metrics or {}
        rows.append([r.model_name, by.get(("aten", "fw"), ""), by.get(("aten", "bw"), ""),
                     by.get(("ttnn", "fw"), ""), by.get(("ttnn", "bw"), ""),
                     f"{m['ops_remaining']}/{m['ops_before']}" if m.get("ops_before") else "",
                     f"{r.seconds:.1f}", "; ".join(f"{k}: {v}" for k, v in r.errors.items()) or "ok"])
    return table(rows, ["model", "aten fw", "aten bw", "ttnn fw", "ttnn bw", "host/aten ops", "s", "status"],
                 align="lrrrrrrl")


# --- command line (tools/stat_models.py and `torch-ttnn stat`) ----------------------------------------------


def add_arguments(p) -> None:
    p.add_argument("models", nargs="*", metavar="MODEL", help="models to trace (also --model)")
    p.add_argument("--model", action="append", default=[], help="a model to trace (repeatable); default: "
                   + ", ".join(DEFAULT_MODELS))
    p.add_argument("--model_list", nargs="+", default=[], help="models to trace (the original's flag)")
    p.add_argument("--model_list_txt", help="a file with one model name a line (# comments)")
    p.add_argument("--trace_orig", action="store_true", help="trace the aten graphs (torch_stat backend); "
                   "the default when neither --trace_orig nor --trace_modi is given")
    p.add_argument("--trace_modi", action="store_true", help="trace the lowered graphs (torch_ttnn backend)")
    p.add_argument("--backward", action="store_true", help="also the backward graphs (training mode)")
    p.add_argument("--profile", action="store_true", help="PyTorch profiler trace per model under OUT/profile/")
    p.add_argument("--graphviz", action="store_true", help="SVG of the graphs under OUT/models/<model>/graphviz")
    p.add_argument("--out_folder", "-o", default="stat", help="output folder (default: stat)")
    p.add_argument("--report", action="store_true", help="then write the report (tools/generate_report.py)")
    p.add_argument("--json", action="store_true", help="print the results as JSON")


def quiet_warnings() -> None:
    """aot_autograd warns about compilers taking unboxed arguments (torch_ttnn's): noise in the tools."""
    import warnings
    warnings.filterwarnings("ignore", message=".*doesn't take boxed arguments.*")


def run_from_args(args) -> int:
    import sys
    quiet_warnings()

    from .common import progress
    models = list(args.models) + list(args.model) + list(args.model_list)
    if args.model_list_txt:
        with open(args.model_list_txt) as f:
            models += [m.strip() for m in f if m.strip() and not m.strip().startswith("#")]
    models = models or list(DEFAULT_MODELS)
    trace_orig, trace_modi = args.trace_orig, args.trace_modi
    if not trace_orig and not trace_modi:
        trace_orig = True
    device = None
    if trace_modi:
        from .. import runtime
        device = runtime.open_device()
    results = []
    bar = progress(models, desc="tracing")
    for name in bar:
        if hasattr(bar, "set_postfix_str"):
            bar.set_postfix_str(name)
        results.append(trace_model(name, args.out_folder, trace_orig=trace_orig, trace_modi=trace_modi,
                                   backward=args.backward, profile=args.profile, graphviz=args.graphviz,
                                   device=device))
    rep = None
    if args.report:
        from .report import generate_report
        rep = generate_report(args.out_folder, progress=progress)
    if args.json:
        d = {"out_folder": args.out_folder, "models": [r.as_dict() for r in results]}
        if rep is not None:
            d["report"] = rep.as_dict()
        print(json.dumps(d, indent=1, default=str))
    else:
        print(format_trace_results(results))
        files = sum(len(r.graphs) for r in results)
        print(f"\n{files} graph files in {os.path.join(args.out_folder, 'raw')}/"
              + (f"; profiles in {os.path.join(args.out_folder, 'profile')}/" if args.profile else ""))
        if rep is not None:
            from .report import format_trace_report
            print()
            print(format_trace_report(rep))
    sys.stdout.flush()
    return 0 if all(not r.errors for r in results) else 1


def main(argv=None) -> int:
    import argparse
    p = argparse.ArgumentParser(prog="stat_models.py", description="Trace the fx graphs of models before "
                                "(aten) and after (TT-NN) lowering: one JSON file per graph under OUT/raw/.")
    add_arguments(p)
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.ERROR, format="%(message)s")
    return run_from_args(args)
