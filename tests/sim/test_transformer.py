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
# scaled_dot_product_attention_decode
# ------------------------------------------------------------------------------------------------

def _decode_inputs(device, b=3, nh=8, nkv=2, s=64, d=64):
    q, k, v = torch.randn(1, b, nh, d), torch.randn(b, nkv, s, d), torch.randn(b, nkv, s, d)
    tq, tk, tv = (dev_tensor(device, x) for x in (q, k, v))
    return tq, tk, tv, back(tq), back(tk), back(tv)


def test_sdpa_decode_causal_per_user_positions_equals_prefill_sdpa(device):
    """Each user attends its positions 0..cur_pos[i]; the values are those of the prefill SDPA given the same
    rows (the same matrix-unit arithmetic), the heads padded to a tile in the output."""
    b, nh, nkv, s, d = 3, 8, 2, 64, 64
    tq, tk, tv, q, k, v = _decode_inputs(device, b, nh, nkv, s, d)
    pos = [5, 63, 30]
    out = ttnn.transformer.scaled_dot_product_attention_decode(tq, tk, tv, cur_pos=pos)
    assert list(out.shape) == [1, b, 32, d]
    got = back(out)
    assert not got[:, :, nh:].any()                                   # the padding heads
    mask = torch.where(torch.arange(s).reshape(1, 1, 1, s) <= torch.tensor(pos).reshape(b, 1, 1, 1), 0.0,
                       float("-inf"))
    ref = F.scaled_dot_product_attention(q.permute(1, 2, 0, 3), k.repeat_interleave(4, 1),
                                         v.repeat_interleave(4, 1), attn_mask=mask)
    assert torch.allclose(got[0, :, :nh], ref[:, :, 0], atol=0.04, rtol=0.03)
    # the same rows through the prefill op (a query of one row per user, the mask as an additive tensor)
    q4 = dev_tensor(device, q.permute(1, 2, 0, 3))
    pre = ttnn.transformer.scaled_dot_product_attention(q4, tk, tv, attn_mask=dev_tensor(device, mask.expand(
        b, 1, 1, s).clamp(min=-1e30)), is_causal=False)
    assert torch.equal(got[0, :, :nh], back(pre)[:, :, 0])
    skipped = ttnn.transformer.scaled_dot_product_attention_decode(tq, tk, tv, cur_pos=[5, -1, 30])
    assert not back(skipped)[0, 1].any()


def test_sdpa_decode_mask_and_refusals(device, real_ttnn):
    tq, tk, tv, q, k, v = _decode_inputs(device, b=2, nh=4, nkv=4, s=64)
    m = torch.where(torch.rand(2, 1, 4, 64) < 0.3, -1e9, 0.0)             # [b, 1, nh, s], the golden's layout
    out = ttnn.transformer.scaled_dot_product_attention_decode(tq, tk, tv, is_causal=False,
                                                               attn_mask=dev_tensor(device, m))
    golden = real_ttnn.get_golden_function(real_ttnn.transformer.scaled_dot_product_attention_decode)
    ref = golden(q, k, v, is_causal=False, attn_mask=m)
    assert torch.allclose(back(out)[:, :, :4], ref[:, :, :4], atol=0.04, rtol=0.03)
    with pytest.raises(TTNNError, match="3 positions for 2 users"):
        ttnn.transformer.scaled_dot_product_attention_decode(tq, tk, tv, cur_pos=[1, 2, 3])
    whole = ttnn.transformer.scaled_dot_product_attention_decode(tq, tk, tv)       # default: the whole cache
    assert torch.allclose(back(whole)[:, :, :4], golden(q, k, v)[:, :, :4], atol=0.04, rtol=0.03)
    # the docstring's [1, b, nh, s] mask layout gives the same values; our golden reads both
    docstring = ttnn.transformer.scaled_dot_product_attention_decode(
        tq, tk, tv, is_causal=False, attn_mask=dev_tensor(device, m.permute(1, 0, 2, 3)))
    assert torch.equal(back(docstring), back(out))
    ours = ttnn.get_golden_function(ttnn.transformer.scaled_dot_product_attention_decode)
    assert torch.allclose(ours(q, k, v, is_causal=False, attn_mask=m), ref, atol=1e-5)
    # share_cache: every user reads the first user's K/V, as the golden does
    shared = ttnn.transformer.scaled_dot_product_attention_decode(tq, tk, tv, cur_pos=[40, 63], share_cache=True)
    ref_shared = golden(q, k, v, cur_pos=[40, 63], share_cache=True)
    assert torch.allclose(back(shared)[:, :, :4], ref_shared, atol=0.04, rtol=0.03)
    assert torch.allclose(ours(q, k, v, cur_pos=[40, 63], share_cache=True), ref_shared, atol=1e-5)
    with pytest.raises(TTNNError, match="sliding_window_size without is_causal"):
        ttnn.transformer.scaled_dot_product_attention_decode(tq, tk, tv, is_causal=False, sliding_window_size=8)
    with pytest.raises(TTNNError, match="only valid with is_causal=False"):
        ttnn.transformer.scaled_dot_product_attention_decode(tq, tk, tv, cur_pos=[1, 2],
                                                             attn_mask=dev_tensor(device, m))
    with pytest.raises(TTNNError, match=r"must be \[1, b, nh, dh\]"):
        ttnn.transformer.scaled_dot_product_attention_decode(tk, tk, tv, cur_pos=[1, 2])


def test_sdpa_decode_reads_kv_once(device):
    """The perf model: a decode step's attention reads K/V once, where the prefill op fed the same rows streams
    them once per query head."""
    b, nh, nkv, s, d = 32, 8, 1, 128, 128
    tq, tk, tv, q, *_ = _decode_inputs(device, b, nh, nkv, s, d)
    with device.profiler.record():
        ttnn.transformer.scaled_dot_product_attention_decode(tq, tk, tv, cur_pos=[127] * b)
        q4 = dev_tensor(device, q.permute(1, 2, 0, 3))
        ttnn.transformer.scaled_dot_product_attention(q4, tk, tv, is_causal=False)
    rows = {r["OP CODE"]: r for r in device.profiler.csv_rows()}
    dec, pre = rows["transformer.scaled_dot_product_attention_decode"], rows["transformer.scaled_dot_product_attention"]
    kv_bytes = 2 * b * nkv * s * d * 2
    q_and_out = 2 * b * 32 * d * 2                           # Q read and the output written, heads tile-padded
    assert dec["DRAM BYTES"] == kv_bytes + q_and_out
    assert pre["DRAM BYTES"] > 2 * kv_bytes
    assert dec["DEVICE KERNEL DURATION [ns]"] < pre["DEVICE KERNEL DURATION [ns]"]


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


def test_sdpa_propagates_a_nan_in_its_mask_and_zeroes_only_fully_masked_rows(device):
    # NaN + score is NaN on the FPU (the packer then writes Inf); a row whose every position is -inf has no
    # weights at all and comes back 0
    q = ttnn.from_torch(torch.randn(1, 1, 32, 64), dtype=ttnn.bfloat16, layout=ttnn.TILE_LAYOUT, device=device)
    m = torch.zeros(1, 1, 32, 32)
    m[..., 5] = float("nan")
    m[0, 0, 3, :] = float("-inf")
    mask = ttnn.from_torch(m, dtype=ttnn.bfloat16, layout=ttnn.TILE_LAYOUT, device=device)
    o = ttnn.to_torch(ttnn.transformer.scaled_dot_product_attention(q, q, q, is_causal=False, attn_mask=mask))
    assert torch.equal(o[0, 0, 3], torch.zeros_like(o[0, 0, 3]))
    rows = [r for r in range(32) if r != 3]
    assert not torch.isfinite(o[0, 0, rows]).any()
