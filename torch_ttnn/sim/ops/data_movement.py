"""Data movement: reshape/view, squeeze/unsqueeze, permute/transpose, move, tilize_with_val_padding,
untilize_with_unpadding, reshape_on_device, and the helpers of the family; concat/stack/slice/split/chunk/narrow
are in concat_slice.py, expand/repeat/repeat_interleave/roll/pad in expand_pad.py. What follows holds for all.

Values are copied bit-exactly (a data-movement kernel moves bytes, it does not round). Block-float outputs
are re-quantized with the packer rule because moving values regroups the 16-value blocks that share an exponent
(re-quantizing values whose blocks did not change is a no-op).

Zero-cost ops (``view``, ``reshape``/``squeeze``/``unsqueeze`` when they are views, ``narrow``) return a tensor
sharing the input's device buffer and are not op launches; when reshape has to move data it counts one launch.

The view rule (real ``reshape_view.cpp``): a reshape is free when the last dim is unchanged, the memory config
keeps its buffer type and sharding, and the layout is ROW_MAJOR, or (TILE) the second-to-last dim is unchanged,
or both the old and the new second-to-last dims are multiples of 32 (no padding rows, so the tiles do not
change).

Tile padding scalar (``Tensor._pad``, TILE only): ops that move whole tiles keep it (views, permutes keeping or
swapping the last two dims, concat/slice/split on tile boundaries, ops on the outer dims); ops that write the
padding set it to what they write (pad: its value; reshape moving data: ``pad_value``, default 0; permutes that
break tiles: ``pad_value``); ops that re-tile without defining it give None.
"""
from __future__ import annotations

import builtins
import enum
import math
from typing import Optional, Sequence

import torch

from .. import trace
from .._op import launched, ttnn_op
from ..tensor import Tensor, bind_ops, padded_shape_of, tile_hw
from ..types import TILE_HEIGHT, BLOCK_FLOAT_DTYPES, FLOAT_DTYPES, DataType, Layout
from ._common import (fail, make_output, on_device, out_memory_config, padded_values, require_layout, require_tensor,
                      stored)

TILE = TILE_HEIGHT         # tiles are square: TILE_HEIGHT == TILE_WIDTH
_pyslice = builtins.slice  # this module defines the op `slice`


class TileReshapeMapMode(enum.IntEnum):
    """ttnn.TileReshapeMapMode: whether tiled reshape reuses (CACHE) or rebuilds (RECREATE) its mapping."""
    CACHE = 0
    RECREATE = 1


# ------------------------------------------------------------------------------------------------
# Helpers
# ------------------------------------------------------------------------------------------------

def _ints(op: str, arg: str, seq) -> list[int]:
    if isinstance(seq, int):
        return [int(seq)]
    try:
        return [int(s) for s in seq]
    except TypeError:
        fail(op, f"{arg} must be a sequence of ints, got {type(seq).__name__}")


def _norm_dim(op: str, dim: int, rank: int, arg: str = "dim", extra: int = 0) -> int:
    """Normalize a (possibly negative) dim of a rank-`rank` tensor (`extra`=1 for insertion points)."""
    n = rank + extra
    d = int(dim)
    if not -max(n, 1) <= d < max(n, 1):
        fail(op, f"{arg}={dim} is out of range for a rank-{rank} tensor")
    return d % max(n, 1)




def _is_block(t: Tensor) -> bool:
    return t._dtype in BLOCK_FLOAT_DTYPES


def _output(op: str, device, value: torch.Tensor, like: Tensor, memory_config=None, *, pad=None,
            dtype: Optional[DataType] = None, layout: Optional[Layout] = None) -> Tensor:
    """Allocate a data-movement result: values copied as they are; block floats re-quantized (blocks regroup)."""
    dtype = like._dtype if dtype is None else DataType(dtype)
    layout = like._layout if layout is None else Layout(layout)
    if layout != Layout.TILE:
        pad = None
    value, rounded = _as_stored(value, dtype)
    return make_output(op, device, value, dtype, layout, out_memory_config(memory_config, like), pad=pad,
                       rounded=rounded)


def _as_stored(value: torch.Tensor, dtype: DataType) -> tuple:
    """(values, whether they are already what `dtype` stores) of moved values: copied as they are, but block
    floats are quantized again (their blocks regroup)."""
    if dtype in BLOCK_FLOAT_DTYPES:
        return value.to(torch.float32), False
    return value, True


def _view_of(t: Tensor, value: torch.Tensor) -> Tensor:
    """A zero-cost view: same buffer, new logical shape."""
    return Tensor._new(value, t._dtype, t._layout, t._device, t._memory_config, t._alloc, t._pad)


def _common_pad(tensors: Sequence[Tensor]):
    pads = {t._pad for t in tensors}
    return pads.pop() if len(pads) == 1 else None


def _into(op: str, output_tensor: Optional[Tensor], result: Tensor) -> Tensor:
    """Write `result` into a preallocated `output_tensor` (same shape, dtype, layout, device)."""
    if output_tensor is None:
        return result
    require_tensor(op, "output_tensor", output_tensor)
    if output_tensor._device is not result._device:
        fail(op, "output_tensor must be on the same device as the input")
    if (tuple(output_tensor.shape) != tuple(result.shape) or output_tensor._dtype != result._dtype
            or output_tensor._layout != result._layout):
        fail(op, f"output_tensor is {list(output_tensor.shape)} {output_tensor._dtype.name} "
                 f"{output_tensor._layout.name}, the result is {list(result.shape)} {result._dtype.name} "
                 f"{result._layout.name}")
    output_tensor._value = result._value
    output_tensor._pad = result._pad
    if result._alloc is not None:
        result._device.memory[result._alloc.buffer_type].free(result._alloc)
    return output_tensor


def _launch(device, name: str) -> None:
    launched(device, name)


# ------------------------------------------------------------------------------------------------
# reshape / view / squeeze / unsqueeze
# ------------------------------------------------------------------------------------------------

def _resolve_shape(op: str, t: Tensor, shape) -> tuple[int, ...]:
    dims = _ints(op, "shape", shape)
    volume = math.prod(t.shape)
    if sum(1 for d in dims if d == -1) > 1:
        fail(op, f"shape {dims} has more than one -1")
    if any(d < -1 for d in dims):
        fail(op, f"shape {dims} has a negative dim")
    if -1 in dims:
        known = math.prod(d for d in dims if d != -1)
        if known == 0 or volume % known:
            fail(op, f"cannot infer the -1 of shape {dims} for {volume} elements")
        dims[dims.index(-1)] = volume // known
    if math.prod(dims) != volume:
        fail(op, f"cannot reshape {list(t.shape)} ({volume} elements) to {dims} ({math.prod(dims)} elements)")
    return tuple(dims)


def is_view_reshape(t: Tensor, new_shape, memory_config=None) -> bool:
    """Whether reshaping `t` to `new_shape` is a zero-cost view on the device (see the module docstring)."""
    old = tuple(t.shape)
    new = tuple(new_shape)
    if memory_config is not None and t._memory_config is not None:
        if (memory_config.buffer_type != t._memory_config.buffer_type
                or memory_config.is_sharded() != t._memory_config.is_sharded()):
            return False
    if old == new:
        return True
    (oh, ow), (nh, nw) = tile_hw(old), tile_hw(new)
    if ow != nw:
        return False
    if t._layout == Layout.ROW_MAJOR:
        return True
    return oh == nh or (oh % TILE == 0 and nh % TILE == 0)


def _reshape(op: str, t: Tensor, shape, memory_config=None, pad_value=None, skip_padding_fill=False) -> Tensor:
    """reshape semantics shared by reshape, squeeze, unsqueeze, unsqueeze_to_4D, reshape_on_device."""
    require_tensor(op, "input_tensor", t)
    new = _resolve_shape(op, t, shape)
    if t._device is None:
        if t._layout == Layout.TILE and not is_view_reshape(t, new):
            fail(op, f"reshaping a host TILE tensor {list(t.shape)} -> {list(new)} changes its tiles; the host "
                     "cannot re-tile (convert to ROW_MAJOR first, or move the tensor to the device)")
        return Tensor._new(t._value.reshape(new), t._dtype, t._layout, None, None, None, t._pad)
    device = on_device(op, input_tensor=t)
    if is_view_reshape(t, new, memory_config):
        if trace.REPLAYING:
            trace.offer_kernel(op, (t,), device, _reshape_kernel(t, new, None, device, view=True))
        return _view_of(t, t._value.reshape(new))
    _launch(device, op)
    pad = None
    if t._layout == Layout.TILE and (not skip_padding_fill or _is_block(t)):
        pad = 0.0 if pad_value is None else float(pad_value)
    if trace.REPLAYING:
        trace.offer_kernel(op, (t,), device, _reshape_kernel(t, new, pad, device))
    return _output(op, device, t._value.reshape(new), t, memory_config, pad=pad)


def _reshape_kernel(t: Tensor, new: tuple, pad, device, view: bool = False):
    """What a trace replay runs of a reshape of a tensor like `t` (trace.offer_kernel): a view's values and
    padding are its input's; a data-moving reshape stores its values again."""
    dtype, layout = t._dtype, t._layout

    def kernel(t):
        if view:
            return t._value.reshape(new), t._pad
        value, rounded = _as_stored(t._value.reshape(new), dtype)
        return stored(value, dtype, layout, device, pad=pad, rounded=rounded)
    return kernel


def _golden_reshape(input_tensor, shape, *args, **kwargs):
    return input_tensor.reshape(tuple(int(s) for s in shape))


@ttnn_op("reshape", golden=_golden_reshape, counted=False)
def reshape(input_tensor, shape, *, memory_config=None, pad_value=None, reshape_tile_mode=TileReshapeMapMode.CACHE,
            sub_core_grids=None, skip_padding_fill=False):
    """Reshape (free when it is a view, else a data-moving kernel that fills tile padding with pad_value)."""
    return _reshape("reshape", input_tensor, shape, memory_config, pad_value, skip_padding_fill)


@ttnn_op("view", golden=_golden_reshape, counted=False)
def view(input_tensor, shape):
    """Zero-cost view with a new shape; refuses any shape change that would need data movement."""
    require_tensor("view", "input_tensor", input_tensor)
    if input_tensor._device is None:
        fail("view", "View requires the tensor be stored on device, use reshape instead")
    on_device("view", input_tensor=input_tensor)
    new = _resolve_shape("view", input_tensor, shape)
    if not is_view_reshape(input_tensor, new):
        if tile_hw(input_tensor.shape)[1] != tile_hw(new)[1]:
            why = "the last dim changes"
        else:
            why = ("in TILE layout the second-to-last dim changes and is not a multiple of 32 in both shapes "
                   "(the tiles would change)")
        fail("view", f"{list(input_tensor.shape)} -> {list(new)} is not a zero-cost view: {why}; use ttnn.reshape")
    return _view_of(input_tensor, input_tensor._value.reshape(new))


def _golden_squeeze(input_tensor, dim=None, *args, **kwargs):
    if dim is None:
        return torch.squeeze(input_tensor)
    if isinstance(dim, (list, tuple)):
        return torch.squeeze(input_tensor, tuple(dim))
    return torch.squeeze(input_tensor, dim)


@ttnn_op("squeeze", golden=_golden_squeeze, counted=False)
def squeeze(input_tensor, dim=None):
    """Remove size-1 dims (all, one, or a list); dims that are not size 1 are ignored."""
    require_tensor("squeeze", "input_tensor", input_tensor)
    shape = list(input_tensor.shape)
    r = len(shape)
    if dim is None:
        drop = {i for i, s in enumerate(shape) if s == 1}
    else:
        dims = dim if isinstance(dim, (list, tuple)) else [dim]
        drop = {_norm_dim("squeeze", d, r) for d in dims}
        drop = {d for d in drop if shape[d] == 1}
    new = [s for i, s in enumerate(shape) if i not in drop]
    return _reshape("squeeze", input_tensor, new)


@ttnn_op("unsqueeze", golden=lambda input_tensor, dim, *a, **k: torch.unsqueeze(input_tensor, dim), counted=False)
def unsqueeze(input_tensor, dim):
    """Insert a size-1 dim at `dim` (torch semantics, -rank-1 <= dim <= rank)."""
    require_tensor("unsqueeze", "input_tensor", input_tensor)
    shape = list(input_tensor.shape)
    d = _norm_dim("unsqueeze", dim, len(shape), extra=1)
    shape.insert(d, 1)
    return _reshape("unsqueeze", input_tensor, shape)


def _golden_unsqueeze_to_4d(tensor, *args, **kwargs):
    return tensor.reshape((1,) * max(0, 4 - tensor.dim()) + tuple(tensor.shape))


@ttnn_op("unsqueeze_to_4D", golden=_golden_unsqueeze_to_4d, counted=False)
def unsqueeze_to_4D(tensor):
    """Prepend size-1 dims up to rank 4 (a view)."""
    require_tensor("unsqueeze_to_4D", "tensor", tensor)
    shape = tuple(tensor.shape)
    if len(shape) > 4:
        fail("unsqueeze_to_4D", f"tensor has rank {len(shape)} > 4 (shape {list(shape)})")
    if len(shape) == 4:
        return tensor
    return _reshape("unsqueeze_to_4D", tensor, (1,) * (4 - len(shape)) + shape)


@ttnn_op("reshape_on_device",
         golden=lambda input_tensor, W, Z, Y, X, *a, **k: input_tensor.reshape(int(W), int(Z), int(Y), int(X)))
def reshape_on_device(input_tensor, W, Z, Y, X, *, memory_config=None):
    """Legacy 4D reshape on the device; the last dim X must not change."""
    device = on_device("reshape_on_device", input_tensor=input_tensor)
    dims = _resolve_shape("reshape_on_device", input_tensor, (W, Z, Y, X))
    if dims[-1] != tile_hw(input_tensor.shape)[1]:
        fail("reshape_on_device", f"the X dim must not change: input {list(input_tensor.shape)}, "
                                  f"requested {list(dims)}")
    if input_tensor._layout == Layout.TILE and (dims[-2] % TILE or dims[-1] % TILE):
        fail("reshape_on_device", f"TILE layout needs Y and X multiples of 32, got {list(dims)}")
    pad = input_tensor._pad if input_tensor._layout == Layout.TILE else None
    return _output("reshape_on_device", device, input_tensor._value.reshape(dims), input_tensor, memory_config,
                   pad=pad)


# ------------------------------------------------------------------------------------------------
# permute / transpose
# ------------------------------------------------------------------------------------------------

def _permute(op: str, t: Tensor, dims, memory_config, pad_value) -> Tensor:
    device = on_device(op, input_tensor=t)
    r = len(t.shape)
    perm = [_norm_dim(op, d, r, "dims") for d in _ints(op, "dims", dims)]
    if sorted(perm) != list(range(r)):
        fail(op, f"dims {list(dims)} is not a permutation of the {r} dims of {list(t.shape)}")
    if perm == list(range(r)) and memory_config is None:
        return t
    pad = None
    if t._layout == Layout.TILE:
        if r < 2 or perm[-2:] in ([r - 2, r - 1], [r - 1, r - 2]):
            pad = t._pad  # whole tiles move (and transpose in place): padding stays padding
        else:
            pad = None if pad_value is None else float(pad_value)
    return _output(op, device, t._value.permute(perm).contiguous(), t, memory_config, pad=pad)


@ttnn_op("permute", golden=lambda input_tensor, dims, *a, **k: torch.permute(input_tensor, tuple(dims)))
def permute(input_tensor, dims, *, memory_config=None, pad_value=0.0):
    """Permute the dims; in TILE layout, pad_value fills the tile padding when tiles are broken."""
    return _permute("permute", input_tensor, dims, memory_config, pad_value)


@ttnn_op("transpose", golden=lambda input_tensor, dim1, dim2, *a, **k: torch.transpose(input_tensor, dim1, dim2))
def transpose(input_tensor, dim1, dim2, *, memory_config=None, pad_value=0.0):
    """Swap two dims."""
    on_device("transpose", input_tensor=input_tensor)
    r = len(input_tensor.shape)
    a, b = _norm_dim("transpose", dim1, r, "dim1"), _norm_dim("transpose", dim2, r, "dim2")
    perm = list(range(r))
    perm[a], perm[b] = perm[b], perm[a]
    return _permute("transpose", input_tensor, perm, memory_config, pad_value)


# ------------------------------------------------------------------------------------------------
# move / tilize_with_val_padding / untilize_with_unpadding
# ------------------------------------------------------------------------------------------------

@ttnn_op("move", golden=lambda input_tensor, *a, **k: input_tensor)
def move(input_tensor, *, memory_config=None):
    """Move a device tensor to a new buffer: the input is deallocated first, then the output allocated."""
    device = on_device("move", input_tensor=input_tensor)
    t = input_tensor
    value, pad = t._value, t._pad
    mc = out_memory_config(memory_config, t)
    if t._alloc is not None:
        device.memory[t._alloc.buffer_type].free(t._alloc)
    return make_output("move", device, value, t._dtype, t._layout, mc, pad=pad, rounded=True)


_TILIZE_DTYPES = (DataType.BFLOAT16, DataType.FLOAT32, DataType.INT32, DataType.UINT32, DataType.UINT16)


@ttnn_op("tilize_with_val_padding", golden=lambda input_tensor, *a, **k: input_tensor)
def tilize_with_val_padding(input_tensor, output_tensor_shape, pad_value, *, memory_config=None, dtype=None,
                            use_multicore=True, sub_core_grids=None):
    """ROW_MAJOR -> TILE on the device, the tile padding filled with `pad_value`.

    The output keeps the input's logical shape; `output_tensor_shape` is its padded shape. The simulated device
    represents only the standard padding (last two dims rounded up to 32), so other padded shapes are refused.
    """
    op = "tilize_with_val_padding"
    device = on_device(op, input_tensor=input_tensor)
    t = input_tensor
    require_layout(op, "input_tensor", t, Layout.ROW_MAJOR)
    if t._dtype not in _TILIZE_DTYPES:
        fail(op, f"input_tensor has dtype {t._dtype.name}; can only tilize bfloat16/float32 or "
                 "int32/uint32/uint16 tensors")
    shape = tuple(t.shape)
    target = _ints(op, "output_tensor_shape", output_tensor_shape)
    if len(shape) == 1:
        if len(target) < 1 or shape[0] > target[-1]:
            fail(op, f"output_tensor_shape {target} must be >= the input shape {list(shape)}")
    else:
        if len(target) != len(shape):
            fail(op, f"output_tensor_shape {target} must have the rank of the input {list(shape)}")
        for k, (a, b) in enumerate(zip(shape, target)):
            if a > b:
                fail(op, f"output_tensor_shape {target} is smaller than the input {list(shape)} in dim {k}")
    if len(target) < 2 or target[-1] % TILE or target[-2] % TILE:
        fail(op, f"to be tilizable the output shape {target} must be divisible by the tile size (32, 32)")
    standard = list(padded_shape_of(shape, Layout.TILE))
    if list(target) != standard:
        fail(op, f"the simulated device represents only the standard tile padding {standard} of "
                 f"{list(shape)}, got {target}")
    out_dtype = t._dtype if dtype is None else DataType(dtype)
    pad = float(pad_value)
    mc = out_memory_config(memory_config, t)
    if out_dtype == t._dtype:
        return make_output(op, device, t._value, out_dtype, Layout.TILE, mc, pad=pad, rounded=True)
    src = t._value.to(torch.float32) if t._dtype in FLOAT_DTYPES else t._value
    return make_output(op, device, src, out_dtype, Layout.TILE, mc, pad=pad)


_UNTILIZE_DTYPES = (DataType.BFLOAT16, DataType.FLOAT32, DataType.BFLOAT8_B, DataType.INT32, DataType.UINT32)


def _golden_untilize_with_unpadding(input_tensor, output_tensor_end, *args, **kwargs):
    return input_tensor[tuple(_pyslice(0, int(e) + 1) for e in output_tensor_end)]


@ttnn_op("untilize_with_unpadding", golden=_golden_untilize_with_unpadding)
def untilize_with_unpadding(input_tensor, output_tensor_end, *, memory_config=None, use_multicore=True,
                            sub_core_grids=None):
    """TILE -> ROW_MAJOR keeping [0, end] (inclusive) of each dim; bfloat8_b comes out as bfloat16.

    An end past the logical shape (inside the tile padding) reads the padding, whose content is the padding
    scalar when it is known (0 assumed otherwise)."""
    op = "untilize_with_unpadding"
    device = on_device(op, input_tensor=input_tensor)
    t = input_tensor
    require_layout(op, "input_tensor", t, Layout.TILE)
    if t._dtype not in _UNTILIZE_DTYPES:
        fail(op, f"input_tensor has dtype {t._dtype.name}, supported: "
                 f"{', '.join(d.name for d in _UNTILIZE_DTYPES)}")
    shape = tuple(t.shape)
    ends = _ints(op, "output_tensor_end", output_tensor_end)
    if len(ends) != len(shape):
        fail(op, f"output_tensor_end {ends} must have one entry per dim of {list(shape)}")
    padded = tuple(padded_shape_of(shape, Layout.TILE))
    if len(shape) >= 2:
        limits = shape[:-2] + padded[-2:]
    else:
        limits = padded[-1:]
    for k, (e, lim) in enumerate(zip(ends, limits)):
        if not 0 <= e < lim:
            fail(op, f"output_tensor_end[{k}]={e} is outside [0, {lim})")
    src = t._value
    if any(e >= s for e, s in zip(ends, shape)):
        src = padded_values(t)
        if len(shape) == 1:
            src = src[0]
    value = src[tuple(_pyslice(0, e + 1) for e in ends)].contiguous()
    out_dtype = DataType.BFLOAT16 if t._dtype == DataType.BFLOAT8_B else t._dtype
    mc = out_memory_config(memory_config, t)
    return make_output(op, device, value, out_dtype, Layout.ROW_MAJOR, mc, rounded=True)


__all__ = ["TileReshapeMapMode", "is_view_reshape"]


bind_ops(reshape=reshape)
