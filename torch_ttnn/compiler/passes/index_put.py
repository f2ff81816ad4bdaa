"""index_put along one inner dim -> scatter (aten level, before lowering).

`x.index_copy_(d, i, v)` and `x[:, :, i] = v` (a static KV cache update: transformers' StaticLayer writes the
new keys/values at positions `arange(n) + cumulative_length` along dim 2) reach the aten graph as
`index_put(x, [None] * d + [i], v)`. TT-NN has no index_put; its scatter takes an index shaped like the
values. With one 1-D index tensor on dim d > 0 the two are the same thing:

    index_put(x, [None]*d + [i], v, acc)  ==  scatter(x, d, expand(view(i % x.shape[d], [1..n..1]), V), v')

with V = x.shape[:d] + [n] + x.shape[d+1:] and v' = v broadcast to V (scatter_add when accumulating;
`% size` wraps negative indices as index_put does). The rewrite is aten to aten: a case scatter cannot be
lowered for still runs on the host. index_put on dim 0 is left to the indexing family's rule.
"""
from __future__ import annotations

import torch
import torch.fx

from ..meta import node_val as _val
from .base import Pass, PassResult

aten = torch.ops.aten


def _static(shape) -> bool:
    return all(isinstance(s, int) for s in shape)


class IndexPutAsScatter(Pass):
    name = "index_put_as_scatter"

    def call(self, gm: torch.fx.GraphModule) -> PassResult:
        from .fusion import _meta_of
        g = gm.graph
        modified = False
        for node in list(g.nodes):
            if node.op != "call_function" or node.target is not aten.index_put.default:
                continue
            x, indices, values = node.args[:3]
            accumulate = node.args[3] if len(node.args) > 3 else node.kwargs.get("accumulate", False)
            given = [(d, t) for d, t in enumerate(indices) if t is not None]
            if len(given) != 1 or given[0][0] == 0:
                continue
            d, idx = given[0]
            xv, iv, vv = _val(x), _val(idx), _val(values)
            if not all(isinstance(t, torch.Tensor) for t in (xv, iv, vv)):
                continue
            if iv.dtype in (torch.bool, torch.uint8) or iv.dtype.is_floating_point or iv.dim() != 1:
                continue
            if not (_static(xv.shape) and _static(iv.shape) and _static(vv.shape)):
                continue
            n = iv.shape[0]
            target = list(xv.shape)
            target[d] = n
            if n == 0 or torch.broadcast_shapes(tuple(vv.shape), tuple(target)) != tuple(target):
                continue

            def emit(op, *args):
                new = g.call_function(op, args)
                new.meta["val"] = _meta_of(gm, op, args, {})
                for key in ("stack_trace", "nn_module_stack"):
                    if key in node.meta:
                        new.meta[key] = node.meta[key]
                return new

            with g.inserting_before(node):
                i = emit(aten.remainder.Scalar, idx, int(xv.shape[d]))
                shape = [1] * xv.dim()
                shape[d] = n
                i = emit(aten.view.default, i, shape)
                if shape != target:
                    i = emit(aten.expand.default, i, target)
                v = values
                if list(vv.shape) != target:
                    v = emit(aten.expand.default, values, target)
                if vv.dtype != xv.dtype:
                    v = emit(aten._to_copy.default, v)
                    v.kwargs = {"dtype": xv.dtype}
                    v.meta["val"] = _meta_of(gm, aten._to_copy.default, (v.args[0],), {"dtype": xv.dtype})
                op = aten.scatter_add.default if accumulate else aten.scatter.src
                new = emit(op, x, d, i, v)
            node.replace_all_uses_with(new)
            g.erase_node(node)
            modified = True
        return PassResult(gm, modified)
