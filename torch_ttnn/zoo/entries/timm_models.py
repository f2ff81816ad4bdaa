"""The timm entries of the original README table (14 entries), random weights (pretrained=False).

The input size is the one of each model's pretrained_cfg (what timm's data config gave the original test);
the builder checks that it still matches timm's registry. Inputs are normalized images (standard normal).
"""
from __future__ import annotations

import torch

from .. import ZooEntry


def _timm(name, size):
    def build():
        import timm
        model = timm.create_model(name, pretrained=False).eval()
        cfg = tuple(model.pretrained_cfg["input_size"])
        if cfg != (3, size, size):
            raise RuntimeError(f"timm's {name} now expects input {cfg}, the zoo entry says (3, {size}, {size})")
        return model, (torch.randn(1, 3, size, size),)
    return ZooEntry(name, build, source="timm", requires=("timm",))


ENTRIES = [
    _timm("dla34.in1k", 224),
    _timm("ese_vovnet19b_dw.ra_in1k", 224),
    _timm("ghostnet_100.in1k", 224),
    _timm("ghostnetv2_100.in1k", 224),
    _timm("hrnet_w18.ms_aug_in1k", 224),
    _timm("inception_v4.tf_in1k", 299),
    _timm("mixer_b16_224.goog_in21k", 224),       # in21k head: 21843 classes
    _timm("mobilenetv1_100.ra4_e3600_r224_in1k", 224),
    _timm("tf_efficientnet_lite0.in1k", 224),
    _timm("tf_efficientnet_lite1.in1k", 240),
    _timm("tf_efficientnet_lite2.in1k", 260),
    _timm("tf_efficientnet_lite3.in1k", 300),
    _timm("tf_efficientnet_lite4.in1k", 380),
    _timm("xception71.tf_in1k", 299),
]
