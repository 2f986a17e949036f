"""The same run repeated over several seeds: what one seed cannot say about noise."""

from __future__ import annotations

import math
from dataclasses import dataclass
from statistics import fmean, stdev

import torch

from resnet_utils.training.runs import Run


@dataclass
class RunGroup:
    """Runs of one net and recipe that differ only in their seed (init and batch order).
    What a notebook's session trains is always a group: one seed is a group of one."""

    runs: list[Run]
    title: str | None = None

    def __post_init__(self):
        if not self.runs:
            raise ValueError("a RunGroup needs at least one run.")

    @property
    def name(self) -> str:
        return self.runs[0].name

    @property
    def options(self) -> dict:
        return self.runs[0].options

    @property
    def seeds(self) -> list[int]:
        return [run.spec["seed"] for run in self.runs]

    @property
    def label(self) -> str:
        if self.title:
            return self.title
        return self.runs[0].label

    @property
    def finished(self) -> list[Run]:
        return [run for run in self.runs if not run.diverged]

    @property
    def diverged(self) -> bool:
        """True when every seed diverged (one diverged seed is reported, not fatal)."""
        return not self.finished

    @property
    def diverged_seeds(self) -> list[int]:
        return [run.spec["seed"] for run in self.runs if run.diverged]

    def finals(self, metric: str) -> list[float]:
        """The final value of ``metric`` of every seed that did not diverge."""
        return [v for run in self.finished if (v := run.final(metric)) is not None]

    def test_correct(self) -> list[torch.Tensor] | None:
        """Per finished seed, which test images it got right; None unless every seed was scored
        on test sets of one size (then :func:`~resnet_utils.report.verdicts.compare` pairs them)."""
        scored = [run.test_correct for run in self.finished]
        if not scored or any(s is None for s in scored) or len({len(s) for s in scored}) != 1:
            return None
        return scored

    def mean(self, metric: str) -> float:
        values = self.finals(metric)
        return fmean(values) if values else math.nan

    def std(self, metric: str) -> float:
        """Sample standard deviation across seeds (0 with a single seed)."""
        values = self.finals(metric)
        return stdev(values) if len(values) >= 2 else 0.0

    def training_seconds(self) -> float:
        return sum(sum(run.history["seconds"]) for run in self.runs)

    def curve(self, metric: str) -> tuple[list[int], list[float], list[float], list[float]]:
        """Epochs, and the mean, min and max of ``metric`` over the finished seeds."""
        histories = [run.history for run in self.finished]
        if not histories:
            return [], [], [], []
        epochs = min(len(h[metric]) for h in histories)
        columns = [[h[metric][i] for h in histories] for i in range(epochs)]
        return (
            histories[0]["epoch"][:epochs],
            [fmean(c) for c in columns],
            [min(c) for c in columns],
            [max(c) for c in columns],
        )

    def describe(self) -> str:
        """'plain56, 3 seeds (0, 1, 2): 2 trained, 1 from the cache (214 s of training)'."""
        cached = sum(run.from_cache for run in self.runs)
        trained = len(self.runs) - cached
        parts = [f"{trained} trained" if trained else "", f"{cached} from the cache" if cached else ""]
        text = (
            f"{self.label}, {len(self.runs)} {'seed' if len(self.runs) == 1 else 'seeds'} "
            f"({', '.join(map(str, self.seeds))}): "
            f"{', '.join(p for p in parts if p)} ({self.training_seconds():.0f} s of training)"
        )
        if self.diverged_seeds:
            text += f"; diverged: seed {', '.join(map(str, self.diverged_seeds))}"
        return text

    def summary(self, metric: str) -> str:
        """'0.912 ± 0.031 (3 seeds)': mean and spread of one metric, for tables."""
        values = self.finals(metric)
        if not values:
            return "diverged"
        pct = metric.endswith(("acc", "error"))  # accuracies and errors in percent
        scale, unit = (100, "%") if pct else (1, "")
        digits = 1 if pct else 3
        text = f"{scale * self.mean(metric):.{digits}f}{unit}"
        if len(values) >= 2:
            text += f" ± {scale * self.std(metric):.{digits}f}"
        return text
