"""Deallocation: free each device intermediate right after its last use.

Parameters (cached across calls) and graph inputs are never freed here. Ops that may return a view of
their input (reshape, view, squeeze, unsqueeze) form alias groups: a buffer is freed after the last use of
every member of its group.
"""
from __future__ import annotations

import operator

import torch
import torch.fx

from ..meta import tt_meta
from .base import Pass, PassResult

_VIEW_OPS = ("reshape", "view", "squeeze", "unsqueeze")


class Deallocate(Pass):
    name = "deallocate"

    def __init__(self, ttnn):
        self.ttnn = ttnn
        self.view_targets = {getattr(ttnn, n) for n in _VIEW_OPS if hasattr(ttnn, n)}

    def call(self, gm: torch.fx.GraphModule) -> PassResult:
        g = gm.graph
        nodes = list(g.nodes)
        order = {n: i for i, n in enumerate(nodes)}
        root: dict = {}

        def find(n):
            while root.get(n, n) is not n:
                n = root[n]
            return n

        # alias groups
        for n in nodes:
            if tt_meta(n) is None and not n.meta.get("tt_multi"):
                continue
            root.setdefault(n, n)
            if n.target in self.view_targets and n.args and isinstance(n.args[0], torch.fx.Node):
                root[find(n)] = find(n.args[0]) if n.args[0] in root else find(n)
            if n.target is operator.getitem and isinstance(n.args[0], torch.fx.Node) and n.args[0] in root:
                pass  # outputs of a multi-output op own their buffers
        groups: dict = {}
        for n in root:
            groups.setdefault(find(n), []).append(n)
        modified = False
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
                    if m.meta.get("tt_multi"):
                        continue
                    d = g.call_function(self.ttnn.deallocate, (m,))
                    d.meta["dealloc"] = True
                    modified = True
        return PassResult(gm, modified)

    @staticmethod
    def _keep(n: torch.fx.Node) -> bool:
        if n.meta.get("param"):
            return True
        if n.op != "call_function" and n.op != "call_method":
            return True
        return any(u.op == "output" for u in n.users)
