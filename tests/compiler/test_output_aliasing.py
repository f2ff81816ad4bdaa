"""Outputs that are views of another output alias it, as in eager (issue 9: `return y, y.view(...)`)."""
import torch

import torch_ttnn


def test_an_output_that_views_another_output_aliases_it(device):
    torch._dynamo.reset()

    def f(x):
        y = x * 2
        return y, y.view(-1), y.t()[1:]

    option = torch_ttnn.TorchTtnnOption(device=device)
    x = torch.randn(2, 3)
    a, b, d = torch.compile(f, backend=torch_ttnn.backend, options=option)(x)
    ea, eb, ed = f(x)
    assert b._base is a and d._base is a
    assert b.shape == eb.shape and d.shape == ed.shape
    torch.testing.assert_close(a, ea, rtol=1e-2, atol=1e-2)
    b[0] = 100.0                                  # a write through the view reaches the base, as in eager
    assert a[0, 0].item() == 100.0
    assert torch.equal(d, a.t()[1:])
    torch._dynamo.reset()
