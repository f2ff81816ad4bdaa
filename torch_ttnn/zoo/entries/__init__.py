"""The rows of the original README's model table, by where their architecture comes from.

Each module lists `ENTRIES`, ZooEntry records in table order. Builders import their package when called, so
listing the entries needs only torch and torchvision; `ZooEntry.missing()` names an absent extra.
"""
from __future__ import annotations


def all_entries() -> list:
    from . import other_models, timm_models, torchvision_models, transformers_models
    out = []
    for module in (torchvision_models, timm_models, transformers_models, other_models):
        out.extend(module.ENTRIES)
    names = [(e.name, e.mode) for e in out]
    dup = {n for n in names if names.count(n) > 1}
    if dup:
        raise RuntimeError(f"zoo table entries listed twice: {sorted(dup)}")
    return out
