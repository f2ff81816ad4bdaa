"""The machinery of every element-wise binary op (binary_ng): operands, broadcasting, dtypes, fused
activations, numerics and the shared body `run_binary`; the ops themselves are in binary.py.

What is modelled (FACTS.md and the 0.81.1 docstrings of each op):

- Operands: tensors on one open device; a Python int/float operand where the real op has a scalar overload
  (`add(2.0, t)` too, for the ops whose first operand may be a Number). Scalars are stored as the tensor
  operand's dtype (bf16 round-to-nearest-even for bf16/block-float tensors, fp32 for FLOAT32).
- Broadcasting (docstring of add/multiply, "Broadcast of A and B operands is supported up to dimension 5"):
  shapes are aligned on the right; in the 5 innermost dims any dim of size 1 in either operand expands to the
  other (both operands may broadcast, in different dims); dims further out must be equal.
- Dtypes: the docstring table of each op; float-family operands may mix (output follows A) unless the op
  says "Operands must have the same dtype"; multiply/divide-like ops promote an integer operand to the float
  operand's dtype; an INT32 tensor with a float scalar is promoted to FLOAT32 by multiply, divide,
  remainder and fmod, and refused by the others unless the float is integral.
- Numerics: add/subtract/rsub with `fast_and_approximate_mode=True` (default) run on the FPU and the packer
  rounds (nearest, ties away); `False` runs on the SFPU and rounds to nearest even (BFLOAT16 outputs only).
  multiply: `fast_and_approximate_mode=True` is the FPU path (MathFidelity bit slices, eltwise default HiFi4
  = exact product), the default `False` the SFPU path with RNE. Other arithmetic runs on the SFPU in fp32 and
  the result is truncated into a 16-bit Dst for bf16 outputs (rounded by the packer when an fp32 operand
  makes Dst fp32). Comparisons and logical ops give 1/0 in the output dtype. Integer dtypes compute exactly
  and wrap. `device.ideal` computes exactly and rounds to nearest even.
- Tile padding: the output's padding scalar is f(pad_a, pad_b) when every operand's padding is known and no
  operand is broadcast along the last two dims (a scalar operand's "padding" is the scalar).
- Fused activations (`activations`, `input_tensor_a_activations`, `input_tensor_b_activations`): lists of
  UnaryWithParam / UnaryOpType / names; RELU, RELU6, GELU, GELU_TANH, SILU, SIGMOID, TANH, EXP, LOG, SQRT,
  RECIP, ABS, SQUARE, NEG are supported; anything else raises TTNNError.
"""
from __future__ import annotations

import math

from types import SimpleNamespace
from typing import Callable, Optional, Sequence

import torch

from .. import formats, trace
from ..tensor import Tensor
from ..types import (BLOCK_FLOAT_DTYPES, FLOAT_DTYPES, INT_DTYPES, SUPPORTED_DTYPES, DataType, Layout,
                     MathFidelity)
from ._common import (binary_memory_config, fail, make_output, on_device, out_memory_config, require_dtype,
                      round_scalar, round_to, stored)

BF16, FP32, BFP8, BFP4 = DataType.BFLOAT16, DataType.FLOAT32, DataType.BFLOAT8_B, DataType.BFLOAT4_B
INT32, UINT32, UINT16, UINT8 = DataType.INT32, DataType.UINT32, DataType.UINT16, DataType.UINT8

FLOATS = (BF16, BFP8, BFP4, FP32)
ARITH = FLOATS + (INT32, UINT32, UINT16)            # add, subtract, multiply, ...
COMPARE = ARITH + (UINT8,)                          # eq, ne, lt, ...
MAX_BROADCAST_DIMS = 5


# ------------------------------------------------------------------------------------------------
# Operands, broadcasting, padding
# ------------------------------------------------------------------------------------------------

class Operand:
    """One input of an element-wise op: a device tensor or a Python scalar."""

    __slots__ = ("arg", "tensor", "scalar", "dtype")

    def __init__(self, arg: str, tensor: Optional[Tensor], scalar=None):
        self.arg, self.tensor, self.scalar = arg, tensor, scalar
        self.dtype = tensor._dtype if tensor is not None else None

    @property
    def is_tensor(self) -> bool:
        return self.tensor is not None

    @property
    def shape(self) -> tuple:
        return tuple(self.tensor._value.shape) if self.tensor is not None else ()

    def pad(self):
        """The scalar held by this operand's tile padding (None when unknown)."""
        if self.tensor is None:
            return self.scalar
        return self.tensor._pad if self.tensor._layout == Layout.TILE else None


def operand(op: str, arg: str, x, *, scalar_ok: bool) -> Operand:
    if isinstance(x, Tensor):
        x._check_alive(f"ttnn.{op}: {arg}")
        return Operand(arg, x)
    if isinstance(x, (bool, int, float)) and not isinstance(x, Tensor):
        if not scalar_ok:
            fail(op, f"{arg} must be a ttnn.Tensor, got {type(x).__name__} (this op has no scalar overload)")
        return Operand(arg, None, int(x) if isinstance(x, bool) else x)
    fail(op, f"{arg} must be a ttnn.Tensor{' or a number' if scalar_ok else ''}, got {type(x).__name__}")


def broadcast_shape(op: str, *shapes) -> tuple:
    """TT-NN 0.81.1 broadcasting: right-aligned; dims of size 1 expand in the 5 innermost dims (in either
    operand); dims further out must be equal."""
    shapes = [tuple(int(d) for d in s) for s in shapes]
    rank = max((len(s) for s in shapes), default=0)
    padded = [(1,) * (rank - len(s)) + s for s in shapes]
    out = []
    for i in range(rank):
        dims = {p[i] for p in padded}
        if rank - i > MAX_BROADCAST_DIMS:
            ok = len(dims) == 1
            size = next(iter(dims))
        else:
            rest = dims - {1}
            ok = len(rest) <= 1
            size = next(iter(rest)) if rest else 1
        if not ok:
            fail(op, f"incompatible shapes {' and '.join(str(list(s)) for s in shapes)}: dims of size 1 broadcast "
                     f"in the {MAX_BROADCAST_DIMS} innermost dims, other dims must be equal")
        out.append(size)
    return tuple(out)


def padding_is_defined(out_shape: tuple, operands: Sequence[Operand]) -> bool:
    """The output padding is a function of the operands' padding scalars when each tensor operand has a
    known padding scalar and covers the output's last two dims (no broadcast along them)."""
    if len(out_shape) == 0:
        return False
    for o in operands:
        if not o.is_tensor:
            continue
        if o.pad() is None:
            return False
        s = (1,) * (len(out_shape) - len(o.shape)) + o.shape
        if s[-2:] != tuple(out_shape[-2:]):
            return False
    return True


# ------------------------------------------------------------------------------------------------
# Fused activations
# ------------------------------------------------------------------------------------------------

def _float_act(fn):
    return lambda x: fn(x if x.is_floating_point() else x.to(torch.float32))


ACTIVATIONS: dict[str, Callable[[torch.Tensor], torch.Tensor]] = {
    "RELU": torch.relu,
    "RELU6": lambda x: x.clamp(0, 6),
    "GELU": _float_act(torch.nn.functional.gelu),
    "GELU_TANH": _float_act(lambda x: torch.nn.functional.gelu(x, approximate="tanh")),
    "SILU": _float_act(torch.nn.functional.silu),
    "SIGMOID": _float_act(torch.sigmoid),
    "TANH": _float_act(torch.tanh),
    "EXP": _float_act(torch.exp),
    "LOG": _float_act(torch.log),
    "SQRT": _float_act(torch.sqrt),
    "RECIP": _float_act(torch.reciprocal),
    "ABS": torch.abs,
    "SQUARE": lambda x: x * x,
    "NEG": torch.neg,
}


def activation_name(a) -> str:
    if isinstance(a, str):
        return a.upper()
    t = getattr(a, "op_type", a)
    return str(getattr(t, "name", t)).upper()


def check_activations(op: str, arg: str, acts) -> list:
    acts = list(acts or [])
    for a in acts:
        name = activation_name(a)
        if name not in ACTIVATIONS:
            fail(op, f"{arg}: activation {name} is not supported by the simulated device "
                     f"(supported: {', '.join(sorted(ACTIVATIONS))})")
    return acts


def apply_activations(x: torch.Tensor, acts) -> torch.Tensor:
    for a in acts:
        x = ACTIVATIONS[activation_name(a)](x)
    return x


# ------------------------------------------------------------------------------------------------
# Numerics
# ------------------------------------------------------------------------------------------------

def _masked(x: torch.Tensor, mask: int) -> torch.Tensor:
    b = x.to(torch.float32).contiguous().view(torch.int32)
    return (b & mask).view(torch.float32)


def fpu_multiply(a: torch.Tensor, b: torch.Tensor, fidelity: MathFidelity) -> torch.Tensor:
    """Product in the matrix unit at a math fidelity (FACTS "Compute numerics"). `a` is the SrcA operand
    (input_tensor_a of an eltwise op), `b` SrcB. The passes are summed exactly and returned in fp32."""
    a_hi = _masked(a, -0x80000)              # 0xFFF80000: hidden bit + 4 mantissa bits
    a_lo = _masked(a, -0x4000) - a_hi        # next 5 mantissa bits
    b_hi = _masked(b, -0x20000)              # 0xFFFE0000: 6 mantissa bits
    b_lo = _masked(b, -0x2000) - b_hi        # next 4 mantissa bits
    d = lambda t: t.to(torch.float64)
    acc = d(a_hi) * d(b_hi)
    if fidelity in (MathFidelity.HiFi2, MathFidelity.HiFi3, MathFidelity.HiFi4):
        acc = acc + d(a_lo) * d(b_hi)
    if fidelity in (MathFidelity.HiFi3, MathFidelity.HiFi4):
        acc = acc + d(a_hi) * d(b_lo)
    if fidelity == MathFidelity.HiFi4:
        acc = acc + d(a_lo) * d(b_lo)
    return acc.to(torch.float32)


def _pre_round(value: torch.Tensor, dtype: DataType, rounding: str, device) -> tuple[torch.Tensor, str, bool]:
    """Map the op's rounding ("packer", "sfpu", "rne") onto what `make_output` offers. Returns (value, rounding,
    final): final when value is already what `dtype` stores (rounding it again would change nothing)."""
    if device is not None and device.ideal or dtype in INT_DTYPES:
        return value, "host", False
    if rounding == "rne":  # SFPU result rounded to nearest even into bf16 (denormals flushed)
        if dtype == FP32:
            return value, "packer", False
        value = formats.flush_fp32(formats.round_bf16_rne(value.to(torch.float32)))
        return value, ("host" if dtype == BF16 else "packer"), dtype == BF16
    if rounding == "sfpu" and dtype in BLOCK_FLOAT_DTYPES:  # truncated into bf16 Dst, then packed
        return formats.truncate_bf16(value.to(torch.float32)), "packer", False
    return value, rounding, False


def _to_dtype_domain(value: torch.Tensor, dtype: DataType) -> torch.Tensor:
    if value.dtype == torch.bool:
        value = value.to(torch.int64)
    if dtype in FLOAT_DTYPES:
        return value.to(torch.float32)
    return value


def _for_packer(value: torch.Tensor, dtype: DataType, rounding: str, pad, device) -> tuple:
    """(values, rounding make_output applies, whether they are final, padding scalar) of a computed result."""
    value, rnd, final = _pre_round(_to_dtype_domain(value, dtype), dtype, rounding, device)
    return value, rnd, final, _packer_pad(pad, dtype, rounding, device)


def _packer_pad(pad, dtype: DataType, rounding: str, device):
    """The padding scalar of a computed result as `_for_packer` hands it to make_output."""
    if pad is None:
        return None
    p = _to_dtype_domain(torch.as_tensor(pad).reshape(1), dtype)
    p, _, _ = _pre_round(p, dtype, rounding, device)
    if dtype in INT_DTYPES:
        p = formats.wrap_int(p, dtype)
    return p[0].item()


def emit(op: str, device, value: torch.Tensor, dtype: DataType, layout: Layout, memory_config, *,
         rounding: str, pad, output_tensor: Optional[Tensor], like: Optional[Tensor]) -> Tensor:
    """Round `value` to `dtype` and store it in a new device tensor, or into `output_tensor`."""
    dtype = DataType(dtype)
    value, rnd, final, pad = _for_packer(value, dtype, rounding, pad, device)
    if output_tensor is None:
        return make_output(op, device, value, dtype, layout, out_memory_config(memory_config, like),
                           rounding=rnd, pad=pad, rounded=final)
    out = output_tensor
    if out._layout != Layout.TILE:
        pad = None
    stored = value if final else round_to(value, dtype, device, rounding=rnd, pad=pad)
    if pad is not None and dtype in FLOAT_DTYPES:
        pad_dtype = BF16 if dtype in BLOCK_FLOAT_DTYPES else dtype
        pad = float(round_to(torch.tensor([float(pad)]), pad_dtype, device, rounding=rnd)[0])
    out._value = stored.contiguous()
    out._pad = pad
    return out


def check_output_tensor(op: str, device, output_tensor, shape: tuple, dtype: Optional[DataType]):
    """Validate a preallocated output tensor; returns the output dtype it imposes."""
    if output_tensor is None:
        return dtype
    if not isinstance(output_tensor, Tensor):
        fail(op, f"output_tensor must be a ttnn.Tensor, got {type(output_tensor).__name__}")
    output_tensor._check_alive(f"ttnn.{op}: output_tensor")
    if output_tensor._device is not device:
        fail(op, "output_tensor must be on the same device as the inputs")
    if tuple(output_tensor.shape) != tuple(shape):
        fail(op, f"output_tensor has shape {list(output_tensor.shape)}, but the result has shape {list(shape)}")
    if dtype is not None and dtype != output_tensor._dtype:
        fail(op, f"dtype {dtype.name} does not match output_tensor's dtype {output_tensor._dtype.name}")
    return output_tensor._dtype


def scalar_as(x, dtype: DataType, int_domain: bool) -> torch.Tensor:
    """A Python scalar operand as the device holds it next to a tensor of `dtype`."""
    if int_domain:
        return torch.tensor(int(x), dtype=torch.int64)
    if dtype == FP32:
        return torch.tensor(float(x), dtype=torch.float32)
    # bfloat16, rounded to nearest even as the host converts it (remembered by round_scalar)
    return torch.tensor(round_scalar(float(x), BF16, None, rounding="host"), dtype=torch.float32)


# ------------------------------------------------------------------------------------------------
# Op specifications
# ------------------------------------------------------------------------------------------------

class Spec:
    """How one binary op checks and computes.

    mix: dtype pairs allowed: "float" (float-family may mix, others must match), "promote" (also an integer
    operand is cast to the float operand's dtype), "same" (equal dtypes), "isclose" (FLOAT32 with BFLOAT16).
    float_scalar: what an integer tensor does with a non-integral float scalar: "promote" (to FLOAT32) or
    "refuse". kind: "fpu_add", "fpu_mul", "sfpu" or "exact" (selects the rounding).
    scalar_fp32: a scalar operand is an fp32 parameter of the kernel (pow exponent, prelu weight...) rather
    than a tile filled in the tensor's dtype. hook(ctx, dtype) -> output dtype, for op-specific rules.
    """

    def __init__(self, name: str, fn: Callable, dtypes, *, kind: str = "sfpu", mix: str = "float",
                 scalar_a: bool = False, scalar_b: bool = True, float_scalar: str = "refuse",
                 compare: bool = False, scalar_fp32: bool = False, hook: Optional[Callable] = None,
                 golden: Optional[Callable] = None):
        self.name, self.fn, self.dtypes, self.kind, self.mix = name, fn, tuple(dtypes), kind, mix
        self.scalar_a, self.scalar_b, self.float_scalar = scalar_a, scalar_b, float_scalar
        self.compare, self.scalar_fp32, self.hook, self.golden = compare, scalar_fp32, hook, golden


def _operand_dtypes(op: str, spec: Spec, A: Operand, B: Operand, lead: Operand, inplace: bool) -> tuple:
    """How the operands' dtypes combine: (arg -> float dtype an integer operand is cast to, the dtypes the op
    computes on, whether it computes on integers, the output dtype before the op's own rule); refuses the
    mixes TT-NN refuses. May turn an integral float scalar into an int (an integer tensor's scalar)."""
    promote_to = {}  # arg -> float dtype the integer operand is cast to
    if A.is_tensor and B.is_tensor and A.dtype != B.dtype:
        fa, fb = A.dtype in FLOAT_DTYPES, B.dtype in FLOAT_DTYPES
        pair = f"{A.dtype.name} and {B.dtype.name}"
        if spec.mix == "same":
            fail(op, f"operands must have the same dtype, got {pair}")
        if spec.mix == "isclose" and {A.dtype, B.dtype} != {FP32, BF16}:
            fail(op, f"the only mixed dtype pair allowed is FLOAT32 with BFLOAT16, got {pair}")
        if fa != fb:
            if spec.mix != "promote" or (not fa and A.dtype not in (INT32, UINT32)) or (
                    not fb and B.dtype not in (INT32, UINT32)):
                fail(op, f"operands of dtypes {pair} cannot be mixed (only float-family dtypes may mix)")
            ints, flt = (A, B) if not fa else (B, A)
            promote_to[ints.arg] = flt.dtype
        elif not fa:
            fail(op, f"operands of dtypes {pair} cannot be mixed (integer operands must have the same dtype)")
    scalar = A if not A.is_tensor else (B if not B.is_tensor else None)
    if scalar is not None and lead.dtype in INT_DTYPES and isinstance(scalar.scalar, float):
        if spec.float_scalar == "promote":
            promote_to[lead.arg] = FP32
        elif scalar.scalar.is_integer():
            scalar.scalar = int(scalar.scalar)
        else:
            fail(op, f"{scalar.arg}={scalar.scalar} is not an integer, but {lead.arg} has dtype {lead.dtype.name}")
    in_dtypes = [promote_to.get(o.arg, o.dtype) for o in (A, B) if o.is_tensor]
    int_domain = all(d in INT_DTYPES for d in in_dtypes)
    base = promote_to.get(A.arg, A.dtype) if A.is_tensor else promote_to.get(B.arg, B.dtype)
    if spec.compare and base == UINT8 and not inplace:
        base = UINT16
    return promote_to, in_dtypes, int_domain, base


def _rounding(op: str, spec: Spec, ctx, fast, in_dtypes, out_dtype: DataType, device) -> str:
    """How the result is rounded to its format, by the unit that computes it (FPU add/mul, SFPU) and the
    fast_and_approximate_mode flag; sets ctx.fpu for an FPU multiply."""
    fp32_involved = FP32 in in_dtypes or out_dtype == FP32
    if spec.kind == "fpu_add":
        if fast is False and out_dtype != BF16:
            fail(op, f"fast_and_approximate_mode=False is only accepted for a BFLOAT16 output, got {out_dtype.name}")
        rounding = "rne" if fast is False else "packer"
    elif spec.kind == "fpu_mul":
        ctx.fpu = bool(fast) and not fp32_involved and not device.ideal
        rounding = "packer" if (fast or fp32_involved) else "rne"
    elif spec.kind == "sfpu":
        rounding = "packer" if fp32_involved else "sfpu"
    else:
        rounding = "packer"
    return rounding


def run_binary(op: str, spec: Spec, a, b, *, names=("input_tensor_a", "input_tensor_b"), fast=None,
               dtype=None, memory_config=None, output_tensor=None, activations=(), a_acts=(), b_acts=(),
               inplace: bool = False, **params) -> Tensor:
    A = operand(op, names[0], a, scalar_ok=spec.scalar_a and not inplace)
    B = operand(op, names[1], b, scalar_ok=spec.scalar_b)
    if not A.is_tensor and not B.is_tensor:
        fail(op, "at least one operand must be a ttnn.Tensor (there is no scalar-scalar overload)")
    tensors = {o.arg: o.tensor for o in (A, B) if o.is_tensor}
    device = on_device(op, **tensors)
    activations = check_activations(op, "activations", activations)
    a_acts = check_activations(op, "input_tensor_a_activations", a_acts)
    b_acts = check_activations(op, "input_tensor_b_activations", b_acts)
    for o in (A, B):
        if o.is_tensor:
            require_dtype(op, o.arg, o.tensor, spec.dtypes)
    lead = A if A.is_tensor else B

    promote_to, in_dtypes, int_domain, base = _operand_dtypes(op, spec, A, B, lead, inplace)
    ctx = SimpleNamespace(op=op, int_domain=int_domain, fast=fast, in_dtypes=in_dtypes, device=device,
                          out_dtype=None, dtype_kwarg=dtype, **params)
    if spec.hook is not None:
        base = spec.hook(ctx, base)
    if inplace:
        output_tensor = A.tensor
    out_shape = broadcast_shape(op, A.shape, B.shape)
    out_dtype = DataType(dtype) if dtype is not None else None
    out_dtype = check_output_tensor(op, device, output_tensor, out_shape, out_dtype) or base
    if out_dtype not in SUPPORTED_DTYPES:
        fail(op, f"output dtype {out_dtype.name} is not supported")
    ctx.out_dtype = out_dtype
    layout = output_tensor._layout if output_tensor is not None else lead.tensor._layout

    rounding = _rounding(op, spec, ctx, fast, in_dtypes, out_dtype, device)
    ctx.fidelity = MathFidelity.HiFi4  # eltwise default; binary ops take no compute_kernel_config

    def values(o: Operand, use_pad: bool) -> torch.Tensor:
        if not o.is_tensor:
            sdtype = FP32 if spec.scalar_fp32 else promote_to.get(lead.arg, lead.dtype)
            return scalar_as(o.scalar, sdtype, int_domain)
        v = torch.tensor([o.pad()]) if use_pad else o.tensor._value
        if int_domain:
            return v.to(torch.int64) if use_pad else v
        if o.arg in promote_to:  # device typecast of the integer operand
            return round_to(v.to(torch.float64).to(torch.float32), promote_to[o.arg], device, rounding="packer",
                            pad=0.0)
        return v.to(torch.float32)

    def compute(use_pad: bool) -> torch.Tensor:
        va = apply_activations(values(A, use_pad), a_acts)
        vb = apply_activations(values(B, use_pad), b_acts)
        r = spec.fn(va, vb, ctx)
        r = _to_dtype_domain(r, out_dtype) if r.dtype == torch.bool else r
        return apply_activations(r, activations)

    def result() -> torch.Tensor:
        value = compute(False)
        return torch.broadcast_to(value, out_shape).clone() if tuple(value.shape) != out_shape else value

    def result_pad():
        if layout == Layout.TILE and padding_is_defined(out_shape, (A, B)):
            return compute(True).reshape(-1)[0]
        return None

    value, pad = result(), result_pad()
    if output_tensor is None:
        memory_config = binary_memory_config(op, memory_config, A.tensor, B.tensor, out_shape)
    out = emit(op, device, value, out_dtype, layout, memory_config, rounding=rounding, pad=pad,
               output_tensor=output_tensor, like=lead.tensor)
    if trace.REPLAYING and output_tensor is None:
        operands = [o for o in (A, B) if o.is_tensor]
        trace.offer_kernel(op, tuple(o.tensor for o in operands), device,
                           _replay_kernel(result, result_pad, operands, out_dtype, layout, rounding, device))
    return out


def _pad_key(pad):
    """A padding scalar as a dict key that tells 0.0 from -0.0."""
    return None if pad is None else (pad, math.copysign(1.0, pad))


def _replay_kernel(result, result_pad, operands: list, dtype: DataType, layout: Layout, rounding: str, device):
    """What a trace replay runs of a binary op (trace.offer_kernel): `result` (the op's arithmetic on its
    operands' current values) and the output's rounding; the output's padding scalar, a function of the
    operands' padding scalars, is computed again only when those change. The operands hold the tensors the
    kernel is given only during a call."""
    for o in operands:
        o.tensor = None
    last_pad: list = [None, None]       # (operands' padding scalars, output padding) of the previous call

    def kernel(*held):
        for o, t in zip(operands, held):
            o.tensor = t
        try:
            value = result()
            key = tuple(_pad_key(o.pad()) for o in operands)
            if last_pad[0] != key:
                last_pad[:] = key, _packer_pad(result_pad(), dtype, rounding, device)
        finally:
            for o in operands:
                o.tensor = None
        value, rnd, final = _pre_round(_to_dtype_domain(value, dtype), dtype, rounding, device)
        return stored(value, dtype, layout, device, rounding=rnd, pad=last_pad[1], rounded=final)
    return kernel
