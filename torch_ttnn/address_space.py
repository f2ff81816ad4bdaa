"""One bank's address range as TT-Metal's allocator manages it: blocks placed first-fit from the bottom (DRAM)
or from the top (L1: the highest free block that fits, at its top, so that the bottom of every core's L1 stays
free for the circular buffers of the program that runs next). Pure arithmetic on addresses, shared by the
simulator (the allocators of a simulated device, sim/memory.py) and the compiler (the L1 placement replays the
program's allocations to know where each op's circular buffers can go, compiler/passes/placement.py)."""
from __future__ import annotations

import bisect
from typing import Iterator, Optional


class AddressSpace:
    def __init__(self, size: int, alignment: int, top_down: bool = False):
        self.size = size
        self.alignment = alignment
        self.top_down = top_down
        self.starts: list = []        # sorted start addresses of the live blocks
        self.sizes: dict = {}         # start -> bytes (aligned)

    def align(self, n: int) -> int:
        return -(-n // self.alignment) * self.alignment

    def gaps(self) -> Iterator[tuple]:
        """(start, end) of the free blocks, lowest first."""
        cursor = 0
        for start in self.starts:
            if start > cursor:
                yield cursor, start
            cursor = start + self.sizes[start]
        if self.size > cursor:
            yield cursor, self.size

    def allocate(self, nbytes: int) -> Optional[int]:
        """The address of a new block of `nbytes` (aligned up), or None when no free block holds it."""
        need = self.align(max(nbytes, 1))
        fits = [(lo, hi) for lo, hi in self.gaps() if hi - lo >= need]
        if not fits:
            return None
        lo, hi = fits[-1] if self.top_down else fits[0]
        address = (hi - need) // self.alignment * self.alignment if self.top_down else lo
        bisect.insort(self.starts, address)
        self.sizes[address] = need
        return address

    def free(self, address: int) -> None:
        self.starts.remove(address)
        del self.sizes[address]

    def used(self) -> int:
        return sum(self.sizes.values())

    def lowest(self) -> int:
        """The lowest live address (the size of the range when empty): the room below every block."""
        return self.starts[0] if self.starts else self.size

    def largest_free(self) -> int:
        return max((hi - lo for lo, hi in self.gaps()), default=0)
