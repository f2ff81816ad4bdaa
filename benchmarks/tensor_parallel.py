"""Tensor parallelism on simulated meshes: outputs, weights per chip and modelled latency (not a test).

    .venv/bin/python benchmarks/tensor_parallel.py [--only llama,gpt2] [--meshes n300,t3000] [--write]

Strong scaling, as tensor parallelism is used (one request, its weights spread over the chips): each model
runs compiled on one simulated n150 chip and on each mesh with TorchTtnnOption(mesh=..., parallel="tensor"),
same inputs; traces are off everywhere so that the programs are dispatched alike. Printed: how many weights
were split and which collectives the program needs, PCC of the output against eager and against the single chip's, peak DRAM of a chip,
the modelled time of one steady call (the slowest chip's clock: host dispatch, transfers and collectives
included) and its ratio to one chip's. With --write the table goes to docs/multi-chip.md.
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

from benchmarks.data_parallel import _run  # noqa: E402


def llama():
    from transformers import LlamaConfig, LlamaForCausalLM
    torch.manual_seed(0)
    cfg = LlamaConfig(hidden_size=2048, intermediate_size=8192, num_hidden_layers=2, num_attention_heads=32,
                      num_key_value_heads=8, vocab_size=32000, max_position_embeddings=2048)
    return LlamaForCausalLM(cfg).eval(), torch.randint(0, 32000, (1, 128))


def gpt2():
    from transformers import GPT2Config, GPT2LMHeadModel
    torch.manual_seed(0)
    return GPT2LMHeadModel(GPT2Config()).eval(), torch.randint(0, 50257, (1, 128))


def llama8b():
    """2 decoder layers at Llama-3.1-8B width (a vocabulary of 8192 instead of 128256, to keep the host, device
    and reference copies of the model within this machine's memory)."""
    from transformers import LlamaConfig, LlamaForCausalLM
    torch.manual_seed(0)
    cfg = LlamaConfig(hidden_size=4096, intermediate_size=14336, num_hidden_layers=2, num_attention_heads=32,
                      num_key_value_heads=8, vocab_size=8192, max_position_embeddings=2048)
    return LlamaForCausalLM(cfg).eval(), torch.randint(0, 8192, (1, 32))


def llama70b_layer():
    """One decoder layer at Llama-3.1-70B width (the model at reduced depth: hidden states out, a small
    vocabulary, no LM head)."""
    from transformers import LlamaConfig, LlamaModel
    torch.manual_seed(0)
    cfg = LlamaConfig(hidden_size=8192, intermediate_size=28672, num_hidden_layers=1, num_attention_heads=64,
                      num_key_value_heads=8, vocab_size=1024, max_position_embeddings=2048)
    return LlamaModel(cfg).eval(), torch.randint(0, 1024, (1, 32))


MODELS = {"llama": ("Llama-class decoder (2 layers of Llama-3.2-1B width) seq 128", llama),
          "gpt2": ("GPT-2 (124M) seq 128", gpt2),
          "llama8b": ("2 layers at Llama-3.1-8B width, seq 32", llama8b),
          "llama70b-layer": ("1 layer at Llama-3.1-70B width, seq 32", llama70b_layer)}
# models measured on meshes only (their single-chip run is left out: the point is the memory a chip needs)
MESH_ONLY = {"llama70b-layer"}


class _Logits(torch.nn.Module):
    def __init__(self, model):
        super().__init__()
        self.model = model

    def forward(self, ids):
        out = self.model(input_ids=ids, use_cache=False)
        return out.logits if hasattr(out, "logits") else out.last_hidden_state


def _static_run(model, x, option):
    """As data_parallel._run, captured with static shapes (tensor parallelism needs no symbolic batch)."""
    y, us, peak, _ = _run(model, x, option, dynamic=False)
    return y, us, peak


def measure(key: str, meshes: list, precision: str = "auto") -> list:
    import torch_ttnn
    import torch_ttnn.sim as ttnn
    from torch_ttnn import runtime
    from torch_ttnn.metrics import pcc
    title, build = MODELS[key]
    kw = {"precision": precision}
    model, x = build()
    model = _Logits(model).eval()
    with torch.no_grad():
        ref = model(x)
    rows = []
    us1 = None
    if key not in MESH_ONLY:
        torch._dynamo.reset()
        dev = ttnn.open_device(device_id=0, l1_small_size=16384)
        y1, us1, peak1 = _static_run(model, x, torch_ttnn.TorchTtnnOption(device=dev, trace=False, **kw))
        ttnn.close_device(dev)
        rows.append((title, "n150 (1 chip)", "-", "-", pcc(y1, ref), 1.0, peak1, us1, 1.0))
    for name in meshes:
        mesh = runtime.open_mesh(name)
        torch._dynamo.reset()
        opt = torch_ttnn.TorchTtnnOption(mesh=mesh, parallel="tensor", trace=False, **kw)
        y, us, peak = _static_run(model, x, opt)
        recs = opt.results.parallel
        split = sum(len(p.get("split_weights") or {}) for p in recs)
        coll = [c.split()[0] for p in recs for c in (p.get("collectives") or ())]
        colls = ", ".join(f"{coll.count(k)} {k}" for k in sorted(set(coll))) or "-"
        modes = ", ".join(sorted({p["mode"] for p in recs}))
        rows.append((title, f"{name} ({mesh.shape[0]}x{mesh.shape[1]})", f"{modes}: {split} weights", colls,
                     pcc(y, ref), pcc(y, y1) if us1 else None, peak, us, us1 / us if us1 else None))
        ttnn.close_mesh_device(mesh)
        del opt, y
        torch._dynamo.reset()
    return rows


def table(all_rows) -> str:
    lines = ["| model | system | split | collectives | PCC vs eager | PCC vs 1 chip | peak DRAM a chip | "
             "modelled ms a call | speed-up vs 1 chip |", "|---|---|---|---|---|---|---|---|---|"]
    for rows in all_rows:
        for (title, system, split, colls, p, p1, peak, us, sp) in rows:
            lines.append(f"| {title} | {system} | {split} | {colls} | {p:.4f} | {'-' if p1 is None else f'{p1:.4f}'} | "
                         f"{peak / 2**20:.1f} MiB | {us / 1e3:.3f} | {'-' if sp is None else f'{sp:.2f}x'} |")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--only", default="llama,gpt2")
    ap.add_argument("--meshes", default="n300,t3000")
    ap.add_argument("--precision", default="auto", help="TorchTtnnOption(precision=...), e.g. bfp8 for the "
                                                          "large models (no search over precisions)")
    ap.add_argument("--write", action="store_true")
    a = ap.parse_args()
    out = table([measure(k, a.meshes.split(","), a.precision) for k in a.only.split(",")])
    print(out)
    if a.write:
        path = ROOT / "docs" / "multi-chip.md"
        text = path.read_text()
        marker = f"<!-- tensor-parallel table {a.only} -->"
        stamp = (f"Measured {datetime.date.today()} with `benchmarks/tensor_parallel.py --only {a.only} "
                 f"--meshes {a.meshes} --precision {a.precision}`.")
        block = f"{marker}\n{stamp}\n\n{out}\n{marker}"
        if marker in text:
            head, _, rest = text.partition(marker)
            _, _, tail = rest.partition(marker)
            text = head + block + tail
        else:
            text = text.rstrip("\n") + "\n\n" + block + "\n"
        path.write_text(text)


if __name__ == "__main__":
    main()
