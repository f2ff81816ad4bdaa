"""torch_ttnn.sim: a functional simulator of a Tenstorrent device with the public API of ttnn 0.81.1.

    import torch_ttnn.sim as ttnn
    device = ttnn.open_device(device_id=0)
    a = ttnn.from_torch(torch.randn(64, 64), dtype=ttnn.bfloat16, layout=ttnn.TILE_LAYOUT, device=device)
    b = ttnn.relu(a)
    print(ttnn.to_torch(b))

Only names that real ttnn has are exported here. What only the simulator has lives on the device object
(`device.counters`, `device.memory_stats()`, `device.numerics`, `device.preset`) or in submodules:
`torch_ttnn.sim.errors` (TTNNError for a refused argument, OutOfMemoryError; both RuntimeError, which is what real
ttnn raises), `torch_ttnn.sim.arch`, `torch_ttnn.sim.formats`, `torch_ttnn.sim.perf`. Names real ttnn keeps in a
submodule are there too (`ttnn.types.BlackholeComputeKernelConfig`).
"""

from . import experimental, transformer
from ._op import OPS as _OPS
from .device import CreateDevice, Device, close_device, open_device, synchronize_device
from .events import MeshEvent, event_synchronize, record_event, wait_for_event
from .mesh import (ConcatMesh2dToTensor, ConcatMeshToTensor, CppMeshToTensor, CppTensorToMesh, MeshComposerConfig,
                   MeshCoordinate, MeshDevice, MeshMapperConfig, MeshShape, MeshToTensor, PlacementReplicate,
                   PlacementShard, ReplicateTensorToMesh, ReplicateTensorToMeshWrapper, ShardTensor2dMesh,
                   ShardTensorToMesh, TensorToMesh, close_mesh_device, combine_device_tensors,
                   concat_mesh_to_tensor_composer, create_mesh_composer, create_mesh_device, create_mesh_mapper,
                   get_device_ids, get_device_tensors, get_num_devices, open_mesh_device,
                   replicate_tensor_to_mesh_mapper, shard_tensor_to_mesh_mapper)
from .ops import load_all as _load_all
from .tensor import Tensor
from .trace import (MeshTraceId, begin_trace_capture, end_trace_capture, execute_trace, is_trace_capture_active,
                    release_trace)
from .types import (DRAM_MEMORY_CONFIG, L1_BLOCK_SHARDED_MEMORY_CONFIG, L1_HEIGHT_SHARDED_MEMORY_CONFIG,
                    L1_MEMORY_CONFIG, L1_WIDTH_SHARDED_MEMORY_CONFIG, ROW_MAJOR_LAYOUT, TILE_LAYOUT, Arch,
                    BufferType, CoreCoord, CoreGrid, CoreRange, CoreRangeSet,
                    DataType, DeviceComputeKernelConfig, GeluVariant, Layout, MathFidelity, MemoryConfig, Shape,
                    ShardOrientation, ShardSpec, SigmoidMode, StorageType, TensorMemoryLayout, Tile, Topology, UnaryOpType,
                    UnaryWithParam, WormholeComputeKernelConfig, bfloat4_b, bfloat8_b, bfloat16, element_size,
                    float32, init_device_compute_kernel_config, int32, tile_size, uint8, uint16, uint32)
from .types import (MatmulMultiCoreReuseMultiCast1DProgramConfig, MatmulMultiCoreReuseMultiCastProgramConfig,
                    Conv1dConfig, Conv2dConfig, Conv2dDRAMSliceHeight, Conv2dDRAMSliceWidth, Conv2dL1Full,
                    Conv2dL1FullSliceConfig, Conv2dSliceConfig, EmbeddingsType, Op2DDRAMSliceHeight,
                    Op2DDRAMSliceWidth, Op2DL1FullSliceConfig, Op2DSliceConfig, PaddingMode)
from .types import TILE_HEIGHT as _TILE_HEIGHT

TILE_SIZE = _TILE_HEIGHT     # the real module constant
DEVICE_STORAGE_TYPE = StorageType.DEVICE

_load_all()
from .perf import rules as _rules  # noqa: E402,F401  (registers the cost rule of every op)
from .perf import circular_buffers as _cbs  # noqa: E402,F401  (and the circular buffers of each)
from .ops.core import aggregate_tensor, distribute_tensor  # noqa: E402,F401
for _name, _op in _OPS.items():
    _mod, _, _attr = _name.rpartition(".")
    if _mod == "transformer":
        setattr(transformer, _attr, _op)
    elif _mod == "experimental":
        setattr(experimental, _attr, _op)
    elif not _mod:
        globals()[_attr] = _op
    else:
        raise RuntimeError(f"simulated op {_name!r} is in an unknown submodule")
del _name, _op, _mod, _attr


def get_golden_function(operation):
    """The PyTorch reference of an op (as real ttnn), where the simulator defines one."""
    fn = getattr(operation, "golden_function", None)
    if fn is None:
        raise RuntimeError(f"{operation!r} has no golden function")
    return fn


def is_tensor_storage_on_device(tensor) -> bool:
    return tensor.storage_type() == StorageType.DEVICE


def has_tile_padding(tensor, *, dim=None) -> bool:
    if dim is not None:
        return tensor.shape[dim] != tensor.padded_shape[dim]
    return tuple(tensor.shape[-2:]) != tuple(tensor.padded_shape[-2:])


def get_arch_name() -> str:
    from .arch import resolve
    return resolve().arch.name.lower()          # the preset TT_SIM_ARCH selects (default wormhole_n150)
