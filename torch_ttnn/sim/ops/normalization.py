"""Normalizations: softmax, scale_mask_softmax, layer_norm, rms_norm, group_norm, batch_norm.

Hardware numerics (ideal mode computes each op in fp32 and rounds once):

softmax (bf16 model, FACTS.md "Compute numerics"):
  1. ``numeric_stable``: the row max (exact) is subtracted on the FPU; the difference is written to Dst.
  2. exp on the SFPU in fp32, stored to Dst (truncated to bf16 in a 16-bit Dst).
  3. the row sum: a reduce-sum in the matrix unit (scaler 1, HiFi4): 16-element partial sums accumulated in Dst,
     rounded to bf16 (nearest-even) after every step in a 16-bit Dst (torch_ttnn.sim.numerics.fpu_reduce_sum).
     Long rows therefore lose precision: at width 8192 the sum is several percent off.
  4. the reciprocal on the SFPU: Newton-Raphson from the seed 1/ln2 on the mantissa, 2 steps with
     ``math_approx_mode`` (the default) -> 0 .. -3.8% low, 3 steps otherwise (<= 0.15% low)
     (torch_ttnn.sim.numerics.sfpu_reciprocal), stored to Dst.
  5. exps times the reciprocal on the FPU (HiFi4, exact product), rounded into Dst, then packed.
  fp32_dest_acc_en defaults on for FLOAT32 inputs only (then Dst and intermediates are fp32, sources TF32).

layer_norm / rms_norm: the mean (and mean of squares) are reduce-sums with a 1/W scaler (bf16, truncated, for
16-bit inputs); differences, squares, products with rstd, gamma and beta are FPU steps written to Dst; rsqrt is an
SFPU step. Defaults: layer_norm HiFi4, approx off, fp32_dest_acc_en on; rms_norm HiFi4, approx on, fp32 acc off.

group_norm: exact statistics (the kernels' reduction tree across cores is not documented; see group_norm).
batch_norm: inference uses the running statistics; training statistics are the generic reduce's (fp32 Dst).
Then the normalization steps written to Dst as above.

softmax_in_place / scale_mask_softmax_in_place compute the same values and write them into the input's buffer
(no new allocation); ``program_config`` is accepted and ignored.
"""
from __future__ import annotations

import functools
import math
from typing import Optional

import torch

from .. import _native, formats, numerics
from .._op import ttnn_op
from ..types import (DataType, Layout, MathFidelity, ShardOrientation, TensorMemoryLayout)
from ._common import (fail, kernel_config, make_output, offer_values_kernel, on_device, out_memory_config,
                      require_dtype, require_layout, require_rank, require_tensor)

from ._softmax import SoftmaxDefaultProgramConfig, softmax_config, softmax_core

BF16, FP32, BFP8 = DataType.BFLOAT16, DataType.FLOAT32, DataType.BFLOAT8_B
NORM_DTYPES = (BF16, FP32, BFP8)


# ------------------------------------------------------------------------------------------------
# Golden functions
# ------------------------------------------------------------------------------------------------

def _golden_softmax(input_tensor, dim=-1, **_):
    return torch.softmax(input_tensor.float(), dim=-1 if dim is None else dim)


def _golden_scale_mask_softmax(input_tensor, scale=None, mask=None, *_, **__):
    x = input_tensor.float()
    if scale is not None:
        x = x * scale
    if mask is not None:
        x = x + mask
    return torch.softmax(x, dim=-1)


def _vec(p, n):
    return None if p is None else p.reshape(-1)[:n].to(torch.float32)


def _golden_layer_norm(input_tensor, *, epsilon=1e-12, residual_input_tensor=None, weight=None, bias=None, **_):
    x = input_tensor.float()
    if residual_input_tensor is not None:
        x = x + residual_input_tensor.float()
    n = x.shape[-1]
    return torch.nn.functional.layer_norm(x, (n,), _vec(weight, n), _vec(bias, n), eps=epsilon)


def _golden_rms_norm(input_tensor, *, epsilon=1e-12, weight=None, bias=None, residual_input_tensor=None, **_):
    x = input_tensor.float()
    if residual_input_tensor is not None:
        x = x + residual_input_tensor.float()
    n = x.shape[-1]
    y = x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + epsilon)
    if weight is not None:
        y = y * _vec(weight, n)
    if bias is not None:
        y = y + _vec(bias, n)
    return y


def _golden_group_norm(input_tensor, *, num_groups, epsilon=1e-12, weight=None, bias=None, **_):
    x = input_tensor.float()
    c = x.shape[-1]
    y = torch.nn.functional.group_norm(x.permute(0, 3, 1, 2), num_groups, _vec(weight, c), _vec(bias, c),
                                       eps=epsilon)
    return y.permute(0, 2, 3, 1)


def _golden_batch_norm(input, *, running_mean=None, running_var=None, training=False, eps=1e-05, momentum=0.1,
                       weight=None, bias=None, **_):  # noqa: A002
    c = input.shape[1]
    flat = [None if p is None else p.reshape(-1).float() for p in (running_mean, running_var, weight, bias)]
    rm, rv, w, b = flat
    if rm is None and rv is not None:
        rm = torch.zeros(c)
    if rv is None and rm is not None:
        rv = torch.ones(c)
    return torch.nn.functional.batch_norm(input.float(), rm, rv, w, b, training, momentum, eps)


# ------------------------------------------------------------------------------------------------
# Helpers
# ------------------------------------------------------------------------------------------------

def _check_input(op: str, arg: str, t, dtypes=NORM_DTYPES, layouts=(Layout.TILE,)):
    require_tensor(op, arg, t)
    require_layout(op, arg, t, *layouts)
    require_dtype(op, arg, t, dtypes)


def _f32(t) -> torch.Tensor:
    return t._value.to(torch.float32)


@functools.lru_cache(maxsize=256)
def _scaler(s: float, dtype: DataType, ideal: bool) -> float:
    """A scaler tile value (1/W): bf16, truncated on the host, unless the input is FLOAT32."""
    if ideal or dtype == DataType.FLOAT32:
        return float(torch.tensor(s, dtype=torch.float32))
    return float(formats.truncate_bf16(torch.tensor([s], dtype=torch.float32))[0])


# ------------------------------------------------------------------------------------------------
# softmax
# ------------------------------------------------------------------------------------------------

def _softmax_values(op: str, t, dim, compute_kernel_config, numeric_stable, device) -> torch.Tensor:
    return _softmax_compute(op, t, dim, compute_kernel_config, numeric_stable, device)(t)


def _softmax_compute(op: str, t, dim, compute_kernel_config, numeric_stable, device):
    """The checks of a softmax of `t`, and its arithmetic on a tensor's values (for offer_values_kernel)."""
    _check_input(op, "input_tensor", t)
    rank = len(t.shape)
    require_rank(op, "input_tensor", t, 1)
    if not isinstance(dim, int) or not -rank <= dim < rank:
        fail(op, f"dim {dim!r} is out of range for a tensor of rank {rank}")
    d = dim % rank
    fp32_acc, approx = softmax_config(compute_kernel_config, t._dtype)
    ideal = device.ideal

    def compute(t):
        return softmax_core(_f32(t).movedim(d, -1), numeric_stable, fp32_acc, approx, ideal).movedim(-1, d)
    return compute


def _write_in_place(op: str, device, t, y: torch.Tensor):
    """Store `y` (rounded to the input's dtype by the packer) into the input tensor's own buffer."""
    from ._common import round_to
    t._value = round_to(y, t._dtype, device, rounding="packer")
    t._pad = None
    return t


@ttnn_op("softmax", golden=_golden_softmax)
def softmax(input_tensor, dim=-1, *, memory_config=None, compute_kernel_config=None, numeric_stable=True):
    """Softmax along `dim` of a TILE device tensor."""
    op = "softmax"
    device = on_device(op, input_tensor=input_tensor)
    compute = _softmax_compute(op, input_tensor, dim, compute_kernel_config, numeric_stable, device)
    out = make_output(op, device, compute(input_tensor), input_tensor._dtype, Layout.TILE,
                      out_memory_config(memory_config, input_tensor))
    offer_values_kernel(op, compute, (input_tensor,), input_tensor._dtype, Layout.TILE, device)
    return out


@ttnn_op("softmax_in_place", golden=_golden_softmax)
def softmax_in_place(input_tensor, dim=-1, *, program_config=SoftmaxDefaultProgramConfig(), compute_kernel_config=None,
                     numeric_stable=True):
    """Softmax along `dim`, written over the input tensor (which is returned)."""
    op = "softmax_in_place"
    device = on_device(op, input_tensor=input_tensor)
    y = _softmax_values(op, input_tensor, dim, compute_kernel_config, numeric_stable, device)
    return _write_in_place(op, device, input_tensor, y)


def _mask_values(op: str, mask, shape) -> torch.Tensor:
    require_tensor(op, "mask", mask)
    require_dtype(op, "mask", mask, (BF16, BFP8))
    m = _f32(mask)
    w = shape[-1]
    if mask._layout == Layout.ROW_MAJOR:
        # a ROW_MAJOR mask holds one row of the (padded) width as [..., W/32, 32] sticks
        if m.shape[-1] != 32 or any(s != 1 for s in m.shape[:-2]) or m.dim() < 2:
            fail(op, f"a ROW_MAJOR mask must be [1, ..., 1, Wt, 32] (one padded row as 32-wide sticks), "
                     f"got {list(m.shape)}")
        flat = m.reshape(-1)
        if flat.numel() != -(-w // 32) * 32:
            fail(op, f"a ROW_MAJOR mask of {flat.numel()} values does not cover the padded width of {w}")
        m = flat[:w].reshape(*([1] * (len(shape) - 1)), w)
    try:
        torch.broadcast_shapes(tuple(m.shape), tuple(shape))
    except RuntimeError:
        fail(op, f"mask of shape {list(mask.shape)} does not broadcast to input_tensor {list(shape)}")
    return m


def _scale_mask_softmax_values(op, t, scale, mask, compute_kernel_config, numeric_stable, device):
    _check_input(op, "input_tensor", t)
    require_rank(op, "input_tensor", t, 1)
    fp32_acc, approx = softmax_config(compute_kernel_config, t._dtype)
    ideal = device.ideal
    x = _f32(t)
    if scale is not None:
        x = numerics.dst_store_(x * float(scale), fp32_acc, ideal)
    if mask is not None:
        x = numerics.dst_store_(x + _mask_values(op, mask, t.shape), fp32_acc, ideal)
    return softmax_core(x, numeric_stable, fp32_acc, approx, ideal)


@ttnn_op("scale_mask_softmax", golden=_golden_scale_mask_softmax)
def scale_mask_softmax(input_tensor, scale=None, mask=None, *, memory_config=None, is_causal_mask=False,
                       compute_kernel_config=None, numeric_stable=True):
    """softmax(input_tensor * scale + mask) along the last dim."""
    op = "scale_mask_softmax"
    device = on_device(op, input_tensor=input_tensor, mask=mask)
    y = _scale_mask_softmax_values(op, input_tensor, scale, mask, compute_kernel_config, numeric_stable, device)
    return make_output(op, device, y, input_tensor._dtype, Layout.TILE, out_memory_config(memory_config, input_tensor))


@ttnn_op("scale_mask_softmax_in_place", golden=_golden_scale_mask_softmax)
def scale_mask_softmax_in_place(input_tensor, scale=None, mask=None, *, program_config=SoftmaxDefaultProgramConfig(),
                                is_causal_mask=False, compute_kernel_config=None, numeric_stable=False):
    """softmax(input_tensor * scale + mask) along the last dim, written over the input tensor (returned)."""
    op = "scale_mask_softmax_in_place"
    device = on_device(op, input_tensor=input_tensor, mask=mask)
    y = _scale_mask_softmax_values(op, input_tensor, scale, mask, compute_kernel_config, numeric_stable, device)
    return _write_in_place(op, device, input_tensor, y)


# ------------------------------------------------------------------------------------------------
# layer_norm, rms_norm
# ------------------------------------------------------------------------------------------------

def _gamma_beta(op: str, arg: str, p, width: int) -> Optional[torch.Tensor]:
    if p is None:
        return None
    require_tensor(op, arg, p)
    require_dtype(op, arg, p, (BF16, FP32))
    shape = tuple(p.shape)
    if p._layout == Layout.TILE:
        if len(shape) == 0 or shape[-1] != width or math.prod(shape[:-1]) != 1:
            fail(op, f"{arg} in TILE layout must be a single row of width {width} (e.g. [1, {width}]), "
                     f"got {list(p.shape)}")
    elif len(shape) == 0 or shape[-1] != 32 or math.prod(shape) != -(-width // 32) * 32:
        fail(op, f"{arg} in ROW_MAJOR layout must be [..., {-(-width // 32)}, 32] (the width {width} as 32-wide "
                 f"sticks), got {list(p.shape)}")
    return _param_values(p, width)


def _param_values(p, width: int) -> Optional[torch.Tensor]:
    """The `width` values of a norm's weight or bias (checked by _gamma_beta), None for None."""
    if p is None:
        return None
    v = _f32(p)
    return v.reshape(width) if p._layout == Layout.TILE else v.reshape(-1)[:width]


def _norm(op: str, rms: bool, input_tensor, epsilon, weight, bias, residual_input_tensor, memory_config,
          compute_kernel_config):
    device = on_device(op, input_tensor=input_tensor, weight=weight, bias=bias,
                       residual_input_tensor=residual_input_tensor)
    t = input_tensor
    _check_input(op, "input_tensor", t)
    require_rank(op, "input_tensor", t, 1)
    w = t.shape[-1]
    _gamma_beta(op, "weight", weight, w)
    _gamma_beta(op, "bias", bias, w)
    fid, fp32_acc, _ = kernel_config(compute_kernel_config, t._dtype, fidelity_default=MathFidelity.HiFi4,
                                     fp32_acc_default=not rms)
    ideal = device.ideal
    x_bf16 = t._dtype in (BF16, BFP8)           # x holds bf16 values (numerics.Slices)
    if residual_input_tensor is not None:
        _check_input(op, "residual_input_tensor", residual_input_tensor)
        if tuple(residual_input_tensor.shape) != tuple(t.shape):
            fail(op, f"residual_input_tensor {list(residual_input_tensor.shape)} must match input_tensor "
                     f"{list(t.shape)}")
        x_bf16 = not fp32_acc
    winv = _scaler(1.0 / w, t._dtype, False) if w else 0.0

    def compute(t, residual, weight, bias):
        gamma, beta = _param_values(weight, w), _param_values(bias, w)
        x = _f32(t)
        if residual is not None:
            x = numerics.dst_store_(x + _f32(residual), fp32_acc, ideal)
        if ideal:
            xc = x if rms else x - x.mean(-1, keepdim=True)
            y = xc * torch.rsqrt((xc * xc).mean(-1, keepdim=True) + epsilon)
            if gamma is not None:
                y = y * gamma
            if beta is not None:
                y = y + beta
            return y
        if rms:
            xc = x
        else:
            mu = numerics.fpu_reduce_sum(x, [-1], winv, fid, fp32_acc, input_operand="A", bf16_exact=x_bf16)
            xc = numerics.dst_store_(x - mu, fp32_acc)
        sq = numerics.dst_store_(xc * xc, fp32_acc)
        var = numerics.fpu_reduce_sum(sq, [-1], winv, fid, fp32_acc, input_operand="A", bf16_exact=not fp32_acc)
        var = numerics.dst_store_(var + epsilon, fp32_acc)
        rstd = numerics.sfpu_store(torch.rsqrt(var), fp32_acc)
        y = numerics.dst_store_(xc * rstd, fp32_acc)
        if gamma is not None:
            y = numerics.dst_store_(y * gamma, fp32_acc)
        if beta is not None:
            y = numerics.dst_store_(y + beta, fp32_acc)
        return y
    tensors = (input_tensor, residual_input_tensor, weight, bias)
    out = make_output(op, device, compute(*tensors), t._dtype, Layout.TILE, out_memory_config(memory_config, t))
    offer_values_kernel(op, compute, tensors, t._dtype, Layout.TILE, device)
    return out


@ttnn_op("layer_norm", golden=_golden_layer_norm)
def layer_norm(input_tensor, *, epsilon=1e-12, weight=None, bias=None, residual_input_tensor=None,
               memory_config=None, program_config=None, compute_kernel_config=None, recip_tensor=None):
    """Layer norm over the last dim: (x - mean) / sqrt(var + epsilon) * weight + bias."""
    return _norm("layer_norm", False, input_tensor, epsilon, weight, bias, residual_input_tensor, memory_config,
                 compute_kernel_config)


@ttnn_op("rms_norm", golden=_golden_rms_norm)
def rms_norm(input_tensor, *, epsilon=1e-12, weight=None, bias=None, residual_input_tensor=None,
             memory_config=None, program_config=None, compute_kernel_config=None):
    """RMS norm over the last dim: x / sqrt(mean(x^2) + epsilon) * weight + bias."""
    return _norm("rms_norm", True, input_tensor, epsilon, weight, bias, residual_input_tensor, memory_config,
                 compute_kernel_config)


# ------------------------------------------------------------------------------------------------
# group_norm
# ------------------------------------------------------------------------------------------------

def _cores_across_channel(memory_config, core_grid) -> int:
    if memory_config is None or core_grid is None or not memory_config.is_sharded():
        return 1
    if memory_config.memory_layout == TensorMemoryLayout.BLOCK_SHARDED:
        spec = memory_config.shard_spec
        orientation = spec.orientation if spec is not None else ShardOrientation.ROW_MAJOR
        return core_grid.x if orientation == ShardOrientation.ROW_MAJOR else core_grid.y
    return 1


def _group_param(op: str, arg: str, p, c: int, ncores: int) -> Optional[torch.Tensor]:
    if p is None:
        return None
    require_tensor(op, arg, p)
    require_layout(op, arg, p, Layout.ROW_MAJOR)
    require_dtype(op, arg, p, (BF16, FP32))
    v = _f32(p).reshape(-1)
    if v.numel() % ncores or v.numel() // ncores < c // ncores:
        fail(op, f"{arg} of shape {list(p.shape)} does not hold {c} channels over {ncores} core(s) "
                 "(prepare it with ttnn.create_group_norm_weight_bias_rm)")
    return v.reshape(ncores, -1)[:, : c // ncores].reshape(-1)


@ttnn_op("group_norm", golden=_golden_group_norm)
def group_norm(input_tensor, *, num_groups, epsilon=1e-12, input_mask=None, weight=None, bias=None,
               memory_config=None, dtype=None, core_grid=None, inplace=True, output_layout=None,
               num_out_blocks=None, compute_kernel_config=None, negative_mask=None, use_welford=False):
    """Group norm of an NHWC-flattened [N, 1, H*W, C] input, groups formed over C."""
    op = "group_norm"
    device = on_device(op, input_tensor=input_tensor, input_mask=input_mask, weight=weight, bias=bias)
    t = input_tensor
    require_dtype(op, "input_tensor", t, (BF16, FP32))
    sharded = t.is_sharded()
    if not sharded:
        require_layout(op, "input_tensor", t, Layout.TILE)
    shape = list(t.shape)
    if len(shape) != 4 or shape[1] != 1:
        fail(op, f"input_tensor must be [N, 1, H*W, C] (NHWC flattened), got {shape}")
    n, _, hw, c = shape
    if not isinstance(num_groups, int) or num_groups <= 0:
        fail(op, f"num_groups must be a positive int, got {num_groups!r}")
    if c % 32 or c % num_groups:
        fail(op, f"C={c} must be a multiple of 32 and divisible by num_groups={num_groups}")
    if t._layout == Layout.ROW_MAJOR and hw % 32:
        fail(op, f"a ROW_MAJOR input needs H*W a multiple of 32, got {hw}")
    if dtype is not None and DataType(dtype) != t._dtype:
        fail(op, f"dtype {DataType(dtype).name} must equal the input dtype {t._dtype.name}")
    if weight is not None and bias is not None and weight._dtype != bias._dtype:
        fail(op, "weight and bias must share the same dtype")
    if input_mask is not None:
        require_layout(op, "input_mask", input_mask, Layout.TILE)
        require_dtype(op, "input_mask", input_mask, (BF16, BFP8))
        ms = list(input_mask.shape)
        if len(ms) != 4 or ms[1] not in (num_groups, 2 * num_groups) or ms[2] != 32 or ms[3] % 32:
            fail(op, f"input_mask must be [1, num_groups, 32, 32*k] (see ttnn.create_group_norm_input_mask), got {ms}")
    ncores = _cores_across_channel(memory_config or t._memory_config, core_grid)
    gamma = _group_param(op, "weight", weight, c, ncores)
    beta = _group_param(op, "bias", bias, c, ncores)
    _, fp32_acc, _ = kernel_config(compute_kernel_config, t._dtype, fidelity_default=MathFidelity.HiFi4)
    ideal = device.ideal
    x = _f32(t)
    g = x.reshape(n, hw, num_groups, c // num_groups)
    # Statistics: exact (float64, rounded to fp32). The kernels reduce each core's block of tiles and combine
    # the partial sums across cores (or run Welford's algorithm with use_welford=True); the precision of that
    # reduction tree is not documented, so it is not modelled: a sequential 16-bit Dst chain over a whole
    # group would be far worse than the hardware, and exact statistics are at most slightly better.
    gd = g.to(torch.float64)
    mu = gd.mean(dim=(1, 3), keepdim=True)
    var = ((gd - mu) ** 2).mean(dim=(1, 3), keepdim=True)
    mu, var = mu.to(torch.float32), var.to(torch.float32)
    if ideal:
        y = ((g - mu) / torch.sqrt(var + epsilon)).reshape(n, 1, hw, c)
        if gamma is not None:
            y = y * gamma
        if beta is not None:
            y = y + beta
    else:
        xc = numerics.dst_store_(g - mu, fp32_acc)
        rstd = numerics.sfpu_store(torch.rsqrt(numerics.dst_store_(var + epsilon, fp32_acc)), fp32_acc)
        y = numerics.dst_store_(xc * rstd, fp32_acc).reshape(n, 1, hw, c)
        if gamma is not None:
            y = numerics.dst_store_(y * gamma, fp32_acc)
        if beta is not None:
            y = numerics.dst_store_(y + beta, fp32_acc)
    layout = t._layout if output_layout is None else Layout(output_layout)
    return make_output(op, device, y, t._dtype, layout, out_memory_config(memory_config, t))


# ------------------------------------------------------------------------------------------------
# batch_norm
# ------------------------------------------------------------------------------------------------

def _channel_param(op: str, arg: str, p, c: int, dtypes=(BF16, FP32)):
    if p is None:
        return None
    require_tensor(op, arg, p)
    require_layout(op, arg, p, Layout.TILE)
    require_dtype(op, arg, p, dtypes)
    if list(p.shape) != [1, c, 1, 1]:
        fail(op, f"{arg} must have shape [1, {c}, 1, 1], got {list(p.shape)}")
    return _f32(p).reshape(1, c, 1, 1)


@ttnn_op("batch_norm", golden=_golden_batch_norm)
def batch_norm(input, *, running_mean=None, running_var=None, training=False, eps=1e-05, momentum=0.1,  # noqa: A002
               weight=None, bias=None, output=None, memory_config=None, compute_kernel_config=None):
    """Batch norm of an NCHW TILE tensor over each channel (inference: running stats; training: batch stats)."""
    op = "batch_norm"
    device = on_device(op, input=input, running_mean=running_mean, running_var=running_var, weight=weight,
                       bias=bias, output=output)
    t = input
    _check_input(op, "input", t, dtypes=(BF16, FP32))
    if len(t.shape) != 4:
        fail(op, f"input must be rank 4 [N, C, H, W], got {list(t.shape)}")
    c = t.shape[1]
    params = {"running_mean": running_mean, "running_var": running_var, "weight": weight, "bias": bias}
    given = [p for p in params.values() if p is not None]
    if len({p._dtype for p in given}) > 1:
        fail(op, "running_mean, running_var, weight and bias must share the same dtype")
    rm, rv, w, b = (_channel_param(op, k, p, c) for k, p in params.items())
    if not training and (rm is None or rv is None):
        fail(op, "inference mode (training=False) needs running_mean and running_var")
    _, fp32_acc, _ = kernel_config(compute_kernel_config, t._dtype, fidelity_default=MathFidelity.HiFi4)
    ideal = device.ideal
    x = _f32(t)
    if training:
        count = x.numel() // c
        if ideal:
            xd = x.to(torch.float64)
            mean = xd.mean(dim=(0, 2, 3), keepdim=True)
            var = ((xd - mean) ** 2).mean(dim=(0, 2, 3), keepdim=True)
            mean, var = mean.to(torch.float32), var.to(torch.float32)
        else:
            # the batch statistics are reductions over N, H, W with the generic reduce's fp32 Dst (tt-metal
            # PR #15665); the deviations are Dst-rounded before they are squared and summed
            inv = 1.0 / count
            mean = numerics.fpu_reduce_sum(x, [0, 2, 3], inv, MathFidelity.HiFi4, True)
            dev = numerics.dst_store_(x - mean, fp32_acc)
            var = numerics.fpu_reduce_sum(numerics.dst_store_(dev * dev, fp32_acc), [0, 2, 3], inv,
                                          MathFidelity.HiFi4, True)
        unbiased = var * count / (count - 1) if count > 1 else var
        for arg, p, new in (("running_mean", running_mean, mean), ("running_var", running_var, unbiased)):
            if p is not None:
                upd = (1.0 - momentum) * _f32(p) + momentum * new
                from ._common import round_to
                p._value = round_to(upd, p._dtype, device)
    else:
        mean, var = rm, rv
    if ideal:
        y = (x - mean) / torch.sqrt(var + eps)
        if w is not None:
            y = y * w
        if b is not None:
            y = y + b
    else:
        rstd = numerics.sfpu_store(torch.rsqrt(numerics.dst_store_(var + eps, fp32_acc)), fp32_acc)
        y = None
        if x.numel() and tuple(mean.shape) == (1, c, 1, 1):     # the same steps in one pass
            y = _native.channel_norm(x, mean, rstd, w, b, round16=not fp32_acc)
        if y is None:
            xc = numerics.dst_store_(x - mean, fp32_acc)
            y = numerics.dst_store_(xc * rstd, fp32_acc)
            if w is not None:
                y = numerics.dst_store_(y * w, fp32_acc)
            if b is not None:
                y = numerics.dst_store_(y + b, fp32_acc)
    res = make_output(op, device, y, t._dtype, Layout.TILE, out_memory_config(memory_config, t))
    if output is not None:
        _check_input(op, "output", output, dtypes=(BF16, FP32))
        if tuple(output.shape) != tuple(t.shape) or output._dtype != t._dtype:
            fail(op, f"output must be {list(t.shape)} {t._dtype.name}, got {list(output.shape)} "
                     f"{output._dtype.name}")
        output._value, output._pad = res._value, res._pad
        from .core import deallocate
        deallocate(res)
        return output
    return res
