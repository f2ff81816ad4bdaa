"""Small models written here: MNIST CNN, an MLP, autoencoders, a tiny transformer encoder block."""
from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F


class MnistModel(nn.Module):
    """The classic MNIST CNN: two convolutions, max pooling, dropout, two linear layers."""

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 32, 3, 1)
        self.conv2 = nn.Conv2d(32, 64, 3, 1)
        self.dropout1 = nn.Dropout(0.25)
        self.dropout2 = nn.Dropout(0.5)
        self.fc1 = nn.Linear(9216, 128)
        self.fc2 = nn.Linear(128, 10)

    def forward(self, x):
        x = F.relu(self.conv1(x))
        x = F.relu(self.conv2(x))
        x = F.max_pool2d(x, 2)
        x = self.dropout1(x)
        x = torch.flatten(x, 1)
        x = F.relu(self.fc1(x))
        x = self.dropout2(x)
        x = self.fc2(x)
        return F.log_softmax(x, dim=1)


class LinearAutoencoder(nn.Module):
    """A linear autoencoder for 28x28 images: 784 -> 128 -> 64 -> 12 -> 3 and back.

    sigmoid=False gives the original torch-ttnn 'Autoencoder (linear)' (no output activation)."""

    def __init__(self, sigmoid: bool = True):
        super().__init__()
        dims = [784, 128, 64, 12, 3]
        enc, dec = [], []
        for a, b in zip(dims, dims[1:]):
            enc += [nn.Linear(a, b), nn.ReLU()]
        for a, b in zip(dims[::-1], dims[::-1][1:]):
            dec += [nn.Linear(a, b), nn.ReLU()]
        self.encoder = nn.Sequential(*enc[:-1])
        self.decoder = nn.Sequential(*dec[:-1], *([nn.Sigmoid()] if sigmoid else []))

    def forward(self, x):
        return self.decoder(self.encoder(x))


class ConvAutoencoder(nn.Module):
    """A convolutional autoencoder for 1x28x28 images.

    sigmoid=False gives the original torch-ttnn 'Autoencoder (conv)' (no output activation)."""

    def __init__(self, sigmoid: bool = True):
        super().__init__()
        self.sigmoid = sigmoid
        self.enc1 = nn.Conv2d(1, 16, 3, padding=1)
        self.enc2 = nn.Conv2d(16, 4, 3, padding=1)
        self.pool = nn.MaxPool2d(2, 2)
        self.dec1 = nn.ConvTranspose2d(4, 16, 2, stride=2)
        self.dec2 = nn.ConvTranspose2d(16, 1, 2, stride=2)

    def forward(self, x):
        x = self.pool(F.relu(self.enc1(x)))
        x = self.pool(F.relu(self.enc2(x)))
        x = F.relu(self.dec1(x))
        x = self.dec2(x)
        return torch.sigmoid(x) if self.sigmoid else x


class MLP(nn.Module):
    def __init__(self, dims=(64, 256, 256, 10)):
        super().__init__()
        layers = []
        for a, b in zip(dims, dims[1:]):
            layers += [nn.Linear(a, b), nn.GELU()]
        self.net = nn.Sequential(*layers[:-1])

    def forward(self, x):
        return self.net(x)


class SmallCNN(nn.Module):
    """Conv + batch norm + ReLU + pooling blocks, global average pooling and a classifier."""

    def __init__(self, classes=10):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(3, 16, 3, padding=1, bias=False), nn.BatchNorm2d(16), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(16, 32, 3, padding=1, bias=False), nn.BatchNorm2d(32), nn.ReLU(), nn.AvgPool2d(2),
            nn.Conv2d(32, 64, 3, stride=2, padding=1), nn.ReLU(), nn.AdaptiveAvgPool2d(1))
        self.classifier = nn.Linear(64, classes)

    def forward(self, x):
        return self.classifier(torch.flatten(self.features(x), 1))


class TransformerBlock(nn.Module):
    """A pre-norm transformer encoder block with multi-head self-attention and a GELU MLP."""

    def __init__(self, dim=128, heads=4, mlp=512):
        super().__init__()
        self.heads = heads
        self.ln1 = nn.LayerNorm(dim)
        self.qkv = nn.Linear(dim, 3 * dim)
        self.proj = nn.Linear(dim, dim)
        self.ln2 = nn.LayerNorm(dim)
        self.fc1 = nn.Linear(dim, mlp)
        self.fc2 = nn.Linear(mlp, dim)

    def forward(self, x, mask):
        b, s, d = x.shape
        h = self.ln1(x)
        q, k, v = self.qkv(h).split(d, dim=-1)
        q, k, v = (t.reshape(b, s, self.heads, d // self.heads).transpose(1, 2) for t in (q, k, v))
        att = (q @ k.transpose(-2, -1)) / (d // self.heads) ** 0.5 + mask
        att = att.softmax(dim=-1)
        y = (att @ v).transpose(1, 2).reshape(b, s, d)
        x = x + self.proj(y)
        return x + self.fc2(F.gelu(self.fc1(self.ln2(x))))


def _seeded(fn):
    def build():
        torch.manual_seed(0)
        return fn()
    return build


def register_all(register) -> None:
    register("mnist", _seeded(lambda: (MnistModel().eval(), (torch.rand(1, 1, 28, 28),))),
             description="MNIST CNN (conv, max pool, linear, log_softmax)")
    register("mlp", _seeded(lambda: (MLP().eval(), (torch.randn(8, 64),))), description="3-layer GELU MLP")
    register("autoencoder-linear", _seeded(lambda: (LinearAutoencoder().eval(), (torch.rand(1, 784),))),
             description="linear autoencoder")
    register("autoencoder-conv", _seeded(lambda: (ConvAutoencoder().eval(), (torch.rand(1, 1, 28, 28),))),
             description="convolutional autoencoder")
    register("small-cnn", _seeded(lambda: (SmallCNN().eval(), (torch.randn(2, 3, 32, 32),))),
             description="CNN with conv, batch norm, pooling")
    register("transformer-block", _seeded(lambda: (TransformerBlock().eval(),
                                                   (torch.randn(2, 40, 128), torch.zeros(2, 1, 40, 40)))),
             description="transformer encoder block with attention")
