"""Convolutions: conv2d, conv1d, conv_transpose2d, weight/bias preparation, get_conv_output_dim.

Conventions of real ttnn 0.81.1 modelled here (docstrings of ttnn.conv2d / conv1d / conv_transpose2d and the
tt-metal conv2d sources):

- Activations are NHWC: ``[N, H, W, C]`` or flattened ``[1, 1, N*H*W, C]`` (ROW_MAJOR or TILE; BFLOAT8_B in
  TILE only). "The tensor can be on either the host or the device": a host input is moved to DRAM first (a
  counted transfer), as the real DRAM path does.
- Weights come in torch layout (OIHW for conv2d, [O, I/g, K] or OIHW for conv1d, IOHW for conv_transpose2d),
  ROW_MAJOR BFLOAT16/FLOAT32, on the host (prepared on the host and moved to the device) or already prepared
  on the device (TILE). Device weights that are not prepared are pulled back to the host and prepared again,
  like the real op does (with a warning). The prepared layout is the simulator's own (opaque, as on hardware):
  ``[1, 1, KH*KW*(Cin/groups), Cout]`` TILE, rows ordered (kh, kw, cin), in ``conv_config.weights_dtype``
  (default: the weight tensor's dtype); the prepared bias is ``[1, 1, 1, Cout]`` TILE in the same dtype.
- The output is ``[1, 1, N*OH*OW, Cout]`` in ``conv_config.output_layout`` (default TILE), dtype ``dtype`` or
  the input's. Return values follow ``return_output_dim`` / ``return_weights_and_bias``:
  ``out``; ``(out, (oh, ow))``; ``(out, (w, b))``; ``(out, (oh, ow), (w, b))`` (conv1d: ``out_length`` int).
- Sliding-window config tensors (halo) live in L1_SMALL (DRAM with ``conv_config.config_tensors_in_dram``):
  on a device opened with ``l1_small_size=0`` the op fails with the allocator's out-of-memory error for
  L1_SMALL. 1x1 stride-1 unpadded convs run as a matmul without halo and need no L1_SMALL (as on hardware).
- Output placement: the real DRAM path (input on the host or in DRAM, no L1 slice config, not a 1x1 matmul
  conv) writes DRAM interleaved and ignores ``memory_config``; otherwise the output goes to ``memory_config``
  or, where hardware would height-shard it in L1, interleaved in the input's buffer type (simplification).

Numerics: the conv is a matmul on the matrix unit. Activations feed SrcB and weights SrcA; the math fidelity
is applied by masking operand bits (FACTS.md): LoFi A_hi*B_hi, HiFi2 (A_hi+A_lo)*B_hi, HiFi3 adds A_hi*B_lo,
HiFi4 (A_hi+A_lo)*(B_hi+B_lo). The default compute config of real conv2d is HiFi4 with fp32_dest_acc_en only
when input and weights are both FLOAT32 (tt-metal ``get_conv_default_compute_kernel_config``); with
fp32_dest_acc_en off, FLOAT32 operands are first truncated to bf16. The products accumulate as a matmul's do:
over K = kh*kw*cin in steps of 16, each step and fidelity pass added into a 16-bit Dst and rounded (TF32 then
bf16, numerics.fpu_matmul), or in fp32 with fp32_dest_acc_en; the bias is added in fp32, the fused activation
is applied in fp32, and the result is rounded once by the packer rule of the output dtype (SFPU activations
other than relu: the SFPU truncation into a 16-bit Dst when fp32_dest_acc_en is off). In the ideal numerics
mode the fidelity masks are skipped and the output is rounded to nearest even.
"""
from __future__ import annotations

import contextlib
import logging
from typing import Optional

import torch
import torch.nn.functional as F

from ...conv_rules import out_dim  # noqa: F401  (shared with the compiler; pool.py takes it from here)
from .. import numerics, trace
from .._memo import TensorMemo
from .._op import ttnn_op
from ..device import Device
from ..tensor import Tensor
from ..types import (BufferType, Conv2dConfig, DataType, Layout, MathFidelity, MemoryConfig, Op2DSliceConfig,
                     PaddingMode, TensorMemoryLayout)
from ._common import fail, kernel_config, make_output, out_memory_config, require_tensor, round_to, stored

log = logging.getLogger(__name__)

_CONV_INPUT_DTYPES = (DataType.BFLOAT16, DataType.FLOAT32, DataType.BFLOAT8_B)
_CONV_OUTPUT_DTYPES = (DataType.BFLOAT16, DataType.FLOAT32, DataType.BFLOAT8_B)
_HOST_WEIGHT_DTYPES = (DataType.BFLOAT16, DataType.FLOAT32)
_PREPARED_WEIGHT_DTYPES = (DataType.BFLOAT16, DataType.FLOAT32, DataType.BFLOAT8_B)


# ------------------------------------------------------------------------------------------------
# Sliding-window helpers (shared with pool.py)
# ------------------------------------------------------------------------------------------------

def pair(op: str, what: str, v) -> tuple[int, int]:
    """(h, w) from an int or a 2-sequence."""
    if isinstance(v, bool):
        fail(op, f"{what} must be an int or a pair of ints, got {v!r}")
    if isinstance(v, int):
        return int(v), int(v)
    try:
        vals = [int(x) for x in v]
    except TypeError:
        fail(op, f"{what} must be an int or a pair of ints, got {v!r}")
    if len(vals) != 2:
        fail(op, f"{what} must have 2 values (h, w), got {list(vals)}")
    return vals[0], vals[1]


def pad4(op: str, padding) -> tuple[int, int, int, int]:
    """(top, bottom, left, right) from an int, (pad_h, pad_w) or (top, bottom, left, right)."""
    if isinstance(padding, int) and not isinstance(padding, bool):
        return (int(padding),) * 4
    try:
        vals = [int(x) for x in padding]
    except TypeError:
        fail(op, f"padding must be 2 or 4 ints, got {padding!r}")
    if len(vals) == 2:
        return vals[0], vals[0], vals[1], vals[1]
    if len(vals) == 4:
        return vals[0], vals[1], vals[2], vals[3]
    fail(op, f"padding must be [pad_h, pad_w] or [pad_top, pad_bottom, pad_left, pad_right], got {vals}")


def check_device(op: str, device) -> Device:
    if not isinstance(device, Device):
        fail(op, f"device must be an open ttnn device, got {type(device).__name__}")
    device.check_open(f"ttnn.{op}")
    return device


# Output rows per core of one DRAM slice: DRAM-sliced convs/pools run slice by slice, so their config tensors
# only cover one slice.
DRAM_SLICE_ROWS_PER_CORE = 2048


@contextlib.contextmanager
def sliding_window_config_buffer(device: Device, out_nhw: int, in_dram: bool = False, sliced: bool = False):
    """The halo / reader-index config tensors of a sliding-window op, alive while the op runs.

    They live in L1_SMALL (or DRAM when the op is told to put its config tensors there). Per core: a uint16
    reader index for each of its output rows plus the halo padding/gather configs (64 B). DRAM-sliced ops
    (sliced=True) hold the configs of one slice at a time.
    """
    buffer_type = BufferType.DRAM if in_dram else BufferType.L1_SMALL
    allocator = device.memory[buffer_type]
    cores = device.preset.num_cores
    rows = -(-max(out_nhw, 1) // cores)
    if sliced:
        rows = min(rows, DRAM_SLICE_ROWS_PER_CORE)
    per_core = rows * 2 + 64
    total = per_core * cores
    banks = allocator.num_banks
    alloc = allocator.allocate(total, -(-total // banks))
    try:
        yield
    finally:
        allocator.free(alloc)


# ------------------------------------------------------------------------------------------------
# Matrix-unit numerics
# ------------------------------------------------------------------------------------------------

def fidelity_terms(act: torch.Tensor, wt: torch.Tensor, fidelity: MathFidelity, fp32_acc: bool, ideal: bool,
                   act_bf16: bool = False, wt_bf16: bool = False):
    """[(activation operand, weight operand), ...] whose products sum to what the matrix unit computes.

    Activations are SrcB, weights SrcA; the bit slices come from torch_ttnn.sim.numerics (source-register
    truncation to TF32 / bf16, then hi/lo slices). Passes are grouped: products are linear in each operand and
    accumulate in fp32, so LoFi = B_hi*A_hi, HiFi2 = B_hi*(A_hi+A_lo), HiFi3 = HiFi2 + B_lo*A_hi,
    HiFi4 = (B_hi+B_lo)*(A_hi+A_lo). act_bf16 / wt_bf16: the operand holds bf16 values (numerics.Slices)."""
    if ideal:
        return [(act, wt)]
    sb = numerics.Slices(act, "B", fp32_acc, act_bf16)
    sa = numerics.Slices(wt, "A", fp32_acc, wt_bf16)
    fidelity = MathFidelity(fidelity)
    if fidelity == MathFidelity.LoFi:
        return [(sb["hi"], sa["hi"])]
    if fidelity == MathFidelity.HiFi2:
        return [(sb["hi"], sa["full"])]
    if fidelity == MathFidelity.HiFi3:
        return [(sb["hi"], sa["full"]), (sb["lo"], sa["hi"])]
    return [(sb["full"], sa["full"])]


def conv_nchw(x: torch.Tensor, w: torch.Tensor, stride, pads, dilation, groups, padding_mode, mu) -> torch.Tensor:
    """fp32 NCHW convolution as the matrix unit computes it. pads = (top, bottom, left, right), may be
    negative (crop). mu = (fidelity, fp32_acc, ideal[, x holds bf16 values, w holds bf16 values])."""
    _, fp32_acc, ideal = mu[:3]
    if not (ideal or fp32_acc):
        return _conv_dst16(_padded_nhwc(x, pads, padding_mode), w, stride, dilation, groups, mu)
    pt, pb, pl, pr = pads
    if any(pads):
        if padding_mode == PaddingMode.Replicate:
            x = F.pad(x, (pl, pr, pt, pb), mode="replicate")
        else:
            x = F.pad(x, (pl, pr, pt, pb))
    out = None
    for a, b in fidelity_terms(x, w, *mu):
        r = F.conv2d(a, b, None, stride, 0, dilation, groups)
        out = r if out is None else out + r
    return out


def _padded_nhwc(x: torch.Tensor, pads, padding_mode) -> torch.Tensor:
    """The NCHW input `x` padded (negative pads crop), as a contiguous NHWC tensor: one copy when x is a view
    of NHWC memory, as the simulator's activations are."""
    pt, pb, pl, pr = pads
    if padding_mode == PaddingMode.Replicate or min(pads) < 0:
        if any(pads):
            x = F.pad(x, (pl, pr, pt, pb), mode="replicate" if padding_mode == PaddingMode.Replicate else "constant")
        return x.permute(0, 2, 3, 1).contiguous()
    xh = x.permute(0, 2, 3, 1)
    if not any(pads):
        return xh.contiguous()
    n, h, w, c = xh.shape
    out = xh.new_zeros(n, h + pt + pb, w + pl + pr, c)
    out[:, pt:pt + h, pl:pl + w] = xh
    return out


_CONV_CHUNK = 1 << 23      # activation-matrix elements per matmul call (bounds the bit-slice copies)


def _weight_matrix(w: torch.Tensor, groups: int) -> torch.Tensor:
    cout, cg, kh, kw = w.shape
    return w.reshape(groups, cout // groups, cg, kh, kw).permute(0, 3, 4, 2, 1).reshape(groups, kh * kw * cg,
                                                                                         cout // groups)


def _conv_dst16(xh: torch.Tensor, w: torch.Tensor, stride, dilation, groups: int, mu) -> torch.Tensor:
    """A convolution with a 16-bit Dst, on the padded NHWC input xh: the conv is the matmul of the activation
    windows [N*OH*OW, K] by the weights [K, Cout] (per group), K ordered (kh, kw, cin) as TT-NN lays out conv
    weights, and it accumulates like any matmul: each K=16 step and fidelity pass added into Dst and rounded
    (numerics.fpu_matmul). The native kernel reads the windows in place; the torch path copies them out."""
    fidelity, _, _, x_bf16, w_bf16 = (tuple(mu) + (False, False))[:5]
    n, _, _, c = xh.shape
    cout, cg, kh, kw = w.shape
    g = groups
    ng = cout // g
    k = kh * kw * cg
    sh, sw = stride
    dh, dw = dilation
    oh = (xh.shape[1] - dh * (kh - 1) - 1) // sh + 1
    ow = (xh.shape[2] - dw * (kw - 1) - 1) // sw + 1
    y = numerics.fpu_conv_windows(xh, w, lambda: _weight_matrix(w, g), g, kh, kw, stride, dilation, fidelity,
                                  a_bf16=x_bf16, b_bf16=w_bf16)
    if y is None:
        wm = _weight_matrix(w, g)
        # the windows straight from the NHWC input: [N, OH, OW, kh, kw, C] as a strided view, one copy to [M, K]
        sn, sy, sx, sc = xh.stride()
        win = xh.as_strided((n, oh, ow, kh, kw, c), (sn, sy * sh, sx * sw, sy * dh, sx * dw, sc))
        if g == 1:
            cols = win.reshape(1, n * oh * ow, k)
        else:
            cols = win.reshape(n * oh * ow, kh * kw, g, cg).permute(2, 0, 1, 3).reshape(g, n * oh * ow, k)
        rows = cols.shape[1]
        step = max(1, _CONV_CHUNK // max(1, g * k))
        parts = [numerics.fpu_matmul(cols[:, r:r + step], wm, fidelity, False, False, a_bf16=x_bf16,
                                     b_bf16=w_bf16)
                 for r in range(0, rows, step)]
        y = torch.cat(parts, dim=1) if len(parts) > 1 else parts[0]                     # [G, M, Ng]
    return y.reshape(g, n, oh, ow, ng).permute(1, 0, 4, 2, 3).reshape(n, cout, oh, ow)


def _stored_in_one_pass(y: torch.Tensor, b_vals, act_fn, wide_dst: bool, out_dtype: DataType, out_layout: Layout):
    """The output values as stored (bias, 16-bit Dst rounding, relu, the packer's bfloat16 or bfloat8_b) in one
    pass of the native kernel, for the common case: a 16-bit Dst, no activation or relu (relu6 too into
    bfloat8_b, where the SFPU's truncation into Dst leaves its bf16 values as they are), a bfloat16 output or a
    TILE bfloat8_b one whose rows fill whole tiles; None otherwise (the torch steps then run: same bits)."""
    if wide_dst or act_fn not in (None, F.relu, F.relu6) or y.dtype != torch.float32:
        return None
    bfp8 = out_dtype == DataType.BFLOAT8_B
    if not (out_dtype == DataType.BFLOAT16 or (bfp8 and out_layout == Layout.TILE and y.shape[1] % 32 == 0)):
        return None
    if act_fn is F.relu6 and not bfp8:
        return None
    yh = y.permute(0, 2, 3, 1)
    if not yh.is_contiguous():
        return None
    from .. import _native
    relu = {F.relu: 1, F.relu6: 2}.get(act_fn, 0)
    return _native.conv_epilogue(yh.reshape(-1, y.shape[1]), b_vals, b_vals is not None, relu, bfp8)


def _activation_fn(op: str, activation):
    """torch function of a fused activation (ttnn.UnaryWithParam) and whether it runs on the SFPU."""
    if activation is None:
        return None, False
    name = getattr(getattr(activation, "op_type", activation), "name", str(activation)).upper()
    params = list(getattr(activation, "params", ()) or ())
    table = {
        "RELU": (F.relu, False),
        "RELU6": (F.relu6, True),
        "SILU": (F.silu, True),
        "MISH": (F.mish, True),
        "SIGMOID": (torch.sigmoid, True),
        "HARDSIGMOID": (F.hardsigmoid, True),
        "TANH": (torch.tanh, True),
        "LOG": (torch.log, True),
        "SOFTPLUS": (F.softplus, True),
        "GELU": (F.gelu, True),
        "GELU_TANH": (lambda t: F.gelu(t, approximate="tanh"), True),
        "SQRT": (torch.sqrt, True),
        "LEAKY_RELU": (lambda t: F.leaky_relu(t, params[0] if params else 0.01), True),
        "RELU_MAX": (lambda t: torch.clamp(t, min=0.0, max=params[0] if params else None), True),
        "RELU_MIN": (lambda t: torch.clamp(t, min=params[0] if params else 0.0), True),
    }
    if name not in table:
        fail(op, f"fused activation {name} is not supported by the simulated conv")
    return table[name]


# ------------------------------------------------------------------------------------------------
# Weights and bias preparation
# ------------------------------------------------------------------------------------------------

def _prepared_weight_shape(kh: int, kw: int, cin: int, cout: int, groups: int) -> tuple:
    return (1, 1, kh * kw * (cin // groups), cout)


def _prepare_weight_host(w_oihw: torch.Tensor, dtype: DataType) -> Tensor:
    """OIHW (grouped) fp32 weights -> the simulator's prepared host tensor [1, 1, KH*KW*Cg, O] TILE."""
    o, cg, kh, kw = w_oihw.shape
    mat = w_oihw.permute(2, 3, 1, 0).reshape(1, 1, kh * kw * cg, o).contiguous()
    value = round_to(mat, dtype, None, rounding="host", pad=0.0)
    return Tensor._new(value, dtype, Layout.TILE, pad=0.0)


def _weight_from_prepared(t: Tensor, kh: int, kw: int) -> torch.Tensor:
    """Prepared [1, 1, KH*KW*Cg, O] -> OIHW fp32."""
    k, o = t.shape[-2], t.shape[-1]
    cg = k // (kh * kw)
    return t._value.to(torch.float32).reshape(kh, kw, cg, o).permute(3, 2, 0, 1).contiguous()


_OIHW = TensorMemo()   # prepared device weights -> their OIHW compute layout (a model reuses its weights)


def _cached_weight_from_prepared(t: Tensor, kh: int, kw: int) -> torch.Tensor:
    """`_weight_from_prepared` of a device weight that outlives the call (read-only result)."""
    return _OIHW.get(t._value, (kh, kw), lambda v: _weight_from_prepared(t, kh, kw))


def _to_device_counted(t: Tensor, device: Device) -> Tensor:
    from .core import to_device
    return to_device(t, device)


def _from_device_counted(t: Tensor) -> Tensor:
    from .core import from_device
    return from_device(t)


def _host_weight_values(op: str, arg: str, t: Tensor) -> torch.Tensor:
    if t._device is not None:
        log.warning("ttnn.%s: device %s is not properly prepared, pulling it back to the host to prepare it",
                    op, arg)
        t = _from_device_counted(t)
    if t._dtype not in _HOST_WEIGHT_DTYPES + (DataType.BFLOAT8_B,):
        fail(op, f"{arg} on the host must be BFLOAT16 or FLOAT32, got {t._dtype.name}")
    return t._value.to(torch.float32)


class _Prepared:
    """Weights and bias on the device for one conv call; frees what it created and does not hand back."""

    def __init__(self):
        self.created: list[Tensor] = []

    def keep(self, t: Tensor) -> Tensor:
        self.created.append(t)
        return t

    def release(self, *returned) -> None:
        for t in self.created:
            if not any(t is r for r in returned):
                t.deallocate()
        self.created = []


def _weights_dtype(cfg: Conv2dConfig, weight: Tensor) -> DataType:
    wd = cfg.weights_dtype if cfg.weights_dtype is not None else weight._dtype
    return DataType(wd)


def _get_device_weight(op: str, prep: _Prepared, weight: Tensor, w_oihw_fn, device: Device, groups: int,
                       kh: int, kw: int, cin: int, cout: int, wdtype: DataType, cfg: Conv2dConfig):
    """(device prepared weight, OIHW fp32 grouped weights used for compute)."""
    shape = _prepared_weight_shape(kh, kw, cin, cout, groups)
    if weight._device is not None and weight._device is not device:
        fail(op, f"weight_tensor is on device {weight._device.device_id}, the op runs on device {device.device_id}")
    if (weight._device is not None and weight._layout == Layout.TILE and tuple(weight.shape) == shape
            and (cfg.weights_dtype is None or weight._dtype == cfg.weights_dtype)):
        return weight, _cached_weight_from_prepared(weight, kh, kw)
    if wdtype not in _PREPARED_WEIGHT_DTYPES:
        fail(op, f"weights_dtype {wdtype.name} is not supported; use BFLOAT16, FLOAT32 or BFLOAT8_B")
    w = w_oihw_fn(_host_weight_values(op, "weight_tensor", weight))
    host = _prepare_weight_host(w, wdtype)
    dev = prep.keep(_to_device_counted(host, device))
    return dev, _weight_from_prepared(dev, kh, kw)


def _get_device_bias(op: str, prep: _Prepared, bias: Optional[Tensor], device: Device, cout: int,
                     wdtype: DataType):
    if bias is None:
        return None, None
    require_tensor(op, "bias_tensor", bias)
    if bias._device is not None and bias._device is not device:
        fail(op, f"bias_tensor is on device {bias._device.device_id}, the op runs on device {device.device_id}")
    if bias._device is not None and bias._layout == Layout.TILE and tuple(bias.shape) == (1, 1, 1, cout):
        return bias, bias._value.to(torch.float32).reshape(cout)
    values = _host_weight_values(op, "bias_tensor", bias)
    if values.numel() != cout:
        fail(op, f"bias_tensor must hold out_channels={cout} values ([1, 1, 1, {cout}]), got shape "
                 f"{list(bias.shape)}")
    v = round_to(values.reshape(1, 1, 1, cout), wdtype, None, rounding="host", pad=0.0)
    dev = prep.keep(_to_device_counted(Tensor._new(v, wdtype, Layout.TILE, pad=0.0), device))
    return dev, dev._value.to(torch.float32).reshape(cout)


# ------------------------------------------------------------------------------------------------
# The shared conv driver
# ------------------------------------------------------------------------------------------------

def _input_nhwc(op: str, t: Tensor, n: int, h: int, w: int, c: int) -> torch.Tensor:
    shape = tuple(t.shape)
    if shape not in ((1, 1, n * h * w, c), (n, h, w, c)):
        fail(op, f"input_tensor has shape {list(shape)}, expected [N, H, W, C] = {[n, h, w, c]} or the "
                 f"flattened [1, 1, N*H*W, C] = {[1, 1, n * h * w, c]}")
    return t._value.to(torch.float32).reshape(n, h, w, c)


def _conv_geometry(op, transpose, n, h, w, cin, cout, groups, kernel, stride, dilation, pads):
    """(output height, output width, weight -> OIHW function) of a conv2d (transpose None) or a
    conv_transpose2d (transpose: (output_padding, mirror_kernel)); refuses a weight of the wrong shape and an
    empty output."""
    (kh, kw), (sh, sw), (dh, dw) = kernel, stride, dilation
    if transpose is None:
        oh = out_dim(h, kh, sh, pads[0], pads[1], dh)
        ow = out_dim(w, kw, sw, pads[2], pads[3], dw)
        expect = (cout, cin // groups, kh, kw)

        def to_oihw(v):
            if tuple(v.shape) != expect:
                fail(op, f"weight_tensor has shape {list(v.shape)}, expected OIHW {list(expect)}")
            return v
    else:
        (oph, opw), mirror = transpose
        oh = (h - 1) * sh - pads[0] - pads[1] + dh * (kh - 1) + oph + 1
        ow = (w - 1) * sw - pads[2] - pads[3] + dw * (kw - 1) + opw + 1
        if oph >= max(sh, dh) or opw >= max(sw, dw) or oph < 0 or opw < 0:
            fail(op, f"output_padding {[oph, opw]} must be smaller than stride or dilation")
        expect = (cin, cout // groups, kh, kw)

        def to_oihw(v):
            if tuple(v.shape) != expect:
                fail(op, f"weight_tensor has shape {list(v.shape)}, expected (C_in, C_out/groups, KH, KW) "
                         f"{list(expect)}")
            cg, og = cin // groups, cout // groups
            wc = v.reshape(groups, cg, og, kh, kw).permute(0, 2, 1, 3, 4).reshape(cout, cg, kh, kw)
            return torch.flip(wc, dims=(2, 3)) if mirror else wc
    if oh <= 0 or ow <= 0:
        fail(op, f"the output would be empty ({oh}x{ow}) for input {h}x{w}, kernel {kh}x{kw}")
    return oh, ow, to_oihw


def _conv_values(x, w_oihw, b_vals, cfg, transpose, stride, pads, dilation, kernel, groups, mu, wide_dst: bool,
                 act_fn, act_sfpu: bool, fp32_acc: bool, out_dtype, out_layout):
    """The output values [1, 1, N*OH*OW, C_out] of a convolution of the NHWC input `x`: the matrix-unit products
    (numerics `mu`), the bias added in Dst, the fused activation. Returns (values, rounding the output still
    needs, whether the values are already stored in the output format)."""
    (sh, sw), (dh, dw), (kh, kw) = stride, dilation, kernel
    n, h, w, cin = x.shape
    cout = w_oihw.shape[0]
    xin = x.permute(0, 3, 1, 2)
    if transpose is None:
        y = conv_nchw(xin, w_oihw, (sh, sw), pads, (dh, dw), groups, cfg.padding_mode, mu)
    else:
        up = xin.new_zeros(n, cin, (h - 1) * sh + 1, (w - 1) * sw + 1)
        up[:, :, ::sh, ::sw] = xin
        eh, ew = dh * (kh - 1), dw * (kw - 1)
        tpads = (eh - pads[0], eh - pads[1] + transpose[0][0], ew - pads[2], ew - pads[3] + transpose[0][1])
        y = conv_nchw(up, w_oihw, (1, 1), tpads, (dh, dw), groups, PaddingMode.Zeros, mu)
    rows = n * y.shape[2] * y.shape[3]
    stored = _stored_in_one_pass(y, b_vals, act_fn, wide_dst, out_dtype, out_layout)
    if stored is not None:
        return stored.reshape(1, 1, rows, cout), "packer", True
    rounding = "packer"
    if b_vals is not None:             # an FPU add into Dst (rounded when Dst is 16-bit)
        y = y + b_vals.reshape(1, cout, 1, 1)
        if not wide_dst:
            numerics.round_dst_(y)     # in place: y is this op's own temporary
    if act_fn is not None:
        y = act_fn(y)
        if act_sfpu and not fp32_acc:
            rounding = "sfpu"
    return y.permute(0, 2, 3, 1).reshape(1, 1, rows, cout).contiguous(), rounding, False


def _run_conv(op: str, *, input_tensor, weight_tensor, device, in_channels, out_channels, batch_size,
              input_height, input_width, kernel_size, stride, padding, dilation, groups, dtype, bias_tensor,
              conv_config, compute_config, memory_config, slice_config, transpose=None):
    """Returns (output, out_h, out_w, device weight, device bias, prepared-tensors holder).

    transpose: None for conv2d, else (output_padding (h, w), mirror_kernel) for conv_transpose2d.
    """
    device = check_device(op, device)
    require_tensor(op, "input_tensor", input_tensor)
    require_tensor(op, "weight_tensor", weight_tensor)
    cfg = conv_config if conv_config is not None else Conv2dConfig()
    if input_tensor._device is not None and input_tensor._device is not device:
        fail(op, f"input_tensor is on device {input_tensor._device.device_id}, but device is {device.device_id}")
    if input_tensor._dtype not in _CONV_INPUT_DTYPES:
        fail(op, f"input_tensor has dtype {input_tensor._dtype.name}, supported: BFLOAT16, FLOAT32, BFLOAT8_B")
    kh, kw = pair(op, "kernel_size", kernel_size)
    sh, sw = pair(op, "stride", stride)
    dh, dw = pair(op, "dilation", dilation)
    pads = pad4(op, padding)
    n, h, w, cin, cout, groups = (int(batch_size), int(input_height), int(input_width), int(in_channels),
                                  int(out_channels), int(groups))
    if min(n, h, w, cin, cout, kh, kw, sh, sw, dh, dw, groups) <= 0 or min(pads) < 0:
        fail(op, "sizes, kernel, stride and dilation must be positive and padding non-negative")
    if cin % groups or cout % groups:
        fail(op, f"in_channels={cin} and out_channels={cout} must be divisible by groups={groups}")
    out_dtype = DataType(dtype) if dtype is not None else input_tensor._dtype
    if out_dtype not in _CONV_OUTPUT_DTYPES:
        fail(op, f"output dtype {out_dtype.name} is not supported; use BFLOAT16, FLOAT32 or BFLOAT8_B")
    out_layout = Layout(cfg.output_layout)
    if out_layout == Layout.ROW_MAJOR and out_dtype == DataType.BFLOAT8_B:
        fail(op, "Conv output can't be in Row Major if output dtype is BFloat8_B.")
    wdtype = _weights_dtype(cfg, weight_tensor)
    x = _input_nhwc(op, input_tensor, n, h, w, cin)

    oh, ow, to_oihw = _conv_geometry(op, transpose, n, h, w, cin, cout, groups, (kh, kw), (sh, sw), (dh, dw), pads)

    fidelity, fp32_acc, _ = kernel_config(compute_config, input_tensor._dtype, wdtype,
                                          fidelity_default=MathFidelity.HiFi4,
                                          fp32_acc_default=(input_tensor._dtype == DataType.FLOAT32
                                                            and wdtype == DataType.FLOAT32))
    mm_conv = (transpose is None and kh == kw == 1 and sh == sw == 1 and not any(pads) and dh == dw == 1
               and groups == 1)
    input_was_host = input_tensor._device is None
    dram_path = ((input_was_host or input_tensor._memory_config is None
                  or (input_tensor._memory_config.buffer_type == BufferType.DRAM
                      and not input_tensor._memory_config.is_sharded()))
                 and (slice_config is None or Op2DSliceConfig.SliceTypeEnum(slice_config.slice_type)
                      != Op2DSliceConfig.SliceTypeEnum.L1Full)
                 and not mm_conv)

    prep = _Prepared()
    try:
        if input_was_host:
            dev_input = prep.keep(_to_device_counted(input_tensor, device))
        else:
            dev_input = input_tensor
        w_dev, w_oihw = _get_device_weight(op, prep, weight_tensor, to_oihw, device, groups, kh, kw, cin, cout,
                                           wdtype, cfg)
        b_dev, b_vals = _get_device_bias(op, prep, bias_tensor, device, cout, w_dev._dtype)
        bf16_values = (DataType.BFLOAT16, DataType.BFLOAT8_B, DataType.BFLOAT4_B)
        mu = (fidelity, fp32_acc, device.ideal, input_tensor._dtype in bf16_values, w_dev._dtype in bf16_values)
        act_fn, act_sfpu = _activation_fn(op, cfg.activation)
        config_scope = (contextlib.nullcontext() if mm_conv else
                        sliding_window_config_buffer(device, n * oh * ow, bool(cfg.config_tensors_in_dram),
                                                     sliced=dram_path))
        with config_scope:
            value, rounding, rounded = _conv_values(x, w_oihw, b_vals, cfg, transpose, (sh, sw), pads, (dh, dw),
                                                    (kh, kw), groups, mu, fp32_acc or device.ideal, act_fn, act_sfpu,
                                                    fp32_acc, out_dtype, out_layout)
            if dram_path:
                mc = MemoryConfig(TensorMemoryLayout.INTERLEAVED, BufferType.DRAM)
                if memory_config is not None and memory_config != mc:
                    log.warning("ttnn.%s: the DRAM path ignores memory_config; the output is DRAM interleaved", op)
            elif memory_config is None and out_layout == Layout.TILE:
                # TT-NN returns the output in the convolution's own shards (a row-major output's shards, whose
                # rows TT-NN pads to the cores, are not modelled: it comes back interleaved)
                mc = _own_shards(device, cfg, cin, cout, n * oh * ow, (kh, kw), (sh, sw), pads, (dh, dw), groups,
                                 transpose is not None, w)
            else:
                mc = out_memory_config(memory_config, dev_input)
            out = make_output(op, device, value, out_dtype, out_layout, mc, rounding=rounding, rounded=rounded)
        if (trace.REPLAYING and not input_was_host and w_dev is weight_tensor and b_dev is bias_tensor
                and not cfg.deallocate_activation):
            geometry = (cin, cout, n, h, w, cfg, transpose, (sh, sw), pads, (dh, dw), (kh, kw), groups)
            trace.offer_kernel(op, (input_tensor, weight_tensor, bias_tensor), device,
                               _replay_kernel(geometry, mu, fp32_acc, act_fn, act_sfpu, out_dtype, out_layout, device))
        if (cfg.deallocate_activation and not input_was_host and input_tensor._memory_config is not None
                and input_tensor._memory_config.buffer_type != BufferType.DRAM):
            input_tensor.deallocate()
    except BaseException:
        prep.release()
        raise
    return out, oh, ow, w_dev, b_dev, prep


def _replay_kernel(geometry: tuple, mu, fp32_acc: bool, act_fn, act_sfpu: bool, out_dtype: DataType,
                   out_layout: Layout, device: Device):
    """What a trace replay runs of a convolution of a device input with prepared device weights, on (input,
    weight, bias) (trace.offer_kernel): the products, bias, activation and the output's rounding."""
    cin, cout, n, h, w, cfg, transpose, stride, pads, dilation, (kh, kw), groups = geometry
    ideal = device.ideal

    def kernel(x, weight, bias):
        b_vals = None if bias is None else bias._value.to(torch.float32).reshape(cout)
        value, rounding, rounded = _conv_values(
            x._value.to(torch.float32).reshape(n, h, w, cin), _cached_weight_from_prepared(weight, kh, kw), b_vals,
            cfg, transpose, stride, pads, dilation, (kh, kw), groups, mu, fp32_acc or ideal, act_fn, act_sfpu,
            fp32_acc, out_dtype, out_layout)
        return stored(value, out_dtype, out_layout, device, rounding=rounding, rounded=rounded)
    return kernel


def _own_shards(device, cfg, cin, cout, out_pixels, kernel, stride, pads, dilation, groups, transposed, in_w):
    """The sharded L1 memory config of a convolution's output as TT-NN runs it (its layout and core split,
    torch_ttnn/conv_rules.py): what conv2d returns when no memory_config is given."""
    from . import conv_parallel
    from .. import types
    grid = device.compute_with_storage_grid_size()
    pl = conv_parallel.plan(in_channels=cin, out_channels=cout, out_pixels=out_pixels, kernel=kernel,
                            stride=stride, padding=list(pads), dilation=dilation, groups=groups,
                            grid=(grid.x, grid.y), shard_layout=getattr(cfg, "shard_layout", None),
                            col_major=bool(getattr(cfg, "transpose_shards", False)), transposed=transposed,
                            in_width=in_w)
    return pl.memory_config(types, out_pixels, cout, output=True)


def _result(out, dims, w_dev, b_dev, prep, return_output_dim, return_weights_and_bias):
    if return_weights_and_bias:
        prep.release(w_dev, b_dev)
    else:
        prep.release()
    if return_output_dim and return_weights_and_bias:
        return out, dims, (w_dev, b_dev)
    if return_output_dim:
        return out, dims
    if return_weights_and_bias:
        return out, (w_dev, b_dev)
    return out


# ------------------------------------------------------------------------------------------------
# Golden functions (torch references with the real golden calling conventions)
# ------------------------------------------------------------------------------------------------

def _golden_pads(padding):
    if isinstance(padding, int):
        return (padding,) * 4
    p = list(padding)
    return (p[0], p[0], p[1], p[1]) if len(p) == 2 else tuple(p)


def _conv2d_golden(input_tensor, weight_tensor, in_channels, out_channels, batch_size, input_height, input_width,
                   kernel_size, stride=(1, 1), padding=(0, 0), dilation=(1, 1), groups=1, bias_tensor=None,
                   conv_config=None, return_output_dim=False, return_weights_and_bias=False, dtype=None, **_):
    x = input_tensor.reshape(batch_size, input_height, input_width, -1)[..., :in_channels]
    x = x.permute(0, 3, 1, 2).float()
    pt, pb, pl, pr = _golden_pads(padding)
    x = F.pad(x, (pl, pr, pt, pb))
    b = None if bias_tensor is None else bias_tensor.reshape(-1).float()
    y = F.conv2d(x, weight_tensor.float(), b, stride, 0, dilation, groups)
    act = getattr(conv_config, "activation", None) if conv_config is not None else None
    if act is not None:
        y = _activation_fn("conv2d", act)[0](y)
    n, c, oh, ow = y.shape
    y = y.permute(0, 2, 3, 1).reshape(1, 1, n * oh * ow, c)
    if return_output_dim or return_weights_and_bias:
        return [y]
    return y


# ------------------------------------------------------------------------------------------------
# Ops
# ------------------------------------------------------------------------------------------------

@ttnn_op("conv2d", golden=_conv2d_golden)
def conv2d(*, input_tensor, weight_tensor, device, in_channels, out_channels, batch_size, input_height,
           input_width, kernel_size, stride=(1, 1), padding=(0, 0), dilation=(1, 1), groups=1, dtype=None,
           bias_tensor=None, conv_config=None, compute_config=None, memory_config=None, slice_config=None,
           return_output_dim=False, return_weights_and_bias=False):
    """2D convolution of NHWC activations ([N, H, W, C] or [1, 1, N*H*W, C]) with OIHW weights.

    Output [1, 1, N*OH*OW, out_channels] (TILE unless conv_config.output_layout says otherwise)."""
    out, oh, ow, w_dev, b_dev, prep = _run_conv(
        "conv2d", input_tensor=input_tensor, weight_tensor=weight_tensor, device=device, in_channels=in_channels,
        out_channels=out_channels, batch_size=batch_size, input_height=input_height, input_width=input_width,
        kernel_size=kernel_size, stride=stride, padding=padding, dilation=dilation, groups=groups, dtype=dtype,
        bias_tensor=bias_tensor, conv_config=conv_config, compute_config=compute_config,
        memory_config=memory_config, slice_config=slice_config)
    return _result(out, (oh, ow), w_dev, b_dev, prep, return_output_dim, return_weights_and_bias)


def _conv1d_golden(input_tensor, weight_tensor, in_channels, out_channels, batch_size, input_length, kernel_size,
                   stride=1, padding=0, dilation=1, groups=1, bias_tensor=None, **_):
    x = input_tensor.reshape(batch_size, input_length, -1)[..., :in_channels].permute(0, 2, 1).float()
    pl, pr = (padding, padding) if isinstance(padding, int) else tuple(padding)
    x = F.pad(x, (pl, pr))
    w = weight_tensor.float().reshape(out_channels, in_channels // groups, kernel_size)
    b = None if bias_tensor is None else bias_tensor.reshape(-1).float()
    y = F.conv1d(x, w, b, stride, 0, dilation, groups)
    n, c, ol = y.shape
    return y.permute(0, 2, 1).reshape(1, 1, n * ol, c)


@ttnn_op("conv1d", golden=_conv1d_golden)
def conv1d(*, input_tensor, weight_tensor, device, in_channels, out_channels, batch_size, input_length,
           kernel_size, stride=1, padding=0, dilation=1, groups=1, dtype=None, bias_tensor=None, conv_config=None,
           compute_config=None, memory_config=None, slice_config=None, return_output_dim=False,
           return_weights_and_bias=False):
    """1D convolution, run as a 2D convolution of height input_length and width 1 (as real ttnn does).

    Input [N, L, C], [N, L, 1, C] or [1, 1, N*L, C]; weights [O, I/groups, K] or [O, I/groups, K, 1];
    output [1, 1, N*OL, out_channels]; return_output_dim gives the output length (an int)."""
    op = "conv1d"
    require_tensor(op, "input_tensor", input_tensor)
    require_tensor(op, "weight_tensor", weight_tensor)
    k, s, d = (int(v) if isinstance(v, int) else int(list(v)[0]) for v in (kernel_size, stride, dilation))
    if isinstance(padding, int):
        pl = pr = int(padding)
    else:
        p = [int(v) for v in padding]
        if len(p) != 2:
            fail(op, f"padding must be an int or [pad_left, pad_right], got {p}")
        pl, pr = p
    if slice_config is not None and Op2DSliceConfig.SliceTypeEnum(slice_config.slice_type) == \
            Op2DSliceConfig.SliceTypeEnum.DRAMSliceHeight:
        fail(op, "DRAM_HEIGHT slicing is not supported because the conv1d height is always 1")
    weight = weight_tensor
    if len(weight.shape) == 3:
        weight = Tensor._new(weight._value.unsqueeze(-1), weight._dtype, weight._layout, weight._device,
                             weight._memory_config, weight._alloc, weight._pad)
    x = input_tensor
    if len(x.shape) == 3:
        x = Tensor._new(x._value.unsqueeze(2), x._dtype, x._layout, x._device, x._memory_config, x._alloc, x._pad)
    out, oh, ow, w_dev, b_dev, prep = _run_conv(
        op, input_tensor=x, weight_tensor=weight, device=device, in_channels=in_channels,
        out_channels=out_channels, batch_size=batch_size, input_height=input_length, input_width=1,
        kernel_size=(k, 1), stride=(s, 1), padding=(pl, pr, 0, 0), dilation=(d, 1), groups=groups, dtype=dtype,
        bias_tensor=bias_tensor, conv_config=conv_config, compute_config=compute_config,
        memory_config=memory_config, slice_config=slice_config)
    return _result(out, oh, w_dev, b_dev, prep, return_output_dim, return_weights_and_bias)


@ttnn_op("conv_transpose2d")
def conv_transpose2d(*, input_tensor, weight_tensor, device, in_channels, out_channels, batch_size, input_height,
                     input_width, kernel_size, stride=(1, 1), padding=(0, 0), output_padding=(0, 0),
                     dilation=(1, 1), groups=1, dtype=None, bias_tensor=None, conv_config=None, compute_config=None,
                     memory_config=None, dram_slice_config=None, mirror_kernel=True, return_output_dim=False,
                     return_weights_and_bias=False):
    """Transposed 2D convolution of NHWC activations with (C_in, C_out/groups, KH, KW) weights.

    Runs as a convolution over the stride-dilated input with the mirrored kernel (mirror_kernel=True: the op
    mirrors the torch-layout kernel itself; False: the kernel is taken as already mirrored).
    H_out = (H_in - 1) * stride - pad_top - pad_bottom + dilation * (kernel - 1) + output_padding + 1."""
    op = "conv_transpose2d"
    oph, opw = pair(op, "output_padding", output_padding)
    out, oh, ow, w_dev, b_dev, prep = _run_conv(
        op, input_tensor=input_tensor, weight_tensor=weight_tensor, device=device, in_channels=in_channels,
        out_channels=out_channels, batch_size=batch_size, input_height=input_height, input_width=input_width,
        kernel_size=kernel_size, stride=stride, padding=padding, dilation=dilation, groups=groups, dtype=dtype,
        bias_tensor=bias_tensor, conv_config=conv_config, compute_config=compute_config,
        memory_config=memory_config, slice_config=dram_slice_config, transpose=((oph, opw), bool(mirror_kernel)))
    return _result(out, (oh, ow), w_dev, b_dev, prep, return_output_dim, return_weights_and_bias)


# ------------------------------------------------------------------------------------------------
# Preparation functions (real signatures: (*args, **kwargs) Python wrappers; the binding is keyword-only).
# ------------------------------------------------------------------------------------------------

_PREP_WEIGHT_KEYS = ("weight_tensor", "input_memory_config", "input_layout", "weights_format", "in_channels",
                     "out_channels", "batch_size", "input_height", "input_width", "kernel_size", "stride",
                     "padding", "dilation", "has_bias", "groups", "device", "input_dtype")
_PREP_BIAS_KEYS = ("bias_tensor", "input_memory_config", "input_layout", "in_channels", "out_channels",
                   "batch_size", "input_height", "input_width", "kernel_size", "stride", "padding", "dilation",
                   "groups", "device", "input_dtype")
_PREP_OPTIONAL = ("output_dtype", "conv_config", "compute_config", "slice_config", "dram_slice_config",
                  "output_padding", "mirror_kernel")


def _prep_args(name: str, args, kwargs, required) -> dict:
    if args:
        raise TypeError(f"{name}(): incompatible function arguments; all arguments are keyword-only")
    missing = [k for k in required if k not in kwargs]
    unknown = [k for k in kwargs if k not in required and k not in _PREP_OPTIONAL]
    if missing or unknown:
        raise TypeError(f"{name}(): incompatible function arguments (missing {missing}, unknown {unknown})")
    return kwargs


def _prepare_weights_common(name: str, kw: dict, transposed: bool) -> Tensor:
    op = name
    device = check_device(op, kw["device"])
    weight = require_tensor(op, "weight_tensor", kw["weight_tensor"])
    expected_format = "IOHW" if transposed else "OIHW"
    if kw["weights_format"] != expected_format:
        log.warning("ttnn.%s: weights_format %r; only %s is supported", op, kw["weights_format"], expected_format)
    cfg = kw.get("conv_config") or Conv2dConfig()
    wdtype = _weights_dtype(cfg, weight)
    if wdtype not in _PREPARED_WEIGHT_DTYPES:
        fail(op, f"weights_dtype {wdtype.name} is not supported; use BFLOAT16, FLOAT32 or BFLOAT8_B")
    kh, kwid = pair(op, "kernel_size", kw["kernel_size"])
    cin, cout, groups = int(kw["in_channels"]), int(kw["out_channels"]), int(kw["groups"])
    v = _host_weight_values(op, "weight_tensor", weight)
    if transposed:
        expect = (cin, cout // groups, kh, kwid)
        if tuple(v.shape) != expect:
            fail(op, f"weight_tensor has shape {list(v.shape)}, expected {list(expect)}")
        cg, og = cin // groups, cout // groups
        v = v.reshape(groups, cg, og, kh, kwid).permute(0, 2, 1, 3, 4).reshape(cout, cg, kh, kwid)
        if kw.get("mirror_kernel", True):
            v = torch.flip(v, dims=(2, 3))
    else:
        expect = (cout, cin // groups, kh, kwid)
        if tuple(v.shape) != expect:
            fail(op, f"weight_tensor has shape {list(v.shape)}, expected OIHW {list(expect)}")
    return _to_device_counted(_prepare_weight_host(v, wdtype), device)


def _prepare_bias_common(name: str, kw: dict) -> Tensor:
    op = name
    device = check_device(op, kw["device"])
    bias = require_tensor(op, "bias_tensor", kw["bias_tensor"])
    cfg = kw.get("conv_config") or Conv2dConfig()
    wdtype = DataType(cfg.weights_dtype) if cfg.weights_dtype is not None else bias._dtype
    cout = int(kw["out_channels"])
    values = _host_weight_values(op, "bias_tensor", bias)
    if values.numel() != cout:
        fail(op, f"bias_tensor must hold out_channels={cout} values, got shape {list(bias.shape)}")
    v = round_to(values.reshape(1, 1, 1, cout), wdtype, None, rounding="host", pad=0.0)
    return _to_device_counted(Tensor._new(v, wdtype, Layout.TILE, pad=0.0), device)


@ttnn_op("prepare_conv_weights", counted=False)
def prepare_conv_weights(*args, **kwargs):
    """Prepare OIHW conv2d weights once for reuse (keyword-only). Returns the prepared weights on the device."""
    kw = _prep_args("prepare_conv_weights", args, kwargs, _PREP_WEIGHT_KEYS)
    return _prepare_weights_common("prepare_conv_weights", kw, transposed=False)


@ttnn_op("prepare_conv_bias", counted=False)
def prepare_conv_bias(*args, **kwargs):
    """Prepare a conv2d bias once for reuse (keyword-only). Returns the prepared bias on the device."""
    kw = _prep_args("prepare_conv_bias", args, kwargs, _PREP_BIAS_KEYS)
    return _prepare_bias_common("prepare_conv_bias", kw)


@ttnn_op("prepare_conv_transpose2d_weights", counted=False)
def prepare_conv_transpose2d_weights(*args, **kwargs):
    """Prepare IOHW conv_transpose2d weights once for reuse (keyword-only)."""
    kw = _prep_args("prepare_conv_transpose2d_weights", args, kwargs, _PREP_WEIGHT_KEYS)
    return _prepare_weights_common("prepare_conv_transpose2d_weights", kw, transposed=True)


@ttnn_op("prepare_conv_transpose2d_bias", counted=False)
def prepare_conv_transpose2d_bias(*args, **kwargs):
    """Prepare a conv_transpose2d bias once for reuse (keyword-only)."""
    kw = _prep_args("prepare_conv_transpose2d_bias", args, kwargs, _PREP_BIAS_KEYS)
    return _prepare_bias_common("prepare_conv_transpose2d_bias", kw)


@ttnn_op("get_conv_output_dim", counted=False)
def get_conv_output_dim(input, window, stride=1, pad=0, dilation=1):
    """Output size of a convolution along one dimension."""
    return (input + (2 * pad) - dilation * (window - 1) - 1) // stride + 1
