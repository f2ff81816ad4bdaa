"""End-to-end cost of running models on the simulated device, against eager PyTorch (not a test).

    .venv/bin/python benchmarks/end_to_end.py [--only resnet18,bert] [--inductor] [--write]

For each model, in one process and one run (so that the ratios hold on a shared machine): eager fp32; the same
model through `aot_eager` (dynamo + aot_autograd capture, no compiler); optionally through inductor; through
our backend on the simulated device with the hardware numerics, then the same compiled program with
`device.numerics = "ideal"`. First call = compilation included; steady = median of 3 later calls. "passes" is
the time our compiler spent in its pass pipelines (option.results.pass_seconds, every candidate of the
precision search included); the rest of the first call is capture, the host reference run of the precision
search and the simulation of the candidates' runs. With --write the table goes to
docs/sim-end-to-end.md.
"""
from __future__ import annotations

import argparse
import datetime
import os
import pathlib
import statistics
import sys
import time

import torch

ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TORCH_TTNN_SEARCH_CACHE", "0")   # first calls with their whole precision search (cold)


def _tv(name):
    def build():
        import torchvision
        torch.manual_seed(0)
        return getattr(torchvision.models, name)(weights=None).eval(), (torch.randn(1, 3, 224, 224),)
    return build


def _bert():
    from transformers import BertConfig, BertModel
    torch.manual_seed(0)
    m = BertModel(BertConfig()).eval()           # bert-base dimensions
    return m, (torch.randint(0, 30522, (1, 128)),)


def _gpt2():
    from transformers import GPT2Config, GPT2LMHeadModel
    torch.manual_seed(0)
    m = GPT2LMHeadModel(GPT2Config()).eval()     # gpt2 (124M) dimensions
    return m, (torch.randint(0, 50257, (1, 128)),)


def _llama():
    from transformers import LlamaConfig, LlamaForCausalLM
    torch.manual_seed(0)
    cfg = LlamaConfig(hidden_size=2048, intermediate_size=8192, num_hidden_layers=2, num_attention_heads=32,
                      num_key_value_heads=8, vocab_size=32000, max_position_embeddings=2048)
    return LlamaForCausalLM(cfg).eval(), (torch.randint(0, 32000, (1, 128)),)


MODELS = {
    "resnet18": ("ResNet-18 b1 224", _tv("resnet18")),
    "resnet50": ("ResNet-50 b1 224", _tv("resnet50")),
    "bert": ("BERT-base seq 128", _bert),
    "vit": ("ViT-B/16 b1 224", _tv("vit_b_16")),
    "gpt2": ("GPT-2 seq 128", _gpt2),
    "llama": ("Llama-class decoder (2 layers of Llama-3.2-1B width) seq 128", _llama),
    "mobilenet_v2": ("MobileNetV2 b1 224 (depthwise convolutions)", _tv("mobilenet_v2")),
    "resnext50": ("ResNeXt-50 32x4d b1 224 (grouped convolutions)", _tv("resnext50_32x4d")),
}


def _timed(fn) -> float:
    t0 = time.perf_counter()
    fn()
    return (time.perf_counter() - t0) * 1000


def _steady(fn, n: int = 3) -> float:
    return statistics.median(_timed(fn) for _ in range(n))


def measure(key: str, inductor: bool) -> dict:
    import torch_ttnn
    title, build = MODELS[key]
    model, inputs = build()
    row = {"model": title}
    with torch.no_grad():
        model(*inputs)
        row["eager"] = _steady(lambda: model(*inputs))
        backends = [("aot_eager", "aot_eager")] + ([("inductor", "inductor")] if inductor else [])
        for label, backend in backends:
            torch._dynamo.reset()
            c = torch.compile(model, backend=backend)
            row[f"{label}_first"] = _timed(lambda: c(*inputs))
            row[f"{label}"] = _steady(lambda: c(*inputs))
        torch._dynamo.reset()
        dev = torch_ttnn.open_device()
        option = torch_ttnn.TorchTtnnOption(device=dev)
        c = torch.compile(model, backend=torch_ttnn.backend, options=option)
        row["ttnn_first"] = _timed(lambda: c(*inputs))
        row["passes"] = option.results.pass_seconds * 1000
        c(*inputs)                                  # the trace capture call, if any
        row["ttnn"] = _steady(lambda: c(*inputs))
        dev.numerics = "ideal"
        row["ttnn_ideal"] = _steady(lambda: c(*inputs))
        dev.numerics = "hardware"
        torch._dynamo.reset()
        torch_ttnn.close_device(dev)
    return row


def table(rows: list, inductor: bool) -> str:
    def ms(v):
        return f"{v:,.0f}" if v >= 10 else f"{v:.1f}"

    head = ["model", "eager steady ms", "aot_eager steady", "ttnn steady (hardware numerics)", "ttnn steady (ideal)",
            "aot_eager first ms", "ttnn first", "of which our passes"]
    if inductor:
        head[3:3] = ["inductor steady"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in rows:
        e = r["eager"]
        cells = [r["model"], ms(e), f"{ms(r['aot_eager'])} ({r['aot_eager'] / e:.1f}x)"]
        if inductor:
            cells.append(f"{ms(r['inductor'])} ({r['inductor'] / e:.1f}x)")
        cells += [f"{ms(r['ttnn'])} ({r['ttnn'] / e:.1f}x)", f"{ms(r['ttnn_ideal'])} ({r['ttnn_ideal'] / e:.1f}x)",
                  ms(r["aot_eager_first"]), f"{ms(r['ttnn_first'])} ({r['ttnn_first'] / r['aot_eager_first']:.1f}x)",
                  ms(r["passes"])]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--only", default=",".join(MODELS))
    ap.add_argument("--inductor", action="store_true", help="also inductor (minutes of compilation here)")
    ap.add_argument("--write", action="store_true")
    a = ap.parse_args()
    rows = []
    for key in a.only.split(","):
        rows.append(measure(key, a.inductor))
        print(table(rows[-1:], a.inductor).splitlines()[-1], flush=True)
    out = table(rows, a.inductor)
    print()
    print(out)
    if a.write:
        path = ROOT / "docs" / "sim-end-to-end.md"
        path.write_text(
            "# The simulated device against eager PyTorch\n\n"
            f"Generated by `benchmarks/end_to_end.py --only {a.only}{' --inductor' if a.inductor else ''} --write` "
            f"on {datetime.date.today()} ({os.cpu_count()} CPUs, torch {torch.__version__}). Ratios are to eager "
            "fp32 (steady columns) and to aot_eager's first call (ttnn first). Steady: median of 3 calls after the "
            "first (the trace capture call excluded).\n\n" + out + "\n")
        print(f"written to {path}")


if __name__ == "__main__":
    main()
