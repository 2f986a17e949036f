"""The CIFAR family of He et al. (2015, sec. 4.2): plain and residual nets of 6n+2 layers.

A 3x3 stem conv with 16 channels, three stages of n basic blocks (16, 32, 64 channels at
32x32, 16x16 and 8x8 pixels), global average pooling and one linear layer: 1 + 6n + 1
weighted layers. A plain net is the same code with the shortcut switched off, so a plain
net and a residual net of the same depth differ in nothing else (and, with shortcut "A",
have exactly the same parameters).

The variants of He et al. (2016: how the branch and the shortcut are scaled, gated or
dropped, and where BN and ReLU sit) are a block and a net of their own, in ``variants.py``;
a net is built with them only when a variant option is given.
"""

from __future__ import annotations

from collections.abc import Iterable

import torch
import torch.nn.functional as F
from torch import nn

STAGE_WIDTHS = (16, 32, 64)
SHORTCUTS = ("A", "B", "conv")
INITS = ("kaiming", "pytorch")


def conv3x3(in_channels: int, out_channels: int, stride: int, bias: bool) -> nn.Conv2d:
    return nn.Conv2d(in_channels, out_channels, 3, stride=stride, padding=1, bias=bias)


def norm(channels: int, batchnorm: bool) -> nn.Module:
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
    """Option B (where the shape changes) and the "1x1 conv shortcut" (everywhere): conv + BN."""
    return nn.Sequential(
        nn.Conv2d(in_channels, out_channels, 1, stride=stride, bias=not batchnorm),
        norm(out_channels, batchnorm),
    )


def make_shortcut(
    in_channels: int, out_channels: int, stride: int, shortcut: str | None, batchnorm: bool
) -> nn.Module | None:
    """The shortcut of option ``shortcut`` (see :data:`SHORTCUTS`); None for a plain block."""
    if shortcut is None:
        return None
    if shortcut == "conv":
        return projection_shortcut(in_channels, out_channels, stride, batchnorm)
    if stride == 1 and in_channels == out_channels:
        return nn.Identity()
    if shortcut == "A":
        return ZeroPadShortcut(in_channels, out_channels, stride)
    return projection_shortcut(in_channels, out_channels, stride, batchnorm)


class BasicBlock(nn.Module):
    """Two 3x3 convs: relu(F(x) + shortcut(x)), or relu(F(x)) in a plain net (``shortcut=None``)."""

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
        self.conv1 = conv3x3(in_channels, out_channels, stride, bias)
        self.bn1 = norm(out_channels, batchnorm)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = conv3x3(out_channels, out_channels, 1, bias)
        self.bn2 = norm(out_channels, batchnorm)
        self.shortcut = make_shortcut(in_channels, out_channels, stride, shortcut, batchnorm)

    def residual(self, x: torch.Tensor) -> torch.Tensor:
        """F(x): the branch, up to the point where it meets the shortcut."""
        return self.bn2(self.conv2(self.relu(self.bn1(self.conv1(x)))))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.residual(x)
        if self.shortcut is not None:
            out = out + self.shortcut(x)
        return self.relu(out)


class CifarNet(nn.Module):
    """Plain or residual net of depth 6n+2 for 32x32 inputs.

    ``block`` builds each block, called as :class:`BasicBlock` is; ``VariantNet`` (in
    ``variants.py``) passes the blocks of He et al. (2016).
    """

    def __init__(
        self,
        depth: int,
        shortcuts: bool,
        shortcut: str = "A",
        batchnorm: bool = True,
        num_classes: int = 10,
        init: str = "kaiming",
        block=BasicBlock,
    ):
        super().__init__()
        n = blocks_per_stage(depth)
        self.conv1 = conv3x3(3, STAGE_WIDTHS[0], 1, bias=not batchnorm)
        self.bn1 = norm(STAGE_WIDTHS[0], batchnorm)
        self.relu = nn.ReLU(inplace=True)
        stages = []
        in_channels = STAGE_WIDTHS[0]
        for index, width in enumerate(STAGE_WIDTHS):
            blocks = []
            for b in range(n):
                stride = 2 if index > 0 and b == 0 else 1
                blocks.append(
                    block(in_channels, width, stride, shortcut if shortcuts else None, batchnorm)
                )
                in_channels = width
            stages.append(nn.Sequential(*blocks))
        self.layer1, self.layer2, self.layer3 = stages
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(STAGE_WIDTHS[-1], num_classes)
        if init == "kaiming":
            kaiming_init(self.modules())

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


def kaiming_init(modules: Iterable[nn.Module]) -> None:
    """He et al. (2015a, arXiv 1502.01852) init for ReLU nets, as torchvision's ResNet does it.

    The alternative, ``init="pytorch"``, keeps PyTorch's per-layer defaults (weights with
    a sixth of the weight variance a ReLU net needs): what a net gets when nobody chose an init.
    """
    for m in modules:
        if isinstance(m, nn.Conv2d):
            nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.BatchNorm2d):
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)
