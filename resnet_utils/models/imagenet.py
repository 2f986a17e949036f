"""The ImageNet family of He et al. (2015, Table 1): ResNet-18/34 (basic blocks) and
ResNet-50/101/152 (bottleneck blocks), written to be state_dict-compatible with
``torchvision.models.resnetXX``: same parameter names, shapes and count, so torchvision's
weights load into these nets and give the same outputs.

Two options go beyond torchvision: ``stem="cifar"`` (a 3x3 stride-1 conv and no max-pool,
for 32x32 images) and ``stride_on="1x1"`` (the paper's "v1" bottleneck, which downsamples in
its first 1x1 conv; torchvision's "v1.5" downsamples in the 3x3 conv). ``stride_on`` is a
bottleneck option: ResNet-18 and -34 accept it and are the same net either way, since a
basic block has only one place for its stride.
"""

from __future__ import annotations

import torch
from torch import nn

STAGE_BLOCKS = {
    18: ("basic", (2, 2, 2, 2)),
    34: ("basic", (3, 4, 6, 3)),
    50: ("bottleneck", (3, 4, 6, 3)),
    101: ("bottleneck", (3, 4, 23, 3)),
    152: ("bottleneck", (3, 8, 36, 3)),
}
STAGE_WIDTHS = (64, 128, 256, 512)
STEMS = ("imagenet", "cifar")
STRIDE_ON = ("3x3", "1x1")


def _conv(in_channels: int, out_channels: int, kernel: int, stride: int = 1) -> nn.Conv2d:
    return nn.Conv2d(in_channels, out_channels, kernel, stride=stride, padding=kernel // 2, bias=False)


def _projection(in_channels: int, out_channels: int, stride: int) -> nn.Sequential | None:
    """torchvision's ``downsample``: a 1x1 conv and BN where the shape changes, else nothing."""
    if stride == 1 and in_channels == out_channels:
        return None
    return nn.Sequential(_conv(in_channels, out_channels, 1, stride), nn.BatchNorm2d(out_channels))


class ImageNetBasicBlock(nn.Module):
    """Two 3x3 convs: relu(F(x) + x), with a projection where the shape changes (torchvision's
    ``BasicBlock``; ResNet-18 and -34). It has no ``stride_on``: its only stride is in conv1."""

    expansion = 1

    def __init__(self, in_channels: int, width: int, stride: int = 1):
        super().__init__()
        self.conv1 = _conv(in_channels, width, 3, stride)
        self.bn1 = nn.BatchNorm2d(width)
        self.conv2 = _conv(width, width, 3)
        self.bn2 = nn.BatchNorm2d(width)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = _projection(in_channels, width, stride)

    def residual(self, x: torch.Tensor) -> torch.Tensor:
        return self.bn2(self.conv2(self.relu(self.bn1(self.conv1(x)))))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        identity = x if self.downsample is None else self.downsample(x)
        return self.relu(self.residual(x) + identity)


class Bottleneck(nn.Module):
    """1x1 (reduce to ``width``), 3x3, 1x1 (expand to 4 x ``width``): the 3x3 conv, the
    expensive one, runs on a quarter of the channels."""

    expansion = 4

    def __init__(self, in_channels: int, width: int, stride: int = 1, stride_on: str = "3x3"):
        super().__init__()
        out_channels = width * self.expansion
        self.conv1 = _conv(in_channels, width, 1, stride if stride_on == "1x1" else 1)
        self.bn1 = nn.BatchNorm2d(width)
        self.conv2 = _conv(width, width, 3, stride if stride_on == "3x3" else 1)
        self.bn2 = nn.BatchNorm2d(width)
        self.conv3 = _conv(width, out_channels, 1)
        self.bn3 = nn.BatchNorm2d(out_channels)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = _projection(in_channels, out_channels, stride)

    def residual(self, x: torch.Tensor) -> torch.Tensor:
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        return self.bn3(self.conv3(out))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        identity = x if self.downsample is None else self.downsample(x)
        return self.relu(self.residual(x) + identity)


class ImageNetResNet(nn.Module):
    """ResNet-18 to -152 as torchvision builds them, plus the ``stem`` and ``stride_on`` options.

    ``stem`` "imagenet" (7x7/2 conv + max-pool, torchvision's) or "cifar" (3x3/1 conv, no
    pool); ``stride_on`` "3x3" (torchvision, "v1.5") or "1x1" (the paper, "v1");
    ``zero_init_residual`` as torchvision's (each block's last BN starts at zero). Ten
    classes unless told, as CIFAR-10 has (torchvision: 1000).
    """

    def __init__(
        self,
        depth: int,
        num_classes: int = 10,
        stem: str = "imagenet",
        stride_on: str = "3x3",
        zero_init_residual: bool = False,
    ):
        super().__init__()
        kind, counts = STAGE_BLOCKS[depth]
        block = Bottleneck if kind == "bottleneck" else ImageNetBasicBlock
        where = {"stride_on": stride_on} if block is Bottleneck else {}
        if stem == "imagenet":
            self.conv1 = _conv(3, 64, 7, stride=2)
            self.maxpool = nn.MaxPool2d(kernel_size=3, stride=2, padding=1)
        else:
            self.conv1 = _conv(3, 64, 3)
            self.maxpool = nn.Identity()
        self.bn1 = nn.BatchNorm2d(64)
        self.relu = nn.ReLU(inplace=True)
        in_channels = 64
        for index, (width, count) in enumerate(zip(STAGE_WIDTHS, counts), start=1):
            blocks = []
            for b in range(count):
                stride = 2 if index > 1 and b == 0 else 1
                blocks.append(block(in_channels, width, stride, **where))
                in_channels = width * block.expansion
            setattr(self, f"layer{index}", nn.Sequential(*blocks))
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(in_channels, num_classes)
        for m in self.modules():  # as torchvision initialises
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)
        if zero_init_residual:  # torchvision's option (Goyal et al. 2017): each block starts as identity
            for m in self.modules():
                if isinstance(m, (Bottleneck, ImageNetBasicBlock)):
                    nn.init.zeros_((m.bn3 if isinstance(m, Bottleneck) else m.bn2).weight)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return self.fc(torch.flatten(self.avgpool(x), 1))
