"""A failing optional rewrite (fusion, view canonicalisation) is skipped, counted and reported; strict raises."""
import pytest
import torch

import torch_ttnn
from torch_ttnn.compiler.passes import fusion
from torch_ttnn.compiler.passes.base import PassError
from torch_ttnn.compiler.report import format_report


@pytest.fixture
def broken_linear_fusion(monkeypatch):
    def match(self, gm, node):
        if node.target == torch.ops.aten.addmm.default:
            raise ValueError("matcher bug")
        return False
    monkeypatch.setattr(fusion.FuseLinear, "match", match)
    torch._dynamo.reset()
    yield
    torch._dynamo.reset()


def _compile(device):
    m = torch.nn.Linear(8, 4).eval()
    opt = torch_ttnn.TorchTtnnOption(device=device, precision="bf16")
    x = torch.randn(2, 8)
    with torch.no_grad():
        y = torch.compile(m, backend=torch_ttnn.backend, options=opt)(x)
    return y, m(x), opt


def test_a_failing_fusion_is_skipped_counted_and_reported(device, broken_linear_fusion, monkeypatch):
    monkeypatch.setenv("TORCH_TTNN_STRICT_PASSES", "0")
    y, ref, opt = _compile(device)
    assert torch.allclose(y, ref, atol=0.05)                 # compiled without the fusion, still right
    (report,) = opt.results.reports
    assert report.skipped == {("fuse_linear", "ValueError: matcher bug"): 1}
    assert report.as_dict()["skipped_rewrites"] == [{"pass": "fuse_linear", "error": "ValueError: matcher bug",
                                                      "count": 1}]
    assert "fuse_linear: ValueError: matcher bug" in format_report(opt.results.reports, {})


def test_strict_mode_raises_the_matcher_error(device, broken_linear_fusion, monkeypatch):
    monkeypatch.setenv("TORCH_TTNN_STRICT_PASSES", "1")
    with pytest.raises(Exception, match="matcher bug") as e:
        _compile(device)
    assert isinstance(e.value, PassError) or "matcher bug" in str(e.value)


def test_a_model_dynamo_does_not_capture_is_not_reported_as_fully_lowered(device):
    torch._dynamo.reset()
    m = torch.nn.LSTM(8, 16, batch_first=True).eval()
    opt = torch_ttnn.TorchTtnnOption(device=device)
    with torch.no_grad():
        torch.compile(m, backend=torch_ttnn.backend, options=opt)(torch.randn(2, 5, 8))
    text = format_report(opt.results.reports, {})
    assert opt.results.reports == [] and "nothing reached the compiler" in text and "0 left on the host" not in text
    torch._dynamo.reset()
