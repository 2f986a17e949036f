"""The CIFAR family of He et al. (2015, sec. 4.2): plain and residual nets of 6n+2 layers.

A 3x3 stem conv with 16 channels, three stages of n basic blocks (16, 32, 64 channels at
32x32, 16x16 and 8x8 pixels), global average pooling and one linear layer: 1 + 6n + 1
weighted layers. A plain net is the same code with the shortcut switched off, so a plain
net and a residual net of the same depth differ in nothing else (and, with shortcut "A",
have exactly the same parameters).

The residual block also takes the variants of He et al. (2016, "Identity Mappings in Deep
Residual Networks", Tables 1 and 2) as a :class:`Variant`: how the branch and the
shortcut are scaled, gated or dropped, and where BN and ReLU sit.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

STAGE_WIDTHS = (16, 32, 64)
SHORTCUTS = ("A", "B", "conv")
ORDERINGS = ("original", "bn_after_add", "relu_before_add", "relu_preact", "preact")
GATES = (None, "exclusive", "shortcut")
PREACTIVATION = ("relu_preact", "preact")


@dataclass(frozen=True)
class Variant:
    """How a residual block combines F(x) and its shortcut s(x) (He et al. 2016).

    - ``ordering``: "original" relu(BN(conv(...)) + s); "bn_after_add" relu(BN(conv(...) + s));
      "relu_before_add" relu(BN(conv(...))) + s; "relu_preact" ReLU-conv-BN twice, then + s;
      "preact" BN-ReLU-conv twice, then + s (full pre-activation).
    - ``scale_shortcut``, ``scale_branch``: constant scaling, lambda * s + mu * F.
    - ``gate``: "exclusive" (1 - g) * s + g * F, or "shortcut" (1 - g) * s + F, where
      g = sigmoid(1x1 conv(x)) with its bias starting at ``gate_bias``.
    - ``shortcut_dropout``: each value of s is dropped with this probability while training
      (not rescaled: in expectation s is scaled by 1 - p, and by exactly that at test time).
    - ``zero_init``: the branch's last layer starts at zero, so the block starts as identity.
    """

    ordering: str = "original"
    scale_shortcut: float = 1.0
    scale_branch: float = 1.0
    gate: str | None = None
    gate_bias: float = 0.0
    shortcut_dropout: float = 0.0
    zero_init: bool = False

    def __post_init__(self):
        if self.ordering not in ORDERINGS:
            raise ValueError(f"ordering must be one of {ORDERINGS}, not {self.ordering!r}.")
        if self.gate not in GATES:
            raise ValueError(f"gate must be one of {GATES}, not {self.gate!r}.")
        if not 0 <= self.shortcut_dropout < 1:
            raise ValueError(f"shortcut_dropout must be in [0, 1), not {self.shortcut_dropout}.")


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
    """Option B (where the shape changes) and the "1x1 conv shortcut" (everywhere): conv + BN."""
    return nn.Sequential(
        nn.Conv2d(in_channels, out_channels, 1, stride=stride, bias=not batchnorm),
        _norm(out_channels, batchnorm),
    )


class ShortcutDropout(nn.Module):
    """Drops values of the shortcut while training, without rescaling the rest (see Variant)."""

    def __init__(self, p: float):
        super().__init__()
        self.p = p

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.training:
            return x * torch.bernoulli(torch.full_like(x, 1 - self.p))
        return x * (1 - self.p)


class BasicBlock(nn.Module):
    """Two 3x3 convs; with a shortcut it computes relu(F(x) + shortcut(x)), without relu(F(x)).

    ``variant`` changes how F(x) and the shortcut are combined (residual blocks only).
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        stride: int = 1,
        shortcut: str | None = "A",
        batchnorm: bool = True,
        variant: Variant = Variant(),
    ):
        super().__init__()
        if shortcut is None and variant != Variant():
            raise ValueError("the variants change how a shortcut is used; a plain block has none.")
        bias = not batchnorm  # a bias in front of a BN is a dead parameter
        self.ordering = variant.ordering
        self.scale_shortcut, self.scale_branch = variant.scale_shortcut, variant.scale_branch
        self.gate_kind = variant.gate
        self.conv1 = _conv3x3(in_channels, out_channels, stride, bias)
        self.bn1 = _norm(in_channels if self.ordering == "preact" else out_channels, batchnorm)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = _conv3x3(out_channels, out_channels, 1, bias)
        self.bn2 = _norm(out_channels, batchnorm)
        self.shortcut = self._make_shortcut(in_channels, out_channels, stride, shortcut, batchnorm)
        self.gate = None
        if variant.gate is not None:
            self.gate = nn.Conv2d(in_channels, out_channels, 1, stride=stride)
            nn.init.constant_(self.gate.bias, variant.gate_bias)
        self.drop = ShortcutDropout(variant.shortcut_dropout) if variant.shortcut_dropout else None
        self.zero_init = variant.zero_init

    @staticmethod
    def _make_shortcut(in_channels, out_channels, stride, shortcut, batchnorm) -> nn.Module | None:
        if shortcut is None:
            return None
        if shortcut == "conv":
            return projection_shortcut(in_channels, out_channels, stride, batchnorm)
        if stride == 1 and in_channels == out_channels:
            return nn.Identity()
        if shortcut == "A":
            return ZeroPadShortcut(in_channels, out_channels, stride)
        return projection_shortcut(in_channels, out_channels, stride, batchnorm)

    def residual(self, x: torch.Tensor) -> torch.Tensor:
        """F(x): the branch, up to the point where it meets the shortcut."""
        relu = F.relu  # not in place: x is still needed by the shortcut
        if self.ordering == "preact":
            return self.conv2(relu(self.bn2(self.conv1(relu(self.bn1(x))))))
        if self.ordering == "relu_preact":
            return self.bn2(self.conv2(relu(self.bn1(self.conv1(relu(x))))))
        out = self.conv2(self.relu(self.bn1(self.conv1(x))))
        if self.ordering == "bn_after_add":
            return out
        out = self.bn2(out)
        return relu(out) if self.ordering == "relu_before_add" else out

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.residual(x)
        if self.shortcut is not None:
            s = self.shortcut(x)
            if self.drop is not None:
                s = self.drop(s)
            if self.gate is not None:
                g = torch.sigmoid(self.gate(x))
                out = (g * out if self.gate_kind == "exclusive" else out) + (1 - g) * s
            else:
                out = _scaled(out, self.scale_branch) + _scaled(s, self.scale_shortcut)
        if self.ordering == "bn_after_add":
            out = self.bn2(out)
        if self.ordering in ("original", "bn_after_add"):
            out = self.relu(out)
        return out

    def last_layer(self) -> nn.Module:
        """The branch's last layer with weights: its BN, or its conv where no BN ends it."""
        ends_in_conv = self.ordering in ("preact", "bn_after_add") or isinstance(self.bn2, nn.Identity)
        return self.conv2 if ends_in_conv else self.bn2


def _scaled(x: torch.Tensor, factor: float) -> torch.Tensor:
    return x if factor == 1 else factor * x


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
        variant: Variant = Variant(),
    ):
        super().__init__()
        n = blocks_per_stage(depth)
        self.depth = depth
        self.residual = residual
        preact = variant.ordering in PREACTIVATION
        self.conv1 = _conv3x3(3, STAGE_WIDTHS[0], 1, bias=not batchnorm)
        # a full pre-activation net starts each block with BN-ReLU, so its stem is a conv alone
        self.bn1 = _norm(STAGE_WIDTHS[0], batchnorm and variant.ordering != "preact")
        self.relu = nn.ReLU(inplace=True) if variant.ordering != "preact" else nn.Identity()
        stages = []
        in_channels = STAGE_WIDTHS[0]
        for index, width in enumerate(STAGE_WIDTHS):
            blocks = []
            for b in range(n):
                stride = 2 if index > 0 and b == 0 else 1
                blocks.append(
                    BasicBlock(
                        in_channels, width, stride, shortcut if residual else None, batchnorm, variant
                    )
                )
                in_channels = width
            stages.append(nn.Sequential(*blocks))
        self.layer1, self.layer2, self.layer3 = stages
        # ... and ends with the BN-ReLU that no block applies after its last addition
        self.final = (
            nn.Sequential(_norm(STAGE_WIDTHS[-1], batchnorm), nn.ReLU(inplace=True)) if preact else None
        )
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(STAGE_WIDTHS[-1], num_classes)
        if init == "kaiming":
            _kaiming_init(self)
        if variant.zero_init:
            for block in self.modules():
                if isinstance(block, BasicBlock):
                    for p in block.last_layer().parameters():
                        nn.init.zeros_(p)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.relu(self.bn1(self.conv1(x)))
        x = self.layer3(self.layer2(self.layer1(x)))
        if self.final is not None:
            x = self.final(x)
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
    for name, m in model.named_modules():
        if name.endswith(".gate"):
            continue  # a gate keeps PyTorch's init and its chosen bias
        if isinstance(m, nn.Conv2d):
            nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.BatchNorm2d):
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)
