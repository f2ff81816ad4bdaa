"""The callable that aot_autograd gets back for a compiled graph."""
from __future__ import annotations


class BoxedProgram:
    """Takes aot_autograd's boxed call (the arguments as one list) as well as a plain one; subclasses implement
    `run(args)`. `_boxed_call` is an instance attribute so that wrappers made with functools.wraps (dynamo's
    disable() around the backward) copy it."""

    def __init__(self):
        self._boxed_call = True

    def __call__(self, *args):
        if len(args) == 1 and isinstance(args[0], list):   # boxed call (graph inputs are never lists)
            args = args[0]
        return self.run(args)

    def run(self, args):
        raise NotImplementedError
