"""Model builders of the zoo: random weights (fixed seed), realistic inputs, no downloads.

`get(name)` returns a ZooEntry whose `build()` gives (model, inputs). The small models here also serve
the demo and the fast CI subset; the full table of the original README is built in tests/models/.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import torch

from . import small

_ENTRIES: dict = {}


@dataclass(frozen=True)
class ZooEntry:
    name: str
    build: Callable[[], tuple]      # () -> (model, inputs)
    mode: str = "eval"
    description: str = ""


def register(name: str, build: Callable[[], tuple], mode: str = "eval", description: str = "") -> None:
    if name in _ENTRIES:
        raise RuntimeError(f"zoo entry {name!r} registered twice")
    _ENTRIES[name] = ZooEntry(name, build, mode, description)


def get(name: str) -> ZooEntry:
    try:
        return _ENTRIES[name]
    except KeyError:
        raise KeyError(f"no zoo model {name!r}; known: {', '.join(sorted(_ENTRIES))}") from None


def names() -> list:
    return sorted(_ENTRIES)


small.register_all(register)
