"""Pooling and upsampling: max/avg/adaptive pooling -> ttnn.max_pool2d / avg_pool2d / adaptive_*_pool2d,
nearest/bilinear upsampling -> ttnn.upsample.

As for convolutions (conv.py), the NCHW value is permuted to NHWC on the device; the pools take it ROW_MAJOR
bfloat16 (TT-NN pools refuse FLOAT32) and return the flattened [1, 1, N*OH*OW, C] ROW_MAJOR, which is reshaped
(a free view) and permuted back. ttnn.upsample takes and returns [N, H, W, C]. Unbatched [C, H, W] inputs get
N = 1. The layout pass removes the permute pairs between consecutive pools and convolutions.

F.interpolate decomposes into index arithmetic in aten; passes/upsample.py recognizes it and rebuilds the
aten upsample ops lowered here.
"""
from __future__ import annotations


import torch

from ..context import In, Unsupported
from ..meta import Req, STATIC, meta_value, second_output_used
from ..registry import COMMON, float_inputs, lower, unsupported
from .conv import channels_last, float_act, reshape

aten = torch.ops.aten

POOL = COMMON + (float_inputs,)


def _pair(v, default=None):
    if v is None or (isinstance(v, (list, tuple)) and len(v) == 0):
        return default
    if isinstance(v, int):
        return [int(v), int(v)]
    v = [int(a) for a in v]
    return v * 2 if len(v) == 1 else v


def _nhwc_in(ctx, x, tdt):
    """(NHWC node, N, C, H, W): [N, C, H, W] or unbatched [C, H, W] -> [N, H, W, C]."""
    shape = ctx.shape(x)
    if len(shape) == 3:
        c, h, w = shape
        x4 = reshape(ctx, x, [1, c, h, w], tdt, operand=float_act(ctx, x))
        return channels_last(ctx, x4, tdt), 1, c, h, w
    if len(shape) != 4:
        ctx.unsupported(f"rank-{len(shape)} input of a 2-d pool")
    n, c, h, w = shape
    return channels_last(ctx, x, tdt), n, c, h, w


def _pool_operand(ctx, xn) -> In:
    """TT-NN pools read ROW_MAJOR bfloat16 (FLOAT32 is refused)."""
    return In(xn, Req(ctx.ttnn.ROW_MAJOR_LAYOUT, ctx.ttnn.bfloat16))


def _finish(ctx, flat, n, c, oh, ow, out_val, *, layout_dtype=None):
    """[1, 1, N*OH*OW, C] -> the aten [N, C, OH, OW] (or [C, OH, OW])."""
    tdt = out_val.dtype
    out_shape = list(out_val.shape)
    if layout_dtype is not None:   # e.g. uint16 indices -> int32 TILE before moving them
        flat = In(flat, Req(*layout_dtype))
        y = reshape(ctx, flat.node, [n, oh, ow, c], tdt, operand=flat)
    else:
        y = reshape(ctx, flat, [n, oh, ow, c], tdt)
    nchw = [n, c, oh, ow]
    final_here = out_shape == nchw
    y = ctx.call("permute", ctx.keep(y), [0, 3, 1, 2], out_val=out_val if final_here else meta_value(nchw, tdt))
    if not final_here:
        y = ctx.call("reshape", ctx.keep(y), out_shape, out_val=out_val)
    return y


# --------------------------------------------------------------------------------------------------
# max / avg pooling
# --------------------------------------------------------------------------------------------------

@lower(aten.max_pool2d_with_indices.default, when=POOL)
def max_pool2d_with_indices(ctx, x, kernel_size, stride=(), padding=0, dilation=1, ceil_mode=False):
    kernel = _pair(kernel_size)
    stride = _pair(stride, kernel)
    padding, dilation = _pair(padding), _pair(dilation)
    vals, idx_val = ctx.out
    need_indices = second_output_used(ctx.node)
    tdt = vals.dtype
    xn, n, c, h, w = _nhwc_in(ctx, x, tdt)
    oh, ow = vals.shape[-2], vals.shape[-1]
    if need_indices:
        if h * w > 65535:
            ctx.unsupported(f"indices of a {h}x{w} plane overflow ttnn.max_pool2d's uint16 indices")
        if kernel[0] * kernel[1] > 32:
            ctx.unsupported(f"return_indices with a {kernel[0]}x{kernel[1]} kernel (ttnn: at most 32 elements)")
    flat = [1, 1, n * oh * ow, c]
    node = ctx.call("max_pool2d", _pool_operand(ctx, xn), n, h, w, c, kernel, stride, padding, dilation,
                    bool(ceil_mode), return_indices=need_indices, out_layout=ctx.ttnn.ROW_MAJOR_LAYOUT,
                    out_dtype=ctx.ttnn.bfloat16, out_val=meta_value(flat, tdt))
    if not need_indices:
        return _finish(ctx, node, n, c, oh, ow, vals), None
    ttnn = ctx.ttnn
    v, i = ctx.outputs(node, [(meta_value(flat, tdt), ttnn.ROW_MAJOR_LAYOUT, ttnn.bfloat16),
                              (meta_value(flat, torch.int64), ttnn.ROW_MAJOR_LAYOUT, ttnn.uint16)])
    values = _finish(ctx, v, n, c, oh, ow, vals)
    indices = _finish(ctx, i, n, c, oh, ow, idx_val, layout_dtype=(ttnn.TILE_LAYOUT, ttnn.int32))
    return values, indices


@lower(aten.avg_pool2d.default, when=POOL)
def avg_pool2d(ctx, x, kernel_size, stride=(), padding=0, ceil_mode=False, count_include_pad=True,
               divisor_override=None):
    kernel = _pair(kernel_size)
    stride = _pair(stride, kernel)
    padding = _pair(padding)
    tdt = ctx.out.dtype
    xn, n, c, h, w = _nhwc_in(ctx, x, tdt)
    oh, ow = ctx.out.shape[-2], ctx.out.shape[-1]
    flat = [1, 1, n * oh * ow, c]
    node = ctx.call("avg_pool2d", _pool_operand(ctx, xn), n, h, w, c, kernel, stride, padding, bool(ceil_mode),
                    bool(count_include_pad), None if divisor_override is None else int(divisor_override),
                    out_layout=ctx.ttnn.ROW_MAJOR_LAYOUT, out_dtype=ctx.ttnn.bfloat16, out_val=meta_value(flat, tdt))
    return _finish(ctx, node, n, c, oh, ow, ctx.out)


# --------------------------------------------------------------------------------------------------
# adaptive pooling
# --------------------------------------------------------------------------------------------------

def _torch_windows(size: int, out: int) -> list:
    return [((i * size) // out, -(-((i + 1) * size) // out)) for i in range(out)]


def _ttnn_adaptive_params(size: int, out: int):
    """(kernel, stride, pad_before) tt-metal's adaptive pooling uses along one dim (uniform windows, borders
    padded), or None when it refuses the pattern."""
    k = [e - s for s, e in _torch_windows(size, out)]
    if len(k) > 2 and (any(v != k[1] for v in k[1:-1]) or k[0] > k[1] or k[-1] > k[1]):
        return None
    base_k, base_s = -(-size // out), size // out
    if all(v == k[0] for v in k):
        return base_k, base_s, 0, 0
    kernel = k[1] if len(k) >= 3 else base_k
    s, before, after = base_s, 0, 0
    if len(k) >= 3 and (k[0] < k[1] or k[-1] < k[1]):
        s = k[1] - 1
        before = k[1] - k[0] if k[0] < k[1] else 0
        after = k[1] - k[-1] if k[-1] < k[1] else 0
    if s <= 0 or (size + before + after - kernel) // s + 1 != out:
        return base_k, base_s, 0, 0
    return kernel, s, before, after


def _adaptive_supported(ctx, h, w, oh, ow):
    """Refuse the adaptive patterns tt-metal refuses, and those where its uniform windows are not torch's."""
    for size, out, what in ((h, oh, "height"), (w, ow, "width")):
        p = _ttnn_adaptive_params(size, out)
        if p is None:
            ctx.unsupported(f"adaptive pooling {size}->{out} along the {what}: window sizes cannot be made "
                            f"uniform (refused by ttnn)")
        kernel, stride, before, after = p
        if before > kernel // 2 or after > kernel // 2 or stride <= 0:
            ctx.unsupported(f"adaptive pooling {size}->{out} along the {what}: padding exceeds half the kernel")
        got = [(max(i * stride - before, 0), min(i * stride - before + kernel, size)) for i in range(out)]
        if got != _torch_windows(size, out):
            ctx.unsupported(f"adaptive pooling {size}->{out} along the {what}: ttnn's uniform windows differ "
                            f"from torch's")


def _adaptive(ctx, name, x, output_size, out_val):
    tdt = out_val.dtype
    shape = ctx.shape(x)
    if len(shape) not in (3, 4):
        ctx.unsupported(f"rank-{len(shape)} input of a 2-d pool")
    h, w = shape[-2], shape[-1]
    oh, ow = out_val.shape[-2], out_val.shape[-1]
    try:
        _adaptive_supported(ctx, h, w, oh, ow)
    except Unsupported as e:     # an average over non-uniform windows is still two matrix products
        if name != "adaptive_avg_pool2d":
            raise
        return _resample_matmul(ctx, x, str(e))
    xn, n, c, h, w = _nhwc_in(ctx, x, tdt)
    flat = [1, 1, n * oh * ow, c]
    node = ctx.call(name, _pool_operand(ctx, xn), n, h, w, c, [oh, ow], out_layout=ctx.ttnn.ROW_MAJOR_LAYOUT,
                    out_dtype=ctx.ttnn.bfloat16, out_val=meta_value(flat, tdt))
    return _finish(ctx, node, n, c, oh, ow, out_val)


@lower(aten._adaptive_avg_pool2d.default, aten.adaptive_avg_pool2d.default, when=POOL)
def adaptive_avg_pool2d(ctx, x, output_size):
    return _adaptive(ctx, "adaptive_avg_pool2d", x, output_size, ctx.out)


@lower(aten.adaptive_max_pool2d.default, when=POOL)
def adaptive_max_pool2d(ctx, x, output_size):
    if second_output_used(ctx.node):
        ctx.unsupported("indices of adaptive max pooling (ttnn.adaptive_max_pool2d has no return_indices)")
    return _adaptive(ctx, "adaptive_max_pool2d", x, output_size, ctx.out[0]), None


# --------------------------------------------------------------------------------------------------
# upsampling
# --------------------------------------------------------------------------------------------------

def _int_scales(ctx, x, scales):
    """Integer (sh, sw) with OH = H*sh, OW = W*sw, agreeing with explicit aten scales if any."""
    h, w = ctx.shape(x)[-2:]
    oh, ow = ctx.out.shape[-2:]
    out = []
    for size, o, s, what in ((h, oh, scales[0], "height"), (w, ow, scales[1], "width")):
        if o < size:
            ctx.unsupported(f"downsampling {size}->{o} along the {what} (ttnn.upsample only enlarges)")
        if o % size:
            ctx.unsupported(f"non-integer upsampling scale {o}/{size} along the {what} (ttnn.upsample "
                            f"computes fractional scales otherwise than torch)")
        k = o // size
        if s is not None and float(s) != float(k):
            ctx.unsupported(f"scale {s} with output size {o} from {size} (torch samples at 1/scale)")
        out.append(k)
    return out


def _resample_matrices(ctx, rank: int, h: int, w: int):
    """(A_h [OH, H], A_w [OW, W]) with op(x) == A_h @ x @ A_w^T for the aten op being lowered (a resampling or
    an adaptive average pool), read off the op itself applied to one-hot probes (float64, on the host, at
    compile time); None if the op is not separable that way."""
    node = ctx.node
    from torch._subclasses.fake_tensor import unset_fake_temporarily
    ones = [1] * (rank - 3)

    def run(probe):        # probe: [P, H, W] -> the op on [P, 1.., H, W] -> [P, OH, OW]
        args = (probe.reshape(probe.shape[0], *ones, h, w),) + tuple(node.args[1:])
        out = node.target(*args, **dict(node.kwargs))
        return out.reshape(probe.shape[0], out.shape[-2], out.shape[-1])

    def columns(n: int, along_h: bool) -> torch.Tensor:
        """The op's matrix along one axis, [O, n], from one-hot probes (constant along the other axis), a
        chunk of probes at a time: all n at once take n*h*w values (an 800x800 image: 4 GB)."""
        chunk = max(1, (1 << 22) // max(1, h * w))
        cols = []
        for start in range(0, n, chunk):
            k = min(chunk, n - start)
            probe = torch.zeros(k, h, w, dtype=torch.float64)
            idx = torch.arange(k)
            if along_h:
                probe[idx, start + idx, :] = 1.0
                cols.append(run(probe)[:, :, 0])
            else:
                probe[idx, :, start + idx] = 1.0
                cols.append(run(probe)[:, 0, :])
        return torch.cat(cols).t().contiguous()

    with unset_fake_temporarily():
        a_h = columns(h, True)          # [OH, H]
        a_w = columns(w, False)         # [OW, W]
        probe = torch.randn(2, h, w, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
        if not torch.allclose(run(probe), a_h @ probe @ a_w.t(), rtol=1e-9, atol=1e-9):
            return None
    return a_h, a_w


def _static_constant(ctx, tensor: torch.Tensor):
    """A compile-time torch constant the device loads once (through the parameter cache)."""
    node = ctx.constant(tensor)
    node.meta["val"] = tensor
    node.meta[STATIC] = True
    return node


def _resample_matmul(ctx, x, why: str):
    """Any separable resampling (fractional nearest, downsampling bilinear, ...) as two matrix products with
    constant interpolation matrices in float32, HiFi4 and fp32 accumulation: x @ A_w^T, then the same along
    H on the transposed result. Nearest weights are 0/1 (exact); bilinear weights are held in float32."""
    rank = ctx.rank(x)
    if rank not in (3, 4):
        ctx.unsupported(f"rank-{rank} input of a 2-d resampling ({why})")
    *lead, h, w = ctx.shape(x)
    oh, ow = ctx.out.shape[-2:]
    if max(h, w, oh, ow) > 8192:
        ctx.unsupported(f"resampling {h}x{w} -> {oh}x{ow} ({why}): interpolation matrices too large")
    mats = _resample_matrices(ctx, rank, h, w)
    if mats is None:
        ctx.unsupported(f"{why}, and the op is not a separable linear resampling")
    a_h, a_w = mats
    ttnn = ctx.ttnn
    f32 = ttnn.float32
    cfg = ctx.constant(ttnn.WormholeComputeKernelConfig(math_fidelity=ttnn.MathFidelity.HiFi4,
                                                         math_approx_mode=False, fp32_dest_acc_en=True,
                                                         packer_l1_acc=False))
    tdt = ctx.out.dtype
    from .matmul import zero_k_padding
    from torch._subclasses.fake_tensor import unset_fake_temporarily
    with unset_fake_temporarily():      # real tensors (a compile under aot_autograd's fake mode)
        w_t, h_t = a_w.t().contiguous().to(torch.float32), a_h.t().contiguous().to(torch.float32)
    wt = _static_constant(ctx, w_t)          # [W, OW]
    ht = _static_constant(ctx, h_t)          # [H, OH]
    xa, _ = zero_k_padding(ctx, x, wt, w)
    swap = list(range(rank - 2)) + [rank - 1, rank - 2]
    y = ctx.call("matmul", ctx.tile(xa, ctx.float_dtype()), ctx.tile(wt, f32), compute_kernel_config=cfg,
                 out_val=meta_value(lead + [h, ow], tdt))
    yt = ctx.call("permute", ctx.keep(y), swap, out_val=meta_value(lead + [ow, h], tdt))
    ya, _ = zero_k_padding(ctx, yt, ht, h)
    z = ctx.call("matmul", ctx.tile(ya, ctx.float_dtype()), ctx.tile(ht, f32), compute_kernel_config=cfg,
                 out_val=meta_value(lead + [ow, oh], tdt))
    return ctx.call("permute", ctx.keep(z), swap)


def _upsample(ctx, x, mode, scales):
    if ctx.rank(x) != 4:
        ctx.unsupported(f"rank-{ctx.rank(x)} input of a 2-d upsample")
    try:
        sh, sw = _int_scales(ctx, x, scales)
    except Unsupported as e:      # fractional or downsampling: what ttnn.upsample cannot do
        return _resample_matmul(ctx, x, str(e))
    tdt = ctx.out.dtype
    n, c, h, w = ctx.shape(x)
    xn = channels_last(ctx, x, tdt)
    nhwc = [n, h * sh, w * sw, c]
    y = ctx.call("upsample", float_act(ctx, xn), [sh, sw], mode=mode, out_val=meta_value(nhwc, tdt))
    return ctx.call("permute", ctx.keep(y), [0, 3, 1, 2])


def _vec_scales(scale_factors):
    if scale_factors is None:
        return (None, None)
    s = list(scale_factors)
    return (s[0], s[-1])


@lower(aten.upsample_nearest2d.default, aten._upsample_nearest_exact2d.default, when=POOL)
def upsample_nearest2d(ctx, x, output_size, scales_h=None, scales_w=None):
    # nearest-exact samples floor((dst + 0.5) / s): for integer scales s this is dst // s, as nearest
    return _upsample(ctx, x, "nearest", (scales_h, scales_w))


@lower(aten.upsample_nearest2d.vec, aten._upsample_nearest_exact2d.vec, when=POOL)
def upsample_nearest2d_vec(ctx, x, output_size, scale_factors):
    return _upsample(ctx, x, "nearest", _vec_scales(scale_factors))


def _bilinear(ctx, x, align_corners, scales):
    if align_corners:
        return _resample_matmul(ctx, x, "align_corners=True (ttnn.upsample bilinear samples at half-pixel "
                                        "centers)")
    return _upsample(ctx, x, "bilinear", scales)


@lower(aten.upsample_bilinear2d.default, when=POOL)
def upsample_bilinear2d(ctx, x, output_size, align_corners, scales_h=None, scales_w=None):
    return _bilinear(ctx, x, align_corners, (scales_h, scales_w))


@lower(aten.upsample_bilinear2d.vec, when=POOL)
def upsample_bilinear2d_vec(ctx, x, output_size, align_corners, scale_factors):
    return _bilinear(ctx, x, align_corners, _vec_scales(scale_factors))


unsupported("3-d pooling has no TT-NN equivalent", aten.max_pool3d_with_indices.default, aten.avg_pool3d.default,
            aten._adaptive_avg_pool3d.default, aten.adaptive_max_pool3d.default)
unsupported("bicubic / trilinear / 1-d linear upsampling have no TT-NN equivalent",
            aten.upsample_bicubic2d.default, aten.upsample_bicubic2d.vec, aten.upsample_trilinear3d.default,
            aten.upsample_trilinear3d.vec, aten.upsample_linear1d.default, aten.upsample_linear1d.vec)
