"""The zoo runner: every model test in its own subprocess, with a timeout and a memory cap, resumable.

    torch-ttnn zoo [-k EXPR] [-j N] [--timeout S] [--mem-gb G] [--force] [--list] [--naive]

Each model test (tests/models/zoo, marker "zoo") runs as `pytest <node id>` with its own metrics directory;
the model-test plugin writes the metrics JSON, moved into metrics/models when the test ends. An index
(metrics/zoo-index.json) remembers, per test, the code version it was measured with, so a rerun skips models
whose metrics are current unless --force.

-j N runs N model processes at once, the longest first (by the seconds the index remembers), each with
CPUs / N torch threads: the simulator's arithmetic is thousands of small tensor operations per op, and two
processes whose thread pools compete for the same cores run them ten times slower (a 128x16 @ 16x3072
accumulate step: 10 ms alone, 100-1,100 ms with two threads against another busy process). The index also
remembers each model's peak resident memory; a model starts only when the peaks of the models running and its
own fit in 90 % of the machine's memory (or when nothing else runs), so two large models never run together.
--mem-gb caps each process's address space.
"""
from __future__ import annotations

import concurrent.futures
import tempfile
import json
import os
import pathlib
import re
import resource
import shutil
import subprocess
import sys
import threading
import time

ROOT = pathlib.Path(__file__).resolve().parents[2]


def code_version() -> str:
    """A hash of the compiler and simulator sources: metrics measured with other code are stale."""
    from ..local import sources_digest
    return sources_digest()[:12]


def collect(k: str | None = None) -> list:
    cmd = [sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider", "-m", "zoo",
           str(ROOT / "tests" / "models" / "zoo")]
    if k:
        cmd += ["-k", k]
    out = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT)
    ids = [line.strip() for line in out.stdout.splitlines() if "::" in line]
    if out.returncode not in (0, 5) and not ids:
        raise RuntimeError(f"collecting the zoo failed:\n{out.stdout[-2000:]}\n{out.stderr[-2000:]}")
    return ids


def _limit(mem_gb: float):
    def apply():
        b = int(mem_gb * 2 ** 30)
        resource.setrlimit(resource.RLIMIT_AS, (b, b))
    return apply


def _entry_from_id(node_id: str) -> str:
    m = re.search(r"\[(.*)\]$", node_id)
    return m.group(1) if m else node_id.rsplit("::", 1)[-1].removeprefix("test_")


def _bar(i: int, n: int, label: str, t0: float) -> None:
    width = 30
    done = int(width * i / max(n, 1))
    el = time.time() - t0
    sys.stderr.write(f"\r[{'#' * done}{'.' * (width - done)}] {i}/{n} {el:6.0f}s {label[:50]:50s}")
    sys.stderr.flush()


def _physical_gb() -> float:
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2 ** 30
    except (ValueError, OSError, AttributeError):
        return 0.0


def _run_one(node: str, metrics_dir: pathlib.Path, version: str, timeout: float, mem_gb: float,
             threads: int | None, extra_env: dict | None = None) -> tuple:
    """Run one model test in a subprocess; returns (outcome, metrics files written, seconds)."""
    tmp = metrics_dir.parent / ".zoo-tmp" / re.sub(r"[^A-Za-z0-9_.-]+", "_", node)[-120:]
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    env = dict(os.environ, TORCH_TTNN_METRICS_DIR=str(tmp), HF_HUB_OFFLINE="1",
               TORCH_TTNN_CODE_VERSION=version, TORCH_TTNN_RUNS=os.environ.get("TORCH_TTNN_RUNS", "3"),
               TORCH_TTNN_STRICT_PASSES="0",   # measure what users get: a skipped rewrite is reported
               TORCH_TTNN_SEARCH_CACHE="0")    # a first call with its whole search: cold, whatever ran before
    env.update(extra_env or {})
    if threads:
        env["OMP_NUM_THREADS"] = env["MKL_NUM_THREADS"] = str(threads)
    start = time.time()
    killed = threading.Event()
    with tempfile.TemporaryFile() as log:
        proc = subprocess.Popen([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-x", node],
                                cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, preexec_fn=_limit(mem_gb))
        timer = threading.Timer(timeout, lambda: (killed.set(), proc.kill()))
        timer.start()
        _, status, usage = os.wait4(proc.pid, 0)       # the child's own peak resident memory
        timer.cancel()
        proc.returncode = os.waitstatus_to_exitcode(status)
        log.seek(0)
        tail = log.read()[-3000:].decode(errors="replace")
    peak_gb = round(usage.ru_maxrss / 2 ** 20, 2)       # ru_maxrss is in KiB on Linux
    if killed.is_set():
        outcome, tail = "timeout", f"timed out after {timeout:.0f} s"
    else:
        outcome = "passed" if proc.returncode == 0 else "failed"
    written = []
    for f in sorted(tmp.glob("*.json")):
        shutil.move(str(f), metrics_dir / f.name)
        written.append(f.name)
    shutil.rmtree(tmp, ignore_errors=True)
    if not written:  # the test died before the plugin could write: record the failure ourselves
        name = _entry_from_id(node)
        err = tail.strip().splitlines()[-1] if tail.strip() else outcome
        fname = re.sub(r"[^A-Za-z0-9_.-]+", "_", f"{name} eval").strip("_") + ".json"
        (metrics_dir / fname).write_text(json.dumps({"model_name": name, "mode": "eval", "success": False,
                                                     "error": f"{outcome}: {err}"}, indent=1))
        written = [fname]
    return outcome, written, round(time.time() - start, 1), peak_gb


def run(k: str | None = None, *, timeout: float = 1800, mem_gb: float = 20.0, force: bool = False,
        metrics_dir: pathlib.Path | None = None, jobs: int = 1, naive: bool = False) -> dict:
    """naive: measure the naive programs (optimize=False, one steady call) into metrics/naive, the baseline of
    the optimizer's zoo-wide speed-up (benchmarks/optimizer_speedup.py --zoo)."""
    metrics_dir = metrics_dir or ROOT / "metrics" / ("naive" if naive else "models")
    metrics_dir.mkdir(parents=True, exist_ok=True)
    index_path = metrics_dir.parent / ("zoo-index.json" if metrics_dir.name == "models"
                                       else f"zoo-index-{metrics_dir.name}.json")
    index = json.loads(index_path.read_text()) if index_path.exists() else {}
    main_index_path = metrics_dir.parent / "zoo-index.json"     # durations and peaks known from the main run
    known = (index if index_path == main_index_path or not main_index_path.exists()
             else json.loads(main_index_path.read_text()))
    extra_env = {"TORCH_TTNN_OPTIMIZE": "0", "TORCH_TTNN_RUNS": os.environ.get("TORCH_TTNN_RUNS", "1")} if naive else {}
    version = code_version()
    ids = collect(k)
    results = {"ran": 0, "skipped": 0, "passed": 0, "failed": 0, "timeout": 0}
    todo = []
    for node in ids:
        prev = index.get(node)
        if not force and prev and prev.get("code_version") == version and prev.get("files"):
            results["skipped"] += 1
        else:
            todo.append(node)
    jobs = max(1, int(jobs))
    threads = None
    if jobs > 1:
        threads = max(1, (os.cpu_count() or 1) // jobs)
        todo.sort(key=lambda n: -(index.get(n) or known.get(n) or {}).get("seconds", 0.0))   # the longest first
    lock = threading.Lock()
    t0 = time.time()
    done = 0

    def finish(node, outcome, written, seconds, peak_gb):
        nonlocal done
        with lock:
            done += 1
            results["ran"] += 1
            results[outcome] += 1
            index[node] = {"code_version": version, "outcome": outcome, "seconds": seconds, "files": written,
                           "peak_gb": peak_gb}
            index_path.write_text(json.dumps(index, indent=1, sort_keys=True))
            _bar(done + results["skipped"], len(ids), node.split("::")[-1], t0)

    _bar(results["skipped"], len(ids), "", t0)
    if jobs == 1:
        for node in todo:
            finish(node, *_run_one(node, metrics_dir, version, timeout, mem_gb, threads, extra_env))
    else:
        budget = 0.9 * (_physical_gb() or float("inf"))
        room = threading.Condition()
        running = {}

        def guarded(node):
            prev = index.get(node) or known.get(node) or {}
            # a model never measured with -j: 4 GB, or 60 % of the machine if it ran for over 10 minutes (the
            # largest models are the slowest); the next run knows its peak
            need = prev.get("peak_gb") or (0.6 * budget if prev.get("seconds", 0) > 600 else 4.0)
            with room:
                room.wait_for(lambda: not running or sum(running.values()) + need <= budget)
                running[node] = need
            try:
                return _run_one(node, metrics_dir, version, timeout, mem_gb, threads, extra_env)
            finally:
                with room:
                    del running[node]
                    room.notify_all()

        with concurrent.futures.ThreadPoolExecutor(max_workers=jobs) as pool:
            futures = {pool.submit(guarded, node): node for node in todo}
            for fut in concurrent.futures.as_completed(futures):
                finish(futures[fut], *fut.result())
    _bar(len(ids), len(ids), "done", t0)
    sys.stderr.write("\n")
    results["total"] = len(ids)
    results["jobs"] = jobs
    return results
