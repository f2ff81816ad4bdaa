"""Performance model: every op has a cost rule, the rules follow the hardware's rates, the profiler's
timelines and reports, and the calibration points stay where the docs say they are."""
import csv
import json

import pytest
import torch

import torch_ttnn.sim as ttnn
from torch_ttnn.sim._op import OPS
from torch_ttnn.sim.perf import calibration
from torch_ttnn.sim.perf.estimate import estimate, tensor
from torch_ttnn.sim.perf.rates import rates_for
from torch_ttnn.sim.perf.rules import CONDITIONAL, NO_PROGRAM, RULES
from torch_ttnn.sim.arch import resolve
from torch_ttnn.sim.types import DataType, MathFidelity, WormholeComputeKernelConfig


def test_every_op_has_a_cost_rule_or_launches_nothing():
    counted = {n for n, op in OPS.items() if op.counted}
    uncounted = {n for n, op in OPS.items() if not op.counted}
    assert sorted(counted - set(RULES)) == []
    assert sorted(uncounted - NO_PROGRAM - CONDITIONAL) == []
    assert sorted(set(RULES) - set(OPS)) == []       # no rule for an op the simulator lacks
    assert sorted(NO_PROGRAM - uncounted) == [] and not NO_PROGRAM & set(RULES)
    assert sorted(CONDITIONAL - set(RULES)) == [] and CONDITIONAL <= uncounted


def test_a_reshape_that_moves_tiles_is_modelled(device):
    x = ttnn.from_torch(torch.randn(64, 64), dtype=ttnn.bfloat16, layout=ttnn.TILE_LAYOUT, device=device)
    with device.profiler.record():
        ttnn.reshape(x, (64, 64))          # a view: no program
        ttnn.reshape(x, (32, 128))         # re-tiles: one launch
    assert [r.op for r in device.profiler.rows] == ["reshape"]
    assert device.profiler.rows[0].cost.dram_bytes == 2 * 4 * 2048


def _ckc(fid):
    return WormholeComputeKernelConfig(math_fidelity=fid)


@pytest.mark.parametrize("fid,cycles", [(MathFidelity.LoFi, 16), (MathFidelity.HiFi2, 32),
                                        (MathFidelity.HiFi4, 64)])
def test_matmul_compute_follows_tile_cycles_and_fidelity(fid, cycles):
    # 2048^3 on 8x8: 64x64 output tiles, 8x8 a core, 64 K tiles
    a, b = tensor((2048, 2048)), tensor((2048, 2048))
    c = estimate("matmul", a, b, outputs=[tensor((2048, 2048))], preset="n150", compute_kernel_config=_ckc(fid))
    assert c.cores == 64
    assert c.compute_cycles == 64 * 64 * cycles + 64 * 8
    assert c.flops == 2 * 2048 ** 3
    # LoFi 2048^3 (65 us of compute) waits for its 25 MB of DRAM traffic (97 us); HiFi2/HiFi4 do not
    assert c.bound == ("dram" if fid == MathFidelity.LoFi else "compute")


def test_small_matmul_does_not_scale_with_the_grid():
    # one output tile: one core does all of it, the other 63 idle
    one = estimate("matmul", tensor((32, 4096)), tensor((4096, 32)), outputs=[tensor((32, 32))], preset="n150",
                   compute_kernel_config=_ckc(MathFidelity.LoFi))
    assert one.cores == 1
    assert one.compute_cycles >= 128 * 16


def test_decode_matmul_is_dram_bound_on_its_weights():
    w = tensor((4096, 4096), DataType.BFLOAT8_B)
    c = estimate("linear", tensor((1, 1, 32, 4096)), w, outputs=[tensor((1, 1, 32, 4096))], preset="n150")
    assert c.bound == "dram"
    r = rates_for(resolve("n150"))
    assert c.dram_us == pytest.approx(c.dram_bytes / (r.dram_gb_s * 1e3))
    assert w.nbytes == 128 * 128 * 1088          # bfloat8_b: 1088 bytes a tile


def test_eltwise_is_dram_bound_and_block_floats_move_fewer_bytes():
    bf = estimate("add", tensor((4096, 4096)), tensor((4096, 4096)), outputs=[tensor((4096, 4096))])
    b8 = estimate("add", tensor((4096, 4096), DataType.BFLOAT8_B), tensor((4096, 4096), DataType.BFLOAT8_B),
                  outputs=[tensor((4096, 4096), DataType.BFLOAT8_B)])
    assert bf.bound == "dram" and b8.bound == "dram"
    assert b8.kernel_us < 0.6 * bf.kernel_us


def test_l1_operands_are_faster_than_dram():
    dram = estimate("relu", tensor((1024, 1024)), outputs=[tensor((1024, 1024))])
    l1 = estimate("relu", tensor((1024, 1024), buffer="L1"), outputs=[tensor((1024, 1024), buffer="L1")])
    assert l1.kernel_us < dram.kernel_us


def test_blackhole_is_faster_than_wormhole_on_the_same_gemm():
    args = (tensor((4096, 4096)), tensor((4096, 4096)))
    wh = estimate("matmul", *args, outputs=[tensor((4096, 4096))], preset="n150")
    bh = estimate("matmul", *args, outputs=[tensor((4096, 4096))], preset="p150")
    assert bh.kernel_us < 0.5 * wh.kernel_us


def test_estimate_refuses_ops_without_a_program_and_unknown_ops():
    with pytest.raises(ValueError, match="launches no device program"):
        estimate("from_torch", tensor((32, 32)), outputs=[])
    with pytest.raises(KeyError, match="not an op"):
        estimate("no_such_op", outputs=[])


def test_a_launch_gets_the_same_cost_as_its_estimate(device):
    a = ttnn.from_torch(torch.randn(256, 512), dtype=ttnn.bfloat16, layout=ttnn.TILE_LAYOUT, device=device)
    b = ttnn.from_torch(torch.randn(512, 384), dtype=ttnn.bfloat16, layout=ttnn.TILE_LAYOUT, device=device)
    with device.profiler.record():
        ttnn.matmul(a, b)
    (row,) = device.profiler.rows
    want = estimate("matmul", tensor((256, 512)), tensor((512, 384)), outputs=[tensor((256, 384))],
                    preset=device.preset.name)
    assert row.cost.kernel_us == pytest.approx(want.kernel_us)
    assert row.cost.flops == 2 * 256 * 512 * 384


def test_timelines_dispatch_bound_without_trace_and_gap_bound_with(device):
    r = device.profiler.rates
    x = ttnn.from_torch(torch.randn(32, 32), dtype=ttnn.bfloat16, layout=ttnn.TILE_LAYOUT, device=device)
    device.profiler.reset()
    for _ in range(10):
        x = ttnn.relu(x)
    p = device.profiler
    kernels = p.totals.kernel_us
    assert p.totals.launches == 10
    # tiny ops: the host enqueues slower than the device runs them, so the untraced timeline is the
    # host's (ten dispatches) plus the last kernel
    assert max(p.rows[-1].cost.kernel_us if p.rows else 0, kernels / 10) < r.dispatch_us
    assert p.now_us == pytest.approx(10 * r.dispatch_us + kernels / 10, rel=1e-6)
    assert p.traced_us == pytest.approx(kernels + 10 * r.op_gap_us)
    assert p.traced_us < p.now_us


def test_transfers_are_timed_over_pcie(device):
    r = device.profiler.rates
    device.profiler.reset()
    t = ttnn.from_torch(torch.randn(1024, 1024), dtype=ttnn.bfloat16, layout=ttnn.TILE_LAYOUT, device=device)
    assert device.profiler.totals.transfers == 1
    assert device.profiler.totals.transfer_us == pytest.approx(r.dispatch_us + 1024 * 1024 * 2 / (r.h2d_gb_s * 1e3))
    ttnn.to_torch(t)
    assert device.profiler.totals.transfers == 2


def test_profiler_csv_and_chrome_trace(device, tmp_path):
    x = ttnn.from_torch(torch.randn(64, 128), dtype=ttnn.bfloat16, layout=ttnn.TILE_LAYOUT, device=device)
    with device.profiler.record():
        y = ttnn.softmax(ttnn.exp(x), dim=-1)
        ttnn.to_torch(y)
    path = device.profiler.to_csv(tmp_path / "ops.csv")
    rows = list(csv.DictReader(open(path)))
    assert [r["OP CODE"] for r in rows] == ["exp", "softmax", "from_device"]
    assert int(rows[0]["DEVICE KERNEL DURATION [ns]"]) > 0
    assert rows[0]["INPUTS"] == "64x128:BFLOAT16:TILE:DRAM"
    assert rows[2]["BOUND"] == "pcie"
    trace = json.load(open(device.profiler.to_chrome_trace(tmp_path / "trace.json")))
    spans = [e for e in trace["traceEvents"] if e["ph"] == "X" and e["tid"] == 0]
    assert [e["name"] for e in spans] == ["exp", "softmax", "from_device"]
    assert all(b["ts"] >= a["ts"] + a["dur"] for a, b in zip(spans, spans[1:]))
    s = device.profiler.summary()
    assert s["launches"] == 2 and s["transfers"] == 1
    assert {o["op"] for o in s["top_ops"]} == {"exp", "softmax"}


def test_unmodelled_launches_are_counted_and_strict_mode_raises(device, monkeypatch):
    from torch_ttnn.sim.perf import rules
    x = ttnn.from_torch(torch.randn(32, 32), dtype=ttnn.bfloat16, layout=ttnn.TILE_LAYOUT, device=device)
    monkeypatch.delitem(rules.RULES, "relu")
    with pytest.raises(LookupError, match="no cost rule for ttnn.relu"):
        ttnn.relu(x)
    monkeypatch.setenv("TT_SIM_PERF_STRICT", "0")
    device.profiler.reset()
    ttnn.relu(x)
    assert device.profiler.summary()["unmodelled"] == {"relu": 1}


_DECODE_SDPA = "Llama-70B decode SDPA, position 127 (per chip)"


def test_calibration_points_hold_their_band():
    pts = {p.name: p for p in calibration.points()}
    assert len(pts) >= 12
    for p in pts.values():
        if p.name == _DECODE_SDPA:      # a known gap: test_decode_attention_holds_its_band below
            continue
        # the model never claims more than the published speed by more than the documented engine gap,
        # and every point outside +-25% carries its reason
        assert 0.55 <= p.ratio <= 3.0, p.name
        assert p.within_band or p.why, p.name
    for name in ("GEMM 4096^3 BF16 HiFi4, in0 in L1", "GEMM 4096^3 BF16 HiFi4, 11x10 grid",
                 "DRAM-bound add 8192x8192 BF16 (GB/s as time)", "Llama-70B decode QKV matmul (per chip)",
                 "Llama-70B decode FF2 matmul (per chip)", "Llama-70B decode residual add (per chip)"):
        assert pts[name].within_band, (name, pts[name].ratio)


@pytest.mark.xfail(strict=True, reason="sdpa_decode is modelled at 0.37 of the published time: its K/V read once "
                   "per user at the DRAM rate, without the kernel's per-chunk read latency and the exchange of "
                   "partial results between the cores of a user, which no published source quantifies")
def test_decode_attention_holds_its_band():
    p = {p.name: p for p in calibration.points()}[_DECODE_SDPA]
    assert p.why and 0.55 <= p.ratio <= 3.0, p.ratio
