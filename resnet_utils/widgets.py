"""ipywidgets controls. Each one calls its function once when created, so headless runs
(papermill, nbval) execute it too and leave a static picture."""

from __future__ import annotations

import matplotlib.pyplot as plt
import torch

from .analysis import gradient_norms_at_init, spread
from .models import build_model, count_parameters
from .plots import plot_layer_norms

INIT_CONDITIONS = {
    "BatchNorm": {"batchnorm": True},
    "no BN, Kaiming init": {"batchnorm": False, "init": "kaiming"},
    "no BN, PyTorch default init": {"batchnorm": False, "init": "pytorch"},
}


def init_gradient_curves(name: str, images: torch.Tensor, labels: torch.Tensor, seed: int = 0):
    """Per-layer gradient norms at initialisation for each of the three conditions."""
    return {
        label: gradient_norms_at_init(name, images, labels, seed=seed, **options)
        for label, options in INIT_CONDITIONS.items()
    }


def depth_slider(images: torch.Tensor, labels: torch.Tensor, depths=range(20, 111, 6), seed: int = 0):
    """A slider over plain-net depths: parameters and gradient norms per layer at init."""
    import ipywidgets as widgets

    def show(depth: int) -> None:
        name = f"plain{depth}"
        curves = init_gradient_curves(name, images, labels, seed)
        fig, ax = plt.subplots(figsize=(7.5, 4))
        plot_layer_norms(curves, ax=ax, title=f"{name} at initialisation, one batch of {len(labels)}")
        plt.show()
        print(f"{name}: {count_parameters(build_model(name)):,} parameters (with BN)")
        for label, norms in curves.items():
            print(f"  {label:<28} first conv / last conv gradient norm: {spread(norms):.3g}")

    slider = widgets.SelectionSlider(
        options=list(depths), value=list(depths)[0], description="depth", continuous_update=False
    )
    return widgets.interact(show, depth=slider)
