"""Members of ttnn.Tensor beyond shape/dtype/layout: padded contents, values, identity and buffer queries.

Host behaviour is compared with the real ttnn 0.81.1 wheel bit for bit (TT_METAL_MOCK_CLUSTER_DESC_PATH is set in
tests/conftest.py); device-only members are checked against the simulated device's own allocator.
"""
import pytest
import torch

import torch_ttnn.sim as sim
from torch_ttnn.sim.errors import TTNNError
from torch_ttnn.sim.tensor import NOT_SIMULATED

from .test_oracle_conversions import assert_same_torch

real = pytest.importorskip("ttnn")

SHAPES = [(3, 5), (2, 17), (40, 33), (2, 3, 50), (7,), (16, 16)]
PADS = [0.0, 1.0, 100.0, 0.3, -7.5]
# dtype chains: from_torch to the first, then host typecasts through the rest. Block floats share their last
# blocks of 16 between values and padding, which the later conversions must carry block by block.
CHAINS = [("bfloat16",), ("float32",), ("bfloat8_b",), ("bfloat4_b",), ("bfloat8_b", "bfloat16"),
          ("bfloat8_b", "float32"), ("bfloat8_b", "bfloat4_b"), ("bfloat16", "bfloat8_b"),
          ("float32", "bfloat4_b"), ("bfloat4_b", "float32", "bfloat8_b"), ("bfloat8_b", "float32", "bfloat16")]


@pytest.mark.oracle
@pytest.mark.parametrize("chain", CHAINS, ids="-".join)
def test_padded_contents_match_the_wheel(chain):
    g = torch.Generator().manual_seed(len(chain) * 7 + len(chain[0]))
    for shape in SHAPES:
        for pad in PADS:
            x = torch.randn(*shape, generator=g) * 4
            r = real.from_torch(x, dtype=getattr(real, chain[0]), layout=real.TILE_LAYOUT, pad_value=pad)
            s = sim.from_torch(x, dtype=getattr(sim, chain[0]), layout=sim.TILE_LAYOUT, pad_value=pad)
            for d in chain[1:]:
                r, s = real.typecast(r, getattr(real, d)), sim.typecast(s, getattr(sim, d))
            what = f"{chain} {shape} pad {pad}"
            assert_same_torch(r.to_torch_with_padded_shape(), s.to_torch_with_padded_shape(), what)
            assert_same_torch(r.to_torch(), s.to_torch(), what)


@pytest.mark.oracle
@pytest.mark.parametrize("dtype", ["bfloat16", "float32", "int32", "uint16", "uint32", "bfloat8_b"])
def test_values_as_python_and_numpy_match_the_wheel(dtype):
    x = torch.tensor([[1.5, -2.25, 3.0, 70000.0]])
    if dtype in ("uint16", "uint32"):
        x = x.abs()
    layout = "TILE_LAYOUT" if dtype == "bfloat8_b" else "ROW_MAJOR_LAYOUT"
    r = real.from_torch(x, dtype=getattr(real, dtype), layout=getattr(real, layout))
    s = sim.from_torch(x, dtype=getattr(sim, dtype), layout=getattr(sim, layout))
    assert s.to_list() == r.to_list()
    rn, sn = r.to_numpy(), s.to_numpy()
    if dtype != "bfloat16":              # the wheel's bf16 numpy array is an opaque nanobind object
        assert sn.dtype == rn.dtype and (sn == rn).all()
    one_r = real.from_torch(torch.tensor([2.75]), dtype=getattr(real, dtype), layout=getattr(real, layout))
    one_s = sim.from_torch(torch.tensor([2.75]), dtype=getattr(sim, dtype), layout=getattr(sim, layout))
    assert one_s.item() == one_r.item()
    with pytest.raises(TTNNError, match="exactly one element, but got 4"):
        s.item()


@pytest.mark.oracle
def test_tile_tensor_id_and_reshape_match_the_wheel():
    for lib in (real, sim):
        t = lib.from_torch(torch.arange(6.0).reshape(2, 3), dtype=lib.bfloat16, layout=lib.TILE_LAYOUT)
        assert list(t.tile.tile_shape) == [32, 32] and list(t.get_tile().tile_shape) == [32, 32]
        assert lib.Tensor(t).tensor_id == t.tensor_id
        other = lib.from_torch(torch.zeros(2), dtype=lib.bfloat16)
        assert other.tensor_id != t.tensor_id
        assert list(t.reshape([3, 2]).shape) == [3, 2] and list(t.reshape(1, 1, 3, 2).shape) == [1, 1, 3, 2]
        # a host TILE tensor keeps its tiles: the new logical shape is read off the same buffer
        assert t.reshape([3, 2]).to_torch().tolist() == [[0, 1], [3, 4], [0, 0]]
        rm = lib.from_torch(torch.arange(6.0).reshape(2, 3), dtype=lib.bfloat16)
        assert rm.reshape([3, 2]).to_torch().tolist() == [[0, 1], [2, 3], [4, 5]]


def test_buffer_queries_on_the_device(device):
    t = sim.from_torch(torch.randn(40, 70), dtype=sim.bfloat16, layout=sim.TILE_LAYOUT, device=device)
    assert t.buffer_num_pages() == 2 * 3 and t.buffer_page_size() == 2048
    assert t.buffer_aligned_page_size() == 2048
    assert t.buffer_address() == t._alloc.address
    rm = sim.from_torch(torch.randn(5, 7), dtype=sim.bfloat16, layout=sim.ROW_MAJOR_LAYOUT, device=device)
    assert rm.buffer_num_pages() == 5 and rm.buffer_page_size() == 14
    assert rm.buffer_aligned_page_size() == 32                     # Wormhole DRAM alignment
    l1 = sim.from_torch(torch.randn(5, 7), dtype=sim.bfloat16, layout=sim.ROW_MAJOR_LAYOUT, device=device,
                        memory_config=sim.L1_MEMORY_CONFIG)
    assert l1.buffer_aligned_page_size() == 16                     # L1 alignment
    assert sim.Tensor(t).buffer_unique_id() == t.buffer_unique_id() != l1.buffer_unique_id()
    assert [tuple(c) for c in t.device_coords()] == [(0, 0)] and t.devices() == [device]
    assert not t.is_per_core_allocated() and not t.is_range_lockstep_allocated()
    with pytest.raises(TTNNError, match="not allocated per core"):
        t.experimental_per_core_buffer_address(sim.MeshCoordinate(0, 0), sim.CoreCoord(0, 0))
    sim.deallocate(l1)
    assert l1.buffer_unique_id() is None
    host = t.cpu()
    assert host.buffer_unique_id() is None and host.devices() == []
    with pytest.raises(TTNNError, match="StorageType::HOST"):
        host.buffer_address()
    with pytest.raises(TTNNError, match="must be on the host"):
        t.to_torch_with_padded_shape()
    one = sim.from_torch(torch.tensor([[4.5]]), dtype=sim.bfloat16, layout=sim.TILE_LAYOUT, device=device)
    assert one.item() == 4.5                                       # item() reads back from the device


@pytest.mark.parametrize("name", sorted(NOT_SIMULATED))
def test_members_not_simulated_say_why(name):
    t = sim.from_torch(torch.zeros(2, 3), dtype=sim.bfloat16)
    with pytest.raises(NotImplementedError, match=f"ttnn.Tensor.{name} is not simulated: "):
        member = getattr(t, name)
        member(0) if callable(member) else None


@pytest.mark.parametrize("dtype,layout", [("float32", "ROW_MAJOR_LAYOUT"), ("float32", "TILE_LAYOUT"),
                                          ("bfloat16", "TILE_LAYOUT")])
def test_host_tensor_owns_its_values(dtype, layout):
    """from_torch copies: writing to the torch tensor afterwards does not change the ttnn tensor."""
    x = torch.arange(64.0).reshape(2, 32)
    t = sim.from_torch(x, dtype=getattr(sim, dtype), layout=getattr(sim, layout))
    x.mul_(0)
    assert torch.equal(sim.to_torch(t).float(), torch.arange(64.0).reshape(2, 32))
