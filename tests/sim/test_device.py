"""The simulated device: opening and closing, arch presets, counters, memory statistics, L1_SMALL, numerics."""
import pytest
import torch

import torch_ttnn.sim as ttnn
from torch_ttnn.sim.errors import OutOfMemoryError, TTNNError
from torch_ttnn.sim.arch import PRESETS, resolve
from torch_ttnn.sim.ops._common import allocate
from torch_ttnn.sim.types import DataType

GiB = 2 ** 30


@pytest.fixture
def fresh(monkeypatch):
    """Open devices with a clean environment (no TT_SIM_ARCH / TT_SIM_NUMERICS) and close them afterwards."""
    monkeypatch.delenv("TT_SIM_ARCH", raising=False)
    monkeypatch.delenv("TT_SIM_NUMERICS", raising=False)
    opened = []

    def open_(**kw):
        kw.setdefault("device_id", 3)
        d = ttnn.open_device(**kw)
        opened.append(d)
        return d

    yield open_
    for d in opened:
        if d.is_open:
            ttnn.close_device(d)


# ------------------------------------------------------------------------------------------------
# Open, close, synchronize
# ------------------------------------------------------------------------------------------------

def test_open_close_synchronize(fresh):
    d = fresh()
    assert d.is_open and d.id() == 3
    assert ttnn.open_device(device_id=3) is d                 # an open device is returned again
    ttnn.synchronize_device(d)
    t = ttnn.from_torch(torch.ones(2, 2), dtype=ttnn.bfloat16, device=d)
    ttnn.close_device(d)
    assert not d.is_open
    with pytest.raises(RuntimeError, match="closed"):
        ttnn.synchronize_device(d)
    with pytest.raises(RuntimeError, match="closed"):
        ttnn.to_torch(t)
    with pytest.raises(RuntimeError, match="closed"):
        ttnn.from_torch(torch.ones(2, 2), dtype=ttnn.bfloat16, device=d)
    d2 = fresh()
    assert d2 is not d and d2.is_open


# ------------------------------------------------------------------------------------------------
# Arch presets
# ------------------------------------------------------------------------------------------------

def test_default_preset_is_wormhole_n150(fresh):
    d = fresh()
    assert d.arch() == ttnn.Arch.WORMHOLE_B0 and d.preset.name == "wormhole_n150"
    g = d.compute_with_storage_grid_size()
    assert (g.x, g.y) == (8, 8) and d.core_grid.num_cores == 64
    s = d.memory_stats()
    assert s["L1"]["num_banks"] == 64 and s["L1"]["bank_size"] == 1_463_968
    assert s["DRAM"]["num_banks"] == 12 and s["DRAM"]["bank_size"] == GiB
    assert s["DRAM"]["total_bytes"] == 12 * GiB
    assert ttnn.get_arch_name() == "wormhole_b0"


@pytest.mark.parametrize("name,arch,grid,l1,banks,dram_total", [
    ("wormhole_n150", ttnn.Arch.WORMHOLE_B0, (8, 8), 1_463_968, 12, 12 * GiB),
    ("wormhole_n300", ttnn.Arch.WORMHOLE_B0, (8, 8), 1_463_968, 12, 12 * GiB),       # one chip of the board
    ("blackhole_p150", ttnn.Arch.BLACKHOLE, (11, 10), 1_531_776, 8, 8 * 4_278_190_080),  # 32 GB board
])
def test_presets(fresh, name, arch, grid, l1, banks, dram_total):
    d = fresh(preset=name)
    assert d.arch() == arch
    g = d.compute_with_storage_grid_size()
    assert (g.x, g.y) == grid
    s = d.memory_stats()
    assert s["L1"]["bank_size"] == l1 and s["L1"]["num_banks"] == grid[0] * grid[1]
    assert s["DRAM"]["num_banks"] == banks and s["DRAM"]["total_bytes"] == dram_total
    assert PRESETS[name].dram_alignment == (64 if arch == ttnn.Arch.BLACKHOLE else 32)
    assert PRESETS[name].l1_alignment == 16


def test_preset_selection_by_env_and_aliases(fresh, monkeypatch):
    monkeypatch.setenv("TT_SIM_ARCH", "blackhole_p150")
    d = fresh()
    assert d.arch() == ttnn.Arch.BLACKHOLE
    assert ttnn.get_arch_name() == "blackhole"
    ttnn.close_device(d)
    assert fresh(preset="wormhole_n150").arch() == ttnn.Arch.WORMHOLE_B0      # the argument wins
    ttnn.close_device(ttnn.open_device(device_id=3))
    monkeypatch.setenv("TT_SIM_ARCH", "p150")
    assert resolve().name == "blackhole_p150" and resolve("N300").name == "wormhole_n300"
    monkeypatch.setenv("TT_SIM_ARCH", "grayskull")
    with pytest.raises(ValueError, match="unknown simulated arch"):
        fresh()


def test_no_simulator_only_top_level_names():
    # the preset is chosen through open_device(preset=...) / TT_SIM_ARCH, not through new ttnn functions
    for name in ("set_arch", "select_preset", "set_preset", "preset"):
        assert not hasattr(ttnn, name)


# ------------------------------------------------------------------------------------------------
# Transfers and op launches
# ------------------------------------------------------------------------------------------------

def test_transfer_counters(fresh):
    d = fresh()
    c = d.counters
    x = torch.randn(3, 40)
    t = ttnn.from_torch(x, dtype=ttnn.bfloat16, layout=ttnn.TILE_LAYOUT, device=d)
    assert (c.to_device, c.to_device_bytes) == (1, 2 * 2048)          # padded: two 32x32 tiles
    r = ttnn.from_torch(x, dtype=ttnn.bfloat16, device=d)
    assert (c.to_device, c.to_device_bytes) == (2, 2 * 2048 + 3 * 40 * 2)
    b = ttnn.from_torch(x, dtype=ttnn.bfloat8_b, device=d)
    assert c.to_device_bytes == 2 * 2048 + 240 + 2 * 1088
    ttnn.to_torch(t)
    assert (c.from_device, c.from_device_bytes) == (1, 4096)
    ttnn.to_torch(ttnn.from_device(r))                                  # one transfer, not two
    assert (c.from_device, c.from_device_bytes) == (2, 4096 + 240)
    h = ttnn.from_torch(x, dtype=ttnn.bfloat16)                        # host-only: nothing counted
    ttnn.to_torch(ttnn.to_layout(h, ttnn.TILE_LAYOUT))
    assert c.transfers == 5 and c.ops == 0
    ttnn.to_device(h, d)
    assert c.to_device == 4
    snap = c.snapshot()
    assert snap["to_device"] == 4 and snap["from_device"] == 2
    c.reset()
    assert c.transfers == 0 and c.to_device_bytes == 0
    del b


def test_op_launches_are_counted(fresh):
    d = fresh()
    t = ttnn.from_torch(torch.randn(3, 40), dtype=ttnn.bfloat16, layout=ttnn.TILE_LAYOUT, device=d)
    ttnn.typecast(t, ttnn.float32)
    ttnn.typecast(t, ttnn.bfloat8_b)
    ttnn.to_layout(t, ttnn.ROW_MAJOR_LAYOUT)
    assert d.counters.op_launches["typecast"] == 2 and d.counters.op_launches["to_layout"] == 1
    assert d.counters.ops == 3
    assert ttnn.to_layout(t, ttnn.TILE_LAYOUT) is t                    # no-op: nothing launched
    assert d.counters.ops == 3
    ttnn.typecast(ttnn.from_torch(torch.randn(2, 2)), ttnn.bfloat16)   # host typecast: not a launch
    assert d.counters.ops == 3


# ------------------------------------------------------------------------------------------------
# Memory statistics, L1_SMALL, trace region
# ------------------------------------------------------------------------------------------------

def test_memory_stats_current_and_peak(fresh):
    d = fresh()
    x = torch.randn(64, 64)
    a = ttnn.from_torch(x, dtype=ttnn.bfloat16, layout=ttnn.TILE_LAYOUT, device=d)          # 4 tiles, DRAM
    b = ttnn.from_torch(x, dtype=ttnn.float32, layout=ttnn.TILE_LAYOUT, device=d,
                        memory_config=ttnn.L1_MEMORY_CONFIG)                                   # 4 tiles, L1
    s = d.memory_stats()
    # DRAM: 4 pages over 12 banks -> 1 page a bank, reserved in all 12 banks
    assert s["DRAM"]["current_bytes"] == 12 * 2048 and s["DRAM"]["live_buffers"] == 1
    assert s["L1"]["current_bytes"] == 64 * 4096
    ttnn.deallocate(a)
    s = d.memory_stats()
    assert s["DRAM"]["current_bytes"] == 0 and s["DRAM"]["peak_bytes"] == 12 * 2048
    d.reset_peak_memory()
    assert d.memory_stats()["DRAM"]["peak_bytes"] == 0
    assert d.memory_stats()["L1"]["peak_bytes"] == 64 * 4096
    ttnn.deallocate(b)
    assert d.memory_stats()["L1"]["current_bytes"] == 0


def test_l1_small_is_sized_by_open_device(fresh):
    d = fresh()
    s = d.memory_stats()["L1_SMALL"]
    assert s["bank_size"] == 0                                  # default: no L1_SMALL
    with pytest.raises(OutOfMemoryError, match="L1_SMALL buffer"):
        allocate(d, (32, 32), DataType.BFLOAT16, ttnn.TILE_LAYOUT,
                 ttnn.MemoryConfig(ttnn.TensorMemoryLayout.INTERLEAVED, ttnn.BufferType.L1_SMALL))
    ttnn.close_device(d)
    d = fresh(l1_small_size=16384)
    s = d.memory_stats()
    assert s["L1_SMALL"]["bank_size"] == 16384 and s["L1_SMALL"]["num_banks"] == 64
    assert s["L1"]["bank_size"] == 1_463_968 - 16384             # carved from every core's L1
    allocate(d, (32, 32), DataType.BFLOAT16, ttnn.TILE_LAYOUT,
             ttnn.MemoryConfig(ttnn.TensorMemoryLayout.INTERLEAVED, ttnn.BufferType.L1_SMALL))
    # one page; an interleaved buffer reserves the same offset in every bank
    assert d.memory_stats()["L1_SMALL"]["current_bytes"] == 64 * 2048


def test_trace_region_is_taken_from_dram(fresh):
    d = fresh(trace_region_size=1 << 20)
    s = d.memory_stats()
    assert s["TRACE"]["bank_size"] == 1 << 20 and s["TRACE"]["num_banks"] == 12
    assert s["DRAM"]["bank_size"] == GiB - (1 << 20)
    assert s["L1"]["bank_size"] == 1_463_968
    with pytest.raises(ValueError):
        fresh(device_id=4, l1_small_size=2_000_000)


# ------------------------------------------------------------------------------------------------
# Numerics switch
# ------------------------------------------------------------------------------------------------

def _tie_round(dev):
    # 1 + 2^-8 is a bf16 tie: the packer rounds ties away from zero, round-to-nearest-even keeps 1.0
    t = ttnn.from_torch(torch.full((1, 4), 1 + 2 ** -8), dtype=ttnn.float32, layout=ttnn.TILE_LAYOUT, device=dev)
    return ttnn.to_torch(ttnn.typecast(t, ttnn.bfloat16))[0, 0].item()


def test_numerics_switch(fresh, monkeypatch):
    d = fresh()
    assert d.numerics == "hardware" and not d.ideal
    assert _tie_round(d) == 1 + 2 ** -7
    ttnn.close_device(d)
    d = fresh(numerics="ideal")
    assert d.ideal and _tie_round(d) == 1.0
    ttnn.close_device(d)
    monkeypatch.setenv("TT_SIM_NUMERICS", "ideal")
    d = fresh()
    assert d.numerics == "ideal"
    ttnn.close_device(d)
    assert fresh(numerics="hardware").numerics == "hardware"           # the argument wins
    monkeypatch.setenv("TT_SIM_NUMERICS", "exact")
    with pytest.raises(ValueError, match="numerics"):
        fresh(device_id=4)


def test_operands_on_a_closed_or_other_device_are_refused(fresh):
    a = fresh()
    b = fresh(device_id=4)
    t = ttnn.from_torch(torch.ones(2, 2), dtype=ttnn.bfloat16, device=a)
    with pytest.raises(TTNNError, match="already on device 3"):
        ttnn.to_device(t, b)


def test_dropped_tensors_free_their_buffers(device):
    # real ttnn frees a device buffer when its last tensor goes; three 41 MB L1 tensors in turn fit
    for _ in range(3):
        t = ttnn.empty((20000, 1, 1), ttnn.bfloat16, ttnn.TILE_LAYOUT, device, ttnn.L1_MEMORY_CONFIG)
        del t
    assert device.memory_stats()["L1"]["current_bytes"] == 0
    x = ttnn.from_torch(torch.randn(256, 256), dtype=ttnn.bfloat16, layout=ttnn.TILE_LAYOUT, device=device)
    base = device.memory_stats()["DRAM"]["current_bytes"]
    y = ttnn.relu(x)
    one = device.memory_stats()["DRAM"]["current_bytes"] - base       # one 256x256 buffer, bank-aligned
    assert one >= 256 * 256 * 2
    for _ in range(99):
        y = ttnn.relu(x)
    assert device.memory_stats()["DRAM"]["current_bytes"] == base + one      # only the last y is alive
    del y
    view = ttnn.reshape(x, (1, 256, 256))          # a view shares x's buffer: it keeps it alive
    del x
    assert view.is_allocated() and device.memory_stats()["DRAM"]["current_bytes"] == base
    del view
    assert device.memory_stats()["DRAM"]["current_bytes"] == base - one


def test_reopening_an_open_device_with_other_region_sizes_raises():
    import torch_ttnn.sim as ttnn
    dev = ttnn.open_device(device_id=5)
    try:
        assert ttnn.open_device(device_id=5) is dev
        with pytest.raises(RuntimeError, match="already open with l1_small_size=0"):
            ttnn.open_device(device_id=5, l1_small_size=16384)
    finally:
        ttnn.close_device(dev)
