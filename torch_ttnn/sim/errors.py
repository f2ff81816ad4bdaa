"""The exceptions the simulated device raises (simulator-only names; real ttnn raises RuntimeError).

Both derive from RuntimeError, as the errors of real TT-NN do (a TT_FATAL reaches Python as RuntimeError), so
code written for a chip catches them the same way; tests that want the precise kind import them from here.
"""
from __future__ import annotations


class TTNNError(RuntimeError):
    """An op refused its arguments (wrong layout, dtype, placement or shape), as real TT-NN does."""


class OutOfMemoryError(RuntimeError):
    """A buffer did not fit in the bank it was asked for (DRAM, L1, L1_SMALL or the trace region)."""
