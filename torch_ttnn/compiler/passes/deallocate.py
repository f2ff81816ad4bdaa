"""Deallocation: free each device intermediate right after its last use.

Parameters (cached across calls) and graph inputs are never freed here. Ops that may return a view of
their input (reshape, view, squeeze, unsqueeze) form alias groups: a buffer is freed after the last use of
every member of its group.
"""
from __future__ import annotations

import operator

import torch
import torch.fx

from .. import ttnn_ops
from ..meta import DEALLOC, N_OUTPUTS, PARAM, SAVED_ON_DEVICE, TT_MULTI, tt_meta
from ..tiles import is_free_view
from .base import Pass, PassResult



class Deallocate(Pass):
    name = "deallocate"
    needs = ("insert_conversions",)
    after = ("device_state", "cache_param_derived")

    def __init__(self, ttnn):
        self.ttnn = ttnn
        self.view_targets = set(ttnn_ops.resolve(ttnn, ttnn_ops.names(view=True)))

    def call(self, gm: torch.fx.GraphModule) -> PassResult:
        g = gm.graph
        freed_outputs = self._free_unused_outputs(g)
        nodes = list(g.nodes)
        order = {n: i for i, n in enumerate(nodes)}
        root: dict = {}

        def find(n):
            while root.get(n, n) is not n:
                n = root[n]
            return n

        # alias groups
        for n in nodes:
            if tt_meta(n) is None and not n.meta.get(TT_MULTI):
                continue
            root.setdefault(n, n)
            # only a zero-cost view shares its input's buffer; a data-moving reshape owns a new one
            if self._is_view(n) and n.args[0] in root:
                root[find(n)] = find(n.args[0])
        groups: dict = {}
        for n in root:
            groups.setdefault(find(n), []).append(n)
        modified = freed_outputs
        for members in groups.values():
            if any(self._keep(m) for m in members):
                continue
            last = None
            for m in members:
                for u in m.users:
                    if last is None or order[u] > order[last]:
                        last = u
            if last is None or last.op == "output":
                continue
            with g.inserting_after(last):
                for m in members:
                    if m.meta.get(TT_MULTI) or self._is_view(m):
                        continue  # a view shares its input's buffer: freed with the buffer's owner
                    d = g.call_function(self.ttnn.deallocate, (m,))
                    d.meta[DEALLOC] = True
                    modified = True
        return PassResult(gm, modified)

    def _free_unused_outputs(self, g: torch.fx.Graph) -> bool:
        """Outputs of a multi-output op that nothing reads (topk values when only indices are used) are
        freed right after the op."""
        modified = False
        for n in list(g.nodes):
            count = n.meta.get(N_OUTPUTS)
            if not n.meta.get(TT_MULTI) or not count or n.meta.get(PARAM):
                continue
            used = {u.args[1] for u in n.users if u.target is operator.getitem}
            anchor = n
            for i in range(count):
                if i in used:
                    continue
                with g.inserting_after(anchor):
                    item = g.call_function(operator.getitem, (n, i))
                with g.inserting_after(item):
                    d = g.call_function(self.ttnn.deallocate, (item,))
                d.meta[DEALLOC] = True
                anchor = d
                modified = True
        return modified

    def _is_view(self, n: torch.fx.Node) -> bool:
        """Whether n is a zero-cost view of its input (same buffer): ttnn.view, or a reshape / squeeze /
        unsqueeze keeping the last dim and, in TILE, the tiles (second-to-last dim unchanged or both
        multiples of 32)."""
        if n.target not in self.view_targets or not n.args or not isinstance(n.args[0], torch.fx.Node):
            return False
        if n.target is getattr(self.ttnn, "view", None):
            return True
        src, m = n.args[0], tt_meta(n.args[0])
        a, b = src.meta.get("val"), n.meta.get("val")
        if m is None or not isinstance(a, torch.Tensor) or not isinstance(b, torch.Tensor):
            return False
        return is_free_view(a.shape, b.shape, m.layout == self.ttnn.TILE_LAYOUT)

    @staticmethod
    def _keep(n: torch.fx.Node) -> bool:
        if n.meta.get(PARAM):
            return True
        m = tt_meta(n)
        if m is not None and not m.on_device:
            return True
        if n.op != "call_function" and n.op != "call_method":
            return True
        return any(u.op == "output" or u.meta.get(SAVED_ON_DEVICE) for u in n.users)
