"""aten-level: RMSNorm as one op, norm parameters prepared for TT-NN."""
from __future__ import annotations

import operator

import torch
import torch.fx

from ...fused_ops import fused_ops
from ...meta import node_shape as _shape, node_val as _val
from ._common import AtenFusion, _is, _meta_of, _replace, _scalar, _single_use


aten = torch.ops.aten

# --------------------------------------------------------------------------------------------------
# RMSNorm
# --------------------------------------------------------------------------------------------------

def _is_square_of(p, x) -> bool:
    if _is(p, aten.pow.Tensor_Scalar) and p.args[0] is x and _scalar(p.args[1]) == 2.0:
        return True
    return _is(p, aten.mul.Tensor) and p.args[0] is x and p.args[1] is x


class PrepareNormParams(AtenFusion):
    """Inference batch norm / group norm whose statistics outputs are unused -> ttnn_fused ops taking the
    per-channel vectors already shaped for broadcasting (a view of a parameter, which constant folding then
    computes once on the host): ttnn.batch_norm wants [1, C, 1, 1], group norm's affine [C, 1], and reshaping
    them on the device would cost ops on every call."""
    name = "prepare_norm_params"

    def match(self, gm, node):
        if _is(node, aten._native_batch_norm_legit_no_training.default):
            x, w, b, rm, rv, _momentum, eps = node.args
        elif _is(node, aten._native_batch_norm_legit_functional.default) and not node.args[5]:
            x, w, b, rm, rv, _training, _momentum, eps = node.args
        elif _is(node, aten.native_group_norm.default):
            return self._group_norm(gm, node)
        else:
            return False
        users = list(node.users)
        if not users or not all(_is(u, operator.getitem) and u.args[1] == 0 for u in users):
            return False
        xs = _shape(x)
        if xs is None or not 2 <= len(xs) <= 4 or not _val(x).dtype.is_floating_point:
            return False
        c = xs[1]
        shape = [1, c, 1, 1] if len(xs) == 4 else [c] + [1] * (len(xs) - 2)
        params = [self._view(gm, node, p, shape) for p in (w, b, rm, rv)]
        res = _replace(gm, users[0], fused_ops().batch_norm_inference.default,
                       (x, params[0], params[1], params[2], params[3], float(eps)), {})
        for u in users[1:]:
            u.replace_all_uses_with(res)
        return True

    def _group_norm(self, gm, node):
        x, w, b, n, c, hxw, group, eps = node.args
        users = list(node.users)
        if not users or not all(_is(u, operator.getitem) and u.args[1] == 0 for u in users):
            return False
        xs = _shape(x)
        if xs is None or len(xs) > 4 or not _val(x).dtype.is_floating_point:
            return False
        params = [self._view(gm, node, p, [int(c), 1]) for p in (w, b)]
        res = _replace(gm, users[0], fused_ops().group_norm.default, (x, params[0], params[1], int(group),
                                                                      float(eps)), {})
        for u in users[1:]:
            u.replace_all_uses_with(res)
        return True

    @staticmethod
    def _view(gm, before, p, shape):
        if p is None:
            return None
        with gm.graph.inserting_before(before):
            v = gm.graph.call_function(aten.view.default, (p, list(shape)))
        v.meta["val"] = _meta_of(gm, aten.view.default, (p, list(shape)), {})
        return v


class FuseRMSNorm(AtenFusion):
    name = "fuse_rms_norm"

    def match(self, gm, node):
        if not _is(node, aten.mul.Tensor):
            return False
        for x, r in ((node.args[0], node.args[1]), (node.args[1], node.args[0])):
            if not _is(r, aten.rsqrt.default) or not _single_use(r):
                continue
            a = r.args[0]
            if not _is(a, aten.add.Tensor, aten.add.Scalar) or not _single_use(a) or a.kwargs.get("alpha", 1) != 1:
                continue
            mean, eps = a.args[0], _scalar(a.args[1])
            if eps is None:
                mean, eps = a.args[1], _scalar(a.args[0])
            if eps is None or not _is(mean, aten.mean.dim) or not _single_use(mean):
                continue
            xs = _shape(x)
            if xs is None or len(xs) == 0 or _shape(node) != xs:
                continue
            dims = sorted(int(d) % len(xs) for d in mean.args[1])
            keep = mean.args[2] if len(mean.args) > 2 else mean.kwargs.get("keepdim", False)
            k = len(dims)
            if not keep or k == 0 or dims != list(range(len(xs) - k, len(xs))):
                continue   # normalized over the trailing dims only
            if mean.kwargs.get("dtype") is not None:
                continue
            p = mean.args[0]
            if not _is_square_of(p, x) or not _single_use(p):
                continue
            if not _val(x).dtype.is_floating_point:
                continue
            norm = list(xs[len(xs) - k:])
            weight, last = None, node
            if _single_use(node):
                u = next(iter(node.users))
                if _is(u, aten.mul.Tensor):
                    w = u.args[1] if u.args[0] is node else u.args[0]
                    if isinstance(w, torch.fx.Node) and list(_shape(w) or ()) == norm and _shape(u) == xs and \
                            _val(w).dtype == _val(x).dtype:
                        weight, last = w, u
            _replace(gm, last, aten._fused_rms_norm.default, (x, norm, weight, float(eps)), {}, index=0)
            return True
        return False
