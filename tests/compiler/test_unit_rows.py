"""FoldUnitRows: row-wise ops on [batch, 1, hidden] run on [batch, hidden] (compiler/passes/unit_rows.py)."""
import pytest
import torch

import torch_ttnn
from torch_ttnn.compiler.passes.base import PassResult
from torch_ttnn.metrics import pcc


@pytest.fixture(autouse=True)
def _fresh_dynamo():
    torch._dynamo.reset()
    yield
    torch._dynamo.reset()


class DecodeBlock(torch.nn.Module):
    """One token per sequence, as a decode step carries it: embedding, norm, MLP with a residual, LM head."""

    def __init__(self, vocab=4000, hidden=256):
        super().__init__()
        self.emb = torch.nn.Embedding(vocab, hidden)
        self.norm = torch.nn.LayerNorm(hidden)
        self.up = torch.nn.Linear(hidden, 4 * hidden)
        self.down = torch.nn.Linear(4 * hidden, hidden)
        self.head = torch.nn.Linear(hidden, vocab, bias=False)

    def forward(self, ids):                       # ids [batch, 1]
        h = self.emb(ids)
        h = h + self.down(torch.nn.functional.silu(self.up(self.norm(h))))
        return self.head(h)[:, -1].argmax(-1), self.head(h * 0.5)


def _linear_inputs(option):
    gm = option.results.graph_modules[-1]
    return [tuple(n.args[0].meta["val"].shape) for n in gm.graph.nodes
            if n.op == "call_function" and getattr(n.target, "__name__", "") == "linear"]


def _run(device, ids, m, **kw):
    option = torch_ttnn.TorchTtnnOption(device=device, precision="bf16", **kw)
    c = torch.compile(m, backend=torch_ttnn.backend, options=option)
    with torch.no_grad():
        c(ids)
        with device.profiler.record():
            out = c(ids)
    linear_ns = sum(r["DEVICE KERNEL DURATION [ns]"] for r in device.profiler.csv_rows() if r["OP CODE"] == "linear")
    return out, option, linear_ns


def test_batched_decode_rows_fill_the_tiles(device, monkeypatch):
    torch.manual_seed(0)
    m = DecodeBlock().eval()
    ids = torch.randint(0, 4000, (32, 1))
    (tok, logits), option, folded_us = _run(device, ids, m)
    with torch.no_grad():
        ref_tok, ref_logits = m(ids)
    assert pcc(logits, ref_logits) >= 0.99 and logits.shape == ref_logits.shape == (32, 1, 4000)
    assert (tok == ref_tok).float().mean() >= 0.9
    # every linear of the TT-NN program takes [32, k]: the batch in the tile rows
    assert _linear_inputs(option) and all(len(s) == 2 and s[0] == 32 for s in _linear_inputs(option))
    torch._dynamo.reset()
    from torch_ttnn.compiler.passes import unit_rows
    monkeypatch.setattr(unit_rows.FoldUnitRows, "call", lambda self, gm: PassResult(gm, False))
    (tok2, logits2), option2, padded_us = _run(device, ids, m)
    assert all(len(s) == 3 and s[1] == 1 for s in _linear_inputs(option2))
    assert torch.equal(tok, tok2) and torch.equal(logits, logits2)     # the same values, row by row
    assert folded_us < 0.5 * padded_us               # the linears moved and computed 32-row padded tiles


def test_a_single_sequence_is_left_alone(device):
    torch.manual_seed(0)
    m = DecodeBlock().eval()
    (tok, logits), option, _ = _run(device, torch.randint(0, 4000, (1, 1)), m)
    assert all(len(s) == 3 for s in _linear_inputs(option))            # [1, 1, k]: nothing to fold
