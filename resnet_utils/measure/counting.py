"""What a net costs: parameters per stage, multiply-adds per image, memory kept for backward,
and time per training step (the step ``fit`` takes) on the device at hand."""

from __future__ import annotations

import copy
import statistics

import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from resnet_utils.training.profiles import Recipe
from resnet_utils.training.step import GradNorms, TrainingStep, one_batch, time_steps


def parameters_per_stage(model: nn.Module) -> dict[str, int]:
    """Parameters of the stem (first conv and BN), each stage (``layerK``) and the classifier."""
    counts: dict[str, int] = {}
    for name, p in model.named_parameters():
        top = name.split(".")[0]
        stage = "stem" if top in ("conv1", "bn1") else top
        counts[stage] = counts.get(stage, 0) + p.numel()
    return counts


def multiply_adds(model: nn.Module, input_size=(3, 32, 32)) -> int:
    """Multiply-adds of one forward pass for one image: convolutions and linear layers
    (PyTorch's FLOP counter counts 2 FLOPs per multiply-add; BN, ReLU, pooling and the
    additions are left out, as in the papers' counts)."""
    was_training = model.training
    model.eval()
    counter = FlopCounterMode(display=False)
    try:
        with counter, torch.no_grad():
            model(torch.zeros(1, *input_size, device=next(model.parameters()).device))
    finally:
        model.train(was_training)
    return counter.get_total_flops() // 2


def saved_for_backward_bytes(model: nn.Module, batch_size: int = 128, input_size=(3, 32, 32)) -> int:
    """Bytes of activations autograd keeps for the backward pass of one training batch, in fp32.

    Counted exactly, tensor by tensor, as autograd saves them (each storage once; the
    weights themselves are left out): the memory that grows with depth and batch size.
    """
    params = {p.data_ptr() for p in model.parameters()}
    seen: dict[int, int] = {}

    def pack(t: torch.Tensor):
        ptr = t.untyped_storage().data_ptr()
        if ptr not in params:
            seen[ptr] = max(seen.get(ptr, 0), t.untyped_storage().nbytes())
        return t

    device = next(model.parameters()).device
    model.train()
    x = torch.randn(batch_size, *input_size, device=device)
    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        loss = model(x).sum()
    del loss
    return sum(seen.values())


def step_seconds(
    model: nn.Module, batch_size: int = 128, input_size=(3, 32, 32), repeats: int = 5, device=None
) -> float:
    """Median time of one training step as :func:`~resnet_utils.training.loop.fit` takes it, on a
    batch already on the device: forward and loss (autocast where ``fit`` uses it,
    channels_last), backward, per-layer gradient norms, SGD step; after one warm-up step.
    Augmentation is left out. Times a copy: ``model`` is left as it was."""
    device = torch.device(device) if device is not None else next(model.parameters()).device
    model = copy.deepcopy(model).train()
    # a small learning rate: steps on random labels must not blow the net up while timed
    take_step = TrainingStep(model, Recipe(epochs=1, batch_size=batch_size, lr=1e-3), device)
    on_gradients = GradNorms(model).add
    images = torch.randn(batch_size, *input_size, device=device)
    labels = torch.randint(0, 10, (batch_size,), device=device)
    batch = one_batch(images, labels, take_step.memory_format)  # as fit's batches come
    each = [
        time_steps(take_step, batch, 1, warmup=1 if i == 0 else 0, on_gradients=on_gradients)
        for i in range(repeats)
    ]
    return statistics.median(each)  # of single steps: one slow step on a busy machine is left out
