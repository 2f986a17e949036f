"""The course's standard figures, drawn from histories and measurements (no training here)."""

from __future__ import annotations

import math

import matplotlib.pyplot as plt

METRIC_LABELS = {
    "train_loss": "training loss",
    "test_loss": "test loss",
    "train_acc": "training accuracy",
    "test_acc": "test accuracy",
    "lr": "learning rate",
}


def metric_panels(metrics):
    """A figure with one panel per metric, side by side; returns it and the row of axes."""
    fig, axes = plt.subplots(1, len(metrics), figsize=(5.2 * len(metrics), 3.8), squeeze=False)
    return fig, axes[0]


def label_epoch_panel(ax, metric: str, **legend) -> None:
    """Epochs across, the metric's name up, a light grid and the legend."""
    ax.set_xlabel("epoch")
    ax.set_ylabel(METRIC_LABELS.get(metric, metric))
    ax.grid(alpha=0.3)
    ax.legend(**legend)


def plot_curves(runs, metrics=("train_loss", "test_acc"), *, title: str | None = None):
    """One panel per metric, one line per run, against epochs; diverged runs end with an x."""
    fig, axes = metric_panels(metrics)
    for ax, metric in zip(axes, metrics):
        for run in runs:
            h = run.history
            (line,) = ax.plot(h["epoch"], h[metric], marker="o", ms=3, label=run.label)
            if h.get("diverged"):
                last = h[metric][-1] if h[metric] else math.nan
                ax.plot(h["epoch"][-1:] or [0], [last], "x", color=line.get_color(), ms=10)
                line.set_label(f"{run.label} (diverged in epoch {h['diverged_epoch']})")
        label_epoch_panel(ax, metric)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def plot_layer_norms(curves: dict[str, list[float]], *, title: str | None = None, ax=None):
    """Gradient norm against layer index (1 = the stem conv), log scale, one line per label."""
    if ax is None:
        _, ax = plt.subplots(figsize=(7, 4))
    for label, norms in curves.items():
        ax.semilogy(range(1, len(norms) + 1), norms, marker=".", label=label)
    ax.set_xlabel("layer (1 = first conv, last = linear)")
    ax.set_ylabel("gradient norm of the weights")
    ax.grid(alpha=0.3, which="both")
    ax.legend()
    if title:
        ax.set_title(title)
    ax.figure.tight_layout()
    return ax


def plot_responses(curves: dict[str, list[float]], *, title: str | None = None):
    """He et al. (2015) Fig. 7 layout: response std by layer index (left) and sorted (right)."""
    fig, (by_layer, by_size) = plt.subplots(1, 2, figsize=(11, 3.8))
    for label, stds in curves.items():
        by_layer.plot(range(1, len(stds) + 1), stds, marker=".", label=label)
        by_size.plot(range(1, len(stds) + 1), sorted(stds, reverse=True), label=label)
    by_layer.set_xlabel("3x3 layer (in forward order)")
    by_size.set_xlabel("3x3 layers, sorted by response std")
    for ax in (by_layer, by_size):
        ax.set_ylabel("std of the response")
        ax.grid(alpha=0.3)
        ax.legend()
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def plot_lesions(results: dict[str, dict[str, float]], baselines: dict[str, float]):
    """Test accuracy with one block deleted, per block, one line per net; dashed: no lesion."""
    fig, ax = plt.subplots(figsize=(9, 3.8))
    for label, accuracies in results.items():
        (line,) = ax.plot(
            range(len(accuracies)), list(accuracies.values()), marker="o", ms=3, label=label
        )
        ax.axhline(baselines[label], color=line.get_color(), ls="--", lw=1)
        names = list(accuracies)
    ax.set_xticks(range(len(names)), names, rotation=90, fontsize=7)
    ax.set_xlabel("deleted block")
    ax.set_ylabel("test accuracy")
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    return fig
