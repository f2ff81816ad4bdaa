"""torch_ttnn.stream: each next batch written on the device's second command queue while the current one runs
(compiler/trace.py); the same values as plain calls, a shorter modelled call in the steady state, and nothing
stale when an announced batch changes before its call."""
import pytest
import torch

import torch_ttnn
import torch_ttnn.sim as ttnn
from torch_ttnn.metrics import pcc


@pytest.fixture(autouse=True)
def _fresh_dynamo():
    torch._dynamo.reset()
    yield
    torch._dynamo.reset()


@pytest.fixture
def dev2():
    """A simulated device with a trace region and two command queues."""
    d = ttnn.open_device(device_id=3, l1_small_size=16384, trace_region_size=1 << 20, num_command_queues=2)
    yield d
    ttnn.close_device(d)


def _model():
    torch.manual_seed(0)
    # a wide input and a small program: the input's transfer is most of a plain call
    return torch.nn.Sequential(torch.nn.Linear(1024, 32), torch.nn.ReLU(), torch.nn.Linear(32, 8)).eval()


def _compile(m, device, **kw):
    return torch.compile(m, backend=torch_ttnn.backend, options=torch_ttnn.TorchTtnnOption(device=device, **kw))


def _per_call(device, run, n):
    """Modelled time per call of the last n-2 of n calls made by run() (an iterator of outputs)."""
    device.profiler.reset()
    clock, outs = [], []
    for y in run():
        outs.append(y)
        clock.append(device.profiler.now_us)
    return outs, (clock[-1] - clock[1]) / (n - 2)


def test_stream_overlaps_the_next_upload_and_computes_the_same(dev2):
    m = _model()
    c = _compile(m, dev2)
    xs = [torch.randn(256, 1024) for _ in range(6)]
    with torch.no_grad():
        c(xs[0]), c(xs[0])                                 # compiled, captured
        plain, t_plain = _per_call(dev2, lambda: (c(x) for x in xs), len(xs))
        with dev2.profiler.record():
            streamed, t_stream = _per_call(dev2, lambda: torch_ttnn.stream(c, xs), len(xs))
        rows = dev2.profiler.rows
    for a, b, x in zip(plain, streamed, xs):
        assert torch.equal(a, b)
        assert pcc(b, m(x)) >= 0.99
    # every batch after the first written on queue 1 during the previous call, copied on the device
    assert sum(r.kind == "transfer cq1" for r in rows) == len(xs) - 1
    assert sum(r.op == "assign" for r in rows) == len(xs) - 1
    assert t_stream < 0.8 * t_plain


def test_a_batch_changed_after_it_was_announced_is_written_again(dev2):
    m = _model()
    c = _compile(m, dev2)
    xs = [torch.randn(256, 1024) for _ in range(4)]
    with torch.no_grad():
        c(xs[0]), c(xs[0])
        outs = []
        for i, y in enumerate(torch_ttnn.stream(c, xs)):
            outs.append(y)
            if i == 0:
                xs[1].mul_(-1)          # already written to the staging buffer during call 0
        ref = [c(x) for x in xs]
    for a, b in zip(outs, ref):
        assert torch.equal(a, b)


@pytest.mark.parametrize("case", ["one queue", "not traced"])
def test_stream_without_overlap_runs_plain_calls(case, tdev, dev2):
    device = tdev if case == "one queue" else dev2
    c = _compile(_model(), device, **({"trace": False} if case == "not traced" else {}))
    xs = [torch.randn(256, 1024) for _ in range(3)]
    with torch.no_grad():
        c(xs[0]), c(xs[0])
        with device.profiler.record():
            outs = list(torch_ttnn.stream(c, xs))
        ref = [c(x) for x in xs]
    assert not any(r.kind == "transfer cq1" for r in device.profiler.rows)
    for a, b in zip(outs, ref):
        assert torch.equal(a, b)


def test_stream_takes_tuples_and_dicts(dev2):
    class Two(torch.nn.Module):
        def forward(self, a, b):
            return a * 2 + b
    c = _compile(Two(), dev2)
    pairs = [(torch.randn(64, 64), torch.randn(64, 64)) for _ in range(3)]
    with torch.no_grad():
        tup = list(torch_ttnn.stream(c, pairs))
        kw = list(torch_ttnn.stream(c, [{"a": a, "b": b} for a, b in pairs]))
    for (a, b), y, z in zip(pairs, tup, kw):
        assert pcc(y, a * 2 + b) >= 0.99
        assert torch.equal(y, z)


def test_stream_needs_a_callable():
    with pytest.raises(TypeError, match="fn must be callable"):
        next(torch_ttnn.stream("model", [torch.zeros(1)]))


def test_inputs_converted_on_the_host_before_their_upload_are_streamed(dev2):
    """Token ids go through host work (a narrowing to the device's integer type) before their upload: the next
    batch's ids take the same steps during the current call."""
    torch.manual_seed(0)
    m = torch.nn.Sequential(torch.nn.Embedding(1000, 64), torch.nn.Linear(64, 16)).eval()
    c = _compile(m, dev2)
    ids = [torch.randint(0, 1000, (8, 128)) for _ in range(4)]
    with torch.no_grad():
        c(ids[0]), c(ids[0])
        with dev2.profiler.record():
            outs = list(torch_ttnn.stream(c, ids))
        rows = dev2.profiler.rows
        ref = [c(x) for x in ids]
    assert sum(r.kind == "transfer cq1" for r in rows) == len(ids) - 1
    for a, b in zip(outs, ref):
        assert torch.equal(a, b)
