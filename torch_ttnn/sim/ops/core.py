"""Host <-> device conversions, layout and dtype conversions, memory placement.

Host conversions (from_torch, to_torch, host to_layout / typecast) are bit-exact with the real wheel.
Transfers are counted on the device: count and bytes (tile padding included) in each direction.
"""
from __future__ import annotations

import math
from typing import Optional

import torch

from .. import formats, trace
from ..perf.cost import describe
from .._op import not_launched, ttnn_op
from ..device import Device
from ..mesh import MeshDevice, MeshTensor, on_chips, replicate_tensor_to_mesh_mapper, unwrap_mapper
from ..tensor import Tensor, bind_ops, padded_shape_of, unpadded
from ..types import BLOCK_FLOAT_DTYPES, DEFAULT_TILE, FLOAT_DTYPES, INT_DTYPES, DataType, Layout
from ._common import TTNNError, allocate, fail, make_output, on_device, out_memory_config, require_tensor

# dtype=None: the wheel's choice per torch dtype (formats.py, rule H2). float64 has none (the wheel aborts).
_TORCH_TO_TTNN = {
    torch.bfloat16: DataType.BFLOAT16, torch.float32: DataType.FLOAT32, torch.float16: DataType.BFLOAT16,
    torch.int32: DataType.INT32, torch.int64: DataType.UINT32, torch.int16: DataType.UINT16,
    torch.uint8: DataType.UINT8, torch.bool: DataType.UINT8, torch.uint16: DataType.UINT16,
    torch.uint32: DataType.UINT32,
}
# torch dtypes the wheel converts itself (rule H1), with the stored format they are read as.
_NATIVE = {
    torch.float32: DataType.FLOAT32, torch.bfloat16: DataType.BFLOAT16, torch.int32: DataType.INT32,
    torch.uint32: DataType.UINT32, torch.uint16: DataType.UINT16, torch.uint8: DataType.UINT8,
    torch.bool: DataType.UINT8,
}
# other torch dtypes are first converted by torch to the torch type of the target (block floats: bfloat16)
_TORCH_STAGING = {
    DataType.BFLOAT16: torch.bfloat16, DataType.FLOAT32: torch.float32, DataType.BFLOAT8_B: torch.bfloat16,
    DataType.BFLOAT4_B: torch.bfloat16, DataType.INT32: torch.int32, DataType.UINT32: torch.uint32,
    DataType.UINT16: torch.uint16, DataType.UINT8: torch.uint8,
}
# to_torch: the torch dtype of each format (block floats unpack to float32)
TTNN_TO_TORCH = {
    DataType.BFLOAT16: torch.bfloat16, DataType.FLOAT32: torch.float32, DataType.BFLOAT8_B: torch.float32,
    DataType.BFLOAT4_B: torch.float32, DataType.INT32: torch.int32, DataType.UINT32: torch.uint32,
    DataType.UINT16: torch.uint16, DataType.UINT8: torch.uint8,
}
_BFP_LAYOUT_ERROR = "Layout must be Layout::TILE for bfloat8_b or bfloat4_b"


def _check_dtype_layout(dtype: DataType, layout: Layout, what: str) -> None:
    if dtype not in FLOAT_DTYPES | INT_DTYPES:
        raise TTNNError(f"{what}: dtype {DataType(dtype).name} is not supported by the simulated device")
    if dtype in BLOCK_FLOAT_DTYPES and layout != Layout.TILE:
        raise TTNNError(f"{what}: {_BFP_LAYOUT_ERROR}! (layout == Layout::TILE)")


def _scalar_cast(value: float, fmt: DataType) -> float:
    """static_cast<T>(pad_value) of the wheel: the pad in the source element type T (scalar rules)."""
    v = torch.tensor([float(value)], dtype=torch.float32)
    if fmt in INT_DTYPES:
        return float(formats.host_float_to_int(v, fmt, DataType.FLOAT32)[0])   # one element: scalar rule
    if fmt == DataType.BFLOAT16:
        return float(formats.round_bf16_rne(v)[0])
    return float(v[0])


def _pad_of(pad_value: float, src: DataType, dst: DataType) -> float:
    """Padding scalar of a TILE buffer: pad_value cast to the source type, then converted with the buffer."""
    src_store = DataType.FLOAT32 if src in BLOCK_FLOAT_DTYPES else src
    return formats.host_convert_scalar(_scalar_cast(pad_value, src_store), src_store, dst)


def _stored_from_torch(tensor: torch.Tensor, dtype: DataType) -> tuple[torch.Tensor, DataType]:
    """A torch tensor as the wheel reads it: (stored values, their format) -- rule H1."""
    if tensor.dtype not in _NATIVE:
        tensor = tensor.to(_TORCH_STAGING[dtype])
    src = _NATIVE[tensor.dtype]
    if tensor.dtype == torch.bfloat16:
        return formats.bf16_from_torch(tensor), src
    if tensor.dtype == torch.float32:
        return tensor, src          # may alias the caller's tensor: _host_tensor_from_torch copies if kept as is
    return tensor.to(torch.int64), src


def _host_tensor_from_torch(tensor: torch.Tensor, dtype, layout, pad_value, *, what: str) -> Tensor:
    if not isinstance(tensor, torch.Tensor):
        raise TTNNError(f"{what}: expected a torch.Tensor, got {type(tensor).__name__}")
    if dtype is None:
        if tensor.dtype in (torch.float64, torch.uint64):
            raise TTNNError(f"{what}: get_dtype_from_ttnn_datatype: got INVALID or unhandled DataType. (torch "
                            f"{tensor.dtype} has no default TT-NN dtype: pass dtype=)")
        if tensor.dtype == torch.int8:
            raise TTNNError(f"{what}: torch.int8 maps to DataType.INT8, which the simulated device does not "
                            "support; pass dtype=")
        if tensor.dtype not in _TORCH_TO_TTNN:
            raise TTNNError(f"{what}: get_ttnn_datatype_from_dtype: got unexpected dlpack dtype "
                            f"(torch {tensor.dtype} is not supported by the simulated device; pass dtype=)")
        dtype = _TORCH_TO_TTNN[tensor.dtype]
    dtype = DataType(dtype)
    if layout is None:
        layout = Layout.TILE if dtype in BLOCK_FLOAT_DTYPES else Layout.ROW_MAJOR
    layout = Layout(layout)
    _check_dtype_layout(dtype, layout, what)
    if tensor.dtype.is_complex:
        raise TTNNError(f"{what}: get_ttnn_datatype_from_dtype: got unexpected dlpack dtype (torch {tensor.dtype})")
    stored, src = _stored_from_torch(tensor.detach().cpu().contiguous(), dtype)
    tile = layout == Layout.TILE
    pad = _pad_of(0.0 if pad_value is None else pad_value, src, dtype) if tile else None
    value = formats.host_convert(stored, src, dtype, all_vector=tile, pad=pad)
    if value.untyped_storage().data_ptr() == tensor.untyped_storage().data_ptr():
        value = value.clone()       # the host tensor owns its values (the user may write to theirs)
    return Tensor._new(value, dtype, layout, None, None, None, pad)


def _host_tensor_from_list(data, shape, dtype, layout, pad_value, *, what: str) -> Tensor:
    """ttnn.Tensor(data, shape, data_type, layout, ...): the wheel picks its int32 overload when every value
    (and pad_value) is a Python int within int32, else its float32 overload; then the usual host rules."""
    data = list(data)
    shape = tuple(int(d) for d in shape)
    dtype, layout = DataType(dtype), Layout(layout)
    if dtype in BLOCK_FLOAT_DTYPES and layout != Layout.TILE:
        raise TTNNError(f"{what}: layout == Layout::TILE: Only TILE layout is supported for {dtype.name} dtype! "
                        f"({_BFP_LAYOUT_ERROR})")
    _check_dtype_layout(dtype, layout, what)
    n = 1
    for d in shape:
        n *= d
    if len(data) != n:
        raise TTNNError(f"{what}: buffer.size() == volume: Buffer size {len(data)} differs from shape volume {n}")
    pad_value = 0 if pad_value is None else pad_value
    ints = all(isinstance(v, int) and -(1 << 31) <= v < (1 << 31) for v in data + [pad_value])
    if ints:
        src = torch.tensor(data, dtype=torch.int64).reshape(shape)
        src_fmt, pad_src = DataType.INT32, float(formats.host_convert(torch.tensor([pad_value]), DataType.INT32,
                                                                      DataType.INT32, all_vector=True)[0])
    else:
        src = torch.tensor([float(v) for v in data], dtype=torch.float32).reshape(shape)
        src_fmt, pad_src = DataType.FLOAT32, float(torch.tensor(float(pad_value), dtype=torch.float32))
    tile = layout == Layout.TILE
    pad = formats.host_convert_scalar(pad_src, src_fmt, dtype) if tile else None
    value = formats.host_convert(src, src_fmt, dtype, all_vector=tile, pad=pad)
    return Tensor._new(value, dtype, layout, None, None, None, pad)


def _count_transfer(device: Device, t: Tensor, direction: str, cq_id=None, what: str = "") -> None:
    cq = device.queue(cq_id, f"ttnn.{what}") if cq_id is not None else 0
    trace.refuse_transfer(device, direction)
    c = device.counters
    if direction == "to":
        c.to_device += 1
        c.to_device_bytes += t._buffer_size()
    else:
        c.from_device += 1
        c.from_device_bytes += t._buffer_size()
    device.profiler.transfer(direction, t._buffer_size(), describe(t), cq)


@ttnn_op("from_torch", counted=False, mesh_native=True)
def from_torch(tensor, dtype=None, *, spec=None, tile=None, pad_value=None, layout=None, device=None,
               memory_config=None, mesh_mapper=None, cq_id=None, preserve_nan_values=False, col_tilize=False,
               enable_bfloat_opt=False):
    """Convert a torch.Tensor to a ttnn.Tensor (on the host, or on `device`). Host conversion rules:
    formats.py (H1-H3, F1-F3, B1-B7, I1-I3)."""
    if tensor is None:
        return None
    if mesh_mapper is not None or isinstance(device, MeshDevice):
        return distribute_from_torch(tensor, dtype, tile=tile, pad_value=pad_value, layout=layout, device=device,
                                     memory_config=memory_config, mesh_mapper=mesh_mapper)
    t = _host_tensor_from_torch(tensor, dtype, layout, pad_value, what="ttnn.from_torch")
    if device is not None:
        t = to_device(t, device, memory_config=memory_config, queue_id=cq_id)
    return t


def natural_torch(tensor: Tensor, v: Optional[torch.Tensor] = None) -> torch.Tensor:
    """The torch tensor the wheel's Tensor.to_torch() gives: a fresh copy in the format's torch dtype (of the
    tensor's values, or of `v` given in the same representation)."""
    dtype = tensor._dtype
    v = tensor._value if v is None else v
    if dtype == DataType.BFLOAT16:
        return formats.bf16_to_torch(v)                       # rule F3: bit-exact, NaN payloads included
    if dtype in FLOAT_DTYPES:
        return v.to(torch.float32, copy=True)
    return v.to(TTNN_TO_TORCH[dtype])


@ttnn_op("to_torch", counted=False, mesh_native=True)
def to_torch(tensor, dtype=None, *, torch_rank=None, mesh_composer=None, device=None, cq_id=None):
    """Convert a ttnn.Tensor (host or device) to a torch.Tensor of its logical shape."""
    if isinstance(tensor, torch.Tensor):
        return tensor if dtype is None else tensor.to(dtype)
    require_tensor("to_torch", "tensor", tensor)
    if isinstance(tensor, MeshTensor):
        if mesh_composer is None:
            fail("to_torch", f"the tensor is distributed over {len(tensor._shards)} chips: give a mesh_composer "
                             f"(ttnn.ConcatMeshToTensor(mesh_device, dim) or ttnn.create_mesh_composer)")
        shards = tensor._shards
        if tensor._device is not None:
            pieces = on_chips(tensor._mesh, lambda i: to_torch(shards[i]), transfer=True)
        else:
            pieces = [to_torch(s) for s in shards]
        out = mesh_composer.compose(pieces)
        return out if dtype is None else out.to(dtype)
    if tensor._device is not None:
        tensor = from_device(tensor, queue_id=cq_id)
    out = natural_torch(tensor)
    if torch_rank is not None:
        while out.dim() > torch_rank:
            if out.shape[0] != 1:
                raise TTNNError(f"ttnn: Unable to squeeze to desired rank! (ttnn.to_torch: cannot reduce shape "
                                f"{list(out.shape)} to rank {torch_rank})")
            out = out.squeeze(0)
    if dtype is not None:
        out = out.to(dtype)                                   # torch's own conversion, as the wheel does
    return out


@ttnn_op("to_device", counted=False)
def to_device(tensor, device, memory_config=None, *, queue_id=None):
    """Move a host tensor to `device` (a counted host->device transfer)."""
    require_tensor("to_device", "tensor", tensor)
    if device is None:
        fail("to_device", "device is None")
    if tensor._device is not None:
        if tensor._device is device:
            return tensor
        fail("to_device", f"tensor is already on device {tensor._device.device_id}")
    device.check_open("ttnn.to_device")
    mc = out_memory_config(memory_config)
    alloc = allocate(device, tensor._value.shape, tensor._dtype, tensor._layout, mc)
    out = Tensor._new(tensor._value, tensor._dtype, tensor._layout, device, mc, alloc, tensor._pad,
                      tensor._pad_edge)
    _count_transfer(device, out, "to", queue_id, "to_device")
    return out


@ttnn_op("from_device", counted=False)
def from_device(tensor, blocking=True, *, queue_id=None):
    """Copy a device tensor back to the host (a counted device->host transfer)."""
    require_tensor("from_device", "tensor", tensor)
    if tensor._device is None:
        return tensor
    tensor._device.check_open("ttnn.from_device")
    _count_transfer(tensor._device, tensor, "from", queue_id, "from_device")
    return Tensor._new(tensor._value, tensor._dtype, tensor._layout, None, None, None, tensor._pad,
                       tensor._pad_edge)


@ttnn_op("deallocate", counted=False)
def deallocate(tensor, force=True):
    """Free a device tensor's buffer. Using the tensor afterwards raises. Freeing a buffer that is already
    free (e.g. through another view of it) does nothing."""
    if isinstance(tensor, Tensor) and tensor._alloc is not None and tensor._alloc.freed:
        return
    require_tensor("deallocate", "tensor", tensor)
    if tensor._alloc is not None and tensor._device is not None:
        tensor._device.memory[tensor._alloc.buffer_type].free(tensor._alloc)
    elif tensor._device is None:
        tensor._value = None


def _check_copy_pair(op: str, host: Tensor, dev: Tensor, host_arg: str, dev_arg: str) -> None:
    require_tensor(op, host_arg, host)
    require_tensor(op, dev_arg, dev)
    if host._device is not None:
        fail(op, f"{host_arg} must be on the host, got a tensor on device {host._device.device_id}")
    if dev._device is None:
        fail(op, f"{dev_arg} must be on a device, got a host tensor")
    dev._check_alive(f"ttnn.{op}")
    if host._value is None:
        fail(op, f"{host_arg} was deallocated")
    same = (tuple(host._value.shape) == tuple(dev._value.shape), host._dtype == dev._dtype,
            host._layout == dev._layout)
    if not all(same):
        fail(op, f"host and device tensors must have the same shape, dtype and layout: {host_arg} is "
                 f"{list(host._value.shape)} {host._dtype.name} {host._layout.name}, {dev_arg} is "
                 f"{list(dev._value.shape)} {dev._dtype.name} {dev._layout.name}")


@ttnn_op("copy_host_to_device_tensor", counted=False)
def copy_host_to_device_tensor(host_tensor, device_tensor, cq_id=None):
    """Write a host tensor's values into an allocated device tensor of the same spec (a counted transfer);
    the device tensor keeps its buffer, so a captured trace reading it sees the new values."""
    _check_copy_pair("copy_host_to_device_tensor", host_tensor, device_tensor, "host_tensor", "device_tensor")
    _count_transfer(device_tensor._device, device_tensor, "to", cq_id, "copy_host_to_device_tensor")
    device_tensor._value = host_tensor._value
    device_tensor._pad, device_tensor._pad_edge = host_tensor._pad, host_tensor._pad_edge
    trace.written(device_tensor)


@ttnn_op("copy_device_to_host_tensor", counted=False)
def copy_device_to_host_tensor(device_tensor, host_tensor, blocking=True, cq_id=None):
    """Read a device tensor's values into a host tensor of the same spec (a counted transfer)."""
    _check_copy_pair("copy_device_to_host_tensor", host_tensor, device_tensor, "host_tensor", "device_tensor")
    _count_transfer(device_tensor._device, device_tensor, "from", cq_id, "copy_device_to_host_tensor")
    host_tensor._value = device_tensor._value
    host_tensor._pad, host_tensor._pad_edge = device_tensor._pad, device_tensor._pad_edge


_PHYSICAL_SHAPE_ERROR = ("input_tensor.tensor_spec().physical_shape() == output_spec.physical_shape(): to_dtype: "
                         "Converting layout to Layout::TILE implicitly changed physical shape from {} to {} due to "
                         "alignment constraints. This is currently unsupported. Please pad the tensor explicitly "
                         "before conversion.")


def _is_tile_aligned(tensor: Tensor) -> bool:
    return tuple(padded_shape_of(tensor._value.shape, Layout.TILE)) == tuple(tensor._value.shape)


def _host_typecast(op: str, tensor: Tensor, dtype: DataType) -> Tensor:
    """Host dtype conversion with the wheel's C++ rules (formats.py, rule I4)."""
    dtype = DataType(dtype)
    _check_dtype_layout(dtype, Layout.TILE, f"ttnn.{op}")
    if dtype == tensor._dtype:
        return tensor
    layout = tensor._layout
    if dtype in BLOCK_FLOAT_DTYPES and layout != Layout.TILE:
        if not _is_tile_aligned(tensor):
            shape = tuple(tensor._value.shape)
            fail(op, _PHYSICAL_SHAPE_ERROR.format(shape, tuple(padded_shape_of(shape, Layout.TILE))))
        layout = Layout.TILE                       # a tile-aligned ROW_MAJOR tensor comes back in TILE
    tile_in = tensor._layout == Layout.TILE
    src_pad = tensor._pad if tile_in else None
    # A block-float source (or one converted from a block float) holds padding that differs block by block
    # where its last blocks mix values and padding: the wheel converts the whole buffer, padding included.
    whole = tile_in and (tensor._dtype in BLOCK_FLOAT_DTYPES or tensor._pad_edge is not None)
    if whole:
        full = formats.host_convert(tensor._padded_values(), tensor._dtype, dtype, all_vector=True, pad=None)
        value = unpadded(full, tensor._value.shape)
    else:
        value = formats.host_convert(tensor._value, tensor._dtype, dtype, all_vector=tile_in, pad=src_pad)
    if layout != Layout.TILE:
        pad = None
    elif src_pad is None:
        pad = None if tile_in else _pad_of(0.0, tensor._dtype, dtype)
    else:
        pad = formats.host_convert_scalar(src_pad, tensor._dtype, dtype)
    out = Tensor._new(value, dtype, layout, None, None, None, pad)
    if whole:
        out._set_padded_values(full)
    return out


def _host_to_layout(tensor: Tensor, layout: Layout, pad_value) -> Tensor:
    """Host tilize (pads with pad_value cast to the tensor's type) / untilize (unpads). dtype is ignored."""
    layout = Layout(layout)
    if layout == tensor._layout:
        return tensor
    if layout == Layout.TILE:
        store = DataType.FLOAT32 if tensor._dtype in BLOCK_FLOAT_DTYPES else tensor._dtype
        pad = _scalar_cast(0.0 if pad_value is None else pad_value, store)
        return Tensor._new(tensor._value, tensor._dtype, Layout.TILE, None, None, None, pad)
    if tensor._dtype in BLOCK_FLOAT_DTYPES:
        if _is_tile_aligned(tensor):
            return tensor                          # nothing to unpad: the wheel keeps the block float in TILE
        fail("to_layout", "tensor.layout() == Layout::ROW_MAJOR: Tensor layout must be ROW_MAJOR for unpadding "
                          f"({_BFP_LAYOUT_ERROR})")
    return Tensor._new(tensor._value, tensor._dtype, Layout.ROW_MAJOR, None, None, None, None)


def _device_pad(pad, dtype: DataType, device: Device):
    """The padding scalar of a device op's TILE output in `dtype` (None: unknown). Float formats are rounded by
    make_output (bf16/fp32: the packer rule); a block float pad is what a block of padding alone stores;
    integers wrap (the device rule of formats.wrap_int)."""
    if pad is None:
        return None
    dtype = DataType(dtype)
    if dtype in INT_DTYPES:
        if math.isnan(pad):
            return None
        return float(formats.wrap_int(torch.tensor([float(pad)], dtype=torch.float64), dtype)[0])
    if dtype in BLOCK_FLOAT_DTYPES:
        return formats.bfp_scalar(pad, dtype, host=device.ideal)
    return float(pad)


def _convert(op: str, tensor: Tensor, layout: Layout, dtype: DataType, memory_config, pad_value: float):
    """Layout/dtype conversion on the device (packer rules). Host conversions: _host_typecast/_host_to_layout."""
    layout, dtype = Layout(layout), DataType(dtype)
    _check_dtype_layout(dtype, layout, f"ttnn.{op}")
    device = on_device(op, tensor=tensor)
    if tensor._layout == Layout.TILE and layout == Layout.TILE:
        pad = tensor._pad
    elif layout == Layout.TILE:
        pad = float(pad_value)
    else:
        pad = None
    pad = _device_pad(pad, dtype, device)
    if dtype == tensor._dtype:
        return make_output(op, device, tensor._value, dtype, layout, out_memory_config(memory_config, tensor),
                           pad=pad, rounded=True)
    return make_output(op, device, _as_source(tensor), dtype, layout, out_memory_config(memory_config, tensor),
                       pad=pad)


def _as_source(tensor: Tensor) -> torch.Tensor:
    return tensor._value.to(torch.float32) if tensor._dtype in FLOAT_DTYPES else tensor._value


@ttnn_op("to_layout")
def to_layout(tensor, layout, dtype=None, memory_config=None, sub_core_grids=None, pad_value=0.0):
    """Convert between ROW_MAJOR and TILE (tilize pads, untilize unpads); on the device it is an op.
    On the host the wheel ignores `dtype` (formats.py, rule I4)."""
    require_tensor("to_layout", "tensor", tensor)
    layout = Layout(layout)
    if tensor._device is None:
        return _host_to_layout(tensor, layout, pad_value)
    dtype = tensor._dtype if dtype is None else DataType(dtype)
    if layout == tensor._layout and dtype == tensor._dtype and memory_config is None:
        not_launched()
        return tensor
    return _convert("to_layout", tensor, layout, dtype, memory_config, pad_value)


@ttnn_op("typecast")
def typecast(input_tensor, dtype, *, memory_config=None, output_tensor=None, sub_core_grids=None):
    """Convert to another data type (host: exact host rules; device: the packer rule of the output)."""
    require_tensor("typecast", "input_tensor", input_tensor)
    dtype = DataType(dtype)
    if input_tensor._device is None:
        return _host_typecast("typecast", input_tensor, dtype)
    if input_tensor._layout != Layout.TILE and (
            dtype in BLOCK_FLOAT_DTYPES or input_tensor._dtype in BLOCK_FLOAT_DTYPES):
        fail("typecast", f"input_tensor must be in TILE layout to convert to {dtype.name}")
    if dtype in INT_DTYPES and dtype != input_tensor._dtype:
        device = on_device("typecast", input_tensor=input_tensor)
        value = device_int_cast(_as_source(input_tensor), input_tensor._dtype, dtype)
        pad = input_tensor._pad
        if pad is not None:     # the padding goes through the same conversion
            pad = float(device_int_cast(torch.tensor([pad]), input_tensor._dtype, dtype)[0])
        return make_output("typecast", device, value, dtype, input_tensor._layout,
                           out_memory_config(memory_config, input_tensor), pad=pad, rounded=True)
    return _convert("typecast", input_tensor, input_tensor._layout, dtype, memory_config, 0.0)


def device_int_cast(x: torch.Tensor, src: DataType, dst: DataType) -> torch.Tensor:
    """The device typecast into an integer format (Wormhole/Blackhole SFPU conversion, as the wheel's golden
    function states it): to UINT16 floats round half up (block-float sources truncate) and saturate at
    [0, 65535]; to UINT32 they truncate and saturate at [0, 2^32 - 1]; to UINT8 they truncate and wrap modulo
    256; to INT32 they truncate (saturating at the int32 range). Returns int64 values."""
    if x.is_floating_point():
        x = x.to(torch.float32)
        if dst == DataType.UINT16 and src not in BLOCK_FLOAT_DTYPES:
            x = torch.floor(x + 0.5)
        else:
            x = torch.trunc(x)
        x = torch.nan_to_num(x, nan=0.0).clamp(-2.0 ** 62, 2.0 ** 62).to(torch.int64)
    else:
        x = x.to(torch.int64)
    if dst == DataType.UINT8:
        return x % 256
    if dst == DataType.UINT16:
        return x.clamp(0, 65535)
    if dst == DataType.UINT32:
        return x.clamp(0, 2 ** 32 - 1)
    return x.clamp(-2 ** 31, 2 ** 31 - 1)


@ttnn_op("to_dtype", counted=False)
def to_dtype(tensor, dtype):
    """Host-only conversion of a host tensor's dtype."""
    require_tensor("to_dtype", "tensor", tensor)
    if tensor._device is not None:
        fail("to_dtype", "tensor must be on the host")
    return _host_typecast("to_dtype", tensor, dtype)


@ttnn_op("to_memory_config")
def to_memory_config(tensor, memory_config, dtype=None, output_tensor=None):
    """Move a device tensor between DRAM and L1, interleaved and sharded."""
    device = on_device("to_memory_config", tensor=tensor)
    dtype = tensor._dtype if dtype is None else DataType(dtype)
    if memory_config == tensor._memory_config and dtype == tensor._dtype:
        not_launched()
        return tensor
    if dtype != tensor._dtype:
        return make_output("to_memory_config", device, _as_source(tensor), dtype, tensor._layout, memory_config,
                           pad=_device_pad(tensor._pad, dtype, device))
    return make_output("to_memory_config", device, tensor._value, dtype, tensor._layout, memory_config,
                       pad=tensor._pad, rounded=True)


@ttnn_op("reallocate")
def reallocate(tensor, memory_config=None):
    """Copy a device tensor to a fresh buffer (defragmentation) and free the old one."""
    device = on_device("reallocate", tensor=tensor)
    out = make_output("reallocate", device, tensor._value, tensor._dtype, tensor._layout,
                      out_memory_config(memory_config, tensor), pad=tensor._pad, rounded=True)
    deallocate(tensor)
    return out


@ttnn_op("clone")
def clone(input, *, dtype=None, memory_config=None, compute_kernel_config=None):
    """Copy a device tensor, optionally to another dtype or memory config."""
    device = on_device("clone", input=input)
    dtype = input._dtype if dtype is None else DataType(dtype)
    mc = out_memory_config(memory_config, input)
    if dtype == input._dtype:
        return make_output("clone", device, input._value, dtype, input._layout, mc, pad=input._pad, rounded=True)
    return make_output("clone", device, _as_source(input), dtype, input._layout, mc,
                       pad=_device_pad(input._pad, dtype, device))


@ttnn_op("assign")
def assign(input_tensor, *, memory_config, dtype=None, output_tensor=None):
    """Copy a device tensor into a new one (memory_config, dtype), or into `output_tensor` in place (same
    shape; its dtype and layout are kept). The in-place form is how a persistent buffer (a KV cache) is
    updated without a new allocation, e.g. inside a trace."""
    device = on_device("assign", input_tensor=input_tensor)
    dtype = input_tensor._dtype if dtype is None else DataType(dtype)
    if output_tensor is None:
        if dtype == input_tensor._dtype:
            return make_output("assign", device, input_tensor._value, dtype, input_tensor._layout, memory_config,
                               pad=input_tensor._pad, rounded=True)
        return make_output("assign", device, _as_source(input_tensor), dtype, input_tensor._layout, memory_config,
                           pad=_device_pad(input_tensor._pad, dtype, device))
    require_tensor("assign", "output_tensor", output_tensor)
    output_tensor._check_alive("ttnn.assign: output_tensor")
    if output_tensor._device is not device:
        fail("assign", "output_tensor must be on the same device as input_tensor")
    if tuple(output_tensor.shape) != tuple(input_tensor.shape):
        fail("assign", f"output_tensor has shape {list(output_tensor.shape)}, input_tensor "
                       f"{list(input_tensor.shape)}")
    if output_tensor._layout != input_tensor._layout:
        fail("assign", f"output_tensor is {output_tensor._layout.name}, input_tensor {input_tensor._layout.name}")
    if dtype != output_tensor._dtype:
        fail("assign", f"dtype {dtype.name} differs from output_tensor's {output_tensor._dtype.name}")
    from ._common import round_to
    value = input_tensor._value if dtype == input_tensor._dtype else round_to(_as_source(input_tensor), dtype,
                                                                             device)
    output_tensor._value = value
    output_tensor._pad = input_tensor._pad if dtype == input_tensor._dtype else None
    return output_tensor


@ttnn_op("tilize")
def tilize(input_tensor, *, memory_config=None, dtype=None, use_multicore=True, use_low_perf=False, tile=DEFAULT_TILE,
           sub_core_grids=None):
    """ROW_MAJOR -> TILE on the device. The last two dims must already be multiples of 32."""
    device = on_device("tilize", input_tensor=input_tensor)
    from ..types import Layout as L
    if input_tensor._layout != L.ROW_MAJOR:
        fail("tilize", "input_tensor must be in ROW_MAJOR layout")
    shape = input_tensor.shape
    if len(shape) < 2 or shape[-1] % 32 or shape[-2] % 32:
        fail("tilize", f"input_tensor shape {list(shape)} must have its last two dims divisible by 32 "
                       "(use tilize_with_val_padding or to_layout)")
    return _convert("tilize", input_tensor, Layout.TILE, input_tensor._dtype if dtype is None else dtype,
                    memory_config, 0.0)


@ttnn_op("untilize")
def untilize(input_tensor, *, memory_config=None, use_multicore=True, sub_core_grids=None):
    """TILE -> ROW_MAJOR on the device."""
    device = on_device("untilize", input_tensor=input_tensor)
    if input_tensor._layout != Layout.TILE:
        fail("untilize", "input_tensor must be in TILE layout")
    if input_tensor._dtype in BLOCK_FLOAT_DTYPES:
        fail("untilize", "input_tensor is bfloat8_b/bfloat4_b, which cannot be ROW_MAJOR")
    return _convert("untilize", input_tensor, Layout.ROW_MAJOR, input_tensor._dtype, memory_config, 0.0)


@ttnn_op("fill_implicit_tile_padding")
def fill_implicit_tile_padding(input_tensor, fill_value, *, memory_config=None):
    """Set the tile padding of a TILE device tensor to `fill_value`."""
    device = on_device("fill_implicit_tile_padding", input_tensor=input_tensor)
    if input_tensor._layout != Layout.TILE:
        fail("fill_implicit_tile_padding", "input_tensor must be in TILE layout")
    return make_output("fill_implicit_tile_padding", device, input_tensor._value, input_tensor._dtype, Layout.TILE,
                       out_memory_config(memory_config, input_tensor),
                       pad=_device_pad(float(fill_value), input_tensor._dtype, device), rounded=True)


# --- host tensors over a mesh (ttnn.distribute_tensor, aggregate_tensor; from_torch with a mesh_mapper) ------

def distribute_tensor(tensor, mapper, mesh_device=None) -> MeshTensor:
    """Split or replicate a host tensor over a mesh (on the host unless mesh_device is given)."""
    if isinstance(tensor, MeshTensor):
        raise ValueError("distribute_tensor: the tensor is already distributed")
    src = to_torch(tensor)
    return from_torch(src, tensor.dtype, layout=tensor.layout, device=mesh_device, mesh_mapper=mapper)


def aggregate_tensor(tensor, composer) -> Tensor:
    """Join the shards of a mesh tensor on the host with `composer`."""
    out = to_torch(tensor, mesh_composer=composer)
    return from_torch(out, tensor.dtype, layout=tensor.layout)


def distribute_from_torch(tensor, dtype=None, *, tile=None, pad_value=None, layout=None, device=None,
                          memory_config=None, mesh_mapper=None) -> MeshTensor:
    """ttnn.from_torch with a mesh_mapper or onto a MeshDevice: the host splits (or replicates) the tensor and
    converts each piece; with a device, each piece is uploaded to its chip (one counted transfer a chip)."""
    if isinstance(device, Device):
        raise ValueError("ttnn.from_torch: a mesh_mapper distributes over a MeshDevice, but device is the single "
                         f"device {device.device_id}")
    if mesh_mapper is None:
        mapper = replicate_tensor_to_mesh_mapper(device)    # real ttnn replicates onto a mesh without a mapper
    else:
        mapper = unwrap_mapper(mesh_mapper)
    mesh = mapper.mesh
    if device is not None and device is not mesh and device.chips != mesh.chips:
        raise ValueError(f"ttnn.from_torch: the mesh_mapper was made for {mesh!r}, the device is {device!r}")
    if device is not None:
        mesh.check_open("ttnn.from_torch")
    pieces = mapper.map(tensor)

    def upload(i):
        return from_torch(pieces[i].contiguous(), dtype, tile=tile, pad_value=pad_value, layout=layout,
                          device=None if device is None else mesh.chips[i], memory_config=memory_config)

    if device is None:
        shards = [upload(i) for i in range(len(pieces))]
    else:
        shards = on_chips(mesh, upload, transfer=True)
    return MeshTensor.of(shards, mesh, device is not None)


bind_ops(host_from_torch=_host_tensor_from_torch, host_from_list=_host_tensor_from_list, natural_torch=natural_torch,
         to_torch=to_torch, to_device=to_device, from_device=from_device, deallocate=deallocate)
