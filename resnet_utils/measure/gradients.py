"""Measurements on nets: gradient norms per layer, trained or at initialisation."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from resnet_utils.models import build_model, weighted_layers


def gradient_norms(
    model: nn.Module, images: torch.Tensor, labels: torch.Tensor, *, training: bool = True
) -> list[float]:
    """The L2 norm of the loss gradient for each weighted layer's weight, input to output.

    One forward and backward pass on one batch, by default in training mode (BatchNorm uses
    batch statistics, as in training); the model's gradients are left cleared.
    """
    return [grad.norm().item() for grad in layer_gradients(model, images, labels, training=training)]


def layer_gradients(
    model: nn.Module, images: torch.Tensor, labels: torch.Tensor, *, training: bool = True
) -> list[torch.Tensor]:
    """The loss gradient of each weighted layer's weight, input to output (copies; the
    model's own gradients are left cleared)."""
    model.train(training)
    model.zero_grad(set_to_none=True)
    F.cross_entropy(model(images), labels).backward()
    grads = [m.weight.grad.detach().clone() for _, m in weighted_layers(model)]
    model.zero_grad(set_to_none=True)
    return grads


def gradient_norms_at_init(
    name: str,
    images: torch.Tensor,
    labels: torch.Tensor,
    *,
    seed: int = 0,
    dtype: torch.dtype | None = None,
    **options,
) -> list[float]:
    """Per-layer gradient norms of a freshly initialised ``build_model(name, **options)``.

    ``dtype=torch.float64`` runs the same net (same init) in double precision: what the
    gradients would be without float32's rounding and underflow.
    """
    return [
        g.norm().item()
        for g in gradients_at_init(name, images, labels, seed=seed, dtype=dtype, **options)
    ]


def gradients_at_init(
    name: str,
    images: torch.Tensor,
    labels: torch.Tensor,
    *,
    seed: int = 0,
    dtype: torch.dtype | None = None,
    **options,
) -> list[torch.Tensor]:
    """The weight gradients themselves (see :func:`gradient_norms_at_init`)."""
    torch.manual_seed(seed)
    model = build_model(name, **options).to(images.device)
    if dtype is not None:
        model, images = model.to(dtype), images.to(dtype)
    return layer_gradients(model, images, labels)


# The three ways notebook 1 starts a plain net: what BatchNorm and the init each do to the
# gradients at initialisation.
INIT_CONDITIONS = {
    "BatchNorm": {"batchnorm": True},
    "no BN, Kaiming init": {"batchnorm": False, "init": "kaiming"},
    "no BN, PyTorch default init": {"batchnorm": False, "init": "pytorch"},
}


def init_gradient_curves(name: str, images: torch.Tensor, labels: torch.Tensor, seed: int = 0):
    """Per-layer gradient norms at initialisation under each of :data:`INIT_CONDITIONS`."""
    return {
        label: gradient_norms_at_init(name, images, labels, seed=seed, **options)
        for label, options in INIT_CONDITIONS.items()
    }


def ratios_at_init(
    name: str, images: torch.Tensor, labels: torch.Tensor, *, seeds=range(5), **options
) -> list[float]:
    """:func:`first_to_last_ratio` at initialisation for several init seeds: how much of a ratio is the
    architecture and how much the draw of the weights."""
    return [
        first_to_last_ratio(gradient_norms_at_init(name, images, labels, seed=s, **options))
        for s in seeds
    ]


def first_to_last_ratio(norms: list[float]) -> float:
    """How many times larger the gradient of the first layer is than that of the last conv.

    Below 1 the gradient shrinks on its way back to the input (vanishing); far above 1 it
    grows. The final linear layer is left out: it sees pooled features, not a feature map.
    """
    return norms[0] / norms[-2]


def ratios_in_training(group, epoch: int) -> list[float]:
    """Each finished seed's :func:`first_to_last_ratio` in one epoch of its training (0: the
    first, -1: the last), from the per-epoch mean gradient norms the training loop records;
    empty when the runs recorded none."""
    return [
        first_to_last_ratio(run.history["grad_norms"][epoch])
        for run in group.finished
        if run.history.get("grad_norms")
    ]
