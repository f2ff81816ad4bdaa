"""Cost rules: what each simulated TT-NN op does on Tensix hardware, in cycles and bytes.

Every op the simulator offers is either in RULES (it runs a program on the device) or in NO_PROGRAM (host-side
or metadata-only: it launches nothing); tests/sim/test_perf.py holds that to the registry.

Units of work: a 32x32 tile. Rates (rates.py): the matrix engine multiplies a 32x32x32 tile product in
16/32/48/64 cycles (LoFi..HiFi4); the FPU adds/subtracts a tile in 8 cycles (1024 values / 8x16), multiplies
it in 8 x fidelity passes, reduces it in 4 cycles (x fidelity for sums); the SFPU runs one instruction on 32
lanes a cycle, so an instruction over a tile costs 32 cycles, and an SFPU op first copies the tile into Dst
(8 cycles). Work is split in whole units over the cores the op uses; the busiest core sets the compute time.

SFPU instructions per value (SFPU_INSTR) are estimates from the algorithm each kernel family uses (range
reduction + polynomial for exp/log/trig, Newton-Raphson for reciprocal/sqrt, compositions for the rest): no
per-function cycle counts are published (FACTS.md). They matter little for single ops on Wormhole, whose
element-wise ops are DRAM-bound (a bf16 tile moves 4 KB for ~8-600 cycles of compute), which the calibration
benchmark shows.
"""
from __future__ import annotations

import math
from typing import Callable

from ..types import DataType, Layout, MathFidelity
from .cost import CONDITIONAL, NO_PROGRAM, RULES, Call, OpCost, Rule, bytes_by_buffer, finish  # noqa: F401  (tests read the sets here)
from .rates import (FIDELITY_PASSES, FPU_ELTWISE_PER_CYCLE, FPU_REDUCE_PER_CYCLE, SFPU_LANES, TILE_MATMUL_CYCLES,
                    TILE_VALUES)


FPU_TILE = TILE_VALUES / FPU_ELTWISE_PER_CYCLE      # 8 cycles: add/sub/copy of one tile
REDUCE_TILE = TILE_VALUES / FPU_REDUCE_PER_CYCLE    # 4 cycles: reduce one tile
SFPU_TILE = TILE_VALUES / SFPU_LANES                # 32 cycles: one SFPU instruction over a tile

def _ceil(a: float, b: float) -> int:
    return int(-(-a // b))


def _passes(f: MathFidelity) -> int:
    return FIDELITY_PASSES[MathFidelity(f)]


def cost(c: Call, cores: int, cycles: float, *, flops: float = 0.0, reads=None, writes=None,
         extra_dram: float = 0.0, noc: float = 0.0, fidelity: str = "", note: str = "",
         dram_readers=None) -> OpCost:
    """An OpCost from the busiest core's cycles and the tensors read and written (default: all inputs, all
    outputs), finished by the roofline."""
    dr, lr = bytes_by_buffer(c.ins if reads is None else reads)
    dw, lw = bytes_by_buffer(c.outs if writes is None else writes)
    oc = OpCost(c.name, cores, cycles, flops=flops, dram_bytes=dr + dw + extra_dram, l1_bytes=lr + lw,
                noc_bytes_per_core=noc, fidelity=fidelity, note=note)
    return finish(oc, c.rates, dram_readers)


def register(names, rule: Rule) -> None:
    for n in names.split() if isinstance(names, str) else names:
        if n in RULES:
            raise RuntimeError(f"cost rule for {n!r} registered twice")
        RULES[n] = rule


# ------------------------------------------------------------------------------------------------
# Element-wise: FPU (add/sub/mul) and SFPU (everything else)
# ------------------------------------------------------------------------------------------------
def eltwise(fpu_adds: int = 0, fpu_muls: int = 0, sfpu: float = 0.0) -> Rule:
    """Per output tile: `fpu_adds` FPU add/sub passes, `fpu_muls` FPU multiplies (x fidelity), `sfpu` SFPU
    instructions per value (plus the copy into Dst), and the SFPU instructions of fused activations (a binary
    op's `activations`, applied to its result in Dst)."""

    def rule(c: Call) -> OpCost:
        tiles = max(d.tiles for d in c.outs) if c.outs else c.ins[0].tiles
        cores = c.cores_for(tiles)
        fid = c.fidelity() if fpu_muls else None
        per_tile = FPU_TILE * fpu_adds + (FPU_TILE * fpu_muls * _passes(fid) if fid is not None else 0)
        if sfpu:
            per_tile += FPU_TILE + SFPU_TILE * sfpu
        per_tile += SFPU_TILE * sum(fused_sfpu(a) for a in (c.param("activations") or ()))
        return cost(c, cores, _ceil(tiles, cores) * per_tile, fidelity=fid.name if fid is not None else "")

    return rule


# SFPU instructions per value, by unary op (estimates; see the module docstring)
SFPU_INSTR = {
    2: "abs neg sign signbit relu relu6 relu_max relu_min floor ceil trunc frac round eqz nez gtz gez ltz lez "
       "logical_not bitwise_not isfinite isinf isnan isneginf isposinf hardtanh clamp clip threshold "
       "leaky_relu prelu hardshrink softshrink deg2rad rad2deg fill",
    4: "hardsigmoid hardswish typecast",
    10: "reciprocal sqrt rsqrt",
    12: "exp exp2 expm1 softsign",
    14: "log log2 log10 log1p",
    16: "elu celu selu",
    20: "sigmoid sigmoid_accurate silu swish tanh gelu erf erfc cbrt tanhshrink sin cos tan",
    24: "asin acos atan softplus log_sigmoid",
    30: "sinh cosh asinh acosh atanh logit mish rpow",
    40: "erfinv i0",
    60: "lgamma digamma",
}
_INSTR_OF = {op: n for n, ops in SFPU_INSTR.items() for op in ops.split()}


def fused_sfpu(activation) -> float:
    """SFPU instructions per value of a fused activation (a ttnn.UnaryWithParam, or an activation's name as
    linear/matmul take it)."""
    if activation is None:
        return 0.0
    from ..ops.binary_core import activation_name
    name = activation_name(activation).lower().replace("gelu_tanh", "gelu")
    return float(_INSTR_OF.get(name, 20))


for _n, _ops in SFPU_INSTR.items():
    register(_ops, eltwise(sfpu=_n))
register("square", eltwise(fpu_muls=1))
register("identity clone assign", eltwise(fpu_adds=1))
register("polyval", lambda c: eltwise(sfpu=2 * max(1, len(c.param("coeffs", []) or [])))(c))

# binary: FPU add/sub/mul, or SFPU
register("add add_ sub sub_ subtract subtract_ rsub rsub_", eltwise(fpu_adds=1))
register("mul mul_ multiply multiply_", eltwise(fpu_muls=1))
register("addalpha subalpha", eltwise(fpu_adds=1, fpu_muls=1))
register("squared_difference squared_difference_", eltwise(fpu_adds=1, fpu_muls=1))
register("eq eq_ ne ne_ gt gt_ ge ge_ lt lt_ le le_", eltwise(fpu_adds=1, sfpu=2))
register("logical_and logical_and_ logical_or logical_or_ logical_xor logical_xor_ maximum minimum "
         "bitwise_and bitwise_or bitwise_xor bitwise_left_shift bitwise_right_shift nextafter", eltwise(sfpu=4))
register("div div_ divide divide_ rdiv div_no_nan ldexp ldexp_", eltwise(fpu_muls=1, sfpu=12))
register("floor_div fmod remainder hypot xlogy isclose", eltwise(sfpu=20))
register("pow atan2 logaddexp logaddexp_ logaddexp2 logaddexp2_", eltwise(sfpu=30))
register("gcd lcm", eltwise(sfpu=60))
register("bias_gelu bias_gelu_", eltwise(fpu_adds=1, sfpu=20))
# ternary
register("where", eltwise(sfpu=4))
register("mac addcmul", eltwise(fpu_adds=1, fpu_muls=1))
register("lerp", eltwise(fpu_adds=2, fpu_muls=1))
register("addcdiv", eltwise(fpu_adds=1, fpu_muls=2, sfpu=10))
# random numbers and masks: an SFPU generator per value (+ the multiply of dropout)
register("rand randn bernoulli", eltwise(sfpu=6))
register("experimental.dropout", eltwise(fpu_muls=1, sfpu=6))


def _fft(c: Call) -> OpCost:
    """A radix-2 FFT on the SFPU in fp32: (N/2) log2 N butterflies per row, each a complex multiply and two
    complex adds (10 real operations), i.e. 5 log2 N instructions per output value, over the real and the
    imaginary output; a length that is not a power of two runs Bluestein's algorithm (three transforms of a
    power-of-two length >= 2N-1)."""
    n = int(c.ins[0].shape[-1]) if c.ins and c.ins[0].shape else 1
    steps = max(1, math.ceil(math.log2(max(n, 2))))
    if n & (n - 1):
        steps = 3 * math.ceil(math.log2(2 * n - 1))
    return eltwise(sfpu=5 * steps)(c)


register("experimental.fft experimental.ifft", _fft)
register("tril triu", eltwise(sfpu=3))


# ------------------------------------------------------------------------------------------------
# Matrix engine: matmul, linear, addmm, conv, SDPA
# ------------------------------------------------------------------------------------------------
def _split(rows: int, cols: int, gx: int, gy: int, cores: int) -> tuple[int, int, int]:
    """(cores used, output tile rows, output tile cols of a core's block) of the best of the program families
    TT-NN picks from: 2D multicast (rows over the grid's height, cols over its width), 1D over cols (in0
    multicast to all), 1D over rows (in1 multicast to all). Best: the smallest busiest-core block."""
    pm, pn = _ceil(rows, gy), _ceil(cols, gx)
    two_d = (pm * pn, _ceil(rows, pm) * _ceil(cols, pn), pm, pn)
    pn1 = _ceil(cols, cores)
    by_cols = (rows * pn1, _ceil(cols, pn1), rows, pn1)
    pm1 = _ceil(rows, cores)
    by_rows = (pm1 * cols, _ceil(rows, pm1), pm1, cols)
    best = min((two_d, by_cols, by_rows), key=lambda o: (o[0], -o[1]))
    return best[1], best[2], best[3]


def _noted(note: str, extra: str) -> str:
    return f"{note}; {extra}" if note else extra


def _auto_program(c: Call, a, b, batch: int, M: int, K: int, N: int, bias, transpose_a: bool):
    """The program TT-NN generates for this launch, without a program config and with a shared second operand
    (sim/ops/matmul_auto.py), or None where that selection is not modelled (sharded operands, a user core
    grid)."""
    from ..ops._common import kernel_config
    from ..ops.matmul_auto import auto_config
    if c.param("core_grid") is not None or a.sharded or b.sharded or c.out.sharded:
        return None
    cfg = c.param("compute_kernel_config")
    fp32_acc = kernel_config(cfg, a.dtype, b.dtype)[1]
    bias_tile = bias.nbytes // max(1, bias.tiles) if bias is not None and bias.layout == Layout.TILE else 0
    return auto_config((batch, M, K), (K, N), a.dtype, b.dtype, a_buffer=a.buffer, b_buffer=b.buffer,
                       out_buffer=c.out.buffer, out_dtype=c.out.dtype, fp32_acc=fp32_acc, bias_tile=bias_tile,
                       grid=(c.rates.grid_x, c.rates.grid_y), l1_space=c.l1_space, transpose_a=transpose_a)


def matmul_cost(c: Call, a, b, batch: int, M: int, K: int, N: int, b_batched: bool, *, bias=None,
                extra_sfpu: float = 0.0, note: str = "", transpose_a: bool = False) -> OpCost:
    """A (batched) product [batch, M, K] x [K, N] (b shared) or x [batch, K, N] (b batched), tiled.

    Compute: the busiest core's output tiles x K tiles x cycles a tile product (fidelity), plus the packer's
    pass over its output tiles. Data: every operand read once from DRAM (multicast shares in0/in1 blocks across
    a row/column of cores), the output written once; each core also receives its in0 and in1 blocks over the
    NoC, which bounds small-M (decode) products whose weights stream through. The per-core block is the given
    program config's, else the one TT-NN generates ([MMCFG], sim/ops/matmul_auto.py): without a config, an
    operand or output in L1 can leave most cores idle, or select the program without operand reuse, whose
    every output tile reads its in0 row and in1 column again. Where that selection is not modelled, the best
    of TT-NN's program families is assumed (_split)."""
    Mt, Kt, Nt = _ceil(M, 32), _ceil(K, 32), _ceil(N, 32)
    fid = c.fidelity(a.dtype, b.dtype)
    cg = c.param("core_grid")
    gx, gy = (cg.x, cg.y) if cg is not None and hasattr(cg, "x") else (c.rates.grid_x, c.rates.grid_y)
    cores_avail = max(1, min(gx * gy, c.rates.cores))
    cfg = c.param("program_config")
    tile_a, tile_b = a.nbytes / max(1, a.tiles), b.nbytes / max(1, b.tiles)
    reads = [a, b] + ([bias] if bias is not None else [])
    flops = 2.0 * batch * M * K * N
    sfpu_tile = FPU_TILE + SFPU_TILE * extra_sfpu
    loops = 1                        # batches a core computes one after the other (a config without fuse_batch)
    if cfg is None and not b_batched:
        auto = _auto_program(c, a, b, batch, M, K, N, bias, transpose_a)
        if auto is not None and auto.kind == "multi_core":
            cores = auto.cores(batch, Mt, Nt, cores_avail)
            per_core = _ceil(batch * Mt * Nt, cores)
            cycles = per_core * Kt * TILE_MATMUL_CYCLES[fid] + per_core * sfpu_tile
            # every output tile streams its K tiles of both operands: re-reads of DRAM operands cost DRAM bytes
            again = sum(t.nbytes * (reuse - 1) for t, reuse in ((a, Nt), (b, batch * Mt)) if t.buffer == "DRAM")
            noc = per_core * Kt * (tile_a + tile_b)
            return cost(c, cores, cycles, flops=flops, reads=reads, extra_dram=again, noc=noc, fidelity=fid.name,
                        note=_noted(note, "auto config: multi-core without operand reuse"))
        cfg_like = auto
        if auto is not None:
            note = _noted(note, f"auto config: {auto.kind} {auto.per_core_M}x{auto.per_core_N}")
    else:
        cfg_like = cfg if cfg is not None and hasattr(cfg, "per_core_M") and not b_batched else None
        if cfg_like is not None:           # the given program, as the per-op view shows it
            kind = ("1d_in0" if cfg_like.mcast_in0 else "1d_in1") if hasattr(cfg_like, "mcast_in0") else "2d"
            note = _noted(note, f"config: {kind} {cfg_like.per_core_M}x{cfg_like.per_core_N}")
    if b_batched:
        total = batch * Mt * Nt
        cores = min(cores_avail, total)
        per_core = _ceil(total, cores)
        pm, pn = min(Mt, per_core), max(1, _ceil(per_core, max(1, min(Mt, per_core))))
    elif cfg_like is not None:
        # each core computes a per_core_M x per_core_N block of the output (of every batch in turn, unfused)
        fused = cfg_like.fuse_batch or batch == 1
        rows = batch * Mt if fused else Mt
        loops = 1 if fused else batch
        pm, pn = min(cfg_like.per_core_M, rows), min(cfg_like.per_core_N, Nt)
        cores = _ceil(rows, pm) * _ceil(Nt, pn)
        per_core = pm * pn * loops
    else:
        cores, pm, pn = _split(batch * Mt, Nt, gx, gy, cores_avail)
        per_core = pm * pn
    cycles = per_core * Kt * TILE_MATMUL_CYCLES[fid] + per_core * sfpu_tile
    noc = loops * Kt * (pm * tile_a + pn * tile_b)
    return cost(c, cores, cycles, flops=flops, reads=reads, noc=noc, fidelity=fid.name, note=note)


def _matmul_dims(c: Call):
    """(a, b, batch, M, K, N, b batched, transpose_a) of a matmul/linear or addmm launch."""
    if c.name == "addmm":
        a, b = c.tensor("mat1_tensor"), c.tensor("mat2_tensor")
        return a, b, 1, a.shape[-2], a.shape[-1], b.shape[-1], False, False
    a, b = c.tensor("input_tensor_a"), c.tensor("input_tensor_b")
    ta, tb = bool(c.param("transpose_a", False)), bool(c.param("transpose_b", False))
    sa, sb = list(a.shape), list(b.shape)
    if len(sa) == 1:
        sa = [1] + sa
    if len(sb) == 1:
        sb = sb + [1]
    M, K = (sa[-1], sa[-2]) if ta else (sa[-2], sa[-1])
    N = sb[-2] if tb else sb[-1]
    batch = math.prod(c.out.shape[:-2]) if len(c.out.shape) > 2 else 1
    b_batched = math.prod(sb[:-2]) > 1 if len(sb) > 2 else False
    return a, b, batch, M, K, N, b_batched, ta


def auto_program_of(c: Call):
    """The program TT-NN generates for a matmul/linear/addmm launch without a program config (None where it is
    not modelled, or the second operand is batched)."""
    a, b, batch, M, K, N, b_batched, ta = _matmul_dims(c)
    if b_batched:
        return None
    bias = c.tensor("input_tensor") if c.name == "addmm" else c.tensor("bias")
    return _auto_program(c, a, b, batch, M, K, N, bias, ta)


def _matmul(c: Call) -> OpCost:
    a, b, batch, M, K, N, b_batched, ta = _matmul_dims(c)
    return matmul_cost(c, a, b, batch, M, K, N, b_batched, bias=c.tensor("bias"),
                       extra_sfpu=fused_sfpu(c.param("activation")), transpose_a=ta)


def _addmm(c: Call) -> OpCost:
    a, b, _, M, K, N, _, _ = _matmul_dims(c)
    return matmul_cost(c, a, b, 1, M, K, N, False, bias=c.tensor("input_tensor"), extra_sfpu=0)


register("matmul linear", _matmul)
register("addmm", _addmm)


def _pair(v, n=2):
    return tuple(v) if isinstance(v, (list, tuple)) else (v,) * n


def _conv(c: Call, transposed: bool = False, one_d: bool = False) -> OpCost:
    """Convolution as TT-NN runs it: an implicit GEMM of M = output pixels, K = kernel window x input channels
    (grouped weights are expanded block-diagonally to all input channels, as prepare_conv_weights lays them out),
    N = output channels; the activation height-, block- or width-sharded over the grid as
    `conv_config.shard_layout` says, or as TT-NN chooses without one ([CONV], sim/ops/conv_parallel.py), a core
    computing its block of that split.

    Around the convolution program, the programs conv2d runs for its activations ([CONV] conv2d.cpp): the input
    resharded into the convolution's layout unless it is already sharded that way (a data movement reading the
    input where it is and writing L1 shards), the halo of a windowed (not 1x1 matmul) convolution (each core
    gathers its shard's neighbouring rows: the input read and written once more in L1), and the output moved
    from the convolution's shards to the requested memory config unless that is its own sharded config. Each
    is a launch of its own (an op-to-op gap)."""
    pl, x, w, (kh, kw), cin, cout, in_pixels, out_pixels = conv_plan_of(c, transposed, one_d, dram_path=True)
    groups = int(c.param("groups", 1))
    window = kh * kw * cin
    if transposed:      # each input pixel scatters a kernel window of out_channels
        useful = 2.0 * in_pixels * cin * kh * kw * cout / groups
    else:
        useful = 2.0 * out_pixels * cout * kh * kw * cin / groups
    Kt = _ceil(window, 32)
    fid = c.fidelity(x.dtype, w.dtype)
    cfg = c.param("conv_config")
    sp = pl.split
    cores, pm, pn = sp.cores, sp.block_rows, sp.block_cols
    per_core = pm * pn
    act = getattr(cfg, "activation", None)
    cycles = per_core * Kt * TILE_MATMUL_CYCLES[fid] + per_core * (FPU_TILE + SFPU_TILE * fused_sfpu(act))
    w_tile = w.nbytes / max(1, w.tiles) if w.layout == Layout.TILE else 2048
    noc = Kt * (pm * 2048 + pn * w_tile)        # activation window blocks (bf16) and weight blocks
    # the convolution program reads its input shards and writes its output shards in L1
    local_in, local_out = _in_l1(x), [_in_l1(o) for o in c.outs]
    reads = [local_in] + [d for d in (w, c.tensor("bias_tensor")) if d is not None]
    oc = cost(c, cores, cycles, flops=useful, reads=reads, writes=local_out, noc=noc, fidelity=fid.name)
    steps = []
    if conv_resharded(c, pl, x, in_pixels, cin):
        steps.append(("reshard", _moved(c, cores, [x], [local_in])))
    if not pl.mm_conv and not transposed:
        steps.append(("halo", _moved(c, cores, [local_in], [local_in])))
    if c.outs and conv_output_moved(c, pl, x, out_pixels, cout):
        steps.append(("to memory_config", _moved(c, cores, local_out, c.outs)))
    for _, st in steps:
        oc.kernel_us += st.kernel_us + c.rates.op_gap_us
        oc.dram_bytes += st.dram_bytes
        oc.l1_bytes += st.l1_bytes
    oc.note = _noted(f"groups={groups}: block-diagonal weights" if groups > 1 else "",
                     f"{sp.layout.name.split('_')[0].lower()} {sp.cores_rows}x{sp.cores_channels} cores"
                     + "".join(f" + {name}" for name, _ in steps))
    return oc


def conv_plan_of(c: Call, transposed: bool = False, one_d: bool = False, dram_path: bool = False):
    """(plan, input, weight, (kh, kw), in_channels, out_channels, input pixels, output pixels) of a convolution
    launch: the layout and split TT-NN runs it with ([CONV], sim/ops/conv_parallel.py). None for a windowed
    convolution whose input is in DRAM (TT-NN's DRAM path slices it), unless `dram_path`."""
    key = ("conv_plan", transposed, one_d)
    if key not in c.derived:
        c.derived[key] = _conv_plan(c, transposed, one_d)
    g = c.derived[key]
    return None if not dram_path and _dram_path(g[0], g[1]) else g


def _conv_plan(c: Call, transposed: bool, one_d: bool):
    from ..ops import conv_parallel
    x, w = c.tensor("input_tensor"), c.tensor("weight_tensor")
    cin, cout, n = int(c.param("in_channels")), int(c.param("out_channels")), int(c.param("batch_size"))
    groups = int(c.param("groups", 1))
    if one_d:
        kh, kw = int(_pair(c.param("kernel_size"), 1)[0]), 1
        h_in, w_in = int(c.param("input_length")), 1
    else:
        kh, kw = (int(v) for v in _pair(c.param("kernel_size")))
        h_in, w_in = int(c.param("input_height")), int(c.param("input_width"))
    out_pixels = max(1, c.out.volume // max(1, c.out.shape[-1]))
    gx, gy = c.rates.grid_x, c.rates.grid_y       # conv2d takes no core grid: it plans on the device's
    cfg = c.param("conv_config")
    stride, pad, dil = (_pair(c.param(k, d), 1 if one_d else 2) for k, d in
                        (("stride", 1), ("padding", 0), ("dilation", 1)))
    pl = conv_parallel.plan(in_channels=cin, out_channels=cout, out_pixels=out_pixels, kernel=(kh, kw),
                            stride=stride, padding=_flat(pad), dilation=dil, groups=groups, grid=(gx, gy),
                            shard_layout=getattr(cfg, "shard_layout", None),
                            col_major=bool(getattr(cfg, "transpose_shards", False)), transposed=transposed,
                            one_d=one_d, in_width=w_in)
    return pl, x, w, (kh, kw), cin, cout, n * h_in * w_in, out_pixels


def conv_resharded(c: Call, pl, x, in_pixels: int, cin: int) -> bool:
    """Whether conv2d first copies its input into the convolution's own shards (it is not already in them)."""
    from ..ops import conv_parallel
    src = c.param("input_tensor")
    return x.buffer == "HOST" or conv_parallel.config_key(getattr(src, "_memory_config", None)) != pl.key(
        in_pixels, cin, output=False)


def conv_output_moved(c: Call, pl, x, out_pixels: int, cout: int) -> bool:
    """Whether conv2d moves its output out of the convolution's shards afterwards: to another memory_config
    than those shards (without one a tiled output stays in them, except on the DRAM path)."""
    from ..ops import conv_parallel
    asked = c.param("memory_config")
    if asked is None and not _dram_path(pl, x) and c.out.layout == Layout.TILE:
        return False
    return conv_parallel.config_key(asked) != pl.key(out_pixels, cout, output=True)


def _dram_path(pl, x) -> bool:
    """Whether a convolution runs TT-NN's DRAM path: a windowed one whose input is in DRAM (or on the host)."""
    return not pl.mm_conv and x.buffer in ("DRAM", "HOST") and not x.sharded


def _in_l1(d):
    """The descriptor of `d` held in L1 shards (the same bytes)."""
    import dataclasses
    return dataclasses.replace(d, buffer="L1", sharded=True)


def _moved(c: Call, cores: int, reads: list, writes: list) -> OpCost:
    """A data-movement program of `cores` cores reading and writing these tensors (no compute)."""
    dr, lr = bytes_by_buffer(reads)
    dw, lw = bytes_by_buffer(writes)
    return finish(OpCost("move", cores, 0.0, dram_bytes=dr + dw, l1_bytes=lr + lw), c.rates)


def _flat(v):
    return [x for p in v for x in (p if isinstance(p, (list, tuple)) else (p,))]


register("conv2d", _conv)
register("conv1d", lambda c: _conv(c, one_d=True))
register("conv_transpose2d", lambda c: _conv(c, transposed=True))


def _sdpa(c: Call) -> OpCost:
    """Flash attention: per (batch, head, 32-row Q chunk) a core computes Q K^T, the online softmax and P V,
    streaming all of K and V of its head (once per Q chunk)."""
    q, k, v = c.tensor("input_tensor_q"), c.tensor("input_tensor_k"), c.tensor("input_tensor_v")
    b, nh, sq, d = q.shape[-4] if len(q.shape) == 4 else 1, q.shape[-3], q.shape[-2], q.shape[-1]
    sk = k.shape[-2]
    Sqt, Skt, Dt = _ceil(sq, 32), _ceil(sk, 32), _ceil(d, 32)
    fid = c.fidelity(q.dtype, k.dtype)
    units = b * nh * Sqt
    cores = c.cores_for(units)
    per_core = _ceil(units, cores)
    mm = TILE_MATMUL_CYCLES[fid]
    per_chunk = Skt * Dt * mm + Dt * Skt * mm + Skt * (FPU_TILE * 3 + SFPU_TILE * 12 + REDUCE_TILE * 2)
    flops = 4.0 * b * nh * sq * sk * d
    kv_stream = (k.nbytes + v.nbytes) * Sqt * (nh // max(1, k.shape[-3])) if k.buffer == "DRAM" else 0
    extra = [c.tensor("attn_mask")] if c.tensor("attn_mask") is not None else []
    return cost(c, cores, per_core * per_chunk, flops=flops, reads=[q] + extra, extra_dram=kv_stream,
                fidelity=fid.name)


register("transformer.scaled_dot_product_attention", _sdpa)


def _sdpa_decode(c: Call) -> OpCost:
    """Flash-decode: a user's query heads (at most 32) are the rows of one tile. The K/V sequence is cut in
    chunks of k_chunk_size = min(512, largest power-of-two divisor of s) positions (the op's default); a core
    takes (user, K/V head, chunk) units: one tile row of Q K^T and of P V over its chunk, the online softmax,
    then the partial results are combined. K and V are read once (not once per query head or query chunk as in
    prefill SDPA), each core pulling its chunks through its NoC port."""
    q, k, v = c.tensor("input_tensor_q"), c.tensor("input_tensor_k"), c.tensor("input_tensor_v")
    b, nh, d = q.shape[-3], q.shape[-2], q.shape[-1]
    nkv, sk = k.shape[-3], k.shape[-2]
    Dt = _ceil(d, 32)
    chunk = max(32, min(512, sk & -sk))
    chunks = _ceil(sk, chunk)
    ct = _ceil(chunk, 32)
    fid = c.fidelity(q.dtype, k.dtype)
    mm = TILE_MATMUL_CYCLES[fid]
    units = b * nkv * chunks
    cores = c.cores_for(units)
    per_core = _ceil(units, cores)
    per_unit = ct * Dt * mm * 2 + ct * (FPU_TILE * 3 + SFPU_TILE * 12 + REDUCE_TILE * 2)
    combine = Dt * (FPU_TILE * 2 + SFPU_TILE * 4)             # merging the partial softmax sums and outputs
    flops = 4.0 * b * nh * sk * d
    extra = [c.tensor("attn_mask")] if c.tensor("attn_mask") is not None else []
    kv_tile = (k.nbytes + v.nbytes) / max(1, k.tiles + v.tiles)
    noc = per_core * 2 * ct * Dt * kv_tile
    return cost(c, cores, per_core * per_unit + combine, flops=flops, reads=[q, k, v] + extra, noc=noc,
                fidelity=fid.name)


register("transformer.scaled_dot_product_attention_decode", _sdpa_decode)


# ------------------------------------------------------------------------------------------------
# Row-wise: softmax, norms; reductions
# ------------------------------------------------------------------------------------------------
def rowwise(fpu_adds: int, fpu_muls: int, reduces: int, sum_reduces: int, sfpu: float) -> Rule:
    """Ops that work on whole rows of tiles (a core owns complete rows): per input tile, FPU passes, reduce
    passes (sums pay the fidelity), SFPU instructions per value."""

    def rule(c: Call) -> OpCost:
        x = c.ins[0]
        rows = x.rows_of_tiles
        cores = c.cores_for(rows)
        fid = c.fidelity()
        p = _passes(fid)
        residual = c.param("residual_input_tensor") is not None     # a fused residual add (norms)
        per_tile = (FPU_TILE * (fpu_adds + residual + fpu_muls * p) + REDUCE_TILE * (reduces + sum_reduces * p)
                    + (FPU_TILE + SFPU_TILE * sfpu if sfpu else 0))
        tiles = _ceil(rows, cores) * max(1, x.tiles // rows)
        return cost(c, cores, tiles * per_tile, fidelity=fid.name)

    return rule


# softmax: max, subtract, exp, sum, reciprocal (per row), multiply
register("softmax softmax_in_place transformer.attention_softmax transformer.attention_softmax_",
         rowwise(fpu_adds=1, fpu_muls=1, reduces=1, sum_reduces=1, sfpu=12))
register("scale_mask_softmax scale_mask_softmax_in_place",
         rowwise(fpu_adds=2, fpu_muls=2, reduces=1, sum_reduces=1, sfpu=12))
# layer norm: mean, subtract, square, variance, rsqrt (per row), normalise, gamma, beta
register("layer_norm", rowwise(fpu_adds=2, fpu_muls=3, reduces=0, sum_reduces=2, sfpu=0))
register("rms_norm", rowwise(fpu_adds=0, fpu_muls=3, reduces=0, sum_reduces=1, sfpu=0))
register("group_norm", rowwise(fpu_adds=2, fpu_muls=3, reduces=0, sum_reduces=2, sfpu=0))
register("batch_norm", eltwise(fpu_adds=2, fpu_muls=2))


def reduce(sum_like: bool, passes: int = 1, sfpu: float = 0.0) -> Rule:
    """Reductions: every input tile goes through the reduce unit `passes` times; the output's tiles are the
    independent units split over cores."""

    def rule(c: Call) -> OpCost:
        x = c.ins[0]
        units = max(1, min(c.out.tiles, x.tiles))
        cores = c.cores_for(units)
        fid = c.fidelity()
        per_tile = REDUCE_TILE * passes * (_passes(fid) if sum_like else 1) + (SFPU_TILE * sfpu if sfpu else 0)
        tiles = _ceil(x.tiles, cores)
        return cost(c, cores, tiles * per_tile, fidelity=fid.name if sum_like else "")

    return rule


register("sum mean", reduce(sum_like=True))
register("max min", reduce(sum_like=False))
register("global_avg_pool2d", reduce(sum_like=True))
register("std var", reduce(sum_like=True, passes=2, sfpu=2))
register("prod", reduce(sum_like=True, passes=2))
register("argmax", reduce(sum_like=False, sfpu=4))
register("cumsum cumprod", reduce(sum_like=False, sfpu=2))


def _sort(c: Call) -> OpCost:
    """Bitonic sort along the last dim: log2(W)(log2(W)+1)/2 compare-exchange passes of ~6 SFPU instructions
    a value (values and indices)."""
    x = c.ins[0]
    w = max(2, x.shape[-1] if x.shape else 1)
    stages = math.ceil(math.log2(w)) * (math.ceil(math.log2(w)) + 1) / 2
    rows = x.rows_of_tiles
    cores = c.cores_for(rows)
    tiles = _ceil(rows, cores) * max(1, x.tiles // rows)
    return cost(c, cores, tiles * stages * SFPU_TILE * 6)


register("sort topk", _sort)


# ------------------------------------------------------------------------------------------------
# Pools
# ------------------------------------------------------------------------------------------------
def _pool(c: Call) -> OpCost:
    """Max/avg pool: each output tile reduces its window's kernel_h x kernel_w input tiles."""
    k = c.param("kernel_size")
    if k is None:   # adaptive: the window is the input size over the output size
        ih, iw = int(c.param("input_h", 1)), int(c.param("input_w", 1))
        oh, ow = _pair(c.param("output_size", (1, 1)))
        window = max(1, _ceil(ih, oh) * _ceil(iw, ow))
    else:
        kh, kw = _pair(k)
        window = int(kh) * int(kw)
    tiles = c.out.tiles
    cores = c.cores_for(tiles)
    return cost(c, cores, _ceil(tiles, cores) * window * REDUCE_TILE)


register("max_pool2d avg_pool2d adaptive_avg_pool2d adaptive_max_pool2d", _pool)


# ------------------------------------------------------------------------------------------------
# Data movement: bytes in and out; tilize/untilize/transpose go through the unpacker/FPU once per tile
# ------------------------------------------------------------------------------------------------
def movement(fpu_per_tile: int = 0, reads_out_only: bool = False) -> Rule:
    def rule(c: Call) -> OpCost:
        tiles = max([d.tiles for d in c.outs] + [1])
        cores = c.cores_for(tiles)
        reads = c.outs if reads_out_only else None
        return cost(c, cores, _ceil(tiles, cores) * FPU_TILE * fpu_per_tile, reads=reads)

    return rule


register("permute concat stack split chunk repeat repeat_interleave pad roll reshape_on_device expand upsample "
         "move reallocate to_memory_config fill_implicit_tile_padding gather scatter scatter_add index_fill "
         "transformer.concatenate_heads transformer.split_query_key_value_and_split_heads", movement())
register("slice", movement(reads_out_only=True))
register("reshape squeeze unsqueeze unsqueeze_to_4D", movement())
register("full_like zeros_like ones_like", lambda c: cost(c, c.cores_for(c.out.tiles), 0, reads=[]))
register("transpose", movement(fpu_per_tile=1))
register("tilize tilize_with_val_padding untilize untilize_with_unpadding to_layout", movement(fpu_per_tile=1))


def _embedding(c: Call) -> OpCost:
    """Row gather: the indices, one weight row per output row, the output."""
    idx, w = c.tensor("input_tensor"), c.tensor("weight")
    out = c.out
    rows = max(1, out.volume // max(1, out.shape[-1]))
    row_bytes = out.nbytes / rows
    tiles = out.tiles
    cores = c.cores_for(tiles)
    reads = [idx] if idx is not None else []
    extra = rows * row_bytes if w is not None and w.buffer == "DRAM" else 0.0
    return cost(c, cores, 0, reads=reads, extra_dram=extra)


register("embedding", _embedding)


def _ccl_group(c: Call) -> int:
    t = c.param("input_tensor")
    mesh = getattr(t, "_mesh", None)
    if mesh is None:
        raise ValueError("a collective without a mesh tensor")
    return len(mesh.groups(c.param("cluster_axis"))[0])


def _fit(fit, steps: float, share: float, nbytes: float) -> float:
    return fit.fixed_us + fit.step_us * steps + share * nbytes / (fit.gb_s * 1e3)


def _ccl(c: Call) -> OpCost:
    """[CCL] the published latency fits, N chips per group, `bytes` one chip's input buffer."""
    from ..types import Topology
    n = _ccl_group(c)
    nbytes = c.ins[0].nbytes if c.ins else 0
    r = c.rates.ccl
    if n <= 1:
        us = 0.0
    elif c.name in ("all_gather", "all_broadcast"):
        if c.param("topology") == Topology.Ring and n > 2:
            us = _fit(r.ring_all_gather, n / 2, n - 1, nbytes)
        else:
            us = _fit(r.line_all_gather, n - 1, n - 1, nbytes)
    elif c.name == "reduce_scatter":
        us = _fit(r.line_reduce_scatter, n - 1, (n - 1) / n, nbytes)
    else:   # all_reduce
        us = _fit(r.line_all_reduce, n - 1, 2 * (n - 1) / n, nbytes)
    oc = OpCost(c.name, 0, 0.0, note=f"{n} chips, {nbytes} B a chip")
    oc.kernel_us = us
    oc.bound = "ethernet"
    return oc


def _point_to_point(c: Call) -> OpCost:
    """[CCL] one shard over the links between two chips: a hop's latency each, the bytes at the link rate,
    after the fixed launch cost of a collective."""
    t = c.param("input_tensor")
    mesh = t._mesh
    (sr, sc), (rr, rc) = mesh._coord(c.param("sender_coord")), mesh._coord(c.param("receiver_coord"))
    hops = abs(sr - rr) + abs(sc - rc)
    r = c.rates.ccl
    nbytes = c.ins[0].nbytes if c.ins else 0
    oc = OpCost(c.name, 0, 0.0, note=f"{hops} hops")
    oc.kernel_us = 0.0 if hops == 0 else r.line_all_gather.fixed_us + hops * r.hop_us + nbytes / (r.link_gb_s * 1e3)
    oc.bound = "ethernet"
    return oc


register("all_gather all_broadcast reduce_scatter all_reduce", _ccl)
register("point_to_point", _point_to_point)
register("mesh_partition", movement(reads_out_only=True))


def rule_for(name: str) -> Rule | None:
    return RULES.get(name)
