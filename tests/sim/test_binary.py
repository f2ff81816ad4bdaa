"""Element-wise binary ops of the simulated device (torch_ttnn/sim/ops/binary.py)."""
import pytest
import torch

import torch_ttnn.sim as ttnn
from torch_ttnn.sim import formats
from torch_ttnn.sim.errors import TTNNError
from torch_ttnn.sim.ops.binary_core import broadcast_shape, fpu_multiply

SHAPES = [(7,), (3, 45), (2, 3, 33, 64)]


def bf16(x):
    return x.to(torch.bfloat16).to(torch.float32)


def put(device, x, dtype=ttnn.bfloat16, layout=ttnn.TILE_LAYOUT, **kw):
    return ttnn.from_torch(x, dtype=dtype, layout=layout, device=device, **kw)


def got(t):
    v = ttnn.to_torch(t)
    return v.to(torch.float32) if v.is_floating_point() else v.to(torch.int64)


def _away(x, lo=0.5):
    """Values with |x| >= lo (divisors)."""
    return torch.where(x.abs() < lo, torch.sign(x + 1e-9) * lo + x, x)


# op, torch reference, input maps (a, b), exact (bit-exact vs a rounding of the reference) or tolerance
FLOAT_TABLE = [
    ("add", torch.add, None, None),
    ("subtract", torch.sub, None, None),
    ("rsub", lambda a, b: b - a, None, None),
    ("multiply", torch.mul, None, None),
    ("divide", torch.div, None, _away),
    ("maximum", torch.maximum, None, None),
    ("minimum", torch.minimum, None, None),
    ("squared_difference", lambda a, b: (a - b) ** 2, None, None),
    ("atan2", torch.atan2, None, None),
    ("hypot", torch.hypot, None, None),
    ("logaddexp", torch.logaddexp, None, None),
    ("logaddexp2", torch.logaddexp2, None, None),
    ("xlogy", torch.xlogy, None, lambda b: b.abs() + 0.1),
    ("pow", torch.pow, lambda a: a.abs() + 0.5, lambda b: b.clamp(-2, 2)),
    ("remainder", torch.remainder, None, _away),
    ("fmod", torch.fmod, None, _away),
    ("floor_div", lambda a, b: torch.floor(a / b), None, _away),
    ("div_no_nan", lambda a, b: torch.where(b == 0, 0.0, a / b), None, None),
    ("ldexp", torch.ldexp, None, lambda b: torch.round(b * 2)),
    ("bias_gelu", lambda a, b: torch.nn.functional.gelu(a + b), None, None),
]
CMP_TABLE = [("eq", torch.eq), ("ne", torch.ne), ("lt", torch.lt), ("le", torch.le), ("gt", torch.gt),
             ("ge", torch.ge), ("logical_and", torch.logical_and), ("logical_or", torch.logical_or),
             ("logical_xor", torch.logical_xor)]


def _inputs(shape, fa, fb):
    a = torch.randn(shape) * 2
    b = torch.randn(shape) * 2
    if fa:
        a = fa(a)
    if fb:
        b = fb(b)
    return bf16(a), bf16(b)


@pytest.mark.parametrize("name,ref,fa,fb", FLOAT_TABLE, ids=[r[0] for r in FLOAT_TABLE])
def test_float_ops_match_torch(device, name, ref, fa, fb):
    for shape in SHAPES:
        a, b = _inputs(shape, fa, fb)
        out = getattr(ttnn, name)(put(device, a), put(device, b))
        assert out.shape == shape and out.dtype == ttnn.bfloat16 and out.layout == ttnn.TILE_LAYOUT
        expect = ref(a, b)
        if name in ("floor_div", "remainder"):  # floor of a quotient: the fp32 quotient may sit on an integer
            close = torch.isclose(got(out), bf16(expect), rtol=1 / 64, atol=2e-2)
            assert close.float().mean() > 0.99, name
        else:
            torch.testing.assert_close(got(out), expect, rtol=1 / 64, atol=2e-2, msg=name)


def test_add_is_packer_rounded_sum(device):
    a, b = _inputs((3, 45), None, None)
    out = got(ttnn.add(put(device, a), put(device, b)))
    assert torch.equal(out, formats.round_bf16_packer(a + b))
    out = got(ttnn.subtract(put(device, a), put(device, b), fast_and_approximate_mode=False))
    assert torch.equal(out, formats.flush_fp32(formats.round_bf16_rne(a - b)))


def test_transcendental_results_are_truncated(device):
    a, b = _inputs((2, 3, 33, 64), None, None)
    out = got(ttnn.atan2(put(device, a), put(device, b)))
    assert torch.equal(out, formats.truncate_bf16(torch.atan2(a, b)))


@pytest.mark.parametrize("name,ref", CMP_TABLE, ids=[r[0] for r in CMP_TABLE])
def test_comparisons_and_logical_give_one_zero(device, name, ref):
    for shape in SHAPES:
        a = bf16(torch.randint(-2, 3, shape).float())
        b = bf16(torch.randint(-2, 3, shape).float())
        out = getattr(ttnn, name)(put(device, a), put(device, b))
        assert out.dtype == ttnn.bfloat16
        assert torch.equal(got(out), ref(a, b).float())


def test_comparison_with_scalar_and_output_dtype(device):
    a = bf16(torch.randn(3, 45))
    out = ttnn.gt(put(device, a), 0.0)
    assert torch.equal(got(out), (a > 0).float())
    out = ttnn.lt(put(device, a), 0.5, dtype=ttnn.int32)
    assert out.dtype == ttnn.int32 and torch.equal(got(out), (a < 0.5).long())
    u8 = put(device, torch.randint(0, 5, (3, 45), dtype=torch.uint8), dtype=ttnn.uint8)
    out = ttnn.eq(u8, u8)
    assert out.dtype == ttnn.uint16 and bool((got(out) == 1).all())


# --- broadcasting -------------------------------------------------------------------------------------

@pytest.mark.parametrize("sa,sb", [((2, 3, 33, 64), (1, 1, 1, 64)), ((2, 3, 33, 64), (33, 1)),
                                   ((1, 1, 1, 64), (2, 3, 33, 64)), ((2, 1, 1, 32), (1, 16, 8, 1)),
                                   ((7,), (3, 1)), ((2, 1, 1, 1, 1, 32), (2, 1, 4, 1, 1, 1))])
def test_broadcasting(device, sa, sb):
    a, b = bf16(torch.randn(sa)), bf16(torch.randn(sb))
    out = ttnn.multiply(put(device, a), put(device, b))
    expect = a * b
    assert tuple(out.shape) == tuple(expect.shape)
    torch.testing.assert_close(got(out), expect, rtol=1 / 128, atol=1e-3)


@pytest.mark.parametrize("sa,sb", [((2, 3), (4, 3)), ((2, 3, 33, 64), (1, 1, 32, 64)),
                                   ((2, 1, 1, 1, 1, 32), (3, 1, 1, 1, 1, 32))])
def test_incompatible_shapes_are_refused(device, sa, sb):
    with pytest.raises(TTNNError, match=r"ttnn.add: incompatible shapes \["):
        ttnn.add(put(device, torch.randn(sa)), put(device, torch.randn(sb)))


def test_broadcast_rule_dims_beyond_five_must_match():
    assert broadcast_shape("add", (2, 1, 1, 1, 1, 32), (2, 5, 1, 1, 1, 1)) == (2, 5, 1, 1, 1, 32)
    with pytest.raises(TTNNError):
        broadcast_shape("add", (2, 1, 1, 1, 1, 32), (1, 1, 1, 1, 1, 32))


# --- scalars ------------------------------------------------------------------------------------------

def test_scalar_operands(device):
    a = bf16(torch.randn(3, 45))
    t = put(device, a)
    assert torch.equal(got(ttnn.add(t, 2.5)), formats.round_bf16_packer(a + 2.5))
    assert torch.equal(got(ttnn.add(2.5, t)), formats.round_bf16_packer(a + 2.5))
    assert torch.equal(got(ttnn.subtract(1.0, t)), formats.round_bf16_packer(1.0 - a))
    assert torch.equal(got(ttnn.rsub(t, 1.0)), formats.round_bf16_packer(1.0 - a))
    torch.testing.assert_close(got(ttnn.multiply(t, 3)), a * 3, rtol=1 / 128, atol=0)
    torch.testing.assert_close(got(ttnn.divide(t, 4.0)), a / 4, rtol=0, atol=0)
    torch.testing.assert_close(got(ttnn.divide(1.0, put(device, _away(a)))), 1 / _away(a), rtol=1 / 64, atol=0)
    torch.testing.assert_close(got(ttnn.pow(t, 2)), a * a, rtol=1 / 64, atol=1e-6)
    torch.testing.assert_close(got(ttnn.pow(2.0, t)), 2.0 ** a, rtol=1 / 64, atol=1e-6)
    torch.testing.assert_close(got(ttnn.rpow(t, 3.0)), 3.0 ** a, rtol=1 / 64, atol=1e-6)
    torch.testing.assert_close(got(ttnn.rdiv(put(device, _away(a)), 2.0)), 2 / _away(a), rtol=1 / 64, atol=0)
    torch.testing.assert_close(got(ttnn.maximum(t, 0.0)), a.clamp(min=0), rtol=0, atol=0)
    torch.testing.assert_close(got(ttnn.prelu(t, 0.25)), torch.where(a >= 0, a, 0.25 * a), rtol=1 / 64, atol=0)


def test_prelu_per_channel_weight(device):
    a = bf16(torch.randn(2, 3, 5, 7))
    w = bf16(torch.tensor([0.1, 0.5, 2.0]))
    out = ttnn.prelu(put(device, a), put(device, w))
    torch.testing.assert_close(got(out), torch.nn.functional.prelu(a, w), rtol=1 / 64, atol=0)
    with pytest.raises(TTNNError, match="prelu: weight"):
        ttnn.prelu(put(device, a), put(device, bf16(torch.randn(4))))


# --- integers and fp32 --------------------------------------------------------------------------------

def test_int32_arithmetic_wraps(device):
    a = torch.tensor([[2 ** 31 - 1, -(2 ** 31), 7, -7, 100000, 3]], dtype=torch.int32)
    b = torch.tensor([[1, -1, 2, 2, 100000, -2]], dtype=torch.int32)
    ta, tb = put(device, a, ttnn.int32), put(device, b, ttnn.int32)
    wrap = lambda x: formats.wrap_int(x, ttnn.int32)
    A, B = a.long(), b.long()
    for name, ref in [("add", A + B), ("subtract", A - B), ("multiply", A * B), ("maximum", torch.maximum(A, B)),
                      ("bitwise_and", A & B), ("bitwise_or", A | B), ("bitwise_xor", A ^ B),
                      ("remainder", torch.remainder(A, B)), ("fmod", torch.fmod(A, B)),
                      ("floor_div", torch.div(A, B, rounding_mode="floor")),
                      ("gcd", torch.gcd(A, B)), ("squared_difference", (A - B) ** 2)]:
        out = getattr(ttnn, name)(ta, tb)
        assert out.dtype == ttnn.int32, name
        assert torch.equal(got(out), wrap(ref)), name
    assert torch.equal(got(ttnn.add(ta, 5)), wrap(A + 5))
    assert torch.equal(got(ttnn.add(ta, 5.0)), wrap(A + 5))
    out = ttnn.divide(ta, tb)
    assert out.dtype == ttnn.float32
    torch.testing.assert_close(got(out), (A.double() / B.double()).float())
    out = ttnn.divide(ta, tb, rounding_mode="trunc")
    assert out.dtype == ttnn.int32 and torch.equal(got(out)[0, 2:], torch.div(A, B, rounding_mode="trunc")[0, 2:])
    out = ttnn.multiply(ta, 0.5)  # a float scalar promotes an INT32 tensor to FLOAT32
    assert out.dtype == ttnn.float32


def test_shifts_and_unsigned_wrap(device):
    a = put(device, torch.tensor([[-8, 1, 5, 3]], dtype=torch.int32), ttnn.int32)
    s = put(device, torch.tensor([[1, 31, 2, 40]], dtype=torch.int32), ttnn.int32)
    assert got(ttnn.bitwise_left_shift(a, s)).tolist() == [[-16, -(2 ** 31), 20, 0]]
    assert got(ttnn.bitwise_right_shift(a, s)).tolist() == [[-4, 0, 1, 0]]
    u = put(device, torch.tensor([[1, 2]], dtype=torch.int32), ttnn.uint32)
    v = put(device, torch.tensor([[2, 1]], dtype=torch.int32), ttnn.uint32)
    out = ttnn.subtract(u, v)
    assert out.dtype == ttnn.uint32 and out._value.tolist() == [[2 ** 32 - 1, 1]]


def test_float32_ops(device):
    a, b = torch.randn(3, 45), torch.randn(3, 45)
    ta, tb = put(device, a, ttnn.float32), put(device, b, ttnn.float32)
    assert torch.equal(got(ttnn.add(ta, tb)), a + b)
    assert torch.equal(got(ttnn.multiply(ta, tb)), a * b)
    torch.testing.assert_close(got(ttnn.divide(ta, tb)), a / b)
    mixed = ttnn.add(put(device, bf16(a)), tb)  # mixed float dtypes: the output follows input A
    assert mixed.dtype == ttnn.bfloat16
    assert ttnn.add(put(device, bf16(a)), put(device, bf16(b)), dtype=ttnn.float32).dtype == ttnn.float32


def test_block_float_inputs(device):
    a, b = torch.randn(2, 64), torch.randn(2, 64)
    out = ttnn.add(put(device, a, ttnn.bfloat8_b), put(device, b, ttnn.bfloat8_b))
    assert out.dtype == ttnn.bfloat8_b
    torch.testing.assert_close(got(out), a + b, rtol=0.05, atol=0.1)


# --- numerics: fidelity, rounding, ideal mode ---------------------------------------------------------

def test_multiply_fidelity_slices():
    """binary multiply takes no compute_kernel_config in 0.81.1 (always HiFi4); the FPU model it uses
    drops low mantissa bits at lower fidelity."""
    a = torch.tensor([1.0 + 127 / 128, 1.5 + 1 / 128])  # low mantissa bits set (bf16 values)
    b = torch.tensor([1.0 + 127 / 128, 1.25 + 3 / 128])
    exact = a.double() * b.double()
    assert torch.equal(fpu_multiply(a, b, ttnn.MathFidelity.HiFi4).double(), exact)
    lofi = fpu_multiply(a, b, ttnn.MathFidelity.LoFi)
    assert not torch.equal(lofi.double(), exact)
    assert bool((lofi.double() < exact).all())  # truncated slices: magnitude only lost


def test_multiply_fast_mode_rounding(device):
    # 35/16 * 11/8 = 3.0078125, exactly halfway between bf16 3.0 and 3.015625
    a = put(device, torch.tensor([[35 / 16]]))
    b = put(device, torch.tensor([[11 / 8]]))
    assert got(ttnn.multiply(a, b, fast_and_approximate_mode=True)).item() == 3.015625  # packer: ties away
    assert got(ttnn.multiply(a, b)).item() == 3.0  # SFPU default: nearest even


def test_ideal_numerics_round_to_nearest_even(device):
    a = put(device, torch.tensor([[1.0]]))
    b = put(device, torch.tensor([[2.0 ** -8]]))  # 1 + 2^-8 is a bf16 tie
    assert got(ttnn.add(a, b)).item() == 1.0078125
    device.numerics = "ideal"
    assert got(ttnn.add(a, b)).item() == 1.0


# --- refusals -----------------------------------------------------------------------------------------

def test_refusals(device):
    a = put(device, torch.randn(3, 45))
    host = ttnn.from_torch(torch.randn(3, 45), dtype=ttnn.bfloat16, layout=ttnn.TILE_LAYOUT)
    with pytest.raises(TTNNError, match="ttnn.add: input_tensor_b must be on a device"):
        ttnn.add(a, host)
    with pytest.raises(TTNNError, match="ttnn.bitwise_and: input_tensor_a has dtype BFLOAT16"):
        ttnn.bitwise_and(a, a)
    u8 = put(device, torch.zeros(3, 45, dtype=torch.uint8), ttnn.uint8)
    with pytest.raises(TTNNError, match="ttnn.add: input_tensor_a has dtype UINT8"):
        ttnn.add(u8, u8)
    i32 = put(device, torch.zeros(3, 45, dtype=torch.int32), ttnn.int32)
    with pytest.raises(TTNNError, match="ttnn.add: .*cannot be mixed"):
        ttnn.add(a, i32)
    with pytest.raises(TTNNError, match="ttnn.add: input_tensor_b=2.5 is not an integer"):
        ttnn.add(i32, 2.5)
    with pytest.raises(TTNNError, match="ttnn.atan2: input_tensor_b must be a ttnn.Tensor"):
        ttnn.atan2(a, 1.0)
    with pytest.raises(TTNNError, match="ttnn.add: fast_and_approximate_mode=False"):
        ttnn.add(put(device, torch.randn(3, 45), ttnn.float32), 1.0, fast_and_approximate_mode=False)
    with pytest.raises(TTNNError, match="ttnn.gcd: input_tensor_a has dtype BFLOAT16"):
        ttnn.gcd(a, a)
    with pytest.raises(TTNNError, match="ttnn.xlogy: operands must have the same dtype"):
        ttnn.xlogy(a, put(device, torch.randn(3, 45), ttnn.float32))
    with pytest.raises(TTNNError, match="ttnn.add: activations: activation MISH is not supported"):
        ttnn.add(a, a, activations=["mish"])
    with pytest.raises(TTNNError, match="ttnn.divide: rounding_mode"):
        ttnn.divide(a, a, rounding_mode="round")
    with pytest.raises(TTNNError, match="ttnn.pow: integer inputs"):
        ttnn.pow(i32, i32)
    with pytest.raises(TTNNError, match="no scalar-scalar"):
        ttnn.add(1.0, 2.0)


# --- padding, activations, output_tensor, memory config, in-place -------------------------------------

def test_padding_propagation(device):
    a = put(device, torch.randn(3, 45), pad_value=0.0)
    b = put(device, torch.randn(3, 45), pad_value=1.0)
    assert a._pad == 0.0 and b._pad == 1.0
    assert ttnn.add(a, b)._pad == 1.0
    assert ttnn.multiply(a, b)._pad == 0.0
    assert ttnn.eq(a, b)._pad == 0.0
    assert ttnn.add(b, 2.0)._pad == 3.0
    assert ttnn.add(a, b, activations=[ttnn.UnaryWithParam(ttnn.UnaryOpType.EXP)])._pad == pytest.approx(2.71875)
    row = put(device, torch.randn(1, 45), pad_value=0.0)  # broadcast along H: padding rows unknown
    assert ttnn.add(a, row)._pad is None
    rm = put(device, torch.randn(3, 45), layout=ttnn.ROW_MAJOR_LAYOUT)
    out = ttnn.add(rm, b)
    assert out.layout == ttnn.ROW_MAJOR_LAYOUT and out._pad is None


def test_activations(device):
    a, b = _inputs((3, 45), None, None)
    ta, tb = put(device, a), put(device, b)
    out = ttnn.add(ta, tb, activations=[ttnn.UnaryWithParam(ttnn.UnaryOpType.RELU)])
    assert torch.equal(got(out), formats.round_bf16_packer(torch.relu(a + b)))
    out = ttnn.multiply(ta, tb, input_tensor_a_activations=[ttnn.UnaryOpType.NEG],
                        input_tensor_b_activations=[ttnn.UnaryWithParam(ttnn.UnaryOpType.SIGMOID)])
    torch.testing.assert_close(got(out), -a * torch.sigmoid(b), rtol=1 / 64, atol=1e-3)
    out = ttnn.subtract(ta, tb, activations=["silu"])
    torch.testing.assert_close(got(out), torch.nn.functional.silu(a - b), rtol=1 / 64, atol=1e-3)


def test_output_tensor_memory_config_and_inplace(device):
    a, b = _inputs((3, 45), None, None)
    ta, tb = put(device, a), put(device, b)
    dst = put(device, torch.zeros(3, 45))
    out = ttnn.add(ta, tb, output_tensor=dst)
    assert out is dst and torch.equal(got(dst), formats.round_bf16_packer(a + b))
    with pytest.raises(TTNNError, match="output_tensor has shape"):
        ttnn.add(ta, tb, output_tensor=put(device, torch.zeros(3, 46)))
    l1 = ttnn.multiply(ta, tb, memory_config=ttnn.L1_MEMORY_CONFIG)
    assert l1.memory_config().buffer_type == ttnn.BufferType.L1
    res = ttnn.add_(ta, tb)
    assert res is ta and torch.equal(got(ta), formats.round_bf16_packer(a + b))
    ttnn.multiply_(ta, 2.0)
    assert torch.equal(got(ta), formats.round_bf16_packer(a + b) * 2)
    with pytest.raises(TTNNError, match="output_tensor has shape"):
        ttnn.add_(put(device, torch.randn(1, 45)), tb)
    before = device.counters.op_launches["add"]
    ttnn.add(tb, tb)
    assert device.counters.op_launches["add"] == before + 1


def test_isclose_nextafter_addalpha(device):
    a = bf16(torch.randn(3, 45))
    b = a + torch.where(torch.rand(3, 45) > 0.5, 0.0, 1.0)
    out = ttnn.isclose(put(device, a), put(device, bf16(b)))
    assert torch.equal(got(out), torch.isclose(a, bf16(b)).float())
    up = ttnn.nextafter(put(device, a), put(device, a + 10))
    assert bool((got(up) > a).all())
    torch.testing.assert_close(got(ttnn.addalpha(put(device, a), put(device, a), 2.0)), 3 * a, rtol=1 / 64, atol=0)
    torch.testing.assert_close(got(ttnn.subalpha(put(device, a), put(device, a), 2.0)), -a, rtol=1 / 64, atol=0)


# --- oracle: the real wheel's golden functions --------------------------------------------------------

@pytest.fixture(scope="module")
def real_ttnn():
    return pytest.importorskip("ttnn")


@pytest.mark.parametrize("name", ["add", "subtract", "multiply", "divide", "maximum", "eq", "atan2",
                                  "logaddexp", "squared_difference", "remainder"])
def test_matches_real_golden_function(device, real_ttnn, name):
    a, b = _inputs((2, 3, 33, 64), None, _away)
    golden = real_ttnn.get_golden_function(getattr(real_ttnn, name))
    expect = golden(a.to(torch.bfloat16), b.to(torch.bfloat16)).to(torch.float32)
    out = got(getattr(ttnn, name)(put(device, a), put(device, b)))
    close = torch.isclose(out, expect, rtol=1 / 64, atol=2e-2)
    assert close.float().mean() > 0.995, name
    ours = ttnn.get_golden_function(getattr(ttnn, name))(a, b).to(torch.float32)
    torch.testing.assert_close(bf16(ours), expect, rtol=1 / 64, atol=2e-2)
