"""Inputs updated in place (a static KV cache) stay on the device between calls (passes/device_state.py)."""
import contextlib

import pytest
import torch

import torch_ttnn


@pytest.fixture(autouse=True)
def _fresh_dynamo():
    torch._dynamo.reset()
    yield
    torch._dynamo.reset()


def _step(cache, k, pos):
    cache.index_copy_(2, pos, k)
    return (cache * 2).sum(-1)


CACHE_BYTES = 1 * 2 * 256 * 32 * 2    # the bfloat16 TILE buffer of a [1, 2, 256, 32] cache


def _run(device, lazy: bool, steps: int = 5, **kw):
    c = torch.compile(_step, backend=torch_ttnn.backend, options=torch_ttnn.TorchTtnnOption(device=device, **kw))
    cache, ref = torch.zeros(1, 2, 256, 32), torch.zeros(1, 2, 256, 32)
    ks = [torch.randn(1, 2, 1, 32) for _ in range(steps)]
    per_call = []
    ctx = torch_ttnn.runtime.lazy_state() if lazy else contextlib.nullcontext()
    with torch.no_grad(), ctx:
        for t in range(steps):
            device.counters.reset()
            y = c(cache, ks[t], torch.tensor([t]))
            yr = _step(ref, ks[t], torch.tensor([t]))
            torch.testing.assert_close(y, yr, rtol=0.02, atol=0.15)
            per_call.append(device.counters.snapshot())
    return cache, ref, per_call


@pytest.mark.parametrize("lazy", [False, True], ids=["read-back", "lazy"])
def test_cache_is_uploaded_once_and_stays_current(tdev, lazy):
    cache, ref, calls = _run(tdev, lazy)
    assert calls[0]["to_device_bytes"] >= CACHE_BYTES
    for c in calls[1:]:
        assert c["to_device_bytes"] < CACHE_BYTES            # only the new keys and the position go in
        read_back = c["from_device_bytes"] >= CACHE_BYTES
        assert read_back != lazy                             # lazy: only the result comes back
    # the host copy holds the device's (bfloat16) values once the lazy block is left
    torch.testing.assert_close(cache, ref, rtol=0.01, atol=0.01)


def test_host_write_between_calls_is_seen(tdev):
    c = torch.compile(_step, backend=torch_ttnn.backend, options=torch_ttnn.TorchTtnnOption(device=tdev))
    cache = torch.zeros(1, 2, 256, 32)
    with torch.no_grad():
        for t in range(3):
            c(cache, torch.randn(1, 2, 1, 32), torch.tensor([t]))
        cache.zero_()                                        # the user resets the cache on the host
        y = c(cache, torch.ones(1, 2, 1, 32), torch.tensor([5]))
    assert torch.equal(y[0, 0], torch.where(torch.arange(256) == 5, 64.0, 0.0))


def test_naive_program_moves_the_cache_every_call(tdev):
    _, _, calls = _run(tdev, False, optimize=False)
    assert all(c["to_device_bytes"] >= CACHE_BYTES for c in calls)


def _prefill(cache, k):
    cache.index_copy_(2, torch.arange(4), k)
    return cache.sum(-1)


def test_two_graphs_share_the_device_copy_in_lazy_mode(tdev):
    """A prefill graph and a decode graph update the same cache: the decode graph must see the prefill's
    device values even though the host copy is behind."""
    opt = torch_ttnn.TorchTtnnOption(device=tdev)
    pre = torch.compile(_prefill, backend=torch_ttnn.backend, options=opt)
    step = torch.compile(_step, backend=torch_ttnn.backend, options=opt)
    cache, ref = torch.zeros(1, 2, 256, 32), torch.zeros(1, 2, 256, 32)
    k4 = torch.randn(1, 2, 4, 32)
    with torch.no_grad(), torch_ttnn.runtime.lazy_state():
        torch.testing.assert_close(pre(cache, k4), _prefill(ref, k4), rtol=0.02, atol=0.1)
        for t in range(4, 8):
            k = torch.randn(1, 2, 1, 32)
            torch.testing.assert_close(step(cache, k, torch.tensor([t])), _step(ref, k, torch.tensor([t])),
                                       rtol=0.02, atol=0.15)
        # a graph's first call (the precision search) reads its results back; the later steps leave the host
        # copy behind, as promised
        assert not cache[:, :, 5:8].any() and ref[:, :, 5:8].any()
    torch.testing.assert_close(cache, ref, rtol=0.01, atol=0.01)
