"""The fused ops of torch-ttnn (`torch.ops.ttnn_fused`): targets of the aten-level fusions that have no aten op,
each with a host implementation (what torch runs when the graph runs on the host, and the reference of the
precision search) and a fake implementation for tracing. Both the fusion passes (which create them) and the
lowering rules (which lower them to TT-NN) import them from here."""
from __future__ import annotations

from typing import Optional

import torch


def scale_mask_softmax_supported(x_shape, mask_shape) -> bool:
    """softmax(x * scale + mask) over the last dim maps onto ttnn.scale_mask_softmax when the mask is an
    attention padding mask: x rank 4 [b, h, sq, sk], mask [1|b, 1, 1, sk] (or no mask)."""
    if len(x_shape) != 4:
        return False
    if mask_shape is None:
        return True
    return (len(mask_shape) == 4 and mask_shape[0] in (1, x_shape[0]) and mask_shape[1] == 1
            and mask_shape[2] == 1 and mask_shape[3] == x_shape[3])


@torch.library.custom_op("ttnn_fused::scale_mask_softmax", mutates_args=())
def scale_mask_softmax(x: torch.Tensor, scale: float, mask: Optional[torch.Tensor] = None) -> torch.Tensor:
    """softmax(x * scale + mask) over the last dim (ttnn.scale_mask_softmax)."""
    y = x * scale
    if mask is not None:
        y = y + mask
    return torch.softmax(y, dim=-1)


@scale_mask_softmax.register_fake
def _(x, scale, mask=None):
    return torch.empty_like(x)


@torch.library.custom_op("ttnn_fused::batch_norm_inference", mutates_args=())
def batch_norm_inference(x: torch.Tensor, weight: Optional[torch.Tensor], bias: Optional[torch.Tensor],
                         mean: torch.Tensor, var: torch.Tensor, eps: float) -> torch.Tensor:
    """Inference batch norm with the per-channel vectors already shaped to broadcast against x
    ([1, C, 1, 1] for NCHW, [C, 1] for NCL, [C] for NC)."""
    y = (x - mean) * torch.rsqrt(var + eps)
    if weight is not None:
        y = y * weight
    if bias is not None:
        y = y + bias
    return y


@batch_norm_inference.register_fake
def _(x, weight, bias, mean, var, eps):
    return torch.empty_like(x)


@torch.library.custom_op("ttnn_fused::group_norm", mutates_args=())
def group_norm(x: torch.Tensor, weight: Optional[torch.Tensor], bias: Optional[torch.Tensor], groups: int,
               eps: float) -> torch.Tensor:
    """Group norm of x [N, C, *] with weight/bias shaped [C, 1]."""
    w = None if weight is None else weight.reshape(-1)
    b = None if bias is None else bias.reshape(-1)
    return torch.nn.functional.group_norm(x, groups, w, b, eps)


@group_norm.register_fake
def _(x, weight, bias, groups, eps):
    return torch.empty_like(x)


@torch.library.custom_op("ttnn_fused::split_heads", mutates_args=())
def split_heads(x: torch.Tensor, num_heads: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """A fused QKV projection [b, s, 3 * h * d] split into q, k, v, each [b, h, s, d]
    (ttnn.transformer.split_query_key_value_and_split_heads with transpose_key=False)."""
    b, s, e = x.shape
    heads = x.reshape(b, s, 3 * num_heads, e // (3 * num_heads)).permute(0, 2, 1, 3)
    q, k, v = heads.split(num_heads, dim=1)
    return q.contiguous(), k.contiguous(), v.contiguous()


@split_heads.register_fake
def _(x, num_heads):
    b, s, e = x.shape
    shape = (b, num_heads, s, e // (3 * num_heads))
    return x.new_empty(shape), x.new_empty(shape), x.new_empty(shape)


@torch.library.custom_op("ttnn_fused::concatenate_heads", mutates_args=())
def concatenate_heads(x: torch.Tensor) -> torch.Tensor:
    """Attention heads [b, h, s, d] joined into [b, s, h * d] (ttnn.transformer.concatenate_heads)."""
    b, h, s, d = x.shape
    return x.permute(0, 2, 1, 3).reshape(b, s, h * d).contiguous()


@concatenate_heads.register_fake
def _(x):
    b, h, s, d = x.shape
    return x.new_empty((b, s, h * d))


# Collectives of tensor-parallel programs (compiler/tensor_parallel.py). They exist in the per-chip graph of a
# mesh program, where each chip holds a piece of a value; on the host there is only one piece, so running them
# there would silently give one chip's view: their host implementations refuse.

@torch.library.custom_op("ttnn_fused::all_reduce", mutates_args=())
def all_reduce(x: torch.Tensor, chips: int) -> torch.Tensor:
    """The sum over the chips of each chip's partial value (ttnn.all_reduce)."""
    raise RuntimeError("ttnn_fused.all_reduce sums the pieces of a value held by the chips of a mesh; it has no "
                       "host implementation (the tensor-parallel program runs on the mesh only)")


@all_reduce.register_fake
def _(x, chips):
    return torch.empty_like(x)


@torch.library.custom_op("ttnn_fused::all_gather", mutates_args=())
def all_gather(x: torch.Tensor, dim: int, chips: int) -> torch.Tensor:
    """The chips' pieces concatenated along `dim` (ttnn.all_gather)."""
    raise RuntimeError("ttnn_fused.all_gather joins the pieces of a value held by the chips of a mesh; it has no "
                       "host implementation (the tensor-parallel program runs on the mesh only)")


@all_gather.register_fake
def _(x, dim, chips):
    shape = list(x.shape)
    shape[dim] *= chips
    return x.new_empty(shape)


def fused_ops():
    """The `torch.ops.ttnn_fused` namespace (its ops are registered when this module is imported)."""
    return torch.ops.ttnn_fused
