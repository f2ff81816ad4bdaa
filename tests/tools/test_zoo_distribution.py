"""The zoo over pytest-xdist: a model's metrics travel with its test report, so the process that started the
run writes them, wherever the workers ran (here: workers whose own metrics directory points elsewhere, as a
worker on another machine would have)."""
import json
import os
import subprocess
import sys
import pathlib

ROOT = pathlib.Path(__file__).resolve().parents[2]


def test_metrics_of_xdist_workers_land_with_the_controller(tmp_path):
    here, there = tmp_path / "controller", tmp_path / "worker"
    env = dict(os.environ, TORCH_TTNN_METRICS_DIR=str(here), HF_HUB_OFFLINE="1")
    cmd = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-m", "zoo", "-d",
           "--tx", f"popen//env:TORCH_TTNN_METRICS_DIR={there}", "tests/models/zoo/test_custom.py",
           "-k", "Mnist and not train"]
    r = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-2000:]
    written = json.loads((here / "Mnist_eval.json").read_text())
    assert written["model_name"] == "Mnist" and written["success"] and written["accuracy"] >= 99.0
    assert not there.exists()
