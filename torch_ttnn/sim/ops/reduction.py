"""Reductions: sum, mean, max, min, std, var, prod, argmax, topk, sort, cumsum, cumprod.

Numerics
--------
- sum / mean run in the matrix unit: the input times a scaler tile (``scalar`` for sum, ``scalar / N`` for mean;
  the scaler tile is bf16, truncated, unless the input is FLOAT32), with the op's math fidelity (default HiFi4)
  and 16-element partial sums accumulated in Dst: fp32 by default for every input dtype, as TT-NN's generic
  reduce has done since tt-metal PR #15665 (a compute_kernel_config with fp32_dest_acc_en=False gives the
  16-bit Dst, rounded every step). See torch_ttnn.sim.numerics.fpu_reduce_sum. A FLOAT32 input with
  fp32_dest_acc_en and ``fast_and_approximate_mode=False`` takes the accurate SFPU path: a plain fp32 sum.
  Reductions over several dims accumulate in one Dst chain (the dims flattened in row-major order).
- max / min are exact (the pool compares, it does not multiply); ``scalar`` scales the result.
- var / std: fp32 two-pass statistics on the logical values (the accurate Welford path), one rounding.
- prod / cumsum / cumprod: sequential along the dim, each step written to Dst (rounded to bf16 for 16-bit
  formats; fp32 steps for FLOAT32, cumsum compensated unless ``disable_compensated_sum``).
- Ideal numerics: plain fp32 reductions, rounded to the output dtype once.

Padding: the reduce kernels mask (or fill with the neutral element) the tile padding of a reduced dim, so the
logical values alone are reduced. Outputs carry unknown padding.
"""
from __future__ import annotations

import builtins

import torch

from .. import formats, numerics
from .._op import ttnn_op
from ..tensor import padded_shape_of
from ..types import (BLOCK_FLOAT_DTYPES, DataType, Layout, MathFidelity, TensorMemoryLayout)
from ._common import (fail, kernel_config, make_output, offer_values_kernel, on_device, out_memory_config,
                      require_dtype, require_layout, require_rank, round_to)

BF16, FP32, BFP8, BFP4 = DataType.BFLOAT16, DataType.FLOAT32, DataType.BFLOAT8_B, DataType.BFLOAT4_B
INT32, UINT32, UINT16 = DataType.INT32, DataType.UINT32, DataType.UINT16


# ------------------------------------------------------------------------------------------------
# Golden functions
# ------------------------------------------------------------------------------------------------

def _golden_dims(x, dim):
    if dim is None:
        return None
    return (dim,) if isinstance(dim, int) else tuple(dim)


def _make_golden(kind: str):
    def golden(input_tensor, dim=None, keepdim=False, correction=None, scalar=1.0, **_):
        x = input_tensor
        if x.dim() == 0 and kind != "argmax":
            return x.clone()
        dims = _golden_dims(x, dim)
        if kind == "argmax":
            if x.dtype in (torch.uint16, torch.uint32):
                x = x.to(torch.int64)
            return torch.argmax(x, dim=dim, keepdim=keepdim)
        if dims is None:
            dims = tuple(range(x.dim()))
        if kind in ("sum", "mean"):
            out = getattr(torch, kind)(x, dim=dims, keepdim=keepdim)
        elif kind in ("max", "min"):
            out = (torch.amax if kind == "max" else torch.amin)(x, dim=dims, keepdim=keepdim)
        else:
            kw = {} if correction is None else {"correction": int(bool(correction))}
            out = getattr(torch, kind)(x, dim=dims, keepdim=keepdim, **kw)
        if kind == "var":
            return out * scalar ** 2
        if kind == "std":
            return out * abs(scalar)
        if x.dtype == torch.int32 and scalar != 1.0:
            return (out.to(torch.float32) * scalar).to(torch.int32)
        return out * scalar
    golden.__name__ = f"golden_{kind}"
    return golden


def _golden_prod(input_tensor, dim=None, keepdim=False, **_):
    if dim is None:
        return torch.prod(input_tensor)
    return torch.prod(input_tensor, dim=dim, keepdim=keepdim)


def _golden_topk(input_tensor, k=32, dim=-1, largest=True, sorted=True, *, indices_tensor=None, **_):
    values, indices = torch.sort(input_tensor, dim=dim, descending=largest, stable=True)
    values, indices = values.narrow(dim, 0, k), indices.narrow(dim, 0, k)
    if indices_tensor is not None:
        indices = torch.gather(indices_tensor.to(torch.int64), dim, indices)
    return values, indices


def _golden_sort(input_tensor, dim=-1, descending=False, stable=False, **_):
    return torch.sort(input_tensor, dim=dim, descending=descending, stable=stable)


def _make_golden_scan(fn_name: str):
    def golden(input_tensor, dim, *_, dtype=None, reverse_order=False, **__):
        fn = getattr(torch, fn_name)
        x = torch.flip(input_tensor, dims=[dim]) if reverse_order else input_tensor
        out = fn(x, dim=dim)
        return torch.flip(out, dims=[dim]) if reverse_order else out
    return golden


# ------------------------------------------------------------------------------------------------
# Helpers
# ------------------------------------------------------------------------------------------------

def _norm_dims(op: str, dim, rank: int) -> list[int]:
    if dim is None:
        return list(range(rank))
    dims = [dim] if isinstance(dim, int) else list(dim)
    out = []
    for d in dims:
        if not isinstance(d, int):
            fail(op, f"dim must be an int or a sequence of ints, got {dim!r}")
        if not -rank <= d < builtins.max(rank, 1):
            fail(op, f"dim {d} is out of range for a tensor of rank {rank}")
        d = d % rank if rank else 0
        if d in out:
            fail(op, f"dim {d} is repeated in {dim!r}")
        out.append(d)
    return sorted(out)


def _out_shape(shape, dims, keepdim: bool):
    return [1 if i in dims else s for i, s in enumerate(shape)] if keepdim else [
        s for i, s in enumerate(shape) if i not in dims]


def _check_layout_dtype(op: str, t, allowed, tile_only=()):
    require_dtype(op, "input_tensor", t, allowed)
    if t._dtype in tile_only or t._dtype in BLOCK_FLOAT_DTYPES:
        require_layout(op, "input_tensor", t, Layout.TILE)


def _values(t) -> torch.Tensor:
    return t._value if t._value.dtype == torch.int64 else t._value.to(torch.float32)


def _reduce_output_layout(op: str, t, dims, output_layout, keeps_rm: bool) -> Layout:
    layout = Layout.TILE
    if (keeps_rm and t._layout == Layout.ROW_MAJOR and len(t.shape) == 4 and t._dtype in (BF16, FP32)
            and (t._memory_config is None or t._memory_config.memory_layout == TensorMemoryLayout.INTERLEAVED)
            and len(dims) == 1 and dims[0] in (2, 3)):
        layout = Layout.ROW_MAJOR
    if output_layout is not None:
        layout = Layout(output_layout)
        if layout == Layout.ROW_MAJOR and t._dtype in BLOCK_FLOAT_DTYPES:
            fail(op, f"output_layout=ROW_MAJOR is not supported for a {t._dtype.name} result (block floats exist "
                     "only in TILE layout); typecast explicitly")
    return layout


def _scaler_value(s: float, dtype: DataType, ideal: bool) -> float:
    """The value the scaler tile holds: bf16 (truncated on the host) unless the input is FLOAT32."""
    if ideal or dtype == FP32:
        return float(torch.tensor(s, dtype=torch.float32))
    return float(formats.truncate_bf16(torch.tensor([s], dtype=torch.float32))[0])


def _fpu_sum(t, dims, scaler: float, compute_kernel_config, fast_and_approximate_mode: bool, device):
    """Dst content of sum(x * scaler) over dims, as the reduce kernel computes it (keepdim shape)."""
    return _fpu_sum_values(_values(t), t._dtype, dims, scaler, compute_kernel_config, fast_and_approximate_mode,
                           device)


def _fpu_sum_values(x, dtype, dims, scaler: float, compute_kernel_config, fast_and_approximate_mode: bool, device):
    """`_fpu_sum` of values `x` held in `dtype`."""
    # generic reductions accumulate in fp32 Dst whatever the input dtype (tt-metal PR #15665, Dec 2024)
    fid, fp32_acc, _ = kernel_config(compute_kernel_config, dtype, fidelity_default=MathFidelity.HiFi4,
                                     fp32_acc_default=True)
    if device.ideal:
        return x.sum(dim=dims, keepdim=True) * scaler if dims else x * scaler
    if dtype == FP32 and fp32_acc and not fast_and_approximate_mode:
        return (x.to(torch.float64).sum(dim=dims, keepdim=True) * scaler).to(torch.float32) if dims else x * scaler
    operand = "B" if dims == [x.dim() - 1] else "A"
    return numerics.fpu_reduce_sum(x, dims, _scaler_value(scaler, dtype, False), fid, fp32_acc, False,
                                   input_operand=operand, bf16_exact=dtype in (BF16, *BLOCK_FLOAT_DTYPES))


def _squeezed(value: torch.Tensor, dims) -> torch.Tensor:
    for d in sorted(dims, reverse=True):
        value = value.squeeze(d) if value.dim() > d else value
    return value


def _finish(op: str, device, value: torch.Tensor, dims, keepdim: bool, dtype, layout, memory_config, like):
    if not keepdim:
        value = _squeezed(value, dims)
    return make_output(op, device, value, dtype, layout, out_memory_config(memory_config, like))


def _rank0_copy(op, device, t, memory_config):
    return make_output(op, device, t._value, t._dtype, t._layout, out_memory_config(memory_config, t),
                       pad=t._pad, rounded=True)


# ------------------------------------------------------------------------------------------------
# sum, mean, max, min
# ------------------------------------------------------------------------------------------------

_SUM_DTYPES = (BF16, BFP8, FP32, INT32)
_MEAN_DTYPES = (BF16, BFP8, FP32)


def _reduce(kind: str, input_tensor, dim, keepdim, memory_config, compute_kernel_config, scalar,
            fast_and_approximate_mode, output_layout=None):
    op = kind
    device = on_device(op, input_tensor=input_tensor)
    t = input_tensor
    _check_layout_dtype(op, t, _MEAN_DTYPES if kind == "mean" else _SUM_DTYPES, tile_only=(INT32,))
    if kind == "min" and fast_and_approximate_mode and t._dtype == FP32:
        fail(op, "fast_and_approximate_mode=True is not supported for a FLOAT32 min (the FPU has no min pool)")
    rank = len(t.shape)
    if rank == 0:
        return _rank0_copy(op, device, t, memory_config)
    dims = _norm_dims(op, dim, rank)
    layout = _reduce_output_layout(op, t, dims, output_layout, keeps_rm=kind in ("sum", "mean"))
    x = _values(t)
    n = 1
    for d in dims:
        n *= x.shape[d]
    if t._dtype == INT32:
        if kind == "sum":
            v = x.sum(dim=dims, keepdim=True)
        elif x.numel() == 0:
            fail(op, "cannot reduce an empty tensor")
        else:
            v = (x.amax if kind == "max" else x.amin)(dim=dims, keepdim=True)
        if scalar != 1.0:
            v = (v.to(torch.float32) * scalar).trunc()
        return _finish(op, device, v, dims, keepdim, t._dtype, layout, memory_config, t)
    if kind not in ("sum", "mean") and x.numel() == 0:
        fail(op, "cannot reduce an empty tensor")
    s = float(scalar) if kind == "sum" else (float(scalar) / n if n else float("nan"))

    def compute(t):
        if kind in ("sum", "mean"):
            v = _fpu_sum(t, dims, s, compute_kernel_config, fast_and_approximate_mode, device)
        else:
            v = (_values(t).amax if kind == "max" else _values(t).amin)(dim=dims, keepdim=True)
            if scalar != 1.0:
                v = v * float(scalar)
        return v if keepdim else _squeezed(v, dims)
    out = _finish(op, device, compute(t), dims, True, t._dtype, layout, memory_config, t)
    offer_values_kernel(op, compute, (t,), t._dtype, layout, device)
    return out


@ttnn_op("sum", golden=_make_golden("sum"))
def sum(input_tensor, dim=None, keepdim=False, *, memory_config=None, compute_kernel_config=None, scalar=1.0,
        correction=None, sub_core_grids=None, fast_and_approximate_mode=False, output_layout=None):  # noqa: A001
    """Sum over dim(s) (all dims when None), times `scalar`."""
    return _reduce("sum", input_tensor, dim, keepdim, memory_config, compute_kernel_config, scalar,
                   fast_and_approximate_mode, output_layout)


@ttnn_op("mean", golden=_make_golden("mean"))
def mean(input_tensor, dim=None, keepdim=False, *, memory_config=None, compute_kernel_config=None, scalar=1.0,
         correction=None, sub_core_grids=None, fast_and_approximate_mode=False, output_layout=None):
    """Mean over dim(s) (all dims when None), times `scalar`."""
    return _reduce("mean", input_tensor, dim, keepdim, memory_config, compute_kernel_config, scalar,
                   fast_and_approximate_mode, output_layout)


@ttnn_op("max", golden=_make_golden("max"))
def max(input_tensor, dim=None, keepdim=False, *, memory_config=None, compute_kernel_config=None, scalar=1.0,
        correction=None, sub_core_grids=None, fast_and_approximate_mode=False):  # noqa: A001
    """Maximum over dim(s) (all dims when None), times `scalar`."""
    return _reduce("max", input_tensor, dim, keepdim, memory_config, compute_kernel_config, scalar,
                   fast_and_approximate_mode)


@ttnn_op("min", golden=_make_golden("min"))
def min(input_tensor, dim=None, keepdim=False, *, memory_config=None, compute_kernel_config=None, scalar=1.0,
        correction=None, sub_core_grids=None, fast_and_approximate_mode=False):  # noqa: A001
    """Minimum over dim(s) (all dims when None), times `scalar`."""
    return _reduce("min", input_tensor, dim, keepdim, memory_config, compute_kernel_config, scalar,
                   fast_and_approximate_mode)


# ------------------------------------------------------------------------------------------------
# std, var
# ------------------------------------------------------------------------------------------------

def _moment(kind: str, input_tensor, dim, keepdim, memory_config, scalar, correction):
    op = kind
    device = on_device(op, input_tensor=input_tensor)
    t = input_tensor
    _check_layout_dtype(op, t, _MEAN_DTYPES)
    rank = len(t.shape)
    if rank == 0:
        return _rank0_copy(op, device, t, memory_config)
    dims = _norm_dims(op, dim, rank)
    x = _values(t)
    n = 1
    for d in dims:
        n *= x.shape[d]
    ddof = 1 if correction else 0
    if n - ddof <= 0:
        v = torch.full_like(x.sum(dim=dims, keepdim=True), float("nan"))
    elif device.ideal:
        xd = x.to(torch.float64)
        var = ((xd - xd.mean(dim=dims, keepdim=True)) ** 2).sum(dim=dims, keepdim=True) / (n - ddof)
        v = (var * float(scalar) ** 2 if kind == "var" else var.sqrt() * abs(float(scalar))).to(torch.float32)
    else:
        # TT-NN composes var/std of its reduction and element-wise ops, each result a tensor in the input's
        # dtype: mean (reduce, fp32 Dst), x - mean, its square, their sum times 1/(n - correction), then sqrt
        # (SFPU) for std; the scalar scales the result
        dt = t._dtype
        mu = round_to(_fpu_sum_values(x, dt, dims, 1.0 / n, None, False, device), dt, device)
        dev = round_to(x - mu, dt, device)
        sq = round_to(dev * dev, dt, device)
        var = _fpu_sum_values(sq, dt, dims, 1.0 / (n - ddof), None, False, device)
        if kind == "var":
            v = var * float(scalar) ** 2
        else:
            v = round_to(torch.sqrt(round_to(var, dt, device)), dt, device, rounding="sfpu") * abs(float(scalar))
    return _finish(op, device, v.to(torch.float32), dims, keepdim, t._dtype, Layout.TILE, memory_config, t)


@ttnn_op("std", golden=_make_golden("std"))
def std(input_tensor, dim=None, keepdim=False, *, memory_config=None, compute_kernel_config=None, scalar=1.0,
        correction=True, sub_core_grids=None):
    """Standard deviation over dim(s) (Bessel-corrected when `correction`), times |scalar|."""
    return _moment("std", input_tensor, dim, keepdim, memory_config, scalar, correction)


@ttnn_op("var", golden=_make_golden("var"))
def var(input_tensor, dim=None, keepdim=False, *, memory_config=None, compute_kernel_config=None, scalar=1.0,
        correction=True, sub_core_grids=None):
    """Variance over dim(s) (Bessel-corrected when `correction`), times scalar**2."""
    return _moment("var", input_tensor, dim, keepdim, memory_config, scalar, correction)


# ------------------------------------------------------------------------------------------------
# prod
# ------------------------------------------------------------------------------------------------

def _sequential(values: torch.Tensor, dim: int, step, init: float) -> torch.Tensor:
    """Running combination along dim with `step(acc, x)` (vectorized over the other dims)."""
    v = values.movedim(dim, 0)
    out = torch.empty_like(v)
    acc = torch.full_like(v[0], init) if v.shape[0] else None
    for i in range(v.shape[0]):
        acc = step(acc, v[i])
        out[i] = acc
    return out.movedim(0, dim)


def _dst_step(fp32: bool, ideal: bool, fn):
    if ideal or fp32:
        return fn
    return lambda acc, x: numerics.round_dst(fn(acc, x))


@ttnn_op("prod", golden=_golden_prod)
def prod(input_tensor, dim=None, keepdim=False, *, memory_config=None):
    """Product over `dim` (all elements when None). The NC overload (output_tensor, dims=) is not offered."""
    op = "prod"
    device = on_device(op, input_tensor=input_tensor)
    t = input_tensor
    _check_layout_dtype(op, t, (BF16, FP32, BFP8, BFP4))
    if dim is not None and t._dtype == BFP4:
        fail(op, "dim-based reductions do not support BFLOAT4_B")
    if dim is None and keepdim:
        fail(op, "keepdim=True is not supported for a full product (dim=None)")
    rank = len(t.shape)
    if rank == 0:
        return _rank0_copy(op, device, t, memory_config)
    x = _values(t)
    if dim is None:
        flat = x.reshape(-1)
        dims, red = list(range(rank)), 0
    else:
        dims = _norm_dims(op, dim, rank)
        flat, red = x, dims[0]
    if device.ideal:
        v = torch.prod(flat.to(torch.float64), dim=red, keepdim=True).to(torch.float32)
    else:
        step = _dst_step(t._dtype == FP32, False, lambda a, b: a * b)
        if flat.shape[red]:
            v = _sequential(flat, red, step, 1.0).narrow(red, flat.shape[red] - 1, 1)
        else:
            v = torch.ones([1 if i == red else s for i, s in enumerate(flat.shape)])
    if dim is None:
        v = v.reshape([1] * rank)
    return _finish(op, device, v, dims, keepdim, t._dtype, Layout.TILE, memory_config, t)


# ------------------------------------------------------------------------------------------------
# argmax
# ------------------------------------------------------------------------------------------------

@ttnn_op("argmax", golden=_make_golden("argmax"))
def argmax(input_tensor, dim=None, keepdim=False, *, sub_core_grids=None, memory_config=None, output_tensor=None,
           enable_secondary_dm=None):
    """Index of the maximum along `dim` (first index on ties); UINT32, ROW_MAJOR."""
    op = "argmax"
    device = on_device(op, input_tensor=input_tensor)
    t = input_tensor
    rank = len(t.shape)
    if t.is_sharded():
        fail(op, "input_tensor must be INTERLEAVED (sharded tensors are not supported)")
    floats = (BF16, FP32)
    if dim is None:
        require_layout(op, "input_tensor", t, Layout.ROW_MAJOR)
        require_dtype(op, "input_tensor", t, floats + (INT32, UINT32, UINT16))
    else:
        if not isinstance(dim, int):
            fail(op, f"dim must be an int or None, got {dim!r}")
        if not -rank <= dim < rank:
            fail(op, f"dim {dim} is out of range for a tensor of rank {rank}")
        d = dim % rank
        if d == rank - 1 and t._layout == Layout.ROW_MAJOR:
            require_dtype(op, "input_tensor", t, floats + (INT32, UINT32, UINT16))
        else:
            require_dtype(op, "input_tensor", t, floats)
            require_layout(op, "input_tensor", t, Layout.ROW_MAJOR, Layout.TILE)
    x = _values(t)
    if x.numel() == 0:
        fail(op, "cannot take the argmax of an empty tensor")
    if dim is None:
        idx = torch.argmax(x.reshape(-1)).reshape([1] * rank if keepdim else [])
    else:
        idx = torch.argmax(x, dim=dim % rank, keepdim=keepdim)
    mc = out_memory_config(memory_config, t)
    if mc.is_sharded():
        fail(op, "memory_config must be INTERLEAVED")
    out = make_output(op, device, idx, UINT32, Layout.ROW_MAJOR, mc)
    if output_tensor is not None:
        return _into(op, "output_tensor", output_tensor, out)
    return out


def _into(op: str, arg: str, target, result):
    """Copy a result into a preallocated output tensor (same shape, dtype and layout)."""
    if tuple(target.shape) != tuple(result.shape) or target._dtype != result._dtype or \
            target._layout != result._layout:
        fail(op, f"{arg} is {list(target.shape)} {target._dtype.name} {target._layout.name}, the result is "
                 f"{list(result.shape)} {result._dtype.name} {result._layout.name}")
    target._value, target._pad = result._value, result._pad
    from .core import deallocate
    deallocate(result)
    return target


# ------------------------------------------------------------------------------------------------
# topk, sort
# ------------------------------------------------------------------------------------------------

def _sorted_with_indices(x: torch.Tensor, dim: int, descending: bool):
    values, indices = torch.sort(x, dim=dim, descending=descending, stable=True)
    return values, indices


def _index_dtype(padded_len: int, wide: bool) -> DataType:
    return UINT32 if wide or padded_len > 65536 else UINT16


@ttnn_op("topk", golden=_golden_topk)
def topk(input_tensor, k=32, dim=-1, largest=True, sorted=True, *, memory_config=None, sub_core_grids=None,
         indices_tensor=None, output_tensor=None, stable=False):  # noqa: A002
    """The k largest (or smallest) values along `dim` and their indices; TILE in and out."""
    op = "topk"
    device = on_device(op, input_tensor=input_tensor, indices_tensor=indices_tensor)
    t = input_tensor
    require_layout(op, "input_tensor", t, Layout.TILE)
    require_dtype(op, "input_tensor", t, (BF16, BFP8, FP32))
    rank = len(t.shape)
    require_rank(op, "input_tensor", t, 1)
    if not -rank <= dim < rank:
        fail(op, f"dim {dim} is out of range for a tensor of rank {rank}")
    d = dim % rank
    size = t.shape[d]
    if not 1 <= int(k) <= size:
        fail(op, f"k={k} must be in 1..{size} (the size of dim {dim})")
    if stable and indices_tensor is not None:
        fail(op, "indices_tensor cannot be combined with stable=True")
    mc = out_memory_config(memory_config, t)
    if mc.is_sharded():
        fail(op, "sharded output memory configs are not supported")
    x = _values(t)
    values, indices = _sorted_with_indices(x, d, bool(largest))
    values, indices = values.narrow(d, 0, int(k)), indices.narrow(d, 0, int(k))
    if stable:
        values = values + 0.0  # -0.0 -> +0.0
    padded_len = padded_shape_of(t.shape, Layout.TILE)[d] if d >= rank - 2 else size
    idx_dtype = _index_dtype(padded_len, t._dtype == FP32)
    if indices_tensor is not None:
        require_layout(op, "indices_tensor", indices_tensor, Layout.TILE)
        require_dtype(op, "indices_tensor", indices_tensor, (UINT16, UINT32, INT32))
        if tuple(indices_tensor.shape) != tuple(t.shape):
            fail(op, f"indices_tensor must have the shape of input_tensor {list(t.shape)}, got "
                     f"{list(indices_tensor.shape)}")
        if indices_tensor._dtype == UINT16 and idx_dtype != UINT16:
            fail(op, "a UINT16 indices_tensor cannot hold the 32-bit indices this input needs")
        indices = torch.gather(indices_tensor._value, d, indices)
        idx_dtype = indices_tensor._dtype
    v_out = make_output(op, device, values, t._dtype, Layout.TILE, mc)
    i_out = make_output(op, device, indices, idx_dtype, Layout.TILE, mc)
    if output_tensor is not None:
        ov, oi = output_tensor
        return _into(op, "output_tensor[0]", ov, v_out), _into(op, "output_tensor[1]", oi, i_out)
    return v_out, i_out


@ttnn_op("sort", golden=_golden_sort)
def sort(input_tensor, dim=-1, descending=False, stable=False, *, memory_config=None, out=None):
    """Sort along `dim`; returns [values, indices] in the input's layout (ties keep the lowest index first)."""
    op = "sort"
    device = on_device(op, input_tensor=input_tensor)
    t = input_tensor
    require_dtype(op, "input_tensor", t, (BF16, FP32, UINT16))
    rank = len(t.shape)
    require_rank(op, "input_tensor", t, 1)
    if not -rank <= dim < rank:
        fail(op, f"dim {dim} is out of range for a tensor of rank {rank}")
    d = dim % rank
    x = _values(t)
    values, indices = _sorted_with_indices(x, d, bool(descending))
    if stable and t._dtype == FP32:
        values = values + 0.0
    padded_len = padded_shape_of(t.shape, t._layout)[d] if t._layout == Layout.TILE and d >= rank - 2 else t.shape[d]
    idx_dtype = _index_dtype(padded_len, False)
    if out is not None and out[1] is not None:
        require_dtype(op, "out[1]", out[1], (UINT16, UINT32))
        idx_dtype = out[1]._dtype
    mc = out_memory_config(memory_config, t)
    v_out = make_output(op, device, values, t._dtype, t._layout, mc, pad=None, rounded=True)
    i_out = make_output(op, device, indices, idx_dtype, t._layout, mc)
    if out is not None:
        return [_into(op, "out[0]", out[0], v_out), _into(op, "out[1]", out[1], i_out)]
    return [v_out, i_out]


# ------------------------------------------------------------------------------------------------
# cumsum, cumprod
# ------------------------------------------------------------------------------------------------

def _scan_prepare(op: str, t, dim, dtype, allowed, int_ok_dims=None):
    require_layout(op, "input", t, Layout.TILE)
    rank = len(t.shape)
    if not isinstance(dim, int) or not -rank <= dim < builtins.max(rank, 1):
        fail(op, f"dim {dim!r} is out of range for a tensor of rank {rank}")
    target = t._dtype if dtype is None else DataType(dtype)
    require_dtype(op, "input", t, allowed)
    if target not in allowed:
        fail(op, f"dtype {target.name} is not supported, supported: {', '.join(a.name for a in allowed)}")
    return dim % rank if rank else 0, target


def _scan_values(t, target: DataType, device) -> torch.Tensor:
    x = _values(t)
    if target != t._dtype:
        from ._common import round_to
        x = round_to(x.to(torch.float32) if target in (BF16, FP32) else x, target, device)
    return x


@ttnn_op("cumsum", golden=_make_golden_scan("cumsum"))
def cumsum(input, dim, *, dtype=None, reverse_order=False, out=None, memory_config=None,  # noqa: A002
           disable_compensated_sum=False):
    """Cumulative sum along `dim` (reverse_order accumulates from the end)."""
    op = "cumsum"
    device = on_device(op, input=input)
    t = input
    d, target = _scan_prepare(op, t, dim, dtype, (BF16, FP32, INT32, UINT32))
    if not 1 <= len(t.shape) <= 5:
        fail(op, f"input must have rank 1..5, got rank {len(t.shape)}")
    x = _scan_values(t, target, device)
    if reverse_order:
        x = torch.flip(x, dims=[d])
    if target in (INT32, UINT32):
        v = torch.cumsum(x, dim=d)
    elif device.ideal:
        v = torch.cumsum(x.to(torch.float64), dim=d).to(torch.float32)
    elif target == FP32 and not disable_compensated_sum:
        v = torch.cumsum(x.to(torch.float64), dim=d).to(torch.float32)  # compensated: ~correctly rounded
    else:
        v = _sequential(x, d, _dst_step(target == FP32, False, lambda a, b: a + b), 0.0)
    if reverse_order:
        v = torch.flip(v, dims=[d])
    res = make_output(op, device, v, target, Layout.TILE, out_memory_config(memory_config, t))
    return _into(op, "out", out, res) if out is not None else res


@ttnn_op("cumprod", golden=_make_golden_scan("cumprod"))
def cumprod(input_tensor, dim, *, dtype=None, reverse_order=False, out=None, memory_config=None):
    """Cumulative product along `dim` (reverse_order accumulates from the end)."""
    op = "cumprod"
    device = on_device(op, input_tensor=input_tensor)
    t = input_tensor
    d, target = _scan_prepare(op, t, dim, dtype, (BF16, FP32, INT32, UINT32))
    rank = len(t.shape)
    if target in (INT32, UINT32):
        if not 3 <= rank <= 5 or d >= rank - 2:
            fail(op, f"INT32/UINT32 inputs need rank 3..5 and dim < rank - 2, got rank {rank}, dim {dim}")
        if out is not None:
            fail(op, "a preallocated output is not supported for integer types")
    elif not 1 <= rank <= 5:
        fail(op, f"input_tensor must have rank 1..5, got rank {rank}")
    x = _scan_values(t, target, device)
    if reverse_order:
        x = torch.flip(x, dims=[d])
    if target in (INT32, UINT32):
        v = torch.cumprod(x, dim=d)
    elif device.ideal:
        v = torch.cumprod(x.to(torch.float64), dim=d).to(torch.float32)
    else:
        v = _sequential(x, d, _dst_step(target == FP32, False, lambda a, b: a * b), 1.0)
    if reverse_order:
        v = torch.flip(v, dims=[d])
    res = make_output(op, device, v, target, Layout.TILE, out_memory_config(memory_config, t))
    return _into(op, "out", out, res) if out is not None else res
