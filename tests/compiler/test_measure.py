"""metrics.measure compiles for itself: it leaves what the user compiled alone and frees what it compiled."""
import torch

from torch_ttnn import zoo
from torch_ttnn.metrics import measure


def test_measuring_keeps_the_users_compiled_model_and_frees_its_own_programs(device):
    model, inputs = zoo.get("mlp").build()
    compiles = []

    def counting(gm, example_inputs):
        compiles.append(gm)
        return gm.forward

    users = torch.compile(model, backend=counting)
    with torch.no_grad():
        users(*inputs)
    held = {kind: device.memory.stats()[kind]["live_buffers"] for kind in ("DRAM", "TRACE")}
    # more measurements of one model than dynamo's recompile limit (8): each still compiles and runs on the device
    for _ in range(9):
        m = measure("mlp", model, inputs, device=device)
        assert m.success and m.ops_remaining == 0 and m.op_launches > 0 and m.accuracy > 99
    with torch.no_grad():
        users(*inputs)
    assert len(compiles) == 1                   # the user's compiled model was not dropped (no dynamo reset)
    # and the measurements left no device buffer or trace behind
    assert {kind: device.memory.stats()[kind]["live_buffers"] for kind in ("DRAM", "TRACE")} == held


def test_measure_times_the_streamed_steady_state():
    """stream=True: the modelled time a call takes inside torch_ttnn.stream (the next batch written on the second
    command queue), below the plain call's when the input's transfer is a large part of it; the measured call's
    figures and profile are those of the plain call."""
    import torch_ttnn.sim as ttnn
    dev = ttnn.open_device(device_id=4, l1_small_size=16384, trace_region_size=1 << 20, num_command_queues=2)
    try:
        torch.manual_seed(0)
        model = torch.nn.Sequential(torch.nn.Linear(1024, 32), torch.nn.ReLU()).eval()
        x = torch.randn(256, 1024)
        m = measure("wide", model, (x,), device=dev, runs=1, profile=True, stream=True)
        assert m.success, m.error
        s = m.modelled
        assert 0 < s["streamed_latency_ms"] < 0.8 * s["latency_ms"]
        assert s["streamed_throughput_per_s"] > s["throughput_per_s"]
        assert not any(r.kind == "transfer cq1" for r in dev.profiler.rows)   # the plain call's rows
    finally:
        ttnn.close_device(dev)
