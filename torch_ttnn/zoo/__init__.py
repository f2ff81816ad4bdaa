"""The model zoo: model builders with random weights (fixed seed), realistic inputs, no downloads.

Two kinds of entries, one record (`ZooEntry`):
- the built-in small models (`names()`): the demo, the fast CI subset, `torch-ttnn models`;
- the entries of the original README's model table (`table_entries()`, 123, MNIST among them in eval and
  train mode), written in `torch_ttnn/zoo/entries/` by source. The zoo tests (tests/models/zoo)
  parametrize from them; `torch-ttnn zoo` runs those tests.

`get(name)` finds either kind; `entry.build()` gives (model, inputs), with torch's seed set to 0 first.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from importlib.util import find_spec
from typing import Callable, Mapping, Optional

import torch

from . import small


@dataclass(frozen=True)
class ZooEntry:
    """A model and its inputs, built on demand.

    `builder()` returns (model, inputs) or (model, inputs, properties measured while building, e.g. the
    parameter count of a full-depth architecture built shallower). For a "train" entry the model is a
    function whose result is the loss. `properties` are recorded with the entry's metrics (the original's
    dtype or call, a stand-in's explanation); `requires` names the packages the builder imports (the zoo extra);
    `known_failure`, when set, says why its compiled run is expected to fail."""
    name: str
    builder: Callable[[], tuple]
    mode: str = "eval"
    description: str = ""
    source: str = "built-in"
    properties: Mapping = field(default_factory=dict, compare=False)
    requires: tuple = ()
    known_failure: Optional[str] = None

    def build(self) -> tuple:
        """(model, inputs)."""
        model, inputs, _ = self.build_recorded()
        return model, inputs

    def build_recorded(self) -> tuple:
        """(model, inputs, properties): the entry's properties with those its builder measured."""
        torch.manual_seed(0)
        built = self.builder()
        props = dict(self.properties)
        if len(built) == 3:
            props.update(built[2])
        return built[0], built[1], props

    def missing(self) -> list:
        """The packages the builder needs that are not installed."""
        return [p for p in self.requires if find_spec(p) is None]


_BUILT_IN: dict = {}
_TABLE: list = []


def register(name: str, build: Callable[[], tuple], mode: str = "eval", description: str = "") -> None:
    if name in _BUILT_IN:
        raise RuntimeError(f"zoo entry {name!r} registered twice")
    _BUILT_IN[name] = ZooEntry(name, build, mode, description)


def table_entries(source: Optional[str] = None) -> list:
    """The entries of the README's model table (of one source: "torchvision", "timm", "transformers",
    "other"), in table order within each source."""
    if not _TABLE:
        from .entries import all_entries
        _TABLE.extend(all_entries())
    return [e for e in _TABLE if source is None or e.source == source]


def get(name: str, mode: Optional[str] = None) -> ZooEntry:
    """A built-in model, else a table entry (its eval entry unless `mode` says otherwise)."""
    if name in _BUILT_IN and mode in (None, _BUILT_IN[name].mode):
        return _BUILT_IN[name]
    found = [e for e in table_entries() if e.name == name]
    for e in found:
        if e.mode == (mode or "eval"):
            return e
    if found and mode is None:
        return found[0]
    wanted = f"{name!r}" + (f" ({mode})" if mode else "")
    raise KeyError(f"no zoo model {wanted}; built-in: {', '.join(names())} (the table's: torch-ttnn zoo --list)")


def names() -> list:
    """The built-in models."""
    return sorted(_BUILT_IN)


small.register_all(register)
