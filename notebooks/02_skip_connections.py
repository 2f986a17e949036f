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
# In Colab only (elsewhere nothing): install this course's package at the version these
# notebooks were written for; --no-deps keeps Colab's own torch, numpy, matplotlib, ipywidgets.
import importlib
import subprocess
import sys

if "google.colab" in sys.modules:
    package = "git+https://github.com/OWNER/REPO@v0.2.0"
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", package], check=True)
    importlib.invalidate_caches()

# %% tags=["parameters"]
profile = "auto"  # "smoke" | "quick" | "colab" | "full" | "auto" ($RESNET_PROFILE, else by hardware)
depths = None  # None: [20, 56], and 110 as well under the full profile; each must be 6n+2
seed = 0  # the first seed; each net is trained with seed, seed + 1, ...
seeds = 3  # seeds per net: the margin of every comparison comes from their spread
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

from resnet_utils import (
    BasicBlock,
    build_model,
    checks,
    compare,
    count_parameters,
    gradient_norms_at_init,
    plot_curves,
    plot_final,
    plot_layer_norms,
    ratio_table,
    ratios_at_init,
    ratios_in_training,
    shortcut_toggle,
    start,
)

session = start("02_skip_connections", vars())  # checks the parameters above, then loads the data
depths = list(session.budget.depths)  # `depths`, or the profile's (course/budgets.py)

# %% [markdown]
# ## The block: x + F(x)
#
# The block of both nets, from `resnet_utils/models/cifar.py`: `residual` is the branch
# F(x), two 3x3 convs, each followed by BN. The block's `forward` adds the shortcut s(x) to
# F(x) and applies the ReLU; a plain block is the same code with `self.shortcut = None`,
# which skips the addition, and that is the whole difference. (Writing that `forward` is
# Your turn 1 at the end.)

# %%
print(inspect.getsource(BasicBlock.residual))

# %% [markdown]
# Where a stage starts, the block halves the resolution and doubles the channels, so x no
# longer has the shape of F(x). The paper offers two fixes (sec. 3.3): **A**, subsample x
# and pad the new channels with zeros (no parameters; its choice for CIFAR), and **B**, a
# 1x1 convolution with BN (parameters, at two places in these nets; how many is Your
# turn 3). The nets here use A:

# %%
# NBVAL_CHECK_OUTPUT
print(f"{'depth':>5} {'plain':>10} {'ResNet, A':>10}")
for depth in (20, 32, 44, 56, 110):
    plain, a = (count_parameters(build_model(name)) for name in (f"plain{depth}", f"resnet{depth}"))
    print(f"{depth:>5} {plain:>10,} {a:>10,}")

# %% [markdown]
# With shortcut A, plain-N and ResNet-N have exactly the same parameters: any difference
# in the runs below comes from the shortcut alone.
#
# ## Training both, one recipe
#
# Plain nets that notebook 1 trained with this profile and seed are loaded from the run
# cache rather than trained again.

# %% [markdown]
# **Your prediction first.** At the greatest depth trained here, same recipe and budget, same
# parameters: which ends with the lower training loss, the plain net or the residual one, or
# will they be within the seeds' noise? Write it below and run the cell; the verdicts print it
# beside what was measured.

# %%
prediction = None  # "plain56" or "resnet56" (the deepest of `depths`), or "within noise"
checks.predict(prediction, [f"{f}{depths[-1]}" for f in ("plain", "resnet")] + ["within noise"])

# %%
session.plan()  # plain and residual nets of `depths`, `seeds` seeds each

# %%
runs = {}
for depth in depths:
    for family in ("plain", "resnet"):
        group = session.train(f"{family}{depth}", seeds=seeds)
        runs[group.name] = group
        print(group.describe())

# %%
fig = plot_curves(list(runs.values()), metrics=("train_loss", "test_acc"), title="plain vs residual")
plt.show()
plot_final(runs, "train_loss", title="final training loss: one dot per seed")
plt.show()

# %% [markdown]
# He et al. (2015) report CIFAR-10 test errors for their ResNets trained on all 50,000
# images with the full recipe (Table 6); for plain nets they give curves only (Fig. 6).
# For ResNet-110 the table gives two numbers: **6.43%, the best of 5 runs**, and
# **6.61 ± 0.16%, their mean and standard deviation**; for the others the table gives one
# number. Our numbers come from this run's profile, stated in the first output; a short
# budget on a subset lands far above the published errors.

# %%
# He et al. 2015, Table 6 (one number per net; ResNet-110: best of 5, and mean ± std of the 5)
PUBLISHED_TEST_ERROR = {
    20: "8.75",
    32: "7.51",
    44: "7.17",
    56: "6.97",
    110: "6.43 (best), 6.61 ± 0.16 (mean of 5)",
}
n_seeds = len(next(iter(runs.values())).runs)
print(f"{'net':>10} {'final train loss':>17} {'our test error':>15}   published (Table 6)")
print(f"{'':>10} {f'(mean ± std of {n_seeds} seeds)':>33}")
for name, group in runs.items():
    depth = int(name.removeprefix("plain").removeprefix("resnet"))
    published = PUBLISHED_TEST_ERROR.get(depth) if name.startswith("resnet") else None
    print(
        f"{name:>10} {group.summary('train_loss'):>17} {group.summary('test_error'):>15}   "
        f"{(published + '%') if published else '-'}"
    )

# %% [markdown]
# The verdicts, each with its margin: the difference counts only when it is larger than
# what the seeds' spread (and, for test accuracy, the test set's size) allows.

# %%
n_test = len(session.data.test_y)
session.basis(*runs.values())
verdicts = {}
for depth in depths:
    plain, res = runs[f"plain{depth}"], runs[f"resnet{depth}"]
    verdicts[depth] = compare(res, plain, "train_loss")
    print(f"depth {depth}: {verdicts[depth]}")
    print(f"          {compare(res, plain, 'test_acc', test_size=n_test)}")
deep, shallow = depths[-1], depths[0]
depth_verdict = compare(runs[f"resnet{deep}"], runs[f"resnet{shallow}"], "train_loss")
depth_test = compare(runs[f"resnet{deep}"], runs[f"resnet{shallow}"], "test_acc", test_size=n_test)
print(f"deeper residual net: {depth_verdict}\n                     {depth_test}")
depth_verdict.tell(
    lower="With shortcuts, depth helped in this run: the deeper ResNet fits its data better.",
    higher=f"In this run's budget ResNet-{deep} has NOT overtaken ResNet-{shallow} on training "
    "loss. Compare the size of this gap with the plain nets' gap below.",
    noise=f"ResNet-{deep} and ResNet-{shallow} are within noise of each other on training loss.",
)
plain_gap = compare(runs[f"plain{deep}"], runs[f"plain{shallow}"], "train_loss")
print(f"for comparison, without shortcuts: {plain_gap}")
checks.reveal(
    prediction, checks.outcome_of(verdicts[deep]), f"(the lower training loss at depth {deep})"
)

# %% [markdown]
# A gap is not always a difference in what a net can reach. At a depth where the plain net
# trains well, He et al. (2015, sec. 4.1) find the two "comparably accurate": on ImageNet,
# plain-18 ends at 27.94% and ResNet-18 at 27.88% top-1 error (their Table 2), but ResNet-18
# "converges faster". After a short run, then, the shallow nets' gap is what faster
# convergence alone would give; only a longer schedule can tell it from a better end point.

# %%
gap = compare(runs[f"resnet{shallow}"], runs[f"plain{shallow}"], "test_acc", test_size=n_test)
if gap.decided:
    print(
        f"Here, at depth {shallow} after {session.recipe.epochs} epochs, the shortcut changes the "
        f"test accuracy by {100 * gap.difference:+.1f} points (margin ±{100 * gap.margin:.1f}): "
        "consistent with faster learning alone (as He et al. found at 18 layers on ImageNet); "
        "this run cannot say where the two would end."
    )
else:
    print(f"At depth {shallow}: {gap}")

# %% [markdown]
# **Read the per-seed figure: does the shortcut win on every seed?** Above, each dot of "final
# training loss: one dot per seed" is one seed; the same seed means the same batch order for
# both nets. At the greatest depth, which statement does this run support? (a) on every seed,
# the residual net's training loss is higher than the plain net's, by more than that seed's
# noise; (b) beyond the noise on some seeds only, in one direction, and within it on the
# others; (c) on every seed, the residual net's training loss is lower, by more than the
# noise; (d) on every seed the difference is within the noise; (e) beyond the noise in
# opposite directions on different seeds: the seeds disagree. The noise, as in notebook 1:
# the per-image spread of the loss (on the 500 training images sampled below) over the square
# root of the number of training images, as a 95% band. Answer with a letter.

# %%
loss_sample = session.data.sample(500, seed=seed, split="train")  # for the noise bands

# %% tags=["solution"]
# BEGIN SOLUTION
resnet, plain = runs[f"resnet{deep}"], runs[f"plain{deep}"]
bands = checks.loss_bands(resnet, plain, loss_sample, len(session.data.train_y))
seed_answer = checks.seed_agreement(resnet, plain, "train_loss", bands)
# END SOLUTION

# %%
checks.residual_loss_on_every_seed(
    seed_answer, runs[f"resnet{deep}"], runs[f"plain{deep}"], loss_sample, len(session.data.train_y)
)

# %% [markdown]
# ## How the gradient flows
#
# Notebook 1 found that with BatchNorm the gradient of a deep plain net does not vanish: at
# initialisation it grows toward the input, and training brings the ratio down. Same
# measurement, plain and residual, same depth, same y-axis: at initialisation (one batch of
# real images) and averaged over the first and the last epoch of training (seed `seed`).

# %%
images, labels = session.data.sample(64, seed=seed)
pair = (f"plain{deep}", f"resnet{deep}")
fig, axes = plt.subplots(1, 2, figsize=(12, 4), sharey=True)
for ax, name in zip(axes, pair):
    curves = {"at init": gradient_norms_at_init(name, images, labels, seed=seed)}
    norms = (runs[name].finished or runs[name].runs)[0].history["grad_norms"]
    if norms:
        curves |= {"epoch 1": norms[0], f"epoch {len(norms)}": norms[-1]}
    plot_layer_norms(curves, ax=ax, title=name, net=name)
plt.show()

# %% [markdown]
# The slope in one number, first conv / last conv, phase by phase: at init over five init
# seeds, in training over the `seeds` runs. Each row compares the residual net with the
# plain one on log10 (the ratios spread over orders of magnitude).


# %%
init_seeds = range(seed, seed + 5)
phases = {"at init": {name: ratios_at_init(name, images, labels, seeds=init_seeds) for name in pair}}
if all(ratios_in_training(runs[name], 0) for name in pair):
    for phase, epoch in (("epoch 1", 0), (f"epoch {session.recipe.epochs}", -1)):
        phases[phase] = {name: ratios_in_training(runs[name], epoch) for name in pair}
table, phase_verdicts = ratio_table(phases, pair[1], pair[0])
print(table)
phase_verdicts["at init"].tell(
    lower=f"At init the shortcut makes the ratio smaller, beyond the seeds' spread: in {pair[1]} the "
    "gradient reaches the first layer through the identity paths, not only through the chain "
    "of BatchNorm layers.",
    otherwise="In this run the two nets' ratios at init are not told apart by the seeds.",
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
# ## All 50,000 images, 10 epochs: the reference nets
#
# The course ships plain and residual nets of 20, 32, 44 and 56 layers trained on all
# 50,000 training images for 10 epochs, several seeds each (`resnet_utils/reference_nets/`;
# where, how and how long: `docs/reference-nets.md`): all the data, but 1/16 of the paper's
# 164 epochs. Left, your runs; right, the references of the same names (mean and band over
# their seeds), on the same y-axes.

# %%
from resnet_utils import depth_table, plot_depth, reference_group, show_beside_references

show_beside_references(runs)
plt.show()

# %% [markdown]
# ## The paper's picture: error against depth
#
# He et al. (2015) make their case with one figure (Fig. 6): on CIFAR-10, the plain nets'
# error grows from 20 to 56 layers, the ResNets' falls. Table 6 gives the ResNets' test
# errors after the paper's 164 epochs. Here is the same picture from the shipped nets,
# the paper's Table 6 beside ours (open squares), then each depth against the 20-layer net
# of its family: on training loss (does the deeper net fit better?) and on test error
# (Table 6's measure).

# %%
TABLE6 = {20: 8.75, 32: 7.51, 44: 7.17, 56: 6.97}  # He et al. 2015, Table 6: test error (%)
depth_nets = {(f, d): reference_group(f"{f}{d}") for f in ("plain", "resnet") for d in TABLE6}
plot_depth(depth_nets, published={"resnet": TABLE6}, published_label="He et al. 2015, Table 6")
plt.show()
table, depth_verdicts = depth_table(depth_nets)
print(table)

# %% [markdown]
# Table 6's question, answered from these verdicts:


# %%
def said(family, depth, metric):
    """One verdict of the table in words: its word, the difference and its margin."""
    v = depth_verdicts[family, depth, metric]
    scale, unit = (100, " points") if metric == "test_error" else (1, "")
    size = f"{scale * v.difference:+.3g}{unit}, margin ±{scale * v.margin:.2g}" if v.margin else v.reason
    return f"{v.word} ({size})"


for question, family in (("Does the plain net degrade", "plain"), ("Does the ResNet gain", "resnet")):
    print(
        f"{question} with depth? {family}56 vs {family}20: training loss "
        f"{said(family, 56, 'train_loss')}; test error {said(family, 56, 'test_error')}."
    )
gains = [str(d) for d in (32, 44, 56) if depth_verdicts["resnet", d, "test_error"].word == "lower"]
print(
    f"The ResNet's test error is below ResNet-20's beyond the noise at depth {', '.join(gains)}."
    if gains
    else "At no depth is the ResNet's test error below ResNet-20's beyond the noise, after 10 epochs."
)
ours = {d: 100 * depth_nets["resnet", d].mean("test_error") for d in (20, 56)}
print(
    f"Table 6, after 164 epochs: ResNet-56 {TABLE6[20] - TABLE6[56]:.2f} points below ResNet-20, "
    f"at {TABLE6[56]}% and {TABLE6[20]}%. Ours after 10: {ours[20] - ours[56]:.2f} points below, "
    f"at {ours[56]:.1f}% and {ours[20]:.1f}%."
)

# %% [markdown]
# ## Summary

# %%
summary = {
    "seeds": runs[f"resnet{deep}"].seeds,
    "final_train_loss": {n: g.finals("train_loss") for n, g in runs.items()},
    "final_test_acc": {n: g.finals("test_acc") for n, g in runs.items()},
    "diverged_seeds": {n: g.diverged_seeds for n, g in runs.items()},
    "verdicts_resnet_vs_plain_train_loss": {d: str(v) for d, v in verdicts.items()},
    "verdict_deeper_resnet": [str(depth_verdict), str(depth_test)],
    "depth_verdicts_vs_20_layers": {f"{f}{d} {m}": str(v) for (f, d, m), v in depth_verdicts.items()},
    "grad_ratio_by_phase": phases,
}
record = session.finish(summary)

# %% [markdown]
# ## Your turn
#
# Each exercise has a cell for your answer and a check below it. Replace the
# `raise NotImplementedError(...)` (or the `...`) with your answer, run the cell, then run the
# check: it tries your answer on cases of its own and says what is right, or what is wrong and
# why. An exercise left open is reported in one line with a first hint, and the notebook runs
# on; `checks.hint("name", 2)` gives a second hint. (The teacher's copy of this notebook has
# the solutions in these cells.)

# %%
import torch
import torch.nn.functional as F

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
extra_parameters = (16 * 32 + 2 * 32) + (32 * 64 + 2 * 64)
# END SOLUTION

# %%
checks.projection_extra_parameters(extra_parameters)

# %% [markdown]
# ## References
# - K. He, X. Zhang, S. Ren, J. Sun. *Deep Residual Learning for Image Recognition.*
#   CVPR 2016, arXiv:1512.03385 (sec. 3.3 shortcuts A and B; sec. 4.1, Table 2; sec. 4.2,
#   Fig. 6, Table 6).
