"""Calibration points: published TT-Metal measurements next to what the performance model gives.

Each point recreates the measured program's shapes, formats and placement as well as the publication states
them (assumptions are written on the point), asks the cost rules for the kernel time, and reports
ratio = modelled time / published time (below 1: the model is faster than the hardware was). Nothing here feeds
back into the rates: the points check the model, they do not fit it. Sources: PERFORMANCE.md and
tt-metal tech_reports/GEMM_FLOPS (the n150 "out of box" table: device time = ideal cycles / device utilisation).
"""
from __future__ import annotations

from dataclasses import dataclass

from ..arch import resolve
from ...matmul_rules import subblock
from ..types import (CoreCoord, DataType, MathFidelity, MatmulMultiCoreReuseMultiCastProgramConfig,
                     WormholeComputeKernelConfig)
from .estimate import estimate, tensor
from .rates import rates_for

BF16, BFP8, BFP4 = DataType.BFLOAT16, DataType.BFLOAT8_B, DataType.BFLOAT4_B
BAND = 0.25     # a disagreement beyond 25% is explained on the point


@dataclass
class Point:
    name: str
    arch: str
    published_us: float
    modelled_us: float
    source: str
    assumption: str = ""
    why: str = ""           # the reason for a disagreement beyond the band

    @property
    def ratio(self) -> float:
        return self.modelled_us / self.published_us

    @property
    def within_band(self) -> bool:
        return abs(self.ratio - 1.0) <= BAND


def _ckc(fid: MathFidelity, fp32: bool = False) -> WormholeComputeKernelConfig:
    return WormholeComputeKernelConfig(math_fidelity=fid, fp32_dest_acc_en=fp32)


def _grid_config(m: int, n: int, preset: str) -> MatmulMultiCoreReuseMultiCastProgramConfig:
    """The 2D multicast program a hand-tuned GEMM runs: the output split evenly over the whole grid."""
    p = resolve(preset)
    pm, pn = -(-m // 32 // p.grid_y), -(-n // 32 // p.grid_x)
    h, w = subblock(pm, pn, False)
    return MatmulMultiCoreReuseMultiCastProgramConfig(
        compute_with_storage_grid_size=CoreCoord(p.grid_x, p.grid_y), in0_block_w=2, out_subblock_h=h,
        out_subblock_w=w, per_core_M=pm, per_core_N=pn, transpose_mcast=False)


def _gemm_us(m, k, n, dtype, fid, preset, a_buffer="DRAM", tuned: bool = False) -> float:
    """A GEMM's modelled time: with the program TT-NN generates (out of box) or a hand-tuned full-grid one."""
    a = tensor((m, k), dtype, buffer=a_buffer)
    b = tensor((k, n), dtype)
    c = tensor((m, n), dtype)
    cfg = _grid_config(m, n, preset) if tuned else None
    return estimate("matmul", a, b, outputs=[c], preset=preset, compute_kernel_config=_ckc(fid),
                    program_config=cfg).kernel_us


def _tflops_us(m, k, n, tflops) -> float:
    return 2.0 * m * k * n / (tflops * 1e12) * 1e6


ENGINE_WHY = ("the model issues the matrix engine at its peak rate (16/32/64 cycles a tile product); the "
              "published Wormhole kernels reach 59-77% of that peak here (GEMM_FLOPS: Wormhole peaks at 93% "
              "utilisation in its best configurations, 32% of configurations exceed 80%): unpack/pack and "
              "Dst hand-off between output subblocks are not modelled")


def points() -> list[Point]:
    """Every calibration point, computed now from the cost rules."""
    pts = []
    gemm = 4096
    for dtype, fid, tflops, label in ((BF16, MathFidelity.HiFi4, 50.7, "BF16 HiFi4"),
                                      (BFP8, MathFidelity.HiFi2, 94.7, "BFP8 HiFi2"),
                                      (BFP4, MathFidelity.LoFi, 192.7, "BFP4 LoFi")):
        pts.append(Point(f"GEMM 4096^3 {label}, in0 in L1", "n150", _tflops_us(gemm, gemm, gemm, tflops),
                         _gemm_us(gemm, gemm, gemm, dtype, fid, "n150", a_buffer="L1", tuned=True),
                         "tech_reports/GEMM_FLOPS (hand-tuned, traced)", why=ENGINE_WHY))
    pts.append(Point("GEMM 4096^3 BF16 HiFi4, 11x10 grid", "p150", _tflops_us(gemm, gemm, gemm, 142.0),
                     _gemm_us(gemm, gemm, gemm, BF16, MathFidelity.HiFi4, "p150", a_buffer="L1", tuned=True),
                     "tech_reports/GEMM_FLOPS (hand-tuned, traced)"))
    # out of box (auto-selected configs, DRAM interleaved, BF16 HiFi2): device time = ideal / device utilisation
    r = rates_for(resolve("n150"))
    for size, util in ((1024, 0.4164), (2048, 0.6674), (4096, 0.5946)):
        ideal_us = 2.0 * size ** 3 / r.peak_flops(MathFidelity.HiFi2) * 1e6
        pts.append(Point(f"GEMM {size}^3 BF16 HiFi2 out of box, DRAM", "n150", ideal_us / util,
                         _gemm_us(size, size, size, BF16, MathFidelity.HiFi2, "n150"),
                         "tech_reports/GEMM_FLOPS n150 out-of-box table (device-based utilisation)",
                         why=ENGINE_WHY + "; at 1024^3 the auto-selected config also serialises its DRAM reads "
                                          "with compute, which the roofline overlaps"))
    # DRAM-bound element-wise: 260 GB/s reached on n150
    n = 8192
    x = tensor((n, n))
    add = estimate("add", x, x, outputs=[tensor((n, n))], preset="n150")
    pts.append(Point("DRAM-bound add 8192x8192 BF16 (GB/s as time)", "n150", add.dram_bytes / 260e3,
                     add.kernel_us, "Saturating_DRAM_bandwidth / Llama decode matmuls (239-267 GB/s)"))
    # Llama-3.1-70B decode, batch 32, Galaxy 8x4, one chip's share (weights 2D-split: K/4, N/8)
    act = tensor((1, 1, 32, 2048), BF16, buffer="L1")
    qkv = estimate("linear", act, tensor((2048, 1280), BFP8), outputs=[tensor((1, 1, 32, 1280), BF16, buffer="L1")],
                   preset="n150", compute_kernel_config=_ckc(MathFidelity.HiFi2))
    pts.append(Point("Llama-70B decode QKV matmul (per chip)", "n150", 10.5, qkv.kernel_us,
                     "tech_reports/LLMs, Llama-3.1-70B Galaxy decode ops report",
                     assumption="x [32, 2048] in L1, W [2048, 1280] BFP8 in DRAM (8192/4 x 10240/8), HiFi2"))
    act2 = tensor((1, 1, 32, 3584), BF16, buffer="L1")
    ff2 = estimate("linear", act2, tensor((3584, 2048), BFP4), outputs=[tensor((1, 1, 32, 2048), BF16, buffer="L1")],
                   preset="n150", compute_kernel_config=_ckc(MathFidelity.LoFi))
    pts.append(Point("Llama-70B decode FF2 matmul (per chip)", "n150", 17.0, ff2.kernel_us,
                     "tech_reports/LLMs, Llama-3.1-70B Galaxy decode ops report",
                     assumption="x [32, 3584] in L1, W [3584, 2048] BFP4 in DRAM (28672/8 x 8192/4), LoFi; "
                                "BFP8 would need 459 GB/s, above the chip's DRAM peak"))
    res = tensor((1, 1, 32, 2048), BF16)
    radd = estimate("add", res, res, outputs=[tensor((1, 1, 32, 2048), BF16)], preset="n150")
    pts.append(Point("Llama-70B decode residual add (per chip)", "n150", 2.4, radd.kernel_us + r.op_gap_us,
                     "tech_reports/LLMs, Llama-3.1-70B Galaxy decode ops report",
                     assumption="[32, 2048] BF16 in DRAM, kernel + the 1 us op-to-op gap"))
    q = tensor((32, 8, 1, 128), BF16, buffer="L1")
    kv = tensor((32, 1, 128, 128), BFP8)
    sdpa = estimate("transformer.scaled_dot_product_attention", q, kv, kv,
                    outputs=[tensor((32, 8, 1, 128), BF16, buffer="L1")], preset="n150", is_causal=False)
    dec = estimate("transformer.scaled_dot_product_attention_decode", tensor((1, 32, 8, 128), BF16, buffer="L1"),
                   kv, kv, outputs=[tensor((1, 32, 32, 128), BF16, buffer="L1")], preset="n150",
                   cur_pos=[127] * 32)
    pts.append(Point("Llama-70B decode SDPA, position 127 (per chip)", "n150", 14.0, dec.kernel_us,
                     "tech_reports/LLMs, Llama-3.1-70B Galaxy decode ops report",
                     assumption="sdpa_decode, as our compiled decode steps run it: Q [1, 32 users, 8 heads, 128], "
                                "K/V [32, 1, 128, 128] BFP8, a user's query heads in one tile, its K/V read once",
                     why="optimistic: the kernel's per-chunk read latency and the exchange of partial results "
                         "between cores are unmodelled. The prefill SDPA (which the compiler emitted for decode "
                         "steps before, and still does for a key length that is not a whole number of tiles) "
                         f"gives {sdpa.kernel_us:.1f} us ({sdpa.kernel_us / 14.0:.2f}): it streams K/V once per "
                         "query head, 8x the traffic"))
    pts.append(Point("op-to-op gap with trace", "n150", 1.0, r.op_gap_us,
                     "tech_reports/LLMs (0.5-2.2 us, ~1 us typical)",
                     assumption="the rate itself: the published typical gap is the constant"))
    for p in pts:
        if p.within_band:
            p.why = ""
    return pts


def table(pts=None) -> str:
    """The calibration points as a Markdown table."""
    pts = points() if pts is None else pts
    lines = ["| point | arch | published (us) | modelled (us) | ratio | note |", "|---|---|---:|---:|---:|---|"]
    for p in pts:
        note = "; ".join(x for x in (p.assumption, ("outside ±25%: " + p.why) if p.why else "") if x)
        lines.append(f"| {p.name} | {p.arch} | {p.published_us:,.1f} | {p.modelled_us:,.1f} | {p.ratio:.2f} | "
                     f"{note} |")
    return "\n".join(lines)
