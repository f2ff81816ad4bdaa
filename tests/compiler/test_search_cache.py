"""The precision search's decision, kept on disk and reused by a later compile of the same graph and values."""
import json

import pytest
import torch

import torch_ttnn
from torch_ttnn.compiler import precision
from torch_ttnn.compiler.passes.precision import MixedLevel


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_TTNN_CACHE", str(tmp_path))
    monkeypatch.setenv("TORCH_TTNN_SEARCH_CACHE", "1")
    torch._dynamo.reset()
    yield tmp_path / "search"
    torch._dynamo.reset()


def _compile_and_run(m, x, device, calls):
    option = torch_ttnn.TorchTtnnOption(device=device)
    c = torch.compile(m, backend=torch_ttnn.backend, options=option)
    with torch.no_grad():
        y = c(x)
    torch._dynamo.reset()
    return y, option.results.precision


def _model():
    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Linear(256, 512), torch.nn.GELU(), torch.nn.Linear(512, 64)).eval()


def test_a_second_compile_reuses_the_decision(cache, device, monkeypatch):
    runs = []
    real = precision.PrecisionSearch._run
    monkeypatch.setattr(precision.PrecisionSearch, "_run",
                        lambda self, level, l1, args: runs.append(str(level)) or real(self, level, l1, args))
    m, x = _model(), torch.randn(32, 256)
    y1, (d1,) = _compile_and_run(m, x, device, runs)
    searched = list(runs)
    assert len(list(cache.glob("*.json"))) == 1 and "cached" not in d1
    runs.clear()
    y2, (d2,) = _compile_and_run(m, x, device, runs)
    assert d2["cached"] is True and d2["chosen"] == d1["chosen"] and d2["tried"] == json.loads(json.dumps(d1["tried"]))
    assert runs == [d1["chosen"]] and len(searched) >= 1       # one program compiled and run, nothing else
    assert torch.equal(y1, y2)


def test_other_weights_or_inputs_search_again(cache, device):
    m, x = _model(), torch.randn(32, 256)
    _compile_and_run(m, x, device, [])
    _, (d,) = _compile_and_run(m, x + 1, device, [])          # other sample inputs: other accuracy
    assert "cached" not in d
    with torch.no_grad():
        m[0].weight.mul_(0.5)
    _, (d,) = _compile_and_run(m, x, device, [])
    assert "cached" not in d
    assert len(list(cache.glob("*.json"))) == 3


def test_off_by_environment(cache, device, monkeypatch):
    monkeypatch.setenv("TORCH_TTNN_SEARCH_CACHE", "0")
    m, x = _model(), torch.randn(32, 256)
    _compile_and_run(m, x, device, [])
    _, (d,) = _compile_and_run(m, x, device, [])
    assert "cached" not in d and not cache.exists()


def test_a_refused_cached_program_searches_again(cache, device, monkeypatch):
    m, x = _model(), torch.randn(32, 256)
    _compile_and_run(m, x, device, [])
    (f,) = cache.glob("*.json")
    entry = json.loads(f.read_text())
    entry["level"] = "no-such-level"           # a decision this code cannot build
    f.write_text(json.dumps(entry))
    _, (d,) = _compile_and_run(m, x, device, [])
    assert "cached" not in d                   # searched again, and stored again
    assert json.loads(f.read_text())["level"] != "no-such-level"


def test_mixed_levels_round_trip():
    lv = MixedLevel("bf16", "bfp8-lofi", frozenset({("linear", (1024, 4096)), ("matmul", None)}), 3)
    assert precision._level_from_json(json.loads(json.dumps(precision._level_to_json(lv)))) == lv
    assert precision._level_from_json(precision._level_to_json("bfp8-lofi")) == "bfp8-lofi"


def test_graph_constants_are_part_of_the_key(cache, device):
    """A tensor the graph holds as an attribute (not a lifted input) keys the decision like the inputs do."""
    g = torch.fx.Graph()
    x = g.placeholder("x")
    c = g.get_attr("scale")
    g.output(g.call_function(torch.ops.aten.mul.Tensor, (x, c)))
    root = torch.nn.Module()
    root.scale = torch.ones(4)
    gm = torch.fx.GraphModule(root, g)
    keys = []
    for value in (1.0, 2.0):
        gm.scale = torch.full((4,), value)
        search = precision.PrecisionSearch(gm, ("bfp8-lofi", "bf16"),
                                           option=torch_ttnn.TorchTtnnOption(device=device), compile_fn=None)
        keys.append(precision._search_key(search, [torch.ones(4)]))
    assert None not in keys and keys[0] != keys[1]
