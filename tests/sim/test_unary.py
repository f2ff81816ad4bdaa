"""Element-wise unary ops of the simulated device (torch_ttnn/sim/ops/unary.py).

Values are compared with torch evaluated in float64 on the bf16-rounded inputs. A bf16 result of the SFPU is
the fp32 result truncated into a 16-bit Dst, so the tolerance is counted in bf16 ULPs of the reference.
"""
import math

import pytest
import torch

import torch_ttnn.sim as ttnn
from torch_ttnn.sim.errors import TTNNError
from torch_ttnn.sim.ops.unary import SUPPORTED_DTYPES

from ._api import manifest

SHAPES = [(7,), (3, 45), (2, 3, 33, 64), (1, 1, 32, 32)]


# ------------------------------------------------------------------------------------------------
# Helpers
# ------------------------------------------------------------------------------------------------

def _gen(domain: str, shape) -> torch.Tensor:
    u = torch.rand(shape)
    if domain == "any":
        x = torch.randn(shape) * 2.0
    elif domain == "pos":
        x = u * 4.0 + 0.05
    elif domain == "unit":
        x = u * 1.9 - 0.95
    elif domain == "ge1":
        x = 1.0 + u * 4.0
    elif domain == "prob":
        x = 0.02 + u * 0.96
    elif domain == "gt-1":
        x = -0.9 + u * 5.0
    elif domain == "nonzero":
        x = torch.where(torch.rand(shape) < 0.5, -1.0, 1.0) * (u * 3.0 + 0.1)
    elif domain == "tan":
        x = u * 2.8 - 1.4
    elif domain == "zeros":
        x = torch.randn(shape) * 2.0
        x = torch.where(torch.rand(shape) < 0.25, torch.zeros_like(x), x)
    elif domain == "wide":
        x = torch.randn(shape) * 10.0
    else:
        raise ValueError(domain)
    return x.to(torch.bfloat16).to(torch.float32)


def _bf16_ulp(v: torch.Tensor) -> torch.Tensor:
    mag = v.abs().clamp_min(2.0 ** -126)
    return torch.exp2(torch.floor(torch.log2(mag)) - 7)


def assert_bf16_close(got: torch.Tensor, ref: torch.Tensor, ulps: float = 1.0, atol: float = 0.0, what=""):
    got, ref = got.to(torch.float64), ref.to(torch.float64)
    assert got.shape == ref.shape, (got.shape, ref.shape)
    nan = torch.isnan(ref)
    # the packer turns an SFPU NaN into +Inf for bf16 outputs
    assert torch.all(torch.isposinf(got[nan])), f"{what}: NaN results must read +inf"
    inf = torch.isinf(ref)
    assert torch.equal(got[inf], ref[inf]), f"{what}: infinities differ"
    fin = torch.isfinite(ref)
    g, r = got[fin], ref[fin]
    err = (g - r).abs()
    bad = err > ulps * _bf16_ulp(r) + atol
    assert not bad.any(), (f"{what}: {int(bad.sum())} values off by more than {ulps} ULP (+{atol}); worst: "
                           f"got {g[bad][:5].tolist()} want {r[bad][:5].tolist()}")


def _dev(x, device, dtype=ttnn.bfloat16, layout=ttnn.TILE_LAYOUT, **kw):
    return ttnn.from_torch(x, dtype=dtype, layout=layout, device=device, **kw)


def _selu(x):
    return torch.nn.functional.selu(x)


# name -> (reference on float64, domain, positional args, keyword args, ULP tolerance)
CASES = {
    "relu": (torch.relu, "any", (), {}, 0),
    "relu6": (torch.nn.functional.relu6, "wide", (), {}, 0),
    "relu_max": (lambda x: torch.clamp(x, 0.0, 1.5), "any", (1.5,), {}, 0),
    "relu_min": (lambda x: torch.clamp_min(x, 0.25), "any", (0.25,), {}, 0),
    "gelu": (torch.nn.functional.gelu, "any", (), {}, 1),
    "silu": (torch.nn.functional.silu, "any", (), {}, 1),
    "swish": (torch.nn.functional.silu, "any", (), {}, 1),
    "sigmoid": (torch.sigmoid, "any", (), {}, 1),
    "sigmoid_accurate": (torch.sigmoid, "any", (), {}, 1),
    "log_sigmoid": (torch.nn.functional.logsigmoid, "any", (), {}, 1),
    "tanh": (torch.tanh, "any", (), {}, 1),
    "tanhshrink": (torch.nn.functional.tanhshrink, "any", (), {}, 1),
    "exp": (torch.exp, "any", (), {}, 1),
    "exp2": (torch.exp2, "any", (), {}, 1),
    "expm1": (torch.expm1, "any", (), {}, 1),
    "log": (torch.log, "pos", (), {}, 1),
    "log2": (torch.log2, "pos", (), {}, 1),
    "log10": (torch.log10, "pos", (), {}, 1),
    "log1p": (torch.log1p, "gt-1", (), {}, 1),
    "sqrt": (torch.sqrt, "pos", (), {}, 1),
    "rsqrt": (torch.rsqrt, "pos", (), {}, 1),
    "cbrt": (lambda x: torch.sign(x) * x.abs().pow(1.0 / 3.0), "any", (), {}, 1),
    "reciprocal": (torch.reciprocal, "nonzero", (), {}, 1),
    "square": (torch.square, "any", (), {}, 1),
    "abs": (torch.abs, "any", (), {}, 0),
    "neg": (torch.neg, "any", (), {}, 0),
    "sign": (torch.sign, "zeros", (), {}, 0),
    "signbit": (lambda x: torch.signbit(x).double(), "zeros", (), {}, 0),
    "floor": (torch.floor, "wide", (), {}, 0),
    "ceil": (torch.ceil, "wide", (), {}, 0),
    "round": (lambda x: torch.round(x, decimals=1), "wide", (), {"decimals": 1}, 1),
    "trunc": (torch.trunc, "wide", (), {}, 0),
    "frac": (torch.frac, "wide", (), {}, 1),
    "clip": (lambda x: torch.clamp(x, -0.5, 0.7), "any", (-0.5, 0.7), {}, 1),
    "clamp": (lambda x: torch.clamp(x, -0.5, 0.7), "any", (), {"min": -0.5, "max": 0.7}, 1),
    "hardtanh": (lambda x: torch.nn.functional.hardtanh(x, -0.5, 2.0), "any", (),
                 {"min_val": -0.5, "max_val": 2.0}, 0),
    "hardswish": (torch.nn.functional.hardswish, "any", (), {}, 1),
    "hardsigmoid": (torch.nn.functional.hardsigmoid, "any", (), {}, 1),
    "hardshrink": (lambda x: torch.nn.functional.hardshrink(x, 0.4), "any", (), {"lambd": 0.4}, 0),
    "softshrink": (lambda x: torch.nn.functional.softshrink(x, 0.3), "any", (), {"lambd": 0.3}, 1),
    "leaky_relu": (lambda x: torch.nn.functional.leaky_relu(x, 0.1), "any", (0.1,), {}, 1),
    "elu": (lambda x: torch.nn.functional.elu(x, 0.7), "any", (), {"alpha": 0.7}, 1),
    "celu": (lambda x: torch.celu(x, 0.5), "any", (), {"alpha": 0.5}, 1),
    "selu": (_selu, "any", (), {"scale": 1.0507009873554805, "alpha": 1.6732632423543772}, 1),
    "softplus": (lambda x: torch.nn.functional.softplus(x, 2.0, 5.0), "any", (), {"beta": 2.0, "threshold": 5.0}, 1),
    "softsign": (torch.nn.functional.softsign, "any", (), {}, 1),
    "mish": (torch.nn.functional.mish, "any", (), {}, 1),
    "sin": (torch.sin, "any", (), {}, 1),
    "cos": (torch.cos, "any", (), {}, 1),
    "tan": (torch.tan, "tan", (), {}, 1),
    "asin": (torch.asin, "unit", (), {}, 1),
    "acos": (torch.acos, "unit", (), {}, 1),
    "atan": (torch.atan, "any", (), {}, 1),
    "sinh": (torch.sinh, "any", (), {}, 1),
    "cosh": (torch.cosh, "any", (), {}, 1),
    "asinh": (torch.asinh, "any", (), {}, 1),
    "acosh": (torch.acosh, "ge1", (), {}, 1),
    "atanh": (torch.atanh, "unit", (), {}, 1),
    "erf": (torch.erf, "any", (), {}, 1),
    "erfc": (torch.erfc, "any", (), {}, 1),
    "erfinv": (torch.erfinv, "unit", (), {}, 1),
    "logical_not": (lambda x: (x == 0).double(), "zeros", (), {}, 0),
    "isnan": (lambda x: torch.isnan(x).double(), "any", (), {}, 0),
    "isinf": (lambda x: torch.isinf(x).double(), "any", (), {}, 0),
    "isfinite": (lambda x: torch.isfinite(x).double(), "any", (), {}, 0),
    "isposinf": (lambda x: torch.isposinf(x).double(), "any", (), {}, 0),
    "isneginf": (lambda x: torch.isneginf(x).double(), "any", (), {}, 0),
    "eqz": (lambda x: (x == 0).double(), "zeros", (), {}, 0),
    "nez": (lambda x: (x != 0).double(), "zeros", (), {}, 0),
    "gtz": (lambda x: (x > 0).double(), "zeros", (), {}, 0),
    "ltz": (lambda x: (x < 0).double(), "zeros", (), {}, 0),
    "gez": (lambda x: (x >= 0).double(), "zeros", (), {}, 0),
    "lez": (lambda x: (x <= 0).double(), "zeros", (), {}, 0),
    "threshold": (lambda x: torch.threshold(x, 0.2, -3.0), "any", (0.2, -3.0), {}, 0),
    "identity": (lambda x: x, "any", (), {}, 0),
    "deg2rad": (torch.deg2rad, "wide", (), {}, 1),
    "rad2deg": (torch.rad2deg, "any", (), {}, 1),
    "logit": (torch.logit, "prob", (), {}, 1),
    "lgamma": (torch.lgamma, "pos", (), {}, 1),
    "digamma": (torch.digamma, "pos", (), {}, 1),
    "i0": (torch.i0, "any", (), {}, 1),
    "tril": (lambda x: torch.tril(x, 1), "any", (), {"diagonal": 1}, 0),
    "triu": (lambda x: torch.triu(x, -1), "any", (), {"diagonal": -1}, 0),
    "fill": (lambda x: torch.full_like(x, -1.25), "any", (-1.25,), {}, 0),
}
RANK2 = {"tril", "triu"}   # torch.tril/triu need rank >= 2
TILE_ONLY = {"tril", "triu"}


@pytest.mark.parametrize("name", sorted(CASES))
def test_matches_torch_bf16(device, name):
    ref, domain, args, kwargs, ulps = CASES[name]
    op = getattr(ttnn, name)
    cases = [(s, ttnn.TILE_LAYOUT) for s in SHAPES]
    if name not in TILE_ONLY:
        cases.append(((3, 45), ttnn.ROW_MAJOR_LAYOUT))
    for shape, layout in cases:
        if name in RANK2 and len(shape) < 2:
            continue
        x = _gen(domain, shape)
        out = op(_dev(x, device, layout=layout), *args, **kwargs)
        assert out.dtype == ttnn.bfloat16 and out.layout == layout and tuple(out.shape) == shape
        assert_bf16_close(ttnn.to_torch(out), ref(x.double()), ulps=ulps, what=f"{name}{shape}")


FP32_OPS = ["relu", "exp", "log", "sqrt", "rsqrt", "tanh", "sigmoid_accurate", "silu", "erf", "sin", "atan",
            "softplus", "hardswish", "cbrt", "log1p", "expm1", "neg", "abs", "clamp", "lgamma", "logit", "tril"]


@pytest.mark.parametrize("name", FP32_OPS)
def test_matches_torch_fp32(device, name):
    ref, domain, args, kwargs, _ = CASES[name]
    x = _gen(domain, (3, 45)) + _gen(domain, (3, 45)) * 2.0 ** -10   # values that need fp32
    if domain in ("pos", "prob", "gt-1"):
        x = x.abs() if domain == "pos" else x.clamp(0.01, 0.99) if domain == "prob" else x.clamp_min(-0.9)
    out = getattr(ttnn, name)(_dev(x, device, dtype=ttnn.float32), *args, **kwargs)
    assert out.dtype == ttnn.float32
    want = ref(x.double())
    torch.testing.assert_close(ttnn.to_torch(out).double(), want, rtol=1e-6, atol=1e-30)


def test_bfloat8_b_input(device):
    x = _gen("any", (2, 64, 64))
    t = _dev(x, device, dtype=ttnn.bfloat8_b)
    xin = ttnn.to_torch(t).double()
    out = ttnn.exp(t)
    assert out.dtype == ttnn.bfloat8_b and out._pad == 1.0
    want = torch.exp(xin)
    # bfp8 error is relative to the block's largest value: 16 values share an exponent, 7 magnitude bits
    block_max = want.reshape(2, 64, 4, 16).abs().amax(-1, keepdim=True)
    step = torch.exp2(torch.floor(torch.log2(block_max)) - 6).expand(2, 64, 4, 16).reshape(2, 64, 64)
    err = (ttnn.to_torch(out).double() - want).abs()
    assert torch.all(err <= 2 * step)


# ------------------------------------------------------------------------------------------------
# Integers
# ------------------------------------------------------------------------------------------------

INT_CASES = [
    ("relu", ttnn.int32, (), lambda v: v.clamp_min(0)),
    ("relu6", ttnn.int32, (), lambda v: v.clamp(0, 6)),
    ("relu_max", ttnn.int32, (5,), lambda v: v.clamp(0, 5)),
    ("relu_min", ttnn.int32, (-3,), lambda v: v.clamp_min(-3)),
    ("abs", ttnn.int32, (), torch.abs),
    ("square", ttnn.int32, (), lambda v: v * v),
    ("signbit", ttnn.int32, (), lambda v: (v < 0).to(v.dtype)),
    ("logical_not", ttnn.int32, (), lambda v: (v == 0).to(v.dtype)),
    ("eqz", ttnn.int32, (), lambda v: (v == 0).to(v.dtype)),
    ("nez", ttnn.uint32, (), lambda v: (v != 0).to(v.dtype)),
    ("gtz", ttnn.int32, (), lambda v: (v > 0).to(v.dtype)),
    ("lez", ttnn.int32, (), lambda v: (v <= 0).to(v.dtype)),
    ("bitwise_not", ttnn.int32, (), torch.bitwise_not),
    ("identity", ttnn.uint16, (), lambda v: v),
    ("leaky_relu", ttnn.uint16, (0.1,), lambda v: v),
    ("relu", ttnn.uint8, (), lambda v: v),
    ("fill", ttnn.int32, (7,), lambda v: torch.full_like(v, 7)),
    ("clamp", ttnn.int32, (-4, 9), lambda v: v.clamp(-4, 9)),
]


@pytest.mark.parametrize("name,dtype,args,ref", INT_CASES, ids=[f"{c[0]}-{c[1].name}" for c in INT_CASES])
def test_integer_inputs_exact(device, name, dtype, args, ref):
    lo = 0 if dtype in (ttnn.uint32, ttnn.uint16, ttnn.uint8) else -50
    v = torch.randint(lo, 50, (3, 45), dtype=torch.int32)
    v[0, :5] = 0
    out = getattr(ttnn, name)(_dev(v, device, dtype=dtype), *args)
    assert out.dtype == dtype
    got = ttnn.to_torch(out).to(torch.int64)
    assert torch.equal(got, ref(v.to(torch.int64)))


def test_integer_wraps(device):
    v = torch.tensor([[2 ** 31 - 1, -2 ** 31, 70000, -1]], dtype=torch.int32)
    t = _dev(v, device, dtype=ttnn.int32)
    assert ttnn.to_torch(ttnn.abs(t)).tolist() == [[2 ** 31 - 1, -2 ** 31, 70000, 1]]
    sq = ttnn.to_torch(ttnn.square(t)).to(torch.int64)
    want = (v.to(torch.int64) ** 2 + 2 ** 31) % 2 ** 32 - 2 ** 31
    assert torch.equal(sq, want)


def test_int32_clamp_with_float_limits_gives_float32(device):
    v = torch.tensor([[-5, 0, 3, 10]], dtype=torch.int32)
    out = ttnn.clamp(_dev(v, device, dtype=ttnn.int32), -1.5, 4.5)
    assert out.dtype == ttnn.float32
    assert ttnn.to_torch(out).tolist() == [[-1.5, 0.0, 3.0, 4.5]]


# ------------------------------------------------------------------------------------------------
# Numerics details: truncation, ideal mode, NaN, special values, approximations
# ------------------------------------------------------------------------------------------------

def test_bf16_result_is_truncated_and_ideal_mode_rounds(device):
    x = torch.tensor([[1.0, 0.5, -1.0]])
    hw = ttnn.to_torch(ttnn.exp(_dev(x, device))).float()
    assert hw[0, 0] == 2.703125                       # e = 2.71828 truncated
    ideal_dev = ttnn.open_device(device_id=3, numerics="ideal")
    try:
        ideal = ttnn.to_torch(ttnn.exp(_dev(x, ideal_dev))).float()
        assert torch.equal(ideal, torch.exp(x.double()).to(torch.bfloat16).float())
        fast = ttnn.to_torch(ttnn.exp(_dev(x, ideal_dev), fast_and_approximate_mode=True)).float()
        assert torch.equal(fast, ideal)               # approximations are off in ideal mode
    finally:
        ttnn.close_device(ideal_dev)


def test_nan_reads_inf_in_bf16_and_nan_in_fp32(device):
    x = torch.tensor([[-1.0, 0.0, 4.0]])
    bf = ttnn.to_torch(ttnn.log(_dev(x, device))).float()
    assert bf[0, 0] == math.inf and bf[0, 1] == -math.inf and bf[0, 2] == 1.3828125
    fp = ttnn.to_torch(ttnn.log(_dev(x, device, dtype=ttnn.float32)))
    assert torch.isnan(fp[0, 0]) and fp[0, 1] == -math.inf


def test_special_value_predicates(device):
    x = torch.tensor([[math.nan, math.inf, -math.inf, 0.0, -2.0, 3.0]])
    t = _dev(x, device)
    for name, want in [("isnan", [1, 0, 0, 0, 0, 0]), ("isinf", [0, 1, 1, 0, 0, 0]),
                       ("isfinite", [0, 0, 0, 1, 1, 1]), ("isposinf", [0, 1, 0, 0, 0, 0]),
                       ("isneginf", [0, 0, 1, 0, 0, 0]), ("signbit", [0, 0, 1, 0, 1, 0]),
                       ("eqz", [0, 0, 0, 1, 0, 0])]:
        out = getattr(ttnn, name)(t)
        assert out.dtype == ttnn.bfloat16
        assert ttnn.to_torch(out).float()[0].tolist() == want, name


@pytest.mark.parametrize("name,kwargs,rtol,atol", [
    ("exp", {"fast_and_approximate_mode": True}, 0.05, 0.0),
    ("log", {"fast_and_approximate_mode": True}, 0.01, 2e-3),
    ("sqrt", {"fast_and_approximate_mode": True}, 0.01, 0.0),
    ("rsqrt", {"fast_and_approximate_mode": True}, 0.01, 0.0),
    ("erf", {"fast_and_approximate_mode": True}, 0.01, 1e-3),
    ("tanh", {"fast_and_approximate_mode": True}, 0.0, 0.03),
    ("gelu", {"variant": ttnn.GeluVariant.FastLut}, 0.01, 0.02),    # table error + 1 ULP truncation
    ("gelu", {"fast_and_approximate_mode": True}, 0.01, 0.02),
    ("gelu", {"variant": ttnn.GeluVariant.Tanh}, 0.01, 1e-3),
    ("sigmoid", {"mode": ttnn.SigmoidMode.FastApproximate}, 0.0, 0.02),
    ("sigmoid", {"mode": ttnn.SigmoidMode.AccurateWithFastExp}, 0.0, 0.02),
    ("sigmoid_accurate", {"fast_and_approximate_mode": True}, 0.0, 0.02),
    ("mish", {"fast_and_approximate_mode": True}, 0.03, 0.05),
])
def test_approximate_modes(device, name, kwargs, rtol, atol):
    ref, domain, _, _, _ = CASES[name]
    x = _gen(domain, (4, 96))
    exact = ttnn.to_torch(getattr(ttnn, name)(_dev(x, device))).double()
    approx = ttnn.to_torch(getattr(ttnn, name)(_dev(x, device), **kwargs)).double()
    want = ref(x.double())
    if kwargs.get("variant") == ttnn.GeluVariant.Tanh:
        want = torch.nn.functional.gelu(x.double(), approximate="tanh")
    torch.testing.assert_close(approx, want, rtol=rtol, atol=atol)
    assert not torch.equal(approx, exact), "the approximation should differ from the accurate path"


def test_polyval_horner(device):
    x = _gen("any", (3, 45))
    out = ttnn.polyval(_dev(x, device), [0.5, -1.0, 2.0])
    want = 0.5 * x.double() ** 2 - x.double() + 2.0
    torch.testing.assert_close(ttnn.to_torch(out).double(), want, rtol=2e-2, atol=2e-2)
    assert out._pad == 2.0


def test_fill_truncates_like_the_sfpu(device):
    out = ttnn.fill(_dev(torch.zeros(2, 3), device), 0.1)
    assert ttnn.to_torch(out).float().unique().tolist() == [0.099609375]
    assert out._pad == 0.099609375


# ------------------------------------------------------------------------------------------------
# Refusals
# ------------------------------------------------------------------------------------------------

def test_refuses_host_operand():
    t = ttnn.from_torch(torch.randn(4, 4), dtype=ttnn.bfloat16, layout=ttnn.TILE_LAYOUT)
    with pytest.raises(TTNNError, match="ttnn.exp: input_tensor must be on a device"):
        ttnn.exp(t)


def test_tril_triu_refuse_row_major(device):
    t = _dev(torch.randn(8, 8), device, layout=ttnn.ROW_MAJOR_LAYOUT)
    for op in (ttnn.tril, ttnn.triu):
        with pytest.raises(TTNNError, match="must be in TILE layout, got ROW_MAJOR"):
            op(t)


def test_bfloat8_b_cannot_be_row_major(device):
    with pytest.raises(TTNNError, match="Layout must be Layout::TILE for bfloat8_b"):
        ttnn.from_torch(torch.randn(4, 32), dtype=ttnn.bfloat8_b, layout=ttnn.ROW_MAJOR_LAYOUT, device=device)


@pytest.mark.parametrize("name,dtype", [
    ("exp", ttnn.int32), ("neg", ttnn.int32), ("bitwise_not", ttnn.bfloat16), ("gelu", ttnn.float32),
    ("sigmoid", ttnn.float32), ("lgamma", ttnn.bfloat8_b), ("relu", ttnn.bfloat4_b), ("gtz", ttnn.uint32),
    ("identity", ttnn.int32), ("clip", ttnn.float32),
])
def test_refuses_unsupported_dtype(device, name, dtype):
    x = torch.randint(0, 5, (4, 32)).to(torch.float32)
    t = _dev(x, device, dtype=dtype)
    args = (0.0, 1.0) if name == "clip" else ()
    with pytest.raises(TTNNError, match=f"ttnn.{name}: input_tensor has dtype {dtype.name}"):
        getattr(ttnn, name)(t, *args)


def test_other_refusals(device):
    t = _dev(torch.randn(4, 32), device)
    with pytest.raises(TTNNError, match="only one of 'min' or 'max' can be None"):
        ttnn.clamp(t)
    with pytest.raises(TTNNError, match="decimals"):
        ttnn.round(t, decimals=9)
    with pytest.raises(TTNNError, match="BFLOAT8_B.*fast_and_approximate_mode=True"):
        ttnn.tanh(_dev(torch.randn(4, 32), device, dtype=ttnn.bfloat8_b))
    with pytest.raises(TTNNError, match="output_tensor has shape"):
        ttnn.relu(t, output_tensor=_dev(torch.randn(4, 64), device))


# ------------------------------------------------------------------------------------------------
# Padding, launches, outputs, memory configs
# ------------------------------------------------------------------------------------------------

def test_padding_propagation(device):
    host = ttnn.from_torch(torch.randn(3, 45), dtype=ttnn.bfloat16, layout=ttnn.TILE_LAYOUT)
    t = ttnn.to_device(host, device)
    assert t._pad == 0.0
    assert ttnn.exp(t)._pad == 1.0
    assert ttnn.relu(t)._pad == 0.0
    assert ttnn.cos(t)._pad == 1.0
    assert ttnn.eqz(t)._pad == 1.0
    assert ttnn.log(t)._pad == -math.inf
    t2 = _dev(torch.randn(3, 45), device, pad_value=2.0)
    assert ttnn.exp(t2)._pad == 7.375                  # e^2 = 7.389 truncated to bf16
    masked = ttnn.tril(t2)                             # the 0/1 mask leaves non-zero padding unknown
    assert masked._pad is None and ttnn.exp(masked)._pad is None
    assert ttnn.tril(t)._pad == 0.0
    assert ttnn.relu(_dev(torch.randn(3, 45), device, layout=ttnn.ROW_MAJOR_LAYOUT))._pad is None


def test_launches_are_counted(device):
    t = _dev(torch.randn(4, 32), device)
    before = device.counters.op_launches["relu"]
    ttnn.relu(t)
    ttnn.relu(t)
    assert device.counters.op_launches["relu"] == before + 2
    with pytest.raises(TTNNError):
        ttnn.relu(ttnn.from_torch(torch.randn(4, 4)))
    assert device.counters.op_launches["relu"] == before + 2


def test_output_tensor_is_written_in_place(device):
    x = torch.randn(4, 32)
    t = _dev(x, device)
    out = _dev(torch.zeros(4, 32), device)
    alloc = out._alloc
    used = device.memory_stats()
    res = ttnn.neg(t, output_tensor=out)
    assert res is out and out._alloc is alloc and device.memory_stats() == used
    assert torch.equal(ttnn.to_torch(out).float(), -x.to(torch.bfloat16).float())


def test_memory_config(device):
    t = _dev(torch.randn(4, 32), device)
    assert ttnn.exp(t, memory_config=ttnn.L1_MEMORY_CONFIG).memory_config().buffer_type == ttnn.BufferType.L1
    assert ttnn.exp(t).memory_config().buffer_type == ttnn.BufferType.DRAM


def test_gelu_accepts_both_real_overloads(device):
    t = _dev(torch.randn(4, 32), device)
    a = ttnn.to_torch(ttnn.gelu(t, fast_and_approximate_mode=True))
    b = ttnn.to_torch(ttnn.gelu(t, variant=ttnn.GeluVariant.FastLut))
    assert torch.equal(a, b)


# ------------------------------------------------------------------------------------------------
# Tables against the manifest, goldens
# ------------------------------------------------------------------------------------------------

def test_dtype_tables_match_the_documentation():
    ops = manifest()["operations"]
    for name, dtypes in SUPPORTED_DTYPES.items():
        doc = ops[name].get("supported_dtypes_from_doc")
        if doc is None:
            continue
        doc = {d.split(" ")[0] for d in doc if d[0].isalpha()}   # 'UINT16 [0' -> UINT16 (square's table)
        assert {d.name for d in dtypes} == doc, name


def test_every_op_has_a_golden():
    x = torch.randn(4, 4)
    for name in CASES:
        golden = ttnn.get_golden_function(getattr(ttnn, name))
        args, kwargs = CASES[name][2], CASES[name][3]
        assert golden(x, *args, **kwargs).shape == x.shape, name


def test_real_golden_functions_agree(device):
    real_ttnn = pytest.importorskip("ttnn")
    skipped = []
    for name, (_, domain, args, kwargs, ulps) in sorted(CASES.items()):
        try:
            golden = real_ttnn.get_golden_function(getattr(real_ttnn, name))
        except Exception:  # no golden in the wheel
            skipped.append(name)
            continue
        x = _gen(domain, (3, 45))
        try:
            want = golden(x.clone(), *args, **kwargs)
        except TypeError:
            skipped.append(name)
            continue
        if want is None:
            skipped.append(name)
            continue
        got = ttnn.to_torch(getattr(ttnn, name)(_dev(x, device), *args, **kwargs))
        # the golden runs in float32: allow its own rounding on top of the device truncation
        assert_bf16_close(got, want.to(torch.float64), ulps=ulps + 0.5, atol=1e-6, what=f"golden {name}")
    assert len(skipped) < 5, skipped
