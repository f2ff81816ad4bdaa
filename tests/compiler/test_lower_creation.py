"""Lowering of creation aten ops (full / zeros / ones / empty and their _like / new_ forms, fill, arange,
scalar_tensor): tensors are made on the device, int64 stays exact (int32 on the device)."""
import pytest
import torch

import torch_ttnn.sim as ttnn

from .harness import check_lowered
from .opinfo import sample_ids, samples


def _cases(name, limit=3):
    out = []
    for op, args, kwargs in samples(name, limit=8):
        with torch.no_grad():
            r = op(*args, **kwargs)
        if isinstance(r, torch.Tensor) and r.numel() > 0:
            out.append((op, args, kwargs))
        if len(out) >= limit:
            break
    return out


OPINFO = ["full_like", "zeros_like", "ones_like", "new_full", "new_zeros", "new_ones", "fill"]
CASES = [(n, c) for n in OPINFO for c in _cases(n)]


@pytest.mark.parametrize("name,case", CASES, ids=[f"{n}-{i}" for (n, c), i in
                                                   zip(CASES, sample_ids([c for _, c in CASES]))])
def test_opinfo(name, case, device):
    op, args, kwargs = case
    # the created tensor is the result: use it in a computation so the graph has an input
    check_lowered(lambda *a: op(*a, **kwargs), args, device=device)


# --- full / zeros / ones -------------------------------------------------------------------------------

FULL = [
    ("full-f32", lambda a: torch.full((3, 37), 2.5) + a, (3, 37), torch.float32),
    ("full-neg-inf", lambda a: torch.maximum(torch.full((2, 40), float("-inf")), a), (2, 40), torch.float32),
    ("full-rank1", lambda a: torch.full((45,), -1.0) * a, (45,), torch.float32),
    ("full-rank4", lambda a: torch.full((2, 3, 32, 64), 0.25) + a, (2, 3, 32, 64), torch.float32),
    ("zeros", lambda a: torch.zeros(5, 7) + a, (5, 7), torch.float32),
    ("ones", lambda a: torch.ones(5, 7) * a, (5, 7), torch.float32),
    ("zeros-like", lambda a: torch.zeros_like(a) - a, (5, 7), torch.float32),
    ("ones-like-int", lambda a: torch.ones_like(a) + a, (5, 7), torch.int64),
    ("full-like-bool", lambda a: torch.full_like(a, True), (5, 7), torch.bool),
    ("new-zeros", lambda a: a.new_zeros(4, 3) + 1, (2,), torch.float32),
    ("new-ones-int", lambda a: a.new_ones(4, 3) * 5, (2,), torch.int64),
    ("new-full", lambda a: a.new_full((4, 3), 7.0), (2,), torch.float32),
    ("fill", lambda a: (a * 2).fill_(3.0), (6, 5), torch.float32),
    ("full-int64-big", lambda a: (torch.full((3, 4), 2 ** 30) + a, torch.full((2,), -2 ** 31)), (3, 4),
     torch.int64),
    ("full-bf16", lambda a: torch.full((3, 4), 1.5, dtype=torch.bfloat16) + a, (3, 4), torch.bfloat16),
]


def _input(shape, dtype):
    if dtype == torch.bool:
        return torch.randn(shape) > 0
    if not dtype.is_floating_point:
        return torch.randint(-100, 100, shape, dtype=dtype)
    return torch.randn(shape).to(dtype)


@pytest.mark.parametrize("name,fn,shape,dtype", FULL, ids=[c[0] for c in FULL])
def test_full(name, fn, shape, dtype, device):
    check_lowered(fn, (_input(shape, dtype),), device=device)


def test_full_is_made_on_the_device(device):
    option = check_lowered(lambda a: torch.full((3, 37), 2.5) + a, (torch.randn(3, 37),), device=device,
                           expect=("full",))
    targets = [n.target for n in option._out_fx_graphs[0].nodes]
    assert targets.count(ttnn.from_torch) == 1     # only the input comes from the host


def test_fill_tensor_value(device):
    check_lowered(lambda a, v: a.clone().fill_(v[1]), (torch.randn(4, 33), torch.randn(3)), device=device,
                  expect=("expand",))


def test_full_outside_int32_falls_back(device):
    from .harness import compile_and_run, remaining_aten_ops
    import torch_ttnn
    out, option = compile_and_run(lambda a: (torch.full((3,), 2 ** 40), a + 1), (torch.tensor([1, 2, 3]),),
                                  device=device)
    assert torch.equal(out[0], torch.full((3,), 2 ** 40))
    assert "aten.full.default" in remaining_aten_ops(option)
    assert "int32 range" in torch_ttnn.lowering_report(option)


def test_empty_then_filled(device):
    def f(a):
        e = torch.empty(6, 5)
        return e.fill_(1.0) + a, torch.empty_like(a).fill_(-2.0)
    check_lowered(f, (torch.randn(6, 5),), device=device)


def test_scalar_tensor(device):
    def f(a):
        return torch.where(a > 0, a, torch.scalar_tensor(-3.0)), torch.scalar_tensor(5, dtype=torch.int64)
    check_lowered(f, (torch.randn(4, 9),), device=device)


# --- arange ------------------------------------------------------------------------------------------

ARANGE = [
    ("end", lambda a: torch.arange(37) + a),
    ("start-end", lambda a: torch.arange(3, 40) * a),
    ("step", lambda a: torch.arange(2, 75, 2) + a),
    ("neg-step", lambda a: torch.arange(36, -1, -1) + a),
    ("float-integral", lambda a: torch.arange(37.0) + a),
    ("float-fraction", lambda a: torch.arange(0.0, 3.7, 0.1) + a),
    ("float-big", lambda a: torch.arange(37.0) * 1000 + a),
]


@pytest.mark.parametrize("name,fn", ARANGE, ids=[c[0] for c in ARANGE])
def test_arange(name, fn, device):
    check_lowered(fn, (torch.randn(37),), device=device, expect=("arange",))


@pytest.mark.parametrize("start,end,step", [(0, 100000, 1), (-70000, 70000, 997), (2 ** 30, 2 ** 30 + 50, 1)],
                         ids=["big", "neg", "near-int32-max"])
def test_arange_int64_is_exact(start, end, step, device):
    def f(a):
        return torch.arange(start, end, step) + a
    option = check_lowered(f, (torch.tensor([1]),), device=device, expect=("arange",))
    arange_nodes = [n for n in option._out_fx_graphs[0].nodes if n.target is ttnn.arange]
    assert arange_nodes[0].kwargs["dtype"] == ttnn.int32


def test_arange_float_beyond_bf16_integers_is_float32(device):
    option = check_lowered(lambda a: torch.arange(1000.0) + a, (torch.randn(1000),), device=device)
    arange_nodes = [n for n in option._out_fx_graphs[0].nodes if n.target is ttnn.arange]
    assert arange_nodes[0].kwargs["dtype"] == ttnn.float32


def test_arange_output_exact(device):
    check_lowered(lambda a: (torch.arange(5, 300000, 3), a + 1), (torch.randn(3),), device=device)
