"""Differential tests of scaled dot product attention -> ttnn.transformer.scaled_dot_product_attention (and the
matmul/softmax lowering of the cases that op cannot take), inference and training."""
import pytest
import torch
import torch.nn.functional as F

import torch_ttnn

from .harness import check_lowered, pcc, remaining_aten_ops, ttnn_targets

SDPA = "scaled_dot_product_attention"


def _qkv(b=1, h=2, sq=40, sk=None, d=32, hk=None):
    sk = sq if sk is None else sk
    hk = h if hk is None else hk
    return torch.randn(b, h, sq, d), torch.randn(b, hk, sk, d), torch.randn(b, hk, sk, d)


def _sdpa(**kw):
    def fn(q, k, v, *mask):
        return F.scaled_dot_product_attention(q, k, v, attn_mask=mask[0] if mask else None, **kw)
    return fn


# (name, fn, (q, k, v), mask shape or None, expected ttnn ops)
CASES = [
    ("plain", _sdpa(), _qkv(), None, (SDPA,)),
    ("causal", _sdpa(is_causal=True), _qkv(sq=45), None, (SDPA,)),
    ("scale", _sdpa(scale=0.3), _qkv(), None, (SDPA,)),
    ("batch-heads", _sdpa(), _qkv(b=2, h=3, sq=33, d=64), None, (SDPA,)),
    ("cross-attention", _sdpa(), _qkv(sq=40, sk=24), None, (SDPA,)),
    ("gqa", _sdpa(enable_gqa=True), _qkv(h=4, hk=2), None, (SDPA,)),
    ("mask-4d", _sdpa(), _qkv(b=2), (2, 1, 40, 40), (SDPA,)),
    ("mask-per-head", _sdpa(), _qkv(b=2), (1, 2, 40, 40), (SDPA,)),
    ("mask-2d", _sdpa(), _qkv(), (40, 40), (SDPA,)),
    ("padding-mask", _sdpa(), _qkv(b=2), (2, 1, 1, 40), (SDPA, "repeat")),
    ("bool-mask", _sdpa(), _qkv(), "bool", (SDPA,)),
    ("rank3", _sdpa(), (torch.randn(4, 40, 32), torch.randn(4, 24, 32), torch.randn(4, 24, 32)), None, (SDPA,)),
    # one query token per user, whole tiles of keys: the decode op (heads in one tile, K/V read once)
    ("decode", _sdpa(), _qkv(b=3, h=8, sq=1, sk=64, d=64), None, (SDPA + "_decode",)),
    ("decode-padding-mask", _sdpa(), _qkv(b=3, h=8, sq=1, sk=64, d=64), (3, 1, 1, 64),
     (SDPA + "_decode", "repeat", "slice")),
    ("decode-32-heads-mask", _sdpa(), _qkv(b=2, h=32, sq=1, sk=32, d=64), (2, 32, 1, 32), (SDPA + "_decode",)),
    # keys not a whole number of tiles: the prefill op
    ("decode-ragged-keys", _sdpa(), _qkv(b=2, h=8, sq=1, sk=40, d=64), None, (SDPA,)),
    # head dim not a multiple of 32: matmul / softmax on the device
    ("head-dim-16", _sdpa(), _qkv(b=2, sq=8, d=16), None, ("matmul", "scale_mask_softmax")),
    ("head-dim-16-causal", _sdpa(is_causal=True), _qkv(sq=9, d=16), None, ("matmul", "softmax", "triu")),
    ("head-dim-16-mask", _sdpa(), _qkv(b=2, sq=8, d=16), (2, 1, 8, 8), ("matmul", "softmax")),
    ("head-dim-16-padding-mask", _sdpa(), _qkv(b=2, sq=8, d=16), (2, 1, 1, 8), ("matmul", "scale_mask_softmax")),
    # grouped-query attention on that path: each key/value head repeated for its query heads
    ("head-dim-16-gqa", _sdpa(enable_gqa=True, is_causal=True), _qkv(h=4, hk=2, sq=8, d=16), None,
     ("matmul", "repeat_interleave")),
]


@pytest.mark.parametrize("fn,qkv,mask,expect", [pytest.param(f, t, m, e, id=n) for n, f, t, m, e in CASES])
def test_sdpa(device, fn, qkv, mask, expect):
    args = list(qkv)
    if mask == "bool":
        args.append(torch.rand(qkv[0].shape[-2], qkv[1].shape[-2]) > 0.3)
    elif mask is not None:
        args.append(torch.randn(mask))
    check_lowered(fn, args, device=device, expect=expect)


def test_decode_reads_the_grouped_keys_once(device):
    """transformers' repeat_kv (view, expand, view) in front of a decode attention is undone: the decode op
    takes the nkv key/value heads, as TT-NN's grouped-query decode does, and computes the same."""
    def fn(q, k, v, mask):
        b, nkv, s, d = k.shape
        rep = q.shape[1] // nkv
        k = k[:, :, None].expand(b, nkv, rep, s, d).reshape(b, nkv * rep, s, d)
        v = v[:, :, None].expand(b, nkv, rep, s, d).reshape(b, nkv * rep, s, d)
        return F.scaled_dot_product_attention(q, k, v, attn_mask=mask)

    mask = torch.zeros(2, 1, 1, 64)
    mask[0, ..., 40:] = float("-inf")                 # user 0 has 40 positions, user 1 all 64
    option = check_lowered(fn, [*_qkv(b=2, h=8, hk=2, sq=1, sk=64, d=64), mask], device=device,
                           expect=(SDPA + "_decode",))
    (node,) = [n for g in option._out_fx_graphs for n in g.nodes
               if getattr(n.target, "__name__", "") == SDPA + "_decode"]
    assert tuple(node.args[1].meta["val"].shape) == (2, 2, 64, 64)


def test_sdpa_is_causal_passed_explicitly(device):
    """ttnn's is_causal defaults to True: a non-causal attention must pass is_causal=False."""
    option = check_lowered(_sdpa(), _qkv(), device=device, expect=(SDPA,))
    (node,) = [n for g in option._out_fx_graphs for n in g.nodes if getattr(n.target, "__name__", "") == SDPA]
    assert node.kwargs["is_causal"] is False and node.kwargs["scale"] == pytest.approx(32 ** -0.5)


def test_sdpa_fp32_option_runs_in_bfloat16(device):
    """The op takes bfloat16/bfp8/bfp4 only: float32 operands are converted for it."""
    check_lowered(_sdpa(), _qkv(), device=device, expect=(SDPA,), fp32=True)


def _train(device, fn, args, min_pcc=0.99):
    torch._dynamo.reset()
    option = torch_ttnn.TorchTtnnOption(device=device)
    eager = [a.clone().requires_grad_(a.is_floating_point()) for a in args]
    comp = [a.clone().requires_grad_(a.is_floating_point()) for a in args]
    ref = fn(*eager)
    (ref * torch.linspace(-1, 1, ref.shape[-1])).sum().backward()
    out = torch.compile(fn, backend=torch_ttnn.backend, options=option)(*comp)
    (out * torch.linspace(-1, 1, out.shape[-1])).sum().backward()
    assert not remaining_aten_ops(option), torch_ttnn.lowering_report(option)
    assert pcc(out, ref) >= min_pcc
    for a, b in zip(comp, eager):
        if b.grad is not None:
            assert pcc(a.grad, b.grad) >= min_pcc
    return option


@pytest.mark.parametrize("fn,qkv,mask", [
    pytest.param(_sdpa(), _qkv(), None, id="plain"),
    pytest.param(_sdpa(is_causal=True), _qkv(sq=33), None, id="causal"),
    pytest.param(_sdpa(), _qkv(b=2), (2, 1, 1, 40), id="mask"),
])
def test_sdpa_training(device, fn, qkv, mask):
    """Forward with logsumexp and the flash backward, both lowered to matmul/softmax math on the device."""
    args = list(qkv) + ([torch.randn(mask)] if mask else [])
    option = _train(device, fn, args)
    assert "matmul" in ttnn_targets(option)


@pytest.mark.parametrize("dropout", [
    pytest.param(0.5, marks=pytest.mark.xfail(reason="attention dropout (random) stays on the host", strict=True)),
])
def test_known_gaps(device, dropout):
    torch.manual_seed(0)
    q, k, v = _qkv()
    check_lowered(lambda a, b, c: F.scaled_dot_product_attention(a, b, c, dropout_p=dropout) * 0, (q, k, v),
                  device=device, expect=(SDPA,))


@pytest.mark.parametrize("head_dim", [16, 64])
@pytest.mark.parametrize("kind", ["bool", "float"])
def test_fully_masked_query_row_gives_zero(device, head_dim, kind):
    torch.manual_seed(0)
    q, k, v = (torch.randn(1, 2, 8, head_dim) for _ in range(3))
    if kind == "bool":
        mask = torch.ones(1, 1, 8, 8, dtype=torch.bool)
        mask[..., 3, :] = False
    else:
        mask = torch.zeros(1, 1, 8, 8)
        mask[..., 3, :] = float("-inf")
        mask[..., 5, 2:] = torch.finfo(torch.float32).min      # HF's way of masking

    def f(q, k, v, m):
        return torch.nn.functional.scaled_dot_product_attention(q, k, v, attn_mask=m)

    option = torch_ttnn.TorchTtnnOption(device=device)
    out = torch.compile(f, backend=torch_ttnn.backend, options=option)(q, k, v, mask)
    ref = f(q, k, v, mask)
    assert torch.isfinite(out).all()
    assert not out[:, :, 3].any()                                  # aten returns 0 for such a row
    torch.testing.assert_close(out, ref, atol=0.06, rtol=0.05)


@pytest.mark.parametrize("norm_first,activation", [(False, "relu"), (True, "gelu")])
def test_transformer_encoder_layer_fast_path_runs_on_the_device(device, norm_first, activation):
    """nn.TransformerEncoderLayer in eval mode takes PyTorch's fused fast path (_transformer_encoder_layer_fwd),
    which is decomposed into projections, SDPA, norms and the feed-forward block: nothing stays on the host,
    with and without a key padding mask."""
    torch.manual_seed(0)
    layer = torch.nn.TransformerEncoderLayer(64, 4, 128, batch_first=True, norm_first=norm_first,
                                             activation=activation).eval()
    x = torch.randn(2, 8, 64)
    check_lowered(layer, (x,), device=device, expect=("linear", "layer_norm"))
    pad = torch.zeros(2, 8, dtype=torch.bool)
    pad[1, 6:] = True
    check_lowered(lambda x, m: layer(x, src_key_padding_mask=m), (x, pad), device=device)
