"""End-to-end behaviour of the backend: lowering, data movement, load-params-once, fallback, reports."""
import collections
import pathlib

import pytest
import torch

import torch_ttnn
import torch_ttnn.sim as ttnn

from .harness import check_lowered, compile_and_run, remaining_aten_ops


def test_unary_op_is_lowered_and_matches(device):
    x = torch.randn(3, 45)
    option = check_lowered(torch.exp, (x,), device=device, expect=("exp",))
    g = option._out_fx_graphs[0]
    targets = [n.target for n in g.nodes]
    assert targets.count(ttnn.exp) == 1
    assert targets.count(ttnn.from_torch) == 1 and targets.count(ttnn.to_torch) == 1


def test_transfers_equal_inputs_plus_outputs(device):
    def f(x, y):
        return torch.exp(x).sin() * 2, torch.cos(y)
    x, y = torch.randn(4, 40), torch.randn(33)
    with torch.no_grad():
        compile_and_run(f, (x, y), device=device)  # compile (first call)
        device.counters.reset()
        _, option = compile_and_run(f, (x, y), device=device)
    before = device.counters.snapshot()
    assert before["to_device"] == 2 and before["from_device"] == 2


def test_fallback_runs_on_host_and_is_reported(device):
    def f(x):
        return torch.exp(torch.special.bessel_j0(torch.exp(x)))
    x = torch.randn(5, 7)
    out, option = compile_and_run(f, (x,), device=device)
    torch.testing.assert_close(out, f(x), rtol=5e-2, atol=5e-2)
    left = remaining_aten_ops(option)
    assert left == ["aten.special_bessel_j0.default"]
    report = torch_ttnn.lowering_report(option)
    assert "aten.special_bessel_j0.default" in report and "left on the host" in report


def test_strict_mode_turns_fallback_into_error(device):
    def f(x):
        return torch.special.bessel_j0(x)
    from torch_ttnn.compiler.report import FallbackError
    with pytest.raises(Exception, match="strict") as info:
        compile_and_run(f, (torch.randn(3),), device=device, strict=True)
    err = info.value
    while not isinstance(err, FallbackError) and err.__cause__ is not None:   # dynamo wraps backend errors
        err = err.__cause__
    assert isinstance(err, FallbackError)
    assert str(err).startswith("aten.special_bessel_j0.default cannot be lowered to TT-NN")   # op and reason first


def test_intermediates_are_deallocated(device):
    def f(x):
        return torch.exp(torch.exp(torch.exp(x)))
    x = torch.randn(64, 64) * 0.1
    compile_and_run(f, (x,), device=device)
    dram = device.memory_stats()["DRAM"]
    assert dram["current_bytes"] == 0, dram


def _mlp():
    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Linear(40, 64), torch.nn.ReLU(), torch.nn.Linear(64, 8)).eval()


def test_parameters_are_converted_once(device):
    model = _mlp()
    option = torch_ttnn.TorchTtnnOption(device=device)
    compiled = torch.compile(model, backend=torch_ttnn.backend, options=option)
    x = torch.randn(3, 40)
    with torch.no_grad():
        compiled(x)
        device.counters.reset()
        out = compiled(x)
    # second call: only the user input goes to the device, only the output comes back
    assert device.counters.to_device == 1 and device.counters.from_device == 1
    caches = [gm.param_cache for gm in option.results.graph_modules if hasattr(gm, "param_cache")]
    assert caches and sum(c.conversions for c in caches) == sum(c.hits for c in caches)
    torch.testing.assert_close(out, model(x), rtol=0.05, atol=0.05)


def test_parameter_update_is_seen(device):
    model = _mlp()
    option = torch_ttnn.TorchTtnnOption(device=device)
    compiled = torch.compile(model, backend=torch_ttnn.backend, options=option)
    x = torch.randn(3, 40)
    with torch.no_grad():
        compiled(x)
        model[2].bias.add_(10.0)          # an in-place update bumps the version: reconverted
        out = compiled(x)
    torch.testing.assert_close(out, model(x), rtol=0.05, atol=0.1)


def test_bypass_compile_runs_torch(device):
    model = _mlp()
    option = torch_ttnn.TorchTtnnOption(device=device, bypass_compile=True)
    compiled = torch.compile(model, backend=torch_ttnn.backend, options=option)
    x = torch.randn(3, 40)
    with torch.no_grad():
        torch.testing.assert_close(compiled(x), model(x))
    assert device.counters.transfers == 0


def test_registered_backend_name():
    torch._dynamo.reset()
    model = _mlp()
    compiled = torch.compile(model, backend="ttnn")
    x = torch.randn(2, 40)
    with torch.no_grad():
        torch.testing.assert_close(compiled(x), model(x), rtol=0.05, atol=0.05)


def test_gen_graphviz_writes_svg_per_pass(device, tmp_path):
    option = torch_ttnn.TorchTtnnOption(device=device, gen_graphviz=True, metrics_path=str(tmp_path))
    compiled = torch.compile(torch.exp, backend=torch_ttnn.backend, options=option)
    compiled(torch.randn(4, 4))
    files = sorted(p.name for p in (tmp_path / "graphviz").rglob("*") if p.is_file())
    assert any(f.endswith("lower_to_ttnn.svg") or f.endswith("lower_to_ttnn.dot") for f in files), files
    assert len(files) >= 5


def test_gen_graphviz_without_metrics_path_uses_a_temporary_folder(device, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)                  # ./metrics must stay untouched
    option = torch_ttnn.TorchTtnnOption(device=device, gen_graphviz=True)
    torch.compile(torch.exp, backend=torch_ttnn.backend, options=option)(torch.randn(4, 4))
    assert not (tmp_path / "metrics").exists()
    out = pathlib.Path(option._graphviz_tmp) / "graphviz"
    assert any(p.is_file() for p in out.rglob("*"))


def test_unknown_option_is_an_error():
    with pytest.raises(TypeError, match="unknown option"):
        torch_ttnn.TorchTtnnOption(devcie=None)


def test_import_changes_no_global_configuration():
    import subprocess
    import sys
    code = ("import torch._dynamo.config as c, torch._functorch.config as f; before=(dict(c.__dict__.get('_config', {})));"
            "import torch_ttnn; after=dict(c.__dict__.get('_config', {})); print(before == after)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip().endswith("True")


def test_conv_batch_norm_is_folded_once(device):
    from torch_ttnn.zoo import get
    model, inputs = get("small-cnn").build()
    option = torch_ttnn.TorchTtnnOption(device=device)
    compiled = torch.compile(model, backend=torch_ttnn.backend, options=option)
    with torch.no_grad():
        compiled(*inputs)
        out = compiled(*inputs)
    gm = option.results.graph_modules[0]
    assert gm.folded_params.runs == 1
    assert "aten._native_batch_norm_legit_no_training.default" not in str(gm.graph)
    torch.testing.assert_close(out, model(*inputs), rtol=0.1, atol=0.1)


def test_ops_with_empty_results_are_folded_not_left_on_the_host(device):
    # detection post-processing when no box passes the threshold: the graph has static [0, 4] shapes
    def f(x, k):
        boxes = x[x[:, 0] > 10.0]                       # nothing passes: a data-dependent graph break
        return (boxes * 2 + 1).clamp(0, 5).unsqueeze(0), torch.cat([boxes, k]).sum(0), boxes.new_empty((0, 2))
    x, k = torch.rand(64, 4), torch.rand(3, 4)
    out, option = compile_and_run(f, (x, k), device=device)
    ref = f(x, k)
    assert out[0].shape == ref[0].shape == (1, 0, 4) and out[0].dtype == ref[0].dtype
    torch.testing.assert_close(out[1], ref[1], rtol=2e-2, atol=2e-2)   # cat drops the empty operand on TT-NN
    empties = sum((r.empty_results for r in option.results.reports), start=collections.Counter())
    assert empties["aten.mul.Tensor"] == 1 and empties["aten.clamp.default"] == 1
    assert out[2].shape == (0, 2)
    assert remaining_aten_ops(option) == []


def test_the_implicit_option_of_backend_ttnn_keeps_only_its_last_programs():
    # backend="ttnn" without options compiles onto a process-wide option nobody reads: a long session that
    # compiles many models must not keep every graph module alive
    import torch._dynamo
    import importlib
    be = importlib.import_module("torch_ttnn.backend")
    for i in range(be.DEFAULT_OPTION_KEEP + 4):
        torch._dynamo.reset()
        with torch.no_grad():
            torch.compile(lambda x, k=i: x * (k + 2), backend="ttnn")(torch.randn(4, 8))
    res = be._DEFAULT_OPTION.results
    assert len(res.graph_modules) == len(res.reports) == len(res.graphs) == len(res.aten_graph_modules)
    assert len(res.graph_modules) <= be.DEFAULT_OPTION_KEEP
