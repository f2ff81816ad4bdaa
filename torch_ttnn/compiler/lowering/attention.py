"""Scaled dot product attention -> ttnn.transformer.scaled_dot_product_attention.

aten's attention arrives as `_scaled_dot_product_flash_attention_for_cpu` (kept whole by decompositions.py,
or produced by the attention fusion from a hand-written matmul/softmax/matmul), rarely as
`scaled_dot_product_attention` or `_scaled_dot_product_efficient_attention`.

ttnn.transformer.scaled_dot_product_attention (0.81.1) takes q [b, nqh, sq, dh], k/v [b, nkv, sk, dh]
(nqh % nkv == 0), head dim a multiple of 32, bfloat16/bfp8/bfp4 operands, `is_causal` defaulting to True
(always passed explicitly here), causal only with sq == sk and never together with `attn_mask`, and a mask of
shape [1|b, 1|nqh, sq, sk] (a lower-rank or [.., 1, sk] mask is reshaped / repeated to that). Its scale
defaults to 1/sqrt(dh) like aten's; it is always passed.

Cases it cannot do (head dim not a multiple of 32, a logsumexp output read by the backward, ...) are lowered
to the same math on the device: matmul(q, k^T) -> scale/mask -> softmax -> matmul(v) (the mask added with
broadcasting; causal as a -inf upper triangle built on the device). The backward of the flash op is lowered
the same way (the standard attention gradient from the saved logsumexp). Dropout stays on the host.
"""
from __future__ import annotations

import math

import torch

from ..meta import meta_value
from ..registry import COMMON, float_inputs, lower, rank_at_most
from .matmul import finish, zero_k_padding
from ..fused_ops import fused_ops, scale_mask_softmax_supported
from ..tiles import TILE
from .normalization import softmax_call, used_outputs
from .reduction import reduce_call, reshape

aten = torch.ops.aten

ATTN = COMMON + (float_inputs, rank_at_most(4))


def _fdt(ctx):
    return ctx.float_dtype()


def _mm(ctx, a, b, out_shape, *, ta=False, tb=False):
    """a @ b with the K padding of one operand zeroed (see lowering/matmul.py)."""
    k = ctx.shape(a)[-2 if ta else -1]
    a, b = zero_k_padding(ctx, a, b, k)
    kw = {}
    if ta:
        kw["transpose_a"] = True
    if tb:
        kw["transpose_b"] = True
    return ctx.call("matmul", ctx.tile(a, _fdt(ctx)), ctx.tile(b, _fdt(ctx)), out_val=meta_value(out_shape), **kw)


def _ew(ctx, name, a, b, out_shape=None):
    bb = ctx.tile(b, _fdt(ctx)) if isinstance(b, torch.fx.Node) else b
    return ctx.call(name, ctx.tile(a, _fdt(ctx)), bb, out_val=meta_value(out_shape or ctx.shape(a)))


def _causal_mask(ctx, sq, sk):
    """[sq, sk] additive mask: -inf where key > query (aten's top-left aligned causal mask)."""
    dt = _fdt(ctx)
    full = ctx.call("full", [sq, sk], float("-inf"), dtype=dt, layout=ctx.ttnn.TILE_LAYOUT, device=ctx.device,
                    out_layout=ctx.ttnn.TILE_LAYOUT, out_dtype=dt, out_val=meta_value([sq, sk]))
    return ctx.call("triu", ctx.tile(full, dt), diagonal=1, out_val=meta_value([sq, sk]))


def _check_common(ctx, q, k, v, dropout_p, mask):
    if dropout_p:
        ctx.unsupported("attention dropout (random) is not lowered")
    for name, t in (("query", q), ("key", k), ("value", v)):
        if ctx.rank(t) != 4:
            ctx.unsupported(f"{name} of rank {ctx.rank(t)} (needs [b, heads, seq, head_dim])")
    if mask is not None and ctx.torch_dtype(mask) == torch.bool:
        ctx.unsupported("boolean attention mask")


def _logits(ctx, q, k, scale, mask, is_causal):
    """scale * q @ k^T + mask (+ causal mask), [b, h, sq, sk]."""
    b, h, sq, _ = ctx.shape(q)
    sk = ctx.shape(k)[2]
    shape = [b, h, sq, sk]
    s = _mm(ctx, q, k, shape, tb=True)
    x = _ew(ctx, "multiply", s, float(scale), shape)
    if mask is not None:
        x = _ew(ctx, "add", x, mask, shape)
    if is_causal:
        x = _ew(ctx, "add", x, _causal_mask(ctx, sq, sk), shape)
    return x


def _math_forward(ctx, q, k, v, mask, is_causal, scale, need_lse, lse_shape):
    b, h, sq, _ = ctx.shape(q)
    sk, dv = ctx.shape(k)[2], ctx.shape(v)[3]
    dt = _fdt(ctx)
    hk, hv = ctx.shape(k)[1], ctx.shape(v)[1]
    if hk != h or hv != h:
        # grouped-query attention: query head i reads key/value head i // (h / hk), as aten's enable_gqa does
        if hk != hv or h % hk:
            ctx.unsupported(f"grouped-query attention with {h} query heads and {hk}/{hv} key/value heads")
        rep = h // hk
        k = ctx.call("repeat_interleave", ctx.tile(k, dt), rep, 1,
                     out_val=meta_value([b, h, sk, ctx.shape(k)[3]]))
        v = ctx.call("repeat_interleave", ctx.tile(v, dt), rep, 1, out_val=meta_value([b, h, sk, dv]))
    shape = [b, h, sq, sk]
    if not need_lse:
        valid = None
        if mask is not None:
            mask, valid = _finite_mask(ctx, mask)
        mshape = None if mask is None else ctx.shape(mask)
        if not is_causal and (mask is None or (len(mshape) == 4 and scale_mask_softmax_supported(shape, mshape))):
            s = _mm(ctx, q, k, shape, tb=True)
            args = [float(scale)]
            if mask is not None:
                args.append(ctx.tile(mask, ctx.ttnn.bfloat16))
            p = softmax_call(ctx, "scale_mask_softmax", s, *args, dtype=dt, out_val=meta_value(shape))
        else:
            x = _logits(ctx, q, k, scale, mask, is_causal)
            p = softmax_call(ctx, "softmax", x, -1, dtype=dt, out_val=meta_value(shape))
        out = _mm(ctx, p, v, [b, h, sq, dv])
        if valid is not None:   # a query row that may attend to nothing gives 0, as aten's kernel does
            out = _ew(ctx, "multiply", out, valid, [b, h, sq, dv])
        return out, None
    x = _logits(ctx, q, k, scale, mask, is_causal)
    kshape = [b, h, sq, 1]
    m = reduce_call(ctx, "max", x, [3], True, dt, out_val=meta_value(kshape))
    e = ctx.call("exp", ctx.tile(_ew(ctx, "subtract", x, m, shape), dt), out_val=meta_value(shape))
    ssum = reduce_call(ctx, "sum", e, [3], True, dt, out_val=meta_value(kshape))
    p = _ew(ctx, "divide", e, ssum, shape)
    out = _mm(ctx, p, v, [b, h, sq, dv])
    lse = ctx.call("add", ctx.tile(ctx.call("log", ctx.tile(ssum, dt), out_val=meta_value(kshape)), dt), ctx.tile(m, dt),
                   out_val=meta_value(kshape))
    return out, reshape(ctx, lse, lse_shape)


MASKED = -1.0e4    # an additive mask entry at or below this masks its key (finite: no inf - inf in softmax)


def _finite_mask(ctx, mask):
    """(the additive mask with -inf (and anything below MASKED) raised to MASKED, a 0/1 [.., sq, 1] factor that
    is 0 for the query rows whose every key is masked). With a finite mask a fully masked row's softmax is
    uniform instead of NaN/inf; the factor then zeroes that row's output, which is what aten returns."""
    dt = _fdt(ctx)
    ms = list(ctx.shape(mask))
    clamped = ctx.call("maximum", ctx.tile(mask, dt), MASKED, out_val=meta_value(ms))
    row = ms[:-1] + [1]
    best = reduce_call(ctx, "max", clamped, [len(ms) - 1], True, dt, out_val=meta_value(row))
    valid = ctx.call("gt", ctx.tile(best, dt), MASKED, out_val=meta_value(row))
    return clamped, valid


def _mask4(ctx, mask, b, h, sq, sk):
    """The mask as TT-NN SDPA takes it ([1|b, 1|h, sq, sk]), or None if it cannot be made so."""
    ms = list(ctx.shape(mask))
    if len(ms) > 4:
        return None
    ms4 = [1] * (4 - len(ms)) + ms
    try:
        torch.broadcast_shapes(tuple(ms4), (b, h, sq, sk))
    except RuntimeError:
        return None
    m = reshape(ctx, mask, ms4, _fdt(ctx)) if ms4 != ms else mask
    if ms4[2] != sq or ms4[3] != sk:
        reps = [1, 1, sq if ms4[2] != sq else 1, sk if ms4[3] != sk else 1]
        m = ctx.call("repeat", ctx.tile(m, ctx.ttnn.bfloat16), reps,
                     out_val=meta_value([ms4[0], ms4[1], sq, sk]))
    return m


def _unrepeated(ctx, kv):
    """K or V before a grouped-query expansion (transformers' repeat_kv: [b, nkv, s, dh] viewed as
    [b, nkv, 1, s, dh], expanded to [b, nkv, r, s, dh], viewed as [b, nkv * r, s, dh]), or `kv` itself.
    sdpa_decode takes the nkv heads and reads each once for its r query heads."""
    views = {getattr(ctx.ttnn, n, None) for n in ("view", "reshape")} - {None}
    expand = getattr(ctx.ttnn, "expand", None)
    if not (isinstance(kv, torch.fx.Node) and kv.target in views and kv.args):
        return kv
    e = kv.args[0]
    if not (isinstance(e, torch.fx.Node) and e.target is expand and e.args):
        return kv
    u = e.args[0]
    if not (isinstance(u, torch.fx.Node) and u.target in views and u.args and isinstance(u.args[0], torch.fx.Node)):
        return kv
    x = u.args[0]
    xs, us, es, out = ctx.shape(x), ctx.shape(u), ctx.shape(e), ctx.shape(kv)
    if xs is None or us is None or es is None or len(xs) != 4 or len(es) != 5:
        return kv
    b, nkv, s, dh = xs
    r = es[2]
    if list(us) != [b, nkv, 1, s, dh] or list(es) != [b, nkv, r, s, dh] or list(out) != [b, nkv * r, s, dh]:
        return kv
    return x


def _decode(ctx, q, k, v, mask, b, nqh, sk, dh, scale):
    """One query token per user (a decode step): ttnn.transformer.scaled_dot_product_attention_decode, which
    puts a user's query heads in the rows of one tile and reads its K/V once (the prefill op pads each head's
    one query row to a tile and streams K/V once per query head). Q [b, nqh, 1, dh] goes in as [1, b, nqh, dh],
    the mask as [1, b, nqh, sk]; the output [1, b, nqh padded to 32, dh] comes back as [b, nqh, 1, dh]. Not
    causal (aten's causal mask with one query is not a decode's), key length a whole number of tiles. None
    when the mask cannot be brought to that shape."""
    bf16 = ctx.ttnn.bfloat16
    k, v = _unrepeated(ctx, k), _unrepeated(ctx, v)
    kwargs = {"is_causal": False, "scale": scale}
    if mask is not None:
        m4 = _mask4(ctx, mask, b, nqh, 1, sk)
        if m4 is None:
            return None
        mb, mh = ctx.shape(m4)[:2]
        m = reshape(ctx, m4, [1, mb, mh, sk], bf16)
        if (mb, mh) != (b, nqh):
            m = ctx.call("repeat", ctx.tile(m, bf16), [1, b // mb, nqh // mh, 1], out_val=meta_value([1, b, nqh, sk]))
        kwargs["attn_mask"] = ctx.tile(m, bf16)
    q1 = reshape(ctx, q, [1, b, nqh, dh], bf16)
    pnh = -(-nqh // TILE) * TILE
    out = ctx.call("transformer.scaled_dot_product_attention_decode", ctx.tile(q1, bf16), ctx.tile(k, bf16),
                   ctx.tile(v, bf16), out_val=meta_value([1, b, pnh, dh]), **kwargs)
    if pnh != nqh:
        out = ctx.call("slice", ctx.tile(out, bf16), [0, 0, 0, 0], [1, b, nqh, dh], [1, 1, 1, 1],
                       out_val=meta_value([1, b, nqh, dh]))
    return reshape(ctx, out, [b, nqh, 1, dh], bf16)


def sdpa(ctx, q, k, v, mask, dropout_p, is_causal, scale, need_lse=False, lse_shape=None):
    """Lower one attention; returns (out, lse or None)."""
    _check_common(ctx, q, k, v, dropout_p, mask)
    b, nqh, sq, dh = ctx.shape(q)
    kb, nkv, sk, kdh = ctx.shape(k)
    if is_causal and mask is not None:
        ctx.unsupported("is_causal together with attn_mask")
    scale = 1.0 / math.sqrt(dh) if scale is None else float(scale)
    tt_ok = (not need_lse and ctx.shape(v) == ctx.shape(k) and kb == b and kdh == dh and dh % 32 == 0
             and nqh % nkv == 0 and (not is_causal or sq == sk))
    if tt_ok and sq == 1 and not is_causal and nqh <= TILE and sk % TILE == 0:
        out = _decode(ctx, q, k, v, mask, b, nqh, sk, dh, scale)
        if out is not None:
            return out, None
    if tt_ok:
        m4 = _mask4(ctx, mask, b, nqh, sq, sk) if mask is not None else None
        if mask is None or m4 is not None:
            bf16 = ctx.ttnn.bfloat16
            kwargs = {"is_causal": bool(is_causal), "scale": scale}
            if m4 is not None:
                kwargs["attn_mask"] = ctx.tile(m4, bf16)
            out = ctx.call("transformer.scaled_dot_product_attention", ctx.tile(q, bf16), ctx.tile(k, bf16),
                           ctx.tile(v, bf16), out_val=meta_value([b, nqh, sq, dh]), **kwargs)
            return out, None
    return _math_forward(ctx, q, k, v, mask, is_causal, scale, need_lse, lse_shape)


@lower(aten._scaled_dot_product_flash_attention_for_cpu.default, when=ATTN)
def flash_attention_for_cpu(ctx, query, key, value, dropout_p=0.0, is_causal=False, *, attn_mask=None, scale=None):
    out_val, lse_val = ctx.out
    need_lse = 1 in used_outputs(ctx)
    out, lse = sdpa(ctx, query, key, value, attn_mask, dropout_p, is_causal, scale, need_lse, lse_val.shape)
    return finish(ctx, (out, lse))


@lower(aten.scaled_dot_product_attention.default, when=ATTN)
def scaled_dot_product_attention(ctx, query, key, value, attn_mask=None, dropout_p=0.0, is_causal=False, *,
                                 scale=None, enable_gqa=False):
    if ctx.shape(query)[1] != ctx.shape(key)[1] and not enable_gqa:
        ctx.unsupported("different query and key head counts without enable_gqa")
    return finish(ctx, sdpa(ctx, query, key, value, attn_mask, dropout_p, is_causal, scale)[0])


@lower(aten._scaled_dot_product_efficient_attention.default, when=ATTN)
def efficient_attention(ctx, query, key, value, attn_bias, compute_log_sumexp, dropout_p=0.0, is_causal=False, *,
                        scale=None):
    if used_outputs(ctx) - {0}:
        ctx.unsupported("logsumexp / random state outputs of efficient attention are read")
    return finish(ctx, (sdpa(ctx, query, key, value, attn_bias, dropout_p, is_causal, scale)[0], None, None, None))


@lower(aten._scaled_dot_product_flash_attention_for_cpu_backward.default, when=ATTN)
def flash_attention_for_cpu_backward(ctx, grad_out, query, key, value, out, logsumexp, dropout_p, is_causal, *,
                                     attn_mask=None, scale=None):
    """dq, dk, dv from the saved logsumexp: P = exp(S - lse), dV = P^T dO, dS = P * (dO V^T - rowsum(dO * O)),
    dQ = scale * dS K, dK = scale * dS^T Q."""
    _check_common(ctx, query, key, value, dropout_p, attn_mask)
    b, h, sq, dh = ctx.shape(query)
    sk, dv = ctx.shape(key)[2], ctx.shape(value)[3]
    if ctx.shape(key)[1] != h or ctx.shape(value)[1] != h:
        ctx.unsupported("grouped-query attention backward")
    scale = 1.0 / math.sqrt(dh) if scale is None else float(scale)
    dt = _fdt(ctx)
    shape = [b, h, sq, sk]
    used = used_outputs(ctx)
    x = _logits(ctx, query, key, scale, attn_mask, is_causal)
    lse4 = reshape(ctx, logsumexp, [b, h, sq, 1])
    p = ctx.call("exp", ctx.tile(_ew(ctx, "subtract", x, lse4, shape), dt), out_val=meta_value(shape))
    gq = gk = gv = None
    if 2 in used:
        gv = _mm(ctx, p, grad_out, [b, h, sk, dv], ta=True)
    if 0 in used or 1 in used:
        dp = _mm(ctx, grad_out, value, shape, tb=True)
        prod = _ew(ctx, "multiply", grad_out, out, [b, h, sq, dv])
        d = reduce_call(ctx, "sum", prod, [3], True, dt, out_val=meta_value([b, h, sq, 1]))
        ds = _ew(ctx, "multiply", p, _ew(ctx, "subtract", dp, d, shape), shape)
        if 0 in used:
            gq = _ew(ctx, "multiply", _mm(ctx, ds, key, [b, h, sq, dh]), scale, [b, h, sq, dh])
        if 1 in used:
            gk = _ew(ctx, "multiply", _mm(ctx, ds, query, [b, h, sk, dh], ta=True), scale, [b, h, sk, dh])
    return finish(ctx, (gq, gk, gv))


# --------------------------------------------------------------------------------------------------
# head split and join (fusion/heads.py)
# --------------------------------------------------------------------------------------------------

@lower(fused_ops().split_heads.default, when=COMMON + (float_inputs,))
def split_heads(ctx, x, num_heads):
    """ttnn_fused.split_heads -> ttnn.transformer.split_query_key_value_and_split_heads (q, k, v [b, h, s, d];
    K untransposed, as SDPA reads it)."""
    b, s, e = ctx.shape(x)
    if e % (3 * num_heads) or (e // (3 * num_heads)) % TILE:
        ctx.unsupported(f"a head size of {e / (3 * num_heads):g} is not a multiple of the tile width")
    inp = ctx.tile(x)
    node = ctx.call("transformer.split_query_key_value_and_split_heads", inp, num_heads=int(num_heads),
                    transpose_key=False)
    return ctx.outputs(node, [(v, ctx.ttnn.TILE_LAYOUT, inp.req.dtype) for v in ctx.out])


@lower(fused_ops().concatenate_heads.default, when=COMMON + (float_inputs,))
def concatenate_heads(ctx, x):
    """ttnn_fused.concatenate_heads -> ttnn.transformer.concatenate_heads."""
    if ctx.shape(x)[-1] % TILE:
        ctx.unsupported("a head size that is not a multiple of the tile width")
    return ctx.call("transformer.concatenate_heads", ctx.tile(x))
