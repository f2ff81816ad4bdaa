"""The channels-last layout pass (passes/layout.py): conv/pool chains stay in NHWC on the device.

Each conv/pool rule permutes NCHW -> NHWC and back; the pass cancels the inverse pairs between consecutive
sliding-window ops (moving permutes across element-wise ops), merges binary element-wise ops of equally moved
operands, and lets convs/pools read the flattened [1, 1, N*H*W, C] results directly. Counted on the lowered
graphs, with the pass and with the pass disabled; the results must still agree with eager.
"""
import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

from torch_ttnn.compiler.passes import layout
from torch_ttnn.compiler.passes.base import PassResult
from torch_ttnn.zoo.small import ConvAutoencoder, MnistModel, SmallCNN

from .harness import check_lowered, compile_and_run, ttnn_targets


class TinyCNN(nn.Module):
    """conv -> relu -> conv -> relu -> max pool -> conv -> relu -> avg pool -> conv."""

    def __init__(self):
        super().__init__()
        self.c1 = nn.Conv2d(3, 8, 3, padding=1)
        self.c2 = nn.Conv2d(8, 16, 3, padding=1)
        self.c3 = nn.Conv2d(16, 16, 3, padding=1)
        self.c4 = nn.Conv2d(16, 10, 1)

    def forward(self, x):
        x = F.relu(self.c1(x))
        x = F.max_pool2d(F.relu(self.c2(x)), 2)
        x = F.avg_pool2d(F.relu(self.c3(x)), 2)
        return self.c4(x)


class ResBlock(nn.Module):
    def __init__(self, c=8):
        super().__init__()
        self.stem = nn.Conv2d(3, c, 3, padding=1)
        self.a = nn.Conv2d(c, c, 3, padding=1)
        self.b = nn.Conv2d(c, c, 3, padding=1)
        self.head = nn.Conv2d(c, 4, 1)

    def forward(self, x):
        x = F.relu(self.stem(x))
        y = self.b(F.relu(self.a(x)))
        return self.head(F.relu(x + y))


def _counts(option) -> dict:
    t = ttnn_targets(option)
    return {k: t.count(k) for k in ("permute", "reshape", "view", "conv2d", "max_pool2d", "avg_pool2d")}


@pytest.fixture
def no_layout_pass(monkeypatch):
    def disable():
        monkeypatch.setattr(layout.ChannelsLastLayout, "call", lambda self, gm: PassResult(gm, False))
    return disable


def _eval(model):
    torch.manual_seed(0)
    return model.eval()


def test_small_cnn_stays_nhwc(device, no_layout_pass):
    """4 convs + 2 pools: 12 permutes without the pass; with it only the input NCHW->NHWC and the output
    NHWC->NCHW remain, and the convs/pools read each other's flattened outputs (no reshape in between)."""
    torch.manual_seed(0)
    model, x = _eval(TinyCNN()), torch.randn(2, 3, 16, 16)
    after = _counts(check_lowered(model, (x,), device=device, expect=("conv2d", "max_pool2d", "avg_pool2d")))
    no_layout_pass()
    before = _counts(check_lowered(model, (x,), device=device))
    assert before["permute"] == 12, before
    assert after["permute"] == 2, after
    assert after["reshape"] + after["view"] == 1, after   # the output's (bias reshapes run once, cached)
    assert after["conv2d"] == before["conv2d"] == 4


def test_no_permute_between_sliding_window_ops(device):
    model, x = _eval(TinyCNN()), torch.randn(1, 3, 12, 12)
    option = check_lowered(model, (x,), device=device)
    g = option._out_fx_graphs[0]
    windows = {"conv2d", "max_pool2d", "avg_pool2d"}
    order = [getattr(n.target, "__name__", "") for n in g.nodes if n.op == "call_function"]
    seq = [t for t in order if t in windows or t == "permute"]
    # one permute before the first op, one after the last, none in between
    assert seq[0] == "permute" and seq[-1] == "permute" and "permute" not in seq[1:-1], seq


@pytest.mark.parametrize("name, build, shape, before, after", [
    # small-cnn: the input permute only (global average pooling reduces NHWC over H, W)
    ("small-cnn", SmallCNN, (2, 3, 32, 32), 10, 1),
    # mnist: the input permute and the NCHW flatten before the classifier
    ("mnist", MnistModel, (1, 1, 28, 28), 6, 2),
    # autoencoder: the input permute (its 1-channel output permute only moves a size-1 dim: a reshape)
    ("autoencoder-conv", ConvAutoencoder, (1, 1, 28, 28), 12, 1),
])
def test_zoo_cnns(device, no_layout_pass, name, build, shape, before, after):
    model, x = _eval(build()), torch.rand(*shape)
    got_after = _counts(check_lowered(model, (x,), device=device, min_pcc=0.98))["permute"]
    no_layout_pass()
    got_before = _counts(check_lowered(model, (x,), device=device, min_pcc=0.98))["permute"]
    assert (got_before, got_after) == (before, after)


def test_residual_add_merged(device, no_layout_pass):
    """x + y of two equally permuted values becomes one permute of the add: the block stays NHWC."""
    model, x = _eval(ResBlock()), torch.randn(2, 3, 10, 10)
    after = _counts(check_lowered(model, (x,), device=device))
    no_layout_pass()
    before = _counts(check_lowered(model, (x,), device=device))
    assert before["permute"] == 8 and after["permute"] == 2, (before, after)


class GhostBlock(nn.Module):
    """GhostNet's module: a primary convolution, a cheap depthwise one on its output, their channel concat
    (through a relu on one side), then a residual add and the next convolution."""

    def __init__(self, c=8):
        super().__init__()
        self.stem = nn.Conv2d(3, 2 * c, 3, padding=1)
        self.primary = nn.Conv2d(2 * c, c, 1)
        self.cheap = nn.Conv2d(c, c, 3, padding=1, groups=c)
        self.head = nn.Conv2d(2 * c, 4, 1)

    def forward(self, x):
        x = F.relu(self.stem(x))
        p = self.primary(x)
        y = torch.cat([p, F.relu(self.cheap(p))], dim=1)
        return self.head(y + x)


def test_concat_of_permuted_parts_stays_nhwc(device, no_layout_pass):
    """A channel concat of two NHWC convolution outputs (one through a relu) joins them along C in NHWC: only
    the input and output permutes remain, against 8 without the pass."""
    model, x = _eval(GhostBlock()), torch.randn(2, 3, 12, 12)
    after = _counts(check_lowered(model, (x,), device=device, expect=("concat",)))
    no_layout_pass()
    before = _counts(check_lowered(model, (x,), device=device))
    assert before["permute"] == 8 and after["permute"] == 2, (before, after)


class SEBlock(nn.Module):
    """A convolution, a squeeze-and-excitation (mean over H, W, two 1x1 convolutions, hardsigmoid, the scale
    multiplied in with broadcasting), then the next convolution: MobileNetV3's and EfficientNet's pattern."""

    def __init__(self, c=16):
        super().__init__()
        self.stem = nn.Conv2d(3, c, 3, padding=1)
        self.squeeze, self.excite = nn.Conv2d(c, 8, 1), nn.Conv2d(8, c, 1)
        self.head = nn.Conv2d(c, 4, 1)

    def forward(self, x):
        x = F.relu(self.stem(x))
        s = F.hardsigmoid(self.excite(F.relu(self.squeeze(x.mean((2, 3), keepdim=True)))))
        return self.head(s * x)


def test_squeeze_and_excitation_stays_nhwc(device, no_layout_pass):
    """The activation read by the excitation's mean and by the scaling multiply: the permute is split, the mean
    reduces NHWC, and the [1, C, 1, 1] scale is reshaped to [1, 1, 1, C] to multiply the NHWC activation."""
    model, x = _eval(SEBlock()), torch.randn(1, 3, 12, 12)
    after = _counts(check_lowered(model, (x,), device=device, expect=("multiply", "mean")))
    no_layout_pass()
    before = _counts(check_lowered(model, (x,), device=device))
    assert after["permute"] == 2 and before["permute"] > 4, (before, after)


def test_intermediate_outputs_keep_aten_layout(device):
    """Values that leave the graph (or go to a host op) between convs are still NCHW."""
    torch.manual_seed(0)
    c1, c2 = nn.Conv2d(3, 6, 3, padding=1).eval(), nn.Conv2d(6, 5, 3).eval()

    def f(x):
        a = torch.relu(c1(x))
        b = c2(a)
        return a, b, torch.special.bessel_j0(a).sum()

    x = torch.randn(2, 3, 9, 8)
    with torch.no_grad():
        ref = f(x)
        out, option = compile_and_run(f, (x,), device=device)
    for o, r in zip(out, ref):
        assert o.shape == r.shape
        torch.testing.assert_close(o, r, rtol=0.05, atol=0.1)


def test_user_permutes_and_mixed_chains(device):
    """A user NHWC permute after a conv, an element-wise chain with a scalar operand and a broadcasting add
    (not movable) between convs: results agree with eager."""
    torch.manual_seed(0)
    c1, c2 = nn.Conv2d(4, 6, 3, padding=1).eval(), nn.Conv2d(6, 6, 1).eval()
    bias = torch.randn(6, 1, 1)

    def f(x):
        a = torch.sigmoid(c1(x) * 2.0 + 1.0)
        b = c2(F.gelu(a) + bias)
        return b.permute(0, 2, 3, 1), a

    check_lowered(f, (torch.randn(2, 4, 7, 9),), device=device, expect=("conv2d",))


def test_upsample_between_convs(device):
    """conv -> nearest x2 -> conv (a U-Net decoder step): only the upsample needs [N, H, W, C]."""
    torch.manual_seed(0)
    c1, c2 = nn.Conv2d(3, 8, 3, padding=1).eval(), nn.Conv2d(8, 4, 3, padding=1).eval()

    def f(x):
        return c2(F.interpolate(F.relu(c1(x)), scale_factor=2))

    option = check_lowered(f, (torch.randn(1, 3, 6, 6),), device=device, expect=("conv2d", "upsample"))
    assert _counts(option)["permute"] == 2


@pytest.mark.parametrize("keepdim", [True, False])
def test_global_pool_reduces_nhwc(device, keepdim):
    """conv -> relu -> mean over (H, W): with keepdim the mean reduces the NHWC value and only its small
    result is moved; without keepdim the permute stays (results agree either way)."""
    torch.manual_seed(0)
    c = nn.Conv2d(3, 40, 3, padding=1).eval()

    def f(x):
        return torch.relu(c(x)).mean(dim=(2, 3), keepdim=keepdim).flatten(1)

    option = check_lowered(f, (torch.randn(2, 3, 9, 11),), device=device, expect=("conv2d", "mean"))
    assert _counts(option)["permute"] == (1 if keepdim else 2)


def test_reshape_to_or_from_a_scalar_is_never_a_free_view():
    """ViLT: merging two reshapes that end in a rank-0 tensor (a slice [1, 1] -> [1] -> []) crashed the
    layout pass's free-view test with an IndexError."""
    import torch.fx
    import torch_ttnn.sim as ttnn
    from torch_ttnn.compiler.meta import TTMeta
    from torch_ttnn.compiler.passes.layout import ChannelsLastLayout
    g = torch.fx.Graph()
    src = g.placeholder("x")
    src.meta["val"] = torch.empty(1, 1, device="meta")
    src.meta["tt"] = TTMeta(ttnn.TILE_LAYOUT, ttnn.bfloat16)
    p = ChannelsLastLayout(ttnn)
    assert p._free_view(src, ()) is False
    assert p._free_view(src, (1, 1)) is True
    scalar = g.placeholder("s")
    scalar.meta["val"] = torch.empty((), device="meta")
    scalar.meta["tt"] = TTMeta(ttnn.TILE_LAYOUT, ttnn.bfloat16)
    assert p._free_view(scalar, (1,)) is False
