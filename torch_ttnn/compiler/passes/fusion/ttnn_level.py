"""TT-NN-level: bias into the matmul, activations into matmul/conv/add, residual adds into norms."""
from __future__ import annotations

from typing import Optional

import torch
import torch.fx

from ... import ttnn_ops
from ...meta import TT, TT_IN, node_shape as _shape, node_val as _val
from ..base import Pass, PassResult, constant


# --------------------------------------------------------------------------------------------------
# linear + activation (TT-NN graph)
# --------------------------------------------------------------------------------------------------

class FuseMatmulBias(Pass):
    """ttnn.matmul (or a ttnn.linear without bias) whose only consumer is ttnn.add of a row bias ([N] / [1, N])
    -> ttnn.linear(bias=): the bias is added in Dst before the result is packed (x @ W + b written by hand,
    GPT-2's Conv1D, nn.MultiheadAttention's in-projection)."""
    name = "fuse_matmul_bias"
    needs = ("lower_to_ttnn",)

    def __init__(self, ttnn):
        self.ttnn = ttnn

    def call(self, gm):
        from ...meta import Req
        g = gm.graph
        modified = False
        for node in list(g.nodes):
            if (node.op != "call_function" or _ttnn_name(node) not in ("ttnn.matmul", "ttnn.linear")
                    or TT not in node.meta or node.kwargs.get("bias") is not None):
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
        keyword = ttnn_ops.info(_ttnn_name(node).removeprefix("ttnn.")).activation
        if keyword == "activation":         # matmul / linear: the activation's name
            if node.kwargs.get("activation") is not None:
                return False
            node.kwargs = {**node.kwargs, "activation": name}
            return True
        kind = getattr(ttnn.UnaryOpType, {"gelu_tanh": "GELU"}.get(name, name.upper()), None)
        if kind is None or name == "gelu_tanh":      # UnaryWithParam(GELU) is the accurate gelu
            return False
        unary = ttnn.UnaryWithParam(kind)
        if keyword == "conv_config":        # conv2d: Conv2dConfig(activation=UnaryWithParam)
            if "conv_config" in node.kwargs:
                return False
            node.kwargs = {**node.kwargs, "conv_config": constant(
                gm, f"ttnn_conv_{name}_config", ttnn.Conv2dConfig(activation=unary))}
            return True
        if keyword == "activations":        # binary ops: a list of UnaryWithParam
            if node.kwargs.get("activations") or len(node.args) != 2 or not all(
                    isinstance(a, torch.fx.Node) for a in node.args):
                return False
            node.kwargs = {**node.kwargs, "activations": constant(gm, f"ttnn_{name}_activations", [unary])}
            return True
        return False

    def call(self, gm):
        g = gm.graph
        modified = False
        producers = {f"ttnn.{n}" for n in ttnn_ops.names_with("activation")}
        views = {f"ttnn.{n}" for n in ttnn_ops.names(view=True)}
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
        norms = {f"ttnn.{n}" for n in ttnn_ops.names_with("residual")}
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
        return PassResult(gm, modified)
