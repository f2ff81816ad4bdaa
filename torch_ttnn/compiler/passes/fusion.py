"""Fusions TT-NN offers, as passes.

aten level (before lowering, on the aten graph: patterns are matched on aten ops, which do not depend on how
other lowering rules are written, and the fused node is an op with a host implementation, so a case TT-NN
cannot do still runs):
- FuseLinear: view(x, [M, K]) -> addmm(b, ., permute(w, [1, 0])) / mm -> view([..., N]) (aten's decomposition of
  linear/matmul) becomes `aten.linear(x, w, b)` (-> one ttnn.linear on the batched input reading the weight
  transposed in place: no reshapes, no weight transpose), or `aten.matmul(x, w)` for an unpermuted weight.
- FuseAttention: matmul(q, k^T) [* scale] [+ mask] -> softmax(-1) -> matmul(v), as aten's matmul decomposition
  leaves it (expand/view around bmm), becomes `aten._scaled_dot_product_flash_attention_for_cpu` (lowered to
  ttnn.transformer.scaled_dot_product_attention by lowering/attention.py). Every intermediate must have this
  pattern as its only user (attention probabilities returned to the user keep the unfused form).
- FuseScaleMaskSoftmax: softmax(x * scale + mask, -1) with x [b, h, sq, sk] and a padding mask [1|b, 1, 1, sk]
  becomes `ttnn_fused.scale_mask_softmax` (-> ttnn.scale_mask_softmax, the same formula in one op).
- FuseRMSNorm: x * rsqrt(mean(x^2, -1, keepdim) + eps) [* weight] becomes `aten._fused_rms_norm`
  (-> ttnn.rms_norm).
- PrepareNormParams: inference batch norm / group norm -> `ttnn_fused.batch_norm_inference` /
  `ttnn_fused.group_norm` taking the per-channel vectors as views shaped for broadcasting ([1, C, 1, 1] for
  ttnn.batch_norm), which constant folding computes once: no per-call reshape of parameters on the device.

TT-NN level (after lowering, on the TT-NN graph):
- FuseMatmulBias: ttnn.matmul whose only consumer adds a row bias becomes ttnn.linear(bias=).
- FuseLinearActivation: ttnn.linear / ttnn.matmul / ttnn.conv2d / ttnn.add whose only consumer (possibly
  through reshapes/views that only it feeds) is ttnn.relu / relu6 / silu / gelu (accurate) gets the activation
  fused, as TT-NN offers it: `activation=` of linear/matmul, `Conv2dConfig(activation=UnaryWithParam(...))` of
  conv2d, `activations=[UnaryWithParam(...)]` of add (a residual add followed by relu: ResNets); the activation
  op and its launch (a read and a write of the whole tensor) go.
- FuseResidualNorm: ttnn.layer_norm / rms_norm of a ttnn.add read by nothing else (a post-norm residual)
  takes the add's second operand as `residual_input_tensor=` and the add goes.
"""
from __future__ import annotations

import logging
import math
import operator
from typing import Optional

import torch
import torch.fx

from ..fused_ops import fused_ops, scale_mask_softmax_supported  # noqa: F401 (fused_ops: exported programs import it from here)
from ..meta import TT, TT_IN, node_shape as _shape, node_val as _val
from .base import Pass, PassResult, constant

log = logging.getLogger("torch_ttnn.passes")
aten = torch.ops.aten




# --------------------------------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------------------------------

def _is(n, *targets) -> bool:
    return isinstance(n, torch.fx.Node) and n.op == "call_function" and n.target in targets


def _single_use(n) -> bool:
    return len(n.users) == 1


def _scalar(x) -> Optional[float]:
    if isinstance(x, bool) or not isinstance(x, (int, float)):
        return None
    return float(x)


def _fake_mode(gm):
    from torch._guards import detect_fake_mode
    vals = [n.meta.get("val") for n in gm.graph.nodes if n.op == "placeholder"]
    return detect_fake_mode([v for v in vals if isinstance(v, torch.Tensor)])


def _meta_of(gm, target, args, kwargs):
    """The aten value (FakeTensor) of target(*args, **kwargs) on the fake values of the graph."""
    mode = _fake_mode(gm)
    fargs = torch.fx.map_arg(args, _val)
    fkwargs = torch.fx.map_arg(kwargs, _val)
    if mode is None:
        return None
    with mode:
        return target(*fargs, **fkwargs)


def _replace(gm, old: torch.fx.Node, target, args, kwargs, index=None):
    """Insert target(*args, **kwargs) (and its getitem `index`) before `old` and make it replace `old`."""
    g = gm.graph
    val = _meta_of(gm, target, args, kwargs)   # before any change: a failure leaves the graph as it was
    with g.inserting_before(old):
        new = g.call_function(target, args, kwargs)
        new.meta["val"] = val
        for key in ("stack_trace", "nn_module_stack"):
            if key in old.meta:
                new.meta[key] = old.meta[key]
        res = new
        if index is not None:
            res = g.call_function(operator.getitem, (new, index))
            res.meta["val"] = new.meta["val"][index] if new.meta["val"] is not None else old.meta.get("val")
    if res.meta.get("val") is None:
        res.meta["val"] = old.meta.get("val")
    old.replace_all_uses_with(res)
    return res


class AtenFusion(Pass):
    def call(self, gm):
        modified = False
        for node in list(gm.graph.nodes):
            if node.graph is None or node.op != "call_function":
                continue
            try:
                modified |= bool(self.match(gm, node))
            except Exception as e:  # a fusion never breaks compilation: it does not apply, and says so
                self.skip(node, e)
        if modified:
            gm.graph.eliminate_dead_code()
        return PassResult(gm, modified)

    def match(self, gm, node) -> bool:
        raise NotImplementedError


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


# --------------------------------------------------------------------------------------------------
# attention
# --------------------------------------------------------------------------------------------------

_VIEWS = (aten.view.default, aten._unsafe_view.default, aten.reshape.default)


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


# --------------------------------------------------------------------------------------------------
# linear + activation (TT-NN graph)
# --------------------------------------------------------------------------------------------------

class FuseMatmulBias(Pass):
    """ttnn.matmul whose only consumer is ttnn.add of a row bias ([N] / [1, N]) -> ttnn.linear(bias=): the bias is
    added in Dst before the result is packed (x @ W + b written by hand, GPT-2's Conv1D)."""
    name = "fuse_matmul_bias"
    needs = ("lower_to_ttnn",)

    def __init__(self, ttnn):
        self.ttnn = ttnn

    def call(self, gm):
        from ..meta import Req
        g = gm.graph
        modified = False
        for node in list(g.nodes):
            if node.op != "call_function" or _ttnn_name(node) != "ttnn.matmul" or TT not in node.meta:
                continue
            if node.kwargs.get("activation") is not None or len(node.users) != 1:
                continue
            add = next(iter(node.users))
            if _ttnn_name(add) != "ttnn.add" or len(add.args) != 2 or add.kwargs:
                continue
            pos = 0 if add.args[0] is node else 1
            bias = add.args[1 - pos]
            out = _val(node)
            if not isinstance(bias, torch.fx.Node) or bias is node or not isinstance(out, torch.Tensor):
                continue
            bv = _val(bias)
            n = out.shape[-1] if out.dim() else None
            if not isinstance(bv, torch.Tensor) or not bv.dtype.is_floating_point or bv.dim() == 0 or \
                    bv.shape[-1] != n or any(d != 1 for d in bv.shape[:-1]) or bv.dim() > out.dim():
                continue
            if out.dim() < 2 or tuple(_val(add).shape) != tuple(out.shape):
                continue
            reqs = add.meta.get(TT_IN, {})
            m = node.meta[TT]
            own, other = reqs.get(("args", pos)), reqs.get(("args", 1 - pos))
            if own is None or other is None or own.dtype != m.dtype or own.layout != m.layout:
                continue
            node.target = self.ttnn.linear
            node.kwargs = {**node.kwargs, "bias": bias}
            node.meta[TT_IN] = {**node.meta.get(TT_IN, {}),
                                  ("kwargs", "bias"): Req(self.ttnn.TILE_LAYOUT, other.dtype)}
            node.meta["val"] = _val(add)
            add.replace_all_uses_with(node)
            g.erase_node(add)
            modified = True
        return PassResult(gm, modified)


def _ttnn_name(n) -> str:
    return getattr(n.target, "python_fully_qualified_name", "") if isinstance(n, torch.fx.Node) else ""


class FuseLinearActivation(Pass):
    name = "fuse_linear_activation"
    needs = ("lower_to_ttnn",)

    def __init__(self, ttnn):
        self.ttnn = ttnn

    def _activation(self, n) -> Optional[str]:
        name = _ttnn_name(n)
        if len(n.args) != 1:
            return None
        kw = dict(n.kwargs)
        if name in ("ttnn.relu", "ttnn.relu6", "ttnn.silu") and not kw:
            return name[5:]
        if name == "ttnn.hardtanh" and set(kw) == {"min_val", "max_val"} and \
                float(kw["min_val"]) == 0.0 and float(kw["max_val"]) == 6.0:
            return "relu6"   # aten's relu6 is hardtanh(0, 6)
        if name == "ttnn.gelu":
            fast = kw.pop("fast_and_approximate_mode", False)
            variant = kw.pop("variant", None)
            if kw or fast:
                return None
            if variant is None or int(variant) == int(self.ttnn.GeluVariant.Accurate):
                return "gelu"
            if int(variant) == int(self.ttnn.GeluVariant.Tanh):
                return "gelu_tanh"
        return None

    def _fuse(self, gm, node, name: str) -> bool:
        """Give `node` the activation `name`, in the form its op takes; False when it cannot."""
        ttnn = self.ttnn
        op = _ttnn_name(node)
        if op in ("ttnn.linear", "ttnn.matmul"):
            if node.kwargs.get("activation") is not None:
                return False
            node.kwargs = {**node.kwargs, "activation": name}
            return True
        kind = getattr(ttnn.UnaryOpType, {"gelu_tanh": "GELU"}.get(name, name.upper()), None)
        if kind is None or name == "gelu_tanh":      # UnaryWithParam(GELU) is the accurate gelu
            return False
        unary = ttnn.UnaryWithParam(kind)
        if op == "ttnn.conv2d":
            if "conv_config" in node.kwargs:
                return False
            node.kwargs = {**node.kwargs, "conv_config": constant(
                gm, f"ttnn_conv_{name}_config", ttnn.Conv2dConfig(activation=unary))}
            return True
        if op == "ttnn.add":
            if node.kwargs.get("activations") or len(node.args) != 2 or not all(
                    isinstance(a, torch.fx.Node) for a in node.args):
                return False
            node.kwargs = {**node.kwargs, "activations": constant(gm, f"ttnn_{name}_activations", [unary])}
            return True
        return False

    def call(self, gm):
        g = gm.graph
        modified = False
        producers = ("ttnn.linear", "ttnn.matmul", "ttnn.conv2d", "ttnn.add")
        views = ("ttnn.reshape", "ttnn.view")
        for node in list(g.nodes):
            if node.op != "call_function" or _ttnn_name(node) not in producers:
                continue
            if TT not in node.meta:
                continue
            cur = node
            while len(cur.users) == 1:
                u = next(iter(cur.users))
                if _ttnn_name(u) in views and u.args[0] is cur:
                    cur = u
                    continue
                break
            if len(cur.users) != 1:
                continue
            act = next(iter(cur.users))
            if act.op != "call_function" or act.args[:1] != (cur,):
                continue
            name = self._activation(act)
            req = act.meta.get(TT_IN, {}).get(("args", 0))
            m = node.meta[TT]
            if name is None or req is None or req.layout != m.layout or req.dtype != m.dtype:
                continue
            if not self._fuse(gm, node, name):
                continue
            act.replace_all_uses_with(cur)
            g.erase_node(act)
            modified = True
        if modified:
            gm.recompile()
        return PassResult(gm, modified)


class FuseResidualNorm(Pass):
    """ttnn.layer_norm / ttnn.rms_norm whose input is a ttnn.add of two tensors of its own shape, layout and
    dtype, read by nothing else (a post-norm residual: BERT's LayerNorm(x + sublayer(x))), becomes the norm
    with `residual_input_tensor=`: TT-NN adds the residual inside the norm's kernel, one launch and one pass
    over the tensor fewer."""
    name = "fuse_residual_norm"
    needs = ("lower_to_ttnn",)

    def __init__(self, ttnn):
        self.ttnn = ttnn

    def call(self, gm):
        g = gm.graph
        modified = False
        norms = ("ttnn.layer_norm", "ttnn.rms_norm")
        for node in list(g.nodes):
            if node.op != "call_function" or _ttnn_name(node) not in norms:
                continue
            if node.kwargs.get("residual_input_tensor") is not None or not node.args:
                continue
            add = node.args[0]
            if not (isinstance(add, torch.fx.Node) and add.op == "call_function" and _ttnn_name(add) == "ttnn.add"
                    and len(add.users) == 1 and len(add.args) == 2 and not add.kwargs.get("activations")
                    and set(add.kwargs) <= {"memory_config", "dtype"}):
                continue
            a, b = add.args
            m = add.meta.get(TT)
            # what the add needs of its operands (a host input gets converted to it)
            ra, rb = (add.meta.get(TT_IN, {}).get(("args", i)) for i in (0, 1))
            if m is None or ra is None or rb is None or not all(
                    isinstance(x, torch.fx.Node) for x in (a, b)) or not all(
                    r.layout == m.layout and r.dtype == m.dtype for r in (ra, rb)):
                continue
            sa, sb, so = (_shape(x) for x in (a, b, add))
            if sa is None or not (sa == sb == so):
                continue
            node.args = (a, *node.args[1:])
            node.kwargs = {**node.kwargs, "residual_input_tensor": b}
            tt_in = dict(node.meta.get(TT_IN, {}))
            tt_in[("args", 0)] = ra
            tt_in[("kwargs", "residual_input_tensor")] = rb
            node.meta[TT_IN] = tt_in
            g.erase_node(add)
            modified = True
        if modified:
            gm.recompile()
        return PassResult(gm, modified)


# --------------------------------------------------------------------------------------------------

def aten_fusions(option) -> list:
    return [FuseAttention(), FuseScaleMaskSoftmax(), FuseRMSNorm(), FuseLinear(), PrepareNormParams()]


def ttnn_fusions(ttnn, option) -> list:
    return [FuseMatmulBias(ttnn), FuseLinearActivation(ttnn), FuseResidualNorm(ttnn)]
