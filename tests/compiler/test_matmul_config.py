"""Matmul program configs chosen by the compiler (passes/matmul_config.py)."""
import pytest
import torch

import torch_ttnn
from torch_ttnn import TorchTtnnOption, runtime


def _pcc(a, b):
    return torch.corrcoef(torch.stack([a.flatten().float(), b.flatten().float()]))[0, 1].item()


def _run(model, x, **opts):
    opt = TorchTtnnOption(**opts)
    compiled = torch.compile(model, backend=torch_ttnn.backend, options=opt)
    with torch.no_grad():
        for _ in range(3):
            y = compiled(x)
        chip = runtime.chip_of(opt.device_in_use)
        with chip.profiler.record() as prof:
            y = compiled(x)
    torch._dynamo.reset()
    linears = [r for r in prof.rows if r.op == "linear"]
    return y, opt, linears


@pytest.fixture(scope="module")
def mlp():
    torch.manual_seed(0)
    m = torch.nn.Sequential(torch.nn.Linear(256, 1024), torch.nn.GELU(), torch.nn.Linear(1024, 256)).eval()
    return m, torch.randn(4, 384, 256)


def test_products_get_a_faster_config_and_keep_accuracy(mlp):
    m, x = mlp
    ref = m(x)
    y, opt, linears = _run(m, x)
    chosen = opt.results.reports[-1].matmul_configs
    assert len(chosen) == 2
    for node, kind, default_us, chosen_us in chosen:
        assert kind in ("2d", "1d_in0", "1d_in1")
        assert chosen_us < default_us                  # kept only when the model says it is faster
    assert all("auto config" not in r.cost.note for r in linears)    # ran with the emitted configs
    assert _pcc(y, ref) >= 0.99
    # the same program with TT-NN's own configs (pass disabled) is slower on the modelled device
    from torch_ttnn.compiler.passes import matmul_config
    orig = matmul_config.MatmulProgramConfigs.call
    matmul_config.MatmulProgramConfigs.call = lambda self, gm: matmul_config.PassResult(gm, False)
    try:
        _, _, default_linears = _run(m, x)
    finally:
        matmul_config.MatmulProgramConfigs.call = orig
    assert sum(r.cost.kernel_us for r in linears) < sum(r.cost.kernel_us for r in default_linears)


def test_naive_program_emits_no_config(mlp):
    m, x = mlp
    _, opt, linears = _run(m, x, optimize=False)
    assert opt.results.reports[-1].matmul_configs == []
    assert all("auto config" in r.cost.note for r in linears)


def test_fused_activation_moves_into_the_config(mlp):
    m, x = mlp
    _, opt, _ = _run(m, x)
    gm = opt.results.graphs[-1].owning_module
    lin = [n for n in gm.graph.nodes if getattr(n.target, "__name__", "") == "linear"]
    assert lin and all("activation" not in n.kwargs for n in lin if "program_config" in n.kwargs)
    fused = [getattr(gm, n.kwargs["program_config"].target).fused_activation for n in lin
             if "program_config" in n.kwargs]
    assert any(f is not None for f in fused)           # the gelu after the first linear
