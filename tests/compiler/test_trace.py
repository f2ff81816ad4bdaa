"""trace="auto": compiled inference graphs are captured into a TT-NN trace on their second call and replayed."""
import pytest
import torch

import torch_ttnn
from torch_ttnn.metrics import pcc


@pytest.fixture(autouse=True)
def _fresh_dynamo():
    torch._dynamo.reset()
    yield
    torch._dynamo.reset()


def _mlp():
    return torch.nn.Sequential(torch.nn.Linear(64, 128), torch.nn.GELU(), torch.nn.Linear(128, 16),
                               torch.nn.Softmax(-1)).eval()


def _compile(m, device, **kw):
    option = torch_ttnn.TorchTtnnOption(device=device, **kw)
    return torch.compile(m, backend=torch_ttnn.backend, options=option), option


def _calls(c, xs, device):
    """Outputs of each call, and the modelled latency and launches of the last one."""
    outs = []
    with torch.no_grad():
        for x in xs:
            device.profiler.reset()
            device.counters.reset()
            outs.append(c(x))
    return outs, device.profiler.summary()["latency_us"], device.counters.snapshot()


def test_replayed_program_computes_what_the_dispatched_one_does(tdev):
    m = _mlp()
    xs = [torch.randn(32, 64) for _ in range(5)]
    plain, opt_plain = _compile(m, tdev, trace=False)
    ref, t_plain, c_plain = _calls(plain, xs, tdev)
    torch._dynamo.reset()
    traced, opt = _compile(m, tdev)
    out, t_traced, c_traced = _calls(traced, xs, tdev)
    assert opt_plain.results.reports[-1].trace == "off"
    assert opt.results.reports[-1].trace.startswith("captured:")
    for a, b, x in zip(ref, out, xs):
        assert torch.equal(a, b)                      # bit for bit: the same programs on new inputs
        assert pcc(b, m(x)) >= 0.99
    # the same launches and transfers, without the host enqueueing each op
    assert c_traced["op_launches"] == c_plain["op_launches"]
    assert (c_traced["to_device"], c_traced["from_device"]) == (c_plain["to_device"], c_plain["from_device"])
    assert t_traced < t_plain


def test_parameter_changed_in_place_is_captured_again(tdev):
    m = _mlp()
    c, opt = _compile(m, tdev, precision="bf16")
    x = torch.randn(32, 64)
    _calls(c, [x, x, x], tdev)
    with torch.no_grad():
        m[0].weight.mul_(-1)
    (y,), _, _ = _calls(c, [x], tdev)
    assert pcc(y, m(x)) >= 0.99
    assert opt.results.reports[-1].trace.startswith("captured:")


def test_replay_skips_the_parameter_work_while_the_parameters_are_unchanged(tdev, monkeypatch):
    """A replay checks the parameters in one pass (same tensors, same stamps: storage, version, bytes) and then
    skips their loads and preparations; a write through .data (which no version counter sees) is still caught
    and the new weight used."""
    from torch_ttnn import runtime
    loads = []
    real = runtime.ParamCache.load
    monkeypatch.setattr(runtime.ParamCache, "load", lambda self, *a, **k: loads.append(1) or real(self, *a, **k))
    m = _mlp()
    c, _ = _compile(m, tdev, precision="bf16")
    x = torch.randn(32, 64)
    _calls(c, [x, x, x], tdev)                       # compile and warm up, capture, first replay
    loads.clear()
    (y0,), _, _ = _calls(c, [x], tdev)
    assert loads == []
    with torch.no_grad():
        m[2].weight.data.mul_(-1)
    (y1,), _, _ = _calls(c, [x], tdev)
    assert loads                                     # checked again, converted again
    assert pcc(y1, m(x)) >= 0.99 and not torch.equal(y0, y1)


def test_host_fallback_between_device_ops_is_not_traced_and_says_why(tdev):
    def f(x):
        return torch.exp(torch.special.bessel_j0(torch.exp(x)))
    c, opt = _compile(f, tdev)
    x = torch.randn(5, 7)
    outs, _, _ = _calls(c, [x, x, x], tdev)
    torch.testing.assert_close(outs[-1], f(x), rtol=5e-2, atol=5e-2)
    assert opt.results.reports[-1].trace.startswith("not traced: ")
    assert "host" in opt.results.reports[-1].trace


def test_device_without_trace_region_runs_dispatched():
    import torch_ttnn.sim as ttnn
    # its own device: open_device(0) returns device 0 as another test of this process may have opened it
    dev = ttnn.open_device(device_id=3, l1_small_size=16384, trace_region_size=0)
    try:
        c, opt = _compile(_mlp(), dev)
        _calls(c, [torch.randn(32, 64)] * 3, dev)
        assert opt.results.reports[-1].trace == "not traced: the device was opened with trace_region_size=0"
    finally:
        ttnn.close_device(dev)


def test_trace_region_too_small_falls_back_with_the_reason():
    import torch_ttnn.sim as ttnn
    dev = ttnn.open_device(device_id=2, l1_small_size=16384, trace_region_size=64)
    try:
        m = _mlp()
        c, opt = _compile(m, dev)
        x = torch.randn(32, 64)
        outs, _, _ = _calls(c, [x, x, x], dev)
        assert pcc(outs[-1], m(x)) >= 0.99
        assert "trace_region_size=64" in opt.results.reports[-1].trace
        assert dev.memory_stats()["TRACE"]["current_bytes"] == 0
    finally:
        ttnn.close_device(dev)


def test_each_shape_of_a_dynamic_graph_gets_its_own_trace(tdev):
    m = _mlp()
    c, opt = _compile(m, tdev)
    xs = [torch.randn(n, 64) for n in (8, 16, 8, 16, 8, 16, 8)]
    outs, _, _ = _calls(c, xs, tdev)
    for x, y in zip(xs, outs):
        assert y.shape == (x.shape[0], 16) and pcc(y, m(x)) >= 0.99
    traced = [r.trace for r in opt.results.reports if r.trace.startswith("captured")]
    assert len(traced) >= 2


def test_traces_are_released_with_the_compiled_program(tdev):
    import gc
    c, opt = _compile(_mlp(), tdev)
    _calls(c, [torch.randn(32, 64)] * 3, tdev)
    assert tdev.memory_stats()["TRACE"]["current_bytes"] > 0
    del c
    opt.reset_results()
    torch._dynamo.reset()
    gc.collect()
    assert tdev.memory_stats()["TRACE"]["current_bytes"] == 0


def test_trace_option_is_checked():
    with pytest.raises(ValueError, match="trace must be"):
        torch_ttnn.TorchTtnnOption(trace="yes")


def test_graph_without_device_programs_is_not_kept_as_a_trace(tdev):
    c, opt = _compile(lambda x: x.reshape(2, 64, 32), tdev)
    x = torch.randn(128, 32)
    outs, _, _ = _calls(c, [x, x, x], tdev)
    assert torch.equal(outs[-1], x.reshape(2, 64, 32))
    assert opt.results.reports[-1].trace in ("not traced: no device program to replay", "not traced: no device op")
    assert tdev.memory_stats()["TRACE"]["current_bytes"] == 0
