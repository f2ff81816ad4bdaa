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
             "is_trace_capture_active", "close_mesh_device", "get_device_tensors", "get_num_devices",
             "get_device_ids", "create_mesh_mapper", "create_mesh_composer", "replicate_tensor_to_mesh_mapper",
             "shard_tensor_to_mesh_mapper", "concat_mesh_to_tensor_composer", "distribute_tensor",
             "aggregate_tensor", "combine_device_tensors", "ReplicateTensorToMesh", "ShardTensorToMesh",
             "ConcatMeshToTensor", "ShardTensor2dMesh", "ConcatMesh2dToTensor", "CreateDevice", "record_event",
             "wait_for_event", "event_synchronize"]


@pytest.mark.parametrize("name", sorted(OPS))
def test_op_signature_matches_real(name):
    problem = signature_mismatch(name, OPS[name].fn)
    assert problem is None, problem


@pytest.mark.parametrize("name", FUNCTIONS)
def test_function_signature_matches_real(name):
    problem = signature_mismatch(name, getattr(ttnn, name))
    assert problem is None, problem


@pytest.mark.parametrize("name", ["open_device", "open_mesh_device"])
def test_open_device_parameters_are_the_real_ones(name):
    import inspect
    real = [p["name"] for p in manifest()["functions"][name]["overloads"][0]["params"]]
    params = inspect.signature(getattr(ttnn, name)).parameters
    assert list(params)[: len(real)] == real
    # simulator-only selectors come after the real parameters, keyword-only, with defaults
    for extra in list(params)[len(real):]:
        assert params[extra].default is not inspect.Parameter.empty


def test_no_public_name_that_real_ttnn_lacks():
    m = manifest()
    real = set(m["operations"]) | set(m["functions"]) | set(m["types"]) | set(m["constants"])
    real |= {"bfloat16", "float32", "uint32", "bfloat8_b", "bfloat4_b", "uint8", "uint16", "int32",
             "ROW_MAJOR_LAYOUT", "TILE_LAYOUT", "TILE_SIZE", "transformer", "experimental", "Tensor"}
    public = {n for n in dir(ttnn) if not n.startswith("_")}
    # submodules of the package itself (implementation modules) are not API names
    import types
    modules = {n for n in public if isinstance(getattr(ttnn, n), types.ModuleType)} - {"transformer", "experimental"}
    extra = public - real - modules
    assert not extra, f"torch_ttnn.sim exports names that real ttnn 0.81.1 lacks: {sorted(extra)}"
    for sub in ("transformer", "experimental"):
        names = {n for n in dir(getattr(ttnn, sub)) if not n.startswith("_")}
        assert names <= {k.split(".", 1)[1] for k in m["operations"] if k.startswith(sub + ".")}


# Types whose constructors user code calls: each must accept one real overload's parameters (names, required).
CONSTRUCTED = ["CoreRangeSet", "CoreCoord", "ShardSpec", "Tile", "UnaryWithParam", "Conv2dSliceConfig",
               "Op2DSliceConfig", "PlacementShard", "MatmulMultiCoreReuseMultiCastProgramConfig",
               "MatmulMultiCoreReuseMultiCast1DProgramConfig"]


@pytest.mark.parametrize("name", CONSTRUCTED)
def test_type_constructor_matches_a_real_overload(name):
    import inspect
    real = manifest()["types"][name]["constructors"]
    sig = inspect.signature(getattr(ttnn, name).__init__)
    mine = [(p.name, p.default is inspect.Parameter.empty) for p in list(sig.parameters.values())[1:]
            if p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)]
    overloads = [[(p["name"], bool(p.get("required"))) for p in ov["params"]] for ov in real]

    def fits(ov):
        # same names (a *params tail stands for longer positional overloads, UnaryWithParam(op, p1, p2, ...));
        # a parameter required here is required there; one optional here but required there is absent from
        # a shorter overload (CoreCoord(x, y) | CoreCoord((x, y)))
        if [n for n, _ in ov[:len(mine)]] != [n for n, _ in mine] or len(ov) < len(mine):
            return False
        for i, ((_, req), (_, real_req)) in enumerate(zip(mine, ov)):
            if req and not real_req:
                return False
            if not req and real_req and not any(len(o) <= i for o in overloads):
                return False
        return True

    assert any(fits(ov) for ov in overloads), f"{name}{sig}: real overloads {overloads}"


def test_constructors_take_the_real_arguments():
    r = ttnn.CoreRange(ttnn.CoreCoord(0, 0), ttnn.CoreCoord((1, 1)))
    s = ttnn.CoreRangeSet(core_ranges={r})
    assert s.num_cores() == 4
    spec = ttnn.ShardSpec(s, [32, 64], ttnn.ShardOrientation.ROW_MAJOR)
    assert spec.num_cores() == 4
    with pytest.raises(TypeError):
        ttnn.ShardSpec(s, [32, 64])                 # the orientation is required, as in ttnn 0.81.1
    with pytest.raises(TypeError):
        ttnn.Tile()                                 # so is the tile shape


def test_tensor_members_are_the_real_ones():
    """ttnn.Tensor offers every member of the real class (the few not simulated raise NotImplementedError with
    the reason, tensor.NOT_SIMULATED) and none that the real class lacks."""
    from torch_ttnn.sim.tensor import NOT_SIMULATED
    real = set(manifest()["types"]["Tensor"]["members"])
    mine = {n for n in dir(ttnn.Tensor) if not n.startswith("_")}
    assert mine - real == set(), f"members real ttnn.Tensor lacks: {sorted(mine - real)}"
    assert real - mine == set(), f"real members missing: {sorted(real - mine)}"
    assert set(NOT_SIMULATED) <= real


def test_types_submodule_holds_what_real_keeps_there():
    assert ttnn.types.BlackholeComputeKernelConfig(math_fidelity=ttnn.MathFidelity.HiFi2).math_fidelity \
        == ttnn.MathFidelity.HiFi2
    assert not hasattr(ttnn, "BlackholeComputeKernelConfig")
