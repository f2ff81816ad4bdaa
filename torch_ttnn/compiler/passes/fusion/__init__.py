"""Fusions TT-NN offers, as passes.

aten level (before lowering, on the aten graph: patterns are matched on aten ops, which do not depend on how
other lowering rules are written, and the fused node is an op with a host implementation, so a case TT-NN
cannot do still runs):
- FuseLinear: view(x, [M, K]) -> addmm(b, ., permute(w, [1, 0])) / mm -> view([..., N]) (aten's decomposition of
  linear/matmul) becomes `aten.linear(x, w, b)` (-> one ttnn.linear on the batched input reading the weight
  transposed in place: no reshapes, no weight transpose), or `aten.matmul(x, w)` for an unpermuted weight.
- FuseAttention: matmul(q, k^T) [* scale] [+ mask] -> softmax(-1) -> matmul(v), as aten's matmul decomposition
  leaves it (expand/view around bmm), becomes `aten._scaled_dot_product_flash_attention_for_cpu` (lowered to
  ttnn.transformer.scaled_dot_product_attention by lowering/attention.py). Every intermediate must have this
  pattern as its only user (attention probabilities returned to the user keep the unfused form).
- FuseScaleMaskSoftmax: softmax(x * scale + mask, -1) with x [b, h, sq, sk] and a padding mask [1|b, 1, 1, sk]
  becomes `ttnn_fused.scale_mask_softmax` (-> ttnn.scale_mask_softmax, the same formula in one op).
- FuseRMSNorm: x * rsqrt(mean(x^2, -1, keepdim) + eps) [* weight] becomes `aten._fused_rms_norm`
  (-> ttnn.rms_norm).
- PrepareNormParams: inference batch norm / group norm -> `ttnn_fused.batch_norm_inference` /
  `ttnn_fused.group_norm` taking the per-channel vectors as views shaped for broadcasting ([1, C, 1, 1] for
  ttnn.batch_norm), which constant folding computes once: no per-call reshape of parameters on the device.

After the view canonicalisation (heads.py):
- FuseQKVLinears (inference), FuseSplitHeads, FuseConcatHeads, FuseSeqFirstConcatHeads: multi-head
  attention's head split and join
  become ttnn.transformer.split_query_key_value_and_split_heads / concatenate_heads (three Q/K/V projections of
  one input first become one projection on concatenated weights).

TT-NN level (after lowering, on the TT-NN graph):
- FuseMatmulBias: ttnn.matmul (or a ttnn.linear without bias) whose only consumer adds a row bias becomes
  ttnn.linear(bias=).
- FuseLinearActivation: ttnn.linear / ttnn.matmul / ttnn.conv2d / ttnn.add whose only consumer (possibly
  through reshapes/views that only it feeds) is ttnn.relu / relu6 / silu / gelu (accurate) gets the activation
  fused, as TT-NN offers it: `activation=` of linear/matmul, `Conv2dConfig(activation=UnaryWithParam(...))` of
  conv2d, `activations=[UnaryWithParam(...)]` of add (a residual add followed by relu: ResNets); the activation
  op and its launch (a read and a write of the whole tensor) go.
- FuseResidualNorm: ttnn.layer_norm / rms_norm of a ttnn.add read by nothing else (a post-norm residual)
  takes the add's second operand as `residual_input_tensor=` and the add goes.
"""
from __future__ import annotations

from ...fused_ops import fused_ops, scale_mask_softmax_supported  # noqa: F401 (fused_ops: exported programs import it from here)
from ._common import AtenFusion, _meta_of  # noqa: F401 (other passes build replacement nodes with _meta_of)
from .attention import FuseAttention, FuseScaleMaskSoftmax
from .heads import FuseConcatHeads, FuseQKVLinears, FuseSeqFirstConcatHeads, FuseSplitHeads
from .linear import FuseLinear
from .norm import FuseRMSNorm, PrepareNormParams
from .ttnn_level import FuseLinearActivation, FuseMatmulBias, FuseResidualNorm

__all__ = ["AtenFusion", "FuseAttention", "FuseConcatHeads", "FuseLinear", "FuseLinearActivation", "FuseMatmulBias",
           "FuseQKVLinears", "FuseRMSNorm", "FuseResidualNorm", "FuseScaleMaskSoftmax", "FuseSeqFirstConcatHeads",
           "FuseSplitHeads",
           "PrepareNormParams", "aten_fusions", "head_fusions", "ttnn_fusions"]


def aten_fusions(option) -> list:
    return [FuseAttention(), FuseScaleMaskSoftmax(), FuseRMSNorm(), FuseLinear(), PrepareNormParams()]


def head_fusions(static_inputs, inference: bool) -> list:
    """After the view canonicalisation (they match the canonical head split and join)."""
    qkv = [FuseQKVLinears(static_inputs)] if inference else []
    return qkv + [FuseSplitHeads(), FuseConcatHeads(), FuseSeqFirstConcatHeads()]


def ttnn_fusions(ttnn, option) -> list:
    return [FuseMatmulBias(ttnn), FuseLinearActivation(ttnn), FuseResidualNorm(ttnn)]
