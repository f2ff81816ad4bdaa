"""Two command queues (ttnn.CreateDevice(..., num_command_queues=2)): a host transfer on queue 1 overlaps the
programs of queue 0 in the modelled timeline; events order the queues and the host; a queue the device was not
opened with is refused."""
import pytest
import torch

import torch_ttnn.sim as ttnn


@pytest.fixture
def dev2():
    d = ttnn.CreateDevice(5, num_command_queues=2)
    yield d
    ttnn.close_device(d)


def _operand(d, n=1024):
    return ttnn.from_torch(torch.randn(n, n), dtype=ttnn.bfloat16, layout=ttnn.TILE_LAYOUT, device=d)


def _host_and_device(d, shape=(1, 3, 512, 512)):
    host = ttnn.from_torch(torch.randn(*shape), dtype=ttnn.bfloat16)
    dev = ttnn.from_torch(torch.zeros(*shape), dtype=ttnn.bfloat16, device=d)
    return host, dev


def _timeline(d, cq):
    """(end of the matmul, end of the copy, modelled time when all is done) for a copy on queue `cq` enqueued
    after a matmul on queue 0."""
    host, dev = _host_and_device(d)
    a = _operand(d)
    p = d.profiler
    with p.record():
        ttnn.matmul(a, a)
        ttnn.copy_host_to_device_tensor(host, dev, cq_id=cq)
        ttnn.synchronize_device(d)
    mm = next(r for r in p.rows if r.op == "matmul")
    copy = next(r for r in p.rows if r.op == "to_device")
    return mm.end_us, copy, p.now_us


def test_a_transfer_on_queue_1_overlaps_queue_0(dev2):
    mm_end, copy, total = _timeline(dev2, 1)
    assert copy.start_us < mm_end                      # it ran beside the matmul
    assert total == pytest.approx(max(mm_end, copy.end_us))
    mm_end0, copy0, total0 = _timeline(dev2, 0)
    assert copy0.start_us >= mm_end0                   # on queue 0: after it
    assert total0 == pytest.approx(copy0.end_us)
    assert total < total0


def test_events_order_the_queues_and_the_host(dev2):
    host, dev = _host_and_device(dev2)
    a = _operand(dev2, 256)
    p = dev2.profiler
    with p.record():
        ttnn.copy_host_to_device_tensor(host, dev, cq_id=1)
        written = ttnn.record_event(dev2, 1)
        ttnn.wait_for_event(0, written)
        ttnn.matmul(a, a)
        done = ttnn.record_event(dev2, 0)
        ttnn.event_synchronize(done)
    copy = next(r for r in p.rows if r.op == "to_device")
    mm = next(r for r in p.rows if r.op == "matmul")
    assert mm.start_us >= copy.end_us                  # queue 0 waited for queue 1's write
    assert p.host_us >= mm.end_us                      # the host waited for queue 0's event


def test_a_queue_the_device_lacks_is_refused(device):
    host = ttnn.from_torch(torch.randn(32, 32), dtype=ttnn.bfloat16)
    dev = ttnn.from_torch(torch.zeros(32, 32), dtype=ttnn.bfloat16, device=device)
    with pytest.raises(RuntimeError, match="command queue 1 does not exist.*num_command_queues=2"):
        ttnn.copy_host_to_device_tensor(host, dev, cq_id=1)
    with pytest.raises(RuntimeError, match="command queue 1 does not exist"):
        ttnn.record_event(device, 1)


def test_create_device_checks_its_queues():
    with pytest.raises(ValueError, match="num_command_queues must be 1 or 2"):
        ttnn.CreateDevice(6, num_command_queues=3)
    d = ttnn.CreateDevice(6)
    try:
        assert d.num_command_queues == 1
        with pytest.raises(RuntimeError, match="already open .* 1 command queue"):
            ttnn.CreateDevice(6, num_command_queues=2)
    finally:
        ttnn.close_device(d)


def test_wait_for_event_takes_an_event(dev2):
    with pytest.raises(TypeError, match="mesh_event must be a ttnn.MeshEvent"):
        ttnn.wait_for_event(0, "not an event")
