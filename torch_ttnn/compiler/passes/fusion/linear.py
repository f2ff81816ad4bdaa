"""aten-level: matmul + bias as one linear (FuseLinear)."""
from __future__ import annotations

import math

import torch
import torch.fx

from ...meta import node_shape as _shape, node_val as _val
from ._common import _VIEWS, AtenFusion, _is, _meta_of, _replace, _single_use


aten = torch.ops.aten

# --------------------------------------------------------------------------------------------------
# linear
# --------------------------------------------------------------------------------------------------

class FuseLinear(AtenFusion):
    """aten's linear/matmul decomposition, view(x, [M, K]) -> addmm(b, ., permute(w)) / mm -> view([..., N]),
    back to one `aten.linear(x, w, b)` (or `aten.matmul(x, w)` for an unpermuted 2-D right operand): ttnn.linear
    takes the batched input and reads the [N, K] weight transposed in place, so neither the reshapes (which move
    data when M is not tile aligned) nor the weight transpose are executed."""
    name = "fuse_linear"

    def match(self, gm, node):
        if _is(node, aten.addmm.default):
            bias, a, b = node.args[:3]
            if node.kwargs.get("beta", 1) != 1 or node.kwargs.get("alpha", 1) != 1:
                return False
        elif _is(node, aten.mm.default):
            bias, (a, b) = None, node.args[:2]
        else:
            return False
        out = node
        if _single_use(node):
            u = next(iter(node.users))
            if _is(u, *_VIEWS):
                out = u
        x = a
        if _is(a, *_VIEWS):
            x = a.args[0]
        xs, ms, os_ = _shape(x), _shape(node), _shape(out)
        bs = _shape(b)
        if xs is None or ms is None or bs is None or len(bs) != 2 or len(xs) < 2 or len(xs) > 4:
            return False
        lead = xs[:-1]
        if os_ != tuple(lead) + (ms[-1],) or xs[-1] != bs[0] or math.prod(lead) != ms[0]:
            return False
        if x is a and out is not node:
            return False
        for t in (x, b) + ((bias,) if bias is not None else ()):
            if not isinstance(t, torch.fx.Node) or not _val(t).dtype.is_floating_point:
                return False
        n = ms[-1]
        if bias is not None and _shape(bias) not in ((n,), (1, n)):
            return False
        if _is(b, aten.permute.default) and list(b.args[1]) in ([1, 0], [-1, -2], [1, -2], [-1, 0]):
            w = b.args[0]
            args = (x, w) if bias is None else (x, w, bias if _shape(bias) == (n,) else None)
            if bias is not None and _shape(bias) != (n,):
                return False
            _replace(gm, out, aten.linear.default, args, {})
            return True
        if x is not a:
            if bias is None:
                _replace(gm, out, aten.matmul.default, (x, b), {})
            else:   # matmul + add of the bias (folded into ttnn.linear's bias by FuseMatmulBias)
                with gm.graph.inserting_before(out):
                    mm = gm.graph.call_function(aten.matmul.default, (x, b))
                    mm.meta["val"] = _meta_of(gm, aten.matmul.default, (x, b), {})
                _replace(gm, out, aten.add.Tensor, (mm, bias), {})
            return True
        return False
