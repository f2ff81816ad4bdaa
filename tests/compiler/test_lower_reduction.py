"""Differential tests of the reduction rules (sum, mean, amax/amin, max/min, argmax/argmin, prod, var/std,
any/all, logsumexp, cumsum, topk, sort)."""
import pytest
import torch

from .harness import check_lowered, compile_and_run
from .opinfo import sample_ids, samples

# (OpInfo name, variant, expected ttnn op)
OPINFO = [
    ("sum", "", "sum"), ("mean", "", "mean"), ("amax", "", "max"), ("amin", "", "min"),
    ("max", "reduction_with_dim", "max"), ("max", "reduction_no_dim", "max"),
    ("min", "reduction_with_dim", "min"), ("min", "reduction_no_dim", "min"),
    ("argmax", "", "argmax"), ("argmin", "", "argmax"), ("prod", "", "prod"), ("var", "", "var"),
    ("std", "", "std"), ("var_mean", "", "var"), ("logsumexp", "", "exp"), ("cumsum", "", "cumsum"),
    ("topk", "", "topk"), ("any", "", "max"), ("all", "", "min"), ("cumprod", "", "cumprod"),
]


def _distinct(args):
    """Replace float tensors by distinct values exact in bfloat16 (indices are then unambiguous)."""
    out = []
    for a in args:
        if isinstance(a, torch.Tensor) and a.is_floating_point() and a.numel() <= 256:
            a = (torch.randperm(a.numel()).reshape(a.shape).float() - a.numel() / 2) / 4
        out.append(a)
    return tuple(out)


def _cases():
    out = []
    for name, variant, expect in OPINFO:
        cases = samples(name, variant, limit=3)
        for (op, args, kwargs), sid in zip(cases, sample_ids(cases)):
            out.append(pytest.param(op, args, kwargs, expect, id=f"{name}{'.' + variant if variant else ''}-{sid}"))
    return out


@pytest.mark.parametrize("op,args,kwargs,expect", _cases())
def test_opinfo(device, op, args, kwargs, expect):
    check_lowered(lambda *a: op(*a, **kwargs), _distinct(args), device=device, expect=(expect,))


X = (2, 3, 5, 7)


def _perm(shape):
    n = 1
    for s in shape:
        n *= s
    return ((torch.randperm(n).float() - n / 2) / 4).reshape(shape)   # distinct, exact in bfloat16


# (name, fn, input, expected ttnn ops)
HAND = [
    ("sum-all", lambda x: x.sum(), "x", ("sum",)),
    ("sum-neg-dim", lambda x: x.sum(-1), "x", ("sum",)),
    ("sum-dims-keepdim", lambda x: x.sum((0, 2), keepdim=True), "x", ("sum",)),
    ("sum-rank1", lambda x: x[0, 0, 0].sum(0), "x", ("sum",)),
    ("sum-dtype", lambda x: x.sum(1, dtype=torch.float32), "i", ("sum",)),
    ("sum-int", lambda x: x.sum(1), "i", ("sum",)),
    ("sum-bool-count", lambda x: (x > 0).sum(-1), "x", ("sum",)),
    ("mean-variants", lambda x: (x.mean(), x.mean(-2), x.mean((1, 3), keepdim=True)), "x", ("mean",)),
    ("amax-amin", lambda x: (x.amax(-1), x.amin((1, 2)), x.amax((0, 3), keepdim=True)), "x", ("max", "min")),
    ("max-min-all", lambda x: (x.max(), x.min()), "x", ("max", "min")),
    ("amax-int", lambda x: (x.amax(-1), x.amin(0)), "i", ("max", "min")),
    ("max-dim", lambda x: x.max(dim=1), "p", ("max", "argmax")),
    ("min-dim-keepdim", lambda x: x.min(dim=-1, keepdim=True), "p", ("min", "argmax")),
    ("argmax-variants", lambda x: (x.argmax(-1), x.argmax(), x.argmax(0, keepdim=True), x.argmax(2)), "p",
     ("argmax",)),
    ("argmin", lambda x: (x.argmin(1), x.argmin()), "p", ("argmax", "neg")),
    ("argmax-int-last", lambda x: (x.argmax(-1), x.argmin(-1)), "r", ("argmax",)),
    ("prod", lambda x: (x.prod(-1), x.prod(1, keepdim=True)), "s", ("prod",)),
    # 7 factors: a product of all 210 drifts ~10% in the 16-bit Dst (ties-away double rounding, #46101)
    ("prod-all", lambda x: x[0, 0, 0].prod(), "s", ("prod",)),
    ("var-std", lambda x: (x.var(-1), x.std(1, correction=0), x.var((0, 2), keepdim=True)), "x", ("var", "std")),
    ("var-correction-2", lambda x: (x.var(-1, correction=2), x.std((1, 2), correction=3)), "x",
     ("var", "std", "multiply")),
    ("var-mean", lambda x: torch.var_mean(x, (1, 3), keepdim=True), "x", ("var", "mean")),
    ("any-all", lambda x: ((x > 0).any(-1), (x > 0).all(), (x > 0).any(), x.any(1), x.all(-2)), "x",
     ("max", "min")),
    ("logsumexp", lambda x: (torch.logsumexp(x, -1), torch.logsumexp(x * 10, (1, 2), keepdim=True)), "x",
     ("max", "exp", "sum", "log")),
    ("cumsum", lambda x: (x.cumsum(-1), x.cumsum(1)), "x", ("cumsum",)),
    ("cumprod", lambda x: (x.cumprod(-1), x.cumprod(0)), "s", ("cumprod",)),
    ("cumsum-bool-count", lambda x: ((x > 0).cumsum(-1), (x > 0).cumsum(1) - 1), "x", ("cumsum", "typecast")),
    ("topk", lambda x: (x.topk(3, -1), x.topk(2, 1, largest=False)), "p", ("topk",)),
    ("sort", lambda x: (x.sort(-1), torch.sort(x, dim=1, descending=True, stable=True)), "p", ("sort",)),
]

INPUTS = {
    "x": lambda: torch.randn(X),
    "i": lambda: torch.randint(-50, 50, X),
    "p": lambda: _perm(X),
    "r": lambda: torch.randperm(70).reshape(7, 10),
    "s": lambda: 1 + 0.1 * torch.randn(X),
}


@pytest.mark.parametrize("fn,inp,expect", [pytest.param(f, i, e, id=n) for n, f, i, e in HAND])
def test_hand_written(device, fn, inp, expect):
    check_lowered(fn, (INPUTS[inp](),), device=device, expect=expect)


def test_sum_fp32_option(device):
    x = torch.randn(3, 45, 70)
    check_lowered(lambda t: (t.sum(-1), t.mean(1)), (x,), device=device, expect=("sum", "mean"), fp32=True,
                  atol=1e-3, rtol=1e-4)


@pytest.mark.parametrize("fn,inp", [
    pytest.param(lambda x: x.prod(-1), "i", id="int-prod", marks=pytest.mark.xfail(
        reason="ttnn.prod is floating point only", strict=True)),
    pytest.param(lambda x: x.argmax(1), "i", id="int-argmax-inner-dim", marks=pytest.mark.xfail(
        reason="ttnn.argmax of integers only over the last dim", strict=True)),
    pytest.param(lambda x: x.sort(-1), "i", id="int-sort", marks=pytest.mark.xfail(
        reason="ttnn.sort takes BFLOAT16/FLOAT32/UINT16 only", strict=True)),
    pytest.param(lambda x: x.median(-1), "p", id="median", marks=pytest.mark.xfail(
        reason="no TT-NN op for order statistics", strict=True)),
])
def test_known_gaps(device, fn, inp):
    check_lowered(fn, (INPUTS[inp](),), device=device)


def test_integer_cumsum_of_a_mask_is_lowered_exactly(device):
    """RoBERTa's position ids: cumsum of (ids != pad).int(): 0/1 values, provably exact in float32."""
    from .harness import compile_and_run, remaining_aten_ops

    def f(ids):
        mask = ids.ne(1).int()
        return (torch.cumsum(mask, dim=1).type_as(mask) * mask).long() + 1
    ids = torch.randint(0, 5, (2, 40))
    out, option = compile_and_run(f, (ids,), device=device)
    assert torch.equal(out, f(ids))
    assert remaining_aten_ops(option) == []


def test_integer_cumsum_of_an_input_is_guarded(device):
    """Bloom's alibi: attention_mask.cumsum(-1) of an int64 input: lowered with a bound checked at each call."""
    from .harness import compile_and_run, remaining_aten_ops

    def f(mask):
        return (mask.cumsum(dim=-1) - 1) * mask
    mask = torch.ones(2, 9, dtype=torch.int64)
    mask[0, :3] = 0
    out, option = compile_and_run(f, (mask,), device=device)
    assert torch.equal(out, f(mask))
    assert remaining_aten_ops(option) == []
    import torch_ttnn
    torch._dynamo.reset()
    c = torch.compile(f, backend=torch_ttnn.backend, options=torch_ttnn.TorchTtnnOption(device=device))
    c(mask)
    big = torch.full((2, 9), 2 ** 22, dtype=torch.int64)     # 9 * 2^22 > 2^24
    with pytest.raises(Exception, match="would not be exact"):
        c(big)


@pytest.mark.parametrize("op,dims,keepdim", [
    (torch.sum, (2, 3), False),          # split-attention: sum over the radix and a spatial dim of rank 5
    (torch.sum, (1,), True),
    (torch.mean, (0, 4), False),         # alternating runs: [0], [1-3], [4] -> rank 3
    (torch.amax, (3, 4), True),
    (torch.sum, None, False),            # every dim: a rank-0 result
])
def test_reductions_of_rank_5_tensors_merge_their_dims(device, op, dims, keepdim):
    x = torch.randn(2, 3, 4, 5, 6)
    fn = (lambda t: op(t)) if dims is None else (lambda t: op(t, dim=dims, keepdim=keepdim))
    check_lowered(fn, (x,), device=device)


def test_reduction_whose_dims_alternate_beyond_rank_4_stays_on_the_host_with_its_reason(device):
    x = torch.randn(2, 3, 2, 3, 2, 3)
    out, option = compile_and_run(lambda t: t.sum(dim=(0, 2, 4)), (x,), device=device)
    torch.testing.assert_close(out, x.sum(dim=(0, 2, 4)), rtol=2e-2, atol=5e-2)
    reasons = [r for rep in option.results.reports for (op, r) in rep.fallbacks]
    assert any("alternate 6 times" in r for r in reasons), reasons


def test_merge_runs():
    from torch_ttnn.compiler.lowering.reduction import merge_runs
    assert merge_runs([2, 3, 4, 5, 6], [2, 3]) == ([6, 20, 6], [1])
    assert merge_runs([2, 3, 4, 5, 6], [0, 4]) == ([2, 60, 6], [0, 2])
