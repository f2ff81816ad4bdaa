"""Matrix multiplication: ttnn.matmul, ttnn.linear, ttnn.addmm.

Numerics (torch_ttnn.sim.numerics.fpu_matmul): input A (activations) goes to SrcB and input B (weights) to SrcA;
the math fidelity picks the bit-slice products; Dst accumulates in bf16 (rounded every K=16 step and fidelity
pass) unless fp32_dest_acc_en. Defaults (FACTS.md): fidelity HiFi4 with any fp32 input, LoFi when both inputs
are block floats, else HiFi2; fp32_dest_acc_en on only with fp32 inputs. The packer rounds the Dst content to
the output dtype.

Tile padding: the kernels multiply whole tiles, so the K padding of A times the K padding of B adds
``pad_a * pad_b * (Kpadded - K)`` to every output when both padding scalars are known and nonzero (a known
zero on either side contributes nothing; unknown padding is taken as zero and logged).

linear: the bias (a row [N] / [1, N] / [1, 1, 1, N], or a full [M, N]) is added in Dst after the product (an
FPU add: rounded into a 16-bit Dst); the fused activation runs on the SFPU in Dst before the packer.
"""
from __future__ import annotations

import logging
import math

import torch

from .. import numerics, trace
from .._op import ttnn_op
from ..types import DataType, Layout, UnaryOpType, UnaryWithParam
from ._common import (fail, kernel_config, make_output, on_device, out_memory_config, require_dtype,
                      require_layout, require_tensor, stored)

log = logging.getLogger(__name__)

MATMUL_DTYPES = (DataType.BFLOAT16, DataType.FLOAT32, DataType.BFLOAT8_B, DataType.BFLOAT4_B)


# ------------------------------------------------------------------------------------------------
# Golden functions (PyTorch references, like real ttnn's)
# ------------------------------------------------------------------------------------------------

def _golden_activation(x: torch.Tensor, activation) -> torch.Tensor:
    if activation is None:
        return x
    name, params = _activation_spec(activation, "golden")
    return _ACTIVATIONS[name][0](x, params)


def _golden_matmul(input_tensor_a, input_tensor_b, transpose_a=False, transpose_b=False, *, bias=None,
                   activation=None, dtype=None, **_):
    a, b = input_tensor_a, input_tensor_b
    if transpose_a:
        a = a.transpose(-1, -2)
    if transpose_b:
        b = b.transpose(-1, -2)
    out = a @ b.to(a.dtype)
    if bias is not None:
        out = out + (bias.reshape(out.shape[-1]) if bias.numel() == out.shape[-1] else bias)
    out = _golden_activation(out, activation)
    while out.dim() > a.dim():
        out = out.squeeze(0)
    return out


def _golden_addmm(input_tensor, mat1_tensor, mat2_tensor, alpha=1.0, beta=1.0, **_):
    if beta == 0:
        return alpha * torch.matmul(mat1_tensor, mat2_tensor)
    return torch.addmm(input_tensor, mat1_tensor, mat2_tensor, alpha=alpha, beta=beta)


# ------------------------------------------------------------------------------------------------
# Fused activations (SFPU, computed in fp32)
# ------------------------------------------------------------------------------------------------

_ACTIVATIONS = {
    "relu": (lambda x, p: torch.relu(x), 0.0),
    "relu6": (lambda x, p: torch.clamp(x, 0.0, 6.0), 0.0),
    "gelu": (lambda x, p: torch.nn.functional.gelu(x), 0.0),
    "gelu_tanh": (lambda x, p: torch.nn.functional.gelu(x, approximate="tanh"), 0.0),
    "silu": (lambda x, p: torch.nn.functional.silu(x), 0.0),
    "sigmoid": (lambda x, p: torch.sigmoid(x), 0.5),
    "tanh": (lambda x, p: torch.tanh(x), 0.0),
    "exp": (lambda x, p: torch.exp(x), 1.0),
    "sqrt": (lambda x, p: torch.sqrt(x), 0.0),
    "square": (lambda x, p: x * x, 0.0),
    "abs": (lambda x, p: x.abs(), 0.0),
    "neg": (lambda x, p: -x, 0.0),
    "log": (lambda x, p: torch.log(x), float("-inf")),
    "recip": (lambda x, p: torch.reciprocal(x), float("inf")),
}
_UNARY_TYPE_NAMES = {
    UnaryOpType.RELU: "relu", UnaryOpType.RELU6: "relu6", UnaryOpType.GELU: "gelu", UnaryOpType.SILU: "silu",
    UnaryOpType.SIGMOID: "sigmoid", UnaryOpType.TANH: "tanh", UnaryOpType.EXP: "exp", UnaryOpType.SQRT: "sqrt",
    UnaryOpType.SQUARE: "square", UnaryOpType.ABS: "abs", UnaryOpType.NEG: "neg", UnaryOpType.LOG: "log",
    UnaryOpType.RECIP: "recip", UnaryOpType.GELU_TANH: "gelu_tanh",
}


def _activation_spec(activation, op: str):
    """(name, params) of a fused activation given as a string or a UnaryWithParam."""
    if isinstance(activation, UnaryWithParam):
        name = _UNARY_TYPE_NAMES.get(UnaryOpType(activation.op_type))
        params = activation.params
    elif isinstance(activation, str):
        name, params = activation.lower(), ()
    else:
        name, params = None, ()
    if name not in _ACTIVATIONS:
        fail(op, f"activation {activation!r} is not supported; use one of {sorted(_ACTIVATIONS)} "
                 "or a ttnn.UnaryWithParam of those")
    return name, params


# ------------------------------------------------------------------------------------------------
# Shapes
# ------------------------------------------------------------------------------------------------

def _check_operand(op: str, arg: str, t) -> None:
    require_tensor(op, arg, t)
    if t._device is None:
        fail(op, f"{arg} must be on a device, but it is on the host (use ttnn.to_device)")
    require_layout(op, arg, t, Layout.TILE)
    require_dtype(op, arg, t, MATMUL_DTYPES)
    if len(t.shape) < 1:
        fail(op, f"{arg} must be at least 1-dimensional, got a rank-0 tensor")


def _batch_shape(ba: list, bb: list) -> list:
    """torch.broadcast_shapes of two batch shapes that _plan has checked (each dim pair equal or with a 1)."""
    n = max(len(ba), len(bb))
    pa, pb = [1] * (n - len(ba)) + list(ba), [1] * (n - len(bb)) + list(bb)
    return [x if y == 1 else y for x, y in zip(pa, pb)]


def _plan(op: str, a_shape, b_shape, transpose_a: bool, transpose_b: bool):
    """Validate shapes; returns (a_view_shape, b_view_shape, out_shape) where views are rank >= 2."""
    a_shape, b_shape = list(a_shape), list(b_shape)
    a_vec, b_vec = len(a_shape) == 1, len(b_shape) == 1
    if a_vec:
        a2 = [1, a_shape[0]]
    else:
        a2 = a_shape[:-2] + ([a_shape[-1], a_shape[-2]] if transpose_a else a_shape[-2:])
    if b_vec:
        b2 = [b_shape[0], 1]
    else:
        b2 = b_shape[:-2] + ([b_shape[-1], b_shape[-2]] if transpose_b else b_shape[-2:])
    if a2[-1] != b2[-2]:
        fail(op, f"the inner dimensions do not match: input_tensor_a is {a_shape}"
                 f"{' (transposed)' if transpose_a else ''} with K={a2[-1]}, input_tensor_b is {b_shape}"
                 f"{' (transposed)' if transpose_b else ''} with K={b2[-2]}")
    ba, bb = a2[:-2], b2[:-2]
    vol_a, vol_b = math.prod(ba), math.prod(bb)
    if vol_a != 1 and vol_b != 1:
        if list(ba) != list(bb):
            la, lb = len(ba), len(bb)
            pa = [1] * (max(la, lb) - la) + list(ba)
            pb = [1] * (max(la, lb) - lb) + list(bb)
            if vol_a == vol_b or any(x != y and x != 1 and y != 1 for x, y in zip(pa, pb)):
                fail(op, f"batch dimensions {list(ba)} of input_tensor_a and {list(bb)} of input_tensor_b are "
                         "neither equal nor broadcastable the way ttnn.matmul broadcasts them")
    elif vol_a == 1 and vol_b != 1 and not a_vec:
        if len(a2) < 3 or len(a2) != len(b2):
            fail(op, f"input_tensor_a {a_shape} has no batch but input_tensor_b {b_shape} does: reusing "
                     "input_tensor_a across the batches of input_tensor_b needs both inputs of rank >= 3 with "
                     "matching ranks")
    batch = _batch_shape(ba, bb)
    out = batch + [a2[-2], b2[-1]]
    if b_vec:
        out = out[:-1]
    if a_vec:
        out = out[:-2] + out[-1:] if not b_vec else out[:-1]
    # real ttnn keeps the rank of input_tensor_a: drop leading unit dims the broadcast added
    rank_a = len(a_shape)
    while len(out) > max(rank_a, 0) and out and out[0] == 1 and not a_vec:
        out = out[1:]
    return a2, b2, out


def _operand_values(t, transpose: bool, view_shape) -> torch.Tensor:
    v = t._value.to(torch.float32)
    if v.dim() == 1:
        return v.reshape(view_shape)
    return v.transpose(-1, -2) if transpose else v


def _k_padding(op: str, a, b, K: int, transpose_a: bool, transpose_b: bool):
    """(pad_a, pad_b, count): padding along K that the kernel multiplies, or None when it adds nothing."""
    pk = -(-K // 32) * 32
    count = pk - K
    if count == 0:
        return None
    pad_a, pad_b = a._pad, b._pad
    if pad_a == 0.0 or pad_b == 0.0:
        return None
    if pad_a is None or pad_b is None:
        log.debug("ttnn.%s: K=%d is padded to %d with unknown tile padding; taking it as zero", op, K, pk)
        return None
    return float(pad_a), float(pad_b), count


def _compute(op: str, a, b, transpose_a: bool, transpose_b: bool, compute_kernel_config, device):
    """The Dst content of the product (float32, batch-broadcast, in the output's logical shape), whether Dst is
    32-bit, whether the approximate mode is on."""
    plan = _compute_plan(op, a, b, transpose_a, transpose_b, compute_kernel_config)
    return _compute_values(op, plan, a, b, transpose_a, transpose_b, device), plan[4], plan[5]


def _compute_plan(op: str, a, b, transpose_a: bool, transpose_b: bool, compute_kernel_config) -> tuple:
    """What _compute decides from the operands' metadata: (a view shape, b view shape, output shape, fidelity,
    fp32 Dst, approximate mode)."""
    a2, b2, out_shape = _plan(op, a.shape, b.shape, transpose_a, transpose_b)
    return (a2, b2, out_shape, *kernel_config(compute_kernel_config, a._dtype, b._dtype))


def _compute_values(op: str, plan: tuple, a, b, transpose_a: bool, transpose_b: bool, device) -> torch.Tensor:
    a2, b2, out_shape, fid, fp32_acc, _ = plan
    av = _operand_values(a, transpose_a, a2)
    bv = _operand_values(b, transpose_b, b2)
    K = a2[-1]
    kp = _k_padding(op, a, b, K, transpose_a, transpose_b)
    if kp is not None:
        pad_a, pad_b, count = kp
        av = torch.cat([av, torch.full((*av.shape[:-1], count), pad_a)], dim=-1)
        bv = torch.cat([bv, torch.full((*bv.shape[:-2], count, bv.shape[-1]), pad_b)], dim=-2)
    bf16_values = (DataType.BFLOAT16, DataType.BFLOAT8_B, DataType.BFLOAT4_B)   # K padding may hold any pad
    dst = numerics.fpu_matmul(av, bv, fid, fp32_acc, device.ideal, a_bf16=kp is None and a._dtype in bf16_values,
                              b_bf16=kp is None and b._dtype in bf16_values)
    return dst.reshape(out_shape)


def _epilogue(op: str, dst: torch.Tensor, bias, activation, fp32_acc: bool, device):
    """Bias add (FPU, into Dst) and fused activation (SFPU, in Dst); returns (values, output padding known)."""
    ideal = device.ideal
    pad = 0.0
    if bias is not None:
        bv = bias._value.to(torch.float32)
        n = dst.shape[-1] if dst.dim() else 1
        if bv.dim() == 0 or bv.shape[-1] != n:
            fail(op, f"bias of shape {list(bias.shape)} does not match the output width {n}")
        lead = [d for d in bv.shape[:-1]]
        if all(d == 1 for d in lead):
            bv = bv.reshape(n)
        elif dst.dim() >= 2 and bv.dim() >= 2 and bv.shape[-2] == dst.shape[-2] and all(d == 1 for d in lead[:-1]):
            bv = bv.reshape(bv.shape[-2], n)
        else:
            fail(op, f"bias must be a row [1, N] (or [1, 1, 1, N], [N]) or a full [M, N] tile block, "
                     f"got {list(bias.shape)} for an output of shape {list(dst.shape)}")
        dst = numerics.dst_store_(dst + bv, fp32_acc, ideal)
        pad = None
    if activation is not None:
        name, params = _activation_spec(activation, op)
        fn, at_zero = _ACTIVATIONS[name]
        dst = numerics.sfpu_store(fn(dst, params), fp32_acc, ideal)
        pad = None if pad is None else at_zero
    return dst, pad


def _out_dtype(op: str, dtype, default: DataType) -> DataType:
    out = default if dtype is None else DataType(dtype)
    if out not in MATMUL_DTYPES:
        fail(op, f"output dtype {out.name} is not supported; use one of {', '.join(d.name for d in MATMUL_DTYPES)}")
    return out


def _check_output_tile(op: str, output_tile) -> None:
    if output_tile is None:
        return
    shape = tuple(getattr(output_tile, "tile_shape", output_tile))
    if shape != (32, 32):
        fail(op, f"output_tile {list(shape)} is not supported by the simulated device (32x32 tiles only)")


def _deliver(op: str, device, value, dtype, memory_config, pad, optional_output_tensor):
    out = make_output(op, device, value, dtype, Layout.TILE, out_memory_config(memory_config), pad=pad)
    if optional_output_tensor is None:
        return out
    o = optional_output_tensor
    require_tensor(op, "optional_output_tensor", o)
    if tuple(o.shape) != tuple(out.shape) or o._dtype != out._dtype or o._layout != Layout.TILE:
        fail(op, f"optional_output_tensor is {list(o.shape)} {o._dtype.name} {o._layout.name}, the result is "
                 f"{list(out.shape)} {out._dtype.name} TILE")
    o._value, o._pad = out._value, out._pad
    from .core import deallocate
    deallocate(out)
    return o


def program_config_cb_bytes(cfg, a_dtype, b_dtype, out_dtype, Kt: int, fp32_acc: bool) -> int:
    """L1 a core's circular buffers take for a multicast matmul program: in0 and in1 blocks double-buffered,
    the output block, and an fp32 partial-sum block when K spans several blocks with an fp32 Dst."""
    from ..types import tile_size
    m, n, k = cfg.per_core_M, cfg.per_core_N, cfg.in0_block_w
    total = 2 * m * k * tile_size(a_dtype) + 2 * k * n * tile_size(b_dtype) + m * n * tile_size(out_dtype)
    if fp32_acc and Kt > k:
        total += m * n * tile_size(DataType.FLOAT32)
    return total


def check_program_config(op: str, cfg, a, b, transpose_a: bool, transpose_b: bool, out_dtype, fp32_acc: bool,
                         device) -> None:
    """Refuse a program config the real op would refuse (grid, block divisibility, Dst capacity, output
    coverage, L1 for its circular buffers beside the L1 buffers already allocated)."""
    from ..types import (BufferType, MatmulMultiCoreReuseMultiCast1DProgramConfig,
                         MatmulMultiCoreReuseMultiCastProgramConfig)
    if cfg is None:
        return
    kinds = (MatmulMultiCoreReuseMultiCastProgramConfig, MatmulMultiCoreReuseMultiCast1DProgramConfig)
    if not isinstance(cfg, kinds):
        fail(op, f"program_config {type(cfg).__name__} is not modelled by the simulated device (it models "
                 f"MatmulMultiCoreReuseMultiCastProgramConfig and MatmulMultiCoreReuseMultiCast1DProgramConfig)")
    grid = cfg.compute_with_storage_grid_size
    full = device.compute_with_storage_grid_size()
    if not (1 <= grid.x <= full.x and 1 <= grid.y <= full.y):
        fail(op, f"program_config: compute_with_storage_grid_size ({grid.x}, {grid.y}) exceeds the device's "
                 f"compute grid ({full.x}, {full.y})")
    a2, b2, _ = _plan(op, a.shape, b.shape, transpose_a, transpose_b)    # [..., M, K] and [..., K, N]
    M = a2[-2] * (math.prod(a2[:-2]) if cfg.fuse_batch else 1)           # the batch folded into M when fused
    Mt, Kt, Nt = -(-M // 32), -(-a2[-1] // 32), -(-b2[-1] // 32)
    if Kt % cfg.in0_block_w:
        fail(op, f"program_config: in0_block_w={cfg.in0_block_w} does not divide K ({Kt} tiles)")
    block_h = cfg.out_block_h or cfg.per_core_M
    block_w = cfg.out_block_w or cfg.per_core_N
    if block_h % cfg.out_subblock_h or block_w % cfg.out_subblock_w:
        fail(op, f"program_config: the output subblock {cfg.out_subblock_h}x{cfg.out_subblock_w} does not divide "
                 f"the output block {block_h}x{block_w} tiles")
    dst_tiles = 4 if fp32_acc else 8
    if cfg.out_subblock_h * cfg.out_subblock_w > dst_tiles:
        fail(op, f"program_config: an output subblock of {cfg.out_subblock_h}x{cfg.out_subblock_w} tiles exceeds "
                 f"the {dst_tiles} tiles Dst holds{' with fp32_dest_acc_en' if fp32_acc else ''}")
    rows_needed, cols_needed = -(-Mt // cfg.per_core_M), -(-Nt // cfg.per_core_N)
    if isinstance(cfg, MatmulMultiCoreReuseMultiCastProgramConfig):
        rows, cols = (grid.x, grid.y) if cfg.transpose_mcast else (grid.y, grid.x)
        if rows_needed > rows or cols_needed > cols:
            fail(op, f"program_config: per_core_M={cfg.per_core_M}, per_core_N={cfg.per_core_N} need a "
                     f"{rows_needed}x{cols_needed} grid of cores for a {Mt}x{Nt}-tile output, the config gives "
                     f"{rows}x{cols}")
    else:
        cores = grid.x * grid.y
        if cfg.mcast_in0 and (rows_needed > 1 or cols_needed > cores):
            fail(op, f"program_config: a 1D config with mcast_in0 gives every core all {Mt} output tile rows "
                     f"(per_core_M={cfg.per_core_M}) and per_core_N={cfg.per_core_N} of {Nt} columns over {cores} "
                     f"cores")
        if not cfg.mcast_in0 and (cols_needed > 1 or rows_needed > cores):
            fail(op, f"program_config: a 1D config without mcast_in0 gives every core all {Nt} output tile "
                     f"columns (per_core_N={cfg.per_core_N}) and per_core_M={cfg.per_core_M} of {Mt} rows over "
                     f"{cores} cores")
    need = program_config_cb_bytes(cfg, a._dtype, b._dtype, out_dtype, Kt, fp32_acc)
    free = device.memory[BufferType.L1].cb_space()
    if need > free:
        fail(op, f"program_config: its circular buffers need {need} B of L1 a core, {free} B are free below the "
                 f"lowest L1 buffer (statically allocated circular buffers would clash with L1 buffers)")


def _fused_activation(program_config, activation):
    fused = getattr(program_config, "fused_activation", None) if program_config is not None else None
    return fused if fused is not None else activation


def _matmul_impl(op, input_tensor_a, input_tensor_b, *, bias, transpose_a, transpose_b, memory_config, dtype,
                 program_config, activation, compute_kernel_config, output_tile, optional_output_tensor):
    _check_operand(op, "input_tensor_a", input_tensor_a)
    _check_operand(op, "input_tensor_b", input_tensor_b)
    if bias is not None:
        _check_operand(op, "bias", bias)
    device = on_device(op, input_tensor_a=input_tensor_a, input_tensor_b=input_tensor_b, bias=bias)
    _check_output_tile(op, output_tile)
    out_dtype = _out_dtype(op, dtype if dtype is not None else (
        optional_output_tensor._dtype if optional_output_tensor is not None else None), input_tensor_a._dtype)
    if program_config is not None:
        _, fp32_cfg, _ = kernel_config(compute_kernel_config, input_tensor_a._dtype, input_tensor_b._dtype)
        check_program_config(op, program_config, input_tensor_a, input_tensor_b, transpose_a, transpose_b,
                             out_dtype, fp32_cfg, device)
    plan = _compute_plan(op, input_tensor_a, input_tensor_b, transpose_a, transpose_b, compute_kernel_config)
    activation = _fused_activation(program_config, activation)
    value, pad = _product(op, plan, input_tensor_a, input_tensor_b, bias, transpose_a, transpose_b, activation,
                          device)
    if trace.REPLAYING and optional_output_tensor is None:
        trace.offer_kernel(op, (input_tensor_a, input_tensor_b, bias), device,
                           _replay_kernel(op, plan, transpose_a, transpose_b, activation, out_dtype, device))
    return _deliver(op, device, value, out_dtype, memory_config, pad, optional_output_tensor)


def _product(op: str, plan: tuple, a, b, bias, transpose_a: bool, transpose_b: bool, activation, device) -> tuple:
    """(values before the output's rounding, output padding or None) of a checked matmul / linear."""
    dst = _compute_values(op, plan, a, b, transpose_a, transpose_b, device)
    value, pad = _epilogue(op, dst, bias, activation, plan[4], device)
    return value, (pad if a._pad == 0.0 and b._pad == 0.0 else None)


def _replay_kernel(op: str, plan: tuple, transpose_a: bool, transpose_b: bool, activation, out_dtype: DataType,
                   device):
    """What a trace replay runs of this matmul / linear call on (a, b, bias) (trace.offer_kernel)."""
    def kernel(a, b, bias):
        value, pad = _product(op, plan, a, b, bias, transpose_a, transpose_b, activation, device)
        return stored(value, out_dtype, Layout.TILE, device, pad=pad)
    return kernel


@ttnn_op("matmul", golden=_golden_matmul)
def matmul(input_tensor_a, input_tensor_b, *, transpose_a=False, transpose_b=False, memory_config=None, dtype=None,
           program_config=None, activation=None, compute_kernel_config=None, core_grid=None, output_tile=None,
           optional_output_tensor=None, global_cb=None, sub_device_id=None, prefetcher_pipes=[]):  # noqa: B006
    """Matrix product of two TILE device tensors (batched, broadcasting like real ttnn.matmul)."""
    return _matmul_impl("matmul", input_tensor_a, input_tensor_b, bias=None, transpose_a=transpose_a,
                        transpose_b=transpose_b, memory_config=memory_config, dtype=dtype,
                        program_config=program_config, activation=activation,
                        compute_kernel_config=compute_kernel_config, output_tile=output_tile,
                        optional_output_tensor=optional_output_tensor)


@ttnn_op("linear", golden=_golden_matmul)
def linear(input_tensor_a, input_tensor_b, *, bias=None, transpose_a=False, transpose_b=False, memory_config=None,
           dtype=None, program_config=None, activation=None, compute_kernel_config=None, core_grid=None,
           output_tile=None, optional_output_tensor=None, global_cb=None, sub_device_id=None,
           prefetcher_pipes=[], in0_column_offset=None):  # noqa: B006
    """input_tensor_a @ input_tensor_b + bias, with an optional fused activation."""
    if in0_column_offset is not None:
        fail("linear", "in0_column_offset needs a MatmulMultiCoreReuseMultiCastProgramConfig, which the simulated "
                       "device does not model")
    return _matmul_impl("linear", input_tensor_a, input_tensor_b, bias=bias, transpose_a=transpose_a,
                        transpose_b=transpose_b, memory_config=memory_config, dtype=dtype,
                        program_config=program_config, activation=activation,
                        compute_kernel_config=compute_kernel_config, output_tile=output_tile,
                        optional_output_tensor=optional_output_tensor)


_PRECISION = {DataType.BFLOAT4_B: 0, DataType.BFLOAT8_B: 1, DataType.BFLOAT16: 2, DataType.FLOAT32: 3}


@ttnn_op("addmm", golden=_golden_addmm)
def addmm(input_tensor, mat1_tensor, mat2_tensor, *, alpha=1.0, beta=1.0, memory_config=None, dtype=None,
          program_config=None, compute_kernel_config=None, core_grid=None, output_tile=None,
          optional_output_tensor=None):
    """beta * input_tensor + alpha * (mat1_tensor @ mat2_tensor) for 2-D operands."""
    op = "addmm"
    _check_operand(op, "mat1_tensor", mat1_tensor)
    _check_operand(op, "mat2_tensor", mat2_tensor)
    use_input = beta != 0
    if use_input:
        _check_operand(op, "input_tensor", input_tensor)
    device = on_device(op, input_tensor=input_tensor if use_input else None, mat1_tensor=mat1_tensor,
                       mat2_tensor=mat2_tensor)
    _check_output_tile(op, output_tile)
    for arg, t in (("mat1_tensor", mat1_tensor), ("mat2_tensor", mat2_tensor)):
        if len(t.shape) != 2:
            fail(op, f"{arg} must be 2-dimensional, got shape {list(t.shape)}")
    n, m = mat1_tensor.shape
    m2, p = mat2_tensor.shape
    if m != m2:
        fail(op, f"the inner dimensions do not match: mat1_tensor is {[n, m]}, mat2_tensor is {[m2, p]}")
    if use_input and tuple(input_tensor.shape) != (n, p):
        fail(op, f"input_tensor must have shape {[n, p]}, got {list(input_tensor.shape)}")
    if dtype is None:
        cands = [mat1_tensor._dtype, mat2_tensor._dtype] + ([input_tensor._dtype] if use_input else [])
        dtype = max(cands, key=lambda d: _PRECISION[d])
    out_dtype = _out_dtype(op, dtype, mat1_tensor._dtype)
    dst, fp32_acc, _ = _compute(op, mat1_tensor, mat2_tensor, False, False, compute_kernel_config, device)
    ideal = device.ideal
    value = numerics.dst_store_(dst * float(alpha), fp32_acc, ideal) if alpha != 1.0 else dst
    if use_input:
        c = input_tensor._value.to(torch.float32)
        if beta != 1.0:
            c = numerics.dst_store_(c * float(beta), fp32_acc, ideal)
        value = numerics.dst_store_(value + c, fp32_acc, ideal)
    return _deliver(op, device, value, out_dtype, memory_config, None, optional_output_tensor)
