"""The math an op runs with: TT-NN's default fidelity for its operand formats, and what a compute kernel config
changes (fidelity, fp32 Dst accumulation, approximate SFPU mode). Used by the op families and the cost model."""
from __future__ import annotations

from typing import Optional

from .types import BLOCK_FLOAT_DTYPES, DataType, MathFidelity, WormholeComputeKernelConfig


def default_fidelity(*dtypes: DataType) -> MathFidelity:
    """The real default math fidelity for FPU ops (matmul, conv) by input dtypes (FACTS.md)."""
    if any(d == DataType.FLOAT32 for d in dtypes):
        return MathFidelity.HiFi4
    if dtypes and all(d in BLOCK_FLOAT_DTYPES for d in dtypes):
        return MathFidelity.LoFi
    return MathFidelity.HiFi2


def kernel_config(cfg: Optional[WormholeComputeKernelConfig], *dtypes: DataType,
                  fp32_acc_default: Optional[bool] = None, fidelity_default: Optional[MathFidelity] = None):
    """(math_fidelity, fp32_dest_acc_en, math_approx_mode) for an op given its compute kernel config."""
    fid = fidelity_default if fidelity_default is not None else default_fidelity(*dtypes)
    fp32_acc = (any(d == DataType.FLOAT32 for d in dtypes) if fp32_acc_default is None else fp32_acc_default)
    approx = False
    if cfg is not None:
        if cfg.math_fidelity != MathFidelity.Invalid:
            fid = cfg.math_fidelity
        fp32_acc = cfg.fp32_dest_acc_en
        approx = cfg.math_approx_mode
    return MathFidelity(fid), bool(fp32_acc), bool(approx)
