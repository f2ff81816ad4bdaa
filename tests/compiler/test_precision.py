"""precision="auto": block-float weights and LoFi where the graph keeps PCC >= 0.99 against torch."""
import re

import pytest
import torch

import torch_ttnn
from torch_ttnn.metrics import pcc
from .harness import run_recorded


@pytest.fixture(autouse=True)
def _fresh_dynamo():
    torch._dynamo.reset()
    yield
    torch._dynamo.reset()


def _run(m, x, device, **kw):
    option = torch_ttnn.TorchTtnnOption(device=device, **kw)
    c = torch.compile(m, backend=torch_ttnn.backend, options=option)
    with torch.no_grad():
        c(x)                                  # first call: the search (auto)
        device.profiler.reset()
        y = c(x)
    return y, option, device.profiler.totals.kernel_us


def _load_dtypes(option):
    gm = option.results.graph_modules[-1]
    return [n.args[2].name for n in gm.graph.nodes if n.op == "call_method" and n.target == "load"]


def test_auto_picks_block_float_weights_when_accurate_and_is_faster(device):
    m = torch.nn.Sequential(torch.nn.Linear(512, 2048), torch.nn.GELU(), torch.nn.Linear(2048, 512)).eval()
    x = torch.randn(32, 512)
    y16, opt16, t16 = _run(m, x, device, precision="bf16")
    torch._dynamo.reset()
    y, opt, t = _run(m, x, device)            # the default is "auto"
    (decision,) = opt.results.precision
    assert decision["chosen"] == "bfp8-lofi" and decision["tried"][0][2] >= 0.99
    assert decision["placement"] == "l1"      # activations in L1: they fit
    assert pcc(y, m(x)) >= 0.99
    assert sorted(_load_dtypes(opt)) == ["BFLOAT16", "BFLOAT16", "BFLOAT8_B", "BFLOAT8_B"]   # biases stay bf16
    assert t < 0.75 * t16                     # half the weight bytes on a weight-streaming product
    assert opt.results.reports[-1].precision == "bfp8-lofi"


def test_auto_keeps_bf16_when_block_floats_lose_accuracy(device):
    # one huge weight per 16-value block: bfloat8_b's shared exponent flushes the others to zero, and the
    # input never reads the huge one, so the output depends only on what block floats lose
    lin = torch.nn.Linear(64, 32, bias=False).eval()
    with torch.no_grad():
        lin.weight.uniform_(-1, 1)
        lin.weight[:, ::16] = 4096.0
    x = torch.randn(32, 64)
    x[:, ::16] = 0
    y, opt, _ = _run(lin, x, device)
    (decision,) = opt.results.precision
    assert decision["chosen"] == "bf16"
    assert [lv for lv, *_ in decision["tried"]] == ["bfp8-lofi", "bfp8", "bf16"]
    assert all(p < 0.99 for *_, p in decision["tried"][:2])
    assert pcc(y, lin(x)) >= 0.99
    assert _load_dtypes(opt) == ["BFLOAT16"]


def test_auto_falls_back_to_an_fp32_dst_when_bf16_loses_a_long_reduction(device):
    # K = 8192 positive products: the 16-bit Dst rounds every partial sum, the low bits that tell the 32
    # outputs apart (row offsets of 4 %) are lost; an fp32 Dst keeps them, with bfloat8_b weights and HiFi2
    # (the first fp32 Dst level) as well
    K = 8192
    torch.manual_seed(0)
    lin = torch.nn.Linear(K, 32, bias=False).eval()
    with torch.no_grad():
        lin.weight.copy_(1 + 0.04 * torch.randn(32, 1) + 0.01 * torch.randn(32, K))
    x = 1 + 0.1 * torch.rand(32, K)
    y, opt, _ = _run(lin, x, device)
    (decision,) = opt.results.precision
    assert [lv for lv, *_ in decision["tried"]] == ["bfp8-lofi", "bfp8", "bf16", "bfp8-acc32"]
    assert decision["tried"][2][2] < 0.99 <= decision["tried"][3][2]
    assert decision["chosen"] == "bfp8-acc32" and pcc(y, lin(x)) >= 0.99
    assert _load_dtypes(opt) == ["BFLOAT8_B"]
    gm = opt.results.graph_modules[-1]
    (lin_node,) = [n for n in gm.graph.nodes if getattr(n.target, "__name__", "") == "linear"]
    cfg = getattr(gm, lin_node.kwargs["compute_kernel_config"].target)
    assert cfg.fp32_dest_acc_en and cfg.math_fidelity == type(cfg.math_fidelity).HiFi2


def test_auto_keeps_values_in_float32_when_the_output_spread_is_below_bfloat16s_step(device):
    """A sigmoid output varying by ~0.002 around 0.5 (bfloat16's step there is 0.004), as a random-weight U-Net
    gives: no bfloat16 level reaches PCC 0.99; the fp32 level (values in float32 where TT-NN supports them,
    ttnn.sigmoid_accurate for the sigmoid, which ttnn.sigmoid is not) does."""
    torch.manual_seed(0)
    conv = torch.nn.Conv2d(8, 1, 1).eval()
    with torch.no_grad():
        conv.weight.mul_(0.01)
        conv.bias.fill_(0.1)
    m = torch.nn.Sequential(conv, torch.nn.Sigmoid()).eval()
    x = torch.randn(1, 8, 32, 32)
    y, opt, _ = _run(m, x, device)
    (decision,) = opt.results.precision
    assert decision["chosen"] == "fp32", decision
    assert all(p < 0.99 for lv, _, p in decision["tried"][:-1]) and decision["tried"][-1][2] >= 0.99
    assert pcc(y, m(x)) >= 0.99
    targets = [getattr(n.target, "__name__", "") for n in opt.results.graph_modules[-1].graph.nodes]
    assert "sigmoid_accurate" in targets and "sigmoid" not in targets


def test_bf16_acc32_is_hifi4_with_an_fp32_dst(device):
    """The accurate end: bfloat16 weights, HiFi4, fp32 Dst (what the search keeps when nothing cheaper holds);
    the pass applied to a lowered bfloat16 program."""
    import torch_ttnn.sim as ttnn
    from torch_ttnn.compiler.passes.precision import WeightPrecision
    lin = torch.nn.Linear(256, 64).eval()
    _, opt, _ = _run(lin, torch.randn(32, 256), device, precision="bf16")
    gm = opt.results.graph_modules[-1]
    WeightPrecision(ttnn, "bf16-acc32")(gm)
    assert _load_dtypes(opt) == ["BFLOAT16", "BFLOAT16"]
    (lin_node,) = [n for n in gm.graph.nodes if getattr(n.target, "__name__", "") == "linear"]
    cfg = getattr(gm, lin_node.kwargs["compute_kernel_config"].target)
    assert cfg.fp32_dest_acc_en and cfg.math_fidelity == type(cfg.math_fidelity).HiFi4


class _Cancelling(torch.nn.Module):
    """Adds 256 after a product, goes through a reciprocal twice (ttnn.reciprocal is bfloat16-only, even in the
    fp32 level) and removes 256: one bit of the product is left whatever the weights' format, the accumulation
    or the activations' dtype, so no level reaches PCC 0.99."""

    def __init__(self):
        super().__init__()
        self.lin = torch.nn.Linear(64, 64, bias=False)

    def forward(self, x):
        return torch.reciprocal(torch.reciprocal(self.lin(x) + 256.0)) - 256.0


def test_auto_keeps_the_cheapest_of_the_most_accurate_levels_when_none_reaches_the_bar(device):
    torch.manual_seed(0)
    m = _Cancelling().eval()
    y, opt, _ = _run(m, torch.randn(32, 64), device)
    (decision,) = opt.results.precision
    scores = [p for _, _, p in decision["tried"] if isinstance(p, float)]
    assert len(scores) == 6 and max(scores) < 0.99        # every level of the search tried
    best = max(scores)
    cheapest_best = next(lv for lv, _, p in decision["tried"] if p == best)
    assert decision["chosen"] == cheapest_best
    if cheapest_best != "bf16-acc32":
        assert decision["tried"][-1][2].startswith("kept: the most accurate")
    assert opt.results.reports[-1].precision == cheapest_best


def test_optimize_false_and_explicit_levels(device):
    m = torch.nn.Linear(128, 64).eval()
    x = torch.randn(8, 128)
    _, opt, _ = _run(m, x, device, optimize=False)
    assert opt.results.precision == [] and "BFLOAT8_B" not in _load_dtypes(opt)
    assert opt.results.reports[-1].placement == "dram"
    torch._dynamo.reset()
    y, opt, _ = _run(m, x, device, precision="bfp4")
    assert "BFLOAT4_B" in _load_dtypes(opt) and pcc(y, m(x)) > 0.95
    with pytest.raises(ValueError, match="precision"):
        torch_ttnn.TorchTtnnOption(precision="int8")


def test_training_graphs_keep_bf16_weights(device):
    m = torch.nn.Linear(16, 4)
    option = torch_ttnn.TorchTtnnOption(device=device)
    c = torch.compile(m, backend=torch_ttnn.backend, options=option)
    c(torch.randn(4, 16)).sum().backward()
    assert option.results.precision == []
    assert all(getattr(r, "precision", "bf16") == "bf16" for r in option.results.reports)


def test_l1_placement_speeds_up_bandwidth_bound_chains_and_respects_dram_operands(device):
    def chain(x):
        for _ in range(6):
            x = torch.nn.functional.gelu(x) * 0.5 + x
        return x

    x = torch.randn(8, 64, 1024)
    y0, opt0, t0 = _run(chain, x, device, placement="dram")
    torch._dynamo.reset()
    y1, opt1, t1 = _run(chain, x, device)
    assert opt0.results.reports[-1].placement == "dram" and opt1.results.reports[-1].placement == "l1"
    torch.testing.assert_close(y0, y1)                 # placement does not change a value
    assert t1 < 0.5 * t0                               # L1 traffic instead of DRAM traffic
    with pytest.raises(ValueError, match="placement"):
        torch_ttnn.TorchTtnnOption(placement="l2")


def test_l1_placement_budget_and_sdpa_mask_stay_valid(device):
    from torch_ttnn.compiler.passes.placement import PLACEMENT_BUDGET
    q = torch.randn(1, 4, 64, 32)
    mask = torch.zeros(1, 1, 64, 64)
    mask[..., 40:] = float("-inf")

    def attn(q, m):
        return torch.nn.functional.scaled_dot_product_attention(q * 1.0, q, q, attn_mask=m + 0.0)

    option = torch_ttnn.TorchTtnnOption(device=device)
    c = torch.compile(attn, backend=torch_ttnn.backend, options=option)
    with torch.no_grad():
        out = c(q, mask)
    assert pcc(out, attn(q, mask)) > 0.99
    (decision,) = option.results.precision
    assert all("refused" not in str(t) for t in decision["tried"])   # the mask was kept in DRAM up front
    stats = device.memory_stats()["L1"]
    assert stats["peak_bytes"] <= PLACEMENT_BUDGET * stats["total_bytes"] + 64 * 4096


def test_auto_gives_convolutions_block_float_weights(device):
    torch.manual_seed(0)
    m = torch.nn.Sequential(torch.nn.Conv2d(32, 64, 3, padding=1), torch.nn.ReLU(),
                            torch.nn.Conv2d(64, 64, 3, padding=1)).eval()
    x = torch.randn(1, 32, 28, 28)
    y, opt, _ = _run(m, x, device)
    (decision,) = opt.results.precision
    assert decision["chosen"] in ("bfp8-act", "bfp8-lofi", "bfp8") and pcc(y, m(x)) >= 0.99
    gm = opt.results.graph_modules[-1]
    names = re.findall(r"conv_config = (\w+)", gm.code)
    assert len(names) == 6                                     # 2 convs: weights, bias, conv
    assert all(getattr(gm, n).weights_dtype == device_dtype_bfp8() for n in names)
    # the first conv's config also carries its fused relu (one config for the conv and its weights)
    assert len({n for n in names if getattr(gm, n).activation is not None}) == 1


def device_dtype_bfp8():
    import torch_ttnn.sim as sim
    return sim.bfloat8_b


def test_pcc_of_a_single_value_is_graded_by_relative_error():
    assert pcc(torch.tensor([2.0]), torch.tensor([2.0])) == 1.0
    assert pcc(torch.tensor([0.0756]), torch.tensor([0.0986])) == pytest.approx(1 - 0.023 / 0.0986, abs=1e-6)
    assert pcc(torch.full((4,), 3.0), torch.full((4,), 3.03)) == pytest.approx(1 - 0.03 / 3.03, abs=1e-6)
    assert pcc(torch.tensor([1.0]), torch.tensor([-1.0])) == 0.0
    assert pcc(torch.tensor([1e-5]), torch.tensor([2e-5])) == pytest.approx(1 - 1e-5 / 1e-2)   # tiny: absolute


def test_float32_operands_demoted_to_bfloat16_are_reported(device, caplog):
    """fp32=True, and an op TT-NN documents without float32 (ttnn.reciprocal): computed in bfloat16, and the
    report counts it and the log says so, instead of a silent demotion."""
    import logging

    import torch_ttnn
    from torch_ttnn.compiler.passes import base
    base._WARNED.discard(("fp32_demoted", "reciprocal"))      # said once a process: earlier tests may have
    m = torch.nn.Sequential(torch.nn.Linear(16, 16)).eval()
    with caplog.at_level(logging.WARNING, logger="torch_ttnn"):
        _, opt, _ = _run(lambda x: torch.reciprocal(m(x).abs() + 1), torch.randn(8, 16), device, fp32=True,
                         precision="bf16")
    report = opt.results.reports[-1]
    assert report.demoted["reciprocal"] == 1 and "linear" not in report.demoted
    assert report.as_dict()["demoted_to_bf16"] == {"reciprocal": 1}
    assert "float32 operands computed in bfloat16" in torch_ttnn.lowering_report(opt)
    assert any("ttnn.reciprocal supports no float32" in r.getMessage() for r in caplog.records)


class _Cnn(torch.nn.Module):
    """conv -> relu -> max_pool (needs row-major bfloat16) -> residual block -> mean -> linear."""

    def __init__(self):
        super().__init__()
        self.stem = torch.nn.Conv2d(3, 32, 3, padding=1)
        self.pool = torch.nn.MaxPool2d(2)
        self.c1 = torch.nn.Conv2d(32, 32, 3, padding=1)
        self.c2 = torch.nn.Conv2d(32, 32, 3, padding=1)
        self.fc = torch.nn.Linear(32, 10)

    def forward(self, x):
        x = self.pool(torch.relu(self.stem(x)))
        y = torch.relu(x + self.c2(torch.relu(self.c1(x))))
        return self.fc(y.mean((2, 3)))


def _conv_dtypes(option):
    gm = option.results.graph_modules[-1]
    return [n.kwargs["dtype"].name for n in gm.graph.nodes
            if n.op == "call_function" and getattr(n.target, "__name__", "") == "conv2d"]


def test_conv_activations_in_block_float_where_every_consumer_takes_them(device):
    torch.manual_seed(0)
    m, x = _Cnn().eval(), torch.randn(2, 3, 32, 32)
    y8, _, t8 = _run(m, x, device, precision="bfp8")
    torch._dynamo.reset()
    y, opt, t = _run(m, x, device)
    (decision,) = opt.results.precision
    assert decision["chosen"] == "bfp8-act" and pcc(y, m(x)) >= 0.99
    # the stem's output reaches max_pool2d through a row-major to_layout: bfloat16; the block's convs: bfloat8_b
    assert _conv_dtypes(opt) == ["BFLOAT16", "BFLOAT8_B", "BFLOAT8_B"]
    assert t < t8                             # fewer activation bytes (and LoFi)


def test_a_refused_activation_level_falls_to_the_next(device, monkeypatch):
    from torch_ttnn.compiler.passes import precision as pp
    # pretend to_layout keeps a bfloat8_b input: the stem's conv becomes bfloat8_b and the device refuses the
    # row-major conversion before max_pool2d, as TT-NN does
    monkeypatch.setattr(pp, "_KEEPS_DTYPE", pp._KEEPS_DTYPE | {"to_layout", "max_pool2d"})
    # and keep that conversion (the optimizer otherwise lets the pool read the convolution's tiles)
    from torch_ttnn.compiler.passes import pool_input
    from torch_ttnn.compiler.passes.base import PassResult
    monkeypatch.setattr(pool_input.PoolReadsTiles, "call", lambda self, gm: PassResult(gm, False))
    torch.manual_seed(0)
    m, x = _Cnn().eval(), torch.randn(2, 3, 32, 32)
    y, opt, _ = _run(m, x, device)
    (decision,) = opt.results.precision
    assert decision["tried"][0][0] == "bfp8-act" and str(decision["tried"][0][2]).startswith("refused")
    assert decision["chosen"] == "bfp8-lofi" and pcc(y, m(x)) >= 0.99
    assert decision["placement"] == "l1"      # the refusal was the level's, not L1's


def test_graphs_without_convolutions_do_not_try_the_activation_level(device):
    m = torch.nn.Sequential(torch.nn.Linear(64, 64), torch.nn.ReLU()).eval()
    _, opt, _ = _run(m, torch.randn(8, 64), device)
    assert all(lv != "bfp8-act" for lv, *_ in opt.results.precision[0]["tried"])


def test_a_graph_whose_convolutions_must_stay_bf16_measures_bfp8_lofi_once(device):
    # sigmoid documents bfloat16 only: the conv keeps bfloat16, so bfp8-act would be the bfp8-lofi program
    torch.manual_seed(0)
    m = torch.nn.Sequential(torch.nn.Conv2d(3, 16, 3, padding=1), torch.nn.Sigmoid()).eval()
    x = torch.randn(1, 3, 16, 16)
    y, opt, _ = _run(m, x, device)
    (decision,) = opt.results.precision
    assert [lv for lv, *_ in decision["tried"]] == ["bfp8-lofi"]
    assert decision["chosen"] == "bfp8-lofi" and opt.results.reports[-1].precision == "bfp8-lofi"
    assert pcc(y, m(x)) >= 0.99


class _OneFragileLayer(torch.nn.Module):
    """a(x) + 0.05 * c(relu(b(x))): `a` has one huge weight per 16-value block that its input never reads
    (bfloat8_b's shared exponent flushes the rest of the block); b and c are ordinary, and their branch is
    small, so that relaxing them changes the output far less than bfloat16 rounding does."""

    def __init__(self):
        super().__init__()
        self.a, self.b, self.c = torch.nn.Linear(256, 256), torch.nn.Linear(256, 512), torch.nn.Linear(512, 256)
        with torch.no_grad():
            self.a.weight[:, ::16] *= 300.0

    def forward(self, x):
        return self.a(x) + 0.05 * self.c(torch.relu(self.b(x)))


def _fragile_case():
    """_OneFragileLayer and an input that never reads the huge weights."""
    torch.manual_seed(0)
    m = _OneFragileLayer().eval()
    x = torch.randn(4, 64, 256)
    x[..., ::16] = 0.0
    return m, x


def test_auto_relaxes_the_product_groups_that_keep_accuracy(device):
    """bfloat8_b loses the graph as a whole (the fragile layer), bfloat16 holds: the groups of products are then
    relaxed one at a time, largest modelled gain first, and each is kept only if the graph stays accurate."""
    m, x = _fragile_case()
    _, _, t16 = _run(m, x, device, precision="bf16")
    torch._dynamo.reset()
    y, opt, t = _run(m, x, device)
    (decision,) = opt.results.precision
    assert [lv for lv, *_ in decision["tried"]] == ["bfp8-lofi", "bfp8", "bf16"]
    assert decision["chosen"] == "bf16+bfp8-lofi 2/3"
    relaxed = decision["relaxed_groups"]
    assert [r["kept"] for r in relaxed] == [True, True, False]
    assert relaxed[-1]["group"] == "linear [256, 256]" and relaxed[-1]["pcc"] < 0.99
    assert all(r["gain_us"] > 0 for r in relaxed)
    assert [r["gain_us"] for r in relaxed] == sorted((r["gain_us"] for r in relaxed), reverse=True)
    assert pcc(y, m(x)) >= 0.99
    # the fragile layer's weight stays bfloat16; the other two are bfloat8_b (biases stay bfloat16)
    assert sorted(_load_dtypes(opt)) == ["BFLOAT16"] * 4 + ["BFLOAT8_B"] * 2
    assert t < t16
    assert opt.results.reports[-1].precision == "bf16+bfp8-lofi 2/3"


def test_a_graph_too_large_to_search_relaxes_its_groups_by_weight_bytes(device, monkeypatch):
    """A graph over the search's parameter budget starts at bfloat16 without timing the faster levels: its
    groups are still relaxed one at a time, ranked by weight bytes, each kept only if the graph stays
    accurate."""
    from torch_ttnn.compiler import precision
    monkeypatch.setattr(precision, "SEARCH_MAX_PARAM_BYTES", 0)
    m, x = _fragile_case()
    y, opt, _ = _run(m, x, device)
    (decision,) = opt.results.precision
    assert [lv for lv, *_ in decision["tried"]] == ["bf16"]
    relaxed = decision["relaxed_groups"]
    # b and c (256 x 512 weights) rank above a (256 x 256); a alone loses accuracy
    assert [r["group"] for r in relaxed][-1] == "linear [256, 256]"
    assert [r["kept"] for r in relaxed] == [True, True, False]
    assert [r["weight_bytes_saved"] for r in relaxed] == sorted((r["weight_bytes_saved"] for r in relaxed), reverse=True)
    assert decision["chosen"] == "bf16+bfp8-lofi 2/3"
    assert pcc(y, m(x)) >= 0.99


def test_groups_are_not_relaxed_without_memory_for_a_second_program(device, monkeypatch):
    """A trial program lives beside the kept one: where the process cannot hold a second program (the memory
    the kept one took since the search began is more than what is left), the search keeps the accurate level
    and says why."""
    from torch_ttnn.compiler import precision
    monkeypatch.setattr(precision, "SEARCH_MAX_PARAM_BYTES", 0)
    rss = iter([1 << 30, (1 << 30) + (64 << 20)])       # the kept program took 64 MiB
    monkeypatch.setattr(precision, "_resident_bytes", lambda: next(rss))
    monkeypatch.setattr(precision, "_memory_headroom", lambda: 16 << 20)
    m, x = _fragile_case()
    y, opt, _ = _run(m, x, device)
    (decision,) = opt.results.precision
    assert decision["chosen"] == "bf16" and not decision.get("relaxed_groups")
    assert "groups not relaxed: a trial program needs ~0.1 GiB beside the kept one, 0.0 GiB left" in \
        [t[2] for t in decision["tried"]]
    assert pcc(y, m(x)) >= 0.99


def test_memory_headroom_is_read_from_the_system():
    from torch_ttnn.compiler import precision
    rss, room = precision._resident_bytes(), precision._memory_headroom()
    assert rss is not None and rss > 10 << 20          # this process holds torch
    assert room is not None and room > 0


def test_a_mixed_level_on_an_fp32_dst_base_relaxes_only_its_groups(device):
    import torch_ttnn.sim as ttnn
    from torch_ttnn.compiler.passes.precision import MixedLevel, WeightPrecision, product_groups
    m = torch.nn.Sequential(torch.nn.Linear(256, 128), torch.nn.ReLU(), torch.nn.Linear(128, 64)).eval()
    _, opt, _ = _run(m, torch.randn(32, 256), device, precision="bf16")
    gm = opt.results.graph_modules[-1]
    groups = product_groups(gm, ttnn)
    assert len(groups) == 2
    relaxed_key = next(iter(groups))
    WeightPrecision(ttnn, MixedLevel("bfp8-acc32", "bfp8", frozenset({relaxed_key}), 2))(gm)
    assert sorted(_load_dtypes(opt)) == ["BFLOAT16", "BFLOAT16", "BFLOAT8_B", "BFLOAT8_B"]
    for key, (node,) in groups.items():
        cfg = node.kwargs.get("compute_kernel_config")
        fp32_dst = cfg is not None and getattr(gm, cfg.target).fp32_dest_acc_en
        assert fp32_dst == (key != relaxed_key)
    with pytest.raises(ValueError, match="mixed level"):
        WeightPrecision(ttnn, MixedLevel("bf16", "bfp4", frozenset(), 2))


def test_groups_whose_modelled_gain_is_nil_are_not_relaxed(device, monkeypatch):
    """Relaxing a group trades accuracy for time: a group whose modelled gain is below MIN_RELAX_GAIN of the
    graph's product time is not tried (an fp32 Dst, for one, costs the model no time)."""
    from torch_ttnn.compiler import precision
    monkeypatch.setattr(precision, "MIN_RELAX_GAIN", 10.0)      # no group can gain ten times the graph's time
    m, x = _fragile_case()
    _, opt, _ = _run(m, x, device)
    (decision,) = opt.results.precision
    assert decision["chosen"] == "bf16" and "relaxed_groups" not in decision


def test_l1_spills_the_tensor_used_farthest_ahead(device, monkeypatch):
    """With room for about two activations, a value held for the end (r) and a chain of intermediates compete:
    the pass sends r to DRAM, not the chain's outputs, and the program is modelled faster than the greedy
    rule (an output that does not fit goes to DRAM) at the same values."""
    from torch_ttnn.compiler.passes import placement

    def f(x):
        r = x * 2.0
        y = r
        for _ in range(4):
            y = torch.nn.functional.gelu(y) * 0.5
        return y + r

    x = torch.randn(8, 64, 1024)             # 1 MiB of bfloat16 an activation
    total = device.memory_stats()["L1"]["total_bytes"]
    monkeypatch.setattr(placement, "PLACEMENT_BUDGET", 2.5 * 2 ** 20 / total)

    def run(spill):
        torch._dynamo.reset()
        monkeypatch.setattr(placement.L1Placement.__init__, "__defaults__", (None, spill))
        y, opt, t = _run(f, x, device, precision="bf16")
        gm = opt.results.graph_modules[-1]
        where = {n.name: n.kwargs["memory_config"].target for n in gm.graph.nodes
                 if n.op == "call_function" and "memory_config" in n.kwargs
                 and getattr(n.kwargs["memory_config"], "op", "") == "get_attr"}
        return y, opt.results.reports[-1], t, where

    y0, rep0, t0, where0 = run(False)
    y1, rep1, t1, where1 = run(True)
    torch.testing.assert_close(y0, y1)
    assert rep0.l1_spilled == 0 and rep1.l1_spilled >= 1
    # r = x * 2.0 is the first multiply: L1 under the greedy rule, DRAM when spilled
    assert where0["multiply"] == "ttnn_l1_config" and where1["multiply"] == "ttnn_dram_config"
    assert all(v == "ttnn_l1_config" for k, v in where1.items() if k.startswith(("gelu", "multiply_")))
    assert sum(v == "ttnn_dram_config" for v in where1.values()) < sum(v == "ttnn_dram_config"
                                                                       for v in where0.values())
    assert t1 < t0


def test_ops_a_bfloat8_b_activation_flows_through_say_so(device):
    """Under bfp8-act the residual add after bfloat8_b convolutions returns bfloat8_b (its output follows its
    first operand); its meta says so, so the placement sizes its buffer by bfloat8_b, not bfloat16."""
    from torch_ttnn.compiler.meta import tt_meta

    class Block(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.stem, self.c1, self.c2 = (torch.nn.Conv2d(3, 32, 3, padding=1), torch.nn.Conv2d(32, 32, 1),
                                           torch.nn.Conv2d(32, 32, 3, padding=1))
            self.head = torch.nn.Conv2d(32, 8, 1)

        def forward(self, x):
            x = torch.relu(self.stem(x))
            return self.head(torch.relu(self.c2(torch.relu(self.c1(x))) + x))

    torch.manual_seed(0)
    m, x = Block().eval(), torch.randn(2, 3, 32, 32)
    _, option = run_recorded(m, x, device=device)         # auto: the search takes bfp8-act here
    ran = [r.outputs[0].dtype.name for r in device.profiler.rows if r.op == "add"]
    gm = option.results.graph_modules[-1]
    said = [tt_meta(n).dtype.name for n in gm.graph.nodes if getattr(n.target, "__name__", "") == "add"]
    assert option.results.precision[-1]["chosen"] == "bfp8-act"
    assert ran and said == ran and set(ran) == {"BFLOAT8_B"}, (said, ran)
