"""Trace capture and replay on the simulated device: the real API, its refusals, and what replay computes."""
import pytest
import torch

import torch_ttnn.sim as ttnn


@pytest.fixture
def dev():
    d = ttnn.open_device(device_id=5, trace_region_size=1 << 20)
    yield d
    ttnn.close_device(d)


def _tt(x, d=None):
    return ttnn.from_torch(x, dtype=ttnn.bfloat16, layout=ttnn.TILE_LAYOUT, device=d)


def _body(x, w):
    h = ttnn.matmul(x, w)
    r = ttnn.relu(h)
    ttnn.deallocate(h)
    return ttnn.add(r, 1.0)


def _capture(d, x, w):
    tid = ttnn.begin_trace_capture(d, cq_id=0)
    out = _body(x, w)
    ttnn.end_trace_capture(d, tid, cq_id=0)
    return tid, out


def test_replay_computes_the_new_inputs_like_eager(dev):
    w = _tt(torch.randn(64, 64), dev)
    x = _tt(torch.randn(32, 64), dev)
    first = ttnn.to_torch(_body(x, w))
    tid, out = _capture(dev, x, w)
    assert not ttnn.is_trace_capture_active(dev)
    for _ in range(2):
        ttnn.copy_host_to_device_tensor(_tt(torch.randn(32, 64)), x)
        ttnn.execute_trace(dev, tid, cq_id=0, blocking=False)
        got = ttnn.to_torch(out)
        assert torch.equal(got, ttnn.to_torch(_body(x, w)))      # bit for bit what eager computes
        assert not torch.equal(got, first)
    ttnn.release_trace(dev, tid)


def test_capture_runs_nothing_and_replay_counts_and_models_the_programs(dev):
    w = _tt(torch.randn(64, 64), dev)
    x = _tt(torch.randn(32, 64), dev)
    _body(x, w)
    dev.counters.reset()
    dev.profiler.reset()
    tid, out = _capture(dev, x, w)
    assert dev.counters.ops == 0 and dev.profiler.totals.launches == 0
    dev.counters.reset()
    dev.profiler.reset()
    ttnn.execute_trace(dev, tid)
    assert dict(dev.counters.op_launches) == {"matmul": 1, "relu": 1, "add": 1}
    traced = dev.profiler.summary()
    dev.profiler.reset()
    _body(x, w)
    eager = dev.profiler.summary()
    assert traced["kernel_us"] == pytest.approx(eager["kernel_us"])
    # one host command instead of three enqueues: the replay ends sooner
    assert traced["latency_us"] < eager["latency_us"]
    ttnn.release_trace(dev, tid)


def test_reads_and_writes_are_refused_while_capturing(dev):
    x = _tt(torch.randn(32, 64), dev)
    tid = ttnn.begin_trace_capture(dev)
    y = ttnn.relu(x)
    with pytest.raises(RuntimeError, match="not supported during trace capture"):
        ttnn.to_torch(y)
    with pytest.raises(RuntimeError, match="not supported during trace capture"):
        _tt(torch.randn(32, 64), dev)
    with pytest.raises(RuntimeError, match="already being captured"):
        ttnn.begin_trace_capture(dev)
    ttnn.end_trace_capture(dev, tid)
    ttnn.release_trace(dev, tid)


def test_trace_must_fit_the_trace_region():
    d = ttnn.open_device(device_id=6)            # trace_region_size defaults to 0, as in ttnn 0.81.1
    try:
        x = _tt(torch.randn(32, 64), d)
        tid = ttnn.begin_trace_capture(d)
        ttnn.relu(x)
        with pytest.raises(RuntimeError, match=r"trace_region_size=0"):
            ttnn.end_trace_capture(d, tid)
        with pytest.raises(RuntimeError, match="does not exist"):
            ttnn.execute_trace(d, tid)
    finally:
        ttnn.close_device(d)


def test_trace_buffer_lives_in_the_trace_region_until_released(dev):
    w = _tt(torch.randn(64, 64), dev)
    x = _tt(torch.randn(32, 64), dev)
    tid, _ = _capture(dev, x, w)
    region = dev.memory_stats()["TRACE"]
    assert region["current_bytes"] > 0
    rates = dev.profiler.rates
    assert region["current_bytes"] >= 3 * rates.trace_bytes(1) // region["num_banks"]
    ttnn.release_trace(dev, tid)
    assert dev.memory_stats()["TRACE"]["current_bytes"] == 0
    with pytest.raises(RuntimeError, match="does not exist"):
        ttnn.execute_trace(dev, tid)


def test_trace_does_not_keep_dropped_intermediates_alive(dev):
    w = _tt(torch.randn(64, 64), dev)
    x = _tt(torch.randn(32, 64), dev)
    before = dev.memory_stats()["DRAM"]["current_bytes"]
    tid, out = _capture(dev, x, w)
    # the relu result was dropped by Python inside _body: freed as on the chip; only the output stays
    assert dev.memory_stats()["DRAM"]["current_bytes"] - before == out._alloc.reserved_bytes
    ttnn.release_trace(dev, tid)


def test_buffer_in_scratch_space_is_lost_by_a_replay_and_reading_it_raises(dev):
    w = _tt(torch.randn(64, 64), dev)
    x = _tt(torch.randn(32, 64), dev)
    tid, out = _capture(dev, x, w)
    ttnn.execute_trace(dev, tid)
    intruder = _tt(torch.randn(32, 64), dev)        # lands where the capture's intermediates were
    ttnn.relu(intruder)                             # fine before a replay
    ttnn.execute_trace(dev, tid)                    # the chip overwrites it here, silently
    with pytest.raises(RuntimeError, match="replay overwrote it"):
        ttnn.relu(intruder)
    with pytest.raises(RuntimeError, match="replay overwrote it"):
        ttnn.to_torch(intruder)
    fresh = torch.randn(32, 64)
    ttnn.copy_host_to_device_tensor(_tt(fresh), intruder)     # written again: valid
    assert torch.equal(ttnn.to_torch(intruder), ttnn.to_torch(_tt(fresh)))
    ttnn.to_torch(out)                              # the trace's own output is never lost
    ttnn.release_trace(dev, tid)


def test_in_place_update_of_an_input_replays(dev):
    acc = _tt(torch.zeros(32, 32), dev)
    one = _tt(torch.ones(32, 32), dev)
    tid = ttnn.begin_trace_capture(dev)
    ttnn.add(acc, one, output_tensor=acc)
    ttnn.end_trace_capture(dev, tid)
    for _ in range(3):
        ttnn.execute_trace(dev, tid)
    # capturing runs nothing: three replays add three times
    assert torch.equal(ttnn.to_torch(acc).float(), torch.full((32, 32), 3.0))
    ttnn.release_trace(dev, tid)


def test_copy_host_to_device_tensor_checks_the_spec(dev):
    x = _tt(torch.randn(32, 64), dev)
    with pytest.raises(RuntimeError, match="same shape, dtype and layout"):
        ttnn.copy_host_to_device_tensor(_tt(torch.randn(32, 32)), x)
    with pytest.raises(RuntimeError, match="must be on the host"):
        ttnn.copy_host_to_device_tensor(x, x)
    host = _tt(torch.zeros(32, 64))
    ttnn.copy_device_to_host_tensor(x, host)
    assert torch.equal(ttnn.to_torch(host), ttnn.to_torch(x))
