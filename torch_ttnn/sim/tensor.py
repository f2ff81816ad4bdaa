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

import itertools
import math
from typing import Optional

import torch

from .coords import MeshCoordinate
from .memory import Allocation
from .types import (BLOCK_FLOAT_DTYPES, ELEMENT_BYTES, TILE_BYTES, TILE_HEIGHT, TILE_WIDTH,
                    BufferType, DataType, Layout, MemoryConfig, Shape, StorageType, TensorMemoryLayout)


# Tensor methods that are TT-NN ops (to, cpu, to_torch, deallocate, reshape, the constructors' conversions) run
# the ops of the op families, which sit above this module: each family binds its functions here when it is
# imported (ops/core.py, ops/data_movement.py), as the wheel's op modules give ttnn.Tensor its methods.
_OPS: dict = {}


def bind_ops(**fns) -> None:
    """Make op functions available to Tensor's methods (called by the op families at import)."""
    _OPS.update(fns)


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


def tile_hw(shape) -> tuple[int, int]:
    """(second-to-last, last) dims as the tile layout sees them (missing dims are 1)."""
    shape = tuple(shape)
    return (shape[-2] if len(shape) >= 2 else 1), (shape[-1] if shape else 1)


def _edge(w: int) -> int:
    """The end of the blocks of 16 holding a row's last values (a block float shares them with the padding)."""
    return -(-w // 16) * 16


def unpadded(full: torch.Tensor, shape) -> torch.Tensor:
    """The logical values of shape `shape` in a padded buffer laid out as Tensor._padded_values gives it."""
    rows, w = tile_hw(shape)
    return full[..., :rows, :w].reshape(tuple(shape))


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

    __slots__ = ("_value", "_dtype", "_layout", "_device", "_memory_config", "_alloc", "_pad", "_pad_edge", "_tid",
                 "__weakref__")

    def __init__(self, *args, **kwargs):
        # Real constructors: Tensor(tensor); Tensor(data, shape, data_type, layout, [device, [memory_config,]]
        # tile=None, pad_value=0.0); Tensor(tensor=torch_tensor, data_type=None, device=None, layout=None,
        # mem_config=None, tile=None, cq_id=None, pad_value=None, ...)
        _host_tensor_from_torch, _host_tensor_from_list = _OPS["host_from_torch"], _OPS["host_from_list"]
        if len(args) == 1 and not kwargs and isinstance(args[0], Tensor):
            src = args[0]
            self._init(src._value, src._dtype, src._layout, src._device, src._memory_config, src._alloc, src._pad)
            self._tid = src.tensor_id                # the wheel: a copy is the same tensor (same id)
            self._pad_edge = src._pad_edge
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
            to_device = _OPS["to_device"]
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
        self._pad_edge = None

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
    def _new(cls, value, dtype, layout, device=None, memory_config=None, alloc=None, pad=None,
             pad_edge=None) -> "Tensor":
        t = cls.__new__(cls)
        t._init(value, dtype, layout, device, memory_config, alloc, pad)
        t._pad_edge = pad_edge
        return t

    # --- properties of real ttnn.Tensor ------------------------------------------------------
    @property
    def shape(self) -> Shape:
        return Shape(self._value.shape)

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

    def _buffer_size(self) -> int:
        """Bytes of the tensor's buffer (tile padding included)."""
        pages, page = buffer_layout(self._value.shape, self._dtype, self._layout)
        return pages * page

    def deallocate(self, force: bool = False) -> None:
        deallocate = _OPS["deallocate"]
        deallocate(self, force=force)

    def to(self, device, memory_config=None, cq_id=None):
        to_device = _OPS["to_device"]
        return to_device(self, device, memory_config=memory_config)

    def cpu(self, blocking: bool = True, cq_id=None):
        from_device = _OPS["from_device"]
        return from_device(self)

    def to_torch(self):
        to_torch = _OPS["to_torch"]
        return to_torch(self)

    # identity, tile and buffer queries -------------------------------------------------------
    @property
    def tensor_id(self) -> int:
        """A process-unique id, assigned when first asked (ttnn.Tensor(t) shares t's id, as in the wheel)."""
        tid = getattr(self, "_tid", None)
        if tid is None:
            tid = self._tid = next(_TENSOR_IDS)
        return tid

    @property
    def tile(self):
        from .types import Tile
        return Tile((TILE_HEIGHT, TILE_WIDTH))     # the wheel reports a 32x32 tile for ROW_MAJOR tensors too

    def get_tile(self):
        return self.tile

    def _device_buffer(self, what: str) -> Allocation:
        if self._device is None or self._alloc is None:
            from .errors import TTNNError
            raise TTNNError(f"Tensor.{what}: expected a tensor with device storage, got StorageType::HOST")
        self._check_alive(f"Tensor.{what}")
        return self._alloc

    def buffer_address(self) -> int:
        """The address of the buffer in each bank it spans (interleaved buffers use the same offset in every bank)."""
        return self._device_buffer("buffer_address").address

    def buffer_page_size(self) -> int:
        """Bytes of a page: a tile in TILE layout, a row (last dim x element size) in ROW_MAJOR."""
        self._device_buffer("buffer_page_size")
        return buffer_layout(self._value.shape, self._dtype, self._layout)[1]

    def buffer_num_pages(self) -> int:
        self._device_buffer("buffer_num_pages")
        return buffer_layout(self._value.shape, self._dtype, self._layout)[0]

    def buffer_aligned_page_size(self) -> int:
        """The page size rounded up to the alignment of the buffer's memory (DRAM 32 B Wormhole / 64 B Blackhole;
        L1 16 B)."""
        alloc = self._device_buffer("buffer_aligned_page_size")
        page = buffer_layout(self._value.shape, self._dtype, self._layout)[1]
        return self._device.memory[alloc.buffer_type].space.align(page)

    def buffer_unique_id(self) -> Optional[int]:
        """Id of the device buffer backing this tensor (views share their owner's), None on the host."""
        if self._device is None or self._alloc is None or self._alloc.freed:
            return None
        return id(self._alloc)

    def is_per_core_allocated(self) -> bool:
        return False        # the simulator never allocates per core (experimental in ttnn)

    def is_range_lockstep_allocated(self) -> bool:
        return False

    def experimental_per_core_buffer_address(self, device_coord, core) -> int:
        from .errors import TTNNError
        raise TTNNError("Tensor.experimental_per_core_buffer_address: the tensor was not allocated per core "
                        "(use buffer_address())")

    def device_coords(self) -> list:
        """The mesh coordinates the tensor's storage spans: (0, 0) for a tensor on one device."""
        self._device_buffer("device_coords")
        return [MeshCoordinate(0, 0)]

    def devices(self) -> list:
        return [] if self._device is None else [self._device]

    # values -----------------------------------------------------------------------------------
    def item(self):
        """The single value of a one-element tensor, as a Python number (read back from the device if needed)."""
        n = self.logical_volume()
        if n != 1:
            from .errors import TTNNError
            raise TTNNError(f"tensor.item() requires tensor to have exactly one element, but got {n} elements")
        return self.to_torch().reshape(()).item()

    def to_list(self) -> list:
        """The logical values as nested Python lists (floats for float formats, ints for integer formats)."""
        v = self.to_torch()
        return v.float().tolist() if v.is_floating_point() else v.tolist()

    def to_numpy(self, mesh_composer=None):
        """The logical values as a numpy array: float32 for the float formats (numpy has no bfloat16), the
        integer type of the format otherwise."""
        to_torch = _OPS["to_torch"]
        self._host_only("to_numpy")
        v = to_torch(self, mesh_composer=mesh_composer)
        return (v.float() if v.is_floating_point() else v).numpy()

    def to_torch_with_padded_shape(self) -> torch.Tensor:
        """The whole buffer, tile padding included (host tensors only), in the torch dtype of to_torch."""
        natural_torch = _OPS["natural_torch"]
        self._host_only("to_torch_with_padded_shape")
        if self._layout != Layout.TILE:
            return natural_torch(self)
        return natural_torch(self, self._padded_values())

    def _padded_values(self) -> torch.Tensor:
        """The buffer's values, padding included, shaped as padded_shape (float32 or int64, like `_value`).

        The padding holds `_pad` (0 when unknown: FACTS.md, padding is not guaranteed after device ops) except
        in the blocks of 16 a row shares between its last values and its padding: a block float stores those
        with the block's shared exponent, and a conversion out of a block float keeps what they became
        (`_pad_edge`). This is what the wheel's host buffer holds, bit for bit (tests/sim/test_tensor_members.py).
        """
        padded = tuple(self.padded_shape)
        rows, w = tile_hw(self._value.shape)
        base = self._value.reshape(padded[:-2] + (rows, w))
        pad = 0.0 if self._pad is None else self._pad
        full = torch.nn.functional.pad(base, (0, padded[-1] - w, 0, padded[-2] - rows), value=pad)
        edge = _edge(w)
        if edge != w:
            if self._pad_edge is not None:
                full[..., :rows, w:edge] = self._pad_edge
            elif self._dtype in BLOCK_FLOAT_DTYPES:
                from . import formats
                full[..., :rows, :edge] = formats.quantize_bfp_host(full[..., :rows, :edge].contiguous(), self._dtype)
        return full

    def _set_padded_values(self, full: torch.Tensor) -> None:
        """Keep the edge blocks' padding of a converted buffer `full` (see `_padded_values`)."""
        rows, w = tile_hw(self._value.shape)
        edge = _edge(w)
        self._pad_edge = full[..., :rows, w:edge].clone() if edge != w else None

    def reshape(self, *shape):
        """Tensor.reshape(N, C, H, W) | (shape) | (list of ints). A TILE tensor whose padded shape stays the same
        keeps its buffer and takes the new logical shape over it, as the wheel does (on the host, [2, 3] ->
        [3, 2] reads rows of the tile: [[0, 1], [3, 4], [0, 0]]); otherwise it is ttnn.reshape."""
        reshape = _OPS["reshape"]
        if len(shape) == 1 and not isinstance(shape[0], int):
            shape = tuple(shape[0])
        new = tuple(int(d) for d in shape)
        old_p, new_p = tuple(self.padded_shape), tuple(padded_shape_of(new, Layout.TILE))
        if (self._layout == Layout.TILE and self._device is None and len(new) >= 2
                and new_p[-2:] == old_p[-2:] and math.prod(new_p) == math.prod(old_p)):
            full = self._padded_values().reshape(new_p)
            out = Tensor._new(unpadded(full, new).clone(), self._dtype, self._layout, None, None, None, self._pad)
            out._set_padded_values(full)
            return out
        return reshape(self, Shape(new))

    def _host_only(self, what: str) -> None:
        if self._device is not None:
            from .errors import TTNNError
            raise TTNNError(f"Tensor.{what}: the tensor must be on the host (call .cpu() first)")

    def __repr__(self) -> str:
        where = "host" if self._device is None else repr(self._device)
        mc = "" if self._memory_config is None else f", {self._memory_config.buffer_type.name}"
        return (f"ttnn.Tensor(shape={list(self.shape)}, dtype={self._dtype.name}, layout={self._layout.name}, "
                f"{where}{mc})")

    # --- simulator internals -----------------------------------------------------------------
    def _check_alive(self, what: str) -> None:
        if not self.is_allocated():
            raise RuntimeError(f"{what}: the tensor was deallocated")


_TENSOR_IDS = itertools.count(1)

# Members of the real ttnn.Tensor the simulator does not offer, and why (tests/sim/test_api_conformance.py keeps
# this list complete). Calling one raises NotImplementedError with the reason instead of an AttributeError.
NOT_SIMULATED = {
    "pad": "legacy row-major padding keeps the logical shape and pads the buffer (a padded shape unlike the "
           "logical one, which simulated ROW_MAJOR tensors do not have); use ttnn.pad",
    "pad_to_tile": "legacy padded-shape row-major tensor; use ttnn.to_layout(t, ttnn.TILE_LAYOUT)",
    "unpad": "legacy padded-shape row-major tensor; use ttnn.slice",
    "unpad_from_tile": "legacy padded-shape row-major tensor; use ttnn.to_layout(t, ttnn.ROW_MAJOR_LAYOUT)",
    "extract_shard": "per-core shard extraction is not simulated; read the tensor with ttnn.to_torch",
    "host_buffer": "DistributedHostBuffer is not simulated; use ttnn.to_torch",
    "tensor_topology": "TensorTopology is not simulated; a mesh tensor's placement is given by its mapper",
    "update_tensor_topology": "TensorTopology is not simulated",
    "spec": "TensorSpec is not simulated; shape, dtype, layout and memory_config() are",
}


def _not_simulated(name: str):
    def member(self, *args, **kwargs):
        raise NotImplementedError(f"ttnn.Tensor.{name} is not simulated: {NOT_SIMULATED[name]}")
    member.__name__ = name
    return member


for _name in NOT_SIMULATED:
    setattr(Tensor, _name, property(_not_simulated(_name)) if _name == "spec" else _not_simulated(_name))
del _name


def _is_device(x) -> bool:
    return hasattr(x, "compute_with_storage_grid_size")


def _is_memory_config(x) -> bool:
    return isinstance(x, MemoryConfig)


def is_block_float(dtype: DataType) -> bool:
    return DataType(dtype) in BLOCK_FLOAT_DTYPES


def default_memory_config() -> MemoryConfig:
    return MemoryConfig(TensorMemoryLayout.INTERLEAVED, BufferType.DRAM)
