"""quiet_collector: no full collection during a compilation (the oldest generation's threshold raised), the
young generations still collected, the thresholds restored after (nested entries change them once)."""
import gc
import weakref

import pytest
import torch

import torch_ttnn
from torch_ttnn.compiler import collector
from torch_ttnn.compiler.collector import quiet_collector


def test_raises_the_full_collection_threshold_and_restores_it():
    before = gc.get_threshold()
    with quiet_collector():
        inside = gc.get_threshold()
        assert inside[:2] == before[:2] and inside[2] > 1_000_000
        with quiet_collector():
            assert gc.get_threshold() == inside
        assert gc.get_threshold() == inside         # the inner exit restores nothing
    assert gc.get_threshold() == before


def test_no_full_collection_inside_young_cycles_still_collected():
    class Node:
        pass

    full = []

    def watch(phase, info):
        if phase == "start" and info["generation"] == 2:
            full.append(info)
    gc.callbacks.append(watch)
    try:
        with quiet_collector():
            refs, kept = [], []
            # survivors promoted to the oldest generation: more than a quarter of the process's objects calls
            # a full collection (CPython's rule)
            survivors = len(gc.get_objects()) // 2 + 100_000
            for i in range(survivors):
                a, b = Node(), Node()
                a.other, b.other = b, a
                refs.append(weakref.ref(a)) if len(refs) < 10 else None
                kept.append([i])
            gc.collect(1)
            assert all(r() is None for r in refs)   # dropped cycles went with the young generations
    finally:
        gc.callbacks.remove(watch)
    assert not full


def test_restores_on_error():
    before = gc.get_threshold()
    with pytest.raises(ValueError):
        with quiet_collector():
            raise ValueError("boom")
    assert gc.get_threshold() == before and collector._depth == 0


def test_a_disabled_collector_is_left_alone():
    before = gc.get_threshold()
    gc.disable()
    try:
        with quiet_collector():
            assert gc.get_threshold() == before
    finally:
        gc.enable()


def test_compile_and_first_call_run_quiet(device):
    m = torch.nn.Sequential(torch.nn.Linear(32, 32), torch.nn.ReLU()).eval()
    before = gc.get_threshold()
    seen = []
    orig = collector.gc.set_threshold

    def record(*t):
        seen.append(t)
        orig(*t)
    collector.gc.set_threshold = record
    try:
        cm = torch.compile(m, backend=torch_ttnn.backend, options=torch_ttnn.TorchTtnnOption(device=device))
        with torch.no_grad():
            cm(torch.randn(4, 32))
    finally:
        collector.gc.set_threshold = orig
    assert any(t[2] == collector._NO_FULL for t in seen), "the compilation ran with full collections"
    assert gc.get_threshold() == before
