"""The model-test protocol of torch-ttnn.

A model test builds the model and inputs, runs it eagerly and records
    record_property("model_name", "...")
    record_property("mode", "eval" | "train")
    record_property("torch_ttnn", (model_or_generate, inputs, outputs))
This plugin then compiles the model with the TT-NN backend on the (simulated) device, runs it, compares
with the eager outputs, and writes the metrics as JSON under $TORCH_TTNN_METRICS_DIR (if set). A test marked
@pytest.mark.compilation_xfail is expected to fail when compiled (its eager run must still pass).
With TORCH_TTNN_EAGER_ONLY=1 the compile/measure step is skipped (checks that models build and run eagerly).
`torch-ttnn perf` sets TORCH_TTNN_PERF_DIR (write the modelled-time summary, the ops CSV and the trace of the
measured call there) and TORCH_TTNN_BATCH (repeat every input N times along its first dim; eager reference
recomputed).
"""
from __future__ import annotations

import json
import os
import re

import pytest


METRICS_PROPERTY = "torch_ttnn_metrics"


_XDIST_WORKER = [False]


def pytest_configure(config):
    # this session is a pytest-xdist worker (not: started by one, as the zoo runner's tests start pytest)
    _XDIST_WORKER[0] = hasattr(config, "workerinput")


def pytest_runtest_logreport(report):
    """Write a model's metrics (a JSON user property of its report) under $TORCH_TTNN_METRICS_DIR, in the
    process that collects the reports: a plain run, or the controller of a pytest-xdist run whose workers may
    be on other machines (`--tx ssh=...`), so that every model's file lands on the machine that started it."""
    if _XDIST_WORKER[0]:
        return
    out_dir = os.environ.get("TORCH_TTNN_METRICS_DIR")
    for key, value in getattr(report, "user_properties", ()):
        if key != METRICS_PROPERTY or not out_dir:
            continue
        d = json.loads(value)
        if d.get("code_version") is None:
            d["code_version"] = os.environ.get("TORCH_TTNN_CODE_VERSION")
        os.makedirs(out_dir, exist_ok=True)
        with open(metrics_file(out_dir, d["model_name"], d.get("mode", "eval")), "w") as f:
            json.dump(d, f, indent=1, default=str)
        break


def metrics_file(directory: str, model_name: str, mode: str) -> str:
    safe = re.sub(r"[^A-Za-z0-9_.-]+", "_", f"{model_name} {mode}").strip("_")
    return os.path.join(directory, f"{safe}.json")


@pytest.fixture
def record_property(record_property, request):
    recorded: dict = {}

    def record(key, value):
        recorded[key] = value
        if key != "torch_ttnn":
            record_property(key, value)

    yield record

    if "torch_ttnn" not in recorded:
        return
    if "model_name" not in recorded:
        pytest.fail("a model test must record_property('model_name', ...) before 'torch_ttnn'")
    if os.environ.get("TORCH_TTNN_EAGER_ONLY") == "1":
        return      # eager construction and forward only: skip compiling and measuring
    import torch_ttnn
    from torch_ttnn.metrics import measure

    from torch_ttnn.metrics import repeat_batch

    model, inputs, outputs = recorded["torch_ttnn"]
    mode = recorded.get("mode", "eval")
    device = torch_ttnn.open_device()
    if os.environ.get("TORCH_TTNN_MESH"):          # `torch-ttnn run MODEL --mesh 2x4`
        from torch_ttnn import runtime
        device = runtime.open_mesh(os.environ["TORCH_TTNN_MESH"])
    batch = int(os.environ.get("TORCH_TTNN_BATCH", "1"))
    if batch > 1:
        inputs, outputs = repeat_batch(inputs, batch), None
    perf_dir = os.environ.get("TORCH_TTNN_PERF_DIR")
    opts = {"optimize": False} if os.environ.get("TORCH_TTNN_OPTIMIZE") == "0" else None
    if os.environ.get("TORCH_TTNN_PARALLEL"):      # `torch-ttnn run MODEL --mesh 2x4 --parallel tensor`
        opts = {**(opts or {}), "parallel": os.environ["TORCH_TTNN_PARALLEL"]}
    m = measure(recorded["model_name"], model, inputs, device=device, mode=mode, ref_output=outputs,
                runs=int(os.environ.get("TORCH_TTNN_RUNS", "1")), profile=bool(perf_dir), option_kwargs=opts,
                stream=bool(perf_dir) and opts is None)
    if perf_dir:
        from torch_ttnn.perf_report import write_profile
        write_profile(perf_dir, m, device)
    for k in ("success", "accuracy", "ops_before", "ops_remaining", "to_device", "from_device"):
        record_property(k, getattr(m, k))
    d = m.as_dict()
    d["code_version"] = os.environ.get("TORCH_TTNN_CODE_VERSION")
    for extra in ("full_params",):
        if extra in recorded:
            d[extra] = recorded[extra]
    # the metrics travel with the test's report: the process that reports (this one, or the pytest-xdist
    # controller of workers on this or other machines) writes them (pytest_runtest_logreport below)
    record_property(METRICS_PROPERTY, json.dumps(d, default=str))
    xfail = request.node.get_closest_marker("compilation_xfail")
    if not m.success:
        if xfail:
            pytest.xfail(f"compiled run failed as expected: {m.error}")
        pytest.fail(f"compiled run of {m.model_name} failed: {m.error}\n{getattr(m, 'traceback', '')}")
