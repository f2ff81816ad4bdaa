"""Lowering of data movement aten ops (views, permutes, slicing, concat/split, repeat, pad, roll, copies,
dtype conversions): agreement with eager, nothing left on the host, the expected TT-NN ops."""
import pytest
import torch

import torch_ttnn
import torch_ttnn.sim as ttnn

from .harness import check_lowered, compile_and_run, remaining_aten_ops
from .opinfo import sample_ids, samples

xfail = pytest.mark.xfail


def _nonempty(cases):
    """OpInfo samples whose eager result has no empty tensor (TT-NN tensors are non-empty)."""
    out = []
    for op, args, kwargs in cases:
        with torch.no_grad():
            r = op(*args, **kwargs)
        rs = [r] if isinstance(r, torch.Tensor) else list(r)
        if all(isinstance(t, torch.Tensor) and t.numel() > 0 for t in rs):
            out.append((op, args, kwargs))
    return out


# --- OpInfo samples -----------------------------------------------------------------------------------

OPINFO = [
    ("permute", ""), ("transpose", ""), ("t", ""), ("mT", ""), ("view", ""), ("reshape", ""), ("view_as", ""),
    ("flatten", ""), ("unflatten", ""), ("expand", ""), ("expand_as", ""), ("squeeze", ""),
    ("squeeze", "multiple"), ("unsqueeze", ""), ("select", ""), ("narrow", ""), ("cat", ""), ("stack", ""),
    ("split", ""), ("split", "list_args"), ("split_with_sizes", ""), ("chunk", ""), ("unbind", ""),
    ("repeat", ""), ("nn.functional.pad", "constant"), ("roll", ""), ("movedim", ""), ("clone", ""),
    ("contiguous", ""), ("slice_scatter", ""), ("select_scatter", ""), ("repeat_interleave", ""),
]
CASES = [(f"{name}{'.' + var if var else ''}", c) for name, var in OPINFO
         for c in _nonempty(samples(name, var, limit=2))]


@pytest.mark.parametrize("name,case", CASES, ids=[f"{n}-{i}" for (n, c), i in
                                                   zip(CASES, sample_ids([c for _, c in CASES]))])
def test_opinfo(name, case, device):
    op, args, kwargs = case
    check_lowered(lambda *a: op(*a, **kwargs), args, device=device)


# --- hand-written cases ----------------------------------------------------------------------------

def _f(shape, dtype=torch.float32):
    if dtype == torch.bool:
        return torch.randn(shape) > 0
    if not dtype.is_floating_point:
        return torch.randint(-1000, 1000, shape, dtype=dtype)
    return torch.randn(shape, dtype=dtype)


x4 = (2, 3, 33, 17)
CASES_HAND = [
    # name, fn, arg shapes/dtypes, expected ttnn targets
    ("view-free-rm-last-dim-kept", lambda a: a.view(6, 33, 17), [x4], ("view",)),
    ("view-free-tile-32", lambda a: a.view(4, 64, 40), [(2, 2, 64, 40)], ("view",)),
    ("view-moves-data", lambda a: a.view(6, 561), [x4], ("reshape",)),
    ("view-rank1", lambda a: a.view(-1), [(3, 7)], ("reshape",)),
    ("view-to-rank4", lambda a: a.view(1, 2, 3, 7), [(42,)], ("reshape",)),
    ("unsafe-view-after-bmm", lambda a, b: (a @ b).view(6, 40), [(2, 3, 5), (2, 5, 40)], ()),
    ("reshape-noncontig", lambda a: a.transpose(1, 2).reshape(2, 33, 51), [x4], ("permute",)),
    ("permute-4d", lambda a: a.permute(3, 1, 0, 2), [x4], ("permute",)),
    ("permute-neg", lambda a: a.permute(-1, -2, 0), [(5, 33, 7)], ("permute",)),
    ("permute-size1-is-view", lambda a: a.permute(1, 0, 2, 3), [(1, 2, 5, 7)], ("view",)),
    ("permute-size1-is-reshape", lambda a: a.permute(0, 2, 1, 3), [(2, 1, 5, 7)], ("reshape",)),
    ("transpose-last2", lambda a: a.transpose(-1, -2), [(3, 45, 70)], ("permute",)),
    ("transpose-outer", lambda a: a.transpose(0, 1), [(3, 45, 7)], ("permute",)),
    ("t-2d", lambda a: a.t(), [(45, 7)], ("permute",)),
    ("t-1d", lambda a: a.t() + 1, [(45,)], ()),
    ("expand-leading", lambda a: a.expand(4, 3, 5), [(3, 5)], ("expand",)),
    ("expand-inner", lambda a: a.expand(3, 40, 5), [(3, 1, 5)], ("expand",)),
    ("expand-neg1", lambda a: a.expand(-1, 7), [(33, 1)], ("expand",)),
    ("squeeze-all", lambda a: a.squeeze(), [(1, 5, 1, 7)], ()),
    ("squeeze-neg", lambda a: a.squeeze(-2), [(3, 5, 1, 7)], ()),
    ("squeeze-dims", lambda a: a.squeeze((0, 2)), [(1, 5, 1, 7)], ()),
    ("unsqueeze-neg", lambda a: a.unsqueeze(-1), [(5, 7)], ()),
    ("unsqueeze-front", lambda a: a.unsqueeze(0), [(5, 7)], ("view",)),
    ("slice-step", lambda a: a[:, 1:, ::3], [(4, 37, 50)], ("slice",)),
    ("slice-neg", lambda a: a[..., -5:-1], [(4, 37, 50)], ("slice",)),
    ("slice-1d", lambda a: a[3:40:2], [(50,)], ("slice",)),
    ("slice-full-is-noop", lambda a: a[:, :] * 2, [(4, 5)], ()),
    ("select-neg", lambda a: a[:, -1], [(4, 37, 5)], ("slice",)),
    ("select-1d-to-0d", lambda a: a[3], [(7,)], ("slice",)),
    ("cat-dim0", lambda a, b: torch.cat([a, b]), [(3, 5), (4, 5)], ("concat",)),
    ("cat-last-neg", lambda a, b, c: torch.cat([a, b, c], -1), [(2, 3, 5), (2, 3, 33), (2, 3, 1)], ("concat",)),
    ("cat-mixed-dtype", lambda a, b: torch.cat([a, b], 1), [(3, 5), ((3, 2), torch.int64)], ("concat",)),
    ("stack-new-last", lambda a, b: torch.stack([a, b], -1), [(3, 5), (3, 5)], ("stack",)),
    ("stack-1d", lambda a, b, c: torch.stack([a, b, c]), [(7,), (7,), (7,)], ("stack",)),
    ("split-uneven", lambda a: a.split(3, 1), [(4, 10)], ("split",)),
    ("split-sizes-neg", lambda a: a.split([1, 40, 4], -1), [(2, 3, 45)], ("split",)),
    ("chunk", lambda a: a.chunk(3, 0), [(7, 5)], ("split",)),
    ("unbind", lambda a: a.unbind(1), [(4, 3, 5)], ("slice",)),
    ("repeat", lambda a: a.repeat(2, 3), [(3, 5)], ("repeat",)),
    ("repeat-new-dims", lambda a: a.repeat(2, 1, 1, 3), [(3, 5)], ("repeat",)),
    ("repeat-size1-is-expand", lambda a: a.repeat(4, 1), [(1, 5)], ("expand",)),
    ("pad-back", lambda a: torch.nn.functional.pad(a, (0, 3, 0, 40), value=1.5), [(3, 5)], ("pad",)),
    ("pad-front", lambda a: torch.nn.functional.pad(a, (2, 3, 1, 0)), [(3, 5)], ("pad",)),
    ("pad-negative-crops", lambda a: torch.nn.functional.pad(a, (-1, 2, 0, -2)), [(6, 5)], ("slice", "pad")),
    ("pad-4d-outer", lambda a: torch.nn.functional.pad(a, (0, 0, 0, 0, 1, 1)), [(2, 3, 4, 5)], ("pad",)),
    ("roll-1", lambda a: torch.roll(a, 3, 1), [(4, 37)], ("roll",)),
    ("roll-multi", lambda a: torch.roll(a, (1, -2), (0, -1)), [(4, 37)], ("roll",)),
    ("roll-flat", lambda a: torch.roll(a, 5), [(4, 7)], ("roll",)),
    ("clone", lambda a: (a + 1).clone(), [(4, 7)], ()),
    ("clone-of-input", lambda a: a.clone(), [(4, 7)], ("view",)),
    ("clone-also-output", lambda a: (a * 2, (a * 2).clone()), [(4, 7)], ()),
    ("contiguous", lambda a: a.t().contiguous(), [(4, 7)], ("permute",)),
    ("detach", lambda a: a.detach() * 2, [(4, 7)], ()),
    ("slice-scatter", lambda a, b: torch.slice_scatter(a, b, 1, 2, 5), [(4, 7), (4, 3)], ("concat",)),
    ("slice-scatter-step", lambda a, b: torch.slice_scatter(a, b, 1, 1, 7, 3), [(4, 7), (4, 2)], ("scatter",)),
    ("select-scatter", lambda a, b: torch.select_scatter(a, b, 0, -1), [(4, 7), (7,)], ()),
    ("repeat-interleave", lambda a: a.repeat_interleave(3, dim=1), [(4, 7)], ()),
]


def _args(specs):
    out = []
    for s in specs:
        shape, dtype = (s if isinstance(s, tuple) and len(s) == 2 and isinstance(s[1], torch.dtype)
                        else (s, torch.float32))
        out.append(_f(shape, dtype))
    return out


@pytest.mark.parametrize("name,fn,specs,expect", CASES_HAND, ids=[c[0] for c in CASES_HAND])
def test_hand(name, fn, specs, expect, device):
    check_lowered(fn, _args(specs), device=device, expect=expect)


# --- integers and booleans stay exact ---------------------------------------------------------------

INT_BOOL = [
    ("int64-permute-view", lambda a: a.permute(1, 0).reshape(-1)[3:], ((5, 40), torch.int64)),
    ("int64-cat-split", lambda a: torch.cat([a, a * 2], 0).split(3, 0), ((4, 5), torch.int64)),
    ("int64-pad-roll", lambda a: torch.roll(torch.nn.functional.pad(a, (1, 1), value=7), 2, -1),
     ((4, 5), torch.int64)),
    ("int32-expand-slice", lambda a: a[:, None].expand(3, 4, 5)[..., ::2], ((3, 5), torch.int32)),
    ("bool-transpose-stack", lambda a: torch.stack([a.t(), a.t()]), ((3, 5), torch.bool)),
    ("bool-repeat-select", lambda a: a.repeat(2, 2)[1], ((3, 5), torch.bool)),
    ("large-int64", lambda a: (a + 0).view(2, 3), (((6,), torch.int64), "big")),
]


@pytest.mark.parametrize("name,fn,spec", INT_BOOL, ids=[c[0] for c in INT_BOOL])
def test_int_bool_exact(name, fn, spec, device):
    if spec[1] == "big":
        a = torch.tensor([2 ** 31 - 1, -(2 ** 31), 123456789, -987654321, 0, 1], dtype=torch.int64)
    else:
        a = _f(*spec)
    check_lowered(fn, (a,), device=device)   # exact comparison for int/bool results


# --- dtype conversions (_to_copy) --------------------------------------------------------------------

CONVERSIONS = [
    ("f32-bf16", torch.float32, torch.bfloat16),
    ("bf16-f32", torch.bfloat16, torch.float32),
    ("f32-int32", torch.float32, torch.int32),
    ("f32-int64", torch.float32, torch.int64),
    ("f32-bool", torch.float32, torch.bool),
    ("int64-f32", torch.int64, torch.float32),
    ("int64-int32", torch.int64, torch.int32),
    ("int32-bool", torch.int32, torch.bool),
    ("bool-f32", torch.bool, torch.float32),
    ("bool-int64", torch.bool, torch.int64),
    ("bool-uint8", torch.bool, torch.uint8),
]


@pytest.mark.parametrize("name,src,dst", CONVERSIONS, ids=[c[0] for c in CONVERSIONS])
def test_to_copy(name, src, dst, device):
    if src.is_floating_point:
        a = (torch.randint(-400, 400, (5, 37)).float() / 4 + torch.rand(5, 37) * 0.2).to(src)
        a[0, :5] = torch.tensor([0.0, -0.0, 2.999, -2.999, 1e-3])
    elif src == torch.bool:
        a = torch.randn(5, 37) > 0
    else:
        a = torch.randint(-300, 300, (5, 37), dtype=src)
        a[0, :3] = 0
    check_lowered(lambda t: t.to(dst), (a,), device=device)


def test_to_copy_after_compute_is_a_device_typecast(device):
    a = torch.randint(-50, 50, (4, 40)).float()
    check_lowered(lambda t: (t * 2).to(torch.int32), (a,), device=device, expect=("typecast",))


def test_to_copy_narrowing_int_is_unsupported(device):
    a = torch.randint(-300, 300, (5, 7))
    out, option = compile_and_run(lambda t: (t + 1).to(torch.uint8), (a,), device=device)
    assert torch.equal(out, (a + 1).to(torch.uint8))
    assert "aten._to_copy.default" in remaining_aten_ops(option)
    assert "narrowing" in torch_ttnn.lowering_report(option)


def test_copy_broadcasts_and_converts(device):
    def f(a, b):
        return a.clone().copy_(b)
    check_lowered(f, (torch.randn(4, 37), torch.randint(-9, 9, (37,))), device=device, expect=("expand", "typecast"))


# --- lifted constants (lift_fresh_copy) --------------------------------------------------------------

def _with_constants(a):
    return a.masked_fill(a > 0, torch.tensor(-1.0)) + torch.tensor([1.0, 2.0, 3.0, 4.0, 5.0])


def test_lift_fresh_copy(device):
    check_lowered(_with_constants, (torch.randn(3, 5),), device=device, load_params_once=False)


def test_lift_fresh_copy_with_constant_folding(device):
    check_lowered(_with_constants, (torch.randn(3, 5),), device=device)


# --- no host round trips ----------------------------------------------------------------------------

def test_chain_stays_on_device(device):
    def f(a):
        y = a.view(2, 3, 40, 5).permute(0, 2, 1, 3).reshape(80, 15)
        y = y.t().unsqueeze(0)[:, 2:9].squeeze(0)
        return torch.cat([y, y], 1).transpose(0, 1).contiguous()
    option = check_lowered(f, (torch.randn(6, 200),), device=device)
    g = option._out_fx_graphs[0]
    targets = [n.target for n in g.nodes]
    assert targets.count(ttnn.from_torch) == 1 and targets.count(ttnn.to_torch) == 1, targets


def test_int_chain_stays_on_device_in_int32(device):
    def f(a):
        return a.view(4, 10).t()[1:].reshape(-1)
    option = check_lowered(f, (torch.arange(40) * 1000,), device=device)
    g = option._out_fx_graphs[0]
    targets = [n.target for n in g.nodes]
    assert targets.count(ttnn.from_torch) == 1 and targets.count(ttnn.to_torch) == 1
    assert ttnn.typecast not in targets and ttnn.to_layout not in targets, targets


def test_free_view_is_not_an_op_launch(device):
    def f(a):
        return (a + 1).view(6, 33, 17) * 2
    x = torch.randn(2, 3, 33, 17)
    with torch.no_grad():
        compile_and_run(f, (x,), device=device)
        device.counters.reset()
        compile_and_run(f, (x,), device=device)
    assert "view" not in device.counters.op_launches and "reshape" not in device.counters.op_launches


# --- no TT-NN equivalent -----------------------------------------------------------------------------

@pytest.mark.parametrize("fn,op", [
    (lambda a: torch.flip(a * 2, [0]), "aten.flip.default"),
    (lambda a: (a * 2).as_strided((2, 2), (1, 2)), "aten.as_strided.default"),
    (lambda a: torch.diagonal(a * 2), "aten.diagonal.default"),
], ids=["flip", "as_strided", "diagonal"])
def test_unsupported_falls_back_with_reason(fn, op, device):
    a = torch.randn(5, 6)
    out, option = compile_and_run(fn, (a,), device=device)
    torch.testing.assert_close(out, fn(a), rtol=2e-2, atol=2e-2)
    assert op in remaining_aten_ops(option)
    assert "no TT-NN equivalent" in torch_ttnn.lowering_report(option) or "TT-NN 0.81.1 has no" in \
        torch_ttnn.lowering_report(option)


def test_cat_drops_empty_operands(device):
    """A key/value cache before its first entry is an empty tensor concatenated with the new entry."""
    past, new = torch.randn(1, 4, 0, 16), torch.randn(1, 4, 7, 16)
    check_lowered(lambda p, n: torch.cat([p, n], dim=-2) * 2, (past, new), device=device, expect=("clone",))
    a, b = torch.randn(2, 0, 5), torch.randn(2, 3, 5)
    check_lowered(lambda x, y, z: torch.cat([x, y, z], dim=1), (a, b, b), device=device, expect=("concat",))
