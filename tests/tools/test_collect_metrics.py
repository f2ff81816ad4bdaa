"""tools/collect_metrics.py: the committed README table and pages are what the committed metrics give."""
import json
import pathlib
import subprocess
import sys

from torch_ttnn.zoo import table

ROOT = pathlib.Path(__file__).resolve().parents[2]


def test_committed_table_is_reproduced_from_committed_metrics():
    changed = table.regenerate(ROOT, check=True)
    assert not changed, f"run `python tools/collect_metrics.py`: out of date: {changed}"


def test_check_mode_of_the_script():
    out = subprocess.run([sys.executable, str(ROOT / "tools" / "collect_metrics.py"), "--check"],
                         capture_output=True, text=True)
    assert out.returncode == 0, out.stdout + out.stderr


def _metrics(name, **kw):
    m = {"model_name": name, "mode": "eval", "success": True, "ops_before": 10, "ops_before_unique": 3,
         "ops_remaining": 0, "ops_remaining_unique": 0, "to_device": 1, "from_device": 1, "eager_ms": 1.0,
         "compiled_first_ms": 100.0, "compiled_ms": 5.0, "accuracy": 99.9, "peak_dram_bytes": 2 ** 20,
         "peak_l1_bytes": 0, "remaining": [], "aten_ops": {"aten.relu.default": 10}, "input_shapes": {}}
    m.update(kw)
    return m


def test_status_rules():
    assert table.status(_metrics("a"))[0] == "✅"
    assert table.status(_metrics("a", accuracy=98.0)) == ("🚧", "accuracy 98.0%")
    assert table.status(_metrics("a", ops_remaining=3))[0] == "🚧"
    assert table.status(_metrics("a", success=False, error="RuntimeError: boom\nmore")) == ("✘", "RuntimeError: boom")


def test_regenerate_in_a_scratch_tree(tmp_path):
    (tmp_path / "metrics" / "models").mkdir(parents=True)
    (tmp_path / "README.md").write_text("# x\n")
    (tmp_path / "metrics" / "zoo-entries.txt").write_text("A eval\nB eval\n")
    (tmp_path / "metrics" / "models" / "A_eval.json").write_text(json.dumps(_metrics("A", ops_remaining=2,
        ops_remaining_unique=1, remaining=[{"op": "aten.sin.default", "reason": "why", "count": 2}])))
    changed = table.regenerate(tmp_path)
    readme = (tmp_path / "README.md").read_text()
    assert "2 entries: 0 ✅, 1 🚧, 0 ✘, 1 ⏳ not measured yet." in readme
    assert "| B eval | ⏳ not measured yet |" in readme
    page = (tmp_path / "docs" / "models" / "A_eval.md").read_text()
    assert "`aten.sin.default` | 2 | why" in page
    assert (tmp_path / "docs" / "operations.md").exists()
    assert "README.md" in changed and not table.regenerate(tmp_path, check=True)
