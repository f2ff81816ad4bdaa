"""Values derived from a torch tensor, remembered while that tensor lives and is not modified.

Used for work that an op would otherwise redo on every call with the same operand, e.g. reordering a conv's
prepared weights into the layout the simulator computes with, or cutting a weight's bit slices for the matrix
unit. An entry is dropped when its source tensor is garbage collected, and ignored once the source was modified
in place (torch bumps the tensor's version counter, shared with its views), so a remembered value always equals
what recomputing it would give. Inference tensors have no version counter: their derived values are never
remembered. With a byte budget, the least recently used entries go first.
"""
from __future__ import annotations

import weakref
from collections import OrderedDict
from typing import Callable, Hashable, Optional

import torch


class TensorMemo:
    """derive(source) results keyed by (source tensor, extra key).

    budget_bytes: bound on the remembered values' sizes (`size(value)` bytes each, default: a tensor's bytes);
    None for no bound. evict: when full, forget the least recently used values (True) or do not remember the
    new one (False: a model whose values exceed the budget, used in the same order every call, then keeps
    the part that fits instead of evicting each value just before it is needed again)."""

    def __init__(self, budget_bytes: Optional[int] = None, size: Optional[Callable[[object], int]] = None,
                 evict: bool = True) -> None:
        self._entries: OrderedDict = OrderedDict()  # (id(source), key) -> (weakref(source), version, value, bytes)
        self.budget = budget_bytes
        self.evict = evict
        self._size = size or (lambda v: v.numel() * v.element_size() if isinstance(v, torch.Tensor) else 0)
        self.bytes = 0

    def get(self, source: torch.Tensor, key: Hashable, derive: Callable[[torch.Tensor], object]):
        if source.is_inference():
            return derive(source)
        slot = (id(source), key)
        entry = self._entries.get(slot)
        if entry is not None and entry[0]() is source and entry[1] == source._version:
            self._entries.move_to_end(slot)
            return entry[2]
        value = derive(source)
        nbytes = self._size(value)
        self._drop(slot)
        if self.budget is not None and (nbytes > self.budget or
                                        (not self.evict and self.bytes + nbytes > self.budget)):
            return value
        ref = weakref.ref(source, lambda r, slot=slot: self._forget(slot, r))
        self._entries[slot] = (ref, source._version, value, nbytes)
        self.bytes += nbytes
        while self.budget is not None and self.bytes > self.budget:
            self._drop(next(iter(self._entries)))
        return value

    def shrink(self, change: Callable[[object], None]) -> None:
        """Apply `change` (which makes a value smaller in place, keeping what it derives) to every remembered
        value, and count their sizes again."""
        for slot, (ref, version, value, _) in list(self._entries.items()):
            change(value)
            nbytes = self._size(value)
            self.bytes += nbytes - self._entries[slot][3]
            self._entries[slot] = (ref, version, value, nbytes)

    def room(self) -> Optional[int]:
        """Bytes the budget has left (None: no budget)."""
        return None if self.budget is None else self.budget - self.bytes

    def _drop(self, slot) -> None:
        entry = self._entries.pop(slot, None)
        if entry is not None:
            self.bytes -= entry[3]

    def _forget(self, slot, ref) -> None:
        entry = self._entries.get(slot)
        if entry is not None and entry[0] is ref:
            self._drop(slot)

    def __len__(self) -> int:
        return len(self._entries)

    def clear(self) -> None:
        self._entries.clear()
        self.bytes = 0
