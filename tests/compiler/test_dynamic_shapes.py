"""Dynamic shapes: a graph captured with symbolic sizes runs on the device, one program per call signature."""
import logging
import warnings

import pytest
import torch

import torch_ttnn
from torch_ttnn.metrics import pcc


def _compiled(fn, device, **kwargs):
    option = torch_ttnn.TorchTtnnOption(device=device, **{k: v for k, v in kwargs.items() if k != "dynamic"})
    return torch.compile(fn, backend=torch_ttnn.backend, options=option, dynamic=kwargs.get("dynamic")), option


def _launches(device, fn, *args):
    device.counters.reset()
    out = fn(*args)
    return out, device.counters.ops


@pytest.fixture(autouse=True)
def _fresh_dynamo():
    torch._dynamo.reset()
    yield
    torch._dynamo.reset()


def test_second_batch_size_runs_on_the_device(device):
    torch.manual_seed(0)
    m = torch.nn.Linear(32, 8).eval()
    c, option = _compiled(m, device)
    with torch.no_grad():
        for b in (1, 2, 5, 2):
            x = torch.randn(b, 32)
            y, ops = _launches(device, c, x)
            assert ops >= 1, f"batch {b}: nothing ran on the device"
            assert y.shape == (b, 8) and pcc(y, m(x)) > 0.999
    # batch 1 compiled statically; the symbolic graph built one program per new batch (2 and 5)
    progs = option.results.programs
    assert [p["shapes"].endswith(f"[{b}, 32])") for p, b in zip(progs, (2, 5))] == [True, True]
    assert len(progs) == 2
    assert all(r.fallbacks == {} for r in option.results.reports)


def test_dynamic_true_runs_on_the_device(device):
    m = torch.nn.Sequential(torch.nn.Linear(16, 16), torch.nn.GELU(), torch.nn.LayerNorm(16)).eval()
    c, option = _compiled(m, device, dynamic=True)
    with torch.no_grad():
        for b in (3, 7):
            x = torch.randn(b, 16)
            y, ops = _launches(device, c, x)
            assert ops >= 2 and pcc(y, m(x)) > 0.99    # linear+gelu (fused), layer_norm
    assert len(option.results.programs) == 2


def test_python_int_made_symbolic():
    # dynamo turns the changing int into a SymInt input; it used to crash inside lowering
    f = torch.compile(lambda x, n: torch.arange(4) + n + x, backend="ttnn")
    for n in (3, 5, 7):
        x = torch.randn(4)
        torch.testing.assert_close(f(x, n), torch.arange(4) + n + x, atol=0.05, rtol=0.01)


def test_varying_sequence_length_attention(device):
    torch.manual_seed(0)
    layer = torch.nn.MultiheadAttention(64, 4, batch_first=True).eval()

    def fn(x):
        return layer(x, x, x, need_weights=False)[0]

    c, option = _compiled(fn, device)
    with torch.no_grad():
        for seq in (8, 13, 40):
            x = torch.randn(2, seq, 64)
            y, ops = _launches(device, c, x)
            assert ops > 3 and pcc(y, fn(x)) > 0.99
    for r in option.results.reports:
        assert not any("symbolic" in reason for _, reason in r.fallbacks), r.fallbacks


def test_training_with_varying_batch(device):
    torch.manual_seed(0)
    m = torch.nn.Sequential(torch.nn.Linear(8, 16), torch.nn.ReLU(), torch.nn.Linear(16, 1))
    ref = torch.nn.Sequential(torch.nn.Linear(8, 16), torch.nn.ReLU(), torch.nn.Linear(16, 1))
    ref.load_state_dict(m.state_dict())
    c, option = _compiled(m, device)
    for b in (4, 6, 9):
        x = torch.randn(b, 8)
        m.zero_grad(), ref.zero_grad()
        with warnings.catch_warnings():    # the compiled backward takes boxed arguments (no aot warning)
            warnings.filterwarnings("error", message=".*boxed arguments.*")
            c(x).sum().backward()
        ref(x).sum().backward()
        for p, q in zip(m.parameters(), ref.parameters()):
            assert pcc(p.grad, q.grad) > 0.99
    kinds = {p["kind"] for p in option.results.programs}
    assert kinds == {"forward", "backward"}


def test_program_cache_is_bounded_and_warns(device, caplog):
    m = torch.nn.Linear(4, 4).eval()
    c, option = _compiled(m, device, max_programs=2)
    with torch.no_grad(), caplog.at_level(logging.WARNING, logger="torch_ttnn"):
        for b in (1, 2, 3, 4, 5):
            x = torch.randn(b, 4)
            torch.testing.assert_close(c(x), m(x), atol=0.05, rtol=0.02)
    progs = option.results.programs
    assert len(progs) == 4                                  # batches 2..5 (batch 1 was the static graph)
    assert sum(p["cached"] for p in progs) == 2
    warnings = [r.getMessage() for r in caplog.records if "max_programs" in r.getMessage()]
    assert len(warnings) == 1 and "shape_buckets" in warnings[0]


def test_max_programs_must_be_positive():
    with pytest.raises(ValueError, match="max_programs"):
        torch_ttnn.TorchTtnnOption(max_programs=0)


def test_shape_buckets_reuse_programs_for_independent_rows(device):
    m = torch.nn.Sequential(torch.nn.Linear(32, 16), torch.nn.ReLU()).eval()
    c, option = _compiled(m, device, shape_buckets="auto")
    with torch.no_grad():
        for b in (1, 2, 3, 5, 6, 7, 8, 3):
            x = torch.randn(b, 32)
            y, ops = _launches(device, c, x)
            assert ops >= 1 and y.shape == (b, 16) and pcc(y, m(x)) > 0.999
    # batch 1 is the first, static graph; 2, 3..4, 5..8 share three bucket programs
    assert [p["shapes"].endswith(f"[{b}, 32])") for p, b in zip(option.results.programs, (2, 4, 8))] == [True] * 3
    assert len(option.results.programs) == 3 and option.results.bucket_refusals == []


def test_shape_buckets_with_an_attention_mask(device):
    torch.manual_seed(0)
    qkv = torch.nn.Linear(32, 96).eval()

    def attend(x, mask):            # HF-style mask: 1 attends, 0 is masked; zero padding masks the padding
        q, k, v = qkv(x).chunk(3, dim=-1)
        scores = q @ k.transpose(-1, -2) / 32 ** 0.5 + (1.0 - mask[:, None, :]) * -1e9
        return scores.softmax(-1) @ v

    c, option = _compiled(attend, device, shape_buckets=[16, 64])
    with torch.no_grad():
        for s in (5, 9, 16, 40, 70):
            x, mask = torch.randn(2, s, 32), torch.ones(2, s)
            mask[1, -2:] = 0
            y = c(x, mask)
            assert y.shape == (2, s, 32) and pcc(y, attend(x, mask)) > 0.99, s
    assert option.results.bucket_refusals == []
    sizes = [p["shapes"] for p in option.results.programs]
    # 9 and 16 share the 16 bucket, 40 gets 64, 70 (beyond the buckets) its own exact program
    assert len(sizes) == 3 and any("70" in s for s in sizes)


def test_shape_buckets_refuse_padding_that_changes_the_result(device, caplog):
    layer = torch.nn.MultiheadAttention(64, 4, batch_first=True).eval()

    def fn(x):                      # no mask: padded keys would take part in the softmax
        return layer(x, x, x, need_weights=False)[0]

    c, option = _compiled(fn, device, shape_buckets="auto")
    with torch.no_grad(), caplog.at_level(logging.WARNING, logger="torch_ttnn"):
        for s in (8, 13, 21):
            x = torch.randn(2, s, 64)
            assert pcc(c(x), fn(x)) > 0.99
    assert len(option.results.bucket_refusals) == 1
    assert any("shape buckets switched off" in r.getMessage() for r in caplog.records)
    assert not any(p.get("bucket") for p in option.results.programs)


@pytest.mark.parametrize("bad", [0, "always", [0, 4], [4, "8"]])
def test_shape_buckets_policy_is_checked(bad):
    with pytest.raises(ValueError, match="shape_buckets"):
        torch_ttnn.TorchTtnnOption(shape_buckets=bad)
