"""Values derived from a torch tensor, remembered while that tensor lives and is not modified.

Used for work that an op would otherwise redo on every call with the same operand, e.g. reordering a conv's
prepared weights into the layout the simulator computes with. An entry is dropped when its source tensor is
garbage collected, and ignored once the source was modified in place (torch bumps the tensor's version counter,
shared with its views), so a remembered value always equals what recomputing it would give.
"""
from __future__ import annotations

import weakref
from typing import Callable, Hashable

import torch


class TensorMemo:
    """derive(source) results keyed by (source tensor, extra key)."""

    def __init__(self) -> None:
        self._entries: dict = {}            # (id(source), key) -> (weakref(source), version, value)

    def get(self, source: torch.Tensor, key: Hashable, derive: Callable[[torch.Tensor], object]):
        slot = (id(source), key)
        entry = self._entries.get(slot)
        if entry is not None and entry[0]() is source and entry[1] == source._version:
            return entry[2]
        value = derive(source)
        ref = weakref.ref(source, lambda r, slot=slot: self._forget(slot, r))
        self._entries[slot] = (ref, source._version, value)
        return value

    def _forget(self, slot, ref) -> None:
        entry = self._entries.get(slot)
        if entry is not None and entry[0] is ref:
            del self._entries[slot]

    def __len__(self) -> int:
        return len(self._entries)

    def clear(self) -> None:
        self._entries.clear()
