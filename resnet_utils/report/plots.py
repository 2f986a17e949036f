"""The course's standard figures, drawn from histories and measurements (no training here)."""

from __future__ import annotations

import math
import re

import matplotlib.pyplot as plt

from resnet_utils.report.verdicts import CHANCE
from resnet_utils.training.groups import RunGroup

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
    integer_ticks(ax)
    ax.set_ylabel(METRIC_LABELS.get(metric, metric))
    ax.grid(alpha=0.3)
    ax.legend(**legend)


def plot_curves(runs, metrics=("train_loss", "test_acc"), *, title: str | None = None):
    """One panel per metric, one line per run, against epochs; diverged runs end with an x.

    A RunGroup (several seeds) is drawn as its mean with a band from the lowest to the
    highest seed, so the spread is on the figure beside the difference; a single Run (the
    runs a session keeps, as the widgets pick them) as its own line.
    """
    fig, axes = metric_panels(metrics)
    for ax, metric in zip(axes, metrics):
        for run in runs:
            if isinstance(run, RunGroup):
                plot_group(ax, run, metric)
                continue
            h = run.history
            (line,) = ax.plot(h["epoch"], h[metric], marker="o", ms=3, label=run.label)
            if h.get("diverged"):
                finite = [v for v in h[metric] if math.isfinite(v)]
                if finite:
                    ax.plot(h["epoch"][-1:], finite[-1:], "x", color=line.get_color(), ms=10)
                line.set_label(f"{run.label} (diverged in epoch {h['diverged_epoch']})")
        label_epoch_panel(ax, metric, fontsize="small")
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def plot_group(ax, group, metric: str, *, color=None) -> None:
    """A RunGroup's mean curve, with its min-max band over seeds when it has more than one."""
    epochs, mean, low, high = group.curve(metric)
    n = len(group.finished)
    label = f"{group.label} (mean of {n} seed{'s' if n != 1 else ''}"
    label += ", band: min-max)" if n > 1 else ")"
    if group.diverged_seeds:
        label += f", {len(group.diverged_seeds)} diverged"
    (line,) = ax.plot(epochs, mean, marker="o", ms=3, label=label, color=color)
    if n > 1:
        ax.fill_between(epochs, low, high, color=line.get_color(), alpha=0.2, lw=0)


def plot_beside(
    yours: dict, references: dict, metrics=("train_loss", "test_acc"), *, references_title: str
):
    """Your groups (left) and reference groups (right), metric by metric on shared y-axes; a
    reference takes the colour of your group of its name. Each side has its own epoch axis:
    the budgets differ. ``references_title`` says what the references were trained on."""
    fig, axes = plt.subplots(
        len(metrics), 2, figsize=(10.4, 3.4 * len(metrics)), sharey="row", squeeze=False
    )
    colours = {}
    for row, metric in zip(axes, metrics):
        for name, group in yours.items():
            plot_group(row[0], group, metric)
            colours[name] = row[0].get_lines()[-1].get_color()
        for name, group in references.items():
            plot_group(row[1], group, metric, color=colours.get(name))
        for ax in row:
            ax.set_xlabel("epoch")
            integer_ticks(ax)
            ax.grid(alpha=0.3)
            ax.legend(fontsize="small")
        row[0].set_ylabel(METRIC_LABELS.get(metric, metric))
    epochs = len(next(iter(yours.values())).runs[0].history["epoch"])
    axes[0][0].set_title(f"your runs ({epochs} epochs)")
    axes[0][1].set_title(references_title)
    fig.tight_layout()
    return fig


def integer_ticks(ax) -> None:
    """Whole numbers on the x axis (epochs, layers, blocks): no 2.5th epoch."""
    from matplotlib.ticker import MaxNLocator

    ax.xaxis.set_major_locator(MaxNLocator(integer=True))


def plot_final(groups: dict, metric: str, *, ax=None, title: str | None = None):
    """The final ``metric`` of each group: one dot per seed and the mean as a bar with
    error bars of one standard deviation, so a verdict's spread can be seen."""
    if ax is None:
        _, ax = plt.subplots(figsize=(max(5, 0.6 * len(groups) + 2), 3.8))
    names = list(groups)
    scale = 100 if metric.endswith("acc") else 1
    for i, name in enumerate(names):
        group = groups[name]
        values = [scale * v for v in group.finals(metric)]
        if not values:
            ax.text(i, 0, "diverged", rotation=90, ha="center", va="bottom", fontsize=7)
            continue
        ax.bar(i, sum(values) / len(values), color="C0", alpha=0.35,
               yerr=scale * group.std(metric) if len(values) > 1 else None, capsize=3)  # fmt: skip
        ax.plot([i] * len(values), values, "k.", ms=4)
    ax.set_xticks(range(len(names)), names, rotation=60, ha="right", fontsize=8)
    unit = " (%)" if scale == 100 else ""
    ax.set_ylabel(f"final {METRIC_LABELS.get(metric, metric)}{unit}")
    ax.grid(alpha=0.3, axis="y")
    if title:
        ax.set_title(title)
    ax.figure.tight_layout()
    return ax


def plot_layer_norms(curves: dict[str, list[float]], *, title: str | None = None, ax=None):
    """Gradient norm against layer index (1 = the stem conv), log scale, one line per label."""
    if ax is None:
        _, ax = plt.subplots(figsize=(7, 4))
    for label, norms in curves.items():
        ax.semilogy(range(1, len(norms) + 1), norms, marker=".", label=label)
    ax.set_xlabel("layer (1 = first conv, last = linear)")
    integer_ticks(ax)
    ax.set_ylabel("gradient norm of the weights")
    ax.grid(alpha=0.3, which="both")
    ax.legend()
    if title:
        ax.set_title(title)
    ax.figure.tight_layout()
    return ax


def plot_responses(
    curves: dict[str, list[float]],
    *,
    styles: dict[str, dict] | None = None,
    legend_fontsize=None,
    title: str | None = None,
):
    """He et al. (2015) Fig. 7 layout: response std by layer index (left) and sorted (right).

    ``styles`` gives some labels their line style (``{"nets at init": {"ls": "--"}}``), so
    that two kinds of curve are told apart on the figure and in its legend as drawn."""
    styles = styles or {}
    fig, (by_layer, by_size) = plt.subplots(1, 2, figsize=(11, 3.8))
    for label, stds in curves.items():
        style = styles.get(label, {})
        by_layer.plot(range(1, len(stds) + 1), stds, marker=".", label=label, **style)
        by_size.plot(range(1, len(stds) + 1), sorted(stds, reverse=True), label=label, **style)
    by_layer.set_xlabel("3x3 layer (in forward order)")
    by_size.set_xlabel("3x3 layers, sorted by response std")
    for ax in (by_layer, by_size):
        integer_ticks(ax)
        ax.set_ylabel("std of the response")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=legend_fontsize)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def plot_lesions(
    results: dict[str, dict[str, float]], baselines: dict[str, float], *, chance: float = CHANCE
):
    """Test accuracy with one block deleted, per block, one line per net; dashed: the same
    net intact (labelled); dotted grey: chance, the floor a deletion can push a net to."""
    fig, ax = plt.subplots(figsize=(9, 3.8))
    # every block any net lost, in forward order ("layer2.0" before "layer2.1" and "layer10.0"):
    # a residual net can lose its downsampling blocks, a plain net cannot
    names = sorted({n for acc in results.values() for n in acc}, key=_block_order)
    for label, accuracies in results.items():
        (line,) = ax.plot(
            [names.index(n) for n in accuracies], list(accuracies.values()), marker="o", ms=3,
            label=f"{label}, one block deleted",
        )  # fmt: skip
        ax.axhline(
            baselines[label], color=line.get_color(), ls="--", lw=1,
            label=f"{label} intact ({baselines[label]:.1%})",
        )  # fmt: skip
    ax.axhline(chance, color="grey", ls=":", lw=1.2, label=f"chance ({chance:.0%})")
    ax.set_xticks(range(len(names)), names, rotation=90, fontsize=7)
    ax.set_xlabel("deleted block")
    ax.set_ylabel("test accuracy")
    ax.set_ylim(0, None)
    ax.grid(alpha=0.3)
    ax.legend(fontsize="small")
    fig.tight_layout()
    return fig


def _block_order(name: str) -> tuple[int, ...]:
    return tuple(int(part) for part in re.findall(r"\d+", name))


def plot_surfaces(surfaces: dict[str, dict], *, levels: int = 20, cap: float = 20.0):
    """Li et al. (2018) Fig. 1 layout: for each net a contour map and a 3-D surface of the loss
    around it, on the same axes and the same colour scale. The loss is drawn as log10 and
    clipped at ``cap`` (a loss of 20 is already far worse than chance, ln 10 = 2.3), so that
    the shape near the minimum is not flattened by a few enormous values at the corners."""
    import numpy as np

    def log_loss(surface):
        z = np.nan_to_num(np.asarray(surface["loss"], float), nan=cap, posinf=cap)
        return np.log10(np.clip(z, 1e-3, cap))

    bottom = min(float(log_loss(s).min()) for s in surfaces.values())
    top = max(math.log10(cap), bottom + 0.1)  # a surface entirely above the cap stays drawable
    fig = plt.figure(figsize=(10, 4.2 * len(surfaces)))
    for row, (label, surface) in enumerate(surfaces.items()):
        a, b = np.meshgrid(surface["alphas"], surface["betas"])
        z = log_loss(surface)
        contour = fig.add_subplot(len(surfaces), 2, 2 * row + 1)
        filled = contour.contourf(a, b, z, levels=np.linspace(bottom, top, levels), cmap="viridis")
        contour.plot([0], [0], "r+", ms=10)
        contour.set_title(f"{label}: log10 loss (clipped at {cap:g})")
        contour.set_xlabel("direction 1")
        contour.set_ylabel("direction 2")
        fig.colorbar(filled, ax=contour)
        surf = fig.add_subplot(len(surfaces), 2, 2 * row + 2, projection="3d")
        surf.plot_surface(a, b, z, cmap="viridis", vmin=bottom, vmax=top, linewidth=0)
        surf.set_zlim(bottom, top)
        surf.set_zlabel("log10 loss")
        surf.set_title(f"{label}: loss surface")
    fig.tight_layout()
    return fig


def plot_slices(
    slices: dict[str, tuple[list[float], list[float]]],
    *,
    styles: dict[str, dict] | None = None,
    ylabel: str = "loss",
    ax=None,
):
    """1-D slices on one figure: ``{label: (coordinates, values)}``, one line each; ``styles``
    gives some labels their colour or style (``{"plain56, direction 1": {"color": "tab:red"}}``)."""
    styles = styles or {}
    if ax is None:
        _, ax = plt.subplots(figsize=(7, 4))
    for label, (coords, values) in slices.items():
        ax.plot(coords, values, marker=".", label=label, **styles.get(label, {}))
    ax.set_xlabel("step along the direction (0 = trained weights)")
    ax.set_ylabel(ylabel)
    ax.grid(alpha=0.3)
    ax.legend(fontsize="small")
    ax.figure.tight_layout()
    return ax
