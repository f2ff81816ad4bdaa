"""Collectives: the ops that move data between the chips of a mesh (real ttnn 0.81.1 signatures).

Groups: with `cluster_axis=None` a collective runs over every chip of the mesh (row-major order); with
cluster_axis 0 each column of the mesh is an independent group, with 1 each row (the real rule: "each of the
non-cluster_axis dimensions perform independent" collectives).

Numerics (the real docstrings): reductions (all_reduce, reduce_scatter) add in bfloat16 (bfloat8_b inputs are
up-cast to bfloat16 and cast back; float32 has its own fp32 path), one chip's contribution after another in the
group's order, each partial sum rounded by the packer; data-movement collectives copy values unchanged.
Integer tensors are refused (the documented dtypes are BFLOAT16, BFLOAT8_B, FLOAT32).

Modelled time: perf/rules.py (`_ccl`), from Tenstorrent's published fits of the CCL tech report.
"""
from __future__ import annotations

import torch

from .._op import ttnn_op
from ..mesh import MeshDevice, MeshTensor
from ..tensor import Tensor
from ..types import BLOCK_FLOAT_DTYPES, DataType, Topology
from ._common import fail, make_output, out_memory_config, require_tensor, round_to

_CCL_DTYPES = (DataType.BFLOAT16, DataType.BFLOAT8_B, DataType.FLOAT32)


def _mesh_input(op: str, t, *, dtypes=_CCL_DTYPES) -> MeshDevice:
    require_tensor(op, "input_tensor", t)
    if not isinstance(t, MeshTensor) or t._device is None:
        where = "the host" if t._device is None else f"the single device {getattr(t._device, 'device_id', '?')}"
        fail(op, f"input_tensor must be distributed on a mesh device (ttnn.from_torch(..., device=mesh_device, "
                 f"mesh_mapper=...)); it is on {where}")
    mesh = t._mesh
    mesh.check_open(f"ttnn.{op}")
    if dtypes is not None and t._dtype not in dtypes:
        fail(op, f"input_tensor dtype {t._dtype.name} is not supported (supported: "
                 f"{', '.join(d.name for d in dtypes)})")
    shapes = {tuple(s._value.shape) for s in t._shards}
    if len(shapes) != 1:
        fail(op, f"the shards of input_tensor have different shapes {sorted(shapes)}")
    return mesh


def _dim(op: str, t: Tensor, dim: int) -> int:
    rank = t._value.dim()
    d = dim + rank if dim < 0 else dim
    if not 0 <= d < rank:
        fail(op, f"dim {dim} is out of range for a tensor of rank {rank}")
    return d


def _groups(op: str, mesh: MeshDevice, cluster_axis) -> list:
    try:
        return mesh.groups(cluster_axis)
    except ValueError as e:
        fail(op, str(e))


def _split_groups(op: str, mesh: MeshDevice, cluster_axis, t: Tensor, dim: int, d: int) -> list:
    """The groups of an op that splits dim `d` over the chips of each group, refusing an uneven split."""
    groups = _groups(op, mesh, cluster_axis)
    n, size = len(groups[0]), t._value.shape[d]
    if size % n:
        fail(op, f"dim {dim} of size {size} does not split evenly over the {n} chips of a group")
    return groups


def _out(op: str, shard: Tensor, value: torch.Tensor, memory_config, dtype=None) -> Tensor:
    mc = out_memory_config(memory_config, like=shard)
    return make_output(op, shard._device, value, dtype or shard._dtype, shard._layout, mc)


def _reduce(shards: list, dtype: DataType, device) -> torch.Tensor:
    """Sum of the group's shards, chip after chip, every partial sum rounded as the reduction's format."""
    acc_dtype = DataType.FLOAT32 if dtype == DataType.FLOAT32 else DataType.BFLOAT16
    acc = shards[0]._value.to(torch.float32)
    if dtype in BLOCK_FLOAT_DTYPES:
        acc = round_to(acc, acc_dtype, device)
    for s in shards[1:]:
        acc = round_to(acc + s._value.to(torch.float32), acc_dtype, device)
    return acc


def _written(op: str, out: MeshTensor, output_tensor):
    """Copy a collective's result into a preallocated output_tensor of the same spec."""
    if output_tensor is None:
        return out
    if not isinstance(output_tensor, MeshTensor) or output_tensor._mesh.chips != out._mesh.chips:
        fail(op, "output_tensor must be a tensor on the same mesh")
    for dst, src in zip(output_tensor._shards, out._shards):
        if tuple(dst._value.shape) != tuple(src._value.shape) or dst._dtype != src._dtype \
                or dst._layout != src._layout:
            fail(op, f"output_tensor is {list(dst._value.shape)} {dst._dtype.name} {dst._layout.name}, the "
                     f"result {list(src._value.shape)} {src._dtype.name} {src._layout.name}")
        dst._check_alive(f"ttnn.{op}: output_tensor")
        dst._value = src._value
    return output_tensor


@ttnn_op("all_gather", mesh_native=True)
def all_gather(input_tensor, dim, *, cluster_axis=None, memory_config=None, output_tensor=None, subdevice_id=None,
               sub_core_grids=None, num_links=None, topology=None, chunks_per_sync=None, num_workers_per_link=None,
               num_buffers_per_channel=None, use_l1_small_for_semaphores=False):
    """Every chip of a group gets the group's shards concatenated along `dim`."""
    mesh = _mesh_input("all_gather", input_tensor, dtypes=None)
    d = _dim("all_gather", input_tensor, dim)
    shards = input_tensor._shards
    outs = [None] * len(shards)
    for group in _groups("all_gather", mesh, cluster_axis):
        full = torch.cat([shards[i]._value for i in group], dim=d)
        for i in group:
            outs[i] = _out("all_gather", shards[i], full, memory_config)
    return _written("all_gather", MeshTensor.of(outs, mesh, True), output_tensor)


@ttnn_op("reduce_scatter", mesh_native=True)
def reduce_scatter(input_tensor, dim, *, cluster_axis=None, subdevice_id=None, memory_config=None,
                   intermediate_memory_config=None, output_tensor=None, num_links=None, topology=None,
                   chunks_per_sync=None, num_workers_per_link=None, num_buffers_per_channel=None,
                   compute_kernel_config=None, use_l1_small_for_semaphores=False):
    """The group's shards summed, then split along `dim`: the k-th chip of a group keeps the k-th piece."""
    mesh = _mesh_input("reduce_scatter", input_tensor)
    d = _dim("reduce_scatter", input_tensor, dim)
    shards = input_tensor._shards
    outs = [None] * len(shards)
    for group in _split_groups("reduce_scatter", mesh, cluster_axis, input_tensor, dim, d):
        n = len(group)
        total = _reduce([shards[i] for i in group], input_tensor._dtype, shards[group[0]]._device)
        for k, piece in enumerate(torch.chunk(total, n, dim=d)):
            outs[group[k]] = _out("reduce_scatter", shards[group[k]], piece.contiguous(), memory_config)
    return _written("reduce_scatter", MeshTensor.of(outs, mesh, True), output_tensor)


@ttnn_op("all_reduce", mesh_native=True)
def all_reduce(input_tensor, *, cluster_axis=None, subdevice_id=None, memory_config=None, num_links=None,
               topology=None):
    """Every chip of a group gets the sum of the group's shards."""
    mesh = _mesh_input("all_reduce", input_tensor)
    if input_tensor._value.dim() < 2:
        fail("all_reduce", f"input_tensor must be rank 2 or greater, got rank {input_tensor._value.dim()}")
    shards = input_tensor._shards
    outs = [None] * len(shards)
    for group in _groups("all_reduce", mesh, cluster_axis):
        total = _reduce([shards[i] for i in group], input_tensor._dtype, shards[group[0]]._device)
        for i in group:
            outs[i] = _out("all_reduce", shards[i], total, memory_config)
    return MeshTensor.of(outs, mesh, True)


@ttnn_op("all_broadcast", mesh_native=True)
def all_broadcast(input_tensor, *, cluster_axis=None, subdevice_id=None, memory_config=None, num_links=1,
                  topology=Topology.Linear, use_l1_small_for_semaphores=False):
    """A list with one tensor per chip of a group: the k-th holds, on every chip, the shard of the group's k-th
    chip."""
    mesh = _mesh_input("all_broadcast", input_tensor)
    if cluster_axis is None and min(mesh.shape[0], mesh.shape[1]) > 1:
        fail("all_broadcast", f"without cluster_axis the mesh must be a line (1D), got {mesh.shape!r}")
    shards = input_tensor._shards
    groups = _groups("all_broadcast", mesh, cluster_axis)
    result = []
    for k in range(len(groups[0])):
        outs = [None] * len(shards)
        for group in groups:
            src = shards[group[k]]._value
            for i in group:
                outs[i] = _out("all_broadcast", shards[i], src, memory_config)
        result.append(MeshTensor.of(outs, mesh, True))
    return result


@ttnn_op("point_to_point", mesh_native=True)
def point_to_point(input_tensor, sender_coord, receiver_coord, *, output_tensor=None, intermediate_tensor=None,
                   topology=Topology.Linear):
    """The sender chip's shard delivered to the receiver chip; every other chip keeps its own shard."""
    mesh = _mesh_input("point_to_point", input_tensor)
    if input_tensor.is_sharded():
        fail("point_to_point", "sharded tensors are not supported (interleaved DRAM or L1 only)")
    try:
        sr, sc = mesh._coord(sender_coord)
        rr, rc = mesh._coord(receiver_coord)
    except ValueError as e:
        fail("point_to_point", str(e))
    cols = mesh.shape[1]
    sender, receiver = sr * cols + sc, rr * cols + rc
    shards = input_tensor._shards
    outs = [_out("point_to_point", s, shards[sender]._value if i == receiver else s._value, s._memory_config)
            for i, s in enumerate(shards)]
    return _written("point_to_point", MeshTensor.of(outs, mesh, True), output_tensor)


@ttnn_op("mesh_partition", mesh_native=True)
def mesh_partition(input_tensor, dim, cluster_axis=None, *, memory_config=None):
    """Each chip keeps the k-th of n pieces of its own tensor along `dim` (k: its position in its group)."""
    mesh = _mesh_input("mesh_partition", input_tensor)
    d = _dim("mesh_partition", input_tensor, dim)
    shards = input_tensor._shards
    outs = [None] * len(shards)
    for group in _split_groups("mesh_partition", mesh, cluster_axis, input_tensor, dim, d):
        n = len(group)
        for k, i in enumerate(group):
            piece = torch.chunk(shards[i]._value, n, dim=d)[k].contiguous()
            outs[i] = _out("mesh_partition", shards[i], piece, memory_config)
    return MeshTensor.of(outs, mesh, True)
