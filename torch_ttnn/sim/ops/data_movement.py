"""Data movement: reshape/view, permute/transpose, concat/stack, slice/split/chunk, squeeze/unsqueeze, expand,
repeat, repeat_interleave, pad, roll, narrow, move, tilize_with_val_padding, untilize_with_unpadding,
reshape_on_device.

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
import inspect
import math
from typing import Optional, Sequence

import torch

from .._op import launched, ttnn_op
from ..tensor import Tensor, padded_shape_of, tile_hw
from ..types import BLOCK_FLOAT_DTYPES, FLOAT_DTYPES, BufferType, DataType, Layout, TensorMemoryLayout
from ._common import (fail, make_output, on_device, out_memory_config, padded_values, require_layout,
                      require_tensor, round_to)

TILE = 32
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
    mc = out_memory_config(memory_config, like)
    if dtype in BLOCK_FLOAT_DTYPES:
        return make_output(op, device, value.to(torch.float32), dtype, layout, mc, rounding="packer", pad=pad)
    return make_output(op, device, value, dtype, layout, mc, pad=pad, rounded=True)


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
        return _view_of(t, t._value.reshape(new))
    _launch(device, op)
    pad = None
    if t._layout == Layout.TILE and (not skip_padding_fill or _is_block(t)):
        pad = 0.0 if pad_value is None else float(pad_value)
    return _output(op, device, t._value.reshape(new), t, memory_config, pad=pad)


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
# concat / stack
# ------------------------------------------------------------------------------------------------

def _golden_concat(tensors, dim=0, *args, groups=1, **kwargs):
    if groups > 1:
        return _grouped_concat(tensors[0], tensors[1], groups)
    return torch.cat(list(tensors), dim)


def _grouped_concat(a: torch.Tensor, b: torch.Tensor, groups: int) -> torch.Tensor:
    """Interleave `groups` channel groups of a and b along the last dim (NHWC residual concat)."""
    *lead, ca = a.shape
    cb = b.shape[-1]
    ga = a.reshape(*lead, groups, ca // groups)
    gb = b.reshape(*lead, groups, cb // groups)
    return torch.cat([ga, gb], dim=-1).reshape(*lead, ca + cb)


def _check_same_kind(op: str, tensors: Sequence[Tensor], arg: str):
    first = tensors[0]
    for i, t in enumerate(tensors[1:], 1):
        if t._dtype != first._dtype:
            fail(op, f"{arg}[{i}] has dtype {t._dtype.name}, {arg}[0] has {first._dtype.name}")
        if t._layout != first._layout:
            fail(op, f"{arg}[{i}] is in {t._layout.name} layout, {arg}[0] in {first._layout.name}")
        if len(t.shape) != len(first.shape):
            fail(op, f"{arg}[{i}] has rank {len(t.shape)}, {arg}[0] has rank {len(first.shape)}")


@ttnn_op("concat", golden=_golden_concat)
def concat(tensors, dim=0, *, memory_config=None, output_tensor=None, groups=1, sub_core_grids=None):
    """Concatenate along `dim` (same dtype, layout, rank; equal sizes off `dim`)."""
    tensors = list(tensors) if tensors is not None else []
    if not tensors:
        fail("concat", "tensors must not be empty")
    device = on_device("concat", **{f"tensors[{i}]": t for i, t in enumerate(tensors)})
    _check_same_kind("concat", tensors, "tensors")
    first = tensors[0]
    r = len(first.shape)
    d = _norm_dim("concat", dim, r)
    for i, t in enumerate(tensors[1:], 1):
        for k in range(r):
            if k != d and t.shape[k] != first.shape[k]:
                fail("concat", f"tensors[{i}] has shape {list(t.shape)}, tensors[0] {list(first.shape)}: only "
                               f"dim {d} may differ")
    if groups > 1:
        if len(tensors) != 2 or r != 4 or not all(
                t._memory_config is not None and t._memory_config.memory_layout == TensorMemoryLayout.HEIGHT_SHARDED
                for t in tensors):
            fail("concat", "groups > 1 is only supported for two height-sharded rank-4 tensors")
        if d != 3 or first.shape[-1] % groups or tensors[1].shape[-1] % groups:
            fail("concat", f"groups={groups} must divide the channel (last) dim of both tensors")
        value = _grouped_concat(first._value, tensors[1]._value, groups)
    else:
        value = torch.cat([t._value for t in tensors], d)
    pad = None
    if first._layout == Layout.TILE:
        pad = _common_pad(tensors)
        last_two = d >= r - 2 or r == 1
        if last_two and groups == 1:
            aligned = all(t.shape[d] % TILE == 0 for t in tensors[:-1])
            if not aligned:
                pad = None  # the kernel re-tiles the seams; what lands in the padding is not defined
        elif groups > 1:
            pad = None
    out = _output("concat", device, value, first, memory_config, pad=pad)
    return _into("concat", output_tensor, out)


@ttnn_op("stack", golden=lambda input_tensors, dim, *a, **k: torch.stack(list(input_tensors), dim))
def stack(input_tensors, dim):
    """Stack equal-shape tensors along a new dim."""
    tensors = list(input_tensors) if input_tensors is not None else []
    if not tensors:
        fail("stack", "input_tensors must not be empty")
    device = on_device("stack", **{f"input_tensors[{i}]": t for i, t in enumerate(tensors)})
    _check_same_kind("stack", tensors, "input_tensors")
    first = tensors[0]
    for i, t in enumerate(tensors[1:], 1):
        if tuple(t.shape) != tuple(first.shape):
            fail("stack", f"input_tensors[{i}] has shape {list(t.shape)}, input_tensors[0] {list(first.shape)}")
    r = len(first.shape)
    d = _norm_dim("stack", dim, r, extra=1)
    value = torch.stack([t._value for t in tensors], d)
    pad = None
    if first._layout == Layout.TILE and d <= (r + 1) - 3:
        pad = _common_pad(tensors)  # the new dim is an outer dim: whole tiles are copied
    return _output("stack", device, value, first, None, pad=pad)


# ------------------------------------------------------------------------------------------------
# slice / split / chunk / narrow
# ------------------------------------------------------------------------------------------------

def _slice_pad(t: Tensor, starts, ends, steps, pad_value):
    """Padding scalar of a TILE slice: kept when the last two dims are cut on tile boundaries."""
    if t._layout != Layout.TILE:
        return None
    if pad_value is not None:
        return float(pad_value)
    shape = tuple(t.shape)
    r = len(shape)
    for k in range(max(0, r - 2), r):
        if steps[k] != 1 or starts[k] % TILE:
            return None
        if ends[k] != shape[k] and ends[k] % TILE:
            return None
    return t._pad


def _slice_core(op: str, t: Tensor, starts, ends, steps, memory_config=None, pad_value=None) -> Tensor:
    device = on_device(op, input_tensor=t)
    shape = tuple(t.shape)
    r = len(shape)
    starts, ends = _ints(op, "starts", starts), _ints(op, "ends", ends)
    steps = [1] * r if steps is None else _ints(op, "slice_step", steps)
    if not len(starts) == len(ends) == len(steps) == r:
        fail(op, f"starts {starts}, ends {ends} and steps {steps} must each have one entry per dim of "
                 f"{list(shape)}")
    s_, e_ = [], []
    for k in range(r):
        if steps[k] <= 0:
            fail(op, f"steps must be positive, got {steps}")
        s = starts[k] + shape[k] if starts[k] < 0 else starts[k]
        e = ends[k] + shape[k] if ends[k] < 0 else ends[k]
        s, e = max(0, min(s, shape[k])), max(0, min(e, shape[k]))
        if e <= s:
            fail(op, f"empty slice on dim {k}: start {starts[k]}, end {ends[k]} of size {shape[k]} (zero-volume "
                     "tensors are not supported)")
        s_.append(s)
        e_.append(e)
    if any(st != 1 for st in steps) and t._dtype == DataType.BFLOAT8_B:
        fail(op, "strided slicing (step != 1) is not supported for bfloat8_b tensors")
    value = t._value[tuple(_pyslice(s, e, st) for s, e, st in zip(s_, e_, steps))].contiguous()
    pad = _slice_pad(t, s_, e_, steps, pad_value)
    return _output(op, device, value, t, memory_config, pad=pad)


def _golden_slice(input_tensor, starts=None, ends=None, slice_step=None, *args, **kwargs):
    steps = slice_step if slice_step is not None else [1] * len(starts)
    return input_tensor[tuple(_pyslice(int(s), int(e), int(st)) for s, e, st in zip(starts, ends, steps))]


@ttnn_op("slice", golden=_golden_slice)
def slice(input_tensor, starts, ends, slice_step=None, *, memory_config=None, output_tensor=None, pad_value=None,
          slice_dim=None, num_devices=None, sub_core_grids=None):
    """Slice [starts, ends) with optional positive steps (negative indices count from the end)."""
    if num_devices is not None and num_devices != 1:
        fail("slice", "slicing across devices (num_devices > 1) is not supported by the simulated device")
    out = _slice_core("slice", input_tensor, starts, ends, slice_step, memory_config, pad_value)
    return _into("slice", output_tensor, out)


def _split_sizes(op: str, size: int, split_size) -> list[int]:
    if isinstance(split_size, (list, tuple)):
        sizes = [int(s) for s in split_size]
        if any(s <= 0 for s in sizes):
            fail(op, f"every split size must be > 0, got {sizes}")
        if sum(sizes) != size:
            fail(op, f"split sizes {sizes} sum to {sum(sizes)}, the dim has {size}")
        return sizes
    n = int(split_size)
    if n <= 0:
        fail(op, f"split_size must be > 0, got {split_size}")
    return [min(n, size - i) for i in range(0, size, n)]


def _split(op: str, t: Tensor, sizes: list[int], d: int, memory_config=None) -> list[Tensor]:
    shape = list(t.shape)
    out, start = [], 0
    for n in sizes:
        starts = [0] * len(shape)
        ends = list(shape)
        starts[d], ends[d] = start, start + n
        out.append(_slice_core(op, t, starts, ends, None, memory_config))
        start += n
    return out


@ttnn_op("split", golden=lambda input_tensor, split_size, dim=0, *a, **k: list(
    torch.split(input_tensor, split_size, dim=dim)))
def split(input_tensor, split_size, dim=0, *, memory_config=None):
    """Split into chunks of `split_size` (the last may be smaller) or of the listed sizes."""
    on_device("split", input_tensor=input_tensor)
    r = len(input_tensor.shape)
    d = _norm_dim("split", dim, r)
    size = input_tensor.shape[d]
    if size == 0:
        fail("split", "cannot split a zero-size dim")
    return _split("split", input_tensor, _split_sizes("split", size, split_size), d, memory_config)


@ttnn_op("chunk", golden=lambda input_tensor, chunks, dim, *a, **k: list(torch.chunk(input_tensor, chunks, dim)))
def chunk(input_tensor, chunks, dim):
    """Split into `chunks` pieces of ceil(size / chunks) (torch.chunk semantics)."""
    on_device("chunk", input_tensor=input_tensor)
    if int(chunks) <= 0:
        fail("chunk", f"chunks must be > 0, got {chunks}")
    r = len(input_tensor.shape)
    d = _norm_dim("chunk", dim, r)
    size = input_tensor.shape[d]
    step = -(-size // int(chunks))
    return _split("chunk", input_tensor, _split_sizes("chunk", size, step), d)


@ttnn_op("narrow", golden=lambda input_tensor, dim, start, length, *a, **k: torch.narrow(
    input_tensor, dim, start, length), counted=False)
def narrow(input_tensor, dim, start, length):
    """Zero-cost narrow of a DRAM-interleaved device tensor along its first non-trivial dim.

    The view must start on a page that lives in the first DRAM bank (interleaved pages go round-robin over the
    banks), and in TILE layout start/length on the last two dims must be multiples of 32.
    """
    require_tensor("narrow", "input_tensor", input_tensor)
    if input_tensor._device is None:
        fail("narrow", "NarrowOperation currently only supports DEVICE tensors, got StorageType::HOST")
    device = on_device("narrow", input_tensor=input_tensor)
    t = input_tensor
    shape = tuple(t.shape)
    r = len(shape)
    d = _norm_dim("narrow", dim, r)
    s = int(start) + shape[d] if int(start) < 0 else int(start)
    n = int(length)
    if n <= 0 or s < 0 or s + n > shape[d]:
        fail("narrow", f"start {start} and length {length} do not fit dim {d} of size {shape[d]}")
    mc = t._memory_config
    if mc is None or mc.is_sharded() or mc.buffer_type != BufferType.DRAM:
        fail("narrow", "the simulated device supports narrow of DRAM INTERLEAVED tensors only")
    # pages: ROW_MAJOR rows (all dims but the last); TILE tiles (outer dims, tile rows, tile columns)
    if t._layout == Layout.TILE:
        page_dims = list(shape[:-2]) + [-(-tile_hw(shape)[0] // TILE), -(-tile_hw(shape)[1] // TILE)]
        page_dims = page_dims[-r:] if r else page_dims
    else:
        page_dims = list(shape[:-1]) + [1]
    first = next((k for k, sz in enumerate(page_dims) if sz != 1), r - 1)
    if d != first and not (s == 0 and n == shape[d]):
        fail("narrow", f"for DRAM INTERLEAVED tensors narrow works on the first non-trivial dim ({first}), got {d}")
    if t._layout == Layout.TILE and d >= r - 2 and (s % TILE or (n % TILE and s + n != shape[d])):
        fail("narrow", f"TILE layout needs start and length on the last two dims to be multiples of 32, got "
                       f"start {s}, length {n}")
    # page offset of the view's first page
    if t._layout == Layout.TILE:
        ps = padded_shape_of(shape, Layout.TILE)
        tiles_w = ps[-1] // TILE
        if d == r - 1:
            offset = s // TILE
        elif d == r - 2:
            offset = (s // TILE) * tiles_w
        else:
            offset = s * math.prod(ps[d + 1:-2]) * (ps[-2] // TILE) * tiles_w
    else:
        if d == r - 1 and r > 0 and (s or n != shape[d]):
            fail("narrow", "a ROW_MAJOR tensor cannot be narrowed inside its rows (pages) without a copy")
        offset = s * math.prod(shape[d + 1:-1])
    banks = t._alloc.num_banks if t._alloc is not None else device.memory[BufferType.DRAM].num_banks
    if offset % banks:
        fail("narrow", f"the view would start at page {offset}, which is not in the first DRAM bank "
                       f"({banks} banks); start must point to the first DRAM bank")
    idx = [_pyslice(None)] * r
    idx[d] = _pyslice(s, s + n)
    return _view_of(t, t._value[tuple(idx)])


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
