"""What a notebook is about to train, what comes from the cache, and how long the rest will
take on *this* machine: printed before the first training, so that a student on a CPU-only
runtime learns "about 35 minutes" before waiting, not after."""

from __future__ import annotations

from dataclasses import dataclass, field

import torch

from resnet_utils.models import canonical
from resnet_utils.training.cache import RunCache
from resnet_utils.training.checkpoint import peek
from resnet_utils.training.data import ImageData
from resnet_utils.training.hardware import (
    autocast_dtype,
    describe_device,
    precision_name,
    using_threads,
)
from resnet_utils.training.profiles import Recipe
from resnet_utils.training.runs import run_label, run_spec
from resnet_utils.training.step import seconds_per_step

# An evaluation pass (forward only, no augmentation) costs about a third of a training step
# per image: the backward pass is about twice the forward.
EVAL_SHARE = 1 / 3


@dataclass
class PlannedNet:
    label: str
    seeds: list[int]
    cached: list[int] = field(default_factory=list)
    resumed: dict[int, int] = field(default_factory=dict)  # seed -> epochs already done
    seconds_per_epoch: float | None = None  # estimated; None when nothing is left to train
    epochs: int = 0

    @property
    def to_train(self) -> list[int]:
        return [s for s in self.seeds if s not in self.cached]

    @property
    def seconds(self) -> float:
        if not self.to_train or self.seconds_per_epoch is None:
            return 0.0
        epochs_left = sum(self.epochs - self.resumed.get(s, 0) for s in self.to_train)
        return epochs_left * self.seconds_per_epoch

    def describe(self) -> str:
        parts = []
        if self.to_train:
            each = self.seconds / len(self.to_train)
            resumed = f", {len(self.resumed)} resuming from a checkpoint" if self.resumed else ""
            parts.append(f"{len(self.to_train)} to train ({_duration(each)} each{resumed})")
        if self.cached:
            parts.append(f"{len(self.cached)} from the cache")
        seeds = "seed" if len(self.seeds) == 1 else "seeds"
        return f"  {self.label:<28} {len(self.seeds)} {seeds}: " + ", ".join(parts)


@dataclass
class Plan:
    nets: list[PlannedNet]
    heading: str

    @property
    def seconds(self) -> float:
        return sum(net.seconds for net in self.nets)

    @property
    def runs_to_train(self) -> int:
        return sum(len(net.to_train) for net in self.nets)

    def __str__(self) -> str:
        lines = [self.heading, *(net.describe() for net in self.nets)]
        if self.runs_to_train == 0:
            lines.append("Everything comes from the cache: nothing to train.")
        else:
            lines.append(
                f"To train: {self.runs_to_train} run{'s' if self.runs_to_train != 1 else ''}, "
                f"{_duration(self.seconds)} on this machine "
                "(estimated from a few timed training steps per net; other work on the machine "
                "makes it longer). Finished runs are kept: run the notebook again to continue."
            )
        return "\n".join(lines)


def make_plan(
    nets,
    data: ImageData,
    recipe: Recipe,
    *,
    seeds: list[int],
    device: torch.device,
    cache: RunCache | None = None,
    heading: str = "",
    timed_steps: int = 3,
    threads: int | None = None,
) -> Plan:
    """A :class:`Plan` for ``nets`` (names, or ``(name, options)`` or ``(name, options,
    title)`` tuples), each with every seed in ``seeds``. Times a few steps of each net
    that has runs left to train, with ``threads`` CPU threads (None: torch's count now),
    the count the runs will train with; trains nothing."""
    cache = cache or RunCache()
    n_train, n_test = len(data.train_y), len(data.test_y)
    batch = min(recipe.batch_size, n_train)
    planned = []
    for entry in nets:
        name, options, title = _entry(entry)
        label = title or run_label(canonical(name, options)[0], options)
        net = PlannedNet(label, list(seeds), epochs=recipe.epochs)
        model = None
        for seed in seeds:
            _, spec, fresh = run_spec(name, data, recipe, seed=seed, options=options, device=device)
            model = model or fresh
            if cache.paths(spec)[0].exists():
                net.cached.append(seed)
            elif (done := _epochs_done(cache.checkpoint_path(spec))) is not None:
                net.resumed[seed] = done
        if net.to_train:
            with using_threads(threads):
                step = seconds_per_step(model, data, recipe, device=device, steps=timed_steps)
            steps_per_epoch = n_train // batch
            net.seconds_per_epoch = step * (steps_per_epoch + EVAL_SHARE * n_test / batch)
        planned.append(net)
    return Plan(planned, heading)


def plan_heading(profile_name: str, data: ImageData, recipe: Recipe, device: torch.device) -> str:
    return (
        f"Plan ({profile_name} profile): {len(data.train_y):,} training images, "
        f"{recipe.epochs} epoch{'s' if recipe.epochs != 1 else ''} per run, "
        f"on {describe_device(device)}, "
        f"{precision_name(autocast_dtype(device))}."
    )


def _entry(entry) -> tuple[str, dict, str | None]:
    if isinstance(entry, str):
        return entry, {}, None
    name, options, *rest = entry
    return name, dict(options or {}), (rest[0] if rest else None)


def _epochs_done(checkpoint) -> int | None:
    """The epochs a run's checkpoint holds; None without one."""
    state = peek(checkpoint)
    try:
        return None if state is None else len(state["history"]["epoch"])
    except Exception:  # a damaged checkpoint: the run will start over (fit says so)
        return None


def _duration(seconds: float) -> str:
    if seconds < 90:
        return f"about {max(1, round(seconds))} s"
    if seconds < 90 * 60:
        return f"about {round(seconds / 60)} min"
    return f"about {seconds / 3600:.1f} h"
