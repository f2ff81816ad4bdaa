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
           "precision": m.precision, "placement": m.placement}
    (d / "perf.json").write_text(json.dumps(out, indent=1, default=str))
    if getattr(device, "profiler", None) is not None and device.profiler.rows:
        device.profiler.to_csv(d / "ops.csv")
        device.profiler.to_chrome_trace(d / "trace.json")


def zoo_node(name: str) -> str:
    """The pytest node of the table model `name` (case-insensitive; a unique substring works too); a KeyError
    with the close matches otherwise."""
    import difflib
    from . import zoo
    from .zoo import runner
    ids = runner.collect()
    names = {runner._entry_from_id(i): i for i in ids}
    exact = [i for n, i in names.items() if n.lower() == name.lower()]
    if exact:
        return exact[0]
    loose = [i for i in ids if name.lower() in i.lower()]
    if len(loose) == 1:
        return loose[0]
    close = difflib.get_close_matches(name, list(names) + zoo.names(), n=6, cutoff=0.5)
    close += [runner._entry_from_id(i) for i in loose if runner._entry_from_id(i) not in close]
    hint = f"; close matches: {', '.join(close[:8])}" if close else ""
    raise KeyError(f"no model {name!r} (torch-ttnn models lists the built-in ones, torch-ttnn zoo --list the "
                   f"table){hint}")


def profile(name: str, *, arch: str | None = None, batch: int = 1, out_dir=None, runs: int = 1) -> dict:
    """Compile and run `name` on the simulated `arch`; returns perf.json's content (files in out_dir)."""
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
            device = own = simdev.open_device(device_id=free, l1_small_size=16384, preset=arch)
        else:
            device = open_device()
        try:
            m = measure(entry.name, model, repeat_batch(inputs, batch), device=device, runs=runs, profile=True)
            write_profile(out_dir, m, device)
        finally:
            if own is not None:
                simdev.close_device(own)
    else:
        node = zoo_node(name)
        env = dict(os.environ, TORCH_TTNN_PERF_DIR=str(out_dir), TORCH_TTNN_BATCH=str(batch),
                   TORCH_TTNN_RUNS=str(runs), HF_HUB_OFFLINE="1")
        if arch:
            env["TT_SIM_ARCH"] = arch
        proc = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-x", node],
                              cwd=ROOT, env=env, capture_output=True, text=True)
        if not (out_dir / "perf.json").exists():
            tail = (proc.stdout + proc.stderr)[-2000:]
            raise RuntimeError(f"{node} did not produce a profile:\n{tail}")
    result = json.loads((out_dir / "perf.json").read_text())
    result["files"] = {p.name: str(p) for p in out_dir.iterdir()}
    return result


def format_profile(p: dict, top: int = 10) -> str:
    if not p.get("success"):
        return f"{p['model_name']}: the compiled run failed: {p.get('error')}"
    s = p["modelled"]
    lines = [f"model:                 {p['model_name']} (accuracy {p['accuracy']} %)",
             f"optimizer:             weights {p.get('precision')}, activations in {p.get('placement')}"]
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
