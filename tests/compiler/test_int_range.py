"""int64 arithmetic the device's int32 would wrap: guarded at the inputs, or exact on the host (issue 9, #5)."""
import pytest
import torch

import torch_ttnn
from torch_ttnn.runtime import IntRangeError


@pytest.fixture(autouse=True)
def _fresh_dynamo():
    torch._dynamo.reset()
    yield
    torch._dynamo.reset()


def _compile(fn, device):
    option = torch_ttnn.TorchTtnnOption(device=device)
    return torch.compile(fn, backend=torch_ttnn.backend, options=option), option


def test_a_product_of_inputs_is_exact_up_to_the_guard_and_refused_beyond(device):
    c, opt = _compile(lambda x: x * x, device)
    x = torch.tensor([46340, -5000, 3])                      # 46340^2 < 2^31 <= 46341^2
    assert torch.equal(c(x), x * x)
    assert opt.results.reports[-1].lowered["aten.mul.Tensor"] == 1     # on the device
    with pytest.raises(IntRangeError, match=r"arg\d+_1 of mul.Tensor .* \|values\| <= 46340.* 100000"):
        c(torch.tensor([100000, 3]))


def test_a_sum_that_exceeds_int32_whatever_the_inputs_runs_on_the_host(device):
    c, opt = _compile(lambda: torch.full((4,), 2 ** 30).sum(), device)
    assert c().item() == 2 ** 32
    fallbacks = opt.results.reports[-1].fallbacks
    assert any("exceeds the device's int32" in reason for (_, reason) in fallbacks)


def test_bounded_integer_arithmetic_stays_on_the_device_unguarded(device):
    # position ids from a padding mask (RoBERTa, OPT, XGLM): every value is bounded by the graph itself
    c, opt = _compile(lambda ids: ids.ne(1).long().cumsum(1) * ids.ne(1).long() + 1, device)
    ids = torch.tensor([[5, 1, 7, 9]])
    assert torch.equal(c(ids), ids.ne(1).long().cumsum(1) * ids.ne(1).long() + 1)
    report = opt.results.reports[-1]
    assert not report.fallbacks and not report.int_unproven
    assert "check_int_bound" not in opt.results.graph_modules[-1].code


def test_unprovable_integer_arithmetic_is_reported(device):
    # an integer computed from a float cast (as T5's relative-position buckets): no bound from the graph
    c, opt = _compile(lambda x: (x * 2.5).long() + 3, device)
    x = torch.tensor([1.0, 2.0])
    assert torch.equal(c(x), (x * 2.5).long() + 3)
    assert opt.results.reports[-1].int_unproven == {"aten.add.Tensor": 1}
