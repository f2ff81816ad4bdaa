"""The entries of the original README table whose model lived in another repository (15 entries, MNIST twice).

The architectures are written in torch_ttnn/zoo/custom.py and small.py, or come from a pip package that ships
the same architecture (pytorchcv, mlp-mixer-pytorch, diffusers). Random weights, fixed seed, no downloads.
Where the original ran in bf16 the eager reference here is fp32 (bf16 is 4-40x slower on these CPUs); the
compiled program runs in bf16 on the device either way.
"""
from __future__ import annotations

import torch
import torch.nn as nn

from .. import ZooEntry, custom, small

BF16 = {"original_dtype": "bfloat16"}


def _mnist_image():
    # an MNIST digit after ToTensor(): values in [0, 1]
    return torch.rand(1, 1, 28, 28)


def _autoencoder_conv():
    # tests/models/autoencoder_conv/test_autoencoder_conv_v2.py (ConvAE, bf16; MNIST sample, normalized)
    model = small.ConvAutoencoder(sigmoid=False).eval()
    return model, ((_mnist_image() - 0.1307) / 0.3081,)


def _autoencoder_linear():
    # tests/models/autoencoder_linear (LinearAE 784-128-64-12-3 and back, bf16; MNIST sample, normalized)
    model = small.LinearAutoencoder(sigmoid=False).eval()
    return model, ((torch.rand(1, 784) - 0.1307) / 0.3081,)


def _mnist_train():
    # tests/models/mnist in train mode: model.train() with dropout p=0 (as the original, so that eager and
    # compiled runs are comparable), input requires grad, loss = mean(output). The plugin compiles the loss
    # function (forward + loss); the test's eager backward checks that gradients flow.
    model = small.MnistModel().train()
    for m in model.modules():
        if isinstance(m, nn.Dropout):
            m.p = 0.0
    x = _mnist_image().requires_grad_(True)

    def mnist_loss(x):
        return model(x).mean()
    return mnist_loss, (x,)


def _pytorchcv(name):
    def build():
        from pytorchcv.model_provider import get_model
        return get_model(name, pretrained=False).eval(), (torch.randn(1, 3, 224, 224),)
    return build


def _mlpmixer():
    # lucidrains/mlp-mixer-pytorch
    from mlp_mixer_pytorch import MLPMixer
    model = MLPMixer(image_size=256, channels=3, patch_size=16, dim=512, depth=12, num_classes=1000)
    return model.eval(), (torch.randn(1, 3, 256, 256),)


def _stable_diffusion_unet():
    # The UNet of CompVis/stable-diffusion-v1-4 (bf16 in the original), one denoising step on 64x64 latents
    # (a 512x512 image). The text embeddings come from CLIP ViT-L/14 in the original: random (1, 9, 768) here.
    from diffusers import UNet2DConditionModel
    model = UNet2DConditionModel(
        sample_size=64, in_channels=4, out_channels=4, center_input_sample=False, flip_sin_to_cos=True,
        freq_shift=0,
        down_block_types=("CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "DownBlock2D"),
        up_block_types=("UpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D"),
        block_out_channels=(320, 640, 1280, 1280), layers_per_block=2, downsample_padding=1,
        mid_block_scale_factor=1, act_fn="silu", norm_num_groups=32, norm_eps=1e-5, cross_attention_dim=768,
        attention_head_dim=8)
    inputs = {"sample": torch.randn(1, 4, 64, 64), "timestep": 0,
              "encoder_hidden_states": torch.randn(1, 9, 768)}
    return model.eval(), inputs


def _on(build_model, shape, kind="normal"):
    def build():
        model = build_model().eval()
        return model, (torch.randn(shape) if kind == "normal" else torch.rand(shape),)
    return build


def _other(name, build, properties=None, requires=(), mode="eval"):
    return ZooEntry(name, build, mode=mode, source="other", properties=dict(properties or {}), requires=requires)


ENTRIES = [
    _other("Autoencoder (conv)", _autoencoder_conv, BF16),
    _other("Autoencoder (linear)", _autoencoder_linear, BF16),
    # tests/models/mnist (bf16 in the original)
    _other("Mnist", lambda: (small.MnistModel().eval(), (_mnist_image(),)), BF16),
    _other("Mnist", _mnist_train, BF16, mode="train"),
    # torch.hub facebookresearch/detr detr_resnet50 on zidane.jpg (720x1280), normalized
    _other("DETR", _on(custom.DetrResNet50, (1, 3, 720, 1280))),
    # torch.hub PingoLH/Pytorch-HarDNet hardnet68. Built with pytorchcv's HarDNet-68 (same architecture,
    # 17.57M parameters) instead of writing it here.
    _other("HardNet", _pytorchcv("hardnet68"), requires=("pytorchcv",)),
    # tests/models/openpose/test_openpose_v2.py: lightweight OpenPose (MobileNet, CMU-Pan COCO) from pytorchcv
    _other("OpenPose V2", _pytorchcv("lwopenpose2d_mobilenet_cmupan_coco"), requires=("pytorchcv",)),
    _other("MLPMixer", _mlpmixer, requires=("mlp_mixer_pytorch",)),
    _other("Stable Diffusion V2", _stable_diffusion_unet, BF16, requires=("diffusers",)),
    # torch.hub mateuszbuda/brain-segmentation-pytorch unet (in 3, out 1, init_features 32), 256x256 MRI slice
    _other("U-Net", _on(lambda: custom.UNetBrain(in_channels=3, out_channels=1, init_features=32),
                        (1, 3, 256, 256))),
    # the same hub model as "U-Net" (a separate entry of the original table)
    _other("Unet-brain", _on(lambda: custom.UNetBrain(in_channels=3, out_channels=1, init_features=32),
                             (1, 3, 256, 256))),
    # tests/models/unet_carvana: the carvana UNET (in 3, out 1) on a torch.rand 224x224 image
    _other("Unet-carvana", _on(lambda: custom.UNetCarvana(in_channels=3, out_channels=1), (1, 3, 224, 224),
                               "unit")),
    # tests/models/yolov3: holli's Yolov3(num_classes=80) on a 512x512 image in [0, 1]; raw head outputs
    _other("YOLOv3", _on(lambda: custom.Yolov3(num_classes=80), (1, 3, 512, 512), "unit")),
    # torch.hub ultralytics/yolov5 yolov5s with autoshape=False on a 512x512 image in [0, 1]
    _other("YOLOv5", _on(lambda: custom.YoloV5s(nc=80), (1, 3, 512, 512), "unit")),
    # STAND-IN: the original ran MediaPipe's HandLandmarker (a TFLite model, no PyTorch original). This is a
    # MobileNetV3-style landmark regressor written here with the same inputs and outputs (224x224 RGB in
    # [0, 1] -> 21x3 landmarks, presence, handedness, 21x3 world landmarks), not MediaPipe's network.
    _other("Hand Landmark", _on(custom.HandLandmarkNet, (1, 3, 224, 224), "unit"),
           {"stand_in": "MobileNetV3-style hand landmark regressor written here (not MediaPipe)"}),
]
