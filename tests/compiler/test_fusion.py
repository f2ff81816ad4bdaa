"""The fusion passes: linear (+bias) + activation, linear on batched inputs, attention, scale-mask-softmax,
RMSNorm. Each fused program must agree with eager and contain the fused TT-NN op instead of the pieces."""
import math

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

from .harness import check_lowered, compile_and_run, ttnn_targets


def _nodes(option, name):
    return [n for g in option._out_fx_graphs for n in g.nodes if getattr(n.target, "__name__", "") == name]


def _activation(node):
    """A linear's fused activation: its `activation=`, or its program config's fused_activation (the matmul
    config pass moves it there) as the activation's name."""
    cfg = node.kwargs.get("program_config")
    if cfg is not None:
        fused = getattr(node.graph.owning_module, cfg.target).fused_activation
        return None if fused is None else fused.op_type.name.lower()
    return node.kwargs.get("activation")


# --- linear + activation --------------------------------------------------------------------------------

@pytest.mark.parametrize("act,name", [(nn.ReLU(), "relu"), (nn.GELU(), "gelu"), (nn.SiLU(), "silu"),
                                      (nn.ReLU6(), "relu6")])
def test_linear_activation(device, act, name):
    model = nn.Sequential(nn.Linear(40, 64), act, nn.Linear(64, 8)).eval()
    option = check_lowered(model, (torch.randn(3, 5, 40),), device=device, expect=("linear",))
    targets = ttnn_targets(option)
    linears = _nodes(option, "linear")
    assert len(linears) == 2 and [_activation(n) for n in linears] == [name, None]
    assert name not in targets and "hardtanh" not in targets, targets


def test_linear_relu_mlp_is_one_op_per_layer(device):
    model = nn.Sequential(nn.Linear(32, 48), nn.ReLU(), nn.Linear(48, 48), nn.ReLU()).eval()
    option = check_lowered(model, (torch.randn(7, 32),), device=device, expect=("linear",))
    compute = [t for t in ttnn_targets(option) if t not in ("from_torch", "to_torch", "deallocate", "to_layout")]
    assert compute == ["linear", "linear"], compute


def test_activation_not_fused_when_linear_output_is_reused(device):
    lin = nn.Linear(40, 24).eval()
    option = check_lowered(lambda x: (torch.relu(lin(x)), lin(x) * 2), (torch.randn(5, 40),), device=device,
                           expect=("linear", "relu"))
    assert all(_activation(n) is None for n in _nodes(option, "linear"))


def test_tanh_gelu_is_not_fused_as_accurate_gelu(device):
    model = nn.Sequential(nn.Linear(40, 24), nn.GELU(approximate="tanh")).eval()
    option = check_lowered(model, (torch.randn(5, 40),), device=device, expect=("linear",), min_pcc=0.98)
    assert all(_activation(n) in (None, "gelu_tanh") for n in _nodes(option, "linear"))


class _ResidualConv(nn.Module):
    """conv -> relu -> conv, + the input, -> relu: a ResNet basic block without batch norm."""

    def __init__(self, c=16, act=None):
        super().__init__()
        self.c1, self.c2 = nn.Conv2d(c, c, 3, padding=1), nn.Conv2d(c, c, 3, padding=1)
        self.act = act or nn.ReLU()

    def forward(self, x):
        return torch.relu(x + self.c2(self.act(self.c1(x))))


@pytest.mark.parametrize("act,name", [(nn.ReLU(), "RELU"), (nn.SiLU(), "SILU"), (nn.ReLU6(), "RELU6")])
def test_conv_activation_and_add_relu_are_fused(device, act, name):
    """conv2d + activation: Conv2dConfig(activation=UnaryWithParam(...)); the residual add + relu:
    add(activations=[UnaryWithParam(RELU)]); no separate activation launch is left."""
    torch.manual_seed(0)
    option = check_lowered(_ResidualConv(act=act).eval(), (torch.randn(2, 16, 12, 12),), device=device,
                           expect=("conv2d", "add"))
    targets = ttnn_targets(option)
    assert "relu" not in targets and "silu" not in targets and "relu6" not in targets, targets
    gm = option.results.graph_modules[-1]
    convs = _nodes(option, "conv2d")
    acts = []
    for n in convs:
        cfg = n.kwargs.get("conv_config")
        acts.append(None if cfg is None else getattr(getattr(gm, cfg.target).activation, "op_type", None))
    assert [a.name if a is not None else None for a in acts] == [name, None]
    (add,) = _nodes(option, "add")
    assert [a.op_type.name for a in getattr(gm, add.kwargs["activations"].target)] == ["RELU"]


def test_fused_conv_activation_keeps_block_float_weights(device):
    """precision="bfp8": the conv's config with the fused relu also carries the bfloat8_b weights."""
    torch.manual_seed(0)
    option = check_lowered(_ResidualConv().eval(), (torch.randn(2, 16, 12, 12),), device=device,
                           expect=("conv2d",), precision="bfp8")
    gm = option.results.graph_modules[-1]
    cfgs = [getattr(gm, n.kwargs["conv_config"].target) for n in _nodes(option, "conv2d")]
    assert [c.weights_dtype.name for c in cfgs] == ["BFLOAT8_B", "BFLOAT8_B"]
    assert [getattr(c.activation, "op_type", None) is not None for c in cfgs] == [True, False]


class _PostNorm(nn.Module):
    """BERT's output block: LayerNorm(x + dropout(dense(h)))."""

    def __init__(self, h=64):
        super().__init__()
        self.dense, self.norm = nn.Linear(h, h), nn.LayerNorm(h)

    def forward(self, x):
        return self.norm(x + self.dense(x))


def test_post_norm_residual_add_runs_inside_layer_norm(device):
    torch.manual_seed(0)
    option = check_lowered(_PostNorm().eval(), (torch.randn(2, 40, 64),), device=device, expect=("layer_norm",))
    assert "add" not in ttnn_targets(option)
    (norm,) = _nodes(option, "layer_norm")
    assert norm.kwargs.get("residual_input_tensor") is not None


def test_residual_add_read_twice_is_not_fused(device):
    """A pre-norm residual stream (the sum also feeds the next residual) keeps its add."""
    torch.manual_seed(0)
    m = _PostNorm().eval()
    option = check_lowered(lambda x: (m.norm(x + m.dense(x)), x + m.dense(x)), (torch.randn(2, 40, 64),),
                           device=device, expect=("layer_norm", "add"))
    assert all(n.kwargs.get("residual_input_tensor") is None for n in _nodes(option, "layer_norm"))


def test_matmul_plus_bias_becomes_linear(device):
    """x @ W + b (GPT-2's Conv1D: addmm with an unpermuted weight) -> one ttnn.linear with bias (and activation)."""
    w, b = torch.randn(40, 24), torch.randn(24)
    option = check_lowered(lambda x: torch.relu(x @ w + b), (torch.randn(2, 5, 40),), device=device,
                           expect=("linear",))
    compute = [t for t in ttnn_targets(option) if t not in ("from_torch", "to_torch", "deallocate", "to_layout")]
    assert compute == ["linear"], compute
    (lin,) = _nodes(option, "linear")
    assert _activation(lin) == "relu" and lin.kwargs.get("bias") is not None


def test_matmul_on_batched_input_without_reshapes(device):
    w = torch.randn(40, 24)
    option = check_lowered(lambda x: x @ w, (torch.randn(2, 5, 40),), device=device, expect=("matmul",))
    assert "reshape" not in ttnn_targets(option)


# --- attention ------------------------------------------------------------------------------------------

def _attention(q, k, v, mask=None, scale_on_q=False):
    d = q.shape[-1]
    if scale_on_q:
        s = (q * d ** -0.5) @ k.transpose(-2, -1)
    else:
        s = q @ k.transpose(-2, -1) / math.sqrt(d)
    if mask is not None:
        s = s + mask
    return s.softmax(-1) @ v


@pytest.mark.parametrize("mask_shape,scale_on_q", [(None, False), ((2, 1, 1, 40), False), ((1, 1, 40, 40), True)])
def test_attention_pattern_becomes_sdpa(device, mask_shape, scale_on_q):
    q, k, v = (torch.randn(2, 2, 40, 32) for _ in range(3))
    args = [q, k, v] + ([torch.randn(mask_shape)] if mask_shape else [])
    fn = (lambda a, b, c, *m: _attention(a, b, c, m[0] if m else None, scale_on_q))
    option = check_lowered(fn, args, device=device, expect=("scaled_dot_product_attention",))
    targets = ttnn_targets(option)
    assert "softmax" not in targets and "matmul" not in targets, targets


def test_attention_probabilities_returned_are_not_fused(device):
    def fn(q, k, v):
        p = (q @ k.transpose(-2, -1) * 0.2).softmax(-1)
        return p @ v, p
    q, k, v = (torch.randn(1, 2, 40, 32) for _ in range(3))
    option = check_lowered(fn, (q, k, v), device=device, expect=("matmul",))
    assert "scaled_dot_product_attention" not in ttnn_targets(option)


class _Block(nn.Module):
    """A pre-norm transformer block with hand-written attention."""

    def __init__(self, d=64, heads=2):
        super().__init__()
        self.h = heads
        self.ln1, self.ln2 = nn.LayerNorm(d), nn.LayerNorm(d)
        self.qkv, self.proj = nn.Linear(d, 3 * d), nn.Linear(d, d)
        self.fc1, self.fc2 = nn.Linear(d, 4 * d), nn.Linear(4 * d, d)

    def forward(self, x, mask):
        b, t, d = x.shape
        q, k, v = self.qkv(self.ln1(x)).split(d, -1)
        q, k, v = (z.reshape(b, t, self.h, d // self.h).transpose(1, 2) for z in (q, k, v))
        o = _attention(q, k, v, mask)
        x = x + self.proj(o.transpose(1, 2).reshape(b, t, d))
        return x + self.fc2(F.gelu(self.fc1(self.ln2(x))))


def test_transformer_block(device):
    model = _Block().eval()
    mask = torch.zeros(2, 1, 1, 40)
    mask[1, ..., 30:] = -1e9
    option = check_lowered(model, (torch.randn(2, 40, 64), mask), device=device,
                           expect=("scaled_dot_product_attention", "layer_norm", "linear"))
    targets = ttnn_targets(option)
    assert "softmax" not in targets and "gelu" not in targets, targets
    assert [_activation(n) for n in _nodes(option, "linear")].count("gelu") == 1


# --- scale-mask-softmax ----------------------------------------------------------------------------------

@pytest.mark.parametrize("fn,mask_shape", [
    (lambda x, m: (x * 0.125 + m).softmax(-1), (2, 1, 1, 40)),
    (lambda x, m: (x / 4 + m).softmax(-1), (1, 1, 1, 40)),
    (lambda x: (x * 0.5).softmax(-1), None),
])
def test_scale_mask_softmax(device, fn, mask_shape):
    args = [torch.randn(2, 3, 9, 40)] + ([torch.randn(mask_shape)] if mask_shape else [])
    option = check_lowered(fn, args, device=device, expect=("scale_mask_softmax",))
    assert "softmax" not in ttnn_targets(option)


def test_full_mask_softmax_is_not_fused(device):
    """ttnn.scale_mask_softmax takes a padding mask [b, 1, 1, sk]; a full mask keeps add + softmax."""
    option = check_lowered(lambda x, m: (x * 0.5 + m).softmax(-1), (torch.randn(2, 3, 9, 40),
                           torch.randn(2, 3, 9, 40)), device=device, expect=("softmax", "add"))
    assert "scale_mask_softmax" not in ttnn_targets(option)


# --- RMSNorm -------------------------------------------------------------------------------------------

class _LlamaRMSNorm(nn.Module):
    def __init__(self, d, eps=1e-6):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(d))
        self.eps = eps

    def forward(self, x):
        var = x.pow(2).mean(-1, keepdim=True)
        return self.weight * (x * torch.rsqrt(var + self.eps))


@pytest.mark.parametrize("model", [
    pytest.param(_LlamaRMSNorm(40).eval(), id="llama-style"),
    pytest.param(nn.RMSNorm(40, eps=1e-5).eval(), id="nn.RMSNorm"),
    pytest.param(nn.RMSNorm((5, 40)).eval(), id="nn.RMSNorm-2-dims"),
])
def test_rms_norm(device, model):
    option = check_lowered(model, (torch.randn(2, 3, 5, 40),), device=device, expect=("rms_norm",))
    targets = ttnn_targets(option)
    assert "rsqrt" not in targets and "mean" not in targets, targets


def test_fusions_disabled(device):
    model = nn.Sequential(nn.Linear(40, 64), nn.ReLU()).eval()
    option = check_lowered(model, (torch.randn(3, 40),), device=device, expect=("linear", "relu"), fusions=False)
    assert all(_activation(n) is None for n in _nodes(option, "linear"))


# --- attention heads: split and join ----------------------------------------------------------------------

class _SeparateQKV(nn.Module):
    """BERT-style attention: three projections of one input, heads split by view + transpose."""

    def __init__(self, d=128, heads=2, kv_out=None):
        super().__init__()
        self.h, self.d = heads, d
        self.q, self.k, self.v = nn.Linear(d, d), nn.Linear(d, kv_out or d), nn.Linear(d, kv_out or d)
        self.o = nn.Linear(d, d)

    def forward(self, x):
        b, t, _ = x.shape
        dh = self.d // self.h
        q, k, v = (p(x).view(b, t, -1, dh).transpose(1, 2) for p in (self.q, self.k, self.v))
        if k.shape[1] != q.shape[1]:
            k = k.repeat_interleave(q.shape[1] // k.shape[1], 1)
            v = v.repeat_interleave(q.shape[1] // v.shape[1], 1)
        o = _attention(q, k, v)
        return self.o(o.transpose(1, 2).reshape(b, t, self.d))


SPLIT = "split_query_key_value_and_split_heads"


def test_fused_qkv_projection_heads_split_and_joined_by_ttnn(device):
    """GPT-2-style (one projection, split in thirds): one head-split op, one head-join op, no permutes."""
    model = _Block(d=64, heads=2).eval()
    option = check_lowered(model, (torch.randn(2, 40, 64), torch.zeros(2, 1, 1, 40)), device=device,
                           expect=(SPLIT, "concatenate_heads", "scaled_dot_product_attention"))
    targets = ttnn_targets(option)
    assert targets.count(SPLIT) == 1 and targets.count("concatenate_heads") == 1
    assert "permute" not in targets, targets


def test_separate_qkv_projections_become_one_linear_and_a_head_split(device):
    model = _SeparateQKV().eval()
    option = check_lowered(model, (torch.randn(2, 64, 128),), device=device, expect=(SPLIT, "concatenate_heads"))
    targets = ttnn_targets(option)
    assert targets.count("linear") == 2, targets            # q/k/v as one, the output projection
    assert "permute" not in targets and "reshape" not in targets, targets
    qkv = _nodes(option, "linear")[0]
    assert list(qkv.meta["val"].shape) == [2, 64, 384]


def test_head_split_needs_whole_tile_heads(device):
    """Heads of 16 values (half a tile): TT-NN's head ops refuse them; the permutes stay, results agree."""
    model = _SeparateQKV(d=64, heads=4).eval()
    option = check_lowered(model, (torch.randn(2, 64, 64),), device=device)
    targets = ttnn_targets(option)
    assert SPLIT not in targets and "concatenate_heads" not in targets
    assert targets.count("linear") == 4


def test_grouped_query_projections_are_not_merged(device):
    model = _SeparateQKV(d=128, heads=4, kv_out=64).eval()      # 2 K/V heads of 32 for 4 query heads
    option = check_lowered(model, (torch.randn(2, 32, 128),), device=device)
    targets = ttnn_targets(option)
    assert SPLIT not in targets and targets.count("linear") == 4


def test_projection_read_elsewhere_is_not_merged(device):
    class M(_SeparateQKV):
        def forward(self, x):
            return super().forward(x), self.q(x)

    option = check_lowered(M().eval(), (torch.randn(2, 32, 128),), device=device)
    assert SPLIT not in ttnn_targets(option)


def test_head_split_outputs_are_placed_together(device, monkeypatch):
    """The three outputs of the head split are one placement decision: all in L1 when they fit, all in DRAM
    when the budget cannot hold them; the values are the same either way."""
    from torch_ttnn.compiler.passes import placement
    model = _SeparateQKV().eval()
    x = torch.randn(2, 64, 128)

    def run():
        with torch.no_grad():
            out, option = compile_and_run(model, (x,), None, device=device)
        split = _nodes(option, SPLIT)
        assert len(split) == 1
        return out, split[0].kwargs["memory_config"].target

    y_l1, where = run()
    assert where == "ttnn_l1_config"
    total = device.memory_stats()["L1"]["total_bytes"]
    monkeypatch.setattr(placement, "PLACEMENT_BUDGET", 40 * 1024 / total)   # less than the three outputs
    y_dram, where = run()
    assert where == "ttnn_dram_config"
    torch.testing.assert_close(y_l1, y_dram)


class _TorchMHA(nn.Module):
    """torchvision's ViT attention: nn.MultiheadAttention, which runs sequence-first inside."""

    def __init__(self, d=128, heads=2):
        super().__init__()
        self.ln = nn.LayerNorm(d)
        self.attn = nn.MultiheadAttention(d, heads, batch_first=True)

    def forward(self, x):
        y = self.ln(x)
        return x + self.attn(y, y, y, need_weights=False)[0]


def test_multihead_attention_module_heads_by_ttnn(device):
    """The in-projection's split and the sequence-first join around the output projection: TT-NN's head ops,
    the projections' biases added inside the linears, no permute left (17 rows: padded sequence tiles)."""
    option = check_lowered(_TorchMHA().eval(), (torch.randn(2, 17, 128),), device=device,
                           expect=(SPLIT, "concatenate_heads", "scaled_dot_product_attention"))
    targets = ttnn_targets(option)
    assert "permute" not in targets and "add" in targets and targets.count("add") == 1, targets
    assert all(n.kwargs.get("bias") is not None for n in _nodes(option, "linear"))
