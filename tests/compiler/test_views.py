"""Canonical view chains (passes/views.py): trees of view-like ops become reshape / slice / permute / reshape."""
import pytest
import torch

import torch_ttnn
from torch_ttnn.compiler.passes.views import _decompose
from torch_ttnn.metrics import pcc

CHAINS = {
    "transpose": lambda t: t.transpose(0, 2),
    "select": lambda t: t[:, 1],
    "slice-then-t": lambda t: t.reshape(6, 4)[2:5].t(),
    "mha-qkv-split": lambda t: t.unflatten(-1, (2, 2)).unsqueeze(0).transpose(0, -2).squeeze(-2)[1],
    "heads": lambda t: t.reshape(2, 3, 2, 2).permute(0, 2, 1, 3)[:, 1:],
    "step": lambda t: t[:, :, ::2],
    "offset-select": lambda t: t[1, 2, 3:],
}


@pytest.mark.parametrize("name", sorted(CHAINS))
def test_decomposition_reads_the_same_elements(name):
    x = torch.arange(24).reshape(2, 3, 4)
    idx = CHAINS[name](x)
    plan = _decompose(idx, (2, 3, 4))
    assert plan is not None and len(plan) <= 4
    y = x
    for op, args in plan:
        y = op(y, *args)
    assert torch.equal(y, idx)


def test_broadcast_is_not_a_view_chain_it_can_rewrite():
    x = torch.arange(6).reshape(2, 3)
    assert _decompose(x.unsqueeze(0).expand(4, 2, 3), (2, 3)) is None     # stride 0
    assert _decompose(x.flip(1), (2, 3)) is None                            # negative stride


class _Attention(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.ln = torch.nn.LayerNorm(64)
        self.att = torch.nn.MultiheadAttention(64, 4, batch_first=True)

    def forward(self, x):
        y = self.ln(x)
        y, _ = self.att(y, y, y, need_weights=False)
        return x + y


def test_multihead_attention_splits_without_rank5_tensors(device):
    torch._dynamo.reset()
    m = _Attention().eval()
    x = torch.randn(4, 50, 64)
    option = torch_ttnn.TorchTtnnOption(device=device)
    c = torch.compile(m, backend=torch_ttnn.backend, options=option)
    with torch.no_grad():
        c(x)
        device.profiler.reset()
        with device.profiler.record():
            y = c(x)
        assert pcc(y, m(x)) >= 0.99
    movement = [r for r in device.profiler.rows if r.op in ("permute", "reshape", "slice", "transpose")]
    assert movement and all(len(d.shape) <= 4 for r in movement for d in r.inputs)
    # q, k and v come from one reshape of the projection, a slice and a permute each
    assert sum(r.op == "slice" for r in device.profiler.rows) == 3
    torch._dynamo.reset()


def test_as_strided_that_is_a_plain_view_is_lowered(device):
    # torchvision's Swin: as_strided re-striding the size-1 dims of a pooled [1, C, 1, 1] tensor
    def f(x):
        m = x.mean((-1, -2), keepdim=True)
        return torch.as_strided(m, (1, 16, 1, 1), (16, 1, 16, 16)).view(1, 16) * 2
    from .harness import compile_and_run, remaining_aten_ops
    x = torch.randn(1, 16, 4, 4)
    out, option = compile_and_run(f, (x,), device=device)
    torch.testing.assert_close(out, f(x), rtol=2e-2, atol=2e-2)
    assert remaining_aten_ops(option) == []


def test_identity_map_is_one_reshape():
    x = torch.arange(24).reshape(2, 3, 4)
    assert _decompose(x.reshape(4, 6), (2, 3, 4)) == [(torch.ops.aten.reshape.default, ([4, 6],))]
    assert _decompose(x, (2, 3, 4)) == []


def test_views_of_a_parameter_do_not_land_between_placeholders(device):
    """Swin v2 / DETR: a view tree hanging from a parameter placed its new nodes right after that placeholder,
    before later placeholders, and constant folding then used an input before its definition."""
    class M(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.w = torch.nn.Parameter(torch.randn(2, 3, 4))
            self.b = torch.nn.Parameter(torch.randn(4))

        def forward(self, x):
            w = self.w.transpose(0, 1).reshape(6, 4)[1:4].t()      # a tree of views of the first parameter
            return x @ w + self.b[:3]

    torch._dynamo.reset()
    m = M().eval()
    x = torch.randn(5, 4)
    c = torch.compile(m, backend=torch_ttnn.backend, options=torch_ttnn.TorchTtnnOption(device=device))
    with torch.no_grad():
        assert pcc(c(x), m(x)) >= 0.99
    torch._dynamo.reset()


def test_a_view_tree_over_a_source_with_permuted_strides(device):
    """ViT (nn.MultiheadAttention): attention's output [B, H, S, D] has the strides of a [B, S, H, D] layout;
    permuted to [S, B, H, D] it is contiguous and a view merges the heads. The canonicalisation traced that chain
    on a contiguous index tensor, where the view is illegal, and gave up (a silent skip before skips were
    reported; an error under strict passes)."""
    class M(torch.nn.Module):
        def forward(self, q, k, v):
            q, k, v = (t.transpose(1, 2) for t in (q, k, v))                 # heads split from [B, S, H, D]
            o = torch.nn.functional.scaled_dot_product_attention(q, k, v)      # [1, H, S, D], [B, S, H, D] strides
            return o.permute(2, 0, 1, 3).view(64, 4 * 32)[1:]

    torch._dynamo.reset()
    q, k, v = (torch.randn(1, 64, 4, 32) for _ in range(3))
    option = torch_ttnn.TorchTtnnOption(device=device)
    c = torch.compile(M(), backend=torch_ttnn.backend, options=option)
    with torch.no_grad():
        assert pcc(c(q, k, v), M()(q, k, v)) >= 0.99
    assert not option.results.reports[-1].skipped
    torch._dynamo.reset()
