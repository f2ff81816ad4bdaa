"""Replay kernels (sim/trace.py offer_kernel): from the second replay of a trace, an op with a kernel runs only
its arithmetic. What it computes must be, bit for bit, what the whole op computes on the same inputs, and it must
step aside when what it was built on changes (the numerics mode)."""
import pytest
import torch

import torch_ttnn.sim as ttnn
from torch_ttnn.sim import trace as sim_trace


@pytest.fixture
def dev():
    d = ttnn.open_device(device_id=6, l1_small_size=16384, trace_region_size=1 << 20)
    yield d
    d.numerics = "hardware"
    ttnn.close_device(d)


def _tt(x, d=None, dtype=ttnn.bfloat16):
    return ttnn.from_torch(x, dtype=dtype, layout=ttnn.TILE_LAYOUT, device=d)


def _conv_inputs(dev, groups):
    n, c, h, o = 1, 32, 10, 64
    w = ttnn.from_torch(torch.randn(o, c // groups, 3, 3) * 0.2, dtype=ttnn.bfloat16)
    b = ttnn.from_torch(torch.randn(1, 1, 1, o), dtype=ttnn.bfloat16)
    x = _tt(torch.randn(1, 1, n * h * h, c), dev)
    cfg = ttnn.Conv2dConfig(weights_dtype=ttnn.bfloat8_b, activation=ttnn.UnaryWithParam(ttnn.UnaryOpType.RELU))
    args = dict(device=dev, in_channels=c, out_channels=o, batch_size=n, input_height=h, input_width=h,
                kernel_size=(3, 3), stride=(2, 2), padding=(1, 1), groups=groups, conv_config=cfg)
    _, (w_dev, b_dev) = ttnn.conv2d(input_tensor=x, weight_tensor=w, bias_tensor=b, return_weights_and_bias=True,
                                    **args)
    return x, lambda x: ttnn.conv2d(input_tensor=x, weight_tensor=w_dev, bias_tensor=b_dev, **args), (1, 1, 100, c)


def _matmul_inputs(dev, kind):
    x = _tt(torch.randn(64, 96), dev)
    w = _tt(torch.randn(96, 128) * 0.1, dev, ttnn.bfloat8_b)
    b = _tt(torch.randn(1, 128), dev)
    hifi2 = ttnn.WormholeComputeKernelConfig(math_fidelity=ttnn.MathFidelity.HiFi2)
    if kind == "linear":
        return x, lambda x: ttnn.linear(x, w, bias=b, activation="gelu", compute_kernel_config=hifi2), (64, 96)
    return x, lambda x: ttnn.matmul(x, w, transpose_b=False), (64, 96)


def _binary_inputs(dev, kind):
    x = _tt(torch.randn(2, 64, 96), dev)
    row = _tt(torch.randn(1, 1, 96), dev)
    if kind == "add_row":          # broadcast along rows, a fused activation
        return x, lambda x: ttnn.add(x, row, activations=[ttnn.UnaryWithParam(ttnn.UnaryOpType.RELU)]), (2, 64, 96)
    if kind == "multiply_scalar":
        return x, lambda x: ttnn.multiply(x, 0.37), (2, 64, 96)
    y = _tt(torch.randn(2, 64, 96), dev)
    return x, lambda x: ttnn.subtract(x, y, dtype=ttnn.bfloat8_b), (2, 64, 96)


def _reshape_inputs(dev, kind):
    x = _tt(torch.randn(64, 96), dev, ttnn.bfloat8_b if kind == "moving" else ttnn.bfloat16)
    if kind == "view":
        return x, lambda x: ttnn.reshape(x, (2, 32, 96)), (64, 96)
    return x, lambda x: ttnn.reshape(x, (96, 64)), (64, 96)      # the last dim changes: data moves


def _norm_inputs(dev, kind):
    x = _tt(torch.randn(2, 40, 96), dev)                       # rows padded beyond 40: the output's padding too
    gamma = _tt(torch.randn(1, 96), dev)
    beta = ttnn.from_torch(torch.randn(3, 32), dtype=ttnn.bfloat16, layout=ttnn.ROW_MAJOR_LAYOUT, device=dev)
    res = _tt(torch.randn(2, 40, 96), dev)
    if kind == "layer_norm":       # fp32 Dst (the default), a residual, a TILE weight, a ROW_MAJOR bias
        return x, lambda x: ttnn.layer_norm(x, epsilon=1e-5, weight=gamma, bias=beta, residual_input_tensor=res), \
            (2, 40, 96)
    if kind == "rms_norm":         # 16-bit Dst
        return x, lambda x: ttnn.rms_norm(x, epsilon=1e-6, weight=gamma), (2, 40, 96)
    if kind == "softmax_dim1":
        return x, lambda x: ttnn.softmax(x, dim=1), (2, 40, 96)
    return x, lambda x: ttnn.softmax(x, dim=-1, numeric_stable=False), (2, 40, 96)


def _unary_inputs(dev, kind):
    if kind == "relu_int32":          # integer values, ROW_MAJOR
        x = ttnn.from_torch(torch.randint(-50, 50, (40, 96), dtype=torch.int32), dtype=ttnn.int32,
                            layout=ttnn.ROW_MAJOR_LAYOUT, device=dev)
        return x, lambda x: ttnn.relu(x), None
    x = _tt(torch.randn(2, 40, 96), dev, ttnn.bfloat8_b if kind == "exp_bfp8" else ttnn.bfloat16)
    if kind == "gelu":               # a table of the bf16 patterns
        return x, lambda x: ttnn.gelu(x), (2, 40, 96)
    if kind == "exp_bfp8":
        return x, lambda x: ttnn.exp(x, fast_and_approximate_mode=True), (2, 40, 96)
    return x, lambda x: ttnn.leaky_relu(x, 0.13), (2, 40, 96)   # a float parameter: evaluated, no table


def _sdpa_inputs(dev, kind):
    q = _tt(torch.randn(1, 4, 40, 64), dev)
    k, v = _tt(torch.randn(1, 2, 40, 64), dev), _tt(torch.randn(1, 2, 40, 64), dev)     # grouped heads
    if kind == "sdpa_mask":
        mask = _tt(torch.where(torch.rand(1, 1, 40, 40) < 0.2, -1e9, 0.0), dev)
        return q, lambda q: ttnn.transformer.scaled_dot_product_attention(q, k, v, attn_mask=mask, is_causal=False,
                                                                          output_concat_heads=True), (1, 4, 40, 64)
    return q, lambda q: ttnn.transformer.scaled_dot_product_attention(q, k, v, is_causal=True), (1, 4, 40, 64)


def _reduce_inputs(dev, kind):
    x = _tt(torch.randn(1, 14, 14, 96), dev)
    if kind == "mean_hw":            # a squeeze-and-excitation pool: the spatial dims, kept
        return x, lambda x: ttnn.mean(x, dim=[1, 2], keepdim=True), (1, 14, 14, 96)
    if kind == "sum_w":              # the last dim, dropped
        return x, lambda x: ttnn.sum(x, dim=-1), (1, 14, 14, 96)
    return x, lambda x: ttnn.max(x, dim=1, keepdim=False, scalar=0.5), (1, 14, 14, 96)


CASES = {
    "mean_hw": lambda d: _reduce_inputs(d, "mean_hw"),
    "sum_w": lambda d: _reduce_inputs(d, "sum_w"),
    "max_scaled": lambda d: _reduce_inputs(d, "max"),
    "sdpa_causal": lambda d: _sdpa_inputs(d, "sdpa_causal"),
    "sdpa_mask": lambda d: _sdpa_inputs(d, "sdpa_mask"),
    "gelu": lambda d: _unary_inputs(d, "gelu"),
    "exp_bfp8": lambda d: _unary_inputs(d, "exp_bfp8"),
    "leaky_relu": lambda d: _unary_inputs(d, "leaky_relu"),
    "relu_int32": lambda d: _unary_inputs(d, "relu_int32"),
    "layer_norm": lambda d: _norm_inputs(d, "layer_norm"),
    "rms_norm": lambda d: _norm_inputs(d, "rms_norm"),
    "softmax_dim1": lambda d: _norm_inputs(d, "softmax_dim1"),
    "softmax_unstable": lambda d: _norm_inputs(d, "softmax"),
    "reshape_view": lambda d: _reshape_inputs(d, "view"),
    "reshape_moving_bfp8": lambda d: _reshape_inputs(d, "moving"),
    "add_row": lambda d: _binary_inputs(d, "add_row"),
    "multiply_scalar": lambda d: _binary_inputs(d, "multiply_scalar"),
    "subtract_bfp8": lambda d: _binary_inputs(d, "subtract"),
    "linear": lambda d: _matmul_inputs(d, "linear"),
    "matmul": lambda d: _matmul_inputs(d, "matmul"),
    "conv2d": lambda d: _conv_inputs(d, 1),
    "conv2d_grouped": lambda d: _conv_inputs(d, 4),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_replay_kernel_computes_what_the_op_computes(dev, case):
    x, body, shape = CASES[case](dev)
    tid = ttnn.begin_trace_capture(dev, cq_id=0)
    out = body(x)
    ttnn.end_trace_capture(dev, tid, cq_id=0)
    tr = sim_trace._trace_of(dev, tid, "test")
    for i in range(3):
        if shape is None:            # an int32 ROW_MAJOR input
            new = torch.randint(-50 * (1 + i), 50, tuple(x.shape), dtype=torch.int32)
            ttnn.copy_host_to_device_tensor(ttnn.from_torch(new, dtype=x.dtype, layout=x.layout), x)
        else:
            ttnn.copy_host_to_device_tensor(_tt(torch.randn(shape) * (1 + i), None, x.dtype), x)
        ttnn.execute_trace(dev, tid, cq_id=0)
        if i == 0:        # the first replay runs the whole op, which offers the kernel the next ones run
            assert any(e.kernel for e in tr.entries), "the op offered no replay kernel"
        got = ttnn.to_torch(out)
        expect = body(x)
        assert torch.equal(got.view(torch.int16), ttnn.to_torch(expect).view(torch.int16))
        assert out._pad == expect._pad
        if case != "reshape_view":       # a view shares x's buffer
            ttnn.deallocate(expect)
    ttnn.release_trace(dev, tid)


def test_replay_kernel_steps_aside_when_the_numerics_mode_changes(dev):
    x, body, shape = _matmul_inputs(dev, "linear")
    tid = ttnn.begin_trace_capture(dev, cq_id=0)
    out = body(x)
    ttnn.end_trace_capture(dev, tid, cq_id=0)
    ttnn.execute_trace(dev, tid)
    ttnn.execute_trace(dev, tid)
    hardware = ttnn.to_torch(out)
    dev.numerics = "ideal"
    ttnn.execute_trace(dev, tid)
    ideal = ttnn.to_torch(out)
    assert not torch.equal(ideal, hardware)
    assert torch.equal(ideal, ttnn.to_torch(body(x)))
    ttnn.release_trace(dev, tid)


def test_binary_replay_kernel_follows_a_change_of_the_operands_padding(dev):
    x = _tt(torch.randn(2, 60, 90), dev)          # tiles padded beyond 60 x 90
    tid = ttnn.begin_trace_capture(dev, cq_id=0)
    out = ttnn.add(x, 1.5)
    ttnn.end_trace_capture(dev, tid, cq_id=0)
    for pad in (0.0, 0.0, 2.0, -0.0):
        x._pad = pad                               # what the tile padding holds (white box: no public setter)
        ttnn.execute_trace(dev, tid)
        expect = ttnn.add(x, 1.5)
        assert torch.equal(ttnn.to_torch(out), ttnn.to_torch(expect))
        assert str(out._pad) == str(expect._pad) and out._pad is not None
        ttnn.deallocate(expect)
    ttnn.release_trace(dev, tid)


def test_sdpa_replay_kernel_reads_the_window_bounds_of_each_call(dev):
    """Windowed attention's allowed pairs come from the values of cu_window_seqlens: a replay after the bounds
    changed computes with the new ones, as the whole op does."""
    q, k, v = (_tt(torch.randn(1, 2, 64, 32), dev) for _ in range(3))

    def bounds(values):
        return ttnn.from_torch(torch.tensor(values, dtype=torch.int32), dtype=ttnn.int32,
                               layout=ttnn.ROW_MAJOR_LAYOUT)
    cu = ttnn.to_device(bounds([0, 20, 64]), dev)
    tid = ttnn.begin_trace_capture(dev, cq_id=0)
    out = ttnn.transformer.scaled_dot_product_attention(q, k, v, is_causal=False, cu_window_seqlens=cu)
    ttnn.end_trace_capture(dev, tid, cq_id=0)
    seen = []
    for values in ([0, 20, 64], [0, 20, 64], [0, 50, 64], [0, 8, 64]):
        ttnn.copy_host_to_device_tensor(bounds(values), cu)
        ttnn.execute_trace(dev, tid)
        expect = ttnn.transformer.scaled_dot_product_attention(q, k, v, is_causal=False, cu_window_seqlens=cu)
        got = ttnn.to_torch(out)
        assert torch.equal(got, ttnn.to_torch(expect))
        seen.append(got)
        ttnn.deallocate(expect)
    assert not torch.equal(seen[1], seen[2])
    assert all(e.kernel for e in sim_trace._trace_of(dev, tid, "test").entries)   # the later replays ran it
    ttnn.release_trace(dev, tid)
