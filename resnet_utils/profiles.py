"""What ``smoke``, ``quick`` and ``full`` mean, and how ``auto`` chooses between them."""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass, replace

import torch

PROFILE_ENV = "RESNET_PROFILE"
PROFILES = ("smoke", "quick", "full")


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

    def as_dict(self) -> dict:
        return asdict(self)


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
        512,
        256,
        Recipe(epochs=2, batch_size=64, lr=0.05),
        "seconds: synthetic images, for tests and CI",
    ),
    "quick": Profile(
        "quick",
        "cifar10",
        5_000,
        2_000,
        # Sized so that a notebook can repeat its headline runs over three seeds and still
        # finish in about 10 minutes on a 2-core CPU (plain-56: about 1 min per run).
        Recipe(epochs=6),
        "minutes on a laptop CPU: 5,000 CIFAR-10 training images, 6 epochs, one-cycle lr",
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
    """``full`` where there is a GPU, ``quick`` on a CPU."""
    return "full" if torch.cuda.is_available() else "quick"
