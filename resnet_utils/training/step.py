"""One training step, taken the same way wherever it is taken: :func:`~resnet_utils.training.loop.fit`
trains with it, and one timer (:func:`time_steps`) times it for the plan's estimate, the step
time of :mod:`~resnet_utils.measure.counting` and the benchmarks, so that what is timed is
what is trained.

A step: forward and loss under autocast (where the device has a fast low-precision format),
backward through the grad scaler (which scales only for fp16), the gradients unscaled, an
optional look at them (``fit``'s per-layer norms), the optimiser step, the learning-rate
schedule's step. Net and batch are in the step's memory layout (channels_last unless asked
otherwise).
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable
from dataclasses import replace

import torch
import torch.nn.functional as F
from torch import nn

from resnet_utils.models import weighted_layers
from resnet_utils.training.data import ImageData, normalize, random_crop_flip
from resnet_utils.training.hardware import autocast_dtype, pick_device
from resnet_utils.training.profiles import Recipe


class TrainingStep:
    """Puts ``model`` on ``device`` in ``memory_format`` and builds, from ``recipe``, the SGD
    optimiser and its learning-rate schedule over ``total_steps`` steps, and the grad scaler;
    each call is then one step on a batch.

    ``total_steps=None`` builds no schedule: the learning rate stays the recipe's (the timers
    take a few steps, not a run). ``autocast=False`` keeps fp32 where a faster format exists;
    ``compile=True`` runs the forward through ``torch.compile``.
    """

    def __init__(
        self,
        model: nn.Module,
        recipe: Recipe,
        device: str | torch.device,
        *,
        total_steps: int | None = None,
        autocast: bool = True,
        compile: bool = False,
        memory_format: torch.memory_format = torch.channels_last,
    ):
        self.device = torch.device(device)
        self.amp_dtype = autocast_dtype(self.device) if autocast else None
        self.memory_format = memory_format
        self.model = model.to(self.device, memory_format=memory_format)
        self.forward = torch.compile(model) if compile else model
        if self.device.type == "cuda":
            torch.backends.cudnn.benchmark = True  # the batch shape never changes
        self.optimizer = torch.optim.SGD(
            model.parameters(),
            lr=recipe.lr,
            momentum=recipe.momentum,
            weight_decay=recipe.weight_decay,
        )
        self.schedule = None if total_steps is None else schedule(self.optimizer, recipe, total_steps)
        self.scaler = torch.amp.GradScaler(self.device.type, enabled=self.amp_dtype == torch.float16)

    def __call__(
        self,
        images: torch.Tensor,
        labels: torch.Tensor,
        on_gradients: Callable[[], object] | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """One step on ``images`` (normalised floats); ``on_gradients`` is called between
        backward and the optimiser step, with the gradients unscaled. Returns the logits and
        the loss, still on the device (reading them would wait for the device)."""
        images = images.contiguous(memory_format=self.memory_format)  # no copy if it is already
        with autocast_context(self.device, self.amp_dtype):
            logits = self.forward(images)
            loss = F.cross_entropy(logits, labels)
        self.optimizer.zero_grad(set_to_none=True)
        self.scaler.scale(loss).backward()
        self.scaler.unscale_(self.optimizer)
        if on_gradients is not None:
            on_gradients()
        self.scaler.step(self.optimizer)
        self.scaler.update()
        if self.schedule is not None:
            self.schedule.step()
        return logits, loss


def schedule(optimizer: torch.optim.Optimizer, recipe: Recipe, total_steps: int):
    """The recipe's learning-rate schedule over ``total_steps`` steps: ``onecycle`` (up, then
    down to nearly zero), or ``step`` (the paper's: a tenth at each of ``recipe.milestones``,
    the fractions of the run, after ``warmup_steps`` at ``warmup_lr``)."""
    if recipe.schedule == "onecycle":
        return torch.optim.lr_scheduler.OneCycleLR(
            optimizer, max_lr=recipe.lr, total_steps=max(total_steps, 2), cycle_momentum=False
        )
    if recipe.schedule == "step":
        milestones = [int(f * total_steps) for f in recipe.milestones]
        warmup = recipe.warmup_steps
        low = recipe.warmup_lr / recipe.lr

        def factor(step: int) -> float:  # the lr after ``step`` steps, over recipe.lr
            return (low if step < warmup else 1.0) * 0.1 ** sum(step >= m for m in milestones)

        return torch.optim.lr_scheduler.LambdaLR(optimizer, factor)
    raise ValueError(f"unknown schedule {recipe.schedule!r}: use 'onecycle' or 'step'.")


class GradNorms:
    """Each weighted layer's gradient norm (see :func:`~resnet_utils.models.weighted_layers`),
    summed on the device over the steps whose norms are all finite: an fp16 step whose
    gradients overflowed is one the grad scaler skips, and so does this sum.

    Pass :meth:`add` as a :class:`TrainingStep`'s ``on_gradients``.
    """

    def __init__(self, model: nn.Module):
        self.layers = [module for _, module in weighted_layers(model)]
        device = next(model.parameters()).device
        self.sum = torch.zeros(len(self.layers), device=device)
        self.steps = torch.zeros((), device=device)

    def add(self) -> None:
        norms = torch.stack(torch._foreach_norm([m.weight.grad for m in self.layers]))
        finite = torch.isfinite(norms).all()
        self.sum += torch.where(finite, norms, torch.zeros_like(norms))
        self.steps += finite

    def mean(self) -> list[float]:
        """The mean norm per layer over the counted steps (zeros if none counted)."""
        return (self.sum / self.steps.clamp(min=1)).tolist()


def synchronize(device: torch.device) -> None:
    """Wait for the device to finish its queued work (a CUDA step returns before it is done),
    so that a timer reads the time of the work, not of its launch; nothing on a CPU."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def time_steps(
    take_step: TrainingStep,
    next_batch: Callable[[], tuple[torch.Tensor, torch.Tensor]],
    steps: int,
    *,
    warmup: int = 1,
    on_gradients: Callable[[], object] | None = None,
) -> float:
    """Mean seconds of ``steps`` steps, each on the (images, labels) ``next_batch()`` gives
    (its making is timed with the step), after ``warmup`` untimed ones (one-off allocations
    and kernel choices). The course's one step timer."""
    for i in range(warmup + steps):
        if i == warmup:
            synchronize(take_step.device)
            started = time.perf_counter()
        take_step(*next_batch(), on_gradients=on_gradients)
    synchronize(take_step.device)
    return (time.perf_counter() - started) / steps


def one_batch(
    images: torch.Tensor, labels: torch.Tensor, memory_format: torch.memory_format = torch.channels_last
) -> Callable[[], tuple[torch.Tensor, torch.Tensor]]:
    """A ``next_batch`` for :func:`time_steps` that gives the same batch (already on the
    device) every step, laid out once: the step's limit, without batch preparation."""
    images = images.contiguous(memory_format=memory_format)
    return lambda: (images, labels)


def seconds_per_step(
    model: nn.Module,
    data: ImageData,
    recipe: Recipe,
    *,
    device: str | torch.device | None = None,
    steps: int = 3,
) -> float:
    """Time a few training steps of ``model`` (which they change) as :func:`fit` takes them,
    batch preparation and gradient norms included, at a hundredth of the recipe's learning
    rate: the basis of a notebook's time estimate before it trains. The first step is not
    counted (one-off allocations and kernel choices)."""
    device = pick_device(device)
    model.train()
    take_step = TrainingStep(model, replace(recipe, lr=recipe.lr * 0.01), device)
    generator = torch.Generator(device=device).manual_seed(0)
    batch_size = min(recipe.batch_size, len(data.train_y))
    train_x, train_y = data.train_x.to(device), data.train_y.to(device)

    def next_batch():
        index = torch.randint(len(train_y), (batch_size,), device=device, generator=generator)
        return prepare_batch(train_x, index, generator, augment=recipe.augment), train_y[index]

    return time_steps(take_step, next_batch, steps, on_gradients=GradNorms(model).add)


def prepare_batch(
    images: torch.Tensor,
    index: torch.Tensor,
    generator: torch.Generator | None = None,
    *,
    augment: bool,
    memory_format: torch.memory_format = torch.channels_last,
) -> torch.Tensor:
    """The uint8 ``images`` at ``index`` as a training step takes them: augmented if asked
    (random crop and flip, drawn from ``generator``), normalised, in ``memory_format``."""
    batch = images[index]
    if augment:
        batch = random_crop_flip(batch, generator)
    return normalize(batch).contiguous(memory_format=memory_format)


def autocast_context(device: torch.device, dtype: torch.dtype | None):
    """Autocast to ``dtype`` on ``device``; nothing at all for ``None`` (fp32)."""
    if dtype is None:
        return contextlib.nullcontext()
    return torch.autocast(device.type, dtype=dtype)
