"""Data movement that joins or cuts tensors: concat, stack, slice, split, chunk, narrow (helpers: data_movement.py)."""
from __future__ import annotations

import math
from typing import Sequence

import torch

from .._op import ttnn_op
from ..tensor import Tensor, padded_shape_of, tile_hw
from ..types import BufferType, DataType, Layout, TensorMemoryLayout
from ._common import fail, on_device, require_tensor
from .data_movement import TILE, _common_pad, _into, _ints, _norm_dim, _output, _pyslice, _view_of


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
