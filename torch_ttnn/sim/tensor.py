"""ttnn.Tensor of the simulated device.

A tensor stores its logical values (float32 for the float formats, holding values exactly representable in
the format, bfloat16 NaN payloads included; int64 for the integer formats, holding values in the format's
range) plus a model of its tile padding: `_pad` is the scalar every padding element holds, or None when it is
unknown. Memory and transfer sizes count the padding; compute does not pay for it.

How `_pad` is kept (only TILE tensors have one; ROW_MAJOR tensors have None):
- host from_torch / ttnn.Tensor(...) / to_layout(TILE): pad_value cast to the source element type, then
  converted with the buffer (the wheel's rules, ops/core.py `_pad_of`); a block-float pad is what a block made
  only of padding stores (formats.bfp_scalar). Block-float quantization of the last blocks of a row uses it.
- host typecast / to_dtype: converted like the values; to_layout(ROW_MAJOR): dropped.
- to_device / from_device / reallocate / clone / to_memory_config: kept (converted when the dtype changes).
- device to_layout(TILE) / tilize: pad_value (0 for tilize); fill_implicit_tile_padding: its fill value.
- other device ops: whatever the op defines (make_output(pad=...)), else None: FACTS.md says padding is not
  guaranteed after device ops, and consumers treat None as unknown (ops/_common.padded_values reads it as 0).
"""
from __future__ import annotations

import math
from typing import Optional

import torch

from .memory import Allocation
from .types import (BLOCK_FLOAT_DTYPES, ELEMENT_BYTES, TILE_BYTES, TILE_HEIGHT, TILE_WIDTH,
                    BufferType, DataType, Layout, MemoryConfig, Shape, StorageType, TensorMemoryLayout)


def padded_shape_of(shape, layout: Layout) -> Shape:
    shape = tuple(shape)
    if layout != Layout.TILE:
        return Shape(shape) if shape else Shape((1,))     # the wheel: a rank-0 tensor has padded_shape [1]
    if len(shape) == 0:
        return Shape((TILE_HEIGHT, TILE_WIDTH))
    if len(shape) == 1:
        return Shape((TILE_HEIGHT, -(-shape[0] // TILE_WIDTH) * TILE_WIDTH))
    h = -(-shape[-2] // TILE_HEIGHT) * TILE_HEIGHT
    w = -(-shape[-1] // TILE_WIDTH) * TILE_WIDTH
    return Shape(shape[:-2] + (h, w))


def buffer_layout(shape, dtype: DataType, layout: Layout) -> tuple[int, int]:
    """(number of pages, page size in bytes) of a tensor's buffer."""
    if layout == Layout.TILE:
        padded = padded_shape_of(shape, layout)
        tiles = math.prod(padded[:-2]) * (padded[-2] // TILE_HEIGHT) * (padded[-1] // TILE_WIDTH)
        return tiles, TILE_BYTES[dtype]
    shape = tuple(shape) or (1,)
    return math.prod(shape[:-1]), shape[-1] * ELEMENT_BYTES[dtype]


class Tensor:
    """A TT-NN tensor, on the host or on a simulated device."""

    __slots__ = ("_value", "_dtype", "_layout", "_device", "_memory_config", "_alloc", "_pad", "__weakref__")

    def __init__(self, *args, **kwargs):
        # Real constructors: Tensor(tensor); Tensor(data, shape, data_type, layout, [device, [memory_config,]]
        # tile=None, pad_value=0.0); Tensor(tensor=torch_tensor, data_type=None, device=None, layout=None,
        # mem_config=None, tile=None, cq_id=None, pad_value=None, ...)
        from .ops.core import _host_tensor_from_torch, _host_tensor_from_list  # local: ops import this module
        if len(args) == 1 and not kwargs and isinstance(args[0], Tensor):
            src = args[0]
            self._init(src._value, src._dtype, src._layout, src._device, src._memory_config, src._alloc, src._pad)
            return
        memory_config = None
        if (args and isinstance(args[0], torch.Tensor)) or "tensor" in kwargs:
            names = ("tensor", "data_type", "device", "layout", "mem_config", "tile", "cq_id", "pad_value")
            kw = dict(zip(names, args)); kw.update(kwargs)
            memory_config = kw.get("mem_config", kw.get("memory_config"))
            t = _host_tensor_from_torch(kw["tensor"], kw.get("data_type"), kw.get("layout"), kw.get("pad_value"),
                                        what="Tensor")
        else:
            names = ["data", "shape", "data_type", "layout"]
            rest = list(args[4:])
            # positional tail: (tile, pad_value) or (device, tile, pad_value) or (device, memory_config, ...)
            if rest and (rest[0] is None or _is_device(rest[0])):
                names.append("device")
                if len(rest) > 1 and _is_memory_config(rest[1]):
                    names.append("memory_config")
            names += ["tile", "pad_value"]
            kw = dict(zip(names, args)); kw.update(kwargs)
            memory_config = kw.get("memory_config")
            t = _host_tensor_from_list(kw["data"], kw["shape"], kw["data_type"], kw["layout"], kw.get("pad_value", 0),
                                       what="Tensor")
        self._init(t._value, t._dtype, t._layout, None, None, None, t._pad)
        if kw.get("device") is not None:
            from .ops.core import to_device
            moved = to_device(self, kw["device"], memory_config=memory_config)
            self._init(moved._value, moved._dtype, moved._layout, moved._device, moved._memory_config,
                       moved._alloc, moved._pad)

    def _init(self, value, dtype, layout, device, memory_config, alloc, pad):
        self._value = value
        self._dtype = DataType(dtype)
        self._layout = Layout(layout)
        self._device = device
        self._memory_config = memory_config
        old = getattr(self, "_alloc", None)
        if old is not None and old is not alloc:
            self._release()
        if alloc is not None and old is not alloc:
            alloc.holders += 1
        self._alloc: Optional[Allocation] = alloc
        self._pad = pad

    def _release(self) -> None:
        """This object stops holding its buffer; the last holder frees it (real ttnn frees a device buffer when
        its last tensor goes away)."""
        alloc = getattr(self, "_alloc", None)
        if alloc is None or alloc.freed:
            return
        alloc.holders -= 1
        dev = self._device
        if alloc.holders <= 0 and dev is not None and getattr(dev, "is_open", False):
            dev.memory[alloc.buffer_type].free(alloc)

    def __del__(self):
        try:
            self._release()
        except Exception:   # interpreter shutdown: modules may be gone already
            pass

    @classmethod
    def _new(cls, value, dtype, layout, device=None, memory_config=None, alloc=None, pad=None) -> "Tensor":
        t = cls.__new__(cls)
        t._init(value, dtype, layout, device, memory_config, alloc, pad)
        return t

    # --- properties of real ttnn.Tensor ------------------------------------------------------
    @property
    def shape(self) -> Shape:
        return Shape(self._value.shape)

    @property
    def logical_shape(self) -> Shape:
        return self.shape

    @property
    def padded_shape(self) -> Shape:
        return padded_shape_of(self._value.shape, self._layout)

    @property
    def dtype(self) -> DataType:
        return self._dtype

    @property
    def layout(self) -> Layout:
        return self._layout

    def get_dtype(self) -> DataType:
        return self._dtype

    def get_layout(self) -> Layout:
        return self._layout

    def device(self):
        return self._device

    def memory_config(self) -> Optional[MemoryConfig]:
        return self._memory_config

    def storage_type(self) -> StorageType:
        return StorageType.DEVICE if self._device is not None else StorageType.HOST

    def is_allocated(self) -> bool:
        return self._value is not None and (self._alloc is None or not self._alloc.freed)

    def is_sharded(self) -> bool:
        return self._memory_config is not None and self._memory_config.is_sharded()

    def volume(self) -> int:
        return math.prod(self.padded_shape)

    def logical_volume(self) -> int:
        return math.prod(self._value.shape)

    def element_size(self) -> int:
        from .types import element_size
        return element_size(self._dtype)     # block floats raise ValueError, as in the wheel

    def buffer_size(self) -> int:
        """Bytes of the tensor's buffer (tile padding included)."""
        pages, page = buffer_layout(self._value.shape, self._dtype, self._layout)
        return pages * page

    def deallocate(self, force: bool = False) -> None:
        from .ops.core import deallocate
        deallocate(self, force=force)

    def to(self, device, memory_config=None, cq_id=None):
        from .ops.core import to_device
        return to_device(self, device, memory_config=memory_config)

    def cpu(self, blocking: bool = True, cq_id=None):
        from .ops.core import from_device
        return from_device(self)

    def to_torch(self):
        from .ops.core import to_torch
        return to_torch(self)

    def __repr__(self) -> str:
        where = "host" if self._device is None else repr(self._device)
        mc = "" if self._memory_config is None else f", {self._memory_config.buffer_type.name}"
        return (f"ttnn.Tensor(shape={list(self.shape)}, dtype={self._dtype.name}, layout={self._layout.name}, "
                f"{where}{mc})")

    # --- simulator internals -----------------------------------------------------------------
    def _check_alive(self, what: str) -> None:
        if not self.is_allocated():
            raise RuntimeError(f"{what}: the tensor was deallocated")


def _is_device(x) -> bool:
    return hasattr(x, "compute_with_storage_grid_size")


def _is_memory_config(x) -> bool:
    return isinstance(x, MemoryConfig)


def is_block_float(dtype: DataType) -> bool:
    return DataType(dtype) in BLOCK_FLOAT_DTYPES


def default_memory_config() -> MemoryConfig:
    return MemoryConfig(TensorMemoryLayout.INTERLEAVED, BufferType.DRAM)
