"""Simulated mesh devices: several chips driven as one, with the distributed API of real ttnn 0.81.1.

A `MeshDevice` holds one simulated `Device` per chip (its own DRAM/L1 allocators, counters and profiler), laid
out as a 2-D mesh (`MeshShape(rows, cols)`, chips numbered row-major). A tensor on a mesh (`MeshTensor`, a
`ttnn.Tensor`) holds one shard per chip; every op given mesh tensors runs once per chip on that chip's shards
(`per_chip`, called by the op registry), so its launches, memory and modelled time are counted per chip. The
collectives that move data between chips are in ops/ccl.py.

Distribution follows the real mappers and composers: `ReplicateTensorToMesh`, `ShardTensorToMesh(dim)` (over
the chips in row-major order), `ShardTensor2dMesh(mesh_shape, dims)` and `create_mesh_mapper(MeshMapperConfig(
[placement per mesh axis]))`; `ConcatMeshToTensor(dim)`, `ConcatMesh2dToTensor(mesh_shape, dims)`,
`create_mesh_composer(MeshComposerConfig(dims))`. `ttnn.from_torch(x, mesh_mapper=..., device=mesh)` splits
on the host and uploads each piece to its chip; `ttnn.to_torch(t, mesh_composer=...)` reads every shard back and
joins them. A shard split must be even (the simulator refuses an uneven split rather than guess the real
padding rule), and reading a mesh tensor without a composer raises.

The simulated system: `TT_SIM_MESH` (or `open_mesh_device(..., system=...)`, simulator-only) names it:
"n150" (1x1), "n300" (1x2), "t3000"/"quietbox" (2x4), "galaxy" (8x4), "p150x4" (1x4), "p150x8" (2x4), or
"RxC" with the chip of TT_SIM_ARCH. `open_mesh_device(mesh_shape)` opens a mesh of at most the system's chips.
"""
from __future__ import annotations

import collections
import contextlib
import math
import os
import weakref
from dataclasses import dataclass
from typing import Optional

import torch

from .device import CounterTotals, Device
from .coords import MeshCoordinate, MeshShape
from .tensor import Tensor

ENV_VAR = "TT_SIM_MESH"


@dataclass(frozen=True)
class SystemPreset:
    rows: int
    cols: int
    chip: Optional[str]        # arch preset of every chip (None: TT_SIM_ARCH / the default)
    topology: str              # what the Ethernet links form along each axis: "line" or "ring"
    chips_per_link: int = 1    # chips whose host transfers share one PCIe link (consecutive in row-major order)


# Host links: an n300 card has one PCIe link for its two chips (the second is reached over Ethernet through
# the first); a T3000/QuietBox is four n300 cards; each p150 card has its own link. How a Galaxy's 32 chips
# reach the host is not in our sources: modelled as one link per 8 chips (an assumption).
SYSTEMS = {
    "n150": SystemPreset(1, 1, "wormhole_n150", "line"),
    "n300": SystemPreset(1, 2, "wormhole_n300", "line", chips_per_link=2),
    "t3000": SystemPreset(2, 4, "wormhole_n300", "line", chips_per_link=2),
    "quietbox": SystemPreset(2, 4, "wormhole_n300", "line", chips_per_link=2),
    "galaxy": SystemPreset(8, 4, "wormhole_n150", "ring", chips_per_link=8),
    "p150x4": SystemPreset(1, 4, "blackhole_p150", "line"),
    "p150x8": SystemPreset(2, 4, "blackhole_p150", "line"),
}


def system_preset(name: Optional[str] = None) -> SystemPreset:
    """The simulated system called `name`, else $TT_SIM_MESH, else one n150 chip."""
    name = name or os.environ.get(ENV_VAR) or "n150"
    key = str(name).strip().lower()
    if key in SYSTEMS:
        return SYSTEMS[key]
    parts = key.split("x")
    if len(parts) == 2 and all(p.isdigit() and int(p) > 0 for p in parts):
        return SystemPreset(int(parts[0]), int(parts[1]), None, "line")
    raise ValueError(f"unknown simulated system {name!r}: use one of {sorted(SYSTEMS)} or 'RxC' (e.g. '2x4')")


# ------------------------------------------------------------------------------------------------
# Shapes and coordinates
# ------------------------------------------------------------------------------------------------

# ------------------------------------------------------------------------------------------------
# The mesh device
# ------------------------------------------------------------------------------------------------

class _MeshCounters(CounterTotals):
    """The counters of every chip, summed (reset() resets each chip)."""

    def __init__(self, chips):
        self._chips = chips

    def _sum(self, field: str) -> int:
        return sum(getattr(c.counters, field) for c in self._chips)

    to_device = property(lambda self: self._sum("to_device"))
    to_device_bytes = property(lambda self: self._sum("to_device_bytes"))
    from_device = property(lambda self: self._sum("from_device"))
    from_device_bytes = property(lambda self: self._sum("from_device_bytes"))

    @property
    def op_launches(self) -> collections.Counter:
        total = collections.Counter()
        for c in self._chips:
            total.update(c.counters.op_launches)
        return total

    def reset(self) -> None:
        for c in self._chips:
            c.counters.reset()


class MeshDevice:
    """A simulated mesh of chips (real ttnn.MeshDevice API; simulator extras: `chips`, `counters` summed over the
    chips, `memory_stats()` per chip, `modelled_us()`)."""

    is_simulated = True
    is_mesh = True

    def __init__(self, shape: MeshShape, chips: list, system: SystemPreset, *, parent=None, offset=(0, 0),
                 mesh_id: int = 0):
        if shape.dims() != 2:
            raise ValueError(f"the simulator models 2-D meshes; got {shape!r}")
        self._shape = shape
        self.chips = chips                   # row-major
        self.system = system
        self.parent = parent
        self.offset = tuple(offset)
        self._id = mesh_id
        self._submeshes: list = []
        self.is_open = True
        _MESHES.add(self)

    # --- real MeshDevice API --------------------------------------------------------------------
    @property
    def shape(self) -> MeshShape:
        return self._shape

    def get_num_devices(self) -> int:
        return len(self.chips)

    def get_device_ids(self) -> list:
        return [c.device_id for c in self.chips]

    def get_device_id(self, coord) -> int:
        r, c = self._coord(coord)
        return self.chips[r * self._shape[1] + c].device_id

    def id(self) -> int:
        return self._id

    def arch(self):
        return self.chips[0].arch()

    @property
    def num_command_queues(self) -> int:
        return self.chips[0].num_command_queues

    def queue(self, cq_id, what: str) -> int:
        return self.chips[0].queue(cq_id, what)

    def compute_with_storage_grid_size(self):
        return self.chips[0].compute_with_storage_grid_size()

    def dram_grid_size(self):
        return self.chips[0].dram_grid_size()

    @property
    def core_grid(self):
        return self.chips[0].core_grid

    def enable_program_cache(self) -> None:
        for c in self.chips:
            c.enable_program_cache()

    def disable_and_clear_program_cache(self) -> None:
        for c in self.chips:
            c.disable_and_clear_program_cache()

    def clear_program_cache(self) -> None:
        for c in self.chips:
            c.clear_program_cache()

    def num_program_cache_entries(self) -> int:
        return 0

    def create_submesh(self, submesh_shape, offset=None) -> "MeshDevice":
        shape = submesh_shape if isinstance(submesh_shape, MeshShape) else MeshShape(submesh_shape)
        r0, c0 = self._coord(offset) if offset is not None else (0, 0)
        R, C = self._shape
        if shape.dims() != 2 or r0 + shape[0] > R or c0 + shape[1] > C:
            raise ValueError(f"create_submesh: {shape!r} at offset ({r0}, {c0}) does not fit in {self._shape!r}")
        chips = [self.chips[(r0 + r) * C + c0 + c] for r in range(shape[0]) for c in range(shape[1])]
        sub = MeshDevice(shape, chips, self.system, parent=self, offset=(r0, c0), mesh_id=self._id + 1 +
                         len(self._submeshes))
        self._submeshes.append(sub)
        return sub

    def create_submeshes(self, submesh_shape) -> list:
        shape = submesh_shape if isinstance(submesh_shape, MeshShape) else MeshShape(submesh_shape)
        R, C = self._shape
        if shape.dims() != 2 or R % shape[0] or C % shape[1]:
            raise ValueError(f"create_submeshes: {shape!r} does not tile {self._shape!r}")
        return [self.create_submesh(shape, MeshCoordinate(r, c))
                for r in range(0, R, shape[0]) for c in range(0, C, shape[1])]

    def get_submeshes(self) -> list:
        return list(self._submeshes)

    def __repr__(self) -> str:
        return f"MeshDevice({self._shape[0]}x{self._shape[1]} simulated {self.chips[0].preset.name} chips)"

    # --- simulator extras -----------------------------------------------------------------------
    @property
    def counters(self) -> _MeshCounters:
        return _MeshCounters(self.chips)

    @property
    def preset(self):
        return self.chips[0].preset

    @property
    def numerics(self) -> str:
        return self.chips[0].numerics

    @numerics.setter
    def numerics(self, mode: str) -> None:
        for c in self.chips:
            c.numerics = mode

    @property
    def ideal(self) -> bool:
        return self.chips[0].ideal

    def memory_stats(self) -> list:
        """memory_stats() of every chip, row-major."""
        return [c.memory_stats() for c in self.chips]

    def reset_peak_memory(self) -> None:
        for c in self.chips:
            c.reset_peak_memory()

    def modelled_us(self) -> float:
        """Modelled time (no trace) when every chip has finished what was enqueued: the slowest chip."""
        return max(c.profiler.now_us for c in self.chips)

    def check_open(self, what: str) -> None:
        if not self.is_open:
            from .errors import TTNNError
            raise TTNNError(f"{what}: the mesh device is closed")

    def groups(self, cluster_axis: Optional[int]) -> list:
        """Chip indices of the independent groups a collective runs over: the whole mesh (row-major) when
        cluster_axis is None, the columns for axis 0, the rows for axis 1."""
        R, C = self._shape
        if cluster_axis is None:
            return [list(range(R * C))]
        if cluster_axis not in (0, 1):
            raise ValueError(f"cluster_axis must be 0, 1 or None on a 2-D mesh, got {cluster_axis}")
        if cluster_axis == 0:
            return [[r * C + c for r in range(R)] for c in range(C)]
        return [[r * C + c for c in range(C)] for r in range(R)]

    def _coord(self, coord) -> tuple:
        cs = tuple(coord) if not isinstance(coord, MeshCoordinate) else coord.coords()
        if len(cs) != 2 or not (0 <= cs[0] < self._shape[0] and 0 <= cs[1] < self._shape[1]):
            raise ValueError(f"mesh coordinate {list(cs)} is outside {self._shape!r}")
        return cs


_MESHES: "weakref.WeakSet[MeshDevice]" = weakref.WeakSet()
_OPEN_MESHES = 0       # meshes open now: the op registry looks for mesh arguments only while one is


def any_open() -> bool:
    return _OPEN_MESHES > 0


def open_mesh_device(mesh_shape=None, l1_small_size=0, trace_region_size=0, num_command_queues=1,
                     dispatch_core_config=None, offset=None, physical_device_ids=[], worker_l1_size=0,  # noqa: B006
                     *, system: Optional[str] = None, numerics: Optional[str] = None) -> MeshDevice:
    """Open a mesh of simulated chips (real signature; `system` and `numerics` are simulator-only)."""
    global _OPEN_MESHES
    sysp = system_preset(system)
    shape = mesh_shape if mesh_shape is not None else MeshShape(sysp.rows, sysp.cols)
    if not isinstance(shape, MeshShape):
        shape = MeshShape(shape)
    if shape.dims() == 1:
        shape = MeshShape(1, shape[0])
    if shape.dims() != 2:
        raise ValueError(f"open_mesh_device: the simulator models 2-D meshes, got {shape!r}")
    r0, c0 = (offset.coords() if isinstance(offset, MeshCoordinate) else tuple(offset)) if offset else (0, 0)
    fits = (r0 + shape[0] <= sysp.rows and c0 + shape[1] <= sysp.cols) or \
        (r0 == c0 == 0 and shape.mesh_size() <= sysp.rows * sysp.cols and 1 in (shape[0], shape[1]))
    if not fits:
        raise ValueError(f"open_mesh_device: {shape!r} does not fit the simulated system of "
                         f"{sysp.rows}x{sysp.cols} chips (choose one with TT_SIM_MESH, e.g. TT_SIM_MESH=t3000 "
                         f"for 2x4, galaxy for 8x4, or open_mesh_device(..., system='2x4'))")
    chips = [Device(i, preset=sysp.chip, l1_small_size=l1_small_size, trace_region_size=trace_region_size,
                    numerics=numerics, num_command_queues=num_command_queues) for i in range(shape.mesh_size())]
    _OPEN_MESHES += 1
    return MeshDevice(shape, chips, sysp)


def close_mesh_device(mesh_device) -> None:
    global _OPEN_MESHES
    if not isinstance(mesh_device, MeshDevice) or mesh_device.parent is not None:
        return
    if mesh_device.is_open:
        mesh_device.is_open = False
        for c in mesh_device.chips:
            c.is_open = False
        _OPEN_MESHES -= 1


@contextlib.contextmanager
def create_mesh_device(*args, **kwargs):
    mesh = open_mesh_device(*args, **kwargs)
    try:
        yield mesh
    finally:
        close_mesh_device(mesh)


def get_num_devices() -> list:
    """The number of chips of the simulated system ($TT_SIM_MESH; real ttnn: the chips on this host)."""
    s = system_preset()
    return s.rows * s.cols


def get_device_ids() -> list:
    return list(range(get_num_devices()))


# ------------------------------------------------------------------------------------------------
# Mesh tensors
# ------------------------------------------------------------------------------------------------

class MeshTensor(Tensor):
    """A tensor distributed over the chips of a mesh (or, on the host, a multi-device host tensor): one shard
    per chip, row-major. Its shape, dtype and layout are those of a shard, as in real ttnn."""

    __slots__ = ("_shards", "_mesh")

    @classmethod
    def of(cls, shards: list, mesh: MeshDevice, on_device: bool) -> "MeshTensor":
        s0 = shards[0]
        for i, s in enumerate(shards[1:], 1):
            if s._dtype != s0._dtype or s._layout != s0._layout:
                raise ValueError(f"mesh tensor shards differ: chip {i} holds {s._dtype.name} {s._layout.name}, "
                                 f"chip 0 {s0._dtype.name} {s0._layout.name}")
        t = cls._new(s0._value, s0._dtype, s0._layout, mesh if on_device else None, s0._memory_config, None,
                     s0._pad)
        t._shards = list(shards)
        t._mesh = mesh
        return t

    def is_allocated(self) -> bool:
        return all(s.is_allocated() for s in self._shards)

    def _buffer_size(self) -> int:
        return self._shards[0]._buffer_size()

    def device_coords(self) -> list:
        """One coordinate per chip holding a shard, row-major (as the wheel)."""
        if self._device is None:
            self._device_buffer("device_coords")
        cols = self._mesh.shape[1]
        return [MeshCoordinate(i // cols, i % cols) for i in range(len(self._shards))]

    def devices(self) -> list:
        return [] if self._device is None else [self._mesh]

    def buffer_address(self) -> int:
        from .errors import TTNNError
        raise TTNNError("Tensor.buffer_address: the tensor must be on a single device (this one spans "
                        f"{len(self._shards)} chips; use ttnn.get_device_tensors)")

    def __repr__(self) -> str:
        where = "host" if self._device is None else repr(self._mesh)
        return (f"ttnn.Tensor(shape={list(self.shape)}, dtype={self._dtype.name}, layout={self._layout.name}, "
                f"{where}, {len(self._shards)} shards)")


def get_device_tensors(tensor) -> list:
    """The per-chip shards of a mesh tensor (a single-device tensor: [tensor])."""
    return list(tensor._shards) if isinstance(tensor, MeshTensor) else [tensor]


def combine_device_tensors(*, tensors) -> MeshTensor:
    tensors = list(tensors)
    if not tensors or any(not isinstance(t, Tensor) or t._device is None for t in tensors):
        raise ValueError("combine_device_tensors: needs device tensors, one per chip of a mesh")
    mesh = _mesh_of_chips([t._device for t in tensors])
    return MeshTensor.of(tensors, mesh, True)


def _mesh_of_chips(chips) -> MeshDevice:
    for m in list(_MESHES):
        if len(m.chips) == len(chips) and all(a is b for a, b in zip(m.chips, chips)):
            return m
    raise ValueError("combine_device_tensors: the tensors are not on the chips of one open mesh, in order")


# ------------------------------------------------------------------------------------------------
# Running an op on every chip
# ------------------------------------------------------------------------------------------------

def mesh_of(args, kwargs) -> Optional[MeshDevice]:
    """The mesh an op call involves (a mesh tensor or a MeshDevice among its arguments), else None."""
    found = None
    todo = list(args) + list(kwargs.values())
    while todo:
        v = todo.pop()
        m = None
        if isinstance(v, MeshTensor):
            m = v._mesh
        elif isinstance(v, MeshDevice):
            m = v
        elif isinstance(v, (list, tuple)):
            todo.extend(v)
            continue
        if m is not None:
            if found is not None and m is not found and m.chips != found.chips:
                raise ValueError(f"an op's operands are on two different meshes: {found!r} and {m!r}")
            found = found or m
    return found


def _on_chip(v, i: int, mesh: MeshDevice):
    if isinstance(v, MeshTensor):
        if len(v._shards) != len(mesh.chips):
            raise ValueError(f"a tensor of {len(v._shards)} shards used on a mesh of {len(mesh.chips)} chips")
        return v._shards[i]
    if isinstance(v, MeshDevice):
        return mesh.chips[i]
    if isinstance(v, Tensor) and isinstance(v._device, Device):
        raise ValueError(f"an op mixes tensors on {mesh!r} with a tensor on the single device "
                         f"{v._device.device_id}: distribute it first (ttnn.from_torch(..., mesh_mapper=...))")
    if isinstance(v, list):
        return [_on_chip(x, i, mesh) for x in v]
    if isinstance(v, tuple):
        return tuple(_on_chip(x, i, mesh) for x in v)
    return v


def _gather(outs: list, mesh: MeshDevice):
    first = outs[0]
    if isinstance(first, Tensor):
        return MeshTensor.of(outs, mesh, first._device is not None)
    if isinstance(first, (list, tuple)):
        return type(first)(_gather([o[k] for o in outs], mesh) for k in range(len(first)))
    return first


# Ops that move data between the host and the chips: the one host does them one chip after another.
HOST_TRANSFERS = frozenset({"from_torch", "to_torch", "to_device", "from_device", "copy_host_to_device_tensor",
                            "copy_device_to_host_tensor"})


def on_chips(mesh: MeshDevice, run, *, transfer: bool) -> list:
    """`run(i)` for every chip, on the mesh's one host clock. A program launch is enqueued once for the whole
    mesh (TT-Metal's mesh workloads: one host dispatch, every chip runs it), so every chip sees it enqueued
    after one dispatch. Host<->device transfers of chips that share a PCIe link (SystemPreset.chips_per_link)
    go one after another; different links work in parallel. Each chip keeps its own device clock."""
    profs = [c.profiler for c in mesh.chips]
    base = max(p.host_us for p in profs)
    per_link = max(1, mesh.system.chips_per_link)
    link_free: dict = {}
    outs = []
    for i, p in enumerate(profs):
        link = i // per_link
        p.host_us = link_free.get(link, base) if transfer else base
        outs.append(run(i))
        if transfer:
            link_free[link] = p.host_us
    end = max(p.host_us for p in profs)
    for p in profs:
        p.host_us = end
    return outs


def per_chip(op, mesh: MeshDevice, args: tuple, kwargs: dict):
    """Run `op` on every chip of `mesh` with that chip's shards and device; the outputs become mesh tensors."""
    mesh.check_open(f"ttnn.{op.name}")

    def run(i):
        a = tuple(_on_chip(v, i, mesh) for v in args)
        k = {n: _on_chip(v, i, mesh) for n, v in kwargs.items()}
        return op(*a, **k)

    return _gather(on_chips(mesh, run, transfer=op.name in HOST_TRANSFERS), mesh)


# ------------------------------------------------------------------------------------------------
# Mappers and composers
# ------------------------------------------------------------------------------------------------

class PlacementReplicate:
    def __repr__(self) -> str:
        return "PlacementReplicate()"

    def __eq__(self, other) -> bool:
        return isinstance(other, PlacementReplicate)


class PlacementShard:
    def __init__(self, arg: int):
        self._dim = int(arg)

    @property
    def dim(self) -> int:
        return self._dim

    def __repr__(self) -> str:
        return f"PlacementShard({self._dim})"

    def __eq__(self, other) -> bool:
        return isinstance(other, PlacementShard) and other._dim == self._dim


class MeshMapperConfig:
    """Placements, one per mesh axis (real constructors: (placements, mesh_shape_override=None,
    mesh_offset_override=MeshCoordinate([])) or (row_dim=None, col_dim=None, ...))."""

    def __init__(self, *args, **kwargs):
        first = args[0] if args else kwargs.get("placements", kwargs.get("row_dim"))
        if isinstance(first, (list, tuple)):
            names = ("placements", "mesh_shape_override", "mesh_offset_override")
            kw = dict(zip(names, args), **kwargs)
            placements = list(kw["placements"])
        else:
            names = ("row_dim", "col_dim", "mesh_shape_override", "mesh_offset_override")
            kw = dict(zip(names, args), **kwargs)
            placements = [PlacementReplicate() if kw.get(d) is None else PlacementShard(kw[d])
                          for d in ("row_dim", "col_dim")]
        for p in placements:
            if not isinstance(p, (PlacementReplicate, PlacementShard)):
                raise TypeError(f"MeshMapperConfig: placements must be PlacementReplicate or PlacementShard, "
                                f"got {type(p).__name__}")
        self._placements = placements
        self.mesh_shape_override = kw.get("mesh_shape_override")

    @property
    def placements(self) -> list:
        return list(self._placements)


class MeshComposerConfig:
    """Concatenation dims, one per mesh axis (real constructors: (dims, mesh_shape_override=None, ...) or
    (row_dim, col_dim, ...))."""

    def __init__(self, *args, **kwargs):
        first = args[0] if args else kwargs.get("dims", kwargs.get("row_dim"))
        if isinstance(first, (list, tuple)):
            kw = dict(zip(("dims", "mesh_shape_override", "mesh_offset_override"), args), **kwargs)
            self.dims = [int(d) for d in kw["dims"]]
        else:
            kw = dict(zip(("row_dim", "col_dim", "mesh_shape_override", "mesh_offset_override"), args), **kwargs)
            self.dims = [int(kw["row_dim"]), int(kw["col_dim"])]
        self.mesh_shape_override = kw.get("mesh_shape_override")


def _distribution_shape(mesh: MeshDevice, override, n_axes: int) -> tuple:
    if override is not None:
        shape = tuple(override)
    elif n_axes == 1:
        shape = (mesh.get_num_devices(),)
    else:
        shape = tuple(mesh.shape)
    if math.prod(shape) != mesh.get_num_devices():
        raise ValueError(f"mesh mapper: a distribution over {list(shape)} does not match the "
                         f"{mesh.get_num_devices()} chips of {mesh!r}")
    if len(shape) != n_axes:
        raise ValueError(f"mesh mapper: {n_axes} placements for a distribution of rank {len(shape)}")
    return shape


def _split(x: torch.Tensor, dim: int, n: int, what: str) -> list:
    d = dim if dim >= 0 else dim + x.dim()
    if not 0 <= d < x.dim():
        raise ValueError(f"{what}: dim {dim} is out of range for a tensor of rank {x.dim()}")
    if x.shape[d] % n:
        raise ValueError(f"{what}: dim {dim} of size {x.shape[d]} does not split evenly over {n} chips")
    return list(torch.chunk(x, n, dim=d))


class CppTensorToMesh:
    """A mapper: how a host tensor is split or replicated over a mesh."""

    def __init__(self, mesh: MeshDevice, config: MeshMapperConfig):
        self.mesh = mesh
        self._config = config
        self.shape = _distribution_shape(mesh, config.mesh_shape_override, len(config.placements))

    def config(self) -> MeshMapperConfig:
        return self._config

    def map(self, x: torch.Tensor) -> list:
        """The pieces of `x`, one per chip, row-major."""
        pieces = [x]
        for axis, (p, n) in enumerate(zip(self._config.placements, self.shape)):
            nxt = []
            for piece in pieces:
                if isinstance(p, PlacementShard):
                    nxt.extend(_split(piece, p.dim, n, f"mesh mapper (mesh axis {axis})"))
                else:
                    nxt.extend([piece] * n)
            pieces = nxt
        return pieces


class ReplicateTensorToMeshWrapper:
    def __init__(self, mapper: CppTensorToMesh):
        self._mapper = mapper

    def unwrap(self) -> CppTensorToMesh:
        return self._mapper


class CppMeshToTensor:
    """A composer: how the shards of a mesh tensor are joined on the host."""

    def __init__(self, mesh: MeshDevice, config: MeshComposerConfig):
        self.mesh = mesh
        self.config = config
        self.shape = _distribution_shape(mesh, config.mesh_shape_override, len(config.dims))

    def compose(self, pieces: list) -> torch.Tensor:
        for dim, n in reversed(list(zip(self.config.dims, self.shape))):
            pieces = [torch.cat(pieces[i:i + n], dim=dim) for i in range(0, len(pieces), n)]
        (out,) = pieces
        return out


MeshToTensor = CppMeshToTensor
TensorToMesh = CppTensorToMesh


def _mesh_arg(mesh_device, what: str) -> MeshDevice:
    if isinstance(mesh_device, MeshShape):
        raise TypeError(f"{what}: the simulator needs the MeshDevice, not a MeshShape")
    if not isinstance(mesh_device, MeshDevice):
        raise TypeError(f"{what}: mesh_device must be a ttnn.MeshDevice (ttnn.open_mesh_device), "
                        f"got {type(mesh_device).__name__}")
    return mesh_device


def create_mesh_mapper(mesh_device, config) -> CppTensorToMesh:
    return CppTensorToMesh(_mesh_arg(mesh_device, "create_mesh_mapper"), config)


def create_mesh_composer(mesh_device, config) -> CppMeshToTensor:
    return CppMeshToTensor(_mesh_arg(mesh_device, "create_mesh_composer"), config)


def replicate_tensor_to_mesh_mapper(mesh_device) -> CppTensorToMesh:
    return create_mesh_mapper(mesh_device, MeshMapperConfig([PlacementReplicate()]))


def shard_tensor_to_mesh_mapper(mesh_device, dim: int) -> CppTensorToMesh:
    return create_mesh_mapper(mesh_device, MeshMapperConfig([PlacementShard(dim)]))


def concat_mesh_to_tensor_composer(mesh_device, dim: int) -> CppMeshToTensor:
    return create_mesh_composer(mesh_device, MeshComposerConfig([dim]))


def ReplicateTensorToMesh(mesh_device) -> ReplicateTensorToMeshWrapper:  # noqa: N802 (real name)
    return ReplicateTensorToMeshWrapper(replicate_tensor_to_mesh_mapper(mesh_device))


def ShardTensorToMesh(mesh_device, dim: int) -> CppTensorToMesh:  # noqa: N802
    return shard_tensor_to_mesh_mapper(mesh_device, dim)


def ConcatMeshToTensor(mesh_device, dim: int) -> CppMeshToTensor:  # noqa: N802
    return concat_mesh_to_tensor_composer(mesh_device, dim)


def ShardTensor2dMesh(mesh_device, mesh_shape, dims) -> CppTensorToMesh:  # noqa: N802
    placements = [PlacementReplicate() if d is None else PlacementShard(d) for d in dims]
    return create_mesh_mapper(mesh_device, MeshMapperConfig(placements, MeshShape(mesh_shape[0], mesh_shape[1])))


def ConcatMesh2dToTensor(mesh_device, mesh_shape, dims) -> CppMeshToTensor:  # noqa: N802
    return create_mesh_composer(mesh_device, MeshComposerConfig([dims[0], dims[1]],
                                                                MeshShape(mesh_shape[0], mesh_shape[1])))


def unwrap_mapper(mapper) -> CppTensorToMesh:
    m = mapper.unwrap() if isinstance(mapper, ReplicateTensorToMeshWrapper) else mapper
    if not isinstance(m, CppTensorToMesh):
        raise TypeError(f"mesh_mapper must come from ttnn.ShardTensorToMesh / ReplicateTensorToMesh / "
                        f"create_mesh_mapper, got {type(mapper).__name__}")
    return m
