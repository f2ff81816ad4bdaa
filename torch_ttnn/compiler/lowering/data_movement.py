"""Data movement aten ops: views and reshapes, permutes, expand, slicing, concatenation, splitting, repeat,
padding, roll, copies and dtype conversions.

Data movement moves values without converting them: operands are taken as they are on the device
(`ctx.keep`: layout and dtype unchanged, so int32 indices and 0/1 masks stay exact), and a host value comes in
TILE. Reshapes are `ttnn.view` when they are free (same last dim and, in TILE, same second-to-last dim or
both multiples of 32: the tiles do not change), else `ttnn.reshape` (which moves data).
"""
from __future__ import annotations

import math

import torch

from ..context import ComplexPair, In
from ..meta import Req, meta_value, tt_meta
from ..registry import COMMON, lower, no_complex, nonempty_result, static_shapes, unsupported
from ..tiles import is_free_view

aten = torch.ops.aten

DM = COMMON


# --------------------------------------------------------------------------------------------------
# helpers (also used by the indexing and creation families)
# --------------------------------------------------------------------------------------------------

def norm_dim(d: int, rank: int) -> int:
    r = max(rank, 1)
    return int(d) % r


def layout_of(ctx, x):
    """The layout `x` has on the device (TILE for host values, which come in TILE)."""
    m = tt_meta(x)
    return m.layout if m is not None else ctx.ttnn.TILE_LAYOUT


def dtype_of(ctx, x):
    """The TT-NN dtype `x` has (or will have) on the device."""
    m = tt_meta(x)
    return m.dtype if m is not None else ctx.dtype_for(x)




def reshape_to(ctx, x, shape, *, dtype=None, val=None):
    """x reshaped to `shape` on the device: a free ttnn.view when possible, else ttnn.reshape.

    `dtype` (torch) is the dtype of the value (default: x's); the node stands for the aten result when shape
    and dtype are the result's, else it is an intermediate (or `val` is its value)."""
    shape = [int(s) for s in shape]
    old = ctx.shape(x)
    tdt = dtype if dtype is not None else ctx.torch_dtype(x)
    final = isinstance(ctx.out, torch.Tensor) and list(ctx.out.shape) == shape and ctx.out.dtype == tdt
    out_val = val if val is not None else (None if final else meta_value(shape, tdt))
    if tuple(old) == tuple(shape) and (out_val is not None or tt_meta(x) is not None):
        return x   # an intermediate (the caller wraps it), or already a device value
    tile = layout_of(ctx, x) == ctx.ttnn.TILE_LAYOUT
    name = "view" if is_free_view(old, shape, tile) else "reshape"
    return ctx.call(name, ctx.keep(x), shape, out_val=out_val)


def exact_dtype(ctx, torch_dtype):
    """The device dtype holding values of `torch_dtype` exactly (float32 for float32/float16/float64)."""
    if torch_dtype in (torch.float32, torch.float64, torch.float16):
        return ctx.ttnn.float32
    return ctx.dtype_for(torch_dtype)


def relabel(ctx, x):
    """A new node standing for the aten result with x's device value (a zero-cost ttnn.view of the same
    shape): used when the value does not change on the device but the aten value is another one (another
    torch dtype, or a copy that must not be the same graph output as its input)."""
    return ctx.call("view", ctx.keep(x), list(ctx.out.shape))


def _is_graph_output(node) -> bool:
    return any(u.op == "output" for u in node.users)


def _aten_arg(ctx, i):
    return ctx.node.args[i] if len(ctx.node.args) > i else None


# --------------------------------------------------------------------------------------------------
# views and reshapes
# --------------------------------------------------------------------------------------------------

@lower(aten.view.default, aten._unsafe_view.default, aten.reshape.default, aten.view_copy.default,
       aten._reshape_copy.default, when=DM)
def view(ctx, x, shape):
    return reshape_to(ctx, x, ctx.out.shape)


@lower(aten._reshape_alias.default, when=DM)
def reshape_alias(ctx, x, shape, stride):
    return reshape_to(ctx, x, ctx.out.shape)


@lower(aten.squeeze.default, aten.squeeze.dim, aten.squeeze.dims, aten.unsqueeze.default,
       aten.squeeze_copy.default, aten.squeeze_copy.dim, aten.squeeze_copy.dims, aten.unsqueeze_copy.default,
       when=DM)
def squeeze_unsqueeze(ctx, x, *dims):
    return reshape_to(ctx, x, ctx.out.shape)


unsupported("bit-reinterpreting views (view.dtype) have no TT-NN equivalent", aten.view.dtype)
unsupported("strided views (arbitrary strides) have no TT-NN equivalent", aten.as_strided.default,
            aten.as_strided_copy.default)
unsupported("sliding-window views (unfold) have no TT-NN data movement equivalent", aten.unfold.default)
unsupported("diagonal views have no TT-NN equivalent", aten.diagonal.default, aten.diagonal_copy.default)


# --------------------------------------------------------------------------------------------------
# permute / transpose
# --------------------------------------------------------------------------------------------------

def permute_to(ctx, x, perm):
    shape = ctx.shape(x)
    r = len(shape)
    perm = [norm_dim(d, r) for d in perm]
    if perm == list(range(r)):
        return x if ctx.out is None or ctx.out.dtype == ctx.torch_dtype(x) else relabel(ctx, x)
    # moving only size-1 dims keeps the order of the values: a reshape (often a free view)
    big = [d for d in perm if shape[d] != 1]
    if big == sorted(big):
        return reshape_to(ctx, x, [shape[d] for d in perm])
    return ctx.call("permute", ctx.keep(x), perm)


@lower(aten.permute.default, aten.permute_copy.default, when=DM)
def permute(ctx, x, dims):
    return permute_to(ctx, x, dims)


@lower(aten.transpose.int, aten.transpose_copy.int, when=DM)
def transpose(ctx, x, dim0, dim1):
    r = ctx.rank(x)
    perm = list(range(r))
    if r:
        a, b = norm_dim(dim0, r), norm_dim(dim1, r)
        perm[a], perm[b] = perm[b], perm[a]
    return permute_to(ctx, x, perm)


@lower(aten.t.default, aten.t_copy.default, aten.numpy_T.default, when=DM)
def t(ctx, x):
    r = ctx.rank(x)
    return permute_to(ctx, x, list(range(r))[::-1])


# --------------------------------------------------------------------------------------------------
# expand / repeat
# --------------------------------------------------------------------------------------------------

def expand_to(ctx, x, shape, *, dtype=None):
    shape = [int(s) for s in shape]
    old = list(ctx.shape(x))
    tdt = dtype if dtype is not None else ctx.torch_dtype(x)
    if math.prod(old) == math.prod(shape):  # only size-1 dims added: a reshape
        return reshape_to(ctx, x, shape, dtype=tdt)
    final = isinstance(ctx.out, torch.Tensor) and list(ctx.out.shape) == shape and ctx.out.dtype == tdt
    return ctx.call("expand", ctx.keep(x), shape, out_val=None if final else meta_value(shape, tdt))


@lower(aten.expand.default, aten.expand_copy.default, when=DM)
def expand(ctx, x, size, implicit=False):
    return expand_to(ctx, x, ctx.out.shape)


@lower(aten.repeat.default, when=DM)
def repeat(ctx, x, repeats):
    repeats = [int(r) for r in repeats]
    shape = list(ctx.shape(x))
    if all(r == 1 for r in repeats):
        return _copy_of(ctx, x) if len(repeats) <= len(shape) else reshape_to(ctx, x, ctx.out.shape)
    if len(repeats) > len(shape):
        shape = [1] * (len(repeats) - len(shape)) + shape
        x = reshape_to(ctx, x, shape)
    # repeating only size-1 dims is an expand
    if all(r == 1 or s == 1 for r, s in zip(repeats, shape)):
        return expand_to(ctx, x, ctx.out.shape)
    return ctx.call("repeat", ctx.keep(x), repeats)


# --------------------------------------------------------------------------------------------------
# slicing
# --------------------------------------------------------------------------------------------------

def slice_to(ctx, x, dim, start, end, step=1, *, dtype=None):
    """x[..., start:end:step, ...] along `dim` (bounds already normalized, non-empty)."""
    shape = list(ctx.shape(x))
    r = len(shape)
    if start == 0 and end >= shape[dim] and step == 1:
        return x
    starts, ends, steps = [0] * r, list(shape), [1] * r
    starts[dim], ends[dim], steps[dim] = start, end, step
    out_shape = list(shape)
    out_shape[dim] = len(range(start, end, step))
    tdt = dtype if dtype is not None else ctx.torch_dtype(x)
    final = isinstance(ctx.out, torch.Tensor) and list(ctx.out.shape) == out_shape and ctx.out.dtype == tdt
    return ctx.call("slice", ctx.keep(x), starts, ends, steps,
                    out_val=None if final else meta_value(out_shape, tdt))


def _bounds(size, start, end):
    start = 0 if start is None else int(start)
    end = size if end is None else int(end)
    if start < 0:
        start += size
    if end < 0:
        end += size
    start = min(max(start, 0), size)
    end = min(max(end, start), size)
    return start, end


@lower(aten.slice.Tensor, aten.slice_copy.Tensor, when=DM)
def slice_(ctx, x, dim=0, start=None, end=None, step=1):
    r = ctx.rank(x)
    d = norm_dim(dim, r)
    s, e = _bounds(ctx.shape(x)[d], start, end)
    if int(step) <= 0:
        ctx.unsupported("non-positive slice step")
    out = slice_to(ctx, x, d, s, e, int(step))
    if out is x and tt_meta(x) is None:
        return relabel(ctx, x)
    return out


@lower(aten.narrow.default, when=DM)
def narrow(ctx, x, dim, start, length):
    d = norm_dim(dim, ctx.rank(x))
    s = int(start) % ctx.shape(x)[d] if int(start) < 0 else int(start)
    out = slice_to(ctx, x, d, s, s + int(length))
    return relabel(ctx, x) if out is x and tt_meta(x) is None else out


@lower(aten.select.int, aten.select_copy.int, when=DM)
def select(ctx, x, dim, index):
    shape = ctx.shape(x)
    d = norm_dim(dim, len(shape))
    i = int(index) + shape[d] if int(index) < 0 else int(index)
    piece = slice_to(ctx, x, d, i, i + 1)
    return reshape_to(ctx, piece, ctx.out.shape)


# --------------------------------------------------------------------------------------------------
# concatenation and splitting
# --------------------------------------------------------------------------------------------------

def _common_req(ctx, tensors, out_dtype):
    """One layout and one dtype for all operands of a concat/stack."""
    tts = [tt_meta(t) for t in tensors if tt_meta(t) is not None]
    layout = tts[0].layout if tts else ctx.ttnn.TILE_LAYOUT
    same_torch = all(ctx.torch_dtype(t) == out_dtype for t in tensors)
    if same_torch and tts and len(tts) == len(tensors) and all(m.dtype == tts[0].dtype for m in tts):
        dtype = tts[0].dtype
    else:
        dtype = ctx.dtype_for(out_dtype)
    return Req(layout, dtype)


@lower(aten.cat.default, when=(static_shapes, nonempty_result, no_complex))
def cat(ctx, tensors, dim=0):
    # empty operands (a key/value cache before its first entry) contribute nothing: dropped
    tensors = [t for t in tensors if ctx.val(t).numel() > 0]
    d = norm_dim(dim, ctx.out.dim())
    req = _common_req(ctx, tensors, ctx.out.dtype)
    if len(tensors) == 1:
        return ctx.call("clone", In(tensors[0], req))
    return ctx.call("concat", [In(t, req) for t in tensors], d)


@lower(aten.stack.default, when=DM)
def stack(ctx, tensors, dim=0):
    d = norm_dim(dim, ctx.out.dim())
    req = _common_req(ctx, tensors, ctx.out.dtype)
    if len(tensors) == 1:
        return reshape_to(ctx, tensors[0], ctx.out.shape)
    return ctx.call("stack", [In(t, req) for t in tensors], d)


def _split(ctx, x, sizes, dim):
    r = ctx.rank(x)
    d = norm_dim(dim, r)
    outs = list(ctx.out)
    if any(s == 0 for s in sizes):
        ctx.unsupported("zero-size split piece")
    if len(sizes) == 1:
        return (x,) if tt_meta(x) is not None else (relabel_to(ctx, x, outs[0]),)
    inp = ctx.keep(x)
    node = ctx.call("split", inp, [int(s) for s in sizes], d)
    return ctx.outputs(node, [(v, inp.req.layout, inp.req.dtype) for v in outs])


def relabel_to(ctx, x, val):
    return ctx.call("view", ctx.keep(x), list(val.shape), out_val=val)


@lower(aten.split_with_sizes.default, aten.split_with_sizes_copy.default, when=DM)
def split_with_sizes(ctx, x, split_sizes, dim=0):
    return _split(ctx, x, [int(s) for s in split_sizes], dim)


@lower(aten.split.Tensor, aten.split_copy.Tensor, when=DM)
def split(ctx, x, split_size, dim=0):
    size = ctx.shape(x)[norm_dim(dim, ctx.rank(x))]
    n = int(split_size)
    return _split(ctx, x, [min(n, size - i) for i in range(0, size, n)], dim)


@lower(aten.unbind.int, aten.unbind_copy.int, when=DM)
def unbind(ctx, x, dim=0):
    d = norm_dim(dim, ctx.rank(x))
    outs = list(ctx.out)
    res = []
    for i, v in enumerate(outs):
        piece = slice_to(ctx, x, d, i, i + 1, dtype=v.dtype)
        res.append(reshape_to(ctx, piece, v.shape, val=v))
    return tuple(res)


@lower(aten.select_scatter.default, when=DM)
def select_scatter(ctx, x, src, dim, index):
    d = norm_dim(dim, ctx.rank(x))
    size = ctx.shape(x)[d]
    i = int(index) + size if int(index) < 0 else int(index)
    shape = list(ctx.shape(x))
    shape[d] = 1
    src1 = reshape_to(ctx, src, shape, dtype=ctx.torch_dtype(src))
    req = _common_req(ctx, [x, src], ctx.out.dtype)
    parts = []
    if i > 0:
        parts.append(slice_to(ctx, x, d, 0, i, dtype=ctx.torch_dtype(x)))
    parts.append(src1)
    if i + 1 < size:
        parts.append(slice_to(ctx, x, d, i + 1, size, dtype=ctx.torch_dtype(x)))
    if len(parts) == 1:
        return relabel(ctx, src1)
    return ctx.call("concat", [In(p, req) for p in parts], d)


# --------------------------------------------------------------------------------------------------
# padding, roll, flip
# --------------------------------------------------------------------------------------------------

@lower(aten.constant_pad_nd.default, when=DM)
def constant_pad_nd(ctx, x, pad, value=0):
    shape = list(ctx.shape(x))
    r = len(shape)
    pad = [int(p) for p in pad]
    if len(pad) % 2 or len(pad) // 2 > r:
        ctx.unsupported("malformed padding")
    pairs = [[0, 0] for _ in range(r)]
    for k in range(len(pad) // 2):
        pairs[r - 1 - k] = [pad[2 * k], pad[2 * k + 1]]
    # negative padding crops
    y = x
    for dm, (a, b) in enumerate(pairs):
        if a < 0 or b < 0:
            cur = ctx.shape(y)[dm]
            s, e = (-a if a < 0 else 0), (cur + b if b < 0 else cur)
            y = slice_to(ctx, y, dm, s, e, dtype=ctx.torch_dtype(x))
    pairs = [[max(a, 0), max(b, 0)] for a, b in pairs]
    if all(a == 0 and b == 0 for a, b in pairs):
        return y if y is not x else relabel(ctx, x)
    front = any(a > 0 for a, _ in pairs)
    # TILE pad on the device cannot pad in front: ROW_MAJOR then
    layout = ctx.ttnn.ROW_MAJOR_LAYOUT if front else None
    dt = ctx.out.dtype
    if dt.is_floating_point:
        v = float(value)
    elif dt == torch.bool:
        v = float(bool(value))
    else:
        if not float(value).is_integer():
            ctx.unsupported("non-integer pad value for an integer tensor")
        v = int(value)
    return ctx.call("pad", ctx.keep(y, layout), [tuple(p) for p in pairs], v)


@lower(aten.roll.default, when=DM)
def roll(ctx, x, shifts, dims=()):
    shifts = [int(s) for s in (shifts if isinstance(shifts, (list, tuple)) else [shifts])]
    dims = [int(d) for d in (dims if isinstance(dims, (list, tuple)) else [dims])]
    if not dims:
        # roll of the flattened tensor
        n = math.prod(ctx.shape(x))
        flat = reshape_to(ctx, x, [n])
        rolled = ctx.call("roll", ctx.keep(flat), [shifts[0]], [0], out_val=meta_value([n], ctx.out.dtype))
        return reshape_to(ctx, rolled, ctx.out.shape)
    r = ctx.rank(x)
    return ctx.call("roll", ctx.keep(x), shifts, [norm_dim(d, r) for d in dims])


unsupported("TT-NN 0.81.1 has no flip/reverse op (and ttnn.slice takes positive steps only)", aten.flip.default)


# --------------------------------------------------------------------------------------------------
# copies, aliases and dtype conversions
# --------------------------------------------------------------------------------------------------

def _copy_of(ctx, x, arg=0):
    """The value of x as a fresh aten value: x itself unless the result would then be the same tensor as
    another graph output (x's aten value, or a host input / constant returned as is): a zero-cost view of
    x's device value then."""
    src = _aten_arg(ctx, arg)
    if tt_meta(x) is not None:
        if not (isinstance(src, torch.fx.Node) and _is_graph_output(src)):
            return x
    elif not _is_graph_output(ctx.node):
        return x   # a host value (an input, a lifted constant): its consumers bring it to the device
    return relabel(ctx, x)


@lower(aten.clone.default, aten.lift_fresh_copy.default, aten.lift_fresh.default, aten.contiguous.default,
       when=DM)
def clone(ctx, x, memory_format=None):
    return _copy_of(ctx, x)


@lower(aten.alias.default, aten.detach.default, aten.alias_copy.default, aten.detach_copy.default, when=DM)
def alias(ctx, x):
    return x


_NARROW_INTS = (torch.int8, torch.uint8, torch.int16)


def convert(ctx, x, dst, arg=0):
    """x (aten dtype ctx.torch_dtype(x)) converted to the torch dtype `dst`, standing for ctx.out (x is the
    aten argument `arg`, or an intermediate)."""
    src = ctx.torch_dtype(x)
    if dst == src:
        return _copy_of(ctx, x, arg)
    if dst.is_complex or src.is_complex:
        ctx.unsupported("complex dtype")
    if dst in _NARROW_INTS and src != torch.bool:
        ctx.unsupported(f"conversion {src} -> {dst}: integers live as int32 on the device, the narrowing "
                        "would not wrap")
    want = ctx.dtype_for(dst)
    if tt_meta(x) is not None:
        have = dtype_of(ctx, x)
    elif src.is_floating_point and not dst.is_floating_point:
        have = exact_dtype(ctx, src)   # float32 stays float32: 2.999 must not round to 3.0 before an int cast
    else:
        have = want if src.is_floating_point and dst.is_floating_point else ctx.dtype_for(src)  # host rounding
    if dst == torch.bool:
        # nonzero -> 1: a comparison, whose 0/1 result stays in the operand's dtype
        return ctx.call("ne", ctx.tile(x, have), 0, out_dtype=have)
    if have == want:
        return relabel(ctx, x)   # same device value (e.g. float32 <-> bfloat16 both in bfloat16)
    return ctx.call("typecast", In(x, Req(layout_of(ctx, x), have)), want, out_dtype=want)


@lower(aten._to_copy.default, when=DM)
def to_copy(ctx, x, dtype=None, layout=None, device=None, pin_memory=None, non_blocking=False,
            memory_format=None):
    # layout / device / memory format: nothing to do on the device
    if ctx.out.dtype.is_complex:
        if not ctx.torch_dtype(x).is_floating_point:
            ctx.unsupported(f"{ctx.torch_dtype(x)} to {ctx.out.dtype}")
        return ComplexPair(x)          # a real signal as a complex one: no imaginary part (lowering/fft.py)
    return convert(ctx, x, ctx.out.dtype)


@lower(aten.copy.default, when=DM)
def copy(ctx, x, src, non_blocking=False):
    """Functional copy: src broadcast to x's shape, in x's dtype."""
    shape = list(ctx.out.shape)
    y = src
    if list(ctx.shape(src)) != shape:
        y = expand_to(ctx, src, shape, dtype=ctx.torch_dtype(src))
    if y is src:
        return convert(ctx, src, ctx.out.dtype, arg=1)
    # y is an intermediate with src's dtype
    return convert(ctx, y, ctx.out.dtype) if ctx.torch_dtype(y) != ctx.out.dtype else y
