"""Cost of an op from shapes alone, without running it: `estimate("matmul", a, b, outputs=[c])`.

The arguments are TensorDesc records (`tensor(shape, dtype, ...)`) where the op takes tensors, and the op's
other parameters as keywords; the same cost rule as a real launch applies. Used by the calibration points and
by passes that compare alternatives before choosing one.
"""
from __future__ import annotations

from typing import Optional

from ..arch import resolve
from ..types import DataType, Layout
from .._registry import OPS
from ..tensor import buffer_layout
from .cost import NO_PROGRAM, RULES, Call, OpCost, TensorDesc, cb_need
from .profiler import collect
from .rates import rates_for


def tensor(shape, dtype: DataType = DataType.BFLOAT16, layout: Layout = Layout.TILE, buffer: str = "DRAM",
           shard_cores: int = 0) -> TensorDesc:
    """A tensor descriptor; shard_cores > 0 makes it sharded over that many cores (buffer L1)."""
    if buffer not in ("DRAM", "L1", "HOST"):
        raise ValueError(f"buffer must be 'DRAM', 'L1' or 'HOST', got {buffer!r}")
    if shard_cores and buffer != "L1":
        raise ValueError("a sharded tensor lives in L1 (buffer='L1')")
    shape = tuple(int(d) for d in shape)
    pages, page = buffer_layout(shape, DataType(dtype), Layout(layout))
    return TensorDesc(shape, DataType(dtype), Layout(layout), buffer, bool(shard_cores), int(shard_cores),
                      pages * page)


def _call(op: str, args, outputs: list, preset: Optional[str], l1_free: Optional[int], kwargs) -> Call:
    if op not in OPS:
        raise KeyError(f"ttnn.{op} is not an op of the simulator")
    if op in NO_PROGRAM:
        raise ValueError(f"ttnn.{op} launches no device program; it has no kernel cost")
    pre, ins = collect(args, kwargs, lambda v: v if isinstance(v, TensorDesc) else None)
    return Call(op, OPS[op].fn, args, kwargs, pre, ins, list(outputs), rates_for(resolve(preset)),
                None if l1_free is None else (lambda: l1_free))


def estimate(op: str, *args, outputs: list, preset: Optional[str] = None, l1_free: Optional[int] = None,
             **kwargs) -> OpCost:
    """The modelled cost of ttnn.`op` on `preset` (default: the default arch) for descriptor arguments, with
    `l1_free` bytes of L1 a core free for the op's circular buffers (default: all of it)."""
    call = _call(op, args, outputs, preset, l1_free, kwargs)
    return RULES[op](call)


def circular_buffer_bytes(op: str, *args, outputs: list, preset: Optional[str] = None,
                          l1_free: Optional[int] = None, **kwargs) -> int:
    """L1 bytes a core needs for the circular buffers (and the temporary buffers) of a launch of ttnn.`op` on
    these descriptors (perf/circular_buffers.py); 0 where they are not modelled or the op runs no program."""
    if op in NO_PROGRAM:
        return 0
    return cb_need(_call(op, args, outputs, preset, l1_free, kwargs)) or 0
