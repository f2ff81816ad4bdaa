"""The torchvision entries of the original README table (60 entries), random weights (weights=None).

Input sizes are the crop sizes of each model's weights.transforms() (224 unless noted). Classifier inputs are
normalized images (standard normal); detection models take images in [0, 1] and resize them themselves.
The detection entries run their post-processing (box decoding, NMS) inside forward: dynamo breaks the graph
there (nonzero / nms have data-dependent shapes), and random heads may return any number of boxes (also 0).
"""
from __future__ import annotations

import torch
import torchvision.models as tvm
from torchvision.models import detection as tvd

from .. import ZooEntry


def _entry(name, fn, shape, kind, original_dtype=None):
    def build():
        model = fn().eval()
        return model, (torch.randn(shape) if kind == "normalized" else torch.rand(shape),)
    props = {"original_dtype": original_dtype} if original_dtype else {}
    return ZooEntry(name, build, source="torchvision", properties=props)


def classifier(name, fn, size=224, original_dtype=None):
    return _entry(name, fn, (1, 3, size, size), "normalized", original_dtype)


def detector(name, fn, h=480, w=640):
    # the original fed a 640x480 COCO image after weights.transforms() (which does not resize)
    return _entry(name, fn, (1, 3, h, w), "unit")


ENTRIES = [
    # tests/models/resnet and resnet50 of the original: ResNets in bf16 on torch.rand input. The eager
    # reference here is fp32 (bf16 is 4-40x slower on these CPUs); the compiled program runs in bf16 on device.
    _entry("ResNet18", lambda: tvm.resnet18(weights=None), (1, 3, 224, 224), "unit", "bfloat16"),
    _entry("ResNet50", lambda: tvm.resnet50(weights=None), (1, 3, 224, 224), "unit", "bfloat16"),
    classifier("MobileNetV2", lambda: tvm.mobilenet_v2(weights=None)),
    # MobileNetSSD: the original resized a COCO image to 320x320 before SSDLite
    detector("MobileNetSSD", lambda: tvd.ssdlite320_mobilenet_v3_large(weights=None, weights_backbone=None),
             320, 320),
    classifier("densenet121", lambda: tvm.densenet121(weights=None)),
    classifier("densenet161", lambda: tvm.densenet161(weights=None)),
    classifier("densenet169", lambda: tvm.densenet169(weights=None)),
    classifier("densenet201", lambda: tvm.densenet201(weights=None)),
    classifier("googlenet", lambda: tvm.googlenet(weights=None, aux_logits=False, transform_input=True,
                                                  init_weights=True)),
    classifier("mobilenet_v2", lambda: tvm.mobilenet_v2(weights=None)),
    classifier("mobilenet_v3_large", lambda: tvm.mobilenet_v3_large(weights=None)),
    classifier("mobilenet_v3_small", lambda: tvm.mobilenet_v3_small(weights=None)),
    classifier("regnet_x_16gf", lambda: tvm.regnet_x_16gf(weights=None)),
    classifier("regnet_x_1_6gf", lambda: tvm.regnet_x_1_6gf(weights=None)),
    classifier("regnet_x_32gf", lambda: tvm.regnet_x_32gf(weights=None)),
    classifier("regnet_x_3_2gf", lambda: tvm.regnet_x_3_2gf(weights=None)),
    classifier("regnet_x_400mf", lambda: tvm.regnet_x_400mf(weights=None)),
    classifier("regnet_x_800mf", lambda: tvm.regnet_x_800mf(weights=None)),
    classifier("regnet_x_8gf", lambda: tvm.regnet_x_8gf(weights=None)),
    classifier("regnet_y_128gf", lambda: tvm.regnet_y_128gf(weights=None), 384),   # SWAG weights: 384 crop
    classifier("regnet_y_16gf", lambda: tvm.regnet_y_16gf(weights=None)),
    classifier("regnet_y_1_6gf", lambda: tvm.regnet_y_1_6gf(weights=None)),
    classifier("regnet_y_32gf", lambda: tvm.regnet_y_32gf(weights=None)),
    classifier("regnet_y_3_2gf", lambda: tvm.regnet_y_3_2gf(weights=None)),
    classifier("regnet_y_400mf", lambda: tvm.regnet_y_400mf(weights=None)),
    classifier("regnet_y_800mf", lambda: tvm.regnet_y_800mf(weights=None)),
    classifier("regnet_y_8gf", lambda: tvm.regnet_y_8gf(weights=None)),
    classifier("resnet101", lambda: tvm.resnet101(weights=None)),
    classifier("resnet152", lambda: tvm.resnet152(weights=None)),
    classifier("resnet18", lambda: tvm.resnet18(weights=None)),
    classifier("resnet34", lambda: tvm.resnet34(weights=None)),
    classifier("resnet50", lambda: tvm.resnet50(weights=None)),
    classifier("resnext101_32x8d", lambda: tvm.resnext101_32x8d(weights=None)),
    classifier("resnext101_64x4d", lambda: tvm.resnext101_64x4d(weights=None)),
    classifier("resnext50_32x4d", lambda: tvm.resnext50_32x4d(weights=None)),
    detector("retinanet_resnet50_fpn", lambda: tvd.retinanet_resnet50_fpn(weights=None, weights_backbone=None)),
    detector("retinanet_resnet50_fpn_v2",
             lambda: tvd.retinanet_resnet50_fpn_v2(weights=None, weights_backbone=None)),
    detector("ssd300_vgg16", lambda: tvd.ssd300_vgg16(weights=None, weights_backbone=None)),
    detector("ssdlite320_mobilenet_v3_large",
             lambda: tvd.ssdlite320_mobilenet_v3_large(weights=None, weights_backbone=None)),
    classifier("swin_b", lambda: tvm.swin_b(weights=None)),
    classifier("swin_s", lambda: tvm.swin_s(weights=None)),
    classifier("swin_t", lambda: tvm.swin_t(weights=None)),
    classifier("swin_v2_b", lambda: tvm.swin_v2_b(weights=None), 256),
    classifier("swin_v2_s", lambda: tvm.swin_v2_s(weights=None), 256),
    classifier("swin_v2_t", lambda: tvm.swin_v2_t(weights=None), 256),
    classifier("vgg11", lambda: tvm.vgg11(weights=None)),
    classifier("vgg11_bn", lambda: tvm.vgg11_bn(weights=None)),
    classifier("vgg13", lambda: tvm.vgg13(weights=None)),
    classifier("vgg13_bn", lambda: tvm.vgg13_bn(weights=None)),
    classifier("vgg16", lambda: tvm.vgg16(weights=None)),
    classifier("vgg16_bn", lambda: tvm.vgg16_bn(weights=None)),
    classifier("vgg19", lambda: tvm.vgg19(weights=None)),
    classifier("vgg19_bn", lambda: tvm.vgg19_bn(weights=None)),
    classifier("vit_b_16", lambda: tvm.vit_b_16(weights=None)),
    classifier("vit_b_32", lambda: tvm.vit_b_32(weights=None)),
    # the original used vit_h_14's DEFAULT weights (SWAG end-to-end) which need 518x518 inputs
    classifier("vit_h_14", lambda: tvm.vit_h_14(weights=None, image_size=518), 518),
    classifier("vit_l_16", lambda: tvm.vit_l_16(weights=None)),
    classifier("vit_l_32", lambda: tvm.vit_l_32(weights=None)),
    classifier("wide_resnet101_2", lambda: tvm.wide_resnet101_2(weights=None)),
    classifier("wide_resnet50_2", lambda: tvm.wide_resnet50_2(weights=None)),
]
