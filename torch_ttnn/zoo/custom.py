"""Models of the original README table whose source lived in other repositories, written here from their
architecture (random weights; nothing is downloaded).

    Yolov3            holli's YOLOv3 (Darknet-53 backbone, three detection heads, raw head outputs)
    YoloV5s           ultralytics yolov5s (v6 layout: C3 blocks, SPPF, Detect with grid decoding), 80 classes
    UNetBrain         mateuszbuda/brain-segmentation-pytorch UNet (in 3, out 1, init_features 32)
    UNetCarvana       the carvana segmentation UNET of the original test (in 3, out 1, features 64..512)
    DetrResNet50      facebookresearch/detr detr_resnet50 (ResNet-50 with frozen batch norm, transformer, heads)
    HandLandmarkNet   a STAND-IN for MediaPipe's hand landmark model (a TFLite model with no PyTorch original):
                      a small MobileNetV3-style regressor with the same outputs (21x3 landmarks, presence,
                      handedness, 21x3 world landmarks) on a 224x224 image

Each class follows the published architecture (layer sizes, activations, the order of operations of the
forward pass), so its aten graph matches what the original compiled; the code is written here.
"""
from __future__ import annotations

import math

import torch
import torch.nn as nn
import torch.nn.functional as F


# ---------------------------------------------------------------------------------------------------------
# YOLOv3 (holli): Darknet-53 + three upsampling heads. forward returns the three raw head maps
# [(B, 255, H/32, W/32), (B, 255, H/16, W/16), (B, 255, H/8, W/8)]; box decoding is post-processing.

class _ConvBNLeaky(nn.Module):
    """Conv (no bias) -> BatchNorm -> LeakyReLU(0.1), 'same' padding."""

    def __init__(self, cin, cout, kernel_size=3, stride=1):
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, kernel_size, stride, (kernel_size - 1) // 2, bias=False)
        self.bn = nn.BatchNorm2d(cout, momentum=0.01)
        self.relu = nn.LeakyReLU(0.1, inplace=True)

    def forward(self, x):
        return self.relu(self.bn(self.conv(x)))


class _DarknetResidual(nn.Module):
    def __init__(self, channels):
        super().__init__()
        self.conv1 = _ConvBNLeaky(channels, channels // 2, 1)
        self.conv2 = _ConvBNLeaky(channels // 2, channels, 3)

    def forward(self, x):
        return x + self.conv2(self.conv1(x))


class Darknet53(nn.Module):
    """Returns the feature maps of every stage (strides 1, 2, 4, 8, 16, 32)."""

    def __init__(self, blocks=(1, 2, 8, 8, 4), width=32):
        super().__init__()
        self.base = _ConvBNLeaky(3, width, 3)
        self.stages = nn.ModuleList()
        for n in blocks:
            self.stages.append(nn.Sequential(_ConvBNLeaky(width, 2 * width, 3, stride=2),
                                             *[_DarknetResidual(2 * width) for _ in range(n)]))
            width *= 2

    def forward(self, x):
        feats = [self.base(x)]
        for stage in self.stages:
            feats.append(stage(feats[-1]))
        return feats


class _YoloHead(nn.Module):
    """Five alternating 1x1/3x3 convs (the branch that continues upwards), then 3x3 + 1x1 conv for the
    detections. Returns (branch, detections)."""

    def __init__(self, cin, mid, out):
        lo, hi = mid
        super().__init__()
        self.branch = nn.Sequential(_ConvBNLeaky(cin, lo, 1), _ConvBNLeaky(lo, hi, 3), _ConvBNLeaky(hi, lo, 1),
                                    _ConvBNLeaky(lo, hi, 3), _ConvBNLeaky(hi, lo, 1))
        self.detect = nn.Sequential(_ConvBNLeaky(lo, hi, 3), nn.Conv2d(hi, out, 1, bias=True))

    def forward(self, x):
        b = self.branch(x)
        return b, self.detect(b)


class Yolov3(nn.Module):
    ANCHORS = (((116, 90), (156, 198), (373, 326)),     # stride 32
               ((30, 61), (62, 45), (59, 119)),         # stride 16
               ((10, 13), (16, 30), (33, 23)))          # stride 8

    def __init__(self, num_classes=80):
        super().__init__()
        out = 3 * (5 + num_classes)
        self.backbone = Darknet53()
        self.head0 = _YoloHead(1024, (512, 1024), out)
        self.lateral1 = _ConvBNLeaky(512, 256, 1)
        self.head1 = _YoloHead(512 + 256, (256, 512), out)
        self.lateral2 = _ConvBNLeaky(256, 128, 1)
        self.head2 = _YoloHead(256 + 128, (128, 256), out)

    def forward(self, x):
        assert x.shape[1] == 3 and x.shape[2] % 32 == 0 and x.shape[3] % 32 == 0
        feats = self.backbone(x)
        b, y0 = self.head0(feats[-1])
        b = F.interpolate(self.lateral1(b), scale_factor=2, mode="nearest")
        b, y1 = self.head1(torch.cat([b, feats[-2]], 1))
        b = F.interpolate(self.lateral2(b), scale_factor=2, mode="nearest")
        _, y2 = self.head2(torch.cat([b, feats[-3]], 1))
        return [y0, y1, y2]


# ---------------------------------------------------------------------------------------------------------
# YOLOv5s (ultralytics v6 layout, depth 0.33, width 0.50). In eval mode Detect decodes the grid and returns
# (predictions (B, N, 85), [raw maps per level]) like the hub model with autoshape=False.

class _ConvBNSiLU(nn.Module):
    def __init__(self, cin, cout, k=1, s=1, p=None, g=1):
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, k, s, k // 2 if p is None else p, groups=g, bias=False)
        self.bn = nn.BatchNorm2d(cout, eps=1e-3, momentum=0.03)
        self.act = nn.SiLU(inplace=True)

    def forward(self, x):
        return self.act(self.bn(self.conv(x)))


class _V5Bottleneck(nn.Module):
    def __init__(self, cin, cout, shortcut=True):
        super().__init__()
        self.cv1 = _ConvBNSiLU(cin, cout, 1)
        self.cv2 = _ConvBNSiLU(cout, cout, 3)
        self.add = shortcut and cin == cout

    def forward(self, x):
        y = self.cv2(self.cv1(x))
        return x + y if self.add else y


class _C3(nn.Module):
    def __init__(self, cin, cout, n=1, shortcut=True):
        super().__init__()
        hidden = cout // 2
        self.cv1 = _ConvBNSiLU(cin, hidden, 1)
        self.cv2 = _ConvBNSiLU(cin, hidden, 1)
        self.cv3 = _ConvBNSiLU(2 * hidden, cout, 1)
        self.m = nn.Sequential(*[_V5Bottleneck(hidden, hidden, shortcut) for _ in range(n)])

    def forward(self, x):
        return self.cv3(torch.cat((self.m(self.cv1(x)), self.cv2(x)), 1))


class _SPPF(nn.Module):
    def __init__(self, cin, cout, k=5):
        super().__init__()
        hidden = cin // 2
        self.cv1 = _ConvBNSiLU(cin, hidden, 1)
        self.cv2 = _ConvBNSiLU(hidden * 4, cout, 1)
        self.m = nn.MaxPool2d(k, 1, k // 2)

    def forward(self, x):
        x = self.cv1(x)
        y1 = self.m(x)
        y2 = self.m(y1)
        return self.cv2(torch.cat((x, y1, y2, self.m(y2)), 1))


class _V5Detect(nn.Module):
    def __init__(self, nc=80, anchors=((10, 13, 16, 30, 33, 23), (30, 61, 62, 45, 59, 119),
                                       (116, 90, 156, 198, 373, 326)), ch=(128, 256, 512), strides=(8, 16, 32)):
        super().__init__()
        self.nc, self.no = nc, nc + 5
        self.nl, self.na = len(anchors), len(anchors[0]) // 2
        self.register_buffer("stride", torch.tensor(strides, dtype=torch.float32))
        # anchors in grid units, as the hub model stores them after its stride check
        a = torch.tensor(anchors, dtype=torch.float32).view(self.nl, -1, 2)
        self.register_buffer("anchors", a / self.stride.view(-1, 1, 1))
        self.m = nn.ModuleList(nn.Conv2d(c, self.no * self.na, 1) for c in ch)

    def _make_grid(self, nx, ny, i):
        shape = 1, self.na, ny, nx, 2
        y = torch.arange(ny, dtype=torch.float32)
        x = torch.arange(nx, dtype=torch.float32)
        yv, xv = torch.meshgrid(y, x, indexing="ij")
        grid = torch.stack((xv, yv), 2).expand(shape) - 0.5
        anchor_grid = (self.anchors[i] * self.stride[i]).view((1, self.na, 1, 1, 2)).expand(shape)
        return grid, anchor_grid

    def forward(self, xs):
        z = []
        xs = list(xs)
        for i in range(self.nl):
            xs[i] = self.m[i](xs[i])
            bs, _, ny, nx = xs[i].shape
            xs[i] = xs[i].view(bs, self.na, self.no, ny, nx).permute(0, 1, 3, 4, 2).contiguous()
            if not self.training:
                grid, anchor_grid = self._make_grid(nx, ny, i)
                xy, wh, conf = xs[i].sigmoid().split((2, 2, self.nc + 1), 4)
                xy = (xy * 2 + grid) * self.stride[i]
                wh = (wh * 2) ** 2 * anchor_grid
                z.append(torch.cat((xy, wh, conf), 4).view(bs, self.na * nx * ny, self.no))
        return xs if self.training else (torch.cat(z, 1), xs)


class YoloV5s(nn.Module):
    """yolov5s: backbone (Conv 6x6/2, C3 x[1,2,3,1], SPPF) + PANet head + Detect; 7,235,389 parameters."""

    def __init__(self, nc=80):
        super().__init__()
        C = _ConvBNSiLU
        self.b0 = C(3, 32, 6, 2, 2)           # P1/2
        self.b1 = C(32, 64, 3, 2)             # P2/4
        self.b2 = _C3(64, 64, 1)
        self.b3 = C(64, 128, 3, 2)            # P3/8
        self.b4 = _C3(128, 128, 2)
        self.b5 = C(128, 256, 3, 2)           # P4/16
        self.b6 = _C3(256, 256, 3)
        self.b7 = C(256, 512, 3, 2)           # P5/32
        self.b8 = _C3(512, 512, 1)
        self.b9 = _SPPF(512, 512, 5)
        self.h10 = C(512, 256, 1, 1)
        self.h13 = _C3(512, 256, 1, shortcut=False)
        self.h14 = C(256, 128, 1, 1)
        self.h17 = _C3(256, 128, 1, shortcut=False)   # P3 out
        self.h18 = C(128, 128, 3, 2)
        self.h20 = _C3(256, 256, 1, shortcut=False)   # P4 out
        self.h21 = C(256, 256, 3, 2)
        self.h23 = _C3(512, 512, 1, shortcut=False)   # P5 out
        self.detect = _V5Detect(nc)
        self.up = nn.Upsample(scale_factor=2, mode="nearest")

    def forward(self, x):
        x = self.b2(self.b1(self.b0(x)))
        p3 = self.b4(self.b3(x))
        p4 = self.b6(self.b5(p3))
        x = self.b9(self.b8(self.b7(p4)))
        h10 = self.h10(x)
        x = self.h13(torch.cat([self.up(h10), p4], 1))
        h14 = self.h14(x)
        out3 = self.h17(torch.cat([self.up(h14), p3], 1))
        out4 = self.h20(torch.cat([self.h18(out3), h14], 1))
        out5 = self.h23(torch.cat([self.h21(out4), h10], 1))
        return self.detect([out3, out4, out5])


# ---------------------------------------------------------------------------------------------------------
# U-Nets

def _brain_block(cin, features):
    return nn.Sequential(
        nn.Conv2d(cin, features, 3, padding=1, bias=False), nn.BatchNorm2d(features), nn.ReLU(inplace=True),
        nn.Conv2d(features, features, 3, padding=1, bias=False), nn.BatchNorm2d(features), nn.ReLU(inplace=True))


class UNetBrain(nn.Module):
    """mateuszbuda's brain-segmentation U-Net: 4 down/up levels, transposed-conv upsampling, sigmoid output."""

    def __init__(self, in_channels=3, out_channels=1, init_features=32):
        super().__init__()
        f = init_features
        self.encoders = nn.ModuleList([_brain_block(in_channels, f), _brain_block(f, 2 * f),
                                       _brain_block(2 * f, 4 * f), _brain_block(4 * f, 8 * f)])
        self.pool = nn.MaxPool2d(2, 2)
        self.bottleneck = _brain_block(8 * f, 16 * f)
        self.upconvs = nn.ModuleList([nn.ConvTranspose2d(c * 2, c, 2, stride=2) for c in (8 * f, 4 * f, 2 * f, f)])
        self.decoders = nn.ModuleList([_brain_block(c * 2, c) for c in (8 * f, 4 * f, 2 * f, f)])
        self.conv = nn.Conv2d(f, out_channels, 1)

    def forward(self, x):
        skips = []
        for enc in self.encoders:
            x = enc(x)
            skips.append(x)
            x = self.pool(x)
        x = self.bottleneck(x)
        for up, dec, skip in zip(self.upconvs, self.decoders, reversed(skips)):
            x = dec(torch.cat((up(x), skip), dim=1))
        return torch.sigmoid(self.conv(x))


class UNetCarvana(nn.Module):
    """The carvana U-Net of the original test: DoubleConv levels 64-128-256-512, bottleneck 1024,
    transposed-conv upsampling, skip concatenated first, 1x1 conv to the logits (no activation)."""

    def __init__(self, in_channels=3, out_channels=1, features=(64, 128, 256, 512)):
        super().__init__()
        self.downs = nn.ModuleList()
        c = in_channels
        for f in features:
            self.downs.append(_brain_block(c, f))
            c = f
        self.pool = nn.MaxPool2d(2, 2)
        self.bottleneck = _brain_block(features[-1], 2 * features[-1])
        self.ups = nn.ModuleList()
        for f in reversed(features):
            self.ups.append(nn.ConvTranspose2d(2 * f, f, 2, stride=2))
            self.ups.append(_brain_block(2 * f, f))
        self.final_conv = nn.Conv2d(features[0], out_channels, 1)

    def forward(self, x):
        skips = []
        for down in self.downs:
            x = down(x)
            skips.append(x)
            x = self.pool(x)
        x = self.bottleneck(x)
        for i, skip in enumerate(reversed(skips)):
            x = self.ups[2 * i](x)
            if x.shape != skip.shape:       # only for sizes not divisible by 16
                x = F.interpolate(x, size=skip.shape[2:], mode="bilinear", align_corners=False)
            x = self.ups[2 * i + 1](torch.cat((skip, x), dim=1))
        return self.final_conv(x)


# ---------------------------------------------------------------------------------------------------------
# DETR (detr_resnet50): ResNet-50 backbone with frozen batch norm -> 1x1 projection to 256 -> transformer
# (6 encoder + 6 decoder post-norm layers, 8 heads, FFN 2048, sine positional encoding, 100 queries)
# -> class (92) and box (3-layer MLP, sigmoid) heads on every decoder layer; the last layer is returned.

class _PositionEmbeddingSine(nn.Module):
    def __init__(self, num_pos_feats=128, temperature=10000, scale=2 * math.pi):
        super().__init__()
        self.num_pos_feats, self.temperature, self.scale = num_pos_feats, temperature, scale

    def forward(self, mask):
        not_mask = ~mask
        y_embed = not_mask.cumsum(1, dtype=torch.float32)
        x_embed = not_mask.cumsum(2, dtype=torch.float32)
        eps = 1e-6
        y_embed = y_embed / (y_embed[:, -1:, :] + eps) * self.scale
        x_embed = x_embed / (x_embed[:, :, -1:] + eps) * self.scale
        dim_t = torch.arange(self.num_pos_feats, dtype=torch.float32, device=mask.device)
        dim_t = self.temperature ** (2 * torch.div(dim_t, 2, rounding_mode="floor") / self.num_pos_feats)
        pos_x = x_embed[:, :, :, None] / dim_t
        pos_y = y_embed[:, :, :, None] / dim_t
        pos_x = torch.stack((pos_x[:, :, :, 0::2].sin(), pos_x[:, :, :, 1::2].cos()), dim=4).flatten(3)
        pos_y = torch.stack((pos_y[:, :, :, 0::2].sin(), pos_y[:, :, :, 1::2].cos()), dim=4).flatten(3)
        return torch.cat((pos_y, pos_x), dim=3).permute(0, 3, 1, 2)


class _DetrEncoderLayer(nn.Module):
    def __init__(self, d_model, nhead, dim_ff, dropout):
        super().__init__()
        self.self_attn = nn.MultiheadAttention(d_model, nhead, dropout=dropout)
        self.linear1, self.linear2 = nn.Linear(d_model, dim_ff), nn.Linear(dim_ff, d_model)
        self.norm1, self.norm2 = nn.LayerNorm(d_model), nn.LayerNorm(d_model)
        self.dropout, self.dropout1, self.dropout2 = nn.Dropout(dropout), nn.Dropout(dropout), nn.Dropout(dropout)

    def forward(self, src, key_padding_mask, pos):
        q = k = src + pos
        src = self.norm1(src + self.dropout1(self.self_attn(q, k, value=src, key_padding_mask=key_padding_mask)[0]))
        src2 = self.linear2(self.dropout(F.relu(self.linear1(src))))
        return self.norm2(src + self.dropout2(src2))


class _DetrDecoderLayer(nn.Module):
    def __init__(self, d_model, nhead, dim_ff, dropout):
        super().__init__()
        self.self_attn = nn.MultiheadAttention(d_model, nhead, dropout=dropout)
        self.multihead_attn = nn.MultiheadAttention(d_model, nhead, dropout=dropout)
        self.linear1, self.linear2 = nn.Linear(d_model, dim_ff), nn.Linear(dim_ff, d_model)
        self.norm1, self.norm2, self.norm3 = nn.LayerNorm(d_model), nn.LayerNorm(d_model), nn.LayerNorm(d_model)
        self.dropout = nn.Dropout(dropout)
        self.dropout1, self.dropout2, self.dropout3 = nn.Dropout(dropout), nn.Dropout(dropout), nn.Dropout(dropout)

    def forward(self, tgt, memory, memory_key_padding_mask, pos, query_pos):
        q = k = tgt + query_pos
        tgt = self.norm1(tgt + self.dropout1(self.self_attn(q, k, value=tgt)[0]))
        tgt2 = self.multihead_attn(query=tgt + query_pos, key=memory + pos, value=memory,
                                   key_padding_mask=memory_key_padding_mask)[0]
        tgt = self.norm2(tgt + self.dropout2(tgt2))
        tgt2 = self.linear2(self.dropout(F.relu(self.linear1(tgt))))
        return self.norm3(tgt + self.dropout3(tgt2))


class _DetrTransformer(nn.Module):
    def __init__(self, d_model=256, nhead=8, num_encoder_layers=6, num_decoder_layers=6, dim_ff=2048,
                 dropout=0.1):
        super().__init__()
        self.encoder_layers = nn.ModuleList(_DetrEncoderLayer(d_model, nhead, dim_ff, dropout)
                                            for _ in range(num_encoder_layers))
        self.decoder_layers = nn.ModuleList(_DetrDecoderLayer(d_model, nhead, dim_ff, dropout)
                                            for _ in range(num_decoder_layers))
        self.decoder_norm = nn.LayerNorm(d_model)
        for p in self.parameters():
            if p.dim() > 1:
                nn.init.xavier_uniform_(p)

    def forward(self, src, mask, query_embed, pos_embed):
        bs = src.shape[0]
        src = src.flatten(2).permute(2, 0, 1)               # (HW, B, C)
        pos_embed = pos_embed.flatten(2).permute(2, 0, 1)
        query_embed = query_embed.unsqueeze(1).repeat(1, bs, 1)
        mask = mask.flatten(1)
        memory = src
        for layer in self.encoder_layers:
            memory = layer(memory, mask, pos_embed)
        out = torch.zeros_like(query_embed)
        intermediate = []
        for layer in self.decoder_layers:
            out = layer(out, memory, mask, pos_embed, query_embed)
            intermediate.append(self.decoder_norm(out))
        return torch.stack(intermediate).transpose(1, 2)   # (layers, B, queries, C)


class _MLP(nn.Module):
    def __init__(self, input_dim, hidden_dim, output_dim, num_layers):
        super().__init__()
        dims = [input_dim] + [hidden_dim] * (num_layers - 1)
        self.layers = nn.ModuleList(nn.Linear(a, b) for a, b in zip(dims, dims[1:] + [output_dim]))

    def forward(self, x):
        for i, layer in enumerate(self.layers):
            x = F.relu(layer(x)) if i < len(self.layers) - 1 else layer(x)
        return x


class DetrResNet50(nn.Module):
    """DETR with a ResNet-50 backbone (torchvision resnet50, weights=None, FrozenBatchNorm2d). The input is one
    unpadded normalized image batch; the padding mask is all False, as for a single image in the original."""

    def __init__(self, num_classes=91, num_queries=100, hidden_dim=256):
        super().__init__()
        import torchvision
        from torchvision.ops.misc import FrozenBatchNorm2d
        resnet = torchvision.models.resnet50(weights=None, norm_layer=FrozenBatchNorm2d)
        self.backbone = nn.Sequential(resnet.conv1, resnet.bn1, resnet.relu, resnet.maxpool,
                                      resnet.layer1, resnet.layer2, resnet.layer3, resnet.layer4)
        self.position_embedding = _PositionEmbeddingSine(hidden_dim // 2)
        self.input_proj = nn.Conv2d(2048, hidden_dim, kernel_size=1)
        self.transformer = _DetrTransformer(d_model=hidden_dim)
        self.query_embed = nn.Embedding(num_queries, hidden_dim)
        self.class_embed = nn.Linear(hidden_dim, num_classes + 1)
        self.bbox_embed = _MLP(hidden_dim, hidden_dim, 4, 3)

    def forward(self, images):
        features = self.backbone(images)
        b, _, h, w = features.shape
        mask = torch.zeros((b, h, w), dtype=torch.bool, device=images.device)
        pos = self.position_embedding(mask).to(features.dtype)
        hs = self.transformer(self.input_proj(features), mask, self.query_embed.weight, pos)
        outputs_class = self.class_embed(hs)
        outputs_coord = self.bbox_embed(hs).sigmoid()
        return {"pred_logits": outputs_class[-1], "pred_boxes": outputs_coord[-1]}


# ---------------------------------------------------------------------------------------------------------
# Hand landmark STAND-IN. MediaPipe's hand landmarker is a TFLite model (no PyTorch original); this is a
# MobileNetV3-style network of the same role and size class: 224x224 RGB in [0, 1] ->
# (landmarks (B, 63) in pixels, hand presence (B, 1), handedness (B, 1), world landmarks (B, 63) in metres).

class _SqueezeExcite(nn.Module):
    def __init__(self, channels, reduction=4):
        super().__init__()
        self.fc1 = nn.Conv2d(channels, channels // reduction, 1)
        self.fc2 = nn.Conv2d(channels // reduction, channels, 1)

    def forward(self, x):
        s = F.adaptive_avg_pool2d(x, 1)
        return x * F.hardsigmoid(self.fc2(F.relu(self.fc1(s))))


class _InvertedResidual(nn.Module):
    def __init__(self, cin, expand, cout, kernel, stride, se, hswish):
        super().__init__()
        act = nn.Hardswish if hswish else nn.ReLU
        layers = []
        if expand != cin:
            layers += [nn.Conv2d(cin, expand, 1, bias=False), nn.BatchNorm2d(expand), act()]
        layers += [nn.Conv2d(expand, expand, kernel, stride, kernel // 2, groups=expand, bias=False),
                   nn.BatchNorm2d(expand), act()]
        if se:
            layers.append(_SqueezeExcite(expand))
        layers += [nn.Conv2d(expand, cout, 1, bias=False), nn.BatchNorm2d(cout)]
        self.block = nn.Sequential(*layers)
        self.residual = stride == 1 and cin == cout

    def forward(self, x):
        y = self.block(x)
        return x + y if self.residual else y


class HandLandmarkNet(nn.Module):
    """Stand-in for MediaPipe's hand landmark model (see the section comment)."""

    # kernel, expansion, out, squeeze-excite, hard-swish, stride
    CONFIG = ((3, 16, 16, False, False, 1), (3, 64, 24, False, False, 2), (3, 72, 24, False, False, 1),
              (5, 72, 40, True, False, 2), (5, 120, 40, True, False, 1), (5, 120, 40, True, False, 1),
              (3, 240, 80, False, True, 2), (3, 200, 80, False, True, 1), (3, 184, 80, False, True, 1),
              (3, 480, 112, True, True, 1), (3, 672, 112, True, True, 1), (5, 672, 160, True, True, 2),
              (5, 960, 160, True, True, 1))

    def __init__(self, num_landmarks=21, image_size=224):
        super().__init__()
        self.image_size = image_size
        layers = [nn.Conv2d(3, 16, 3, 2, 1, bias=False), nn.BatchNorm2d(16), nn.Hardswish()]
        c = 16
        for k, e, o, se, hs, s in self.CONFIG:
            layers.append(_InvertedResidual(c, e, o, k, s, se, hs))
            c = o
        layers += [nn.Conv2d(c, 480, 1, bias=False), nn.BatchNorm2d(480), nn.Hardswish()]
        self.features = nn.Sequential(*layers)
        self.landmarks = nn.Linear(480, num_landmarks * 3)
        self.presence = nn.Linear(480, 1)
        self.handedness = nn.Linear(480, 1)
        self.world_landmarks = nn.Linear(480, num_landmarks * 3)

    def forward(self, image):
        x = torch.flatten(F.adaptive_avg_pool2d(self.features(image), 1), 1)
        landmarks = torch.sigmoid(self.landmarks(x)) * self.image_size
        return (landmarks, torch.sigmoid(self.presence(x)), torch.sigmoid(self.handedness(x)),
                self.world_landmarks(x))
