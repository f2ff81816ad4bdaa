"""Simulated mesh devices: distribution, per-chip ops, collectives against torch, refusals, modelled time."""
import pytest
import torch

import torch_ttnn.sim as ttnn
from torch_ttnn.sim.ops._common import TTNNError

SYSTEMS = {(1, 2): "n300", (2, 4): "t3000", (8, 4): "galaxy", (1, 4): "p150x4"}


@pytest.fixture(params=sorted(SYSTEMS), ids=lambda s: f"{s[0]}x{s[1]}")
def mesh(request):
    m = ttnn.open_mesh_device(ttnn.MeshShape(*request.param), system=SYSTEMS[request.param])
    yield m
    ttnn.close_mesh_device(m)


@pytest.fixture
def t3k():
    m = ttnn.open_mesh_device(ttnn.MeshShape(2, 4), system="t3000")
    yield m
    ttnn.close_mesh_device(m)


def _bf16(x):
    return x.bfloat16().float()


def _shards(t):
    return [ttnn.to_torch(s).float() for s in ttnn.get_device_tensors(t)]


def test_mappers_and_composers_round_trip(mesh):
    R, C = mesh.shape
    n = R * C
    x = torch.randn(2 * n, 4 * R, 32 * C)
    for layout in (ttnn.TILE_LAYOUT, ttnn.ROW_MAJOR_LAYOUT):
        t = ttnn.from_torch(x, dtype=ttnn.bfloat16, layout=layout, device=mesh,
                            mesh_mapper=ttnn.ShardTensorToMesh(mesh, dim=0))
        assert list(t.shape) == [2, 4 * R, 32 * C] and len(ttnn.get_device_tensors(t)) == n
        assert torch.equal(ttnn.to_torch(t, mesh_composer=ttnn.ConcatMeshToTensor(mesh, dim=0)), _bf16(x))
    # 2-D: rows of the mesh split dim 1, columns dim 2; each chip holds its block
    t2 = ttnn.from_torch(x, dtype=ttnn.bfloat16, layout=ttnn.TILE_LAYOUT, device=mesh,
                         mesh_mapper=ttnn.ShardTensor2dMesh(mesh, mesh_shape=(R, C), dims=(1, 2)))
    assert list(t2.shape) == [2 * n, 4, 32]
    blocks = _shards(t2)
    assert torch.equal(blocks[R * C - 1], _bf16(x)[:, -4:, -32:])
    back = ttnn.to_torch(t2, mesh_composer=ttnn.ConcatMesh2dToTensor(mesh, mesh_shape=(R, C), dims=(1, 2)))
    assert torch.equal(back, _bf16(x))
    # replicated: every chip holds the whole tensor; a column-replicated 2-D placement as well
    r = ttnn.from_torch(x, dtype=ttnn.bfloat16, layout=ttnn.TILE_LAYOUT, device=mesh,
                        mesh_mapper=ttnn.ReplicateTensorToMesh(mesh))
    assert all(torch.equal(s, _bf16(x)) for s in _shards(r))
    cfg = ttnn.MeshMapperConfig([ttnn.PlacementShard(1), ttnn.PlacementReplicate()])
    h = ttnn.from_torch(x, dtype=ttnn.float32, mesh_mapper=ttnn.create_mesh_mapper(mesh, cfg))
    assert h.storage_type() == ttnn.StorageType.HOST
    assert all(torch.equal(s, x.chunk(R, 1)[i // C]) for i, s in enumerate(_shards(h)))


def test_every_op_runs_on_every_chip_with_its_own_memory(t3k):
    x = torch.randn(8, 64, 96)
    w = torch.randn(96, 128)
    t = ttnn.from_torch(x, dtype=ttnn.bfloat16, layout=ttnn.TILE_LAYOUT, device=t3k,
                        mesh_mapper=ttnn.ShardTensorToMesh(t3k, dim=0))
    wt = ttnn.from_torch(w, dtype=ttnn.bfloat16, layout=ttnn.TILE_LAYOUT, device=t3k)   # replicated
    y = ttnn.relu(ttnn.matmul(t, wt))
    got = ttnn.to_torch(y, mesh_composer=ttnn.ConcatMeshToTensor(t3k, dim=0))
    ref = torch.relu(_bf16(x) @ _bf16(w))
    assert torch.nn.functional.cosine_similarity(got.flatten(), ref.flatten(), dim=0) > 0.999
    for chip in t3k.chips:
        assert chip.counters.op_launches == {"matmul": 1, "relu": 1}
        assert chip.counters.to_device == 2
    per_chip = [c.memory_stats()["DRAM"]["current_bytes"] for c in t3k.chips]
    assert len(set(per_chip)) == 1 and per_chip[0] > 0
    ttnn.deallocate(y)
    assert all(c.memory_stats()["DRAM"]["current_bytes"] < per_chip[0] for c in t3k.chips)


def _mesh_tensor(mesh, shape, dtype=ttnn.bfloat16, layout=ttnn.TILE_LAYOUT):
    n = mesh.get_num_devices()
    x = torch.randn(n * shape[0], *shape[1:])
    return x, ttnn.from_torch(x, dtype=dtype, layout=layout, device=mesh,
                              mesh_mapper=ttnn.ShardTensorToMesh(mesh, dim=0))


@pytest.mark.parametrize("cluster_axis", [None, 0, 1])
def test_collectives_against_torch(mesh, cluster_axis):
    R, C = mesh.shape
    x, t = _mesh_tensor(mesh, (1, 64, 64))
    shards = [_bf16(s) for s in x.chunk(R * C, 0)]
    groups = mesh.groups(cluster_axis)
    g = _shards(ttnn.all_gather(t, 3 - 1, cluster_axis=cluster_axis))
    s = _shards(ttnn.all_reduce(t, cluster_axis=cluster_axis))
    n = len(groups[0])
    rs = _shards(ttnn.reduce_scatter(t, 2, cluster_axis=cluster_axis)) if 64 % (32 * n) == 0 or n == 1 else None
    for group in groups:
        gathered = torch.cat([shards[i] for i in group], dim=2)
        total = sum(shards[i] for i in group)
        for k, i in enumerate(group):
            assert torch.equal(g[i], gathered)
            # partial sums rounded to bf16 (8 significant bits) at each of the n-1 additions
            tol = (n - 1) * 2.0 ** -8 * sum(shards[j].abs() for j in group) + 1e-6
            assert ((s[i] - total).abs() <= tol).all()
            if rs is not None:
                assert ((rs[i] - total.chunk(n, 2)[k]).abs() <= tol.chunk(n, 2)[k]).all()


def test_all_broadcast_point_to_point_and_partition(t3k):
    x, t = _mesh_tensor(t3k, (1, 32, 64))
    shards = [_bf16(s) for s in x.chunk(8, 0)]
    outs = ttnn.all_broadcast(t, cluster_axis=1)
    assert len(outs) == 4
    for k, o in enumerate(outs):
        for i, v in enumerate(_shards(o)):
            assert torch.equal(v, shards[(i // 4) * 4 + k])
    p = _shards(ttnn.point_to_point(t, ttnn.MeshCoordinate(0, 1), ttnn.MeshCoordinate(1, 3)))
    assert torch.equal(p[7], shards[1]) and torch.equal(p[0], shards[0])
    part = _shards(ttnn.mesh_partition(t, 2, cluster_axis=0))
    assert torch.equal(part[5], shards[5][..., 32:]) and torch.equal(part[1], shards[1][..., :32])


def test_refusals(t3k):
    x, t = _mesh_tensor(t3k, (1, 32, 100))
    with pytest.raises(TTNNError, match="does not split evenly"):
        ttnn.reduce_scatter(t, 2)                        # 100 over 8 chips
    with pytest.raises(TTNNError, match="line"):
        ttnn.all_broadcast(t)                            # 2x4 without cluster_axis
    with pytest.raises(TTNNError, match="dtype UINT32"):
        ttnn.all_reduce(ttnn.typecast(t, ttnn.uint32))
    with pytest.raises(TTNNError, match="mesh_composer"):
        ttnn.to_torch(t)
    with pytest.raises(ValueError, match="does not split evenly"):
        ttnn.from_torch(torch.randn(6, 32), mesh_mapper=ttnn.ShardTensorToMesh(t3k, dim=0))
    dev = ttnn.open_device(device_id=0)
    single = ttnn.from_torch(torch.randn(1, 32, 100), dtype=ttnn.bfloat16, layout=ttnn.TILE_LAYOUT, device=dev)
    with pytest.raises(TTNNError, match="mesh device"):
        ttnn.all_gather(single, 0)
    with pytest.raises(ValueError, match="single device"):
        ttnn.add(t, single)
    ttnn.close_device(dev)
    with pytest.raises(ValueError, match="does not fit the simulated system"):
        ttnn.open_mesh_device(ttnn.MeshShape(4, 4), system="t3000")
    with pytest.raises(NotImplementedError, match="mesh"):
        ttnn.begin_trace_capture(t3k)


def test_collective_time_follows_the_published_fits(t3k):
    """[CCL] line all_gather over the 4 chips of a row: 4.47 + 1.91 x 3 us + 3 x bytes / 11.8 GB/s; the chips
    wait for each other at the collective."""
    _, t = _mesh_tensor(t3k, (1, 1024, 1024))           # 2 MiB of bf16 tiles a chip
    for c in t3k.chips:
        c.profiler.reset()
    t3k.chips[0].profiler.device_us = 100.0              # one chip is behind
    ttnn.all_gather(t, 2, cluster_axis=1)
    nbytes = 1024 * 1024 * 2
    expect = 4.47 + 1.91 * 3 + 3 * nbytes / 11.8e3
    for c in t3k.chips:
        assert c.profiler.totals.by_op["all_gather"] == pytest.approx(expect)
        assert c.profiler.device_us >= 100.0 + expect
    ttnn.all_reduce(t, cluster_axis=0)                   # 2 chips a column
    expect_ar = 9.07 + 5.82 * 1 + 2 * 1 / 2 * nbytes / 10.9e3
    assert t3k.chips[3].profiler.totals.by_op["all_reduce"] == pytest.approx(expect_ar)


def test_submeshes_share_the_chips():
    with ttnn.create_mesh_device(ttnn.MeshShape(2, 4), system="t3000") as m:
        subs = m.create_submeshes(ttnn.MeshShape(1, 2))
        assert len(subs) == 4 and subs[3].chips == m.chips[6:8]
        x = ttnn.from_torch(torch.ones(2, 32, 32), dtype=ttnn.bfloat16, layout=ttnn.TILE_LAYOUT, device=subs[1],
                            mesh_mapper=ttnn.ShardTensorToMesh(subs[1], dim=0))
        ttnn.relu(x)
        assert m.chips[2].counters.op_launches["relu"] == 1 and m.chips[0].counters.op_launches["relu"] == 0


def test_one_host_drives_the_mesh(t3k):
    """A launch is enqueued once for all chips (one dispatch on the host clock); uploads to the two chips of an
    n300 card share its PCIe link (their times add up), the four cards of a T3000 work in parallel."""
    for c in t3k.chips:
        c.profiler.reset()
    r = t3k.chips[0].profiler.rates
    x = torch.randn(8, 64, 64)
    t = ttnn.from_torch(x, dtype=ttnn.bfloat16, layout=ttnn.TILE_LAYOUT, device=t3k,
                        mesh_mapper=ttnn.ShardTensorToMesh(t3k, dim=0))
    one = r.dispatch_us + 64 * 64 * 2 / (r.h2d_gb_s * 1e3)           # one 8 KiB shard over PCIe
    assert all(c.profiler.host_us == pytest.approx(2 * one) for c in t3k.chips)
    before = t3k.chips[0].profiler.host_us
    ttnn.relu(t)
    assert all(c.profiler.host_us == pytest.approx(before + r.dispatch_us) for c in t3k.chips)
    assert all(c.counters.op_launches["relu"] == 1 for c in t3k.chips)
