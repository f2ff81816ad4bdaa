"""Softmax and normalizations: _softmax, _log_softmax, native_layer_norm, _fused_rms_norm, native_group_norm,
batch norm (inference and training forms), and the fused scale-mask-softmax of the fusion passes.

- _softmax -> ttnn.softmax (any dim). _log_softmax is computed as (x - max) - log(sum(exp(x - max))) on the
  device: log(softmax(x)) would turn probabilities that underflow (or that the approximate reciprocal of the
  bf16 softmax biases by up to -4%) into -inf / a visible offset.
- native_layer_norm -> ttnn.layer_norm over the last dim (several normalized dims are flattened into one);
  the mean/rstd outputs, when used (training), are computed with ttnn.mean / ttnn.var.
- _fused_rms_norm (produced by the RMSNorm fusion) -> ttnn.rms_norm.
- native_group_norm: ttnn.group_norm needs an NHWC [N, 1, H*W, C] input with C a multiple of 32 and
  pre-formatted masks and parameters, so groups are normalized with reductions instead: x as [N, G, C/G*HW],
  mean/var over the last dim, then the per-channel affine.
- batch norm (inference) of a rank-4 input -> ttnn.batch_norm with the statistics as [1, C, 1, 1]; other ranks
  with element-wise ops. Training forms compute the batch statistics with ttnn.mean/ttnn.var over (N, *spatial)
  and return the updated running statistics as outputs (aot_autograd writes them back to the buffers).
"""
from __future__ import annotations

import math
import operator

import torch

from ..fused_ops import fused_ops, scale_mask_softmax_supported
from ..meta import meta_value
from ..registry import COMMON, float_inputs, lower, rank_at_most
from .matmul import finish
from .reduction import reduce_call, reshape

aten = torch.ops.aten

NORM = COMMON + (float_inputs, rank_at_most(4))


def used_outputs(ctx) -> set:
    """Indices of the outputs of the aten node being lowered that something reads."""
    used = set()
    for u in ctx.node.users:
        if u.op == "call_function" and u.target is operator.getitem:
            used.add(u.args[1])
        else:
            return set(range(len(ctx.out)))
    return used


def _fdt(ctx):
    return ctx.float_dtype()


def _mul(ctx, a, b, out_val=None):
    dt = _fdt(ctx)
    bb = ctx.tile(b, dt) if isinstance(b, torch.fx.Node) else b
    return ctx.call("multiply", ctx.tile(a, dt), bb, out_val=out_val if out_val is not None else ctx.val(a))


def _add(ctx, a, b, out_val=None):
    dt = _fdt(ctx)
    bb = ctx.tile(b, dt) if isinstance(b, torch.fx.Node) else b
    return ctx.call("add", ctx.tile(a, dt), bb, out_val=out_val if out_val is not None else ctx.val(a))


def _sub(ctx, a, b, out_val=None):
    dt = _fdt(ctx)
    bb = ctx.tile(b, dt) if isinstance(b, torch.fx.Node) else b
    return ctx.call("subtract", ctx.tile(a, dt), bb, out_val=out_val if out_val is not None else ctx.val(a))


def _unary(ctx, name, a):
    return ctx.call(name, ctx.tile(a, _fdt(ctx)), out_val=ctx.val(a))


# --- softmax ---------------------------------------------------------------------------------------

def _softmax_config(device, fp32: bool):
    """HiFi4 with the accurate reciprocal for `device`'s architecture (host helper of compiled graphs)."""
    from ... import runtime
    ttnn = runtime.ttnn_for(device)
    return ttnn.init_device_compute_kernel_config(device.arch(), math_fidelity=ttnn.MathFidelity.HiFi4,
                                                  math_approx_mode=False, fp32_dest_acc_en=fp32,
                                                  packer_l1_acc=False)


def accurate_softmax_config(ctx, dtype):
    """A node yielding the compute kernel config softmax runs with: the default fidelity and accumulation for
    `dtype`, but the accurate reciprocal (math_approx_mode=False; the approximate one biases bf16 row sums by
    up to -4%). A config object cannot be written into the generated code, so a host helper builds it."""
    if not hasattr(ctx.ttnn, "init_device_compute_kernel_config"):
        return None
    node = ctx.host(_softmax_config, ctx.device, dtype == ctx.ttnn.float32, out_val=meta_value(()))
    node.meta["val"] = None
    return node


def softmax_call(ctx, name, x, *args, dtype=None, **kwargs):
    """ttnn.softmax / ttnn.scale_mask_softmax with the accurate reciprocal."""
    dt = dtype if dtype is not None else ctx.dtype_for(ctx.out.dtype)
    cfg = accurate_softmax_config(ctx, dt)
    if cfg is not None:
        kwargs["compute_kernel_config"] = cfg
    return ctx.call(name, ctx.tile(x, dt), *args, **kwargs)


@lower(aten._softmax.default, when=NORM)
def softmax(ctx, x, dim, half_to_float=False):
    if ctx.rank(x) == 0:
        ctx.unsupported("softmax of a rank-0 tensor")
    r = ctx.rank(x)
    d = int(dim) % r
    return softmax_call(ctx, "softmax", x, -1 if d == r - 1 else d)


@lower(aten._log_softmax.default, when=NORM)
def log_softmax(ctx, x, dim, half_to_float=False):
    if ctx.rank(x) == 0:
        ctx.unsupported("log_softmax of a rank-0 tensor")
    d = int(dim) % ctx.rank(x)
    dt = ctx.dtype_for(ctx.out.dtype)
    kshape = [1 if i == d else s for i, s in enumerate(ctx.shape(x))]
    m = reduce_call(ctx, "max", x, [d], True, dt, out_val=meta_value(kshape, ctx.out.dtype))
    shifted = ctx.call("subtract", ctx.tile(x, dt), ctx.tile(m, dt), out_val=ctx.out)
    e = ctx.call("exp", ctx.tile(shifted, dt))
    s = reduce_call(ctx, "sum", e, [d], True, dt, out_val=meta_value(kshape, ctx.out.dtype))
    lse = ctx.call("log", ctx.tile(s, dt))
    return ctx.call("subtract", ctx.tile(shifted, dt), ctx.tile(lse, dt), out_val=ctx.out)


# --- scale-mask-softmax (produced by the fusion pass) -------------------------------------------------

def _lower_scale_mask_softmax(ctx, x, scale, mask=None):
    if not scale_mask_softmax_supported(ctx.shape(x), None if mask is None else ctx.shape(mask)):
        ctx.unsupported("mask shape not supported by ttnn.scale_mask_softmax")
    args = [float(scale)]
    if mask is not None:
        args.append(ctx.tile(mask, ctx.ttnn.bfloat16))
    return softmax_call(ctx, "scale_mask_softmax", x, *args)




# --- layer norm / rms norm ---------------------------------------------------------------------------

def _flatten_norm(ctx, x, weight, bias, ndims: int):
    """Flatten the normalized dims of x (and weight/bias) into one last dim."""
    if ndims == 1:
        return x, weight, bias
    shape = ctx.shape(x)
    inner = math.prod(shape[-ndims:])
    xr = reshape(ctx, x, list(shape[:-ndims]) + [inner])
    wr = reshape(ctx, weight, [inner]) if weight is not None else None
    br = reshape(ctx, bias, [inner]) if bias is not None else None
    return xr, wr, br


def _norm_stats(ctx, xr, eps, mean_val, rstd_val, *, rms=False):
    """mean and rstd over the last dim of xr, shaped as the aten outputs."""
    dt = _fdt(ctx)
    kshape = list(ctx.shape(xr)[:-1]) + [1]
    mean = None
    if rms:
        sq = ctx.call("square", ctx.tile(xr, dt), out_val=ctx.val(xr))
        var = reduce_call(ctx, "mean", sq, [ctx.rank(xr) - 1], True, dt, out_val=meta_value(kshape))
    else:
        mean = reduce_call(ctx, "mean", xr, [ctx.rank(xr) - 1], True, dt, out_val=meta_value(kshape))
        var = ctx.call("var", ctx.tile(xr, dt), ctx.rank(xr) - 1, True, correction=False, out_val=meta_value(kshape))
    rstd = ctx.call("rsqrt", ctx.tile(_add(ctx, var, float(eps)), dt), out_val=meta_value(kshape))
    if mean is not None and mean_val is not None:
        mean = reshape(ctx, mean, mean_val.shape)
    if rstd_val is not None:
        rstd = reshape(ctx, rstd, rstd_val.shape)
    return mean, rstd


@lower(aten.native_layer_norm.default, when=NORM)
def native_layer_norm(ctx, x, normalized_shape, weight, bias, eps):
    nd = len(normalized_shape)
    if nd == 0 or ctx.rank(x) == 0:
        ctx.unsupported("layer norm over no dims")
    out_val, mean_val, rstd_val = ctx.out
    xr, wr, br = _flatten_norm(ctx, x, weight, bias, nd)
    dt = ctx.dtype_for(out_val.dtype)
    kwargs = {"epsilon": float(eps)}
    if wr is not None:
        kwargs["weight"] = ctx.tile(wr, _fdt(ctx))
    if br is not None:
        kwargs["bias"] = ctx.tile(br, _fdt(ctx))
    y = ctx.call("layer_norm", ctx.tile(xr, dt), out_val=meta_value(ctx.shape(xr), out_val.dtype), **kwargs)
    y = reshape(ctx, y, out_val.shape)
    used = used_outputs(ctx)
    mean = rstd = None
    if 1 in used or 2 in used:
        mean, rstd = _norm_stats(ctx, xr, eps, mean_val, rstd_val)
    return finish(ctx, (y, mean, rstd))


@lower(aten._fused_rms_norm.default, when=NORM)
def fused_rms_norm(ctx, x, normalized_shape, weight=None, eps=None):
    nd = len(normalized_shape)
    if nd == 0 or ctx.rank(x) == 0:
        ctx.unsupported("rms norm over no dims")
    out_val, rstd_val = ctx.out
    if eps is None:
        eps = torch.finfo(ctx.torch_dtype(x)).eps
    xr, wr, _ = _flatten_norm(ctx, x, weight, None, nd)
    kwargs = {"epsilon": float(eps)}
    if wr is not None:
        kwargs["weight"] = ctx.tile(wr, _fdt(ctx))
    y = ctx.call("rms_norm", ctx.tile(xr, ctx.dtype_for(out_val.dtype)),
                 out_val=meta_value(ctx.shape(xr), out_val.dtype), **kwargs)
    y = reshape(ctx, y, out_val.shape)
    rstd = None
    if 1 in used_outputs(ctx):
        _, rstd = _norm_stats(ctx, xr, eps, None, rstd_val, rms=True)
    return finish(ctx, (y, rstd))


# --- group norm --------------------------------------------------------------------------------------

@lower(aten.native_group_norm.default, when=NORM)
def native_group_norm(ctx, x, weight, bias, N, C, HxW, group, eps):
    out_val, mean_val, rstd_val = ctx.out
    y, mean, rstd = _group_norm(ctx, x, weight, bias, int(N), int(C), int(HxW), int(group), eps)
    used = used_outputs(ctx)
    if 1 in used:
        mean = reshape(ctx, mean, mean_val.shape)
    if 2 in used:
        rstd = reshape(ctx, rstd, rstd_val.shape)
    return finish(ctx, (y, (mean if 1 in used else None), (rstd if 2 in used else None)))


def _lower_fused_group_norm(ctx, x, weight, bias, groups, eps):
    """ttnn_fused.group_norm: weight/bias come as [C, 1] (prepared once on the host)."""
    shape = ctx.shape(x)
    hxw = math.prod(shape[2:]) if len(shape) > 2 else 1
    return _group_norm(ctx, x, weight, bias, shape[0], shape[1], hxw, int(groups), eps)[0]


def _group_norm(ctx, x, weight, bias, n, c, hxw, g, eps):
    """Group norm with reductions: x as [N, G, C/G * HxW], mean/var over the last dim, then the affine with
    weight/bias as [C, 1] against [N, C, HxW]. Returns (y, mean [N, G, 1], rstd [N, G, 1])."""
    shape = ctx.shape(x)
    m = (c // g) * hxw
    xr = reshape(ctx, x, [n, g, m])
    dt = _fdt(ctx)
    kshape = [n, g, 1]
    mean = reduce_call(ctx, "mean", xr, [2], True, dt, out_val=meta_value(kshape))
    var = ctx.call("var", ctx.tile(xr, dt), 2, True, correction=False, out_val=meta_value(kshape))
    rstd = ctx.call("rsqrt", ctx.tile(_add(ctx, var, float(eps)), dt), out_val=meta_value(kshape))
    y = _mul(ctx, _sub(ctx, xr, mean), rstd)
    if weight is not None or bias is not None:
        y = reshape(ctx, y, [n, c, hxw])
        if weight is not None:
            y = _mul(ctx, y, reshape(ctx, weight, [c, 1]))
        if bias is not None:
            y = _add(ctx, y, reshape(ctx, bias, [c, 1]))
    y = reshape(ctx, y, shape)
    return y, mean, rstd


# --- batch norm --------------------------------------------------------------------------------------

def _channel_shape(r: int, c: int) -> list:
    """Shape of a per-channel vector broadcasting against [N, C, *spatial]."""
    return [c] + [1] * (r - 2)


def _bn_apply(ctx, x, mean, var, weight, bias, eps, stats_shaped=False):
    """(x - mean) * rsqrt(var + eps) * weight + bias with per-channel vectors of shape [C] (or already
    broadcastable when stats_shaped)."""
    r = ctx.rank(x)
    c = ctx.shape(x)[1]
    cs = _channel_shape(r, c)
    if r == 4 and not stats_shaped:
        p4 = [1, c, 1, 1]
        kwargs = {"running_mean": ctx.tile(reshape(ctx, mean, p4), _fdt(ctx)),
                  "running_var": ctx.tile(reshape(ctx, var, p4), _fdt(ctx)),
                  "training": False, "eps": float(eps)}
        if weight is not None:
            kwargs["weight"] = ctx.tile(reshape(ctx, weight, p4), _fdt(ctx))
        if bias is not None:
            kwargs["bias"] = ctx.tile(reshape(ctx, bias, p4), _fdt(ctx))
        return ctx.call("batch_norm", ctx.tile(x, ctx.dtype_for(x)), out_val=meta_value(ctx.shape(x), ctx.torch_dtype(x)),
                        **kwargs)
    if not stats_shaped:
        mean, var = reshape(ctx, mean, cs), reshape(ctx, var, cs)
    rstd = _unary(ctx, "rsqrt", _add(ctx, var, float(eps)))
    y = _mul(ctx, _sub(ctx, x, mean), rstd, out_val=meta_value(ctx.shape(x), ctx.torch_dtype(x)))
    if weight is not None:
        y = _mul(ctx, y, reshape(ctx, weight, cs))
    if bias is not None:
        y = _add(ctx, y, reshape(ctx, bias, cs))
    return y


def _bn_inference(ctx, x, weight, bias, running_mean, running_var, eps):
    if ctx.rank(x) < 2:
        ctx.unsupported("batch norm of a rank < 2 input")
    if running_mean is None or running_var is None:
        ctx.unsupported("inference batch norm without running statistics")
    return _bn_apply(ctx, x, running_mean, running_var, weight, bias, eps)


def _bn_training(ctx, x, weight, bias, running_mean, running_var, momentum, eps, outs):
    """Batch statistics on the device; returns (out, save_mean, save_rstd, new_running_mean, new_running_var)."""
    r = ctx.rank(x)
    if r < 2:
        ctx.unsupported("batch norm of a rank < 2 input")
    shape = ctx.shape(x)
    c = shape[1]
    dims = [0] + list(range(2, r))
    count = math.prod(shape) // c
    kshape = [1, c] + [1] * (r - 2)
    dt = _fdt(ctx)
    mean = reduce_call(ctx, "mean", x, dims, True, dt, out_val=meta_value(kshape))
    var = ctx.call("var", ctx.tile(x, dt), dims, True, correction=False, out_val=meta_value(kshape))
    rstd = _unary(ctx, "rsqrt", _add(ctx, var, float(eps)))
    y = _mul(ctx, _sub(ctx, x, mean, out_val=meta_value(shape, ctx.torch_dtype(x))), rstd)
    cs = _channel_shape(r, c)
    if weight is not None:
        y = _mul(ctx, y, reshape(ctx, weight, cs))
    if bias is not None:
        y = _add(ctx, y, reshape(ctx, bias, cs))
    used = used_outputs(ctx)
    save_mean = reshape(ctx, mean, [c]) if 1 in used or 3 in used else None
    save_rstd = reshape(ctx, rstd, [c]) if 2 in used else None
    new_rm = new_rv = None
    if 3 in used and running_mean is not None:
        new_rm = _add(ctx, _mul(ctx, running_mean, 1.0 - momentum), _mul(ctx, save_mean, float(momentum)))
    if 4 in used and running_var is not None:
        unbiased = count / (count - 1) if count > 1 else 1.0
        v = reshape(ctx, var, [c])
        new_rv = _add(ctx, _mul(ctx, running_var, 1.0 - momentum), _mul(ctx, v, float(momentum) * unbiased))
    return finish(ctx, (y, save_mean, save_rstd, new_rm, new_rv)[:outs])


@lower(aten._native_batch_norm_legit_no_training.default, when=NORM)
def batch_norm_no_training(ctx, x, weight, bias, running_mean, running_var, momentum, eps):
    if used_outputs(ctx) - {0}:
        ctx.unsupported("saved statistics of an inference batch norm are read")
    return finish(ctx, (_bn_inference(ctx, x, weight, bias, running_mean, running_var, eps), None, None))


@lower(aten._native_batch_norm_legit_functional.default, when=NORM)
def batch_norm_functional(ctx, x, weight, bias, running_mean, running_var, training, momentum, eps):
    if not training:
        if used_outputs(ctx) & {1, 2}:
            ctx.unsupported("saved statistics of an inference batch norm are read")
        return finish(ctx, (_bn_inference(ctx, x, weight, bias, running_mean, running_var, eps), None, None,
                            running_mean, running_var))
    return _bn_training(ctx, x, weight, bias, running_mean, running_var, momentum, eps, 5)


@lower(aten._native_batch_norm_legit.no_stats, when=NORM)
def batch_norm_no_stats(ctx, x, weight, bias, training, momentum, eps):
    if not training:
        ctx.unsupported("inference batch norm without running statistics")
    return _bn_training(ctx, x, weight, bias, None, None, momentum, eps, 3)


# --- fused ops of the aten-level passes -------------------------------------------------------------------

def _lower_fused_batch_norm(ctx, x, weight, bias, mean, var, eps):
    """ttnn_fused.batch_norm_inference: the vectors come shaped for broadcasting ([1, C, 1, 1] for rank 4)."""
    if ctx.rank(x) < 2:
        ctx.unsupported("batch norm of a rank < 2 input")
    return _bn_apply(ctx, x, mean, var, weight, bias, eps)


def _register_fused():
    ops = fused_ops()
    lower(ops.scale_mask_softmax.default, when=NORM)(_lower_scale_mask_softmax)
    lower(ops.batch_norm_inference.default, when=NORM)(_lower_fused_batch_norm)
    lower(ops.group_norm.default, when=NORM)(_lower_fused_group_norm)


_register_fused()
