"""FFTs: aten._fft_r2c / _fft_c2c and view_as_real -> ttnn.experimental.fft / ifft on (real, imag) pairs.

TT-NN has no complex dtype: a complex value is lowered as a ComplexPair of real tensors (context.py), made by
`_to_copy` to a complex dtype (a real signal, no imaginary part) or by an FFT, and consumed by an FFT or by
view_as_real (the pair stacked on a new last dim, which `.real` / `.imag` then select). Any other consumer
gets the complex value rebuilt on the host (passes/lower.py), and its op stays there.

ttnn.experimental.fft transforms the last dim of a real ROW_MAJOR tensor, unnormalised, and returns (real,
imag); ttnn.experimental.ifft takes (real, imag) and scales by 1/N (0.81.1 docstrings). So:
- a transform over another dim permutes that dim last and back;
- a complex input transforms each part, by linearity: FFT(a + ib) = (Ar - Bi) + i(Ai + Br);
- aten's normalization (0: none, 1: 1/sqrt(n), 2: 1/n) is a multiply of both parts by the factor the ttnn op
  does not apply;
- a one-sided real transform (rfft) keeps the first n//2 + 1 bins of its last dim.
"""
from __future__ import annotations

import math

import torch

from ..context import ComplexPair
from ..meta import meta_value
from ..registry import lower, lower_complex, nonempty, static_shapes

aten = torch.ops.aten

FFT = (static_shapes, nonempty)


def _pair(ctx, x) -> ComplexPair:
    if not isinstance(x, ComplexPair):
        ctx.unsupported("a complex operand computed on the host")
    return x


def _permute(ctx, x, perm, shape):
    if list(perm) == list(range(len(perm))):
        return x
    new = [shape[p] for p in perm]
    return ctx.call("permute", ctx.keep(x), list(perm), out_val=meta_value(new, torch.float32))


def _scale(ctx, x, factor, shape, dt):
    if factor == 1.0:
        return x
    return ctx.call("multiply", ctx.rm(x, dt), float(factor), out_layout=ctx.ttnn.ROW_MAJOR_LAYOUT,
                    out_dtype=dt, out_val=meta_value(shape, torch.float32))


def _zeros(ctx, like, shape, dt):
    """The zero imaginary part of a real signal, as a tensor (for the ops that take both parts)."""
    return ctx.call("zeros_like", ctx.rm(like, dt), out_layout=ctx.ttnn.ROW_MAJOR_LAYOUT, out_dtype=dt,
                    out_val=meta_value(shape, torch.float32))


def _parts(ctx, name, args, shape, dt):
    node = ctx.call(name, *args, out_layout=ctx.ttnn.ROW_MAJOR_LAYOUT, out_dtype=dt,
                    out_val=(meta_value(shape, torch.float32), meta_value(shape, torch.float32)))
    v = meta_value(shape, torch.float32)
    return ctx.outputs(node, [(v, ctx.ttnn.ROW_MAJOR_LAYOUT, dt), (v, ctx.ttnn.ROW_MAJOR_LAYOUT, dt)])


def _fft_1d(ctx, z: ComplexPair, dim: int, shape: list, inverse: bool, norm: int) -> ComplexPair:
    """The transform of `z` (of `shape`) along `dim`, with aten's normalization mode `norm`."""
    dt = ctx.float_dtype()
    r = len(shape)
    perm = [d for d in range(r) if d != dim] + [dim]
    back = [perm.index(d) for d in range(r)]
    last = [shape[p] for p in perm]
    re = _permute(ctx, z.real, perm, shape)
    im = _permute(ctx, z.imag, perm, shape) if z.imag is not None else None
    n = shape[dim]
    if inverse:
        if im is None:
            im = _zeros(ctx, re, last, dt)
        yr, yi = _parts(ctx, "experimental.ifft", (ctx.rm(re, dt), ctx.rm(im, dt)), last, dt)
        factor = {0: float(n), 1: math.sqrt(n), 2: 1.0}[norm]
    else:
        yr, yi = _parts(ctx, "experimental.fft", (ctx.rm(re, dt),), last, dt)
        if im is not None:            # FFT(a + ib) = (Ar - Bi) + i(Ai + Br)
            br, bi = _parts(ctx, "experimental.fft", (ctx.rm(im, dt),), last, dt)
            v = meta_value(last, torch.float32)
            yr = ctx.call("subtract", ctx.rm(yr, dt), ctx.rm(bi, dt), out_layout=ctx.ttnn.ROW_MAJOR_LAYOUT,
                          out_dtype=dt, out_val=v)
            yi = ctx.call("add", ctx.rm(yi, dt), ctx.rm(br, dt), out_layout=ctx.ttnn.ROW_MAJOR_LAYOUT,
                          out_dtype=dt, out_val=v)
        factor = {0: 1.0, 1: 1.0 / math.sqrt(n), 2: 1.0 / n}[norm]
    yr, yi = _scale(ctx, yr, factor, last, dt), _scale(ctx, yi, factor, last, dt)
    return ComplexPair(_permute(ctx, yr, back, last), _permute(ctx, yi, back, last))


def _check_norm(ctx, normalization):
    if int(normalization) not in (0, 1, 2):
        ctx.unsupported(f"FFT normalization mode {normalization}")
    return int(normalization)


@lower(aten._fft_r2c.default, when=FFT, family="fft")
def fft_r2c(ctx, x, dim, normalization, onesided):
    """FFT of a real tensor over `dim`; one-sided: the first n//2 + 1 bins of the last transformed dim."""
    if not ctx.torch_dtype(x).is_floating_point:
        ctx.unsupported(f"FFT of a {ctx.torch_dtype(x)} tensor")
    norm = _check_norm(ctx, normalization)
    shape = list(ctx.shape(x))
    dims = [int(d) % len(shape) for d in dim]
    z = ComplexPair(x)
    for d in reversed(dims):
        z = _fft_1d(ctx, z, d, shape, False, norm)
    if onesided:
        last = dims[-1]
        keep = shape[last] // 2 + 1
        start, end = [0] * len(shape), list(shape)
        end[last] = keep
        out = list(shape)
        out[last] = keep
        cut = lambda t: ctx.call("slice", ctx.keep(t), start, end, [1] * len(shape),  # noqa: E731
                                 out_val=meta_value(out, torch.float32))
        z = ComplexPair(cut(z.real), cut(z.imag))
    return z


@lower(aten._fft_c2c.default, when=FFT, family="fft")
def fft_c2c(ctx, z, dim, normalization, forward):
    """FFT (forward) or inverse FFT of a complex value over `dim`."""
    z = _pair(ctx, z)
    norm = _check_norm(ctx, normalization)
    shape = list(ctx.shape(ctx.node.args[0]))
    for d in reversed([int(d) % len(shape) for d in dim]):
        z = _fft_1d(ctx, z, d, shape, not forward, norm)
    return z


@lower(aten.view_as_real.default, when=FFT, family="fft")
def view_as_real(ctx, z):
    """The parts stacked on a new last dim of size 2."""
    z = _pair(ctx, z)
    shape = list(ctx.shape(ctx.node.args[0]))
    dt = ctx.float_dtype()
    one = shape + [1]
    im = z.imag if z.imag is not None else _zeros(ctx, z.real, shape, dt)
    parts = [ctx.call("reshape", ctx.keep(p), one, out_val=meta_value(one, torch.float32)) for p in (z.real, im)]
    return ctx.call("concat", [ctx.rm(p, dt) for p in parts], len(shape), out_layout=ctx.ttnn.ROW_MAJOR_LAYOUT,
                    out_dtype=dt)


@lower_complex(aten.abs.default, when=FFT)
def complex_abs(ctx, z):
    """|z| = sqrt(re^2 + im^2) (a magnitude spectrum)."""
    z = _pair(ctx, z)
    dt = ctx.float_dtype()
    shape = list(ctx.shape(ctx.node.args[0]))
    sq = _sum(ctx, _mul(ctx, z.real, z.real, shape, dt), _mul(ctx, z.imag, z.imag, shape, dt), +1, shape, dt)
    return ctx.call("sqrt", ctx.tile(sq, dt), out_dtype=dt)


def _mul(ctx, a, b, shape, dt):
    """a * b (each a node, or None for zero, or a Python number); None when the product is zero."""
    if a is None or b is None or (isinstance(b, (int, float)) and b == 0):
        return None
    v = meta_value(shape, torch.float32)
    if isinstance(b, (int, float)):
        return ctx.call("multiply", ctx.tile(a, dt), float(b), out_dtype=dt, out_val=v)
    return ctx.call("multiply", ctx.tile(a, dt), ctx.tile(b, dt), out_dtype=dt, out_val=v)


def _sum(ctx, x, y, sign, shape, dt):
    """x + sign * y for parts that are nodes, Python numbers or None (zero): a node, a number or None."""
    x = None if isinstance(x, float) and x == 0.0 else x
    y = None if isinstance(y, float) and y == 0.0 else y
    v = meta_value(shape, torch.float32)
    if y is None:
        return x
    if isinstance(y, float):
        if x is None or isinstance(x, float):
            return (x or 0.0) + sign * y
        return ctx.call("add", ctx.tile(x, dt), sign * y, out_dtype=dt, out_val=v)
    if sign < 0:
        if x is None or isinstance(x, float):
            y = ctx.call("neg", ctx.tile(y, dt), out_dtype=dt, out_val=v)
        else:
            return ctx.call("subtract", ctx.tile(x, dt), ctx.tile(y, dt), out_dtype=dt, out_val=v)
    if x is None:
        return y
    if isinstance(x, float):
        return ctx.call("add", ctx.tile(y, dt), x, out_dtype=dt, out_val=v)
    return ctx.call("add", ctx.tile(x, dt), ctx.tile(y, dt), out_dtype=dt, out_val=v)


def _components(ctx, x) -> tuple:
    """(real, imag) of an operand of a complex op: a pair's parts, a Python number's as floats, a real
    tensor's as (it, None)."""
    if isinstance(x, ComplexPair):
        return x.real, x.imag
    if isinstance(x, (int, float, complex)):
        return complex(x).real, complex(x).imag
    if ctx.torch_dtype(x).is_complex:
        ctx.unsupported("a complex operand computed on the host")
    return x, None


@lower_complex(aten.mul.Tensor, when=FFT)
def complex_mul(ctx, a, b):
    """A complex product on the parts: (ar + i ai)(br + i bi) = (ar br - ai bi) + i(ar bi + ai br); a real
    operand or a Python number (complex or real) is a pair with a known imaginary part."""
    dt = ctx.float_dtype()
    shape = list(ctx.out.shape)
    (ar, ai), (br, bi) = _components(ctx, a), _components(ctx, b)
    if not isinstance(ar, torch.fx.Node):       # number * pair: the pair first
        (ar, ai), (br, bi) = (br, bi), (ar, ai)
    re = _sum(ctx, _mul(ctx, ar, br, shape, dt), _mul(ctx, ai, bi, shape, dt), -1, shape, dt)
    im = _sum(ctx, _mul(ctx, ar, bi, shape, dt), _mul(ctx, ai, br, shape, dt), +1, shape, dt)
    if re is None:
        ctx.unsupported("a complex product that is zero")
    return ComplexPair(re, im)


@lower(aten._fft_c2r.default, when=FFT, family="fft")
def fft_c2r(ctx, z, dim, normalization, last_dim_size):
    """The real inverse of a one-sided spectrum (irfft): the other dims by inverse complex transforms, then the
    last as a matrix product with constant cosine/sine matrices (float32, HiFi4, fp32 accumulation): x[t] =
    sum_k w_k (Re X_k cos(2 pi k t / n) - Im X_k sin(2 pi k t / n)), w = 1 for k = 0 and k = n/2, else 2."""
    z = _pair(ctx, z)
    norm = _check_norm(ctx, normalization)
    shape = list(ctx.shape(ctx.node.args[0]))
    dims = [int(d) % len(shape) for d in dim]
    for d in reversed(dims[:-1]):
        z = _fft_1d(ctx, z, d, shape, True, norm)
    last = dims[-1]
    if last != len(shape) - 1:
        ctx.unsupported("an inverse real FFT whose last dim is not the tensor's last")
    n, m = int(last_dim_size), shape[last]
    if n > 8192:
        ctx.unsupported(f"an inverse real FFT of length {n}: the transform matrices would be too large")
    from torch._subclasses.fake_tensor import unset_fake_temporarily
    from .matmul import zero_k_padding
    from .pool import _static_constant
    with unset_fake_temporarily():
        k = torch.arange(m, dtype=torch.float64)[:, None]
        t = torch.arange(n, dtype=torch.float64)[None, :]
        w = torch.full((m, 1), 2.0, dtype=torch.float64)
        w[0] = 1.0
        w[n // 2 + 1:] = 0.0                   # bins past n/2 do not enter a real signal of length n
        if n % 2 == 0 and m > n // 2:
            w[n // 2] = 1.0
        scale = {0: 1.0, 1: 1.0 / math.sqrt(n), 2: 1.0 / n}[norm]
        ang = 2 * math.pi * k * t / n
        cos_m = (w * torch.cos(ang) * scale).to(torch.float32)
        sin_m = (-w * torch.sin(ang) * scale).to(torch.float32)
    ttnn = ctx.ttnn
    f32 = ttnn.float32
    cfg = ctx.constant(ttnn.WormholeComputeKernelConfig(math_fidelity=ttnn.MathFidelity.HiFi4,
                                                         math_approx_mode=False, fp32_dest_acc_en=True,
                                                         packer_l1_acc=False))
    out_shape = shape[:-1] + [n]
    dt = ctx.float_dtype()

    def product(part, mat):
        c = _static_constant(ctx, mat)
        xa, _ = zero_k_padding(ctx, part, c, m)
        return ctx.call("matmul", ctx.tile(xa, dt), ctx.tile(c, f32), compute_kernel_config=cfg,
                        out_val=meta_value(out_shape, torch.float32))
    y = product(z.real, cos_m)
    if z.imag is not None:
        y = ctx.call("add", ctx.tile(y, dt), ctx.tile(product(z.imag, sin_m), dt), out_dtype=dt,
                     out_val=meta_value(out_shape, torch.float32))
    return y


@lower_complex(aten.div.Tensor, when=FFT)
def complex_div(ctx, a, b):
    """A complex quotient on the parts: a / b = a * conj(b) / |b|^2 (b a pair, a real tensor or a number)."""
    dt = ctx.float_dtype()
    shape = list(ctx.out.shape)
    if isinstance(b, (int, float, complex)):
        if complex(b) == 0:
            ctx.unsupported("a complex division by zero")
        return complex_mul(ctx, a, 1.0 / complex(b))
    if not isinstance(a, (ComplexPair, torch.fx.Node)):
        ctx.unsupported("a number divided by a complex tensor")
    br, bi = _components(ctx, b)
    b_shape = list(ctx.shape(ctx.node.args[1]))
    if not isinstance(b, ComplexPair):           # a real divisor
        inv = ctx.call("reciprocal", ctx.tile(br, dt), out_dtype=dt, out_val=meta_value(b_shape, torch.float32))
        return complex_mul(ctx, a, inv)
    den = _sum(ctx, _mul(ctx, br, br, b_shape, dt), _mul(ctx, bi, bi, b_shape, dt), +1, b_shape, dt)
    inv = ctx.call("reciprocal", ctx.tile(den, dt), out_dtype=dt, out_val=meta_value(b_shape, torch.float32))
    num = complex_mul(ctx, a, ComplexPair(br, _sum(ctx, None, bi, -1, b_shape, dt)))
    return ComplexPair(_mul(ctx, num.real, inv, shape, dt), _mul(ctx, num.imag, inv, shape, dt))


@lower_complex(aten.add.Tensor, aten.sub.Tensor, when=FFT)
def complex_add(ctx, a, b, alpha=1):
    """A complex sum or difference on the parts (a real operand or a number has a known imaginary part). The
    operands must have the result's shape: a part that only one operand has would keep its smaller shape."""
    dt = ctx.float_dtype()
    shape = list(ctx.out.shape)
    if any(isinstance(n, torch.fx.Node) and list(ctx.shape(n)) != shape for n in ctx.node.args[:2]):
        ctx.unsupported("a complex sum whose operands broadcast")
    sign = 1 if ctx.node.target is aten.add.Tensor else -1
    if alpha != 1:
        b = complex_mul(ctx, b, alpha) if isinstance(b, ComplexPair) else (
            b * alpha if isinstance(b, (int, float, complex)) else _mul(ctx, b, float(alpha), shape, dt))
    (ar, ai), (br, bi) = _components(ctx, a), _components(ctx, b)
    re, im = _sum(ctx, ar, br, sign, shape, dt), _sum(ctx, ai, bi, sign, shape, dt)
    if not isinstance(re, torch.fx.Node) or (im is not None and not isinstance(im, torch.fx.Node)):
        ctx.unsupported("a complex sum with a constant part")
    return ComplexPair(re, im)
