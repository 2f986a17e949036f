"""The course's standard figures, drawn from histories and measurements (no training here),
all in one visual language (:mod:`resnet_utils.report.style`): a hue per family, a shade per
depth, dashed at initialisation, the seed band said once, legends beside the data."""

from __future__ import annotations

import math
import re
from statistics import fmean

import matplotlib.pyplot as plt

from resnet_utils.report.style import (
    DEEPEST,
    FAMILY_WORDS,
    band_note,
    colour_of,
    family_and_depth,
    legend_beside,
    line_style,
    shade,
)
from resnet_utils.report.verdicts import CHANCE, PERCENT
from resnet_utils.training.groups import RunGroup

METRIC_LABELS = {
    "train_loss": "training loss",
    "test_loss": "test loss",
    "train_acc": "training accuracy",
    "test_acc": "test accuracy",
    "test_error": "test error",
    "lr": "learning rate",
}


def metric_panels(metrics):
    """A figure with one panel per metric, side by side; returns it and the row of axes."""
    fig, axes = plt.subplots(1, len(metrics), figsize=(5.2 * len(metrics), 3.8), squeeze=False)
    return fig, axes[0]


def label_epoch_panel(ax, metric: str, *, legend: bool = True) -> None:
    """Epochs across, the metric's name up, a light grid and (unless told not) the legend,
    beside the panel."""
    ax.set_xlabel("epoch")
    integer_ticks(ax)
    ax.set_ylabel(METRIC_LABELS.get(metric, metric))
    ax.grid(alpha=0.3)
    if legend:
        legend_beside(ax)


def plot_curves(runs, metrics=("train_loss", "test_acc"), *, title: str | None = None):
    """One panel per metric, one line per run, against epochs; diverged runs end with an x.

    A RunGroup (several seeds) is drawn as its mean with a band from the lowest to the
    highest seed, so the spread is on the figure beside the difference; a single Run (the
    runs a session keeps, as the widgets pick them) as its own line.
    """
    fig, axes = metric_panels(metrics)
    others = {}  # the colours given to labels of no family (variants), the same in every panel
    for ax, metric in zip(axes, metrics):
        for run in runs:
            if isinstance(run, RunGroup):
                plot_group(ax, run, metric, others)
                continue
            h = run.history
            style = line_style(run.label, others=others)
            (line,) = ax.plot(h["epoch"], h[metric], marker="o", ms=3, label=run.label, **style)
            if h.get("diverged"):
                finite = [v for v in h[metric] if math.isfinite(v)]
                if finite:
                    ax.plot(h["epoch"][-1:], finite[-1:], "x", color=line.get_color(), ms=10)
                line.set_label(f"{run.label} (diverged in epoch {h['diverged_epoch']})")
        label_epoch_panel(ax, metric, legend=False)
    legend_beside(axes[-1])
    _say_the_band(fig, runs)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def _say_the_band(fig, groups) -> None:
    """Under the figure, once: lines are means over seeds, the shading their range."""
    seeds = sorted({len(g.finished) for g in groups if isinstance(g, RunGroup) and len(g.finished) > 1})
    if seeds:
        band_note(fig, seeds, what="lines: mean over the seeds")


def plot_group(ax, group, metric: str, others: dict | None = None) -> None:
    """A RunGroup's mean curve in its family's colour, with its band from the lowest to the
    highest seed when it has more than one (the figure says so once: :func:`_say_the_band`).
    ``others``: the colours already given to labels of no family, shared by a figure's panels."""
    epochs, mean, low, high = group.curve(metric)
    label = group.label
    if diverged := len(group.diverged_seeds):
        label += f" ({diverged} seed{'s' if diverged > 1 else ''} diverged)"
    style = line_style(group.label, others=others)
    (line,) = ax.plot(epochs, mean, marker="o", ms=3, label=label, **style)
    if len(group.finished) > 1:
        ax.fill_between(epochs, low, high, color=line.get_color(), alpha=0.2, lw=0)


def plot_beside(
    yours: dict, references: dict, metrics=("train_loss", "test_acc"), *, references_title: str
):
    """Your groups (left) and reference groups (right), metric by metric on shared y-axes; a
    net has its family's colour on both sides. Each side has its own epoch axis:
    the budgets differ. ``references_title`` says what the references were trained on."""
    fig, axes = plt.subplots(
        len(metrics), 2, figsize=(10.4, 3.4 * len(metrics)), sharey="row", squeeze=False
    )
    others = {}
    for row, metric in zip(axes, metrics):
        for group in yours.values():
            plot_group(row[0], group, metric, others)
        for group in references.values():
            plot_group(row[1], group, metric, others)
        for ax in row:
            ax.set_xlabel("epoch")
            integer_ticks(ax)
            ax.grid(alpha=0.3)
        legend_beside(row[1])
        row[0].set_ylabel(METRIC_LABELS.get(metric, metric))
    _say_the_band(fig, [*yours.values(), *references.values()])
    epochs = len(next(iter(yours.values())).runs[0].history["epoch"])
    axes[0][0].set_title(f"your runs ({epochs} epochs)")
    axes[0][1].set_title(references_title)
    fig.tight_layout()
    return fig


def plot_depth(
    groups: dict[tuple[str, int], RunGroup],
    metrics=("test_error", "train_loss"),
    *,
    published: dict[str, dict[int, float]] | None = None,
    published_label: str = "published",
):
    """He et al. (2015) Fig. 6 as one picture: each metric against depth, one line per family
    (its mean over seeds, shaded from the lowest to the highest seed), and published values
    (``{family: {depth: value}}``, in the metric's unit) as open markers beside ours.

    ``groups`` is keyed by (family, depth), e.g. ``("plain", 20)``."""
    fig, axes = plt.subplots(1, len(metrics), figsize=(5.2 * len(metrics) + 2.2, 3.8), squeeze=False)
    families = sorted({family for family, _ in groups}, key=lambda f: f != "plain")
    for ax, metric in zip(axes[0], metrics):
        scale = 100 if metric in PERCENT else 1
        for family in families:
            depths = sorted(d for f, d in groups if f == family)
            rows = [(d, [scale * v for v in groups[family, d].finals(metric)]) for d in depths]
            rows = [(d, v) for d, v in rows if v]
            if not rows:
                continue
            xs = [d for d, _ in rows]
            colour = colour_of(f"{family}{max(xs)}")
            seeds = sorted({len(v) for _, v in rows})
            counts = f"{seeds[0]}" if len(seeds) == 1 else f"{seeds[0]}-{seeds[-1]}"
            label = f"{FAMILY_WORDS[family]} ({counts} seeds)"
            ax.plot(xs, [fmean(v) for _, v in rows], "o-", color=colour, label=label)
            ax.fill_between(xs, [min(v) for _, v in rows], [max(v) for _, v in rows], color=colour,
                            alpha=0.2, lw=0)  # fmt: skip
            paper = (published or {}).get(family, {}) if metric == "test_error" else {}
            if paper:
                ds = sorted(paper)
                ax.plot(ds, [paper[d] for d in ds], "s--", mfc="none", color=colour, lw=1,
                        label=f"{FAMILY_WORDS[family]}, {published_label}")  # fmt: skip
        ax.set_xlabel("depth (weighted layers)")
        ax.set_xticks(sorted({d for _, d in groups}))
        unit = " (%)" if scale == 100 else ""
        ax.set_ylabel(f"final {METRIC_LABELS.get(metric, metric.replace('_', ' '))}{unit}")
        ax.grid(alpha=0.3)
    # the published values are drawn on the first panel only: the legend names them too
    legend_beside(axes[0][-1], panels=axes[0][:-1])
    _say_the_band(fig, groups.values())
    fig.tight_layout()
    return fig


def integer_ticks(ax) -> None:
    """Whole numbers on the x axis (epochs, layers, blocks): no 2.5th epoch."""
    from matplotlib.ticker import MaxNLocator

    ax.xaxis.set_major_locator(MaxNLocator(integer=True))


def plot_final(groups: dict, metric: str, *, ax=None, title: str | None = None):
    """The final ``metric`` of each group: one dot per seed, named by its seed and joined to
    the same seed of the next group by a thin line (the same seed is the same batch order:
    the per-seed comparison is read along those lines), and the mean as a bar with error
    bars of one standard deviation, so a verdict's spread can be seen."""
    if ax is None:
        _, ax = plt.subplots(figsize=(max(5, 0.9 * len(groups) + 2), 3.8))
    names = list(groups)
    scale = 100 if metric in PERCENT else 1
    by_seed = [{} for _ in names]  # per group: seed -> final value
    for i, name in enumerate(names):
        group = groups[name]
        by_seed[i] = {r.spec["seed"]: scale * r.final(metric) for r in group.finished}
        values = list(by_seed[i].values())
        if not values:
            ax.text(i, 0, "diverged", rotation=90, ha="center", va="bottom", fontsize=7)
            continue
        ax.bar(i, sum(values) / len(values), color=colour_of(str(name)), alpha=0.35,
               yerr=scale * group.std(metric) if len(values) > 1 else None, capsize=3)  # fmt: skip
        ax.plot([i] * len(values), values, "k.", ms=4)
        for seed, value in by_seed[i].items():
            ax.annotate(f"s{seed}", (i, value), xytext=(4, 0), textcoords="offset points",
                        fontsize=6, va="center", color="0.3")  # fmt: skip
    for i in range(len(names) - 1):
        for seed in by_seed[i].keys() & by_seed[i + 1].keys():
            ax.plot([i, i + 1], [by_seed[i][seed], by_seed[i + 1][seed]], color="0.6", lw=0.6)
    ax.set_xticks(range(len(names)), names, rotation=60, ha="right", fontsize=8)
    unit = " (%)" if scale == 100 else ""
    ax.set_ylabel(f"final {METRIC_LABELS.get(metric, metric)}{unit}")
    ax.grid(alpha=0.3, axis="y")
    if title:
        ax.set_title(title)
    ax.figure.tight_layout()
    return ax


def plot_layer_norms(
    curves: dict[str, list[float]], *, title: str | None = None, ax=None, net: str | None = None
):
    """Gradient norm against layer index (1 = the stem conv), log scale, one line per label.

    Given ``net`` (its name), every curve is in its family's hue (the panel's title names the
    net), shaded from light (the first curve) to full (the last), dashed where the label says
    "init", with a marker of its own: one net's phases or settings, told apart in one hue.
    Without it, each label is coloured as a net by its own name."""
    if ax is None:
        _, ax = plt.subplots(figsize=(7, 4))
    markers = (".", "x", "^", "s")
    for index, (label, norms) in enumerate(curves.items()):
        if net is None:
            style = line_style(label, at_init="init" in label)
        else:
            parsed = family_and_depth(net)  # the family's full hue: the shades tell the curves apart
            hue = colour_of(f"{parsed[0]}{DEEPEST}" if parsed else net)
            strength = 0.5 + 0.5 * (index / (len(curves) - 1) if len(curves) > 1 else 1.0)
            style = {"color": shade(hue, strength), "ls": "--" if "init" in label else "-"}
        ax.semilogy(
            range(1, len(norms) + 1),
            norms,
            marker=markers[index % len(markers)],
            ms=4,
            label=label,
            **style,
        )
    ax.set_xlabel("layer (1 = first conv, last = linear)")
    integer_ticks(ax)
    ax.set_ylabel("gradient norm of the weights")
    ax.grid(alpha=0.3, which="both")
    legend_beside(ax)
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
        style = {**line_style(label, at_init="init" in label), **styles.get(label, {})}
        by_layer.plot(range(1, len(stds) + 1), stds, marker=".", label=label, **style)
        by_size.plot(range(1, len(stds) + 1), sorted(stds, reverse=True), label=label, **style)
    by_layer.set_xlabel("3x3 layer (in forward order)")
    by_size.set_xlabel("3x3 layers, sorted by response std")
    for ax in (by_layer, by_size):
        integer_ticks(ax)
        ax.set_ylabel("std of the response")
        ax.grid(alpha=0.3)
    legend_beside(by_size, **({"fontsize": legend_fontsize} if legend_fontsize else {}))
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
            label=f"{label}, one block deleted", color=colour_of(label),
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
    legend_beside(ax)
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
