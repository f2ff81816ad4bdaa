"""Recognize upsampling in aten graphs: F.interpolate(mode="nearest" | "nearest-exact" | "bilinear") reaches us
decomposed (torch implements upsample_*2d.vec as CompositeImplicitAutograd Python decompositions that
aot_autograd always applies): index arithmetic on `arange` constants, `aten.index.Tensor(x, [None, None, ih,
iw])` and, for bilinear, lerps of four such gathers. This pass finds such a region and rebuilds the single
aten op (upsample_nearest2d / _upsample_nearest_exact2d / upsample_bilinear2d with the output size), which
the pooling family lowers to ttnn.upsample or leaves to torch with a reason (e.g. align_corners=True).

Recognition is semantic, not structural: the region (nodes computed from x only through constant-index
gathers on H and W, plus constants) is evaluated on random probes and compared with the candidate aten ops
(size-based, then with the scales 1/literal found in the index arithmetic: scale_factor interpolation); the
latest node equal to a candidate is replaced by it. Everything runs on the host at compile time.
"""
from __future__ import annotations

import operator

import torch
import torch.fx

from .base import Pass, PassResult
from .cleanup import _NONDETERMINISTIC

aten = torch.ops.aten

_INDEX = (aten.index.Tensor, aten._unsafe_index.Tensor)
_MAX_REGION = 64


def _functional(node: torch.fx.Node) -> bool:
    if node.op != "call_function" or node.target in _NONDETERMINISTIC:
        return False
    t = node.target
    if t is operator.getitem:
        return True
    if not isinstance(t, torch._ops.OpOverload):
        return False
    s = t._schema
    return not s.is_mutable and not any(a.alias_info is not None and a.alias_info.is_write for a in s.arguments)


class RecognizeUpsample(Pass):
    name = "recognize_upsample"

    def call(self, gm: torch.fx.GraphModule) -> PassResult:
        # the probes are real computations: step out of the fake tensor mode aot_autograd compiles under
        from torch._subclasses.fake_tensor import unset_fake_temporarily
        with unset_fake_temporarily():
            return self._call(gm)

    def _call(self, gm: torch.fx.GraphModule) -> PassResult:
        g = gm.graph
        self._const: dict = {}
        self._values: dict = {}
        tried: set = set()
        modified = False
        while True:
            done = False
            groups: dict = {}
            for n in g.nodes:
                x = self._index_source(n)
                if x is not None and (x, n) not in tried:
                    groups.setdefault(x, []).append(n)
            for x, idx_nodes in groups.items():
                for n in idx_nodes:
                    tried.add((x, n))
                if self._rewrite(g, x, idx_nodes):
                    modified = done = True
                    break
            if not done:
                break
        if modified:
            g.eliminate_dead_code()
        return PassResult(gm, modified)

    # --- constants -----------------------------------------------------------------------------
    def _is_const(self, n) -> bool:
        if not isinstance(n, torch.fx.Node):
            return True
        if n in self._const:
            return self._const[n]
        ok = _functional(n) and isinstance(n.target, torch._ops.OpOverload) and \
            all(self._is_const(a) for a in n.all_input_nodes)
        self._const[n] = ok
        return ok

    def _const_value(self, n):
        if n not in self._values:
            args = torch.fx.map_arg(n.args, self._const_value)
            kwargs = torch.fx.map_arg(n.kwargs, self._const_value)
            self._values[n] = n.target(*args, **kwargs)
        return self._values[n]

    def _index_source(self, n):
        """x when n is index(x, [None, None, ih, iw]) with constant ih, iw on a rank-4 float x."""
        if n.op != "call_function" or n.target not in _INDEX:
            return None
        x, idx = n.args[0], n.args[1]
        v = x.meta.get("val") if isinstance(x, torch.fx.Node) else None
        if not isinstance(v, torch.Tensor) or v.dim() != 4 or not v.dtype.is_floating_point:
            return None
        if len(idx) != 4 or idx[0] is not None or idx[1] is not None or idx[2] is None or idx[3] is None:
            return None
        if not (self._is_const(idx[2]) and self._is_const(idx[3])):
            return None
        return x

    # --- region and matching -------------------------------------------------------------------
    def _region(self, g, idx_nodes) -> list:
        region = list(idx_nodes)
        members = set(idx_nodes)
        started = False
        for n in g.nodes:
            if n in members:
                started = True
                continue
            if not started or not _functional(n) or not isinstance(n.target, torch._ops.OpOverload):
                continue
            ins = n.all_input_nodes
            if ins and any(i in members for i in ins) and all(i in members or self._is_const(i) for i in ins):
                region.append(n)
                members.add(n)
                if len(region) > _MAX_REGION:
                    break
        order = {n: i for i, n in enumerate(g.nodes)}
        return sorted(region, key=order.__getitem__)

    def _evaluate(self, x, region, probe) -> dict:
        env = {x: probe}

        def get(a):
            if a in env:
                return env[a]
            return self._const_value(a)

        for n in region:
            env[n] = n.target(*torch.fx.map_arg(n.args, get), **torch.fx.map_arg(n.kwargs, get))
        return env

    def _rewrite(self, g, x, idx_nodes) -> bool:
        xv = x.meta["val"]
        n_, c_, h, w = (int(s) for s in xv.shape)
        region = self._region(g, idx_nodes)
        cands = []
        for y in reversed(region):
            v = y.meta.get("val")
            if isinstance(v, torch.Tensor) and v.dim() == 4 and tuple(v.shape[:2]) == (n_, c_) \
                    and v.dtype == xv.dtype:
                cands.append(y)
        if not cands:
            return False
        gen = torch.Generator().manual_seed(1234)
        probes = [torch.randn(tuple(xv.shape), generator=gen, dtype=torch.float32).to(xv.dtype) for _ in range(2)]
        try:
            with torch.no_grad():
                envs = [self._evaluate(x, region, p) for p in probes]
        except Exception:
            return False
        low = xv.dtype in (torch.bfloat16, torch.float16)
        tol = 2e-2 if low else 1e-4
        scales = self._scale_literals(idx_nodes)
        for y in cands:
            oh, ow = (int(s) for s in y.meta["val"].shape[2:])
            for target, rest in self._candidates(oh, ow, scales):
                ok = True
                for p, env in zip(probes, envs):
                    got = env[y]
                    try:
                        want = target(p, *rest)
                    except Exception:
                        ok = False
                        break
                    if not isinstance(got, torch.Tensor) or got.shape != want.shape or \
                            not torch.allclose(got.float(), want.float(), rtol=tol, atol=tol):
                        ok = False
                        break
                if ok:
                    with g.inserting_before(y):
                        new = g.call_function(target, (x, *rest))
                    new.meta = {k: v for k, v in y.meta.items() if k in ("val", "stack_trace", "nn_module_stack",
                                                                          "source_fn_stack", "seq_nr")}
                    y.replace_all_uses_with(new)
                    for r in reversed(region):
                        if not r.users:
                            g.erase_node(r)
                    return True
        return False

    def _scale_literals(self, idx_nodes) -> list:
        """Float literals of the index arithmetic (1/scale_factor when F.interpolate got one): candidate aten
        scales 1/literal."""
        lits, seen, todo = [], set(), []
        for n in idx_nodes:
            todo += [i for i in n.args[1] if isinstance(i, torch.fx.Node)]
        while todo and len(seen) < 200:
            n = todo.pop()
            if n in seen:
                continue
            seen.add(n)
            for a in list(n.args) + list(n.kwargs.values()):
                if isinstance(a, torch.fx.Node):
                    todo.append(a)
                elif isinstance(a, float) and 0.0 < a and a not in (0.5, 1.0) and a not in lits:
                    lits.append(a)
        return [1.0 / a for a in lits[:6]]

    @staticmethod
    def _candidates(oh, ow, scales):
        """(aten op, args after x): size-based first, then with explicit scales (scale-factor interpolation)."""
        size = [oh, ow]
        pairs = [(None, None)] + [(a, b) for a in scales for b in scales]
        out = []
        for sh, sw in pairs:
            out += [(aten.upsample_nearest2d.default, (size, sh, sw)),
                    (aten._upsample_nearest_exact2d.default, (size, sh, sw)),
                    (aten.upsample_bilinear2d.default, (size, False, sh, sw))]
        out.append((aten.upsample_bilinear2d.default, (size, True, None, None)))
        return out
