"""Convolutions: aten.convolution -> ttnn.conv2d / ttnn.conv1d / ttnn.conv_transpose2d.

TT-NN convolutions work on channels-last activations: the NC(H)W torch value is permuted to N(H)WC on the
device (conv2d takes [N, H, W, C] as it is), the op returns the flattened [1, 1, N*OH*OW, O] (TILE), which is
reshaped to [N, OH, OW, O] and permuted back, so that the returned node has the aten shape. The layout pass
(passes/layout.py) then removes the permute pairs between consecutive convolutions and pools.

Weights stay in torch layout (OIHW; IOHW for transposed) as ttnn tensors on the HOST (`ctx.host_tt`:
parameters go through the load-once cache; TT-NN prepares and places them itself); the bias [O] is reshaped
on the host to [1, 1, 1, O]. 1-d convolutions use ttnn.conv1d ([N, L, C] input, [O, I/g, K] weights);
transposed 1-d convolutions run as conv_transpose2d of height L and width 1.

The helpers here (channels-last in/out) are shared with the pooling family (pool.py).
"""
from __future__ import annotations

import dataclasses
import torch

from ..context import In
from ..meta import Req, TT, meta_value, tt_meta
from ..registry import COMMON, float_inputs, lower
from ..tiles import is_free_view

aten = torch.ops.aten



# --------------------------------------------------------------------------------------------------
# helpers (shared with pool.py)
# --------------------------------------------------------------------------------------------------

def float_act(ctx, x, layout=None, dtype=None) -> In:
    """x as a floating point activation on the device: a device value as it is (layout, and dtype when it is
    bfloat16/float32), a host value ROW_MAJOR (channels-last permutes and sliding-window ops read rows)."""
    ttnn = ctx.ttnn
    m = tt_meta(x)
    if m is None:
        return In(x, Req(layout if layout is not None else ttnn.ROW_MAJOR_LAYOUT,
                         dtype if dtype is not None else ctx.float_dtype()))
    dt = dtype if dtype is not None else (m.dtype if m.dtype in (ttnn.bfloat16, ttnn.float32)
                                          else ctx.float_dtype())
    return In(x, Req(layout if layout is not None else m.layout, dt))


def reshape(ctx, x, shape, tdt, *, final=False, operand=None):
    """Device value x reshaped to `shape`: ttnn.view when free, else ttnn.reshape. `final`: the node stands
    for the aten result."""
    shape = [int(s) for s in shape]
    m = tt_meta(x)
    layout = operand.req.layout if operand is not None else (m.layout if m is not None else ctx.ttnn.TILE_LAYOUT)
    name = "view" if m is not None and is_free_view(ctx.shape(x), shape, layout == ctx.ttnn.TILE_LAYOUT) \
        else "reshape"
    return ctx.call(name, operand if operand is not None else ctx.keep(x), shape,
                    out_val=None if final else meta_value(shape, tdt))


def permute(ctx, x, perm, tdt, *, final=False, operand=None):
    shape = ctx.shape(x)
    new = [shape[p] for p in perm]
    return ctx.call("permute", operand if operand is not None else ctx.keep(x), list(perm),
                    out_val=None if final else meta_value(new, tdt))


def channels_last(ctx, x, tdt, *, operand=None):
    """[N, C, *spatial] -> [N, *spatial, C] on the device."""
    r = ctx.rank(x)
    return permute(ctx, x, [0] + list(range(2, r)) + [1], tdt,
                   operand=operand if operand is not None else float_act(ctx, x))


def channels_first(ctx, y_flat, nhwc_shape, tdt, *, out_shape=None, final=True):
    """The flattened [1, 1, N*spatial, C] result of a TT-NN sliding-window op -> [N, C, *spatial] (then
    `out_shape` if given, e.g. an unbatched result)."""
    r = len(nhwc_shape)
    y = reshape(ctx, y_flat, nhwc_shape, tdt)
    nchw = [nhwc_shape[0], nhwc_shape[-1]] + list(nhwc_shape[1:-1])
    last = out_shape is None or list(out_shape) == nchw
    y = permute(ctx, y, [0, r - 1] + list(range(1, r - 1)), tdt, final=final and last)
    if not last:
        y = reshape(ctx, y, out_shape, tdt, final=final)
    return y


def host_reshape(ctx, w, shape, dtype=None):
    """A ttnn tensor on the host, reshaped on the host (weights and biases of convolutions)."""
    node = ctx.call("reshape", ctx.host_tt(w, dtype), [int(s) for s in shape],
                    out_layout=ctx.ttnn.ROW_MAJOR_LAYOUT, out_val=meta_value(shape, ctx.torch_dtype(w)))
    node.meta[TT] = dataclasses.replace(node.meta[TT], on_device=False)
    return node


def _ints(v, n):
    if isinstance(v, int):
        return [int(v)] * n
    v = [int(a) for a in v]
    return v * n if len(v) == 1 else v


# --------------------------------------------------------------------------------------------------
# aten.convolution
# --------------------------------------------------------------------------------------------------

@lower(aten.convolution.default, when=COMMON + (float_inputs,))
def convolution(ctx, x, weight, bias, stride, padding, dilation, transposed, output_padding, groups):
    if not isinstance(weight, torch.fx.Node):
        ctx.unsupported("weight given as a constant")
    spatial = ctx.rank(weight) - 2
    if spatial == 3:
        ctx.unsupported("3-d convolution (ttnn.experimental.conv3d is not lowered)")
    if spatial not in (1, 2) or ctx.rank(x) != spatial + 2:
        ctx.unsupported(f"{spatial}-d convolution of a rank-{ctx.rank(x)} input")
    stride, padding, dilation = _ints(stride, spatial), _ints(padding, spatial), _ints(dilation, spatial)
    output_padding, groups = _ints(output_padding, spatial), int(groups)
    tdt = ctx.out.dtype
    out_shape = list(ctx.out.shape)
    xs, ws = ctx.shape(x), ctx.shape(weight)
    n, cin = xs[0], xs[1]
    cout = out_shape[1]
    wdt = ctx.dtype_for(weight)
    xn = channels_last(ctx, x, tdt)
    act = float_act(ctx, xn)
    b = None if bias is None else host_reshape(ctx, bias, [1, 1, 1, cout], wdt)
    bias_op = None if b is None else ctx.host_tt(b, wdt)
    common = dict(input_tensor=act, device=ctx.device, in_channels=cin, out_channels=cout, batch_size=n,
                  groups=groups, bias_tensor=bias_op)
    flat_out = None

    if spatial == 2:
        h, w = xs[2], xs[3]
        oh, ow = out_shape[2], out_shape[3]
        flat = [1, 1, n * oh * ow, cout]
        geo = dict(input_height=h, input_width=w, kernel_size=list(ws[2:]), stride=stride, padding=padding,
                   dilation=dilation)
        # weights (and bias) prepared on the device once per model: the param cache runs these calls once
        prep = dict(input_memory_config=ctx.constant(ctx.ttnn.DRAM_MEMORY_CONFIG), input_layout=act.req.layout,
                    in_channels=cin, out_channels=cout, batch_size=n, input_height=h, input_width=w,
                    kernel_size=list(ws[2:]), stride=stride, padding=padding, dilation=dilation, groups=groups,
                    device=ctx.device, input_dtype=act.req.dtype)
        kind = "conv_transpose2d" if transposed else "conv"
        taps = ws[2] * ws[3] * (ws[0] if transposed else ws[1])
        wprep = ctx.call(f"prepare_{kind}_weights", weight_tensor=ctx.host_tt(weight, wdt),
                         weights_format="IOHW" if transposed else "OIHW", has_bias=bias is not None, **prep,
                         out_layout=ctx.ttnn.TILE_LAYOUT, out_dtype=wdt, out_val=meta_value([1, 1, taps, cout], tdt))
        if bias_op is not None:
            common["bias_tensor"] = ctx.call(f"prepare_{kind}_bias", bias_tensor=bias_op, **prep,
                                             out_layout=ctx.ttnn.TILE_LAYOUT, out_dtype=wdt,
                                             out_val=meta_value([1, 1, 1, cout], tdt))
        if transposed:
            flat_out = ctx.call("conv_transpose2d", weight_tensor=wprep, **common, **geo,
                                output_padding=output_padding, out_layout=ctx.ttnn.TILE_LAYOUT,
                                out_dtype=act.req.dtype, out_val=meta_value(flat, tdt))
        else:
            flat_out = ctx.call("conv2d", weight_tensor=wprep, **common, **geo,
                                out_layout=ctx.ttnn.TILE_LAYOUT, out_dtype=act.req.dtype,
                                out_val=meta_value(flat, tdt))
        return channels_first(ctx, flat_out, [n, oh, ow, cout], tdt)

    # 1-d
    length = xs[2]
    ol = out_shape[2]
    flat = [1, 1, n * ol, cout]
    if transposed:
        # conv_transpose2d of height L and width 1 (ttnn has no conv_transpose1d): weights [I, O/g, K, 1]
        w4 = host_reshape(ctx, weight, list(ws) + [1], wdt)
        xn4 = reshape(ctx, xn, [n, length, 1, cin], tdt, operand=act)
        common["input_tensor"] = float_act(ctx, xn4)
        flat_out = ctx.call("conv_transpose2d", weight_tensor=ctx.host_tt(w4, wdt), **common, input_height=length,
                            input_width=1, kernel_size=[ws[2], 1], stride=[stride[0], 1], padding=[padding[0], 0],
                            output_padding=[output_padding[0], 0], dilation=[dilation[0], 1],
                            out_layout=ctx.ttnn.TILE_LAYOUT, out_dtype=act.req.dtype, out_val=meta_value(flat, tdt))
    else:
        # a conv2d of height 1: its weights [O, I/g, 1, K] can be prepared on the device once per model,
        # which ttnn.conv1d (host weights on every call) cannot
        w4 = host_reshape(ctx, weight, [ws[0], ws[1], 1, ws[2]], wdt)
        xn4 = reshape(ctx, xn, [n, 1, length, cin], tdt, operand=act)
        act4 = float_act(ctx, xn4)
        common["input_tensor"] = act4
        geo = dict(input_height=1, input_width=length, kernel_size=[1, ws[2]], stride=[1, stride[0]],
                   padding=[0, padding[0]], dilation=[1, dilation[0]])
        prep = dict(input_memory_config=ctx.constant(ctx.ttnn.DRAM_MEMORY_CONFIG), input_layout=act4.req.layout,
                    in_channels=cin, out_channels=cout, batch_size=n, groups=groups, device=ctx.device,
                    input_dtype=act4.req.dtype, **geo)
        common["weight_tensor"] = ctx.call("prepare_conv_weights", weight_tensor=ctx.host_tt(w4, wdt),
                                           weights_format="OIHW", has_bias=bias is not None, **prep,
                                           out_layout=ctx.ttnn.TILE_LAYOUT, out_dtype=wdt,
                                           out_val=meta_value([1, 1, ws[1] * ws[2], cout], tdt))
        if bias_op is not None:
            common["bias_tensor"] = ctx.call("prepare_conv_bias", bias_tensor=bias_op, **prep,
                                             out_layout=ctx.ttnn.TILE_LAYOUT, out_dtype=wdt,
                                             out_val=meta_value([1, 1, 1, cout], tdt))
        flat_out = ctx.call("conv2d", **common, **geo, out_layout=ctx.ttnn.TILE_LAYOUT,
                            out_dtype=act4.req.dtype, out_val=meta_value(flat, tdt))
    return channels_first(ctx, flat_out, [n, ol, cout], tdt)

