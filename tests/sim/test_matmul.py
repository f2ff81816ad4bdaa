"""ttnn.matmul / ttnn.linear / ttnn.addmm of the simulated device (torch_ttnn/sim/ops/matmul.py).

References are torch products (float64) of the bf16-rounded inputs. Default bf16 numerics (HiFi2: the 7th mantissa
bit of the activations is dropped; bf16 Dst accumulation) stay within a few percent of sum |a||b|.
"""
import pytest
import torch

import torch_ttnn.sim as ttnn
from torch_ttnn.sim.errors import TTNNError
from torch_ttnn.sim.formats import round_bf16_rne


def _dev_tensor(device, x, dtype=ttnn.bfloat16, layout=ttnn.TILE_LAYOUT, **kw):
    return ttnn.from_torch(x, dtype=dtype, layout=layout, device=device, **kw)


def _bf16(*shape):
    return round_bf16_rne(torch.randn(*shape))


def _close(got, a, b, ref, rel=0.03):
    """|got - ref| within `rel` of the magnitude sum |a| @ |b| (plus a bf16 ULP of the result)."""
    got = got.double()
    mag = (a.abs().double() @ b.abs().double()) if a.dim() and b.dim() else ref.abs()
    assert got.shape == ref.shape, (got.shape, ref.shape)
    assert ((got - ref).abs() <= rel * mag + ref.abs() * 2 ** -7 + 1e-6).all(), (got - ref).abs().max()


SHAPES = [
    ((1, 7, 45), (45, 33)),          # non-multiples of 32
    ((64, 96), (96, 32)),
    ((2, 3, 40, 50), (50, 20)),      # batched a, plain b: b broadcast
    ((3, 64, 32), (3, 32, 16)),      # equal batches
    ((1, 64, 32), (4, 32, 16)),      # a reused across the batches of b (matching ranks >= 3)
    ((2, 1, 8, 16), (3, 16, 4)),     # torch-style broadcast of the batch dims
    ((45,), (45, 33)),               # vector-matrix
    ((7, 45), (45,)),                # matrix-vector
    ((45,), (45,)),                  # dot product
    ((40,), (3, 40, 20)),            # batched vector-matrix
]


@pytest.mark.parametrize("sa,sb", SHAPES)
def test_matmul_matches_torch(device, sa, sb):
    a, b = _bf16(*sa), _bf16(*sb)
    out = ttnn.matmul(_dev_tensor(device, a), _dev_tensor(device, b))
    ref = torch.matmul(a.double(), b.double())
    assert out.layout == ttnn.TILE_LAYOUT and out.dtype == ttnn.bfloat16
    assert list(out.shape) == list(ref.shape)
    got = ttnn.to_torch(out).double()
    if a.dim() >= 2 and b.dim() >= 2:
        _close(got, a, b, ref)
    else:
        assert torch.allclose(got, ref, rtol=0.03, atol=0.1)


def test_transposes(device):
    a, b = _bf16(50, 40), _bf16(20, 50)
    out = ttnn.matmul(_dev_tensor(device, a), _dev_tensor(device, b), transpose_a=True, transpose_b=True)
    _close(ttnn.to_torch(out).double(), a.T, b.T, a.T.double() @ b.T.double())


def test_fp32_inputs_use_hifi4_and_fp32_accumulation(device):
    a, b = torch.randn(64, 200), torch.randn(200, 48)
    out = ttnn.matmul(_dev_tensor(device, a, ttnn.float32), _dev_tensor(device, b, ttnn.float32))
    assert out.dtype == ttnn.float32
    ref = a.double() @ b.double()
    err = (ttnn.to_torch(out).double() - ref).abs().max().item()
    assert err < 2e-3 * ref.abs().max().item()      # TF32 sources: ~2^-11 relative per product


def test_block_float_inputs_and_output_dtype(device):
    a, b = torch.randn(64, 64), torch.randn(64, 64)
    ta = _dev_tensor(device, a, ttnn.bfloat8_b)
    tb = _dev_tensor(device, b, ttnn.bfloat8_b)
    out = ttnn.matmul(ta, tb, dtype=ttnn.bfloat16)
    assert out.dtype == ttnn.bfloat16
    av, bv = ttnn.to_torch(ta).float(), ttnn.to_torch(tb).float()
    _close(ttnn.to_torch(out).double(), av, bv, av.double() @ bv.double(), rel=0.08)   # LoFi default
    out8 = ttnn.matmul(ta, tb)
    assert out8.dtype == ttnn.bfloat8_b


def test_fidelity_and_accumulation_follow_the_compute_kernel_config(device):
    a, b = _bf16(32, 512), _bf16(512, 32)
    ta, tb = _dev_tensor(device, a), _dev_tensor(device, b)
    ref = a.double() @ b.double()

    def err(fid, acc):
        cfg = ttnn.WormholeComputeKernelConfig(math_fidelity=fid, fp32_dest_acc_en=acc)
        return (ttnn.to_torch(ttnn.matmul(ta, tb, compute_kernel_config=cfg, dtype=ttnn.float32)).double()
                - ref).abs().mean().item()

    assert err(ttnn.MathFidelity.LoFi, True) > err(ttnn.MathFidelity.HiFi2, True) > err(ttnn.MathFidelity.HiFi4, True)
    assert err(ttnn.MathFidelity.HiFi4, False) > 10 * err(ttnn.MathFidelity.HiFi4, True)


def test_k_padding_products_are_added_when_both_pads_are_nonzero(device):
    a, b = _bf16(8, 45), _bf16(45, 16)
    ta = _dev_tensor(device, a, pad_value=1.0)
    tb = _dev_tensor(device, b, pad_value=2.0)
    cfg = ttnn.WormholeComputeKernelConfig(math_fidelity=ttnn.MathFidelity.HiFi4, fp32_dest_acc_en=True)
    out = ttnn.to_torch(ttnn.matmul(ta, tb, compute_kernel_config=cfg, dtype=ttnn.float32)).double()
    assert torch.allclose(out, a.double() @ b.double() + 1.0 * 2.0 * (64 - 45), atol=1e-3)
    # a zero pad on either side contributes nothing
    out0 = ttnn.to_torch(ttnn.matmul(_dev_tensor(device, a), tb, compute_kernel_config=cfg,
                                     dtype=ttnn.float32)).double()
    assert torch.allclose(out0, a.double() @ b.double(), atol=1e-3)


def test_output_padding_is_zero_for_zero_padded_inputs(device):
    out = ttnn.matmul(_dev_tensor(device, _bf16(7, 45)), _dev_tensor(device, _bf16(45, 33)))
    assert out._pad == 0.0
    out2 = ttnn.matmul(_dev_tensor(device, _bf16(7, 45), pad_value=3.0), _dev_tensor(device, _bf16(45, 33)))
    assert out2._pad is None


@pytest.mark.parametrize("activation", ["relu", "gelu", "silu", ttnn.UnaryWithParam(ttnn.UnaryOpType.RELU)])
def test_linear_bias_and_activation(device, activation):
    a, w, bias = _bf16(2, 7, 45), _bf16(45, 33), _bf16(1, 33)
    out = ttnn.linear(_dev_tensor(device, a), _dev_tensor(device, w), bias=_dev_tensor(device, bias),
                      activation=activation)
    pre = a.double() @ w.double() + bias.double()
    name = activation if isinstance(activation, str) else "relu"
    fn = {"relu": torch.relu, "gelu": torch.nn.functional.gelu, "silu": torch.nn.functional.silu}[name]
    ref = fn(pre)
    got = ttnn.to_torch(out).double()
    assert got.shape == ref.shape
    tol = 0.03 * (a.abs().double() @ w.abs().double() + bias.abs().double()) + 2 ** -7 * ref.abs() + 1e-3
    assert ((got - ref).abs() <= tol).all()


def test_linear_with_transposed_weight_and_full_bias(device):
    a, w, bias = _bf16(40, 64), _bf16(24, 64), _bf16(40, 24)
    out = ttnn.linear(_dev_tensor(device, a), _dev_tensor(device, w), bias=_dev_tensor(device, bias),
                      transpose_b=True)
    ref = a.double() @ w.T.double() + bias.double()
    assert torch.allclose(ttnn.to_torch(out).double(), ref, rtol=0.03, atol=0.3)


def test_addmm(device):
    c, m1, m2 = _bf16(40, 24), _bf16(40, 64), _bf16(64, 24)
    out = ttnn.addmm(_dev_tensor(device, c), _dev_tensor(device, m1), _dev_tensor(device, m2), alpha=0.5, beta=2.0)
    ref = 2.0 * c.double() + 0.5 * (m1.double() @ m2.double())
    assert torch.allclose(ttnn.to_torch(out).double(), ref, rtol=0.03, atol=0.3)
    with pytest.raises(TTNNError, match="input_tensor must have shape"):
        ttnn.addmm(_dev_tensor(device, _bf16(4, 4)), _dev_tensor(device, m1), _dev_tensor(device, m2))


def test_launch_is_counted_and_memory_config_honoured(device):
    before = device.counters.op_launches["matmul"]
    out = ttnn.matmul(_dev_tensor(device, _bf16(32, 32)), _dev_tensor(device, _bf16(32, 32)),
                      memory_config=ttnn.L1_MEMORY_CONFIG)
    assert device.counters.op_launches["matmul"] == before + 1
    assert out.memory_config().buffer_type == ttnn.BufferType.L1


# ------------------------------------------------------------------------------------------------
# Refusals
# ------------------------------------------------------------------------------------------------

def test_refuses_row_major_operands(device):
    a = _dev_tensor(device, _bf16(32, 32), layout=ttnn.ROW_MAJOR_LAYOUT)
    b = _dev_tensor(device, _bf16(32, 32))
    with pytest.raises(TTNNError, match="input_tensor_a must be in TILE layout"):
        ttnn.matmul(a, b)
    with pytest.raises(TTNNError, match="input_tensor_b must be in TILE layout"):
        ttnn.linear(b, a)


def test_refuses_host_operand(device):
    host = ttnn.from_torch(_bf16(32, 32), dtype=ttnn.bfloat16, layout=ttnn.TILE_LAYOUT)
    with pytest.raises(TTNNError, match="input_tensor_b must be on a device"):
        ttnn.matmul(_dev_tensor(device, _bf16(32, 32)), host)


def test_refuses_inner_dim_mismatch(device):
    with pytest.raises(TTNNError, match="inner dimensions do not match"):
        ttnn.matmul(_dev_tensor(device, _bf16(8, 40)), _dev_tensor(device, _bf16(41, 8)))


def test_refuses_unsupported_dtype_and_batches(device):
    ints = ttnn.from_torch(torch.ones(32, 32, dtype=torch.int32), dtype=ttnn.uint32, layout=ttnn.TILE_LAYOUT,
                           device=device)
    with pytest.raises(TTNNError, match="input_tensor_a has dtype UINT32"):
        ttnn.matmul(ints, _dev_tensor(device, _bf16(32, 32)))
    with pytest.raises(TTNNError, match="batch dimensions"):
        ttnn.matmul(_dev_tensor(device, _bf16(2, 8, 16)), _dev_tensor(device, _bf16(3, 16, 8)))
    with pytest.raises(TTNNError, match="matching ranks"):
        ttnn.matmul(_dev_tensor(device, _bf16(8, 16)), _dev_tensor(device, _bf16(3, 16, 8)))
    with pytest.raises(TTNNError, match="activation"):
        ttnn.matmul(_dev_tensor(device, _bf16(8, 16)), _dev_tensor(device, _bf16(16, 8)), activation="nope")


# ------------------------------------------------------------------------------------------------
# Oracle: the real wheel's golden functions
# ------------------------------------------------------------------------------------------------

def test_matches_real_golden_functions(device):
    real_ttnn = pytest.importorskip("ttnn")
    a, b, bias = _bf16(2, 40, 64), _bf16(64, 48), _bf16(1, 48)
    golden_mm = real_ttnn.get_golden_function(real_ttnn.matmul)
    ref = golden_mm(a, b)
    got = ttnn.to_torch(ttnn.matmul(_dev_tensor(device, a), _dev_tensor(device, b))).float()
    _close(got, a, b, ref.double())
    golden_lin = real_ttnn.get_golden_function(real_ttnn.linear)
    ref = golden_lin(a, b, bias=bias.clone(), activation="relu")
    got = ttnn.to_torch(ttnn.linear(_dev_tensor(device, a), _dev_tensor(device, b), bias=_dev_tensor(device, bias),
                                    activation="relu")).float()
    assert torch.allclose(got, ref, rtol=0.03, atol=0.3)
    # our golden agrees with the real one
    assert torch.allclose(ttnn.get_golden_function(ttnn.matmul)(a, b), golden_mm(a, b))


# --- program configs ------------------------------------------------------------------------------------

def _cfg2d(**kw):
    base = dict(compute_with_storage_grid_size=ttnn.CoreCoord(8, 8), in0_block_w=2, out_subblock_h=1,
                out_subblock_w=4, per_core_M=1, per_core_N=4, transpose_mcast=False)
    base.update(kw)
    return ttnn.MatmulMultiCoreReuseMultiCastProgramConfig(**base)


def _mm_operands(device, m=256, k=512, n=1024):
    torch.manual_seed(0)
    a = ttnn.from_torch(torch.randn(m, k), dtype=ttnn.bfloat16, layout=ttnn.TILE_LAYOUT, device=device)
    b = ttnn.from_torch(torch.randn(k, n), dtype=ttnn.bfloat16, layout=ttnn.TILE_LAYOUT, device=device)
    return a, b


def test_program_configs_run_and_give_the_same_values(device):
    """A valid 2D and 1D config: the same product as without one (the config changes the schedule, not the
    arithmetic of the simulated Dst)."""
    a, b = _mm_operands(device)                     # 8 x 16 x 32 tiles
    plain = ttnn.to_torch(ttnn.matmul(a, b))
    two_d = ttnn.to_torch(ttnn.matmul(a, b, program_config=_cfg2d()))
    one_d = ttnn.to_torch(ttnn.matmul(a, b, program_config=ttnn.MatmulMultiCoreReuseMultiCast1DProgramConfig(
        compute_with_storage_grid_size=ttnn.CoreCoord(8, 4), in0_block_w=4, out_subblock_h=1, out_subblock_w=1,
        per_core_M=8, per_core_N=1, fuse_batch=True, mcast_in0=True)))
    assert torch.equal(plain, two_d) and torch.equal(plain, one_d)


@pytest.mark.parametrize("kw,match", [
    (dict(in0_block_w=3), "in0_block_w=3 does not divide K"),
    (dict(out_subblock_w=3), "does not divide the output block"),
    (dict(per_core_N=8, out_subblock_h=1, out_subblock_w=8, per_core_M=1, in0_block_w=1,
          compute_with_storage_grid_size=ttnn.CoreCoord(4, 8)), None),       # valid: 8 tiles of Dst
    (dict(per_core_N=16, out_subblock_w=16), "exceeds the 8 tiles Dst holds"),
    (dict(per_core_N=2, out_subblock_w=2), "need a 8x16 grid of cores"),
    (dict(compute_with_storage_grid_size=ttnn.CoreCoord(9, 8)), "exceeds the device's compute grid"),
])
def test_invalid_program_configs_are_refused(device, kw, match):
    a, b = _mm_operands(device)
    if match is None:
        ttnn.matmul(a, b, program_config=_cfg2d(**kw))
        return
    with pytest.raises(TTNNError, match=match):
        ttnn.matmul(a, b, program_config=_cfg2d(**kw))


def test_program_config_refused_when_its_buffers_do_not_fit_beside_l1_tensors(device):
    """Circular buffers of a config with large blocks (here ~0.6 MiB a core) clash with L1 already allocated."""
    a, b = _mm_operands(device, m=256, k=2048, n=256)          # 8 x 64 x 8 tiles
    big = dict(compute_with_storage_grid_size=ttnn.CoreCoord(1, 8), in0_block_w=16, out_subblock_h=1,
               out_subblock_w=8, per_core_M=1, per_core_N=8)
    ttnn.matmul(a, b, program_config=_cfg2d(**big))               # ~0.6 MiB of buffers a core: fits
    hog = ttnn.empty((64 * 1024, 512), ttnn.bfloat16, ttnn.TILE_LAYOUT, device, ttnn.L1_MEMORY_CONFIG)  # 1 MiB a core
    with pytest.raises(TTNNError, match="circular buffers need"):
        ttnn.matmul(a, b, program_config=_cfg2d(**big))
    ttnn.deallocate(hog)


def test_program_config_constructors_are_keyword_only_and_typed():
    with pytest.raises(TypeError):
        ttnn.MatmulMultiCoreReuseMultiCastProgramConfig(compute_with_storage_grid_size=ttnn.CoreCoord(8, 8),
                                                        in0_block_w=2, out_subblock_h=1, out_subblock_w=1,
                                                        per_core_M=1, per_core_N=1)      # transpose_mcast required
    with pytest.raises(TypeError, match="CoreCoord"):
        _cfg2d(compute_with_storage_grid_size=(8, 8))
    with pytest.raises(TypeError, match="positive int"):
        _cfg2d(per_core_M=0)


def test_the_cost_model_times_the_configs_block(device):
    """The modelled kernel of a config that spreads the output over fewer cores is longer: 8 cores of 1x32
    tiles against 64 of 1x4."""
    a, b = _mm_operands(device)
    device.profiler.reset()
    ttnn.matmul(a, b, program_config=_cfg2d())
    wide = device.profiler.totals.kernel_us
    device.profiler.reset()
    ttnn.matmul(a, b, program_config=ttnn.MatmulMultiCoreReuseMultiCast1DProgramConfig(
        compute_with_storage_grid_size=ttnn.CoreCoord(8, 1), in0_block_w=4, out_subblock_h=1, out_subblock_w=4,
        per_core_M=1, per_core_N=32, fuse_batch=True, mcast_in0=False))
    narrow = device.profiler.totals.kernel_us
    assert narrow > 2 * wide, (narrow, wide)
