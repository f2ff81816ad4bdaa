"""Convolution activations kept in shards (compiler/passes/placement.py): a convolution read by convolutions writes
its output in the L1 shards they read (the layout and split TT-NN runs them with, torch_ttnn/conv_rules.py), and a
residual add reads its operands in its output's shards, so neither the reshard of an interleaved input nor the
move out of the shards runs; the simulator validates the shard specs and models both programs. A pool after a
convolution reads its tiles."""
import pytest
import torch
import torch.nn as nn

import torch_ttnn
from torch_ttnn.compiler.passes import placement

from .harness import pcc, run_recorded


def _bottleneck():
    torch.manual_seed(0)
    return nn.Sequential(nn.Conv2d(64, 32, 1), nn.ReLU(), nn.Conv2d(32, 32, 3, padding=1), nn.ReLU(),
                         nn.Conv2d(32, 64, 1)).eval()


def _run(device, model, x, op="conv2d"):
    y, option = run_recorded(model, x, device=device)
    notes = [r.cost.note for r in device.profiler.rows if r.op == "conv2d"]
    gm = option.results.graph_modules[-1]
    configs = [str(n.kwargs["memory_config"].target) for n in gm.graph.nodes
               if getattr(n.target, "__name__", "") == op]
    return y, device.profiler.totals.kernel_us, notes, configs


def test_convolution_chain_runs_on_shards_and_is_modelled_faster(device, monkeypatch):
    model, x = _bottleneck(), torch.randn(2, 64, 28, 28)
    with torch.no_grad():
        ref = model(x)
    y, t, notes, configs = _run(device, model, x)
    assert [c.startswith(placement.SHARDS) for c in configs] == [True, True, False]
    assert all("reshard" not in n for n in notes[1:]), notes       # the second and third read their shards
    assert pcc(y, ref) >= 0.99

    monkeypatch.setattr(placement.L1Placement, "_wanted_shards", lambda self, gm: {})
    y0, t0, notes0, configs0 = _run(device, model, x)
    assert not any(c.startswith(placement.SHARDS) for c in configs0)
    assert all("reshard" in n for n in notes0)
    assert t < t0
    torch.testing.assert_close(y, y0, rtol=0, atol=0)


class _TwoReaders(nn.Module):
    """h read by a 3x3 convolution and by `other` (an add of the residual kind, or a mean)."""

    def __init__(self, mean: bool):
        super().__init__()
        self.a, self.b, self.mean = nn.Conv2d(32, 32, 1), nn.Conv2d(32, 32, 3, padding=1), mean

    def forward(self, x):
        h = self.a(x)
        y = self.b(h)
        return y * torch.sigmoid(h.mean((2, 3), keepdim=True)) if self.mean else y + h


@pytest.mark.parametrize("mean", [False, True])
def test_a_value_with_another_reader(device, mean):
    """An add reads its operand wherever it is (binary_ng reads other shards over the NoC): a value read by a
    convolution and an add is written in the convolution's shards. A mean takes no sharded input here: the
    value stays interleaved."""
    torch.manual_seed(0)
    model, x = _TwoReaders(mean).eval(), torch.randn(1, 32, 28, 28)
    with torch.no_grad():
        ref = model(x)
    y, _, _, configs = _run(device, model, x)
    assert configs[0].startswith(placement.SHARDS) != mean
    assert pcc(y, ref) >= 0.99


class _ResidualChain(nn.Module):
    """A stem convolution, two residual blocks (1x1 down, 3x3 up, add, relu), a 1x1 head: ResNet's pattern."""

    def __init__(self):
        super().__init__()
        self.stem = nn.Conv2d(32, 64, 1)
        self.blocks = nn.ModuleList(nn.Sequential(nn.Conv2d(64, 32, 1), nn.ReLU(), nn.Conv2d(32, 64, 3, padding=1))
                                    for _ in range(2))
        self.head = nn.Conv2d(64, 32, 1)

    def forward(self, x):
        h = self.stem(x)
        for b in self.blocks:
            h = torch.relu(b(h) + h)
        return self.head(h)


def test_residual_adds_stay_in_the_convolutions_shards(device, monkeypatch):
    """Each residual add is read by the next block's first convolution and the next add (or the head): they
    agree on the convolution's input shards, so the adds, and the convolutions writing their operands, are
    sharded there; no convolution reshards its input but the stem's (from the host)."""
    torch.manual_seed(0)
    model, x = _ResidualChain().eval(), torch.randn(2, 32, 28, 28)
    with torch.no_grad():
        ref = model(x)
    y, t, notes, _ = _run(device, model, x)
    _, _, _, adds = _run(device, model, x, op="add")
    assert len(adds) == 2 and all(c.startswith(placement.SHARDS) for c in adds), adds
    assert all("reshard" not in n for n in notes[1:]), notes
    assert pcc(y, ref) >= 0.99

    monkeypatch.setattr(placement.L1Placement, "_wanted_shards", lambda self, gm: {})
    y0, t0, notes0, _ = _run(device, model, x)
    assert sum("reshard" in n for n in notes0) > sum("reshard" in n for n in notes)
    assert t < t0
    torch.testing.assert_close(y, y0, rtol=0, atol=0)


@pytest.mark.parametrize("pool", [nn.MaxPool2d(3, 2, 1), nn.AvgPool2d(2)])
def test_a_pool_reads_the_convolutions_tiles(device, pool):
    """With the optimizer on, a pool after a convolution reads its TILE output: no ROW_MAJOR conversion (a
    program reading and writing the whole activation) runs in between; the values are the naive program's."""
    torch.manual_seed(0)
    model, x = nn.Sequential(nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(), pool).eval(), torch.randn(2, 16, 28, 28)
    with torch.no_grad():
        ref = model(x)
    outs = {}
    for optimize in (True, False):
        torch._dynamo.reset()
        option = torch_ttnn.TorchTtnnOption(device=device, optimize=optimize)
        with torch.no_grad():
            outs[optimize] = torch.compile(model, backend=torch_ttnn.backend, options=option)(x)
        gm = option.results.graph_modules[-1]
        pools = [n for n in gm.graph.nodes if getattr(n.target, "__name__", "").endswith("pool2d")]
        fed = {getattr(p.args[0].target, "__name__", "") for p in pools}
        assert fed == ({"conv2d"} if optimize else {"to_layout"}), fed
    assert pcc(outs[True], ref) >= 0.99
    assert pcc(outs[True], outs[False]) >= 0.999


def test_a_large_convolution_gets_an_activation_block_that_fits_beside_the_live_l1(device, caplog):
    """224x224 pixels of 128 channels: TT-NN's default activation block (a core's 25 tile rows by 12 tiles of
    channels, twice) and the convolution's input copies need more L1 than a core has; the placement gives the
    convolution a shorter block (act_block_h_override) and the simulator, which checks each launch's circular
    buffers, runs the plan with the input in L1 (no fallback to DRAM)."""
    torch.manual_seed(0)
    model = nn.Sequential(nn.ReLU(), nn.Conv2d(128, 32, 3, padding=1)).eval()
    x = torch.randn(1, 128, 224, 224)
    with torch.no_grad():
        ref = model(x)
    y, option = run_recorded(model, x, device=device)
    assert "refused" not in caplog.text
    gm = option.results.graph_modules[-1]
    conv = next(n for n in gm.graph.nodes if getattr(n.target, "__name__", "") == "conv2d")
    assert placement._in_l1(conv.kwargs["input_tensor"])
    rows = getattr(gm, conv.kwargs["conv_config"].target).act_block_h_override // 32
    assert 1 <= rows < 25 and 25 % rows == 0
    assert pcc(y, ref) >= 0.99


class _Norms(nn.Module):
    """h stays alive across a layer norm of the full width (its circular buffers: ~240 KiB a core)."""

    def __init__(self):
        super().__init__()
        self.norm = nn.LayerNorm(1024)

    def forward(self, x):
        h = torch.relu(x)
        return self.norm(h) + h


@pytest.mark.parametrize("replay", [True, False])
def test_a_buffer_goes_to_dram_where_an_ops_circular_buffers_would_not_fit(monkeypatch, caplog, replay):
    """A device whose cores keep 320 KiB of L1 for tensors (the rest given to L1_SMALL): with h and the layer
    norm's output in L1, the norm's circular buffers would reach h's buffer, which the device refuses. The
    placement replays the program's allocations with the op's circular buffers (the simulator's estimate) and
    sends a buffer to DRAM (the norm's output: h is its operand); without the replay the device refuses the
    plan and the graph falls back to DRAM (logged)."""
    import torch_ttnn.sim as ttnn
    if not replay:
        monkeypatch.setattr(placement.L1Placement, "_replay", lambda self, gm, config: None)
    probe = ttnn.open_device(device_id=2)
    bank = probe.memory[ttnn.BufferType.L1].bank_size
    ttnn.close_device(probe)
    dev = ttnn.open_device(device_id=2, l1_small_size=bank - 320 * 1024)
    try:
        torch.manual_seed(0)
        model, x = _Norms().eval(), torch.randn(1, 2048, 1024)
        with torch.no_grad():
            ref = model(x)
        y, option = run_recorded(model, x, device=dev)
        assert pcc(y, ref) >= 0.99
        refused = "layer_norm: statically allocated circular buffers clash" in caplog.text
        assert refused is not replay
        gm = option.results.graph_modules[-1]
        placed = {getattr(n.target, "__name__", ""): placement._in_l1(n) for n in gm.graph.nodes
                  if n.op == "call_function"}
        assert placed["relu"] is replay and not placed["layer_norm"]
    finally:
        ttnn.close_device(dev)


@pytest.mark.parametrize("optimize", [True, False])
def test_a_wide_1x1_convolution_gets_a_layout_whose_weight_blocks_fit(device, optimize):
    """A 1x1 convolution runs as a matmul whose weight blocks span all of K: 1344 -> 2520 channels on 196 pixels,
    height-sharded as TT-NN would choose (7 cores), needs two blocks of 42 x 79 weight tiles a core (7 MiB).
    The compiler chooses another of TT-NN's layouts whose blocks fit (here width sharding: each core a share of
    the window), placed in L1 or not."""
    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(1344, 2520, 1)).eval()
    x = torch.randn(1, 1344, 14, 14)
    with torch.no_grad():
        ref = model(x)
    y, option = run_recorded(model, x, device=device, optimize=optimize)
    assert pcc(y, ref) >= 0.99
    gm = option.results.graph_modules[-1]
    conv = next(n for n in gm.graph.nodes if getattr(n.target, "__name__", "") == "conv2d")
    assert getattr(gm, conv.kwargs["conv_config"].target).shard_layout.name in ("BLOCK_SHARDED", "WIDTH_SHARDED")


class _Holes(nn.Module):
    """a (on top of L1) dies after h is made below r, and the linear's output, twice a's size, does not fit a's
    hole: the product runs with a hole above its operands and r alive, untouched, in between."""

    def __init__(self):
        super().__init__()
        self.lin = nn.Linear(256, 512)

    def forward(self, x):
        a = torch.relu(x)
        r = a + 1.0
        h = a * 2.0
        return self.lin(h)[..., :256] - r


@pytest.mark.parametrize("unfragmented_fits", [True, False])
def test_a_product_squeezed_by_holes_sends_the_lowest_untouched_buffer_to_dram(device, monkeypatch,
                                                                                 unfragmented_fits):
    """Holes above a low L1 buffer can leave a product less room than the blocks of its full-grid program while
    an unfragmented L1 would hold them (BERT-Large b8: 47 of 96 linears). The placement then sends the lowest
    buffer the product does not touch to DRAM (here r, read only by the subtraction after it), as for a
    refusal; where even an unfragmented L1 would not hold the blocks, nothing moves. The blocks are set here (a
    byte over the product's room, or over the whole bank) to test the rule itself."""
    from torch_ttnn.compiler.passes.placement import L1_CB_SPACE
    fired = {}          # graph -> the product the rule was tested on (once: the replay runs again after a move)

    def blocks(self, gm, n):
        if gm in fired:
            return 0
        fired[gm] = n
        return n.meta[L1_CB_SPACE] + 1 if unfragmented_fits else self.bank_size + 1
    monkeypatch.setattr(placement.L1Placement, "_full_grid_blocks", blocks)
    torch.manual_seed(0)
    model, x = _Holes().eval(), torch.randn(4, 128, 256)
    with torch.no_grad():
        ref = model(x)
    y, option = run_recorded(model, x, device=device)
    assert pcc(y, ref) >= 0.99
    gm = option.results.graph_modules[-1]
    placed = {getattr(n.target, "__name__", ""): placement._in_l1(n) for n in gm.graph.nodes
              if n.op == "call_function"}
    assert {getattr(n.target, "__name__", "") for n in fired.values()} == {"linear"}
    assert placed["add"] is not unfragmented_fits       # r: to DRAM only where the rule applies
    assert placed["multiply"] and placed["linear"]       # the product's operand and output stay in L1
    assert option.results.reports[-1].l1_spilled == (1 if unfragmented_fits else 0)
