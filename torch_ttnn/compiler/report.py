"""What the compiler did to a graph: ops lowered, ops left on the host and why."""
from __future__ import annotations

import collections
import logging
from dataclasses import dataclass, field

log = logging.getLogger("torch_ttnn")
_LOGGED: set = set()


def op_name(target) -> str:
    """An op's name for reports: "aten.add.Tensor" for an aten overload, else its __name__."""
    if hasattr(target, "_schema"):  # aten OpOverload
        return str(target)
    return getattr(target, "__name__", None) or str(target)


@dataclass
class GraphReport:
    kind: str                                       # "forward", "backward", "inference"
    aten_ops: collections.Counter = field(default_factory=collections.Counter)     # before lowering
    lowered: collections.Counter = field(default_factory=collections.Counter)      # aten op -> count
    fallbacks: collections.Counter = field(default_factory=collections.Counter)    # (aten op, reason) -> n
    ttnn_ops: collections.Counter = field(default_factory=collections.Counter)     # ttnn target -> count
    conversions: collections.Counter = field(default_factory=collections.Counter)  # data movement inserted
    input_shapes: dict = field(default_factory=dict)                               # aten op -> set of shapes
    folded: collections.Counter = field(default_factory=collections.Counter)       # parameter preprocessing
    empty_results: collections.Counter = field(default_factory=collections.Counter)  # ops with no elements to compute
    captured_ops: collections.Counter = field(default_factory=collections.Counter)  # as captured, pre-passes
    precision: str = "bf16"                         # weight precision of the program (compiler/precision.py)
    placement: str = "dram"                         # "l1" when activations were placed in L1
    l1_spilled: int = 0                             # L1 candidates sent to DRAM for sooner-used tensors
    trace: str = "off"                              # how calls run: "captured: N programs", "not traced: why"
    skipped: collections.Counter = field(default_factory=collections.Counter)     # (pass, error) -> rewrites
    int_unproven: collections.Counter = field(default_factory=collections.Counter)  # int64 op -> n, int32 unproven
    demoted: collections.Counter = field(default_factory=collections.Counter)   # ttnn op -> float32 operands in bf16
    bfp8_activations: int = 0                       # conv2d outputs in bfloat8_b (precision level bfp8-act)
    # matmul program configs chosen (passes/matmul_config.py): node, program kind, modelled us default -> chosen
    matmul_configs: list = field(default_factory=list)
    # conv2d layouts chosen (passes/conv_layout.py): node, layout, modelled us of TT-NN's layout -> chosen
    conv_layouts: list = field(default_factory=list)
    # 1x1 convolutions no conv2d layout holds, run as ttnn.linear (passes/wide_conv.py): in, out channels, rows
    convs_as_matmul: list = field(default_factory=list)

    def record_fallback(self, target, reason: str, strict: bool) -> None:
        name = op_name(target)
        self.fallbacks[(name, reason)] += 1
        key = (name, reason)
        if key not in _LOGGED:
            _LOGGED.add(key)
            log.warning("torch_ttnn: %s stays on the host: %s", name, reason)
        if strict:
            raise FallbackError(f"{name} cannot be lowered to TT-NN: {reason} (strict mode forbids fallback)")

    @property
    def remaining(self) -> collections.Counter:
        c = collections.Counter()
        for (name, _), n in self.fallbacks.items():
            c[name] += n
        return c

    def as_dict(self) -> dict:
        return {
            "kind": self.kind,
            "aten_ops": dict(self.aten_ops),
            "captured_ops": dict(self.captured_ops),
            "lowered": dict(self.lowered),
            "fallbacks": [{"op": op, "reason": r, "count": n} for (op, r), n in sorted(self.fallbacks.items())],
            "ttnn_ops": dict(self.ttnn_ops),
            "conversions": dict(self.conversions),
            "folded": dict(self.folded),
            "empty_results": dict(self.empty_results),
            "input_shapes": {k: sorted(map(str, v)) for k, v in self.input_shapes.items()},
            "precision": self.precision,
            "placement": self.placement,
            "l1_spilled": self.l1_spilled,
            "trace": self.trace,
            "skipped_rewrites": [{"pass": p, "error": e, "count": n} for (p, e), n in sorted(self.skipped.items())],
            "int_unproven": dict(self.int_unproven),
            "demoted_to_bf16": dict(self.demoted),
            "matmul_configs": [dict(zip(("node", "program", "default_us", "chosen_us"), c))
                               for c in self.matmul_configs],
            "conv_layouts": [dict(zip(("node", "layout", "default_us", "chosen_us"), c)) for c in self.conv_layouts],
            "convs_as_matmul": [dict(zip(("in_channels", "out_channels", "rows"), c)) for c in self.convs_as_matmul],
        }


def host_fallbacks(reports) -> collections.Counter:
    """(aten op, reason) -> count of the ops left on the host, summed over the graphs of a compile."""
    total: collections.Counter = collections.Counter()
    for r in reports:
        total.update(r.fallbacks)
    return total


def summarize(reports) -> dict:
    """What the graphs of one compile add up to, the one place the harness (metrics, tools, export) sums them:
    aten ops as captured (before any pass), the ops left on the host, graphs and graph breaks, input shapes."""
    aten: collections.Counter = collections.Counter()
    shapes: dict = {}
    for r in reports:
        aten.update(r.captured_ops or r.aten_ops)
        for k, v in r.input_shapes.items():
            shapes.setdefault(k, set()).update(v)
    remaining = host_fallbacks(reports)
    return {
        "aten_ops": dict(aten),
        "ops_before": sum(aten.values()),
        "ops_before_unique": len(aten),
        "remaining": [{"op": op, "reason": reason, "count": n} for (op, reason), n in sorted(remaining.items())],
        "ops_remaining": sum(remaining.values()),
        "ops_remaining_unique": len({op for op, _ in remaining}),
        "graphs": len(reports),
        "graph_breaks": max(0, len([r for r in reports if r.kind != "backward"]) - 1),
        "input_shapes": {k: sorted(v) for k, v in shapes.items()},
        "matmul_configs": sum(len(r.matmul_configs) for r in reports),
        "conv_layouts": sum(len(r.conv_layouts) for r in reports),
        "empty_results": sum(sum(r.empty_results.values()) for r in reports),
    }


class FallbackError(RuntimeError):
    """Strict mode: an op could not be lowered."""

    user_facing = True      # the pass manager re-raises it as it is (the op and reason first)


def format_report(reports, counters: dict | None = None) -> str:
    """A lowering report a person reads: ops lowered, ops left on the host and why, transfers."""
    lines = []
    total_before = sum(sum(r.aten_ops.values()) for r in reports)
    total_remaining = sum(sum(r.remaining.values()) for r in reports)
    lines.append(f"graphs compiled: {len(reports)}")
    if not reports:
        lines.append("nothing reached the compiler: dynamo captured no graph, so the model ran eagerly on the "
                     "host (e.g. nn.LSTM / nn.GRU, which dynamo does not trace); torch._dynamo.explain(model)(x) "
                     "says why")
        return "\n".join(lines)
    captured = sum(sum((r.captured_ops or r.aten_ops).values()) for r in reports)
    lines.append(f"aten ops: {captured} captured (the metrics' \"torch ops before\"), {total_before} reach "
                 f"lowering after fusions and folding, {total_remaining} left on the host")
    sections = (
        ("lowered", "lowered to TT-NN:"),
        ("fallbacks", "left on the host:"),
        ("empty_results", "results with no elements (nothing to compute: an empty tensor of the shape):"),
        ("skipped", "rewrites skipped (an optional pass failed on a node; compiled without it):"),
        ("int_unproven", "int64 arithmetic in the device's int32 without a proven bound (exact while |results| "
                         "< 2^31):"),
        ("demoted", "float32 operands computed in bfloat16 (the TT-NN op documents no float32):"),
    )
    for attr, title in sections:
        total = collections.Counter()
        for r in reports:
            total.update(getattr(r, attr, {}))
        if total:
            lines.append(title)
            for key, n in sorted(total.items(), key=lambda kv: (-kv[1], kv[0])):
                lines.append(f"  {n:5d}  {': '.join(key) if isinstance(key, tuple) else key}")
    if counters:
        lines.append(f"transfers per call: {counters.get('to_device', 0)} to device, "
                     f"{counters.get('from_device', 0)} from device")
    return "\n".join(lines)
