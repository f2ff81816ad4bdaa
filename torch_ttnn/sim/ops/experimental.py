"""ttnn.experimental ops of the simulated device: dropout, fft, ifft.

dropout keeps each element with probability 1 - probability and scales the kept ones: out = x * mask * scale.
The mask is drawn from a ``torch.Generator`` seeded with ``seed``, so it is deterministic for a given seed (the
hardware's RNG stream is not reproduced). The multiply runs on the SFPU: the product is computed in fp32 and
truncated into the 16-bit Dst.

fft / ifft transform the last dim of a FLOAT32 or BFLOAT16 ROW_MAJOR tensor and return (real, imag) of the
same shape and dtype; ifft scales by 1/N (ttnn 0.81.1 docstrings). The default "precise" path runs on the SFPU
in true fp32 ("matches torch.fft precision"): the spectrum is computed in float64, rounded to fp32, then stored
in the output dtype (a BFLOAT16 output: the SFPU truncation into a 16-bit Dst). "fast" (FLOAT32 input and a
length that is not a power of two) is a DFT as a matmul on bf16 mantissas: the input and the DFT matrix are
rounded to bfloat16, the products accumulated in fp32 (~1e-3 round trip, as documented).
"""
from __future__ import annotations

import math

import torch

from .._op import ttnn_op
from ..types import DataType, Layout
from ._common import fail, make_output, on_device, out_memory_config, require_dtype, require_layout, require_rank


def dropout_mask(shape, probability: float, seed: int) -> torch.Tensor:
    """The keep mask (float32 0/1) the simulated dropout uses for `seed`."""
    g = torch.Generator()
    g.manual_seed(int(seed) & 0xFFFFFFFFFFFFFFFF)
    return (torch.rand(tuple(shape), generator=g, dtype=torch.float32) >= float(probability)).to(torch.float32)


@ttnn_op("experimental.dropout")
def dropout(input_tensor, probability, scale, seed, *, use_per_device_seed=True, memory_config=None,
            output_tensor=None):
    """Zero each element with `probability`, scale the others by `scale` (bfloat16 TILE, rank 2..4)."""
    op = "experimental.dropout"
    device = on_device(op, input_tensor=input_tensor, output_tensor=output_tensor)
    require_layout(op, "input_tensor", input_tensor, Layout.TILE)
    require_dtype(op, "input_tensor", input_tensor, (DataType.BFLOAT16,))
    require_rank(op, "input_tensor", input_tensor, 2, 4)
    p = float(probability)
    if not 0.0 <= p <= 1.0:
        fail(op, f"probability must be in [0, 1], got {probability}")
    keep = dropout_mask(input_tensor.shape, p, seed)
    y = input_tensor._value.to(torch.float32) * keep * float(scale)
    pad = 0.0 if input_tensor._pad == 0.0 else None  # dropped or scaled padding: only zeros stay known
    mc = out_memory_config(memory_config, input_tensor)
    out = make_output(op, device, y, DataType.BFLOAT16, Layout.TILE, mc, rounding="sfpu", pad=pad)
    if output_tensor is None:
        return out
    if tuple(output_tensor.shape) != tuple(out.shape) or output_tensor._dtype != out._dtype or \
            output_tensor._layout != Layout.TILE:
        fail(op, f"output_tensor must be a bfloat16 TILE tensor of shape {list(out.shape)}")
    output_tensor._value, output_tensor._pad = out._value, out._pad
    device.memory[out._alloc.buffer_type].free(out._alloc)
    return output_tensor


_FFT_DTYPES = (DataType.FLOAT32, DataType.BFLOAT16)


def _fft_values(op, re, im, precision, inverse):
    if precision not in ("precise", "fast"):
        fail(op, f"precision must be 'precise' or 'fast', got {precision!r}")
    n = re.shape[-1] if len(re.shape) else 0
    if n == 0:
        fail(op, "the transformed (last) dim is empty")
    x = torch.complex(re._value.to(torch.float64),
                      im._value.to(torch.float64) if im is not None else torch.zeros(re._value.shape,
                                                                                      dtype=torch.float64))
    fast = precision == "fast" and re._dtype == DataType.FLOAT32 and n & (n - 1) != 0
    if fast:       # a DFT as a matmul of bf16 mantissas, accumulated in fp32
        k = torch.arange(n, dtype=torch.float64)
        ang = (2 if inverse else -2) * math.pi * torch.outer(k, k) / n
        b16 = lambda t: t.to(torch.float32).to(torch.bfloat16).to(torch.float32)     # noqa: E731
        c, s = b16(torch.cos(ang)), b16(torch.sin(ang))
        xr, xi = b16(x.real), b16(x.imag)
        yr, yi = xr @ c - xi @ s, xr @ s + xi @ c
        if inverse:
            yr, yi = yr / n, yi / n
        return yr.to(torch.float32), yi.to(torch.float32)
    y = torch.fft.ifft(x, dim=-1) if inverse else torch.fft.fft(x, dim=-1)
    return y.real.to(torch.float32), y.imag.to(torch.float32)


def _fft_outputs(op, device, like, yr, yi):
    mc = out_memory_config(None, like)
    return (make_output(op, device, yr, like._dtype, Layout.ROW_MAJOR, mc, rounding="sfpu"),
            make_output(op, device, yi, like._dtype, Layout.ROW_MAJOR, mc, rounding="sfpu"))


def _golden(spectrum) -> tuple:
    return spectrum.real, spectrum.imag


@ttnn_op("experimental.fft", golden=lambda input_real, *a, **k: _golden(torch.fft.fft(input_real)))
def fft(input_real, precision="precise"):
    """1-D FFT of the last dim of a real FLOAT32/BFLOAT16 ROW_MAJOR tensor: (real, imag)."""
    op = "experimental.fft"
    device = on_device(op, input_real=input_real)
    require_layout(op, "input_real", input_real, Layout.ROW_MAJOR)
    require_dtype(op, "input_real", input_real, _FFT_DTYPES)
    yr, yi = _fft_values(op, input_real, None, precision, inverse=False)
    return _fft_outputs(op, device, input_real, yr, yi)


@ttnn_op("experimental.ifft", golden=lambda spectrum_real, spectrum_imag, *a, **k: _golden(
    torch.fft.ifft(torch.complex(spectrum_real, spectrum_imag))))
def ifft(spectrum_real, spectrum_imag, precision="precise"):
    """1-D inverse FFT (scaled by 1/N) of the last dim of (real, imag) FLOAT32/BFLOAT16 ROW_MAJOR tensors."""
    op = "experimental.ifft"
    device = on_device(op, spectrum_real=spectrum_real, spectrum_imag=spectrum_imag)
    for name, t in (("spectrum_real", spectrum_real), ("spectrum_imag", spectrum_imag)):
        require_layout(op, name, t, Layout.ROW_MAJOR)
        require_dtype(op, name, t, _FFT_DTYPES)
    if tuple(spectrum_real.shape) != tuple(spectrum_imag.shape) or spectrum_real._dtype != spectrum_imag._dtype:
        fail(op, f"spectrum_imag must have the shape and dtype of spectrum_real: {list(spectrum_imag.shape)} "
                 f"{spectrum_imag._dtype.name} vs {list(spectrum_real.shape)} {spectrum_real._dtype.name}")
    yr, yi = _fft_values(op, spectrum_real, spectrum_imag, precision, inverse=True)
    return _fft_outputs(op, device, spectrum_real, yr, yi)
