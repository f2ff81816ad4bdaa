"""Data parallelism over a simulated mesh: TorchTtnnOption(mesh=..., parallel="data")."""
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


@pytest.fixture(scope="module")
def n300():
    m = ttnn.open_mesh_device(ttnn.MeshShape(1, 2), l1_small_size=16384, trace_region_size=1 << 20, system="n300")
    yield m
    ttnn.close_mesh_device(m)


@pytest.fixture(scope="module")
def t3000():
    m = ttnn.open_mesh_device(ttnn.MeshShape(2, 4), l1_small_size=16384, system="t3000")
    yield m
    ttnn.close_mesh_device(m)


def _run(model, x, *, dynamic=True, calls=2, **kw):
    option = torch_ttnn.TorchTtnnOption(**kw)
    c = torch.compile(model, backend=torch_ttnn.backend, options=option, dynamic=dynamic)
    with torch.no_grad():
        for _ in range(calls):
            y = c(x)
    return y, option


def _mlp():
    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Linear(64, 128), torch.nn.GELU(), torch.nn.Linear(128, 32)).eval()


def test_batch_is_split_over_the_chips_and_outputs_joined(n300):
    m, x = _mlp(), torch.randn(8, 64)
    y, opt = _run(m, x, mesh=n300)
    assert opt.results.parallel == [{"graph": 0, "kind": "inference", "chips": 2, "mode": "data", "reason": None,
                                     "batch": 8, "all_reduced": []}]
    assert y.shape == (8, 32) and pcc(y, m(x)) >= 0.99
    # each chip received its half of the input: 4 rows of 64 bf16 values, padded to one 32x64 tile row
    gm = opt.results.graph_modules[-1]
    assert "mesh_mapper" in gm.code and "mesh_composer" in gm.code
    for chip in n300.chips:
        assert chip.counters.op_launches["linear"] >= 2
    single, _ = _run(m, x, device=torch_ttnn.open_device(device_id=0))
    assert pcc(y, single) >= 0.999


def test_graphs_that_cannot_be_split_run_whole_on_every_chip_and_say_why(n300):
    m, x = _mlp(), torch.randn(8, 64)
    y, opt = _run(m, x, mesh=n300, dynamic=False, parallel="data")   # static capture: batch literals baked in
    (p,) = opt.results.parallel
    assert p["mode"] == "replicated" and "dynamic=True" in p["reason"] and pcc(y, m(x)) >= 0.99

    class Center(torch.nn.Module):
        def forward(self, x):
            return x - x.mean(0, keepdim=True)            # mixes samples across the batch
    torch._dynamo.reset()
    y, opt = _run(Center(), x, mesh=n300)
    (p,) = opt.results.parallel
    assert p["mode"] == "replicated" and "mixes samples" in p["reason"]
    assert pcc(y, Center()(x)) >= 0.99
    torch._dynamo.reset()
    x3 = torch.randn(3, 64)
    y, opt = _run(m, x3, mesh=n300, calls=1)
    assert opt.results.parallel[-1]["mode"] == "replicated" and "does not divide" in opt.results.parallel[-1]["reason"]
    assert pcc(y, m(x3)) >= 0.99


def test_a_cnn_on_a_2x4_mesh_equals_the_single_chip_result(t3000):
    torch.manual_seed(0)
    m = torch.nn.Sequential(torch.nn.Conv2d(3, 16, 3, padding=1), torch.nn.BatchNorm2d(16), torch.nn.ReLU(),
                            torch.nn.MaxPool2d(2), torch.nn.Conv2d(16, 32, 3, padding=1), torch.nn.ReLU(),
                            torch.nn.AdaptiveAvgPool2d(1), torch.nn.Flatten(), torch.nn.Linear(32, 10)).eval()
    x = torch.randn(16, 3, 32, 32)
    y, opt = _run(m, x, mesh=t3000, calls=1)
    assert opt.results.parallel[-1]["mode"] == "data"
    assert pcc(y, m(x)) >= 0.99
    torch._dynamo.reset()
    single, _ = _run(m, x, device=torch_ttnn.open_device(device_id=0), calls=1)
    assert pcc(y, single) >= 0.99
    for chip in t3000.chips:                                  # 2 images a chip
        assert chip.counters.op_launches["conv2d"] >= 2


def test_a_transformer_encoder_splits_and_keeps_accuracy(n300):
    torch.manual_seed(0)
    layer = torch.nn.TransformerEncoderLayer(64, 4, 128, dropout=0.0, batch_first=True).eval()
    x = torch.randn(4, 32, 64)
    y, opt = _run(layer, x, mesh=n300, calls=1)
    assert opt.results.parallel[-1]["mode"] == "data"
    assert pcc(y, layer(x)) >= 0.99


def test_training_gradients_are_all_reduced_over_the_chips(n300):
    torch.manual_seed(0)
    m = torch.nn.Sequential(torch.nn.Linear(32, 64), torch.nn.ReLU(), torch.nn.Linear(64, 8))
    ref = [p.detach().clone() for p in m.parameters()]
    x, target = torch.randn(8, 32), torch.randn(8, 8)
    option = torch_ttnn.TorchTtnnOption(mesh=n300)
    c = torch.compile(m, backend=torch_ttnn.backend, options=option, dynamic=True)
    loss = torch.nn.functional.mse_loss(c(x), target, reduction="sum")
    loss.backward()
    grads = [p.grad.clone() for p in m.parameters()]
    m.zero_grad()
    torch.nn.functional.mse_loss(m(x), target, reduction="sum").backward()
    for g, p in zip(grads, m.parameters()):
        assert pcc(g, p.grad) >= 0.99
    kinds = {p["kind"]: p for p in option.results.parallel}
    assert kinds["forward"]["mode"] == "data" and kinds["backward"]["mode"] == "data"
    assert len(kinds["backward"]["all_reduced"]) == 4           # two weights, two biases
    for chip in n300.chips:
        assert chip.counters.op_launches["all_reduce"] == 4
    assert all(torch.equal(a, b) for a, b in zip(ref, m.parameters()))


def test_a_sum_over_the_batch_is_all_reduced(n300):
    class Total(torch.nn.Module):
        def forward(self, x):
            return (x * 2).sum(0)
    x = torch.randn(8, 64)
    y, opt = _run(Total(), x, mesh=n300, calls=1)
    assert opt.results.parallel[-1]["mode"] == "data" and opt.results.parallel[-1]["all_reduced"] == [0]
    assert pcc(y, Total()(x)) >= 0.99


def test_mesh_option_validation(n300):
    assert torch_ttnn.TorchTtnnOption(mesh=n300, parallel="tensor").parallel == "tensor"
    with pytest.raises(ValueError, match="either device or mesh"):
        torch_ttnn.TorchTtnnOption(mesh=n300, device=torch_ttnn.open_device(device_id=0))
    with pytest.raises(ValueError, match="parallel"):
        torch_ttnn.TorchTtnnOption(mesh=n300, parallel="pipeline")
    from torch_ttnn import runtime
    with pytest.raises(ValueError, match="unknown simulated system"):
        runtime.open_mesh("n9000")
    with pytest.raises(TypeError, match="MeshDevice"):
        runtime.open_mesh(42)
