"""Pooling and upsampling: max_pool2d, avg_pool2d, adaptive_avg_pool2d, adaptive_max_pool2d, global_avg_pool2d,
upsample.

Conventions of real ttnn 0.81.1 (docstrings and tt-metal pool sources):

- max_pool2d / avg_pool2d take NHWC activations "in [NHW, C] or [N, H, W, C] format" on the device:
  ``[1, 1, N*H*W, C]``, ``[N, H, W, C]`` or ``[N*H*W, C]``; the output is ``[1, 1, N*OH*OW, C]`` in
  ``output_layout`` (default ROW_MAJOR) and ``dtype`` (default BFLOAT16; BFLOAT16, BFLOAT8_B, BFLOAT4_B, block
  floats in TILE only). Inputs are BFLOAT16 (ROW_MAJOR or TILE) or BFLOAT8_B/BFLOAT4_B (TILE).
  ``return_indices`` (max only) adds a UINT16 ROW_MAJOR tensor of flat h*W+w input positions.
- The sliding-window (halo) config tensors live in L1_SMALL (DRAM with ``config_tensor_in_dram``); on a device
  opened with ``l1_small_size=0`` the op fails with the allocator's out-of-memory error for L1_SMALL.
- adaptive pools compute kernel/stride/padding like tt-metal (uniform windows; borders padded) and refuse the
  output sizes tt-metal refuses; then run avg (count_include_pad=False) / max pooling.
- global_avg_pool2d (a Python function of real ttnn wrapping avg_pool2d's global fast path, no L1_SMALL):
  rank 2 [H, W], 3 [H, W, C] or 4 [N, H, W, C] NHWC input; output (N, 1, 1, C) in TILE, dtype BFLOAT16 by
  default.
- upsample: input [N, H, W, C]; scale_factor int, float or a pair; mode "nearest" or "bilinear" (integer scales
  only); output [N, H*sh, W*sw, C] with the input's layout and dtype. Bilinear uses the halo (L1_SMALL).
- Output placement: ``memory_config``, else interleaved in the input's buffer type (hardware shards pool
  outputs in L1; the simulator keeps them interleaved).

Numerics: max pooling is exact. Average pooling is a reduce on the matrix unit: the window values are summed
(fp32 here) and multiplied by the bf16 scalar 1/divisor that tt-metal builds by *truncating* the fp32
reciprocal (``bfloat16::truncate``, e.g. 1/9 -> 0.11083984); the result is rounded by the packer rule of the
output dtype. Bilinear upsampling is computed in fp32 and rounded by the packer rule (the kernel's bf16
weights are not modelled). The ideal numerics mode uses the exact reciprocal and round-to-nearest-even.
"""
from __future__ import annotations

import contextlib
import logging

import torch
import torch.nn.functional as F

from .. import formats
from .._op import ttnn_op
from ..types import DataType, Layout, MemoryConfig, Op2DSliceConfig, TensorMemoryLayout
from ._common import fail, make_output, on_device, out_memory_config
from .conv import out_dim, pad4, pair, sliding_window_config_buffer

log = logging.getLogger(__name__)

_POOL_INPUT_DTYPES = (DataType.BFLOAT16, DataType.BFLOAT8_B, DataType.BFLOAT4_B)
_POOL_OUTPUT_DTYPES = (DataType.BFLOAT16, DataType.BFLOAT8_B, DataType.BFLOAT4_B)


def _pool_input(op: str, t, n: int, h: int, w: int, c: int) -> torch.Tensor:
    """The NCHW fp32 values of an NHWC pool input."""
    shape = tuple(t.shape)
    if shape not in ((1, 1, n * h * w, c), (n, h, w, c), (n * h * w, c)):
        fail(op, f"input_tensor has shape {list(shape)}, expected [1, 1, N*H*W, C] = {[1, 1, n * h * w, c]}, "
                 f"[N, H, W, C] = {[n, h, w, c]} or [N*H*W, C]")
    return t._value.to(torch.float32).reshape(n, h, w, c).permute(0, 3, 1, 2)


def _flat(y: torch.Tensor) -> torch.Tensor:
    n, c, oh, ow = y.shape
    return y.permute(0, 2, 3, 1).reshape(1, 1, n * oh * ow, c).contiguous()


def _avg_scalar(divisor: torch.Tensor, ideal: bool) -> torch.Tensor:
    """The reduce scalar 1/divisor as tt-metal packs it: fp32 reciprocal truncated to bf16."""
    r = 1.0 / divisor.to(torch.float32)
    return r if ideal else formats.truncate_bf16(r)


def _pool2d(op: str, kind: str, input_tensor, batch_size, input_h, input_w, channels, kernel_size, stride,
            padding, dilation, ceil_mode, count_include_pad, divisor_override, memory_config, deallocate_input,
            return_indices, dtype, output_layout, config_tensor_in_dram, dram_slice_config=None):
    device = on_device(op, input_tensor=input_tensor)
    n, h, w, c = int(batch_size), int(input_h), int(input_w), int(channels)
    if min(n, h, w, c) <= 0:
        fail(op, f"batch_size, input_h, input_w and channels must be positive, got {[n, h, w, c]}")
    if input_tensor._dtype not in _POOL_INPUT_DTYPES:
        fail(op, f"input_tensor has dtype {input_tensor._dtype.name}; only BFLOAT16 (or BFLOAT8_B/BFLOAT4_B in "
                 f"TILE) is supported")
    dtype = DataType(dtype)
    output_layout = Layout(output_layout)
    if dtype not in _POOL_OUTPUT_DTYPES:
        fail(op, "Currently only BFLOAT16, BFLOAT8_B, and BFLOAT4_B output data formats are supported")
    if dtype in (DataType.BFLOAT8_B, DataType.BFLOAT4_B) and output_layout == Layout.ROW_MAJOR:
        fail(op, "BFLOAT8_B/BFLOAT4_B output data format is not supported with ROW_MAJOR layout")
    kh, kw = pair(op, "kernel_size", kernel_size)
    sh, sw = pair(op, "stride", stride)
    dh, dw = pair(op, "dilation", dilation)
    pt, pb, pl, pr = pad4(op, padding)
    if kh <= 0 or kw <= 0 or sh <= 0 or sw <= 0 or dh <= 0 or dw <= 0 or min(pt, pb, pl, pr) < 0:
        fail(op, "kernel, stride and dilation must be positive and padding non-negative")
    if pt > kh // 2 or pb > kh // 2 or pl > kw // 2:
        fail(op, f"Pool2D: Padding ({pt}, {pb}, {pl}) should not exceed half of kernel size ({kh}, {kw})")
    if dh * (kh - 1) + 1 > h + pt + pb or dw * (kw - 1) + 1 > w + pl + pr:
        fail(op, f"Pool2D: Effective kernel size cannot exceed padded input size ({h + pt + pb}, {w + pl + pr})")
    if return_indices:
        if kind != "max":
            fail(op, "return_indices is only supported for max pooling")
        if h * w > 65535:
            fail(op, f"Input HW {h * w} will overflow uint16 indices max 65535")
        if kh * kw > 32:
            fail(op, f"only kernel sizes less than or equal to 32 are supported, got {kh}x{kw}")
        if output_layout != Layout.ROW_MAJOR:
            fail(op, "Only ROW_MAJOR supported when return_indices is true")
    x = _pool_input(op, input_tensor, n, h, w, c)
    oh = out_dim(h, kh, sh, pt, pb, dh, ceil_mode)
    ow = out_dim(w, kw, sw, pl, pr, dw, ceil_mode)
    if oh <= 0 or ow <= 0:
        fail(op, f"the output would be empty ({oh}x{ow})")

    # torch pads symmetrically: pad asymmetric cases explicitly and let torch handle the rest
    sym = pt == pb and pl == pr
    if kind == "max":
        xp = x if sym else F.pad(x, (pl, pr, pt, pb), value=float("-inf"))
        tpad = (pt, pl) if sym else (0, 0)
    else:
        xp = x if sym else F.pad(x, (pl, pr, pt, pb), value=0.0)
        tpad = (pt, pl) if sym else (0, 0)

    mc = out_memory_config(memory_config, input_tensor)
    sliced = (dram_slice_config is not None and Op2DSliceConfig.SliceTypeEnum(dram_slice_config.slice_type)
              != Op2DSliceConfig.SliceTypeEnum.L1Full)
    with sliding_window_config_buffer(device, n * oh * ow, bool(config_tensor_in_dram), sliced=sliced):
        if kind == "max":
            y, idx = F.max_pool2d(xp, (kh, kw), (sh, sw), tpad, (dh, dw), ceil_mode, return_indices=True)
            y = y[:, :, :oh, :ow]
            out = make_output(op, device, _flat(y), dtype, output_layout, mc, rounding="packer")
            if return_indices:
                idx = idx[:, :, :oh, :ow]
                if not sym:  # indices into the explicitly padded plane -> into the input plane
                    wp = w + pl + pr
                    idx = (idx // wp - pt) * w + (idx % wp - pl)
                ind = make_output(op, device, _flat(idx), DataType.UINT16, Layout.ROW_MAJOR, mc)
        else:
            ones = torch.ones(1, 1, h, w)
            onesp = ones if sym else F.pad(ones, (pl, pr, pt, pb))
            # window sums, and the divisor per output position (torch's count rules)
            sums = F.avg_pool2d(xp, (kh, kw), (sh, sw), tpad, ceil_mode, True, divisor_override=1)
            if divisor_override is not None:
                div = torch.full((1, 1, sums.shape[2], sums.shape[3]), float(divisor_override))
            elif sym:
                cnt = F.avg_pool2d(onesp, (kh, kw), (sh, sw), tpad, ceil_mode, True, divisor_override=1)
                frac = F.avg_pool2d(onesp, (kh, kw), (sh, sw), tpad, ceil_mode, bool(count_include_pad))
                div = torch.round(cnt / frac)
            else:
                if count_include_pad:
                    # explicit padding counts as window area (torch semantics of padded input)
                    valid = F.avg_pool2d(torch.ones_like(onesp), (kh, kw), (sh, sw), 0, ceil_mode, True,
                                         divisor_override=1)
                else:
                    valid = F.avg_pool2d(onesp, (kh, kw), (sh, sw), 0, ceil_mode, True, divisor_override=1)
                div = valid
            sums, div = sums[:, :, :oh, :ow], div[:, :, :oh, :ow]
            y = sums * _avg_scalar(div, device.ideal)
            out = make_output(op, device, _flat(y), dtype, output_layout, mc, rounding="packer")
    if deallocate_input and input_tensor.is_sharded():
        input_tensor.deallocate()
    if return_indices:
        return out, ind
    return out


def _golden_pool_input(input_tensor, batch_size, input_h, input_w, channels):
    return input_tensor.reshape(batch_size, input_h, input_w, channels).permute(0, 3, 1, 2).float()


def _golden_pool_pad(x, padding, fill):
    pt, pb, pl, pr = pad4("pool", padding)
    return F.pad(x, (pl, pr, pt, pb), value=fill)


def _max_pool2d_golden(input_tensor, batch_size, input_h, input_w, channels, kernel_size, stride, padding,
                       dilation, ceil_mode=False, return_indices=False, **_):
    x = _golden_pool_input(input_tensor, batch_size, input_h, input_w, channels)
    pt, pb, pl, pr = pad4("max_pool2d", padding)
    if pt == pb and pl == pr:
        y, idx = F.max_pool2d(x, kernel_size, stride, (pt, pl), dilation, ceil_mode, return_indices=True)
    else:
        y, idx = F.max_pool2d(_golden_pool_pad(x, padding, float("-inf")), kernel_size, stride, 0, dilation,
                              ceil_mode, return_indices=True)
    return (_flat(y), _flat(idx)) if return_indices else _flat(y)


def _avg_pool2d_golden(input_tensor, batch_size, input_h, input_w, channels, kernel_size, stride, padding,
                       ceil_mode=False, count_include_pad=True, divisor_override=None, **_):
    x = _golden_pool_input(input_tensor, batch_size, input_h, input_w, channels)
    pt, pb, pl, pr = pad4("avg_pool2d", padding)
    if pt == pb and pl == pr:
        y = F.avg_pool2d(x, kernel_size, stride, (pt, pl), ceil_mode, count_include_pad, divisor_override)
    else:
        y = F.avg_pool2d(_golden_pool_pad(x, padding, 0.0), kernel_size, stride, 0, ceil_mode, True,
                         divisor_override)
    return _flat(y)


@ttnn_op("max_pool2d", golden=_max_pool2d_golden)
def max_pool2d(input_tensor, batch_size, input_h, input_w, channels, kernel_size, stride, padding, dilation,
               ceil_mode=False, *, memory_config=None, dram_slice_config=None, applied_shard_scheme=None,
               deallocate_input=False, reallocate_halo_output=True, return_indices=False,
               dtype=DataType.BFLOAT16, output_layout=Layout.ROW_MAJOR, config_tensor_in_dram=False):
    """Max pooling of NHWC activations; output [1, 1, N*OH*OW, C] (exact)."""
    return _pool2d("max_pool2d", "max", input_tensor, batch_size, input_h, input_w, channels, kernel_size, stride,
                   padding, dilation, ceil_mode, True, None, memory_config, deallocate_input, return_indices, dtype,
                   output_layout, config_tensor_in_dram, dram_slice_config)


@ttnn_op("avg_pool2d", golden=_avg_pool2d_golden)
def avg_pool2d(input_tensor, batch_size, input_h, input_w, channels, kernel_size, stride, padding, ceil_mode=False,
               count_include_pad=True, divisor_override=None, *, memory_config=None, dram_slice_config=None,
               applied_shard_scheme=None, compute_kernel_config=None, deallocate_input=False,
               reallocate_halo_output=True, dtype=DataType.BFLOAT16, output_layout=Layout.ROW_MAJOR,
               config_tensor_in_dram=False):
    """Average pooling of NHWC activations; output [1, 1, N*OH*OW, C] (sum times the truncated-bf16 1/divisor)."""
    return _pool2d("avg_pool2d", "avg", input_tensor, batch_size, input_h, input_w, channels, kernel_size, stride,
                   padding, (1, 1), ceil_mode, count_include_pad, divisor_override, memory_config, deallocate_input,
                   False, dtype, output_layout, config_tensor_in_dram, dram_slice_config)


# ------------------------------------------------------------------------------------------------
# Adaptive pools: uniform kernel/stride/padding as tt-metal computes them
# ------------------------------------------------------------------------------------------------

def _adaptive_kernels(size: int, out: int) -> list[int]:
    return [((i + 1) * size + out - 1) // out - (i * size) // out for i in range(out)]


def _middle_uniform(k: list[int]) -> bool:
    return len(k) <= 2 or all(v == k[1] for v in k[1:-1])


def _adaptive_params(op: str, h: int, w: int, oh: int, ow: int):
    """kernel, stride, (top, bottom, left, right) padding of tt-metal's adaptive pooling; refuses the patterns
    tt-metal refuses (middle windows of unequal size, or border windows larger than the middle ones)."""
    if oh <= 0 or ow <= 0:
        fail(op, f"output_size must be positive, got {[oh, ow]}")
    hk, wk = _adaptive_kernels(h, oh), _adaptive_kernels(w, ow)
    for name, k in (("Height", hk), ("Width", wk)):
        if not _middle_uniform(k) or (len(k) > 2 and (k[0] > k[1] or k[-1] > k[1])):
            fail(op, f"Adaptive pooling configuration not supported. {name} kernel pattern {k} cannot be made "
                     f"uniform with padding. Input shape: ({h},{w}), Output shape: ({oh},{ow}).")
    base_kernel, base_stride = (-(-h // oh), -(-w // ow)), (h // oh, w // ow)
    if all(v == hk[0] for v in hk) and all(v == wk[0] for v in wk):
        kernel, stride, pads = base_kernel, base_stride, (0, 0, 0, 0)
    else:
        kernel, stride, pads = [], [], []
        for k, bk, bs in ((hk, base_kernel[0], base_stride[0]), (wk, base_kernel[1], base_stride[1])):
            kernel.append(k[1] if len(k) >= 3 else bk)
            s, before, after = bs, 0, 0
            if len(k) >= 3 and (k[0] < k[1] or k[-1] < k[1]):
                s = k[1] - 1
                before = k[1] - k[0] if k[0] < k[1] else 0
                after = k[1] - k[-1] if k[-1] < k[1] else 0
            stride.append(s)
            pads += [before, after]
        kernel, stride, pads = tuple(kernel), tuple(stride), tuple(pads)
        fo_h = (h + pads[0] + pads[1] - kernel[0]) // stride[0] + 1 if stride[0] else -1
        fo_w = (w + pads[2] + pads[3] - kernel[1]) // stride[1] + 1 if stride[1] else -1
        if (fo_h, fo_w) != (oh, ow):
            kernel, stride, pads = base_kernel, base_stride, (0, 0, 0, 0)
    if min(stride) <= 0:
        fail(op, f"Adaptive pooling configuration not supported. Input shape: ({h},{w}), "
                 f"Output shape: ({oh},{ow}).")
    return kernel, stride, pads


def _adaptive(op: str, kind: str, input_tensor, batch_size, input_h, input_w, channels, output_size, memory_config,
              deallocate_input, dram_slice_config):
    oh, ow = pair(op, "output_size", output_size)
    kernel, stride, pads = _adaptive_params(op, int(input_h), int(input_w), oh, ow)
    return _pool2d(op, kind, input_tensor, batch_size, input_h, input_w, channels, kernel, stride, pads, (1, 1),
                   False, False, None, memory_config, deallocate_input, False, DataType.BFLOAT16, Layout.ROW_MAJOR,
                   False, dram_slice_config)


def _adaptive_avg_golden(input_tensor, batch_size, input_h, input_w, channels, output_size, **_):
    x = _golden_pool_input(input_tensor, batch_size, input_h, input_w, channels)
    return _flat(F.adaptive_avg_pool2d(x, output_size))


def _adaptive_max_golden(input_tensor, batch_size, input_h, input_w, channels, output_size, **_):
    x = _golden_pool_input(input_tensor, batch_size, input_h, input_w, channels)
    return _flat(F.adaptive_max_pool2d(x, output_size))


@ttnn_op("adaptive_avg_pool2d", golden=_adaptive_avg_golden)
def adaptive_avg_pool2d(input_tensor, batch_size, input_h, input_w, channels, output_size, *, memory_config=None,
                        dram_slice_config=None, applied_shard_scheme=None, compute_kernel_config=None,
                        deallocate_input=False, reallocate_output=True):
    """Adaptive average pooling of [1, 1, N*H*W, C] to output_size; output [1, 1, N*OH*OW, C] BFLOAT16 ROW_MAJOR."""
    return _adaptive("adaptive_avg_pool2d", "avg", input_tensor, batch_size, input_h, input_w, channels, output_size,
                     memory_config, deallocate_input, dram_slice_config)


@ttnn_op("adaptive_max_pool2d", golden=_adaptive_max_golden)
def adaptive_max_pool2d(input_tensor, batch_size, input_h, input_w, channels, output_size, *, memory_config=None,
                        dram_slice_config=None, applied_shard_scheme=None, deallocate_input=False,
                        reallocate_output=True):
    """Adaptive max pooling of [1, 1, N*H*W, C] to output_size; output [1, 1, N*OH*OW, C] BFLOAT16 ROW_MAJOR."""
    return _adaptive("adaptive_max_pool2d", "max", input_tensor, batch_size, input_h, input_w, channels, output_size,
                     memory_config, deallocate_input, dram_slice_config)


# ------------------------------------------------------------------------------------------------
# global_avg_pool2d (a function of real ttnn: avg_pool2d's global fast path, no halo, no L1_SMALL)
# ------------------------------------------------------------------------------------------------

def _global_avg_golden(input_tensor):
    rank = input_tensor.dim()
    if rank == 2:
        return input_tensor.float().mean(dim=(0, 1), keepdim=True)
    if rank == 3:
        return input_tensor.float().mean(dim=(0, 1), keepdim=True)
    return input_tensor.float().mean(dim=(1, 2), keepdim=True)


@ttnn_op("global_avg_pool2d", golden=_global_avg_golden)
def global_avg_pool2d(input_tensor, *, memory_config=None, dtype=None):
    """Global average pooling of NHWC input (rank 2 [H, W], 3 [H, W, C] or 4 [N, H, W, C]) -> (N, 1, 1, C) TILE."""
    op = "global_avg_pool2d"
    device = on_device(op, input_tensor=input_tensor)
    shape = tuple(input_tensor.shape)
    if len(shape) == 4:
        n, h, w, c = shape
    elif len(shape) == 3:
        (h, w, c), n = shape, 1
    elif len(shape) == 2:
        (h, w), n, c = shape, 1, 1
    else:
        fail(op, f"global_avg_pool2d expects rank 2, 3, or 4 input, got rank {len(shape)}")
    if input_tensor._dtype not in _POOL_INPUT_DTYPES:
        fail(op, f"input_tensor has dtype {input_tensor._dtype.name}; only BFLOAT16 (or BFLOAT8_B/BFLOAT4_B in "
                 f"TILE) is supported")
    out_dtype = DataType(dtype) if dtype is not None else DataType.BFLOAT16
    if out_dtype not in _POOL_OUTPUT_DTYPES:
        fail(op, "Currently only BFLOAT16, BFLOAT8_B, and BFLOAT4_B output data formats are supported")
    x = input_tensor._value.to(torch.float32).reshape(n, h * w, c)
    y = x.sum(dim=1) * _avg_scalar(torch.tensor(float(h * w)), device.ideal)
    src_mc = input_tensor._memory_config
    like_mc = (MemoryConfig(TensorMemoryLayout.INTERLEAVED, src_mc.buffer_type) if src_mc is not None else None)
    mc = memory_config if memory_config is not None else (like_mc or MemoryConfig())
    return make_output(op, device, y.reshape(n, 1, 1, c), out_dtype, Layout.TILE, mc, rounding="packer")


# ------------------------------------------------------------------------------------------------
# upsample
# ------------------------------------------------------------------------------------------------

def _scales(op: str, scale_factor):
    if isinstance(scale_factor, (int, float)) and not isinstance(scale_factor, bool):
        s = (scale_factor, scale_factor)
    else:
        try:
            s = tuple(scale_factor)
        except TypeError:
            fail(op, f"scale_factor must be an int, a float or a pair, got {scale_factor!r}")
        if len(s) != 2:
            fail(op, f"scale_factor must have 2 values [scale_h, scale_w], got {list(s)}")
    out = []
    for v in s:
        v = float(v)
        if v <= 0:
            fail(op, f"scale_factor must be positive, got {scale_factor!r}")
        out.append(int(v) if v == int(v) else v)
    return tuple(out)


def _upsample_golden(input_tensor, scale_factor, mode="nearest", **_):
    s = (scale_factor, scale_factor) if isinstance(scale_factor, (int, float)) else tuple(scale_factor)
    y = F.interpolate(input_tensor.permute(0, 3, 1, 2).float(), scale_factor=s, mode=mode)
    return y.permute(0, 2, 3, 1)


@ttnn_op("upsample", golden=_upsample_golden)
def upsample(input_tensor, scale_factor, *, mode="nearest", memory_config=None, compute_kernel_config=None):
    """Upsample NHWC [N, H, W, C] by scale_factor ("nearest" exact; "bilinear" with integer scales)."""
    op = "upsample"
    device = on_device(op, input_tensor=input_tensor)
    if len(input_tensor.shape) != 4:
        fail(op, f"input_tensor must be [N, H, W, C], got shape {list(input_tensor.shape)}")
    if mode not in ("nearest", "bilinear"):
        fail(op, f"mode must be 'nearest' or 'bilinear', got {mode!r}")
    if input_tensor._dtype not in (DataType.BFLOAT16, DataType.FLOAT32, DataType.BFLOAT8_B):
        fail(op, f"input_tensor has dtype {input_tensor._dtype.name}, supported: BFLOAT16, FLOAT32, BFLOAT8_B")
    sh, sw = _scales(op, scale_factor)
    if mode == "bilinear" and not (isinstance(sh, int) and isinstance(sw, int)):
        fail(op, "'bilinear' mode requires integer scale factors")
    n, h, w, c = input_tensor.shape
    x = input_tensor._value.to(torch.float32).permute(0, 3, 1, 2)
    mc = out_memory_config(memory_config, input_tensor)
    scope = (sliding_window_config_buffer(device, n * int(h * sh) * int(w * sw)) if mode == "bilinear"
             else contextlib.nullcontext())
    with scope:
        if mode == "nearest":
            y = F.interpolate(x, scale_factor=(float(sh), float(sw)), mode="nearest")
        else:
            y = F.interpolate(x, scale_factor=(float(sh), float(sw)), mode="bilinear", align_corners=False)
        value = y.permute(0, 2, 3, 1).contiguous()
        # nearest copies stored values (block-float blocks run along C, which is unchanged)
        return make_output(op, device, value, input_tensor._dtype, input_tensor._layout, mc, rounding="packer",
                           pad=input_tensor._pad if mode == "nearest" else None, rounded=mode == "nearest")
