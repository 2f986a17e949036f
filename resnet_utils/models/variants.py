"""The residual-block variants of He et al. (2016, "Identity Mappings in Deep Residual
Networks", Tables 1 and 2): how the branch F(x) and the shortcut s(x) are scaled, gated or
dropped, and where BN and ReLU sit.

A :class:`VariantBlock` is a :class:`~resnet_utils.models.cifar.BasicBlock` (same layers,
same parameter names, so code that inspects blocks treats both alike) whose ``residual``
and ``forward`` follow a :class:`Variant`; a :class:`VariantNet` is a ``CifarNet`` of them,
with what a pre-activation net or a zero-initialised branch needs besides. ``build_model``
uses them only when a variant option is given; ``BasicBlock`` and ``CifarNet`` stay the ones
to read first.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial

import torch
import torch.nn.functional as F
from torch import nn

from resnet_utils.models.cifar import STAGE_WIDTHS, BasicBlock, CifarNet, kaiming_init, norm

ORDERINGS = ("original", "bn_after_add", "relu_before_add", "relu_preact", "preact")
GATES = (None, "exclusive", "shortcut")


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


class ShortcutDropout(nn.Module):
    """Drops values of the shortcut while training, without rescaling the rest (see Variant)."""

    def __init__(self, p: float):
        super().__init__()
        self.p = p

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.training:
            return x * torch.bernoulli(torch.full_like(x, 1 - self.p))
        return x * (1 - self.p)


class VariantBlock(BasicBlock):
    """A residual BasicBlock that combines F(x) and s(x) as its :class:`Variant` says.

    Besides the BasicBlock's layers it may have a ``gate`` (a 1x1 conv) and a ``drop``
    (:class:`ShortcutDropout`); both are None where the variant has none.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        stride: int = 1,
        shortcut: str = "A",
        batchnorm: bool = True,
        variant: Variant = Variant(),
    ):
        if shortcut is None:
            raise ValueError("the variants change how a shortcut is used; a plain block has none.")
        super().__init__(in_channels, out_channels, stride, shortcut, batchnorm)
        self.variant = variant
        if variant.ordering == "preact":  # BN-ReLU-conv: the first BN sees the block's input
            self.bn1 = norm(in_channels, batchnorm)
        self.gate = None
        if variant.gate is not None:
            self.gate = nn.Conv2d(in_channels, out_channels, 1, stride=stride)
            nn.init.constant_(self.gate.bias, variant.gate_bias)
        self.drop = ShortcutDropout(variant.shortcut_dropout) if variant.shortcut_dropout else None

    def residual(self, x: torch.Tensor) -> torch.Tensor:
        """F(x): the branch, up to the point where it meets the shortcut."""
        ordering = self.variant.ordering
        relu = F.relu  # not in place: x is still needed by the shortcut
        if ordering == "preact":
            return self.conv2(relu(self.bn2(self.conv1(relu(self.bn1(x))))))
        if ordering == "relu_preact":
            return self.bn2(self.conv2(relu(self.bn1(self.conv1(relu(x))))))
        if ordering == "bn_after_add":  # bn2 comes after the addition, in forward
            return self.conv2(self.relu(self.bn1(self.conv1(x))))
        out = super().residual(x)
        return relu(out) if ordering == "relu_before_add" else out

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        variant = self.variant
        out, s = self.residual(x), self.shortcut(x)
        if self.drop is not None:
            s = self.drop(s)
        if self.gate is not None:
            g = torch.sigmoid(self.gate(x))
            out = (g * out if variant.gate == "exclusive" else out) + (1 - g) * s
        else:
            out = _scaled(out, variant.scale_branch) + _scaled(s, variant.scale_shortcut)
        if variant.ordering == "bn_after_add":
            out = self.bn2(out)
        if variant.ordering in ("original", "bn_after_add"):
            out = self.relu(out)
        return out

    def last_layer(self) -> nn.Module:
        """The branch's last layer with weights: its BN, or its conv where no BN ends it."""
        if self.variant.ordering in ("preact", "bn_after_add") or isinstance(self.bn2, nn.Identity):
            return self.conv2
        return self.bn2


class VariantNet(CifarNet):
    """A residual :class:`~resnet_utils.models.cifar.CifarNet` whose blocks follow ``variant``.

    ``options`` are CifarNet's. Its state dict has a CifarNet's names in a CifarNet's order
    (plus each block's gate), and its weights are drawn from the RNG in the same order.
    """

    def __init__(
        self, depth: int, variant: Variant, batchnorm: bool = True, init: str = "kaiming", **options
    ):
        # PyTorch's init first; the He init comes below, when the gates can be left out
        make_block = partial(VariantBlock, variant=variant)
        super().__init__(depth, True, batchnorm=batchnorm, init="pytorch", block=make_block, **options)
        if variant.ordering == "preact":
            # a full pre-activation net starts each block with BN-ReLU, so its stem is a conv alone
            self.bn1, self.relu = nn.Identity(), nn.Identity()
        self.final = None
        if variant.ordering in ("relu_preact", "preact"):
            # ... and a pre-activation net ends with the BN-ReLU that no block applies after its
            # last addition. The pooling and the classifier are registered again after it, so
            # that the state dict lists the modules in the order they run.
            head = self.avgpool, self.fc
            del self.avgpool, self.fc
            self.final = nn.Sequential(norm(STAGE_WIDTHS[-1], batchnorm), nn.ReLU(inplace=True))
            self.avgpool, self.fc = head
        if init == "kaiming":  # a gate keeps PyTorch's init and its chosen bias
            kaiming_init(m for name, m in self.named_modules() if not name.endswith(".gate"))
        if variant.zero_init:  # each block starts as the identity
            for block in self.modules():
                if isinstance(block, VariantBlock):
                    for p in block.last_layer().parameters():
                        nn.init.zeros_(p)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.relu(self.bn1(self.conv1(x)))
        x = self.layer3(self.layer2(self.layer1(x)))
        if self.final is not None:
            x = self.final(x)
        return self.fc(torch.flatten(self.avgpool(x), 1))


def _scaled(x: torch.Tensor, factor: float) -> torch.Tensor:
    return x if factor == 1 else factor * x
