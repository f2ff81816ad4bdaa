"""Training through the TT-NN backend: gradients, buffers and loss curves against eager.

    .venv/bin/python tools/train_check.py [--steps 50] [--models mnist,autoencoder,...] [--no-doc]

For each model of the table: one training step (forward + loss + backward) eagerly and compiled with the
backend on the (simulated) device, from the same weights and inputs; reports the PCC of the loss and of every
parameter gradient (the minimum), the batch-norm buffers after the step, the ops left on the host in the forward
and backward graphs, and the device transfers of one steady-state step (how many of them carry the activations
the forward saves for the backward). Then a short SGD run of the MNIST CNN on synthetic data, eager and
compiled, and the per-step relative difference of the loss. Writes docs/training.md (no timing claims: the
device is simulated).
"""
from __future__ import annotations

import argparse
import copy
import logging
import pathlib
import sys
import time
import warnings

import torch
import torch.nn as nn
import torch.nn.functional as F

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import torch_ttnn  # noqa: E402
from torch_ttnn.compiler.meta import saved_for_backward  # noqa: E402
from torch_ttnn.metrics import pcc  # noqa: E402
from torch_ttnn.zoo import small  # noqa: E402


# --------------------------------------------------------------------------------------------------
# the models (seeded; dropout off where gradients are compared: TT-NN's generator is not torch's)
# --------------------------------------------------------------------------------------------------

def _no_dropout(model):
    for m in model.modules():
        if isinstance(m, nn.Dropout):
            m.p = 0.0
    return model


def mnist(batch=4):
    torch.manual_seed(0)
    model = _no_dropout(small.MnistModel().train())
    x, y = torch.rand(batch, 1, 28, 28), torch.randint(0, 10, (batch,))
    return model, (x, y), lambda m, x, y: F.nll_loss(m(x), y)


def autoencoder(batch=4):
    torch.manual_seed(0)
    model = small.LinearAutoencoder().train()
    x = torch.rand(batch, 784)
    return model, (x,), lambda m, x: F.mse_loss(m(x), x)


def transformer_block(batch=2, seq=40):
    torch.manual_seed(0)
    model = small.TransformerBlock().train()
    x, t = torch.randn(batch, seq, 128), torch.randn(batch, seq, 128)
    mask = torch.zeros(batch, 1, seq, seq)
    return model, (x, mask, t), lambda m, x, mask, t: F.mse_loss(m(x, mask), t)


def transformer_encoder_layer(batch=2, seq=40):
    torch.manual_seed(0)
    model = nn.TransformerEncoderLayer(128, 4, 512, dropout=0.0, batch_first=True).train()
    x, t = torch.randn(batch, seq, 128), torch.randn(batch, seq, 128)
    return model, (x, t), lambda m, x, t: F.mse_loss(m(x), t)


def resnet18(batch=2, size=64):
    import torchvision
    torch.manual_seed(0)
    model = torchvision.models.resnet18(weights=None).train()
    x, y = torch.randn(batch, 3, size, size), torch.randint(0, 1000, (batch,))
    return model, (x, y), lambda m, x, y: F.cross_entropy(m(x), y)


MODELS = {
    "mnist": ("Mnist (MnistModel, batch 4, NLL)", mnist),
    "autoencoder": ("Autoencoder (LinearAutoencoder, batch 4, MSE)", autoencoder),
    "transformer-block": ("TransformerBlock (zoo.small, 2x40x128, MSE)", transformer_block),
    "transformer-encoder-layer": ("nn.TransformerEncoderLayer (2x40x128, MSE)", transformer_encoder_layer),
    "resnet18": ("ResNet18 (torchvision, batch 2, 64x64, CE)", resnet18),
}


# --------------------------------------------------------------------------------------------------
# one step, eager vs compiled
# --------------------------------------------------------------------------------------------------

def _nbytes(node) -> int:
    """Bytes of the device buffer of a lowered value: TILE pads the last two dims to 32 (as the device counters
    count them)."""
    v, m = node.meta.get("val"), node.meta.get("tt")
    if not isinstance(v, torch.Tensor):
        return 0
    size = 4 if m is None or "32" in str(getattr(m.dtype, "name", m.dtype)) else 2
    shape = list(v.shape) or [1]
    if m is not None and "TILE" in str(getattr(m.layout, "name", m.layout)):
        shape = [1] * max(0, 2 - len(shape)) + shape
        shape[-1], shape[-2] = -(-shape[-1] // 32) * 32, -(-shape[-2] // 32) * 32
    n = 1
    for d in shape:
        n *= d
    return n * size


def _saved_activation_transfers(option) -> dict:
    """The forward -> backward hand-over per step. aot_autograd's forward returns, after its outputs, the values
    the backward takes as its first inputs, in the same order (the output descriptions say which). A device value
    among them stays on the device (runtime.keep_on_device: no transfer) unless saved_on_device=False, when the
    forward brings it to the host (to_torch) and the backward uploads it again; a value still on the host is
    uploaded by the backward (from_torch, or runtime.saved_to_device on its first use)."""
    ttnn = torch_ttnn.runtime.ttnn_for(option.device_in_use)
    rt = torch_ttnn.runtime
    res = {"saved": 0, "kept": 0, "fw_to_host": 0, "fw_bytes": 0, "bw_to_device": 0, "bw_bytes": 0,
           "bw_params_to_device": 0}
    gms, reps = option.results.graph_modules, option.results.reports
    for i in range(len(reps) - 1):
        if reps[i].kind != "forward" or reps[i + 1].kind != "backward":
            continue
        fw, bw = gms[i], gms[i + 1]
        out = next(n for n in fw.graph.nodes if n.op == "output")
        saved = [o for o, keep in zip(out.args[0], saved_for_backward(out))
                 if keep and isinstance(getattr(o, "meta", {}).get("val"), torch.Tensor)]
        inputs = [n for n in bw.graph.nodes if n.op == "placeholder" and not n.name.startswith("tangents")
                  and isinstance(n.meta.get("val"), torch.Tensor)]
        kept_inputs, seen = set(), set()
        for o, p in zip(saved, inputs):
            res["saved"] += 1
            if isinstance(o, torch.fx.Node) and o.target is rt.keep_on_device:
                kept_inputs.add(p)
                if o not in seen:
                    res["kept"] += 1
            elif isinstance(o, torch.fx.Node) and o.target is ttnn.to_torch and o not in seen:
                res["fw_to_host"] += 1
                res["fw_bytes"] += _nbytes(o.args[0])
            seen.add(o)
        for n in bw.graph.nodes:
            if n.op == "call_function" and n.target in (ttnn.from_torch, rt.saved_to_device):
                src = n.args[0]
                if isinstance(src, torch.fx.Node) and src.op == "call_function" and src.args:
                    src = src.args[0]   # narrow_for_device
                if isinstance(src, torch.fx.Node) and src.op == "placeholder" and src not in kept_inputs:
                    if src.name.startswith("primals"):
                        res["bw_params_to_device"] += 1
                    elif not src.name.startswith("tangents"):
                        res["bw_to_device"] += 1
                        res["bw_bytes"] += _nbytes(n)
    return res


def bf16_eager_pcc(key: str) -> float:
    """What bfloat16 costs without the device: min gradient PCC of the eager model run in bfloat16 (torch CPU
    kernels) against float32 -- the tolerance the compiled gradients are judged against."""
    model, inputs, loss_fn = MODELS[key][1]()
    m16 = copy.deepcopy(model).bfloat16()
    loss_fn(model, *inputs).backward()
    loss_fn(m16, *[x.bfloat16() if x.is_floating_point() else x for x in inputs]).backward()
    return min(pcc(q.grad.float(), p.grad) for p, q in zip(model.parameters(), m16.parameters()) if p.grad is not None)


def step_check(key: str, device, *, fp32: bool = False, **option_kwargs) -> dict:
    title, build = MODELS[key]
    model, inputs, loss_fn = build()
    eager_m, comp_m = model, copy.deepcopy(model)
    t0 = time.perf_counter()
    loss = loss_fn(eager_m, *inputs)
    loss.backward()
    eager_s = time.perf_counter() - t0

    torch._dynamo.reset()
    option = torch_ttnn.TorchTtnnOption(device=device, fp32=fp32, **option_kwargs)
    step = torch.compile(lambda *a: loss_fn(comp_m, *a), backend=torch_ttnn.backend, options=option)
    t0 = time.perf_counter()
    closs = step(*inputs)
    closs.backward()
    first_s = time.perf_counter() - t0

    grads = {}
    for (name, p), (_, q) in zip(eager_m.named_parameters(), comp_m.named_parameters()):
        if p.grad is None:
            continue
        grads[name] = pcc(q.grad, p.grad) if q.grad is not None else 0.0
    buffers = {}
    for (name, b), (_, c) in zip(eager_m.named_buffers(), comp_m.named_buffers()):
        if b.dtype.is_floating_point:
            buffers[name] = (pcc(c, b), float((c - b).abs().max() / b.abs().max().clamp_min(1e-12)))
        else:
            buffers[name] = (1.0 if torch.equal(c, b) else 0.0, float((c - b).abs().max()))
    fallbacks = {"forward": {}, "backward": {}}
    for rep in option.results.reports:
        kind = "backward" if rep.kind == "backward" else "forward"
        for (op, reason), n in rep.fallbacks.items():
            fallbacks[kind][(op, reason)] = fallbacks[kind].get((op, reason), 0) + n

    # a second step (weights unchanged, gradients reset) for the steady-state transfers
    for p in comp_m.parameters():
        p.grad = None
    device.counters.reset()
    step(*inputs).backward()
    counters = device.counters.snapshot()
    worst = min(grads.items(), key=lambda kv: kv[1])
    return {
        "key": key, "title": title, "loss_eager": float(loss), "loss_compiled": float(closs),
        "loss_pcc": pcc(closs.detach(), loss.detach()),
        "grad_min_pcc": worst[1], "grad_worst": worst[0], "grads": grads, "n_grads": len(grads),
        "buffers": buffers, "fallbacks": fallbacks, "counters": counters,
        "handover": _saved_activation_transfers(option),
        "aten_ops": {kind: sum(sum(r.aten_ops.values()) for r in option.results.reports
                               if (r.kind == "backward") == (kind == "backward")) for kind in ("forward", "backward")},
        "eager_s": eager_s, "first_s": first_s, "bf16_eager_pcc": bf16_eager_pcc(key),
    }


# --------------------------------------------------------------------------------------------------
# a short training run
# --------------------------------------------------------------------------------------------------

def mnist_data(batch: int = 16, batches: int = 8):
    """Synthetic MNIST-like batches: each class a fixed random template, images = template + noise (learnable,
    so the loss falls steadily instead of collapsing to 0 on memorized noise)."""
    g = torch.Generator().manual_seed(1)
    templates = torch.rand(10, 1, 28, 28, generator=g)
    data = []
    for _ in range(batches):
        y = torch.randint(0, 10, (batch,), generator=g)
        x = 0.5 * templates[y] + 0.5 * torch.rand(batch, 1, 28, 28, generator=g)
        data.append((x, y))
    return data


def mnist_run(device, steps: int, *, mode: str = "eager", dropout: bool = False, lr: float = 0.01) -> list:
    """Loss per step of SGD (momentum 0.9) on the MNIST CNN; mode: "eager" (float32), "autocast" (eager with
    torch.autocast(bfloat16) on the CPU: the mixed-precision reference) or "compiled" (TT-NN backend)."""
    torch.manual_seed(0)
    model = small.MnistModel().train()
    if not dropout:
        _no_dropout(model)
    data = mnist_data()
    opt = torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9)

    def loss_fn(x, y):
        return F.nll_loss(model(x), y)

    fn = loss_fn
    if mode == "compiled":
        torch._dynamo.reset()
        fn = torch.compile(loss_fn, backend=torch_ttnn.backend, options=torch_ttnn.TorchTtnnOption(device=device))
    elif mode == "autocast":
        def fn(x, y):
            with torch.autocast("cpu", dtype=torch.bfloat16):
                return F.nll_loss(model(x).float(), y)
    torch.manual_seed(2)   # the dropout generator state: same start for every run
    losses = []
    for i in range(steps):
        x, y = data[i % len(data)]
        opt.zero_grad()
        loss = fn(x, y)
        loss.backward()
        opt.step()
        losses.append(float(loss))
    return losses


# --------------------------------------------------------------------------------------------------
# report
# --------------------------------------------------------------------------------------------------

def _fmt_fallbacks(fb: dict) -> str:
    if not fb:
        return "none"
    return "; ".join(f"{op} x{n}: {reason}" for (op, reason), n in sorted(fb.items()))


def write_doc(path: pathlib.Path, results: list, curve: dict) -> str:
    lines = ["# Training through the TT-NN backend", "",
             "Generated by `tools/train_check.py` on the simulated device (bfloat16 on the device, eager reference in "
             "float32). One training step per model, eager and compiled from the same weights and inputs: PCC of "
             "the loss and minimum PCC over all parameter gradients; the ops left on the host; the device "
             "transfers of one steady-state step (forward + backward). No timing claims (simulated device).", "",
             "## Gradients", "",
             "| model | loss eager / compiled | grad PCC (min over params) | worst param | params | "
             "eager bfloat16 grad PCC (reference) |",
             "|---|---|---|---|---|---|"]
    for r in results:
        lines.append(f"| {r['title']} | {r['loss_eager']:.5f} / {r['loss_compiled']:.5f} | {r['grad_min_pcc']:.4f} | "
                     f"{r['grad_worst']} | {r['n_grads']} | {r['bf16_eager_pcc']:.4f} |")
    lines += ["", "The reference column runs the eager model in bfloat16 (torch's CPU kernels) against float32: the "
              "gradient error bfloat16 itself costs. ResNet18 in training mode at batch 2 is ill-conditioned "
              "(batch norm over a handful of values per channel in the last stages): eager bfloat16 loses as much."]
    lines += ["", "## What the backward graphs lower to", "", *LOWERED_NOTE.strip().splitlines()]
    lines += ["", "## Ops left on the host", "", "| model | aten ops fw / bw | forward fallbacks | backward fallbacks |",
              "|---|---|---|---|"]
    for r in results:
        lines.append(f"| {r['key']} | {r['aten_ops']['forward']} / {r['aten_ops']['backward']} | "
                     f"{_fmt_fallbacks(r['fallbacks']['forward'])} | {_fmt_fallbacks(r['fallbacks']['backward'])} |")
    bn = [(r, name, v) for r in results for name, v in r["buffers"].items()]
    if bn:
        lines += ["", "## Buffers after one step (batch norm running statistics)", "",
                  "| model | buffers | min PCC (running_mean/var) | max error / max abs value (running_mean/var) | "
                  "num_batches_tracked equal |", "|---|---|---|---|---|"]
        for r in results:
            if not r["buffers"]:
                continue
            fl = {k: v for k, v in r["buffers"].items() if not k.endswith("num_batches_tracked")}
            nb = [v for k, v in r["buffers"].items() if k.endswith("num_batches_tracked")]
            lines.append(f"| {r['key']} | {len(r['buffers'])} | {min(v[0] for v in fl.values()):.4f} | "
                         f"{max(v[1] for v in fl.values()):.4f} | {all(v[0] == 1.0 for v in nb)} |")
        lines += ["", "The running statistics are computed on the device (batch mean/variance of the bfloat16 "
                  "activations) and written back to the module's buffers by aot_autograd. The PCC is low for "
                  "running_var only because its values hardly vary after one step (0.9 + 0.1 * batch variance); the "
                  "error column is the measure. The largest deviations "
                  "are in the last stage, whose activations carry the bfloat16 error of all the layers before."]
    lines += ["", "## Transfers per training step (steady state)", "",
              "| model | to device | from device | tensors saved for backward | kept on the device | "
              "fw: saved activations to host | bw: saved activations to device | share of the step's transfers "
              "(count / bytes) |",
              "|---|---|---|---|---|---|---|---|"]
    for r in results:
        c, h = r["counters"], r["handover"]
        n = h["fw_to_host"] + h["bw_to_device"]
        tot = c["to_device"] + c["from_device"]
        nb = h["fw_bytes"] + h["bw_bytes"]
        totb = c.get("to_device_bytes", 0) + c.get("from_device_bytes", 0)
        lines.append(f"| {r['key']} | {c['to_device']} | {c['from_device']} | {h['saved']} | {h['kept']} | "
                     f"{h['fw_to_host']} ({h['fw_bytes'] / 2**20:.2f} MiB) | "
                     f"{h['bw_to_device']} ({h['bw_bytes'] / 2**20:.2f} MiB) | "
                     f"{100 * n / max(tot, 1):.0f}% / {100 * nb / max(totb, 1):.0f}% |")
    lines += ["", "Activations the forward computes on the device stay there for the backward (\"kept on the "
              "device\": no transfer); what still crosses is what the forward computed on the host (folded "
              "parameter transforms, host fallbacks), uploaded once by the backward. Bytes are those of the device "
              "buffers, tile padding included, as the device counters count them. With "
              "`TorchTtnnOption(saved_on_device=False)` every saved device value goes to the host at the end of the "
              "forward and back at the start of the backward. See 'Keeping saved activations on the device' below."]
    if curve:
        e, c, a = curve["eager"], curve["compiled"], curve.get("autocast")
        rel = [abs(x - y) / abs(x) for x, y in zip(e, c)]
        lines += ["", f"## MNIST loss curve ({len(e)} SGD steps, lr {curve['lr']}, momentum 0.9, batch {curve['batch']}, "
                      "8 synthetic batches cycled, dropout off)", "",
                  "Synthetic data: one random 28x28 template per class, image = 0.5 template + 0.5 noise. Same "
                  "initial weights, data order and optimizer; the compiled step runs forward and backward on the "
                  "device, the SGD update in torch on the host. Reference: the same loop eagerly under "
                  "torch.autocast(bfloat16) on the CPU (mixed precision without the device).", "",
                  f"- final loss: eager {e[-1]:.5f}, compiled {c[-1]:.5f}" +
                  (f", eager autocast-bf16 {a[-1]:.5f}" if a else ""),
                  f"- max relative difference of the loss per step, compiled vs eager: {max(rel):.4f} "
                  f"(step {rel.index(max(rel))}); mean {sum(rel) / len(rel):.4f}"]
        if a:
            rel_a = [abs(x - y) / abs(x) for x, y in zip(e, a)]
            lines.append(f"- the same for eager autocast-bf16 vs eager: max {max(rel_a):.4f} "
                         f"(step {rel_a.index(max(rel_a))}); mean {sum(rel_a) / len(rel_a):.4f}")
        if curve.get("dropout"):
            de, dc = curve["dropout"]
            lines.append(f"- with dropout on (p=0.25/0.5; the device draws its masks from TT-NN's generator, seeded "
                         f"from torch's, so the curves are not expected to coincide): final loss eager {de[-1]:.5f}, "
                         f"compiled {dc[-1]:.5f}")
        lines += ["", "| step | eager | compiled | rel. diff |" + (" autocast-bf16 |" if a else ""),
                  "|---|---|---|---|" + ("---|" if a else "")]
        for i in sorted(set(list(range(0, len(e), max(1, len(e) // 10))) + [len(e) - 1])):
            lines.append(f"| {i} | {e[i]:.5f} | {c[i]:.5f} | {rel[i]:.4f} |" + (f" {a[i]:.5f} |" if a else ""))
    lines += ["", "## Keeping saved activations on the device", "", *HANDOVER_NOTE.strip().splitlines()]
    text = "\n".join(lines) + "\n"
    path.write_text(text)
    return text


LOWERED_NOTE = """
- Rules of `torch_ttnn/compiler/lowering/backward.py`: convolution_backward (grad_input: ttnn.conv_transpose2d,
  or ttnn.conv2d for a transposed forward; grad_weight: im2col with strided ttnn.slice + ttnn.concat and one
  ttnn.matmul, per group for grouped convolutions, multiply + sum for depthwise; grad_bias: ttnn.sum),
  max_pool2d_with_indices_backward (ttnn.scatter_add at the saved indices), avg_pool2d_backward and
  _adaptive_avg_pool2d_backward (ttnn.repeat_interleave / ttnn.expand of the scaled gradient; overlapping
  windows: depthwise ttnn.conv_transpose2d), embedding_dense_backward (ttnn.scatter_add), gelu_backward,
  silu_backward, nll_loss_forward / nll_loss_backward (one-hot mask from ttnn.eq against ttnn.arange),
  mse_loss / mse_loss_backward.
- Decomposed by aot_autograd into ops that lower (TT-NN has no fused backward for them):
  native_layer_norm_backward, native_batch_norm_backward, _softmax_backward_data,
  _log_softmax_backward_data, native_dropout_backward, threshold/sigmoid/tanh backward (eltwise rules).
- Other families: native_dropout (lowering/dropout.py), batch norm training forward with running statistics
  (lowering/normalization.py), the flash attention backward (lowering/attention.py).
- Training graphs (forward and backward, never inference graphs) run their matmul/linear/sum/mean/conv ops with
  HiFi4 and float32 accumulation (passes/training.py): with TT-NN's bfloat16 defaults (HiFi2, bfloat16 Dst)
  the autoencoder's gradients fall to PCC 0.89.
"""


HANDOVER_NOTE = """
A training step compiles into a forward and a backward graph; aot_autograd hands the activations the backward
needs from one to the other as saved tensors (`ctx.save_for_backward`: torch tensors, version-counter checked).
A TT-NN tensor cannot sit in that slot, so the forward returns a *ticket* in its place: a one-element int64
torch tensor, registered with the device tensor it stands for (`torch_ttnn.runtime.keep_on_device`). Autograd
stores the ticket like any saved tensor; the backward, given it back, takes the device tensor
(`runtime.saved_to_device`: converted on the device if it needs another layout or dtype, read to the host once if
a host op wants it). A finalizer on the ticket frees the device buffer when autograd releases the saved values:
after the backward, after a second backward with `retain_graph=True` (the tensors are not freed by the first),
or when the step's outputs are dropped without a backward. Under saved-tensor hooks (offloading, packing) the
forward hands the hooks the values themselves (host tensors), as they expect. A ticket that reaches a backward
without its device tensor (a copy of it) raises `SavedActivationError` instead of computing with it.
Saved values that are on the host anyway (module inputs, folded parameter transforms) are uploaded by the
backward on first use and that upload is kept as long as autograd keeps the value.
"""


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--models", default=",".join(MODELS))
    ap.add_argument("--steps", type=int, default=50)
    ap.add_argument("--no-dropout-run", action="store_true", help="skip the MNIST run with dropout on")
    ap.add_argument("--no-doc", action="store_true")
    ap.add_argument("--doc", default=str(ROOT / "docs" / "training.md"))
    args = ap.parse_args(argv)
    logging.getLogger("torch_ttnn").setLevel(logging.ERROR)
    warnings.filterwarnings("ignore")
    device = torch_ttnn.open_device()
    results = []
    print(f"{'model':28s} {'loss eager':>11s} {'compiled':>11s} {'grad PCC':>9s} {'bf16 ref':>9s}  fallbacks fw/bw  "
          f"transfers to/from (hand-over)")
    for key in [k for k in args.models.split(",") if k]:
        r = step_check(key, device)
        results.append(r)
        h = r["handover"]
        print(f"{key:28s} {r['loss_eager']:11.5f} {r['loss_compiled']:11.5f} {r['grad_min_pcc']:9.4f} "
              f"{r['bf16_eager_pcc']:9.4f}  {sum(r['fallbacks']['forward'].values()):>5d} / "
              f"{sum(r['fallbacks']['backward'].values()):<5d}    {r['counters']['to_device']} / "
              f"{r['counters']['from_device']} ({h['fw_to_host']} + {h['bw_to_device']})", flush=True)
    curve = {}
    if args.steps:
        curve = {"lr": 0.01, "batch": 16,
                 "eager": mnist_run(device, args.steps, mode="eager"),
                 "autocast": mnist_run(device, args.steps, mode="autocast"),
                 "compiled": mnist_run(device, args.steps, mode="compiled")}
        if not args.no_dropout_run:
            curve["dropout"] = (mnist_run(device, args.steps, mode="eager", dropout=True),
                                mnist_run(device, args.steps, mode="compiled", dropout=True))
        e, c = curve["eager"], curve["compiled"]
        rel = [abs(x - y) / abs(x) for x, y in zip(e, c)]
        print(f"MNIST {args.steps} steps: final loss eager {e[-1]:.5f} compiled {c[-1]:.5f} "
              f"(autocast-bf16 {curve['autocast'][-1]:.5f}); max rel. diff per step {max(rel):.4f}, "
              f"mean {sum(rel) / len(rel):.4f}")
    if not args.no_doc:
        write_doc(pathlib.Path(args.doc), results, curve)
        print(f"wrote {args.doc}")
    return results, curve


if __name__ == "__main__":
    main()
