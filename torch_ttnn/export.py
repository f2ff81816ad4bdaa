"""Export a compiled model as a standalone Python script that runs its TT-NN program.

    from torch_ttnn import export
    result = export.export_model(model, inputs, "out/mlp", name="mlp")
    # or: torch-ttnn export mlp out/mlp

writes into the output folder:

    model.py            the lowered graphs as plain Python: `ttnn.*` calls, host fallbacks as `torch.ops.aten.*`
                        calls, the conversions and deallocations the compiler inserted; it imports `ttnn` (a
                        chip) or, with --simulated or TORCH_TTNN_SIMULATED=1, `torch_ttnn.sim as ttnn`
    weights.safetensors the parameters and buffers (named as in the model)
    inputs.safetensors  the inputs of each graph, the outputs the compiled model gave (`expected`) and those of
                        the aten graph run by torch (`reference`)

`python model.py --simulated` runs each graph on its saved inputs and prints its outputs with their PCC against
the compiled model's and torch's; `--accuracy` also runs the aten graph and, after each TT-NN op, the aten op
it came from on the same inputs brought back to the host, printing one PCC line per op: where a model loses
accuracy shows as the first op whose PCC drops.

The script needs torch and safetensors, plus ttnn (or torch_ttnn for the simulator). A graph with calls the
exporter cannot write as plain Python (a helper function of a lowering rule) imports it from torch_ttnn; the
script header lists such imports.
"""
from __future__ import annotations

import dataclasses
import enum
import logging
import math
import operator
import os
import re
import textwrap
from dataclasses import dataclass, field
from typing import Optional

import torch
import torch.fx

from .compiler import ttnn_ops
from .compiler.meta import ATEN, DEALLOC, DM_INSERTED, FALLBACK
from .compiler.report import host_fallbacks

log = logging.getLogger("torch_ttnn")

SCRIPT = "model.py"
WEIGHTS = "weights.safetensors"
INPUTS = "inputs.safetensors"


class ExportError(RuntimeError):
    """Something in a compiled graph that cannot be written as Python."""


@dataclass
class ExportResult:
    out_dir: str
    script: str
    weights: str
    inputs: str
    graphs: int
    ttnn_ops: int = 0
    host_ops: int = 0
    checked_ops: int = 0          # TT-NN ops the accuracy mode compares with their aten original
    imports: list = field(default_factory=list)   # torch_ttnn helpers the script imports
    outputs: list = field(default_factory=list)   # compiled-model outputs per graph (tensors)

    def as_dict(self) -> dict:
        d = dataclasses.asdict(self)
        d.pop("outputs")
        return d


# --- literals ---------------------------------------------------------------------------------------------

_TTNN_CONSTANTS = ("DRAM_MEMORY_CONFIG", "L1_MEMORY_CONFIG", "L1_BLOCK_SHARDED_MEMORY_CONFIG",
                   "L1_HEIGHT_SHARDED_MEMORY_CONFIG", "L1_WIDTH_SHARDED_MEMORY_CONFIG")


class _Emitter:
    """Writes the nodes of one graph as Python lines."""

    def __init__(self, ttnn, consts: dict, gindex: int, imports: set):
        self.ttnn = ttnn
        self.consts = consts            # key -> tensor saved with the weights
        self.gindex = gindex
        self.imports = imports
        self.names: dict = {}           # node -> expression

    # values ------------------------------------------------------------------------------------------
    def lit(self, v) -> str:
        if isinstance(v, torch.fx.Node):
            return self.names[v]
        if isinstance(v, enum.Enum):   # before int: ttnn enums may be IntEnums
            cls = type(v).__name__
            if getattr(self.ttnn, cls, None) is not None:
                return f"ttnn.{cls}.{v.name}"
            raise ExportError(f"enum {type(v).__qualname__}.{v.name} is not a ttnn type")
        if v is None or isinstance(v, (bool, str)):
            return repr(v)
        if isinstance(v, int):
            return repr(int(v))
        if isinstance(v, float):
            if math.isnan(v):
                return "float('nan')"
            if math.isinf(v):
                return "float('inf')" if v > 0 else "float('-inf')"
            return repr(v)
        if isinstance(v, torch.SymInt) or isinstance(v, torch.SymFloat):
            raise ExportError(f"symbolic value {v} in the graph (dynamic shapes are not exported)")
        if isinstance(v, torch.Size):
            v = tuple(v)
        if isinstance(v, tuple):
            inner = ", ".join(self.lit(x) for x in v)
            return f"({inner},)" if len(v) == 1 else f"({inner})"
        if isinstance(v, list):
            return "[" + ", ".join(self.lit(x) for x in v) + "]"
        if isinstance(v, dict):
            return "{" + ", ".join(f"{self.lit(k)}: {self.lit(x)}" for k, x in v.items()) + "}"
        if isinstance(v, slice):
            return f"slice({self.lit(v.start)}, {self.lit(v.stop)}, {self.lit(v.step)})"
        if v is Ellipsis:
            return "..."
        if isinstance(v, (torch.dtype, torch.layout, torch.memory_format)):
            return str(v)
        if isinstance(v, torch.device):
            return f"torch.device({str(v)!r})"
        if isinstance(v, torch.Tensor):
            key = f"g{self.gindex}.const{len(self.consts)}"
            self.consts[key] = v
            return f"_consts[{key!r}]"
        for name in _TTNN_CONSTANTS:
            c = getattr(self.ttnn, name, None)
            if c is not None and type(c) is type(v):
                try:
                    if c == v:
                        return f"ttnn.{name}"
                except Exception:
                    pass
        if type(v).__name__ == "UnaryWithParam" and getattr(self.ttnn, "UnaryWithParam", None) is type(v):
            # positional, as the real constructor takes it: UnaryWithParam(op_type[, param...])
            return f"ttnn.UnaryWithParam({', '.join(self.lit(x) for x in (v.op_type, *v.params))})"
        if type(v).__name__ == "CoreCoord" and getattr(self.ttnn, "CoreCoord", None) is type(v):
            return f"ttnn.CoreCoord({int(v.x)}, {int(v.y)})"      # positional only, as the real constructor
        # the sharding types, positional as the real constructors take them
        if type(v).__name__ == "CoreRange" and getattr(self.ttnn, "CoreRange", None) is type(v):
            return f"ttnn.CoreRange({self.lit(v.start)}, {self.lit(v.end)})"
        if type(v).__name__ == "CoreRangeSet" and getattr(self.ttnn, "CoreRangeSet", None) is type(v):
            return "ttnn.CoreRangeSet({" + ", ".join(self.lit(r) for r in v.ranges()) + "})"
        if type(v).__name__ == "ShardSpec" and getattr(self.ttnn, "ShardSpec", None) is type(v):
            return (f"ttnn.ShardSpec({self.lit(v.grid)}, {self.lit([int(d) for d in v.shape])}, "
                    f"{self.lit(v.orientation)})")
        if type(v).__name__ == "MemoryConfig" and getattr(self.ttnn, "MemoryConfig", None) is type(v):
            spec = getattr(v, "shard_spec", None)
            return (f"ttnn.MemoryConfig({self.lit(v.memory_layout)}, {self.lit(v.buffer_type)}"
                    + (f", {self.lit(spec)})" if spec is not None else ")"))
        if dataclasses.is_dataclass(v) and getattr(self.ttnn, type(v).__name__, None) is type(v):
            try:            # only what differs from the defaults (they may hold enums ttnn does not export)
                default = type(v)()
            except TypeError:
                default = None
            args = ", ".join(f"{f.name}={self.lit(getattr(v, f.name))}" for f in dataclasses.fields(v)
                             if f.init and (default is None or getattr(v, f.name) != getattr(default, f.name)))
            return f"ttnn.{type(v).__name__}({args})"
        fields = getattr(type(v), "_FIELDS", None)     # keyword-only ttnn config classes (Conv2dConfig)
        if fields is not None and getattr(self.ttnn, type(v).__name__, None) is type(v):
            if all(isinstance(f, str) for f in fields):   # matmul program configs: every field set, or None
                args = ", ".join(f"{name}={self.lit(getattr(v, name))}" for name in fields
                                 if getattr(v, name) is not None)
                return f"ttnn.{type(v).__name__}({args})"
            args = ", ".join(f"{name}={self.lit(getattr(v, name))}" for name, default in fields
                             if getattr(v, name) != default)
            return f"ttnn.{type(v).__name__}({args})"
        if callable(v):
            return self.callable(v)
        raise ExportError(f"cannot write a value of type {type(v).__qualname__} ({v!r}) as Python")

    def args(self, args, kwargs) -> str:
        parts = [self.lit(a) for a in args] + [f"{k}={self.lit(v)}" for k, v in kwargs.items()]
        return ", ".join(parts)

    def callable(self, t) -> str:
        fq = getattr(t, "python_fully_qualified_name", None)
        if isinstance(fq, str) and fq.startswith("ttnn."):
            return fq
        if isinstance(t, torch._ops.OpOverload):
            if t.namespace not in ("aten", "prims"):   # a custom op of torch_ttnn (fused ops): registered there
                self.imports.add((t.namespace, "<ops>"))
            return f"torch.ops.{t.namespace}.{t._schema.name.split('::')[-1]}.{t._overloadname}"
        if isinstance(t, torch._ops.OpOverloadPacket):
            return f"torch.ops.{t._qualified_op_name.replace('::', '.')}"
        if getattr(operator, getattr(t, "__name__", ""), None) is t:
            return f"operator.{t.__name__}"
        if getattr(math, getattr(t, "__name__", ""), None) is t:
            return f"math.{t.__name__}"
        from . import runtime
        if t is runtime.narrow_for_device:
            return "narrow_for_device"
        mod = getattr(t, "__module__", None) or ""
        name = getattr(t, "__qualname__", None) or getattr(t, "__name__", None)
        if name and mod.startswith("torch") and not mod.startswith("torch_ttnn"):
            obj = torch
            for part in (mod.split(".")[1:] if mod != "torch" else []):
                obj = getattr(obj, part, None)
            if obj is not None and getattr(obj, name, None) is t:
                return f"{mod}.{name}"
            if getattr(torch, name, None) is t:
                return f"torch.{name}"
        if name and mod and "<" not in name:
            self.imports.add((mod, name))
            return f"_import({mod!r}, {name!r})"
        raise ExportError(f"cannot write a call to {t!r} as Python")


def _is_ttnn_op(t) -> bool:
    fq = getattr(t, "python_fully_qualified_name", None)
    return isinstance(fq, str) and fq.startswith("ttnn.")


def _aten_index(aten_gm: Optional[torch.fx.GraphModule]) -> dict:
    """id(meta["val"]) -> aten node: how a lowered node finds the aten node whose value it computes."""
    idx: dict = {}
    if aten_gm is None:
        return idx
    for n in aten_gm.graph.nodes:
        v = n.meta.get("val")
        if n.op in ("call_function", "placeholder") and v is not None and id(v) not in idx:
            idx[id(v)] = n
    return idx


def _dtypes_of(v):
    if isinstance(v, torch.Tensor):
        return v.dtype
    if isinstance(v, (tuple, list)):
        return tuple(_dtypes_of(x) for x in v)
    return None


def emit_graph(gm: torch.fx.GraphModule, fn_name: str, *, ttnn, gindex: int, consts: dict, imports: set,
               aten_gm: Optional[torch.fx.GraphModule] = None, folded_fns: Optional[list] = None,
               return_all: bool = False, lowered: bool = True, stats: Optional[dict] = None) -> str:
    """One lowered graph as `def fn_name(_device, _params, <placeholders>, _acc=None)`, or (lowered=False)
    a torch graph as `def fn_name(<placeholders>)`; return_all: return every value in a dict by node name
    (the aten graph as the reference of --accuracy)."""
    em = _Emitter(ttnn, consts, gindex, imports)
    aten_of = _aten_index(aten_gm)
    lowered = lowered and not return_all
    params = [n for n in gm.graph.nodes if n.op == "placeholder"]
    for p in params:
        em.names[p] = _var(p.name)
    body: list = []
    every: list = []
    stats = stats if stats is not None else {}
    fused = _fused_activations(gm) if lowered and aten_of else {}
    for n in gm.graph.nodes:
        if n.op == "placeholder":
            every.append(em.names[n])
            continue
        if n.op == "output":
            if return_all:
                body.append("return {" + ", ".join(f"{_unvar(x)!r}: {x}" for x in every) + "}")
            else:
                body.append(f"return {em.lit(n.args[0])}")
            continue
        if n.op == "get_attr":
            obj = gm
            for part in n.target.split("."):
                obj = getattr(obj, part)
            if n.target == "ttnn_device":
                em.names[n] = "_device"
            elif type(obj).__name__ == "ParamCache":
                em.names[n] = "_params"
            elif type(obj).__name__ == "FoldedParams":
                if folded_fns is None:
                    raise ExportError("folded parameters inside a folded subgraph")
                key = ("fold", id(obj))
                if key not in consts:      # one function per folded subgraph (shared by the aten graph)
                    fname = f"fold_{gindex}_{sum(1 for k in consts if isinstance(k, tuple))}"
                    folded_fns.append(emit_graph(obj.gm, fname, ttnn=ttnn, gindex=gindex, consts=consts,
                                                 imports=imports, lowered=False, stats={}))
                    consts[key] = fname
                em.names[n] = consts[key]
            elif isinstance(obj, torch.Tensor):
                key = f"g{gindex}.{n.target}"
                consts[key] = obj
                em.names[n] = f"_consts[{key!r}]"
            else:   # a ttnn config object (memory config, compute kernel config): spelled as a literal
                try:
                    em.names[n] = em.lit(obj)
                except ExportError:
                    raise ExportError(f"attribute {n.target} of type {type(obj).__name__} cannot be exported")
            continue
        var = _var(n.name)
        em.names[n] = var
        every.append(var)
        if n.op == "call_method":
            self_, *rest = n.args
            body.append(f"{var} = {em.lit(self_)}.{n.target}({em.args(rest, n.kwargs)})")
        elif n.op == "call_function":
            t = n.target
            if getattr(t, "__name__", "") == "_run_folded":
                fold, *srcs = n.args
                body.append(f"{var} = _run_folded({em.lit(fold)}, {em.args(srcs, {})})")
            elif t is operator.getitem and not n.kwargs:
                body.append(f"{var} = {em.lit(n.args[0])}[{em.lit(n.args[1])}]")
            else:
                if n.meta.get(FALLBACK):
                    body.append(f"# host fallback: {str(n.meta['fallback']).splitlines()[0]}")
                    stats["host_ops"] = stats.get("host_ops", 0) + 1
                elif _is_ttnn_op(t) and not n.meta.get(DM_INSERTED) and not n.meta.get(DEALLOC):
                    stats["ttnn_ops"] = stats.get("ttnn_ops", 0) + 1
                body.append(f"{var} = {em.callable(t)}({em.args(n.args, n.kwargs)})")
        else:
            raise ExportError(f"node {n.name}: {n.op} nodes cannot be exported")
        if lowered and aten_of:
            line = _accuracy_line(n, var, aten_of, em, fused.get(n))
            if line:
                body.append(line)
                if line.startswith("if _acc: _acc.check("):
                    stats["checked_ops"] = stats.get("checked_ops", 0) + 1
    sig = ", ".join(em.names[p] for p in params)
    if lowered:
        sig = "_device, _params" + (", " + sig if sig else "") + ", _acc=None"
    text = f"def {fn_name}({sig}):\n" + textwrap.indent("\n".join(body) or "pass", "    ")
    return text


_VIEWS = set(ttnn_ops.names(view=True))
_ACTIVATION_ATEN = {"relu": "aten.relu.default", "silu": "aten.silu.default", "gelu": "aten.gelu.default",
                    "relu6": "aten.hardtanh.default", "gelu_tanh": "aten.gelu.default"}


# names the script defines; a node with such a name gets a suffix
_RESERVED = {"ttnn", "torch", "operator", "math", "os", "sys", "argparse", "narrow_for_device", "ParamCache",
             "_run_folded", "_import", "_consts", "pcc", "h", "_acc", "_device", "_params", "_host", "Accuracy",
             "ACTIVATIONS", "GRAPHS", "HERE", "main", "load_file", "save_file"}
_SUFFIX = "__v"


def _var(name: str) -> str:
    if name in _RESERVED or name.startswith(("fold_", "graph_", "aten_graph_")):
        return name + _SUFFIX
    return name


def _unvar(var: str) -> str:
    return var[:-len(_SUFFIX)] if var.endswith(_SUFFIX) else var


def _fused_activations(gm: torch.fx.GraphModule) -> dict:
    """node -> activation for linear/matmul nodes with a fused activation (`activation=`, or the
    fused_activation of their program config) and the reshapes/views that only pass their value on: these
    compute activation(<the aten value their meta names>)."""
    out: dict = {}
    for n in gm.graph.nodes:
        act = n.kwargs.get("activation") if n.op == "call_function" and _is_ttnn_op(n.target) else None
        cfg = n.kwargs.get("program_config") if n.op == "call_function" else None
        if act is None and isinstance(cfg, torch.fx.Node) and cfg.op == "get_attr":
            fused = getattr(getattr(gm, cfg.target, None), "fused_activation", None)
            act = fused.op_type.name.lower() if fused is not None else None
        if not isinstance(act, str):
            continue
        cur = n
        out[cur] = act
        while True:
            users = [u for u in cur.users if not u.meta.get(DEALLOC)]
            if len(users) != 1:
                break
            u = users[0]
            if getattr(u.target, "python_fully_qualified_name", "").removeprefix("ttnn.") not in _VIEWS \
                    or u.args[0] is not cur:
                break
            cur = u
            out[cur] = act
    return out


def _accuracy_line(n: torch.fx.Node, var: str, aten_of: dict, em: _Emitter,
                   act: Optional[str] = None) -> Optional[str]:
    """The --accuracy hook after a lowered node: compare a TT-NN op with the aten op it computes, or keep
    the host value of a node that stands for an aten value (host fallbacks, outputs of multi-output ops)."""
    if n.op != "call_function" or n.meta.get(DM_INSERTED) or n.meta.get(DEALLOC):
        return None
    v = n.meta.get("val")
    a = aten_of.get(id(v)) if v is not None else None
    if a is None or a.op != "call_function":
        return None
    dtypes = em.lit(_dtypes_of(a.meta.get("val")))
    if _is_ttnn_op(n.target) and n.meta.get(ATEN) is not None:
        aem = _Emitter(em.ttnn, em.consts, em.gindex, em.imports)
        for inp in a.all_input_nodes:
            aem.names[inp] = f"h({inp.name!r})"
        try:
            if a.target is operator.getitem:
                ref = f"{aem.lit(a.args[0])}[{aem.lit(a.args[1])}]"
            else:
                ref = f"{aem.callable(a.target)}({aem.args(a.args, a.kwargs)})"
        except ExportError:
            return None
        ttnn_name = getattr(n.target, "python_fully_qualified_name", str(n.target))
        aten_label = str(a.target)
        if a.target is operator.getitem and isinstance(a.args[0], torch.fx.Node):
            aten_label = f"{a.args[0].target}[{a.args[1]}]"
        if act is None:
            return (f"if _acc: _acc.check({var!r}, {var}, {ttnn_name!r}, {aten_label!r}, {a.name!r}, "
                    f"{dtypes}, lambda h: {ref})")
        # a fused activation (linear/matmul + activation=, and the views after it): the node carries the aten
        # value of the matmul (or view) but computes activation(that value). Its host value stands for the
        # activation's aten node when that node reads this one.
        users = [u for u in a.users if u.op == "call_function"]
        store = users[0].name if len(users) == 1 and _ACTIVATION_ATEN.get(act) == str(users[0].target) else ""
        return (f"if _acc: _acc.check({var!r}, {var}, {ttnn_name!r}, {aten_label + ' + ' + act!r}, "
                f"{a.name!r}, {dtypes}, lambda h: {ref}, activation={act!r}, store={store!r})")
    return f"if _acc: _acc.keep({a.name!r}, {var}, {dtypes})"


# --- the script -------------------------------------------------------------------------------------------

_OMIT = re.compile(r"^# <not in the exported script>\n.*?^# </not in the exported script>\n", re.M | re.S)


def _module_text(rel: str, body_only: bool = True) -> str:
    """A torch_ttnn module as the script carries it: verbatim, less its docstring and the blocks marked as not
    in the exported script (imports that stand for what the script defines elsewhere)."""
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), rel)
    with open(path) as f:
        text = f.read()
    if body_only:
        text = re.sub(r'^""".*?"""\n', "", text, count=1, flags=re.S)
    text = _OMIT.sub("", text)
    return f"\n\n# --- torch_ttnn/{rel} ---\n" + text.lstrip("\n") + f"# --- end of {rel} ---\n"


def _portable_source() -> str:
    """torch_ttnn/portable.py (input conversions, pcc): the script converts and compares exactly as the compiler
    and the metrics do."""
    return _module_text("portable.py", body_only=False)





def _capture(option):
    """Wrap the lowered GraphModules so that the next call records their inputs and outputs."""
    records: dict = {}
    saved = []
    for i, gm in enumerate(option.results.graph_modules):
        orig = gm.forward

        def run(*args, _i=i, _orig=orig):
            out = _orig(*args)
            records.setdefault(_i, (list(args), out))
            return out
        gm.forward = run
        saved.append(gm)
    # a program replayed from a trace does not go through forward: dispatch op by op for the recorded call
    tracers = [(t, t.state) for t in (getattr(gm, "trace_runner", None) for gm in saved) if t is not None]
    for t, _ in tracers:
        t.state = "off"

    def restore():
        for gm in saved:
            gm.__dict__.pop("forward", None)
        for t, state in tracers:
            t.state = state
    return records, restore


def _tensor_outputs(out) -> list:
    if isinstance(out, (tuple, list)):
        return list(out)
    return [out]


def export_compiled(option, records: dict, out_dir: str, *, name: str = "model",
                    param_names: Optional[dict] = None) -> ExportResult:
    """Write the script and data for graphs compiled with `option` whose inputs/outputs are in `records`."""
    from safetensors.torch import save_file

    from . import runtime
    ttnn = runtime.ttnn_for(option.device_in_use)
    os.makedirs(out_dir, exist_ok=True)
    param_names = param_names or {}
    results = option.results
    aten_gms = getattr(results, "aten_graph_modules", [None] * len(results.graph_modules))
    consts: dict = {}
    imports: set = set()
    weights: dict = {}
    data: dict = {}
    functions: list = []
    graphs_table: list = []
    stats: dict = {}
    res = ExportResult(out_dir, os.path.join(out_dir, SCRIPT), os.path.join(out_dir, WEIGHTS),
                       os.path.join(out_dir, INPUTS), 0)
    for gi, (gm, report) in enumerate(zip(results.graph_modules, results.reports)):
        if gi not in records:
            log.warning("torch_ttnn.export: graph %d was not run; not exported", gi)
            continue
        args, out = records[gi]
        aten_gm = aten_gms[gi] if gi < len(aten_gms) else None
        folded: list = []
        fn = emit_graph(gm, f"graph_{gi}", ttnn=ttnn, gindex=gi, consts=consts, imports=imports,
                        aten_gm=aten_gm, folded_fns=folded, stats=stats)
        functions += folded + [fn]
        if aten_gm is not None:
            ref_folded: list = []
            ref_fn = emit_graph(aten_gm, f"aten_graph_{gi}", ttnn=ttnn, gindex=gi, consts=consts,
                                imports=imports, return_all=True, lowered=False, folded_fns=ref_folded)
            functions += ref_folded + [ref_fn]
            ref_name = f"aten_graph_{gi}"
        else:
            ref_name = "None"
        sources = []
        placeholders = [n for n in gm.graph.nodes if n.op == "placeholder"]
        for p, a in zip(placeholders, args):
            if isinstance(a, torch.Tensor):
                pname = param_names.get(id(a))
                if pname is not None:
                    weights.setdefault(pname, a.detach().contiguous().clone())
                    sources.append(("weight", pname))
                else:
                    key = f"g{gi}.{p.name}"
                    data[key] = a.detach().contiguous().clone()
                    sources.append(("input", key))
            else:
                sources.append(("value", a))
        outs = _tensor_outputs(out)
        for k, o in enumerate(outs):
            if isinstance(o, torch.Tensor):
                data[f"g{gi}.expected.{k}"] = o.detach().contiguous().clone()
        if aten_gm is not None:
            with torch.no_grad():
                ref = aten_gm(*args)
            for k, o in enumerate(_tensor_outputs(ref)):
                if isinstance(o, torch.Tensor):
                    data[f"g{gi}.reference.{k}"] = o.detach().contiguous().clone()
        res.outputs.append(outs)
        graphs_table.append(f"    (graph_{gi}, {ref_name}, {report.kind!r}, {sources!r}, {len(outs)}),")
    for k, v in consts.items():
        if isinstance(v, torch.Tensor):
            weights[f"const.{k}"] = v.detach().contiguous().clone()
    res.graphs = len(graphs_table)
    res.ttnn_ops = stats.get("ttnn_ops", 0)
    res.host_ops = stats.get("host_ops", 0)
    res.checked_ops = stats.get("checked_ops", 0)
    res.imports = sorted(f"torch.ops.{m} (custom ops)" if n == "<ops>" else f"{m}.{n}" for m, n in imports)
    requires = ""
    for m, n in sorted(imports):
        if n == "<ops>" and m == "ttnn_fused":
            requires += ('\n# the fused ops of torch-ttnn (torch.ops.ttnn_fused), with their host implementation\n'
                         '_import("torch_ttnn.compiler.fused_ops", "fused_ops")()\n')
    header = _header(name, res, results)
    text = (header + _portable_source() + _module_text("script/prelude.py") + requires + "\n\n" + "\n\n\n".join(functions) + "\n\n\n# (graph, aten reference, kind, "
            "[(source, key)] of its inputs, number of outputs)\nGRAPHS = [\n" + "\n".join(graphs_table) + "\n]\n"
            + _module_text("script/main.py"))
    compile(text, res.script, "exec")   # a syntax error here is an exporter bug: fail before writing
    with open(res.script, "w") as f:
        f.write(text)
    save_file(weights, res.weights)
    save_file(data, res.inputs)
    return res


def _header(name: str, res: ExportResult, results) -> str:
    lines = [f'"""TT-NN program of the model {name!r}, exported by torch-ttnn.', "",
             "    python model.py --simulated            run on the simulated device (or TORCH_TTNN_SIMULATED=1)",
             "    python model.py                        run on a Tenstorrent chip (real ttnn)",
             "    python model.py --simulated --accuracy PCC of each TT-NN op against its aten original",
             "",
             f"{res.graphs} graph(s); {res.ttnn_ops} TT-NN ops, {res.host_ops} host fallback ops (torch calls). "
             "Weights in weights.safetensors,", "inputs and expected outputs in inputs.safetensors."]
    fb = host_fallbacks(results.reports)
    if fb:
        lines += ["", "Ops left on the host:"]
        lines += [f"    {n:3d} x {op}: {reason}" for (op, reason), n in sorted(fb.items())]
    if res.imports:
        lines += ["", "Imported from torch_ttnn (no plain-Python form): " + ", ".join(res.imports)]
    lines.append('"""')
    return "\n".join(lines) + "\n"


def export_model(model, inputs, out_dir: str, *, name: str = "model", device=None,
                 option_kwargs: Optional[dict] = None) -> ExportResult:
    """Compile `model` with the TT-NN backend, run it on `inputs` and export its program to `out_dir`."""
    import torch._dynamo

    import torch_ttnn
    from .tools.common import call
    from . import runtime
    torch._dynamo.reset()
    dev = device if device is not None else runtime.open_device()
    option = torch_ttnn.TorchTtnnOption(device=dev, **(option_kwargs or {}))
    compiled = torch.compile(model, backend=torch_ttnn.backend, options=option)
    with torch.no_grad():
        call(compiled, inputs)                   # compiles
        records, restore = _capture(option)
        try:
            call(compiled, inputs)               # records the inputs and outputs of each graph
        finally:
            restore()
    names = {}
    if isinstance(model, torch.nn.Module):
        names = {id(t): k for k, t in list(model.named_parameters()) + list(model.named_buffers())}
    res = export_compiled(option, records, out_dir, name=name, param_names=names)
    torch._dynamo.reset()
    return res


def run_script(script: str, *args: str, simulated: bool = True, timeout: float = 600):
    """Run an exported script in a subprocess; returns the CompletedProcess (text output)."""
    import subprocess
    import sys
    env = dict(os.environ)
    if simulated:
        env["TORCH_TTNN_SIMULATED"] = "1"
    return subprocess.run([sys.executable, script, *args], capture_output=True, text=True, env=env,
                          timeout=timeout)
