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
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/OWNER/REPO/blob/v0.2.0/notebooks/02_skip_connections.ipynb)
#
# # 2. Plain vs residual, at equal depth and width
#
# Notebook 1 showed a deep plain net training worse than a shallow one. He et al. (2015)
# changed one thing: each pair of 3x3 convs computes F(x), and the block outputs
# relu(F(x) + x). The layers, widths and, with the paper's CIFAR shortcut, even the
# parameter count stay the same. Here we run the fair experiment: plain-N and ResNet-N
# with *only* the shortcut different, trained with one recipe.
#
# *Common mistake:* comparing a "plain" net and a "ResNet" that differ in depth, width or
# parameters as well. Then nothing can be said about the shortcut.

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
depths = None  # None: [20, 56], and 110 as well under the full profile; each must be 6n+2
seed = 0
data_dir = None  # a local CIFAR-10 copy; None: $CIFAR10_DIR, else torchvision's download
epochs = None  # None: the profile's epoch count
interactive = True  # show the shortcut switch at the end
progress = True  # progress bars while training
summary_dir = None  # where to write a JSON summary; None: $RESNET_SUMMARY_DIR, or nowhere
storage_dir = None  # data and finished runs; None: $RESNET_CACHE_DIR or ~/.cache/resnet-course;
# in Colab, "/content/drive/MyDrive/resnet-course" keeps them on Drive across runtimes

# %%
import inspect

import matplotlib.pyplot as plt

from resnet_utils import build_model, count_parameters, start
from resnet_utils.analysis import spread
from resnet_utils.models import BasicBlock, blocks_per_stage
from resnet_utils.plots import plot_curves, plot_layer_norms
from resnet_utils.widgets import shortcut_toggle

session = start(
    "02_skip_connections",
    profile=profile,
    data_dir=data_dir,
    epochs=epochs,
    seed=seed,
    progress=progress,
    summary_dir=summary_dir,
    storage_dir=storage_dir,
)
if depths is None:
    depths = [20, 56, 110] if session.profile.name == "full" else [20, 56]
depths = sorted(depths)
for depth in depths:
    blocks_per_stage(depth)  # a depth that is not 6n+2 stops here, before any training

# %% [markdown]
# ## The block: x + F(x)
#
# This is the whole difference, from `resnet_utils/models/cifar.py`. A plain block is the
# same code with `self.shortcut = None`.

# %%
print(inspect.getsource(BasicBlock.forward))

# %% [markdown]
# Where a stage starts, the block halves the resolution and doubles the channels, so x no
# longer has the shape of F(x). The paper offers two fixes (sec. 3.3): **A**, subsample x
# and pad the new channels with zeros (no parameters; its choice for CIFAR), and **B**, a
# 1x1 convolution with BN (parameters, at two places in these nets). What each costs:

# %%
# NBVAL_CHECK_OUTPUT
print(f"{'depth':>5} {'plain':>10} {'ResNet, A':>10} {'ResNet, B':>10} {'B - A':>6}")
for depth in (20, 32, 44, 56, 110):
    plain, a, b = (
        count_parameters(build_model(name, shortcut=s))
        for name, s in ((f"plain{depth}", "A"), (f"resnet{depth}", "A"), (f"resnet{depth}", "B"))
    )
    print(f"{depth:>5} {plain:>10,} {a:>10,} {b:>10,} {b - a:>6,}")

# %% [markdown]
# With shortcut A, plain-N and ResNet-N have exactly the same parameters: any difference
# in the runs below comes from the shortcut alone.
#
# ## Training both, one recipe
#
# Plain nets that notebook 1 trained with this profile and seed are loaded from the run
# cache rather than trained again.

# %%
runs = {}
for depth in depths:
    for family in ("plain", "resnet"):
        run = session.train(f"{family}{depth}")
        runs[run.name] = run
        print(run.describe())

# %%
fig = plot_curves(list(runs.values()), metrics=("train_loss", "test_acc"), title="plain vs residual")
plt.show()

# %% [markdown]
# He et al. (2015) report CIFAR-10 test errors for their ResNets trained on all 50,000
# images with the full recipe (Table 6); for plain nets they give curves only (Fig. 6).
# Our numbers come from this run's profile, stated in the first output; a short budget
# on a subset lands far above the published errors.

# %%
PUBLISHED_TEST_ERROR = {20: 8.75, 32: 7.51, 44: 7.17, 56: 6.97, 110: 6.43}  # He et al. 2015, Table 6
print(f"{'net':>10} {'final train loss':>17} {'our test error':>15} {'published (Table 6)':>20}")
for name, run in runs.items():
    depth = int(name.removeprefix("plain").removeprefix("resnet"))
    published = PUBLISHED_TEST_ERROR.get(depth) if name.startswith("resnet") else None
    if run.diverged:
        ours = f"diverged in epoch {run.history['diverged_epoch']}"
        print(f"{name:>10} {ours:>33}")
        continue
    print(
        f"{name:>10} {run.final('train_loss'):>17.3f} {100 * (1 - run.final('test_acc')):>14.1f}% "
        f"{(f'{published:.2f}%' if published else '-'):>20}"
    )

# %%
for depth in depths:
    plain, res = runs[f"plain{depth}"], runs[f"resnet{depth}"]
    if plain.diverged or res.diverged:
        print(f"depth {depth}: a run diverged, no comparison.")
        continue
    p, r = plain.final("train_loss"), res.final("train_loss")
    verdict = "lower" if r < p else "NOT lower"
    print(
        f"depth {depth}: ResNet-{depth} ended at training loss {r:.3f}, plain-{depth} at {p:.3f}: "
        f"the residual net's is {verdict}."
    )
deep, shallow = depths[-1], depths[0]
d_res, s_res = runs[f"resnet{deep}"], runs[f"resnet{shallow}"]
if not (d_res.diverged or s_res.diverged):
    gain = d_res.final("train_loss") < s_res.final("train_loss")
    print(
        f"Deeper residual net: ResNet-{deep} {d_res.final('train_loss'):.3f} against "
        f"ResNet-{shallow} {s_res.final('train_loss'):.3f}: "
        + (
            "with shortcuts, depth helped in this run."
            if gain
            else "in this run's budget the deeper ResNet has not yet overtaken the shallower one."
        )
    )

# %% [markdown]
# ## How the gradient flows
#
# The loop recorded every layer's gradient norm, averaged over each epoch. Plain-56 and
# ResNet-56 (or the deepest pair of this run), in the first and the last epoch:

# %%
fig, axes = plt.subplots(1, 2, figsize=(12, 4))
for ax, name in zip(axes, (f"plain{deep}", f"resnet{deep}")):
    norms = runs[name].history["grad_norms"]
    if norms:
        plot_layer_norms({"epoch 1": norms[0], f"epoch {len(norms)}": norms[-1]}, ax=ax, title=name)
plt.show()
for name in (f"plain{deep}", f"resnet{deep}"):
    norms = runs[name].history["grad_norms"]
    if norms:
        print(
            f"{name}: first conv / last conv gradient norm {spread(norms[0]):.3g} in epoch 1, "
            f"{spread(norms[-1]):.3g} in epoch {len(norms)}"
        )

# %% [markdown]
# ## Explore: switch the shortcut
#
# Pick a depth and switch the shortcut on or off: a fresh net, one batch of real images,
# the gradient norm of every layer at initialisation. (The switch needs a live kernel.)

# %%
if interactive:
    images, labels = session.data.sample(32, seed=seed)
    shortcut_toggle(images, labels, seed=seed)

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
    "final_train_loss": {n: r.final("train_loss") for n, r in runs.items()},
    "final_test_acc": {n: r.final("test_acc") for n, r in runs.items()},
    "diverged": {n: r.diverged for n, r in runs.items()},
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
import torch
import torch.nn.functional as F

from resnet_utils import checks

# %% [markdown]
# ### Your turn 1: the forward of a residual block
#
# A residual block computes a branch F(x) (conv, BN, ReLU, conv, BN) and a shortcut s(x),
# and outputs relu(F(x) + s(x)). Write `residual_forward(x, branch, shortcut)`, where
# `branch` and `shortcut` are modules. The check tries a block that keeps the shape and one
# that halves the size and doubles the channels.


# %% tags=["solution"]
def residual_forward(x, branch, shortcut):
    # BEGIN SOLUTION
    # hint: add the two paths first, then apply the ReLU; do not change x in place
    return torch.relu(branch(x) + shortcut(x))
    # END SOLUTION


# %%
checks.residual_forward(residual_forward)

# %% [markdown]
# ### Your turn 2: the paper's option A shortcut
#
# Where a block halves the size and doubles the channels, the identity no longer fits.
# Option A (He et al. 2015, sec. 3.3) keeps the identity: subsample by the stride and pad
# the missing channels with zeros, so the shortcut has no parameters. Write
# `zero_pad_shortcut(x, out_channels, stride)` for inputs of shape (batch, channels,
# height, width).


# %% tags=["solution"]
def zero_pad_shortcut(x, out_channels, stride):
    # BEGIN SOLUTION
    # hint: x[:, :, ::stride, ::stride] subsamples; F.pad(x, (0, 0, 0, 0, 0, extra)) adds zero
    # channels at the end
    x = x[:, :, ::stride, ::stride]
    return F.pad(x, (0, 0, 0, 0, 0, out_channels - x.shape[1]))
    # END SOLUTION


# %%
checks.zero_pad_shortcut(zero_pad_shortcut)

# %% [markdown]
# ### Your turn 3: what option B costs
#
# Option B replaces the zero padding by a 1x1 conv (no bias) and a BatchNorm wherever the
# shape changes, and keeps the identity elsewhere. How many parameters does ResNet-56 with
# option B have *more* than plain-56? Work it out by hand and set `extra_parameters` to it;
# `count_parameters` is for checking afterwards.

# %% tags=["solution"]
# BEGIN SOLUTION
# hint: which blocks change their shape, and what do a 1x1 conv from C_in to C_out channels and its
# BN hold?
extra_parameters = (16 * 32 + 2 * 32) + (32 * 64 + 2 * 64)
# END SOLUTION

# %%
checks.projection_extra_parameters(extra_parameters)

# %% [markdown]
# ## References
# - K. He, X. Zhang, S. Ren, J. Sun. *Deep Residual Learning for Image Recognition.*
#   CVPR 2016, arXiv:1512.03385 (sec. 3.3 shortcuts A and B; sec. 4.2, Fig. 6, Table 6).
