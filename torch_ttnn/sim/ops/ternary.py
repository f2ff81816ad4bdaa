"""Element-wise ternary ops: where, addcmul, addcdiv, lerp, mac.

All five are documented TILE only (0.81.1 `ops_documented_as_tile_layout_only`): every tensor operand must
be in TILE layout. Shapes broadcast with the binary_ng rule (see binary.py: dims of size 1 expand in the 5
innermost dims, in any operand). Numerics: `where` selects (exact); the arithmetic ones run on the SFPU in
fp32, truncated into a 16-bit Dst for bf16 outputs (rounded by the packer when an fp32 operand or output
makes Dst fp32). Integer addcmul computes exactly and wraps. Output padding as for binary ops.
"""
from __future__ import annotations

from typing import Callable, Optional, Sequence

import torch

from .._op import ttnn_op
from ..types import FLOAT_DTYPES, INT_DTYPES, DataType, Layout
from ._common import fail, on_device, require_dtype, require_layout
from .binary_core import (BF16, BFP4, BFP8, FP32, INT32, UINT32, Operand, broadcast_shape, check_output_tensor, emit,
                     operand, padding_is_defined, scalar_as)

WHERE_DTYPES = (BF16, BFP8, BFP4, FP32, INT32, UINT32)
ADDCMUL_DTYPES = (FP32, BF16, BFP8, INT32, UINT32)
FLOAT3 = (BF16, BFP8, FP32)


def run_ternary(op: str, operands: Sequence[Operand], fn: Callable, *, dtypes, out_dtype: DataType,
                memory_config, output_tensor, kind: str, scalar_dtype: Optional[DataType] = None):
    """Check the operands (one device, TILE, dtypes), broadcast, compute fn(*values) and store the result.

    `out_dtype` is the default output dtype (an output_tensor's dtype takes precedence); `kind` is "exact"
    or "sfpu"; `scalar_dtype` is how scalar operands are held (None: as the output dtype)."""
    device = on_device(op, **{o.arg: o.tensor for o in operands if o.is_tensor})
    for o in operands:
        if o.is_tensor:
            require_layout(op, o.arg, o.tensor, Layout.TILE)
            require_dtype(op, o.arg, o.tensor, dtypes)
    shape = broadcast_shape(op, *(o.shape for o in operands if o.is_tensor))
    out_dtype = check_output_tensor(op, device, output_tensor, shape, None) or out_dtype
    in_dtypes = [o.dtype for o in operands if o.is_tensor] + [out_dtype]
    int_domain = out_dtype in INT_DTYPES
    if kind == "exact" or int_domain:
        rounding = "packer"
    else:
        rounding = "packer" if FP32 in in_dtypes else "sfpu"
    sdtype = scalar_dtype or out_dtype

    def vals(o: Operand, use_pad: bool) -> torch.Tensor:
        if not o.is_tensor:
            return scalar_as(o.scalar, sdtype, int_domain and isinstance(o.scalar, int))
        v = torch.tensor([o.pad()]) if use_pad else o.tensor._value
        if int_domain and o.dtype in INT_DTYPES:
            return v.to(torch.int64)
        return v.to(torch.float32)

    value = fn(*(vals(o, False) for o in operands))
    if tuple(value.shape) != shape:
        value = torch.broadcast_to(value, shape).clone()
    lead = next(o for o in operands if o.is_tensor)
    layout = output_tensor._layout if output_tensor is not None else lead.tensor._layout
    pad = None
    if padding_is_defined(shape, operands):
        pad = fn(*(vals(o, True) for o in operands)).reshape(-1)[0]
    return emit(op, device, value, out_dtype, layout, memory_config, rounding=rounding, pad=pad,
                output_tensor=output_tensor, like=lead.tensor)


def _same_family(op: str, operands: Sequence[Operand], *, exact: bool = False) -> None:
    """Float-family tensors may mix; integer tensors must match (exact=True: all dtypes must match)."""
    ts = [o for o in operands if o.is_tensor]
    for o in ts[1:]:
        a, b = ts[0].dtype, o.dtype
        if a == b:
            continue
        if exact or not (a in FLOAT_DTYPES and b in FLOAT_DTYPES):
            fail(op, f"{o.arg} has dtype {b.name}, but {ts[0].arg} has dtype {a.name}"
                     f"{'' if exact else ' (only float-family dtypes may mix)'}")


# ------------------------------------------------------------------------------------------------
# where
# ------------------------------------------------------------------------------------------------

def _golden_where(predicate, true_value, false_value, *args, **kwargs):
    return torch.where(predicate != 0, true_value, false_value)


@ttnn_op("where", golden=_golden_where)
def where(predicate, true_value, false_value, *, memory_config=None, output_tensor=None, sub_core_grids=None):
    """true_value where predicate is nonzero, else false_value (tensors or scalars)."""
    op = "where"
    P = operand(op, "predicate", predicate, scalar_ok=False)
    T = operand(op, "true_value", true_value, scalar_ok=True)
    F = operand(op, "false_value", false_value, scalar_ok=True)
    _same_family(op, [T, F])
    lead = T if T.is_tensor else (F if F.is_tensor else P)
    out_dtype = lead.dtype
    int_out = (output_tensor._dtype if output_tensor is not None and hasattr(output_tensor, "_dtype")
               else out_dtype) in INT_DTYPES
    for o in (T, F):
        if not o.is_tensor and int_out and isinstance(o.scalar, float) and not o.scalar.is_integer():
            fail(op, f"{o.arg}={o.scalar} is not an integer, but the output dtype is an integer type")
        if not o.is_tensor and int_out:
            o.scalar = int(o.scalar)

    def fn(p, t, f):
        return torch.where(p != 0, t, f)

    return run_ternary(op, [P, T, F], fn, dtypes=WHERE_DTYPES, out_dtype=out_dtype, memory_config=memory_config,
                       output_tensor=output_tensor, kind="exact")


# ------------------------------------------------------------------------------------------------
# addcmul, addcdiv
# ------------------------------------------------------------------------------------------------

def _tensors(op: str, names: Sequence[str], xs) -> list[Operand]:
    return [operand(op, n, x, scalar_ok=False) for n, x in zip(names, xs)]


@ttnn_op("addcmul", golden=lambda input_a, input_b, input_c, *args, value=1.0, **kw: torch.addcmul(
    input_a, input_b, input_c, value=value))
def addcmul(input_a, input_b, input_c, *, value=1.0, memory_config=None, output_tensor=None):
    """input_a + value * input_b * input_c (tensor-tensor-tensor only)."""
    op = "addcmul"
    ops = _tensors(op, ("input_a", "input_b", "input_c"), (input_a, input_b, input_c))
    _same_family(op, ops)
    out_dtype = ops[0].dtype
    if out_dtype in INT_DTYPES:
        v = int(value) if float(value).is_integer() else float(value)

        def fn(a, b, c):
            if isinstance(v, int):
                return a + v * b * c
            return a + torch.trunc(v * (b * c).to(torch.float64)).to(torch.int64)
    else:
        v = float(value)

        def fn(a, b, c):
            return a + v * b * c

    return run_ternary(op, ops, fn, dtypes=ADDCMUL_DTYPES, out_dtype=out_dtype, memory_config=memory_config,
                       output_tensor=output_tensor, kind="sfpu")


@ttnn_op("addcdiv", golden=lambda input_a, input_b, input_c, *args, value=1.0, **kw: torch.addcdiv(
    input_a, input_b, input_c, value=value))
def addcdiv(input_a, input_b, input_c, *, value=1.0, memory_config=None, output_tensor=None):
    """input_a + value * input_b / input_c (tensor-tensor-tensor only)."""
    op = "addcdiv"
    ops = _tensors(op, ("input_a", "input_b", "input_c"), (input_a, input_b, input_c))
    _same_family(op, ops)
    v = float(value)
    return run_ternary(op, ops, lambda a, b, c: a + (v * b) / c, dtypes=FLOAT3, out_dtype=ops[0].dtype,
                       memory_config=memory_config, output_tensor=output_tensor, kind="sfpu")


# ------------------------------------------------------------------------------------------------
# lerp, mac
# ------------------------------------------------------------------------------------------------

@ttnn_op("lerp", golden=lambda input, end, weight, *args, **kw: torch.lerp(
    input, end, weight if torch.is_tensor(weight) else float(weight)))
def lerp(input, end, weight, *, memory_config=None, output_tensor=None):
    """input + weight * (end - input); weight a tensor or a float."""
    op = "lerp"
    ops = [operand(op, "input", input, scalar_ok=False), operand(op, "end", end, scalar_ok=False),
           operand(op, "weight", weight if not isinstance(weight, int) else float(weight), scalar_ok=True)]
    _same_family(op, ops, exact=True)  # end and weight must have the dtype of input
    in_dtype = ops[0].dtype
    if output_tensor is not None and hasattr(output_tensor, "_dtype"):
        allowed = {in_dtype} | ({FP32} if in_dtype == BF16 else {BF16} if in_dtype == FP32 else set())
        if output_tensor._dtype not in allowed:
            fail(op, f"output_tensor has dtype {output_tensor._dtype.name}; it must be {in_dtype.name}"
                     f"{' or FLOAT32' if in_dtype == BF16 else ' or BFLOAT16' if in_dtype == FP32 else ''}")
    return run_ternary(op, ops, lambda s, e, w: s + w * (e - s), dtypes=FLOAT3, out_dtype=in_dtype,
                       memory_config=memory_config, output_tensor=output_tensor, kind="sfpu", scalar_dtype=FP32)


@ttnn_op("mac", golden=lambda input_tensor_a, input_tensor_b, input_tensor_c, *args, **kw: (
    input_tensor_a * input_tensor_b + input_tensor_c))
def mac(input_tensor_a, input_tensor_b, input_tensor_c, *, memory_config=None, output_tensor=None,
        sub_core_grids=None):
    """input_tensor_a * input_tensor_b + input_tensor_c; b and c may be floats (TTS, TST, TSS forms)."""
    op = "mac"
    ops = [operand(op, "input_tensor_a", input_tensor_a, scalar_ok=False),
           operand(op, "input_tensor_b", input_tensor_b, scalar_ok=True),
           operand(op, "input_tensor_c", input_tensor_c, scalar_ok=True)]
    if output_tensor is not None and not all(o.is_tensor for o in ops):
        fail(op, "output_tensor is only supported when all three inputs are tensors")
    _same_family(op, ops)
    for o in ops:
        if not o.is_tensor:
            o.scalar = float(o.scalar)
    return run_ternary(op, ops, lambda a, b, c: a * b + c, dtypes=FLOAT3, out_dtype=ops[0].dtype,
                       memory_config=memory_config, output_tensor=output_tensor, kind="sfpu", scalar_dtype=FP32)
