"""The `torch-ttnn` command (also `python -m torch_ttnn`).

    torch-ttnn run MODEL        compile, run, compare with eager, print the metrics
    torch-ttnn report MODEL     lowering report: ops lowered, fallbacks with reasons, transfers, memory
    torch-ttnn ops              the lowering table: every aten op with a rule or a known reason
    torch-ttnn models           the models the commands know
    torch-ttnn stat [MODEL...]  trace the fx graphs before/after lowering (JSON per graph; tools/stat_models.py)
    torch-ttnn export MODEL OUT export the compiled model as a standalone TT-NN script (+ safetensors)
    torch-ttnn perf MODEL       modelled device time on one chip: latency, throughput, bounds, top ops
"""
from __future__ import annotations

import argparse
import json
import logging
import os
import sys


def _measure(args):
    from . import open_device, zoo
    from .metrics import measure
    if args.model not in zoo.names():
        return _measure_table_model(args)
    entry = zoo.get(args.model)
    model, inputs = entry.build()
    if getattr(args, "batch", None):      # as the table models' subprocess does (TORCH_TTNN_BATCH)
        from .metrics import repeat_batch
        inputs = repeat_batch(inputs, args.batch)
    if getattr(args, "mesh", None):
        from . import runtime
        device = runtime.open_mesh(args.mesh)
    else:
        device = open_device()
    kwargs = {"parallel": args.parallel} if getattr(args, "parallel", None) else None
    return device, measure(entry.name, model, inputs, device=device, runs=args.runs, option_kwargs=kwargs)


def _measure_table_model(args):
    """A model of the README table: its zoo test runs in a subprocess (as `torch-ttnn zoo` does) and writes the
    metrics; they come back as ModelMetrics (without the compiled graphs, which stay in that process)."""
    import dataclasses
    import pathlib
    import subprocess
    import tempfile
    from .metrics import ModelMetrics
    from .perf_report import ROOT, zoo_node
    node = zoo_node(args.model)
    out = pathlib.Path(tempfile.mkdtemp(prefix="torch-ttnn-run-"))
    env = dict(os.environ, TORCH_TTNN_METRICS_DIR=str(out), TORCH_TTNN_RUNS=str(args.runs), HF_HUB_OFFLINE="1",
               TORCH_TTNN_STRICT_PASSES="0")
    if getattr(args, "mesh", None):
        env["TORCH_TTNN_MESH"] = args.mesh
    if getattr(args, "parallel", None):
        env["TORCH_TTNN_PARALLEL"] = args.parallel
    if getattr(args, "batch", None):
        env["TORCH_TTNN_BATCH"] = str(args.batch)
    proc = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-x", node], cwd=ROOT,
                          env=env, capture_output=True, text=True)
    files = sorted(out.glob("*.json"))
    if not files:
        raise RuntimeError(f"{node} wrote no metrics:\n{(proc.stdout + proc.stderr)[-2000:]}")
    d = json.loads(files[0].read_text())
    known = {f.name for f in dataclasses.fields(ModelMetrics)}
    m = ModelMetrics(**{k: v for k, v in d.items() if k in known})
    return f"simulated device (subprocess, {node})", m


def cmd_run(args) -> int:
    from .metrics import format_metrics
    try:
        device, m = _measure(args)
    except (KeyError, RuntimeError) as e:
        print(f"torch-ttnn run: {e.args[0] if e.args else e}", file=sys.stderr)
        return 2
    if args.json:
        d = m.as_dict()
        print(json.dumps(d, indent=1, default=str))
    else:
        print(f"device: {device!r}")
        print(format_metrics(m))
    return 0 if m.success else 1


def cmd_report(args) -> int:
    from .compiler.report import format_report
    try:
        device, m = _measure(args)
    except (KeyError, RuntimeError) as e:
        print(f"torch-ttnn report: {e.args[0] if e.args else e}", file=sys.stderr)
        return 2
    if not hasattr(m, "results"):    # a table model measured in a subprocess: its metrics, not its graphs
        if args.json:
            print(json.dumps({"remaining": m.remaining, "transfers": {"to_device": m.to_device,
                              "from_device": m.from_device}, "peak_dram_bytes": m.peak_dram_bytes,
                              "peak_l1_bytes": m.peak_l1_bytes}, indent=1, default=str))
            return 0
        print(f"{m.model_name}: {m.ops_before} aten ops, {m.ops_remaining} left on the host; "
              f"{m.to_device} / {m.from_device} transfers per call")
        for r in m.remaining:
            print(f"    {r['count']:4d} x {r['op']}: {r['reason']}")
        print(f"peak device memory: DRAM {m.peak_dram_bytes} B, L1 {m.peak_l1_bytes} B")
        return 0
    reports = m.results.reports
    if args.json:
        print(json.dumps({"graphs": [r.as_dict() for r in reports],
                          "transfers": {"to_device": m.to_device, "from_device": m.from_device},
                          "peak_dram_bytes": m.peak_dram_bytes, "peak_l1_bytes": m.peak_l1_bytes},
                         indent=1, default=str))
        return 0
    print(format_report(reports, {"to_device": m.to_device, "from_device": m.from_device}))
    print(f"peak device memory: DRAM {m.peak_dram_bytes} B, L1 {m.peak_l1_bytes} B")
    for p in m.results.parallel:
        if p["mode"] == "data":
            how = (f"batch {p['batch']} split over {p['chips']} chips (inputs ShardTensorToMesh(dim=0), outputs "
                   f"ConcatMeshToTensor(dim=0), parameters replicated)")
        elif p["mode"] == "tensor":
            how = (f"tensor parallel over {p['chips']} chips: {len(p['split_weights'])} weights split "
                   f"(ShardTensorToMesh), {len(p['collectives'])} collectives")
        else:
            how = f"whole on each of {p['chips']} chips: {p['reason']}"
        reduced = f"; all_reduce of outputs {p['all_reduced']}" if p.get("all_reduced") else ""
        print(f"graph {p['graph']} ({p.get('kind', 'inference')}): {how}{reduced}")
        for name, dim in (p.get("split_weights") or {}).items():
            print(f"  {name}: split along dim {dim}")
        for c in p.get("collectives") or ():
            print(f"  {c}")
    return 0


def ops_table() -> list:
    from .compiler import registry
    registry.load_rules()
    rows = [{"op": str(t), "lowered": True, "family": r.family,
             "conditions": [getattr(p, "__name__", repr(p)) for p in r.when]} for t, r in registry.RULES.items()]
    rows += [{"op": str(t), "lowered": False, "reason": reason} for t, reason in registry.UNSUPPORTED.items()]
    return sorted(rows, key=lambda r: r["op"])


def cmd_ops(args) -> int:
    rows = ops_table()
    if args.json:
        print(json.dumps(rows, indent=1))
        return 0
    width = max(len(r["op"]) for r in rows)
    for r in rows:
        if r["lowered"]:
            print(f"{r['op']:<{width}}  lowered   [{r['family']}]")
        else:
            print(f"{r['op']:<{width}}  host      {r['reason']}")
    n = sum(r["lowered"] for r in rows)
    print(f"\n{n} aten overloads lowered, {len(rows) - n} with a known reason to stay on the host")
    return 0


def cmd_zoo(args) -> int:
    from .zoo import runner
    if args.list:
        for node in runner.collect(args.k):
            print(node)
        return 0
    res = runner.run(args.k, timeout=args.timeout, mem_gb=args.mem_gb, force=args.force, jobs=args.jobs,
                     naive=args.naive)
    if args.json:
        print(json.dumps(res))
    else:
        print(f"zoo: {res['total']} tests, {res['ran']} run ({res['passed']} passed, {res['failed']} failed, "
              f"{res['timeout']} timed out), {res['skipped']} skipped (metrics current), {res['jobs']} at a time")
        print("regenerate the README table with: python tools/collect_metrics.py")
    return 0


def cmd_models(args) -> int:
    from . import zoo
    for name in zoo.names():
        print(f"{name:24s} {zoo.get(name).description}")
    return 0


def cmd_export(args) -> int:
    from . import export
    from .tools.common import load_model
    from .tools.stat import quiet_warnings
    quiet_warnings()
    model, inputs, _ = load_model(args.model)
    res = export.export_model(model, inputs, args.out, name=args.model)
    proc = None
    if args.run or args.accuracy:
        proc = export.run_script(res.script, *(["--accuracy"] if args.accuracy else []), simulated=True)
    if args.json:
        d = res.as_dict()
        if proc is not None:
            d["run"] = {"returncode": proc.returncode, "stdout": proc.stdout, "stderr": proc.stderr[-4000:]}
        print(json.dumps(d, indent=1))
    else:
        print(f"exported {args.model}: {res.graphs} graph(s), {res.ttnn_ops} TT-NN ops, {res.host_ops} host ops "
              f"({res.checked_ops} checked by --accuracy)")
        for f in (res.script, res.weights, res.inputs):
            print(f"  {f}  ({os.path.getsize(f) / 1024:.1f} KiB)")
        if res.imports:
            print(f"  imports from torch_ttnn: {', '.join(res.imports)}")
        print(f"run it: python {res.script} --simulated [--accuracy]   (on a chip: without --simulated)")
        if proc is not None:
            print()
            print(proc.stdout, end="")
            if proc.returncode:
                print(proc.stderr[-4000:], end="", file=sys.stderr)
    return 0 if proc is None or proc.returncode == 0 else 1


def cmd_perf(args) -> int:
    from .perf_report import compare, format_compare, format_profile, profile
    try:
        if args.compare:
            c = compare(args.model, arch=args.arch, batch=args.batch, runs=args.runs)
        else:
            p = profile(args.model, arch=args.arch, batch=args.batch, out_dir=args.out, runs=args.runs,
                        optimize=not args.naive)
    except (KeyError, ValueError, RuntimeError) as e:
        print(f"torch-ttnn perf: {e.args[0] if e.args else e}", file=sys.stderr)
        return 2
    if args.compare:
        print(json.dumps(c, indent=1, default=str) if args.json else format_compare(c, top=args.top))
        return 0 if all(p.get("success") for p in c.values()) else 1
    if args.json:
        print(json.dumps(p, indent=1, default=str))
    else:
        print(format_profile(p, top=args.top))
    return 0 if p.get("success") else 1


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="torch-ttnn", description="PyTorch 2 compiler for Tenstorrent devices")
    sub = p.add_subparsers(dest="cmd", required=True)
    for name, fn, helptext in (("run", cmd_run, "compile and run a model, print its metrics"),
                               ("report", cmd_report, "lowering report of a model")):
        s = sub.add_parser(name, help=helptext)
        s.add_argument("model")
        s.add_argument("--runs", type=int, default=3)
        s.add_argument("--json", action="store_true")
        s.add_argument("--mesh", default=None, help="run on a simulated mesh: a system (n300, t3000, galaxy, "
                                                    "p150x4, p150x8) or a shape such as 2x4")
        s.add_argument("--parallel", default=None, choices=("auto", "data", "tensor"),
                       help="how a mesh splits the model: the batch (data, the default) or the weights of its "
                            "linear layers (tensor)")
        s.add_argument("--batch", type=int, default=None,
                       help="repeat the inputs N times along their first dim (e.g. one sample per chip)")
        s.set_defaults(fn=fn)
    s = sub.add_parser("ops", help="the lowering table")
    s.add_argument("--json", action="store_true")
    s.set_defaults(fn=cmd_ops)
    s = sub.add_parser("zoo", help="run the model zoo (one subprocess per model), resumable")
    s.add_argument("-k", default=None, help="pytest -k expression selecting models")
    s.add_argument("-j", "--jobs", type=int, default=1, help="model processes at once (CPUs / N threads each)")
    s.add_argument("--timeout", type=float, default=1800.0, help="seconds per model")
    s.add_argument("--mem-gb", type=float, default=20.0, help="address-space cap per model process")
    s.add_argument("--force", action="store_true", help="rerun models whose metrics are current")
    s.add_argument("--list", action="store_true", help="only list the model tests")
    s.add_argument("--naive", action="store_true",
                   help="measure the naive programs (optimize=False) into metrics/naive: the baseline of "
                        "benchmarks/optimizer_speedup.py --zoo")
    s.add_argument("--json", action="store_true")
    s.set_defaults(fn=cmd_zoo)
    s = sub.add_parser("models", help="list the models")
    s.set_defaults(fn=cmd_models)
    s = sub.add_parser("stat", help="trace the fx graphs of models (tools/stat_models.py)")
    from .tools import stat as _stat
    _stat.add_arguments(s)
    s.set_defaults(fn=_stat.run_from_args)
    s = sub.add_parser("perf", help="modelled device time of a compiled model on one simulated chip")
    s.add_argument("model")
    s.add_argument("--arch", default=None, help="n150 (default), n300 (one chip) or p150")
    s.add_argument("--batch", type=int, default=1, help="repeat the inputs N times along their first dim")
    s.add_argument("--out", default=None, help="folder for perf.json, ops.csv and trace.json")
    s.add_argument("--top", type=int, default=10)
    s.add_argument("--runs", type=int, default=1)
    s.add_argument("--naive", action="store_true", help="profile the naive program (optimize=False)")
    s.add_argument("--compare", action="store_true",
                   help="naive and optimized programs side by side, per op (what the optimizer changed)")
    s.add_argument("--json", action="store_true")
    s.set_defaults(fn=cmd_perf)

    s = sub.add_parser("export", help="export a compiled model as a standalone TT-NN Python script")
    s.add_argument("model")
    s.add_argument("out", help="output folder (model.py, weights.safetensors, inputs.safetensors)")
    s.add_argument("--run", action="store_true", help="then run the script on the simulated device")
    s.add_argument("--accuracy", action="store_true", help="run it in accuracy mode (PCC per TT-NN op)")
    s.add_argument("--json", action="store_true")
    s.set_defaults(fn=cmd_export)
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.ERROR, format="%(message)s")
    return args.fn(args)


if __name__ == "__main__":
    sys.exit(main())
