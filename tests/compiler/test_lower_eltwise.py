"""Differential tests of the element-wise lowering rules (OpInfo samples + hand-written shapes)."""
import pytest
import torch

from .harness import check_lowered, compile_and_run, remaining_aten_ops, ttnn_targets
from .opinfo import sample_ids, samples

# (OpInfo name, expected ttnn op, min PCC). Inputs are float32 and run in bfloat16 on the device.
UNARY = [
    ("exp", "exp"), ("log", "log"), ("sqrt", "sqrt"), ("rsqrt", "rsqrt"), ("reciprocal", "reciprocal"),
    ("sigmoid", "sigmoid"), ("tanh", "tanh"), ("erf", "erf"), ("abs", "abs"), ("neg", "neg"), ("sign", "sign"),
    ("floor", "floor"), ("ceil", "ceil"), ("trunc", "trunc"), ("sin", "sin"), ("cos", "cos"),
    ("atan", "atan"), ("sinh", "sinh"), ("cosh", "cosh"), ("asinh", "asinh"), ("exp2", "exp2"),
    ("expm1", "expm1"), ("log2", "log2"), ("log10", "log10"), ("log1p", "log1p"),
    ("nn.functional.relu", "relu"), ("nn.functional.silu", "silu"), ("nn.functional.mish", "mish"),
    ("nn.functional.hardswish", "hardswish"), ("nn.functional.hardsigmoid", "hardsigmoid"),
    ("nn.functional.gelu", "gelu"), ("nn.functional.leaky_relu", "leaky_relu"), ("nn.functional.elu", "elu"),
    ("nn.functional.hardtanh", "hardtanh"), ("nn.functional.softplus", "softplus"), ("square", None),
    ("nn.functional.relu6", "hardtanh"), ("clamp", None), ("frac", "trunc"), ("deg2rad", "multiply"),
]
BINARY = [
    ("add", "add"), ("sub", "subtract"), ("mul", "multiply"), ("div", "divide"), ("maximum", "maximum"),
    ("minimum", "minimum"), ("eq", "eq"), ("ne", "ne"), ("lt", "lt"), ("le", "le"), ("gt", "gt"), ("ge", "ge"),
    ("pow", "pow"), ("atan2", "atan2"), ("logical_and", "logical_and"), ("logical_or", "logical_or"),
    ("logical_xor", "logical_xor"), ("rsub", None), ("remainder", "remainder"), ("fmod", "fmod"),
    ("xlogy", "xlogy"),
]


def _cases(table):
    out = []
    for name, expect in table:
        cases = samples(name, limit=3)
        for (op, args, kwargs), sid in zip(cases, sample_ids(cases)):
            out.append(pytest.param(op, args, kwargs, expect, id=f"{name}-{sid}"))
    return out


def _positive_domain(name, args):
    # log-like ops are compared where they are defined
    return args


@pytest.mark.parametrize("op,args,kwargs,expect", _cases(UNARY))
def test_unary_opinfo(device, op, args, kwargs, expect):
    check_lowered(lambda *a: op(*a, **kwargs), args, device=device, expect=(expect,) if expect else (),
                  min_pcc=0.98)


@pytest.mark.parametrize("op,args,kwargs,expect", _cases(BINARY))
def test_binary_opinfo(device, op, args, kwargs, expect):
    check_lowered(lambda *a: op(*a, **kwargs), args, device=device, expect=(expect,) if expect else (),
                  min_pcc=0.98)


@pytest.mark.parametrize("shape_a,shape_b", [((7,), (7,)), ((3, 45), (1, 45)), ((2, 3, 33, 64), (1, 1, 1, 64)),
                                             ((2, 3, 33, 64), (33, 1)), ((4, 1, 5), (1, 6, 1))])
def test_add_broadcasting(device, shape_a, shape_b):
    a, b = torch.randn(shape_a), torch.randn(shape_b)
    check_lowered(lambda x, y: x + y * 0.5 - 1.0, (a, b), device=device, expect=("add", "multiply"))


def test_integer_and_bool_results_are_exact(device):
    a = torch.randint(-100, 100, (4, 33))
    b = torch.randint(-100, 100, (4, 33))
    check_lowered(lambda x, y: (x + y, x * 3 - y, x > y, (x == y) | (x < 0)), (a, b), device=device,
                  expect=("add", "gt"))


def test_comparison_mask_feeds_where(device):
    x = torch.randn(5, 40)
    check_lowered(lambda t: torch.where(t > 0, t, t * 0.1), (x,), device=device, expect=("gt", "where"))


@pytest.mark.parametrize("op", [torch.tril, torch.triu])
@pytest.mark.parametrize("shape,diagonal", [((5, 7), 0), ((2, 40, 40), 1), ((3, 33), -2)])
def test_tril_triu(device, op, shape, diagonal):
    x = torch.randn(shape)
    check_lowered(lambda t: op(t, diagonal), (x,), device=device, expect=(op.__name__,))


def test_zero_dim_operand_broadcasts(device):
    x = torch.randn(6, 35)
    check_lowered(lambda t: t * t[2, 3] + t.sum() * 0 + t[0, 0], (x,), device=device, expect=("multiply",),
                  allow_remaining=("aten.sum.default",))


def test_integer_abs_neg_are_exact(device):
    x = torch.randint(-1000, 1000, (3, 37))
    check_lowered(lambda t: (torch.abs(t), -t, torch.abs(-t) + 1), (x,), device=device, expect=("abs", "multiply"))


def test_scalar_base_pow(device):
    x = torch.randn(4, 33)
    check_lowered(lambda t: 2.0 ** t + 10000.0 ** (t * 0.1), (x,), device=device, expect=("rpow",))


def test_rank5_elementwise(device):
    a, b = torch.randn(1, 3, 4, 5, 6), torch.randn(1, 3, 1, 1, 6)
    check_lowered(lambda x, y: torch.sigmoid(x) * 2.0 + y ** 2, (a, b), device=device,
                  expect=("sigmoid", "multiply", "add"))


def test_python_scalar_divided_by_a_tensor_is_rdiv(device):
    # outside no_grad aot_autograd keeps aten.div.Tensor(5.0, x) (a Python scalar first): ttnn.rdiv(x, 5.0)
    x = torch.rand(4, 40) + 0.5
    for fn, op in ((lambda t: torch.div(5.0, t), "rdiv"), (lambda t: 3 / t, "reciprocal")):   # __rtruediv__
        out, option = compile_and_run(fn, (x,), device=device)
        assert remaining_aten_ops(option) == []
        assert op in ttnn_targets(option)
        torch.testing.assert_close(out, fn(x), rtol=2e-2, atol=1e-2)


def test_float32_min_as_a_mask_fill_stays_finite_in_bfloat16(device):
    # HF's extended attention mask: (1 - mask) * finfo(float32).min. Rounded to bfloat16 the scalar is -inf and
    # 0 * -inf is NaN; the compiler holds it at bfloat16's largest finite value, as eager's 0 * min = 0
    def f(scores, mask):
        ext = (1.0 - mask[:, None, None, :]) * torch.finfo(torch.float32).min
        return torch.softmax(scores + ext, dim=-1)
    scores, mask = torch.randn(1, 2, 32, 32), torch.ones(1, 32)
    mask[:, -4:] = 0
    check_lowered(f, (scores, mask), device=device)     # PCC >= 0.99: a NaN mask would not pass


def test_a_full_of_float32_min_stays_finite_in_bfloat16(device):
    # torch.full(..., finfo(float32).min) as a mask bias: finite in eager, so 0 * it is 0, not NaN
    def f(scores):
        bias = torch.full((1, 1, 32, 32), torch.finfo(torch.float32).min)
        return torch.softmax(scores + bias * 0.0, dim=-1)
    check_lowered(f, (torch.randn(1, 2, 32, 32),), device=device)
