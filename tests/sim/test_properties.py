"""Properties of the simulated device's core (hypothesis): layouts and padding, block floats, the allocator,
deallocation and refusals. Examples are kept few so the file runs in seconds."""
import math

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import torch_ttnn.sim as ttnn
from torch_ttnn.sim import formats
from torch_ttnn.sim.errors import TTNNError
from torch_ttnn.sim.arch import PRESETS
from torch_ttnn.sim.memory import BankAllocator, OutOfMemoryError
from torch_ttnn.sim.ops._common import allocate
from torch_ttnn.sim.types import BufferType, DataType

FAST = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
DTYPES = [ttnn.bfloat16, ttnn.float32, ttnn.bfloat8_b, ttnn.bfloat4_b, ttnn.uint32, ttnn.int32, ttnn.uint16,
          ttnn.uint8]
TILE_BYTES = {ttnn.bfloat16: 2048, ttnn.float32: 4096, ttnn.bfloat8_b: 1088, ttnn.bfloat4_b: 576, ttnn.uint32: 4096,
              ttnn.int32: 4096, ttnn.uint16: 2048, ttnn.uint8: 1024}

shapes = st.tuples(st.lists(st.integers(1, 3), max_size=2), st.lists(st.integers(1, 70), min_size=1, max_size=2)).map(
    lambda p: tuple(p[0] + p[1]) if len(p[1]) == 2 else tuple(p[1]))      # rank 1..4, leading dims small


def up32(n):
    return -(-n // 32) * 32


def expected_padded(shape):
    if len(shape) == 1:
        return (32, up32(shape[0]))
    return shape[:-2] + (up32(shape[-2]), up32(shape[-1]))


# ------------------------------------------------------------------------------------------------
# Layouts and padding
# ------------------------------------------------------------------------------------------------

@FAST
@given(shape=shapes, dtype=st.sampled_from(DTYPES))
def test_padded_shape_rule_and_tile_count(shape, dtype):
    t = ttnn.from_torch(torch.zeros(shape), dtype=dtype, layout=ttnn.TILE_LAYOUT)
    assert tuple(t.shape) == shape
    padded = expected_padded(shape)
    assert tuple(t.padded_shape) == padded
    tiles = math.prod(padded) // 1024
    assert t._buffer_size() == tiles * TILE_BYTES[dtype] == tiles * ttnn.tile_size(dtype)
    if dtype not in (ttnn.bfloat8_b, ttnn.bfloat4_b):
        rm = ttnn.from_torch(torch.zeros(shape), dtype=dtype)
        assert tuple(rm.padded_shape) == shape
        assert rm._buffer_size() == math.prod(shape) * ttnn.element_size(dtype)


@FAST
@given(shape=shapes, dtype=st.sampled_from([ttnn.bfloat16, ttnn.float32, ttnn.int32, ttnn.uint16, ttnn.uint8]),
       pad=st.sampled_from([0.0, 1.0, -3.5, 1e30]))
def test_to_layout_round_trip_is_exact(shape, dtype, pad):
    torch.manual_seed(len(shape))
    x = torch.randn(shape) * 100
    a = ttnn.from_torch(x, dtype=dtype)
    t = ttnn.to_layout(a, ttnn.TILE_LAYOUT, pad_value=pad)
    assert t.layout == ttnn.TILE_LAYOUT and tuple(t.padded_shape) == expected_padded(shape)
    b = ttnn.to_layout(t, ttnn.ROW_MAJOR_LAYOUT)
    assert b.layout == ttnn.ROW_MAJOR_LAYOUT and tuple(b.padded_shape) == shape
    ra, rb = ttnn.to_torch(a), ttnn.to_torch(b)
    assert ra.dtype == rb.dtype
    if ra.is_floating_point():
        assert torch.equal(ra.view(torch.int16 if ra.dtype == torch.bfloat16 else torch.int32),
                           rb.view(torch.int16 if rb.dtype == torch.bfloat16 else torch.int32))
    else:
        assert torch.equal(ra, rb)


def test_tile_padding_counts_in_buffer_sizes(device):
    t = ttnn.from_torch(torch.randn(1, 768), dtype=ttnn.bfloat16, layout=ttnn.TILE_LAYOUT)
    assert tuple(t.padded_shape) == (32, 768)
    assert t._buffer_size() == 24 * 2048 == 49152
    before = device.memory_stats()["DRAM"]["current_bytes"]
    d = ttnn.to_device(t, device)
    # 24 pages over 12 banks: 2 pages of 2048 B in every bank
    assert device.memory_stats()["DRAM"]["current_bytes"] - before == 12 * 2 * 2048 == 49152
    ttnn.deallocate(d)
    assert device.memory_stats()["DRAM"]["current_bytes"] == before


def test_row_major_pages_are_aligned_in_every_bank(device):
    """A ROW_MAJOR page is one row; pages start at aligned addresses (DRAM 32 B, L1 16 B on Wormhole)."""
    t = ttnn.from_torch(torch.randn(1000, 5), dtype=ttnn.bfloat16, device=device)            # 1000 pages of 10 B
    assert t._buffer_size() == 10_000
    assert device.memory_stats()["DRAM"]["current_bytes"] == 12 * (-(-1000 // 12)) * 32
    t1 = ttnn.from_torch(torch.randn(1000, 5), dtype=ttnn.bfloat16, device=device,
                         memory_config=ttnn.L1_MEMORY_CONFIG)
    assert device.memory_stats()["L1"]["current_bytes"] == 64 * (-(-1000 // 64)) * 16
    assert t1.is_allocated()


# ------------------------------------------------------------------------------------------------
# Block floats
# ------------------------------------------------------------------------------------------------

finite_normal = st.floats(min_value=-1.0000000150474662e+30, max_value=1.0000000150474662e+30, allow_nan=False, allow_infinity=False, width=32).filter(
    lambda v: v == 0 or abs(v) >= 1.2e-38)
blocks16 = st.lists(finite_normal, min_size=16, max_size=16)


def _reference_block(vals, k):
    """A float64 model of one host block (FACTS.md): shared exponent of the largest element, magnitude
    RNE to k bits with no implicit one, saturating, zero without sign."""
    exps = [math.frexp(v)[1] - 1 for v in vals if v != 0]
    if not exps:
        return [0.0] * len(vals)
    e = max(exps)
    step = 2.0 ** (e - (k - 1))
    out = []
    for v in vals:
        mag = min(round(abs(v) / step), 2 ** k - 1)    # Python round: half to even
        out.append(math.copysign(mag * step, v) if mag else 0.0)
    return out


@FAST
@given(block=blocks16, dtype=st.sampled_from([ttnn.bfloat8_b, ttnn.bfloat4_b]))
def test_bfp_matches_reference_model_and_error_bound(block, dtype):
    k = 7 if dtype == ttnn.bfloat8_b else 3
    x = torch.tensor(block, dtype=torch.float32)
    q = formats.quantize_bfp_host(x, dtype)
    assert q.tolist() == _reference_block(x.tolist(), k)
    nz = [abs(v) for v in x.tolist() if v != 0]
    if nz:
        e = max(math.frexp(v)[1] - 1 for v in nz)
        lsb = 2.0 ** (e - (k - 1))
        err = (q.double() - x.double()).abs()
        # half an LSB, except the saturated values at the top of the block (at most one LSB)
        sat = x.double().abs() > (2 ** k - 1) * lsb
        assert bool((err[~sat] <= lsb / 2).all())
        assert bool((err[sat] <= lsb).all())


@FAST
@given(block=st.lists(st.floats(width=32), min_size=32, max_size=32),
       dtype=st.sampled_from([ttnn.bfloat8_b, ttnn.bfloat4_b]))
def test_bfp_idempotent_and_no_negative_zero(block, dtype):
    x = torch.tensor(block, dtype=torch.float32).reshape(1, 32)
    q = formats.quantize_bfp_host(x, dtype)
    q2 = formats.quantize_bfp_host(q, dtype)
    assert torch.equal(q.view(torch.int32), q2.view(torch.int32))
    assert not bool(((q == 0) & torch.signbit(q)).any())


def test_bfp_saturation_and_specials():
    q8 = formats.quantize_bfp_host(torch.tensor([1.9999] + [0.5] * 15), ttnn.bfloat8_b)
    q4 = formats.quantize_bfp_host(torch.tensor([1.9999] + [0.5] * 15), ttnn.bfloat4_b)
    assert q8[0].item() == 127 / 64 and q4[0].item() == 7 / 4      # saturates, never bumps the exponent
    # inf keeps exponent 255; the rest of its block is quantized against it
    q = formats.quantize_bfp_host(torch.tensor([math.inf, 1.0, 1e38] + [0.0] * 13), ttnn.bfloat8_b)
    assert q[0].item() == math.inf and q[1].item() == 0.0 and q[2].item() == 19 * 2.0 ** 122
    # denormals flush
    assert formats.quantize_bfp_host(torch.tensor([2.0 ** -126, 2.0 ** -127] + [0.0] * 14),
                                     ttnn.bfloat8_b)[1].item() == 0.0


@FAST
@given(pad=st.sampled_from([0.0, 1.0, 100.0, 1e6, -1e6]), width=st.integers(1, 31))
def test_bfp_quantization_uses_the_pad_value(pad, width):
    """Padding shares the last block of a row: the logical values are quantized against it."""
    x = torch.full((2, width), 1.015625)
    t = ttnn.from_torch(x, dtype=ttnn.bfloat8_b, layout=ttnn.TILE_LAYOUT, pad_value=pad)
    padded = torch.nn.functional.pad(x, (0, 32 - width), value=pad)
    expect = formats.quantize_bfp_host(padded, ttnn.bfloat8_b)[:, :width]
    assert torch.equal(ttnn.to_torch(t), expect)
    assert t._pad == formats.bfp_scalar(pad, ttnn.bfloat8_b)


# ------------------------------------------------------------------------------------------------
# The padding-content model (_pad): kept by layout/dtype conversions and transfers
# ------------------------------------------------------------------------------------------------

def test_pad_model_through_conversions(device):
    x = torch.randn(3, 20)
    t = ttnn.from_torch(x, dtype=ttnn.bfloat16, layout=ttnn.TILE_LAYOUT, pad_value=1.999)
    assert t._pad == 2.0                                                   # pad_value rounded to bf16
    assert ttnn.from_torch(x, dtype=ttnn.bfloat16)._pad is None            # ROW_MAJOR has no padding
    d = ttnn.to_device(t, device)
    assert d._pad == 2.0                                                   # transfers keep it
    assert ttnn.from_device(d)._pad == 2.0
    h = ttnn.typecast(t, ttnn.float32)                                     # host typecast converts it
    assert h._pad == 2.0
    assert ttnn.typecast(t, ttnn.uint8)._pad == 2.0
    assert ttnn.typecast(ttnn.from_torch(x, dtype=ttnn.float32, layout=ttnn.TILE_LAYOUT, pad_value=-1.5),
                         ttnn.uint16)._pad == 0.0                           # saturating vector rule
    assert ttnn.typecast(t, ttnn.bfloat4_b)._pad == formats.bfp_scalar(2.0, ttnn.bfloat4_b)
    rm = ttnn.to_layout(t, ttnn.ROW_MAJOR_LAYOUT)
    assert rm._pad is None
    assert ttnn.to_layout(rm, ttnn.TILE_LAYOUT, pad_value=-7.0)._pad == -7.0
    i = ttnn.from_torch(torch.ones(3, 5, dtype=torch.int32), dtype=ttnn.uint8)
    assert ttnn.to_layout(i, ttnn.TILE_LAYOUT, pad_value=-1.5)._pad == 255.0   # static_cast<uint8_t>(-1.5)
    # device conversions: layout change defines the pad, same-layout ops keep it
    dt = ttnn.to_layout(ttnn.to_device(rm, device), ttnn.TILE_LAYOUT, pad_value=3.0)
    assert dt._pad == 3.0
    assert ttnn.typecast(dt, ttnn.float32)._pad == 3.0
    assert ttnn.to_layout(dt, ttnn.ROW_MAJOR_LAYOUT)._pad is None


def test_device_pads_are_stored_in_the_output_format(device):
    rm = ttnn.from_torch(torch.ones(3, 5, dtype=torch.int32), dtype=ttnn.uint16, device=device)
    t = ttnn.to_layout(rm, ttnn.TILE_LAYOUT, pad_value=-1.5)
    assert t._pad == 65535.0                                   # integers wrap (device rule)
    f = ttnn.from_torch(torch.ones(3, 5), dtype=ttnn.float32, device=device)
    tf = ttnn.to_layout(f, ttnn.TILE_LAYOUT, pad_value=1.999)
    assert tf._pad == float(torch.tensor(1.999, dtype=torch.float32))      # a float32 value
    assert ttnn.typecast(tf, ttnn.bfloat16)._pad == 2.0
    assert ttnn.typecast(tf, ttnn.bfloat4_b)._pad == formats.bfp_scalar(1.999, ttnn.bfloat4_b, host=False)
    assert ttnn.fill_implicit_tile_padding(tf, 7.25)._pad == 7.25
    assert ttnn.typecast(tf, ttnn.int32)._pad == 1.0
    assert ttnn.clone(tf, dtype=ttnn.uint8)._pad == 1.0


def test_device_bfp_typecast_uses_the_pad(device):
    x = torch.full((1, 20), 1.015625)
    t = ttnn.from_torch(x, dtype=ttnn.float32, layout=ttnn.TILE_LAYOUT, pad_value=1000.0, device=device)
    q = ttnn.to_torch(ttnn.typecast(t, ttnn.bfloat8_b))
    assert q[0, 0].item() == 1.015625 and q[0, 16].item() == 0.0      # the last block shares 1000's exponent
    t0 = ttnn.from_torch(x, dtype=ttnn.float32, layout=ttnn.TILE_LAYOUT, pad_value=0.0, device=device)
    assert ttnn.to_torch(ttnn.typecast(t0, ttnn.bfloat8_b))[0, 16].item() == 1.015625


# ------------------------------------------------------------------------------------------------
# Allocator accounting
# ------------------------------------------------------------------------------------------------

ops = st.lists(st.tuples(st.sampled_from(["alloc", "free"]), st.integers(1, 40_000), st.integers(0, 1000)),
               min_size=1, max_size=60)


@FAST
@given(seq=ops, banks=st.sampled_from([1, 8, 12, 64]), align=st.sampled_from([16, 32, 64]))
def test_allocator_accounting(seq, banks, align):
    a = BankAllocator(BufferType.L1, banks, 100_000, align)
    live, peak = [], 0
    for kind, size, pick in seq:
        if kind == "alloc":
            need = -(-size // align) * align
            fits = a.largest_free_block() >= need
            try:
                live.append(a.allocate(size * banks, size))
                assert fits
            except OutOfMemoryError as e:
                assert not fits
                msg = str(e)
                assert (f"Out of Memory: Not enough space to allocate {size * banks} B L1 buffer across {banks} "
                        f"banks, where each bank needs to store {need} B, but bank size is 100000 B") in msg
                assert "free" in msg
        elif live:
            a.free(live.pop(pick % len(live)))
        assert a.current == sum(x.reserved_bytes for x in live)
        assert a.peak >= peak and a.peak >= a.current
        peak = a.peak
        spans = sorted((x.address, x.address + x.bank_bytes) for x in live)
        assert all(e0 <= s1 for (_, e0), (s1, _) in zip(spans, spans[1:]))          # no overlap
        assert all(x.address % align == 0 and x.address + x.bank_bytes <= 100_000 for x in live)
        assert a.free_bytes_per_bank() == 100_000 - sum(x.bank_bytes for x in live)


@pytest.mark.parametrize("name", sorted(PRESETS))
def test_capacities_per_preset(name):
    dev = ttnn.open_device(device_id=5, preset=name, l1_small_size=8192)
    try:
        p = PRESETS[name]
        st_ = dev.memory_stats()
        l1_core = {"wormhole_n150": 1_463_968, "wormhole_n300": 1_463_968, "blackhole_p150": 1_531_776}[name]
        assert st_["L1"]["num_banks"] == p.num_cores and st_["L1"]["bank_size"] == l1_core - 8192
        assert st_["L1_SMALL"]["bank_size"] == 8192 and st_["L1_SMALL"]["num_banks"] == p.num_cores
        assert st_["DRAM"]["num_banks"] == (8 if name.startswith("blackhole") else 12)
        assert st_["DRAM"]["total_bytes"] == p.dram_banks * p.dram_bank_size
        gib = st_["DRAM"]["total_bytes"] / 2 ** 30
        assert (11.9 < gib <= 12) if name.startswith("wormhole") else (31.5 < gib <= 32)
        # a TILE buffer one tile per core too big for L1: out of memory, never a spill to DRAM
        tiles_per_core = (l1_core - 8192) // 2048 + 1
        shape = (32, 32 * tiles_per_core * p.num_cores)
        with pytest.raises(OutOfMemoryError, match="Out of Memory: Not enough space to allocate .* L1 buffer"):
            allocate(dev, shape, DataType.BFLOAT16, ttnn.TILE_LAYOUT, ttnn.L1_MEMORY_CONFIG)
        assert dev.memory_stats()["L1"]["current_bytes"] == 0
        ok = allocate(dev, (32, 32 * (tiles_per_core - 1) * p.num_cores), DataType.BFLOAT16, ttnn.TILE_LAYOUT,
                      ttnn.L1_MEMORY_CONFIG)
        assert dev.memory_stats()["L1"]["current_bytes"] == ok.reserved_bytes == (tiles_per_core - 1) * 2048 * p.num_cores
    finally:
        ttnn.close_device(dev)


def test_out_of_memory_message_content(device):
    n = 1_463_968 - 16384                          # the conftest device reserves 16384 B of L1_SMALL per core
    tiles = 64 * (n // 2048 + 1)                   # one tile per core more than fits
    with pytest.raises(OutOfMemoryError) as e:
        allocate(device, (32, 32 * tiles), DataType.BFLOAT16, ttnn.TILE_LAYOUT, ttnn.L1_MEMORY_CONFIG)
    msg = str(e.value)
    assert msg.startswith(f"Out of Memory: Not enough space to allocate {tiles * 2048} B L1 buffer across 64 banks, "
                          f"where each bank needs to store {(n // 2048 + 1) * 2048} B, but bank size is {n} B")
    assert "free" in msg
    # a DRAM buffer that fits nowhere either
    with pytest.raises(OutOfMemoryError, match="DRAM buffer across 12 banks"):
        allocate(device, (32, 32 * 12 * (2 ** 30 // 2048 + 1)), DataType.BFLOAT16, ttnn.TILE_LAYOUT,
                 ttnn.DRAM_MEMORY_CONFIG)


# ------------------------------------------------------------------------------------------------
# Deallocation and refusals
# ------------------------------------------------------------------------------------------------

def test_deallocate_then_use_raises(device):
    t = ttnn.from_torch(torch.randn(4, 4), dtype=ttnn.bfloat16, layout=ttnn.TILE_LAYOUT, device=device)
    assert t.is_allocated()
    ttnn.deallocate(t)
    assert not t.is_allocated()
    for use in (lambda: ttnn.to_torch(t), lambda: ttnn.from_device(t), lambda: ttnn.typecast(t, ttnn.float32),
                lambda: ttnn.to_layout(t, ttnn.ROW_MAJOR_LAYOUT)):
        with pytest.raises(RuntimeError, match="deallocated"):
            use()
    h = ttnn.from_torch(torch.randn(4, 4))
    h.deallocate()
    with pytest.raises(RuntimeError, match="deallocated"):
        ttnn.to_torch(h)


@pytest.mark.parametrize("dtype", [ttnn.bfloat8_b, ttnn.bfloat4_b])
def test_block_floats_refuse_row_major(dtype, device):
    with pytest.raises(TTNNError, match="Layout must be Layout::TILE for bfloat8_b or bfloat4_b"):
        ttnn.from_torch(torch.randn(4, 4), dtype=dtype, layout=ttnn.ROW_MAJOR_LAYOUT)
    with pytest.raises(TTNNError, match="Only TILE layout is supported"):
        ttnn.Tensor([1.0] * 4, [2, 2], dtype, ttnn.ROW_MAJOR_LAYOUT)
    t = ttnn.from_torch(torch.randn(4, 4), dtype=dtype, layout=ttnn.TILE_LAYOUT, device=device)
    with pytest.raises(TTNNError):
        ttnn.to_layout(t, ttnn.ROW_MAJOR_LAYOUT)
    r = ttnn.from_torch(torch.randn(4, 4), dtype=ttnn.bfloat16, device=device)
    with pytest.raises(TTNNError, match="TILE"):
        ttnn.typecast(r, dtype)


@pytest.mark.parametrize("torch_dtype", [torch.complex64, torch.float64, torch.int8], ids=str)
def test_unsupported_torch_dtypes_refused(torch_dtype):
    with pytest.raises(TTNNError):
        ttnn.from_torch(torch.zeros(2, 2, dtype=torch_dtype))


def test_float64_with_dtype_is_accepted():
    t = ttnn.from_torch(torch.tensor([1.0, 2.5], dtype=torch.float64), dtype=ttnn.float32)
    assert ttnn.to_torch(t).tolist() == [1.0, 2.5]
