"""Differential tests of the matrix-product rules (mm, bmm, addmm, baddbmm, linear, matmul)."""
import pytest
import torch
import torch.nn.functional as F

from .harness import check_lowered, ttnn_targets
from .opinfo import sample_ids, samples

OPINFO = [("mm", ""), ("bmm", ""), ("addmm", ""), ("addmm", "decomposed"), ("baddbmm", ""), ("matmul", ""),
          ("nn.functional.linear", ""), ("mv", ""), ("dot", ""), ("addmv", ""), ("addbmm", "")]


def _cases():
    out = []
    for name, variant in OPINFO:
        cases = samples(name, variant, limit=4)
        for (op, args, kwargs), sid in zip(cases, sample_ids(cases)):
            out.append(pytest.param(op, args, kwargs, id=f"{name}{'.' + variant if variant else ''}-{sid}"))
    return out


@pytest.mark.parametrize("op,args,kwargs", _cases())
def test_opinfo(device, op, args, kwargs):
    # a rank-0 result (dot) is compared with a tolerance, not a PCC: run it in float32 on the device
    fp32 = op(*args, **kwargs).dim() == 0
    check_lowered(lambda *a: op(*a, **kwargs), args, device=device, fp32=fp32)


def _mm(a, b):
    return a @ b


# (name, fn, input shapes, expected ttnn ops)
HAND = [
    ("mm-unaligned", _mm, [(5, 40), (40, 7)], ("matmul",)),
    ("mm-aligned", _mm, [(64, 96), (96, 32)], ("matmul",)),
    ("bmm", torch.bmm, [(3, 33, 45), (3, 45, 17)], ("matmul",)),
    ("matmul-4d", _mm, [(2, 3, 5, 40), (2, 3, 40, 7)], ("matmul",)),
    ("matmul-batch-broadcast", _mm, [(2, 1, 5, 40), (3, 40, 7)], ("matmul",)),
    ("matmul-3d-2d", _mm, [(2, 5, 40), (40, 7)], ("matmul",)),
    ("matmul-1d-2d", _mm, [(40,), (40, 7)], ("matmul",)),
    ("transposed-left", lambda a, b: a.t() @ b, [(40, 5), (40, 7)], ("matmul",)),
    ("transposed-right", lambda a, b: a @ b.transpose(-1, -2), [(3, 5, 40), (3, 7, 40)], ("matmul",)),
    ("linear-3d", F.linear, [(2, 5, 40), (7, 40), (7,)], ("linear",)),
    ("linear-4d", F.linear, [(2, 2, 5, 40), (7, 40), (7,)], ("linear",)),
    ("linear-no-bias", F.linear, [(2, 5, 40), (7, 40)], ("linear",)),
    ("addmm-scaled", lambda b, x, w: torch.addmm(b, x, w, beta=0.5, alpha=2.0), [(7,), (5, 40), (40, 7)],
     ("matmul", "multiply", "add")),
    ("addmm-full-bias", torch.addmm, [(5, 7), (5, 40), (40, 7)], ("matmul", "add")),
    ("addmm-column-bias", torch.addmm, [(5, 1), (5, 40), (40, 7)], ("matmul", "add")),
    ("baddbmm", lambda b, x, y: torch.baddbmm(b, x, y, beta=0.3, alpha=1.5), [(3, 5, 7), (3, 5, 40), (3, 40, 7)],
     ("matmul",)),
    # matmul + row-bias add are fused into ttnn.linear(bias=)
    ("baddbmm-broadcast-bias", torch.baddbmm, [(7,), (3, 5, 40), (3, 40, 7)], ("linear",)),
    ("addmv", lambda b, m, v: torch.addmv(b, m, v, beta=0.5, alpha=2.0), [(5,), (5, 40), (40,)], ("matmul",)),
    ("addbmm", lambda b, x, y: torch.addbmm(b, x, y, alpha=0.5), [(5, 7), (3, 5, 40), (3, 40, 7)],
     ("matmul", "sum")),
    ("k-padding-both-device", lambda a, b: torch.exp(a) @ torch.exp(b), [(5, 40), (40, 7)],
     ("matmul", "fill_implicit_tile_padding")),
]


@pytest.mark.parametrize("fn,shapes,expect", [pytest.param(f, s, e, id=n) for n, f, s, e in HAND])
def test_hand_written(device, fn, shapes, expect):
    args = [torch.randn(s) for s in shapes]
    check_lowered(fn, args, device=device, expect=expect)


def test_addmm_beta_zero_ignores_bias(device):
    bias = torch.full((7,), float("nan"))
    check_lowered(lambda b, x, w: torch.addmm(b, x, w, beta=0.0), (bias, torch.randn(5, 40), torch.randn(40, 7)),
                  device=device, expect=("matmul",))


def test_fp32_option(device):
    """float32 operands stay float32 (the matrix unit reads them as TF32: ~1e-3 relative per product)."""
    option = check_lowered(_mm, (torch.randn(5, 40), torch.randn(40, 7)), device=device, expect=("matmul",),
                           fp32=True, atol=0.05, rtol=1e-2)
    (mm,) = [n for g in option._out_fx_graphs for n in g.nodes if getattr(n.target, "__name__", "") == "matmul"]
    assert "FLOAT32" in repr(mm.meta["tt"].dtype)


def test_linear_module_reads_weight_transposed(device):
    """nn.Linear: one ttnn.linear on the batched input, weight read with transpose_b, no permute/reshape."""
    model = torch.nn.Linear(40, 24).eval()
    option = check_lowered(model, (torch.randn(2, 5, 40),), device=device, expect=("linear",))
    targets = ttnn_targets(option)
    assert targets.count("linear") == 1 and "permute" not in targets and "reshape" not in targets, targets
    (lin,) = [n for g in option._out_fx_graphs for n in g.nodes if getattr(n.target, "__name__", "") == "linear"]
    assert lin.kwargs.get("transpose_b") is True


def test_linear_without_fusions(device):
    """The rules alone (no aten fusion): addmm on the 2-D view, the weight permute folded or read in place."""
    model = torch.nn.Linear(40, 24).eval()
    option = check_lowered(model, (torch.randn(2, 5, 40),), device=device, expect=("linear",), fusions=False)
    assert "permute" not in ttnn_targets(option)


@pytest.mark.parametrize("fn,shapes", [
    pytest.param(_mm, [(5, 40), (40, 7)], id="int-mm",
                 marks=pytest.mark.xfail(reason="TT-NN matmul is floating point only: integer products stay "
                                                "on the host", strict=True)),
])
def test_known_gaps(device, fn, shapes):
    args = [torch.randint(-5, 5, s) for s in shapes]
    check_lowered(fn, args, device=device, expect=("matmul",))
