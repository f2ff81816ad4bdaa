"""The softmax model shared by the normalization family (softmax, scale_mask_softmax) and the transformer family
(attention_softmax), and the default softmax program config both accept. The numerics are described in
normalization.py's module docstring."""
from __future__ import annotations

import torch

from .. import numerics
from ..types import MathFidelity
from ._common import kernel_config


class SoftmaxDefaultProgramConfig:
    """ttnn.SoftmaxDefaultProgramConfig: let the op choose its grid."""

    def __eq__(self, other):
        return isinstance(other, SoftmaxDefaultProgramConfig)

    def __hash__(self):
        return hash(SoftmaxDefaultProgramConfig)

    def __repr__(self):
        return "SoftmaxDefaultProgramConfig()"


def softmax_core(x: torch.Tensor, numeric_stable: bool, fp32_acc: bool, approx: bool, ideal: bool):
    """Softmax along the last dim as the device computes it (see the module docstring)."""
    if ideal:
        return torch.softmax(x, dim=-1)
    if x.shape[-1] == 0:
        return x.clone()
    if numeric_stable:
        x = numerics.dst_store_(x - x.amax(dim=-1, keepdim=True), fp32_acc)
    e = numerics.sfpu_store(torch.exp(x), fp32_acc)
    s = numerics.fpu_reduce_sum(e, [-1], 1.0, MathFidelity.HiFi4, fp32_acc, False, input_operand="A",
                                bf16_exact=not fp32_acc)   # a 16-bit Dst holds bf16 values
    r = numerics.sfpu_store(numerics.sfpu_reciprocal(s, approx), fp32_acc)
    return numerics.dst_store_(e * r, fp32_acc)


def softmax_config(cfg, dtype):
    """(fp32_dest_acc_en, math_approx_mode) of a softmax: the config's, else the defaults (fp32 Dst for FLOAT32
    inputs, approximate reciprocal)."""
    _, fp32_acc, _ = kernel_config(cfg, dtype, fidelity_default=MathFidelity.HiFi4)
    return fp32_acc, True if cfg is None else bool(cfg.math_approx_mode)
