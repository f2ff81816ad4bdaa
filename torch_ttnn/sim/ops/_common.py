"""What every simulated op does: check its operands as the hardware would, and make its outputs.

Refusals name the op, the argument and what it needs, e.g.
``ttnn.matmul: input_tensor_a must be in TILE layout, got ROW_MAJOR``.
"""
from __future__ import annotations

import functools
import math
import struct
from typing import Iterable, Optional

import torch

from .. import formats
from ..device import Device
from ..errors import TTNNError
from ..kernel_config import default_fidelity, kernel_config  # noqa: F401  (the op families take them from here)
from ..tensor import Tensor, buffer_layout, padded_shape_of
from ..types import (BLOCK_FLOAT_DTYPES, FLOAT_DTYPES, INT_DTYPES, BufferType, DataType, Layout, MathFidelity,
                     MemoryConfig, ShardOrientation, ShardSpec, TensorMemoryLayout, WormholeComputeKernelConfig)


def fail(op: str, msg: str):
    raise TTNNError(f"ttnn.{op}: {msg}")


def require_tensor(op: str, arg: str, t) -> Tensor:
    if not isinstance(t, Tensor):
        fail(op, f"{arg} must be a ttnn.Tensor, got {type(t).__name__}")
    t._check_alive(f"ttnn.{op}: {arg}")
    return t


def on_device(op: str, **tensors) -> Device:
    """All named tensors must be on one open device; returns it."""
    device = None
    for arg, t in tensors.items():
        if t is None:
            continue
        require_tensor(op, arg, t)
        if t._device is None:
            fail(op, f"{arg} must be on a device, but it is on the host (use ttnn.to_device)")
        if device is None:
            device = t._device
        elif t._device is not device:
            fail(op, f"{arg} is on device {t._device.device_id} but the other operands are on device "
                     f"{device.device_id}")
    if device is None:
        fail(op, "needs at least one tensor on a device")
    device.check_open(f"ttnn.{op}")
    return device


def require_layout(op: str, arg: str, t: Tensor, *layouts: Layout) -> None:
    if t._layout not in layouts:
        need = " or ".join(l.name for l in layouts)
        fail(op, f"{arg} must be in {need} layout, got {t._layout.name}")


def require_dtype(op: str, arg: str, t: Tensor, allowed: Iterable[DataType]) -> None:
    allowed = tuple(allowed)
    if t._dtype not in allowed:
        fail(op, f"{arg} has dtype {t._dtype.name}, supported: {', '.join(d.name for d in allowed)}")


def require_rank(op: str, arg: str, t: Tensor, lo: int, hi: int = 8) -> None:
    r = len(t.shape)
    if not lo <= r <= hi:
        fail(op, f"{arg} must have rank {lo}..{hi}, got rank {r} (shape {list(t.shape)})")


def out_memory_config(memory_config: Optional[MemoryConfig], like: Optional[Tensor] = None) -> MemoryConfig:
    if memory_config is not None:
        return memory_config
    if like is not None and like._memory_config is not None and not like._memory_config.is_sharded():
        return like._memory_config
    return MemoryConfig(TensorMemoryLayout.INTERLEAVED, BufferType.DRAM)


def same_shape_memory_config(memory_config: Optional[MemoryConfig], like: Optional[Tensor]) -> MemoryConfig:
    """The output memory config of an op whose output has its input's shape (the element-wise unary ops): the
    one asked for, else the input's own, sharded or not, as TT-NN's `memory_config.value_or(input's)`."""
    if memory_config is None and like is not None and like._memory_config is not None:
        return like._memory_config
    return out_memory_config(memory_config, like)


def _padded_2d(shape, layout: Layout) -> tuple:
    """(rows, width) of `shape` as its buffer holds it: every dim but the last folded into rows, TILE dims
    padded to whole tiles."""
    dims = tuple(int(d) for d in shape) or (1,)
    if layout == Layout.TILE:
        h = -(-(dims[-2] if len(dims) > 1 else 1) // 32) * 32
        return (math.prod(dims[:-2]) if len(dims) > 2 else 1) * h, -(-dims[-1] // 32) * 32
    return (math.prod(dims[:-1]) if len(dims) > 1 else 1), dims[-1]


def shard_adjusted(t: Tensor, out_shape) -> MemoryConfig:
    """`t`'s sharded memory config carried to an output of `out_shape` (a broadcast result), as binary_ng does:
    the shard shape scaled by the output's rows and width over `t`'s (padded), at least one tile each way."""
    mc = t._memory_config
    (rows, width), (orows, owidth) = _padded_2d(t.shape, t._layout), _padded_2d(out_shape, t._layout)
    if (rows, width) == (orows, owidth):
        return mc
    sh, sw = mc.shard_spec.shape
    spec = ShardSpec(mc.shard_spec.grid, (max(sh * orows // rows, 32), max(sw * owidth // width, 32)),
                     mc.shard_spec.orientation)
    return MemoryConfig(mc.memory_layout, mc.buffer_type, spec)


def binary_memory_config(op: str, memory_config: Optional[MemoryConfig], a: Optional[Tensor],
                         b: Optional[Tensor], out_shape) -> MemoryConfig:
    """The output memory config of an element-wise binary op (TT-NN's binary_ng, 0.81.1): the one asked for
    (sharded without a shard spec: the sharded operand's, carried to the output shape); without one, operand
    a's, sharded or not, except that a sharded b is followed when a is DRAM interleaved or b's shard grid is
    larger than a's. Either operand may be sharded or interleaved: binary_ng reads a shard layout it does not
    share over the NoC, so no combination is refused."""
    def sharded(t):
        return t is not None and t._memory_config is not None and t._memory_config.is_sharded() \
            and t._memory_config.shard_spec is not None
    if a is None:
        a, b = b, None
    if memory_config is not None:
        if not memory_config.is_sharded() or memory_config.shard_spec is not None:
            return memory_config
        src = a if sharded(a) else b if sharded(b) else None
        if src is None:
            fail(op, "the output memory config is sharded but has no shard spec, and no input tensor is sharded")
        return shard_adjusted(src, out_shape)
    mc = a._memory_config or MemoryConfig(TensorMemoryLayout.INTERLEAVED, BufferType.DRAM)
    if sharded(a):
        mc = shard_adjusted(a, out_shape)
    if sharded(b):
        if not sharded(a):
            if mc.buffer_type == BufferType.DRAM:
                mc = shard_adjusted(b, out_shape)
        elif b._memory_config.shard_spec.num_cores() > a._memory_config.shard_spec.num_cores():
            mc = shard_adjusted(b, out_shape)
    return mc


# ------------------------------------------------------------------------------------------------
# Allocation
# ------------------------------------------------------------------------------------------------

def allocate(device: Device, shape, dtype: DataType, layout: Layout, memory_config: MemoryConfig):
    """Allocate a device buffer (None while a trace replays: its buffers were allocated at capture)."""
    from .. import trace
    if trace.REPLAYING:
        return None
    alloc = _allocate(device, shape, dtype, layout, memory_config)
    trace.note_allocation(device, alloc)
    return alloc


def _allocate(device: Device, shape, dtype: DataType, layout: Layout, memory_config: MemoryConfig):
    pages, page = buffer_layout(shape, dtype, layout)
    size = pages * page
    mc = memory_config
    alloc = device.memory[mc.buffer_type]
    if mc.is_sharded() and mc.shard_spec is not None:
        check_shard_spec(device, shape, layout, mc)
        cores = mc.shard_spec.num_cores()
        sh, sw = mc.shard_spec.shape
        if layout == Layout.TILE:
            bank_bytes = (-(-sh // 32)) * (-(-sw // 32)) * page
        else:
            from ..types import ELEMENT_BYTES
            bank_bytes = sh * sw * ELEMENT_BYTES[dtype]
        return alloc.allocate(size, bank_bytes, cores)
    num_banks = alloc.num_banks
    if mc.is_sharded():  # sharded without a spec: spread over the grid like the op would
        num_banks = min(num_banks, max(pages, 1))
    per_bank_pages = -(-pages // num_banks)
    aligned_page = -(-page // alloc.alignment) * alloc.alignment   # every page starts at an aligned address
    return alloc.allocate(size, per_bank_pages * aligned_page, num_banks)


def check_shard_spec(device: Device, shape, layout: Layout, mc: MemoryConfig) -> None:
    """Raise, as TT-NN's buffer and tensor-spec checks do, if `mc` cannot hold a tensor of `shape`: the shard grid
    outside the device's compute grid, a TILE shard not made of whole tiles, shards that do not cover the tensor
    viewed as [rows, last dim] (a HEIGHT shard spans the whole width, a WIDTH shard the whole height, BLOCK
    shards tile a rectangle of the grid)."""
    spec = mc.shard_spec
    what = f"{mc.memory_layout.name} memory config with shard shape {list(spec.shape)}"
    grid = device.compute_with_storage_grid_size()
    for r in spec.grid.ranges():
        if r.start.x > r.end.x or r.start.y > r.end.y or r.end.x >= grid.x or r.end.y >= grid.y:
            raise RuntimeError(f"{what}: core range ({r.start.x}, {r.start.y})-({r.end.x}, {r.end.y}) is not within "
                               f"the device's {grid.x}x{grid.y} compute grid")
    sh, sw = (int(v) for v in spec.shape)
    if sh <= 0 or sw <= 0:
        raise RuntimeError(f"{what}: shard dims must be positive")
    if layout == Layout.TILE and (sh % 32 or sw % 32):
        raise RuntimeError(f"{what}: a TILE tensor's shard must be whole 32x32 tiles")
    dims = tuple(int(d) for d in shape) or (1,)
    rows, width = _padded_2d(dims, layout)
    cores = spec.num_cores()
    kind = mc.memory_layout
    if kind == TensorMemoryLayout.HEIGHT_SHARDED:
        ok, need = sw == width and sh * cores >= rows, f"width {width} and {rows} rows over {cores} cores"
    elif kind == TensorMemoryLayout.WIDTH_SHARDED:
        ok, need = sh == rows and sw * cores >= width, f"{rows} rows and width {width} over {cores} cores"
    else:
        box = spec.grid.bounding_box()
        nx, ny = box.end.x - box.start.x + 1, box.end.y - box.start.y + 1
        if spec.orientation != ShardOrientation.ROW_MAJOR:
            nx, ny = ny, nx
        ok = len(spec.grid.ranges()) == 1 and sh * ny >= rows and sw * nx >= width
        need = f"a {rows}x{width} tensor as one {nx}x{ny} rectangle of shards"
    if not ok:
        raise RuntimeError(f"{what} on {cores} cores does not shard a tensor of shape {list(dims)} ({need})")


# ------------------------------------------------------------------------------------------------
# Output values: the packer rule of the output dtype
# ------------------------------------------------------------------------------------------------

def _bfp_with_padding(value: torch.Tensor, pad: Optional[float], dtype: DataType, quantize) -> torch.Tensor:
    """Quantize block floats on the padded tensor: padding shares blocks with the last logical columns."""
    w = value.shape[-1] if value.dim() else 1
    if value.dim() == 0:
        value = value.reshape(1)
    pw = -(-w // 32) * 32
    if pw != w:
        fill = 0.0 if pad is None else pad
        if w % 16 == 0:                   # the padding fills blocks of its own: no logical value sees it
            return quantize(value, dtype)
        native = _bfp_rows_native(value, fill, dtype, quantize)
        if native is not None:
            return native
        value = torch.nn.functional.pad(value, (0, pw - w), value=fill)
    return quantize(value, dtype)[..., :w]


def _bfp_rows_native(value, fill, dtype, quantize):
    """The padded quantization in one native pass (no padded copy) where the kernel has the rule: host
    conversion to bfloat8_b/bfloat4_b, the packer's bfloat8_b; None otherwise."""
    from .. import _native
    if quantize is formats.quantize_bfp_host:
        return _native.quantize_bfp_rows(value, fill, formats._BFP_MANT_BITS[dtype], False)
    if quantize is formats.quantize_bfp_packer and dtype == DataType.BFLOAT8_B:
        return _native.quantize_bfp_rows(value, fill, 7, True, packer=True)
    return None


def round_to(value: torch.Tensor, dtype: DataType, device: Optional[Device], *, rounding: str = "packer",
             pad: Optional[float] = None) -> torch.Tensor:
    """Round computed float32 (or integer) values to what `dtype` stores.

    rounding: "packer" (FPU results), "sfpu" (SFPU results truncated into a 16-bit Dst), "host" (host
    conversion, round to nearest even). The ideal numerics mode rounds every output to nearest even.
    """
    dtype = DataType(dtype)
    if dtype in INT_DTYPES:
        return formats.wrap_int(value, dtype)
    value = value.to(torch.float32)
    if device is not None and device.ideal:
        rounding = "host"
    if dtype == DataType.FLOAT32:
        return value if rounding == "host" else formats.flush_fp32(value)
    if dtype == DataType.BFLOAT16:
        if rounding == "host":
            return formats.round_bf16_rne(value)
        if rounding == "sfpu":
            return formats.truncate_bf16(value)
        return formats.round_bf16_packer(value)
    if dtype in BLOCK_FLOAT_DTYPES:
        q = formats.quantize_bfp_host if rounding == "host" else formats.quantize_bfp_packer
        return _bfp_with_padding(value, pad, dtype, q)
    raise TTNNError(f"unsupported dtype {dtype!r}")


def round_scalar(value: float, dtype: DataType, device: Optional[Device], *, rounding: str = "packer") -> float:
    """`round_to` of one float scalar (e.g. a padding value): float(round_to(tensor([value]), ...)[0]).

    Ops convert the same few padding scalars over and over, so results are remembered, keyed by the exact bits
    of `value` (0.0 and -0.0, NaN payloads stay distinct)."""
    ideal = device is not None and device.ideal
    return _round_scalar(struct.pack("<d", value), DataType(dtype), "host" if ideal else rounding)


@functools.lru_cache(maxsize=4096)
def _round_scalar(bits: bytes, dtype: DataType, rounding: str) -> float:
    value = torch.tensor([struct.unpack("<d", bits)[0]], dtype=torch.float32)
    return float(round_to(value, dtype, None, rounding=rounding)[0])


def make_output(op: str, device: Device, value: torch.Tensor, dtype: DataType, layout: Layout,
                memory_config: Optional[MemoryConfig] = None, *, rounding: str = "packer",
                pad: Optional[float] = None, rounded: bool = False) -> Tensor:
    """Allocate the output buffer on `device` and store `value` rounded to `dtype`."""
    dtype, layout = DataType(dtype), Layout(layout)
    if dtype in BLOCK_FLOAT_DTYPES and layout != Layout.TILE:
        fail(op, "Layout must be Layout::TILE for bfloat8_b or bfloat4_b")
    value, pad = stored(value, dtype, layout, device, rounding=rounding, pad=pad, rounded=rounded)
    mc = out_memory_config(memory_config)
    alloc = allocate(device, value.shape, dtype, layout, mc)
    return Tensor._new(value, dtype, layout, device, mc, alloc, pad)


def stored(value: torch.Tensor, dtype: DataType, layout: Layout, device: Optional[Device], *,
           rounding: str = "packer", pad: Optional[float] = None, rounded: bool = False) -> tuple:
    """(values, tile padding) an output buffer of `dtype` and `layout` holds for computed `value`: make_output
    without the buffer, which is also what a trace replay's kernel writes into a captured output."""
    if not rounded:
        value = round_to(value, dtype, device, rounding=rounding, pad=pad)
    if layout != Layout.TILE:
        return value, None
    if pad is not None and dtype in FLOAT_DTYPES:
        pad = round_scalar(pad, dtype if dtype not in BLOCK_FLOAT_DTYPES else DataType.BFLOAT16, device,
                           rounding=rounding)
    return value, pad


def offer_values_kernel(op: str, compute, tensors: tuple, dtype: DataType, layout: Layout, device: Device, *,
                        rounding: str = "packer") -> None:
    """While a trace replays, offer it (trace.offer_kernel) the kernel of an op whose output is
    `make_output(op, device, compute(*tensors), dtype, layout, rounding=rounding)`: `compute` is the op's
    arithmetic, reading the values of the tensors it is given, with everything the op decided from metadata
    (checks, configs, shapes) already bound; it must hold no tensor itself. None entries of `tensors` stay
    None. The kernel steps aside when a tensor is gone or the device's numerics mode changed."""
    from .. import trace
    if trace.REPLAYING:
        trace.offer_kernel(op, tensors, device,
                           lambda *ts: stored(compute(*ts), dtype, layout, device, rounding=rounding))


def compute_dtype(*tensors: Tensor) -> torch.dtype:
    return torch.float32 if all(t is None or t._dtype in FLOAT_DTYPES for t in tensors) else torch.int64


def values(t: Tensor) -> torch.Tensor:
    """The stored values (float32 for float formats, int64 for integers)."""
    return t._value


def fp32_values(t: Tensor) -> torch.Tensor:
    v = t._value
    return v if v.dtype == torch.float32 else v.to(torch.float32)


def padded_values(t: Tensor, fill: Optional[float] = None) -> torch.Tensor:
    """The tile-padded view a kernel would read: logical values, then the padding (its scalar model)."""
    v = t._value
    if t._layout != Layout.TILE:
        return v
    ps = padded_shape_of(v.shape, t._layout)
    if v.dim() < 2:
        v = v.reshape(1, -1) if v.dim() == 1 else v.reshape(1, 1)
    pad = t._pad if fill is None else fill
    pad = 0.0 if pad is None else pad
    dh, dw = ps[-2] - v.shape[-2], ps[-1] - v.shape[-1]
    if dh or dw:
        v = torch.nn.functional.pad(v, (0, dw, 0, dh), value=pad)
    return v


