"""A notebook's run: profile, device, data and provenance, resolved once in its set-up cell."""

from __future__ import annotations

import os
import platform
import sys
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import torch

from .atomic import save_json
from .data import ImageData, load_cifar10, synthetic
from .guidance import device_advice
from .hardware import autocast_dtype, describe_device, pick_device, precision_name
from .paths import cache_root, describe_storage, use_storage
from .profiles import PROFILE_ENV, Profile, get_profile
from .reference import CURVES
from .runs import Run, train

SUMMARY_ENV = "RESNET_SUMMARY_DIR"


@dataclass
class Session:
    notebook: str
    profile: Profile
    device: torch.device
    data: ImageData
    seed: int = 0
    progress: bool = True
    summary_dir: str | None = None
    profile_reason: str = ""
    started: float = field(default_factory=time.perf_counter)
    started_at: str = field(
        default_factory=lambda: datetime.now(timezone.utc).isoformat(timespec="seconds")
    )
    runs: dict[str, Run] = field(default_factory=dict)  # by label: their curves go in the summary

    @property
    def recipe(self):
        return self.profile.recipe

    def train(self, name: str, *, data: ImageData | None = None, recipe=None, **options) -> Run:
        """Train (or load from the cache) a named net with this notebook's recipe and data,
        or with the ``data`` and ``recipe`` given (a notebook that needs a smaller budget)."""
        run = train(
            name,
            self.data if data is None else data,
            self.recipe if recipe is None else recipe,
            seed=self.seed,
            options=options,
            device=self.device,
            progress=self.progress,
        )
        self.runs[run.label] = run
        return run

    def provenance(self) -> dict:
        r = self.profile.recipe
        return {
            "notebook": self.notebook,
            "profile": f"{self.profile.name} ({self.profile_reason})",
            "profile_meaning": self.profile.description,
            "recipe": f"{r.epochs} epochs, batch {r.batch_size}, lr {r.lr} ({r.schedule}), "
            f"momentum {r.momentum}, weight decay {r.weight_decay}",
            "device": describe_device(self.device),
            "precision": precision_name(autocast_dtype(self.device)),
            "data": self.data.describe(),
            "storage": describe_storage(cache_root()),
            "versions": _versions(),
            "started": self.started_at,
        }

    def show(self) -> None:
        _display(_format(self.provenance()), update=False)
        print(device_advice(self.notebook, self.profile.name, self.device))

    def finish(self, summary: dict) -> dict:
        """Add the wall time to the provenance shown at the top and write the JSON summary
        (with every run's curves: ``tools/ship_reference.py`` makes reference runs of them).

        The summary is written only when ``summary_dir`` or ``$RESNET_SUMMARY_DIR`` names a
        folder (``make execute`` does), so a test run never overwrites a teacher's results.
        """
        record = {**self.provenance(), "wall_seconds": round(time.perf_counter() - self.started, 1)}
        record["results"] = summary
        record["histories"] = {
            label: {curve: run.history[curve] for curve in CURVES} for label, run in self.runs.items()
        }
        _display(_format({k: v for k, v in record.items() if k != "results"}), update=True)
        folder = self.summary_dir or os.environ.get(SUMMARY_ENV)
        if folder:
            path = Path(folder) / f"{self.notebook}.json"
            save_json(path, record)
            print(f"summary written to {path}")
        return record


def start(
    notebook: str,
    *,
    profile: str = "auto",
    data_dir: str | None = None,
    epochs: int | None = None,
    seed: int = 0,
    progress: bool = True,
    summary_dir: str | None = None,
    device: str | None = None,
    storage_dir: str | None = None,
) -> Session:
    """Resolve the profile, load the data it asks for, and show where the outputs come from.

    ``storage_dir`` moves the data and the run cache (for example to a Google Drive folder in
    Colab, so that a new runtime finds the finished runs); None keeps ``$RESNET_CACHE_DIR``.
    """
    chosen = get_profile(profile).with_epochs(epochs)
    device = pick_device(device)
    use_storage(storage_dir)
    if chosen.dataset == "synthetic":
        data = synthetic(chosen.train_size, chosen.test_size, seed=seed)
    else:
        data = load_cifar10(data_dir).subset(chosen.train_size, chosen.test_size, seed=seed)
    session = Session(notebook, chosen, device, data.to(device), seed, progress, summary_dir)
    session.profile_reason = _profile_reason(profile)
    session.show()
    return session


def _profile_reason(asked: str) -> str:
    if (asked or "auto").strip().lower() != "auto":
        return "the notebook's profile parameter"
    if os.environ.get(PROFILE_ENV, "").strip():
        return f"auto, from ${PROFILE_ENV}"
    return "auto: " + ("a GPU is present" if torch.cuda.is_available() else "no GPU, so the CPU profile")


def _versions() -> dict:
    import torchvision

    from . import __version__

    return {
        "python": platform.python_version(),
        "torch": torch.__version__,
        "torchvision": torchvision.__version__,
        "resnet_utils": __version__,
    }


def _format(info: dict) -> str:
    lines = []
    for key, value in info.items():
        if isinstance(value, dict):
            value = ", ".join(f"{k} {v}" for k, v in value.items())
        lines.append(f"{key:>16}: {value}")
    return "\n".join(lines)


def _display(text: str, *, update: bool) -> None:
    """Show text in the set-up cell's output; ``update`` rewrites that same output later."""
    if "IPython" in sys.modules:
        from IPython import get_ipython
        from IPython.display import Pretty, display, update_display

        if get_ipython() is not None:
            (update_display if update else display)(Pretty(text), display_id="provenance")
            return
    print(text)
