"""Zoo: the timm entries of the original README table (14 entries), random weights (pretrained=False).

The input size is the one of each model's pretrained_cfg (what timm's data config gives the original test);
the test checks that it still matches timm's registry. Inputs are normalized images (standard normal).
"""
from __future__ import annotations

import time
from importlib.util import find_spec

import pytest
import torch

pytestmark = pytest.mark.skipif(find_spec("timm") is None, reason="needs the zoo extra (timm)")

ENTRIES = [
    ("dla34.in1k", 224),
    ("ese_vovnet19b_dw.ra_in1k", 224),
    ("ghostnet_100.in1k", 224),
    ("ghostnetv2_100.in1k", 224),
    ("hrnet_w18.ms_aug_in1k", 224),
    ("inception_v4.tf_in1k", 299),
    ("mixer_b16_224.goog_in21k", 224),       # in21k head: 21843 classes
    ("mobilenetv1_100.ra4_e3600_r224_in1k", 224),
    ("tf_efficientnet_lite0.in1k", 224),
    ("tf_efficientnet_lite1.in1k", 240),
    ("tf_efficientnet_lite2.in1k", 260),
    ("tf_efficientnet_lite3.in1k", 300),
    ("tf_efficientnet_lite4.in1k", 380),
    ("xception71.tf_in1k", 299),
]


@pytest.mark.parametrize("name,size", [pytest.param(n, s, id=n) for n, s in ENTRIES])
def test_timm(name, size, record_property):
    import timm

    record_property("model_name", name)
    record_property("mode", "eval")
    torch.manual_seed(0)
    model = timm.create_model(name, pretrained=False).eval()
    assert tuple(model.pretrained_cfg["input_size"]) == (3, size, size)
    inputs = (torch.randn(1, 3, size, size),)
    t0 = time.perf_counter()
    with torch.no_grad():
        outputs = model(*inputs)
    record_property("eager_ms", round((time.perf_counter() - t0) * 1000, 1))
    record_property("torch_ttnn", (model, inputs, outputs))
