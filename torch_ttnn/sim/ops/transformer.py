"""ttnn.transformer: scaled_dot_product_attention, attention_softmax(_), split_query_key_value_and_split_heads,
concatenate_heads.

SDPA numerics (FlashAttention-2 kernel, default compute config HiFi2 with a 16-bit Dst, as in real 0.81.1):
- S = Q @ K^T on the matrix unit (Q the SrcB activations, K^T the SrcA weights; ``numerics.fpu_matmul``), packed
  to bf16 in the intermediate circular buffer;
- the row statistics (max, sum of exponentials) are kept in fp32, the exponentials exp(scale*S + mask - max) are
  computed in fp32 and packed to bf16 before the second matmul;
- O = P @ V on the matrix unit, divided by the fp32 row sum, and rounded to the output dtype by the packer.
In ``ideal`` numerics every step is plain fp32.

attention_softmax is real ttnn's softmax (no mask: a separate multiply by 1/sqrt(head_size), then softmax) or
scale_mask_softmax (with a mask), both with numeric_stable=False and the default softmax compute config. The
softmax itself is the normalization family's model (``_softmax.softmax_core``: exp stored to Dst, row sum
accumulated in Dst, approximate SFPU reciprocal), so the two families agree; plain fp32 softmax if it is absent.
"""
from __future__ import annotations

import math
from typing import Optional

import torch

from .. import numerics
from .._op import ttnn_op
from ..tensor import Tensor
from ..types import TILE_HEIGHT, BLOCK_FLOAT_DTYPES, BufferType, DataType, Layout, MathFidelity
from ._common import (fail, kernel_config, make_output, offer_values_kernel, on_device, out_memory_config,
                      require_dtype, require_layout, require_rank, round_to)

from ._softmax import SoftmaxDefaultProgramConfig, softmax_config, softmax_core

TILE = TILE_HEIGHT         # tiles are square: TILE_HEIGHT == TILE_WIDTH
_SDPA_DTYPES = (DataType.BFLOAT16, DataType.BFLOAT8_B, DataType.BFLOAT4_B)


# ------------------------------------------------------------------------------------------------
# scaled_dot_product_attention
# ------------------------------------------------------------------------------------------------

def _f32(t: Tensor) -> torch.Tensor:
    return t._value.to(torch.float32)


def _position_mask(sq: int, sk: int, is_causal: bool, window: Optional[int], cu: Optional[torch.Tensor],
                   q_offset: int) -> Optional[torch.Tensor]:
    """Boolean [sq, sk] mask of allowed (query, key) pairs, or None when everything is allowed."""
    qpos = torch.arange(sq).unsqueeze(1)
    kpos = torch.arange(sk).unsqueeze(0)
    if cu is not None:
        qpos = qpos + q_offset
        bounds = cu.to(torch.int64).flatten()
        win_q = torch.bucketize(qpos, bounds[1:], right=True)
        win_k = torch.bucketize(kpos, bounds[1:], right=True)
        allowed = win_q == win_k
        if is_causal:
            allowed &= kpos <= qpos
        return allowed
    if not is_causal and window is None:
        return None
    qpos = qpos + max(0, sk - sq)
    allowed = torch.ones(sq, sk, dtype=torch.bool)
    if is_causal:
        allowed &= kpos <= qpos
    if window is not None:
        w = int(window)
        if is_causal:
            allowed &= kpos > qpos - w
        else:
            allowed &= (kpos >= qpos - w // 2) & (kpos <= qpos + w // 2)
    return allowed


def _golden_sdpa(input_tensor_q, input_tensor_k, input_tensor_v, *, attn_mask=None, is_causal=True, scale=None,
                 **kwargs):
    nq, nk = input_tensor_q.shape[1], input_tensor_k.shape[1]
    k = input_tensor_k.repeat_interleave(nq // nk, dim=1)
    v = input_tensor_v.repeat_interleave(nq // nk, dim=1)
    return torch.nn.functional.scaled_dot_product_attention(input_tensor_q, k, v, attn_mask=attn_mask,
                                                            is_causal=is_causal and attn_mask is None, scale=scale)


@ttnn_op("transformer.scaled_dot_product_attention", golden=_golden_sdpa)
def scaled_dot_product_attention(input_tensor_q, input_tensor_k, input_tensor_v, *, attn_mask=None, is_causal=True,
                                 scale=None, sliding_window_size=None, memory_config=None, program_config=None,
                                 compute_kernel_config=None, attention_sink=None, cu_window_seqlens=None,
                                 windowed_q_token_offset=0, windowed_q_token_offset_tensor=None,
                                 output_concat_heads=False, attn_mask_block_map=None):
    """softmax(scale * Q K^T + mask) V for Q [b, nqh, sq, dh], K/V [b, nkv, sk, dh] (GQA: nqh % nkv == 0).

    is_causal (default True) and attn_mask are mutually exclusive: pass is_causal=False with a mask.
    """
    op = "transformer.scaled_dot_product_attention"
    q, k, v = input_tensor_q, input_tensor_k, input_tensor_v
    device = on_device(op, input_tensor_q=q, input_tensor_k=k, input_tensor_v=v, attn_mask=attn_mask,
                       attention_sink=attention_sink, cu_window_seqlens=cu_window_seqlens,
                       windowed_q_token_offset_tensor=windowed_q_token_offset_tensor)
    for arg, t in (("input_tensor_q", q), ("input_tensor_k", k), ("input_tensor_v", v)):
        require_layout(op, arg, t, Layout.TILE)
        require_dtype(op, arg, t, _SDPA_DTYPES)
        require_rank(op, arg, t, 4, 4)
        if t.is_sharded():
            fail(op, f"{arg} must be DRAM/L1 interleaved, not sharded")
    b, nqh, sq, dh = q.shape
    kb, nkv, sk, kdh = k.shape
    if tuple(v.shape) != tuple(k.shape):
        fail(op, f"input_tensor_v has shape {list(v.shape)}, input_tensor_k {list(k.shape)}: they must match")
    if kb != b:
        fail(op, f"K and V batch {kb} must match Q batch {b}")
    if kdh != dh:
        fail(op, f"K and V head dim {kdh} must match Q head dim {dh}")
    if dh % TILE:
        fail(op, f"Padding is not supported on the head_dim dimension: head dim {dh} must be a multiple of 32")
    if nqh < nkv or nqh % nkv:
        fail(op, f"Q num_heads must be >= K num_heads and divisible by K num_heads. Got Q: {nqh}, K: {nkv}")
    if attn_mask_block_map is not None:
        fail(op, "attn_mask_block_map is not modelled by the simulated device")
    windowed = cu_window_seqlens is not None
    if windowed:
        if attn_mask is not None or sliding_window_size or attention_sink is not None:
            fail(op, "cu_window_seqlens is mutually exclusive with attn_mask, sliding_window_size and attention_sink")
        if cu_window_seqlens._dtype not in (DataType.INT32, DataType.UINT32) or \
                cu_window_seqlens._layout != Layout.ROW_MAJOR or len(cu_window_seqlens.shape) != 1:
            fail(op, "cu_window_seqlens must be a 1-D INT32/UINT32 ROW_MAJOR tensor")
    else:
        if is_causal and attn_mask is not None:
            fail(op, f"is_causal and attn_mask cannot both be present. Got is_causal: {is_causal}, attn_mask: True "
                     "(pass is_causal=False with a mask)")
        if is_causal and sq != sk:
            fail(op, f"Causal SDPA requires Q and K to have the same sequence length. Got Q: {sq}, K: {sk}")
        if sliding_window_size and attn_mask is not None:
            fail(op, "sliding_window_size and attn_mask cannot both be present")
    if attn_mask is not None:
        require_layout(op, "attn_mask", attn_mask, Layout.TILE)
        require_dtype(op, "attn_mask", attn_mask, _SDPA_DTYPES)
        if attn_mask._memory_config is not None and attn_mask._memory_config.buffer_type != BufferType.DRAM:
            fail(op, "When mask is provided to SDPA, it must be in DRAM")
        ms = tuple(attn_mask.shape)
        if len(ms) != 4 or ms[0] not in (1, b) or ms[1] not in (1, nqh) or ms[2] != sq or ms[3] != sk:
            fail(op, f"attn_mask shape {list(ms)} must be [1|{b}, 1|{nqh}, {sq}, {sk}]")
    if attention_sink is not None:
        require_layout(op, "attention_sink", attention_sink, Layout.TILE)
        require_dtype(op, "attention_sink", attention_sink, _SDPA_DTYPES)
        if tuple(attention_sink.shape) != (1, nqh, 1, 1):
            fail(op, f"attention_sink must have shape [1, {nqh}, 1, 1], got {list(attention_sink.shape)}")

    def positions(cu, offset_tensor):
        """The allowed (query, key) pairs: from metadata, and the values of the window tensors if any."""
        q_offset = int(windowed_q_token_offset)
        if offset_tensor is not None:
            q_offset = int(offset_tensor._value.flatten()[0])
        return _position_mask(sq, sk, bool(is_causal), sliding_window_size or None,
                              cu._value if cu is not None else None, q_offset)
    by_values = windowed or windowed_q_token_offset_tensor is not None
    fixed = None if by_values else positions(None, None)
    fid, fp32_acc, _ = kernel_config(compute_kernel_config, q._dtype, k._dtype,
                                     fidelity_default=MathFidelity.HiFi2, fp32_acc_default=False)
    scale = 1.0 / math.sqrt(dh) if scale is None else float(scale)

    def compute(q, k, v, attn_mask, attention_sink, cu, offset_tensor):
        allowed = positions(cu, offset_tensor) if by_values else fixed
        o = _attention(_f32(q), _f32(k), _f32(v), scale, None if attn_mask is None else _f32(attn_mask), allowed,
                       None if attention_sink is None else _f32(attention_sink), fid, fp32_acc, device)
        if output_concat_heads:
            o = o.permute(0, 2, 1, 3).reshape(b, 1, sq, nqh * dh)
        return o
    tensors = (q, k, v, attn_mask, attention_sink, cu_window_seqlens, windowed_q_token_offset_tensor)
    out = make_output(op, device, compute(*tensors), q._dtype, Layout.TILE, out_memory_config(memory_config, q))
    offer_values_kernel(op, compute, tensors, q._dtype, Layout.TILE, device)
    return out


def _attention(qv, kv, vv, scale: float, mask, allowed, sink, fid, fp32_acc: bool, device) -> torch.Tensor:
    """softmax(scale * Q K^T + mask) V as the flash-attention kernels compute it: the two products on the matrix
    unit (packed to bf16 between them), the softmax's exponentials in fp32. Q [b, nqh, sq, dh], K/V
    [b, nkv, sk, dh] (GQA), mask additive (broadcast), allowed a boolean [.., sq, sk] (or None)."""
    b, nqh, sq, _ = qv.shape
    nkv = kv.shape[1]
    kv = kv.repeat_interleave(nqh // nkv, dim=1)
    vv = vv.repeat_interleave(nqh // nkv, dim=1)
    ideal = device.ideal

    def packer(x):
        return x if ideal else round_to(x, DataType.BFLOAT16, device)

    s = packer(numerics.fpu_matmul(qv, kv.transpose(-1, -2), fid, fp32_acc, ideal))
    logits = s * scale
    if mask is not None:
        logits = logits + mask
    if allowed is not None:
        logits = logits.masked_fill(~allowed, float("-inf"))
    if sink is not None:
        logits = torch.cat([logits, (sink * scale).expand(b, nqh, sq, 1)], dim=-1)
    row_max = logits.amax(dim=-1, keepdim=True)
    empty = row_max == float("-inf")                      # every position of the row masked
    row_max = torch.where(empty, torch.zeros_like(row_max), row_max)   # a NaN (in a mask, a score) stays NaN
    e = torch.exp(logits - row_max)
    denom = e.sum(dim=-1, keepdim=True)
    if sink is not None:
        e = e[..., :-1]
    p = packer(e)
    o = numerics.fpu_matmul(p, vv, fid, fp32_acc, ideal) / denom
    return torch.where(empty, torch.zeros_like(o), o)    # fully masked rows: 0; a NaN input propagates


# ------------------------------------------------------------------------------------------------
# scaled_dot_product_attention_decode
# ------------------------------------------------------------------------------------------------

def _decode_positions(cur_pos, cur_pos_values, b: int, sk: int) -> list:
    """Each user's current position: cur_pos_tensor's values, else cur_pos, else the whole cache (sk - 1)."""
    if cur_pos_values is not None:
        return [int(x) for x in cur_pos_values.flatten().tolist()]
    if cur_pos:
        return [int(x) for x in cur_pos]
    return [sk - 1] * b


def _decode_mask(m: torch.Tensor, b: int, nh: int, sk: int):
    """An additive decode mask as [b, nh, 1, s]: given [b, 1, nh, s] (as the wheel's golden reads it) or
    [1, b, nh, s] (as its docstring writes it); None for any other shape."""
    if tuple(m.shape) == (b, 1, nh, sk):
        return m.permute(0, 2, 1, 3)
    if tuple(m.shape) == (1, b, nh, sk):
        return m.permute(1, 2, 0, 3)
    return None


def _decode_kv(k: torch.Tensor, b: int, share_cache) -> torch.Tensor:
    """K or V per user: a cache of batch 1, or any cache with share_cache, is shared by all users."""
    return k[:1].expand(b, -1, -1, -1) if (share_cache or k.shape[0] == 1) and b > 1 else k


def _golden_sdpa_decode(input_tensor_q, input_tensor_k, input_tensor_v, *, is_causal=True, attn_mask=None,
                        cur_pos=(), cur_pos_tensor=None, scale=None, share_cache=None, **kwargs):
    q = input_tensor_q.float().permute(1, 2, 0, 3)                     # [1, b, nh, dh] -> [b, nh, 1, dh]
    b, nh = q.shape[0], q.shape[1]
    k, v = (_decode_kv(t.float(), b, share_cache) for t in (input_tensor_k, input_tensor_v))
    nkv, sk = k.shape[1], k.shape[2]
    k, v = k.repeat_interleave(nh // nkv, dim=1), v.repeat_interleave(nh // nkv, dim=1)
    mask = None
    if attn_mask is not None:
        mask = _decode_mask(attn_mask.float(), b, nh, sk)
    elif is_causal:
        pos = torch.tensor(_decode_positions(cur_pos, cur_pos_tensor, b, sk)).reshape(-1, 1, 1, 1)
        mask = torch.where(torch.arange(sk).reshape(1, 1, 1, -1) <= pos, 0.0, float("-inf"))
    o = torch.nn.functional.scaled_dot_product_attention(q, k, v, attn_mask=mask, scale=scale)
    return o.permute(2, 0, 1, 3)


@ttnn_op("transformer.scaled_dot_product_attention_decode", golden=_golden_sdpa_decode)
def scaled_dot_product_attention_decode(input_tensor_q, input_tensor_k, input_tensor_v, *, is_causal=True,
                                        attn_mask=None, cur_pos=[], cur_pos_tensor=None,  # noqa: B006 (real default)
                                        attention_sink=None, scale=None, sliding_window_size=None,
                                        memory_config=None, program_config=None, compute_kernel_config=None,
                                        share_cache=None):
    """Flash-decode: one query token per user. Q [1, b, nh, dh], K/V [b, nkv, s, dh] (GQA: nh % nkv == 0).
    Causal (the default) attends each user's positions 0..cur_pos[i] (cur_pos or cur_pos_tensor, default the
    whole cache; -1 skips the user: its output is left at zero here); is_causal=False attends all s positions, or
    what the additive attn_mask allows ([b, 1, nh, s] as the wheel's golden reads it, or [1, b, nh, s] as its
    docstring writes it). K/V of batch 1, or any K/V with share_cache, are shared by all users. The output is
    [1, b, pnh, dh]: the heads padded to the tile height, the padding rows zero. A user's query heads share one
    tile, so its K/V are read once (the perf model)."""
    op = "transformer.scaled_dot_product_attention_decode"
    q, k, v = input_tensor_q, input_tensor_k, input_tensor_v
    device = on_device(op, input_tensor_q=q, input_tensor_k=k, input_tensor_v=v, attn_mask=attn_mask,
                       cur_pos_tensor=cur_pos_tensor, attention_sink=attention_sink)
    for arg, t in (("input_tensor_q", q), ("input_tensor_k", k), ("input_tensor_v", v)):
        require_layout(op, arg, t, Layout.TILE)
        require_dtype(op, arg, t, _SDPA_DTYPES)
        require_rank(op, arg, t, 4, 4)
    one, b, nh, dh = q.shape
    kb, nkv, sk, kdh = k.shape
    if one != 1:
        fail(op, f"input_tensor_q must be [1, b, nh, dh] (one token per user), got {list(q.shape)}")
    if tuple(v.shape) != tuple(k.shape):
        fail(op, f"input_tensor_v has shape {list(v.shape)}, input_tensor_k {list(k.shape)}: they must match")
    if kb not in (1, b) or kdh != dh:
        fail(op, f"K/V {list(k.shape)} must be [b={b} (or 1: one cache shared by the users), nkv, s, dh={dh}]")
    if dh % TILE:
        fail(op, f"head dim {dh} must be a multiple of 32")
    if nh < nkv or nh % nkv:
        fail(op, f"Q num_heads must be >= K num_heads and divisible by K num_heads. Got Q: {nh}, K: {nkv}")
    if nh > TILE:
        fail(op, f"the query heads of a user ({nh}) must fit in one tile (at most 32)")
    if attention_sink is not None:
        fail(op, "attention_sink is not modelled by the simulated device")
    positions = _decode_positions(cur_pos, None if cur_pos_tensor is None else cur_pos_tensor._value, b, sk)
    if len(positions) != b:
        fail(op, f"cur_pos has {len(positions)} positions for {b} users")
    mask = None
    allowed = None
    if is_causal:
        if attn_mask is not None:
            fail(op, "attn_mask is only valid with is_causal=False")
        kpos = torch.arange(sk).reshape(1, 1, 1, sk)
        pos = torch.tensor(positions).reshape(b, 1, 1, 1)
        allowed = kpos <= pos
        if sliding_window_size:
            allowed &= kpos > pos - int(sliding_window_size)
    else:
        if sliding_window_size:
            fail(op, "sliding_window_size without is_causal is not modelled by the simulated device")
        if attn_mask is not None:
            require_layout(op, "attn_mask", attn_mask, Layout.TILE)
            require_dtype(op, "attn_mask", attn_mask, _SDPA_DTYPES)
            mask = _decode_mask(_f32(attn_mask), b, nh, sk)
            if mask is None:
                fail(op, f"attn_mask shape {list(attn_mask.shape)} must be [{b}, 1, {nh}, {sk}] "
                         f"(or [1, {b}, {nh}, {sk}])")
    fid, fp32_acc, _ = kernel_config(compute_kernel_config, q._dtype, k._dtype,
                                     fidelity_default=MathFidelity.HiFi2, fp32_acc_default=False)
    scale = 1.0 / math.sqrt(dh) if scale is None else float(scale)
    qv = _f32(q).permute(1, 2, 0, 3)                                         # [b, nh, 1, dh]
    kk, vv = _decode_kv(_f32(k), b, share_cache), _decode_kv(_f32(v), b, share_cache)
    o = _attention(qv, kk, vv, scale, mask, allowed, None, fid, fp32_acc, device)
    if is_causal:
        o[torch.tensor([p < 0 for p in positions])] = 0.0                    # skipped users
    pnh = -(-nh // TILE) * TILE
    out = torch.zeros(1, b, pnh, dh)
    out[0, :, :nh] = o[:, :, 0]
    return make_output(op, device, out, q._dtype, Layout.TILE, out_memory_config(memory_config, q))


# ------------------------------------------------------------------------------------------------
# attention_softmax
# ------------------------------------------------------------------------------------------------

def _golden_attention_softmax(input_tensor, *, head_size=None, attention_mask=None, **kwargs):
    x = input_tensor * (1.0 / math.sqrt(head_size) if head_size is not None else 1.0)
    if attention_mask is not None:
        x = x + attention_mask
    return torch.softmax(x, -1)


def _attention_softmax(op: str, tensor, head_size, attention_mask, causal_mask) -> torch.Tensor:
    device = on_device(op, tensor=tensor, attention_mask=attention_mask)
    require_layout(op, "tensor", tensor, Layout.TILE)
    require_dtype(op, "tensor", tensor, (DataType.BFLOAT16, DataType.FLOAT32, DataType.BFLOAT8_B))
    require_rank(op, "tensor", tensor, 2)
    scale = 1.0 / math.sqrt(head_size) if head_size is not None else 1.0
    ideal = device.ideal
    fp32_acc, approx = softmax_config(None, tensor._dtype)
    x = _f32(tensor)
    if attention_mask is None:
        # ttnn.multiply(tensor, 1/sqrt(head_size)): a separate op whose result is stored in the input dtype
        x = round_to(x * scale, tensor._dtype, device, pad=tensor._pad).to(torch.float32)
    else:
        require_layout(op, "attention_mask", attention_mask, Layout.TILE)
        require_dtype(op, "attention_mask", attention_mask, (DataType.BFLOAT16, DataType.FLOAT32,
                                                                DataType.BFLOAT8_B))
        ms = tuple(attention_mask.shape)
        if not ms or ms[-1] != tensor.shape[-1]:
            fail(op, f"attention_mask shape {list(ms)} must end with the width {tensor.shape[-1]} of tensor")
        try:
            torch.broadcast_shapes(ms, tuple(tensor.shape))
        except RuntimeError:
            fail(op, f"attention_mask shape {list(ms)} does not broadcast to tensor shape {list(tensor.shape)}")
        if causal_mask and (len(ms) < 2 or ms[-2] != tensor.shape[-2]):
            fail(op, f"a causal attention_mask must be [.., {tensor.shape[-2]}, {tensor.shape[-1]}], got {list(ms)}")
        # scale_mask_softmax: the scaled input and the masked sum are FPU results written to Dst
        x = numerics.dst_store_(x * scale, fp32_acc, ideal)
        x = numerics.dst_store_(x + _f32(attention_mask), fp32_acc, ideal)
    return softmax_core(x, False, fp32_acc, approx, ideal)


@ttnn_op("transformer.attention_softmax", golden=_golden_attention_softmax)
def attention_softmax(tensor, *, head_size=None, attention_mask=None, program_config=SoftmaxDefaultProgramConfig(),
                      causal_mask=False, memory_config=None):
    """softmax(tensor / sqrt(head_size) + attention_mask) over the last dim."""
    op = "transformer.attention_softmax"
    y = _attention_softmax(op, tensor, head_size, attention_mask, causal_mask)
    return make_output(op, tensor._device, y, tensor._dtype, Layout.TILE, out_memory_config(memory_config, tensor))


@ttnn_op("transformer.attention_softmax_", golden=_golden_attention_softmax)
def attention_softmax_(tensor, *, head_size=None, attention_mask=None, program_config=SoftmaxDefaultProgramConfig(),
                       causal_mask=False, memory_config=None):
    """In-place attention_softmax (needs attention_mask); returns `tensor` holding the result."""
    op = "transformer.attention_softmax_"
    if attention_mask is None:
        fail(op, "Cannot apply divide by sqrt(head_size) using in-place version when attention_mask is not set.")
    y = _attention_softmax(op, tensor, head_size, attention_mask, causal_mask)
    tensor._value = round_to(y, tensor._dtype, tensor._device)
    tensor._pad = None
    return tensor


# ------------------------------------------------------------------------------------------------
# split_query_key_value_and_split_heads / concatenate_heads
# ------------------------------------------------------------------------------------------------

def _golden_split_qkv(input_tensor, kv_input_tensor=None, *, num_heads, num_kv_heads=None, transpose_key=True,
                      **kwargs):
    x = input_tensor if kv_input_tensor is None else torch.cat([input_tensor, kv_input_tensor], dim=-1)
    nkv = num_heads if num_kv_heads is None else num_kv_heads
    b, s, hidden = x.shape
    d = hidden // (num_heads + 2 * nkv)
    q = x[..., : num_heads * d].reshape(b, s, num_heads, d).permute(0, 2, 1, 3)
    k = x[..., num_heads * d: (num_heads + nkv) * d].reshape(b, s, nkv, d).permute(0, 2, 1, 3)
    v = x[..., (num_heads + nkv) * d:].reshape(b, s, nkv, d).permute(0, 2, 1, 3)
    if transpose_key:
        k = k.transpose(-1, -2)
    return q.contiguous(), k.contiguous(), v.contiguous()


_QKV_DTYPES = (DataType.BFLOAT16, DataType.FLOAT32, DataType.BFLOAT8_B)


@ttnn_op("transformer.split_query_key_value_and_split_heads", golden=_golden_split_qkv)
def split_query_key_value_and_split_heads(input_tensor, kv_input_tensor=None, *, num_heads, num_kv_heads=None,
                                          transpose_key=True, memory_config=None, use_falcon7b_backend=False):
    """Fused QKV [b, s, (nh + 2 nkv) * d] -> q [b, nh, s, d], k [b, nkv, d, s] (transpose_key) or
    [b, nkv, s, d], v [b, nkv, s, d]. With kv_input_tensor, input_tensor holds Q only and kv_input_tensor K, V."""
    op = "transformer.split_query_key_value_and_split_heads"
    device = on_device(op, input_tensor=input_tensor, kv_input_tensor=kv_input_tensor)
    t = input_tensor
    require_rank(op, "input_tensor", t, 3, 3)
    require_layout(op, "input_tensor", t, Layout.TILE)
    require_dtype(op, "input_tensor", t, _QKV_DTYPES)
    nh = int(num_heads)
    nkv = nh if num_kv_heads is None else int(num_kv_heads)
    if nh <= 0 or nkv <= 0:
        fail(op, f"num_heads ({num_heads}) and num_kv_heads ({num_kv_heads}) must be positive")
    if use_falcon7b_backend and transpose_key:
        fail(op, "Transpose is set to true, but this is not supported by the falcon7b backend")
    b, s, hidden = t.shape
    x = _f32(t) if t._dtype != DataType.FLOAT32 else t._value
    if kv_input_tensor is not None:
        kvt = kv_input_tensor
        require_rank(op, "kv_input_tensor", kvt, 3, 3)
        require_layout(op, "kv_input_tensor", kvt, Layout.TILE)
        if kvt._dtype != t._dtype:
            fail(op, f"kv_input_tensor has dtype {kvt._dtype.name}, input_tensor {t._dtype.name}")
        if kvt.shape[0] != b or kvt.shape[1] != s:
            fail(op, f"kv_input_tensor shape {list(kvt.shape)} must match input_tensor {list(t.shape)} in batch "
                     "and sequence")
        if hidden % nh:
            fail(op, f"the query hidden size {hidden} is not divisible by num_heads={nh}")
        d = hidden // nh
        if kvt.shape[2] != 2 * nkv * d:
            fail(op, f"kv_input_tensor hidden size {kvt.shape[2]} must be 2 * num_kv_heads * head_size = "
                     f"{2 * nkv * d}")
        x = torch.cat([x, kvt._value.to(x.dtype)], dim=-1)
    else:
        if hidden % (nh + 2 * nkv):
            fail(op, f"hidden size {hidden} is not divisible by num_heads + 2 * num_kv_heads = {nh + 2 * nkv}")
        d = hidden // (nh + 2 * nkv)
    if d % TILE:
        fail(op, f"Invalid head size: {d}. The head size must be a multiple of the tile width (32)")
    q = x[..., : nh * d].reshape(b, s, nh, d).permute(0, 2, 1, 3).contiguous()
    k = x[..., nh * d: (nh + nkv) * d].reshape(b, s, nkv, d).permute(0, 2, 1, 3)
    v = x[..., (nh + nkv) * d:].reshape(b, s, nkv, d).permute(0, 2, 1, 3).contiguous()
    k = (k.transpose(-1, -2) if transpose_key else k).contiguous()
    mc = out_memory_config(memory_config, t)
    # whole tiles are copied (and transposed for K): padding rows stay padding
    pad = t._pad if kv_input_tensor is None or kv_input_tensor._pad == t._pad else None
    block = t._dtype in BLOCK_FLOAT_DTYPES
    outs = tuple(make_output(op, device, y, t._dtype, Layout.TILE, mc, pad=pad, rounded=not block,
                             rounding="packer") for y in (q, k, v))
    return outs


def _golden_concatenate_heads(input_tensor, *args, **kwargs):
    b, h, s, d = input_tensor.shape
    return input_tensor.permute(0, 2, 1, 3).reshape(b, s, h * d)


@ttnn_op("transformer.concatenate_heads", golden=_golden_concatenate_heads)
def concatenate_heads(input_tensor, *, memory_config=None):
    """[b, nh, s, d] -> [b, s, nh * d] (head size a multiple of 32)."""
    op = "transformer.concatenate_heads"
    device = on_device(op, input_tensor=input_tensor)
    t = input_tensor
    require_rank(op, "input_tensor", t, 4, 4)
    require_layout(op, "input_tensor", t, Layout.TILE)
    require_dtype(op, "input_tensor", t, _QKV_DTYPES)
    b, h, s, d = t.shape
    if d % TILE:
        fail(op, f"Head size must be a multiple of 32 but was found to be {d}")
    y = t._value.permute(0, 2, 1, 3).reshape(b, s, h * d).contiguous()
    block = t._dtype in BLOCK_FLOAT_DTYPES
    return make_output(op, device, y, t._dtype, Layout.TILE, out_memory_config(memory_config, t), pad=t._pad,
                       rounded=not block)
