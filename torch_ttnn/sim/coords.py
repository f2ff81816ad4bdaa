"""Mesh shapes and chip coordinates (ttnn.MeshShape, ttnn.MeshCoordinate): small value types that tensors and
mesh devices both use."""
from __future__ import annotations

import math


def _dims_of(args, what: str) -> tuple:
    if len(args) == 1 and not isinstance(args[0], int):
        dims = tuple(int(d) for d in args[0])
    else:
        dims = tuple(int(d) for d in args)
    if not dims:
        raise TypeError(f"{what} needs at least one dimension")
    return dims


class _IntTuple:
    """A few ints with the real constructors (T(a, b), T(a, b, c), T(sequence)), compared by value."""

    def __init__(self, values: tuple):
        self._v = values

    def dims(self) -> int:
        return len(self._v)

    def __getitem__(self, i):
        return self._v[i]

    def __len__(self) -> int:
        return len(self._v)

    def __iter__(self):
        return iter(self._v)

    def __eq__(self, other) -> bool:
        if isinstance(other, type(self)):
            return self._v == other._v
        return NotImplemented

    def __hash__(self) -> int:
        return hash((type(self).__name__, self._v))

    def __repr__(self) -> str:
        return f"{type(self).__name__}([{', '.join(map(str, self._v))}])"


class MeshShape(_IntTuple):
    """Shape of a mesh device (real constructors: MeshShape(s0, s1), MeshShape(s0, s1, s2), MeshShape(shape))."""

    def __init__(self, *args):
        super().__init__(_dims_of(args, "MeshShape"))
        if any(d <= 0 for d in self._v):
            raise ValueError(f"MeshShape: dimensions must be positive, got {list(self._v)}")

    def mesh_size(self) -> int:
        return math.prod(self._v)

    def __eq__(self, other) -> bool:
        if isinstance(other, (tuple, list)):
            return self._v == tuple(other)
        return super().__eq__(other)

    __hash__ = _IntTuple.__hash__


class MeshCoordinate(_IntTuple):
    """A chip's coordinate in a mesh (real constructors as MeshShape's; MeshCoordinate([]) is empty)."""

    def __init__(self, *args):
        super().__init__(_dims_of(args, "MeshCoordinate") if args and not (len(args) == 1 and not args[0]) else ())

    def coords(self) -> tuple:
        return self._v
