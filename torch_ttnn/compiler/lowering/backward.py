"""Training: the gradient ops left in aot_autograd's backward graphs, and the losses.

What reaches the lowering (after compiler/decompositions.py) and how it runs on the device:
- gelu_backward / silu_backward: the derivative written with TT-NN element-wise ops (TT-NN 0.81.1's
  `ttnn.*_bw` ops are not part of the public API we target).
- convolution_backward (2-d, and 1-d as 2-d of width 1):
  grad_input: a transposed convolution of the output gradient with the forward weights (ttnn.conv_transpose2d;
  for a transposed forward, a ttnn.conv2d), output_padding restoring the rows/columns the forward never read.
  grad_weight: im2col + one matmul. The (zero padded) input is permuted to NHWC, each of the KH*KW kernel
  offsets is a strided ttnn.slice [N, OH, OW, C], the slices are concatenated along C and
  dW = grad^T @ cols ([O, N*OH*OW] @ [N*OH*OW, KH*KW*C]), reshaped/permuted to OIHW in ROW_MAJOR (a TILE
  [.., KH, KW] tensor would carry 100x its size in tile padding back to the host). Depthwise weights
  (one channel per group) use a multiply + sum per offset instead; other groupings stay on the host.
  grad_bias: ttnn.sum over (N, H, W).
- max_pool2d_with_indices_backward: ttnn.scatter_add of the output gradient at the saved argmax indices into a
  zero [N, C, H*W] plane (exact: the forward's indices say where each gradient goes, ties included).
- avg_pool2d_backward / _adaptive_avg_pool2d_backward: non-overlapping windows as ttnn.repeat_interleave
  (or an expand for a global pool) of the scaled gradient; overlapping windows as a depthwise
  ttnn.conv_transpose2d with a constant 1/(KH*KW) kernel.
- embedding_dense_backward (kept whole): ttnn.scatter_add of the gradient rows into a zero [V, D] table;
  padding_idx rows masked; scale_grad_by_freq divides by the per-row counts (a scatter_add of ones).
- nll_loss_forward / nll_loss_backward, mse_loss / mse_loss_backward (kept whole: their decompositions end
  in 0-dim arithmetic, gather/scatter and where): the target becomes a one-hot [N, C] mask on the device
  (ttnn.eq of the int32 target against ttnn.arange), weighted by the class weights and zeroed at
  ignore_index; the loss is -sum(mask * logp) (/ sum(mask) for 'mean'), the gradient -mask * grad / total.

Layer norm, batch norm, softmax and log_softmax backward are decomposed by aot_autograd's table into the
same element-wise/reduction formula a rule would emit (TT-NN has no fused backward op for them); see
decompositions.py.
"""
from __future__ import annotations

import dataclasses
import math

import torch

from ..context import In
from ..meta import Req, TT, meta_value
from ..registry import COMMON, float_inputs, lower, rank_at_most
from .conv import channels_first, channels_last, float_act, host_reshape
from .creation import full_node
from .matmul import finish, zero_k_padding
from .normalization import used_outputs
from .reduction import reduce_call, reshape

aten = torch.ops.aten

BW = COMMON + (rank_at_most(4),)


# --------------------------------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------------------------------

def _fdt(ctx):
    return ctx.float_dtype()


def _ew(ctx, name, a, b=None, shape=None, **kwargs):
    """Element-wise ttnn.<name>(a[, b]) in the float dtype; b may be a Python scalar; `shape` of the result
    (default a's)."""
    dt = _fdt(ctx)
    args = [ctx.tile(a, dt)]
    if b is not None:
        args.append(ctx.tile(b, dt) if isinstance(b, torch.fx.Node) else b)
    return ctx.call(name, *args, out_val=meta_value(shape if shape is not None else ctx.shape(a)), **kwargs)


def _as_shape(ctx, x, shape):
    """x reshaped to `shape` (any rank, including 0-dim sources) on the device."""
    shape = [int(s) for s in shape]
    if list(ctx.shape(x)) == shape:
        return x
    return reshape(ctx, x, shape)


def _ints(v, n):
    if isinstance(v, int):
        return [int(v)] * n
    v = [int(a) for a in v]
    return v * n if len(v) == 1 else v


# --------------------------------------------------------------------------------------------------
# activations
# --------------------------------------------------------------------------------------------------

@lower(aten.gelu_backward.default, when=BW + (float_inputs,))
def gelu_backward(ctx, grad, x, approximate="none"):
    if approximate == "tanh":
        # d/dx 0.5 x (1 + tanh(u)), u = k (x + c x^3):  0.5 (1 + t) + 0.5 x (1 - t^2) k (1 + 3 c x^2)
        k, c = math.sqrt(2.0 / math.pi), 0.044715
        x2 = _ew(ctx, "square", x)
        u = _ew(ctx, "multiply", _ew(ctx, "add", _ew(ctx, "multiply", x2, c), 1.0), x)
        t = _ew(ctx, "tanh", _ew(ctx, "multiply", u, k))
        left = _ew(ctx, "multiply", _ew(ctx, "add", t, 1.0), 0.5)
        sech2 = _ew(ctx, "rsub", _ew(ctx, "square", t), 1.0)
        du = _ew(ctx, "multiply", _ew(ctx, "add", _ew(ctx, "multiply", x2, 3.0 * c), 1.0), k)
        right = _ew(ctx, "multiply", _ew(ctx, "multiply", _ew(ctx, "multiply", x, 0.5), sech2), du)
        d = _ew(ctx, "add", left, right)
    else:
        # cdf(x) + x pdf(x)
        cdf = _ew(ctx, "multiply", _ew(ctx, "add", _ew(ctx, "erf", _ew(ctx, "multiply", x, math.sqrt(0.5))), 1.0),
                  0.5)
        pdf = _ew(ctx, "multiply", _ew(ctx, "exp", _ew(ctx, "multiply", _ew(ctx, "square", x), -0.5)),
                  1.0 / math.sqrt(2.0 * math.pi))
        d = _ew(ctx, "add", cdf, _ew(ctx, "multiply", x, pdf))
    return ctx.call("multiply", ctx.tile(grad, _fdt(ctx)), ctx.tile(d, _fdt(ctx)))


@lower(aten.silu_backward.default, when=BW + (float_inputs,))
def silu_backward(ctx, grad, x):
    # sigmoid(x) (1 + x (1 - sigmoid(x)))
    s = _ew(ctx, "sigmoid", x)
    d = _ew(ctx, "multiply", s, _ew(ctx, "add", _ew(ctx, "multiply", x, _ew(ctx, "rsub", s, 1.0)), 1.0))
    return ctx.call("multiply", ctx.tile(grad, _fdt(ctx)), ctx.tile(d, _fdt(ctx)))


# --------------------------------------------------------------------------------------------------
# losses
# --------------------------------------------------------------------------------------------------

def _class_mask(ctx, target, n, c, weight, ignore_index):
    """[N, C] float mask: weight[t] at (i, t_i), 0 elsewhere and on rows whose target is ignore_index."""
    ttnn = ctx.ttnn
    i32 = ttnn.int32
    t = _as_shape(ctx, target, [n, 1])
    cls = ctx.call("arange", 0, c, 1, dtype=i32, device=ctx.device, layout=ttnn.TILE_LAYOUT,
                   out_layout=ttnn.TILE_LAYOUT, out_dtype=i32, out_val=meta_value([c], torch.int32))
    cls = reshape(ctx, cls, [1, c])
    dt = _fdt(ctx)
    mask = ctx.call("eq", ctx.tile(t, i32), ctx.tile(cls, i32), dtype=dt, out_dtype=dt,
                    out_val=meta_value([n, c]))
    if 0 <= int(ignore_index) < c:   # else no class matches ignore_index: its rows are already zero
        keep = ctx.call("ne", ctx.tile(t, i32), int(ignore_index), dtype=dt, out_dtype=dt, out_val=meta_value([n, 1]))
        mask = _ew(ctx, "multiply", mask, keep)
    if weight is not None:
        mask = _ew(ctx, "multiply", mask, reshape(ctx, weight, [1, c]))
    return mask


def _nll_shapes(ctx, x, target):
    r = ctx.rank(x)
    if r not in (1, 2):
        ctx.unsupported(f"nll_loss of a rank-{r} input (spatial losses are nll_loss2d)")
    if r == 1:
        return 1, ctx.shape(x)[0]
    return ctx.shape(x)


@lower(aten.nll_loss_forward.default, when=COMMON)
def nll_loss_forward(ctx, x, target, weight, reduction, ignore_index):
    if not ctx.torch_dtype(x).is_floating_point:
        ctx.unsupported("integer log-probabilities")
    n, c = _nll_shapes(ctx, x, target)
    out_val, tw_val = ctx.out
    mask = _class_mask(ctx, target, n, c, weight, ignore_index)
    x2 = _as_shape(ctx, x, [n, c])
    picked = _ew(ctx, "multiply", x2, mask)
    dt = _fdt(ctx)
    if reduction == 0:   # none: [N] (or [] for an unbatched input)
        per = reduce_call(ctx, "sum", picked, [1], False, dt, out_val=meta_value([n]))
        loss = _as_shape(ctx, _ew(ctx, "neg", per), out_val.shape)
        total = full_node(ctx, [], 0, tw_val.dtype) if 1 in used_outputs(ctx) else None
        return finish(ctx, (loss, total))
    s = reduce_call(ctx, "sum", picked, [0, 1], True, dt, out_val=meta_value([1, 1]))
    tw = reduce_call(ctx, "sum", mask, [0, 1], True, dt, out_val=meta_value([1, 1]))
    if reduction == 1:   # mean: -sum / total_weight
        loss = _ew(ctx, "divide", _ew(ctx, "neg", s), tw)
    else:
        loss = _ew(ctx, "neg", s)
    return finish(ctx, (_as_shape(ctx, loss, []), _as_shape(ctx, tw, [])))


@lower(aten.nll_loss_backward.default, when=COMMON)
def nll_loss_backward(ctx, grad, x, target, weight, reduction, ignore_index, total_weight):
    n, c = _nll_shapes(ctx, x, target)
    mask = _class_mask(ctx, target, n, c, weight, ignore_index)
    if reduction == 0:
        coef = _ew(ctx, "neg", _as_shape(ctx, grad, [n, 1]))
    else:
        g = _as_shape(ctx, grad, [1, 1])
        if reduction == 1:
            g = _ew(ctx, "divide", g, _as_shape(ctx, total_weight, [1, 1]))
        coef = _ew(ctx, "neg", g)
    gi = _ew(ctx, "multiply", mask, coef, shape=[n, c])
    return finish(ctx, _as_shape(ctx, gi, ctx.out.shape))


def _mse_check(ctx, x, target):
    if ctx.shape(x) != ctx.shape(target):
        ctx.unsupported("mse_loss with broadcasting input and target")
    if ctx.rank(x) == 0:
        ctx.unsupported("mse_loss of 0-dim tensors")


@lower(aten.mse_loss.default, when=BW + (float_inputs,))
def mse_loss(ctx, x, target, reduction=1):
    _mse_check(ctx, x, target)
    sq = _ew(ctx, "square", _ew(ctx, "subtract", x, target))
    if reduction == 0:
        return finish(ctx, sq)
    name = "mean" if reduction == 1 else "sum"
    return reduce_call(ctx, name, sq, list(range(ctx.rank(x))), False, _fdt(ctx), out_val=ctx.out)


@lower(aten.mse_loss_backward.default, when=BW + (float_inputs,))
def mse_loss_backward(ctx, grad, x, target, reduction=1):
    _mse_check(ctx, x, target)
    shape = list(ctx.shape(x))
    scale = 2.0 / math.prod(shape) if reduction == 1 else 2.0
    d = _ew(ctx, "multiply", _ew(ctx, "subtract", x, target), scale)
    g = grad if reduction == 0 else _as_shape(ctx, grad, [1] * len(shape))
    return ctx.call("multiply", ctx.tile(d, _fdt(ctx)), ctx.tile(g, _fdt(ctx)))


# --------------------------------------------------------------------------------------------------
# convolution backward
# --------------------------------------------------------------------------------------------------

def _nhwc(ctx, x, tdt):
    """[N, C, H, W] -> [N, H, W, C] on the device."""
    return channels_last(ctx, x, tdt)


def _im2col(ctx, src_nhwc, kernel, stride, padding, dilation, out_hw, tdt):
    """[N, OH*OW..., KH*KW*C] columns of src (NHWC) for the given window geometry, as [N*OH*OW, KH*KW*C]."""
    n, h, w, c = ctx.shape(src_nhwc)
    (kh, kw), (sh, sw), (ph, pw), (dh, dw) = kernel, stride, padding, dilation
    oh, ow = out_hw
    x = src_nhwc
    if ph or pw:
        x = ctx.call("pad", float_act(ctx, x, ctx.ttnn.ROW_MAJOR_LAYOUT), [(0, 0), (ph, ph), (pw, pw), (0, 0)], 0.0,
                     out_val=meta_value([n, h + 2 * ph, w + 2 * pw, c], tdt))
    pieces = []
    for i in range(kh):
        for j in range(kw):
            starts = [0, i * dh, j * dw, 0]
            ends = [n, i * dh + (oh - 1) * sh + 1, j * dw + (ow - 1) * sw + 1, c]
            pieces.append(ctx.call("slice", float_act(ctx, x, ctx.ttnn.ROW_MAJOR_LAYOUT), starts, ends, [1, sh, sw, 1],
                                   out_val=meta_value([n, oh, ow, c], tdt)))
    rm = Req(ctx.ttnn.ROW_MAJOR_LAYOUT, _fdt(ctx))
    cols = pieces[0] if len(pieces) == 1 else ctx.call("concat", [In(p, rm) for p in pieces], 3,
                                                       out_val=meta_value([n, oh, ow, kh * kw * c], tdt))
    return ctx.call("reshape", In(cols, rm), [n * oh * ow, kh * kw * c], out_val=meta_value([n * oh * ow, kh * kw * c], tdt))


def _rm_reshape(ctx, x, shape, tdt):
    return ctx.call("reshape", ctx.rm(x, _fdt(ctx)), [int(v) for v in shape], out_val=meta_value(shape, tdt))


def _to_oihw(ctx, flat, co, kh, kw, ci, tdt):
    """[O, KH*KW*I] -> [O, I, KH, KW] in ROW_MAJOR: the gradient goes back to the host, and a TILE tensor whose
    last dims are KH x KW would carry (32/KH)*(32/KW) times its size in tile padding."""
    if kh == kw == 1:
        return _rm_reshape(ctx, flat, [co, ci, 1, 1], tdt)
    dw = _rm_reshape(ctx, flat, [co, kh, kw, ci], tdt)
    return ctx.call("permute", ctx.rm(dw, _fdt(ctx)), [0, 3, 1, 2], out_val=meta_value([co, ci, kh, kw], tdt))


def _weight_grad(ctx, src, lhs, kernel, stride, padding, dilation, groups, tdt):
    """Gradient of a convolution weight: sum over (n, oh, ow) of lhs[n, o, oh, ow] * window(src)[n, i, kh, kw],
    -> [O, I/groups, KH, KW] where O = lhs channels, I = src channels (src is the convolution's input, lhs its
    output gradient; for a transposed convolution the roles are swapped by the caller)."""
    n, ci = ctx.shape(src)[:2]
    co, oh, ow = ctx.shape(lhs)[1:]
    kh, kw = kernel
    src_n = _nhwc(ctx, src, tdt)
    lhs_n = _nhwc(ctx, lhs, tdt)
    m = n * oh * ow
    dt = _fdt(ctx)
    if groups == 1:
        cols = _im2col(ctx, src_n, kernel, stride, padding, dilation, (oh, ow), tdt)
        g = ctx.call("reshape", ctx.tile(lhs_n, dt), [m, co], out_val=meta_value([m, co], tdt))
        a, b = zero_k_padding(ctx, g, cols, m)
        dw = ctx.call("matmul", ctx.tile(a, dt), ctx.tile(b, dt), transpose_a=True,
                      out_val=meta_value([co, kh * kw * ci], tdt))
        return _to_oihw(ctx, dw, co, kh, kw, ci, tdt)
    if ci // groups > 1 or co // groups > 1:
        # grouped: the columns of all channels once, then one matmul per group
        cig, cog = ci // groups, co // groups
        cols = _im2col(ctx, src_n, kernel, stride, padding, dilation, (oh, ow), tdt)
        cols = reshape(ctx, cols, [m, kh * kw, ci])
        g = ctx.call("reshape", ctx.tile(lhs_n, dt), [m, co], out_val=meta_value([m, co], tdt))
        parts = []
        for k in range(groups):
            ck = ctx.call("slice", ctx.tile(cols, dt), [0, 0, k * cig], [m, kh * kw, (k + 1) * cig], [1, 1, 1],
                          out_val=meta_value([m, kh * kw, cig], tdt))
            ck = reshape(ctx, ck, [m, kh * kw * cig])
            gk = ctx.call("slice", ctx.tile(g, dt), [0, k * cog], [m, (k + 1) * cog], [1, 1],
                          out_val=meta_value([m, cog], tdt))
            a, b = zero_k_padding(ctx, gk, ck, m)
            parts.append(ctx.call("matmul", ctx.tile(a, dt), ctx.tile(b, dt), transpose_a=True,
                                  out_val=meta_value([cog, kh * kw * cig], tdt)))
        dw = ctx.call("concat", [ctx.tile(p, dt) for p in parts], 0, out_val=meta_value([co, kh * kw * cig], tdt))
        return _to_oihw(ctx, dw, co, kh, kw, cig, tdt)
    if groups == ci == co:
        # depthwise: one product + sum over (n, oh, ow) per kernel offset
        cols = _im2col(ctx, src_n, kernel, stride, padding, dilation, (oh, ow), tdt)
        cols = reshape(ctx, cols, [m, kh * kw, ci])
        g = reshape(ctx, lhs_n, [m, 1, co])
        prod = _ew(ctx, "multiply", cols, g, shape=[m, kh * kw, ci])
        s = reduce_call(ctx, "sum", prod, [0], False, dt, out_val=meta_value([kh * kw, ci], tdt))
        dw = ctx.call("permute", ctx.tile(s, dt), [1, 0], out_val=meta_value([ci, kh * kw], tdt))
        return _rm_reshape(ctx, dw, [ci, 1, kh, kw], tdt)
    ctx.unsupported(f"weight gradient of a grouped convolution with groups={groups}, {ci} input and {co} output "
                    f"channels")


def _as_2d(ctx, t, tdt):
    """A rank-3 [N, C, L] value as [N, C, L, 1]."""
    s = list(ctx.shape(t))
    return reshape(ctx, t, s + [1]) if len(s) == 3 else t


@lower(aten.convolution_backward.default, when=COMMON + (float_inputs,))
def convolution_backward(ctx, grad_output, x, weight, bias_sizes, stride, padding, dilation, transposed,
                         output_padding, groups, output_mask):
    spatial = ctx.rank(weight) - 2
    if spatial not in (1, 2) or ctx.rank(x) != spatial + 2:
        ctx.unsupported(f"{spatial}-d convolution backward (lowered: 1-d and 2-d)")
    if not isinstance(weight, torch.fx.Node):
        ctx.unsupported("weight given as a constant")
    stride, padding, dilation = _ints(stride, spatial), _ints(padding, spatial), _ints(dilation, spatial)
    output_padding, groups = _ints(output_padding, spatial), int(groups)
    if spatial == 1:
        stride, padding, dilation, output_padding = stride + [1], padding + [0], dilation + [1], output_padding + [0]
    gi_val, gw_val, gb_val = ctx.out
    used = used_outputs(ctx)
    want = [bool(output_mask[k]) and k in used for k in range(3)]
    tdt = ctx.torch_dtype(grad_output)
    wdt = ctx.dtype_for(weight)
    g4 = _as_2d(ctx, grad_output, tdt)
    x4 = _as_2d(ctx, x, tdt)
    ws = list(ctx.shape(weight))
    w4 = host_reshape(ctx, weight, ws + [1], wdt) if spatial == 1 else weight
    kh, kw = (ws[2], ws[3]) if spatial == 2 else (ws[2], 1)
    n, cin, h, w = ctx.shape(x4)
    cout, oh, ow = ctx.shape(g4)[1:]
    gi = gw = gb = None

    if want[0]:
        common = dict(device=ctx.device, batch_size=n, groups=groups, kernel_size=[kh, kw], stride=stride,
                      padding=padding, dilation=dilation)
        gn = _nhwc(ctx, g4, tdt)
        act = float_act(ctx, gn)
        flat = [1, 1, n * h * w, cin]
        if not transposed:
            # the rows/columns of x that no window reached get output_padding
            oph = h - ((oh - 1) * stride[0] - 2 * padding[0] + dilation[0] * (kh - 1) + 1)
            opw = w - ((ow - 1) * stride[1] - 2 * padding[1] + dilation[1] * (kw - 1) + 1)
            if not (0 <= oph < max(stride[0], dilation[0]) and 0 <= opw < max(stride[1], dilation[1])):
                ctx.unsupported("input gradient needs an output_padding ttnn.conv_transpose2d refuses")
            y = ctx.call("conv_transpose2d", input_tensor=act, weight_tensor=ctx.host_tt(w4, wdt), in_channels=cout,
                         out_channels=cin, input_height=oh, input_width=ow, output_padding=[oph, opw], **common,
                         out_layout=ctx.ttnn.TILE_LAYOUT, out_dtype=act.req.dtype, out_val=meta_value(flat, tdt))
        else:
            y = ctx.call("conv2d", input_tensor=act, weight_tensor=ctx.host_tt(w4, wdt), in_channels=cout,
                         out_channels=cin, input_height=oh, input_width=ow, **common,
                         out_layout=ctx.ttnn.TILE_LAYOUT, out_dtype=act.req.dtype, out_val=meta_value(flat, tdt))
        gi = channels_first(ctx, y, [n, h, w, cin], tdt, out_shape=list(gi_val.shape), final=False)

    if want[1]:
        if not transposed:
            dw = _weight_grad(ctx, x4, g4, (kh, kw), stride, padding, dilation, groups, tdt)
        else:
            # y = conv_transpose(x): dW[i, o] pairs x's channel i with the windows of the output gradient
            dw = _weight_grad(ctx, g4, x4, (kh, kw), stride, padding, dilation, groups, tdt)
        gw = dw if list(ctx.shape(dw)) == list(gw_val.shape) else _rm_reshape(ctx, dw, gw_val.shape, tdt)

    if want[2]:
        gb = reduce_call(ctx, "sum", g4, [0, 2, 3], False, _fdt(ctx), out_val=gb_val)
    return finish(ctx, (gi, gw, gb))


# --------------------------------------------------------------------------------------------------
# pooling backward
# --------------------------------------------------------------------------------------------------

def _pair(v, default=None):
    if v is None or (isinstance(v, (list, tuple)) and len(v) == 0):
        return default
    return _ints(v, 2)


def _float_grad(ctx, node):
    v = node.args[0].meta["val"]
    return None if v.dtype.is_floating_point else f"{v.dtype} gradient"


@lower(aten.max_pool2d_with_indices_backward.default, when=COMMON + (_float_grad,))
def max_pool2d_with_indices_backward(ctx, grad, x, kernel_size, stride, padding, dilation, ceil_mode, indices):
    shape = list(ctx.shape(x))
    if len(shape) not in (3, 4):
        ctx.unsupported(f"rank-{len(shape)} input of a 2-d pool")
    lead = shape[:-2]
    h, w = shape[-2:]
    oh, ow = ctx.shape(grad)[-2:]
    rows = math.prod(lead)
    rm, dt = ctx.ttnn.ROW_MAJOR_LAYOUT, _fdt(ctx)
    # ttnn.scatter: FLOAT32 only in ROW_MAJOR, and int32 TILE rows of at most 256: ROW_MAJOR throughout
    g = reshape(ctx, grad, [rows, oh * ow])
    idx = reshape(ctx, indices, [rows, oh * ow])
    zeros = full_node(ctx, [rows, h * w], 0, ctx.torch_dtype(x))
    y = ctx.call("scatter_add", In(zeros, Req(rm, dt)), 1, In(idx, Req(rm, ctx.ttnn.int32)), In(g, Req(rm, dt)),
                 out_val=meta_value([rows, h * w]), out_layout=rm, out_dtype=dt)
    return finish(ctx, reshape(ctx, y, shape))


def _spread(ctx, grad, kernel, in_hw, divisor, out_shape):
    """Each gradient value spread (divided by `divisor`) over its non-overlapping kh x kw window; rows/columns of
    the input no window covered get 0."""
    kh, kw = kernel
    gshape = list(ctx.shape(grad))
    g = _ew(ctx, "multiply", grad, 1.0 / divisor)
    oh, ow = gshape[-2:]
    if oh == 1 and ow == 1 and kh == in_hw[0] and kw == in_hw[1]:
        return ctx.call("expand", ctx.tile(g, _fdt(ctx)), list(out_shape), out_val=meta_value(out_shape))
    y = g
    if kh > 1:
        y = ctx.call("repeat_interleave", ctx.tile(y, _fdt(ctx)), kh, len(gshape) - 2,
                     out_val=meta_value(gshape[:-2] + [oh * kh, ow]))
    if kw > 1:
        y = ctx.call("repeat_interleave", ctx.tile(y, _fdt(ctx)), kw, len(gshape) - 1,
                     out_val=meta_value(gshape[:-2] + [oh * kh, ow * kw]))
    ph, pw = in_hw[0] - oh * kh, in_hw[1] - ow * kw
    if ph or pw:
        y = ctx.call("pad", ctx.tile(y, _fdt(ctx)), [(0, ph), (0, pw)], 0.0, out_val=meta_value(out_shape))
    return finish(ctx, y)


def _avg_windows_conv(ctx, grad, x, kernel, stride, padding, divisor):
    """Overlapping average windows: a depthwise transposed convolution of grad / divisor with a ones kernel."""
    shape = list(ctx.shape(x))
    if len(shape) != 4:
        ctx.unsupported("overlapping average pooling backward of an unbatched input")
    n, c, h, w = shape
    oh, ow = ctx.shape(grad)[-2:]
    (kh, kw), (sh, sw), (ph, pw) = kernel, stride, padding
    oph, opw = h - ((oh - 1) * sh - 2 * ph + kh), w - ((ow - 1) * sw - 2 * pw + kw)
    if not (0 <= oph < sh and 0 <= opw < sw):
        ctx.unsupported("average pooling backward whose windows overrun the input (ceil_mode)")
    tdt = ctx.torch_dtype(grad)
    # the kernel: a ttnn tensor on the host (TT-NN prepares conv weights itself)
    ones = ctx.call("full", [c, 1, kh, kw], 1.0 / divisor, dtype=_fdt(ctx), layout=ctx.ttnn.ROW_MAJOR_LAYOUT,
                    out_layout=ctx.ttnn.ROW_MAJOR_LAYOUT, out_dtype=_fdt(ctx), out_val=meta_value([c, 1, kh, kw]))
    ones.meta[TT] = dataclasses.replace(ones.meta[TT], on_device=False)
    gn = _nhwc(ctx, grad, tdt)
    act = float_act(ctx, gn)
    y = ctx.call("conv_transpose2d", input_tensor=act, weight_tensor=ones,
                 device=ctx.device, in_channels=c, out_channels=c, batch_size=n, input_height=oh, input_width=ow,
                 kernel_size=[kh, kw], stride=[sh, sw], padding=[ph, pw], output_padding=[oph, opw], dilation=[1, 1],
                 groups=c, out_layout=ctx.ttnn.TILE_LAYOUT, out_dtype=act.req.dtype,
                 out_val=meta_value([1, 1, n * h * w, c], tdt))
    return finish(ctx, channels_first(ctx, y, [n, h, w, c], tdt, final=False))


@lower(aten.avg_pool2d_backward.default, when=COMMON + (float_inputs,))
def avg_pool2d_backward(ctx, grad, x, kernel_size, stride, padding, ceil_mode, count_include_pad,
                        divisor_override):
    shape = list(ctx.shape(x))
    if len(shape) not in (3, 4):
        ctx.unsupported(f"rank-{len(shape)} input of a 2-d pool")
    kernel = _pair(kernel_size)
    stride = _pair(stride, kernel)
    padding = _pair(padding, [0, 0])
    if any(padding) and not count_include_pad and divisor_override is None:
        ctx.unsupported("padded average pooling backward with count_include_pad=False (per-window divisors)")
    divisor = float(divisor_override) if divisor_override else float(kernel[0] * kernel[1])
    oh, ow = ctx.shape(grad)[-2:]
    h, w = shape[-2:]
    if stride == kernel and not any(padding) and oh * kernel[0] <= h and ow * kernel[1] <= w:
        return _spread(ctx, grad, kernel, (h, w), divisor, shape)
    return _avg_windows_conv(ctx, grad, x, kernel, stride, padding, divisor)


@lower(aten._adaptive_avg_pool2d_backward.default, when=COMMON + (float_inputs,))
def adaptive_avg_pool2d_backward(ctx, grad, x):
    shape = list(ctx.shape(x))
    if len(shape) not in (3, 4):
        ctx.unsupported(f"rank-{len(shape)} input of a 2-d pool")
    h, w = shape[-2:]
    oh, ow = ctx.shape(grad)[-2:]
    if h % oh or w % ow:
        ctx.unsupported(f"adaptive average pooling backward {h}x{w} -> {oh}x{ow} (windows of unequal sizes)")
    kernel = (h // oh, w // ow)
    return _spread(ctx, grad, kernel, (h, w), float(kernel[0] * kernel[1]), shape)


# --------------------------------------------------------------------------------------------------
# embedding backward
# --------------------------------------------------------------------------------------------------

@lower(aten.embedding_dense_backward.default, when=COMMON + (_float_grad,))
def embedding_dense_backward(ctx, grad, indices, num_weights, padding_idx, scale_grad_by_freq):
    ttnn = ctx.ttnn
    ishape = list(ctx.shape(indices))
    m = math.prod(ishape)
    d = ctx.shape(grad)[-1]
    v = int(num_weights)
    rm, dt, i32 = ttnn.ROW_MAJOR_LAYOUT, _fdt(ctx), ttnn.int32
    g = reshape(ctx, grad, [m, d])
    idx = reshape(ctx, indices, [m, 1]) if ishape != [m, 1] else indices
    if padding_idx is not None and 0 <= int(padding_idx) < v:
        keep = ctx.call("ne", ctx.tile(idx, i32), int(padding_idx), dtype=dt, out_dtype=dt, out_val=meta_value([m, 1]))
        g = _ew(ctx, "multiply", g, keep, shape=[m, d])
    idx_full = ctx.call("expand", ctx.tile(idx, i32), [m, d], out_val=meta_value([m, d], torch.int32))
    zeros = full_node(ctx, [v, d], 0, ctx.out.dtype)
    out = ctx.call("scatter_add", In(zeros, Req(rm, dt)), 0, In(idx_full, Req(rm, i32)), In(g, Req(rm, dt)),
                   out_val=meta_value([v, d]), out_layout=rm, out_dtype=dt)
    if scale_grad_by_freq:
        ones = full_node(ctx, [m, 1], 1, ctx.out.dtype)
        zc = full_node(ctx, [v, 1], 0, ctx.out.dtype)
        counts = ctx.call("scatter_add", In(zc, Req(rm, dt)), 0, In(idx, Req(rm, i32)), In(ones, Req(rm, dt)),
                          out_val=meta_value([v, 1]), out_layout=rm, out_dtype=dt)
        counts = _ew(ctx, "maximum", counts, 1.0)
        out = _ew(ctx, "divide", out, counts, shape=[v, d])
    return finish(ctx, out)
