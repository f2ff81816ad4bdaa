"""Program configs for matmul/linear: the multicast program of least modelled time, where it beats TT-NN's own.

Called without a `program_config`, TT-NN generates one from the operands (matmul_program_config.cpp,
create_simple_matmul_program_config): a 2D multicast over the whole grid when every operand and the output are
in DRAM, but once an activation is in L1 (passes/placement.py puts them there) it blocks the output in squares
of up to 16x16 tiles with one core per block, which leaves most of the grid idle on a [3072, 1024] product, and
falls back to a program without operand reuse when those blocks do not fit the grid's rows. It also runs a
batched activation ([batch, M, K] x [K, N]) one batch after the other.

This pass gives every product whose second operand is shared (weights) a config of its own when one is
faster: the 2D multicast (output rows over the grid's rows, columns over its columns), the 1D multicast of in0
(every core all rows, a slice of the columns: wide outputs) and of in1 (a slice of the rows, all columns: tall
outputs), each over the whole grid with the batch folded into the rows (fuse_batch), and in0_block_w the
largest of 8/4/2/1 that divides K and whose circular buffers fit the L1 a core has beside the L1 buffers the
program holds at that point (TT-NN's estimate of a config's circular buffers, get_estimated_size_of_cbs). On
the simulated device each candidate and the default are timed by the performance model
(`device.estimate_op_us`) and the fastest is kept, a config only when it beats the default; on a real device,
which offers no model, the candidate with the smallest per-core block is used. The simulated matmul validates a
config as TT-NN does (grid, divisibility, Dst capacity, L1 for its circular buffers) and refuses a wrong one.

Products it leaves to TT-NN: batched second operands (attention's q @ k^T), sharded operands, an explicit
core_grid or program_config.
"""
from __future__ import annotations

import logging
import math

import torch
import torch.fx

from ...matmul_rules import cb_bytes, interm_tile_bytes, subblock
from ..meta import node_val, tt_meta
from ..tiles import TILE
from .base import Pass, PassResult, constant
from .placement import _VIEWS, L1_CB_SPACE, L1Ledger, _bytes

log = logging.getLogger("torch_ttnn")

MIN_GAIN = 0.01      # keep TT-NN's own program unless a config is at least 1% faster


def _name(n) -> str:
    return getattr(n.target, "__name__", "") if isinstance(n, torch.fx.Node) else ""


def _dtype(node):
    """The TT-NN dtype of a node's tensor: a weight load's argument (the precision pass rewrites it), else the
    lowering's record."""
    if node.op == "call_method" and node.target == "load" and len(node.args) >= 3:
        return node.args[2]
    return tt_meta(node).dtype


def _attr(gm, v):
    """The object a get_attr node stands for (configs are graph constants), None for another node, else v."""
    if isinstance(v, torch.fx.Node):
        return getattr(gm, v.target, None) if v.op == "get_attr" else None
    return v


class MatmulProgramConfigs(Pass):
    name = "matmul_program_configs"
    needs = ("insert_conversions",)
    after = ("deallocate", "weight_precision", "l1_placement")    # where operands live, their formats

    def __init__(self, ttnn, device, report=None):
        self.ttnn = ttnn
        from ... import runtime
        self.chip = runtime.chip_of(device)
        grid = self.chip.compute_with_storage_grid_size()
        self.gx, self.gy = int(grid.x), int(grid.y)
        stats = self.chip.memory_stats()["L1"] if hasattr(self.chip, "memory_stats") else None
        self.l1_bank = stats["total_bytes"] // max(1, self.gx * self.gy) if stats else 0
        self.model = getattr(self.chip, "estimate_op_us", None)
        # (node name, program kind, modelled us of TT-NN's default, of the chosen config): the report's list
        self.chosen: list = report.matmul_configs if report is not None else []

    # --- what a node is -------------------------------------------------------------------------
    def _buffer(self, gm, n) -> str:
        """Where n's buffer lives: the memory_config of the op that made it (views share their input's)."""
        while _name(n) in _VIEWS:
            n = n.args[0]
        mc = _attr(gm, n.kwargs.get("memory_config")) if isinstance(n, torch.fx.Node) else None
        if mc is not None and getattr(mc, "buffer_type", None) == self.ttnn.BufferType.L1:
            return "L1"
        return "DRAM"

    def _tile_bytes(self, dtype) -> int:
        return int(self.ttnn.tile_size(dtype))

    def _cbs(self, pm, pn, kw, a_dt, b_dt, out_dt, fp32_acc, bias_dt, transpose_a) -> int:
        """TT-NN's estimate of a config's circular buffers (matmul_rules.cb_bytes)."""
        t = self._tile_bytes
        interm = interm_tile_bytes(fp32_acc, t(out_dt), t(self.ttnn.bfloat16), t(self.ttnn.float32))
        return cb_bytes(pm, pn, kw, t(a_dt), t(b_dt), interm, t(bias_dt) if bias_dt is not None else 0,
                        transpose_a)

    # --- candidates -----------------------------------------------------------------------------
    def _candidates(self, R, Kt, Nt, fits, fp32_acc, activation):
        """(kind, config) of the multicast programs over the whole grid for an R x Nt-tile output."""
        ttnn, gx, gy = self.ttnn, self.gx, self.gy
        cores = gx * gy
        grid = ttnn.CoreCoord(gx, gy)
        shapes = [("2d", -(-R // gy), -(-Nt // gx)), ("1d_in0", R, -(-Nt // cores)), ("1d_in1", -(-R // cores), Nt)]
        out = []
        for kind, pm, pn in shapes:
            kw = next((k for k in (8, 4, 2, 1) if Kt % k == 0 and fits(pm, pn, k)), None)
            if kw is None:
                continue
            h, w = subblock(pm, pn, fp32_acc)
            common = dict(compute_with_storage_grid_size=grid, in0_block_w=kw, out_subblock_h=h, out_subblock_w=w,
                          per_core_M=pm, per_core_N=pn, fused_activation=activation)
            if kind == "2d":
                cfg = ttnn.MatmulMultiCoreReuseMultiCastProgramConfig(transpose_mcast=False, fuse_batch=True,
                                                                      **common)
            else:
                cfg = ttnn.MatmulMultiCoreReuseMultiCast1DProgramConfig(fuse_batch=True,
                                                                        mcast_in0=kind == "1d_in0", **common)
            out.append((kind, pm * pn, cfg))
        return out

    def _activation(self, act):
        """A linear's `activation=` as the UnaryWithParam a program config carries (None: none; False: cannot)."""
        if act is None:
            return None
        if isinstance(act, self.ttnn.UnaryWithParam):
            return act
        if act == "gelu_tanh":
            return False          # UnaryWithParam(GELU) is the accurate gelu
        kind = getattr(self.ttnn.UnaryOpType, str(act).upper(), None)
        return self.ttnn.UnaryWithParam(kind) if kind is not None else False

    # --- the pass -------------------------------------------------------------------------------
    def call(self, gm: torch.fx.GraphModule) -> PassResult:
        if self.l1_bank <= 0:
            return PassResult(gm, False)
        ledger, changed = L1Ledger(self.ttnn), False      # bytes a bank holds
        for n in ledger.ops(gm):
            if _name(n) in ("matmul", "linear"):
                changed |= self._configure(gm, n, ledger.live)
            if self._buffer(gm, n) == "L1" and _name(n) not in _VIEWS and tt_meta(n) is not None:
                # what one bank holds of it: an interleaved buffer puts whole pages on each bank, so a bank may
                # hold one page (a tile: at most 4 KiB) more than an even share
                ledger.hold(n, -(-_bytes(n, self.ttnn) // (self.gx * self.gy)) + 4096)
        return PassResult(gm, changed)

    def _configure(self, gm, n, live_per_bank: int) -> bool:
        ttnn = self.ttnn
        kw = n.kwargs
        if any(kw.get(k) is not None for k in ("program_config", "core_grid")) or len(n.args) != 2:
            return False
        a, b = n.args
        va, vb, vo = node_val(a), node_val(b), node_val(n)
        ma, mb, mo = tt_meta(a), tt_meta(b), tt_meta(n)
        if not all(isinstance(v, torch.Tensor) for v in (va, vb, vo)) or None in (ma, mb, mo):
            return False
        if vb.dim() < 2 or vb.dim() > 2 and math.prod(vb.shape[:-2]) > 1 or va.dim() < 2:
            return False          # a batched (or vector) second operand: TT-NN's other programs
        ta, tb = bool(kw.get("transpose_a", False)), bool(kw.get("transpose_b", False))
        M, K = (va.shape[-1], va.shape[-2]) if ta else (va.shape[-2], va.shape[-1])
        N = vb.shape[-2] if tb else vb.shape[-1]
        batch = math.prod(vo.shape[:-2]) if vo.dim() > 2 else 1
        if ta and batch > 1:
            return False
        activation = self._activation(kw.get("activation"))
        if activation is False:
            return False
        ckc = _attr(gm, kw.get("compute_kernel_config"))
        if ckc is None and kw.get("compute_kernel_config") is not None:
            return False          # a config computed in the graph: its fidelity and Dst are not known here
        a_dt, b_dt, out_dt = _dtype(a), _dtype(b), mo.dtype
        fp32_acc = bool(getattr(ckc, "fp32_dest_acc_en", False)) or ttnn.float32 in (a_dt, b_dt)
        bias = kw.get("bias")
        bias_dt = _dtype(bias) if isinstance(bias, torch.fx.Node) and tt_meta(bias) is not None else None
        # room below the lowest L1 buffer when the op runs, as the placement replayed it (else: the live bytes)
        free = min(self.l1_bank - live_per_bank, n.meta.get(L1_CB_SPACE, self.l1_bank))

        def fits(pm, pn, k):
            return self._cbs(pm, pn, k, a_dt, b_dt, out_dt, fp32_acc, bias_dt, ta) < free

        R, Kt, Nt = batch * -(-M // TILE), -(-K // TILE), -(-N // TILE)
        cands = self._candidates(R, Kt, Nt, fits, fp32_acc, activation)
        if not cands:
            return False
        if self.model is not None:
            def spec(node, v):
                return (tuple(int(d) for d in v.shape), _dtype(node), ttnn.TILE_LAYOUT, self._buffer(gm, node))
            args = (spec(a, va), spec(b, vb))
            extra = {k: kw[k] for k in ("transpose_a", "transpose_b") if k in kw}
            if bias_dt is not None:
                extra["bias"] = spec(bias, node_val(bias))
            if ckc is not None:
                extra["compute_kernel_config"] = ckc
            outs = [spec(n, vo)]
            op = _name(n)

            def us(cfg, act):
                return self.model(op, *args, outputs=outs, l1_free=free, program_config=cfg, activation=act,
                                  **extra)
            default = us(None, kw.get("activation"))
            timed = [(us(cfg, None), kind, cfg) for kind, _, cfg in cands]
            best_us, kind, cfg = min(timed, key=lambda t: t[0])
            if best_us > default * (1 - MIN_GAIN):
                return False
        else:
            default = best_us = None
            kind, _, cfg = min(cands, key=lambda c: c[1])
        name = f"ttnn_matmul_config_{len(self.chosen)}"
        new = {k: v for k, v in kw.items() if k != "activation"}
        new["program_config"] = constant(gm, name, cfg)
        n.kwargs = new
        self.chosen.append((n.name, kind, None if default is None else round(default, 2),
                            None if best_us is None else round(best_us, 2)))
        log.debug("matmul program config for %s: %s (modelled %s -> %s us)", n.name, kind, default, best_us)
        return True
