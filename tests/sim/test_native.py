"""The simulator's native 16-bit Dst kernel computes the bits of the torch definition (numerics._bf16_dst_matmul)."""
import os
import shutil
import subprocess
import sys

import pytest
import torch

from torch_ttnn.sim import _native, numerics
from torch_ttnn.sim.types import MathFidelity as F

needs_native = pytest.mark.skipif(_native.library() is None and shutil.which("cc") is None,
                                  reason="no C compiler on this machine: the torch path is the only path")


def _both(a, b, fid, a_bf16=False, b_bf16=False):
    def slices():
        return numerics.Slices(a, "B", False, a_bf16), numerics.Slices(b, "A", False, b_bf16)
    ref = numerics._bf16_dst_matmul(*slices(), fid, native=False)
    got = numerics._bf16_dst_matmul(*slices(), fid, native=True)
    return ref, got


def _same_bits(ref, got):
    assert ref.shape == got.shape
    nan = torch.isnan(ref)
    assert torch.equal(nan, torch.isnan(got))
    r, g = ref[~nan].contiguous().view(torch.int32), got[~nan].contiguous().view(torch.int32)
    assert torch.equal(r, g), f"{int((r != g).sum())} of {r.numel()} elements differ"


@needs_native
def test_library_builds_where_a_compiler_exists():
    assert _native.library() is not None, _native.unavailable_reason()


@needs_native
@pytest.mark.parametrize("fid", [F.LoFi, F.HiFi2, F.HiFi3, F.HiFi4])
@pytest.mark.parametrize("m,k,n", [(1, 1, 1), (7, 15, 33), (8, 16, 32), (33, 100, 70), (130, 257, 95),
                                   (64, 2304, 64)])
def test_same_bits_as_the_torch_definition(fid, m, k, n):
    g = torch.Generator().manual_seed(m * 1000 + k + n)
    a = torch.randn(m, k, generator=g) * torch.exp(2 * torch.randn(m, k, generator=g))
    b = torch.randn(k, n, generator=g)
    _same_bits(*_both(a, b, fid))


@needs_native
def test_batched_and_broadcast_weights():
    g = torch.Generator().manual_seed(1)
    a = torch.randn(6, 40, 48, generator=g)
    b = torch.randn(6, 48, 24, generator=g)
    _same_bits(*_both(a, b, F.HiFi2))
    got = numerics.fpu_matmul(a, b[:1], F.LoFi, False)           # weights shared by every batch
    ref = torch.stack([numerics.fpu_matmul(a[i], b[0], F.LoFi, False) for i in range(6)])
    _same_bits(ref, got)


@needs_native
def test_large_problems_split_over_threads_give_the_same_bits():
    g = torch.Generator().manual_seed(2)
    a = torch.randn(300, 512, generator=g).bfloat16().float()
    b = torch.randn(512, 300, generator=g).bfloat16().float()
    _same_bits(*_both(a, b, F.HiFi2, True, True))               # rows split between threads
    a3 = torch.randn(5, 64, 512, generator=g)
    b3 = torch.randn(5, 512, 256, generator=g)
    _same_bits(*_both(a3, b3, F.LoFi))                          # batches split between threads


@needs_native
def test_special_values():
    a = torch.tensor([[1.0, float("inf"), 0.0, -0.0] * 4, [float("nan"), 1e38, 1e38, -1e38] * 4,
                      [3e-39, -3e-39, 1.0, 2.0 ** -130] * 4])
    b = torch.tensor([[1.0, -1.0, 0.0], [2.0, 1e38, -0.0], [0.5, 1.0, 1.0], [1.0, 3.0, -2.0]] * 4)
    _same_bits(*_both(a, b, F.HiFi4))


def test_disabled_by_environment(tmp_path):
    code = ("from torch_ttnn.sim import _native, numerics; import torch; "
            "assert _native.library() is None; print(_native.unavailable_reason()); "
            "print(float(numerics.fpu_matmul(torch.ones(2, 20), torch.ones(20, 3), 0, False)[0, 0]))")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300,
                       env={**os.environ, "TT_SIM_NATIVE": "0", "TORCH_TTNN_CACHE": str(tmp_path)})
    assert r.returncode == 0, r.stderr
    assert r.stdout.split("\n")[:2] == ["disabled by TT_SIM_NATIVE=0", "20.0"]


@needs_native
def test_built_into_the_cache_directory(tmp_path):
    code = ("from torch_ttnn.sim import _native; lib = _native.library(); "
            "assert lib is not None, _native.unavailable_reason(); print(lib._name)")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300,
                       env={**os.environ, "TORCH_TTNN_CACHE": str(tmp_path)})
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip().startswith(str(tmp_path / "native"))
    assert [p.name for p in (tmp_path / "native").rglob("*")] .count("libttsim.so") == 1


@needs_native
@pytest.mark.parametrize("n,c,h,w,cout,k,stride,dil,groups,pads", [
    (1, 3, 17, 19, 8, 7, 2, 1, 1, (3, 3, 3, 3)),       # stem-like: K = 147, not a multiple of 16
    (2, 32, 9, 9, 48, 3, 1, 1, 1, (1, 1, 1, 1)),
    (1, 64, 8, 8, 40, 1, 1, 1, 1, (0, 0, 0, 0)),       # 1x1
    (1, 24, 10, 10, 24, 3, 2, 2, 24, (2, 1, 0, 2)),    # depthwise, dilated, asymmetric padding
    (1, 32, 7, 9, 64, 3, 1, 1, 4, (1, 1, 1, 1)),       # grouped
    (2, 70, 8, 8, 70, 5, 1, 1, 70, (2, 2, 2, 2)),      # depthwise, channels past one block of the kernel
    (1, 16, 6, 6, 16, 3, 1, 1, 1, (-1, 1, 0, 0)),      # a negative pad crops
])
@pytest.mark.parametrize("fid", [F.LoFi, F.HiFi4])
def test_conv_windows_read_in_place_give_the_bits_of_the_copied_windows(n, c, h, w, cout, k, stride, dil, groups,
                                                                        pads, fid):
    from torch_ttnn.sim.ops import conv
    from torch_ttnn.sim.types import PaddingMode
    g = torch.Generator().manual_seed(c * 100 + k)
    x = torch.randn(n, c, h, w, generator=g).bfloat16().float()
    wt = torch.randn(cout, c // groups, k, k, generator=g)
    mu = (fid, False, False, True, False)
    got = conv.conv_nchw(x, wt, (stride, stride), pads, (dil, dil), groups, PaddingMode.Zeros, mu)
    lib = _native.library()
    try:
        _native._state["lib"] = None
        ref = conv.conv_nchw(x, wt, (stride, stride), pads, (dil, dil), groups, PaddingMode.Zeros, mu)
    finally:
        _native._state["lib"] = lib
    _same_bits(ref, got)


@needs_native
@pytest.mark.parametrize("fid", [F.LoFi, F.HiFi2, F.HiFi3, F.HiFi4])
@pytest.mark.parametrize("cin,cout,groups", [(40, 40, 40), (32, 32, 8), (24, 24, 6), (70, 70, 70), (18, 54, 18), (32, 64, 16)])
def test_narrow_group_kernel_gives_the_bits_of_the_grouped_kernel(monkeypatch, fid, cin, cout, groups):
    """The narrow-group kernel (every output channel of a pixel at once: depthwise, ResNeXt- and RegNet-like
    groups, a channel multiplier) against the grouped one (a group at a time, padded to NR columns), on fp32
    activations (three slices each) with an inf among them."""
    from torch_ttnn.sim import numerics
    from torch_ttnn.sim.ops import conv
    g = torch.Generator().manual_seed(cin + cout)
    x = torch.randn(2, 11, 11, cin, generator=g) * 3
    x[0, 1, 1, 5] = float("inf")
    w = torch.randn(cout, cin // groups, 3, 3, generator=g)

    def run():
        return numerics.fpu_conv_windows(x, w.clone(), lambda: conv._weight_matrix(w, groups), groups, 3, 3,
                                         (2, 2), (1, 1), fid)
    got = run()
    monkeypatch.setattr(_native, "dst16_narrow_groups", lambda *a, **k: None)
    _same_bits(run(), got)


@needs_native
@pytest.mark.parametrize("k", [7, 3])
@pytest.mark.parametrize("ties_away", [False, True])
def test_block_float_quantization_same_bits(k, ties_away):
    from torch_ttnn.sim import formats
    g = torch.Generator().manual_seed(k)
    x = torch.randn(64, 256, generator=g) * torch.exp(3 * torch.randn(64, 256, generator=g))
    special = torch.tensor([0.0, -0.0, float("inf"), -float("inf"), float("nan"), 1e-40, -1e-42, 3.4e38,
                            -3.4e38, 1.0, 1.5, 1.75, 1.875, 2 ** -126, 2 ** -149, 65504.0] * 16)
    x = torch.cat([x.flatten(), special, torch.full((16,), 2.5), torch.arange(-128.0, 128.0)]).reshape(-1, 16)
    ref = formats._quantize_blocks(x, k, ties_away, native=False)
    got = formats._quantize_blocks(x, k, ties_away)
    _same_bits(ref, got)


@needs_native
def test_packer_block_float_output_in_one_pass_same_bits():
    # a device op's bfloat8_b output: the packer's bf16 rounding (ties away, denormals and -0 -> +0, NaN -> +Inf)
    # then the block quantization, fused in C, against the two torch steps
    from torch_ttnn.sim import formats
    from torch_ttnn.sim.types import DataType
    g = torch.Generator().manual_seed(3)
    x = torch.randn(64, 256, generator=g) * torch.exp(3 * torch.randn(64, 256, generator=g))
    special = torch.tensor([0.0, -0.0, float("inf"), -float("inf"), float("nan"), -float("nan"), 1e-40, -1e-42,
                            3.3961e38, -3.3961e38, 1.00390625, -1.00390625, 1.0029296875, 2 ** -126, 2 ** -149,
                            65504.0] * 16)
    ties = torch.tensor([1.0 + 2 ** -8, 1.0 + 3 * 2 ** -8, -(1.0 + 2 ** -8), 255.5] * 4)   # bf16 ties
    x = torch.cat([x.flatten(), special, ties, torch.arange(-128.0, 128.0)]).reshape(-1, 16)
    ref = formats._quantize_blocks(formats.round_bf16_packer(x), 7, True, native=False)
    got = formats.quantize_bfp_packer(x, DataType.BFLOAT8_B)
    _same_bits(ref, got)


@needs_native
@pytest.mark.parametrize("shape,transpose", [((70, 50), True), ((70, 50), False), ((3, 40, 33), True)])
def test_packed_weight_slices_equal_the_sliced_weights(shape, transpose):
    g = torch.Generator().manual_seed(3)
    w = torch.randn(*shape, generator=g)
    w = w.transpose(-1, -2) if transpose else w
    for name in ("hi", "full"):
        s = numerics.Slices(w, "A", False)
        packed = s.padded(name, 16, 32)
        ref = _native.padded(numerics.Slices(w, "A", False)[name], 16, 32)
        _same_bits(ref, packed)


@needs_native
@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("relu", [None, "RELU", "RELU6"])
@pytest.mark.parametrize("out_dtype", ["bf16", "bfp8"])
def test_conv_output_stored_in_one_pass_has_the_bits_of_the_torch_steps(monkeypatch, bias, relu, out_dtype):
    import torch_ttnn.sim as ttnn
    from torch_ttnn.sim import _native
    dev = ttnn.open_device(device_id=7, l1_small_size=16384)
    g = torch.Generator().manual_seed(5)
    x = torch.randn(2, 10, 10, 16, generator=g) * 4
    w = torch.randn(64, 16, 3, 3, generator=g)
    b = torch.randn(1, 1, 1, 64, generator=g) * 8

    def run():
        act = ttnn.UnaryWithParam(getattr(ttnn.UnaryOpType, relu)) if relu else None
        cfg = ttnn.Conv2dConfig(activation=act)
        out = ttnn.conv2d(
            input_tensor=ttnn.from_torch(x, dtype=ttnn.bfloat16, device=dev), weight_tensor=ttnn.from_torch(w),
            bias_tensor=ttnn.from_torch(b) if bias else None, device=dev, in_channels=16, out_channels=64,
            batch_size=2, input_height=10, input_width=10, kernel_size=(3, 3), stride=(1, 1), padding=(1, 1),
            conv_config=cfg, dtype=ttnn.bfloat8_b if out_dtype == "bfp8" else ttnn.bfloat16)
        return ttnn.to_torch(out).float()

    calls = []
    real = _native.conv_epilogue
    monkeypatch.setattr(_native, "conv_epilogue", lambda *a, **k: calls.append(1) or real(*a, **k))
    fused = run()
    if relu == "RELU6" and out_dtype == "bf16":
        assert not calls                               # the SFPU's truncation: the torch steps
    else:
        assert calls                                   # the one-pass kernel ran
    assert (fused.abs() > 6).any() if relu != "RELU6" else fused.max() == 6   # the clamp was exercised
    monkeypatch.setattr(_native, "conv_epilogue", lambda *a, **k: None)
    try:
        _same_bits(run(), fused)
    finally:
        ttnn.close_device(dev)


@needs_native
@pytest.mark.skipif(__import__("platform").machine().lower() not in ("x86_64", "amd64"),
                    reason="the vector paths are x86's AVX-512: elsewhere only the portable loops exist")
def test_portable_loops_give_the_bits_of_the_vector_ones(tmp_path, monkeypatch):
    """The kernels built without AVX-512 (what CPUs without it run) against the ones built for this CPU: block-
    float quantization, the conv epilogue with relu6 into bfloat8_b, bfloat16 stores, a narrow-group
    convolution."""
    monkeypatch.setenv("TORCH_TTNN_CACHE", str(tmp_path))
    portable = _native.load(_native._build(_native._compiler(), ["-mno-avx512f"]))
    native = _native.library()
    g = torch.Generator().manual_seed(11)
    x = torch.randn(64, 256, generator=g) * torch.exp(3 * torch.randn(64, 256, generator=g))
    x[0, :16] = torch.tensor([0.0, -0.0, float("inf"), -float("inf"), float("nan"), 1e-40, 3.4e38, 1.0] * 2)
    bias = torch.randn(256, generator=g)
    wt = torch.randn(64, 4, 3, 3, generator=g)
    xc = torch.randn(2, 9, 9, 64, generator=g) * 3

    def run():
        from torch_ttnn.sim.ops import conv
        return [_native.quantize_bfp(x, 7, True, True), _native.quantize_bfp(x, 3, False),
                _native.conv_epilogue(x * 4, bias, True, 2, True), _native.conv_epilogue(x, bias, False, 1, False),
                _native.round_bf16(x[:, :250], "packer"), _native.round_bf16(x[:, :250], "sfpu"),
                _native.dst16_accumulate(x[:, :100]),
                numerics.fpu_conv_windows(xc, wt, lambda: conv._weight_matrix(wt, 16), 16, 3, 3, (1, 1), (1, 1),
                                          F.HiFi3)]
    vector = run()
    monkeypatch.setitem(_native._state, "lib", portable)
    for ref, got in zip(run(), vector):
        _same_bits(ref, got)
    assert native is not portable


@needs_native
@pytest.mark.parametrize("rounding", ["packer", "sfpu"])
def test_bf16_rounding_in_one_pass_same_bits(rounding):
    from torch_ttnn.sim import formats
    g = torch.Generator().manual_seed(2)
    x = torch.randn(70001, generator=g) * torch.exp(4 * torch.randn(70001, generator=g))
    special = torch.tensor([0.0, -0.0, float("inf"), -float("inf"), float("nan"), -float("nan"), 1e-40, -1e-42,
                            3.4e38, -3.4e38, 3.3961776e38, 1.0, 1.00390625, 1.01171875, 2 ** -126, 65504.0])
    x = torch.cat([x, special, torch.arange(-70000, 70000, dtype=torch.int32).view(torch.float32)])
    fn = formats.round_bf16_packer if rounding == "packer" else formats.truncate_bf16
    _same_bits(fn(x, native=False), fn(x))


@needs_native
@pytest.mark.parametrize("fid", [F.LoFi, F.HiFi2, F.HiFi4])
@pytest.mark.parametrize("shape,dims,operand", [((5, 1000), [-1], "A"), ((3, 64, 48), [1], "A"),
                                                ((2, 3, 40, 33), [-1, -2], "B"), ((7, 17), [-1], "B")])
def test_reduce_sum_16_bit_accumulation_same_bits(fid, shape, dims, operand):
    """The reduction's Dst accumulation in C (one loop over the 16-term partials) against the torch steps,
    with a scaler that has low bits (two slices) and rows holding infinities and NaN."""
    g = torch.Generator().manual_seed(5)
    x = torch.randn(*shape, generator=g) * torch.exp(3 * torch.randn(*shape, generator=g))
    flat = x.view(-1)
    flat[:6] = torch.tensor([float("inf"), -float("inf"), float("nan"), 3.4e38, 3.4e38, -0.0])
    for scaler in (1.0, 1 / 1000):
        ref = numerics.fpu_reduce_sum(x, dims, scaler, fid, False, input_operand=operand, native=False)
        got = numerics.fpu_reduce_sum(x, dims, scaler, fid, False, input_operand=operand)
        _same_bits(ref, got)


@needs_native
@pytest.mark.parametrize("w", [1, 5, 16, 17, 31, 33, 47, 70])
@pytest.mark.parametrize("pad", [None, 0.0, -3.5, float("inf"), 1e30])
def test_block_floats_of_a_padded_row_in_one_pass_same_bits(monkeypatch, w, pad):
    """Rows whose width is not a multiple of 32: the native pass completes the last block with the padding's
    value instead of padding a copy; the same bits as padding first, for the host's bfloat8_b/bfloat4_b and
    the packer's bfloat8_b."""
    from torch_ttnn.sim import formats
    from torch_ttnn.sim.ops import _common
    from torch_ttnn.sim.types import DataType
    g = torch.Generator().manual_seed(w)
    x = torch.randn(6, 3, w, generator=g) * torch.exp(2 * torch.randn(6, 3, w, generator=g))
    x[0, 0, 0] = float("nan")
    cases = [(DataType.BFLOAT8_B, formats.quantize_bfp_host), (DataType.BFLOAT4_B, formats.quantize_bfp_host),
             (DataType.BFLOAT8_B, formats.quantize_bfp_packer)]
    got = [_common._bfp_with_padding(x, pad, dt, q) for dt, q in cases]
    monkeypatch.setattr(_common, "_bfp_rows_native", lambda *a: None)
    for (dt, q), g_ in zip(cases, got):
        _same_bits(_common._bfp_with_padding(x, pad, dt, q), g_)


def test_sfpu_table_lookup_same_values_as_the_torch_gather(monkeypatch):
    """An SFPU op through its bfloat16 table: the native gather returns what index_select on the patterns
    returns, for every sign, zeros, infinities and NaN, and the op's results do not change with it."""
    from torch_ttnn.sim.ops import sfpu
    from torch_ttnn.sim import formats
    table = sfpu._sfpu_bf16(sfpu._eval_float(torch.exp, sfpu._all_bf16_values(), ideal=False))
    v = formats.round_bf16_rne(torch.randn(3, 1000) * 30)
    v[0, :4] = torch.tensor([0.0, -0.0, float("inf"), float("nan")])
    got = _native.table_lookup(table, v)
    assert got is not None
    monkeypatch.setattr(_native, "table_lookup", lambda *a: None)
    _same_bits(sfpu._lookup(table, v), got)


def _weights_from_register(monkeypatch):
    """Make the slice memo's budget too small for any cut slice: weights then keep only their bfloat16 source
    register, which the kernel cuts (Slices.keep_source16). A fresh memo, so nothing cut before is reused."""
    memo = numerics.TensorMemo(budget_bytes=1 << 30, size=numerics._slices_bytes, evict=False)
    monkeypatch.setattr(memo, "room", lambda: 0)
    monkeypatch.setattr(numerics, "_WEIGHT_SLICES", memo)


@needs_native
@pytest.mark.parametrize("fid", [F.LoFi, F.HiFi2, F.HiFi3, F.HiFi4])
@pytest.mark.parametrize("b_bf16", [False, True])
def test_weights_cut_by_the_kernel_from_their_bfloat16_register_give_the_same_bits(monkeypatch, fid, b_bf16):
    """Weights past the slice memo's budget are kept as their bfloat16 source register and cut by the kernel as
    it reads them: the bits of the float32 slices cut beforehand, special values included, for a matmul with
    weights shared by a batch, a convolution (windows read in place) and a narrow-group one."""
    from torch_ttnn.sim.ops import conv
    g = torch.Generator().manual_seed(int(fid) * 2 + b_bf16)
    a = torch.randn(3, 37, 70, generator=g) * torch.exp(2 * torch.randn(3, 37, 70, generator=g))
    b = torch.randn(70, 45, generator=g) * torch.exp(torch.randn(70, 45, generator=g))
    b[0, :8] = torch.tensor([float("inf"), -float("inf"), float("nan"), 0.0, -0.0, 1e-40, 3.3e38, -2.0 ** -126])
    if b_bf16:
        b = b.bfloat16().float()
    x = torch.randn(2, 9, 9, 32, generator=g) * 3
    w = torch.randn(48, 32, 3, 3, generator=g)
    wg = torch.randn(32, 2, 3, 3, generator=g)

    def run():
        return [numerics.fpu_matmul(a, b.clone(), fid, False, b_bf16=b_bf16),
                numerics.fpu_conv_windows(x, w.clone(), lambda: conv._weight_matrix(w, 1), 1, 3, 3, (1, 1), (1, 1),
                                          fid),
                numerics.fpu_conv_windows(x, wg.clone(), lambda: conv._weight_matrix(wg, 16), 16, 3, 3, (2, 2),
                                          (1, 1), fid)]
    ref = run()
    _weights_from_register(monkeypatch)
    got = run()
    kept = [v for v in numerics._WEIGHT_SLICES._entries.values()]
    for r, o in zip(ref, got):
        _same_bits(r, o)
    assert kept == [] or all(numerics._X16 in e[2]._cache for e in kept)


@needs_native
def test_large_models_keep_the_bfloat16_register_of_the_weights_past_the_budget(monkeypatch):
    """With a budget that holds the cut slices of one weight, the first weight keeps its cut slices; the second
    does not fit, so every weight keeps only its bfloat16 register from then on (a quarter of the size), the
    first one too: all three are remembered, and the next call gives the same bits. Once the memo is empty
    again, weights that fit keep their cut slices."""
    g = torch.Generator().manual_seed(5)
    ws = [torch.randn(64, 64, generator=g) for _ in range(3)]
    ws[0][3, 5] = float("inf")
    # denormals between 2^-133 and 2^-130 only: the register keeps them, their hi slice is all zero, lo is not
    tiny = (torch.rand(64, 64, generator=g) * 5e-40 + 1e-40) * torch.randn(64, 64, generator=g).sign()
    a = torch.randn(8, 64, generator=g)
    ref = [numerics.fpu_matmul(a, w.clone(), F.HiFi2, False) for w in ws]     # cut slices, remembered or not
    ref_tiny = numerics.fpu_matmul(a * 1e30, tiny.clone(), F.HiFi2, False)
    assert ref_tiny.abs().max() > 0
    cut, register = 64 * 64 * 4 * 2, 64 * 64 * 2
    memo = numerics.TensorMemo(budget_bytes=cut + 100, size=numerics._slices_bytes, evict=False)
    monkeypatch.setattr(numerics, "_WEIGHT_SLICES", memo)
    monkeypatch.setattr(numerics, "_REGISTERS_ONLY", [False])

    def kept():
        return {slot[0]: numerics._X16 in entry[2]._cache for slot, entry in memo._entries.items()}
    numerics.fpu_matmul(a, ws[0], F.HiFi2, False)
    memo.clear()
    numerics.fpu_matmul(a, ws[0], F.HiFi2, False)
    assert kept() == {id(ws[0]): False}
    got = [numerics.fpu_matmul(a, w, F.HiFi2, False) for w in ws]
    assert kept() == {id(w): True for w in ws} and memo.bytes == 3 * register
    got += [numerics.fpu_matmul(a, w, F.HiFi2, False) for w in ws]
    for r, o in zip(ref + ref, got):
        _same_bits(r, o)
    memo.clear()
    numerics.fpu_matmul(a, ws[1], F.HiFi2, False)
    assert kept() == {id(ws[1]): False}
    memo.clear()                    # denormal weights cut first, shrunk to their register when the switch comes
    numerics.fpu_matmul(a * 1e30, tiny, F.HiFi2, False)
    numerics.fpu_matmul(a, ws[2], F.HiFi2, False)
    assert numerics._REGISTERS_ONLY[0] and kept()[id(tiny)]
    _same_bits(ref_tiny, numerics.fpu_matmul(a * 1e30, tiny, F.HiFi2, False))


@needs_native
@pytest.mark.parametrize("fp32_acc", [False, True])
@pytest.mark.parametrize("affine", [False, True])
@pytest.mark.parametrize("training", [False, True])
def test_batch_norm_in_one_pass_same_bits(monkeypatch, fp32_acc, affine, training):
    """batch_norm's per-channel steps in the C pass (tt_channel_norm) against its torch steps: bfloat16 and fp32
    inputs, with and without weight and bias, running or batch statistics, special values among the inputs."""
    import torch_ttnn.sim as ttnn
    dev = ttnn.open_device(device_id=7)
    try:
        g = torch.Generator().manual_seed(int(fp32_acc) * 4 + int(affine) * 2 + int(training))
        x = torch.randn(2, 5, 9, 13, generator=g) * 4
        x[0, 1, 2, :4] = torch.tensor([float("inf"), -float("inf"), float("nan"), 1e-39])
        dtype = ttnn.float32 if fp32_acc else ttnn.bfloat16

        def t(v):
            return ttnn.from_torch(v, dtype=dtype, layout=ttnn.TILE_LAYOUT, device=dev)
        cfg = ttnn.WormholeComputeKernelConfig(fp32_dest_acc_en=fp32_acc)
        params = [torch.randn(1, 5, 1, 1, generator=g) for _ in range(4)]

        def run():
            rm, rv, w, b = (t(p.abs() if i == 1 else p) for i, p in enumerate(params))
            out = ttnn.batch_norm(t(x), running_mean=rm, running_var=rv, training=training,
                                  weight=w if affine else None, bias=b if affine else None,
                                  compute_kernel_config=cfg)
            return ttnn.to_torch(out).float(), ttnn.to_torch(rm).float(), ttnn.to_torch(rv).float()
        got = run()
        monkeypatch.setattr(_native, "channel_norm", lambda *a, **k: None)
        for r, o in zip(run(), got):
            _same_bits(r, o)
    finally:
        ttnn.close_device(dev)
