"""One entry point for every network of the course: ``build_model("plain56")``.

Two families:
- CIFAR (He et al. 2015, sec. 4.2): ``plainN`` and ``resnetN`` with N = 6n+2 layers, for
  32x32 images; options ``shortcut``, ``batchnorm``, ``init``, ``num_classes``, and for
  residual nets the block variants of He et al. 2016 (the fields of :class:`Variant`:
  ``ordering``, ``scale_shortcut``, ``scale_branch``, ``gate``, ``gate_bias``,
  ``shortcut_dropout``, ``zero_init``), e.g. ``build_model("resnet56", ordering="preact")``.
- ImageNet (Table 1 of the paper, torchvision's layout): ``resnet18``, ``resnet34``,
  ``resnet50``, ``resnet101``, ``resnet152``; options ``num_classes``, ``stem``,
  ``stride_on``. ResNet-50 and ResNet-152 are these bottleneck nets, although 50 and 152
  are of the form 6n+2 too: the CIFAR family is not built at those two depths.
"""

from __future__ import annotations

import math
import numbers
import re

from torch import nn

from resnet_utils.models.cifar import SHORTCUTS, BasicBlock, CifarNet, ZeroPadShortcut, blocks_per_stage
from resnet_utils.models.imagenet import STAGE_BLOCKS, Bottleneck, ImageNetBasicBlock, ImageNetResNet
from resnet_utils.models.variants import Variant, VariantBlock

__all__ = [
    "BasicBlock",
    "Bottleneck",
    "CifarNet",
    "ImageNetBasicBlock",
    "ImageNetResNet",
    "Variant",
    "VariantBlock",
    "ZeroPadShortcut",
    "blocks_per_stage",
    "build_model",
    "canonical",
    "count_parameters",
    "weighted_layers",
]

_NAME = re.compile(r"^(plain|resnet)(\d+)$")
IMAGENET_DEPTHS = tuple(STAGE_BLOCKS)
VALID_FORMS = (
    "'plainN' or 'resnetN' with N = 6n+2 (the CIFAR nets: 20, 32, 44, 56, 110, 1202, ...), "
    "for example 'plain20', 'resnet56', or one of "
    + ", ".join(f"'resnet{d}'" for d in IMAGENET_DEPTHS)
    + " (the ImageNet nets, torchvision's)"
)
INITS = ("kaiming", "pytorch")
STEMS = ("imagenet", "cifar")
STRIDE_ON = ("3x3", "1x1")


def build_model(name: str, **options) -> nn.Module:
    """Build a course network by name; ``options`` depend on the family (module docstring)."""
    builder, clean = _builder(name)
    family, depth = _NAME.match(clean).groups()
    depth = int(depth)
    if builder is _imagenet:
        return _checked(_imagenet, name, options)(depth, **options)
    try:
        blocks_per_stage(depth)
    except ValueError as error:
        raise ValueError(f"{name!r}: {error} Valid names are {VALID_FORMS}.") from None
    return _checked(_cifar, name, options)(depth, residual=family == "resnet", **options)


def _checked(builder, name, options):
    allowed = builder.__kwdefaults__
    unknown = sorted(set(options) - set(allowed))
    if unknown:
        raise ValueError(f"{name!r} takes the options {sorted(allowed)}, not {unknown}.")
    for option, value in options.items():
        _check_type(option, value)
    return builder


# The options whose type is checked before anything is built: a truthy string such as
# batchnorm="no" would otherwise switch BatchNorm *on*.
_BOOLS = ("batchnorm", "zero_init", "zero_init_residual")
_FINITE = ("scale_shortcut", "scale_branch", "gate_bias", "shortcut_dropout")


def _check_type(option: str, value) -> None:
    if option in _BOOLS and not isinstance(value, bool):
        raise ValueError(f"{option} must be True or False, not {value!r}.")
    if option == "num_classes" and not (
        isinstance(value, numbers.Integral) and not isinstance(value, bool) and value >= 1
    ):
        raise ValueError(f"num_classes must be a positive whole number, not {value!r}.")
    if option in _FINITE and not (
        isinstance(value, numbers.Real) and not isinstance(value, bool) and math.isfinite(value)
    ):
        raise ValueError(f"{option} must be a finite number, not {value!r}.")


def _builder(name: str):
    """(family builder, canonical name) of a valid name; ValueError otherwise."""
    match = _NAME.match(name.strip().lower()) if isinstance(name, str) else None
    if match is None:
        raise ValueError(f"unknown model name {name!r}: valid names are {VALID_FORMS}.")
    family, depth = match.group(1), int(match.group(2))
    builder = _imagenet if family == "resnet" and depth in IMAGENET_DEPTHS else _cifar
    return builder, f"{family}{depth}"


def canonical(name: str, options: dict | None = None) -> tuple[str, dict]:
    """The name in lower case and the options without those equal to their defaults.

    Two spellings of one net ("Resnet56", or "resnet56" with ``batchnorm=True``) give the
    same pair, so they share a cache entry. Call :func:`build_model` first: it checks them.
    """
    builder, clean = _builder(name)
    defaults = builder.__kwdefaults__
    kept = {}
    for option, value in (options or {}).items():
        value = _plain(value)
        default = defaults.get(option, object())
        same_number = option in _FINITE and isinstance(value, (int, float)) and value == default
        if same_number or (type(value) is type(default) and value == default):
            continue
        kept[option] = value
    return clean, kept


def _cifar(
    depth: int,
    residual: bool,
    *,
    shortcut: str = "A",
    batchnorm: bool = True,
    num_classes: int = 10,
    init: str = "kaiming",
    ordering: str = "original",
    scale_shortcut: float = 1.0,
    scale_branch: float = 1.0,
    gate: str | None = None,
    gate_bias: float = 0.0,
    shortcut_dropout: float = 0.0,
    zero_init: bool = False,
) -> CifarNet:
    """``shortcut`` "A" (zero-padded identity where the shape changes, the paper's CIFAR
    choice), "B" (1x1 projection there) or "conv" (a 1x1 projection on every block); plain
    nets ignore it. ``init`` "kaiming" (He et al. 2015a) or "pytorch" (PyTorch's layer
    defaults, to show what an unchosen init does to a deep net without BatchNorm). The other
    options are the fields of :class:`Variant` (He et al. 2016), for residual nets."""
    _one_of("shortcut", shortcut, SHORTCUTS)
    _one_of("init", init, INITS)
    _positive_classes(num_classes)
    variant = Variant(
        ordering, scale_shortcut, scale_branch, gate, gate_bias, shortcut_dropout, zero_init
    )
    if not residual and variant != Variant():
        raise ValueError(
            "block variants apply to residual nets ('resnetN'); a plain net has no shortcut."
        )
    return CifarNet(
        depth,
        residual=residual,
        shortcut=shortcut,
        batchnorm=batchnorm,
        num_classes=num_classes,
        init=init,
        variant=None if variant == Variant() else variant,  # the plain BasicBlock unless asked
    )


def _imagenet(
    depth: int,
    *,
    num_classes: int = 10,
    stem: str = "imagenet",
    stride_on: str = "3x3",
    zero_init_residual: bool = False,
):
    """``stem`` "imagenet" (7x7/2 conv + max-pool, torchvision's) or "cifar" (3x3/1 conv, no
    pool); ``stride_on`` "3x3" (torchvision, "v1.5") or "1x1" (the paper, "v1");
    ``zero_init_residual`` as torchvision's (each block's last BN starts at zero)."""
    _one_of("stem", stem, STEMS)
    _one_of("stride_on", stride_on, STRIDE_ON)
    _positive_classes(num_classes)
    return ImageNetResNet(
        depth,
        num_classes=num_classes,
        stem=stem,
        stride_on=stride_on,
        zero_init_residual=zero_init_residual,
    )


def _one_of(option: str, value, choices) -> None:
    if value not in choices:
        raise ValueError(f"{option} must be one of {choices}, not {value!r}.")


def _positive_classes(num_classes: int) -> None:
    _check_type("num_classes", num_classes)


def _plain(value):
    """A numpy number as the Python number it stands for (JSON and the cache key need it)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Number):
        return value
    if isinstance(value, numbers.Integral):
        return int(value)
    return float(value)


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def weighted_layers(model: nn.Module) -> list[tuple[str, nn.Module]]:
    """The layers the depth counts (convs on the main path and the final linear), in order.

    Projection shortcuts are not counted, as in the paper, so ``len(...) == depth``.
    """
    return [
        (name, module)
        for name, module in model.named_modules()
        if isinstance(module, (nn.Conv2d, nn.Linear))
        and not any(part in name for part in (".shortcut", ".downsample", ".gate"))
    ]
