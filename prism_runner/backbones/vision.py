"""Image encoders returning one feature vector per image."""
from __future__ import annotations

import torch
from torch import nn


class SmallCNN(nn.Module):
    """Three conv blocks (width, 2*width, 4*width) with batch norm, then global average pooling.

    Cheap enough for CPU runs on small images (8x8 digits to 32x32); ``out_dim = 4 * width``.
    """

    def __init__(self, in_channels: int = 3, width: int = 32):
        super().__init__()
        w = width

        def block(cin: int, cout: int, stride: int) -> nn.Sequential:
            return nn.Sequential(nn.Conv2d(cin, cout, 3, stride, 1, bias=False),
                                 nn.BatchNorm2d(cout), nn.ReLU(inplace=True))

        self.features = nn.Sequential(
            block(in_channels, w, 1), block(w, w, 1),
            block(w, 2 * w, 2), block(2 * w, 2 * w, 1),
            block(2 * w, 4 * w, 2), block(4 * w, 4 * w, 1),
        )
        self.out_dim = 4 * w

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.features(x).mean(dim=(2, 3))


class ResNetFeatures(nn.Module):
    """A torchvision ResNet without its classifier: (N, C, H, W) -> (N, out_dim)."""

    def __init__(self, net: nn.Module, out_dim: int):
        super().__init__()
        net.fc = nn.Identity()
        self.net = net
        self.out_dim = out_dim

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


def resnet18_cifar(in_channels: int = 3) -> ResNetFeatures:
    """ResNet-18 with the CIFAR stem: 3x3 stride-1 first conv and no max-pool (512-d output)."""
    from torchvision.models import resnet18

    net = resnet18(weights=None)
    net.conv1 = nn.Conv2d(in_channels, 64, kernel_size=3, stride=1, padding=1, bias=False)
    net.maxpool = nn.Identity()
    return ResNetFeatures(net, out_dim=512)


def resnet18(in_channels: int = 3) -> ResNetFeatures:
    """Standard ResNet-18 (7x7 stride-2 stem with max-pool), for images of 64 px and more."""
    from torchvision.models import resnet18 as tv_resnet18

    net = tv_resnet18(weights=None)
    if in_channels != 3:
        net.conv1 = nn.Conv2d(in_channels, 64, kernel_size=7, stride=2, padding=3, bias=False)
    return ResNetFeatures(net, out_dim=512)
