"""TensorMemo: derived values remembered per source tensor, never stale."""
import torch

from torch_ttnn.sim._memo import TensorMemo


def _counting():
    calls = []

    def derive(t):
        calls.append(1)
        return t * 2
    return calls, derive


def test_remembered_until_the_source_changes_or_dies():
    memo, (calls, derive) = TensorMemo(), _counting()
    x = torch.ones(4)
    assert torch.equal(memo.get(x, "k", derive), torch.full((4,), 2.0))
    memo.get(x, "k", derive)
    assert len(calls) == 1
    x.add_(1)                                  # a new version: derived again
    assert torch.equal(memo.get(x, "k", derive), torch.full((4,), 4.0)) and len(calls) == 2
    del x
    assert len(memo) == 0 and memo.bytes == 0


def test_inference_tensors_are_never_remembered():
    memo, (calls, derive) = TensorMemo(), _counting()
    with torch.inference_mode():
        x = torch.ones(4)
    memo.get(x, "k", derive)
    memo.get(x, "k", derive)
    assert len(calls) == 2 and len(memo) == 0


def test_budget_without_eviction_keeps_what_fits():
    """Cyclic use of more than the budget: the first values stay remembered (hits every round), instead of
    each value being evicted just before it is needed again."""
    memo, (calls, derive) = TensorMemo(budget_bytes=3 * 16, evict=False), _counting()
    xs = [torch.ones(4) for _ in range(5)]     # 16 bytes each, budget for 3
    for _ in range(3):
        for x in xs:
            memo.get(x, "k", derive)
    assert len(memo) == 3 and memo.bytes == 48
    assert len(calls) == 5 + 2 * 2             # 5 the first round, then only the 2 that do not fit


def test_budget_with_eviction_drops_the_least_recently_used():
    memo, (calls, derive) = TensorMemo(budget_bytes=2 * 16), _counting()
    a, b, c = torch.ones(4), torch.ones(4), torch.ones(4)
    memo.get(a, "k", derive)
    memo.get(b, "k", derive)
    memo.get(a, "k", derive)                   # a is now the most recent
    memo.get(c, "k", derive)                   # evicts b
    memo.get(a, "k", derive)
    assert len(calls) == 3
    memo.get(b, "k", derive)
    assert len(calls) == 4
