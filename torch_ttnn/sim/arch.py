"""Arch presets of the simulated device (FACTS.md: grids, L1 per core, DRAM banks, clocks, bandwidth)."""
from __future__ import annotations

from dataclasses import dataclass

from .types import Arch

GiB = 1 << 30


@dataclass(frozen=True)
class ArchPreset:
    name: str
    arch: Arch
    grid_x: int                 # compute_with_storage_grid_size
    grid_y: int
    l1_bank_size: int           # L1 usable by a worker core, bytes
    dram_banks: int
    dram_bank_size: int
    dram_alignment: int
    l1_alignment: int
    clock_ghz: float
    dram_gb_per_s: float

    @property
    def num_cores(self) -> int:
        return self.grid_x * self.grid_y


PRESETS = {
    "wormhole_n150": ArchPreset("wormhole_n150", Arch.WORMHOLE_B0, 8, 8, 1_463_968, 12, 1 * GiB, 32, 16, 1.0, 288.0),
    # one chip of an n300: same chip, Ethernet dispatch keeps the 8x8 worker grid
    "wormhole_n300": ArchPreset("wormhole_n300", Arch.WORMHOLE_B0, 8, 8, 1_463_968, 12, 1 * GiB, 32, 16, 1.0, 288.0),
    "blackhole_p150": ArchPreset("blackhole_p150", Arch.BLACKHOLE, 11, 10, 1_531_776, 8, 4 * GiB, 64, 16, 1.35, 512.0),
}
DEFAULT_PRESET = "wormhole_n150"
