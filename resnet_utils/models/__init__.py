"""One entry point for every network of the course: ``build_model("plain56")``.

Two families:
- CIFAR (He et al. 2015, sec. 4.2): ``plainN`` and ``resnetN`` with N = 6n+2 layers, for
  32x32 images; options ``shortcut``, ``batchnorm``, ``init``, ``num_classes``, and for
  residual nets the block variants of He et al. 2016 (the fields of :class:`Variant`:
  ``ordering``, ``scale_shortcut``, ``scale_branch``, ``gate``, ``gate_bias``,
  ``shortcut_dropout``, ``zero_init``), e.g. ``build_model("resnet56", ordering="preact")``.
- ImageNet (Table 1 of the paper, torchvision's layout): ``resnet18``, ``resnet34``,
  ``resnet50``, ``resnet101``, ``resnet152``; options ``num_classes``, ``stem``,
  ``stride_on``, ``zero_init_residual``. ResNet-50 and ResNet-152 are these bottleneck nets,
  although 50 and 152 are of the form 6n+2 too: the CIFAR family is not built at those two
  depths.

Each option's default is the one its net states (:class:`CifarNet`, :class:`Variant`,
:class:`ImageNetResNet`); the options are checked here, once, before anything is built.
"""

from __future__ import annotations

import dataclasses
import inspect
import math
import numbers
import re

import torch
from torch import nn

from resnet_utils.models import cifar, imagenet
from resnet_utils.models.cifar import BasicBlock, CifarNet, ZeroPadShortcut, blocks_per_stage
from resnet_utils.models.imagenet import Bottleneck, ImageNetBasicBlock, ImageNetResNet
from resnet_utils.models.variants import Variant, VariantBlock, VariantNet

__all__ = [
    "stage_shapes",
    "BasicBlock",
    "Bottleneck",
    "CifarNet",
    "ImageNetBasicBlock",
    "ImageNetResNet",
    "Variant",
    "VariantBlock",
    "VariantNet",
    "ZeroPadShortcut",
    "blocks_per_stage",
    "build_model",
    "canonical",
    "count_parameters",
    "weighted_layers",
]

_NAME = re.compile(r"^(plain|resnet)(\d+)$")
VALID_FORMS = (
    "'plainN' or 'resnetN' with N = 6n+2 (the CIFAR nets: 20, 32, 44, 56, 110, 1202, ...), "
    "for example 'plain20', 'resnet56', or one of "
    + ", ".join(f"'resnet{depth}'" for depth in imagenet.STAGE_BLOCKS)
    + " (the ImageNet nets, torchvision's)"
)


def _defaults(net, names) -> dict:
    """The defaults ``net``'s signature gives the parameters ``names``."""
    parameters = inspect.signature(net).parameters
    return {name: parameters[name].default for name in names}


_VARIANT_OPTIONS = {field.name: field.default for field in dataclasses.fields(Variant)}
_CIFAR_OPTIONS = _defaults(CifarNet, ("shortcut", "batchnorm", "num_classes", "init")) | _VARIANT_OPTIONS
# The name table: each family of names (as _parse tells them), its options and their defaults.
OPTIONS = {
    "plain": _CIFAR_OPTIONS,  # the variant options too, if left at their defaults (see _cifar)
    "resnet": _CIFAR_OPTIONS,
    "imagenet": _defaults(ImageNetResNet, ("num_classes", "stem", "stride_on", "zero_init_residual")),
}


def _one_of(choices: tuple) -> tuple:
    return f"one of {choices}", lambda value: value in choices


def _is_number(value) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


_TRUE_OR_FALSE = ("True or False", lambda value: isinstance(value, bool))
_FINITE = ("a finite number", lambda value: _is_number(value) and math.isfinite(value))
_POSITIVE_WHOLE = (
    "a positive whole number",
    lambda value: _is_number(value) and isinstance(value, numbers.Integral) and value >= 1,
)
# What each option must be (for the message, and the test), checked before anything is
# built: a truthy string such as batchnorm="no" would otherwise switch BatchNorm *on*.
# Variant checks ordering, gate and the range of shortcut_dropout itself.
RULES = {
    "shortcut": _one_of(cifar.SHORTCUTS),
    "batchnorm": _TRUE_OR_FALSE,
    "num_classes": _POSITIVE_WHOLE,
    "init": _one_of(cifar.INITS),
    "scale_shortcut": _FINITE,
    "scale_branch": _FINITE,
    "gate_bias": _FINITE,
    "shortcut_dropout": _FINITE,
    "zero_init": _TRUE_OR_FALSE,
    "stem": _one_of(imagenet.STEMS),
    "stride_on": _one_of(imagenet.STRIDE_ON),
    "zero_init_residual": _TRUE_OR_FALSE,
}


def build_model(name: str, **options) -> nn.Module:
    """Build a course network by name; ``options`` depend on the family (module docstring)."""
    name, family, depth = _parse(name)
    allowed = OPTIONS[family]
    unknown = sorted(set(options) - set(allowed))
    if unknown:
        raise ValueError(f"{name!r} takes the options {sorted(allowed)}, not {unknown}.")
    for option, value in options.items():
        if option in RULES:
            must_be, holds = RULES[option]
            if not holds(value):
                raise ValueError(f"{option} must be {must_be}, not {value!r}.")
    if family == "imagenet":
        return ImageNetResNet(depth, **options)
    return _cifar(depth, family == "resnet", options)


def _parse(name: str) -> tuple[str, str, int]:
    """(the name in lower case, its row of :data:`OPTIONS`, the depth); ValueError if invalid."""
    match = _NAME.match(name.strip().lower()) if isinstance(name, str) else None
    if match is None:
        raise ValueError(f"unknown model name {name!r}: valid names are {VALID_FORMS}.")
    family, depth = match.group(1), int(match.group(2))
    if family == "resnet" and depth in imagenet.STAGE_BLOCKS:
        return f"{family}{depth}", "imagenet", depth
    try:
        blocks_per_stage(depth)
    except ValueError as error:
        raise ValueError(f"{name!r}: {error} Valid names are {VALID_FORMS}.") from None
    return f"{family}{depth}", family, depth


def _cifar(depth: int, shortcuts: bool, options: dict) -> CifarNet:
    """A CifarNet, or a VariantNet where a variant option differs from its default."""
    net_options = {k: v for k, v in options.items() if k not in _VARIANT_OPTIONS}
    changed = {k: v for k, v in options.items() if k in _VARIANT_OPTIONS and v != _VARIANT_OPTIONS[k]}
    if not changed:
        return CifarNet(depth, shortcuts, **net_options)  # the plain BasicBlock unless asked
    variant = Variant(**changed)  # checks ordering, gate and shortcut_dropout's range
    if not shortcuts:
        raise ValueError(
            "block variants apply to residual nets ('resnetN'); a plain net has no shortcut."
        )
    return VariantNet(depth, variant, **net_options)


def canonical(name: str, options: dict | None = None) -> tuple[str, dict]:
    """The name in lower case and the options without those equal to their defaults.

    Two spellings of one net ("Resnet56", or "resnet56" with ``batchnorm=True``) give the
    same pair, so they share a cache entry. Call :func:`build_model` first: it checks them.
    """
    name, family, _ = _parse(name)
    defaults = OPTIONS[family]
    kept = {}
    for option, value in (options or {}).items():
        value = _python_number(value)
        default = defaults.get(option, object())
        same_number = (
            RULES.get(option) is _FINITE and isinstance(value, (int, float)) and value == default
        )
        if same_number or (type(value) is type(default) and value == default):
            continue
        kept[option] = value
    return name, kept


def _python_number(value):
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


def stage_shapes(model: nn.Module, input_size=(3, 32, 32)) -> list[tuple[str, tuple[int, ...]]]:
    """The output shape (without the batch) of each top-level part of a net, in order."""
    shapes: list[tuple[str, tuple[int, ...]]] = []
    hooks = [
        module.register_forward_hook(
            lambda _m, _i, out, name=name: shapes.append((name, tuple(out.shape[1:])))
        )
        for name, module in model.named_children()
    ]
    was_training = model.training
    try:
        model.eval()
        with torch.no_grad():
            model(torch.zeros(1, *input_size, device=next(model.parameters()).device))
    finally:
        for hook in hooks:
            hook.remove()
        model.train(was_training)
    return shapes
