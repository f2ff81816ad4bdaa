"""Lowering of indexing aten ops (embedding, index / index_select, gather, scatter, index_put, where,
masked_fill): agreement with eager (exact for int/bool), nothing left on the host, the expected TT-NN ops."""
import pytest
import torch

import torch_ttnn

from .harness import check_lowered, compile_and_run, remaining_aten_ops
from .opinfo import sample_ids, samples

xfail = pytest.mark.xfail


def _cases(name, variant="", limit=3, keep=lambda args, kwargs: True):
    out = []
    for op, args, kwargs in samples(name, variant, limit=8):
        with torch.no_grad():
            r = op(*args, **kwargs)
        if isinstance(r, torch.Tensor) and r.numel() > 0 and keep(args, kwargs):
            out.append((op, args, kwargs))
        if len(out) >= limit:
            break
    return out


def _scatter_ok(args, kwargs):
    """ttnn.scatter needs the index as large as the input off the scatter dim."""
    x, dim, index = args[0], args[1], args[2]
    return all(index.shape[k] == x.shape[k] for k in range(x.dim()) if k != dim % x.dim()) \
        and kwargs.get("include_self", True)


OPINFO = [
    ("index_select", "", None), ("gather", "", None), ("take_along_dim", "", None),
    ("scatter", "", _scatter_ok), ("scatter_add", "", _scatter_ok),
    ("scatter_reduce", "sum", _scatter_ok), ("scatter_reduce", "amax", _scatter_ok),
    ("nn.functional.embedding", "", None), ("masked_fill", "", None), ("where", "", None),
    ("index_put", "", None), ("__getitem__", "", None),
]
CASES = [(f"{n}{'.' + v if v else ''}", c) for n, v, keep in OPINFO
         for c in _cases(n, v, keep=keep or (lambda a, k: True))]


def _opinfo_param(name, case):
    op, args, kwargs = case
    marks = ()
    if name == "__getitem__" and isinstance(args[1], (list, tuple)) and sum(
            isinstance(i, (torch.Tensor, list)) for i in args[1]) > 1:
        marks = xfail(reason="advanced indexing with index tensors on several dims has no TT-NN equivalent")
    if name == "index_put" and any(isinstance(i, torch.Tensor) and i.dtype == torch.bool for i in args[1]) \
            and args[2].numel() > 1:
        marks = xfail(reason="boolean-mask index_put of several values is data-dependent")
    return pytest.param(name, case, marks=marks)


@pytest.mark.parametrize("name,case", [_opinfo_param(n, c) for n, c in CASES],
                         ids=[f"{n}-{i}" for (n, c), i in zip(CASES, sample_ids([c for _, c in CASES]))])
def test_opinfo(name, case, device):
    op, args, kwargs = case
    check_lowered(lambda *a: op(*a, **kwargs), args, device=device)


# --- embedding ----------------------------------------------------------------------------------------

@pytest.mark.parametrize("ids_shape", [(7,), (2, 7), (2, 3, 5), (1, 40)], ids=str)
def test_embedding(ids_shape, device):
    w = torch.randn(50, 33)
    ids = torch.randint(0, 50, ids_shape)
    check_lowered(lambda t, i: torch.nn.functional.embedding(i, t), (w, ids), device=device,
                  expect=("embedding",))


def test_embedding_module_padding_idx(device):
    emb = torch.nn.Embedding(20, 64, padding_idx=0)
    ids = torch.tensor([[0, 3, 19, 0, 5]])
    check_lowered(emb, (ids,), device=device, expect=("embedding",))


def test_embedding_int_table_falls_back(device):
    w = torch.randint(0, 100, (10, 4))
    out, option = compile_and_run(lambda t, i: torch.nn.functional.embedding(i, t), (w, torch.tensor([1, 2])),
                                  device=device)
    assert torch.equal(out, w[[1, 2]])
    assert "aten.embedding.default" in remaining_aten_ops(option)


# --- index / index_select -------------------------------------------------------------------------------

INDEX = [
    ("dim0", lambda a, i: a[i], (40, 33), [0, 39, 7, 7]),
    ("dim0-neg", lambda a, i: a[i], (40, 33), [0, -1, -40, 5]),
    ("dim1", lambda a, i: a[:, i], (5, 33), [0, 32, 3]),
    ("dim1-neg", lambda a, i: a[:, i], (5, 33), [-1, -33, 3]),
    ("dim-last-4d", lambda a, i: a[..., i], (2, 3, 4, 9), [8, 0, -2]),
    ("2d-index", lambda a, i: a[i.view(2, 2)], (6, 5), [1, 2, 3, 0]),
    ("1d-input", lambda a, i: a[i], (45,), [44, 0, -3]),
    ("index_select-0", lambda a, i: torch.index_select(a, 0, i), (6, 5, 3), [5, 0, 2]),
    ("index_select-neg-dim", lambda a, i: torch.index_select(a, -2, i), (6, 5, 3), [4, 1]),
]


@pytest.mark.parametrize("name,fn,shape,idx", INDEX, ids=[c[0] for c in INDEX])
def test_index(name, fn, shape, idx, device):
    check_lowered(fn, (torch.randn(shape), torch.tensor(idx)), device=device)


@pytest.mark.parametrize("dtype", [torch.int64, torch.bool], ids=str)
def test_index_int_bool_table_exact(dtype, device):
    a = torch.randint(-(2 ** 30), 2 ** 30, (8, 5)) if dtype == torch.int64 else torch.randn(8, 5) > 0
    i = torch.tensor([7, -1, 0, 3])
    check_lowered(lambda t, k: (t[k], t[:, k[2:]]), (a, i), device=device, expect=("gather",))


def test_index_of_computed_indices_stays_on_device(device):
    def f(a, i):
        return a[(i * 2).clamp(max=9)]
    check_lowered(f, (torch.randn(10, 8), torch.tensor([1, 3, 7])), device=device)


# index tensors on several dims: (name, fn, table shape, index tensors); every result element is compared
SEVERAL = [
    ("two-1d", lambda a, i, j: a[i, j], (5, 6), [[0, 2, 4], [1, 5, 0]]),
    ("negative", lambda a, i, j: a[i, j], (5, 6), [[-1, 0, -5], [-6, 3, -1]]),
    ("broadcast-outer", lambda a, i, j: a[i[:, None], j[None, :]], (7, 40), [[6, 0, 3], [39, 1, 0, 33]]),
    ("mask-pattern", lambda a, i, j: a[i[:, None, None, None], j[None, None, None, :]], (2, 37),
     [[0, 1], list(range(37))]),
    ("trailing-dims", lambda a, i, j: a[i, j], (4, 5, 3, 33), [[3, 0], [4, 2]]),
    ("adjacent-after-lead", lambda a, i, j: a[:, i, j], (3, 5, 6), [[0, 4, 2], [5, 1, 1]]),
    ("adjacent-2d-after-lead", lambda a, i, j: a[:, :, i, j], (2, 3, 5, 6), [[[0, 4], [2, 1]], [[5, 1], [0, 3]]]),
    ("non-adjacent", lambda a, i, j: a[i, :, j], (4, 3, 6), [[3, 1], [0, 5]]),
    ("three-dims", lambda a, i, j: a[i, j, i], (4, 4, 4, 9), [[3, 0, 1], [2, 2, 0]]),
]


@pytest.mark.parametrize("dtype", [torch.float32, torch.int64, torch.bool], ids=str)
@pytest.mark.parametrize("name,fn,shape,idx", SEVERAL, ids=[c[0] for c in SEVERAL])
def test_index_several_dims(name, fn, shape, idx, dtype, device):
    a = torch.randn(shape)
    a = a if dtype == torch.float32 else (a * 1000).to(dtype) if dtype == torch.int64 else a > 0
    check_lowered(fn, (a, torch.tensor(idx[0]), torch.tensor(idx[1])), device=device)


def test_index_several_dims_large_flat_index_exact(device):
    """Flat indices far beyond what bfloat16 represents (2**8) or float32 (2**24) stay exact (int32)."""
    a = torch.arange(3 * 4100 * 1400, dtype=torch.int64).view(3, 4100, 1400)
    i, j = torch.tensor([4099, 17, 4098, 0]), torch.tensor([1399, 1398, 1, 0])
    check_lowered(lambda t, x, y: t[:, x, y], (a, i, j), device=device, expect=("gather",))


def test_index_several_dims_fp32_table(device):
    a, i, j = torch.randn(6, 7, 5), torch.tensor([5, 0, 2]), torch.tensor([6, 6, 1])
    check_lowered(lambda t, x, y: t[x, y], (a, i, j), device=device, fp32=True, atol=1e-6)


# --- gather / scatter / index_put -------------------------------------------------------------------

def test_gather_int64_exact(device):
    a = torch.randint(-(2 ** 30), 2 ** 30, (6, 40))
    i = torch.randint(0, 40, (6, 9))
    check_lowered(lambda t, k: torch.gather(t, -1, k), (a, i), device=device, expect=("gather",))


SCATTER = [
    ("src", lambda a, i, s: torch.scatter(a, 0, i, s), "scatter"),
    ("add", lambda a, i, s: torch.scatter_add(a, 0, i, s), "scatter_add"),
    ("reduce-amin", lambda a, i, s: torch.scatter_reduce(a, 0, i, s, "amin"), "scatter"),
    ("reduce-prod", lambda a, i, s: torch.scatter_reduce(a, 0, i, s, "prod"), "scatter"),
]


@pytest.mark.parametrize("name,fn,expect", SCATTER, ids=[c[0] for c in SCATTER])
def test_scatter(name, fn, expect, device):
    a, s = torch.randn(7, 3), torch.randn(4, 3)
    i = torch.randint(0, 7, (4, 3))
    check_lowered(fn, (a, i, s), device=device, expect=(expect,))


def test_scatter_value(device):
    a, i = torch.randn(7, 5), torch.randint(0, 5, (7, 2))
    check_lowered(lambda t, k: torch.scatter(t, 1, k, 5.0), (a, i), device=device, expect=("full", "scatter"))


def test_scatter_index_smaller_off_dim_falls_back(device):
    a, i, s = torch.randn(7, 5), torch.randint(0, 7, (4, 3)), torch.randn(4, 3)
    out, option = compile_and_run(lambda t, k, v: torch.scatter(t, 0, k, v), (a, i, s), device=device)
    torch.testing.assert_close(out, torch.scatter(a, 0, i, s))
    assert "ttnn.scatter needs them equal" in torch_ttnn.lowering_report(option)


def test_scatter_long_int_rows(device):
    a = torch.randint(-1000, 1000, (3, 300))
    i = torch.randint(0, 300, (3, 300))
    s = torch.randint(-5, 5, (3, 300))
    check_lowered(lambda t, k, v: torch.scatter_add(t, 1, k, v), (a, i, s), device=device, expect=("scatter_add",))


@pytest.mark.parametrize("accumulate", [False, True], ids=["put", "accumulate"])
def test_index_put_dim0(accumulate, device):
    a, v = torch.randn(10, 3, 4), torch.randn(3, 3, 4)
    i = torch.tensor([9, 0, -2]) if not accumulate else torch.tensor([1, 1, 5])
    check_lowered(lambda t, k, x: torch.index_put(t, (k,), x, accumulate=accumulate), (a, i, v), device=device)


def test_embedding_backward_is_lowered(device):
    """The weight gradient of an embedding is an index_put(accumulate=True) of the output gradient."""
    emb = torch.nn.Embedding(12, 8)
    ids = torch.tensor([[1, 3, 3, 11]])

    def f(i):
        return emb(i).sum()

    torch._dynamo.reset()
    option = torch_ttnn.TorchTtnnOption(device=device)
    out = torch.compile(f, backend=torch_ttnn.backend, options=option)(ids)
    out.backward()
    ref = torch.zeros(12, 8).index_add_(0, ids.view(-1), torch.ones(4, 8))
    torch.testing.assert_close(emb.weight.grad, ref)
    assert "aten.index_put.default" not in remaining_aten_ops(option)


# --- where / masked_fill ----------------------------------------------------------------------------

WHERE = [
    ("tensors", lambda c, a, b: torch.where(c, a, b), [(4, 37), (4, 37), (4, 37)]),
    ("broadcast", lambda c, a, b: torch.where(c, a, b), [(4, 37), (37,), (4, 1)]),
    ("scalar-other", lambda c, a, b: torch.where(c, a, 0.0), [(2, 3, 37), (2, 3, 37), (1,)]),
    ("scalar-self", lambda c, a, b: torch.where(c, -1e9, a), [(3, 37), (3, 37), (1,)]),
    ("two-scalars", lambda c, a, b: torch.where(c, 1.0, 2.5), [(3, 37), (1,), (1,)]),
    ("masked-fill-scalar", lambda c, a, b: a.masked_fill(c, float("-inf")), [(2, 8, 8), (2, 8, 8), (1,)]),
    ("masked-fill-bcast-mask", lambda c, a, b: a.masked_fill(c, 3.0), [(1, 8), (5, 8), (1,)]),
    ("masked-fill-tensor", lambda c, a, b: a.masked_fill(c, b[0]), [(5, 8), (5, 8), (1,)]),
]


@pytest.mark.parametrize("name,fn,shapes", WHERE, ids=[c[0] for c in WHERE])
def test_where(name, fn, shapes, device):
    c = torch.randn(shapes[0]) > 0
    a, b = torch.randn(shapes[1]), torch.randn(shapes[2])
    tol = dict(atol=0.05, rtol=0.02) if name == "masked-fill-scalar" else {}   # -inf: compare values, not PCC
    check_lowered(fn, (c, a, b), device=device, expect=("where",), **tol)


def test_index_put_boolean_mask(device):
    a, m, v = torch.randn(6, 5), torch.randn(6) > 0, torch.randn(1)

    def f(t, k, x):
        t = t.clone()
        t[k] = x
        return t
    check_lowered(f, (a, m, v), device=device, expect=("where",))


def test_where_int64_and_bool_exact(device):
    c = torch.randn(4, 9) > 0
    a = torch.randint(-(2 ** 30), 2 ** 30, (4, 9))
    b = torch.randn(4, 9) > 0

    def f(cond, x, y):
        return torch.where(cond, x, 7), torch.where(cond, y, ~y), x.masked_fill(cond, -3)
    check_lowered(f, (c, a, b), device=device, expect=("where",))


def test_attention_mask_pattern(device):
    """A causal mask built on the device (arange comparisons) applied with masked_fill."""
    def f(s):
        n = s.shape[-1]
        keep = torch.arange(n)[None, :] <= torch.arange(n)[:, None]
        return s.masked_fill(~keep, float("-inf")).softmax(-1)
    option = check_lowered(f, (torch.randn(2, 40, 40),), device=device, expect=("where", "arange"))
    g = option._out_fx_graphs[0]
    assert [n.target.__name__ for n in g.nodes if n.op == "call_function"].count("from_torch") == 1
