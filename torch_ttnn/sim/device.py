"""The simulated device: arch preset, allocators, counters and the numerics switch.

Everything that only the simulator has lives on the Device object (``device.counters``, ``device.memory``,
``device.memory_stats()``, ``device.numerics``, ``device.preset``); the module-level functions are those of
real ttnn. Simulator-only selectors: ``open_device(..., preset=..., numerics=...)`` after the real parameters,
and the environment variables TT_SIM_ARCH (arch preset, see arch.py) and TT_SIM_NUMERICS ("hardware": the
rounding of the real hardware; "ideal": every result rounded to nearest even, no fidelity loss). Opening a device
also tunes glibc malloc for the simulator's allocation pattern (_malloc.py; TT_SIM_MALLOC_TUNING=0 disables it).
"""
from __future__ import annotations

import collections
import os
from dataclasses import dataclass, field

from . import _malloc
from .arch import ArchPreset, resolve
from .memory import BankAllocator
from .perf.profiler import Profiler
from .types import BufferType, CoreCoord, CoreGrid

NUMERICS_MODES = ("hardware", "ideal")


class CounterTotals:
    """What is derived from the counts (to_device, to_device_bytes, from_device, from_device_bytes,
    op_launches), for a device's Counters and a mesh's sum over its chips alike."""

    @property
    def transfers(self) -> int:
        return self.to_device + self.from_device

    @property
    def ops(self) -> int:
        return sum(self.op_launches.values())

    def snapshot(self) -> dict:
        return {"to_device": self.to_device, "to_device_bytes": self.to_device_bytes,
                "from_device": self.from_device, "from_device_bytes": self.from_device_bytes,
                "op_launches": dict(self.op_launches)}


@dataclass
class Counters(CounterTotals):
    """Host<->device transfers and op launches, as counted by the device."""
    to_device: int = 0
    to_device_bytes: int = 0
    from_device: int = 0
    from_device_bytes: int = 0
    op_launches: collections.Counter = field(default_factory=collections.Counter)

    def reset(self) -> None:
        self.to_device = self.to_device_bytes = self.from_device = self.from_device_bytes = 0
        self.op_launches.clear()


class DeviceMemory:
    """The allocators of one device, by buffer type.

    L1: one bank per worker core, the usable L1 minus the L1_SMALL region (`l1_small_size` per core).
    DRAM: the preset's banks, minus the trace region (`trace_region_size` per bank) that TRACE buffers use.
    """

    def __init__(self, preset: ArchPreset, l1_small_size: int, trace_region_size: int):
        cores = preset.num_cores
        l1_bank = preset.l1_bank_size - l1_small_size
        dram_bank = preset.dram_bank_size - trace_region_size
        if l1_small_size < 0 or trace_region_size < 0:
            raise ValueError("open_device: l1_small_size and trace_region_size must be >= 0")
        if l1_bank <= 0:
            raise ValueError(f"open_device: l1_small_size={l1_small_size} leaves no L1 (a core has "
                             f"{preset.l1_bank_size} B)")
        if dram_bank <= 0:
            raise ValueError(f"open_device: trace_region_size={trace_region_size} leaves no DRAM (a bank has "
                             f"{preset.dram_bank_size} B)")
        self.allocators = {
            BufferType.DRAM: BankAllocator(BufferType.DRAM, preset.dram_banks, dram_bank, preset.dram_alignment),
            BufferType.L1: BankAllocator(BufferType.L1, cores, l1_bank, preset.l1_alignment, top_down=True),
            BufferType.L1_SMALL: BankAllocator(BufferType.L1_SMALL, cores, l1_small_size, preset.l1_alignment),
            BufferType.TRACE: BankAllocator(BufferType.TRACE, preset.dram_banks, trace_region_size,
                                            preset.dram_alignment),
        }

    def __getitem__(self, buffer_type: BufferType) -> BankAllocator:
        return self.allocators[BufferType(buffer_type)]

    def stats(self) -> dict:
        return {bt.name: a.stats() for bt, a in self.allocators.items()}

    def reset_peak(self) -> None:
        for a in self.allocators.values():
            a.peak = a.current


class Device:
    """A simulated TT-NN device (one chip)."""

    is_simulated = True

    def __init__(self, device_id: int = 0, *, preset: str | ArchPreset | None = None, l1_small_size: int = 0,
                 trace_region_size: int = 0, numerics: str | None = None, num_command_queues: int = 1):
        self.preset = preset if isinstance(preset, ArchPreset) else resolve(preset)
        self.device_id = device_id
        self.num_command_queues = check_num_command_queues(num_command_queues)
        self.l1_small_size = int(l1_small_size)
        self.trace_region_size = int(trace_region_size)
        self.memory = DeviceMemory(self.preset, self.l1_small_size, self.trace_region_size)
        self.counters = Counters()
        self.profiler = Profiler(self)
        self.numerics = numerics or os.environ.get("TT_SIM_NUMERICS", "hardware")
        if self.numerics not in NUMERICS_MODES:
            raise ValueError(f"numerics must be one of {NUMERICS_MODES}, got {self.numerics!r}")
        self.is_open = True

    # --- real ttnn Device API -----------------------------------------------------------------
    def arch(self):
        return self.preset.arch

    def id(self) -> int:
        return self.device_id

    def compute_with_storage_grid_size(self) -> CoreCoord:
        return CoreCoord(self.preset.grid_x, self.preset.grid_y)

    def dram_grid_size(self) -> CoreCoord:
        return CoreCoord(self.preset.dram_banks, 1)

    def get_num_devices(self) -> int:
        return 1

    def get_device_ids(self) -> list:
        return [self.device_id]

    def get_device_id(self, *args) -> int:
        return self.device_id

    @property
    def core_grid(self) -> CoreGrid:
        return CoreGrid(x=self.preset.grid_x, y=self.preset.grid_y)

    # program cache: the simulator compiles nothing; the calls are accepted and counted as no-ops
    def enable_program_cache(self) -> None:
        self._program_cache = True

    def disable_and_clear_program_cache(self) -> None:
        self._program_cache = False

    def clear_program_cache(self) -> None:
        pass

    def num_program_cache_entries(self) -> int:
        return 0

    def __repr__(self) -> str:
        return f"<simulated {self.preset.name} device {self.device_id}>"

    # --- simulator only -----------------------------------------------------------------------
    @property
    def ideal(self) -> bool:
        return self.numerics == "ideal"

    def memory_stats(self) -> dict:
        """Per buffer type (DRAM, L1, L1_SMALL, TRACE): banks, bank size, current and peak bytes, free bytes."""
        return self.memory.stats()

    def reset_peak_memory(self) -> None:
        self.memory.reset_peak()

    def estimate_op_us(self, op: str, *args, outputs: list, l1_free: int | None = None, **kwargs) -> float:
        """Simulator extension (a real device has no such method): the modelled kernel time in microseconds of
        ttnn.`op` on this device's arch, without running it. Tensor arguments and `outputs` are
        (shape, dtype, layout, buffer[, shard cores]) tuples, buffer "DRAM" or "L1"; `l1_free` is the L1 a core
        has below the lowest L1 buffer (default: what it has now); other keywords are the op's parameters."""
        from .perf.estimate import estimate
        free = self.memory[BufferType.L1].cb_space() if l1_free is None else int(l1_free)
        cost = estimate(op, *map(_descriptor, args), outputs=list(map(_descriptor, outputs)),
                        preset=self.preset.name, l1_free=free, **{k: _descriptor(v) for k, v in kwargs.items()})
        return cost.kernel_us

    def estimate_op_l1(self, op: str, *args, outputs: list, l1_free: int | None = None, **kwargs) -> int:
        """Simulator extension: the L1 bytes a core needs for the circular buffers (and temporary buffers) of a
        launch of ttnn.`op`, as the simulator checks them at launch, when a core has `l1_free` bytes for them
        (a matmul without a program config sizes its blocks to it; default: all of L1). Tensor arguments and
        `outputs` are (shape, dtype, layout, buffer) or (shape, dtype, layout, buffer, shard cores) tuples."""
        from .perf.estimate import circular_buffer_bytes
        return circular_buffer_bytes(op, *map(_descriptor, args), outputs=list(map(_descriptor, outputs)),
                                     preset=self.preset.name, l1_free=l1_free,
                                     **{k: _descriptor(v) for k, v in kwargs.items()})

    def queue(self, cq_id, what: str) -> int:
        """The command queue `cq_id` names (None: queue 0); a queue the device was not opened with raises, as
        TT-Metal's dispatch does."""
        cq = 0 if cq_id is None else int(cq_id)
        if not 0 <= cq < self.num_command_queues:
            raise RuntimeError(f"{what}: command queue {cq} does not exist: device {self.device_id} was opened with "
                               f"{self.num_command_queues} command queue(s) (open it with "
                               f"ttnn.CreateDevice(device_id, num_command_queues=2) or "
                               f"torch_ttnn.open_device(num_command_queues=2))")
        return cq

    def check_open(self, what: str) -> None:
        if not self.is_open:
            raise RuntimeError(f"{what}: device {self.device_id} is closed")


def _descriptor(v):
    """A (shape, dtype, layout, buffer[, shard cores]) tuple as the tensor descriptor the cost rules take; any
    other value as it is."""
    from .perf.estimate import tensor
    if isinstance(v, tuple) and len(v) in (4, 5) and isinstance(v[0], (tuple, list)):
        return tensor(*v)
    return v


_OPEN_DEVICES: dict[int, Device] = {}


def open_device(*, device_id: int = 0, l1_small_size: int = 0, trace_region_size: int = 0,
                dispatch_core_config=None, worker_l1_size: int = 0, preset: str | None = None,
                numerics: str | None = None, num_command_queues: int = 1) -> Device:
    """Open the simulated device `device_id`. If it is already open, the open one comes back when its L1_SMALL
    and trace regions are at least the sizes asked for; asking for larger regions raises (silently keeping the
    smaller ones would fail later, far from the cause, e.g. a conv2d out of L1_SMALL). Simulator-only
    selectors: preset, numerics, and num_command_queues (real ttnn takes it in CreateDevice)."""
    return _open(device_id, l1_small_size, trace_region_size, num_command_queues, preset, numerics)


def CreateDevice(device_id, num_command_queues=1, l1_small_size=0, trace_region_size=0,  # noqa: N802 (real name)
                 dispatch_core_config=None, *, worker_l1_size=0) -> Device:
    """Open the simulated device `device_id` with 1 or 2 command queues (the real signature; a second queue
    lets host transfers on queue 1 overlap the programs of queue 0). An open device comes back under the same
    conditions as open_device, and when it has at least the queues asked for."""
    return _open(device_id, l1_small_size, trace_region_size, num_command_queues, None, None)


def check_num_command_queues(n) -> int:
    if isinstance(n, bool) or not isinstance(n, int) or n not in (1, 2):
        raise ValueError(f"num_command_queues must be 1 or 2 (the hardware command queues a device has), got {n!r}")
    return n


def _open(device_id, l1_small_size, trace_region_size, num_command_queues, preset, numerics) -> Device:
    _malloc.tune()
    check_num_command_queues(num_command_queues)
    dev = _OPEN_DEVICES.get(device_id)
    if dev is not None and dev.is_open:
        if dev.l1_small_size < int(l1_small_size) or dev.trace_region_size < int(trace_region_size) \
                or dev.num_command_queues < num_command_queues:
            raise RuntimeError(f"open_device: device {device_id} is already open with l1_small_size="
                               f"{dev.l1_small_size}, trace_region_size={dev.trace_region_size} and "
                               f"{dev.num_command_queues} command queue(s); close it first to open it with "
                               f"l1_small_size={l1_small_size}, trace_region_size={trace_region_size} and "
                               f"{num_command_queues} command queue(s)")
        return dev
    dev = Device(device_id, preset=preset, l1_small_size=l1_small_size, trace_region_size=trace_region_size,
                 numerics=numerics, num_command_queues=num_command_queues)
    _OPEN_DEVICES[device_id] = dev
    return dev


def close_device(device) -> None:
    device.is_open = False
    _OPEN_DEVICES.pop(device.device_id, None)


def synchronize_device(device, cq_id=None, sub_device_ids=[]) -> None:  # noqa: B006 (real default)
    """The host waits until the device has finished what was enqueued (on queue `cq_id`, or on every queue)."""
    device.check_open("synchronize_device")
    for chip in getattr(device, "chips", None) or [device]:
        cqs = range(chip.num_command_queues) if cq_id is None else [chip.queue(cq_id, "synchronize_device")]
        for cq in cqs:
            chip.profiler.host_waits(cq)
