"""Passes state what they need of the pipeline; the pass manager refuses an order that breaks it."""
import pytest

from torch_ttnn.compiler.passes.base import Pass, PassError, PassManager, PassResult


class _P(Pass):
    def __init__(self, name, needs=(), after=()):
        self.name, self.needs, self.after = name, needs, after

    def call(self, gm):
        return PassResult(gm, False)


def test_a_pass_without_what_it_needs_is_refused_before_anything_runs():
    with pytest.raises(PassError, match="pass b needs 'a' to run before it, but 'a' runs after it"):
        PassManager([_P("b", needs=("a",)), _P("a")]).check_order()
    with pytest.raises(PassError, match="'a' is not in the pipeline"):
        PassManager([_P("b", needs=("a",))]).check_order()


def test_after_applies_only_when_the_other_pass_is_there():
    PassManager([_P("b", after=("a",))]).check_order()
    PassManager([_P("a"), _P("b", after=("a",))]).check_order()
    with pytest.raises(PassError, match="pass b must run after 'a'"):
        PassManager([_P("b", after=("a",)), _P("a")]).check_order()


def test_the_default_pipelines_are_in_order():
    import torch_ttnn
    from torch_ttnn.compiler.pipeline import build_passes
    from torch_ttnn.compiler.report import GraphReport
    from torch_ttnn.compiler.passes.placement import L1Placement
    from torch_ttnn.compiler.passes.matmul_config import MatmulProgramConfigs
    from torch_ttnn.compiler.passes.precision import WeightPrecision
    import torch_ttnn.sim as ttnn
    dev = ttnn.open_device(device_id=6)
    try:
        for kind in ("inference", "forward", "backward"):
            opt = torch_ttnn.TorchTtnnOption(device=dev)
            passes = build_passes(opt, ttnn, GraphReport(kind), set(), dev)
            if kind == "inference":
                passes += [WeightPrecision(ttnn, "bfp8"), L1Placement(ttnn, dev), MatmulProgramConfigs(ttnn, dev)]
            PassManager(passes).check_order()
    finally:
        ttnn.close_device(dev)
