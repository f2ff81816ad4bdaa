"""Data parallelism over the chips of a mesh: `TorchTtnnOption(mesh=..., parallel="data")`.

Each chip runs the same TT-NN program on its slice of the batch; the weights are replicated once on every chip
(the parameter cache uploads them to the MeshDevice, which replicates); the inputs are split on the host with
`ttnn.ShardTensorToMesh(mesh, dim=0)` and the outputs joined with `ttnn.ConcatMeshToTensor(mesh, dim=0)`: the
distribution API of TT-NN itself, so the program runs unchanged on a real mesh.

Which dims are "the batch": the graph must have been captured with a symbolic batch size (torch.compile(...,
dynamic=True), or torch._dynamo.mark_dynamic(x, 0), or a second call with another batch size), because a
program for 1/N of the batch needs every batch-sized literal of the graph (reshapes, expands) re-derived, which
only a symbolic graph allows (it is specialised to the per-chip shapes, specialize.py). The batch symbol is dim 0
of the first input that is not a parameter; the inputs and outputs whose dim 0 is that symbol are split and
joined, every other input is replicated.

Before a split program is built, the graph is checked on the host: running it on each per-chip slice and
joining the results must give what the whole batch gives (a graph that reduces over the batch, normalises
across it or mixes samples is refused), and every output that is not batch-major must be the same on every
slice. A graph that fails a check, a batch that does not divide by the chips, or a graph with static shapes runs
*replicated*: every chip runs the whole batch (correct, no speed-up), and `option.results.parallel` and the log
say why. Trace capture is not simulated on meshes: programs run dispatched.
"""
from __future__ import annotations

import logging
import operator
from typing import Optional

import torch
import torch.fx

from .passes.base import Pass, PassResult, constant
from .program import NotSplittable, record_parallel as record  # noqa: F401  (callers name them here too)
from .specialize import SpecializingGraph, specialize

log = logging.getLogger("torch_ttnn")


def is_data_parallel(option, kind: str) -> bool:
    return getattr(option.device_in_use, "is_mesh", False) and option.parallel in ("auto", "data")


def _dim0_symbol(n) -> Optional[str]:
    """The symbol of dim 0 of a node's tensor value, if that size is symbolic."""
    v = n.meta.get("val") if isinstance(n, torch.fx.Node) else None
    if isinstance(v, torch.Tensor) and v.dim() > 0 and isinstance(v.shape[0], torch.SymInt):
        return str(v.shape[0])
    return None


def batch_layout(agm: torch.fx.GraphModule, static_inputs) -> tuple[Optional[str], list, list]:
    """(batch symbol, indices of batch-major inputs, positions of batch-major outputs) of a symbolic graph."""
    inputs = [(i, p) for i, p in enumerate(n for n in agm.graph.nodes if n.op == "placeholder")
              if i not in static_inputs]
    symbol = next((s for _, p in inputs if (s := _dim0_symbol(p)) is not None), None)
    if symbol is None:
        return None, [], []
    batch_in = [i for i, p in inputs if _dim0_symbol(p) == symbol]
    out = next(n for n in agm.graph.nodes if n.op == "output")
    batch_out = [k for k, o in enumerate(_flat(out.args[0])) if _dim0_symbol(o) == symbol]
    return symbol, batch_in, batch_out


def _flat(outs) -> list:
    return list(outs) if isinstance(outs, (list, tuple)) else [outs]


def _close(a: torch.Tensor, b: torch.Tensor) -> bool:
    if a.shape != b.shape or a.dtype != b.dtype:
        return False
    if not a.is_floating_point():
        return torch.equal(a, b)
    scale = float(b.abs().max()) if b.numel() else 0.0
    return bool(((a - b).abs() <= 1e-4 * scale + 1e-6).all()) if b.numel() else True


class DataParallelGraph(SpecializingGraph):
    """What aot_autograd calls for a symbolic inference graph on a mesh: one program per call signature, built
    for 1/N of the batch when the graph allows it, else for the whole batch on every chip."""

    def __init__(self, agm, *, option, kind, static_inputs, build):
        super().__init__(agm, option=option, kind=kind, static_inputs=static_inputs, compile_fn=None)
        self.buckets = None
        self.build = build            # (static graph, plan, reference) -> program
        self.chips = option.device_in_use.get_num_devices()
        self.symbol, self.batch_in, self.batch_out = batch_layout(agm, static_inputs)
        # size arguments dynamo passes as inputs: those that are the batch size get the per-chip size
        self.batch_sizes = [i for i, n in enumerate(p for p in agm.graph.nodes if p.op == "placeholder")
                            if isinstance(n.meta.get("val"), torch.SymInt) and str(n.meta["val"]) == self.symbol]

    def _chunk(self, args, k: int) -> list:
        b = args[self.batch_in[0]].shape[0] // self.chips
        return [a[k * b:(k + 1) * b] if i in self.batch_in else b if i in self.batch_sizes else a
                for i, a in enumerate(args)]

    def _refusal(self, args) -> tuple[Optional[str], object, dict]:
        """Why this call cannot be split (None: it can), the whole-batch reference outputs, and how each output
        is joined: "batch" (concatenated), "same" (every chip holds it: the first chip's), "sum" (each chip
        holds a partial sum over its slice, e.g. a weight gradient: all-reduced)."""
        if not self.batch_in:
            return "no input has a symbolic batch size (dim 0)", None, {}
        B = args[self.batch_in[0]].shape[0]
        if B % self.chips:
            return f"the batch ({B}) does not divide by the {self.chips} chips", None, {}
        with torch.no_grad():
            full = _flat(self.agm(*args))
            parts = [_flat(self.agm(*self._chunk(args, k))) for k in range(self.chips)]
        joins = {}
        for k, f in enumerate(full):
            if not isinstance(f, torch.Tensor):
                continue
            col = [p[k] for p in parts]
            if k in self.batch_out:
                if _close(torch.cat(col, 0), f):
                    joins[k] = "batch"
                    continue
                return (f"output {k} (batch-major) computed per slice of the batch differs from the whole batch's: "
                        f"the graph mixes samples (a reduction or normalisation over the batch)", full, {})
            if all(_close(c, f) for c in col):
                joins[k] = "same"
            elif f.is_floating_point() and f.dim() >= 1 and _close(torch.stack(col).sum(0), f):
                joins[k] = "sum"
            else:
                return (f"output {k} is not batch-major and is neither the same on every slice nor their sum "
                        f"(e.g. a mean over the batch)", full, {})
        return None, full, joins

    def _build(self, args):
        reason, full, joins = self._refusal(args)
        index = len(self.option.results.reports)
        if reason is None:
            static = specialize(self.agm, self._chunk(args, 0))
            plan = {"mode": "data", "batch_inputs": list(self.batch_in), "outputs": joins}
            try:
                prog = self.build(static, plan, (lambda a, ref=full: ref) if self.kind == "inference" else None)
            except NotSplittable as e:
                reason = str(e)
        if reason is None:
            log.info("torch_ttnn: graph %d: data parallel over %d chips (batch %d, %d a chip)", self.id,
                     self.chips, args[self.batch_in[0]].shape[0], args[self.batch_in[0]].shape[0] // self.chips)
        else:
            log.warning("torch_ttnn: graph %d: not split over the %d chips (%s); every chip runs the whole batch",
                        self.id, self.chips, reason)
            prog = self.build(specialize(self.agm, args), {"mode": "replicated", "reason": reason}, None)
        record(self.option, index, self.kind, reason, batch=args[self.batch_in[0]].shape[0] if self.batch_in
               else None, all_reduced=sorted(k for k, j in joins.items() if j == "sum"))
        return prog


class DataParallel(Pass):
    """The pass that makes a lowered program run over a mesh: input uploads of batch-major inputs get
    `mesh_mapper=ShardTensorToMesh(mesh, 0)`, reads of batch-major outputs `mesh_composer=ConcatMeshToTensor(
    mesh, 0)`; every other read takes the first chip's copy (the values are the same on every chip). A host
    fallback between device ops would see one chip's slice: refused before (plan mode "replicated")."""

    name = "data_parallel"

    def __init__(self, ttnn, mesh, plan: dict):
        self.ttnn = ttnn
        self.mesh = mesh
        self.plan = plan

    def _param_source(self, gm, src, inputs, split_params):
        """(input index, dim of `src` that is split) when src is a split parameter, or what the host made of
        one before its upload (a transpose or reshape, possibly folded: passes/constant_folding.py); None
        when src does not come from a split parameter."""
        from .passes.constant_folding import _run_folded
        from .tensor_parallel import Split, reshaped_split
        aten = torch.ops.aten
        ops, node, sub_inputs = [], src, None
        while True:
            if node.op == "placeholder" and sub_inputs is not None:
                node, sub_inputs = sub_inputs[node], None      # a folded subgraph's input: the main graph's
                continue
            if node.op == "placeholder":
                break
            if node.op == "call_function" and node.target is operator.getitem and \
                    isinstance(node.args[0], torch.fx.Node) and node.args[0].target is _run_folded:
                call = node.args[0]
                sub = getattr(gm, call.args[0].target).gm.graph
                sub_inputs = dict(zip([n for n in sub.nodes if n.op == "placeholder"], call.args[1:]))
                node = next(n for n in sub.nodes if n.op == "output").args[0][node.args[1]]
                continue
            if node.op == "call_function" and len(node.all_input_nodes) == 1:
                ops.append(node)
                node = node.all_input_nodes[0]
                continue
            if self._reads_split_param(node, inputs, split_params, sub_inputs or {}):
                raise NotSplittable(f"a split weight is combined with other values on the host ({node.target}) "
                                    f"before its upload")
            return None
        i = inputs.index(node) if node in inputs else None
        if i not in split_params:
            return None
        dim, groups = split_params[i]
        split = Split(dim, tuple(groups))
        for op in reversed(ops):
            old = list(op.all_input_nodes[0].meta["val"].shape)
            new = list(op.meta["val"].shape)
            rank = len(old)
            if op.target is aten.permute.default:
                split = Split([p % rank for p in op.args[1]].index(split.dim), split.groups)
            elif op.target in (aten.t.default, aten.transpose.int):
                a, b = (0, 1) if op.target is aten.t.default else (x % rank for x in op.args[1:3])
                d = split.dim
                split = Split(b if d == a else a if d == b else d, split.groups)
            elif op.target in (aten.view.default, aten._unsafe_view.default, aten.reshape.default):
                moved = reshaped_split(split, old, new, self.mesh.get_num_devices())
                if moved is None or (len(split.groups) > 1 and moved.groups != split.groups):
                    raise NotSplittable(f"a split weight is reshaped on the host ({old} -> {new}) in a way its "
                                        f"pieces do not follow")
                split = moved
            elif old != new:
                raise NotSplittable(f"a split weight goes through {op.target} on the host before its upload")
        return i, split.dim

    @staticmethod
    def _reads_split_param(node, inputs, split_params, sub_inputs: dict) -> bool:
        """Whether `node` (of the graph, or of a folded subgraph whose inputs are `sub_inputs`) reads a split
        parameter."""
        seen, todo = set(), [node]
        while todo:
            n = todo.pop()
            if n in seen:
                continue
            seen.add(n)
            if n.op == "placeholder" and n in sub_inputs:
                todo.append(sub_inputs[n])
            elif n.op == "placeholder" and n in inputs and inputs.index(n) in split_params:
                return True
            todo.extend(n.all_input_nodes)
        return False

    def _tensor_loads(self, gm, inputs) -> None:
        """Uploads of the weights a tensor-parallel plan splits: each chip gets its piece."""
        ttnn = self.ttnn
        split_params = self.plan["params"]
        for n in list(gm.graph.nodes):
            if n.op == "call_method" and n.target == "load":
                found = self._param_source(gm, n.args[1], inputs, split_params)
                if found is None:
                    continue
                i, dim = found
                mapper = constant(gm, f"ttnn_mesh_shard_{dim}", ttnn.ShardTensorToMesh(self.mesh, dim=dim))
                kwargs = {**n.kwargs, "mesh_mapper": mapper}
                order = self.plan["orders"].get(i)
                if order is not None:
                    kwargs["order"] = constant(gm, f"ttnn_split_order_{i}", (dim, order))
                n.kwargs = kwargs
            elif n.op == "call_function" and n.target is ttnn.from_torch and isinstance(n.args[0], torch.fx.Node):
                src = n.args[0]
                if self._param_source(gm, src, inputs, split_params) is not None:
                    raise NotSplittable("a split weight is converted on every call (load_params_once=False): "
                                        "tensor parallelism needs the load-once parameter cache")

    def call(self, gm: torch.fx.GraphModule) -> PassResult:
        ttnn = self.ttnn
        if self.plan["mode"] == "tensor":
            self._tensor_loads(gm, [n for n in gm.graph.nodes if n.op == "placeholder"])
        data = self.plan["mode"] in ("data", "tensor")
        tensor = self.plan["mode"] == "tensor"
        inputs = [n for n in gm.graph.nodes if n.op == "placeholder"]
        batch_in = {inputs[i] for i in self.plan.get("batch_inputs", ())} if data else set()
        out = next(n for n in gm.graph.nodes if n.op == "output")
        outs = _flat(out.args[0])
        joins = {}
        for k, how in (self.plan.get("outputs", {}) if data else {}).items():
            if isinstance(outs[k], torch.fx.Node):
                joins.setdefault(outs[k], how)
        mapper = composer = None
        for n in list(gm.graph.nodes):
            if n.op != "call_function":
                continue
            if n.target is ttnn.from_torch:
                src = n.args[0]
                if isinstance(src, torch.fx.Node) and src.op == "call_function" and src.args and \
                        getattr(src.target, "__name__", "") == "narrow_for_device":
                    src = src.args[0]
                if tensor:
                    continue          # every input is whole on every chip (replicated)
                if data and not (isinstance(src, torch.fx.Node) and src.op == "placeholder"):
                    raise NotSplittable(f"a value computed on the host ({src}) goes to the device: a host "
                                        f"fallback would see one chip's slice")
                if src in batch_in:
                    mapper = mapper or constant(gm, "ttnn_mesh_mapper", ttnn.ShardTensorToMesh(self.mesh, dim=0))
                    n.kwargs = {**n.kwargs, "mesh_mapper": mapper}
            elif n.target is ttnn.to_torch:
                if data and any(u is not out for u in n.users):
                    raise NotSplittable(f"a device value is read back for a host op ({next(iter(n.users))}): a "
                                        f"host fallback would see one chip's slice")
                how = joins.get(n, "same")
                if isinstance(how, tuple):       # ("concat", dim): a tensor-parallel output split along dim
                    composer = constant(gm, f"ttnn_mesh_concat_{how[1]}",
                                        ttnn.ConcatMeshToTensor(self.mesh, dim=how[1]))
                    n.kwargs = {**n.kwargs, "mesh_composer": composer}
                    continue
                if how == "batch":
                    composer = composer or constant(gm, "ttnn_mesh_composer",
                                                       ttnn.ConcatMeshToTensor(self.mesh, dim=0))
                    n.kwargs = {**n.kwargs, "mesh_composer": composer}
                    continue
                src = n.args[0]
                with gm.graph.inserting_before(n):
                    if how == "sum":     # partial sums of each chip's slice, added over the chips
                        v = n.meta.get("val")
                        shape = list(v.shape) if isinstance(v, torch.Tensor) else None
                        if shape is not None and len(shape) < 2:   # all_reduce needs rank >= 2: a [1, n] view
                            flat = gm.graph.call_function(ttnn.reshape, (src, [1, shape[0] if shape else 1]))
                            src = gm.graph.call_function(ttnn.reshape, (gm.graph.call_function(
                                ttnn.all_reduce, (flat,)), shape or [1]))
                        else:
                            src = gm.graph.call_function(ttnn.all_reduce, (src,))
                    shards = gm.graph.call_function(ttnn.get_device_tensors, (src,))
                    first = gm.graph.call_function(_first, (shards,))
                n.args = (first, *n.args[1:])
        gm.recompile()
        return PassResult(gm, True)




def _first(shards: list):
    """The first chip's shard of a mesh tensor (a value every chip holds the same)."""
    return shards[0]
