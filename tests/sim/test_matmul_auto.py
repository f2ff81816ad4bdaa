"""The program TT-NN generates for a matmul without a program_config (sim/ops/matmul_auto.py), and what it costs.

Expected values are derived by hand from matmul_program_config.cpp (create_simple_matmul_program_config)."""
import pytest

from torch_ttnn.matmul_rules import subblock
from torch_ttnn.sim.ops.matmul_auto import auto_config, cb_estimate
from torch_ttnn.sim.perf.estimate import estimate, tensor
from torch_ttnn.sim.types import (CoreCoord, DataType, MatmulMultiCoreReuseMultiCastProgramConfig,
                                  WormholeComputeKernelConfig, MathFidelity)

BF16 = DataType.BFLOAT16
WH_L1 = 1_463_968


def _auto(m, k, n, a="DRAM", b="DRAM", out="DRAM", batch=1, l1=WH_L1, fp32=False):
    shape = (batch, m, k) if batch > 1 else (m, k)
    return auto_config(shape, (k, n), BF16, BF16, a_buffer=a, b_buffer=b, out_buffer=out, out_dtype=BF16,
                       fp32_acc=fp32, bias_tile=0, grid=(8, 8), l1_space=l1)


def test_all_dram_square_product_runs_2d_over_the_whole_grid():
    p = _auto(1024, 1024, 1024)
    assert (p.kind, p.per_core_M, p.per_core_N, p.fuse_batch) == ("2d", 4, 4, False)
    assert p.cores(1, 32, 32, 64) == 64


def test_activation_in_l1_blocks_the_output_16x16_one_core_a_block():
    # BERT-Large at batch 8: [3072, 1024] x [1024, 1024] with the activation in L1 -> 6 x 2 blocks, 12 cores
    p = _auto(3072, 1024, 1024, a="L1")
    assert (p.kind, p.per_core_M, p.per_core_N) == ("2d", 16, 16)
    assert p.cores(1, 96, 32, 64) == 12


def test_less_free_l1_shrinks_the_blocks_until_they_overflow_the_grid_rows():
    # with half of L1 taken by buffers, 8x8 blocks: 12 block rows > 8 grid rows -> the program without reuse
    assert cb_estimate(16, 16, 2, BF16, BF16, 2048, 0, False) > 700_000 > cb_estimate(8, 8, 2, BF16, BF16, 2048, 0,
                                                                                     False)
    assert _auto(3072, 1024, 1024, a="L1", l1=700_000).kind == "multi_core"


def test_narrow_shapes_take_the_1d_programs():
    # decode: [32, 2048] x [2048, 1280], activation in L1 -> in0 multicast, one output tile column a core
    p = _auto(32, 2048, 1280, a="L1", out="L1")
    assert (p.kind, p.per_core_M, p.per_core_N) == ("1d_in0", 1, 1)
    # tall: [8192, 256] x [256, 256] (ratio 32) -> in1 multicast, the rows split over the grid
    p = _auto(8192, 256, 256)
    assert (p.kind, p.per_core_M, p.per_core_N) == ("1d_in1", 4, 8)


def test_a_batched_activation_is_looped_not_folded():
    # [8, 384, 1024] x [1024, 4096] all in DRAM: M is one batch's 384 rows (ratio 10.7: wide)
    p = _auto(384, 1024, 4096, batch=8)
    assert (p.kind, p.per_core_M, p.per_core_N, p.fuse_batch) == ("1d_in0", 12, 2, False)


def test_fp32_dst_limits_subblocks_to_four_tiles():
    assert subblock(8, 8, False) == (4, 2)
    assert subblock(8, 8, True) == (2, 2)
    assert subblock(3, 5, False) == (1, 5)


def _ckc():
    return WormholeComputeKernelConfig(math_fidelity=MathFidelity.HiFi2)


def test_cost_follows_the_generated_program_and_a_config_restores_the_grid():
    a_l1 = tensor((3072, 1024), buffer="L1")
    w = tensor((1024, 1024))
    out = [tensor((3072, 1024), buffer="L1")]
    auto = estimate("matmul", a_l1, w, outputs=out, compute_kernel_config=_ckc())
    assert auto.cores == 12 and "2d 16x16" in auto.note
    cfg = MatmulMultiCoreReuseMultiCastProgramConfig(
        compute_with_storage_grid_size=CoreCoord(8, 8), in0_block_w=4, out_subblock_h=2, out_subblock_w=2,
        per_core_M=12, per_core_N=4, transpose_mcast=False)
    tuned = estimate("matmul", a_l1, w, outputs=out, compute_kernel_config=_ckc(), program_config=cfg)
    assert tuned.cores == 64
    assert tuned.compute_cycles * 5 == pytest.approx(auto.compute_cycles, rel=0.1)   # 256 vs 48 tiles a core
    # all in DRAM: TT-NN's own 2D program already uses the whole grid
    dram = estimate("matmul", tensor((3072, 1024)), w, outputs=[tensor((3072, 1024))], compute_kernel_config=_ckc())
    assert dram.cores == 64


def test_the_program_without_reuse_reads_its_operands_again():
    a_l1 = tensor((3072, 1024), buffer="L1")
    w = tensor((1024, 1024))
    c = estimate("matmul", a_l1, w, outputs=[tensor((3072, 1024), buffer="L1")], l1_free=700_000,
                 compute_kernel_config=_ckc())
    assert "without operand reuse" in c.note
    # the weight is read again for each of the 96 output tile rows
    assert c.dram_bytes >= 95 * w.nbytes
