"""Which aten ops are decomposed by torch before lowering, chosen declaratively.

We start from torch's core-aten decomposition table and keep, undecomposed, the ops that TT-NN has as a
single fused op (the lowering of the fused form is better than the decomposition).
"""
from __future__ import annotations

import torch
from torch._decomp import core_aten_decompositions

aten = torch.ops.aten

# Kept whole because TT-NN has a fused op for them (op -> why).
KEEP = {
    aten.gelu.default: "ttnn.gelu",
    aten.silu.default: "ttnn.silu",
    aten.hardswish.default: "ttnn.hardswish",
    aten.hardsigmoid.default: "ttnn.hardsigmoid",
    aten.hardtanh.default: "ttnn.hardtanh",
    aten.mish.default: "ttnn.mish",
    aten.elu.default: "ttnn.elu",
    aten.leaky_relu.default: "ttnn.leaky_relu",
    aten.softplus.default: "ttnn.softplus",
    aten.native_layer_norm.default: "ttnn.layer_norm",
    aten.native_group_norm.default: "ttnn.group_norm",
    aten._softmax.default: "ttnn.softmax",
    aten._log_softmax.default: "ttnn.softmax + log",
    aten.addmm.default: "ttnn.linear",
    aten.linear.default: "ttnn.linear",
    aten.baddbmm.default: "ttnn.matmul + add",
    aten.addcmul.default: "ttnn.addcmul",
    aten.addcdiv.default: "ttnn.addcdiv",
    aten.lerp.Scalar: "ttnn.lerp",
    aten.lerp.Tensor: "ttnn.lerp",
    aten.clamp.default: "ttnn.clamp",
    aten.clamp.Tensor: "ttnn.clamp",
    aten.clamp_min.default: "ttnn.clamp",
    aten.clamp_max.default: "ttnn.clamp",
    aten.rsub.Scalar: "ttnn.rsub",
    aten.rsub.Tensor: "ttnn.rsub",
    aten.upsample_nearest2d.default: "ttnn.upsample",
    aten.upsample_nearest2d.vec: "ttnn.upsample",
    aten.upsample_bilinear2d.default: "ttnn.upsample",
    aten.upsample_bilinear2d.vec: "ttnn.upsample",
    aten.roll.default: "ttnn.roll",
    aten.tril.default: "ttnn.tril",
    aten.triu.default: "ttnn.triu",
    aten.native_dropout.default: "ttnn.experimental.dropout",
    aten.var_mean.correction: "ttnn.var + ttnn.mean",
    aten.std.correction: "ttnn.std",
    aten.var.correction: "ttnn.var",
    aten.logsumexp.default: "ttnn ops",
    aten.xlogy.Tensor: "ttnn.xlogy",
    aten.stack.default: "ttnn.stack",
    aten.repeat_interleave.self_int: "ttnn.repeat_interleave",
    aten.expm1.default: "ttnn.expm1",
    aten.log1p.default: "ttnn.log1p",
    aten.logit.default: "ttnn.logit",
    aten.sigmoid_backward.default: "ttnn ops",
    aten.tanh_backward.default: "ttnn ops",
    aten.threshold_backward.default: "ttnn ops",
    aten.gelu_backward.default: "ttnn ops",
    aten.silu_backward.default: "ttnn ops",
    # training (lowering/backward.py). Losses: their decompositions are chains of where/gather (forward) and
    # full/scatter/where (backward) on int64 targets plus 0-dim arithmetic (the mean's division by the total
    # weight, the scalar gradient times the error); the rules build one [N, C] one-hot mask on the device
    # (ttnn.eq against ttnn.arange) and reduce it: about half the ops, no gather/scatter.
    aten.nll_loss_forward.default: "one-hot mask (ttnn.eq/arange) + ttnn.sum",
    aten.nll_loss_backward.default: "one-hot mask * scaled gradient",
    aten.mse_loss.default: "ttnn.subtract/square/mean",
    aten.mse_loss_backward.default: "ttnn ops",
    # its decomposition is a masked index_put with accumulation; the rule is one ttnn.scatter_add
    aten.embedding_dense_backward.default: "ttnn.scatter_add",
    # Left to the decomposition on purpose (they lower to the same element-wise + reduction formula a rule would
    # emit, TT-NN 0.81.1 having no fused op for them): native_layer_norm_backward, native_batch_norm_backward,
    # native_group_norm_backward, _softmax_backward_data, _log_softmax_backward_data, native_dropout_backward
    # (mask * grad * scale), and the *_backward of the decomposed activations.
    # attention: kept whole so that it lowers to ttnn.transformer.scaled_dot_product_attention (cases the op
    # cannot do are lowered to matmul/softmax on the device by lowering/attention.py)
    aten._scaled_dot_product_flash_attention_for_cpu.default: "ttnn.transformer.scaled_dot_product_attention",
    aten.all.default: "ttnn.min",
    aten.all.dim: "ttnn.min",
    aten.all.dims: "ttnn.min",
}


def _transformer_encoder_layer_fwd(src, embed_dim, num_heads, qkv_weight, qkv_bias, proj_weight, proj_bias,
                                   use_gelu, norm_first, eps, norm_weight_1, norm_bias_1, norm_weight_2,
                                   norm_bias_2, ffn_weight_1, ffn_bias_1, ffn_weight_2, ffn_bias_2, mask=None,
                                   mask_type=None):
    """nn.TransformerEncoderLayer's inference fast path (batch-first src [B, S, E]) as the ops it is made of:
    fused q/k/v projection, scaled dot-product attention over the heads, output projection, residuals, layer
    norms (before or after each block) and the feed-forward block. `mask` follows merge_masks: [S, S]
    (mask_type 0), a key padding mask [B, S] (1) or [B, H, S, S] (2); True / -inf mark what is masked."""
    F = torch.nn.functional
    b, s, e = src.shape
    hd = embed_dim // num_heads
    attn_mask = None
    if mask is not None:
        m = mask
        if mask_type == 1:
            m = m.reshape(b, 1, 1, s)
        attn_mask = ~m if m.dtype == torch.bool else m

    def attention(x):
        q, k, v = F.linear(x, qkv_weight, qkv_bias).split(embed_dim, dim=-1)
        q, k, v = (t.reshape(b, s, num_heads, hd).transpose(1, 2) for t in (q, k, v))
        o = F.scaled_dot_product_attention(q, k, v, attn_mask=attn_mask)
        return F.linear(o.transpose(1, 2).reshape(b, s, embed_dim), proj_weight, proj_bias)

    def feed_forward(x):
        h = F.linear(x, ffn_weight_1, ffn_bias_1)
        return F.linear(F.gelu(h) if use_gelu else F.relu(h), ffn_weight_2, ffn_bias_2)

    def norm1(x):
        return F.layer_norm(x, (embed_dim,), norm_weight_1, norm_bias_1, eps)

    def norm2(x):
        return F.layer_norm(x, (embed_dim,), norm_weight_2, norm_bias_2, eps)

    if norm_first:
        x = src + attention(norm1(src))
        return x + feed_forward(norm2(x))
    x = norm1(src + attention(src))
    return norm2(x + feed_forward(x))


# Decomposed by us: fused ops PyTorch runs on its inference fast paths, with no core-aten decomposition.
EXTRA = {
    aten._transformer_encoder_layer_fwd.default: _transformer_encoder_layer_fwd,
}


def decomposition_table() -> dict:
    table = dict(core_aten_decompositions())
    for op in KEEP:
        table.pop(op, None)
    table.update(EXTRA)
    return table
