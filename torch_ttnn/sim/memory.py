"""Device memory: one bank-interleaved allocator per buffer type, with the real capacities.

Interleaved buffers spread their pages round-robin over the banks and reserve the same offset in every bank,
so an allocator manages a single address range the size of one bank. Sharded buffers take one shard per core
(one L1 bank per core) at the same offset on every core.

As in TT-Metal's allocator, DRAM buffers are placed bottom-up (first fit from the lowest address) and L1 buffers
top-down (the highest free block that fits, at its top): the bottom of every core's L1 is where a program's
circular buffers go, from address 0 up to the lowest L1 buffer (`cb_space`; TT-Metal's get_max_l1_space), and a
launch whose circular buffers would reach into that buffer is refused (sim/perf/profiler.py).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional

from ..address_space import AddressSpace
from .errors import OutOfMemoryError
from .types import BufferType

# live buffers a trace replay overwrote (sim/trace.py marks them; reading one raises); 0: nothing to check
CLOBBERED = 0


@dataclass
class Allocation:
    buffer_type: BufferType
    address: int
    bank_bytes: int          # bytes reserved in each bank
    num_banks: int           # banks the buffer spans
    size: int                # the buffer's own size in bytes (pages * page size)
    freed: bool = False
    holders: int = 0         # live ttnn.Tensor objects on this buffer (views share it); 0: freed, as in ttnn
    clobbered: Optional[int] = None   # id of the trace whose replay overwrote it (its contents are lost)

    @property
    def reserved_bytes(self) -> int:
        return self.bank_bytes * self.num_banks


@dataclass
class BankAllocator:
    """First-fit allocator over one bank-sized address range shared by `num_banks` banks (from the top of the
    range down when `top_down`; torch_ttnn/address_space.py)."""
    buffer_type: BufferType
    num_banks: int
    bank_size: int
    alignment: int
    top_down: bool = False
    _owners: dict = field(default_factory=dict)   # start -> the live Allocation there
    current: int = 0                               # bytes reserved over all banks
    peak: int = 0
    allocations: int = 0

    def __post_init__(self):
        self.space = AddressSpace(self.bank_size, self.alignment, self.top_down)

    def free_bytes_per_bank(self) -> int:
        return self.bank_size - self.space.used()

    def largest_free_block(self) -> int:
        return self.space.largest_free()

    def cb_space(self) -> int:
        """Bytes of a bank below its lowest live buffer: what a program's circular buffers can take (TT-Metal
        allocates them from the bottom of L1 up to the lowest L1 buffer)."""
        return self.space.lowest()

    def allocate(self, size: int, bank_bytes: int, num_banks: int | None = None) -> Allocation:
        num_banks = self.num_banks if num_banks is None else num_banks
        need = self.space.align(max(bank_bytes, 1))
        address = self.space.allocate(need)
        if address is None:
            raise OutOfMemoryError(
                f"Out of Memory: Not enough space to allocate {size} B {self.buffer_type.name} buffer across "
                f"{num_banks} banks, where each bank needs to store {need} B, but bank size is {self.bank_size} B "
                f"({self.free_bytes_per_bank()} B free per bank, largest free block {self.largest_free_block()} B)")
        self.current += need * num_banks
        self.peak = max(self.peak, self.current)
        self.allocations += 1
        alloc = Allocation(self.buffer_type, address, need, num_banks, size)
        self._owners[address] = alloc
        return alloc

    def owner(self, address: int):
        """The live allocation that starts at `address`, or None."""
        return self._owners.get(address)

    def free(self, alloc: Allocation) -> None:
        if alloc.freed:
            return
        alloc.freed = True
        if alloc.clobbered is not None:
            global CLOBBERED
            alloc.clobbered = None
            CLOBBERED -= 1
        self.space.free(alloc.address)
        self._owners.pop(alloc.address, None)
        self.current -= alloc.bank_bytes * alloc.num_banks

    def stats(self) -> dict:
        return {"buffer_type": self.buffer_type.name, "num_banks": self.num_banks, "bank_size": self.bank_size,
                "total_bytes": self.bank_size * self.num_banks, "current_bytes": self.current,
                "peak_bytes": self.peak, "free_bytes_per_bank": self.free_bytes_per_bank(),
                "largest_free_block": self.largest_free_block(), "live_buffers": len(self.space.starts),
                "allocations": self.allocations}
