"""Tile facts the compiler relies on, in one place: TT-NN's TILE layout stores the last two dims in 32x32 tiles
(FACTS.md "Layouts"), so their sizes are padded to multiples of 32 and a reshape is a zero-cost ttnn.view only
when it leaves the tiles as they are."""
from __future__ import annotations

import math

TILE = 32


def round_up(n: int) -> int:
    """n padded to a whole number of tiles."""
    return -(-int(n) // TILE) * TILE


def hw(shape) -> tuple:
    """(second-to-last, last) dims of a shape; a missing dim counts as 1."""
    shape = tuple(shape)
    return (shape[-2] if len(shape) >= 2 else 1), (shape[-1] if shape else 1)


def padded_shape(shape) -> list:
    """The shape a TILE tensor occupies: rank 0 and 1 as one tile row ([32, 32], [32, W']); the last two dims
    padded to multiples of 32."""
    s = [int(d) for d in shape] or [1]
    if len(s) == 1:
        s = [1] + s
    return s[:-2] + [round_up(s[-2]), round_up(s[-1])]


def padded_volume(shape) -> int:
    """Elements a TILE tensor of this shape stores, padding included."""
    return math.prod(padded_shape(shape))


def is_free_view(old, new, tile: bool, *, scalars: bool = True) -> bool:
    """ttnn.view's condition for reshaping `old` to `new`: the last dim is unchanged and, in TILE layout, the
    second-to-last too or both are multiples of 32 (the tiles stay the same). scalars=False also refuses a
    view to or from rank 0 (the layout pass's stricter rule)."""
    old, new = tuple(old), tuple(new)
    if old == new:
        return True
    if not scalars and (not old or not new):
        return False
    (oh, ow), (nh, nw) = hw(old), hw(new)
    if ow != nw:
        return False
    return (not tile) or oh == nh or (oh % TILE == 0 and nh % TILE == 0)
