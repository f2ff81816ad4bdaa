"""Convolution layouts chosen by modelled time (compiler/passes/conv_layout.py): a conv2d gets the TT-NN layout
the performance model times fastest when it beats TT-NN's own choice; the simulator runs it in that layout (its
weights prepared for it) with the same accuracy."""
import torch
import torch.nn as nn

from torch_ttnn.compiler.passes import conv_layout

from .harness import pcc, run_recorded


def _conv(cin, cout):
    torch.manual_seed(0)
    return nn.Sequential(nn.Conv2d(cin, cout, 1), nn.ReLU()).eval()


def _run(device, model, x):
    y, option = run_recorded(model, x, device=device)
    rows = [r for r in device.profiler.rows if r.op == "conv2d"]
    return y, option.results.reports[-1].conv_layouts, rows


def test_a_faster_layout_replaces_ttnn_choice(device, monkeypatch):
    # [4 x 28 x 28 pixels, 512] x [512, 256]: TT-NN's rule block-shards it (few pixels per channel); height
    # sharding keeps each core's activation rows local and multicasts the weights: faster in the model
    model, x = _conv(512, 256), torch.randn(4, 512, 28, 28)
    with torch.no_grad():
        ref = model(x)
    y, chosen, rows = _run(device, model, x)
    assert [c[1] for c in chosen] == ["HEIGHT_SHARDED"]
    (_, _, default_us, chosen_us), = chosen
    assert chosen_us < default_us
    assert rows[0].cost.note.startswith("height"), rows[0].cost.note
    assert pcc(y, ref) >= 0.99

    # without the pass: TT-NN's block sharding, and a slower convolution
    monkeypatch.setattr(conv_layout, "MIN_GAIN", 10.0)
    y0, chosen0, rows0 = _run(device, model, x)
    assert chosen0 == []
    assert rows0[0].cost.note.startswith("block"), rows0[0].cost.note
    assert rows[0].cost.kernel_us < rows0[0].cost.kernel_us
    assert pcc(y0, ref) >= 0.99


def test_ttnn_choice_kept_where_it_is_fastest(device):
    # many pixels, few channels: TT-NN's height sharding is the model's fastest too
    model, x = _conv(128, 64), torch.randn(1, 128, 56, 56)
    with torch.no_grad():
        ref = model(x)
    y, chosen, rows = _run(device, model, x)
    assert chosen == []
    assert rows[0].cost.note.startswith("height"), rows[0].cost.note
    assert pcc(y, ref) >= 0.99


def test_naive_program_keeps_ttnn_layouts(device):
    model, x = _conv(512, 256), torch.randn(4, 512, 28, 28)
    y, option = run_recorded(model, x, device=device, optimize=False)
    assert option.results.reports[-1].conv_layouts == []
