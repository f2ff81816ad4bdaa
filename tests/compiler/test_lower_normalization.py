"""Differential tests of softmax and the normalizations (layer/group/batch/rms norm), inference and training."""
import pytest
import torch
import torch.nn.functional as F

import torch_ttnn

from .harness import check_lowered, pcc, remaining_aten_ops
from .opinfo import sample_ids, samples

# (OpInfo name, expected ttnn op)
OPINFO = [("softmax", "softmax"), ("log_softmax", "exp"), ("nn.functional.layer_norm", "layer_norm"),
          ("nn.functional.group_norm", "var"), ("nn.functional.batch_norm", None),
          ("nn.functional.rms_norm", "rms_norm")]


def _cases():
    out = []
    for name, expect in OPINFO:
        cases = samples(name, limit=4)
        for (op, args, kwargs), sid in zip(cases, sample_ids(cases)):
            marks = ()
            if kwargs.get("eps", 1.0) < 0:
                marks = pytest.mark.skip(reason="negative eps: NaN where var < -eps in eager and on device alike")
            out.append(pytest.param(op, args, kwargs, expect, id=f"{name}-{sid}", marks=marks))
    return out


@pytest.mark.parametrize("op,args,kwargs,expect", _cases())
def test_opinfo(device, op, args, kwargs, expect):
    args = tuple(a.clone() if isinstance(a, torch.Tensor) else a for a in args)  # batch_norm updates stats
    check_lowered(lambda *a: op(*a, **kwargs), args, device=device, expect=(expect,) if expect else ())


X = (2, 3, 5, 40)


# (name, fn, input shapes, expected ttnn ops)
HAND = [
    ("softmax-last", lambda x: x.softmax(-1), [X], ("softmax",)),
    ("softmax-inner-dims", lambda x: (x.softmax(1), x.softmax(2)), [X], ("softmax",)),
    ("softmax-rank1-2", lambda x: (x[0, 0, 0].softmax(0), x[0, 0].softmax(0)), [X], ("softmax",)),
    ("log-softmax", lambda x: (x.log_softmax(-1), (x * 30).log_softmax(1)), [X], ("max", "exp", "log")),
    ("layer-norm", lambda x, w, b: F.layer_norm(x, (40,), w, b, 1e-5), [X, (40,), (40,)], ("layer_norm",)),
    ("layer-norm-no-affine", lambda x: F.layer_norm(x, (40,)), [X], ("layer_norm",)),
    ("layer-norm-2-dims", lambda x, w, b: F.layer_norm(x, (5, 40), w, b), [X, (5, 40), (5, 40)],
     ("layer_norm", "reshape")),
    ("layer-norm-rank2", lambda x, w: F.layer_norm(x, (33,), w), [(7, 33), (33,)], ("layer_norm",)),
    ("group-norm", lambda x, w, b: F.group_norm(x, 3, w, b), [(2, 6, 5, 7), (6,), (6,)], ("mean", "var")),
    ("group-norm-no-affine", lambda x: F.group_norm(x, 2), [(2, 4, 9)], ("mean", "var")),
    ("rms-norm", lambda x, w: F.rms_norm(x, (40,), w, 1e-6), [X, (40,)], ("rms_norm",)),
    ("rms-norm-no-weight", lambda x: F.rms_norm(x, (40,)), [X], ("rms_norm",)),
]


@pytest.mark.parametrize("fn,shapes,expect", [pytest.param(f, s, e, id=n) for n, f, s, e in HAND])
def test_hand_written(device, fn, shapes, expect):
    check_lowered(fn, [torch.randn(s) for s in shapes], device=device, expect=expect)


@pytest.mark.parametrize("fusions", [True, False], ids=["prepared-params", "rules-only"])
# rank 2/3: element-wise ops (rsqrt(var + eps) of the parameters is computed once, by the param-derived cache)
@pytest.mark.parametrize("shape,expect", [((4, 3, 5, 6), "batch_norm"), ((4, 3), "subtract"),
                                          ((4, 3, 7), "subtract")])
def test_batch_norm_inference(device, shape, expect, fusions):
    bn = torch.nn.BatchNorm2d(3) if len(shape) == 4 else torch.nn.BatchNorm1d(3)
    with torch.no_grad():
        bn.running_mean.copy_(torch.randn(3))
        bn.running_var.copy_(torch.rand(3) + 0.5)
        bn.weight.copy_(torch.randn(3))
        bn.bias.copy_(torch.randn(3))
    check_lowered(bn.eval(), (torch.randn(shape),), device=device, expect=(expect,), fusions=fusions)


@pytest.mark.parametrize("model,shape", [(torch.nn.BatchNorm2d(3), (4, 3, 5, 6)),
                                         (torch.nn.GroupNorm(3, 6), (2, 6, 5, 7))], ids=["batch-norm", "group-norm"])
def test_norm_parameters_prepared_once(device, model, shape):
    """Per-channel vectors are reshaped once on the host (constant folding), not on the device every call."""
    torch._dynamo.reset()
    option = torch_ttnn.TorchTtnnOption(device=device)
    compiled = torch.compile(model.eval(), backend=torch_ttnn.backend, options=option)
    x = torch.randn(shape)
    with torch.no_grad():
        compiled(x)
        before = device.memory_stats()["DRAM"]["current_bytes"]
        out = compiled(x)
        assert device.memory_stats()["DRAM"]["current_bytes"] == before   # nothing left behind per call
        assert pcc(out, model(x)) > 0.999
    gm = option.results.graph_modules[0]
    reshaped = [n for n in gm.graph.nodes if getattr(n.target, "__name__", "") == "reshape"
                and n.args[0].meta.get("param")]
    assert not reshaped, reshaped


def test_batch_norm_training_updates_running_stats(device):
    torch._dynamo.reset()
    ref, bn = torch.nn.BatchNorm2d(3).train(), torch.nn.BatchNorm2d(3).train()
    option = torch_ttnn.TorchTtnnOption(device=device)
    compiled = torch.compile(bn, backend=torch_ttnn.backend, options=option)
    x = torch.randn(4, 3, 5, 6) * 2 + 1
    with torch.no_grad():
        out = compiled(x)
        expected = ref(x)
    assert not remaining_aten_ops(option)
    assert pcc(out, expected) > 0.999
    torch.testing.assert_close(bn.running_mean, ref.running_mean, atol=0.01, rtol=0.01)
    torch.testing.assert_close(bn.running_var, ref.running_var, atol=0.02, rtol=0.02)


def _train(device, fn, args, min_pcc=0.99, allow_remaining=()):
    """Forward and backward compiled vs eager: outputs and input gradients agree, nothing left on the host."""
    torch._dynamo.reset()
    option = torch_ttnn.TorchTtnnOption(device=device)
    eager = [a.clone().requires_grad_(a.is_floating_point()) for a in args]
    comp = [a.clone().requires_grad_(a.is_floating_point()) for a in args]
    ref = fn(*eager)
    (ref * torch.linspace(-1, 1, ref.shape[-1])).sum().backward()
    out = torch.compile(fn, backend=torch_ttnn.backend, options=option)(*comp)
    (out * torch.linspace(-1, 1, out.shape[-1])).sum().backward()
    left = [op for op in remaining_aten_ops(option) if op not in allow_remaining]
    assert not left, torch_ttnn.lowering_report(option)
    assert pcc(out, ref) >= min_pcc
    for a, b in zip(comp, eager):
        if b.grad is not None:
            assert pcc(a.grad, b.grad) >= min_pcc


@pytest.mark.parametrize("fn,shapes", [
    pytest.param(lambda x, w, b: F.layer_norm(x, (40,), w, b), [X, (40,), (40,)], id="layer-norm"),
    pytest.param(lambda x, w: F.rms_norm(x, (40,), w, 1e-6), [X, (40,)], id="rms-norm"),
    pytest.param(lambda x, w, b: F.group_norm(x, 3, w, b), [(2, 6, 5, 7), (6,), (6,)], id="group-norm"),
    pytest.param(lambda x, w, b: F.batch_norm(x, None, None, w, b, training=True), [(4, 3, 5, 6), (3,), (3,)],
                 id="batch-norm"),
    pytest.param(lambda x: x.softmax(-1) * x.log_softmax(1), [X], id="softmax-log-softmax"),
])
def test_training(device, fn, shapes):
    # group norm's backward (aten's decomposition) uses addcmul, an element-wise op of another family
    _train(device, fn, [torch.randn(s) for s in shapes], allow_remaining=("aten.addcmul.default",))


@pytest.mark.parametrize("dims", [1, 2])
def test_conv_batch_norm_folding_for_conv1d_and_conv2d(device, dims):
    """speecht5: conv1d + BatchNorm1d was folded with a 4-d per-channel scale ([C, 1, 1, 1] against a 3-d
    weight), which broadcast the weight to [C, C, K, k] and made the device reshape fail."""
    from .harness import compile_and_run, remaining_aten_ops
    conv = (torch.nn.Conv1d(4, 6, 3, padding=1) if dims == 1 else torch.nn.Conv2d(4, 6, 3, padding=1))
    bn = torch.nn.BatchNorm1d(6) if dims == 1 else torch.nn.BatchNorm2d(6)
    with torch.no_grad():
        bn.running_mean.uniform_(-1, 1)
        bn.running_var.uniform_(0.5, 2)
    m = torch.nn.Sequential(conv, bn).eval()
    x = torch.randn(2, 4, 16) if dims == 1 else torch.randn(2, 4, 8, 8)
    with torch.no_grad():
        out, option = compile_and_run(m, (x,), device=device)
        ref = m(x)
    assert pcc(out, ref) >= 0.99
    assert remaining_aten_ops(option) == []
