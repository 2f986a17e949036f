"""Reference runs: the course's own full-profile runs on a GPU, shipped with the package, so a
student can put their curves beside runs of the paper's recipe.

A reference is ``reference_runs/<notebook>.json``, written by ``tools/ship_reference.py``
from the summary of a ``make execute PROFILE=full`` run on a GPU: only measured runs, with
their provenance (device, versions, date, profile). Where none has been shipped yet, the
notebook says so and shows the student's run alone.
"""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path

from .plots import label_epoch_panel, metric_panels

FOLDER = "reference_runs"
CURVES = ("train_loss", "train_acc", "test_loss", "test_acc")
REQUIRED = ("notebook", "profile", "device", "versions", "date", "histories")


class BadReference(ValueError):
    """A reference file that is not what ``tools/ship_reference.py`` writes."""


def reference_path(notebook: str) -> Path:
    return Path(str(resources.files(__package__).joinpath(FOLDER, f"{notebook}.json")))


def validate(record: dict, notebook: str | None = None) -> dict:
    """The record itself, if it is a measured full-profile GPU run of ``notebook``."""
    missing = [key for key in REQUIRED if key not in record]
    if missing:
        raise BadReference(f"a reference run needs {list(REQUIRED)}; this one lacks {missing}")
    if notebook is not None and record["notebook"] != notebook:
        raise BadReference(f"this reference is for {record['notebook']!r}, not {notebook!r}")
    if not str(record["profile"]).startswith("full"):
        raise BadReference(f"reference runs use the full profile, not {record['profile']!r}")
    if not str(record["device"]).startswith("cuda"):
        raise BadReference(f"reference runs come from a GPU, not {record['device']!r}")
    for label, history in record["histories"].items():
        if not isinstance(history, dict) or not all(isinstance(history.get(c), list) for c in CURVES):
            raise BadReference(f"run {label!r} needs the curves {list(CURVES)}")
    return record


def load_reference(notebook: str, path: str | Path | None = None) -> dict | None:
    """The shipped reference of ``notebook``, or None when there is none yet."""
    path = Path(path) if path is not None else reference_path(notebook)
    if not path.exists():
        return None
    return validate(json.loads(path.read_text()), notebook)


def compare_with_reference(notebook: str, runs, *, metrics=("train_loss", "test_acc"), path=None):
    """Plot each of the student's runs beside the reference run of the same label (dashed),
    and print the final numbers of both. Without a reference, say so and draw nothing."""
    reference = load_reference(notebook, path)
    if reference is None:
        print(
            f"No reference run is available for {notebook} yet. Reference runs are the course's "
            "own full-profile runs on a GPU, and none has been measured and shipped so far; the "
            "published figures quoted above are the paper's."
        )
        return None
    print(
        f"Reference: profile {reference['profile']}, {reference['device']}, "
        f"torch {reference['versions'].get('torch')}, {reference['date']}."
    )
    fig, axes = metric_panels(metrics)
    for ax, metric in zip(axes, metrics):
        for run in runs:
            (line,) = ax.plot(run.history["epoch"], run.history[metric], label=f"{run.label} (yours)")
            theirs = reference["histories"].get(run.label)
            if theirs:
                epochs = range(1, len(theirs[metric]) + 1)
                ax.plot(
                    epochs,
                    theirs[metric],
                    "--",
                    color=line.get_color(),
                    label=f"{run.label} (reference)",
                )
        label_epoch_panel(ax, metric, fontsize="small")
    fig.tight_layout()
    for run in runs:
        theirs = reference["histories"].get(run.label)
        if theirs is None:
            print(f"{run.label}: no reference run of this net")
            continue
        print(
            f"{run.label}: your final test accuracy {run.final('test_acc'):.1%} after "
            f"{len(run.history['epoch'])} epochs; reference {theirs['test_acc'][-1]:.1%} after "
            f"{len(theirs['test_acc'])}."
        )
    return fig
