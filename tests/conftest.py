import os
import pathlib

import pytest
import torch

os.environ.setdefault("HF_HUB_OFFLINE", "1")
DATA = pathlib.Path(__file__).parent / "data"
os.environ.setdefault("TT_METAL_MOCK_CLUSTER_DESC_PATH", str(DATA / "wormhole_N150.yaml"))
os.environ.setdefault("TT_SIM_PERF_STRICT", "1")   # a launch without a working cost rule fails the test
os.environ.setdefault("TORCH_TTNN_STRICT_PASSES", "1")   # a fusion or canonicalisation that fails raises
# every test runs the precision search itself (tests change the search's inputs in ways its cache key does not
# see, e.g. a monkeypatched pass); tests/compiler/test_search_cache.py turns the cache on where it is tested
os.environ["TORCH_TTNN_SEARCH_CACHE"] = "0"


@pytest.fixture
def device():
    import torch_ttnn.sim as ttnn
    dev = ttnn.open_device(device_id=0, l1_small_size=16384)
    yield dev
    ttnn.close_device(dev)


@pytest.fixture
def tdev():
    """A simulated device with a trace region (1 MiB a bank): compiled graphs are captured into traces."""
    import torch_ttnn.sim as ttnn
    dev = ttnn.open_device(device_id=1, l1_small_size=16384, trace_region_size=1 << 20)
    yield dev
    ttnn.close_device(dev)


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)
