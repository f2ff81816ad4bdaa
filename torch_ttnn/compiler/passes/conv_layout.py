"""Convolution layouts: each conv2d sharded the way of least modelled time, where that beats TT-NN's own choice.

Called without `conv_config.shard_layout`, TT-NN picks a convolution's layout by the shape of its implicit GEMM
(torch_ttnn/conv_rules.py auto_layout, after conv2d's determine_parallel_config): height sharding when the
output has many more pixels than channels, block sharding otherwise, width sharding for very few pixels. The
rule ignores where the time goes: on ResNet-50 at batch 16 the 3x3 convolutions of the third stage (3,136
pixels, 256 channels) get block sharding, whose cores each receive their row's whole activation window
(13 tile rows x 72 K tiles) over the NoC, where height sharding sends each core all the weights (8 x 72 tiles
of bfloat8_b) and keeps its activations local: the model gives 35 us against 71 us.

This pass times each of TT-NN's three layouts for every conv2d without an explicit one with the simulator's
performance model (`device.estimate_op_us`, the cost rule a launch is charged with), its input and output in
L1 shards of that layout (the placement pass writes a convolution's input in the shards its reader runs with,
passes/placement.py), and sets `conv_config.shard_layout` (and the weight and bias preparations' config,
which lay the weights out for it) to the fastest when it beats TT-NN's choice by MIN_GAIN. A layout is a
candidate only if its blocks of one tile row fit the L1 a core keeps beside the placement's budget; the
placement pass then sizes the activation block to the room each convolution really has, and the simulator
refuses any launch whose circular buffers do not fit. On a real device, which offers no model, the pass leaves
TT-NN's choice. Each decision is in the compile report (`conv_layouts`: node, layout, modelled us of TT-NN's
choice and of the chosen one).
"""
from __future__ import annotations

import hashlib
import logging

import torch
import torch.fx

from ..meta import node_val, tt_meta
from .base import Pass, PassResult, chip_geometry, constant
from .placement import CONV_MARGIN, PLACEMENT_BUDGET, _conv_plan, _with_act_block_h, conv_need, set_conv_config

log = logging.getLogger("torch_ttnn")

MIN_GAIN = 0.01         # keep TT-NN's layout unless another is at least 1% faster
LAYOUTS = ("HEIGHT_SHARDED", "BLOCK_SHARDED", "WIDTH_SHARDED")


class ConvLayouts(Pass):
    name = "conv_layouts"
    needs = ("insert_conversions",)
    after = ("weight_precision",)       # the weights' format sets their bytes on the NoC

    def __init__(self, ttnn, device, report=None):
        self.ttnn = ttnn
        chip, self.grid, stats = chip_geometry(device)
        # the L1 a core keeps for circular buffers when the placement fills its budget
        self.room = int(stats["bank_size"] * (1 - PLACEMENT_BUDGET)) - CONV_MARGIN if stats else 0
        self.model = getattr(chip, "estimate_op_us", None)
        self.chosen: list = report.conv_layouts if report is not None else []

    def call(self, gm: torch.fx.GraphModule) -> PassResult:
        if self.model is None or self.grid is None or self.room <= 0:
            return PassResult(gm, False)
        changed = False
        for n in list(gm.graph.nodes):
            if n.op == "call_function" and getattr(n.target, "__name__", "") == "conv2d":
                changed |= self._choose(gm, n)
        return PassResult(gm, changed)

    def _choose(self, gm, n) -> bool:
        ttnn = self.ttnn
        kw = n.kwargs
        cfg_node = kw.get("conv_config")
        if cfg_node is not None and not (isinstance(cfg_node, torch.fx.Node) and cfg_node.op == "get_attr"):
            return False
        cfg = getattr(gm, cfg_node.target) if cfg_node is not None else None
        if getattr(cfg, "shard_layout", None) is not None or int(getattr(cfg, "act_block_h_override", 0) or 0):
            return False            # the user's layout or blocks
        if any(kw.get(k) is not None for k in ("memory_config", "slice_config")):
            return False
        x, w, b = kw.get("input_tensor"), kw.get("weight_tensor"), kw.get("bias_tensor")
        specs = [self._spec(v) for v in (x, w, n)]
        if None in specs or (b is not None and self._spec(b) is None):
            return False
        if getattr(cfg, "weights_dtype", None) is not None:     # the format the weights are prepared in
            specs[1] = (specs[1][0], cfg.weights_dtype, *specs[1][2:])
        auto = _conv_plan(gm, kw, self.grid)
        if auto is None:
            return False
        need = conv_need(ttnn, gm, n, auto)
        if need is None:
            return False
        params = {k: v for k, v in kw.items() if k not in ("input_tensor", "weight_tensor", "bias_tensor",
                                                            "device", "conv_config", "compute_config")}
        ckc = kw.get("compute_config")
        if isinstance(ckc, torch.fx.Node):
            if ckc.op != "get_attr":
                return False
            params["compute_config"] = getattr(gm, ckc.target)

        def us(plan, layout):
            cores = plan.split.cores
            xs, ws, os_ = specs
            extra = {"bias_tensor": self._spec(b)} if b is not None else {}
            return self.model("conv2d", input_tensor=(*xs[:3], "L1", cores), weight_tensor=ws, device=None,
                              conv_config=_with_act_block_h(ttnn, cfg, 0, layout), outputs=[(*os_[:3], "L1", cores)],
                              **extra, **params)
        try:
            default = us(auto, None)
        except Exception:       # arguments the model cannot describe: TT-NN's choice stands
            return False
        best = (default, None)
        for name in LAYOUTS:
            layout = getattr(ttnn.TensorMemoryLayout, name)
            plan = _conv_plan(gm, kw, self.grid, layout)
            if plan is None or plan.layout == auto.layout or need(1, plan) > self.room:
                continue
            try:
                t = us(plan, layout)
            except Exception:
                continue
            if t < best[0]:
                best = (t, layout)
        t, layout = best
        if layout is None or t > default * (1 - MIN_GAIN):
            return False
        key = hashlib.sha1(repr((layout.name, cfg_node.target if cfg_node is not None else None))
                           .encode()).hexdigest()[:10]
        set_conv_config(n, constant(gm, f"ttnn_conv_layout_{key}", _with_act_block_h(ttnn, cfg, 0, layout)))
        self.chosen.append((n.name, layout.name, round(default, 2), round(t, 2)))
        log.debug("conv2d layout for %s: %s (modelled %.1f -> %.1f us)", n.name, layout.name, default, t)
        return True

    def _spec(self, node):
        """(shape, dtype, layout, buffer) of a device tensor node, None otherwise."""
        v, meta = node_val(node), tt_meta(node)
        if not isinstance(v, torch.Tensor) or meta is None or not meta.on_device:
            return None
        return tuple(int(d) for d in v.shape), meta.dtype, meta.layout, "DRAM"
