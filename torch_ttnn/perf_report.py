"""`torch-ttnn perf MODEL`: the modelled device time of a compiled model on one simulated chip.

The model is compiled and run on the simulated device of the chosen arch; the performance model
(torch_ttnn/sim/perf) times every launch and transfer of one call. The report: latency per call as dispatched
and with a captured trace, throughput at the batch, what bounds the program, the utilisation of the matrix
engine and of DRAM, the top ops by modelled time; optionally the per-launch CSV (the columns of TT-Metal's ops
performance report) and a Perfetto/Chrome trace. Zoo models of the table run as their pytest test in a
subprocess (as the zoo runner does); the small built-in models run in process.
"""
from __future__ import annotations

import json
import os
import pathlib
import subprocess
import sys
import tempfile

from .metrics import format_modelled

ROOT = pathlib.Path(__file__).resolve().parents[1]


def write_profile(directory, m, device) -> None:
    """Write the profile of a measured model: perf.json (summary + metrics), ops.csv, trace.json."""
    d = pathlib.Path(directory)
    d.mkdir(parents=True, exist_ok=True)
    out = {"model_name": m.model_name, "success": m.success, "error": m.error, "accuracy": m.accuracy,
           "modelled": m.modelled, "op_launches": m.op_launches, "ops_remaining": m.ops_remaining,
           "precision": m.precision, "placement": m.placement, "trace": getattr(m, "trace", None),
           "transfers": [m.to_device, m.from_device], "transfer_bytes": [m.to_device_bytes, m.from_device_bytes]}
    (d / "perf.json").write_text(json.dumps(out, indent=1, default=str))
    if getattr(device, "profiler", None) is not None and device.profiler.rows:
        device.profiler.to_csv(d / "ops.csv")
        device.profiler.to_chrome_trace(d / "trace.json")


def zoo_node(name: str) -> str:
    """The pytest node of the table model `name` (compared without case, spaces or punctuation, so that
    "autoencoder_linear" finds "Autoencoder (linear)"; a unique part of a name works too); a KeyError with the
    close matches otherwise."""
    import difflib
    from . import zoo
    from .zoo import runner
    ids = runner.collect()
    names = {runner._entry_from_id(i): i for i in ids}
    key = _loose(name)
    exact = [i for n, i in names.items() if _loose(n) == key]
    if exact:
        return exact[0]
    loose = [i for n, i in names.items() if key in _loose(n)]
    if len(loose) == 1:
        return loose[0]
    close = difflib.get_close_matches(name, list(names) + zoo.names(), n=6, cutoff=0.5)
    close += [runner._entry_from_id(i) for i in loose if runner._entry_from_id(i) not in close]
    hint = f"; close matches: {', '.join(close[:8])}" if close else ""
    raise KeyError(f"no model {name!r} (torch-ttnn models lists the built-in ones, torch-ttnn zoo --list the "
                   f"table){hint}")


def _loose(name: str) -> str:
    return "".join(c for c in name.lower() if c.isalnum())


def profile(name: str, *, arch: str | None = None, batch: int = 1, out_dir=None, runs: int = 1,
            optimize: bool = True) -> dict:
    """Compile and run `name` on the simulated `arch`; returns perf.json's content (files in out_dir).
    optimize=False profiles the naive program (TorchTtnnOption(optimize=False))."""
    from . import zoo
    if batch < 1:
        raise ValueError(f"--batch must be >= 1, got {batch}")
    out_dir = pathlib.Path(out_dir or tempfile.mkdtemp(prefix="torch-ttnn-perf-"))
    if arch:
        from .sim.arch import resolve
        resolve(arch)        # a clear error for an unknown arch before anything runs
    if name in zoo.names():
        from . import open_device
        from .metrics import measure, repeat_batch
        entry = zoo.get(name)
        model, inputs = entry.build()
        own = None
        if arch:    # a device of its own with that preset (the default device keeps its arch)
            from .sim import device as simdev
            free = max(list(simdev._OPEN_DEVICES) + [0]) + 1
            from .runtime import DEFAULT_TRACE_REGION_SIZE
            device = own = simdev.open_device(device_id=free, l1_small_size=16384, preset=arch,
                                              trace_region_size=DEFAULT_TRACE_REGION_SIZE, num_command_queues=2)
        else:
            device = open_device()
        try:
            m = measure(entry.name, model, repeat_batch(inputs, batch), device=device, runs=runs, profile=True,
                        option_kwargs=None if optimize else {"optimize": False}, stream=optimize)
            write_profile(out_dir, m, device)
        finally:
            if own is not None:
                simdev.close_device(own)
    else:
        node = zoo_node(name)
        env = dict(os.environ, TORCH_TTNN_PERF_DIR=str(out_dir), TORCH_TTNN_BATCH=str(batch),
                   TORCH_TTNN_RUNS=str(runs), HF_HUB_OFFLINE="1", TORCH_TTNN_STRICT_PASSES="0")
        if arch:
            env["TT_SIM_ARCH"] = arch
        if not optimize:
            env["TORCH_TTNN_OPTIMIZE"] = "0"
        proc = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-x", node],
                              cwd=ROOT, env=env, capture_output=True, text=True)
        if not (out_dir / "perf.json").exists():
            tail = (proc.stdout + proc.stderr)[-2000:]
            raise RuntimeError(f"{node} did not produce a profile:\n{tail}")
    result = json.loads((out_dir / "perf.json").read_text())
    result["files"] = {p.name: str(p) for p in out_dir.iterdir()}
    return result


def compare(name: str, **kw) -> dict:
    """The naive program (optimize=False) and the optimized one (defaults), profiled on the same arch."""
    return {"naive": profile(name, optimize=False, **kw), "optimized": profile(name, optimize=True, **kw)}


def format_compare(c: dict, top: int = 15) -> str:
    """What the optimizer changed: the program's settings, latency and transfers, then per TT-NN op the launches
    and modelled kernel time before and after (the ops that gained or lost most first)."""
    a, b = c["naive"], c["optimized"]
    for p in (a, b):
        if not p.get("success"):
            return f"{p['model_name']}: the compiled run failed: {p.get('error')}"
    sa, sb = a["modelled"], b["modelled"]
    rows = [("", "naive", "optimized"),
            ("weights", a.get("precision"), b.get("precision")),
            ("activations in", a.get("placement"), b.get("placement")),
            ("dispatch", a.get("trace"), b.get("trace")),
            ("matmul configs chosen", a.get("matmul_configs", 0), b.get("matmul_configs", 0)),
            ("conv layouts chosen", a.get("conv_layouts", 0), b.get("conv_layouts", 0)),
            ("accuracy (%)", a.get("accuracy"), b.get("accuracy")),
            ("latency (ms)", f"{sa['latency_ms']:.3f}", f"{sb['latency_ms']:.3f}"),
            ("kernel time (ms)", f"{sa['kernel_us'] / 1e3:.3f}", f"{sb['kernel_us'] / 1e3:.3f}"),
            ("launches", sa["launches"], sb["launches"]),
            ("transfers (to/from)", "/".join(map(str, a.get("transfers", []))),
             "/".join(map(str, b.get("transfers", [])))),
            ("bound", sa["bound"], sb["bound"])]
    lines = [f"model: {a['model_name']} ({sa['arch']}); speed-up {sa['latency_ms'] / sb['latency_ms']:.2f}x"]
    lines += [f"  {k:<22}{str(x):<24}{y}" for k, x, y in rows]
    ops = sorted(set(sa.get("by_op", {})) | set(sb.get("by_op", {})),
                 key=lambda o: -abs(sa.get("by_op", {}).get(o, {}).get("us", 0)
                                    - sb.get("by_op", {}).get(o, {}).get("us", 0)))
    lines.append(f"  {'op':<34}{'naive: n x ms':>18}{'optimized: n x ms':>22}")
    for o in ops[:top]:
        x = sa.get("by_op", {}).get(o, {"us": 0, "count": 0})
        y = sb.get("by_op", {}).get(o, {"us": 0, "count": 0})
        lines.append(f"  {o:<34}{x['count']:>7} x {x['us'] / 1e3:8.3f}{y['count']:>11} x {y['us'] / 1e3:8.3f}")
    lines.append("(a model of the hardware, not a measurement: see docs/performance.md for its calibration)")
    return "\n".join(lines)


def format_profile(p: dict, top: int = 10) -> str:
    if not p.get("success"):
        return f"{p['model_name']}: the compiled run failed: {p.get('error')}"
    s = p["modelled"]
    lines = [f"model:                 {p['model_name']} (accuracy {p['accuracy']} %)",
             f"optimizer:             weights {p.get('precision')}, activations in {p.get('placement')}, "
             f"dispatch: {p.get('trace')}"]
    lines += format_modelled(s)
    lines.append("top ops by modelled kernel time:")
    total = s["kernel_us"] or 1.0
    for o in s["top_ops"][:top]:
        lines.append(f"  {o['us'] / 1e3:9.3f} ms {o['us'] / total:6.1%}  {o['count']:5d} x {o['op']}")
    for name, path in sorted(p.get("files", {}).items()):
        if name != "perf.json":
            lines.append(f"{name + ':':<23}{path}")
    lines.append("(a model of the hardware, not a measurement: see docs/performance.md for its calibration)")
    return "\n".join(lines)
