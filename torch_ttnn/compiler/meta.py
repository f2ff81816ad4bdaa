"""What the compiler knows about a value in a lowered graph.

A node of the lowered graph yields either a torch tensor on the host (placeholders, ops left to torch) or a
TT-NN tensor on the device. `node.meta["tt"]` (a TTMeta) marks the latter with its TT-NN layout and dtype;
`node.meta["val"]` keeps the aten value (a FakeTensor: logical shape and torch dtype) for both.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Optional

import torch
import torch.fx

aten = torch.ops.aten

# --- node.meta keys the passes share ------------------------------------------------------------------------
# Every key a pass or lowering rule writes for another to read is declared here, with what it holds and who
# writes it; code uses the constant (grep it to find the readers). torch.fx's own keys ("val", "stack_trace")
# keep their names.
TT = "tt"                      # TTMeta of a node's TT-NN value (lowering context; passes that insert TT-NN ops)
TT_IN = "tt_in"                # {(kind, index): Req}: what a TT-NN op needs of each operand (lowering, layout)
TT_MULTI = "tt_multi"          # True: the op returns several TT-NN tensors (lowering context)
N_OUTPUTS = "n_outputs"        # how many (lowering context)
ATEN = "aten"                  # the aten target a TT-NN node was lowered from (lowering context)
FALLBACK = "fallback"          # why an aten node stays on the host (lower)
HOST_REASON = "host_reason"    # a reason found before lowering that keeps a node on the host (int_range)
HOST_HELPER = "host_helper"    # a host-side helper of the program (seeds, configs), not a fallback
STATIC = "static"              # a placeholder holding a parameter or buffer: the same tensor every call (lower)
FOLDED = "folded"              # computed once from parameters on the host (constant_folding)
PARAM = "param"                # a device value that persists across calls, never deallocated per call
FROM_HOST = "from_host"        # an upload inserted by data movement
DM_INSERTED = "dm_inserted"    # a conversion inserted by data movement
LAYOUT_PASS = "layout_pass"    # a node inserted by the channels-last layout pass
DEALLOC = "dealloc"            # a ttnn.deallocate inserted by the deallocate pass
STATE_STORE = "state_store"    # the read back of a device-resident state input (device_state)
DEVICE_STATE = "device_state"  # on a placeholder: the output index that updates it in place (device_state)
INT_GUARD = "int_guard"        # (limit, what): the host range check of an integer input (int_range)
SAVED_ON_DEVICE = "saved_on_device"  # a forward output kept on the device for the backward (runtime.keep_on_device)
FLOAT32 = "float32"            # an aten node computed in float32 on the device whatever the graph's default:
#                                buffer state (passes/state.py), the loss head of training graphs (passes/training.py)
INPUT_NAMES = "torch_ttnn_input_names"   # GraphModule.meta: names of the lifted parameters (backend)
META_KEYS = (TT, TT_IN, TT_MULTI, N_OUTPUTS, ATEN, FALLBACK, HOST_REASON, HOST_HELPER, STATIC, FOLDED, PARAM,
             FROM_HOST, DM_INSERTED, LAYOUT_PASS, DEALLOC, STATE_STORE, DEVICE_STATE, INT_GUARD, FLOAT32,
             INPUT_NAMES, SAVED_ON_DEVICE)


@dataclass(frozen=True)
class TTMeta:
    layout: Any          # ttnn.Layout of the runtime in use
    dtype: Any           # ttnn.DataType of the runtime in use
    aliases: Optional[torch.fx.Node] = None   # the node whose buffer this one may share (views)
    on_device: bool = True


@dataclass(frozen=True)
class Req:
    """What a TT-NN op needs of a tensor operand: in `layout`, with `dtype`, on the device (or, for
    operands such as conv weights that TT-NN prepares itself, a ttnn tensor on the host)."""
    layout: Any
    dtype: Any
    on_device: bool = True


def tt_meta(node) -> Optional[TTMeta]:
    return node.meta.get(TT) if isinstance(node, torch.fx.Node) else None


def is_tt(node) -> bool:
    return tt_meta(node) is not None


def val(node):
    """The aten value (FakeTensor, SymInt, tuple...) a node stands for."""
    return node.meta.get("val") if isinstance(node, torch.fx.Node) else node


def node_val(node):
    """The aten value of a node; None for anything that is not a node (a constant argument)."""
    return node.meta.get("val") if isinstance(node, torch.fx.Node) else None


def node_shape(node, static: bool = False) -> Optional[tuple]:
    """The shape of a node's tensor value, None when it has none (or, with `static`, when a dim is symbolic)."""
    v = node_val(node)
    if not isinstance(v, torch.Tensor) or (static and not all(isinstance(s, int) for s in v.shape)):
        return None
    return tuple(v.shape)


def saved_for_backward(output_node: torch.fx.Node) -> list:
    """Per output of a graph, whether aot_autograd saves it for the backward (a training forward's output
    descriptions, `desc` on the output node); all False when the graph has none."""
    outs = output_node.args[0]
    n = len(outs) if isinstance(outs, (list, tuple)) else 1
    descs = output_node.meta.get("desc")
    if not isinstance(descs, list) or len(descs) != n:
        return [False] * n
    return ["SavedForBackwards" in type(d).__name__ for d in descs]


def second_output_used(node: torch.fx.Node) -> bool:
    """Whether anything reads a two-output node's second result (dropout's mask, max_pool's indices): its
    users are getitem 0, an unread getitem 1, or something that reads it."""
    import operator
    for u in node.users:
        if u.target is operator.getitem and (u.args[1] == 0 or (u.args[1] == 1 and not u.users)):
            continue
        return True
    return False


def meta_value(shape, dtype=torch.float32) -> torch.Tensor:
    """A value carrying only a shape and a dtype (a meta tensor): the aten value of an intermediate node a
    rule or a pass creates."""
    return torch.empty(tuple(int(s) for s in shape), dtype=dtype, device="meta")


def scalar_value(node):
    """The Python value of an aten node that is a constant scalar tensor (scalar_tensor, full([])), else None."""
    if not isinstance(node, torch.fx.Node) or node.op != "call_function":
        return None
    if node.target is aten.scalar_tensor.default:
        return node.args[0]
    if node.target is aten.full.default and len(node.args[0]) == 0:
        return node.args[1]
    if node.target in (aten.lift_fresh_copy.default, aten.clone.default, aten._to_copy.default):
        inner = scalar_value(node.args[0])
        if inner is not None and node.target is aten._to_copy.default:
            dt = node.meta["val"].dtype
            inner = bool(inner) if dt == torch.bool else (float(inner) if dt.is_floating_point else int(inner))
        return inner
    return None
