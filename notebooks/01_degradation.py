# ---
# jupyter:
#   jupytext:
#     cell_metadata_filter: tags,-all
#     formats: ipynb,py:percent
#     notebook_metadata_filter: kernelspec,jupytext
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#       jupytext_version: 1.19.6
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/OWNER/REPO/blob/v0.2.0/notebooks/01_degradation.ipynb)
#
# # 1. The degradation problem
#
# Stack more layers and a network can represent everything the shallower one could, and
# more: the extra layers could simply learn the identity. Yet He et al. (2015) found that
# a 56-layer *plain* network ends with a **higher training error** than a 20-layer one on
# CIFAR-10 (their Fig. 1 and Fig. 6, left). That is the *degradation problem*, and the
# reason residual networks exist.
#
# By the end of this notebook you will have measured, on real CIFAR-10 images:
# 1. what "20 layers" and "56 layers" mean, and how many parameters that is;
# 2. the training curves of plain-20 and plain-56 under one recipe;
# 3. the gradient norm of every layer, with and without BatchNorm, to see whether
#    *vanishing gradients* explain what you saw.
#
# Every number below comes from this notebook's own run; the first output says which
# profile, device and data produced it.

# %% tags=["colab-setup"]
# Colab only: install this course's package, resnet_utils, at the version these notebooks
# were written for, and turn on Colab's widget support. Elsewhere this cell does nothing.
import sys

if "google.colab" in sys.modules:
    import importlib
    import subprocess

    COURSE_PACKAGE = "git+https://github.com/OWNER/REPO@v0.2.0"
    # --no-deps: Colab already has torch, torchvision, numpy, matplotlib, tqdm and ipywidgets,
    # and its own builds of them stay as they are.
    pip = [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", COURSE_PACKAGE]
    subprocess.run(pip, check=True)
    importlib.invalidate_caches()
    from google.colab import output

    output.enable_custom_widget_manager()

# %% tags=["parameters"]
profile = "auto"  # "smoke" | "quick" | "full" | "auto" ($RESNET_PROFILE, else the hardware)
depths = [20, 56]  # plain nets to train: each must be 6n+2
seed = 0
data_dir = None  # a local CIFAR-10 copy; None: $CIFAR10_DIR, else torchvision's download
epochs = None  # None: the profile's epoch count
interactive = True  # show the depth slider at the end
progress = True  # progress bars while training
summary_dir = None  # where to write a JSON summary; None: $RESNET_SUMMARY_DIR, or nowhere
storage_dir = None  # data and finished runs; None: $RESNET_CACHE_DIR or ~/.cache/resnet-course;
# in Colab, "/content/drive/MyDrive/resnet-course" keeps them on Drive across runtimes

# %%
import matplotlib.pyplot as plt

from resnet_utils import build_model, count_parameters, start, weighted_layers
from resnet_utils.analysis import spread, stage_shapes
from resnet_utils.models import blocks_per_stage
from resnet_utils.plots import plot_curves, plot_layer_norms
from resnet_utils.widgets import depth_slider, init_gradient_curves

depths = sorted(depths)
for depth in depths:
    blocks_per_stage(depth)  # a depth that is not 6n+2 stops here, before any training
session = start(
    "01_degradation",
    profile=profile,
    data_dir=data_dir,
    epochs=epochs,
    seed=seed,
    progress=progress,
    summary_dir=summary_dir,
    storage_dir=storage_dir,
)

# %% [markdown]
# ## What a layer count means
#
# The CIFAR nets of the paper (sec. 4.2) have **6n+2** weighted layers: one 3x3 conv on
# the input, three stages of *n* blocks of two 3x3 convs (16, 32 and 64 channels at 32x32,
# 16x16 and 8x8 pixels), global average pooling and one linear layer. So plain-20 has
# n = 3 blocks per stage and plain-56 has n = 9.
#
# *Common mistake:* stacking `depth` blocks of two convs each. "Depth 20" built that way
# has 41 weighted layers, and "depth 56" has 113.

# %%
# NBVAL_CHECK_OUTPUT
print(f"{'net':>9} {'n':>3} {'weighted layers':>16} {'parameters':>11}")
for depth in (20, 32, 44, 56, 110):
    net = build_model(f"plain{depth}")
    print(
        f"plain{depth:<4} {blocks_per_stage(depth):>3} {len(weighted_layers(net)):>16} "
        f"{count_parameters(net):>11,}"
    )

# %% [markdown]
# The paper lists its residual versions at 0.27 M, 0.46 M, 0.66 M, 0.85 M and 1.7 M
# parameters (He et al. 2015, Table 6); a plain net with the same layers has exactly the
# same count, since the paper's CIFAR shortcut has no parameters. Where does the
# 32x32 image go on its way through plain-56?

# %%
# NBVAL_CHECK_OUTPUT
for part, shape in stage_shapes(build_model("plain56")):
    print(f"{part:>8}: {' x '.join(map(str, shape))}")

# %% [markdown]
# ## Training plain nets of different depths with one recipe
#
# Same data, same optimiser and schedule, same seed; only the depth changes. The first
# output above says what the recipe is in this run (the `quick` profile trains on a
# class-balanced 10,000-image subset for a few minutes; `full` is the paper's recipe on a
# GPU). A finished run is stored in the run cache, so running this cell again loads it.

# %%
runs = {depth: session.train(f"plain{depth}") for depth in depths}
for run in runs.values():
    print(run.describe())

# %%
fig = plot_curves(
    list(runs.values()),
    metrics=("train_loss", "train_acc", "test_acc"),
    title="plain nets, one recipe",
)
plt.show()

# %% [markdown]
# If the deeper net were *overfitting*, it would fit the training set at least as well as
# the shallow one and fall behind on the test set only. Degradation is the deeper net
# falling behind on the **training** set itself. What did this run show?

# %%
shallow, deep = runs[depths[0]], runs[depths[-1]]
if shallow.diverged or deep.diverged:
    print("A run diverged (see the curves): this run cannot compare the depths.")
else:
    s_loss, d_loss = shallow.final("train_loss"), deep.final("train_loss")
    s_acc, d_acc = shallow.final("test_acc"), deep.final("test_acc")
    print(
        f"plain-{depths[-1]} ended at training loss {d_loss:.3f}, plain-{depths[0]} at {s_loss:.3f}; "
        f"test accuracy {d_acc:.1%} against {s_acc:.1%}."
    )
    if d_loss > s_loss:
        print(
            f"The deeper net fits its own training data worse (loss {d_loss / s_loss:.2f}x higher): "
            "this is degradation, not overfitting."
        )
    else:
        print(
            "In this run the deeper plain net did NOT end with a higher training loss, so this "
            "run does not show degradation (try the quick or full profile, or more epochs)."
        )

# %% [markdown]
# ## Is it vanishing gradients?
#
# The usual story: in a deep net the gradient shrinks layer by layer on its way back to
# the input, so early layers stop learning. He et al. (2015, sec. 4.1) argue this is *not*
# what happens here: their plain nets use BatchNorm, which keeps the forward signals and
# the backward gradients at healthy magnitudes, and the deeper net still trains worse.
#
# The training loop recorded, for every layer, the norm of its weight gradient averaged
# over each epoch. Layer 1 is the first conv, the last one is the linear layer.

# %%
fig, axes = plt.subplots(1, len(depths), figsize=(6 * len(depths), 4), squeeze=False)
for ax, (depth, run) in zip(axes[0], runs.items()):
    norms = run.history["grad_norms"]
    plot_layer_norms(
        {"epoch 1": norms[0], f"epoch {len(norms)}": norms[-1]},
        ax=ax,
        title=f"plain{depth} with BatchNorm, during training",
    )
plt.show()
for depth, run in runs.items():
    norms = run.history["grad_norms"]
    print(
        f"plain{depth}: first-conv / last-conv gradient norm, epoch 1: {spread(norms[0]):.2f}, "
        f"last epoch: {spread(norms[-1]):.2f}; smallest layer norm in the last epoch "
        f"{min(norms[-1]):.3g}, largest {max(norms[-1]):.3g}"
    )

# %% [markdown]
# A vanishing gradient would show as a ratio far below 1: the first layer receiving a
# tiny fraction of the last layer's gradient. A ratio far above 1 is the opposite: the
# gradient grows on its way back to the input. What does that look like? Take the same
# plain nets **without BatchNorm** and measure at initialisation, on one batch of real
# images, with two initialisations: He et al.'s (2015a) *Kaiming* init, designed for ReLU
# nets, and PyTorch's default layer init, which gives each weight a sixth of the variance
# a ReLU net needs to keep its signal from shrinking.

# %%
images, labels = session.data.sample(64, seed=seed)
at_init = {depth: init_gradient_curves(f"plain{depth}", images, labels, seed) for depth in depths}
fig, axes = plt.subplots(1, len(depths), figsize=(6 * len(depths), 4), squeeze=False)
for ax, (depth, curves) in zip(axes[0], at_init.items()):
    plot_layer_norms(curves, ax=ax, title=f"plain{depth} at initialisation")
plt.show()
for depth, curves in at_init.items():
    print(
        f"plain{depth}, first-conv / last-conv gradient norm at init: "
        + "; ".join(f"{label} {spread(norms):.3g}" for label, norms in curves.items())
    )

# %%
deep_init = at_init[depths[-1]]
dead = sum(norm == 0 for norm in deep_init["no BN, PyTorch default init"])
default_spread = spread(deep_init["no BN, PyTorch default init"])
kaiming_spread = spread(deep_init["no BN, Kaiming init"])
bn_spread = spread(deep_init["BatchNorm"])
print(
    f"In plain{depths[-1]} without BatchNorm and with PyTorch's default init, the first conv gets "
    f"{default_spread:.1e} times the gradient of the last conv: "
    + ("that is a vanishing gradient." if default_spread < 1e-2 else "no strong vanishing here.")
)
if dead:
    print(
        f"{dead} of its {depths[-1]} layers get a gradient of exactly zero: smaller than the "
        "smallest number float32 can hold (these are missing from the log-scale plot)."
    )
print(
    f"With Kaiming init the same net gives {kaiming_spread:.3g}, and with BatchNorm {bn_spread:.3g}: "
    + ("neither vanishes." if min(kaiming_spread, bn_spread) > 0.1 else "see the plot.")
)

# %% [markdown]
# So a careful init, or BatchNorm, already keeps gradients from vanishing, and the plain
# nets trained above had BatchNorm. Whatever holds plain-56 back is an *optimisation*
# difficulty of deep plain stacks, not gradients that never arrive. The next notebook
# adds the one thing He et al. changed, the identity shortcut, and measures what it does.
#
# ## Explore: depth at initialisation
#
# Move the slider to build a fresh plain net of another depth and measure its gradient
# norms on one batch, in the three settings above. The slider needs a live kernel: in a
# saved copy of the notebook it shows nothing, so run the notebook to use it.

# %%
if interactive:
    depth_slider(images[:32], labels[:32], seed=seed)

# %% [markdown]
# ## Beside a reference run
#
# Where the course has run this notebook under the full profile on a GPU, the package ships
# those curves (`resnet_utils/reference_runs/`): yours solid, the reference dashed, for the
# nets of the same name. Only measured runs are shipped.

# %%
from resnet_utils.reference import compare_with_reference

compare_with_reference(session.notebook, list(runs.values()))
plt.show()

# %% [markdown]
# ## Summary

# %%
summary = {
    "final_train_loss": {f"plain{d}": r.final("train_loss") for d, r in runs.items()},
    "final_test_acc": {f"plain{d}": r.final("test_acc") for d, r in runs.items()},
    "diverged": {f"plain{d}": r.diverged for d, r in runs.items()},
    "grad_spread_last_epoch": {
        f"plain{d}": spread(r.history["grad_norms"][-1])
        for d, r in runs.items()
        if r.history["grad_norms"]
    },
    "grad_spread_at_init": {
        f"plain{d}": {k: spread(v) for k, v in c.items()} for d, c in at_init.items()
    },
}
record = session.finish(summary)
print(f"This notebook ran for {record['wall_seconds']:.0f} s under the {session.profile.name} profile.")

# %% [markdown]
# ## Your turn
#
# Each exercise has a cell for your answer and a check below it. Replace the
# `raise NotImplementedError(...)` with your code (its message is a hint), run the cell,
# then run the check: it tries your answer on cases of its own and says what is right, or
# what is wrong and why. (The teacher's copy of this notebook has the solutions in these
# cells.)

# %%
import torch.nn.functional as F
from torch import nn

from resnet_utils import checks

# %% [markdown]
# ### Your turn 1: count plain-N's parameters by hand
#
# Write `plain_parameters(depth)`, the number of parameters of `build_model(f"plain{depth}")`,
# from the architecture alone: a 3x3 conv from 3 to 16 channels; three stages of n blocks of
# two 3x3 convs (16, 32, 64 channels); every conv followed by a BatchNorm (a scale and a
# shift per channel) and therefore without a bias; a linear layer from 64 features to 10
# classes. Careful with the first conv of stages 2 and 3.


# %% tags=["solution"]
def plain_parameters(depth):
    # BEGIN SOLUTION
    # hint: a 3x3 conv from c_in to c_out holds c_in * c_out * 9 weights; add 2 * c_out for its BN
    n = (depth - 2) // 6

    def conv_bn(c_in, c_out):
        return c_in * c_out * 9 + 2 * c_out

    total, c_in = conv_bn(3, 16), 16
    for width in (16, 32, 64):
        for _ in range(n):
            total += conv_bn(c_in, width) + conv_bn(width, width)
            c_in = width
    return total + 64 * 10 + 10
    # END SOLUTION


# %%
checks.plain_parameter_count(plain_parameters)

# %% [markdown]
# ### Your turn 2: measure the gradient of every layer
#
# The plots above came from `resnet_utils.analysis.gradient_norms`. Write your own:
# `layer_gradient_norms(model, images, labels)` returns, for each conv and linear layer in
# forward order, the norm of the gradient of the mean cross-entropy loss with respect to its
# weight, after one forward and one backward pass in training mode.


# %% tags=["solution"]
def layer_gradient_norms(model, images, labels):
    # BEGIN SOLUTION
    # hint: model.train(), model.zero_grad(), F.cross_entropy(model(images), labels).backward(),
    # then m.weight.grad.norm() for each nn.Conv2d / nn.Linear in model.modules()
    model.train()
    model.zero_grad()
    F.cross_entropy(model(images), labels).backward()
    layers = [m for m in model.modules() if isinstance(m, (nn.Conv2d, nn.Linear))]
    return [m.weight.grad.norm().item() for m in layers]
    # END SOLUTION


# %%
checks.weight_gradient_norms(layer_gradient_norms)

# %% [markdown]
# ## References
# - K. He, X. Zhang, S. Ren, J. Sun. *Deep Residual Learning for Image Recognition.*
#   CVPR 2016, arXiv:1512.03385. (Fig. 1, Fig. 6, sec. 4.1-4.2, Table 6.)
# - K. He, X. Zhang, S. Ren, J. Sun. *Delving Deep into Rectifiers.* ICCV 2015,
#   arXiv:1502.01852 (the "Kaiming" initialisation).
# - S. Ioffe, C. Szegedy. *Batch Normalization.* ICML 2015, arXiv:1502.03167.
