"""Arch presets of the simulated device (FACTS.md: grids, L1 per core, DRAM banks, clocks, bandwidth).

Figures, checked against FACTS.md and the SoC descriptors shipped in the real wheel
(ttnn/tt_metal/soc_descriptors/*.yaml):

- Wormhole B0 (n150, and one chip of an n300): 8x8 worker grid; L1 1,499,136 B per core of which
  1,463,968 B are usable by a worker; 12 DRAM banks (6 channels x 2) with a 1 GiB view each (dram_view_size
  1073741824) = 12 GiB a chip; DRAM alignment 32 B, L1 alignment 16 B; 1 GHz; 288 GB/s per chip (an n300 has
  two chips: 576 GB/s for the board).
- Blackhole p150: 11x10 worker grid (worker dispatch; 12x10 with Ethernet dispatch); L1 1,572,864 B per core,
  1,531,776 B usable; 8 DRAM banks with a 4278190080 B view each (4 GiB - 16 MiB; 8 of them make the board's
  32 GB); DRAM alignment 64 B; 1.35 GHz; 512 GB/s.

Select a preset with `open_device(..., preset="blackhole_p150")` or the environment variable
`TT_SIM_ARCH=blackhole_p150` (aliases: n150, n300, p150, wormhole, blackhole). The default is wormhole_n150.
"""
from __future__ import annotations

import os
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

    @property
    def dram_bytes(self) -> int:
        return self.dram_banks * self.dram_bank_size

    @property
    def l1_bytes(self) -> int:
        return self.num_cores * self.l1_bank_size


PRESETS = {
    "wormhole_n150": ArchPreset("wormhole_n150", Arch.WORMHOLE_B0, 8, 8, 1_463_968, 12, 1 * GiB, 32, 16, 1.0, 288.0),
    # one chip of an n300: same chip, Ethernet dispatch keeps the 8x8 worker grid
    "wormhole_n300": ArchPreset("wormhole_n300", Arch.WORMHOLE_B0, 8, 8, 1_463_968, 12, 1 * GiB, 32, 16, 1.0, 288.0),
    "blackhole_p150": ArchPreset("blackhole_p150", Arch.BLACKHOLE, 11, 10, 1_531_776, 8, 4_278_190_080, 64, 16,
                                 1.35, 512.0),
}
ALIASES = {"n150": "wormhole_n150", "wormhole": "wormhole_n150", "wormhole_b0": "wormhole_n150",
           "n300": "wormhole_n300", "p150": "blackhole_p150", "blackhole": "blackhole_p150"}
DEFAULT_PRESET = "wormhole_n150"
ENV_VAR = "TT_SIM_ARCH"


def resolve(name: str | None = None) -> ArchPreset:
    """The preset called `name` (or an alias); None: $TT_SIM_ARCH, else the default (wormhole_n150)."""
    if name is None:
        name = os.environ.get(ENV_VAR) or DEFAULT_PRESET
    key = str(name).strip().lower()
    key = ALIASES.get(key, key)
    if key not in PRESETS:
        raise ValueError(f"unknown simulated arch {name!r}; choose one of {sorted(PRESETS)} "
                         f"(aliases {sorted(ALIASES)})")
    return PRESETS[key]
