"""The callable that aot_autograd gets back for a compiled graph."""
from __future__ import annotations

from torch.utils._python_dispatch import _disable_current_modes


class BoxedProgram:
    """Takes aot_autograd's boxed call (the arguments as one list) as well as a plain one; subclasses implement
    `run(args)`. `_boxed_call` is an instance attribute so that wrappers made with functools.wraps (dynamo's
    disable() around the backward) copy it.

    A program runs outside any active torch dispatch mode: the torch ops inside it are the simulated device's
    arithmetic (or the host side of real TT-NN calls), not operations of the user's graph. aot_autograd wraps the
    first call of every compiled graph in a mode that inspects each aten op for custom-op aliasing; left active,
    it saw every tensor operation of the simulation and its precision-search candidates (seconds on a
    BERT-sized model)."""

    def __init__(self):
        self._boxed_call = True

    def __call__(self, *args):
        if len(args) == 1 and isinstance(args[0], list):   # boxed call (graph inputs are never lists)
            args = args[0]
        with _disable_current_modes():
            return self.run(args)

    def run(self, args):
        raise NotImplementedError
