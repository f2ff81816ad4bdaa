"""Pools read their input in tiles: no conversion to ROW_MAJOR in front of ttnn.max_pool2d / avg_pool2d.

The lowering gives a pool a ROW_MAJOR bfloat16 operand (lowering/pool.py), which every TT-NN pool takes. TT-NN
0.81.1's pools also read a TILE input (bfloat16, or bfloat8_b/bfloat4_b, which exist only in tiles), as the
hand-written CNNs feed them a convolution's output; the ROW_MAJOR conversion in between is then a program of
its own that reads and writes the whole activation (ResNet-50's stem: a 25 MB tensor at batch 16). With the
optimizer on, this pass drops a to_layout(ROW_MAJOR) whose only reader is a pool and whose input is a device
TILE tensor the pool takes, and gives the pool that input.
"""
from __future__ import annotations

import torch.fx

from ..meta import tt_meta
from .base import Pass, PassResult

_POOLS = ("max_pool2d", "avg_pool2d")


class PoolReadsTiles(Pass):
    name = "pool_reads_tiles"
    needs = ("insert_conversions",)
    after = ("cache_param_derived",)

    def __init__(self, ttnn):
        self.ttnn = ttnn
        self.dropped = 0

    def call(self, gm: torch.fx.GraphModule) -> PassResult:
        ttnn = self.ttnn
        takes = {ttnn.bfloat16, ttnn.bfloat8_b, ttnn.bfloat4_b}
        for n in list(gm.graph.nodes):
            if n.op != "call_function" or getattr(n.target, "__name__", "") not in _POOLS or not n.args:
                continue
            rm = n.args[0]
            if not isinstance(rm, torch.fx.Node) or getattr(rm.target, "__name__", "") != "to_layout" \
                    or len(rm.users) != 1 or len(rm.args) < 2 or rm.args[1] != ttnn.ROW_MAJOR_LAYOUT \
                    or set(rm.kwargs) - {"memory_config"}:
                continue
            src, meta = rm.args[0], tt_meta(rm.args[0])
            if meta is None or not meta.on_device or meta.layout != ttnn.TILE_LAYOUT or meta.dtype not in takes:
                continue
            n.args = (src,) + tuple(n.args[1:])
            gm.graph.erase_node(rm)
            self.dropped += 1
        return PassResult(gm, bool(self.dropped))
