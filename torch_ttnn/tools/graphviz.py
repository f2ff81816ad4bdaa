"""Write a graph as SVG (via the graphviz package and its `dot` program) after each pass."""
from __future__ import annotations

import logging
import os
import re

import torch
import torch.fx
from ..compiler.meta import DM_INSERTED, FALLBACK, TT

log = logging.getLogger("torch_ttnn")


def _label(n: torch.fx.Node) -> str:
    target = n.target if n.op != "call_function" else getattr(n.target, "__name__", str(n.target))
    if isinstance(n.target, torch._ops.OpOverload):
        target = str(n.target)
    v = n.meta.get("val")
    shape = f"\\n{list(v.shape)}" if isinstance(v, torch.Tensor) else ""
    tt = n.meta.get(TT)
    where = ""
    if tt is not None:
        where = f"\\n{getattr(tt.layout, 'name', tt.layout)} {getattr(tt.dtype, 'name', tt.dtype)}"
    return f"{n.name}\\n{n.op}: {target}{shape}{where}"


def to_dot(gm: torch.fx.GraphModule, title: str) -> str:
    lines = [f'digraph "{title}" {{', "  node [shape=box, fontsize=10];", f'  label="{title}";']
    for n in gm.graph.nodes:
        color = "white"
        if n.meta.get(FALLBACK):
            color = "lightcoral"
        elif n.meta.get(TT) is not None:
            color = "lightblue"
        elif n.meta.get(DM_INSERTED):
            color = "khaki"
        lines.append(f'  "{n.name}" [label="{_label(n)}", style=filled, fillcolor={color}];')
        for a in n.all_input_nodes:
            lines.append(f'  "{a.name}" -> "{n.name}";')
    lines.append("}")
    return "\n".join(lines)


def write_pass_svg(gm: torch.fx.GraphModule, out_dir: str, graph_name: str, pass_name: str) -> str:
    """Write `<out_dir>/<graph_name>/<NN>_<pass>.svg` (the .dot source if `dot` is missing)."""
    d = os.path.join(out_dir, graph_name)
    os.makedirs(d, exist_ok=True)
    index = len([f for f in os.listdir(d) if f.endswith((".svg", ".dot"))])
    stem = os.path.join(d, f"{index:02d}_{re.sub(r'[^A-Za-z0-9_]+', '_', pass_name)}")
    source = to_dot(gm, f"{graph_name} after {pass_name}")
    try:
        import graphviz
        graphviz.Source(source).render(stem, format="svg", cleanup=True)
        return stem + ".svg"
    except Exception as e:  # graphviz package or the dot program missing
        log.warning("torch_ttnn: cannot render SVG (%s); writing %s.dot", e, stem)
        with open(stem + ".dot", "w") as f:
            f.write(source)
        return stem + ".dot"
