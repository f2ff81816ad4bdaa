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
