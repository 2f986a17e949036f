"""The CIFAR family of He et al. (2015, sec. 4.2): plain and residual nets of 6n+2 layers.

A 3x3 stem conv with 16 channels, three stages of n basic blocks (16, 32, 64 channels at
32x32, 16x16 and 8x8 pixels), global average pooling and one linear layer: 1 + 6n + 1
weighted layers. A plain net is the same code with the shortcut switched off, so a plain
net and a residual net of the same depth differ in nothing else (and, with shortcut "A",
have exactly the same parameters).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

STAGE_WIDTHS = (16, 32, 64)


def _conv3x3(in_channels: int, out_channels: int, stride: int, bias: bool) -> nn.Conv2d:
    return nn.Conv2d(in_channels, out_channels, 3, stride=stride, padding=1, bias=bias)


def _norm(channels: int, batchnorm: bool) -> nn.Module:
    return nn.BatchNorm2d(channels) if batchnorm else nn.Identity()


class ZeroPadShortcut(nn.Module):
    """Option A of the paper: identity, subsampled and zero-padded where the shape changes.

    It has no parameters, which is why plain-N and ResNet-N have equal parameter counts.
    """

    def __init__(self, in_channels: int, out_channels: int, stride: int):
        super().__init__()
        self.stride = stride
        self.extra_channels = out_channels - in_channels

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.stride > 1:
            x = x[:, :, :: self.stride, :: self.stride]
        if self.extra_channels:
            x = F.pad(x, (0, 0, 0, 0, 0, self.extra_channels))
        return x


def projection_shortcut(in_channels: int, out_channels: int, stride: int, batchnorm: bool) -> nn.Module:
    """Option B: a 1x1 convolution (and BN) where the shape changes."""
    return nn.Sequential(
        nn.Conv2d(in_channels, out_channels, 1, stride=stride, bias=not batchnorm),
        _norm(out_channels, batchnorm),
    )


class BasicBlock(nn.Module):
    """Two 3x3 convs; with a shortcut it computes relu(F(x) + shortcut(x)), without relu(F(x))."""

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        stride: int = 1,
        shortcut: str | None = "A",
        batchnorm: bool = True,
    ):
        super().__init__()
        bias = not batchnorm  # a bias in front of a BN is a dead parameter
        self.conv1 = _conv3x3(in_channels, out_channels, stride, bias)
        self.bn1 = _norm(out_channels, batchnorm)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = _conv3x3(out_channels, out_channels, 1, bias)
        self.bn2 = _norm(out_channels, batchnorm)
        self.shortcut = self._make_shortcut(in_channels, out_channels, stride, shortcut, batchnorm)

    @staticmethod
    def _make_shortcut(in_channels, out_channels, stride, shortcut, batchnorm) -> nn.Module | None:
        if shortcut is None:
            return None
        if stride == 1 and in_channels == out_channels:
            return nn.Identity()
        if shortcut == "A":
            return ZeroPadShortcut(in_channels, out_channels, stride)
        return projection_shortcut(in_channels, out_channels, stride, batchnorm)

    def residual(self, x: torch.Tensor) -> torch.Tensor:
        """F(x): the branch, after its last BN and before the addition."""
        return self.bn2(self.conv2(self.relu(self.bn1(self.conv1(x)))))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.residual(x)
        if self.shortcut is not None:
            out = out + self.shortcut(x)
        return self.relu(out)


class CifarNet(nn.Module):
    """Plain or residual net of depth 6n+2 for 32x32 inputs."""

    def __init__(
        self,
        depth: int,
        residual: bool,
        shortcut: str = "A",
        batchnorm: bool = True,
        num_classes: int = 10,
        init: str = "kaiming",
    ):
        super().__init__()
        n = blocks_per_stage(depth)
        self.depth = depth
        self.residual = residual
        self.conv1 = _conv3x3(3, STAGE_WIDTHS[0], 1, bias=not batchnorm)
        self.bn1 = _norm(STAGE_WIDTHS[0], batchnorm)
        self.relu = nn.ReLU(inplace=True)
        stages = []
        in_channels = STAGE_WIDTHS[0]
        for index, width in enumerate(STAGE_WIDTHS):
            blocks = []
            for b in range(n):
                stride = 2 if index > 0 and b == 0 else 1
                blocks.append(
                    BasicBlock(in_channels, width, stride, shortcut if residual else None, batchnorm)
                )
                in_channels = width
            stages.append(nn.Sequential(*blocks))
        self.layer1, self.layer2, self.layer3 = stages
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(STAGE_WIDTHS[-1], num_classes)
        if init == "kaiming":
            _kaiming_init(self)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.relu(self.bn1(self.conv1(x)))
        x = self.layer3(self.layer2(self.layer1(x)))
        return self.fc(torch.flatten(self.avgpool(x), 1))


def blocks_per_stage(depth: int) -> int:
    """n for a depth of 6n+2; ValueError for any other depth."""
    if depth < 8 or (depth - 2) % 6:
        valid = ", ".join(str(6 * n + 2) for n in range(1, 10)) + ", ..., 110, ..., 1202"
        raise ValueError(
            f"depth {depth} is not of the form 6n+2 (n >= 1): a CIFAR net has a stem conv, "
            f"three stages of n two-conv blocks and a linear layer. Valid depths: {valid}."
        )
    return (depth - 2) // 6


def _kaiming_init(model: nn.Module) -> None:
    """He et al. (2015a, arXiv 1502.01852) init for ReLU nets, as torchvision's ResNet does it.

    The alternative, ``init="pytorch"``, keeps PyTorch's per-layer defaults (weights with
    a sixth of the weight variance a ReLU net needs): what a net gets when nobody chose an init.
    """
    for m in model.modules():
        if isinstance(m, nn.Conv2d):
            nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.BatchNorm2d):
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)
