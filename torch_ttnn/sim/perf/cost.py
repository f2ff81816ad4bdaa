"""What one op launch costs: tensor descriptors, the call seen by a cost rule, and the roofline.

A cost rule (rules.py) turns a `Call` into an `OpCost`: the cores the op's program uses, the cycles of its
busiest core, the FLOPs it performs and the bytes it moves (DRAM and L1, tile padding and block-float formats
included: a buffer's bytes are what its pages hold). `finish` applies the roofline: the kernel takes the longer
of its compute time and its data-movement time, plus the first-access latency, and the cost says which bound.
"""
from __future__ import annotations

import inspect
import math
from dataclasses import dataclass, field
from typing import Any, Callable, Optional

from ..kernel_config import kernel_config
from ..tensor import buffer_layout
from ..types import BufferType, DataType, Layout, MathFidelity
from .rates import ArchRates, TILE_VALUES


@dataclass(frozen=True)
class TensorDesc:
    """Shape, format and placement of one tensor at the time of the launch."""
    shape: tuple
    dtype: DataType
    layout: Layout
    buffer: str          # "DRAM", "L1" or "HOST"
    sharded: bool
    shard_cores: int     # cores of the shard grid (0 when interleaved)
    nbytes: int          # bytes of the buffer (pages x page size)

    @property
    def volume(self) -> int:
        return math.prod(self.shape) if self.shape else 1

    @property
    def tiles(self) -> int:
        """32x32 tiles of the padded shape (row-major tensors: their volume in tile-sized units)."""
        s = self.shape or (1,)
        if self.layout == Layout.TILE:
            h = -(-s[-2] // 32) if len(s) >= 2 else 1
            w = -(-s[-1] // 32)
            return max(1, math.prod(s[:-2]) * h * w)
        return max(1, -(-self.volume // TILE_VALUES))

    @property
    def rows_of_tiles(self) -> int:
        """Tile rows (everything but the last dim, in tiles): the independent units of a row-wise op."""
        s = self.shape or (1,)
        w = -(-s[-1] // 32)
        return max(1, self.tiles // max(1, w))

    def short(self) -> str:
        dims = "x".join(str(d) for d in self.shape)
        return f"{dims}:{self.dtype.name}:{self.layout.name}:{self.buffer}{'(sh)' if self.sharded else ''}"


def describe(t) -> TensorDesc:
    """The descriptor of a simulated ttnn.Tensor."""
    shape = tuple(t._value.shape) if t._value is not None else ()
    mc = t._memory_config
    if t._device is None:
        buffer, sharded, shard_cores = "HOST", False, 0
    else:
        buffer = "L1" if mc is not None and mc.buffer_type == BufferType.L1 else "DRAM"
        sharded = mc is not None and mc.is_sharded()
        shard_cores = mc.shard_spec.num_cores() if sharded and mc.shard_spec is not None else 0
    pages, page = buffer_layout(shape, t._dtype, t._layout)
    return TensorDesc(shape, t._dtype, t._layout, buffer, sharded, shard_cores, pages * page)


_SIGNATURES: dict[Any, inspect.Signature] = {}


@dataclass
class Call:
    """One launch as a cost rule sees it: the op, its arguments (tensors described before the launch) and the
    descriptors of its outputs."""
    name: str
    fn: Any
    args: tuple
    kwargs: dict
    pre: dict            # id(tensor) -> TensorDesc, taken before the op ran
    ins: list            # descriptors of the tensor arguments, in order
    outs: list           # descriptors of the outputs
    rates: ArchRates
    # L1 bytes a core has free beside the L1 buffers allocated, asked only by the rules that need it (None: all)
    l1_free: Optional[Callable[[], int]] = None
    _bound: Optional[dict] = field(default=None, repr=False)
    # what more than one rule derives from the launch (a convolution's plan: its cost and its circular buffers)
    derived: dict = field(default_factory=dict, repr=False)

    def param(self, name: str, default=None):
        """The value of the op's parameter `name` (bound against the real signature)."""
        if self._bound is None:
            sig = _SIGNATURES.get(self.fn)
            if sig is None:
                sig = _SIGNATURES[self.fn] = inspect.signature(self.fn)
            try:
                self._bound = dict(sig.bind_partial(*self.args, **self.kwargs).arguments)
            except TypeError:
                self._bound = dict(self.kwargs)
        v = self._bound.get(name, default)
        return default if v is None else v

    def tensor(self, name: str) -> Optional[TensorDesc]:
        """The descriptor of the tensor parameter `name`, or None."""
        v = self.param(name)
        return self.pre.get(id(v)) if v is not None else None

    @property
    def out(self) -> TensorDesc:
        return self.outs[0] if self.outs else self.ins[0]

    def grid_cores(self) -> int:
        """Cores the op may use: an explicit core_grid, else the shard grid of a sharded output, else the grid."""
        cg = self.param("core_grid")
        if cg is not None and hasattr(cg, "num_cores"):
            n = cg.num_cores() if callable(cg.num_cores) else cg.num_cores
            return max(1, min(int(n), self.rates.cores))
        o = self.out
        if o.sharded and o.shard_cores:
            return o.shard_cores
        return self.rates.cores

    def cores_for(self, units: int) -> int:
        """Cores used when `units` independent work units (tiles, tile rows) are split over the grid."""
        return max(1, min(self.grid_cores(), int(units)))

    @property
    def l1_space(self) -> int:
        """L1 a core has for an op's circular buffers."""
        return self.rates.l1_core_bytes if self.l1_free is None else self.l1_free()

    def fidelity(self, *dtypes: DataType) -> MathFidelity:
        cfg = self.param("compute_kernel_config") or self.param("compute_config")
        dts = dtypes or tuple(d.dtype for d in self.ins[:2]) or (DataType.BFLOAT16,)
        return kernel_config(cfg, *dts)[0]


@dataclass
class OpCost:
    """The modelled cost of one launch (times in microseconds)."""
    op: str
    cores: int
    compute_cycles: float            # busiest core
    flops: float = 0.0
    dram_bytes: float = 0.0
    l1_bytes: float = 0.0
    noc_bytes_per_core: float = 0.0  # operand delivery to the busiest core (multicast matmul operands)
    fidelity: str = ""
    note: str = ""
    compute_us: float = 0.0
    dram_us: float = 0.0
    l1_us: float = 0.0
    noc_us: float = 0.0
    kernel_us: float = 0.0
    bound: str = ""

    @property
    def memory_us(self) -> float:
        return max(self.dram_us + self.l1_us, self.noc_us)


def bytes_by_buffer(descs) -> tuple[float, float]:
    """(DRAM bytes, L1 bytes) of the device tensors in `descs`."""
    dram = l1 = 0.0
    for d in descs:
        if d.buffer == "DRAM":
            dram += d.nbytes
        elif d.buffer == "L1":
            l1 += d.nbytes
    return dram, l1


def finish(c: OpCost, r: ArchRates, dram_readers: Optional[int] = None) -> OpCost:
    """Apply the roofline to a cost: times from cycles and bytes, the kernel time, the bound.

    DRAM traffic flows at the chip's DRAM rate, or at what the cores that issue it can pull when fewer cores do
    ([DRAM] per-core rate); L1 traffic (interleaved across the grid's L1 or sharded) at one NoC link a core."""
    cores = max(1, c.cores)
    readers = max(1, dram_readers or cores)
    c.compute_us = c.compute_cycles / (r.clock_ghz * 1e3)
    dram_rate = min(r.dram_gb_s, readers * r.core_dram_gb_s) * 1e3        # bytes per us
    c.dram_us = c.dram_bytes / dram_rate if c.dram_bytes else 0.0
    c.l1_us = c.l1_bytes / (cores * r.noc_gb_s * 1e3) if c.l1_bytes else 0.0
    c.noc_us = c.noc_bytes_per_core / (r.noc_gb_s * 1e3) if c.noc_bytes_per_core else 0.0
    latency = r.dram_latency_cycles / (r.clock_ghz * 1e3) if c.dram_bytes else 0.0
    mem = c.memory_us
    c.kernel_us = max(c.compute_us, mem) + latency
    if c.compute_us >= mem:
        c.bound = "compute"
    elif c.noc_us > c.dram_us + c.l1_us:
        c.bound = "noc"
    else:
        c.bound = "dram" if c.dram_us >= c.l1_us else "l1"
    return c


# --- the registry of cost rules (perf/rules.py registers one per op) ------------------------------------

Rule = Callable[[Call], OpCost]
RULES: dict = {}
# op name -> the L1 bytes a core needs for the launch's circular buffers (perf/circular_buffers.py registers)
CB_RULES: dict = {}


def cb_need(c: Call) -> Optional[int]:
    """Bytes of L1 a core needs for this launch beside the buffers allocated (None: not modelled)."""
    fn = CB_RULES.get(c.name)
    return None if fn is None else int(fn(c))

# Ops that run no device program: host conversions and transfers (timed as transfers by the profiler),
# metadata-only views, allocation, host-side weight preparation.
NO_PROGRAM = frozenset({
    "from_torch", "to_torch", "to_device", "from_device", "deallocate", "to_dtype", "view", "narrow", "empty",
    "empty_like", "prepare_conv_weights", "prepare_conv_bias", "prepare_conv_transpose2d_weights",
    "prepare_conv_transpose2d_bias", "get_conv_output_dim", "full", "zeros", "ones", "arange",
    "copy_host_to_device_tensor", "copy_device_to_host_tensor",
})
# Ops registered uncounted that run a program only in some cases (they report it with _op.launched): a reshape
# that changes tiles, a fill of a device tensor. They have cost rules for those launches.
CONDITIONAL = frozenset({"reshape", "squeeze", "unsqueeze", "unsqueeze_to_4D", "full_like", "zeros_like",
                         "ones_like"})
