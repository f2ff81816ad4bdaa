"""Every public op of torch_ttnn.sim exists in real ttnn 0.81.1 with the same parameters (names, order,
kinds, defaults). The manifest was read off the real wheel; see tests/data."""
import pytest

import torch_ttnn.sim as ttnn
from torch_ttnn.sim._op import OPS

from ._api import manifest, signature_mismatch

# Functions (not ops) of real ttnn that the simulator offers, checked the same way.
FUNCTIONS = ["close_device", "synchronize_device", "init_device_compute_kernel_config", "get_golden_function",
             "tile_size", "element_size", "is_tensor_storage_on_device", "has_tile_padding", "get_arch_name",
             "begin_trace_capture", "end_trace_capture", "execute_trace", "release_trace",
             "is_trace_capture_active"]


@pytest.mark.parametrize("name", sorted(OPS))
def test_op_signature_matches_real(name):
    problem = signature_mismatch(name, OPS[name].fn)
    assert problem is None, problem


@pytest.mark.parametrize("name", FUNCTIONS)
def test_function_signature_matches_real(name):
    problem = signature_mismatch(name, getattr(ttnn, name))
    assert problem is None, problem


def test_open_device_parameters_are_the_real_ones():
    import inspect
    real = [p["name"] for p in manifest()["functions"]["open_device"]["overloads"][0]["params"]]
    mine = list(inspect.signature(ttnn.open_device).parameters)
    assert mine[: len(real)] == real
    # simulator-only selectors come after the real parameters and have defaults
    for extra in mine[len(real):]:
        assert inspect.signature(ttnn.open_device).parameters[extra].default is not inspect.Parameter.empty


def test_no_public_name_that_real_ttnn_lacks():
    m = manifest()
    real = set(m["operations"]) | set(m["functions"]) | set(m["types"]) | set(m["constants"])
    real |= {"bfloat16", "float32", "uint32", "bfloat8_b", "bfloat4_b", "uint8", "uint16", "int32",
             "ROW_MAJOR_LAYOUT", "TILE_LAYOUT", "TILE_SIZE", "transformer", "experimental", "Tensor",
             "BlackholeComputeKernelConfig"}
    public = {n for n in dir(ttnn) if not n.startswith("_")}
    # submodules of the package itself (implementation modules) are not API names
    import types
    modules = {n for n in public if isinstance(getattr(ttnn, n), types.ModuleType)} - {"transformer", "experimental"}
    # exceptions the simulator raises are importable for tests but are not part of the ttnn namespace contract
    sim_only = {"Device", "OutOfMemoryError", "TTNNError", "OPS"}
    extra = public - real - modules - sim_only
    assert not extra, f"torch_ttnn.sim exports names that real ttnn 0.81.1 lacks: {sorted(extra)}"
    for sub in ("transformer", "experimental"):
        names = {n for n in dir(getattr(ttnn, sub)) if not n.startswith("_")}
        assert names <= {k.split(".", 1)[1] for k in m["operations"] if k.startswith(sub + ".")}
