"""Cost of the simulated matrix unit relative to a plain fp32 torch matmul (not a test).

    .venv/bin/python benchmarks/sim_matmul.py [--threads N] [--repeats R]

Prints, for (256x1024)@(1024x1024) and a few other shapes, the time of torch_ttnn.sim.numerics.fpu_matmul for each
math fidelity with a 16-bit (bf16) and a 32-bit Dst, and of a whole ttnn.matmul (bf16 inputs, default config),
as a ratio to ``a @ b`` in fp32. Timings are the minimum over the repeats (the machine may be shared).
"""
from __future__ import annotations

import argparse
import time

import torch


def _best(fn, repeats: int) -> float:
    fn()
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's choice)")
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)

    import torch_ttnn.sim as ttnn
    from torch_ttnn.sim import numerics
    from torch_ttnn.sim.formats import round_bf16_rne
    from torch_ttnn.sim.types import MathFidelity

    print(f"torch {torch.__version__}, {torch.get_num_threads()} thread(s), min of {args.repeats} runs")
    shapes = [((256, 1024), (1024, 1024)), ((8, 128, 64), (8, 64, 128)), ((1024, 256), (256, 256))]
    for sa, sb in shapes:
        a, b = round_bf16_rne(torch.randn(*sa)), round_bf16_rne(torch.randn(*sb))
        base = _best(lambda: torch.matmul(a, b), args.repeats)
        print(f"\n{tuple(sa)} @ {tuple(sb)}: fp32 torch matmul {base * 1e3:.2f} ms")
        for fid in (MathFidelity.LoFi, MathFidelity.HiFi2, MathFidelity.HiFi3, MathFidelity.HiFi4):
            cells = []
            for acc in (False, True):
                t = _best(lambda: numerics.fpu_matmul(a, b, fid, acc), args.repeats)
                cells.append(f"{'fp32' if acc else 'bf16'} Dst {t / base:5.2f}x")
            print(f"  fpu_matmul {fid.name:5s}: " + "   ".join(cells))
        dev = ttnn.open_device(device_id=0)
        try:
            ta = ttnn.from_torch(a, dtype=ttnn.bfloat16, layout=ttnn.TILE_LAYOUT, device=dev)
            tb = ttnn.from_torch(b, dtype=ttnn.bfloat16, layout=ttnn.TILE_LAYOUT, device=dev)

            def run():
                ttnn.deallocate(ttnn.matmul(ta, tb))

            t = _best(run, args.repeats)
            print(f"  ttnn.matmul bf16 (HiFi2, bf16 Dst, packer): {t / base:5.2f}x")
        finally:
            ttnn.close_device(dev)


if __name__ == "__main__":
    main()
