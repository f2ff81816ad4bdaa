"""Creation: full/zeros/ones/empty/arange, the *_like variants, and the random ops rand/randn/bernoulli.

(``uniform`` is not offered: its real signature has a parameter named ``from``, a Python keyword that no
Python function signature can carry.)

As in real ttnn, full/zeros/ones/arange build the tensor on the host (host conversion rules: bf16 round to
nearest even, integers wrap) and, when a device is given, copy it there: a host->device transfer, not an op
launch. A TILE tensor made by full holds the fill value in its tile padding too (the host buffer is filled
whole); arange pads with 0. full_like/zeros_like/ones_like of a TILE device tensor with a float dtype and TILE
output run the device ``fill`` op instead (one launch).

``empty``/``empty_like`` allocate a device buffer whose content is unspecified on hardware. The simulator fills
it deterministically with a value no computation should rely on: NaN for float dtypes, the largest value of the
dtype for integers (tile padding unknown).

Random ops draw from a ``torch.Generator`` seeded with ``seed`` (deterministic for a given seed; seed=None uses
torch's global generator). The streams are not the hardware's.
"""
from __future__ import annotations

import inspect
from typing import Optional

import torch

from .._op import launched, ttnn_op
from ..tensor import Tensor
from ..types import BLOCK_FLOAT_DTYPES, DRAM_MEMORY_CONFIG, INT_DTYPES, INT_FORMATS, DataType, Layout
from ._common import (fail, make_output, on_device, out_memory_config, require_dtype, require_layout,
                      require_tensor, round_to)
from .core import to_device

_CREATION_DTYPES = (DataType.BFLOAT16, DataType.FLOAT32, DataType.BFLOAT8_B, DataType.BFLOAT4_B, DataType.UINT8,
                    DataType.UINT16, DataType.UINT32, DataType.INT32)


def _shape(op: str, shape) -> tuple[int, ...]:
    try:
        dims = tuple(int(s) for s in shape)
    except TypeError:
        fail(op, f"shape must be a sequence of ints, got {type(shape).__name__}")
    if any(d < 0 for d in dims):
        fail(op, f"shape {list(dims)} has a negative dim")
    return dims


def _check(op: str, dtype: DataType, layout: Layout, allowed=_CREATION_DTYPES) -> None:
    if dtype not in allowed:
        fail(op, f"dtype {dtype.name} is not supported, supported: {', '.join(d.name for d in allowed)}")
    if dtype in BLOCK_FLOAT_DTYPES and layout != Layout.TILE:
        fail(op, "Only TILE layout is supported for BFLOAT8_B / BFLOAT4_B dtype")


def _host_values(value: torch.Tensor, dtype: DataType, layout: Layout, pad: Optional[float]):
    """Host conversion of float32/int64 values to `dtype` (and of the padding scalar)."""
    if dtype in INT_DTYPES:
        stored = round_to(value, dtype, None)
        p = None if pad is None else float(round_to(torch.tensor([pad]), dtype, None)[0])
        return stored, p
    stored = round_to(value.to(torch.float32), dtype, None, rounding="host", pad=pad)
    p = None
    if pad is not None:
        pd = DataType.BFLOAT16 if dtype in BLOCK_FLOAT_DTYPES else dtype
        p = float(round_to(torch.tensor([pad], dtype=torch.float32), pd, None, rounding="host")[0])
    return stored, p


def _make(op: str, value: torch.Tensor, dtype: DataType, layout: Layout, device, memory_config,
          pad: Optional[float]) -> Tensor:
    """A host-built tensor, copied to `device` when given (counted as a transfer)."""
    stored, p = _host_values(value, dtype, layout, pad if layout == Layout.TILE else None)
    host = Tensor._new(stored, dtype, layout, None, None, None, p if layout == Layout.TILE else None)
    if device is None:
        return host
    return to_device(host, device, memory_config=memory_config if memory_config is not None else DRAM_MEMORY_CONFIG)


def _fill_source(fill_value, shape, dtype: DataType) -> torch.Tensor:
    if dtype in INT_DTYPES:
        return torch.full(shape, float(fill_value), dtype=torch.float64)  # wrap_int truncates then wraps
    return torch.full(shape, float(fill_value), dtype=torch.float32)


def _full(op: str, shape, fill_value, dtype, layout, device, memory_config, optional_tensor) -> Tensor:
    if optional_tensor is not None:
        require_tensor(op, "optional_tensor", optional_tensor)
        shape, dtype, layout = tuple(optional_tensor.shape), optional_tensor._dtype, optional_tensor._layout
        device, memory_config = optional_tensor._device, optional_tensor._memory_config
    dims = _shape(op, shape)
    dtype = DataType.BFLOAT16 if dtype is None else DataType(dtype)
    if layout is None:
        layout = Layout.TILE if dtype in BLOCK_FLOAT_DTYPES else Layout.ROW_MAJOR
    layout = Layout(layout)
    _check(op, dtype, layout)
    if device is not None:
        device.check_open(f"ttnn.{op}")
    # bf16/fp32/int: the whole host buffer (tile padding included) holds the value; block floats pad with 0
    pad = 0.0 if dtype in BLOCK_FLOAT_DTYPES else float(fill_value)
    out = _make(op, _fill_source(fill_value, dims, dtype), dtype, layout, device, memory_config, pad)
    if optional_tensor is not None:
        if optional_tensor._device is None:
            return out
        optional_tensor._value, optional_tensor._pad = out._value, out._pad
        if out._alloc is not None:
            out._device.memory[out._alloc.buffer_type].free(out._alloc)
        return optional_tensor
    return out


def _golden_full(shape, fill_value, dtype=None, *args, **kwargs):
    return torch.full(tuple(shape), fill_value, dtype=torch.float32)


@ttnn_op("full", golden=_golden_full, counted=False)
def full(shape, fill_value, dtype=None, layout=None, device=None, memory_config=None, optional_tensor=None):
    """A tensor of `shape` filled with `fill_value` (bfloat16 ROW_MAJOR by default; block floats TILE)."""
    return _full("full", shape, fill_value, dtype, layout, device, memory_config, optional_tensor)


@ttnn_op("zeros", golden=lambda shape, *a, **k: torch.zeros(tuple(shape)), counted=False)
def zeros(shape, dtype=None, layout=None, device=None, memory_config=None):
    """A tensor of zeros."""
    return _full("zeros", shape, 0.0, dtype, layout, device, memory_config, None)


@ttnn_op("ones", golden=lambda shape, *a, **k: torch.ones(tuple(shape)), counted=False)
def ones(shape, dtype=None, layout=None, device=None, memory_config=None):
    """A tensor of ones."""
    return _full("ones", shape, 1.0, dtype, layout, device, memory_config, None)


def _full_like(op: str, tensor, fill_value, dtype, layout, device, memory_config, optional_tensor) -> Tensor:
    require_tensor(op, "tensor", tensor)
    if optional_tensor is not None:
        return _full(op, None, fill_value, None, None, None, None, optional_tensor)
    out_layout = tensor._layout if layout is None else Layout(layout)
    out_dtype = tensor._dtype if dtype is None else DataType(dtype)
    _check(op, out_dtype, out_layout)
    if (tensor._device is not None and tensor._layout == Layout.TILE and out_layout == Layout.TILE
            and out_dtype in (DataType.BFLOAT8_B, DataType.BFLOAT16, DataType.FLOAT32)):
        # the device fill op: writes every element of every tile
        dev = on_device(op, tensor=tensor)
        value = _fill_source(fill_value, tuple(tensor.shape), out_dtype)
        launched(dev, op)
        return make_output(op, dev, value, out_dtype, Layout.TILE, out_memory_config(memory_config, tensor),
                           rounding="host", pad=float(fill_value))
    target = device if device is not None else tensor._device
    mc = memory_config
    if mc is None and tensor._device is not None:
        mc = out_memory_config(None, tensor)
    return _full(op, tuple(tensor.shape), fill_value, out_dtype, out_layout, target, mc, None)


@ttnn_op("full_like", golden=lambda tensor, fill_value, *a, **k: torch.full_like(tensor, fill_value),
         counted=False)
def full_like(tensor, fill_value, dtype=None, layout=None, device=None, memory_config=None, optional_tensor=None):
    """A tensor like `tensor` (shape; by default dtype, layout, device, memory config) filled with `fill_value`."""
    return _full_like("full_like", tensor, fill_value, dtype, layout, device, memory_config, optional_tensor)


@ttnn_op("zeros_like", golden=lambda tensor, *a, **k: torch.zeros_like(tensor), counted=False)
def zeros_like(tensor, dtype=None, layout=None, device=None, memory_config=None, optional_tensor=None):
    """Zeros like `tensor`."""
    return _full_like("zeros_like", tensor, 0.0, dtype, layout, device, memory_config, optional_tensor)


@ttnn_op("ones_like", golden=lambda tensor, *a, **k: torch.ones_like(tensor), counted=False)
def ones_like(tensor, dtype=None, layout=None, device=None, memory_config=None, optional_tensor=None):
    """Ones like `tensor`."""
    return _full_like("ones_like", tensor, 1.0, dtype, layout, device, memory_config, optional_tensor)


# ------------------------------------------------------------------------------------------------
# empty
# ------------------------------------------------------------------------------------------------

def _garbage(shape, dtype: DataType) -> torch.Tensor:
    """The simulator's stand-in for uninitialized memory (see the module docstring)."""
    if dtype in INT_DTYPES:
        bits, signed = INT_FORMATS[dtype]
        top = (1 << (bits - 1)) - 1 if signed else (1 << bits) - 1
        return torch.full(shape, top, dtype=torch.int64)
    return torch.full(shape, float("nan"), dtype=torch.float32)


def _empty(op: str, shape, dtype, layout, device, memory_config) -> Tensor:
    dims = _shape(op, shape)
    dtype, layout = DataType(dtype), Layout(layout)
    _check(op, dtype, layout)
    if device is None:
        fail(op, "needs a device: an empty tensor is an uninitialized device buffer")
    device.check_open(f"ttnn.{op}")
    return make_output(op, device, _garbage(dims, dtype), dtype, layout,
                       memory_config if memory_config is not None else DRAM_MEMORY_CONFIG, rounded=True)


@ttnn_op("empty", counted=False)
def empty(shape, dtype=DataType.BFLOAT16, layout=Layout.ROW_MAJOR, device=None, memory_config=DRAM_MEMORY_CONFIG):
    """An uninitialized device tensor (content unspecified; the simulator fills NaN / the integer maximum)."""
    return _empty("empty", shape, dtype, layout, device, memory_config)


# the real `device` parameter of empty is required (no default) although it follows defaulted ones:
# give the function that exact signature
empty.fn.__signature__ = inspect.Signature([
    inspect.Parameter("shape", inspect.Parameter.POSITIONAL_OR_KEYWORD),
    inspect.Parameter("dtype", inspect.Parameter.POSITIONAL_OR_KEYWORD, default=DataType.BFLOAT16),
    inspect.Parameter("layout", inspect.Parameter.POSITIONAL_OR_KEYWORD, default=Layout.ROW_MAJOR),
    inspect.Parameter("device", inspect.Parameter.POSITIONAL_OR_KEYWORD),
    inspect.Parameter("memory_config", inspect.Parameter.POSITIONAL_OR_KEYWORD, default=DRAM_MEMORY_CONFIG),
], __validate_parameters__=False)


@ttnn_op("empty_like", counted=False)
def empty_like(tensor, *, dtype=None, layout=None, device=None, memory_config=None):
    """An uninitialized device tensor shaped like `tensor`."""
    require_tensor("empty_like", "tensor", tensor)
    dtype = tensor._dtype if dtype is None else dtype
    layout = tensor._layout if layout is None else layout
    device = tensor._device if device is None else device
    mc = memory_config if memory_config is not None else (
        out_memory_config(None, tensor) if tensor._device is not None else None)
    return _empty("empty_like", tuple(tensor.shape), dtype, layout, device, mc)


# ------------------------------------------------------------------------------------------------
# arange
# ------------------------------------------------------------------------------------------------

_ARANGE_DTYPES = (DataType.BFLOAT16, DataType.FLOAT32, DataType.UINT16, DataType.UINT32, DataType.INT32)


def _golden_arange(*args, dtype=DataType.BFLOAT16, **kwargs):
    return torch.arange(*[int(a) for a in args])


def _as_int(op: str, arg: str, v) -> int:
    if isinstance(v, bool) or not float(v).is_integer():
        fail(op, f"{arg} must be an integer, got {v!r}")
    return int(v)


@ttnn_op("arange", golden=_golden_arange, counted=False)
def arange(start, end=None, step=1, *, dtype=DataType.BFLOAT16, device=None, memory_config=DRAM_MEMORY_CONFIG,
           layout=Layout.ROW_MAJOR):
    """Integers start, start+step, ... < end (a rank-1 tensor); ``arange(end)`` counts from 0."""
    op = "arange"
    if end is None:  # the real (end, *, ...) overload
        start, end = 0, start
    start, end, step = _as_int(op, "start", start), _as_int(op, "end", end), _as_int(op, "step", step)
    if step == 0:
        fail(op, "Step must be nonzero")
    if (step > 0 and start > end) or (step < 0 and start < end):
        fail(op, "Invalid range: Step direction does not match range bounds")
    dtype, layout = DataType(dtype), Layout(layout)
    if dtype not in _ARANGE_DTYPES:
        fail(op, f"dtype {dtype.name} is not supported, supported: {', '.join(d.name for d in _ARANGE_DTYPES)}")
    if device is not None:
        device.check_open("ttnn.arange")
    values = torch.arange(start, end, step, dtype=torch.int64)
    src = values if dtype in INT_DTYPES else values.to(torch.float64).to(torch.float32)
    return _make(op, src, dtype, layout, device, memory_config, 0.0)


def _arange_overload(start, end, step=1, *, dtype=DataType.BFLOAT16, device=None, memory_config=DRAM_MEMORY_CONFIG,
                     layout=Layout.ROW_MAJOR):
    """The registered real overload of arange (the function also accepts the (end, *, ...) overload)."""


arange.fn.__signature__ = inspect.signature(_arange_overload)


# ------------------------------------------------------------------------------------------------
# Random
# ------------------------------------------------------------------------------------------------

def _generator(seed) -> Optional[torch.Generator]:
    if seed is None:
        return None
    g = torch.Generator()
    g.manual_seed(int(seed) & 0xFFFFFFFFFFFFFFFF)
    return g


_RAND_DTYPES = (DataType.BFLOAT16, DataType.FLOAT32, DataType.BFLOAT8_B, DataType.BFLOAT4_B, DataType.INT32,
                DataType.UINT16, DataType.UINT32)


def _golden_rand(shape, *args, low=0.0, high=1.0, **kwargs):
    return torch.rand(tuple(shape)) * (high - low) + low


@ttnn_op("rand", golden=_golden_rand)
def rand(shape, device, *, dtype=DataType.BFLOAT16, layout=Layout.TILE, memory_config=DRAM_MEMORY_CONFIG, low=0.0,
         high=1.0, seed=0, mesh_mapper=None):
    """Uniform values in [low, high) generated on the device in float32, then converted to `dtype`."""
    op = "rand"
    dims = _shape(op, shape)
    dtype, layout = DataType(dtype), Layout(layout)
    _check(op, dtype, layout, _RAND_DTYPES)
    if device is None:
        fail(op, "needs a device")
    device.check_open("ttnn.rand")
    u = torch.rand(dims, generator=_generator(seed), dtype=torch.float32)
    value = u * (float(high) - float(low)) + float(low)
    if dtype in (DataType.BFLOAT16, DataType.FLOAT32):
        # generated natively in the half-open range: keep the rounded value below `high`
        value = round_to(value, dtype, device, rounding="sfpu")
    mc = memory_config if memory_config is not None else DRAM_MEMORY_CONFIG
    return make_output(op, device, value, dtype, layout, mc, rounding="sfpu")


@ttnn_op("randn", golden=lambda shape, *a, **k: torch.randn(tuple(shape)))
def randn(shape, device, *, dtype=DataType.BFLOAT16, layout=Layout.TILE, memory_config=DRAM_MEMORY_CONFIG,
          compute_kernel_config=None, seed=None):
    """Standard normal values (Box-Muller on the device)."""
    op = "randn"
    dims = _shape(op, shape)
    dtype, layout = DataType(dtype), Layout(layout)
    _check(op, dtype, layout, (DataType.BFLOAT16, DataType.FLOAT32))
    if device is None:
        fail(op, "needs a device")
    device.check_open("ttnn.randn")
    value = torch.randn(dims, generator=_generator(seed), dtype=torch.float32)
    mc = memory_config if memory_config is not None else DRAM_MEMORY_CONFIG
    return make_output(op, device, value, dtype, layout, mc, rounding="sfpu")


@ttnn_op("bernoulli", golden=lambda input, *a, **k: torch.bernoulli(input))
def bernoulli(input, seed=0, *, output=None, dtype=None, memory_config=None, compute_kernel_config=None):
    """1 with probability input[i], else 0 (TILE, bfloat16/float32 probabilities; float32 output by default)."""
    op = "bernoulli"
    device = on_device(op, input=input, output=output)
    require_layout(op, "input", input, Layout.TILE)
    require_dtype(op, "input", input, (DataType.BFLOAT16, DataType.FLOAT32))
    out_dtype = DataType.FLOAT32 if dtype is None else DataType(dtype)
    if output is not None:
        require_layout(op, "output", output, Layout.TILE)
        if tuple(output.shape) != tuple(input.shape):
            fail(op, f"output has shape {list(output.shape)}, input {list(input.shape)}")
        out_dtype = output._dtype
    if out_dtype not in (DataType.BFLOAT16, DataType.FLOAT32):
        fail(op, f"output dtype {out_dtype.name} is not supported, supported: BFLOAT16, FLOAT32")
    u = torch.rand(tuple(input.shape), generator=_generator(seed), dtype=torch.float32)
    value = (u < input._value.to(torch.float32)).to(torch.float32)
    if output is not None:
        output._value, output._pad = value, None
        return output
    return make_output(op, device, value, out_dtype, Layout.TILE, out_memory_config(memory_config, input),
                       rounded=True)
