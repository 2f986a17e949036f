"""The training loop every notebook uses, and the history it returns.

Data stays on the device as uint8; each batch is augmented and normalised there in one go.
The loop synchronises with the device only every few steps (for the progress bar and the
divergence check), never once per batch.
"""

from __future__ import annotations

import math
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn
from tqdm.auto import tqdm

from resnet_utils.models import weighted_layers
from resnet_utils.training.checkpoint import Checkpoint
from resnet_utils.training.data import ImageData, normalize
from resnet_utils.training.hardware import autocast_dtype, pick_device, precision_name
from resnet_utils.training.profiles import Recipe
from resnet_utils.training.step import GradNorms, TrainingStep, autocast_context, prepare_batch

SYNC_EVERY = 10  # steps between progress updates and divergence checks
# A mean cross-entropy above this has diverged, finite or not: chance on 10 classes is
# ln 10 = 2.3, and a net that predicts the wrong class with certainty 1 - 1e-400 scores 921.
DIVERGED_LOSS = 1e3
EVAL_BATCH = 1000


def fit(
    model: nn.Module,
    data: ImageData,
    recipe: Recipe,
    *,
    seed: int = 0,
    device: str | torch.device | None = None,
    progress: bool = True,
    description: str = "training",
    autocast: bool = True,
    compile: bool = False,
    checkpoint: str | Path | None = None,
) -> dict:
    """Train ``model`` in place; return the per-epoch history (plain lists, JSON-ready).

    A non-finite or absurd training loss (above ``DIVERGED_LOSS``), or a non-finite test
    loss, stops training and marks the history ``diverged`` in that epoch; the epochs before
    it are kept, that epoch and nothing after it is recorded, and nothing is raised. The
    history holds finite numbers only (strict JSON).

    ``autocast=False`` trains in fp32 even where a faster format exists (for comparisons).
    ``compile=True`` runs the forward through ``torch.compile``: faster steps after a
    compilation that takes longer than a short notebook run saves (see benchmarks/).

    ``checkpoint``: a file written (atomically) at the end of every epoch but the last
    (:mod:`~resnet_utils.training.checkpoint`). If it exists when ``fit`` starts, training
    resumes after its last epoch; on the CPU the resumed history equals an uninterrupted
    one. The caller removes the file once the finished run is stored.
    """
    device = pick_device(device)
    data = data.to(device)
    n_train = len(data.train_y)
    batch_size = min(recipe.batch_size, n_train)
    steps_per_epoch = n_train // batch_size  # drop the last partial batch, as is usual
    total_steps = recipe.epochs * steps_per_epoch
    take_step = TrainingStep(
        model, recipe, device, total_steps=total_steps, autocast=autocast, compile=compile
    )
    generator = torch.Generator(device=device).manual_seed(seed)
    history = _new_history(model, device, take_step.amp_dtype)
    saved = Checkpoint(checkpoint, device)
    if (resumed := saved.resume(take_step, generator)) is not None:
        history = resumed
        if progress:
            print(f"{description}: resuming after epoch {len(history['epoch'])} of {recipe.epochs}")
    first_epoch = len(history["epoch"]) + 1
    bar = tqdm(total=total_steps, desc=description, disable=not progress, leave=False)
    bar.update((first_epoch - 1) * steps_per_epoch)
    try:
        for epoch in range(first_epoch, recipe.epochs + 1):
            start = time.perf_counter()
            model.train()
            loss_sum = torch.zeros((), device=device)
            correct = torch.zeros((), device=device, dtype=torch.long)
            grad_norms = GradNorms(model)
            lr_at_start = take_step.optimizer.param_groups[0]["lr"]
            order = torch.randperm(n_train, device=device, generator=generator)
            for step in range(steps_per_epoch):
                index = order[step * batch_size : (step + 1) * batch_size]
                images = prepare_batch(data.train_x, index, generator, augment=recipe.augment)
                labels = data.train_y[index]
                logits, loss = take_step(images, labels, on_gradients=grad_norms.add)
                loss_sum += loss.detach().float()
                correct += (logits.argmax(1) == labels).sum()
                done = step + 1
                if done % SYNC_EVERY == 0 or done == steps_per_epoch:  # reading waits for the device
                    mean_loss = loss_sum.item() / done
                    bar.update(done - bar.n + (epoch - 1) * steps_per_epoch)
                    bar.set_postfix(epoch=epoch, loss=f"{mean_loss:.3f}")
                    if not math.isfinite(mean_loss):
                        break  # diverged: no step after this one will mend it
            train_seconds = time.perf_counter() - start
            train_loss = loss_sum.item() / steps_per_epoch
            test_loss, test_acc = math.nan, 0.0  # a net that has blown up is not tested
            if _sound(train_loss):
                test_loss, test_acc = _test(model, data, device, take_step.amp_dtype)
            # A large but finite test loss is not divergence: in the first epochs of a deep
            # plain net, eval-mode BN statistics lag the weights and the test loss can reach
            # hundreds or thousands while training goes on normally (seen: 583 in epoch 1).
            if not (_sound(train_loss) and math.isfinite(test_loss)):
                # a loss of 4.7e28, or a net whose test loss is NaN, diverged in this epoch:
                # the epoch is not a result, and the history keeps only finite numbers
                history["diverged"] = True
                history["diverged_epoch"] = epoch
                bar.set_postfix(epoch=epoch, status="diverged")
                break
            history["epoch"].append(epoch)
            history["train_loss"].append(train_loss)
            history["train_acc"].append(correct.item() / (steps_per_epoch * batch_size))
            history["test_loss"].append(test_loss)
            history["test_acc"].append(test_acc)
            history["lr"].append(lr_at_start)
            history["seconds"].append(time.perf_counter() - start)
            history["images_per_s"].append(steps_per_epoch * batch_size / train_seconds)
            history["grad_norms"].append(grad_norms.mean())
            if epoch < recipe.epochs:  # the last epoch's state is the run itself: the caller's
                saved.save(take_step, generator, history)
    finally:
        bar.close()
    return history


def _new_history(model: nn.Module, device: torch.device, amp_dtype: torch.dtype | None) -> dict:
    """The history of a run before its first epoch: a list per curve, one entry per epoch."""
    return {
        "epoch": [],
        "train_loss": [],
        "train_acc": [],
        "test_loss": [],
        "test_acc": [],
        "lr": [],
        "seconds": [],
        "images_per_s": [],
        "grad_norms": [],
        "layer_names": [name for name, _ in weighted_layers(model)],
        "diverged": False,
        "diverged_epoch": None,
        "device": device.type,
        "precision": precision_name(amp_dtype),
    }


def _test(model: nn.Module, data: ImageData, device: torch.device, amp_dtype: torch.dtype | None):
    """The test loss and accuracy in the training's number format; in fp32 where fp16
    overflowed (above 65504: an overflow of the format is not the net's)."""
    test_loss, test_acc = evaluate(model, data, device=device, autocast=amp_dtype is not None)
    if not math.isfinite(test_loss) and amp_dtype == torch.float16:
        test_loss, test_acc = evaluate(model, data, device=device, autocast=False)
    return test_loss, test_acc


@torch.no_grad()
def evaluate(
    model: nn.Module,
    data: ImageData,
    *,
    device: str | torch.device | None = None,
    autocast: bool = True,
) -> tuple[float, float]:
    """Mean loss and accuracy on the test split: no augmentation, large batches."""
    device = pick_device(device) if device is not None else next(model.parameters()).device
    loss_sum = torch.zeros((), device=device)
    correct = torch.zeros((), device=device, dtype=torch.long)
    for logits, labels in _test_batches(model, data, device, autocast):
        loss_sum += F.cross_entropy(logits.float(), labels, reduction="sum")
        correct += (logits.argmax(1) == labels).sum()
    n = len(data.test_y)
    return loss_sum.item() / n, correct.item() / n


@torch.no_grad()
def correct_per_image(
    model: nn.Module, data: ImageData, *, device: str | torch.device | None = None, autocast: bool = True
) -> torch.Tensor:
    """Which test images the net classifies right (bool, on the CPU), scored as :func:`evaluate`
    scores them (its mean is the test accuracy). Two nets scored on the same images differ on
    fewer images than their accuracies suggest (the easy ones both get right), which is what
    :func:`~resnet_utils.report.verdicts.compare`'s paired margin rests on."""
    device = pick_device(device) if device is not None else next(model.parameters()).device
    right = [
        logits.argmax(1) == labels for logits, labels in _test_batches(model, data, device, autocast)
    ]
    return torch.cat(right).cpu() if right else torch.zeros(0, dtype=torch.bool)


def _test_batches(model: nn.Module, data: ImageData, device: torch.device, autocast: bool):
    """The net's logits on the test split, batch by batch, with their labels: eval mode, no
    augmentation, the training's number format (unless ``autocast`` is False)."""
    amp_dtype = autocast_dtype(device) if autocast else None
    was_training = model.training
    model.eval()
    test_x, test_y = data.test_x.to(device), data.test_y.to(device)
    try:
        for start in range(0, len(test_y), EVAL_BATCH):
            images = normalize(test_x[start : start + EVAL_BATCH])
            with autocast_context(device, amp_dtype):
                logits = model(images.contiguous(memory_format=torch.channels_last))
            yield logits, test_y[start : start + EVAL_BATCH]
    finally:
        model.train(was_training)


def _sound(loss: float) -> bool:
    """A loss worth recording: finite, and not one of a net that has blown up."""
    return math.isfinite(loss) and loss <= DIVERGED_LOSS
