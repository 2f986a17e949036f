"""ipywidgets controls. Each one calls its function once when created, so headless runs
(papermill, nbval) execute it too and leave a static picture."""

from __future__ import annotations

import matplotlib.pyplot as plt
import torch

from resnet_utils.measure.gradients import (
    first_to_last_ratio,
    gradient_norms_at_init,
    init_gradient_curves,
)
from resnet_utils.models import build_model, count_parameters
from resnet_utils.report.plots import integer_ticks, plot_layer_norms
from resnet_utils.report.tables import stage_table

PIXELS_PER_STOP = 36  # a stop this wide can be hit with a mouse or a finger
LABEL_WIDTH = "120px"  # room for "plain-net depth" before the slider


def depth_control(depths, *, value=None, description: str = "depth"):
    """A slider over the given depths, wide enough that each one can be hit, with the chosen
    depth shown beside it; it reports on release, since each move builds and measures a net."""
    import ipywidgets as widgets

    options = list(depths)
    width = 120 + PIXELS_PER_STOP * len(options) + 60  # label, stops, readout
    return widgets.SelectionSlider(
        options=options,
        value=options[0] if value is None else value,
        description=description,
        readout=True,
        continuous_update=False,
        layout=widgets.Layout(width=f"{width}px"),
        style={"description_width": LABEL_WIDTH},
    )


def depth_slider(images: torch.Tensor, labels: torch.Tensor, depths=range(20, 111, 6), seed: int = 0):
    """A slider over plain-net depths: parameters and gradient norms per layer at init."""
    import ipywidgets as widgets

    def show(depth: int) -> None:
        name = f"plain{depth}"
        curves = init_gradient_curves(name, images, labels, seed)
        fig, ax = plt.subplots(figsize=(7.5, 4))
        plot_layer_norms(
            curves, ax=ax, title=f"{name} at initialisation, one batch of {len(labels)}", net=name
        )
        plt.show()
        print(f"{name}: {count_parameters(build_model(name)):,} parameters (with BN)")
        for label, norms in curves.items():
            print(
                f"  {label:<28} first conv / last conv gradient norm: {first_to_last_ratio(norms):.3g}"
            )

    return widgets.interact(show, depth=depth_control(depths, description="plain-net depth"))


def shortcut_toggle(images: torch.Tensor, labels: torch.Tensor, depths=range(20, 111, 6), seed: int = 0):
    """Switch the shortcut on and off at a chosen depth: gradient norms per layer at init."""
    import ipywidgets as widgets

    def show(depth: int, shortcut: bool) -> None:
        name = f"{'resnet' if shortcut else 'plain'}{depth}"
        norms = gradient_norms_at_init(name, images, labels, seed=seed)
        fig, ax = plt.subplots(figsize=(7.5, 4))
        plot_layer_norms({name: norms}, ax=ax, title=f"{name} at initialisation")
        plt.show()
        print(
            f"{name}: first conv gradient norm {norms[0]:.3g}, "
            f"first conv / last conv {first_to_last_ratio(norms):.3g}"
        )

    return widgets.interact(
        show,
        depth=depth_control(depths, value=56 if 56 in depths else None),
        shortcut=widgets.Checkbox(value=True, description="shortcut"),
    )


def block_picker(stats, *, net: str):
    """Pick a block of ``net`` (named on the control and the figure, since notebook 3 holds
    several nets): per-channel size of its branch F(x) against its shortcut x."""
    import ipywidgets as widgets

    by_name = {s.name: s for s in stats}

    def show(block: str) -> None:
        s = by_name[block]
        channels = range(len(s.branch_rms))
        fig, ax = plt.subplots(figsize=(8, 3.5))
        ax.bar([c - 0.2 for c in channels], s.identity_rms, width=0.4, label="shortcut x")
        ax.bar([c + 0.2 for c in channels], s.branch_rms, width=0.4, label="branch F(x)")
        ax.set_xlabel("channel")
        integer_ticks(ax)
        ax.set_ylabel("root mean square")
        ax.set_title(f"{net}, block {block}: ||F(x)|| / ||x|| = {s.ratio:.3f}")
        ax.legend()
        fig.tight_layout()
        plt.show()

    picker = widgets.Dropdown(
        options=list(by_name),
        description=f"block of {net}",
        style={"description_width": "initial"},
    )
    return widgets.interact(show, block=picker)


def resnet_selector(depths=(18, 34, 50, 101, 152)):
    """Pick an ImageNet-family ResNet: its stage table, parameters and multiply-adds."""
    import ipywidgets as widgets

    return widgets.interact(
        lambda depth: print(stage_table(depth)),
        depth=widgets.ToggleButtons(options=list(depths), value=50, description="ResNet-"),
    )


def compare_runs(runs: dict, metrics=("train_loss", "test_acc")):
    """Pick two finished runs by name and overlay their curves."""
    import ipywidgets as widgets

    from resnet_utils.report.plots import plot_curves

    names = list(runs)

    def show(first: str, second: str) -> None:
        plot_curves([runs[first], runs[second]], metrics=metrics)
        plt.show()

    return widgets.interact(
        show,
        first=widgets.Dropdown(options=names, value=names[0], description="first"),
        second=widgets.Dropdown(options=names, value=names[-1], description="second"),
    )
