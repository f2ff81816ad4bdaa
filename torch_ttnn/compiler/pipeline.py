"""The pass pipeline that turns one aten graph into a TT-NN program."""
from __future__ import annotations

import logging
import os
from typing import Optional

import torch
import torch.fx

from .meta import ATEN, TT, saved_for_backward
from .passes.base import PassManager
from .passes.cleanup import CommonSubexpressionElimination, DeadCodeElimination
from .passes.constant_folding import ConstantFolding, FoldConvBatchNorm
from .passes.conversions import InsertConversions
from .passes.deallocate import Deallocate
from .passes.empty_results import FoldEmptyResults
from .passes.param_cache import CacheParamDerived
from .passes.index_put import IndexPutAsScatter
from .passes.layout import ChannelsLastLayout
from .passes.lower import LowerToTTNN
from .passes.training import TrainingPrecision
from .passes.upsample import RecognizeUpsample
from .passes.unit_rows import FoldUnitRows
from .passes.views import CanonicalViews, SinkPermutes
from .program import BoxedProgram, copy_aten, record_program
from .report import GraphReport

log = logging.getLogger("torch_ttnn")


def build_passes(option, ttnn, report: GraphReport, static_inputs, device, precision="bf16") -> list:
    from .passes import fusion
    passes = [DeadCodeElimination(), CommonSubexpressionElimination(), FoldEmptyResults(), RecognizeUpsample(),
              IndexPutAsScatter()]
    if option.fusions and report.kind == "inference":
        passes += [FoldConvBatchNorm(static_inputs)]
    from .passes.wide_conv import WideConvAsMatmul
    passes += [WideConvAsMatmul(device, precision, fp32=bool(getattr(option, "fp32", False)))]
    if option.fusions:
        passes += fusion.aten_fusions(option)
        passes += [CanonicalViews(), SinkPermutes(), FoldUnitRows(), CanonicalViews()]
        passes += fusion.head_fusions(static_inputs, report.kind == "inference")
    if option.load_params_once:
        passes += [ConstantFolding(static_inputs, report, contents=option.param_check == "contents")]
    from .passes.int_range import IntOverflowGuard
    passes += [IntOverflowGuard(static_inputs), LowerToTTNN(ttnn, option, report, device, static_inputs)]
    passes += [ChannelsLastLayout(ttnn)]
    if option.fusions:
        passes += fusion.ttnn_fusions(ttnn, option)
    if report.kind in ("forward", "backward"):   # a training step (aot_autograd's joint graph, split)
        passes += [TrainingPrecision(ttnn)]
    passes += [InsertConversions(ttnn, report, param_check=option.param_check,
                            saved_on_device=option.saved_on_device and not getattr(device, "is_mesh", False))]
    if option.load_params_once:
        passes += [CacheParamDerived(ttnn)]
    if option.optimize:
        from .passes.pool_input import PoolReadsTiles
        passes += [PoolReadsTiles(ttnn)]
    if option.optimize and report.kind == "inference" and not getattr(device, "is_mesh", False):
        from .passes.device_state import DeviceState
        passes += [DeviceState(ttnn)]
    passes += [DeadCodeElimination()]
    if option.deallocate:
        passes += [Deallocate(ttnn)]
    for p in passes:
        if getattr(p, "report", None) is None:
            p.report = report
    return passes


_aten = torch.ops.aten
# ops that return a view of their input in eager (never a copy): an output made by them from another output is
# rebuilt on the host as that view, so that the two outputs alias as they do in eager
_ALIASING_VIEWS = {_aten.view.default, _aten.permute.default, _aten.transpose.int, _aten.t.default,
                   _aten.unsqueeze.default, _aten.squeeze.dim, _aten.squeeze.dims, _aten.squeeze.default,
                   _aten.select.int, _aten.slice.Tensor, _aten.expand.default, _aten.alias.default,
                   _aten.unflatten.int, _aten.diagonal.default}


def output_aliases(agm: torch.fx.GraphModule) -> list:
    """[(k, j, [(op, args), ...])]: output k is a chain of view ops applied to output j. Values a training
    forward saves for its backward are not rebuilt (nothing outside autograd sees them alias; a device value
    among them is handed over as a ticket, passes/conversions.py)."""
    out = next(n for n in agm.graph.nodes if n.op == "output")
    outs = out.args[0] if isinstance(out.args[0], (list, tuple)) else [out.args[0]]
    saved = {k for k, s in enumerate(saved_for_backward(out)) if s}
    position = {}
    for j, o in enumerate(outs):
        if isinstance(o, torch.fx.Node) and j not in saved:
            position.setdefault(o, j)
    found = []
    for k, o in enumerate(outs):
        if k in saved:
            continue
        chain, n = [], o
        while (isinstance(n, torch.fx.Node) and n.op == "call_function" and n.target in _ALIASING_VIEWS
               and n.args and isinstance(n.args[0], torch.fx.Node) and not n.kwargs
               and not any(isinstance(a, torch.fx.Node) for a in n.args[1:])):
            chain.append((n.target, tuple(n.args[1:])))
            n = n.args[0]
            j = position.get(n)
            if j is not None and j != k:
                found.append((k, j, list(reversed(chain))))
                break
    return found


class CompiledGraph(BoxedProgram):
    """Runs a lowered GraphModule; what aot_autograd calls."""

    def __init__(self, gm: torch.fx.GraphModule, report: GraphReport, option, tracer=None, aliases=()):
        super().__init__()
        self.gm = gm
        self.report = report
        self.option = option
        self.tracer = tracer     # a TraceRunner (trace.py) when the program is replayed from a trace
        self.aliases = list(aliases)

    def run(self, args):
        self.option.results.calls += 1
        outs = self.tracer.run(args) if self.tracer is not None else self.gm(*args)
        if self.aliases and isinstance(outs, (list, tuple)):
            outs = list(outs)
            for k, j, chain in self.aliases:      # eager's aliasing between outputs, rebuilt on the host
                t = outs[j]
                if isinstance(t, torch.Tensor):
                    for op, op_args in chain:
                        t = op(t, *op_args)
                    outs[k] = t
        return outs


def compile_graph(agm: torch.fx.GraphModule, *, option, ttnn, kind: str, static_inputs):
    """The TT-NN program of one aten graph (a CompiledGraph); for a graph with symbolic shapes, a
    SpecializingGraph that compiles one program per concrete call signature (specialize.py); for an inference
    graph under precision="auto", a PrecisionSearch that picks the weight precision on the first call
    (precision.py)."""
    from .specialize import SpecializingGraph, is_symbolic
    if not option.fp32:   # while aot_autograd's metadata is at hand (the search compiles later)
        from .passes.state import KeepStateDtype
        KeepStateDtype()(agm)
        if kind in ("forward", "backward"):
            from .passes.training import mark_float32_ops
            mark_float32_ops(agm)
    if option.optimize and kind == "inference":
        from .passes.device_state import mark_state_inputs
        mark_state_inputs(agm, static_inputs)
    from .parallel import DataParallelGraph, is_data_parallel
    from .program import record_parallel
    auto_static = option.parallel == "auto" and kind == "inference" and not is_symbolic(agm)
    if getattr(option.device_in_use, "is_mesh", False) and (option.parallel == "tensor" or auto_static):
        # parallel="auto" with static shapes (the batch cannot be split): tensor parallel where it is faster
        from .tensor_parallel import TensorParallelGraph
        return TensorParallelGraph(agm, option=option, kind=kind, static_inputs=static_inputs,
                                   build=lambda g, plan, ref: _compile_static_graph(
                                       g, option=option, ttnn=ttnn, kind=kind,
                                       static_inputs=set(static_inputs) | set(plan.get("extra_static", ())),
                                       parallel=plan, reference=ref), choose=auto_static)
    if is_data_parallel(option, kind):
        if is_symbolic(agm):
            return DataParallelGraph(agm, option=option, kind=kind, static_inputs=static_inputs,
                                     build=lambda g, plan, ref: _compile_static_graph(
                                         g, option=option, ttnn=ttnn, kind=kind, static_inputs=static_inputs,
                                         parallel=plan, reference=ref))
        reason = ("the graph was captured with static shapes (its batch size is baked into reshapes): compile "
                  "with torch.compile(..., dynamic=True) or torch._dynamo.mark_dynamic(x, 0) to split the batch")
        plan = {"mode": "replicated", "reason": reason}
        log.warning("torch_ttnn: %s graph not split over the %d chips of the mesh (%s); every chip runs it whole",
                    kind, option.device_in_use.get_num_devices(), reason)
        record_parallel(option, len(option.results.reports), kind, reason)
        return _compile_static_graph(agm, option=option, ttnn=ttnn, kind=kind, static_inputs=static_inputs,
                                     parallel=plan)
    if is_symbolic(agm):
        def compile_specialized(sgm):
            return compile_graph(sgm, option=option, ttnn=ttnn, kind=kind, static_inputs=static_inputs)
        return SpecializingGraph(agm, option=option, kind=kind, static_inputs=static_inputs,
                                 compile_fn=compile_specialized)
    return _compile_static_graph(agm, option=option, ttnn=ttnn, kind=kind, static_inputs=static_inputs)


def _compile_static_graph(agm, *, option, ttnn, kind: str, static_inputs, parallel=None, reference=None):
    """A static graph's program: the precision/placement search where it applies, else one compilation."""
    from .precision import PrecisionSearch, levels_for, placement_for
    levels = levels_for(option, kind, agm, static_inputs)
    l1 = placement_for(option, kind)
    if parallel is not None and parallel["mode"] in ("data", "tensor") and reference is None:
        levels = ("bf16",)                 # the search's reference must be of the whole batch
    if len(levels) > 1 or l1:
        return PrecisionSearch(agm, levels, l1=l1, option=option, reference=reference,
                               compile_fn=lambda g, level, on_l1: compile_static(
                                   g, option=option, ttnn=ttnn, kind=kind, static_inputs=static_inputs,
                                   precision=level, l1=on_l1, parallel=parallel))
    return compile_static(agm, option=option, ttnn=ttnn, kind=kind, static_inputs=static_inputs,
                          precision=levels[0], record=True, parallel=parallel)


def _graphviz_root(option) -> str:
    """Where gen_graphviz writes: metrics_path, else a temporary folder (never ./metrics, which collides with
    the repository's committed metrics when run from its root); said once in the log."""
    if option.metrics_path:
        return option.metrics_path
    if getattr(option, "_graphviz_tmp", None) is None:
        import tempfile
        option._graphviz_tmp = tempfile.mkdtemp(prefix="torch-ttnn-graphviz-")
        log.warning("torch_ttnn: gen_graphviz writes the graphs under %s (set metrics_path to choose)",
                    option._graphviz_tmp)
    return option._graphviz_tmp


def compile_static(agm: torch.fx.GraphModule, *, option, ttnn, kind: str, static_inputs, precision: str = "bf16",
                   l1: bool = False, record: bool = False, parallel: Optional[dict] = None) -> "CompiledGraph":
    """Run the pass pipeline on a static aten graph (modified in place: pass a copy to keep it)."""
    report = GraphReport(kind)
    from .passes.cleanup import RANDOM_OPS
    random_ops = any(n.op == "call_function" and n.target in RANDOM_OPS for n in agm.graph.nodes)
    for n in agm.graph.nodes:
        if n.op == "call_function" and isinstance(n.target, torch._ops.OpOverload):
            report.captured_ops[str(n.target)] += 1
    kept: list = []   # the aten graph entering lowering, for the tools (export --accuracy runs it)
    index = len(option.results.graphs)
    after_each = None
    if option.gen_graphviz:
        from ..tools.graphviz import write_pass_svg
        out = os.path.join(_graphviz_root(option), "graphviz")

        def after_each(pass_name, gm):
            write_pass_svg(gm, out, f"graph{index}_{kind}", pass_name)

        after_each("aten", agm)
    lowering_option = option
    if precision == "fp32":     # values kept in float32 wherever TT-NN supports it, for this program only
        import copy
        lowering_option = copy.copy(option)
        lowering_option.fp32 = True
    passes = build_passes(lowering_option, ttnn, report, static_inputs, option.device_in_use, precision)
    if precision not in ("bf16", "fp32"):
        from .passes.precision import WeightPrecision
        # after the parameter preparation is cached (conv weights are prepared through ParamCache.derive)
        anchor = [i for i, p in enumerate(passes) if isinstance(p, (InsertConversions, CacheParamDerived))][-1]
        weights = WeightPrecision(ttnn, precision)
        weights.report = report
        passes.insert(anchor + 1, weights)
    from .passes.placement import L1Placement
    if option.optimize and l1 and parallel is None:     # layouts by modelled time, then placed in their shards
        from .passes.conv_layout import ConvLayouts
        passes.append(ConvLayouts(ttnn, option.device_in_use, report))
    # activations in L1 where they fit, or all in DRAM (budget 0); either way each op's circular buffers fitted
    passes.append(L1Placement(ttnn, option.device_in_use, budget=None if l1 else 0.0))
    if option.optimize and parallel is None:     # after placement: a config depends on where operands live
        from .passes.matmul_config import MatmulProgramConfigs
        passes.append(MatmulProgramConfigs(ttnn, option.device_in_use, report))
    if parallel is not None:     # last: the reads it rewrites must stay each value's last use for Deallocate
        from .parallel import DataParallel
        passes.append(DataParallel(ttnn, option.device_in_use, parallel))
    before_lower = next((repr(passes[i - 1]) for i, p in enumerate(passes)
                         if isinstance(p, LowerToTTNN) and i > 0), None)

    def after(pass_name, gm):
        if pass_name == before_lower:
            kept.append(copy_aten(gm))
        if after_each is not None:
            after_each(pass_name, gm)

    import time
    from .collector import quiet_collector
    t0 = time.perf_counter()
    with quiet_collector():
        gm = PassManager(passes, after)(agm)
    option.results.pass_seconds += time.perf_counter() - t0
    for n in gm.graph.nodes:
        if n.op == "call_function" and TT in n.meta and n.meta.get(ATEN) is not None:
            report.ttnn_ops[getattr(n.target, "__name__", str(n.target))] += 1
    report.precision = str(precision)
    report.placement = "l1" if l1 and any(getattr(p, "placed", 0) for p in passes) else "dram"
    report.l1_spilled = sum(getattr(p, "spilled", 0) for p in passes)
    from .trace import plan_for
    tracer = plan_for(gm, option=option, ttnn=ttnn, report=report, random_ops=random_ops,
                      static_inputs=static_inputs)
    gm.trace_runner = tracer
    compiled = CompiledGraph(gm, report, option, tracer, aliases=output_aliases(kept[-1]) if kept else ())
    compiled.aten = kept[-1] if kept else None
    from .. import runtime
    runtime.release_when_collected(compiled, gm)   # dynamo drops it: its device copies of parameters go too
    if record:
        record_program(option, compiled)
    return compiled
