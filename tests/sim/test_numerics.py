"""The compute-unit model of the simulated device (torch_ttnn/sim/numerics.py): matrix-unit bit slices and math
fidelity, Dst accumulation, reduce-sum, the SFPU reciprocal, and the ideal numerics switch."""
import pytest
import torch

import torch_ttnn.sim as ttnn
from torch_ttnn.sim import numerics
from torch_ttnn.sim.formats import round_bf16_rne
from torch_ttnn.sim.types import MathFidelity as F

FIDELITIES = [F.LoFi, F.HiFi2, F.HiFi3, F.HiFi4]


def _bf16(*shape, scale=1.0):
    return round_bf16_rne(torch.randn(*shape) * scale)


def _bits(x):
    return x.contiguous().view(torch.int32)


def _mask(x, m):
    return (_bits(x) & m).view(torch.float32)


# ------------------------------------------------------------------------------------------------
# Bit slices
# ------------------------------------------------------------------------------------------------

def test_slices_cut_the_documented_bits():
    x = torch.randn(1000)  # fp32: all mantissa bits populated
    a_hi, a_lo, a_full = numerics.split_srca(x, fp32_acc=True)
    b_hi, b_lo, b_full = numerics.split_srcb(x, fp32_acc=True)
    assert torch.equal(a_hi, _mask(x, -0x80000))            # 0xFFF80000
    assert torch.equal(b_hi, _mask(x, -0x20000))            # 0xFFFE0000
    assert torch.equal(a_hi + a_lo, a_full)
    assert torch.equal(b_hi + b_lo, b_full)
    assert torch.equal(a_full, _mask(x, -0x4000))           # A_lo = the next 5 bits
    assert torch.equal(b_full, _mask(x, -0x2000))           # B_lo = the next 4 bits (TF32)
    # without fp32 Dst the source registers hold bf16 (truncated)
    _, _, b16 = numerics.split_srcb(x, fp32_acc=False)
    assert torch.equal(b16, _mask(x, -0x10000))


def test_slices_of_infinities_have_no_low_part():
    x = torch.tensor([float("inf"), -float("inf"), 1.5])
    hi, lo, _ = numerics.split_srca(x, True)
    assert torch.equal(hi[:2], x[:2]) and torch.equal(lo, torch.zeros(3))


# ------------------------------------------------------------------------------------------------
# Fidelity on single products (K = 1: no accumulation)
# ------------------------------------------------------------------------------------------------

def test_hifi4_on_bf16_operands_is_exact_before_accumulation():
    a, b = _bf16(64, 1), _bf16(1, 48)
    assert torch.equal(numerics.fpu_matmul(a, b, F.HiFi4, fp32_acc=True), a * b)
    # a 16-bit Dst rounds after each of the 4 passes: within a bf16 ULP or two of the rounded exact product
    got = numerics.fpu_matmul(a, b, F.HiFi4, fp32_acc=False)
    assert torch.equal(got, round_bf16_rne(got))
    ulp = torch.exp2(torch.floor(torch.log2((a * b).abs())) - 7)
    assert ((got - a * b).abs() <= 2 * ulp).all()


def test_hifi2_drops_only_the_7th_activation_bit_and_hifi3_only_alo_blo():
    a, b = _bf16(64, 1), _bf16(1, 48)
    got2 = numerics.fpu_matmul(a, b, F.HiFi2, fp32_acc=True)
    assert torch.equal(got2, _mask(a, -0x20000) * b)
    got3 = numerics.fpu_matmul(a, b, F.HiFi3, fp32_acc=True)
    b_lo = b - _mask(b, -0x80000)
    a_lo = a - _mask(a, -0x20000)
    assert torch.allclose(got3, a * b - a_lo * b_lo, rtol=0, atol=0)


def test_lofi_multiplies_5_by_7_significant_bits():
    a, b = _bf16(64, 1), _bf16(1, 48)
    got = numerics.fpu_matmul(a, b, F.LoFi, fp32_acc=True)
    assert torch.equal(got, _mask(a, -0x20000) * _mask(b, -0x80000))


def test_error_decreases_with_fidelity():
    a, b = _bf16(64, 256), _bf16(256, 64)
    ref = a.double() @ b.double()
    errs = [(numerics.fpu_matmul(a, b, f, fp32_acc=True).double() - ref).abs().mean().item() for f in FIDELITIES]
    assert errs[0] > errs[1] > errs[2] > errs[3]
    assert errs[3] < 1e-5 * ref.abs().mean().item()   # HiFi4 on bf16 = exact products, fp32 sums


def test_fp32_operands_are_truncated_to_tf32_or_bf16():
    a, b = torch.randn(8, 1), torch.randn(1, 8)
    got = numerics.fpu_matmul(a, b, F.HiFi4, fp32_acc=True)
    assert torch.equal(got, _mask(a, -0x2000) * _mask(b, -0x4000))
    got16 = numerics.fpu_matmul(a, b, F.LoFi, fp32_acc=False)   # one pass: one Dst rounding
    assert torch.equal(got16, numerics.round_dst(_mask(a, -0x20000) * _mask(b, -0x80000)))
    a16, b16 = _mask(a, -0x10000), _mask(b, -0x10000)
    assert torch.equal(numerics.fpu_matmul(a, b, F.HiFi4, fp32_acc=False),
                       numerics.fpu_matmul(a16, b16, F.HiFi4, fp32_acc=False))


# ------------------------------------------------------------------------------------------------
# Dst accumulation
# ------------------------------------------------------------------------------------------------

def _rel_err(k, acc):
    torch.manual_seed(1)
    a, b = round_bf16_rne(torch.rand(16, k)), round_bf16_rne(torch.rand(k, 16))  # positive: sums grow with K
    ref = a.double() @ b.double()
    got = numerics.fpu_matmul(a, b, F.HiFi4, fp32_acc=acc).double()
    return ((got - ref).abs() / ref.abs()).mean().item()


def test_bf16_accumulation_error_grows_with_k_and_vanishes_with_fp32_acc():
    short, long_ = _rel_err(32, False), _rel_err(4096, False)
    assert long_ > 4 * short
    assert long_ > 1e-2
    assert _rel_err(4096, True) < 1e-5


def test_bf16_dst_holds_bf16_values_after_every_step():
    a, b = _bf16(4, 100), _bf16(100, 4)
    out = numerics.fpu_matmul(a, b, F.HiFi2, fp32_acc=False)
    assert torch.equal(out, round_bf16_rne(out))


def test_batched_and_broadcast_batches():
    a, b = _bf16(2, 3, 8, 40), _bf16(3, 40, 5)
    got = numerics.fpu_matmul(a, b, F.HiFi4, fp32_acc=True)
    assert got.shape == (2, 3, 8, 5)
    assert torch.allclose(got, a @ b, rtol=1e-5, atol=1e-4)
    got2 = numerics.fpu_matmul(a, b[0], F.HiFi4, fp32_acc=False)   # b without batch
    assert got2.shape == (2, 3, 8, 5)
    assert torch.allclose(got2, a @ b[0], rtol=0.03, atol=0.1)


def test_ideal_mode_is_one_fp32_matmul():
    a, b = torch.randn(5, 7, 33), torch.randn(33, 9)
    assert torch.equal(numerics.fpu_matmul(a, b, F.LoFi, fp32_acc=False, ideal=True), torch.matmul(a, b))


def test_ideal_device_matmul_is_fp32_matmul_then_rounding():
    dev = ttnn.open_device(device_id=1, numerics="ideal")
    try:
        a, b = _bf16(40, 70), _bf16(70, 50)
        ta = ttnn.from_torch(a, dtype=ttnn.bfloat16, layout=ttnn.TILE_LAYOUT, device=dev)
        tb = ttnn.from_torch(b, dtype=ttnn.bfloat16, layout=ttnn.TILE_LAYOUT, device=dev)
        out = ttnn.to_torch(ttnn.matmul(ta, tb)).float()
        assert torch.equal(out, round_bf16_rne(a @ b))
    finally:
        ttnn.close_device(dev)


# ------------------------------------------------------------------------------------------------
# Reduce-sum
# ------------------------------------------------------------------------------------------------

def test_reduce_sum_fidelity_applies_to_the_input():
    x = _bf16(4, 64)
    lofi = numerics.fpu_reduce_sum(x, [-1], 1.0, F.LoFi, True, input_operand="A")
    assert torch.allclose(lofi, _mask(x, -0x80000).sum(-1, keepdim=True), rtol=1e-6, atol=1e-6)
    hifi = numerics.fpu_reduce_sum(x, [-1], 1.0, F.HiFi4, True, input_operand="A")
    assert torch.allclose(hifi, x.sum(-1, keepdim=True), rtol=1e-6, atol=1e-6)
    # as SrcB (the W reduction through the matmul path) LoFi keeps 7 significant bits
    lofi_b = numerics.fpu_reduce_sum(x, [-1], 1.0, F.LoFi, True, input_operand="B")
    assert torch.allclose(lofi_b, _mask(x, -0x20000).sum(-1, keepdim=True), rtol=1e-6, atol=1e-6)


def test_dst_rounding_is_tf32_then_bf16_ties_away():
    # tt-metal #46101: the FPU rounds to TF32, then to bf16, both ties away from zero
    x = torch.tensor([1 + 2 ** -8, -(1 + 2 ** -8), 1 + 2 ** -8 - 2 ** -12, 1 + 2 ** -9, 1 + 3 * 2 ** -8])
    assert numerics.round_dst(x).tolist() == [1 + 2 ** -7, -(1 + 2 ** -7), 1 + 2 ** -7, 1.0, 1 + 2 ** -6]
    # the third is below the bf16 halfway point: one nearest-even rounding would give 1.0 (the double
    # rounding bias); the first is a tie that nearest-even would round to 1.0
    assert round_bf16_rne(x[2:3]).item() == 1.0


def test_dst_rounding_equals_the_two_roundings_step_by_step_on_every_kind_of_bit_pattern():
    # round_dst_ computes (b + 0x9000) & BF16_MASK; the hardware's definition is two roundings, the TF32 one
    # clearing the 13 low bits in between: the same on random patterns and on every carry boundary
    g = torch.Generator().manual_seed(0)
    rand = torch.randint(-2 ** 31, 2 ** 31 - 1, (1 << 20,), generator=g, dtype=torch.int64)
    low = torch.arange(0, 1 << 16, dtype=torch.int64)                     # every low half-word
    highs = torch.tensor([0x3F80, 0x3F81, 0x7F7F, 0xBF80, 0x0000, 0x8000, 0x0080], dtype=torch.int64)
    grid = (highs[:, None] << 16 | low[None, :]).flatten()
    for bits in (rand, grid):
        b = ((bits + 2 ** 31) % 2 ** 32 - 2 ** 31).to(torch.int32)
        step = ((b + 0x1000) & numerics._TF32_MASK) + 0x8000
        step &= numerics._BF16_MASK
        got = numerics.round_dst(b.view(torch.float32)).view(torch.int32)
        assert torch.equal(got, step)


def test_reduce_sum_bf16_accumulation_drifts_on_long_rows():
    x = torch.ones(2, 6144)
    s16 = numerics.fpu_reduce_sum(x, [-1], 1.0, F.HiFi4, False)
    s32 = numerics.fpu_reduce_sum(x, [-1], 1.0, F.HiFi4, True)
    assert torch.equal(s32, torch.full((2, 1), 6144.0))
    # from 4096 each +16 is a bf16 tie (ulp 32) that rounds away from zero: the sum overshoots
    assert torch.equal(s16, torch.full((2, 1), 8192.0))
    assert torch.equal(numerics.fpu_reduce_sum(x, [-1], 1.0, F.HiFi4, False, ideal=True), s32)


def test_reduce_sum_over_several_dims_and_keepdim():
    x = _bf16(3, 4, 5)
    out = numerics.fpu_reduce_sum(x, [0, 2], 1.0, F.HiFi4, True, keepdim=False)
    assert out.shape == (4,)
    assert torch.allclose(out, x.sum(dim=(0, 2)), atol=1e-4)


# ------------------------------------------------------------------------------------------------
# SFPU reciprocal
# ------------------------------------------------------------------------------------------------

def test_approximate_reciprocal_bias_range():
    x = torch.linspace(1.0, 1.999, 2000)
    rel = numerics.sfpu_reciprocal(x, approx=True) * x - 1
    assert rel.max() <= 1e-6 and rel.min() > -0.0390 and rel.min() < -0.035
    rel3 = numerics.sfpu_reciprocal(x, approx=False) * x - 1
    assert rel3.max() <= 1e-6 and rel3.min() > -0.0016
    # sign, exponent and specials
    y = torch.tensor([-4.0, 0.25, 0.0, float("inf")])
    r = numerics.sfpu_reciprocal(y, approx=True)
    assert r[0] < 0 and torch.isclose(r[1], torch.tensor(4.0), rtol=0.04)
    assert torch.isinf(r[2]) and r[3] == 0


def test_phases_table():
    assert numerics.phases(F.LoFi) == [("hi", "hi")]
    assert len(numerics.phases(F.HiFi4)) == 4
    with pytest.raises(ValueError):
        numerics.phases(F.Invalid)
