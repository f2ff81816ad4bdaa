"""Programs compiled when aot_autograd calls the backend (optimize=False, or any graph without a precision
search) are compiled under its fake tensor mode: what a lowering computes at compile time must be real, and the
values passes make must mix with the graph's fake ones. The naive programs of five zoo models failed here."""
import torch
import torch.nn.functional as F
from torch._subclasses.fake_tensor import FakeTensor, FakeTensorMode

import torch_ttnn
from torch_ttnn.compiler.meta import meta_value
from torch_ttnn.compiler.passes.fusion._common import _meta_of
from torch_ttnn.metrics import pcc


def test_resampling_matrices_are_built_from_real_tensors_under_fake_mode(device):
    """A downsampling bilinear resize (two matmuls with interpolation matrices computed at compile time)."""
    torch._dynamo.reset()

    def resize(x):
        return F.interpolate(x, size=(20, 30), mode="bilinear", align_corners=False)

    x = torch.randn(1, 3, 48, 64)
    option = torch_ttnn.TorchTtnnOption(device=device, optimize=False)
    c = torch.compile(resize, backend=torch_ttnn.backend, options=option)
    with torch.no_grad():
        y = c(x)
    assert pcc(y, resize(x)) > 0.999
    assert not option.results.reports[-1].fallbacks
    torch._dynamo.reset()


def test_a_pass_value_made_on_the_meta_device_joins_the_fake_ones():
    mode = FakeTensorMode()
    g = torch.fx.Graph()
    a = g.placeholder("a")
    b = g.placeholder("b")
    g.output((a, b))
    gm = torch.fx.GraphModule(torch.nn.Module(), g)
    with mode:
        a.meta["val"] = torch.empty(4, 8)
    b.meta["val"] = meta_value([1, 8])          # as a rewrite records an intermediate value
    out = _meta_of(gm, torch.ops.aten.mul.Tensor, (a, b), {})
    assert isinstance(out, FakeTensor) and tuple(out.shape) == (4, 8)
