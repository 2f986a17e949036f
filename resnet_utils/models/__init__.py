"""One entry point for every network of the course: ``build_model("plain56")``."""

from __future__ import annotations

import re

from torch import nn

from .cifar import BasicBlock, CifarNet, ZeroPadShortcut, blocks_per_stage

__all__ = [
    "BasicBlock",
    "CifarNet",
    "ZeroPadShortcut",
    "blocks_per_stage",
    "build_model",
    "count_parameters",
    "weighted_layers",
]

_NAME = re.compile(r"^(plain|resnet)(\d+)$")
VALID_FORMS = (
    "'plainN' or 'resnetN' with N = 6n+2 (20, 32, 44, 56, 110, 1202, ...), "
    "for example 'plain20', 'resnet56'"
)
SHORTCUTS = ("A", "B")
INITS = ("kaiming", "pytorch")


def build_model(
    name: str,
    *,
    shortcut: str = "A",
    batchnorm: bool = True,
    num_classes: int = 10,
    init: str = "kaiming",
) -> nn.Module:
    """Build a course network by name.

    ``shortcut`` is "A" (zero-padded identity where the shape changes, the paper's CIFAR
    choice) or "B" (1x1 projection there); plain nets ignore it. ``init`` is "kaiming"
    (He et al. 2015a, the default) or "pytorch" (PyTorch's layer defaults, to show what
    an unchosen init does to a deep net without BatchNorm).
    """
    match = _NAME.match(name.strip().lower()) if isinstance(name, str) else None
    if match is None:
        raise ValueError(f"unknown model name {name!r}: valid names are {VALID_FORMS}.")
    family, depth = match.group(1), int(match.group(2))
    try:
        blocks_per_stage(depth)
    except ValueError as error:
        raise ValueError(f"{name!r}: {error} Valid names are {VALID_FORMS}.") from None
    if shortcut not in SHORTCUTS:
        raise ValueError(f"shortcut must be one of {SHORTCUTS}, not {shortcut!r}.")
    if init not in INITS:
        raise ValueError(f"init must be one of {INITS}, not {init!r}.")
    if num_classes < 1:
        raise ValueError(f"num_classes must be at least 1, not {num_classes}.")
    return CifarNet(
        depth,
        residual=family == "resnet",
        shortcut=shortcut,
        batchnorm=batchnorm,
        num_classes=num_classes,
        init=init,
    )


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def weighted_layers(model: nn.Module) -> list[tuple[str, nn.Module]]:
    """The layers the depth counts (convs on the main path and the final linear), in order.

    Projection shortcuts are not counted, as in the paper, so ``len(...) == depth``.
    """
    return [
        (name, module)
        for name, module in model.named_modules()
        if isinstance(module, (nn.Conv2d, nn.Linear)) and ".shortcut" not in name
    ]
