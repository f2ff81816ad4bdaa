"""Zoo: entries of the original README table whose model lived in another repository (15 entries).

The architectures are written in torch_ttnn/zoo/custom.py and small.py, or come from a pip package that ships
the same architecture (pytorchcv, mlp-mixer-pytorch, diffusers). Random weights, fixed seed, no downloads.
Where the original ran in bf16 the eager reference here is fp32 (bf16 is 4-40x slower on these CPUs);
the compiled program runs in bf16 on the device either way.
"""
from __future__ import annotations

import time
from importlib.util import find_spec

import pytest
import torch
import torch.nn as nn

from torch_ttnn.zoo import custom, small

needs = {pkg: pytest.mark.skipif(find_spec(pkg) is None, reason=f"needs the zoo extra ({pkg})")
         for pkg in ("pytorchcv", "mlp_mixer_pytorch", "diffusers")}


def _start(record_property, name, original_dtype=None, mode="eval"):
    record_property("model_name", name)
    record_property("mode", mode)
    if original_dtype:
        record_property("original_dtype", original_dtype)
    torch.manual_seed(0)


def _run_eval(record_property, model, inputs):
    """Run an eval entry eagerly and record it (inputs: tuple for model(*inputs) or dict for model(**inputs))."""
    model = model.eval()
    t0 = time.perf_counter()
    with torch.no_grad():
        outputs = model(**inputs) if isinstance(inputs, dict) else model(*inputs)
    record_property("eager_ms", round((time.perf_counter() - t0) * 1000, 1))
    record_property("torch_ttnn", (model, inputs, outputs))
    return outputs


def _mnist_image():
    # an MNIST digit after ToTensor(): values in [0, 1]
    return torch.rand(1, 1, 28, 28)


def test_autoencoder_conv(record_property):
    # tests/models/autoencoder_conv/test_autoencoder_conv_v2.py (ConvAE, bf16; MNIST sample, normalized)
    _start(record_property, "Autoencoder (conv)", "bfloat16")
    model = small.ConvAutoencoder(sigmoid=False)
    x = (_mnist_image() - 0.1307) / 0.3081
    _run_eval(record_property, model, (x,))


def test_autoencoder_linear(record_property):
    # tests/models/autoencoder_linear (LinearAE 784-128-64-12-3 and back, bf16; MNIST sample, normalized)
    _start(record_property, "Autoencoder (linear)", "bfloat16")
    model = small.LinearAutoencoder(sigmoid=False)
    x = (torch.rand(1, 784) - 0.1307) / 0.3081
    _run_eval(record_property, model, (x,))


def test_mnist_eval(record_property):
    # tests/models/mnist (bf16 in the original)
    _start(record_property, "Mnist", "bfloat16")
    _run_eval(record_property, small.MnistModel(), (_mnist_image(),))


def test_mnist_train(record_property):
    # tests/models/mnist in train mode: model.train() with dropout p=0 (as the original, so that eager and
    # compiled runs are comparable), input requires grad, loss = mean(output), backward. The plugin compiles
    # the loss function (forward + loss); the eager backward here checks that gradients flow.
    _start(record_property, "Mnist", "bfloat16", mode="train")
    model = small.MnistModel().train()
    for m in model.modules():
        if isinstance(m, nn.Dropout):
            m.p = 0.0
    x = _mnist_image().requires_grad_(True)

    def mnist_loss(x):
        return model(x).mean()

    t0 = time.perf_counter()
    loss = mnist_loss(x)
    loss.backward()
    record_property("eager_ms", round((time.perf_counter() - t0) * 1000, 1))
    assert x.grad is not None and x.grad.shape == x.shape
    record_property("torch_ttnn", (mnist_loss, (x,), loss.detach()))


def test_detr(record_property):
    # torch.hub facebookresearch/detr detr_resnet50 on zidane.jpg (720x1280), normalized
    _start(record_property, "DETR")
    model = custom.DetrResNet50()
    _run_eval(record_property, model, (torch.randn(1, 3, 720, 1280),))


@needs["pytorchcv"]
def test_hardnet(record_property):
    # torch.hub PingoLH/Pytorch-HarDNet hardnet68. Built with pytorchcv's HarDNet-68 (same architecture,
    # 17.57M parameters) instead of writing it here.
    from pytorchcv.model_provider import get_model
    _start(record_property, "HardNet")
    model = get_model("hardnet68", pretrained=False)
    _run_eval(record_property, model, (torch.randn(1, 3, 224, 224),))


@needs["pytorchcv"]
def test_openpose_v2(record_property):
    # tests/models/openpose/test_openpose_v2.py: lightweight OpenPose (MobileNet, CMU-Pan COCO) from pytorchcv
    from pytorchcv.model_provider import get_model
    _start(record_property, "OpenPose V2")
    model = get_model("lwopenpose2d_mobilenet_cmupan_coco", pretrained=False)
    _run_eval(record_property, model, (torch.randn(1, 3, 224, 224),))


@needs["mlp_mixer_pytorch"]
def test_mlpmixer(record_property):
    # lucidrains/mlp-mixer-pytorch
    from mlp_mixer_pytorch import MLPMixer
    _start(record_property, "MLPMixer")
    model = MLPMixer(image_size=256, channels=3, patch_size=16, dim=512, depth=12, num_classes=1000)
    _run_eval(record_property, model, (torch.randn(1, 3, 256, 256),))


@needs["diffusers"]
def test_stable_diffusion_v2(record_property):
    # The UNet of CompVis/stable-diffusion-v1-4 (bf16 in the original), one denoising step on 64x64 latents
    # (a 512x512 image). The text embeddings come from CLIP ViT-L/14 in the original: random (1, 9, 768) here.
    from diffusers import UNet2DConditionModel
    _start(record_property, "Stable Diffusion V2", "bfloat16")
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
    _run_eval(record_property, model, inputs)


def test_unet(record_property):
    # torch.hub mateuszbuda/brain-segmentation-pytorch unet (in 3, out 1, init_features 32), 256x256 MRI slice
    _start(record_property, "U-Net")
    model = custom.UNetBrain(in_channels=3, out_channels=1, init_features=32)
    _run_eval(record_property, model, (torch.randn(1, 3, 256, 256),))


def test_unet_brain(record_property):
    # the same hub model as "U-Net" (a separate entry of the original table)
    _start(record_property, "Unet-brain")
    model = custom.UNetBrain(in_channels=3, out_channels=1, init_features=32)
    _run_eval(record_property, model, (torch.randn(1, 3, 256, 256),))


def test_unet_carvana(record_property):
    # tests/models/unet_carvana: the carvana UNET (in 3, out 1) on a torch.rand 224x224 image
    _start(record_property, "Unet-carvana")
    model = custom.UNetCarvana(in_channels=3, out_channels=1)
    _run_eval(record_property, model, (torch.rand(1, 3, 224, 224),))


def test_yolov3(record_property):
    # tests/models/yolov3: holli's Yolov3(num_classes=80) on a 512x512 image in [0, 1]; raw head outputs
    _start(record_property, "YOLOv3")
    model = custom.Yolov3(num_classes=80)
    _run_eval(record_property, model, (torch.rand(1, 3, 512, 512),))


def test_yolov5(record_property):
    # torch.hub ultralytics/yolov5 yolov5s with autoshape=False on a 512x512 image in [0, 1]
    _start(record_property, "YOLOv5")
    model = custom.YoloV5s(nc=80)
    _run_eval(record_property, model, (torch.rand(1, 3, 512, 512),))


def test_hand_landmark(record_property):
    # STAND-IN: the original ran MediaPipe's HandLandmarker (a TFLite model, no PyTorch original). This is a
    # MobileNetV3-style landmark regressor written here with the same inputs and outputs (224x224 RGB in
    # [0, 1] -> 21x3 landmarks, presence, handedness, 21x3 world landmarks), not MediaPipe's network.
    _start(record_property, "Hand Landmark")
    record_property("stand_in", "MobileNetV3-style hand landmark regressor written here (not MediaPipe)")
    model = custom.HandLandmarkNet()
    _run_eval(record_property, model, (torch.rand(1, 3, 224, 224),))
