"""Modelled speed-up of the optimizer over the naive program, per model (not a test).

    .venv/bin/python benchmarks/optimizer_speedup.py [--models resnet18,mobilenet_v2,...] [--write]
    .venv/bin/python benchmarks/optimizer_speedup.py --zoo [--write]

--zoo: the whole zoo, from metrics already measured: the optimized programs of metrics/models (`torch-ttnn
zoo`) against the naive ones of metrics/naive (`torch-ttnn zoo --naive -j 2`, about as long as the zoo run);
rows that ran in both, the median speed-up and the rows whose status (README table) differs between the two.

For each model: compiled twice on the simulated n150, with `optimize=False` (bfloat16 everywhere, every
activation in DRAM) and with the defaults (precision="auto", placement="auto"); prints the modelled time of a
call (as run, and as if every launch were replayed from a trace), the speed-up, the precision chosen and both accuracies (PCC against eager).
The median speed-up closes the table. With --write the table goes to docs/optimizer-speedup.md.
"""
from __future__ import annotations

import argparse
import datetime
import os
import pathlib
import statistics
import sys

import torch

ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

DEFAULT = "mlp,transformer-block,mnist,small-cnn,resnet18,mobilenet_v2,squeezenet1_1,bert-tiny,gpt2-tiny"


def build(name):
    from torch_ttnn import zoo
    torch.manual_seed(0)
    if name in zoo.names():
        return zoo.get(name).build()
    if name == "bert-tiny":
        from transformers import BertConfig, BertModel
        m = BertModel._from_config(BertConfig(vocab_size=30522, hidden_size=256, num_hidden_layers=4,
                                              num_attention_heads=4, intermediate_size=1024), dtype=torch.float32)
        ids = torch.randint(1000, 30000, (1, 128))
        return m.eval(), {"input_ids": ids, "attention_mask": torch.ones_like(ids)}
    if name == "gpt2-tiny":
        from transformers import GPT2Config, GPT2LMHeadModel
        m = GPT2LMHeadModel._from_config(GPT2Config(n_embd=256, n_layer=4, n_head=4), dtype=torch.float32)
        return m.eval(), {"input_ids": torch.randint(100, 50000, (1, 64))}
    import torchvision
    return getattr(torchvision.models, name)(weights=None).eval(), (torch.randn(1, 3, 224, 224),)


def measure_pair(name):
    import torch_ttnn
    from torch_ttnn.metrics import measure
    device = torch_ttnn.open_device()
    out = {}
    for label, kw in (("naive", {"optimize": False}), ("optimized", {})):
        model, inputs = build(name)
        m = measure(name, model, inputs, device=device, runs=1, option_kwargs=kw)
        if not m.success:
            raise RuntimeError(f"{name} ({label}): {m.error}")
        out[label] = m
    return out


def zoo_table() -> str:
    """The zoo-wide comparison from metrics/models and metrics/naive."""
    import json
    from torch_ttnn.zoo.table import status
    naive_dir = ROOT / "metrics" / "naive"
    lines = ["| model | naive (ms) | optimized (ms) | speed-up | precision | accuracy naive / optimized (%) | "
             "status naive / optimized |", "|---|---:|---:|---:|---|---|---|"]
    speedups, changed, missing = [], [], []
    for f in sorted((ROOT / "metrics" / "models").glob("*.json"), key=lambda p: p.name.lower()):
        b = json.loads(f.read_text())
        g = naive_dir / f.name
        if not g.exists():
            missing.append(b.get("model_name", f.stem))
            continue
        a = json.loads(g.read_text())
        sa, sb = status(a)[0], status(b)[0]
        name = f"{b.get('model_name')} {b.get('mode', '')}".strip()
        if sa != sb:
            changed.append(f"{name} ({sa} -> {sb})")
        if not (a.get("success") and b.get("success") and a.get("modelled_ms") and b.get("modelled_ms")):
            lines.append(f"| {name} | {a.get('modelled_ms')} | {b.get('modelled_ms')} | | {b.get('precision')} | "
                         f"{a.get('accuracy')} / {b.get('accuracy')} | {sa} / {sb} |")
            continue
        s = a["modelled_ms"] / b["modelled_ms"]
        speedups.append(s)
        lines.append(f"| {name} | {a['modelled_ms']:.4g} | {b['modelled_ms']:.4g} | {s:.2f}x | {b.get('precision')} | "
                     f"{a.get('accuracy')} / {b.get('accuracy')} | {sa} / {sb} |")
    out = "\n".join(lines)
    if speedups:
        q = statistics.quantiles(speedups, n=4) if len(speedups) > 1 else [speedups[0]] * 3
        out += (f"\n\nMedian modelled speed-up over {len(speedups)} zoo rows: {statistics.median(speedups):.2f}x "
                f"(quartiles {q[0]:.2f}x / {q[2]:.2f}x, range {min(speedups):.2f}x - {max(speedups):.2f}x; "
                f"as run, n150, batch 1).")
    out += ("\nRows whose status differs between the naive and the optimized program: "
            + (", ".join(changed) if changed else "none") + ".")
    if missing:
        out += f"\nNot measured naive: {', '.join(missing)}."
    return out


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--models", default=DEFAULT)
    ap.add_argument("--zoo", action="store_true", help="the whole zoo, from metrics/models and metrics/naive")
    ap.add_argument("--write", action="store_true")
    args = ap.parse_args()
    if args.zoo:
        text = zoo_table()
        print(text)
        if args.write:
            stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d")
            path = ROOT / "docs" / "optimizer-speedup.md"
            old = path.read_text()
            head = "\n## The whole zoo\n"
            keep = old[:old.index(head)] if head in old else old.rstrip("\n") + "\n"
            path.write_text(keep + head + f"\nGenerated by `benchmarks/optimizer_speedup.py --zoo` on {stamp}: the "
                            "optimized programs of metrics/models against the naive programs (`optimize=False`) of "
                            "metrics/naive, each row's own measurement (code versions in the files). The naive "
                            "program keeps bfloat16 wherever it loses accuracy; the optimizer does not, so a row "
                            "whose naive status is 🚧 gets a wider format (an fp32 Dst, float32) and may run "
                            "slower than its inaccurate naive program (below 1x).\n\n" + text + "\n")
        return 0
    lines = ["| model | naive (ms) | optimized (ms) | speed-up | all traced: naive / optimized (ms) | precision | "
             "PCC naive / optimized (%) |", "|---|---:|---:|---:|---:|---|---|"]
    speedups = []
    for name in [m.strip() for m in args.models.split(",") if m.strip()]:
        try:
            r = measure_pair(name)
        except Exception as e:   # a model that fails is reported, not hidden
            lines.append(f"| {name} | failed: {type(e).__name__}: {str(e).splitlines()[0][:80]} | | | | | |")
            continue
        a, b = r["naive"], r["optimized"]
        s = a.modelled_ms / b.modelled_ms
        speedups.append(s)
        lines.append(f"| {name} | {a.modelled_ms:.3f} | {b.modelled_ms:.3f} | {s:.2f}x | "
                     f"{a.modelled_traced_ms:.3f} / {b.modelled_traced_ms:.3f} | {b.precision} | "
                     f"{a.accuracy} / {b.accuracy} |")
        print(lines[-1], file=sys.stderr)
    if speedups:
        lines.append(f"\nMedian modelled speed-up over {len(speedups)} models: "
                     f"{statistics.median(speedups):.2f}x (as run, n150).")
    text = "\n".join(lines)
    print(text)
    if args.write:     # the table replaces the generated part; the prose after it ("Reading it") is kept
        stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d")
        path = ROOT / "docs" / "optimizer-speedup.md"
        old = path.read_text() if path.exists() else ""
        prose = old[old.index("\nReading it"):] if "\nReading it" in old else ""
        path.write_text(f"# Optimizer: modelled speed-up over the naive program\n\nGenerated by "
                        f"`benchmarks/optimizer_speedup.py` on {stamp} (simulated n150, batch 1).\n\n{text}\n"
                        + prose)
    return 0


if __name__ == "__main__":
    sys.exit(main())
