"""Circular buffers: L1 buffers are allocated from the top of a core's L1, a program's circular buffers from the
bottom, and a launch whose circular buffers (and the temporary buffers its op makes) reach the lowest L1 buffer
is refused, as TT-Metal refuses it."""
import pytest
import torch

import torch_ttnn.sim as ttnn
from torch_ttnn import conv_rules
from torch_ttnn.sim.errors import OutOfMemoryError
from torch_ttnn.sim.perf import circular_buffers
from torch_ttnn.sim.perf.cost import CB_RULES, RULES


@pytest.fixture
def dev():
    d = ttnn.open_device(device_id=0, l1_small_size=32768)   # L1_SMALL: a convolution's reader indices
    yield d
    ttnn.close_device(d)


def _l1(dev, shape, **kw):
    return ttnn.from_torch(torch.randn(shape), dtype=ttnn.bfloat16, layout=ttnn.TILE_LAYOUT, device=dev,
                           memory_config=ttnn.L1_MEMORY_CONFIG, **kw)


def _fill_l1_leaving(dev, free: int):
    """An L1 tensor that leaves `free` bytes (about) below it on every core."""
    l1 = dev.memory[ttnn.BufferType.L1]
    tiles_per_bank = (l1.cb_space() - free) // 2048
    return _l1(dev, (1, 1, 32 * l1.num_banks, 32 * tiles_per_bank))


def test_l1_buffers_grow_down_from_the_top_and_dram_up_from_the_bottom(dev):
    l1 = dev.memory[ttnn.BufferType.L1]
    assert l1.cb_space() == l1.bank_size
    a = _l1(dev, (1, 1, 64 * 32, 64))             # 128 tiles over 64 banks: 2 tiles (4 KiB) a bank
    assert a.buffer_address() + 4096 == l1.bank_size
    b = _l1(dev, (1, 1, 64 * 32, 32))
    assert b.buffer_address() + 2048 == a.buffer_address()
    assert l1.cb_space() == b.buffer_address()
    d = ttnn.from_torch(torch.randn(64, 64), dtype=ttnn.bfloat16, layout=ttnn.TILE_LAYOUT, device=dev)
    assert d.buffer_address() == 0
    ttnn.deallocate(b)
    assert l1.cb_space() == a.buffer_address()
    c = _l1(dev, (1, 1, 64 * 32, 32))               # the freed block is reused, highest first
    assert c.buffer_address() + 2048 == a.buffer_address()


def test_a_launch_whose_circular_buffers_reach_an_l1_buffer_is_refused(dev):
    x = _l1(dev, (1, 1, 64 * 32, 1024))
    blocker = _fill_l1_leaving(dev, 24 * 1024)
    with pytest.raises(OutOfMemoryError, match=r"ttnn.layer_norm: statically allocated circular buffers clash"):
        ttnn.layer_norm(x, memory_config=ttnn.DRAM_MEMORY_CONFIG)
    ttnn.deallocate(blocker)
    y = ttnn.layer_norm(x, memory_config=ttnn.DRAM_MEMORY_CONFIG)
    ref = torch.nn.functional.layer_norm(ttnn.to_torch(x).float(), (1024,))
    assert torch.allclose(ttnn.to_torch(y).float(), ref, atol=0.1)


def test_streaming_ops_need_a_few_pages_and_fit_beside_a_nearly_full_l1(dev):
    x = _l1(dev, (1, 1, 64 * 32, 256))
    _fill_l1_leaving(dev, 20 * 1024)
    # two double-buffered tile CBs per input and output: 6 tiles = 12 KiB
    y = ttnn.add(x, x, memory_config=ttnn.DRAM_MEMORY_CONFIG)
    assert torch.equal(ttnn.to_torch(y), ttnn.to_torch(x) * 2)


def _conv(dev, x, w, *, cin, cout, hw, act_block_h=0):
    cfg = ttnn.Conv2dConfig(act_block_h_override=act_block_h) if act_block_h else None
    return ttnn.conv2d(input_tensor=x, weight_tensor=w, device=dev, in_channels=cin, out_channels=cout,
                       batch_size=1, input_height=hw, input_width=hw, kernel_size=(3, 3), stride=(1, 1),
                       padding=(1, 1), conv_config=cfg, memory_config=ttnn.DRAM_MEMORY_CONFIG)


def test_a_convolution_whose_whole_activation_block_does_not_fit_needs_a_shorter_block(dev):
    """TT-NN's default activation block is a core's whole share of output rows: 224x224 pixels of 128 channels
    over 64 cores give 25 tile rows by 12 tiles of kernel-row channels, two such blocks (activation and its
    tilized copy) of 600 KiB each. act_block_h_override=5 tiles makes them 120 KiB."""
    cin, cout, hw = 128, 64, 224
    x = ttnn.from_torch(torch.randn(1, 1, hw * hw, cin), dtype=ttnn.bfloat16, layout=ttnn.TILE_LAYOUT,
                        device=dev, memory_config=ttnn.L1_MEMORY_CONFIG)
    w = ttnn.from_torch(torch.randn(cout, cin, 3, 3) * 0.05, dtype=ttnn.bfloat16)
    with pytest.raises(OutOfMemoryError, match=r"ttnn.conv2d: statically allocated circular buffers"):
        _conv(dev, x, w, cin=cin, cout=cout, hw=hw)
    out = _conv(dev, x, w, cin=cin, cout=cout, hw=hw, act_block_h=5 * 32)
    assert tuple(out.shape) == (1, 1, hw * hw, cout)


def test_the_conv_block_rule_matches_tt_nn():
    """[CONV] determine_per_core_conv_block_config: the override if it divides the block, else the largest
    divisor below it; the width is a kernel row of padded input channels (height sharding)."""
    assert conv_rules.act_block_rows(25, 0) == 25
    assert conv_rules.act_block_rows(25, 5 * 32) == 5
    assert conv_rules.act_block_rows(24, 5 * 32) == 4
    pl = conv_rules.plan(in_channels=128, out_channels=64, out_pixels=224 * 224, kernel=(3, 3), stride=(1, 1),
                         padding=[1, 1], dilation=(1, 1), groups=1, grid=(8, 8), in_width=224)
    assert pl.layout.name == "HEIGHT_SHARDED" and pl.split.block_rows == 25
    assert conv_rules.act_block_cols(pl, 128, (3, 3)) == 12
    assert conv_rules.act_block_cols(pl, 3, (7, 7)) == 4        # 3 channels padded to 16, times 7
    need = lambda h: conv_rules.l1_need(pl, in_channels=128, out_channels=64, in_pixels=224 * 224,  # noqa: E731
                                        out_pixels=224 * 224, kernel=(3, 3), in_width=224, act_block_h=h,
                                        in_tile=2048, weight_tile=2048, out_tile=2048, bias=False,
                                        row_major_out=False, resharded=True, out_moved=True, windowed=True)
    # activation and tilized blocks 20 tile rows shorter; with several activation blocks a core holds a whole
    # kernel column (3) of its 2 x 12 weight tiles instead of one
    assert need(25) - need(5) == 2 * 20 * 12 * 2048 - (3 - 1) * 2 * 12 * 2048
    assert conv_rules.fitting_act_block_h(need, 25, need(5)) == 5
    assert conv_rules.fitting_act_block_h(need, 25, need(1) - 1) is None


def test_every_op_with_a_program_has_its_circular_buffers_modelled_or_is_listed():
    assert set(RULES) - set(CB_RULES) == set(circular_buffers.NOT_CHECKED)


def test_a_convolution_without_memory_config_returns_its_own_shards(dev):
    """TT-NN's conv2d leaves its output in the shards it computed it in unless memory_config asks otherwise
    (no move out of them runs)."""
    cin, cout, hw = 32, 64, 28
    x = ttnn.from_torch(torch.randn(1, 1, hw * hw, cin), dtype=ttnn.bfloat16, layout=ttnn.TILE_LAYOUT,
                        device=dev, memory_config=ttnn.L1_MEMORY_CONFIG)
    w = ttnn.from_torch(torch.randn(cout, cin, 3, 3) * 0.05, dtype=ttnn.bfloat16)
    with dev.profiler.record():
        out = ttnn.conv2d(input_tensor=x, weight_tensor=w, device=dev, in_channels=cin, out_channels=cout,
                          batch_size=1, input_height=hw, input_width=hw, kernel_size=(3, 3), stride=(1, 1),
                          padding=(1, 1))
    mc = out.memory_config()
    pl = conv_rules.plan(in_channels=cin, out_channels=cout, out_pixels=hw * hw, kernel=(3, 3), stride=(1, 1),
                         padding=[1, 1], dilation=(1, 1), groups=1, grid=(8, 8), in_width=hw)
    assert mc.is_sharded() and conv_rules.config_key(mc) == pl.key(hw * hw, cout, output=True)
    note = next(r.cost.note for r in dev.profiler.rows if r.op == "conv2d")
    assert "to memory_config" not in note
    ref = torch.nn.functional.conv2d(ttnn.to_torch(x).float().reshape(1, hw, hw, cin).permute(0, 3, 1, 2),
                                     ttnn.to_torch(w).float(), padding=1)
    got = ttnn.to_torch(out).float().reshape(1, hw, hw, cout).permute(0, 3, 1, 2)
    assert torch.corrcoef(torch.stack([got.flatten(), ref.flatten()]))[0, 1] > 0.999
