"""Tensor parallelism over a simulated mesh: TorchTtnnOption(mesh=..., parallel="tensor")."""
import os

import pytest
import torch

import torch_ttnn
from torch_ttnn.compiler.fused_ops import fused_ops
from torch_ttnn.compiler.tensor_parallel import Plan, Split, reshaped_split

from .harness import pcc

os.environ.setdefault("HF_HUB_OFFLINE", "1")


# --- where a split lands through a reshape ------------------------------------------------------------------

@pytest.mark.parametrize("split,old,new,expect", [
    (Split(1, (192,)), [64, 192], [2, 32, 192], Split(2, (192,))),       # a linear's output in batch shape
    (Split(2, (64,)), [2, 32, 64], [2, 32, 4, 16], Split(2, (4,))),       # features -> heads
    (Split(2, (4,)), [2, 32, 4, 16], [2, 32, 64], Split(2, (64,))),       # heads -> features
    (Split(1, (4,)), [2, 4, 32, 16], [8, 32, 16], Split(0, (4, 4))),      # heads merged with the batch
    (Split(0, (4, 4)), [8, 32, 16], [2, 4, 32, 16], Split(1, (4,))),      # and back
    (Split(2, (48,)), [2, 32, 48], [2, 32, 3, 16], None),                 # 3 heads do not split over 2 chips
    (Split(1, (64,)), [32, 64], [2048], Split(0, tuple([64] * 32))),      # rows flattened: one group each
])
def test_reshaped_split(split, old, new, expect):
    assert reshaped_split(split, old, new, 2) == expect


def test_grouped_weight_order():
    """A fused q/k/v weight split in groups: chip k's rows are the k-th half of q, of k and of v."""
    plan = Plan(2, {0: (0, (4, 4, 4))}, {}, [])
    assert plan.param_index(0).tolist() == [0, 1, 4, 5, 8, 9, 2, 3, 6, 7, 10, 11]
    w = torch.arange(12.0).reshape(12, 1)
    assert plan.shard(0, w, 1).flatten().tolist() == [2, 3, 6, 7, 10, 11]


def test_collectives_refuse_to_run_on_the_host():
    with pytest.raises(RuntimeError, match="mesh"):
        fused_ops().all_reduce(torch.ones(2, 2), 2)


# --- compiled models -------------------------------------------------------------------------------------

def _run(model, args, mesh="n300", parallel="tensor"):
    torch._dynamo.reset()
    option = torch_ttnn.TorchTtnnOption(mesh=mesh, parallel=parallel)
    with torch.no_grad():
        ref = model(*args)
        out = torch.compile(model, backend=torch_ttnn.backend, options=option)(*args)
    return option, ref, out


class _MLP(torch.nn.Module):
    def __init__(self, h=256, f=1024):
        super().__init__()
        self.fc1, self.fc2 = torch.nn.Linear(h, f), torch.nn.Linear(f, h)

    def forward(self, x):
        return x + self.fc2(torch.nn.functional.gelu(self.fc1(x)))


class _Block(torch.nn.Module):
    """Pre-norm transformer block with a fused q/k/v projection."""

    def __init__(self, h=64, heads=4):
        super().__init__()
        self.heads = heads
        self.ln1, self.ln2 = torch.nn.LayerNorm(h), torch.nn.LayerNorm(h)
        self.qkv, self.o = torch.nn.Linear(h, 3 * h), torch.nn.Linear(h, h)
        self.mlp = _MLP(h, 4 * h)

    def forward(self, x):
        b, s, h = x.shape
        q, k, v = self.qkv(self.ln1(x)).split(h, -1)
        q, k, v = (t.view(b, s, self.heads, h // self.heads).transpose(1, 2) for t in (q, k, v))
        a = torch.nn.functional.scaled_dot_product_attention(q, k, v, is_causal=True)
        x = x + self.o(a.transpose(1, 2).reshape(b, s, h))
        return self.mlp(self.ln2(x))


def test_mlp_column_then_row_parallel_one_all_reduce():
    torch.manual_seed(0)
    option, ref, out = _run(_MLP().eval(), (torch.randn(2, 32, 256),))
    (rec,) = option.results.parallel
    assert rec["mode"] == "tensor" and rec["reason"] is None
    # fc1.weight by output features (dim 0), fc1.bias with it, fc2.weight by input features (dim 1)
    assert sorted(rec["split_weights"].values()) == [0, 0, 1]
    assert [c.split()[0] for c in rec["collectives"]] == ["all_reduce"]
    assert option.results.reports[-1].ttnn_ops["all_reduce"] == 1       # lowered to ttnn.all_reduce
    assert pcc(out, ref) >= 0.99


def test_each_chip_holds_half_of_the_split_weights():
    torch.manual_seed(0)
    model, x = _MLP(512, 2048).eval(), torch.randn(1, 32, 512)
    tp, ref, out = _run(model, (x,))
    whole, _, _ = _run(model, (x,), parallel="data")            # static shapes: every chip runs it whole
    assert whole.results.parallel[0]["mode"] == "replicated"
    per_chip = [c.memory_stats()["DRAM"]["current_bytes"] for c in tp.device_in_use.chips]
    replicated = [c.memory_stats()["DRAM"]["current_bytes"] for c in whole.device_in_use.chips]
    assert per_chip[0] == per_chip[1]
    assert per_chip[0] < 0.6 * replicated[0], (per_chip, replicated)
    assert pcc(out, ref) >= 0.99


def test_attention_block_with_fused_qkv():
    torch.manual_seed(0)
    option, ref, out = _run(_Block().eval(), (torch.randn(2, 32, 64),))
    (rec,) = option.results.parallel
    assert rec["mode"] == "tensor"
    assert len(rec["split_weights"]) == 6          # qkv weight and bias, o.weight, fc1 weight and bias, fc2.weight
    assert [c.split()[0] for c in rec["collectives"]] == ["all_reduce", "all_reduce"]
    assert pcc(out, ref) >= 0.99


def test_llama_with_grouped_query_attention():
    from transformers import LlamaConfig, LlamaForCausalLM
    torch.manual_seed(0)
    cfg = LlamaConfig(hidden_size=128, intermediate_size=256, num_hidden_layers=2, num_attention_heads=8,
                      num_key_value_heads=4, vocab_size=512, max_position_embeddings=64)
    model = LlamaForCausalLM(cfg).eval()
    ids = torch.randint(0, 512, (1, 32))
    option, ref, out = _run(model, (ids,))
    (rec,) = option.results.parallel
    assert rec["mode"] == "tensor"
    # q, k, v, o, gate, up, down per layer; the LM head and the embedding by vocabulary
    assert len(rec["split_weights"]) == 2 * 7 + 2
    assert rec["split_weights"]["model.embed_tokens.weight"] == 0
    assert sum(c.startswith("all_reduce") for c in rec["collectives"]) == 1 + 2 * 2
    assert not any(c.startswith("all_gather") for c in rec["collectives"])
    assert pcc(out.logits, ref.logits) >= 0.99


class _Embed(torch.nn.Module):
    def __init__(self, vocab=1024, h=64):
        super().__init__()
        self.emb = torch.nn.Embedding(vocab, h)
        self.mlp = _MLP(h, 4 * h)

    def forward(self, ids):
        return self.mlp(self.emb(ids))


@pytest.mark.parametrize("mesh", ["n300", "t3000"])
def test_embedding_split_by_vocabulary(mesh):
    """Each chip holds 1/N of the embedding table's rows and looks up the ids that fall in its rows; the rows
    are added over the chips (one non-zero term each): the embedding is exact, ids at both ends included."""
    torch.manual_seed(0)
    model = _Embed().eval()
    ids = torch.cat([torch.tensor([[0, 1023, 511, 512, 127, 128]]), torch.randint(0, 1024, (1, 26))], 1)
    option, ref, out = _run(model, (ids,), mesh=mesh)
    (rec,) = option.results.parallel
    assert rec["mode"] == "tensor"
    assert rec["split_weights"].get("emb.weight", rec["split_weights"].get("L__self___emb.weight")) == 0, rec
    assert [c.split()[0] for c in rec["collectives"]] == ["all_reduce", "all_reduce"]
    assert pcc(out, ref) >= 0.99
    emb_only = torch.nn.Sequential(model.emb).eval()
    option, ref, out = _run(emb_only, (ids,), mesh=mesh)
    assert option.results.parallel[0]["mode"] == "tensor"
    assert torch.equal(out, ref.to(torch.bfloat16).float()), (out - ref).abs().max()


def test_tied_head_that_cannot_split_by_vocabulary_keeps_the_embedding_whole():
    """The head reads the tied table after a column-parallel linear (its input split by features, so it would
    be split by hidden, not by vocabulary): the walk is redone with the table whole, and the rest still split."""
    class M(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.emb = torch.nn.Embedding(256, 64)
            self.fc = torch.nn.Linear(64, 64)

        def forward(self, ids):
            return self.fc(self.emb(ids)) @ self.emb.weight.t()

    torch.manual_seed(0)
    option, ref, out = _run(M().eval(), (torch.randint(0, 256, (1, 32)),))
    (rec,) = option.results.parallel
    assert rec["mode"] == "tensor"
    assert not any("emb" in k for k in rec["split_weights"]), rec["split_weights"]
    assert pcc(out, ref) >= 0.99


def test_gpt2_fused_attention_and_tied_head():
    """GPT-2's c_attn is one [in, 3 * hidden] weight (split in groups); its LM head is the embedding's weight:
    both read it split by vocabulary (the embedding's rows, the head's output features)."""
    from transformers import GPT2Config, GPT2LMHeadModel
    torch.manual_seed(0)
    model = GPT2LMHeadModel(GPT2Config(n_embd=128, n_layer=2, n_head=8, vocab_size=512, n_positions=64)).eval()
    option, ref, out = _run(model, (torch.randint(0, 512, (1, 32)),))
    (rec,) = option.results.parallel
    assert rec["mode"] == "tensor"
    assert len(rec["split_weights"]) == 2 * 6 + 1      # c_attn w/b, c_proj w, c_fc w/b, mlp c_proj w; wte
    assert rec["split_weights"]["transformer.wte.weight"] == 0
    assert pcc(out.logits, ref.logits) >= 0.99


def test_heads_that_do_not_divide_are_gathered_not_guessed():
    """8 chips, 4 key/value heads: those projections are joined before attention; the result is exact."""
    from transformers import LlamaConfig, LlamaForCausalLM
    torch.manual_seed(0)
    cfg = LlamaConfig(hidden_size=128, intermediate_size=256, num_hidden_layers=1, num_attention_heads=8,
                      num_key_value_heads=4, vocab_size=512, max_position_embeddings=64)
    option, ref, out = _run(LlamaForCausalLM(cfg).eval(), (torch.randint(0, 512, (1, 32)),), mesh="t3000")
    (rec,) = option.results.parallel
    assert rec["mode"] == "tensor" and rec["chips"] == 8
    assert any(c.startswith("all_gather") for c in rec["collectives"])
    assert option.results.reports[-1].ttnn_ops["all_gather"] >= 1       # lowered to ttnn.all_gather
    assert pcc(out.logits, ref.logits) >= 0.99


def test_nothing_to_split_runs_whole_with_the_reason():
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Conv2d(3, 8, 3), torch.nn.ReLU()).eval()
    option, ref, out = _run(model, (torch.randn(1, 3, 16, 16),))
    (rec,) = option.results.parallel
    assert rec["mode"] == "replicated" and "no linear layer" in rec["reason"]
    assert pcc(out, ref) >= 0.99


def test_a_host_fallback_between_device_ops_runs_whole():
    """cummax has no TT-NN lowering: it runs on the host, which would see one chip's piece; the split is
    refused when the program is built (at its first call) and the graph runs whole on every chip."""
    class M(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.fc1, self.fc2 = torch.nn.Linear(64, 128), torch.nn.Linear(128, 64)

        def forward(self, x):
            return self.fc2(torch.cummax(self.fc1(x), dim=-1).values)

    torch.manual_seed(0)
    option, ref, out = _run(M().eval(), (torch.randn(1, 32, 64),))
    (rec,) = option.results.parallel
    assert rec["mode"] == "replicated" and "host" in rec["reason"]
    assert pcc(out, ref) >= 0.99


def test_auto_with_static_shapes_keeps_the_faster_program():
    """parallel="auto" on a graph captured with static shapes (its batch cannot be split): the weights' split
    and the whole graph are both timed on the modelled mesh and the faster is kept, the other released."""
    torch.manual_seed(0)
    option, ref, out = _run(_Block().eval(), (torch.randn(2, 32, 64),), parallel="auto")
    (rec,) = option.results.parallel
    times = rec["modelled_us"]
    assert set(times) == {"tensor", "replicated"} and all(t > 0 for t in times.values())
    faster = "tensor" if times["tensor"] <= times["replicated"] else "replicated"
    assert rec["mode"] == faster
    assert len(option.results.reports) == 1          # the other program is not kept
    assert pcc(out, ref) >= 0.99


def test_generate_on_a_mesh_uses_the_mesh(device):
    """torch_ttnn.generate with TorchTtnnOption(mesh=...) runs its graphs on that mesh (it used to open a single
    device), split by tensors; the tokens are the single chip's."""
    from transformers import LlamaConfig, LlamaForCausalLM
    torch.manual_seed(0)
    cfg = LlamaConfig(hidden_size=128, intermediate_size=256, num_hidden_layers=1, num_attention_heads=8,
                      num_key_value_heads=4, vocab_size=512, max_position_embeddings=64)
    model = LlamaForCausalLM(cfg).eval()
    ids = torch.randint(0, 512, (1, 8))
    mesh = torch_ttnn.TorchTtnnOption(mesh="n300", parallel="tensor")
    split = torch_ttnn.generate(model, mesh, ids, max_new_tokens=4)
    single = torch_ttnn.generate(model, torch_ttnn.TorchTtnnOption(device=device), ids, max_new_tokens=4)
    assert getattr(mesh.device_in_use, "is_mesh", False)
    assert mesh.results.parallel and all(p["mode"] == "tensor" for p in mesh.results.parallel)
    assert torch.equal(split, single)
