"""Data movement that enlarges tensors: expand, repeat, repeat_interleave, roll, pad (helpers: data_movement.py)."""
from __future__ import annotations

import inspect

import torch

from .._op import ttnn_op
from ..tensor import Tensor, tile_hw
from ..types import DataType, Layout
from ._common import fail, on_device, require_tensor, round_to
from .data_movement import _into, _ints, _is_block, _norm_dim, _output


# ------------------------------------------------------------------------------------------------
# expand / repeat / repeat_interleave / roll
# ------------------------------------------------------------------------------------------------

@ttnn_op("expand", golden=lambda input_tensor, output_shape, *a, **k: input_tensor.expand(list(output_shape)))
def expand(input_tensor, output_shape, *, memory_config=None):
    """Broadcast size-1 dims to `output_shape` (a copy; -1 keeps a dim)."""
    device = on_device("expand", input_tensor=input_tensor)
    shape = tuple(input_tensor.shape)
    out = _ints("expand", "output_shape", output_shape)
    if len(out) < len(shape):
        fail("expand", f"output_shape {out} has fewer dims than the input {list(shape)}")
    lead = len(out) - len(shape)
    full = []
    for k, o in enumerate(out):
        src = shape[k - lead] if k >= lead else None
        if o == -1:
            if src is None:
                fail("expand", f"-1 is not allowed for the new leading dim {k}")
            o = src
        if src is not None and src != o and src != 1:
            fail("expand", f"dim {k} of size {src} cannot be expanded to {o} (only size-1 dims expand)")
        if o <= 0:
            fail("expand", f"output_shape {out} has a non-positive dim")
        full.append(o)
    value = input_tensor._value.expand(full).contiguous()
    pad = None
    if input_tensor._layout == Layout.TILE and tile_hw(full) == tile_hw(shape):
        pad = input_tensor._pad
    return _output("expand", device, value, input_tensor, memory_config, pad=pad)


def _golden_repeat(tensor, shape, *args, **kwargs):
    reps = [int(s) for s in shape]
    if len(reps) < tensor.dim():
        reps = [1] * (tensor.dim() - len(reps)) + reps
    return tensor.repeat(*reps)


@ttnn_op("repeat", golden=_golden_repeat)
def repeat(input_tensor, repeat_dims, *, memory_config=None, optional_output_tensor=None):
    """Tile the tensor `repeat_dims` times along each dim (fewer entries than dims repeat the trailing dims)."""
    device = on_device("repeat", input_tensor=input_tensor)
    reps = _ints("repeat", "repeat_dims", repeat_dims)
    r = len(input_tensor.shape)
    if any(n <= 0 for n in reps):
        fail("repeat", f"repeat_dims must be positive, got {reps}")
    if len(reps) < r:
        reps = [1] * (r - len(reps)) + reps
    value = input_tensor._value.repeat(*reps)
    pad = None
    if input_tensor._layout == Layout.TILE and all(n == 1 for n in reps[-2:]):
        pad = input_tensor._pad
    out = _output("repeat", device, value, input_tensor, memory_config, pad=pad)
    return _into("repeat", optional_output_tensor, out)


@ttnn_op("repeat_interleave", golden=lambda tensor, repeats, dim=0, *a, **k: torch.repeat_interleave(
    tensor, repeats, dim=dim))
def repeat_interleave(input_tensor, repeats, dim, *, memory_config=None):
    """Repeat each element `repeats` times along `dim`."""
    device = on_device("repeat_interleave", input_tensor=input_tensor)
    r = len(input_tensor.shape)
    d = _norm_dim("repeat_interleave", dim, r)
    if not isinstance(repeats, int) or repeats <= 0:
        fail("repeat_interleave", f"repeats must be a positive int, got {repeats!r}")
    value = torch.repeat_interleave(input_tensor._value, repeats, dim=d)
    pad = input_tensor._pad if (input_tensor._layout == Layout.TILE and d < r - 2) else None
    return _output("repeat_interleave", device, value, input_tensor, memory_config, pad=pad)


def _golden_roll(input_tensor, shifts, dim=None, *args, **kwargs):
    shifts = shifts if isinstance(shifts, int) else tuple(shifts)
    if dim is None:
        return torch.roll(input_tensor, shifts)
    return torch.roll(input_tensor, shifts, dims=dim if isinstance(dim, int) else tuple(dim))


@ttnn_op("roll", golden=_golden_roll)
def roll(input_tensor, shifts, dim=None, *, memory_config=None):
    """Circular shift along one or several dims (shifts and dim: ints, or lists of equal length); without dim,
    the flattened tensor is rolled (the real (input_tensor, shifts, *, memory_config) overload)."""
    device = on_device("roll", input_tensor=input_tensor)
    r = len(input_tensor.shape)
    sh = _ints("roll", "shifts", shifts)
    if dim is None:
        if len(sh) != 1:
            fail("roll", f"without dim, shifts must be a single int, got {sh}")
        value = torch.roll(input_tensor._value, sh[0])
        return _output("roll", device, value, input_tensor, memory_config, pad=None)
    dims = _ints("roll", "dim", dim)
    if len(sh) != len(dims):
        fail("roll", f"shifts {sh} and dim {dims} must have the same length")
    dims = [_norm_dim("roll", d, r) for d in dims]
    value = torch.roll(input_tensor._value, tuple(sh), dims=tuple(dims))
    pad = None
    if input_tensor._layout == Layout.TILE and all(d < r - 2 for d in dims):
        pad = input_tensor._pad
    return _output("roll", device, value, input_tensor, memory_config, pad=pad)


def _roll_overload(input_tensor, shifts, dim, *, memory_config=None):
    """The registered real overload of roll (the function also accepts the overload without dim)."""


roll.fn.__signature__ = inspect.signature(_roll_overload)


# ------------------------------------------------------------------------------------------------
# pad
# ------------------------------------------------------------------------------------------------

def _golden_pad(input_tensor, padding, value=0, *args, **kwargs):
    pairs = [tuple(p) for p in padding]
    pairs = [(0, 0)] * (input_tensor.dim() - len(pairs)) + pairs
    flat = []
    for a, b in reversed(pairs):
        flat += [a, b]
    return torch.nn.functional.pad(input_tensor, flat, mode="constant", value=value)


@ttnn_op("pad", golden=_golden_pad)
def pad(input_tensor, padding, value, *, use_multicore=True, memory_config=None, sub_core_grids=None):
    """Pad with `value`: padding is [(before, after), ...] for the trailing dims.

    Host: ROW_MAJOR only. Device TILE: no front padding (the tile padding of the result holds `value`).
    """
    op = "pad"
    require_tensor(op, "input_tensor", input_tensor)
    t = input_tensor
    shape = tuple(t.shape)
    r = len(shape)
    try:
        pairs = [(int(p[0]), int(p[1])) for p in padding]
    except (TypeError, IndexError):
        fail(op, "padding must be a list of (before, after) pairs (the output_padded_shape form is not supported)")
    if len(pairs) > r:
        fail(op, "padding len can't be larger than input tensor rank")
    pairs = [(0, 0)] * (r - len(pairs)) + pairs
    if any(a < 0 or b < 0 for a, b in pairs):
        fail(op, f"padding must be non-negative, got {pairs}")
    if t._device is None:
        if t._layout != Layout.ROW_MAJOR:
            fail(op, "Tensor layout Layout::TILE must be ROW_MAJOR for padding a host tensor")
        if r > 4 and any(a or b for a, b in pairs[: r - 3]):
            fail(op, "ttnn::pad only supports padding on the lowest 3 dimensions for host tensors with rank > 4")
    else:
        on_device(op, input_tensor=t)
        if t._layout == Layout.TILE and any(a for a, _ in pairs):
            fail(op, "on device tile padding does not support front padding")
    if all(a == 0 and b == 0 for a, b in pairs):
        return t
    fill = round_to(torch.tensor([float(value)]), t._dtype if not _is_block(t) else DataType.BFLOAT16, None,
                    rounding="host")
    flat = []
    for a, b in reversed(pairs):
        flat += [a, b]
    src = t._value
    if src.dtype == torch.int64:
        out = torch.nn.functional.pad(src, flat, mode="constant", value=int(fill[0]))
    else:
        out = torch.nn.functional.pad(src, flat, mode="constant", value=float(fill[0]))
    if t._device is None:
        return Tensor._new(out, t._dtype, t._layout, None, None, None, None)
    pad_scalar = float(fill[0]) if t._layout == Layout.TILE else None
    return _output(op, t._device, out, t, memory_config, pad=pad_scalar)
