"""The pass pipeline that turns one aten graph into a TT-NN program."""
from __future__ import annotations

import logging
import os

import torch
import torch.fx

from .passes.base import PassManager
from .passes.cleanup import CommonSubexpressionElimination, DeadCodeElimination
from .passes.constant_folding import ConstantFolding, FoldConvBatchNorm
from .passes.data_movement import DataMovement
from .passes.deallocate import Deallocate
from .passes.layout import ChannelsLastLayout
from .passes.lower import LowerToTTNN
from .passes.upsample import RecognizeUpsample
from .report import GraphReport

log = logging.getLogger("torch_ttnn")


def build_passes(option, ttnn, report: GraphReport, static_inputs, device) -> list:
    from .passes import fusion
    passes = [DeadCodeElimination(), CommonSubexpressionElimination(), RecognizeUpsample()]
    if option.fusions:
        if report.kind == "inference":
            passes += [FoldConvBatchNorm(static_inputs)]
        passes += fusion.aten_fusions(option)
    if option.load_params_once:
        passes += [ConstantFolding(static_inputs, report)]
    passes += [LowerToTTNN(ttnn, option, report, device, static_inputs)]
    passes += [ChannelsLastLayout(ttnn)]
    if option.fusions:
        passes += fusion.ttnn_fusions(ttnn, option)
    passes += [DataMovement(ttnn, report), DeadCodeElimination()]
    if option.deallocate:
        passes += [Deallocate(ttnn)]
    return passes


class CompiledGraph:
    """Runs a lowered GraphModule; what aot_autograd calls."""

    def __init__(self, gm: torch.fx.GraphModule, report: GraphReport, option):
        self.gm = gm
        self.report = report
        self.option = option

    def __call__(self, *args):
        self.option.results.calls += 1
        return self.gm(*args)


def _copy_aten(agm: torch.fx.GraphModule) -> torch.fx.GraphModule:
    """The aten graph as it came from aot_autograd, before the passes change it. Node metas are shallow
    copies: a lowered node's meta["val"] is the very object of the aten node it stands for."""
    g = torch.fx.Graph()
    g.output(g.graph_copy(agm.graph, {}))
    return torch.fx.GraphModule(agm, g)


def compile_graph(agm: torch.fx.GraphModule, *, option, ttnn, kind: str, static_inputs) -> CompiledGraph:
    report = GraphReport(kind)
    aten_gm = _copy_aten(agm)   # kept for the tools (export --accuracy runs it as the reference)
    index = len(option.results.graphs)
    after_each = None
    if option.gen_graphviz:
        from ..tools.graphviz import write_pass_svg
        out = os.path.join(option.metrics_path or "metrics", "graphviz")

        def after_each(pass_name, gm):
            write_pass_svg(gm, out, f"graph{index}_{kind}", pass_name)

        after_each("aten", agm)
    gm = PassManager(build_passes(option, ttnn, report, static_inputs, option.device), after_each)(agm)
    for n in gm.graph.nodes:
        if n.op == "call_function" and "tt" in n.meta and n.meta.get("aten") is not None:
            report.ttnn_ops[getattr(n.target, "__name__", str(n.target))] += 1
    option.results.graphs.append(gm.graph)
    option.results.graph_modules.append(gm)
    option.results.reports.append(report)
    if not hasattr(option.results, "aten_graph_modules"):
        option.results.aten_graph_modules = []   # aligned with graph_modules
    option.results.aten_graph_modules.append(aten_gm)
    return CompiledGraph(gm, report, option)
