"""Measurements on nets: gradient norms per layer."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .models import build_model, weighted_layers


def gradient_norms(
    model: nn.Module, images: torch.Tensor, labels: torch.Tensor, *, training: bool = True
) -> list[float]:
    """The L2 norm of the loss gradient for each weighted layer's weight, input to output.

    One forward and backward pass on one batch, by default in training mode (BatchNorm uses
    batch statistics, as in training); the model's gradients are left cleared.
    """
    model.train(training)
    model.zero_grad(set_to_none=True)
    F.cross_entropy(model(images), labels).backward()
    norms = [m.weight.grad.norm().item() for _, m in weighted_layers(model)]
    model.zero_grad(set_to_none=True)
    return norms


def gradient_norms_at_init(
    name: str, images: torch.Tensor, labels: torch.Tensor, *, seed: int = 0, **options
) -> list[float]:
    """Per-layer gradient norms of a freshly initialised ``build_model(name, **options)``."""
    torch.manual_seed(seed)
    return gradient_norms(build_model(name, **options).to(images.device), images, labels)


def spread(norms: list[float]) -> float:
    """How many times larger the gradient of the first layer is than that of the last conv.

    Below 1 the gradient shrinks on its way back to the input (vanishing); far above 1 it
    grows. The final linear layer is left out: it sees pooled features, not a feature map.
    """
    return norms[0] / norms[-2]


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
