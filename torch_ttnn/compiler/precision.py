"""Choosing the precision of a graph's weights by accuracy: `TorchTtnnOption(precision=...)`.

    "auto" (default)  on the first call of an inference graph, try the faster levels in order (for graphs
                      with convolutions first their activations in bfloat8_b too, as Tenstorrent's own CNNs run,
                      a level the device may refuse, then the next is tried; bfloat8_b weights with LoFi, then
                      bfloat8_b weights with HiFi2) and keep the first whose outputs
                      stay at PCC >= 0.99 against the same graph run by torch in fp32 on the host with the
                      call's inputs; else bfloat16 with TT-NN's default fidelity; else, when even that loses
                      accuracy (long reductions whose partial sums the 16-bit Dst rounds), an fp32 Dst on every
                      matrix product: with bfloat8_b weights and HiFi2 ("bfp8-acc32"), then with bfloat16
                      weights and HiFi4 ("bf16-acc32"); else every value in float32 wherever TT-NN supports
                      it ("fp32", as TorchTtnnOption(fp32=True)): for outputs whose spread is below bfloat16's
                      resolution (a random-weight U-Net's sigmoid output varies by 0.002 around 0.53, where
                      bfloat16's step is 0.004). The 16-bit Dst is tried first although the performance
                      model times both Dst widths alike: an fp32 Dst holds half the tiles (smaller output
                      subblocks, more packing), a cost the model does not charge. Each decision is logged and
                      kept in option.results.precision (graph, level chosen, PCC of every level tried).
                      When the level kept is not the fastest because a faster one lost accuracy as a whole
                      (or was not tried: a graph with more than 1 GiB of parameters starts at bfloat16),
                      the graph's product groups (the products whose weights have one shape: every layer's
                      query projection, every MLP's up projection) are relaxed to that faster form one at a
                      time, largest modelled gain first (the group's launches timed by the performance model
                      at both levels during the search; by weight bytes where a level was not timed), each kept only while the graph stays at PCC >= 0.99
                      with at most twice the error (1 - PCC) of the accurate level (at most
                      MAX_RELAXED_GROUPS tries): "bf16+bfp8-lofi 2/3" is bfloat16 with two of its
                      three groups in bfloat8_b and LoFi; for an fp32-Dst level the relaxed groups drop the
                      fp32 Dst. Each group tried is logged and listed in the decision ("relaxed_groups").
    "bf16"            today's program: bfloat16 weights, TT-NN's default fidelity.
    "bfp8" / "bfp4"   that weight format everywhere it applies (bfp4 with LoFi), unchecked: for users who
                      accept the loss.
Training graphs keep bfloat16 weights (the optimizer updates fp32 parameters every step). `optimize=False`
means "bf16" whatever `precision` says.

`TorchTtnnOption(placement="auto")` (default) also tries activations in L1 (passes/placement.py) in the same
search; placement="dram" keeps every activation in DRAM. The levels themselves: passes/precision.py.

The search's decision is kept on disk ($TORCH_TTNN_CACHE, default ~/.cache/torch_ttnn, under search/), keyed
by everything it depends on: the graph's code, the shape, dtype and bytes of every input and parameter, the
levels and placement tried, the options, the device's arch and numerics, the search's constants and the
compiler's sources. The same model compiled again in another process (the same weights, the same sample
inputs) compiles the chosen program only: no fp32 reference, no other level, no group trials. Its decision is
the one recorded then, marked `"cached": true`. A cached program the device refuses (another program holding
the L1) runs the search again. TORCH_TTNN_SEARCH_CACHE=0 turns the cache off.
"""
from __future__ import annotations

import gc
import hashlib
import json
import logging
import os
from pathlib import Path
from typing import Optional

import torch

from ..local import cache_root, sources_digest
from .passes.precision import RELAXED, MixedLevel, product_groups
from .program import BoxedProgram, copy_aten, record_program

log = logging.getLogger("torch_ttnn")

PRECISIONS = ("auto", "bf16", "bfp8", "bfp4")
AUTO_ORDER = ("bfp8-act", "bfp8-lofi", "bfp8", "bf16", "bfp8-acc32", "bf16-acc32", "fp32")
_CONVS = {"aten.convolution.default"}
MIN_PCC = 0.99


_PRODUCTS = {"aten.mm.default", "aten.addmm.default", "aten.bmm.default", "aten.linear.default",
             "aten.matmul.default", "aten.convolution.default"}


SEARCH_MAX_PARAM_BYTES = 1 << 30   # host memory: every candidate program holds its own converted weights


def _param_bytes(agm, static_inputs) -> int:
    total = 0
    for i, n in enumerate(n for n in agm.graph.nodes if n.op == "placeholder"):
        v = n.meta.get("val")
        if i in static_inputs and isinstance(v, torch.Tensor):
            total += v.numel() * v.element_size()
    return total


def levels_for(option, kind: str, agm=None, static_inputs=frozenset()) -> tuple:
    """The levels to try, in order (one level: no search). No search for a graph without matrix products
    (nothing to convert) or with random ops (their draws cannot be compared with torch's): bfloat16. A graph
    with more than 1 GiB of parameters tries bfloat16 first, and the fp32 Dst levels only if bfloat16 loses
    accuracy: every candidate converts every weight again (host memory and time)."""
    p = option.precision if option.optimize else "bf16"
    if kind != "inference" or p == "bf16":
        return ("bf16",)
    if agm is not None and p == "auto":
        from .passes.cleanup import RANDOM_OPS
        targets = [n.target for n in agm.graph.nodes if n.op == "call_function"]
        if any(t in RANDOM_OPS for t in targets) or not any(str(t) in _PRODUCTS for t in targets):
            return ("bf16",)
        if _param_bytes(agm, static_inputs) > SEARCH_MAX_PARAM_BYTES:
            log.info("torch_ttnn: more than 1 GiB of parameters: bfloat16 weights first (an fp32 Dst if bfloat16 "
                     "loses accuracy)")
            return ("bf16", "bfp8-acc32", "bf16-acc32", "fp32")
    if p == "auto":
        convs = agm is not None and any(n.op == "call_function" and str(n.target) in _CONVS
                                        for n in agm.graph.nodes)
        return AUTO_ORDER if convs else tuple(lv for lv in AUTO_ORDER if lv != "bfp8-act")
    return (p,)


def _pccs(outs, ref) -> list:
    """PCC of each floating-point output against the reference (None for the other outputs)."""
    from ..portable import pcc, tensors_of
    return [pcc(o.float(), r.float()) if o.is_floating_point() and r.is_floating_point() and r.numel() > 0
            else None for o, r in zip(tensors_of(outs), tensors_of(ref))]


def _most_accurate(per_level: list) -> int:
    """Index of the level to keep when none reached MIN_PCC: the best worst-output PCC over the outputs that
    tell the levels apart (an output whose PCC is the same at every level - a bias or a mask the weights do not
    touch - says nothing about precision), the cheapest (first) on a tie; the first when nothing differs."""
    n = len(per_level[0])
    telling = [j for j in range(n) if per_level[0][j] is not None
               and len({round(pl[j], 5) for pl in per_level}) > 1]
    if not telling:
        return 0
    scores = [round(min(pl[j] for j in telling), 5) for pl in per_level]
    return scores.index(max(scores))


def placement_for(option, kind: str) -> bool:
    """Whether to try activations in L1 (inference graphs, optimize=True, placement="auto")."""
    return bool(option.optimize) and option.placement == "auto" and kind == "inference"


MAX_RELAXED_GROUPS = 4     # product groups tried one by one (each a compile and a simulated run of the graph)
# A relaxed program keeps PCC >= MIN_PCC and at most this many times the error (1 - PCC) of its accurate level:
# one graph's loss is another's input (an encoder's output, a decode step's cache), and a search that relaxes
# every graph to the bar lets the errors compound (a T5 whose encoder went from 1 - PCC = 7e-5 to 4e-4 chose
# other tokens from the second step on)
RELAX_ERROR_FACTOR = 2.0
# a group is relaxed only for a modelled gain of at least this share of the graph's matrix-product time: accuracy
# is not traded for nothing (an fp32 Dst costs the model no time, so relaxing it gains none)
MIN_RELAX_GAIN = 0.01


def _profiler(option):
    """The modelled-time profiler of the device the programs run on (the simulator's; None on a chip)."""
    from ..runtime import chip_of
    device = option.device_in_use
    return getattr(chip_of(device), "profiler", None) if device is not None else None


def _group_times(rows) -> dict:
    """{(op, weight shape): modelled kernel us} of the matmul/linear launches among profiler rows."""
    out: dict = {}
    for r in rows:
        if r.op in ("linear", "matmul") and len(r.inputs) > 1:
            key = (r.op, tuple(int(d) for d in r.inputs[1].shape))
            out[key] = out.get(key, 0.0) + float(r.cost.kernel_us)
    return out


# bytes a weight value takes in each level's weight format (a tile of 1,024 values: bfloat16 2,048 bytes,
# bfloat8_b 1,088 with its exponents)
_WEIGHT_BYTES = {"bf16": 2.0, "bf16-acc32": 2.0, "bfp8": 1088 / 1024, "bfp8-lofi": 1088 / 1024,
                 "bfp8-acc32": 1088 / 1024}


def _weight_values(n) -> int:
    from .meta import node_val
    from .passes.precision import _weight_of
    v = node_val(_weight_of(n))
    return v.numel() if isinstance(v, torch.Tensor) else 0


class _LevelRefused(Exception):
    """The device refused a precision level's program (not its placement)."""


class PrecisionSearch(BoxedProgram):
    """What aot_autograd calls for an optimised inference graph: on the first call, compiles candidates from
    the fastest (the first precision level, activations in L1) down, and keeps the first that runs and is
    accurate. A placement is refused by running it (the simulated device raises on an over-full L1, as
    TT-NN does): the same level is then compiled with DRAM activations and L1 is not tried again for this
    graph. A precision level is refused by accuracy (PCC < 0.99 against torch on the host)."""

    def __init__(self, agm: torch.fx.GraphModule, levels: tuple, *, option, compile_fn, l1: bool = False,
                 reference=None):
        super().__init__()
        self.agm = agm
        self.reference = reference     # args -> the outputs to compare with (default: agm run by torch)
        self.levels = levels
        self.l1 = l1
        self.option = option
        self.compile_fn = compile_fn
        self.chosen = None
        self.tried: list = []
        self.group_us: dict = {}         # level -> {(op, weight shape): modelled us of its launches}
        self.relaxed: list = []          # each group tried by _relax_groups: key, modelled gain, PCC, kept
        self._key: Optional[str] = None  # the decision's key in the disk cache (None: not cached)
        self.l1_now = l1

    def run(self, args):
        if self.chosen is None:
            from .collector import quiet_collector
            with quiet_collector():
                return self._choose(args)
        return self.chosen(*args)

    def _run(self, level, on_l1, args):
        compiled = self.compile_fn(copy_aten(self.agm), level, on_l1)   # a compile error is not a refusal
        prof = _profiler(self.option)
        start, was = (len(prof.rows), prof.recording) if prof is not None else (0, False)
        if prof is not None:
            prof.recording = True     # the modelled time of each launch: what relaxing a group would gain
        try:
            return compiled, compiled(*args)
        except Exception as e:
            # the device refused the plan (out of L1, an invalid config); an error about the call itself
            # (user_facing: e.g. an input out of the exact integer range) is not the placement's fault
            e.placement_refusal = on_l1 and not getattr(e, "user_facing", False)
            raise
        finally:
            if prof is not None:
                self.group_us[str(level)] = _group_times(prof.rows[start:])
                if not was:
                    del prof.rows[start:]
                prof.recording = was

    def _run_level(self, level, l1, args):
        """Compile and run one level: with activations in L1 if asked, in DRAM when the device refuses that
        placement (and from then on: self.l1_now); _LevelRefused when the device refuses the level itself
        (only "bfp8-act", and only when another level follows)."""
        refusable = level == "bfp8-act" and level != self.levels[-1]

        def level_refused(e):
            """The device's refusal of the level itself, as _LevelRefused; None for any other error."""
            if refusable and not getattr(e, "user_facing", False):
                return _LevelRefused(f"{type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}")
            return None

        self.l1_now = l1
        try:
            return self._run(level, l1, args)
        except Exception as e:
            if not getattr(e, "placement_refusal", False):
                refused = level_refused(e)
                if refused is not None:
                    raise refused from e
                raise
            # the refusal's text only: its traceback holds the refused run's tensors, whose L1 buffers the DRAM
            # run needs free
            refusal = f"{type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}"
            e.__traceback__ = None
        gc.collect()
        try:
            result = self._run(level, False, args)
        except Exception as e:
            refused = level_refused(e)         # refused in DRAM too: the level, not L1 (kept for the next)
            if refused is not None:
                raise refused from e
            raise
        log.warning("torch_ttnn: L1 placement refused by the device (%s); activations stay in DRAM", refusal)
        self.tried.append((level, "l1", f"refused: {refusal.split(':')[0]}"))
        self.l1_now = False
        return result

    def _choose(self, args):
        from .. import runtime
        key = _search_key(self, args)
        if key is not None:
            cached = _load_decision(key)
            if cached is not None:
                out = self._replay_decision(cached, args)
                if out is not None:
                    return out
        ref = None
        if any(lv != "bf16" for lv in self.levels):
            with torch.no_grad():                   # the graph in fp32 on the host: the accuracy reference
                ref = self.reference(args) if self.reference is not None else self.agm(*args)
        with runtime.eager_state():                # outputs compared as computed, never a lazily kept host copy
            return self._search(args, ref)

    def _search(self, args, ref):
        from .. import runtime
        self._rss_start = _resident_bytes()
        l1 = self.l1
        measured = []                               # (level, PCC of each output)
        skip = set()                                # levels already measured under another name
        for i, level in enumerate(self.levels):
            last = i == len(self.levels) - 1
            if level in skip:
                continue
            try:
                compiled, out = self._run_level(level, l1, args)
            except _LevelRefused as e:
                # block-float activations reached an op that refuses them: the next level keeps bfloat16
                log.warning("torch_ttnn: bfloat8_b activations refused by the device (%s); trying %s", e,
                            self.levels[i + 1])
                self.tried.append((level, "l1" if l1 else "dram", f"refused: {e}"))
                continue
            l1 = self.l1_now
            if level == "bfp8-act" and not compiled.report.bfp8_activations and "bfp8-lofi" in self.levels:
                # no convolution output could be bfloat8_b: this is the bfp8-lofi program, measured once
                level = compiled.report.precision = "bfp8-lofi"
                skip.add("bfp8-lofi")
                self.group_us["bfp8-lofi"] = self.group_us.get("bfp8-act", {})
            per_output = _pccs(out, ref) if ref is not None else None
            score = min([p for p in per_output if p is not None], default=1.0) if per_output is not None else None
            self.tried.append((level, "l1" if l1 else "dram", None if score is None else round(score, 5)))
            if per_output is not None:
                measured.append((level, per_output))
            if last or score is None or score >= MIN_PCC:
                break
            runtime._release_graph_module(lambda g=compiled.gm: g)   # free the rejected program's weights
        if score is not None and score < MIN_PCC and len(measured) > 1:
            # no level reached MIN_PCC: keep the most accurate one, the cheapest on a tie (a slower level that
            # does not improve accuracy is not worth its time); rebuilt, as it was released
            best_level = measured[_most_accurate([pl for _, pl in measured])][0]
            if best_level != level:
                runtime._release_graph_module(lambda g=compiled.gm: g)
                level = best_level
                compiled, out = self._run(level, l1, args)
                self.tried.append((level, "l1" if l1 else "dram", "kept: the most accurate, cheapest"))
        # relax groups where the faster level lost accuracy as a whole, or was not a candidate (a graph too large
        # to search every level: bfloat16 first)
        relaxable = level in RELAXED and (RELAXED[level] in dict(measured) or RELAXED[level] not in self.levels)
        if score is not None and score >= MIN_PCC and relaxable and self.option.optimize:
            compiled, out, level = self._relax_groups(compiled, out, level, l1, args, ref)
        self.chosen = compiled
        record_program(self.option, compiled)
        decision = {"graph": len(self.option.results.reports) - 1, "chosen": str(level),
                    "placement": compiled.report.placement, "tried": list(self.tried)}
        if self.relaxed:
            decision["relaxed_groups"] = list(self.relaxed)
        self.option.results.precision.append(decision)
        log.info("torch_ttnn: graph %d: precision %s, activations in %s (tried %s)", decision["graph"], level,
                 decision["placement"], self.tried)
        if self._key is not None:
            _store_decision(self._key, decision, level, self.l1_now)
        return out

    def _replay_decision(self, cached: dict, args):
        """Compile and run the program a cached decision chose; None (then the search runs) if the device
        refuses it now."""
        level = _level_from_json(cached["level"])
        try:
            compiled, out = self._run(level, cached["l1"], args)
        except Exception as e:        # e.g. the L1 is taken by another program this time: search again
            if getattr(e, "user_facing", False):
                raise
            log.info("torch_ttnn: the cached precision decision was refused (%s: %s); searching again",
                     type(e).__name__, str(e).splitlines()[0] if str(e) else "")
            return None
        self.chosen = compiled
        record_program(self.option, compiled)
        decision = {**cached["decision"], "graph": len(self.option.results.reports) - 1, "cached": True}
        self.option.results.precision.append(decision)
        log.info("torch_ttnn: graph %d: precision %s, activations in %s (cached decision)", decision["graph"],
                 decision["chosen"], decision["placement"])
        return out

    def _relax_groups(self, compiled, out, level: str, l1: bool, args, ref):
        """The graph runs accurately at `level` but not at the faster RELAXED[level] as a whole (or that level was
        not tried: a graph with more than 1 GiB of parameters): relax its
        product groups one at a time, largest modelled gain first (the modelled us of the group's launches at
        `level` less at the relaxed level, from MIN_RELAX_GAIN of the graph's product time up; where either was
        not timed, the weight bytes the relaxed format saves, none for a Dst width), keeping each whose
        program still reaches MIN_PCC with at most RELAX_ERROR_FACTOR times the error of `level`. Returns the
        program kept, its output and its level."""
        from .. import runtime
        groups = product_groups(compiled.gm, runtime.ttnn_for(self.option.device_in_use))
        if not groups or (len(groups) < 2 and RELAXED[level] in self.levels):
            return compiled, out, level      # one group relaxed is the relaxed level itself, which lost
        relaxed_level = RELAXED[level]
        at, fast = self.group_us.get(level), self.group_us.get(relaxed_level)

        timed = bool(at and fast)
        unit = "us" if timed else "weight bytes saved"
        saved = _WEIGHT_BYTES[level] - _WEIGHT_BYTES[relaxed_level]    # a weight value's bytes the relaxing saves

        def gain(key):
            if timed:
                return at.get(key, 0.0) - fast.get(key, 0.0)
            # not timed: the weight bytes the relaxed format saves (none where only the Dst width changes)
            return float(sum(_weight_values(n) for n in groups[key])) * saved

        ranked = sorted(groups, key=gain, reverse=True)
        # a trial is a second program beside the one kept: its memory (what the kept one added since the search
        # began) must fit in what the process may still use, else the search ends here with the accurate level
        start, now, headroom = getattr(self, "_rss_start", None), _resident_bytes(), _memory_headroom()
        if start is not None and now is not None and headroom is not None and now - start > headroom:
            why = (f"a trial program needs ~{(now - start) / 2**30:.1f} GiB beside the kept one, "
                   f"{headroom / 2**30:.1f} GiB left")
            log.warning("torch_ttnn: product groups not relaxed to %s: %s", relaxed_level, why)
            self.tried.append((str(level), "l1" if l1 else "dram", f"groups not relaxed: {why}"))
            return compiled, out, level
        base, kept = level, set()
        base_score = min([p for p in _pccs(out, ref) if p is not None], default=1.0)
        bar = max(MIN_PCC, 1.0 - RELAX_ERROR_FACTOR * (1.0 - base_score))
        floor = MIN_RELAX_GAIN * sum(at.values()) if timed else 0.0
        for key in ranked[:MAX_RELAXED_GROUPS]:
            g = gain(key)
            if g <= floor:
                break
            trial = MixedLevel(base, relaxed_level, frozenset(kept | {key}), len(groups))
            cand, cand_out = self._run(trial, l1, args)
            per_output = _pccs(cand_out, ref)
            score = min([p for p in per_output if p is not None], default=1.0)
            ok = score >= bar
            self.relaxed.append({"group": f"{key[0]} {list(key[1])}", "products": len(groups[key]),
                                 ("gain_us" if timed else "weight_bytes_saved"): round(g, 2), "pcc": round(score, 5),
                                 "kept": ok})
            log.info("torch_ttnn: %s products %s at %s: %s %.1f %s, PCC %.5f: %s", key[0], list(key[1]),
                     relaxed_level, "modelled gain" if timed else "ranked by", g, unit, score,
                     "kept" if ok else "not kept")
            if ok:
                runtime._release_graph_module(lambda g=compiled.gm: g)
                kept.add(key)
                compiled, out, level = cand, cand_out, trial
            else:
                runtime._release_graph_module(lambda g=cand.gm: g)
        return compiled, out, level


def _resident_bytes() -> Optional[int]:
    """The process's resident memory (Linux /proc), None where unknown."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        return None
    return None


def _memory_headroom() -> Optional[int]:
    """Bytes the process can still take: the machine's available memory, and below its address-space cap
    (RLIMIT_AS, as `torch-ttnn zoo` sets per model) what its mappings leave; None where unknown."""
    room = []
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    room.append(int(line.split()[1]) * 1024)
        import resource
        cap = resource.getrlimit(resource.RLIMIT_AS)[0]
        if cap != resource.RLIM_INFINITY:
            with open("/proc/self/status") as f:
                size = next(int(ln.split()[1]) * 1024 for ln in f if ln.startswith("VmSize:"))
            room.append(cap - size)
    except (OSError, ImportError, StopIteration, ValueError):
        pass
    return min(room) if room else None


# --- the decision cache (see the module docstring) -------------------------------------------------------------

def _cache_dir() -> Path:
    return cache_root() / "search"


def _search_key(search: "PrecisionSearch", args) -> Optional[str]:
    """The decision's key, or None where it is not cached (turned off, an argument that cannot be hashed)."""
    if os.environ.get("TORCH_TTNN_SEARCH_CACHE", "1") == "0":
        return None
    from ..runtime import _content_hash, chip_of
    from .passes import placement
    h = hashlib.sha256()
    h.update(sources_digest().encode())     # a decision made by other code is not reused
    h.update(search.agm.code.encode())
    consts = []            # tensors the graph holds as attributes (constants aot_autograd did not lift)
    for n in search.agm.graph.nodes:
        if n.op == "get_attr":
            v = search.agm
            for part in str(n.target).split("."):
                v = getattr(v, part, None)
            consts.append(v)
    for a in (*consts, *args):
        if isinstance(a, torch.Tensor):
            digest = _content_hash(a)
            if digest is None:
                return None
            h.update(repr((tuple(a.shape), str(a.dtype), tuple(a.stride()), digest)).encode())
        elif a is None or isinstance(a, (bool, int, float, str)):
            h.update(repr(a).encode())
        else:
            return None
    o = search.option
    device = chip_of(o.device_in_use) if o.device_in_use is not None else None
    setting = {k: v for k, v in vars(o).items() if isinstance(v, (bool, int, float, str, type(None)))
               and k not in ("device", "metrics_path", "gen_graphviz", "mesh")}
    h.update(repr((sorted(setting.items()), [str(lv) for lv in search.levels], search.l1,
                   getattr(getattr(device, "preset", None), "name", None), getattr(device, "ideal", None),
                   MIN_PCC, MAX_RELAXED_GROUPS, RELAX_ERROR_FACTOR, MIN_RELAX_GAIN, SEARCH_MAX_PARAM_BYTES,
                   placement.PLACEMENT_BUDGET, search.reference is None)).encode())
    search._key = h.hexdigest()[:40]
    return search._key


def _level_to_json(level):
    if isinstance(level, MixedLevel):
        return {"base": level.base, "relaxed": level.relaxed, "of": level.of,
                "groups": sorted(([op, None if shape is None else list(shape)] for op, shape in level.groups),
                                 key=repr)}
    return str(level)


def _level_from_json(v):
    if isinstance(v, dict):
        return MixedLevel(v["base"], v["relaxed"],
                          frozenset((op, None if shape is None else tuple(shape)) for op, shape in v["groups"]),
                          v["of"])
    return v


def _load_decision(key: str) -> Optional[dict]:
    path = _cache_dir() / f"{key}.json"
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def _store_decision(key: str, decision: dict, level, l1: bool) -> None:
    """Write a decision (privately, then renamed: parallel processes never see half a file); a cache that
    cannot be written is skipped, with a note in the log."""
    d = _cache_dir()
    try:
        d.mkdir(parents=True, exist_ok=True)
        tmp = d / f".{key}.{os.getpid()}.tmp"
        tmp.write_text(json.dumps({"level": _level_to_json(level), "l1": bool(l1), "decision": decision},
                                  default=str))
        os.replace(tmp, d / f"{key}.json")
    except OSError as e:
        log.info("torch_ttnn: precision decision not cached (%s)", e)
