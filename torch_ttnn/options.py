"""TorchTtnnOption: the user's choices for a compiled model (results live in CompileResults)."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Optional


@dataclass
class CompileResults:
    """What compiling produced: lowered graphs, per-graph reports, device counters per call."""
    graphs: list = field(default_factory=list)          # torch.fx.Graph, one per compiled graph
    graph_modules: list = field(default_factory=list)
    aten_graph_modules: list = field(default_factory=list)  # the aten graph each program was lowered from
    reports: list = field(default_factory=list)         # GraphReport, one per compiled graph
    compile_seconds: float = 0.0
    pass_seconds: float = 0.0                          # in the pass pipelines (every candidate program included)
    calls: int = 0
    last_call_counters: dict = field(default_factory=dict)
    symbolic_graphs: list = field(default_factory=list)  # SpecializingGraph, one per graph with dynamic shapes
    programs: list = field(default_factory=list)        # per specialised program: graph, kind, shapes, cached
    bucket_refusals: list = field(default_factory=list)  # graphs whose padded results disagreed with torch
    precision: list = field(default_factory=list)       # per searched graph: level chosen, PCC of each tried
    parallel: list = field(default_factory=list)        # per program on a mesh: how it is split, or why not
    token_choice: list = field(default_factory=list)    # per torch_ttnn.generate call: "device" or why "host"
    keep: Optional[int] = None                          # at most this many programs in the lists above (None: all)
    device: Any = None                                  # the device the backend opened when the option named none


class TorchTtnnOption:
    """Options of the torch_ttnn backend.

    device: a ttnn device (real or `torch_ttnn.sim`); None opens the default simulated device.
    gen_graphviz: write the graph after each pass as SVG under `metrics_path`.
    metrics_path: where graphs and metrics are written.
    bypass_compile: run the captured graphs with torch (no lowering); useful to isolate capture problems.
    load_params_once: convert and place parameters and buffers on the device once per compiled model.
    strict: any op that cannot be lowered is an error instead of a host fallback.
    fp32: keep float32 tensors in float32 on the device where TT-NN supports it (default bfloat16).
    fusions: run the TT-NN fusion passes (linear+activation, softmax scale/mask, attention, conv+bn).
    deallocate: free device tensors after their last use.
    max_programs: programs kept per graph with dynamic shapes (one per input signature; least recently used
        dropped beyond it, with a warning).
    param_check: how a parameter's device copy is known to be current: "contents" (default: storage, version
        counter and a hash of its bytes, which also catches writes through `.data`) or "version" (storage and
        version counter only: cheaper, for code that changes parameters only through autograd, optimizers,
        load_state_dict or in-place ops on the parameter itself).
    precision: weights format of inference graphs: "auto" (default: the fastest of bfloat8_b+LoFi, bfloat8_b,
        bfloat16 that keeps PCC >= 0.99 against torch on the first call), "bf16", "bfp8", "bfp4".
    placement: "auto" (default): activations of inference graphs in L1 while they fit (by liveness), validated
        by running the program; "dram": every activation in DRAM.
    optimize: False gives the naive program (bfloat16 everywhere) whatever the other optimisation options say.
    trace: "auto" (default): inference graphs with static shapes are captured into a TT-NN trace on their
        second call and replayed with ttnn.execute_trace afterwards (no per-op host dispatch), where the graph
        allows it and the device has a trace region (compiler/trace.py); False: every call dispatches each op.
    mesh: run on several chips: a ttnn MeshDevice, or a system name ("n300", "t3000", "galaxy", "p150x4",
        "p150x8") or shape ("1x2", "2x4") opened as a simulated mesh (compiler/parallel.py). Replaces `device`.
    parallel: how a graph is split over the mesh's chips: "data" (the batch, dim 0 of the inputs, split over
        the chips; weights replicated; outputs concatenated), "tensor" (the weights of linear layers split
        over the chips, Megatron-style, with the collectives that joins need: compiler/tensor_parallel.py),
        "auto" (default: "data" for graphs with a symbolic batch; for graphs with static shapes, "tensor" if
        its program is faster on the modelled mesh than the whole graph on every chip).
    saved_on_device: True (default): the activations a training forward saves for its backward stay on the
        device between the two graphs (handed over as tickets, freed when autograd releases them); False: they
        go through the host (ttnn.to_torch at the end of the forward, ttnn.from_torch in the backward).
    shape_buckets: reuse programs across varying shapes by padding inputs up to a bucket: None (off), "auto"
        (tile multiples, then powers of two), or a list of sizes; see compiler/buckets.py.
    """

    def __init__(self, device=None, gen_graphviz: bool = False, metrics_path: Optional[str] = None,
                 bypass_compile: bool = False, load_params_once: bool = True, strict: bool = False,
                 fp32: bool = False, fusions: bool = True, deallocate: bool = True, max_programs: int = 16,
                 shape_buckets: Any = None, param_check: str = "contents", precision: str = "auto",
                 optimize: bool = True, placement: str = "auto", trace: Any = "auto", mesh: Any = None,
                 parallel: str = "auto", saved_on_device: bool = True, **unknown: Any):
        if unknown:
            raise TypeError(f"TorchTtnnOption: unknown option(s) {sorted(unknown)}")
        self.device = device
        self.gen_graphviz = gen_graphviz
        self.metrics_path = metrics_path
        self.bypass_compile = bypass_compile
        self.load_params_once = load_params_once
        self.strict = strict
        self.fp32 = fp32
        self.fusions = fusions
        self.deallocate = deallocate
        if not isinstance(max_programs, int) or isinstance(max_programs, bool) or max_programs < 1:
            raise ValueError(f"TorchTtnnOption: max_programs must be an int >= 1, got {max_programs!r}")
        self.max_programs = max_programs
        if param_check not in ("contents", "version"):
            raise ValueError(f"TorchTtnnOption: param_check must be 'contents' or 'version', got {param_check!r}")
        self.param_check = param_check
        from .compiler.precision import PRECISIONS
        if precision not in PRECISIONS:
            raise ValueError(f"TorchTtnnOption: precision must be one of {PRECISIONS}, got {precision!r}")
        self.precision = precision
        self.optimize = bool(optimize)
        if placement not in ("auto", "dram"):
            raise ValueError(f"TorchTtnnOption: placement must be 'auto' or 'dram', got {placement!r}")
        self.placement = placement
        if trace not in ("auto", True, False):
            raise ValueError(f"TorchTtnnOption: trace must be 'auto', True or False, got {trace!r}")
        self.trace = trace
        if parallel not in ("auto", "data", "tensor"):
            raise ValueError(f"TorchTtnnOption: parallel must be 'auto', 'data' or 'tensor', got {parallel!r}")
        self.parallel = parallel
        self.saved_on_device = bool(saved_on_device)
        if mesh is not None and device is not None:
            raise ValueError("TorchTtnnOption: give either device or mesh, not both")
        self.mesh = mesh
        from .compiler.buckets import check_policy
        check_policy(shape_buckets)
        self.shape_buckets = list(shape_buckets) if isinstance(shape_buckets, tuple) else shape_buckets
        self.results = CompileResults()

    @property
    def device_in_use(self):
        """The device the programs compiled with this option run on: the one the user gave, else the one the
        backend opened for them (kept in the results: the option stays what the user chose)."""
        return self.device if self.device is not None else self.results.device

    # thin views kept for code written against the original torch-ttnn
    @property
    def _out_fx_graphs(self) -> list:
        return self.results.graphs

    def reset_results(self) -> None:
        self.results = CompileResults()

    def __repr__(self) -> str:
        return (f"TorchTtnnOption(device={self.device!r}, gen_graphviz={self.gen_graphviz}, "
                f"metrics_path={self.metrics_path!r}, bypass_compile={self.bypass_compile}, "
                f"load_params_once={self.load_params_once}, strict={self.strict}, fp32={self.fp32})")
