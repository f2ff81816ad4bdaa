"""aten-level: attention as scaled_dot_product_attention, scale + mask + softmax as one op."""
from __future__ import annotations

import torch
import torch.fx

from ...fused_ops import fused_ops, scale_mask_softmax_supported
from ...meta import node_shape as _shape, node_val as _val
from ._common import _VIEWS, AtenFusion, _is, _replace, _scalar, _single_use


aten = torch.ops.aten

# --------------------------------------------------------------------------------------------------
# attention
# --------------------------------------------------------------------------------------------------


def _through_batch_view(n, want_rank4: bool = True):
    """bmm operand -> the rank-4 tensor it is a [b*h, s, d] view of (via view(expand(x)) / view(clone(expand)))."""
    if not _is(n, *_VIEWS) or not _single_use(n):
        return None
    src = n.args[0]
    if _is(src, aten.clone.default) and _single_use(src):
        src = src.args[0]
    if _is(src, aten.expand.default) and _single_use(src):
        if list(src.args[1]) != list(_shape(src.args[0]) or ()):
            return None  # a real broadcast: not a plain attention operand
        src = src.args[0]
    s4, sv = _shape(src), _shape(n)
    if s4 is None or len(s4) != 4 or sv is None or len(sv) != 3:
        return None
    if sv != (s4[0] * s4[1], s4[2], s4[3]):
        return None
    return src


def _strip_scale(n):
    """x * c / x / c (python scalars, single use) -> (x, factor)."""
    factor = 1.0
    while True:
        if _is(n, aten.mul.Tensor, aten.mul.Scalar) and _single_use(n):
            a, b = n.args[0], n.args[1]
            if _scalar(b) is not None:
                factor *= _scalar(b)
                n = a
                continue
            if _scalar(a) is not None:
                factor *= _scalar(a)
                n = b
                continue
        if _is(n, aten.div.Tensor, aten.div.Scalar) and _single_use(n) and not n.kwargs.get("rounding_mode"):
            b = _scalar(n.args[1])
            if b is not None and b != 0:
                factor /= b
                n = n.args[0]
                continue
        return n, factor


def _match_qk(n):
    """view(bmm(view(q4), view(k4^T)), [b, h, sq, sk]) -> (q4, k4, factor)."""
    if not _is(n, *_VIEWS) or not _single_use(n):
        return None
    mm = n.args[0]
    if not _is(mm, aten.bmm.default) or not _single_use(mm):
        return None
    qs = _through_batch_view(mm.args[0])
    kts = _through_batch_view(mm.args[1])
    if qs is None or kts is None:
        return None
    q4, fq = _strip_scale(qs)
    kt4, fk = _strip_scale(kts)
    if not _is(kt4, aten.permute.default) or list(kt4.args[1]) not in ([0, 1, 3, 2], [0, 1, -1, -2]):
        return None
    k4 = kt4.args[0]
    if not _single_use(kt4):
        return None
    qsh, ksh = _shape(q4), _shape(k4)
    if qsh is None or ksh is None or len(qsh) != 4 or len(ksh) != 4:
        return None
    if qsh[0] != ksh[0] or qsh[1] != ksh[1] or qsh[3] != ksh[3]:
        return None
    if _shape(n) != (qsh[0], qsh[1], qsh[2], ksh[2]):
        return None
    return q4, k4, fq * fk


def _match_scores(n):
    """[q k^T * c] [+ mask] -> (q4, k4, scale, mask)."""
    mask = None
    if _is(n, aten.add.Tensor) and _single_use(n) and n.kwargs.get("alpha", 1) == 1:
        for chain, m in ((n.args[0], n.args[1]), (n.args[1], n.args[0])):
            if not isinstance(m, torch.fx.Node):
                continue
            inner, f = _strip_scale(chain)
            qk = _match_qk(inner)
            if qk is not None:
                mv = _val(m)
                if not isinstance(mv, torch.Tensor) or not mv.dtype.is_floating_point or mv.dim() > 4:
                    return None
                q4, k4, f2 = qk
                return q4, k4, f * f2, m
        return None
    inner, f = _strip_scale(n)
    qk = _match_qk(inner)
    if qk is None:
        return None
    q4, k4, f2 = qk
    return q4, k4, f * f2, mask


class FuseAttention(AtenFusion):
    name = "fuse_attention"

    def match(self, gm, node):
        if not _is(node, aten._softmax.default) or node.args[2]:
            return False
        x = node.args[0]
        r = len(_shape(node) or ())
        if r != 4 or int(node.args[1]) % r != 3 or not _single_use(node):
            return False
        scores = _match_scores(x)
        if scores is None:
            return False
        q4, k4, scale, mask = scores
        # consumer: view(bmm(view(expand(p)), view(expand(v4))), [b, h, sq, dv])
        cur = node
        while True:
            if not _single_use(cur):
                return False
            cur = next(iter(cur.users))
            if not _is(cur, aten.expand.default, aten.clone.default):
                break
        if _through_batch_view(cur) is not node:
            return False
        mm = next(iter(cur.users))
        if not _is(mm, aten.bmm.default) or mm.args[0] is not cur or not _single_use(mm):
            return False
        v4 = _through_batch_view(mm.args[1])
        out = next(iter(mm.users))
        if v4 is None or not _is(out, *_VIEWS):
            return False
        qsh, ksh, vsh = _shape(q4), _shape(k4), _shape(v4)
        if vsh is None or vsh[:3] != ksh[:3] or vsh[3] != qsh[3]:
            return False
        if _shape(out) != (qsh[0], qsh[1], qsh[2], vsh[3]):
            return False
        for t in (q4, k4, v4):
            if not _val(t).dtype.is_floating_point:
                return False
        if mask is not None:
            try:
                torch.broadcast_shapes(_shape(mask), _shape(node))
            except RuntimeError:
                return False
        _replace(gm, out, aten._scaled_dot_product_flash_attention_for_cpu.default, (q4, k4, v4, 0.0, False),
                 {"attn_mask": mask, "scale": float(scale)}, index=0)
        return True


# --------------------------------------------------------------------------------------------------
# scale-mask-softmax
# --------------------------------------------------------------------------------------------------

class FuseScaleMaskSoftmax(AtenFusion):
    name = "fuse_scale_mask_softmax"

    def match(self, gm, node):
        if not _is(node, aten._softmax.default) or node.args[2]:
            return False
        shape = _shape(node)
        if shape is None or len(shape) != 4 or int(node.args[1]) % 4 != 3:
            return False
        if not _val(node).dtype.is_floating_point:
            return False
        x, mask = node.args[0], None
        if _is(x, aten.add.Tensor) and _single_use(x) and x.kwargs.get("alpha", 1) == 1:
            a, b = x.args[0], x.args[1]
            for cand, m in ((a, b), (b, a)):
                if isinstance(m, torch.fx.Node) and isinstance(cand, torch.fx.Node) and _shape(cand) == shape:
                    mv = _val(m)
                    if isinstance(mv, torch.Tensor) and mv.dtype.is_floating_point and \
                            scale_mask_softmax_supported(shape, _shape(m)):
                        x, mask = cand, m
                        break
            else:
                return False
        inner, scale = _strip_scale(x)
        if mask is None and scale == 1.0:
            return False
        if _shape(inner) != shape or not _val(inner).dtype.is_floating_point:
            return False
        _replace(gm, node, fused_ops().scale_mask_softmax.default, (inner, scale, mask), {})
        return True
