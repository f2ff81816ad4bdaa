"""The fixed parts of an exported script are real modules (torch_ttnn/script), copied verbatim by export."""
import importlib
import sys

import torch

from torch_ttnn import export


def test_prelude_runs_as_a_module_on_the_simulator(monkeypatch):
    monkeypatch.setenv("TORCH_TTNN_SIMULATED", "1")
    sys.modules.pop("torch_ttnn.script.prelude", None)
    prelude = importlib.import_module("torch_ttnn.script.prelude")
    import torch_ttnn.sim as sim
    assert prelude.ttnn is sim
    dev = sim.open_device(device_id=5)         # its own device: other tests open device 0 with their settings
    try:
        cache = prelude.ParamCache()
        w = torch.randn(64, 64)
        t = cache.load(w, sim.bfloat16, sim.TILE_LAYOUT, dev)
        assert cache.load(w, sim.bfloat16, sim.TILE_LAYOUT, dev) is t      # converted once
        assert prelude.pcc(sim.to_torch(t).float(), w) > 0.999
    finally:
        sim.close_device(dev)
    main = importlib.import_module("torch_ttnn.script.main")
    assert callable(main.main)


def test_the_script_text_leaves_out_the_module_only_imports():
    text = export._module_text("script/prelude.py") + export._module_text("script/main.py")
    assert "from torch_ttnn.portable import" not in text and "from torch_ttnn.script" not in text
    assert "GRAPHS: list = []" not in text           # the script defines GRAPHS itself
    assert "class ParamCache" in text and "def main(argv=None)" in text
    compile(export._portable_source() + text, "script", "exec")
