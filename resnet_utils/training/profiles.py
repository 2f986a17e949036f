"""What ``smoke``, ``quick``, ``colab`` and ``full`` mean, and how ``auto`` chooses."""

from __future__ import annotations

import math
import numbers
import os
from dataclasses import asdict, dataclass, replace

import torch

PROFILE_ENV = "RESNET_PROFILE"
PROFILES = ("smoke", "quick", "colab", "full")
GPU_PROFILE, CPU_PROFILE = "colab", "quick"  # what ``auto`` picks with and without a GPU
CIFAR10_TRAIN_IMAGES = 50_000  # what a profile's ``train_size`` of None stands for


@dataclass(frozen=True)
class Recipe:
    """Everything about the optimisation that changes the result of a run."""

    epochs: int
    batch_size: int = 128
    lr: float = 0.1
    momentum: float = 0.9
    weight_decay: float = 5e-4
    schedule: str = "onecycle"  # "onecycle" (short budgets) or "step" (the paper's /10 steps)
    milestones: tuple[float, ...] = (0.5, 0.75)  # fractions of training, for "step"
    augment: bool = True
    # He et al. 2015, sec. 4.2, for ResNet-110: start at 0.01 "until the training error is
    # below 80% (about 400 iterations)", then go back to 0.1. Steps at ``warmup_lr`` first.
    warmup_steps: int = 0
    warmup_lr: float = 0.01

    def __post_init__(self):
        _whole("epochs", self.epochs, minimum=1)
        _whole("batch_size", self.batch_size, minimum=1)
        _number("lr", self.lr, lambda v: v > 0, "a positive number")
        _number("momentum", self.momentum, lambda v: 0 <= v < 1, "a number in [0, 1)")
        _number("weight_decay", self.weight_decay, lambda v: v >= 0, "a number >= 0")
        if self.schedule not in SCHEDULES:
            raise ValueError(f"schedule must be one of {SCHEDULES}, not {self.schedule!r}.")
        milestones = self.milestones
        if not isinstance(milestones, (list, tuple)):
            raise ValueError(f"milestones must be a tuple of fractions, not {milestones!r}.")
        for m in milestones:
            _number("each milestone", m, lambda v: 0 < v < 1, "a fraction of training in (0, 1)")
        if list(milestones) != sorted(milestones):
            raise ValueError(f"milestones must increase, not {milestones!r}.")
        object.__setattr__(self, "milestones", tuple(milestones))  # a list would not hash
        if not isinstance(self.augment, bool):
            raise ValueError(f"augment must be True or False, not {self.augment!r}.")
        _whole("warmup_steps", self.warmup_steps, minimum=0)
        _number("warmup_lr", self.warmup_lr, lambda v: v > 0, "a positive number")

    def as_dict(self) -> dict:
        return asdict(self)


SCHEDULES = ("onecycle", "step")


def _whole(name: str, value, minimum: int) -> None:
    if not isinstance(value, numbers.Integral) or isinstance(value, bool) or value < minimum:
        raise ValueError(f"{name} must be a whole number >= {minimum}, not {value!r}.")


def _number(name: str, value, ok, what: str) -> None:
    real = isinstance(value, numbers.Real) and not isinstance(value, bool)
    if not (real and math.isfinite(value) and ok(value)):
        raise ValueError(f"{name} must be {what}, not {value!r}.")


@dataclass(frozen=True)
class Profile:
    """A data budget and a recipe; notebooks scale their experiments by it."""

    name: str
    dataset: str  # "cifar10" or "synthetic"
    train_size: int | None  # None: the whole split
    test_size: int | None
    recipe: Recipe
    description: str

    def with_epochs(self, epochs: int | None) -> Profile:
        """The same profile with another epoch count (a notebook's ``epochs`` parameter)."""
        if epochs is None:
            return self
        if epochs < 1:
            raise ValueError(f"epochs must be at least 1, not {epochs}.")
        return replace(self, recipe=replace(self.recipe, epochs=int(epochs)))


_PROFILES = {
    "smoke": Profile(
        "smoke",
        "synthetic",
        # Every cell and code path of a real run, at the least work that still has two
        # epochs and two steps an epoch: 4 steps a run, so that a notebook runs in well under
        # a minute on a 2-core CPU without bf16. The nets learn next to nothing; the verdicts
        # say so ("not trained enough"), which is a path the tests need too.
        128,
        64,
        Recipe(epochs=2, batch_size=64, lr=0.05),
        "seconds: 128 synthetic images, 2 epochs of 2 steps, for tests and CI",
    ),
    "quick": Profile(
        "quick",
        "cifar10",
        10_000,
        2_000,
        # Sized so that a notebook can repeat its headline runs over three seeds in minutes
        # on a 2-core CPU, while plain-56, the slowest starter, gets far enough from ln 10 to
        # be compared. Measured from an empty cache on the 2-core AVX512-BF16 EPYC (bf16):
        # notebook 1 in 7 min with two threads, 19 min with one; on the AVX2 EPYC (fp32) 27
        # min with one of its six runs cached. Without bf16 the plans of notebooks 1, 2, 3, 5
        # say 25 / 49 / 41 / 29 min of training (AVX2 kernels, two threads: docs/speed.md),
        # and a plan over 15 min says so and points to the reference nets. The plan each
        # notebook prints is timed where it runs.
        Recipe(epochs=6),
        "a laptop CPU, as long as its plan says: 10,000 CIFAR-10 images, 6 epochs, one-cycle lr",
    ),
    "colab": Profile(
        "colab",
        "cifar10",
        None,
        None,
        # Sized for one sitting on a free Colab T4: every training image, a short one-cycle
        # schedule instead of the paper's 164 epochs. Not yet measured on a GPU: the course's
        # sessions have had none. Each notebook prints its own estimate from timed steps.
        Recipe(epochs=20),
        "a GPU in one sitting (a Colab T4): all 50,000 training images, 20 epochs, one-cycle lr",
    ),
    "full": Profile(
        "full",
        "cifar10",
        None,
        None,
        # He et al. 2015, sec. 4.2: 64k iterations of batch 128 (164 epochs of 50k),
        # lr 0.1 divided by 10 at 32k and 48k iterations, weight decay 1e-4, momentum 0.9.
        Recipe(epochs=164, weight_decay=1e-4, schedule="step"),
        "a GPU: all 50,000 training images, the paper's recipe (164 epochs)",
    ),
}


def get_profile(name: str = "auto") -> Profile:
    """Resolve a profile name; ``auto`` reads ``$RESNET_PROFILE`` first, then the hardware."""
    name = (name or "auto").strip().lower()
    if name == "auto":
        name = os.environ.get(PROFILE_ENV, "").strip().lower() or auto_profile_name()
        if name not in PROFILES:
            raise ValueError(
                f"${PROFILE_ENV}={os.environ.get(PROFILE_ENV)!r} is not a profile: "
                f"use one of {PROFILES}."
            )
    if name not in _PROFILES:
        raise ValueError(f"unknown profile {name!r}: use one of {PROFILES} or 'auto'.")
    return _PROFILES[name]


def auto_profile_name() -> str:
    """``colab`` where there is a GPU (``full``, the paper's 164 epochs, only by name), ``quick``
    on a CPU."""
    return GPU_PROFILE if torch.cuda.is_available() else CPU_PROFILE
