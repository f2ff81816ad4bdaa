"""Fusions TT-NN offers, as passes (filled in by the fusion work; empty lists keep the pipeline whole)."""
from __future__ import annotations


def aten_fusions(option) -> list:
    return []


def ttnn_fusions(ttnn, option) -> list:
    return []
