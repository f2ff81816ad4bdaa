"""Autoregressive generation through the TT-NN backend (torch_ttnn.generate, torch_ttnn/generation.py).

Greedy `model.generate` of tiny models (2 layers, hidden 64-128, vocabulary 1000, random weights, fixed seed)
eagerly and through TT-NN: the tokens agree, or the first divergence is a bf16 near-tie (eager's margin
between the two tokens within the compiled logits' error at that step); the number of compiled graphs does
not grow with max_new_tokens; the static cache updates (index_put -> scatter) are written back into the torch
cache tensors; `metrics.measure` accepts a bound `generate`.
"""
from __future__ import annotations

import pytest
import torch

import torch_ttnn
from torch_ttnn import generation

from .harness import check_lowered, compile_and_run

transformers = pytest.importorskip("transformers")

IDS = dict(bos_token_id=1, eos_token_id=2, pad_token_id=0)
KNOWN_HOST_OPS = {"aten.abs.default", "aten.neg.default"}   # T5's int64 relative-position buckets


def _ttnn_names(option, index):
    g = option.results.graphs[index]
    return {getattr(n.target, "__name__", str(n.target)) for n in g.nodes if n.op == "call_function"}


def _assert_agrees(res):
    """Tokens equal, or the first divergence is explained by bf16 rounding at a near-tie."""
    if res["first_divergence"] is None:
        assert res["agreement"] == 100.0
        return
    d = res["divergence"]
    assert d["cause"].startswith("bf16 numerics"), d
    # before the divergence the compiled logits track eager's closely
    assert all(p >= 0.99 for p in res["logits_pcc"]), res["logits_pcc"]


def _gpt2():
    torch.manual_seed(0)
    cfg = transformers.GPT2Config(vocab_size=1000, n_embd=64, n_layer=2, n_head=2, n_positions=128,
                                  initializer_range=0.1, **IDS)
    model = transformers.GPT2LMHeadModel._from_config(cfg, dtype=torch.float32).eval()
    ids = torch.randint(3, 1000, (1, 7), generator=torch.Generator().manual_seed(1))
    return model, ids


@pytest.fixture(scope="module")
def gpt2():
    """A tiny GPT-2 compiled once for the tests of this module (prefill + decode graphs)."""
    import torch_ttnn.sim as ttnn
    torch._dynamo.reset()
    dev = ttnn.open_device(device_id=0, l1_small_size=16384)
    model, ids = _gpt2()
    option = torch_ttnn.TorchTtnnOption(device=dev)
    res = generation.compare(model, option, ids, max_new_tokens=8, do_sample=False)
    yield model, ids, option, res
    generation.release(model)
    ttnn.close_device(dev)


# --------------------------------------------------------------------------------------------------
# decoder-only: GPT-2
# --------------------------------------------------------------------------------------------------

def test_gpt2_tokens_match_eager(gpt2):
    model, ids, option, res = gpt2
    _assert_agrees(res)
    assert res["graphs"] == 2, res["graph_kinds"]          # prefill + decode
    assert res["unique_graphs"] == 2                         # dynamo compiled nothing else
    assert res["host_ops"] == []
    assert "scatter" in _ttnn_names(option, 1)               # the cache update, on the device
    # the precision search compared the updated cache as computed (not the host copy generate leaves behind
    # until it returns): the decode graph reached PCC 0.99 with the level it kept
    decode = option.results.precision[1]
    assert isinstance(decode["tried"][-1][2], float) and decode["tried"][-1][2] >= 0.99, decode


def test_gpt2_graphs_bounded_regardless_of_max_new_tokens(gpt2):
    """The fixture's compare() returned logits (2 graphs); plain greedy generation chooses tokens on the device
    with its own prefill + decode graphs: 2 more per cache bucket, whatever max_new_tokens is."""
    model, ids, option, _ = gpt2
    for n in (4, 16):                                        # 7 + n <= 32: the same cache bucket
        out = torch_ttnn.generate(model, option, ids, max_new_tokens=n, do_sample=False)
        assert out.shape[-1] == 7 + n
        assert len(option.results.reports) == 2 + 2
    out = torch_ttnn.generate(model, option, ids, max_new_tokens=26, do_sample=False)   # 33 > 32: bucket 64
    assert out.shape[-1] == 7 + 26
    assert len(option.results.reports) == 2 + 4             # one prefill + one decode graph per bucket
    torch_ttnn.generate(model, option, ids, max_new_tokens=3, do_sample=False)
    assert len(option.results.reports) == 2 + 4             # transformers keeps the larger cache: reused


def test_gpt2_greedy_tokens_chosen_on_the_device(gpt2):
    """Greedy search with nobody reading the scores: the argmax runs on the device and a decode step reads back
    the token id, not the vocabulary-wide logits; the tokens are those of the logits path."""
    model, ids, option, _ = gpt2
    kw = dict(max_new_tokens=6, do_sample=False)
    dev = option.device_in_use
    read = {}
    for _ in range(2):                                      # the second round: graphs compiled, steady state
        before = dev.counters.from_device_bytes
        with_logits = torch_ttnn.generate(model, option, ids, output_logits=True, return_dict_in_generate=True,
                                          **kw)
        assert option.results.token_choice[-1].startswith("host: the scores are returned")
        read["logits"] = dev.counters.from_device_bytes - before
        before = dev.counters.from_device_bytes
        out = torch_ttnn.generate(model, option, ids, **kw)
        assert option.results.token_choice[-1] == "device"
        read["device"] = dev.counters.from_device_bytes - before
    assert torch.equal(out, with_logits.sequences)
    # the logits path reads a row of 1000 fp32 logits per forward (prefill + 5 decode steps); both read the KV
    # cache back once at the end
    assert read["logits"] - read["device"] >= 6 * 1000 * 4 * 0.95, read
    assert any("argmax" in _ttnn_names(option, i) for i in range(len(option.results.graphs)))
    torch_ttnn.generate(model, option, ids, repetition_penalty=1.3, **kw)
    assert option.results.token_choice[-1] == "host: logits processors RepetitionPenaltyLogitsProcessor"
    torch_ttnn.generate(model, option, ids, output_hidden_states=True, return_dict_in_generate=True, **kw)
    assert option.results.token_choice[-1] == "host: the forward's attentions / hidden states are returned"


def test_gpt2_cache_written_back(gpt2):
    """The compiled decode steps write the scattered keys/values (and the 0-dim cumulative length) back
    into the torch StaticCache tensors: the cache after generation equals eager's static cache."""
    model, ids, option, _ = gpt2
    kw = dict(max_new_tokens=5, do_sample=False, return_dict_in_generate=True)
    out = torch_ttnn.generate(model, option, ids, **kw)
    cache_len = out.past_key_values.layers[0].max_cache_len
    with torch.no_grad(), torch.compiler.set_stance("force_eager"):
        ref = model.generate(ids, cache_implementation="static", max_cache_len=cache_len, **kw)
    assert torch.equal(out.sequences, ref.sequences)
    # bf16 on the device; block-float weights (precision="auto" chose them: PCC >= 0.99) move keys a bit more
    tol = 0.05 if all(d["chosen"] == "bf16" for d in option.results.precision) else 0.15
    for lo, lr in zip(out.past_key_values.layers, ref.past_key_values.layers):
        assert int(lo.cumulative_length) == int(lr.cumulative_length) == 7 + 5 - 1
        for a, b in ((lo.keys, lr.keys), (lo.values, lr.values)):
            assert a.shape == b.shape
            torch.testing.assert_close(a, b, atol=tol, rtol=tol)
            assert not a[:, :, 7 + 5 - 1:].any()                      # nothing written past the end


def test_gpt2_batch_with_padding(gpt2):
    model, _, option, _ = gpt2
    ids = torch.randint(3, 1000, (2, 6), generator=torch.Generator().manual_seed(2))
    mask = torch.ones_like(ids)
    ids[1, :2], mask[1, :2] = 0, 0                            # left padding
    res = generation.compare(model, option, input_ids=ids, attention_mask=mask, max_new_tokens=4,
                             do_sample=False)
    _assert_agrees(res)
    assert res["graphs"] == 2 and res["host_ops"] == []      # batch 2: its own prefill + decode


# --------------------------------------------------------------------------------------------------
# encoder-decoder: T5
# --------------------------------------------------------------------------------------------------

def test_t5_tokens_match_eager(device):
    torch._dynamo.reset()
    torch.manual_seed(0)
    cfg = transformers.T5Config(vocab_size=1000, d_model=64, d_kv=32, d_ff=128, num_layers=2, num_heads=2,
                                decoder_start_token_id=0, initializer_factor=5.0, **IDS)
    model = transformers.T5ForConditionalGeneration._from_config(cfg, dtype=torch.float32).eval()
    ids = torch.randint(3, 1000, (1, 7), generator=torch.Generator().manual_seed(1))
    option = torch_ttnn.TorchTtnnOption(device=device)
    try:
        res = generation.compare(model, option, input_ids=ids, max_new_tokens=8, do_sample=False)
        # greedy without returned scores: still the logits path for encoder-decoder models (the token graph of
        # T5's decoder chose other tokens), the same tokens
        plain = torch_ttnn.generate(model, option, input_ids=ids, max_new_tokens=8, do_sample=False)
        assert option.results.token_choice[-1].startswith("host: encoder-decoder model")
        assert plain[0, 1:].tolist() == res["compiled"][0]
    finally:
        generation.release(model)
    _assert_agrees(res)
    assert len(res["compiled"][0]) == 8
    assert res["graphs"] == 3, res["graph_kinds"]            # encoder, first decoder step, decode
    assert {h["op"] for h in res["host_ops"]} <= KNOWN_HOST_OPS, res["host_ops"]


# --------------------------------------------------------------------------------------------------
# sliding-window attention: no recompile per token
# --------------------------------------------------------------------------------------------------

def test_sliding_window_model_no_recompile_storm(device):
    """transformers' sliding static layer branches on a Python int (a recompile per token); generate gives
    such models full static layers (the mask keeps the window): 2 graphs, past the window too."""
    torch._dynamo.reset()
    torch.manual_seed(0)
    cfg = transformers.MistralConfig(vocab_size=1000, hidden_size=128, intermediate_size=256, num_hidden_layers=2,
                                     num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=128,
                                     sliding_window=8, **IDS)
    model = transformers.MistralForCausalLM._from_config(cfg, dtype=torch.float32).eval()
    ids = torch.randint(3, 1000, (1, 7), generator=torch.Generator().manual_seed(1))
    option = torch_ttnn.TorchTtnnOption(device=device)
    try:
        res = generation.compare(model, option, ids, max_new_tokens=6, do_sample=False)
    finally:
        generation.release(model)
    _assert_agrees(res)
    assert res["graphs"] == 2, res["graph_kinds"]


# --------------------------------------------------------------------------------------------------
# the pieces: index_put along an inner dim, 0-dim mutated inputs, metrics of a bound generate
# --------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("case", ["index_copy_dim2", "setitem_dim1", "accumulate_dim1", "negative_index"])
def test_index_put_inner_dim_lowered_to_scatter(device, case):
    x = torch.randn(2, 3, 40, 32)
    if case == "index_copy_dim2":
        idx, v = torch.tensor([5, 6, 7]), torch.randn(2, 3, 3, 32)

        def fn(x, i, v):
            return x.clone().index_copy_(2, i, v)
        expect = ("scatter",)
    elif case == "setitem_dim1":
        idx, v = torch.tensor([2, 0]), torch.randn(2, 2, 40, 32)

        def fn(x, i, v):
            y = x.clone()
            y[:, i] = v
            return y
        expect = ("scatter",)
    elif case == "accumulate_dim1":
        idx, v = torch.tensor([1, 2]), torch.randn(2, 2, 40, 32)

        def fn(x, i, v):
            return torch.ops.aten.index_put(x, [None, i], v, True)
        expect = ("scatter_add",)
    else:
        idx, v = torch.tensor([-1, -3]), torch.randn(2, 3, 2, 32)

        def fn(x, i, v):
            return torch.ops.aten.index_put(x, [None, None, i], v)
        expect = ("scatter", "remainder")
    check_lowered(fn, (x, idx, v), device=device, expect=expect)


def test_mutated_zero_dim_input_written_back(device):
    """A 0-dim tensor updated in place (StaticCache's cumulative_length) comes back with its 0-dim shape."""
    def fn(x, n):
        n.add_(x.shape[-1])
        return x * 2, n + 1

    x, n = torch.randn(4, 8), torch.tensor(3)
    with torch.no_grad():
        (y, m), _ = compile_and_run(fn, (x, n), device=device)
    assert int(n) == 11 and n.dim() == 0
    assert m.dim() == 0 and int(m) == 12
    torch.testing.assert_close(y, x * 2, atol=0.05, rtol=0.02)


def test_measure_bound_generate(device):
    from torch_ttnn.metrics import format_metrics, measure
    model, ids = _gpt2()
    inputs = {"input_ids": ids, "max_new_tokens": 4, "do_sample": False}
    with torch.no_grad():
        ref = model.generate(**inputs)
    m = measure("gpt2-tiny generate", model.generate, inputs, device=device, ref_output=ref, runs=1)
    assert m.success, getattr(m, "traceback", m.error)
    assert m.generation["new_tokens"] == 4
    assert m.accuracy == m.generation["agreement"]
    assert m.accuracy == 100.0 or m.generation["first_divergence"] is not None
    assert m.graphs == 2 and m.graph_breaks == 0 and m.ops_remaining == 0
    assert getattr(model, "_compiled_call_impl", None) is None          # the model runs eagerly again
    assert "accuracy (tokens):" in format_metrics(m)


def test_cache_bucket_and_agreement():
    assert [generation.cache_bucket(n) for n in (1, 32, 33, 64, 65, 200)] == [32, 32, 64, 64, 128, 256]
    a = torch.tensor([[9, 9, 1, 2, 3, 4]])
    assert generation.token_agreement(a, a, start=2) == (100.0, None)
    assert generation.token_agreement(torch.tensor([[9, 9, 1, 5, 3]]), a, start=2) == (50.0, 1)
