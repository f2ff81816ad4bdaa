"""Hardware rates of the performance model: one table per arch, every constant with its source.

Sources (see also /docs/performance.md):
  [ME]   tt-metal tech_reports/matrix_engine/matrix_engine.md: 8x16 x 16x16 per core per cycle = 4,096 FLOPs at
         LoFi; fidelity divides it by 1/2/3/4 (LoFi/HiFi2/HiFi3/HiFi4); element-wise 8x16 values a cycle;
         reduce 16x16 a cycle; multiplies and sum reductions pay the fidelity factor.
  [GEMM] tt-metal tech_reports/GEMM_FLOPS/GEMM_FLOPS.md: 16/32/48/64 cycles per 32x32x32 tile product; WH 1 GHz,
         BH 1.35 GHz.
  [DRAM] tt-metal tech_reports/Saturating_DRAM_bandwidth: per-core DRAM read ~28 GB/s (WH) / ~50 GB/s (BH) with
         transactions of >= 1-2 KB; DRAM latency 358 / 529 cycles.
  [OPH]  tt-metal ttnn operation.hpp, the ideal-time estimate of the ops performance report: DRAM peak 258 GB/s
         (WH) and 512 GB/s (BH).
  [NPE]  tenstorrent/tt-npe device models (NoC performance estimator): NoC link 30 B/cycle (Wormhole B0),
         60.9 B/cycle (Blackhole).
  [LLM]  tt-metal tech_reports/LLMs: op dispatch without trace costs single-digit microseconds per op on the host;
         with a captured trace op-to-op gaps are 0.5-2.2 us, ~1 us typical.
  [PCIE] FACTS.md (docs.tenstorrent.com / tt-metal measurements): host->device ~3.9 GB/s, device->host
         1.1-1.9 GB/s through the fast-dispatch command queue.
  [TRC]  size of a captured trace: tt-metal's dispatch commands (cq_commands.hpp) are 16-byte prefetch + 16-byte
         dispatch headers padded to the 64-byte PCIe alignment; each program also sends every core it uses its
         launch message (go signal, kernel config: ~96 B) and runtime args (typically 8-16 32-bit words).
         Estimate: 256 B a program + 160 B a core, ~10 KB for a 64-core op, i.e. ~1-2 MB for a 100-200 op CNN,
         the size TT-Metal's traced model demos reserve with open_device(trace_region_size=...).
  [CCL]  tt-metal tech_reports/CCLs (Wormhole, traced, bf16), fits of measured collective latency over N chips
         and the bytes of one chip's input: line all_gather 4.47 us + 1.91 us x (N-1) + (N-1) x bytes / 11.8
         GB/s; ring all_gather 4.47 us + 2.50 us x N/2 + (N-1) x bytes / 20.8 GB/s; line reduce_scatter 3.23 us
         + 3.97 us x (N-1) + (N-1)/N x bytes / 11.1 GB/s; line all_reduce 9.07 us + 5.82 us x (N-1) + 2(N-1)/N
         x bytes / 10.9 GB/s. Ethernet link 12.5 GB/s on Wormhole (the fitted rates are 87-94 % of it), per-hop
         latency 711 ns (WH) / 515 ns (BH). Blackhole has no published fit: its Ethernet runs at 25 GB/s (half of
         50), so the model keeps Wormhole's fixed terms and doubles the byte rates (same share of the link).
  [MMCFG] tt-metal ttnn/cpp/ttnn/operations/matmul/device/config/matmul_program_config.cpp and
         device/utilities/matmul_utilities.cpp: the program config TT-NN generates for a matmul given none
         (sim/ops/matmul_auto.py reproduces it).
  [CONV] tt-metal ttnn/cpp/ttnn/operations/conv/conv2d/conv2d_utils.cpp: the shard layout conv2d chooses
         without conv_config.shard_layout (select_shard_spec) and the cores along rows and channels of each
         layout (determine_parallel_config, determine_output_parallel_config); sim/ops/conv_parallel.py.
  [SFPU] tt-isa-documentation: the SFPU is 32 lanes x 32 bit and issues one instruction a cycle. No cycles per
         transcendental function are published; rules.py estimates instructions per element from the
         algorithm each kernel uses, and says so.
"""
from __future__ import annotations

from dataclasses import dataclass

from ..arch import ArchPreset
from ..types import MathFidelity

# [GEMM] cycles of one 32x32x32 tile product, by fidelity
TILE_MATMUL_CYCLES = {MathFidelity.LoFi: 16, MathFidelity.HiFi2: 32, MathFidelity.HiFi3: 48, MathFidelity.HiFi4: 64}
# [ME] passes of the multiplier by fidelity (element-wise multiplies and sum reductions pay them too)
FIDELITY_PASSES = {MathFidelity.LoFi: 1, MathFidelity.HiFi2: 2, MathFidelity.HiFi3: 3, MathFidelity.HiFi4: 4}
MATMUL_FLOPS_PER_CYCLE = 4096      # [ME] per core at LoFi
FPU_ELTWISE_PER_CYCLE = 8 * 16     # [ME] values a cycle (add/sub/mul, copy to Dst)
FPU_REDUCE_PER_CYCLE = 16 * 16     # [ME] values a cycle (reduce max/sum/avg)
SFPU_LANES = 32                    # [SFPU] 32 lanes, one instruction a cycle
TILE_VALUES = 32 * 32


@dataclass(frozen=True)
class CclFit:
    """[CCL] latency of one collective: fixed + per_step x steps + share x bytes / rate."""
    fixed_us: float
    step_us: float
    gb_s: float


@dataclass(frozen=True)
class CclRates:
    line_all_gather: CclFit
    ring_all_gather: CclFit
    line_reduce_scatter: CclFit
    line_all_reduce: CclFit
    hop_us: float
    link_gb_s: float

    def scaled(self, factor: float, hop_us: float, link_gb_s: float) -> "CclRates":
        def s(f: CclFit) -> CclFit:
            return CclFit(f.fixed_us, f.step_us, f.gb_s * factor)
        return CclRates(s(self.line_all_gather), s(self.ring_all_gather), s(self.line_reduce_scatter),
                        s(self.line_all_reduce), hop_us, link_gb_s)


WORMHOLE_CCL = CclRates(CclFit(4.47, 1.91, 11.8), CclFit(4.47, 2.50, 20.8), CclFit(3.23, 3.97, 11.1),
                        CclFit(9.07, 5.82, 10.9), hop_us=0.711, link_gb_s=12.5)
BLACKHOLE_CCL = WORMHOLE_CCL.scaled(25.0 / 12.5, hop_us=0.515, link_gb_s=25.0)


@dataclass(frozen=True)
class ArchRates:
    """The rates the cost rules use, for one arch preset."""
    name: str
    clock_ghz: float            # [GEMM]
    grid_x: int
    grid_y: int
    dram_gb_s: float            # [OPH] the DRAM peak TT-Metal's own ideal-time estimate uses
    core_dram_gb_s: float       # [DRAM] DRAM read bandwidth one core reaches
    dram_latency_cycles: int    # [DRAM]
    noc_bytes_per_cycle: float  # [NPE] one NoC link
    dispatch_us: float          # [LLM] host cost to enqueue one op without trace (middle of "single-digit us")
    op_gap_us: float            # [LLM] device op-to-op gap (traced; also the floor without trace)
    h2d_gb_s: float             # [PCIE]
    d2h_gb_s: float             # [PCIE] (middle of 1.1-1.9)
    trace_program_bytes: int = 256   # [TRC] commands of one captured program
    trace_core_bytes: int = 160      # [TRC] launch message and runtime args, per core the program uses
    ccl: CclRates = WORMHOLE_CCL     # [CCL]
    l1_core_bytes: int = 0           # L1 a worker core can allocate (arch.py); 0: unknown

    @property
    def cores(self) -> int:
        return self.grid_x * self.grid_y

    def trace_bytes(self, cores: int) -> int:
        """Bytes one captured program takes in a trace buffer."""
        return self.trace_program_bytes + self.trace_core_bytes * max(int(cores or 1), 1)

    @property
    def noc_gb_s(self) -> float:
        """One core's NoC bandwidth in GB/s."""
        return self.noc_bytes_per_cycle * self.clock_ghz

    def peak_flops(self, fidelity: MathFidelity = MathFidelity.LoFi) -> float:
        """Matrix-engine peak of the whole grid, FLOP/s."""
        return self.cores * MATMUL_FLOPS_PER_CYCLE * self.clock_ghz * 1e9 / FIDELITY_PASSES[MathFidelity(fidelity)]


def _wormhole(preset: ArchPreset) -> ArchRates:
    return ArchRates(preset.name, preset.clock_ghz, preset.grid_x, preset.grid_y, dram_gb_s=258.0,
                     core_dram_gb_s=28.0, dram_latency_cycles=358, noc_bytes_per_cycle=30.0, dispatch_us=5.0,
                     op_gap_us=1.0, h2d_gb_s=3.9, d2h_gb_s=1.5, l1_core_bytes=preset.l1_bank_size)


def _blackhole(preset: ArchPreset) -> ArchRates:
    return ArchRates(preset.name, preset.clock_ghz, preset.grid_x, preset.grid_y, dram_gb_s=512.0,
                     core_dram_gb_s=50.0, dram_latency_cycles=529, noc_bytes_per_cycle=60.9, dispatch_us=5.0,
                     op_gap_us=1.0, h2d_gb_s=3.9, d2h_gb_s=1.5, ccl=BLACKHOLE_CCL,
                     l1_core_bytes=preset.l1_bank_size)


_CACHE: dict[str, ArchRates] = {}


def rates_for(preset: ArchPreset) -> ArchRates:
    """The rates of an arch preset (Wormhole n150 and one n300 chip share one table; Blackhole p150 its own)."""
    r = _CACHE.get(preset.name)
    if r is None:
        r = _blackhole(preset) if preset.name.startswith("blackhole") else _wormhole(preset)
        _CACHE[preset.name] = r
    return r
