"""The report of the tracer: node counts by op type and model, and size distributions per op type.

    generate_report("stat")   # reads stat/raw/*.json (written by tools/stat_models.py), writes into stat/:

    fw_node_count.csv, bw_node_count.csv     one row per traced (model, stage), one column per op type,
                                             `_TOTAL_` (all nodes of the graphs), a TOTAL row at the end
    fw_total_input_size_dist/  ...           one histogram PNG per op type: the total size in bytes of the
    bw_total_output_size_dist/               inputs (or outputs) of each of its nodes, over all traced graphs

Sizes are those of the real data types (bfloat16 2 bytes, TT-NN tensors in their device dtype). An aten op
left on the host in a lowered graph is counted as `<op> [host]` in the histograms, apart from the same op of
the aten graphs.
"""
from __future__ import annotations

import csv
import json
import os
import re
from dataclasses import dataclass, field
from typing import Optional

from .common import numel, torch_element_bytes

_SKIP = {"placeholder", "output", "get_attr"}


@dataclass
class Report:
    out_folder: str
    csv_files: dict = field(default_factory=dict)     # "fw"/"bw" -> path
    hist_dirs: dict = field(default_factory=dict)     # "fw_total_input_size_dist" -> [png...]
    rows: dict = field(default_factory=dict)          # "fw"/"bw" -> [(model, stage, graphs, {op: n})]
    graphs: int = 0

    def as_dict(self) -> dict:
        return {"out_folder": self.out_folder, "csv_files": self.csv_files, "graphs": self.graphs,
                "histograms": {k: len(v) for k, v in self.hist_dirs.items()},
                "node_counts": {d: [{"model": m, "stage": s, "graphs": g, "_TOTAL_": sum(c.values()),
                                     "ops": c} for m, s, g, c in rows] for d, rows in self.rows.items()}}


def load_raw(raw_folder: str) -> list:
    """The graph records of raw_folder (the tracer's JSON files), sorted by file name."""
    records = []
    for p in sorted(os.listdir(raw_folder)):
        if not p.endswith(".json"):
            continue
        with open(os.path.join(raw_folder, p)) as f:
            rec = json.load(f)
        if isinstance(rec, list):   # the original tracer's format: a bare list of nodes, fw_/bw_ prefix
            direction = "bw" if p.startswith("bw_") else "fw"
            rec = {"model": p[3:-5], "stage": "aten", "kind": "backward" if direction == "bw" else "forward",
                   "direction": direction, "index": 0, "node_count": len(rec), "nodes": rec}
        rec["file"] = p
        records.append(rec)
    return records


def tensor_bytes(info: dict) -> Optional[float]:
    if info.get("size_bytes") is not None:
        return float(info["size_bytes"])
    shape, dtype = info.get("shape"), info.get("dtype")
    if shape is None or dtype is None or not all(isinstance(d, int) for d in shape):
        return None
    try:
        return numel(shape) * torch_element_bytes(dtype)
    except ValueError:
        return None


def node_counts(records: list, direction: str) -> list:
    """[(model, stage, graphs, {op_type: count})] for the graphs of one direction."""
    acc: dict = {}
    for rec in records:
        if rec.get("direction", "fw") != direction:
            continue
        key = (rec["model"], rec.get("stage", "aten"))
        graphs, counts = acc.setdefault(key, [0, {}])
        acc[key][0] = graphs + 1
        for n in rec["nodes"]:
            counts[n["op_type"]] = counts.get(n["op_type"], 0) + 1
    return [(m, s, g, c) for (m, s), (g, c) in sorted(acc.items())]


def write_node_count_csv(rows: list, path: str) -> None:
    ops = sorted({op for _, _, _, c in rows for op in c})
    header = ["model_name", "stage", "graphs", "_TOTAL_"] + ops
    table = [header]
    for model, stage, graphs, counts in rows:
        table.append([model, stage, graphs, sum(counts.values())] + [counts.get(op, 0) for op in ops])
    total = ["TOTAL", "", sum(r[2] for r in table[1:])]
    total += [sum(r[i] for r in table[1:]) for i in range(3, len(header))]
    table.append(total)
    with open(path, "w", newline="") as f:
        csv.writer(f).writerows(table)


def size_samples(records: list, direction: str, key: str) -> dict:
    """op type -> [total size in bytes of the inputs (key='inputs') or outputs of each node]."""
    out: dict = {}
    for rec in records:
        if rec.get("direction", "fw") != direction:
            continue
        stage = rec.get("stage", "aten")
        for n in rec["nodes"]:
            if n.get("op") in _SKIP or n.get("op_type") in _SKIP or n.get("inserted") == "deallocate":
                continue
            sizes = [tensor_bytes(t) for t in n.get(key, [])]
            sizes = [s for s in sizes if s is not None]
            if not sizes:
                continue
            op = n["op_type"]
            if stage == "ttnn" and op.startswith("aten."):
                op += " [host]"
            out.setdefault(op, []).append(sum(sizes))
    return out


def _file_name(op: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.\-\[\]]+", "_", op).strip("_") + ".png"


def write_histograms(samples: dict, folder: str, direction: str, what: str) -> list:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator
    os.makedirs(folder, exist_ok=True)
    files = []
    fig, ax = plt.subplots(figsize=(6.4, 4.0), dpi=80)
    for op, values in sorted(samples.items()):
        ax.clear()
        lo, hi = min(values), max(values)
        if lo > 0 and hi / lo > 16:   # sizes spanning orders of magnitude: log-spaced bins
            edges = [lo * (hi / lo) ** (i / 20) for i in range(21)]
            ax.hist(values, bins=edges, color="#3b7dd8", edgecolor="white")
            ax.set_xscale("log")
        else:
            ax.hist(values, bins=min(20, max(1, len(set(values)))), color="#3b7dd8", edgecolor="white")
        ax.set_title(f"{op}: {'forward' if direction == 'fw' else 'backward'} total {what} size "
                     f"({len(values)} nodes)", fontsize=10)
        ax.set_xlabel(f"total {what} size per node (bytes)")
        ax.set_ylabel("nodes")
        ax.yaxis.set_major_locator(MaxNLocator(integer=True))
        fig.tight_layout()
        path = os.path.join(folder, _file_name(op))
        fig.savefig(path)
        files.append(path)
    plt.close(fig)
    return files


def generate_report(out_folder: str = "stat", *, histograms: bool = True, progress=None) -> Report:
    raw = os.path.join(out_folder, "raw")
    if not os.path.isdir(raw):
        raise FileNotFoundError(f"no {raw}/ folder: run tools/stat_models.py (or `torch-ttnn stat`) first")
    records = load_raw(raw)
    rep = Report(out_folder, graphs=len(records))
    jobs = []
    for direction in ("fw", "bw"):
        rows = node_counts(records, direction)
        if not rows:
            continue
        rep.rows[direction] = rows
        path = os.path.join(out_folder, f"{direction}_node_count.csv")
        write_node_count_csv(rows, path)
        rep.csv_files[direction] = path
        if histograms:
            for key, what in (("inputs", "input"), ("outputs", "output")):
                jobs.append((direction, key, what))
    it = progress(jobs, desc="histograms") if progress is not None else jobs
    for direction, key, what in it:
        folder = os.path.join(out_folder, f"{direction}_total_{what}_size_dist")
        rep.hist_dirs[os.path.basename(folder)] = write_histograms(size_samples(records, direction, key),
                                                                   folder, direction, what)
    return rep


def format_trace_report(rep: Report, top: int = 12) -> str:
    """The tracer report as text: the most frequent op types per stage."""
    from .common import table
    lines = [f"{rep.graphs} graphs read from {os.path.join(rep.out_folder, 'raw')}"]
    for direction, rows in rep.rows.items():
        lines.append("")
        lines.append(f"{'forward' if direction == 'fw' else 'backward'} graphs "
                     f"({rep.csv_files[direction]}):")
        lines.append(table([[m, s, g, sum(c.values()), len([o for o in c if o not in _SKIP])]
                            for m, s, g, c in rows],
                           ["model", "stage", "graphs", "nodes", "op types"], align="llrrr"))
        totals: dict = {}
        for _, _, _, c in rows:
            for op, n in c.items():
                if op not in _SKIP:
                    totals[op] = totals.get(op, 0) + n
        common = sorted(totals.items(), key=lambda kv: (-kv[1], kv[0]))[:top]
        if common:
            lines.append(f"most frequent op types: " + ", ".join(f"{op} {n}" for op, n in common))
    for d, files in rep.hist_dirs.items():
        lines.append(f"{os.path.join(rep.out_folder, d)}/: {len(files)} histograms")
    return "\n".join(lines)
