"""End-to-end behaviour of the backend: lowering, data movement, load-params-once, fallback, reports."""
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
    with pytest.raises(Exception, match="strict"):
        compile_and_run(f, (torch.randn(3),), device=device, strict=True)


def test_intermediates_are_deallocated(device):
    def f(x):
        return torch.exp(torch.exp(torch.exp(x)))
    x = torch.randn(64, 64) * 0.1
    compile_and_run(f, (x,), device=device)
    dram = device.memory_stats()["DRAM"]
    assert dram["current_bytes"] == 0, dram
