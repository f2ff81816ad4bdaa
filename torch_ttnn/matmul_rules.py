"""What TT-NN itself computes when it makes a matmul program config (tt-metal ttnn/cpp/ttnn/operations/matmul/
device/config/matmul_program_config.cpp and device/utilities/matmul_utilities.cpp): the output subblock it picks
for a per-core block and its estimate of the circular buffers a config needs. Pure arithmetic on tile counts and
tile sizes in bytes, shared by the simulator (the config TT-NN would generate, sim/ops/matmul_auto.py) and the
compiler (the configs it chooses, compiler/passes/matmul_config.py), which never import each other."""

# SUBBLOCK_HW_CHOICES in TT-NN's order: the first (h, w) that divides the block and fits in Dst wins
SUBBLOCKS = ((4, 2), (2, 4), (8, 1), (1, 8), (7, 1), (1, 7), (3, 2), (2, 3), (6, 1), (1, 6), (5, 1), (1, 5),
             (2, 2), (4, 1), (1, 4), (3, 1), (1, 3), (2, 1), (1, 2), (1, 1))
DST_TILES, DST_TILES_FP32 = 8, 4     # Dst holds 8 tiles, 4 with fp32_dest_acc_en


def subblock(pm: int, pn: int, fp32_acc: bool) -> tuple:
    """(out_subblock_h, out_subblock_w) of get_matmul_subblock_params for a pm x pn-tile block."""
    for h, w in SUBBLOCKS:
        if fp32_acc and h * w > DST_TILES_FP32:
            continue
        if pm % h == 0 and pn % w == 0:
            return h, w
    return 1, 1


def interm_tile_bytes(fp32_acc: bool, out_tile: int, bf16_tile: int, fp32_tile: int) -> int:
    """estimate_interm_tile_size: an fp32 tile with an fp32 Dst, else the larger of bfloat16's and the output's."""
    return fp32_tile if fp32_acc else max(bf16_tile, out_tile)


def cb_bytes(pm: int, pn: int, kw: int, a_tile: int, b_tile: int, interm_tile: int, bias_tile: int,
             transpose_a: bool) -> int:
    """get_estimated_size_of_cbs for an interleaved in0: in0 and in1 blocks double-buffered, the output block
    (in0's tile size), the intermediate block, a bias row; transposing in0 adds a copy of its block."""
    in0 = pm * kw * 2 * a_tile
    return (in0 + pn * kw * 2 * b_tile + pm * pn * a_tile + pm * pn * interm_tile + pn * bias_tile
            + (in0 if transpose_a else 0))
