"""ttnn.transformer ops and ttnn.experimental.dropout of the simulated device."""
import pytest
import torch
import torch.nn.functional as F

import torch_ttnn.sim as ttnn
from torch_ttnn.sim.errors import TTNNError

RM, TL = ttnn.ROW_MAJOR_LAYOUT, ttnn.TILE_LAYOUT


def dev_tensor(device, x, layout=TL, dtype=ttnn.bfloat16):
    return ttnn.from_torch(x, dtype=dtype, layout=layout, device=device)


def back(t):
    return ttnn.to_torch(t).to(torch.float32)


@pytest.fixture(scope="module")
def real_ttnn():
    return pytest.importorskip("ttnn")


@pytest.fixture
def ideal_device():
    dev = ttnn.open_device(device_id=1, numerics="ideal")
    yield dev
    ttnn.close_device(dev)


def qkv(device, b=1, nq=2, nkv=2, sq=64, sk=64, d=64):
    q, k, v = torch.randn(b, nq, sq, d), torch.randn(b, nkv, sk, d), torch.randn(b, nkv, sk, d)
    tq, tk, tv = (dev_tensor(device, x) for x in (q, k, v))
    return tq, tk, tv, back(tq), back(tk), back(tv)


# ------------------------------------------------------------------------------------------------
# scaled_dot_product_attention
# ------------------------------------------------------------------------------------------------

def test_sdpa_causal_default(device):
    tq, tk, tv, q, k, v = qkv(device, sq=70, sk=70)
    out = ttnn.transformer.scaled_dot_product_attention(tq, tk, tv)      # is_causal defaults to True
    ref = F.scaled_dot_product_attention(q, k, v, is_causal=True)
    assert out.shape == tq.shape and out.dtype == ttnn.bfloat16 and out.layout == TL
    assert torch.allclose(back(out), ref, atol=0.04, rtol=0.03)


def test_sdpa_with_mask_and_scale(device):
    tq, tk, tv, q, k, v = qkv(device, b=2, sq=40, sk=96)
    mask = torch.where(torch.rand(2, 1, 40, 96) < 0.2, -1e9, 0.0)
    tm = dev_tensor(device, mask)
    out = ttnn.transformer.scaled_dot_product_attention(tq, tk, tv, attn_mask=tm, is_causal=False, scale=0.1)
    ref = F.scaled_dot_product_attention(q, k, v, attn_mask=back(tm), scale=0.1)
    assert torch.allclose(back(out), ref, atol=0.04, rtol=0.03)


def test_sdpa_gqa_and_ideal_numerics(device, ideal_device):
    q, k, v = torch.randn(1, 4, 64, 32), torch.randn(1, 2, 64, 32), torch.randn(1, 2, 64, 32)
    hw = ttnn.transformer.scaled_dot_product_attention(*(dev_tensor(device, x) for x in (q, k, v)))
    ts = [dev_tensor(ideal_device, x) for x in (q, k, v)]
    ideal = ttnn.transformer.scaled_dot_product_attention(*ts)
    qb, kb, vb = (back(t) for t in ts)
    ref = F.scaled_dot_product_attention(qb, kb.repeat_interleave(2, 1), vb.repeat_interleave(2, 1), is_causal=True)
    err_ideal = (back(ideal) - ref).abs().max().item()
    err_hw = (back(hw) - ref).abs().max().item()
    assert err_ideal <= 2 ** -7 * ref.abs().max().item()   # only the output rounding
    assert err_ideal <= err_hw < 0.05                       # the matrix unit / bf16 intermediates cost a bit


def test_sdpa_sliding_window_and_output_concat_heads(device, real_ttnn):
    tq, tk, tv, q, k, v = qkv(device, sq=64, sk=64, d=32)
    out = ttnn.transformer.scaled_dot_product_attention(tq, tk, tv, sliding_window_size=8)
    golden = real_ttnn.get_golden_function(real_ttnn.transformer.scaled_dot_product_attention)
    ref = golden(q, k, v, is_causal=True, sliding_window_size=8)
    assert torch.allclose(back(out), ref, atol=0.04, rtol=0.03)
    cat = ttnn.transformer.scaled_dot_product_attention(tq, tk, tv, output_concat_heads=True)
    plain = ttnn.transformer.scaled_dot_product_attention(tq, tk, tv)
    assert cat.shape == ttnn.Shape([1, 1, 64, 64])
    assert torch.equal(back(cat)[0, 0], back(plain)[0].permute(1, 0, 2).reshape(64, 64))


def test_sdpa_attention_sink_and_windows(device, real_ttnn):
    golden = real_ttnn.get_golden_function(real_ttnn.transformer.scaled_dot_product_attention)
    tq, tk, tv, q, k, v = qkv(device, nq=2, sq=64, sk=64, d=32)
    sink = dev_tensor(device, torch.tensor([2.0, -1.0]).reshape(1, 2, 1, 1))
    out = ttnn.transformer.scaled_dot_product_attention(tq, tk, tv, attention_sink=sink)
    assert torch.allclose(back(out), golden(q, k, v, attention_sink=back(sink)), atol=0.04, rtol=0.03)
    bounds = [0, 20, 50, 64]
    cu = ttnn.from_torch(torch.tensor(bounds, dtype=torch.int32), dtype=ttnn.int32, device=device)
    out = ttnn.transformer.scaled_dot_product_attention(tq, tk, tv, is_causal=False, cu_window_seqlens=cu)
    ref = golden(q, k, v, is_causal=False, cu_window_seqlens=torch.tensor(bounds))
    assert torch.allclose(back(out), ref, atol=0.04, rtol=0.03)
    # causal windows (per the docstring: token t of window [c_i, c_i+1) attends to c_i..t); the real golden
    # function ignores is_causal in windowed mode, so build the reference mask here
    win = torch.bucketize(torch.arange(64), torch.tensor(bounds[1:]), right=True)
    allowed = (win[:, None] == win[None, :]) & torch.ones(64, 64, dtype=torch.bool).tril()
    out = ttnn.transformer.scaled_dot_product_attention(tq, tk, tv, is_causal=True, cu_window_seqlens=cu)
    ref = F.scaled_dot_product_attention(q, k, v, attn_mask=allowed)
    assert torch.allclose(back(out), ref, atol=0.04, rtol=0.03)


def test_sdpa_refusals(device):
    tq, tk, tv, *_ = qkv(device, sq=64, sk=64)
    mask = dev_tensor(device, torch.zeros(1, 1, 64, 64))
    with pytest.raises(TTNNError, match="is_causal and attn_mask"):
        ttnn.transformer.scaled_dot_product_attention(tq, tk, tv, attn_mask=mask)
    with pytest.raises(TTNNError, match="TILE"):
        ttnn.transformer.scaled_dot_product_attention(ttnn.to_layout(tq, RM), tk, tv)
    with pytest.raises(TTNNError, match="dtype FLOAT32"):
        ttnn.transformer.scaled_dot_product_attention(ttnn.typecast(tq, ttnn.float32), tk, tv)
    with pytest.raises(TTNNError, match="on the host"):
        ttnn.transformer.scaled_dot_product_attention(ttnn.from_device(tq), tk, tv)
    odd = dev_tensor(device, torch.randn(1, 2, 64, 40))
    with pytest.raises(TTNNError, match="head_dim"):
        ttnn.transformer.scaled_dot_product_attention(odd, odd, odd)
    tq2, tk2, tv2, *_ = qkv(device, sq=32, sk=64)
    with pytest.raises(TTNNError, match="same sequence length"):
        ttnn.transformer.scaled_dot_product_attention(tq2, tk2, tv2)
    tq3, tk3, tv3, *_ = qkv(device, nq=3, nkv=2)
    with pytest.raises(TTNNError, match="divisible by K num_heads"):
        ttnn.transformer.scaled_dot_product_attention(tq3, tk3, tv3)


def test_sdpa_oracle_golden(device, real_ttnn):
    tq, tk, tv, q, k, v = qkv(device, nq=4, nkv=1, sq=64, sk=64, d=32)
    golden = real_ttnn.get_golden_function(real_ttnn.transformer.scaled_dot_product_attention)
    out = ttnn.transformer.scaled_dot_product_attention(tq, tk, tv)
    assert torch.allclose(back(out), golden(q, k, v), atol=0.04, rtol=0.03)


# ------------------------------------------------------------------------------------------------
# attention_softmax
# ------------------------------------------------------------------------------------------------

def test_attention_softmax(device, ideal_device, real_ttnn):
    x = torch.randn(2, 2, 40, 70)
    mask = torch.where(torch.rand(2, 1, 1, 70) < 0.3, -1e4, 0.0)
    t, tm = dev_tensor(device, x), dev_tensor(device, mask)
    xb, mb = back(t), back(tm)
    golden = real_ttnn.get_golden_function(real_ttnn.transformer.attention_softmax)
    ref = golden(xb, head_size=64, attention_mask=mb)
    out = ttnn.transformer.attention_softmax(t, head_size=64, attention_mask=tm)
    assert out.shape == t.shape and out.dtype == ttnn.bfloat16
    # the device softmax uses an approximate reciprocal (0 .. -3.9 %) and sums in a 16-bit Dst
    assert torch.allclose(back(out), ref, atol=0.01, rtol=0.05)
    sums = back(out).sum(-1)
    assert (sums > 0.94).all() and (sums < 1.02).all()
    ideal = ttnn.transformer.attention_softmax(dev_tensor(ideal_device, x), head_size=64,
                                               attention_mask=dev_tensor(ideal_device, mask))
    assert torch.allclose(back(ideal), ref, atol=2e-3, rtol=2 ** -7)
    nomask = ttnn.transformer.attention_softmax(t, head_size=16)
    assert torch.allclose(back(nomask), torch.softmax(xb / 4, -1), atol=0.01, rtol=0.05)
    inplace = ttnn.transformer.attention_softmax_(t, head_size=64, attention_mask=tm)
    assert inplace is t and torch.equal(back(t), back(out))
    with pytest.raises(TTNNError, match="in-place version when attention_mask is not set"):
        ttnn.transformer.attention_softmax_(t, head_size=64)
    with pytest.raises(TTNNError, match="TILE"):
        ttnn.transformer.attention_softmax(dev_tensor(device, x, RM))


# ------------------------------------------------------------------------------------------------
# split_query_key_value_and_split_heads / concatenate_heads
# ------------------------------------------------------------------------------------------------

def _split_ref(x, nh, nkv, transpose_key):
    b, s, hidden = x.shape
    d = hidden // (nh + 2 * nkv)
    q = x[..., : nh * d].reshape(b, s, nh, d).permute(0, 2, 1, 3)
    k = x[..., nh * d: (nh + nkv) * d].reshape(b, s, nkv, d).permute(0, 2, 1, 3)
    v = x[..., (nh + nkv) * d:].reshape(b, s, nkv, d).permute(0, 2, 1, 3)
    return q, (k.transpose(-1, -2) if transpose_key else k), v


@pytest.mark.parametrize("nh,nkv,transpose_key", [(4, None, True), (4, None, False), (4, 2, False)])
def test_split_qkv_matches_reference(device, nh, nkv, transpose_key):
    d, s = 32, 45
    x = torch.randn(2, s, (nh + 2 * (nkv or nh)) * d)
    t = dev_tensor(device, x)
    q, k, v = ttnn.transformer.split_query_key_value_and_split_heads(
        t, num_heads=nh, num_kv_heads=nkv, transpose_key=transpose_key)
    rq, rk, rv = _split_ref(back(t), nh, nkv or nh, transpose_key)
    for got, ref in ((q, rq), (k, rk), (v, rv)):
        assert got.layout == TL and torch.equal(back(got), ref)


def test_split_qkv_concatenate_heads_round_trip(device, real_ttnn):
    b, s, nh, d = 2, 33, 3, 64
    x = torch.randn(b, s, 3 * nh * d)
    t = dev_tensor(device, x)
    q, k, v = ttnn.transformer.split_query_key_value_and_split_heads(t, num_heads=nh)
    assert q.shape == ttnn.Shape([b, nh, s, d]) and k.shape == ttnn.Shape([b, nh, d, s])
    assert v.shape == ttnn.Shape([b, nh, s, d])
    xb = back(t)
    for part, head in ((q, xb[..., : nh * d]), (v, xb[..., 2 * nh * d:])):
        assert torch.equal(back(ttnn.transformer.concatenate_heads(part)), head)
    golden = real_ttnn.get_golden_function(real_ttnn.transformer.split_query_key_value_and_split_heads)
    for got, ref in zip((q, k, v), golden(xb, num_heads=nh)):
        assert torch.equal(back(got), ref)
    cat_golden = real_ttnn.get_golden_function(real_ttnn.transformer.concatenate_heads)
    assert torch.equal(back(ttnn.transformer.concatenate_heads(q)), cat_golden(back(q)))


def test_split_qkv_with_kv_input_and_refusals(device):
    b, s, nh, d = 1, 32, 2, 32
    xq, xkv = torch.randn(b, s, nh * d), torch.randn(b, s, 2 * nh * d)
    tq, tkv = dev_tensor(device, xq), dev_tensor(device, xkv)
    q, k, v = ttnn.transformer.split_query_key_value_and_split_heads(tq, tkv, num_heads=nh, transpose_key=False)
    rq, rk, rv = _split_ref(torch.cat([back(tq), back(tkv)], -1), nh, nh, False)
    assert torch.equal(back(q), rq) and torch.equal(back(k), rk) and torch.equal(back(v), rv)
    with pytest.raises(TTNNError, match="head size"):
        ttnn.transformer.split_query_key_value_and_split_heads(dev_tensor(device, torch.randn(1, 8, 3 * 2 * 40)),
                                                                num_heads=2)
    with pytest.raises(TTNNError, match="TILE"):
        ttnn.transformer.split_query_key_value_and_split_heads(dev_tensor(device, xkv, RM), num_heads=2)
    with pytest.raises(TTNNError, match="rank"):
        ttnn.transformer.split_query_key_value_and_split_heads(dev_tensor(device, torch.randn(1, 1, 8, 192)),
                                                                num_heads=2)
    with pytest.raises(TTNNError, match="multiple of 32"):
        ttnn.transformer.concatenate_heads(dev_tensor(device, torch.randn(1, 2, 8, 40)))


# ------------------------------------------------------------------------------------------------
# experimental.dropout
# ------------------------------------------------------------------------------------------------

def test_dropout_deterministic_by_seed_and_keep_ratio(device):
    x = torch.rand(4, 64, 96) + 0.5           # no zeros, so dropped elements are exactly the zeros
    t = dev_tensor(device, x)
    p, scale = 0.3, 1.0 / 0.7
    a = back(ttnn.experimental.dropout(t, p, scale, 1234))
    b = back(ttnn.experimental.dropout(t, probability=p, scale=scale, seed=1234))
    c = back(ttnn.experimental.dropout(t, p, scale, 99))
    assert torch.equal(a, b) and not torch.equal(a, c)
    kept = a != 0
    assert abs(kept.float().mean().item() - (1 - p)) < 0.02
    xb = back(t)
    ratio = a[kept] / xb[kept]
    assert torch.allclose(ratio, torch.full_like(ratio, scale), rtol=2 ** -7)
    assert ttnn.experimental.dropout(t, 0.0, 1.0, 5).shape == t.shape


def test_dropout_refusals(device):
    x = torch.randn(32, 32)
    with pytest.raises(TTNNError, match="TILE"):
        ttnn.experimental.dropout(dev_tensor(device, x, RM), 0.5, 2.0, 1)
    with pytest.raises(TTNNError, match="dtype FLOAT32"):
        ttnn.experimental.dropout(dev_tensor(device, x, dtype=ttnn.float32), 0.5, 2.0, 1)
    with pytest.raises(TTNNError, match="rank"):
        ttnn.experimental.dropout(dev_tensor(device, torch.randn(40)), 0.5, 2.0, 1)
    with pytest.raises(TTNNError, match="on the host"):
        ttnn.experimental.dropout(ttnn.from_torch(x, dtype=ttnn.bfloat16, layout=TL), 0.5, 2.0, 1)
