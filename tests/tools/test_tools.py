"""The tools: tracer (stat), report, run tools, export — each on a small zoo model, checking what it writes."""
from __future__ import annotations

import csv
import json
import os
import re

import pytest
import torch

from torch_ttnn.tools import report as report_mod
from torch_ttnn.tools import stat

MODEL = "mlp"


@pytest.fixture(scope="module")
def traced(tmp_path_factory):
    """mlp traced before and after lowering, with a profile: (out folder, TraceResult)."""
    out = str(tmp_path_factory.mktemp("stat"))
    res = stat.trace_model(MODEL, out, trace_orig=True, trace_modi=True, profile=True)
    return out, res


def _load(path):
    with open(path) as f:
        return json.load(f)


def _require_ttnn_stage(res):
    if "ttnn" in res.errors:
        pytest.skip(f"the compiler failed on {MODEL}: {res.errors['ttnn']}")


# --- tracer -------------------------------------------------------------------------------------------


def test_torch_stat_backend_records_every_node(tmp_path):
    from torch_ttnn import zoo
    model, inputs = zoo.get(MODEL).build()
    option = stat.TorchStatOption(MODEL, str(tmp_path))
    compiled = torch.compile(model, backend=stat.backend, options=option)
    with torch.no_grad():
        out = compiled(*inputs)
        ref = model(*inputs)
    torch._dynamo.reset()
    assert torch.allclose(out, ref)                       # torch_stat runs the aten graph with torch
    assert len(option.graphs) == 1 and len(option.files) == 1
    gm = option.graphs[0].graph_module
    rec = _load(option.files[0])
    assert rec["stage"] == "aten" and rec["kind"] == "inference" and rec["direction"] == "fw"
    assert rec["node_count"] == len(rec["nodes"]) == len(list(gm.graph.nodes))
    addmm = [n for n in rec["nodes"] if n["op_type"] == "aten.addmm.default"]
    assert len(addmm) == sum(1 for n in gm.graph.nodes if n.target is torch.ops.aten.addmm.default) == 3
    # addmm(bias [256], x [8, 64], w^T [64, 256]) -> [8, 256], float32
    first = addmm[0]
    assert [t["shape"] for t in first["inputs"]] == [[256], [8, 64], [64, 256]]
    assert [t["size_bytes"] for t in first["inputs"]] == [256 * 4, 8 * 64 * 4, 64 * 256 * 4]
    assert first["outputs"] == [{"shape": [8, 256], "dtype": "torch.float32", "size_bytes": 8 * 256 * 4}]


def test_tensor_info_uses_device_dtype_and_tile_padding():
    import torch_ttnn.sim as ttnn
    from torch_ttnn.compiler.meta import TTMeta
    v = torch.empty(3, 40, 50, dtype=torch.float32)
    info = stat.tensor_info(v, TTMeta(ttnn.TILE_LAYOUT, ttnn.bfloat16))
    assert info["dtype"] == "ttnn.bfloat16" and info["torch_dtype"] == "torch.float32"
    assert info["size_bytes"] == 3 * 40 * 50 * 2
    assert info["padded_shape"] == [3, 64, 64] and info["padded_size_bytes"] == 3 * 64 * 64 * 2
    bf8 = stat.tensor_info(torch.empty(32, 32), TTMeta(ttnn.TILE_LAYOUT, ttnn.bfloat8_b))
    assert bf8["size_bytes"] == 1088                      # one bfloat8_b tile
    assert stat.tensor_info(torch.empty(4, 4, dtype=torch.bfloat16))["size_bytes"] == 32


def test_trace_model_writes_aten_and_ttnn_graphs(traced):
    out, res = traced
    assert res.errors.get("aten") is None
    files = sorted(os.listdir(os.path.join(out, "raw")))
    assert f"fw_{MODEL}__aten_0.json" in files
    for g in res.graphs:
        rec = _load(g["file"])
        assert rec["node_count"] == g["node_count"] == len(rec["nodes"])
        assert rec["model"] == MODEL and rec["stage"] == g["stage"]
    _require_ttnn_stage(res)
    assert f"fw_{MODEL}__ttnn_0.json" in files
    rec = _load(os.path.join(out, "raw", f"fw_{MODEL}__ttnn_0.json"))
    ops = {n["op_type"] for n in rec["nodes"]}
    assert any(o.startswith("ttnn.") for o in ops)
    device_nodes = [n for n in rec["nodes"] if n.get("device") and n["outputs"]]
    assert device_nodes and all(n["outputs"][0]["dtype"].startswith("ttnn.") for n in device_nodes)
    assert res.metrics["model_name"] == MODEL and res.metrics["success"]
    assert res.metrics["ops_before"] == sum(res.metrics["aten_ops"].values()) > 0


def test_profile_has_one_range_per_node(traced):
    out, res = traced
    prof = [p for p in res.profiles if p.endswith("__aten.json")]
    assert prof and os.path.exists(prof[0])
    events = _load(prof[0])["traceEvents"]
    names = {e.get("name") for e in events}
    assert any(re.fullmatch(r"aten\.addmm\.default \[addmm(_\d+)?\]", str(n)) for n in names)
    if "ttnn" not in res.errors:
        names = {e.get("name") for e in _load(os.path.join(out, "profile", f"{MODEL}__ttnn.json"))["traceEvents"]}
        assert any(str(n).startswith("ttnn.") for n in names)


def test_backward_graphs(tmp_path):
    res = stat.trace_model(MODEL, str(tmp_path), trace_orig=True, backward=True)
    assert not res.errors
    kinds = sorted(g["kind"] for g in res.graphs)
    assert kinds == ["backward", "forward"]
    bw = _load(os.path.join(tmp_path, "raw", f"bw_{MODEL}__aten_0.json"))
    assert bw["kind"] == "backward" and any(n["op_type"] == "aten.mm.default" for n in bw["nodes"])


# --- report -------------------------------------------------------------------------------------------


def test_generate_report_csv_and_histograms(traced):
    out, res = traced
    rep = report_mod.generate_report(out)
    path = os.path.join(out, "fw_node_count.csv")
    assert rep.csv_files == {"fw": path}
    with open(path) as f:
        rows = list(csv.reader(f))
    header, body, total = rows[0], rows[1:-1], rows[-1]
    assert header[:4] == ["model_name", "stage", "graphs", "_TOTAL_"]
    assert total[0] == "TOTAL"
    by_stage = {}
    for g in res.graphs:
        by_stage[g["stage"]] = by_stage.get(g["stage"], 0) + g["node_count"]
    for r in body:
        assert r[0] == MODEL
        assert int(r[3]) == by_stage[r[1]] == sum(int(x) for x in r[4:])   # _TOTAL_ = the graph's nodes
    for i in range(2, len(header)):
        assert int(total[i]) == sum(int(r[i]) for r in body)
    addmm = header.index("aten.addmm.default")
    aten_row = next(r for r in body if r[1] == "aten")
    assert int(aten_row[addmm]) == 3
    for d in ("fw_total_input_size_dist", "fw_total_output_size_dist"):
        pngs = sorted(os.listdir(os.path.join(out, d)))
        assert "aten.addmm.default.png" in pngs
        assert len(pngs) == len(rep.hist_dirs[d])
        with open(os.path.join(out, d, pngs[0]), "rb") as f:
            assert f.read(8) == b"\x89PNG\r\n\x1a\n"
    samples = report_mod.size_samples(report_mod.load_raw(os.path.join(out, "raw")), "fw", "inputs")
    assert sorted(samples["aten.addmm.default"]) == sorted([(256 + 8 * 64 + 64 * 256) * 4,
                                                            (256 + 8 * 256 + 256 * 256) * 4,
                                                            (10 + 8 * 256 + 256 * 10) * 4])


def test_report_reads_bfloat16_sizes(tmp_path):
    raw = tmp_path / "raw"
    raw.mkdir()
    node = {"name": "a", "op": "call_function", "op_type": "aten.add.Tensor",
            "inputs": [{"shape": [2, 3], "dtype": "torch.bfloat16"}, {"shape": [2, 3], "dtype": "torch.bool"}],
            "outputs": [{"shape": [2, 3], "dtype": "ttnn.bfloat8_b"}]}
    (raw / "fw_x__aten_0.json").write_text(json.dumps({"model": "x", "stage": "aten", "direction": "fw",
                                                       "nodes": [node]}))
    recs = report_mod.load_raw(str(raw))
    assert report_mod.size_samples(recs, "fw", "inputs") == {"aten.add.Tensor": [6 * 2 + 6 * 1]}
    assert report_mod.size_samples(recs, "fw", "outputs") == {"aten.add.Tensor": [6 * 1088 / 1024]}


# --- run tools ----------------------------------------------------------------------------------------


def test_run_torchvision_top_classes(capsys):
    from torch_ttnn.tools import run
    rc = run.main(["--model", "mnist", "--json"], default_model="mnist", task="vision", prog="run_torchvision.py")
    d = json.loads(capsys.readouterr().out)
    if rc != 0:
        pytest.skip(f"the compiler failed on mnist: {d['error']}")
    assert d["task"] == "vision" and d["backend"] == "torch_ttnn"
    assert d["output"][0].startswith("scores [1, 10]: top 5 classes")
    assert d["metrics"]["success"] and d["metrics"]["model_name"] == "mnist"
    assert d["metrics"]["ops_before"] > 0 and d["metrics"]["accuracy"] > 90


def test_run_transformers_token_ids_torch_stat():
    """A tiny causal LM (transformers GPT-2 config with 1 layer): the predicted token ids are printed."""
    transformers = pytest.importorskip("transformers")
    from torch_ttnn.tools import run

    def build():
        torch.manual_seed(0)
        cfg = transformers.GPT2Config(vocab_size=1000, n_positions=64, n_embd=32, n_layer=1, n_head=2)
        model = transformers.GPT2LMHeadModel(cfg).eval()
        return model, {"input_ids": torch.randint(0, 1000, (1, 8))}

    res = run.run_model("tiny-gpt2", "torch_stat", task="language", build=build)
    assert res.error is None and res.task == "language"
    model, inputs = build()
    with torch.no_grad():
        ids = model(**inputs).logits.argmax(-1)[0].tolist()
    assert f"  [0] {ids}" in res.output_lines
    assert res.aten_ops.get("aten.addmm.default", 0) > 0
    assert "aten graphs: 1 (inference)" in run.format_run(res)


# --- export -------------------------------------------------------------------------------------------


def test_export_script_runs_on_the_simulator(tmp_path):
    from safetensors.torch import load_file

    from torch_ttnn import export, zoo
    model, inputs = zoo.get(MODEL).build()
    try:
        res = export.export_model(model, inputs, str(tmp_path / "exp"), name=MODEL)
    except Exception as e:  # the compiler, not the exporter
        if "BackendCompilerFailed" in type(e).__name__:
            pytest.skip(f"the compiler failed on {MODEL}: {e}")
        raise
    assert os.path.exists(res.script) and os.path.exists(res.weights) and os.path.exists(res.inputs)
    text = open(res.script).read()
    assert "ttnn.linear(" in text and "import torch_ttnn.sim as ttnn" in text
    assert re.search(r"^ +import ttnn\b", text, re.M)
    assert set(load_file(res.weights)) >= {"net.0.weight", "net.0.bias"}
    assert res.ttnn_ops > 0 and res.checked_ops > 0
    out_file = tmp_path / "out.safetensors"
    proc = export.run_script(res.script, "--accuracy", "--save", str(out_file), simulated=True)
    assert proc.returncode == 0, proc.stderr[-3000:]
    got = load_file(str(out_file))
    assert len(got) == len(res.outputs[0]) == 1
    assert torch.equal(got["g0.0"], res.outputs[0][0])    # what the compiled model gave, bit for bit
    pcc_lines = [line for line in proc.stdout.splitlines() if line.startswith("pcc ")]
    assert len(pcc_lines) == res.checked_ops
    for line in pcc_lines:
        op_pcc = float(line.split()[2])
        assert op_pcc > 0.99, line
    assert "PCC vs compiled 1.000000" in proc.stdout
    assert f"accuracy: {res.checked_ops} TT-NN ops compared" in proc.stdout


def test_export_writes_fused_activations_as_the_real_constructors_take_them(tmp_path):
    """conv2d + relu and add + relu fused: the script builds Conv2dConfig(activation=UnaryWithParam(RELU)) and
    add(activations=[UnaryWithParam(RELU)]) with UnaryWithParam's positional signature, and runs."""
    from torch_ttnn import export

    class Block(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.c1, self.c2 = torch.nn.Conv2d(8, 8, 3, padding=1), torch.nn.Conv2d(8, 8, 3, padding=1)

        def forward(self, x):
            return torch.relu(x + self.c2(torch.relu(self.c1(x))))

    torch.manual_seed(0)
    res = export.export_model(Block().eval(), (torch.randn(1, 8, 10, 10),), str(tmp_path / "exp"), name="block")
    text = open(res.script).read()
    assert "activation=ttnn.UnaryWithParam(ttnn.UnaryOpType.RELU)" in text
    assert "[ttnn.UnaryWithParam(ttnn.UnaryOpType.RELU)]" in text
    proc = export.run_script(res.script, "--accuracy", simulated=True)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "PCC vs compiled 1.000000" in proc.stdout


def test_export_emits_host_fallbacks_as_torch_calls():
    """A graph with a host fallback node: the emitter writes it as a torch.ops call, with its reason."""
    import operator

    import torch_ttnn.sim as ttnn
    from torch_ttnn.export import _var, emit_graph
    g = torch.fx.Graph()
    x = g.placeholder("x")
    n = g.call_function(torch.ops.aten.cumsum.default, (x, 0))
    n.meta["fallback"] = "no lowering rule for this aten op yet"
    item = g.call_function(operator.getitem, (n, 0))
    g.output((item, n))
    text = emit_graph(torch.fx.GraphModule({}, g), "graph_0", ttnn=ttnn, gindex=0, consts={}, imports=set())
    assert "# host fallback: no lowering rule for this aten op yet" in text
    assert f"{n.name} = torch.ops.aten.cumsum.default(x, 0)" in text
    assert f"getitem = {n.name}[0]" in text
    assert text.startswith("def graph_0(_device, _params, x, _acc=None):")
    assert _var("_run_folded") != "_run_folded" and _var("addmm") == "addmm"


# --- command line -------------------------------------------------------------------------------------


def test_cli_stat_json(tmp_path, capsys):
    from torch_ttnn import cli
    rc = cli.main(["stat", MODEL, "-o", str(tmp_path), "--json"])
    d = json.loads(capsys.readouterr().out)
    assert rc == 0
    assert d["models"][0]["model_name"] == MODEL
    assert d["models"][0]["graphs"][0]["stage"] == "aten"
    assert os.path.exists(d["models"][0]["graphs"][0]["file"])


def test_cli_perf_reports_modelled_time_and_writes_the_profile(tmp_path, capsys):
    from torch_ttnn import cli
    rc = cli.main(["perf", MODEL, "--batch", "2", "--out", str(tmp_path), "--json"])
    assert rc == 0
    p = json.loads(capsys.readouterr().out)
    s = p["modelled"]
    assert s["arch"] == "wormhole_n150" and s["batch"] == 16      # the mlp's batch of 8, repeated twice
    assert s["latency_ms"] > 0 and s["traced_latency_ms"] <= s["latency_ms"]
    assert s["launches"] == p["op_launches"] and s["top_ops"][0]["op"] == "linear"
    rows = list(csv.DictReader(open(tmp_path / "ops.csv")))
    assert sum(r["OP TYPE"] == "tt_dnn_device" for r in rows) == s["launches"]
    assert json.load(open(tmp_path / "trace.json"))["traceEvents"]


def test_cli_perf_arch_and_bad_input(capsys):
    from torch_ttnn import cli
    assert cli.main(["perf", MODEL, "--arch", "p150", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["modelled"]["arch"] == "blackhole_p150"
    assert cli.main(["perf", MODEL, "--arch", "x999"]) == 2
    assert "unknown simulated arch 'x999'" in capsys.readouterr().err
    assert cli.main(["perf", "no-such-model-anywhere"]) == 2
    assert "no model 'no-such-model-anywhere'" in capsys.readouterr().err


def test_cli_run_on_a_mesh_reports_the_split_and_per_chip_figures(capsys):
    from torch_ttnn import cli
    assert cli.main(["run", MODEL, "--mesh", "n300", "--batch", "2", "--runs", "1", "--json"]) == 0
    d = json.loads(capsys.readouterr().out)
    assert d["success"] and d["accuracy"] >= 99
    mesh = d["mesh"]
    assert mesh["shape"] == "1x2" and mesh["split"][0]["mode"] == "data" and mesh["split"][0]["batch"] == 16
    assert len(mesh["per_chip"]) == 2 and all(c["launches"] > 0 for c in mesh["per_chip"])
    assert d["modelled"]["batch"] == 16
    assert cli.main(["run", MODEL, "--mesh", "n300", "--batch", "2", "--runs", "1"]) == 0
    assert "mesh:                  1x2 (2 chips); graph 0: data (batch 16)" in capsys.readouterr().out
    assert cli.main(["report", MODEL, "--mesh", "n300", "--batch", "2", "--runs", "1"]) == 0
    assert "graph 0 (inference): batch 16 split over 2 chips" in capsys.readouterr().out
    assert cli.main(["run", MODEL, "--batch", "2", "--runs", "1", "--json"]) == 0     # --batch alone, one chip
    assert json.loads(capsys.readouterr().out)["modelled"]["batch"] == 16


def test_cli_run_knows_the_table_models_and_suggests_close_names(capsys):
    from torch_ttnn import cli
    assert cli.main(["run", "autoencoder_linear", "--runs", "1", "--json"]) == 0
    d = json.loads(capsys.readouterr().out)
    assert d["success"] and d["op_launches"] > 0 and d["modelled_ms"] > 0
    assert cli.main(["run", "resnt18"]) == 2
    err = capsys.readouterr().err
    assert "no model 'resnt18'" in err and "resnet18" in err and "Traceback" not in err


def test_cli_perf_compare_shows_what_the_optimizer_changed(capsys):
    from torch_ttnn import cli
    assert cli.main(["perf", MODEL, "--compare", "--json"]) == 0
    c = json.loads(capsys.readouterr().out)
    a, b = c["naive"], c["optimized"]
    assert a["precision"] == "bf16" and a["placement"] == "dram" and a["trace"].startswith("not traced")
    assert b["modelled"]["latency_ms"] <= a["modelled"]["latency_ms"]
    assert set(a["modelled"]["by_op"]) and set(b["modelled"]["by_op"])
    assert cli.main(["perf", MODEL, "--compare"]) == 0
    text = capsys.readouterr().out
    assert "speed-up" in text and "naive: n x ms" in text


def test_zoo_runner_runs_models_in_parallel_processes(tmp_path):
    from torch_ttnn.zoo import runner
    out = tmp_path / "metrics" / "models"
    res = runner.run("Autoencoder", metrics_dir=out, jobs=2, force=True, timeout=600)
    assert res["ran"] == 2 and res["passed"] == 2 and res["jobs"] == 2
    files = sorted(p.name for p in out.glob("*.json"))
    assert files == ["Autoencoder_conv_eval.json", "Autoencoder_linear_eval.json"]
    index = json.loads((tmp_path / "metrics" / "zoo-index.json").read_text())
    assert sorted(v["files"][0] for v in index.values()) == files
    assert all(0 < v["peak_gb"] < 20 for v in index.values())         # the child's peak resident memory
    assert not (tmp_path / "metrics" / ".zoo-tmp").exists() or not any((tmp_path / "metrics" / ".zoo-tmp").iterdir())
    assert runner.run("Autoencoder", metrics_dir=out, jobs=2)["skipped"] == 2      # current: not rerun


def test_zoo_runner_measures_naive_programs_apart(tmp_path):
    """--naive: the programs of optimize=False, in metrics/naive with their own index; the main index and
    metrics stay untouched."""
    from torch_ttnn.zoo import runner
    res = runner.run("Autoencoder and linear", metrics_dir=tmp_path / "metrics" / "naive", naive=True,
                     force=True, timeout=600)
    assert res["passed"] == 1
    (f,) = (tmp_path / "metrics" / "naive").glob("*.json")
    d = json.loads(f.read_text())
    assert d["success"] and d["placement"] == "dram" and d["precision"] == "bf16" and d["trace"] == "not traced (off)"
    assert (tmp_path / "metrics" / "zoo-index-naive.json").exists()
    assert not (tmp_path / "metrics" / "zoo-index.json").exists()
