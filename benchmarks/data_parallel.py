"""Data parallelism on simulated meshes: outputs, memory per chip and modelled scaling (not a test).

    .venv/bin/python benchmarks/data_parallel.py [--only resnet50,bert] [--meshes n300,t3000] [--write]

Weak scaling, as Tenstorrent reports data parallelism (ResNet-50: batch 16 on an n150, 32 on an n300): each
model runs compiled on one simulated n150 chip with the per-chip batch, and on each mesh with N times that
batch and TorchTtnnOption(mesh=..., parallel="data") (captured with dynamic=True, as data parallelism needs, on
both); traces are off on both so that the programs are dispatched alike. Printed: how the graphs were split,
PCC of the mesh output against eager and, on the first chip's samples, against the single chip; peak DRAM per
chip; host<->device bytes per chip; the modelled time of one steady call (the slowest chip; host dispatch and
transfers included); the throughput and its ratio to one chip's. With --write the table goes to
docs/multi-chip.md.
"""
from __future__ import annotations

import argparse
import datetime
import os
import pathlib
import sys

import torch

ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")


def resnet50(batch):
    import torchvision
    torch.manual_seed(0)
    return torchvision.models.resnet50(weights=None).eval(), torch.randn(batch, 3, 224, 224), "img/s"


def bert(batch):
    from transformers import BertConfig, BertModel
    torch.manual_seed(0)
    cfg = BertConfig(hidden_size=768, num_hidden_layers=12, num_attention_heads=12, intermediate_size=3072,
                     vocab_size=30522, max_position_embeddings=512)
    model = BertModel(cfg).eval()

    class Encoder(torch.nn.Module):       # the last hidden state only: one batch-major output
        def __init__(self):
            super().__init__()
            self.bert = model

        def forward(self, ids):
            return self.bert(input_ids=ids).last_hidden_state

    return Encoder().eval(), torch.randint(0, cfg.vocab_size, (batch, 128)), "seq/s"


MODELS = {"resnet50": ("ResNet-50 224x224", resnet50, 8), "bert": ("BERT-base seq 128", bert, 4)}


def _run(model, x, option, dynamic: bool = True):
    """One steady call after the compiling one: its output, modelled us (slowest chip), peak DRAM of a chip and
    host<->device bytes of a chip. dynamic: captured with a symbolic batch (what data parallelism needs)."""
    import torch_ttnn
    c = torch.compile(model, backend=torch_ttnn.backend, options=option, dynamic=dynamic)
    with torch.no_grad():
        c(x)                                   # compile, precision search
        dev = option.device_in_use
        chips = dev.chips if getattr(dev, "is_mesh", False) else [dev]
        for ch in chips:
            ch.profiler.reset()
            ch.counters.reset()
            ch.reset_peak_memory()
        y = c(x)
    us = max(ch.profiler.now_us for ch in chips)
    peak = max(ch.memory_stats()["DRAM"]["peak_bytes"] for ch in chips)
    moved = max(ch.counters.to_device_bytes + ch.counters.from_device_bytes for ch in chips)
    return y, us, peak, moved


def measure(key: str, meshes: list, per_chip: int | None) -> tuple:
    import torch_ttnn
    import torch_ttnn.sim as ttnn
    from torch_ttnn import runtime
    from torch_ttnn.metrics import pcc
    title, build, default = MODELS[key]
    b = per_chip or default
    opened = {name: runtime.open_mesh(name) for name in meshes}
    most = max([m.get_num_devices() for m in opened.values()] + [1])
    model, x, unit = build(b * most)
    rows = []
    torch._dynamo.reset()
    dev = ttnn.open_device(device_id=0, l1_small_size=16384)
    one, us1, peak1, moved1 = _run(model, x[:b], torch_ttnn.TorchTtnnOption(device=dev, trace=False))
    with torch.no_grad():
        ref = model(x[:b])
    ttnn.close_device(dev)
    rows.append((title, "n150 (1 chip)", b, "-", pcc(one, ref), 1.0, peak1, moved1, us1, b / us1 * 1e6, 1.0))
    for name, mesh in opened.items():
        n = mesh.get_num_devices()
        xs = x[:b * n]
        torch._dynamo.reset()
        opt = torch_ttnn.TorchTtnnOption(mesh=mesh, trace=False)
        y, us, peak, moved = _run(model, xs, opt)
        with torch.no_grad():
            ref = model(xs)
        modes = ", ".join(sorted({p["mode"] for p in opt.results.parallel})) or "-"
        thr = b * n / us * 1e6
        rows.append((title, f"{name} ({mesh.shape[0]}x{mesh.shape[1]})", b * n, modes, pcc(y, ref),
                     pcc(y[:b], one), peak, moved, us, thr, thr / (b / us1 * 1e6)))
        ttnn.close_mesh_device(mesh)
    return rows, unit


def table(all_rows) -> str:
    lines = ["| model | system | batch | split | PCC vs eager | PCC vs 1 chip | peak DRAM a chip | host<->device "
             "bytes a chip | modelled ms a call | throughput | vs 1 chip |",
             "|---|---|---|---|---|---|---|---|---|---|---|"]
    for rows, unit in all_rows:
        for (title, system, batch, mode, p_e, p_1, peak, moved, us, thr, sp) in rows:
            lines.append(f"| {title} | {system} | {batch} | {mode} | {p_e:.4f} | {p_1:.4f} | "
                         f"{peak / 2**20:.1f} MiB | {moved / 2**20:.2f} MiB | {us / 1e3:.3f} | "
                         f"{thr:,.0f} {unit} | {sp:.2f}x |")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--only", default="resnet50,bert")
    ap.add_argument("--meshes", default="n300,t3000")
    ap.add_argument("--per-chip", type=int, default=None, help="batch per chip (default: per model)")
    ap.add_argument("--write", action="store_true")
    a = ap.parse_args()
    results = [measure(k, a.meshes.split(","), a.per_chip) for k in a.only.split(",")]
    out = table(results)
    print(out)
    if a.write:
        path = ROOT / "docs" / "multi-chip.md"
        text = path.read_text() if path.exists() else ""
        marker = "<!-- data-parallel table -->"
        stamp = (f"Measured {datetime.date.today()} with `benchmarks/data_parallel.py --only {a.only} "
                 f"--meshes {a.meshes}`.")
        block = f"{marker}\n{stamp}\n\n{out}\n{marker}"
        if marker in text:
            head, _, rest = text.partition(marker)
            _, _, tail = rest.partition(marker)
            text = head + block + tail
        else:
            text = text + "\n" + block + "\n"
        path.write_text(text)
        print(f"written to {path}")


if __name__ == "__main__":
    main()
