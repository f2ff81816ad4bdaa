"""ttnn.experimental ops of the simulated device: dropout.

dropout keeps each element with probability 1 - probability and scales the kept ones: out = x * mask * scale.
The mask is drawn from a ``torch.Generator`` seeded with ``seed``, so it is deterministic for a given seed (the
hardware's RNG stream is not reproduced). The multiply runs on the SFPU: the product is computed in fp32 and
truncated into the 16-bit Dst.
"""
from __future__ import annotations

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
