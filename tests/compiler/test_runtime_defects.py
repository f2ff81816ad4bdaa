"""Defects a new user hits (issue 9 §2): stale weights, inference_mode, closing the shared device, memory of
deleted compiled models."""
import gc

import pytest
import torch

import torch_ttnn
from torch_ttnn.metrics import pcc


@pytest.fixture(autouse=True)
def _fresh_dynamo():
    torch._dynamo.reset()
    yield
    torch._dynamo.reset()


def _compile(m, device, **kw):
    return torch.compile(m, backend=torch_ttnn.backend, options=torch_ttnn.TorchTtnnOption(device=device, **kw))


@pytest.mark.parametrize("change", ["data_mul", "copy_no_grad", "load_state_dict"])
def test_weights_changed_in_place_are_reloaded(device, change):
    m = torch.nn.Linear(8, 4).eval()
    c = _compile(m, device)
    x = torch.randn(2, 8)
    with torch.no_grad():
        c(x)
        if change == "data_mul":
            m.weight.data.mul_(0)
            m.bias.data.fill_(1)
        elif change == "copy_no_grad":
            m.weight.copy_(torch.zeros(4, 8))
            m.bias.copy_(torch.ones(4))
        else:
            m.load_state_dict({"weight": torch.zeros(4, 8), "bias": torch.ones(4)})
        torch.testing.assert_close(c(x), torch.ones(2, 4))


def test_folded_parameters_follow_changes_written_through_data(device):
    m = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3), torch.nn.BatchNorm2d(4)).eval()
    c = _compile(m, device)
    x = torch.randn(1, 3, 8, 8)
    with torch.no_grad():
        c(x)
        m[1].running_mean.data.add_(5.0)          # conv+bn is folded on the host: the fold must rerun
        torch.testing.assert_close(c(x), m(x), atol=0.1, rtol=0.05)


def test_version_mode_skips_hashing_but_sees_version_bumps(device):
    m = torch.nn.Linear(8, 4).eval()
    c = _compile(m, device, param_check="version")
    x = torch.randn(2, 8)
    with torch.no_grad():
        c(x)
        m.weight.zero_()                          # in place on the parameter: its version counter moves
        m.bias.fill_(1)
        torch.testing.assert_close(c(x), torch.ones(2, 4))
    with pytest.raises(ValueError, match="param_check"):
        torch_ttnn.TorchTtnnOption(param_check="never")


def test_conv_under_inference_mode(device):
    m = torch.nn.Sequential(torch.nn.Conv2d(3, 8, 3, padding=1), torch.nn.ReLU()).eval()
    c = _compile(m, device)
    x = torch.randn(1, 3, 16, 16)
    with torch.inference_mode():
        y = c(x)
        y2 = c(x)
    assert pcc(y, m(x).detach()) > 0.99
    torch.testing.assert_close(y, y2)


def test_closing_a_device_from_open_device_keeps_the_default_backend_working():
    f = torch.compile(lambda x: torch.relu(x) + 1, backend="ttnn")
    x = torch.randn(8)
    torch.testing.assert_close(f(x), torch.relu(x) + 1, atol=0.02, rtol=0.01)
    d = torch_ttnn.open_device()
    torch_ttnn.close_device(d)                    # one user gives its handle back; the backend's stays open
    assert d.is_open
    torch.testing.assert_close(f(x), torch.relu(x) + 1, atol=0.02, rtol=0.01)
    g = torch.compile(lambda x: x * 3, backend="ttnn")
    torch.testing.assert_close(g(x), x * 3, atol=0.05, rtol=0.01)


def test_a_closed_default_device_is_reopened():
    import torch_ttnn.sim as sim
    from torch_ttnn import runtime
    d = runtime.default_device()
    sim.close_device(d)                           # closed behind the runtime's back
    f = torch.compile(lambda x: x - 2, backend="ttnn")
    x = torch.randn(4)
    torch.testing.assert_close(f(x), x - 2, atol=0.05, rtol=0.01)
    assert runtime.default_device().is_open and runtime.default_device() is not d


def test_deleted_compiled_model_releases_its_device_memory(device):
    dram = device.memory_stats()["DRAM"]
    base = dram["current_bytes"] if "current_bytes" in dram else dram["current"]
    m = torch.nn.Sequential(torch.nn.Linear(256, 256), torch.nn.ReLU(), torch.nn.Linear(256, 256)).eval()
    c = _compile(m, device, precision="bf16")
    with torch.no_grad():
        c(torch.randn(4, 256))

    def current():
        d = device.memory_stats()["DRAM"]
        return d["current_bytes"] if "current_bytes" in d else d["current"]

    assert current() >= base + 2 * 256 * 256 * 2      # two bf16 weight matrices resident
    del c
    torch._dynamo.reset()
    gc.collect()
    assert current() <= base + 4096, current() - base


def test_float32_state_updated_in_forward_keeps_its_precision():
    class Acc(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.register_buffer("t", torch.zeros(()))
            self.register_buffer("small", torch.full((), 10.0))

        def forward(self, x):
            self.t += x.sum()
            self.small += 1e-3            # below bfloat16's resolution at 10: lost on the device
            return x * 2

    m, ref = Acc(), Acc()
    c = torch.compile(m, backend="ttnn")
    with torch.no_grad():
        for _ in range(300):
            y = c(torch.full((4,), 0.25))
            ref(torch.full((4,), 0.25))
    torch.testing.assert_close(y, torch.full((4,), 0.5))
    assert float(m.t) == 300.0
    torch.testing.assert_close(m.small, ref.small, rtol=1e-6, atol=1e-6)     # float32 arithmetic, as eager


@pytest.mark.parametrize("fp32", [False, True])
def test_nan_follows_the_packer_rule_and_fp32_keeps_it(device, fp32):
    # FACTS.md: the packer rounds float32 to bfloat16 with NaN -> Inf; float32 outputs keep NaN
    x = torch.tensor([float("nan"), 1.0, -1.0, 4.0])
    f = _compile(lambda x: (x + 1, torch.log(x), torch.sqrt(x)), device, fp32=fp32)
    for out in f(x):
        assert torch.isnan(out[0]) if fp32 else torch.isinf(out[0]), (fp32, out)
    assert torch.isnan(f(x)[1][2]) if fp32 else torch.isinf(f(x)[1][2])       # log(-1)


def test_modelled_throughput_counts_the_callers_batch(device):
    """The batch of a call is the leading dim of the caller's first input, not of the graph's first input
    (aot_autograd lifts parameters into the graph's inputs: here a [2, 16] table comes first), so the modelled
    throughput of a batch of 8 is 8 samples over the modelled latency."""
    from torch_ttnn.metrics import measure

    class M(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.kind = torch.nn.Embedding(2, 16)
            self.lin = torch.nn.Linear(16, 4)

        def forward(self, ids):
            return self.lin(self.kind(ids))

    torch.manual_seed(0)
    m = measure("batch8", M().eval(), (torch.randint(0, 2, (8, 5)),), device=device, runs=1)
    assert m.success, m.error
    s = m.modelled
    assert s["batch"] == 8
    assert s["throughput_per_s"] == pytest.approx(8 / (s["latency_ms"] / 1e3), rel=0.01)
