"""The L1 a launch needs on each core beside the buffers already allocated: its circular buffers, and the
temporary L1 buffers the op allocates around its program (a convolution's resharded input and halo).

TT-Metal places a program's circular buffers at the bottom of every core's L1, from the first free address up,
and L1 buffers from the top down; at launch it refuses a program whose circular buffers would reach the
lowest L1 buffer ("Statically allocated circular buffers ... clash with L1 buffers"). The simulator does the
same (profiler.launch, with BankAllocator.cb_space). A circular buffer placed on a sharded operand's own buffer
(globally allocated) takes no extra L1; an interleaved operand streams through a small double-buffered one.

The sizes follow the circular buffers each program factory creates, in pages:
- element-wise, data movement, embedding and every other op without its own entry: two pages for each
  interleaved input and output (reductions add their scaler tile);
- matmul/linear: the program's in0 and in1 blocks double-buffered, its output block, an fp32 partial-sum block
  when K spans several blocks with an fp32 Dst, a bias row ([MMCFG], ops/matmul.py program_config_cb_bytes);
- conv2d: torch_ttnn/conv_rules.circular_buffer_bytes ([CONV] get_cb_info), plus the L1 buffers conv2d makes
  before its program: the input resharded into the convolution's shards, the halo (each core's input rows and
  the neighbouring rows its windows read), and the output in the convolution's own shards when another memory
  config was asked for (it is moved there afterwards);
- softmax and the norms: the streaming variant TT-NN falls back to when a row does not fit (its input, output,
  gamma, beta and intermediate blocks of up to 8 tiles, double-buffered, plus the scaler and epsilon tiles);
- scaled_dot_product_attention(_decode): the Q, K, V chunks double-buffered and the chunk-sized
  intermediates (QK^T scores, running max/sum, output accumulator).
Host-side ops (no program) and NOT_CHECKED (collectives, sort, fft) are not checked.
"""
from __future__ import annotations

import math
from typing import Callable

from ..types import DataType, Layout, tile_size
from . import rules as _rules  # noqa: F401  (the cost rules first: every op with one gets a rule here)
from .cost import CB_RULES, RULES, Call, TensorDesc


def register(names: str, fn: Callable[[Call], int]) -> None:
    for n in names.split():
        CB_RULES[n] = fn


def _page(d: TensorDesc) -> int:
    """A circular buffer page of `d`: a tile, or a row of a row-major tensor."""
    if d.layout == Layout.TILE:
        return tile_size(d.dtype)
    row = (d.shape[-1] if d.shape else 1) * max(1, d.nbytes // max(1, d.volume))
    return max(32, row)


def _streamed(descs) -> int:
    """Two pages for each interleaved device tensor (sharded ones carry their own buffer as the CB)."""
    return sum(2 * _page(d) for d in descs if d.buffer in ("DRAM", "L1") and not d.sharded)


def streaming(c: Call) -> int:
    return _streamed(list(c.ins) + list(c.outs))


def reduction(c: Call) -> int:
    return streaming(c) + 2 * tile_size(DataType.BFLOAT16)        # the scaler tile, double-buffered


def _interm_tile(c: Call, dtype: DataType) -> int:
    from ..ops._common import kernel_config
    fp32 = kernel_config(c.param("compute_kernel_config"), dtype)[1]
    return tile_size(DataType.FLOAT32 if fp32 else DataType.BFLOAT16)


def rowwise(c: Call) -> int:
    """Softmax, layer/rms/group norm, streaming a row in blocks of up to 8 tiles: input, output, gamma, beta and
    three intermediate blocks, double-buffered, plus scaler, epsilon and the per-row statistics."""
    x = c.ins[0]
    wt = max(1, -(-(x.shape[-1] if x.shape else 1) // 32))
    block = next(b for b in (8, 4, 2, 1) if wt % b == 0)
    interm = _interm_tile(c, x.dtype)
    io = 0 if x.sharded else 2 * block * _page(x)
    io += 0 if c.out.sharded else 2 * block * _page(c.out)
    params = sum(2 * block * _page(d) for d in c.ins[1:] if not d.sharded)
    return io + params + (3 * 2 * block + 6) * interm


def matmul(c: Call) -> int:
    from ..ops.matmul import program_config_cb_bytes
    from ..ops._common import kernel_config
    from .rules import auto_program_of
    a = c.tensor("input_tensor_a") or c.tensor("mat1_tensor")
    b = c.tensor("input_tensor_b") or c.tensor("mat2_tensor")
    if a is None or b is None:
        return streaming(c)
    fp32_acc = kernel_config(c.param("compute_kernel_config"), a.dtype, b.dtype)[1]
    out = c.out
    cfg = c.param("program_config")
    if cfg is None or not hasattr(cfg, "per_core_M"):
        cfg = auto_program_of(c)
    if cfg is None or getattr(cfg, "kind", "") == "multi_core":
        return streaming(c)
    ta = bool(c.param("transpose_a", False))
    k = a.shape[-2] if ta else a.shape[-1]
    total = program_config_cb_bytes(cfg, a.dtype, b.dtype, out.dtype, -(-k // 32), fp32_acc)
    m, n, kw = cfg.per_core_M, cfg.per_core_N, cfg.in0_block_w
    if a.sharded:             # in0's block is read from its shard in place
        total -= 2 * m * kw * tile_size(a.dtype)
    if out.sharded:           # the output block is the output's shard
        total -= m * n * tile_size(out.dtype)
    bias = c.tensor("bias") or c.tensor("input_tensor")
    if bias is not None and bias is not a:
        total += n * _page(bias)
    return max(0, total)


def conv(c: Call, transposed: bool = False, one_d: bool = False) -> int:
    from ... import conv_rules
    from .rules import conv_output_moved, conv_plan_of, conv_resharded
    g = conv_plan_of(c, transposed, one_d)
    if g is None:            # the DRAM path: TT-NN slices the convolution to fit L1
        return 0
    pl, x, w, kernel, cin, cout, in_pixels, out_pixels = g
    cfg = c.param("conv_config")
    out = c.out
    return conv_rules.l1_need(
        pl, in_channels=cin, out_channels=cout, in_pixels=in_pixels, out_pixels=out_pixels, kernel=kernel,
        in_width=1 if one_d else int(c.param("input_width", 1) or 1),
        act_block_h=conv_rules.act_block_rows(pl.split.block_rows, int(getattr(cfg, "act_block_h_override", 0) or 0)),
        in_tile=tile_size(DataType.FLOAT32 if x.dtype == DataType.FLOAT32 else DataType.BFLOAT16),
        weight_tile=tile_size(w.dtype) if w.layout == Layout.TILE else tile_size(DataType.BFLOAT16),
        out_tile=tile_size(out.dtype), bias=c.tensor("bias_tensor") is not None,
        row_major_out=out.layout == Layout.ROW_MAJOR,
        resharded=conv_resharded(c, pl, x, in_pixels, cin),
        out_moved=conv_output_moved(c, pl, x, out_pixels, cout),
        windowed=not pl.mm_conv and not transposed,
        act_double=bool(getattr(cfg, "enable_act_double_buffer", False)),
        weights_double=bool(getattr(cfg, "enable_weights_double_buffer", False)))


def sdpa(c: Call) -> int:
    """Flash attention over 32-row Q chunks and K chunks of k_chunk_size (32 without a program config)."""
    q = c.tensor("input_tensor_q")
    dt = -(-q.shape[-1] // 32)
    cfg = c.param("program_config")
    qc = max(1, int(getattr(cfg, "q_chunk_size", 32) or 32) // 32)
    kc = max(1, int(getattr(cfg, "k_chunk_size", 32) or 32) // 32)
    t = tile_size(q.dtype)
    interm = _interm_tile(c, q.dtype)
    mask = qc * kc * t if c.tensor("attn_mask") is not None else 0
    return (2 * qc * dt + 2 * 2 * kc * dt) * t + mask + (qc * kc + 2 * qc * dt + 4 * qc) * interm


def sdpa_decode(c: Call) -> int:
    """Flash-decode: a user's query tile, K and V chunks of k_chunk_size positions double-buffered, the
    chunk's scores and the output accumulator."""
    q, k = c.tensor("input_tensor_q"), c.tensor("input_tensor_k")
    dt = -(-q.shape[-1] // 32)
    sk = k.shape[-2]
    cfg = c.param("program_config")
    chunk = int(getattr(cfg, "k_chunk_size", 0) or 0) or max(32, min(512, sk & -sk))
    ct = max(1, chunk // 32)
    t = tile_size(k.dtype)
    interm = _interm_tile(c, q.dtype)
    return 2 * dt * tile_size(q.dtype) + 2 * 2 * ct * dt * t + (ct + 2 * dt + 4) * interm


def pool(c: Call) -> int:
    """A pool's window of input sticks (at least 32) of the channels, double-buffered, and its output pages."""
    k = c.param("kernel_size")
    window = math.prod(int(v) for v in k) if isinstance(k, (list, tuple)) else (int(k) ** 2 if k else 1)
    x = c.ins[0]
    chans = -(-(x.shape[-1] if x.shape else 1) // 32) * 32
    return 2 * max(32, window) * chans * 2 + _streamed(c.outs)


register("sum mean max min global_avg_pool2d std var prod argmax cumsum cumprod", reduction)
register("softmax softmax_in_place transformer.attention_softmax transformer.attention_softmax_ "
         "scale_mask_softmax scale_mask_softmax_in_place layer_norm rms_norm group_norm", rowwise)
register("matmul linear addmm", matmul)
register("conv2d", conv)
register("conv1d", lambda c: conv(c, one_d=True))
register("conv_transpose2d", lambda c: conv(c, transposed=True))
register("transformer.scaled_dot_product_attention", sdpa)
register("transformer.scaled_dot_product_attention_decode", sdpa_decode)
register("max_pool2d avg_pool2d adaptive_avg_pool2d adaptive_max_pool2d", pool)


# ops with a program whose circular buffers are not modelled (never refused for them)
NOT_CHECKED = frozenset({"sort", "topk", "experimental.fft", "experimental.ifft", "all_gather", "all_broadcast",
                         "reduce_scatter", "all_reduce", "point_to_point"})
# every other op with a cost rule (element-wise, data movement, creation on the device, embedding) streams its
# operands and outputs through two pages each
for _name in RULES:
    if _name not in CB_RULES and _name not in NOT_CHECKED:
        register(_name, streaming)
