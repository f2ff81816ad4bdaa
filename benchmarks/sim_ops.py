"""Cost per call of simulated TT-NN ops relative to the same torch op in fp32 (not a test).

    .venv/bin/python benchmarks/sim_ops.py [--repeats R] [--threads N (default 1)] [--only add,matmul] [--write]

For each op (host<->device conversions, add, relu, exp, gelu, matmul, softmax, layer_norm, conv2d; ops not
registered in torch_ttnn.sim are skipped) and a small and a large shape, times the simulated call on an open
simulated device (inputs already on the device, bf16 TILE, output deallocated after each call) and the plain
torch fp32 op on the same shapes, and prints a markdown table of the medians over the repetitions and their
ratio. Everything is measured in one run, so the ratios are comparable even on a shared machine.
With --write the table goes to docs/sim-benchmark.md as well.
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
import torch.nn.functional as F

ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def _median_time(fn, repeats: int) -> float:
    fn()                                                   # warm-up (allocations, lazy imports)
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def _cases(ttnn, dev):
    """(op, shape label, sim callable, torch callable); each callable builds nothing but runs the op."""
    bf = lambda *s: torch.randn(*s).to(torch.bfloat16).float()            # noqa: E731 (bf16-exact values)
    dev_t = lambda x: ttnn.from_torch(x, dtype=ttnn.bfloat16, layout=ttnn.TILE_LAYOUT, device=dev)  # noqa: E731

    def run(op, *args, **kw):
        def call():
            out = op(*args, **kw)
            for o in (out if isinstance(out, (list, tuple)) else (out,)):
                if isinstance(o, ttnn.Tensor) and o._device is not None:
                    ttnn.deallocate(o)
        return call

    cases = []
    small, large = (32, 32), (1024, 1024)
    for label, shape in (("32x32", small), ("1024x1024", large)):
        x = bf(*shape)
        y = x.to(torch.bfloat16)

        def conv_roundtrip(x=x):
            ttnn.to_torch(ttnn.from_torch(x, dtype=ttnn.bfloat16, layout=ttnn.TILE_LAYOUT, device=dev))
        cases.append(("from_torch+to_torch (bf16 TILE)", label, conv_roundtrip,
                      lambda x=x: x.to(torch.bfloat16).to(torch.float32)))
        d = dev_t(x)
        cases.append(("to_torch (bf16 TILE)", label, lambda d=d: ttnn.to_torch(d), lambda y=y: y.to(torch.float32)))
        a, b = dev_t(x), dev_t(bf(*shape))
        xb = bf(*shape)
        if hasattr(ttnn, "add"):
            cases.append(("add", label, run(ttnn.add, a, b), lambda x=x, xb=xb: x + xb))
        for name, ref in (("relu", torch.relu), ("exp", torch.exp), ("gelu", F.gelu)):
            if hasattr(ttnn, name):
                cases.append((name, label, run(getattr(ttnn, name), a), lambda x=x, ref=ref: ref(x)))
        if hasattr(ttnn, "matmul"):
            cases.append(("matmul", f"{label} @ {label}", run(ttnn.matmul, a, b), lambda x=x, xb=xb: x @ xb))
        if hasattr(ttnn, "softmax"):
            cases.append(("softmax", label, run(ttnn.softmax, a, dim=-1), lambda x=x: torch.softmax(x, -1)))
        if hasattr(ttnn, "layer_norm"):
            w, bias = bf(shape[-1]), bf(shape[-1])
            wt = ttnn.from_torch(w.reshape(1, -1), dtype=ttnn.bfloat16, layout=ttnn.TILE_LAYOUT, device=dev)
            bt = ttnn.from_torch(bias.reshape(1, -1), dtype=ttnn.bfloat16, layout=ttnn.TILE_LAYOUT, device=dev)
            cases.append(("layer_norm", label, run(ttnn.layer_norm, a, epsilon=1e-5, weight=wt, bias=bt),
                          lambda x=x, w=w, bias=bias: F.layer_norm(x, (x.shape[-1],), w, bias, 1e-5)))
    if hasattr(ttnn, "conv2d"):
        for label, (n, c, h, o) in (("1x16x8x8 -> 16, 3x3", (1, 16, 8, 16)),
                                     ("1x64x56x56 -> 64, 3x3", (1, 64, 56, 64))):
            x = bf(n, c, h, h)
            w = bf(o, c, 3, 3) * 0.1
            nhwc = x.permute(0, 2, 3, 1).reshape(1, 1, n * h * h, c)
            tin = ttnn.from_torch(nhwc, dtype=ttnn.bfloat16, layout=ttnn.TILE_LAYOUT, device=dev)
            args = dict(device=dev, in_channels=c, out_channels=o, batch_size=n, input_height=h, input_width=h,
                        kernel_size=(3, 3), stride=(1, 1), padding=(1, 1))
            out, (w_dev, _) = ttnn.conv2d(input_tensor=tin, weight_tensor=ttnn.from_torch(w, dtype=ttnn.bfloat16),
                                          return_weights_and_bias=True, **args)
            ttnn.deallocate(out)
            cases.append(("conv2d (prepared weights)", label,
                          run(ttnn.conv2d, input_tensor=tin, weight_tensor=w_dev, **args),
                          lambda x=x, w=w: F.conv2d(x, w, padding=1)))
    return cases


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7, help="repetitions per measurement (median)")
    parser.add_argument("--threads", type=int, default=1,
                        help="torch threads (default 1: multi-threaded torch stalls badly on a shared machine)")
    parser.add_argument("--only", default=None, help="comma-separated op name prefixes to run")
    parser.add_argument("--write", action="store_true", help="also write the table to docs/sim-benchmark.md")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    torch.manual_seed(0)

    import torch_ttnn.sim as ttnn

    dev = ttnn.open_device(device_id=0, l1_small_size=16384)
    rows = []
    try:
        for op, label, sim_fn, torch_fn in _cases(ttnn, dev):
            if args.only and not any(op.startswith(p) for p in args.only.split(",")):
                continue
            large = "1024" in label or "56" in label
            reps = max(3, args.repeats // 2) if large else args.repeats
            try:
                t_sim = _median_time(sim_fn, reps)
            except Exception as e:  # noqa: BLE001 - an op that fails is reported, not fatal
                rows.append((op, label, _median_time(torch_fn, reps), None, f"error: {type(e).__name__}"))
                continue
            t_torch = _median_time(torch_fn, reps)
            rows.append((op, label, t_torch, t_sim, None))
            print(f"  {op:34s} {label:24s} torch {t_torch * 1e3:9.3f} ms  sim {t_sim * 1e3:9.3f} ms  "
                  f"{t_sim / t_torch:8.1f}x", file=sys.stderr)
    finally:
        ttnn.close_device(dev)

    head = (f"Simulator cost per call vs. the same torch op in fp32 (torch {torch.__version__}, "
            f"{torch.get_num_threads()} thread(s), {os.cpu_count()} CPU(s), median of {args.repeats} runs, "
            f"{max(3, args.repeats // 2)} for the large shapes; measured {datetime.date.today().isoformat()}).")
    lines = ["| op | shape | torch fp32 (ms) | simulator (ms) | ratio |", "|---|---|---:|---:|---:|"]
    for op, label, t_torch, t_sim, err in rows:
        if t_sim is None:
            lines.append(f"| {op} | {label} | {t_torch * 1e3:.3f} | {err} | - |")
        else:
            lines.append(f"| {op} | {label} | {t_torch * 1e3:.3f} | {t_sim * 1e3:.3f} | {t_sim / t_torch:.1f}x |")
    table = "\n".join(lines)
    print(head + "\n\n" + table)
    if args.write:
        out = ROOT / "docs" / "sim-benchmark.md"
        out.write_text("# Simulator benchmark\n\nGenerated by `benchmarks/sim_ops.py --write`. Inputs are bf16 TILE "
                       "tensors already on the simulated device; each simulated call includes allocating and "
                       "freeing its output. Ratios above 1 mean the simulator is slower than plain torch fp32.\n\n"
                       + head + "\n\n" + table + "\n")
        print(f"\nwrote {out}", file=sys.stderr)


if __name__ == "__main__":
    main()
