"""The training loop every notebook uses, and the history it returns.

Data stays on the device as uint8; each batch is augmented and normalised there in one go.
The loop synchronises with the device only every few steps (for the progress bar and the
divergence check), never once per batch.
"""

from __future__ import annotations

import contextlib
import math
import time
import warnings
from dataclasses import replace
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn
from tqdm.auto import tqdm

from resnet_utils.models import weighted_layers
from resnet_utils.storage.atomic import load_tensors, write_atomically, write_problem
from resnet_utils.training.data import ImageData, normalize
from resnet_utils.training.hardware import autocast_dtype, pick_device, precision_name
from resnet_utils.training.profiles import Recipe
from resnet_utils.training.step import (
    GradNorms,
    TrainingStep,
    autocast_context,
    prepare_batch,
    synchronize,
)

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

    ``checkpoint``: a file written (atomically) at the end of every epoch with everything
    the next epoch depends on: weights, optimiser, scheduler, grad scaler, random states
    and the history so far. If it exists when ``fit`` starts, training resumes after its
    last epoch, so a disconnected runtime, a restarted kernel or a Ctrl-C costs at most
    one epoch (a large checkpoint is written less often: at most a few minutes, see
    :class:`CheckpointPace`); on the CPU the resumed history equals an uninterrupted one.
    The caller removes the file once the finished run is stored.
    """
    device = pick_device(device)
    take_step = TrainingStep(model, recipe, device, autocast=autocast, compile=compile)
    optimizer, scaler = take_step.optimizer, take_step.scaler
    data = data.to(device)

    n_train = len(data.train_y)
    batch_size = min(recipe.batch_size, n_train)
    steps_per_epoch = n_train // batch_size  # drop the last partial batch, as is usual
    total_steps = recipe.epochs * steps_per_epoch
    scheduler = _scheduler(optimizer, recipe, total_steps)
    generator = torch.Generator(device=device).manual_seed(seed)

    history = {
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
        "precision": precision_name(take_step.amp_dtype),
    }
    first_epoch = 1
    state = _read_checkpoint(checkpoint, device) if checkpoint is not None else None
    if state is not None:
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        scheduler.load_state_dict(state["scheduler"])
        scaler.load_state_dict(state["scaler"])
        generator.set_state(state["generator"])
        torch.set_rng_state(state["torch_rng"])
        if device.type == "cuda" and "cuda_rng" in state:
            torch.cuda.set_rng_state(state["cuda_rng"], device)
        history = state["history"]
        first_epoch = len(history["epoch"]) + 1
        _warn_other_threads(state, device, first_epoch - 1)
        if progress:
            print(f"{description}: resuming after epoch {first_epoch - 1} of {recipe.epochs}")
    writes = CheckpointPace()
    bar = tqdm(total=total_steps, desc=description, disable=not progress, leave=False)
    bar.update((first_epoch - 1) * steps_per_epoch)
    try:
        for epoch in range(first_epoch, recipe.epochs + 1):
            start = time.perf_counter()
            model.train()
            loss_sum = torch.zeros((), device=device)
            correct = torch.zeros((), device=device, dtype=torch.long)
            grad_norms = GradNorms(model)
            lr_at_start = optimizer.param_groups[0]["lr"]
            order = torch.randperm(n_train, device=device, generator=generator)
            for step in range(steps_per_epoch):
                index = order[step * batch_size : (step + 1) * batch_size]
                images = prepare_batch(data.train_x, index, generator, augment=recipe.augment)
                labels = data.train_y[index]
                logits, loss = take_step(images, labels, on_gradients=grad_norms.add)
                scheduler.step()
                loss_sum += loss.detach().float()
                correct += (logits.argmax(1) == labels).sum()
                done = step + 1
                if done % SYNC_EVERY == 0 or done == steps_per_epoch:
                    mean_loss = loss_sum.item() / done
                    bar.update(done - bar.n + (epoch - 1) * steps_per_epoch)
                    if not math.isfinite(mean_loss):  # absurd but finite: see epoch end
                        history["diverged"] = True
                        history["diverged_epoch"] = epoch
                        bar.set_postfix(epoch=epoch, status="diverged")
                        return history
                    bar.set_postfix(epoch=epoch, loss=f"{mean_loss:.3f}")
            train_seconds = time.perf_counter() - start
            test_loss, test_acc = evaluate(model, data, device=device, autocast=autocast)
            if not math.isfinite(test_loss) and take_step.amp_dtype == torch.float16:
                # fp16 overflows above 65504: an overflow of the format is not the net's
                test_loss, test_acc = evaluate(model, data, device=device, autocast=False)
            train_loss = loss_sum.item() / steps_per_epoch
            # A large but finite test loss is not divergence: in the first epochs of a deep
            # plain net, eval-mode BN statistics lag the weights and the test loss can reach
            # hundreds or thousands while training goes on normally (seen: 583 in epoch 1).
            if not (_sound(train_loss) and math.isfinite(test_loss)):
                # a loss of 4.7e28, or a net whose test loss is NaN, diverged in this epoch:
                # the epoch is not a result, and the history keeps only finite numbers
                history["diverged"] = True
                history["diverged_epoch"] = epoch
                bar.set_postfix(epoch=epoch, status="diverged")
                return history
            history["epoch"].append(epoch)
            history["train_loss"].append(train_loss)
            history["train_acc"].append(correct.item() / (steps_per_epoch * batch_size))
            history["test_loss"].append(test_loss)
            history["test_acc"].append(test_acc)
            history["lr"].append(lr_at_start)
            history["seconds"].append(time.perf_counter() - start)
            history["images_per_s"].append(steps_per_epoch * batch_size / train_seconds)
            history["grad_norms"].append(grad_norms.mean())
            if checkpoint is not None and epoch < recipe.epochs and writes.due():
                try:
                    with writes.timed():
                        _write_checkpoint(
                            checkpoint, model, optimizer, scheduler, scaler, generator, history
                        )
                # a full or read-only disk must not stop the training; torch's zip writer
                # reports a full disk as RuntimeError ("unexpected pos"), not OSError
                except (OSError, RuntimeError) as error:
                    problem = write_problem(error, Path(checkpoint).parent)
                    warnings.warn(
                        f"cannot write the checkpoint {checkpoint} ({problem}): this run "
                        "goes on, but cannot resume if interrupted.",
                        stacklevel=2,
                    )
                    checkpoint = None
    finally:
        bar.close()
    return history


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
    amp_dtype = autocast_dtype(device) if autocast else None
    was_training = model.training
    model.eval()
    loss_sum = torch.zeros((), device=device)
    correct = torch.zeros((), device=device, dtype=torch.long)
    test_x, test_y = data.test_x.to(device), data.test_y.to(device)
    for start in range(0, len(test_y), EVAL_BATCH):
        images = normalize(test_x[start : start + EVAL_BATCH])
        labels = test_y[start : start + EVAL_BATCH]
        with autocast_context(device, amp_dtype):
            logits = model(images.contiguous(memory_format=torch.channels_last))
        loss_sum += F.cross_entropy(logits.float(), labels, reduction="sum")
        correct += (logits.argmax(1) == labels).sum()
    model.train(was_training)
    n = len(test_y)
    return loss_sum.item() / n, correct.item() / n


CHECKPOINT_FORMAT = 1
# A checkpoint that takes a second or more to write (ResNet-152's is 466 MB: weights, momentum)
# is written only when the training since the last one is ten times its writing time, and at
# least every three minutes: on a T4, whose ResNet-152 epoch takes seconds, one per epoch would
# spend more time writing than training (most of all to Drive), while a disconnect still costs
# at most a few minutes. Cheaper checkpoints are written after every epoch.
CHEAP_WRITE_S = 1.0
WRITE_SHARE = 0.1
MOST_UNSAVED_S = 180.0


class CheckpointPace:
    """When the next end-of-epoch checkpoint is due (see ``CHEAP_WRITE_S``)."""

    def __init__(self, clock=time.perf_counter):
        self.clock = clock
        self.saved_at = clock()
        self.write_s = 0.0

    def due(self) -> bool:
        if self.write_s < CHEAP_WRITE_S:
            return True
        since = self.clock() - self.saved_at
        return since >= min(self.write_s / WRITE_SHARE, MOST_UNSAVED_S)

    @contextlib.contextmanager
    def timed(self):
        started = self.clock()
        yield
        self.saved_at = self.clock()
        self.write_s = self.saved_at - started


def _write_checkpoint(path, model, optimizer, scheduler, scaler, generator, history) -> None:
    state = {
        "format": CHECKPOINT_FORMAT,
        "model": {k: v.detach().cpu() for k, v in model.state_dict().items()},
        "optimizer": optimizer.state_dict(),
        "scheduler": scheduler.state_dict(),
        "scaler": scaler.state_dict(),
        "generator": generator.get_state(),
        "torch_rng": torch.get_rng_state(),
        "history": history,
        "threads": torch.get_num_threads(),  # CPU sums in another order differ in the last bits
    }
    if generator.device.type == "cuda":  # dropout on a GPU draws from the device's generator
        state["cuda_rng"] = torch.cuda.get_rng_state(generator.device)
    write_atomically(Path(path), lambda tmp: torch.save(state, tmp))


def _read_checkpoint(path, device: torch.device) -> dict | None:
    """The checkpoint's state, or None if there is none or it cannot be trusted (then the
    run starts over: a damaged checkpoint costs time, never a wrong result)."""
    path = Path(path)
    try:
        if not path.exists():
            return None
    except OSError as error:  # a storage folder whose disk went away (Drive unmounted)
        warnings.warn(
            f"ignoring checkpoint {path.name} (cannot read it: {error}); training from the start.",
            stacklevel=3,
        )
        return None
    try:
        state = load_tensors(path, map_location=device)  # no pickled code
        if state.get("format") != CHECKPOINT_FORMAT:
            raise ValueError(f"format {state.get('format')!r}, not {CHECKPOINT_FORMAT}")
        state["generator"] = state["generator"].cpu()
        for key in ("torch_rng", "cuda_rng"):
            if key in state:
                state[key] = state[key].cpu()
        return state
    except Exception as error:
        warnings.warn(
            f"ignoring checkpoint {path.name} ({error}); training from the start.", stacklevel=3
        )
        return None


def _warn_other_threads(state: dict, device: torch.device, epochs_done: int) -> None:
    """A CPU run resumed with another thread count adds in another order: it goes on, but
    its history need not equal an uninterrupted run's to the last digit."""
    saved = state.get("threads")
    now = torch.get_num_threads()
    if device.type == "cpu" and saved is not None and saved != now:
        warnings.warn(
            f"resuming after epoch {epochs_done} with {now} CPU thread{'s' if now != 1 else ''}; "
            f"the checkpoint was written with {saved}. The run goes on, but may end slightly "
            "differently from an uninterrupted one (torch.set_num_threads"
            f"({saved}) before training resumes it exactly).",
            stacklevel=3,
        )


def _sound(loss: float) -> bool:
    """A loss worth recording: finite, and not one of a net that has blown up."""
    return math.isfinite(loss) and loss <= DIVERGED_LOSS


def _scheduler(optimizer, recipe: Recipe, total_steps: int):
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
    grad_norms = GradNorms(model)
    generator = torch.Generator(device=device).manual_seed(0)
    batch_size = min(recipe.batch_size, len(data.train_y))
    train_x, train_y = data.train_x.to(device), data.train_y.to(device)
    started = 0.0
    for step in range(steps + 1):
        if step == 1:
            synchronize(device)
            started = time.perf_counter()
        index = torch.randint(len(train_y), (batch_size,), device=device, generator=generator)
        images = prepare_batch(train_x, index, generator, augment=recipe.augment)
        take_step(images, train_y[index], on_gradients=grad_norms.add)
    synchronize(device)
    return (time.perf_counter() - started) / steps
