"""The type vocabulary of TT-NN 0.81.1: data types, layouts, memory configs, compute configs.

Enum member names and values follow the real wheel (see ttnn-0.81.1-api.json, "types").
"""
from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Optional, Sequence

TILE_HEIGHT = 32
TILE_WIDTH = 32
FACE_HEIGHT = 16
FACE_WIDTH = 16


class DataType(enum.IntEnum):
    BFLOAT16 = 0
    FLOAT32 = 1
    UINT32 = 2
    BFLOAT8_B = 3
    BFLOAT4_B = 4
    UINT8 = 5
    UINT16 = 6
    INT32 = 7
    FP8_E4M3 = 8
    INT8 = 9
    INVALID = 10

    def __repr__(self) -> str:
        return f"DataType.{self.name}"


class Layout(enum.IntEnum):
    ROW_MAJOR = 0
    TILE = 1
    INVALID = 2

    def __repr__(self) -> str:
        return f"Layout.{self.name}"


class StorageType(enum.IntEnum):
    HOST = 0
    DEVICE = 1


class BufferType(enum.IntEnum):
    DRAM = 0
    L1 = 1
    L1_SMALL = 3
    TRACE = 4

    def __repr__(self) -> str:
        return f"BufferType.{self.name}"


class TensorMemoryLayout(enum.IntEnum):
    INTERLEAVED = 0
    HEIGHT_SHARDED = 2
    WIDTH_SHARDED = 3
    BLOCK_SHARDED = 4
    ND_SHARDED = 5

    def __repr__(self) -> str:
        return f"TensorMemoryLayout.{self.name}"


class ShardOrientation(enum.IntEnum):
    ROW_MAJOR = 0
    COL_MAJOR = 1


class Topology(enum.IntEnum):
    """How the chips of a collective are linked (ttnn.Topology)."""
    Linear = 1
    Ring = 2
    Mesh = 3
    Torus = 4


class MathFidelity(enum.IntEnum):
    LoFi = 0
    HiFi2 = 2
    HiFi3 = 3
    HiFi4 = 4
    Invalid = 255

    def __repr__(self) -> str:
        return f"MathFidelity.{self.name}"


class Arch(enum.IntEnum):
    WORMHOLE_B0 = 2
    BLACKHOLE = 3
    QUASAR = 4


class GeluVariant(enum.IntEnum):
    Accurate = 0
    FastLut = 1
    Tanh = 2


class SigmoidMode(enum.IntEnum):
    FastApproximate = 0
    AccurateWithFastExp = 1
    Accurate = 2


class ThrottleLevel(enum.IntEnum):
    NO_THROTTLE = 0


# Aliases exported at the top level of ttnn.
bfloat16 = DataType.BFLOAT16
float32 = DataType.FLOAT32
uint32 = DataType.UINT32
bfloat8_b = DataType.BFLOAT8_B
bfloat4_b = DataType.BFLOAT4_B
uint8 = DataType.UINT8
uint16 = DataType.UINT16
int32 = DataType.INT32
ROW_MAJOR_LAYOUT = Layout.ROW_MAJOR
TILE_LAYOUT = Layout.TILE

FLOAT_DTYPES = frozenset({DataType.BFLOAT16, DataType.FLOAT32, DataType.BFLOAT8_B, DataType.BFLOAT4_B})
BLOCK_FLOAT_DTYPES = frozenset({DataType.BFLOAT8_B, DataType.BFLOAT4_B})
INT_DTYPES = frozenset({DataType.UINT32, DataType.INT32, DataType.UINT16, DataType.UINT8})
SUPPORTED_DTYPES = FLOAT_DTYPES | INT_DTYPES

# Bytes of one 32x32 tile per data type (FACTS.md) and of one element in ROW_MAJOR pages.
TILE_BYTES = {
    DataType.BFLOAT16: 2048, DataType.FLOAT32: 4096, DataType.UINT32: 4096, DataType.INT32: 4096,
    DataType.UINT16: 2048, DataType.UINT8: 1024, DataType.BFLOAT8_B: 1088, DataType.BFLOAT4_B: 576,
}
ELEMENT_BYTES = {
    DataType.BFLOAT16: 2, DataType.FLOAT32: 4, DataType.UINT32: 4, DataType.INT32: 4,
    DataType.UINT16: 2, DataType.UINT8: 1,
}
# Integer ranges: (bits, signed)
INT_FORMATS = {DataType.UINT32: (32, False), DataType.INT32: (32, True),
               DataType.UINT16: (16, False), DataType.UINT8: (8, False)}


class Shape(tuple):
    """ttnn.Shape: a tuple of ints with `rank` and `to_rank`."""

    def __new__(cls, shape: Sequence[int]):
        return super().__new__(cls, map(int, shape))

    @property
    def rank(self) -> int:
        return len(self)

    def to_rank(self, rank: int) -> "Shape":
        if rank >= len(self):
            return Shape((1,) * (rank - len(self)) + tuple(self))
        head = self[: len(self) - rank]
        if any(d != 1 for d in head):
            raise RuntimeError(f"Shape.to_rank: cannot squeeze {self} to rank {rank}: leading dims are not 1")
        return Shape(self[len(self) - rank:])

    def __repr__(self) -> str:
        return f"Shape([{', '.join(str(d) for d in self)}])"


@dataclass(frozen=True)
class CoreCoord:
    """ttnn.CoreCoord(x, y) or CoreCoord((x, y)), as the real constructors (positional only)."""
    x: int
    y: int

    def __init__(self, arg0, arg1=None):
        if arg1 is None:
            if not (isinstance(arg0, (tuple, list)) and len(arg0) == 2):
                raise TypeError(f"CoreCoord: expected (x, y) or a tuple (x, y), got {arg0!r}")
            arg0, arg1 = arg0
        object.__setattr__(self, "x", int(arg0))
        object.__setattr__(self, "y", int(arg1))


@dataclass(frozen=True)
class CoreGrid:
    y: int
    x: int

    def __init__(self, *, x: int, y: int):
        object.__setattr__(self, "x", x)
        object.__setattr__(self, "y", y)

    @property
    def num_cores(self) -> int:
        return self.x * self.y


@dataclass(frozen=True)
class CoreRange:
    start: CoreCoord
    end: CoreCoord

    def num_cores(self) -> int:
        return (self.end.x - self.start.x + 1) * (self.end.y - self.start.y + 1)


class CoreRangeSet:
    """ttnn.CoreRangeSet(a set of CoreRange); ranges() in row order, so that equal sets compare equal."""

    def __init__(self, core_ranges):
        self._ranges = tuple(sorted(core_ranges, key=lambda r: (r.start.y, r.start.x, r.end.y, r.end.x)))

    def ranges(self) -> list:
        return list(self._ranges)

    def bounding_box(self) -> "CoreRange":
        rs = self._ranges
        return CoreRange(CoreCoord(min(r.start.x for r in rs), min(r.start.y for r in rs)),
                         CoreCoord(max(r.end.x for r in rs), max(r.end.y for r in rs)))

    def num_cores(self) -> int:
        return sum(r.num_cores() for r in self._ranges)

    def __eq__(self, other) -> bool:
        return isinstance(other, CoreRangeSet) and self._ranges == other._ranges

    def __hash__(self) -> int:
        return hash(self._ranges)

    def __repr__(self) -> str:
        return f"CoreRangeSet({{{', '.join(repr(r) for r in self._ranges)}}})"


@dataclass(frozen=True)
class ShardSpec:
    grid: CoreRangeSet
    shape: tuple
    orientation: ShardOrientation = ShardOrientation.ROW_MAJOR

    def __init__(self, grid, shard_shape, shard_orientation):
        object.__setattr__(self, "grid", grid)
        object.__setattr__(self, "shape", tuple(shard_shape))
        object.__setattr__(self, "orientation", shard_orientation)

    def num_cores(self) -> int:
        return self.grid.num_cores()


@dataclass(frozen=True)
class MemoryConfig:
    memory_layout: TensorMemoryLayout = TensorMemoryLayout.INTERLEAVED
    buffer_type: BufferType = BufferType.DRAM
    shard_spec: Optional[ShardSpec] = None

    def is_sharded(self) -> bool:
        return self.memory_layout != TensorMemoryLayout.INTERLEAVED

    def __repr__(self) -> str:
        return (f"MemoryConfig(memory_layout={self.memory_layout!r},buffer_type={self.buffer_type!r},"
                f"shard_spec={self.shard_spec})")


DRAM_MEMORY_CONFIG = MemoryConfig(TensorMemoryLayout.INTERLEAVED, BufferType.DRAM)
L1_MEMORY_CONFIG = MemoryConfig(TensorMemoryLayout.INTERLEAVED, BufferType.L1)
L1_HEIGHT_SHARDED_MEMORY_CONFIG = MemoryConfig(TensorMemoryLayout.HEIGHT_SHARDED, BufferType.L1)
L1_WIDTH_SHARDED_MEMORY_CONFIG = MemoryConfig(TensorMemoryLayout.WIDTH_SHARDED, BufferType.L1)
L1_BLOCK_SHARDED_MEMORY_CONFIG = MemoryConfig(TensorMemoryLayout.BLOCK_SHARDED, BufferType.L1)


@dataclass
class WormholeComputeKernelConfig:
    """Compute kernel configuration (fidelity, approximation, accumulation precision)."""
    math_fidelity: MathFidelity = MathFidelity.Invalid
    math_approx_mode: bool = True
    fp32_dest_acc_en: bool = False
    packer_l1_acc: bool = False
    dst_full_sync_en: bool = False
    throttle_level: ThrottleLevel = ThrottleLevel.NO_THROTTLE

    def __init__(self, *, math_fidelity=MathFidelity.Invalid, math_approx_mode=True, fp32_dest_acc_en=False,
                 packer_l1_acc=False, dst_full_sync_en=False, throttle_level=ThrottleLevel.NO_THROTTLE):
        self.math_fidelity = math_fidelity
        self.math_approx_mode = math_approx_mode
        self.fp32_dest_acc_en = fp32_dest_acc_en
        self.packer_l1_acc = packer_l1_acc
        self.dst_full_sync_en = dst_full_sync_en
        self.throttle_level = throttle_level


BlackholeComputeKernelConfig = WormholeComputeKernelConfig
DeviceComputeKernelConfig = WormholeComputeKernelConfig


def init_device_compute_kernel_config(arch, device_kernel_config=None, *, math_fidelity=MathFidelity.LoFi,
                                      math_approx_mode=True, fp32_dest_acc_en=False, packer_l1_acc=False,
                                      dst_full_sync_en=False, throttle_level=ThrottleLevel.NO_THROTTLE):
    if device_kernel_config is not None:
        return device_kernel_config
    return WormholeComputeKernelConfig(math_fidelity=math_fidelity, math_approx_mode=math_approx_mode,
                                       fp32_dest_acc_en=fp32_dest_acc_en, packer_l1_acc=packer_l1_acc,
                                       dst_full_sync_en=dst_full_sync_en, throttle_level=throttle_level)


class UnaryOpType(enum.IntEnum):
    """Members and values as in the real wheel."""
    EXP = 0
    RECIP = 1
    GELU = 2
    GELU_TANH = 3
    RELU = 4
    SQRT = 5
    SIGMOID = 6
    LOG = 7
    LOG1P = 8
    TANH = 9
    LOG2 = 10
    LOG10 = 11
    SIN = 12
    COS = 13
    COSH = 14
    SINH = 15
    ABS = 16
    ABS_INT32 = 17
    SIGN = 18
    SQUARE = 19
    EQZ = 20
    NEZ = 21
    GTZ = 22
    LTZ = 23
    GEZ = 24
    LEZ = 25
    RELU_MAX = 26
    RELU_MIN = 27
    POWER = 28
    POWER_ITERATIVE = 29
    LEAKY_RELU = 30
    ELU = 31
    EXP2 = 32
    HEAVISIDE = 33
    EXPM1 = 34
    SIGNBIT = 35
    ASIN = 36
    ACOS = 37
    ACOSH = 38
    RSQRT = 39
    RELU6 = 40
    ATAN = 41
    ASINH = 42
    ATANH = 43
    ERF = 44
    ERFC = 45
    ISINF = 46
    ISPOSINF = 47
    ISNEGINF = 48
    ISNAN = 49
    LOGICAL_NOT_UNARY = 50
    ISFINITE = 51
    ERFINV = 52
    I0 = 53
    I1 = 54
    TAN = 55
    RSUB = 56
    RDIV = 57
    SILU = 58
    SOFTPLUS = 59
    IDENTITY = 60
    NEG = 61
    ADD_UNARY_SFPU = 62
    SUB_UNARY_SFPU = 63
    MUL_UNARY_SFPU = 64
    DIV_UNARY_SFPU = 65
    UNARY_NE = 66
    UNARY_EQ = 67
    UNARY_GT = 68
    UNARY_LT = 69
    UNARY_GE = 70
    UNARY_LE = 71
    TILED_PROD = 72
    TYPECAST = 73
    BITCAST = 74
    BITWISE_XOR = 75
    BITWISE_NOT = 76
    BITWISE_AND = 77
    BITWISE_OR = 78
    RIGHT_SHIFT = 79
    FLOOR = 80
    CEIL = 81
    TRUNC = 82
    FRAC = 83
    ROUND = 84
    LEFT_SHIFT = 85
    REMAINDER = 86
    FMOD = 87
    DROPOUT = 88
    FILL = 89
    PRELU_SFPU = 90
    ZERO_POINT = 91
    ALT_COMPLEX_ROTATE90 = 92
    MISH = 93
    HARDMISH = 94
    MAXIMUM = 95
    MINIMUM = 96
    TANHSHRINK = 97
    THRESHOLD = 98
    SOFTSHRINK = 99
    HARDSHRINK = 100
    HARDTANH = 101
    HARDSIGMOID = 102
    HARDSWISH = 103
    WHERE_TSS = 104
    MAC_TSS = 105
    SOFTSIGN = 106
    CELU = 107
    CLAMP_TSS = 108
    SELU = 109
    RPOW = 110
    CBRT = 111
    LOGSIGMOID = 112
    LOGIT = 113
    XIELU = 114
    LGAMMA = 115
    DIGAMMA = 116
    POLYGAMMA = 117
    SOFTCAP = 118


@dataclass(frozen=True)
class UnaryWithParam:
    op_type: UnaryOpType
    params: tuple = field(default=())

    def __init__(self, arg0, *params):
        object.__setattr__(self, "op_type", arg0)
        object.__setattr__(self, "params", tuple(float(p) for p in params))


def tile_size(dtype: DataType) -> int:
    return TILE_BYTES[DataType(dtype)]


def element_size(dtype: DataType) -> int:
    dtype = DataType(dtype)
    if dtype in ELEMENT_BYTES:
        return ELEMENT_BYTES[dtype]
    # the wheel: ValueError('datum for bfp2, bfp4, bfp8 is invalid')
    raise ValueError(f"datum for bfp2, bfp4, bfp8 is invalid (element_size: {dtype!r} is a block format)")


class Tile:
    """ttnn.Tile: the tile shape (the simulator supports 32x32 tiles of 16x16 faces)."""

    def __init__(self, tile_shape, transpose_tile: bool = False):
        self.tile_shape = tuple(tile_shape)
        self.transpose_tile = transpose_tile
        if self.tile_shape != (32, 32):
            raise NotImplementedError(f"the simulated device supports 32x32 tiles only, got {list(self.tile_shape)}")

    def __eq__(self, other):
        return isinstance(other, Tile) and other.tile_shape == self.tile_shape

    def __hash__(self):
        return hash(self.tile_shape)

    def __repr__(self) -> str:
        return f"Tile with shape: [{self.tile_shape[0]}, {self.tile_shape[1]}]"


DEFAULT_TILE = Tile((32, 32))


# ------------------------------------------------------------------------------------------------
# Convolution / pooling / embedding configuration types (names, keywords and defaults of 0.81.1)
# ------------------------------------------------------------------------------------------------

class PaddingMode(enum.IntEnum):
    Zeros = 0
    Replicate = 1

    def __repr__(self) -> str:
        return f"PaddingMode.{self.name}"


class EmbeddingsType(enum.IntEnum):
    GENERIC = 0
    PADDED = 1
    BINARY = 2

    def __repr__(self) -> str:
        return f"EmbeddingsType.{self.name}"


class _SliceTypeEnum(enum.IntEnum):
    DRAMSliceHeight = 0
    DRAMSliceWidth = 1
    L1Full = 2

    def __repr__(self) -> str:
        return f"SliceTypeEnum.{self.name}"


class Op2DSliceConfig:
    """ttnn.Op2DSliceConfig (alias ttnn.Conv2dSliceConfig): how conv/pool slice their tensors through DRAM."""

    SliceTypeEnum = _SliceTypeEnum

    def __init__(self, *, slice_type, num_slices: int = 0):
        self.slice_type = _SliceTypeEnum(slice_type)
        self.num_slices = int(num_slices)

    def __eq__(self, other):
        return (isinstance(other, Op2DSliceConfig) and other.slice_type == self.slice_type
                and other.num_slices == self.num_slices)

    def __repr__(self) -> str:
        names = {0: "DRAM_HEIGHT", 1: "DRAM_WIDTH", 2: "L1_FULL"}
        return f"Op2DSliceConfig(slice_type=SliceType::{names[int(self.slice_type)]},num_slices={self.num_slices})"


Conv2dSliceConfig = Op2DSliceConfig
Conv2dDRAMSliceHeight = _SliceTypeEnum.DRAMSliceHeight
Conv2dDRAMSliceWidth = _SliceTypeEnum.DRAMSliceWidth
Conv2dL1Full = _SliceTypeEnum.L1Full
Conv2dL1FullSliceConfig = Op2DSliceConfig(slice_type=_SliceTypeEnum.L1Full)
Op2DDRAMSliceHeight = _SliceTypeEnum.DRAMSliceHeight
Op2DDRAMSliceWidth = _SliceTypeEnum.DRAMSliceWidth
Op2DL1FullSliceConfig = Op2DSliceConfig(slice_type=_SliceTypeEnum.L1Full)


class Conv2dConfig:
    """ttnn.Conv2dConfig (also ttnn.Conv1dConfig): keyword-only, the real parameters and defaults of 0.81.1."""

    _FIELDS = (("weights_dtype", None), ("activation", None), ("deallocate_activation", False),
               ("reallocate_halo_output", True), ("config_tensors_in_dram", False), ("act_block_h_override", 0),
               ("act_block_w_div", 1), ("reshard_if_not_optimal", False), ("override_sharding_config", False),
               ("shard_layout", None), ("core_grid", None), ("transpose_shards", False),
               ("output_layout", Layout.TILE), ("enable_act_double_buffer", False),
               ("enable_weights_double_buffer", False), ("full_inner_dim", False),
               ("enable_kernel_stride_folding", None), ("enable_activation_reuse", False),
               ("force_split_reader", None), ("override_output_sharding_config", False),
               ("padding_mode", PaddingMode.Zeros))

    def __init__(self, *, weights_dtype=None, activation=None, deallocate_activation=False,
                 reallocate_halo_output=True, config_tensors_in_dram=False, act_block_h_override=0,
                 act_block_w_div=1, reshard_if_not_optimal=False, override_sharding_config=False,
                 shard_layout=None, core_grid=None, transpose_shards=False, output_layout=Layout.TILE,
                 enable_act_double_buffer=False, enable_weights_double_buffer=False, full_inner_dim=False,
                 enable_kernel_stride_folding=None, enable_activation_reuse=False, force_split_reader=None,
                 override_output_sharding_config=False, padding_mode=PaddingMode.Zeros):
        if activation is not None and not isinstance(activation, UnaryWithParam):
            # the real constructor is typed `ttnn.UnaryWithParam | None` and rejects strings
            raise TypeError(f"Conv2dConfig: activation must be a ttnn.UnaryWithParam or None, "
                            f"got {type(activation).__name__}")
        values = dict(locals())
        for name, _ in self._FIELDS:
            setattr(self, name, values[name])
        self.weights_dtype = None if weights_dtype is None else DataType(weights_dtype)
        self.output_layout = Layout(output_layout)
        self.padding_mode = PaddingMode(padding_mode)

    def __repr__(self) -> str:
        return "Conv2dConfig(" + ",".join(f"{n}={getattr(self, n)!r}" for n, _ in self._FIELDS) + ")"


Conv1dConfig = Conv2dConfig


class _MatmulProgramConfig:
    """Matmul program configs: keyword-only, with the real 0.81.1 parameters (the subclasses' signatures)."""

    _FIELDS: tuple = ()

    def _set(self, values: dict) -> None:
        name = type(self).__name__
        grid = values["compute_with_storage_grid_size"]
        if not isinstance(grid, CoreCoord):
            raise TypeError(f"{name}: compute_with_storage_grid_size must be a ttnn.CoreCoord, got {grid!r}")
        fused = values.get("fused_activation")
        if fused is not None and not isinstance(fused, UnaryWithParam):
            raise TypeError(f"{name}: fused_activation must be a ttnn.UnaryWithParam or None, got {fused!r}")
        for k in ("in0_block_w", "out_subblock_h", "out_subblock_w", "per_core_M", "per_core_N"):
            v = values[k]
            if not isinstance(v, int) or isinstance(v, bool) or v < 1:
                raise TypeError(f"{name}: {k} must be a positive int, got {v!r}")
        for k in self._FIELDS:
            setattr(self, k, values[k])

    def __repr__(self) -> str:
        return f"{type(self).__name__}(" + ", ".join(f"{k}={getattr(self, k)!r}" for k in self._FIELDS) + ")"


class MatmulMultiCoreReuseMultiCastProgramConfig(_MatmulProgramConfig):
    """ttnn.MatmulMultiCoreReuseMultiCastProgramConfig: the "2D" multicast matmul (in0 blocks multicast along
    the grid's rows, in1 blocks along its columns; transpose_mcast swaps the grid's axes)."""

    _FIELDS = ("compute_with_storage_grid_size", "in0_block_w", "out_subblock_h", "out_subblock_w", "out_block_h",
               "out_block_w", "per_core_M", "per_core_N", "transpose_mcast", "fused_activation", "fuse_batch",
               "allowed_worker_cores")

    def __init__(self, *, compute_with_storage_grid_size, in0_block_w, out_subblock_h, out_subblock_w,
                 out_block_h=None, out_block_w=None, per_core_M, per_core_N, transpose_mcast, fused_activation=None,
                 fuse_batch=True, allowed_worker_cores=None):
        self._set(dict(locals()))


class MatmulMultiCoreReuseMultiCast1DProgramConfig(_MatmulProgramConfig):
    """ttnn.MatmulMultiCoreReuseMultiCast1DProgramConfig: the "1D" multicast matmul (mcast_in0: every core holds
    all rows of in0 and a slice of the output columns; else every core a slice of the rows and all columns)."""

    _FIELDS = ("compute_with_storage_grid_size", "in0_block_w", "out_subblock_h", "out_subblock_w", "out_block_h",
               "out_block_w", "per_core_M", "per_core_N", "fuse_batch", "fused_activation", "mcast_in0",
               "gather_in0", "hop_cores", "num_global_cb_receivers", "untilize_out", "allowed_worker_cores",
               "stream_in1")

    def __init__(self, *, compute_with_storage_grid_size, in0_block_w, out_subblock_h, out_subblock_w,
                 out_block_h=None, out_block_w=None, per_core_M, per_core_N, fuse_batch, fused_activation=None,
                 mcast_in0, gather_in0=False, hop_cores=None, num_global_cb_receivers=1, untilize_out=False,
                 allowed_worker_cores=None, stream_in1=False):
        self._set(dict(locals()))
