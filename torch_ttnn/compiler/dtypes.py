"""How torch dtypes live on the device (the correctness guard).

Floating point runs in bfloat16 by default, as on TT hardware (float32 where the user asks and TT-NN
supports it). Booleans travel as bfloat16 0/1 (exact), integers as int32: int64 inputs are narrowed at the
boundary only after a range check, so an out-of-range value is an error, never a silent wrap.
"""
from __future__ import annotations

import torch

FLOAT_TORCH = (torch.float32, torch.bfloat16, torch.float16, torch.float64)
INT_TORCH = (torch.int64, torch.int32, torch.int16, torch.int8, torch.uint8)


def device_dtype(ttnn, torch_dtype: torch.dtype, fp32: bool = False):
    """The TT-NN dtype a torch dtype is stored as on the device, or None if it cannot be."""
    if torch_dtype in FLOAT_TORCH:
        return ttnn.float32 if (fp32 and torch_dtype in (torch.float32, torch.float64)) else ttnn.bfloat16
    if torch_dtype == torch.bool:
        return ttnn.bfloat16
    if torch_dtype in INT_TORCH:
        return ttnn.int32
    return None


def is_int(torch_dtype) -> bool:
    return torch_dtype in INT_TORCH
