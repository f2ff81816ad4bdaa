"""Differential tests of pooling and upsampling lowering: max/avg/adaptive pools -> ttnn.*_pool2d, nearest and
bilinear interpolation (recognized from its aten decomposition by passes/upsample.py) -> ttnn.upsample.
OpInfo samples and hand-written cases; the cases TT-NN cannot do are xfail with the reason."""
import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

import torch_ttnn

from .harness import check_lowered, compile_and_run, remaining_aten_ops, ttnn_targets
from .opinfo import sample_ids, samples


def _spread(cases, k):
    if len(cases) <= k:
        return cases
    step = len(cases) / k
    return [cases[int(i * step)] for i in range(k)]


# --------------------------------------------------------------------------------------------------
# OpInfo
# --------------------------------------------------------------------------------------------------

def _adaptive_gap(args, kwargs):
    x, size = args[0], args[1]
    h, w = x.shape[-2:]
    size = (size, size) if isinstance(size, int) else tuple(size)
    oh, ow = (h if size[0] is None else size[0]), (w if size[1] is None else size[1])
    for a, b in ((h, oh), (w, ow)):
        wins = [((i * a) // b, -(-((i + 1) * a) // b)) for i in range(b)]
        ks = [e - s for s, e in wins]
        if len(ks) > 2 and (len(set(ks[1:-1])) > 1 or ks[0] > ks[1] or ks[-1] > ks[1]):
            return f"adaptive pooling {a}->{b}: windows cannot be made uniform (ttnn refuses)"
        if len(set(ks)) == 1 and a // b == 0:
            return f"adaptive pooling {a}->{b}: uniform windows with stride 0 (ttnn refuses)"
    if len(args) > 2 and args[2]:
        return "adaptive max pooling indices: ttnn.adaptive_max_pool2d has no return_indices"
    return None


def _interp_gap(args, kwargs):
    x = args[0]
    if x.dim() != 4:
        return None
    h, w = x.shape[-2:]
    mode = kwargs.get("mode", "nearest")
    size = args[1] if len(args) > 1 else kwargs.get("size")
    sf = kwargs.get("scale_factor")
    if size is not None:
        size = tuple(size) if not isinstance(size, int) else (size, size)
    else:
        size = (int(h * sf), int(w * sf))
    if kwargs.get("align_corners") or (mode == "bilinear" and "align_corners" not in kwargs and sf is None
                                       and len(args) == 1):
        return "align_corners=True: ttnn.upsample bilinear samples at half-pixel centers"
    if size[0] < h or size[1] < w:
        return "downsampling: ttnn.upsample only enlarges"
    if size[0] % h or size[1] % w:
        return "non-integer scale: ttnn.upsample fractional scales differ from torch"
    return None


OPINFO = [
    # (OpInfo name, variant, expected ttnn op, samples, known-gap function)
    ("nn.functional.max_pool2d", "", "max_pool2d", 8, None),
    ("nn.functional.avg_pool2d", "", "avg_pool2d", 7, None),
    ("nn.functional.adaptive_avg_pool2d", "", "adaptive_avg_pool2d", 10, _adaptive_gap),
    ("nn.functional.adaptive_max_pool2d", "", "adaptive_max_pool2d", 6, _adaptive_gap),
    ("nn.functional.max_pool1d", "", "max_pool2d", 3, None),
    ("nn.functional.avg_pool1d", "", "avg_pool2d", 3, None),
    ("nn.functional.interpolate", "nearest", "upsample", 4, _interp_gap),
    ("nn.functional.interpolate", "bilinear", "upsample", 3, _interp_gap),
]


def _opinfo_cases():
    out = []
    for name, variant, expect, k, gap in OPINFO:
        cases = samples(name, variant, limit=200)
        if variant:
            cases = [c for c in cases if c[1][0].dim() == 4]   # 2-d interpolation
        cases = _spread(cases, k)
        for (op, args, kwargs), sid in zip(cases, sample_ids(cases)):
            reason = gap(args, kwargs) if gap else None
            want = expect
            # what ttnn.upsample / adaptive_avg_pool2d cannot do runs as interpolation / averaging matmuls
            if reason and (gap is _interp_gap or (name.endswith("adaptive_avg_pool2d") and "uniform" in reason)):
                reason, want = None, "matmul"
            marks = [pytest.mark.xfail(reason=reason)] if reason else []
            out.append(pytest.param(op, args, kwargs, want, marks=marks,
                                    id=f"{name.split('.')[-1]}{'-' + variant if variant else ''}-{sid}-{len(out)}"))
    return out


@pytest.mark.parametrize("op, args, kwargs, expect", _opinfo_cases())
def test_pool_opinfo(device, op, args, kwargs, expect):
    check_lowered(lambda *a: op(*a, **kwargs), args, device=device, expect=(expect,))


# --------------------------------------------------------------------------------------------------
# hand-written
# --------------------------------------------------------------------------------------------------

def _r(*shape):
    return torch.randn(*shape)


HAND = [
    ("max-k2", lambda x: F.max_pool2d(x, 2), (_r(2, 5, 9, 7),), "max_pool2d"),
    ("max-k3s2p1-ceil", lambda x: F.max_pool2d(x, 3, 2, 1, ceil_mode=True), (_r(2, 40, 15, 13),), "max_pool2d"),
    ("max-dilated", lambda x: F.max_pool2d(x, 3, 1, 1, dilation=2), (_r(1, 7, 11, 10),), "max_pool2d"),
    ("max-unbatched", lambda x: F.max_pool2d(x, 2), (_r(33, 8, 8),), "max_pool2d"),
    ("max-indices", lambda x: F.max_pool2d(x, 3, 2, 1, return_indices=True), (_r(2, 6, 11, 9),), "max_pool2d"),
    ("avg-k3s2p1", lambda x: F.avg_pool2d(x, 3, 2, 1), (_r(2, 5, 9, 7),), "avg_pool2d"),
    ("avg-ceil-exclude-pad", lambda x: F.avg_pool2d(x, 3, 2, 1, ceil_mode=True, count_include_pad=False),
     (_r(2, 36, 10, 9),), "avg_pool2d"),
    ("avg-divisor", lambda x: F.avg_pool2d(x, 2, divisor_override=3), (_r(1, 3, 8, 8),), "avg_pool2d"),
    ("adaptive-avg-7x7", lambda x: F.adaptive_avg_pool2d(x, 7), (_r(2, 64, 14, 14),), "adaptive_avg_pool2d"),
    ("adaptive-avg-8to3", lambda x: F.adaptive_avg_pool2d(x, 3), (_r(1, 5, 8, 8),), "adaptive_avg_pool2d"),
    ("adaptive-max-3x2", lambda x: F.adaptive_max_pool2d(x, (3, 2)), (_r(2, 5, 9, 7),), "adaptive_max_pool2d"),
    ("nearest-x2", lambda x: F.interpolate(x, scale_factor=2), (_r(2, 5, 6, 7),), "upsample"),
    ("nearest-2x3", lambda x: F.interpolate(x, scale_factor=(2, 3)), (_r(1, 33, 4, 5),), "upsample"),
    ("nearest-size", lambda x: F.interpolate(x, size=(12, 21)), (_r(2, 3, 6, 7),), "upsample"),
    ("nearest-exact-x2", lambda x: F.interpolate(x, scale_factor=2, mode="nearest-exact"), (_r(1, 4, 5, 6),),
     "upsample"),
    ("nn.Upsample-nearest", nn.Upsample(scale_factor=2), (_r(2, 8, 4, 4),), "upsample"),
    ("bilinear-x2", lambda x: F.interpolate(x, scale_factor=2, mode="bilinear"), (_r(2, 5, 6, 7),), "upsample"),
    ("bilinear-x4", lambda x: F.interpolate(x, scale_factor=4, mode="bilinear", align_corners=False),
     (_r(1, 3, 5, 4),), "upsample"),
    # what ttnn.upsample cannot do: two matrix products with the interpolation matrices
    ("bilinear-align-corners", lambda x: F.interpolate(x, scale_factor=2, mode="bilinear", align_corners=True),
     (_r(2, 3, 8, 8),), "matmul"),
    ("nearest-fractional-7/3", lambda x: F.interpolate(x, size=(7, 7)), (_r(1, 5, 3, 3),), "matmul"),
    ("nearest-downsample", lambda x: F.interpolate(x, scale_factor=0.5), (_r(2, 3, 8, 8),), "matmul"),
    ("adaptive-avg-nonuniform-8to5", lambda x: F.adaptive_avg_pool2d(x, 5), (_r(2, 3, 8, 8),), "matmul"),
    ("adaptive-avg-rank3-3to5", lambda x: F.adaptive_avg_pool2d(x, 5), (_r(4, 3, 3),), "matmul"),
    ("bilinear-downsample-480to300", lambda x: F.interpolate(x, size=(30, 40), mode="bilinear"),
     (_r(1, 3, 48, 64),), "matmul"),
]


@pytest.mark.parametrize("fn, args, expect", [pytest.param(f, a, e, id=n) for n, f, a, e in HAND])
def test_pool_hand(device, fn, args, expect):
    check_lowered(fn, args, device=device, expect=(expect,))


GAPS = [
    ("adaptive-max-indices", lambda x: F.adaptive_max_pool2d(x, 3, return_indices=True),
     "aten.adaptive_max_pool2d.default", "no return_indices"),
]


@pytest.mark.parametrize("fn, op, reason", [pytest.param(f, o, r, id=n) for n, f, o, r in GAPS])
def test_pool_gaps_fall_back_as_one_op(device, fn, op, reason):
    """What TT-NN cannot do stays on the host as the single aten op (not its decomposition), with a reason."""
    x = torch.randn(2, 3, 8, 8)
    with torch.no_grad():
        out, option = compile_and_run(fn, (x,), device=device)
        ref = fn(x)
    for o, r in zip(out if isinstance(out, tuple) else (out,), ref if isinstance(ref, tuple) else (ref,)):
        torch.testing.assert_close(o, r)
    assert remaining_aten_ops(option) == [op]
    assert reason in torch_ttnn.lowering_report(option)


def test_max_pool_indices_only_when_used(device):
    """Values only: max_pool2d without return_indices; indices used: return_indices, exact int64 result."""
    x = torch.randn(2, 4, 8, 8)
    option = check_lowered(lambda x: F.max_pool2d(x, 2), (x,), device=device, expect=("max_pool2d",))
    pool = next(n for n in option._out_fx_graphs[0].nodes if getattr(n.target, "__name__", "") == "max_pool2d")
    assert pool.kwargs["return_indices"] is False
    option = check_lowered(lambda x: F.max_pool2d(x, 2, return_indices=True)[1], (x,), device=device,
                           expect=("max_pool2d",))
    pool = next(n for n in option._out_fx_graphs[0].nodes if getattr(n.target, "__name__", "") == "max_pool2d")
    assert pool.kwargs["return_indices"] is True


def test_upsample_decomposition_recognized(device):
    """F.interpolate reaches the backend decomposed into index arithmetic: one ttnn.upsample, no gathers."""
    x = torch.randn(1, 4, 5, 6)
    option = check_lowered(lambda x: F.interpolate(x, scale_factor=2, mode="bilinear"), (x,), device=device,
                           expect=("upsample",))
    targets = ttnn_targets(option)
    assert targets.count("upsample") == 1
    assert not {"gather", "embedding", "arange", "multiply", "add"} & set(targets), targets


def test_fractional_nearest_is_exact_on_the_device_values(device):
    """Nearest resampling by 0/1 matrices in fp32 with HiFi4: exactly torch's result on the bf16 input."""
    x = torch.randn(2, 4, 6, 9)
    f = lambda x: F.interpolate(x, size=(14, 5), mode="nearest")   # noqa: E731
    out, option = compile_and_run(f, (x,), device=device)
    assert remaining_aten_ops(option) == []
    assert torch.equal(out, f(x.to(torch.bfloat16).float()))
