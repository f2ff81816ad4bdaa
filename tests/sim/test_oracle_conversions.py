"""Host conversions of the simulator against the real ttnn 0.81.1 wheel, bit for bit.

The wheel runs host-side code without a chip (TT_METAL_MOCK_CLUSTER_DESC_PATH is set in tests/conftest.py), so
`from_torch`, `to_torch`, `ttnn.Tensor(...)`, host `to_layout`, host `typecast` and `to_dtype` can be compared
exactly: the same torch input goes through both, the outputs are compared as bit patterns (NaN payloads and
signed zeros included), together with the output torch dtype, shape, padded shape, dtype and layout. Where the
wheel raises, the simulator must raise with the same message content. The rules these tests pinned down are
listed at the top of torch_ttnn/sim/formats.py.
"""
import math

import pytest
import torch

import torch_ttnn.sim as sim
from torch_ttnn.sim import formats

real = pytest.importorskip("ttnn")
pytestmark = pytest.mark.oracle

DTYPES = ["bfloat16", "float32", "bfloat8_b", "bfloat4_b", "uint32", "int32", "uint16", "uint8"]
BFP = {"bfloat8_b", "bfloat4_b"}
LAYOUTS = ["ROW_MAJOR_LAYOUT", "TILE_LAYOUT"]


# ------------------------------------------------------------------------------------------------
# Helpers
# ------------------------------------------------------------------------------------------------

def bits(t: torch.Tensor) -> torch.Tensor:
    """Bit patterns of a torch tensor (floats reinterpreted as ints; ints widened)."""
    if t.dtype == torch.float32:
        return t.contiguous().view(torch.int32)
    if t.dtype in (torch.bfloat16, torch.float16):
        return t.contiguous().view(torch.int16)
    return t.to(torch.int64)


def assert_same_torch(r: torch.Tensor, s: torch.Tensor, what=""):
    assert s.dtype == r.dtype, f"{what}: torch dtype {s.dtype} != real {r.dtype}"
    assert tuple(s.shape) == tuple(r.shape), f"{what}: shape {tuple(s.shape)} != real {tuple(r.shape)}"
    rb, sb = bits(r), bits(s)
    if not torch.equal(rb, sb):
        bad = (rb != sb).nonzero()[:6].tolist()
        detail = [(i, hex(int(rb[tuple(i)]) & 0xFFFFFFFF), hex(int(sb[tuple(i)]) & 0xFFFFFFFF)) for i in bad]
        raise AssertionError(f"{what}: {int((rb != sb).sum())} elements differ (index, real bits, sim bits): "
                             f"{detail}")


def assert_same_tensor(rt, st, what=""):
    """Same dtype, layout, shapes and values (through to_torch) of a real and a simulated ttnn.Tensor."""
    assert st.dtype.name == rt.dtype.name, f"{what}: dtype {st.dtype.name} != real {rt.dtype.name}"
    assert st.layout.name == rt.layout.name, f"{what}: layout {st.layout.name} != real {rt.layout.name}"
    assert tuple(st.shape) == tuple(rt.shape), f"{what}: shape"
    assert tuple(st.padded_shape) == tuple(rt.padded_shape), \
        f"{what}: padded_shape {tuple(st.padded_shape)} != real {tuple(rt.padded_shape)}"
    assert_same_torch(real.to_torch(rt), sim.to_torch(st), what)


def run_both(fn):
    """fn(module) on the real wheel and on the simulator: (real result | exception, sim result | exception)."""
    out = []
    for mod in (real, sim):
        try:
            out.append(fn(mod))
        except Exception as e:  # noqa: BLE001 - comparing the failures themselves
            out.append(e)
    return out


def _assert_same(r, s, what):
    if isinstance(r, torch.Tensor):
        assert_same_torch(r, s, what)
    else:
        assert_same_tensor(r, s, what)


def compare(fn, what=""):
    """Both succeed with the same tensor, or both fail.

    A ROW_MAJOR float -> integer conversion of the wheel rarely takes its scalar rule for the whole buffer
    (formats.py, rule I1; heap-layout dependent): that outcome is accepted when the simulator reproduces it
    exactly under formats.scalar_only()."""
    r, s = run_both(fn)
    if isinstance(r, Exception):
        assert isinstance(s, Exception), f"{what}: real raised {str(r).splitlines()[0]!r}, the simulator did not"
        return r, s
    assert not isinstance(s, Exception), f"{what}: the simulator raised {s!r}, real did not"
    try:
        _assert_same(r, s, what)
    except AssertionError:
        with formats.scalar_only():
            s2 = fn(sim)
        try:
            _assert_same(r, s2, what)
        except AssertionError:
            _assert_same(r, s, what)          # report against the common model
            raise
        s = s2
    return r, s


def assert_both_raise(fn, *phrases):
    """Real raises, and so does the simulator; every phrase appears in both messages."""
    r, s = run_both(fn)
    assert isinstance(r, Exception), "expected the real wheel to raise"
    assert isinstance(s, Exception), f"the simulator accepted what real ttnn refuses ({str(r).splitlines()[0]})"
    for p in phrases:
        assert p in str(r), f"phrase {p!r} not in the real message {str(r)[:300]!r}"
        assert p in str(s), f"phrase {p!r} not in the simulator's message {str(s)!r}"


def f32_from_bits(b) -> torch.Tensor:
    return torch.tensor(b, dtype=torch.int64).to(torch.int32).view(torch.float32)


def zoo(seed: int = 0, width: int = 48) -> torch.Tensor:
    """Rows of float32 values, one category each (width 48: the second tile is partly padding)."""
    g = torch.Generator().manual_seed(seed)

    def rn(scale=1.0):
        return torch.randn(width, generator=g) * scale

    def pick(vals):
        idx = torch.randint(0, len(vals), (width,), generator=g)
        return torch.tensor(vals, dtype=torch.float32)[idx]

    nan_bits = f32_from_bits([0x7FC00000, 0xFFC00000, 0x7F800001, 0xFFBFFFFF, 0x7FBF0000, 0x7FFFFFFF, 0xFFFF0000])
    specials = torch.cat([torch.tensor([0.0, -0.0, math.inf, -math.inf, 3.4028235e38, -3.4028235e38, 1.1754944e-38,
                                        1e-45, -1e-45, 1.0, -1.0]), nan_bits])
    rows = [
        rn(),                                                        # ordinary values
        rn(1e30),                                                    # huge
        rn(1e-38),                                                   # tiny: normals and denormals
        rn(1e-42),                                                   # denormals only
        specials[torch.randint(0, len(specials), (width,), generator=g)],   # +-0, +-inf, NaN payloads, extremes
        torch.where(torch.rand(width, generator=g) < 0.2, rn(1e3), rn(1e-3)),   # blocks mixing scales
        # exact bf16 ties (low half 0x8000) and neighbours
        f32_from_bits((0x3F800000 + (torch.randint(0, 1 << 7, (width,), generator=g) << 16)
                       + torch.tensor([0x8000, 0x7FFF, 0x8001, 0x8000] * (width // 4))).tolist()),
        # bfp8 ties: block max 1.0..2.0, others at (m + 0.5) * 2^-6
        torch.where(torch.arange(width) % 16 == 0, 1.5,
                    (torch.randint(-120, 120, (width,), generator=g) + 0.5) * 2.0 ** -6),
        # bfp4 ties: others at (m + 0.5) * 2^-2
        torch.where(torch.arange(width) % 16 == 0, 1.75,
                    (torch.randint(-6, 6, (width,), generator=g) + 0.5) * 2.0 ** -2),
        # saturation: block maxima with all-ones mantissas (round up past 2^k - 1)
        pick([1.9999999, -1.9999999, 3.9999998, 1.99, 1.875, 1.9375, 255.99, 0.5]),
        # integer-valued floats and halves around the integer formats' ranges
        pick([-300.5, -1.5, -1.0, -0.5, 0.5, 1.5, 2.5, 127.5, 255.0, 255.5, 256.0, 300.7, 65535.0, 65535.5,
              65536.0, 70000.0, 2147483520.0]),
        # out of every integer range
        pick([1e10, -1e10, 2.0 ** 31, -2.0 ** 31, 2.0 ** 32, -2.0 ** 32 - 512, math.inf, -math.inf, math.nan,
              4294967040.0, 1e20]),
        # NaN or inf in a block of ordinary values
        torch.where(torch.arange(width) % 16 == 5, pick([math.nan, math.inf, -math.inf, 0.0]), rn(1e2)),
    ]
    return torch.stack(rows)


def rm_or_tile(name: str):
    return getattr(real, name), getattr(sim, name)


# ------------------------------------------------------------------------------------------------
# from_torch -> to_torch, every dtype and layout
# ------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("src", ["float32", "bfloat16"])
def test_round_trip_value_zoo(src, dtype, layout):
    t = zoo(seed=DTYPES.index(dtype)).to(getattr(torch, src))
    if dtype in BFP and layout == "ROW_MAJOR_LAYOUT":
        assert_both_raise(lambda m: m.from_torch(t, dtype=getattr(m, dtype), layout=getattr(m, layout)),
                          "Layout must be Layout::TILE for bfloat8_b or bfloat4_b")
        return
    compare(lambda m: m.from_torch(t, dtype=getattr(m, dtype), layout=getattr(m, layout)), f"{src}->{dtype}")
    # each category on its own row of a 1-row tensor (its own blocks and vector/scalar split)
    for row in range(t.shape[0]):
        r = t[row:row + 1, : 37 + row]
        compare(lambda m: m.from_torch(r, dtype=getattr(m, dtype), layout=getattr(m, layout)),
                f"{src}->{dtype} row {row}")


SHAPES = [(), (5,), (40,), (3, 37), (2, 3, 33), (2, 1, 31, 65), (1, 768), (0, 5), (2, 1, 1, 3, 5)]


@pytest.mark.parametrize("shape", SHAPES, ids=str)
@pytest.mark.parametrize("dtype", DTYPES)
def test_shapes_ranks_and_padding(shape, dtype):
    t = torch.randn(shape) * 100
    for layout in LAYOUTS:
        if dtype in BFP and layout == "ROW_MAJOR_LAYOUT":
            continue
        compare(lambda m: m.from_torch(t, dtype=getattr(m, dtype), layout=getattr(m, layout)),
                f"{shape} {dtype} {layout}")
        rt = real.from_torch(t, dtype=getattr(real, dtype), layout=getattr(real, layout))
        st = sim.from_torch(t, dtype=getattr(sim, dtype), layout=getattr(sim, layout))
        assert st.volume() == rt.volume() and st.logical_volume() == rt.logical_volume()


@pytest.mark.parametrize("pad_value", [0.0, 1000.0, -1.5, 1e-3, 300.7, 1.999, -2.0, math.inf, math.nan, 3e38])
@pytest.mark.parametrize("src", ["float32", "bfloat16", "int32", "uint8", "int64", "float64"])
def test_pad_value_is_visible_through_block_floats(src, pad_value):
    """The padding shares blocks with the last logical columns: a host typecast to bfloat8_b of a TILE tensor
    (or a direct bfloat8_b/bfloat4_b conversion) shows which padding value the tensor holds."""
    base = torch.tensor([1.015625, 1.0, 3.0, -0.5] * 5)[:20].reshape(1, 20)
    if src.startswith("int") or src == "uint8":
        base = torch.tensor([1, 2, 3, 0] * 5)[:20].reshape(1, 20)
    t = base.to(getattr(torch, src))
    for dtype in DTYPES:
        def go(m, dtype=dtype):
            x = m.from_torch(t, dtype=getattr(m, dtype), layout=m.TILE_LAYOUT, pad_value=pad_value)
            return x if dtype in BFP else m.typecast(x, m.bfloat8_b)
        compare(go, f"{src}->{dtype} pad {pad_value}")


# ------------------------------------------------------------------------------------------------
# Float -> integer: vectorized body and scalar tail disagree outside the range (formats.py I1-I2)
# ------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("src", ["float32", "bfloat16"])
@pytest.mark.parametrize("dtype", ["uint8", "uint16", "uint32", "int32"])
def test_float_to_int_vector_body_and_scalar_tail(src, dtype):
    vals = [-1.5, 300.7, 70000.0, -70000.0, 1e10, -1e10, math.nan, math.inf, -math.inf, 2.0 ** 31, 4294967040.0]
    for v in vals:
        for n in (1, 3, 4, 5, 8, 9, 12, 17):
            t = torch.full((n,), v).to(getattr(torch, src))
            compare(lambda m: m.from_torch(t, dtype=getattr(m, dtype)), f"{src}->{dtype} {v} x{n}")
    t = torch.tensor(vals * 3).to(getattr(torch, src))
    for n in range(1, len(t)):
        compare(lambda m: m.from_torch(t[:n].clone(), dtype=getattr(m, dtype)), f"{src}->{dtype} n={n}")


# ------------------------------------------------------------------------------------------------
# Integer and other torch sources; default dtypes; to_torch dtypes
# ------------------------------------------------------------------------------------------------

INT_VALUES = [0, 1, -1, 127, 128, 255, 256, 300, -129, -256, 32767, 32768, 65535, 65536, 70000, -32769,
              2 ** 31 - 1, -2 ** 31, 16777217, 2 ** 24 + 2 ** 16 + 1, 33554435]


def _int_source(torch_dtype) -> torch.Tensor:
    v = torch.tensor(INT_VALUES * 2, dtype=torch.int64)
    if torch_dtype == torch.uint32:
        return torch.remainder(v, 1 << 32).to(torch.uint32)
    if torch_dtype == torch.uint16:
        return torch.remainder(v, 1 << 16).to(torch.uint16)
    if torch_dtype == torch.bool:
        return v != 0
    return v.to(torch_dtype)


@pytest.mark.parametrize("torch_dtype", [torch.int32, torch.int64, torch.int16, torch.int8, torch.uint8, torch.bool,
                                         torch.uint16, torch.uint32], ids=str)
def test_integer_sources(torch_dtype):
    t = _int_source(torch_dtype)
    for dtype in DTYPES:
        for layout in LAYOUTS:
            if dtype in BFP and layout == "ROW_MAJOR_LAYOUT":
                continue
            x = t if dtype not in BFP else t.reshape(2, -1)
            compare(lambda m: m.from_torch(x, dtype=getattr(m, dtype), layout=getattr(m, layout)),
                    f"{torch_dtype}->{dtype} {layout}")


@pytest.mark.parametrize("torch_dtype", [torch.float64, torch.float16], ids=str)
def test_non_native_float_sources(torch_dtype):
    """float64/float16 go through torch's own conversion to the target's torch type (bfloat16 for block
    floats), quirks included (float64 -> bfloat16 NaN is 0xFFFF in torch's vectorized loop)."""
    base = zoo(seed=3, width=48)
    if torch_dtype == torch.float16:
        base = base.clamp(-60000, 60000)
    extra = torch.tensor([1 + 2 ** -7 + 2 ** -9, 1 + 2 ** -8 + 2 ** -30, 1 + 2 ** -7 + 2 ** -30] + [0.0] * 45)
    t = torch.cat([base, extra.reshape(1, 48)]).to(torch_dtype)
    for dtype in DTYPES:
        for layout in LAYOUTS:
            if dtype in BFP and layout == "ROW_MAJOR_LAYOUT":
                continue
            compare(lambda m: m.from_torch(t, dtype=getattr(m, dtype), layout=getattr(m, layout)),
                    f"{torch_dtype}->{dtype} {layout}")
            for n in (1, 3, 40):
                x = t.reshape(-1)[:n].clone()
                compare(lambda m: m.from_torch(x, dtype=getattr(m, dtype), layout=getattr(m, layout)),
                        f"{torch_dtype}->{dtype} {layout} x{n}")


@pytest.mark.parametrize("torch_dtype", [torch.float32, torch.bfloat16, torch.float16, torch.int32, torch.int64,
                                         torch.int16, torch.uint8, torch.bool, torch.uint16, torch.uint32], ids=str)
def test_default_dtype_and_to_torch_dtype(torch_dtype):
    t = _int_source(torch_dtype) if not torch_dtype.is_floating_point else zoo(1).to(torch_dtype)
    if torch_dtype == torch.float16:
        t = zoo(1).clamp(-6e4, 6e4).to(torch.float16)
    r, s = compare(lambda m: m.from_torch(t), f"{torch_dtype} dtype=None")
    assert s.dtype.name == r.dtype.name


def test_float64_without_dtype_is_refused():
    # The wheel aborts the whole process here (a C++ exception escapes nanobind), so only the simulator runs.
    with pytest.raises(sim.errors.TTNNError, match="get_dtype_from_ttnn_datatype"):
        sim.from_torch(torch.zeros(2, dtype=torch.float64))


def test_unsupported_torch_dtypes_are_refused():
    t = torch.zeros(2, 2, dtype=torch.complex64)
    assert_both_raise(lambda m: m.from_torch(t, dtype=m.bfloat16), "unexpected dlpack dtype")
    assert_both_raise(lambda m: m.from_torch(t), "unexpected dlpack dtype")
    # int8 maps to DataType.INT8, which the simulated device does not support: a clear refusal
    with pytest.raises(sim.errors.TTNNError, match="INT8"):
        sim.from_torch(torch.zeros(2, dtype=torch.int8))


def test_from_torch_none_and_default_layouts():
    assert real.from_torch(None) is None and sim.from_torch(None) is None
    t = torch.randn(3, 5)
    for dtype in DTYPES:
        compare(lambda m: m.from_torch(t, dtype=getattr(m, dtype)), f"{dtype} layout=None")


@pytest.mark.parametrize("dtype", DTYPES)
def test_to_torch_with_dtype_and_rank(dtype):
    t = zoo(5)[:, :40].reshape(1, 1, 13, 40)
    layout = "TILE_LAYOUT"
    for td in [torch.float32, torch.bfloat16, torch.int32, torch.int64, torch.float64, torch.uint8]:
        compare(lambda m: m.to_torch(m.from_torch(t, dtype=getattr(m, dtype), layout=getattr(m, layout)), dtype=td),
                f"{dtype} to_torch(dtype={td})")
    compare(lambda m: m.to_torch(m.from_torch(t, dtype=getattr(m, dtype), layout=getattr(m, layout)),
                                 torch_rank=2), f"{dtype} torch_rank=2")
    assert_both_raise(lambda m: m.to_torch(m.from_torch(torch.zeros(2, 3, 4), dtype=getattr(m, dtype),
                                                        layout=m.TILE_LAYOUT), torch_rank=1),
                      "Unable to squeeze to desired rank")


def test_to_torch_returns_a_copy():
    x = sim.from_torch(torch.ones(4, 4), dtype=sim.float32)
    y = sim.to_torch(x)
    y += 1
    assert torch.equal(sim.to_torch(x), torch.ones(4, 4))


# ------------------------------------------------------------------------------------------------
# ttnn.Tensor constructors
# ------------------------------------------------------------------------------------------------

LISTS = {
    "floats": [1.0, -1.5, 1.00390625, 1.01171875, math.nan, 1e-40, 3.4e38, -0.0, 1e10, 70000.7, -3.0, 255.5],
    "ints": [1, -1, 300, 70000, 2 ** 31 - 1, -2 ** 31, 16777217, 33554435, 0, 255, -3, 65536],
    "big_ints": [2 ** 31, 1, 2 ** 32, -2 ** 31 - 1, 2 ** 40, 7, 8, 9, 10, 11, 12, 13],
    "mixed": [1, 2.5, -3, 4.25, True, 6, 7, 8, 9, 10, 11, -12.75],
}


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("data", sorted(LISTS))
def test_tensor_from_list(data, dtype, layout):
    values = LISTS[data]
    if dtype in BFP and layout == "ROW_MAJOR_LAYOUT":
        assert_both_raise(lambda m: m.Tensor(values, [3, 4], getattr(m, dtype), getattr(m, layout)),
                          "Only TILE layout is supported for")
        return
    compare(lambda m: m.Tensor(values, [3, 4], getattr(m, dtype), getattr(m, layout)), f"{data} {dtype}")
    if layout == "TILE_LAYOUT":
        for pad in (300, 300.5, -1):
            def go(m, pad=pad):
                x = m.Tensor(values[:3] * 6 + [1, 1], [1, 20], getattr(m, dtype), m.TILE_LAYOUT, pad_value=pad)
                return x if dtype in BFP else m.typecast(x, m.bfloat8_b)
            compare(go, f"{data} {dtype} pad {pad}")


def test_tensor_constructor_forms_and_errors():
    compare(lambda m: m.Tensor(data=[1.0] * 4, shape=[2, 2], data_type=m.bfloat16, layout=m.TILE_LAYOUT), "kw")
    compare(lambda m: m.Tensor(m.Tensor([1.5] * 4, (2, 2), m.float32, m.ROW_MAJOR_LAYOUT)), "copy")
    compare(lambda m: m.Tensor(tuple([1.0] * 4), [2, 2], m.bfloat16, m.ROW_MAJOR_LAYOUT), "tuple data")
    t = torch.tensor([1.5, -2.5, 300.7])
    compare(lambda m: m.Tensor(t, m.int32), "torch tensor, dtype")
    compare(lambda m: m.Tensor(t), "torch tensor, dtype None")
    compare(lambda m: m.Tensor(t.reshape(1, 3), m.bfloat8_b), "torch tensor, bfp8 -> TILE")
    compare(lambda m: m.Tensor(tensor=t, data_type=m.uint16, layout=m.TILE_LAYOUT, pad_value=-1.0), "torch tensor kw")
    assert_both_raise(lambda m: m.Tensor([1.0] * 3, [2, 2], m.bfloat16, m.ROW_MAJOR_LAYOUT),
                      "Buffer size 3 differs from shape volume 4")


# ------------------------------------------------------------------------------------------------
# Host to_layout and typecast
# ------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("dtype", [d for d in DTYPES if d not in BFP])
def test_host_to_layout_round_trip(dtype):
    for shape in [(3, 5, 7), (40,), (2, 1, 33, 31), (64, 32)]:
        t = torch.randn(shape) * 50
        x = lambda m: m.from_torch(t, dtype=getattr(m, dtype))                              # noqa: E731
        compare(lambda m: m.to_layout(x(m), m.TILE_LAYOUT), f"{dtype} {shape} -> TILE")
        compare(lambda m: m.to_layout(m.to_layout(x(m), m.TILE_LAYOUT), m.ROW_MAJOR_LAYOUT), f"{dtype} {shape} RT")
        compare(lambda m: m.to_layout(x(m), m.ROW_MAJOR_LAYOUT), f"{dtype} {shape} RM->RM")
        # host to_layout ignores dtype=
        compare(lambda m: m.to_layout(x(m), m.TILE_LAYOUT, dtype=m.bfloat8_b), f"{dtype} {shape} dtype ignored")
    # pad_value: cast to the tensor's own type, then visible through a typecast to bfloat8_b
    base = torch.tensor([1.015625, 1.0, 3.0, -0.5] * 5).reshape(1, 20)
    for pad in (1.999, -1.5, 300.7, -2.0, 1e30, math.nan):
        compare(lambda m: m.typecast(m.to_layout(m.from_torch(base, dtype=getattr(m, dtype)), m.TILE_LAYOUT,
                                                 pad_value=pad), m.bfloat8_b), f"{dtype} to_layout pad {pad}")


def test_host_to_layout_block_floats():
    aligned = torch.randn(32, 64)
    compare(lambda m: m.to_layout(m.from_torch(aligned, dtype=m.bfloat8_b, layout=m.TILE_LAYOUT),
                                  m.ROW_MAJOR_LAYOUT), "aligned bfp8 stays TILE")
    t = torch.randn(3, 5)
    assert_both_raise(lambda m: m.to_layout(m.from_torch(t, dtype=m.bfloat4_b, layout=m.TILE_LAYOUT),
                                            m.ROW_MAJOR_LAYOUT), "Tensor layout must be ROW_MAJOR for unpadding")


@pytest.mark.parametrize("src,layout", [(s, lay) for s in DTYPES for lay in LAYOUTS
                                        if not (s in BFP and lay == "ROW_MAJOR_LAYOUT")])
def test_host_typecast_all_pairs(src, layout):
    values = zoo(seed=11)[:, :45]
    for dst in DTYPES:
        def go(m, dst=dst):
            x = m.from_torch(values, dtype=getattr(m, src), layout=getattr(m, layout), pad_value=2.5)
            return m.typecast(x, getattr(m, dst))
        if dst in BFP and layout == "ROW_MAJOR_LAYOUT":
            assert_both_raise(go, "physical_shape() == output_spec.physical_shape()")
            aligned = zoo(seed=12, width=32)[:, :32]
            aligned = torch.cat([aligned, aligned[:-1]])      # 25 rows
            aligned = torch.cat([aligned, aligned[:7]])       # 32 rows: tile-aligned
            compare(lambda m: m.typecast(m.from_torch(aligned, dtype=getattr(m, src)), getattr(m, dst)),
                    f"aligned RM {src}->{dst}")
            continue
        compare(go, f"typecast {src}->{dst} {layout}")
        compare(lambda m: m.to_dtype(m.from_torch(values[:, :7], dtype=getattr(m, src), layout=getattr(m, layout)),
                                     getattr(m, dst)), f"to_dtype {src}->{dst} {layout}")
    # the float->int scalar tail applies to host typecast of a ROW_MAJOR buffer as well
    if layout == "ROW_MAJOR_LAYOUT" and src in ("float32", "bfloat16"):
        for n in (1, 5, 6, 9, 13):
            t = torch.tensor([-1.5, 1e10, -70000.0, math.nan, 300.7] * 3)[:n]
            for dst in ("uint8", "uint16", "uint32", "int32"):
                compare(lambda m: m.typecast(m.from_torch(t, dtype=getattr(m, src)), getattr(m, dst)),
                        f"tail {src}->{dst} n={n}")


# ------------------------------------------------------------------------------------------------
# Sizes and small functions
# ------------------------------------------------------------------------------------------------

def test_tile_and_element_sizes():
    for d in DTYPES:
        assert sim.tile_size(getattr(sim, d)) == real.tile_size(getattr(real, d)), d
        if d in BFP:
            assert_both_raise(lambda m: m.element_size(getattr(m, d)), "datum for bfp2, bfp4, bfp8 is invalid")
        else:
            assert sim.element_size(getattr(sim, d)) == real.element_size(getattr(real, d)), d
        layout = "TILE_LAYOUT"
        rt = real.from_torch(torch.zeros(3, 40), dtype=getattr(real, d), layout=getattr(real, layout))
        st = sim.from_torch(torch.zeros(3, 40), dtype=getattr(sim, d), layout=getattr(sim, layout))
        r, s = run_both(lambda m: (rt if m is real else st).element_size())
        assert (isinstance(r, Exception) and isinstance(s, Exception)) or r == s, (d, r, s)
        assert st.volume() == rt.volume() and st.logical_volume() == rt.logical_volume()


def test_rank0_shapes():
    for layout in LAYOUTS:
        compare(lambda m: m.from_torch(torch.tensor(3.25), dtype=m.bfloat16, layout=getattr(m, layout)), layout)


# ------------------------------------------------------------------------------------------------
# Device typecast into integers: the wheel's golden function (Wormhole), every float source
# ------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("src", ["bfloat16", "float32", "bfloat8_b"])
@pytest.mark.parametrize("dst", ["uint16", "uint32", "uint8", "int32"])
def test_device_typecast_to_integers_matches_the_golden_function(device, src, dst):
    values = torch.tensor([0.5, 1.5, 2.5, -0.5, -1.5, -300.0, 255.75, 256.0, 300.0, 65535.0, 70000.0, 1e6,
                           -1e6, 0.0, 3.25, 7.75] * 4)
    t = sim.from_torch(values, dtype=getattr(sim, src), layout=sim.TILE_LAYOUT, device=device)
    stored = sim.to_torch(t).float()                         # the source values as the device holds them
    got = sim.to_torch(sim.typecast(t, getattr(sim, dst))).to(torch.int64)
    golden = real.get_golden_function(real.typecast)
    want = golden(stored, dtype=getattr(real, dst), _ttnn_input_dtype=getattr(real, src),
                  _ttnn_arch_name="wormhole_b0").to(torch.int64)
    assert torch.equal(got, want), (src, dst, stored.tolist(), got.tolist(), want.tolist())
