"""Shape buckets: a stream of varying shapes reuses a few TT-NN programs.

With `TorchTtnnOption(shape_buckets=...)`, a graph with dynamic sizes (specialize.py) is not compiled for every
size it meets: each dynamic size is rounded up to its bucket, the inputs are zero-padded to it (an attention
mask padded with zeros masks the padded positions), the bucket's program runs, and the outputs are sliced
back to the call's sizes.

    shape_buckets="auto"           the next power of two (1, 2, 4, ..., 32 = one tile, 64, 128, ...)
    shape_buckets=[32, 128, 512]   the smallest listed size that fits; larger sizes are compiled exactly

Padding is only correct when the padded rows cannot change the real ones: rows of a batch, positions masked
by an attention mask. Padding a sequence that attention or a reduction mixes without a mask would change the
result. So the first call of every bucket program is checked on the host: the graph run by torch in fp32 on
the padded inputs, sliced back, must equal the graph run on the call's own inputs (to 1e-4: the device's
numerics play no part, only the padding's effect); if not, bucketing is switched off for that graph with a
warning that says why, and its calls get exact-shape programs from then on. Buckets apply to inference graphs (a training step's forward hands its padded
activations to the backward, which is not sliced).
"""
from __future__ import annotations

import logging
from typing import Optional

import torch

log = logging.getLogger("torch_ttnn")


def bucket_size(n: int, policy) -> int:
    """The bucket of a size under a policy ("auto" or a list of sizes)."""
    if n <= 0:
        return n
    if policy == "auto":
        return 1 << (int(n) - 1).bit_length()
    fits = [b for b in policy if b >= n]
    return min(fits) if fits else n


def check_policy(policy) -> None:
    if policy is None or policy == "auto":
        return
    if (not isinstance(policy, (list, tuple)) or not policy
            or not all(isinstance(b, int) and not isinstance(b, bool) and b > 0 for b in policy)):
        raise ValueError(f"TorchTtnnOption: shape_buckets must be None, 'auto' or a list of positive ints, "
                         f"got {policy!r}")


def _symbol(d):
    """The sympy symbol of a dim that is exactly one symbol, else None (ints, expressions)."""
    if isinstance(d, torch.SymInt):
        expr = d.node.expr
        return expr if getattr(expr, "is_Symbol", False) else None
    return None


class Buckets:
    """The padding plan of one symbolic graph."""

    def __init__(self, agm: torch.fx.GraphModule, policy, static_inputs):
        self.policy = policy
        self.inputs: list = []          # per placeholder: None, ("tensor", [symbol or None per dim]), ("sym", s)
        self.reason: Optional[str] = None
        self.checked: set = set()
        placeholders = [n for n in agm.graph.nodes if n.op == "placeholder"]
        for i, n in enumerate(placeholders):
            v = n.meta.get("val")
            if isinstance(v, torch.Tensor):
                dims = [_symbol(d) for d in v.shape]
                if i in static_inputs or not any(dims):
                    self.inputs.append(None)
                    continue
                if any(not isinstance(d, int) and s is None for d, s in zip(v.shape, dims)):
                    self.reason = f"input {n.name} has a size that is an expression ({list(v.shape)})"
                self.inputs.append(("tensor", dims))
            elif isinstance(v, torch.SymInt):
                s = _symbol(v)
                if s is None:
                    self.reason = f"input {n.name} is a size expression ({v})"
                self.inputs.append(("sym", s))
            else:
                self.inputs.append(None)
        out = next(n for n in agm.graph.nodes if n.op == "output")
        vals = out.args[0] if isinstance(out.args[0], (list, tuple)) else [out.args[0]]
        self.outputs: list = []
        for o in vals:
            v = o.meta.get("val") if isinstance(o, torch.fx.Node) else None
            if isinstance(v, torch.Tensor):
                dims = [_symbol(d) for d in v.shape]
                if any(not isinstance(d, int) and s is None for d, s in zip(v.shape, dims)):
                    self.reason = f"an output's size is an expression ({list(v.shape)}): it cannot be sliced back"
                self.outputs.append(dims)
            elif isinstance(v, torch.SymInt):
                self.reason = "the graph returns a size"
                self.outputs.append(None)
            else:
                self.outputs.append(None)

    def sizes(self, args) -> Optional[dict]:
        """symbol -> (actual, padded) for this call, or None when nothing needs padding."""
        sizes: dict = {}
        for spec, a in zip(self.inputs, args):
            if spec is None:
                continue
            if spec[0] == "sym":
                sizes.setdefault(spec[1], int(a))
            else:
                for s, d in zip(spec[1], a.shape):
                    if s is not None:
                        sizes.setdefault(s, int(d))
        plan = {s: (n, bucket_size(n, self.policy)) for s, n in sizes.items()}
        return plan if any(n != p for n, p in plan.values()) else None

    def pad(self, args, plan: dict) -> list:
        out = []
        for spec, a in zip(self.inputs, args):
            if spec is None:
                out.append(a)
            elif spec[0] == "sym":
                out.append(plan[spec[1]][1])
            else:
                pads = []
                for s, d in zip(reversed(spec[1]), reversed(a.shape)):
                    pads += [0, (plan[s][1] - d) if s is not None else 0]
                out.append(torch.nn.functional.pad(a, pads) if any(pads) else a)
        return out

    def unpad(self, outs, plan: dict):
        res = []
        for dims, o in zip(self.outputs, outs):
            if dims is None or not isinstance(o, torch.Tensor):
                res.append(o)
                continue
            index = tuple(slice(0, plan[s][0]) if s is not None and s in plan else slice(None) for s in dims)
            res.append(o[index])
        return type(outs)(res) if isinstance(outs, tuple) else res


def agree(padded_outs, ref) -> tuple[bool, str]:
    """Whether torch's outputs on the padded inputs, sliced back, equal torch's on the call's own inputs (fp32
    on the host: any difference is the padding's doing, not the device's numerics)."""
    for i, (o, r) in enumerate(zip(padded_outs, ref)):
        if not isinstance(o, torch.Tensor) or not isinstance(r, torch.Tensor):
            continue
        if o.shape != r.shape:
            return False, f"output {i} is {list(o.shape)} after slicing, {list(r.shape)} unpadded"
        if o.is_floating_point():
            scale = max(1.0, float(r.abs().max())) if r.numel() else 1.0
            if not torch.allclose(o, r, rtol=1e-4, atol=1e-4 * scale, equal_nan=True):
                err = float((o - r).abs().max())
                return False, f"output {i} moves by up to {err:.3g} (of {scale:.3g})"
        elif not torch.equal(o, r):
            return False, f"output {i} (integer) differs"
    return True, ""
