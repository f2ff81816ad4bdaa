"""Weight precision: the matmul/linear weights of a lowered graph in a block-float format, optionally LoFi.

Levels (compiler/precision.py chooses among them per graph, by accuracy):
    "bf16"       nothing changes (TT-NN's default: bfloat16 weights, HiFi2 with bfloat16 operands)
    "bfp8"       weights in bfloat8_b (1,088 bytes a tile instead of 2,048): a weight-streaming product moves
                 half the bytes; fidelity stays HiFi2
    "bfp8-lofi"  bfloat8_b weights and LoFi (one multiplier pass instead of two): half the matrix-engine time
    "bfp4"       weights in bfloat4_b (576 bytes a tile), LoFi
    "bfp8-acc32" bfloat8_b weights, HiFi2, and an fp32 Dst (fp32_dest_acc_en) on every matrix product: for
                 deep models whose long reductions (K in the thousands) lose the low bits of their partial sums
                 to the 16-bit Dst, whatever the weights' format; half the Dst tiles (24-layer BERT-Large:
                 PCC 0.9968, where bfloat16 with a 16-bit Dst gives 0.949)
    "bfp8-act"   "bfp8-lofi" and the outputs of convolutions in bfloat8_b (`conv2d(dtype=ttnn.bfloat8_b)`), as
                 Tenstorrent's hand-written CNNs run (ResNet-50: bfloat8_b activations and weights, LoFi): half
                 the bytes of every activation that follows a convolution, through the ops that keep their
                 input's dtype (add, relu, mean, reshape, linear...). A convolution keeps bfloat16 when one of
                 those values reaches an op that needs bfloat16 or row-major data (to_layout before max_pool2d,
                 a typecast), and every other convolution then says `dtype=ttnn.bfloat16` (TT-NN's default is
                 the input's dtype). Offered only to graphs with convolutions.
    "bf16-acc32" the accurate end: bfloat16 weights, every matrix product (linear, matmul, conv) with HiFi4 and
                 an fp32 Dst; four multiplier passes and half the Dst tiles
A MixedLevel (compiler/precision.py chooses it when a graph's faster level loses accuracy as a whole) applies its
base level to the graph and its relaxed level to the products of some groups only: the products whose weights
have one shape (every layer's query projection, every MLP's up projection...). Relaxing means bfloat8_b weights
(and LoFi) for a bfloat16 base, or a 16-bit Dst for an fp32-Dst base.
Only weights loaded from parameters (the param cache's `load`) whose every use is the weight operand of a
ttnn.linear / ttnn.matmul are converted; a parameter also used elsewhere (a tied embedding) keeps bfloat16.
Convolutions get the level through `conv_config=Conv2dConfig(weights_dtype=...)` (given to the weight and
bias preparation too, as TT-NN requires) and, for LoFi, `compute_config`; bfloat4_b convolution weights are
not offered by TT-NN, so "bfp4" gives convolutions bfloat8_b. Activations stay bfloat16.
"""
from __future__ import annotations

import dataclasses

import torch
import torch.fx

from .. import ttnn_ops
from ..meta import TT, node_val
from .base import Pass, PassResult, constant

LEVELS = ("bf16", "bfp8", "bfp8-lofi", "bfp4", "bfp8-acc32", "bf16-acc32", "bfp8-act")
# ops whose output has their first input's dtype (no dtype argument given): a bfloat8_b value flows through
_KEEPS_DTYPE = frozenset({"add", "subtract", "multiply", "relu", "relu6", "silu", "gelu", "sigmoid", "mean", "sum",
                          "reshape", "view", "squeeze", "unsqueeze", "linear", "matmul", "permute", "transpose"})
# ops that take a bfloat8_b TILE input and set their own output dtype (or end the value's life)
_TAKES_BFP8 = frozenset({"conv2d", "to_torch", "deallocate"})
_PRODUCTS = ("linear", "matmul")


def _is_product(n: torch.fx.Node) -> bool:
    return n.op == "call_function" and getattr(n.target, "__name__", None) in _PRODUCTS


def _weight_of(n: torch.fx.Node):
    return n.args[1] if len(n.args) > 1 else n.kwargs.get("input_tensor_b")


def _loaded_weight(n: torch.fx.Node, tile_layout):
    """The parameter load feeding product `n`'s weight operand, when every use of it is a product's weight
    (a tied embedding is not converted); else None."""
    w = _weight_of(n)
    if not (isinstance(w, torch.fx.Node) and w.op == "call_method" and w.target == "load"
            and len(w.args) >= 4 and w.args[3] == tile_layout):
        return None
    if not all(_is_product(u) and _weight_of(u) is w for u in w.users):
        return None
    return w


def group_key(n: torch.fx.Node) -> tuple:
    """The group of a product: its op and its weight's shape (every layer's query projection is one group)."""
    w = node_val(_weight_of(n))
    return (n.target.__name__, tuple(int(d) for d in w.shape) if isinstance(w, torch.Tensor) else None)


def product_groups(gm: torch.fx.GraphModule, ttnn) -> dict:
    """{group key: [product nodes]} of the products whose weights a level may convert."""
    groups: dict = {}
    for n in gm.graph.nodes:
        if _is_product(n) and _loaded_weight(n, ttnn.TILE_LAYOUT) is not None:
            groups.setdefault(group_key(n), []).append(n)
    return groups


@dataclasses.dataclass(frozen=True)
class MixedLevel:
    """`base` for the graph, `relaxed` for the products of `groups` (group keys), `of` groups in all."""
    base: str
    relaxed: str
    groups: frozenset
    of: int

    def __str__(self) -> str:
        return f"{self.base}+{self.relaxed} {len(self.groups)}/{self.of}"


# what relaxing a group means for each base level
RELAXED = {"bf16": "bfp8-lofi", "bfp8": "bfp8-lofi", "bfp8-acc32": "bfp8", "bf16-acc32": "bf16"}


class WeightPrecision(Pass):
    name = "weight_precision"
    needs = ("insert_conversions",)
    after = ("cache_param_derived",)     # conv weights are prepared through ParamCache.derive

    def __init__(self, ttnn, level):
        if isinstance(level, MixedLevel):
            if RELAXED.get(level.base) != level.relaxed:
                raise ValueError(f"a mixed level relaxes {sorted(RELAXED)} to {RELAXED}, got {level}")
        elif level not in LEVELS:
            raise ValueError(f"precision level must be one of {LEVELS}, got {level!r}")
        self.ttnn = ttnn
        self.level = level
        self.converted = 0

    def call(self, gm: torch.fx.GraphModule) -> PassResult:
        if isinstance(self.level, MixedLevel):
            return self._mixed(gm, self.level)
        if self.level == "bf16":
            return PassResult(gm, False)
        if self.level == "bf16-acc32":
            return self._accurate(gm, self.ttnn.MathFidelity.HiFi4)
        if self.level == "bfp8-act":
            converted = self._weights(gm, "bfp8-lofi")
            acts = self._conv_activations(gm)
            return PassResult(gm, converted.modified or acts)
        if self.level == "bfp8-acc32":
            converted = self._weights(gm, "bfp8")
            acc = self._accurate(gm, self.ttnn.MathFidelity.HiFi2)
            return PassResult(gm, converted.modified or acc.modified)
        return self._weights(gm, self.level)

    def _mixed(self, gm, m: MixedLevel) -> PassResult:
        """The base level everywhere, the relaxed one on the products of m.groups."""
        def inside(n):
            return _is_product(n) and group_key(n) in m.groups

        changed = False
        if m.base in ("bfp8", "bfp8-acc32"):
            changed |= self._weights(gm, "bfp8").modified
        if m.relaxed in ("bfp8", "bfp8-lofi"):
            changed |= self._weights(gm, m.relaxed, select=inside).modified
        if m.base.endswith("-acc32"):
            fidelity = self.ttnn.MathFidelity.HiFi2 if m.base == "bfp8-acc32" else self.ttnn.MathFidelity.HiFi4
            changed |= self._accurate(gm, fidelity, select=lambda n: not inside(n)).modified
        return PassResult(gm, changed)

    def _weights(self, gm, level: str, select=None) -> PassResult:
        """`level`'s weight format (and LoFi) on the products (those `select` accepts; with a selection, the
        convolutions are left alone)."""
        ttnn = self.ttnn
        dtype = ttnn.bfloat4_b if level == "bfp4" else ttnn.bfloat8_b
        lofi = level in ("bfp8-lofi", "bfp4")
        cfg_node = None
        for n in list(gm.graph.nodes):
            if not _is_product(n) or (select is not None and not select(n)):
                continue
            w = _loaded_weight(n, ttnn.TILE_LAYOUT)
            if w is None:
                continue
            if w.args[2] != dtype:
                w.args = (w.args[0], w.args[1], dtype, *w.args[3:])
                self.converted += 1
            if lofi and "compute_kernel_config" not in n.kwargs:
                if cfg_node is None:
                    cfg_node = constant(gm, "ttnn_lofi_config", ttnn.WormholeComputeKernelConfig(
                        math_fidelity=ttnn.MathFidelity.LoFi, math_approx_mode=False, fp32_dest_acc_en=False,
                        packer_l1_acc=False))
                n.kwargs = {**n.kwargs, "compute_kernel_config": cfg_node}
        conv_changed = self._convs(gm, lofi) if select is None else 0
        return PassResult(gm, bool(self.converted or cfg_node is not None or conv_changed))

    def _accurate(self, gm, fidelity, select=None) -> PassResult:
        """An fp32 Dst on every matrix product (those `select` accepts), with `fidelity` where the product has no
        compute config yet; a product that already has one keeps its fidelity and gets the fp32 Dst."""
        ttnn = self.ttnn
        default = fidelity

        def config(fidelity=default, approx=False):
            return ttnn.WormholeComputeKernelConfig(math_fidelity=fidelity, math_approx_mode=approx,
                                                    fp32_dest_acc_en=True, packer_l1_acc=False)

        changed = 0
        for n in list(gm.graph.nodes):
            name = getattr(n.target, "__name__", None) if n.op == "call_function" else None
            if name not in ("linear", "matmul", "conv2d", "conv1d") or (select is not None and not select(n)):
                continue
            key = ttnn_ops.info(name).kernel_config
            old = n.kwargs.get(key)
            if old is None:
                node = constant(gm, f"ttnn_acc32_{default.name.lower()}_config", config())
            elif isinstance(old, torch.fx.Node) and old.op == "get_attr":
                cfg = getattr(gm, old.target)
                if getattr(cfg, "fp32_dest_acc_en", False):
                    continue
                node = constant(gm, f"{old.target}_acc32",
                                   config(cfg.math_fidelity, getattr(cfg, "math_approx_mode", False)))
            else:
                continue    # a config computed in the graph: left as the lowering chose it
            n.kwargs = {**n.kwargs, key: node}
            changed += 1
        self.converted += changed
        return PassResult(gm, bool(changed))

    def _conv_activations(self, gm) -> bool:
        """conv2d outputs in bfloat8_b where every op the value reaches (through ops that keep their input's
        dtype) takes a bfloat8_b TILE input; every conv2d gets an explicit dtype."""
        ttnn = self.ttnn

        def name(n):
            return getattr(n.target, "__name__", None) if n.op == "call_function" else None

        def takes_bfp8(op: str) -> bool:    # the dtypes the op documents (data movement documents none)
            dtypes = ttnn_ops.caps().get(op, {}).get("dtypes")
            return dtypes is None or "BFLOAT8_B" in dtypes

        def reaches_only_bfp8_takers(conv) -> bool:
            todo, seen = [conv], set()
            while todo:
                v = todo.pop()
                for u in v.users:
                    if u in seen:
                        continue
                    seen.add(u)
                    un = name(u)
                    if un in _TAKES_BFP8:
                        continue
                    if un in _KEEPS_DTYPE and u.kwargs.get("dtype") is None and takes_bfp8(un):
                        todo.append(u)      # (as a second operand the output follows the first: no worse)
                        continue
                    return False
            return True

        convs = [n for n in gm.graph.nodes if name(n) == "conv2d" and n.kwargs.get("dtype") is None]
        if not convs:
            return False
        for n in convs:
            fast = reaches_only_bfp8_takers(n)
            n.kwargs = {**n.kwargs, "dtype": ttnn.bfloat8_b if fast else ttnn.bfloat16}
            meta = n.meta.get(TT)
            if fast and meta is not None:
                n.meta[TT] = dataclasses.replace(meta, dtype=ttnn.bfloat8_b)
            self.converted += int(fast)
            if fast and self.report is not None:
                self.report.bfp8_activations += 1
        # the ops a bfloat8_b value flows through (output in their first input's dtype) say so in their meta too:
        # the placement sizes their buffers by it
        for n in gm.graph.nodes:
            meta, src = n.meta.get(TT), n.args[0] if n.args else None
            if name(n) in _KEEPS_DTYPE and n.kwargs.get("dtype") is None and meta is not None \
                    and isinstance(src, torch.fx.Node) and src.meta.get(TT) is not None \
                    and src.meta[TT].dtype == ttnn.bfloat8_b and meta.layout == ttnn.TILE_LAYOUT:
                n.meta[TT] = dataclasses.replace(meta, dtype=ttnn.bfloat8_b)
        return True

    def _convs(self, gm, lofi: bool) -> int:
        """conv2d/conv1d whose weights come from prepare_conv_weights of a parameter: block-float weights."""
        ttnn = self.ttnn
        changed = 0
        for n in list(gm.graph.nodes):
            if not (n.op == "call_function" and getattr(n.target, "__name__", None) in ("conv2d", "conv1d")):
                continue
            w, b = n.kwargs.get("weight_tensor"), n.kwargs.get("bias_tensor")
            preps = [x for x in (w, b) if isinstance(x, torch.fx.Node)]
            if (not isinstance(w, torch.fx.Node) or w.op != "call_method" or w.target != "derive"
                    or any(x.op != "call_method" or x.target != "derive" or len(x.users) != 1 for x in preps)):
                continue
            old = n.kwargs.get("conv_config")
            if old is None:
                cfg = constant(gm, "ttnn_conv_bfp8_config", ttnn.Conv2dConfig(weights_dtype=ttnn.bfloat8_b))
            elif isinstance(old, torch.fx.Node) and old.op == "get_attr" and \
                    getattr(gm, old.target).weights_dtype is None:
                # a fused activation's config: the same config with block-float weights (TT-NN wants the one
                # config for the weights' preparation and the conv)
                base = getattr(gm, old.target)
                cfg = constant(gm, f"{old.target}_bfp8", ttnn.Conv2dConfig(
                    weights_dtype=ttnn.bfloat8_b, activation=base.activation))
            else:
                continue
            for x in preps:
                x.kwargs = {**x.kwargs, "conv_config": cfg}
            extra = {"conv_config": cfg}
            if lofi and "compute_config" not in n.kwargs:
                extra["compute_config"] = constant(gm, "ttnn_lofi_config", ttnn.WormholeComputeKernelConfig(
                    math_fidelity=ttnn.MathFidelity.LoFi, math_approx_mode=False, fp32_dest_acc_en=False,
                    packer_l1_acc=False))
            n.kwargs = {**n.kwargs, **extra}
            changed += 1
        return changed
