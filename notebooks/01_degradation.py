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
depths = [20, 56]  # plain nets to train: each must be 6n+2
seed = 0  # the first seed; the headline runs use seed, seed + 1, ...
seeds = 3  # how many seeds the plain-20 vs plain-56 comparison repeats (1 gives no margin)
data_dir = None  # a local CIFAR-10 copy; None: $CIFAR10_DIR, else torchvision's download
epochs = None  # None: the profile's epoch count
interactive = True  # show the depth slider at the end
progress = True  # progress bars while training
summary_dir = None  # where to write a JSON summary; None: $RESNET_SUMMARY_DIR, or nowhere
storage_dir = None  # data and finished runs; None: $RESNET_CACHE_DIR or ~/.cache/resnet-course;
# in Colab, "/content/drive/MyDrive/resnet-course" keeps them on Drive across runtimes

# %%
import math
from statistics import median

import matplotlib.pyplot as plt
import torch

from resnet_utils import (
    blocks_per_stage,
    build_model,
    checks,
    compare,
    count_parameters,
    depth_slider,
    gradients_at_init,
    init_gradient_curves,
    learned,
    plot_curves,
    plot_final,
    plot_layer_norms,
    spread,
    spreads_at_init,
    stage_shapes,
    start,
    weighted_layers,
)

session = start("01_degradation", vars())  # checks the parameters above, then loads the data
depths = list(session.budget.depths)  # the nets to train, shallowest first

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
# Same data, same optimiser and schedule; only the depth changes. The first output above
# says what the recipe is in this run, and the plan below how many images it trains on (the
# `quick` profile trains on a class-balanced subset for a few minutes; `full` is the
# paper's recipe on a GPU).
#
# One run is one draw: another seed gives another initialisation and another batch order,
# and the final numbers move. So each net is trained with `seeds` seeds, and every
# comparison below says whether the difference is larger than that spread (a 95% interval
# from the seeds and, for test accuracy, the sampling error of the test images). A finished
# run is stored in the run cache, so running this cell again loads it.

# %% [markdown]
# **Your prediction first.** Before training: with the same recipe and budget, which net will
# end with the lower training loss, or will the two be within the seeds' noise? Write it in the
# cell below (as a string) and run it; the verdict below prints it beside what was measured.

# %%
prediction = None  # "plain20", "plain56" (the nets of `depths`) or "within noise"
checks.predict(prediction, [f"plain{d}" for d in depths] + ["within noise"])

# %%
session.plan()  # plain nets of `depths`, `seeds` seeds each: what, and how long

# %%
groups = {depth: session.train(f"plain{depth}", seeds=seeds) for depth in depths}
for group in groups.values():
    print(group.describe())

# %%
fig = plot_curves(
    list(groups.values()),
    metrics=("train_loss", "train_acc", "test_acc"),
    title="plain nets, one recipe",
)
plt.show()

# %% [markdown]
# Before reading the verdict, a prediction of your own: **which net ends with the lower
# training loss, and by how much?** If the deeper net were *overfitting*, it would fit the
# training set at least as well as the shallow one and fall behind on the test set only.
# Degradation is the deeper net falling behind on the **training** set itself.

# %%
shallow, deep = groups[depths[0]], groups[depths[-1]]
n_test = len(session.data.test_y)
print(
    f"Each verdict rests on {len(deep.runs)} seed{'s' * (len(deep.runs) != 1)} per net, "
    f"{len(session.data.train_y):,} training and {n_test:,} test images, {session.recipe.epochs} epochs."
)
loss_verdict = compare(deep, shallow, "train_loss")
print(loss_verdict)
print(compare(deep, shallow, "test_acc", test_size=n_test))
loss_verdict.tell(
    higher="The deeper plain net fits its own training data worse than the shallower one, by "
    "more than the seeds' spread: the signature of degradation, not of overfitting. (Is it "
    "more than slowness? Below.)",
    lower="In this run the deeper plain net ended with the LOWER training loss: it does not "
    "show degradation (try more epochs, or the full profile).",
    noise="The two training losses are within the seeds' spread: this run cannot tell whether "
    "depth hurt (more seeds or a longer budget would tell).",
    not_compared=f"No verdict: {loss_verdict.reason}.",
)
if loss_verdict.word == "not compared" and learned(shallow).ok:
    print(
        f"plain-{depths[0]} did learn with the same budget: the deeper net has barely started. "
        "Whether it would end worse needs a longer run (a larger `epochs`) to say."
    )
checks.reveal(prediction, checks.outcome_of(loss_verdict), "(the lower training loss)")

# %%
plot_final(
    {f"plain{d}": g for d, g in groups.items()}, "train_loss", title="final training loss, per seed"
)
plt.show()

# %% [markdown]
# **Read the figure: does the verdict hold seed by seed?** The verdict compares means. Each dot
# above is one seed, and the same seed means the same batch order for both nets. Which
# statement does this run support? (a) on every seed, the deeper net's training loss is higher
# than the shallower net's, by more than that seed's noise; (b) on some seeds it is higher, on
# others not (lower, or within the noise): the seeds disagree; (c) on every seed, the deeper
# net's training loss is lower, by more than the noise; (d) on every seed the difference is
# within the noise. The noise of one seed's training loss, a mean over the training images: the
# per-image spread of the loss (measured on 500 training images) over the square root of their
# number, as a 95% band. Answer with a letter.

# %% tags=["solution"]
# BEGIN SOLUTION
loss_sample = session.data.sample(500, seed=seed, split="train")
n_train = len(session.data.train_y)
bands = checks.loss_bands(deep, shallow, loss_sample, n_train)
sides = {
    0 if abs(x - y) <= bands[s] else 1 if x > y else -1
    for s, x, y in checks.per_seed(deep, shallow, "train_loss")
}
seed_answer = "b" if len(sides) != 1 else {1: "a", -1: "c", 0: "d"}[sides.pop()]
# END SOLUTION

# %%
loss_sample = session.data.sample(500, seed=seed, split="train")
checks.deep_loss_on_every_seed(seed_answer, deep, shallow, loss_sample, len(session.data.train_y))

# %% [markdown]
# ## Degradation, or just slow?
#
# After a few epochs neither plain net is close to fitting its training set, so a
# sceptic can say: the deeper net is merely *slower*, give it longer and it will catch up.
# He et al. (2015, sec. 4.1) do not rule slowness out: they conjecture that deep plain nets
# "may have exponentially low convergence rates". What they add, in footnote 3, is one test
# on ImageNet (plain-18 against plain-34, not CIFAR-10): with three times as many
# iterations the degradation was still there, "suggesting that this problem cannot be
# feasibly addressed by simply using more iterations". What can this run say?

# %%
for depth, group in groups.items():
    if group.finished:
        print(
            f"plain{depth}: training accuracy at the end {group.summary('train_acc')}, "
            f"after {session.recipe.epochs} epochs of {len(session.data.train_y):,} images"
        )
fitted = [g for g in groups.values() if g.finished and g.mean("train_acc") > 0.95]
if len(fitted) == len(groups):
    print("Both nets fit their training data: a gap here cannot be slowness.")
else:
    print(
        "At least one net is far from fitting its training data, so this run alone cannot tell "
        "'the deeper plain net fits worse' from 'the deeper plain net fits more slowly'. To test "
        "it, re-run this notebook with a larger `epochs` (2x or 3x) and see whether the verdict "
        "above stays: the paper's answer, on ImageNet at 3x, is that it does. Notebook 2 gives a "
        "second "
        "answer: a residual net of the same depth trained with this same budget."
    )

# %% [markdown]
# ## Is it vanishing gradients?
#
# The usual story: in a deep net the gradient shrinks layer by layer on its way back to
# the input, so early layers stop learning. He et al. (2015, sec. 4.1) argue this is *not*
# what holds their plain nets back: the nets use BatchNorm, and they "verify that the
# backward propagated gradients exhibit healthy norms with BN". Let us look.
#
# The training loop recorded, for every layer, the norm of its weight gradient averaged
# over each epoch (seed `seed`). Layer 1 is the first conv, the last one is the linear
# layer. The ratio *first conv / last conv* summarises the slope: far below 1 is a
# vanishing gradient, far above 1 a gradient that **grows** toward the input.

# %%
first = {depth: (group.finished or group.runs)[0] for depth, group in groups.items()}
trained_norms = {d: r.history["grad_norms"] for d, r in first.items() if r.history["grad_norms"]}
fig, axes = plt.subplots(1, len(depths), figsize=(6 * len(depths), 4), squeeze=False, sharey=True)
for ax, (depth, norms) in zip(axes[0], trained_norms.items()):
    plot_layer_norms(
        {"epoch 1": norms[0], f"epoch {len(norms)}": norms[-1]},
        ax=ax,
        title=f"plain{depth} with BatchNorm, during training",
    )
plt.show()
for depth, norms in trained_norms.items():
    print(
        f"plain{depth}: first-conv / last-conv gradient norm, epoch 1: {spread(norms[0]):.3g}, "
        f"last epoch: {spread(norms[-1]):.3g}"
    )

# %% [markdown]
# The control for a trained net is the same net before training. At initialisation, on one
# batch of real images, over five init seeds (so we see how much is the architecture and
# how much the draw), with BatchNorm as trained above, and without it under two inits:
# He et al.'s (2015a) *Kaiming* init, designed for ReLU nets, and PyTorch's default layer
# init, which gives each weight a sixth of the variance a ReLU net needs.

# %%
images, labels = session.data.sample(64, seed=seed)
at_init = {depth: init_gradient_curves(f"plain{depth}", images, labels, seed) for depth in depths}
fig, axes = plt.subplots(1, len(depths), figsize=(6 * len(depths), 4), squeeze=False, sharey=True)
for ax, (depth, curves) in zip(axes[0], at_init.items()):
    plot_layer_norms(curves, ax=ax, title=f"plain{depth} at initialisation (seed {seed})")
plt.show()
init_seeds = range(seed, seed + 5)
bn_spreads = {d: spreads_at_init(f"plain{d}", images, labels, seeds=init_seeds) for d in depths}
for depth, values in bn_spreads.items():
    print(
        f"plain{depth} with BatchNorm at init, first-conv / last-conv gradient norm over 5 init "
        f"seeds: median {sorted(values)[2]:.3g} (min {min(values):.3g}, max {max(values):.3g})"
    )

# %%
deep_bn = bn_spreads[depths[-1]]
shallow_bn = bn_spreads[depths[0]]
# ratios spread over orders of magnitude: compared on a log scale (log10 of each seed's ratio)
depth_verdict = compare(
    [math.log10(v) for v in deep_bn],
    [math.log10(v) for v in shallow_bn],
    "log10 gradient ratio at init",
    a_name=f"plain{depths[-1]}",
    b_name=f"plain{depths[0]}",
)
print(depth_verdict)
if min(deep_bn) > 10:
    print(
        f"With BatchNorm, plain-{depths[-1]}'s gradient does not vanish: it EXPLODES toward the "
        f"input. At init its first conv gets {min(deep_bn):.3g} to {max(deep_bn):.3g} times the "
        f"gradient of its last conv."
    )
depth_verdict.tell(higher="The ratio is larger in the deeper net, beyond the spread of the init seeds.")
if depths[-1] in trained_norms:
    norms = trained_norms[depths[-1]]
    print(
        f"Averaged over its first epoch of training, plain-{depths[-1]}'s ratio is "
        f"{spread(norms[0]):.3g}; in the last epoch {spread(norms[-1]):.3g}."
    )

# %% [markdown]
# This is what mean-field theory predicts for deep BatchNorm nets without shortcuts: each
# BN layer, normalising over a batch, multiplies the gradient on its way back by a factor
# a little above 1, so it grows geometrically with depth (Yang et al., *A Mean Field Theory
# of Batch Normalization*, ICLR 2019). Balduzzi et al. (2017, *The Shattered Gradients
# Problem*) show the other face of it: the gradients of deep plain nets look more and more
# like noise across inputs. "Healthy norms" at the output, then, but not a healthy signal
# at the input. Notebook 2 measures what the shortcut does to this.
#
# Without BatchNorm, the init decides:

# %%
deep_init = at_init[depths[-1]]
default_spread = spread(deep_init["no BN, PyTorch default init"])
kaiming = spreads_at_init(
    f"plain{depths[-1]}", images, labels, seeds=init_seeds, batchnorm=False, init="kaiming"
)
if default_spread == 0:
    print(
        f"plain{depths[-1]} without BatchNorm, PyTorch's default init: the first conv's gradient "
        "norm comes out as exactly 0 in float32 (below: an underflow, not a zero gradient), so "
        "the ratio to the last conv is too small for float32 to hold: a vanishing gradient."
    )
else:
    print(
        f"plain{depths[-1]} without BatchNorm, PyTorch's default init: the first conv gets "
        f"{default_spread:.1e} times the gradient of the last conv: "
        + ("a vanishing gradient." if default_spread < 1e-2 else "no strong vanishing here.")
    )
print(
    f"With Kaiming init the same net gives a ratio of {min(kaiming):.3g} to {max(kaiming):.3g} "
    "over 5 init seeds: Kaiming's scaling keeps the backward signal's size from layer to layer."
)

# %% [markdown]
# Some layers of the default-init net show a gradient norm of exactly zero (they are
# missing from the log-scale plot). Is their gradient too small for float32? Look at the
# gradients themselves, and compute the same net, same init, in float64.

# %%
zero_layers = [i for i, norm in enumerate(deep_init["no BN, PyTorch default init"]) if norm == 0]
if zero_layers:
    options = {"batchnorm": False, "init": "pytorch"}
    name = f"plain{depths[-1]}"
    grads32 = gradients_at_init(name, images, labels, seed=seed, **options)
    grads64 = gradients_at_init(name, images, labels, seed=seed, dtype=torch.float64, **options)
    largest = [grads32[i].abs().max().item() for i in zero_layers]
    norm64 = [grads64[i].norm().item() for i in zero_layers]
    norm_of_32 = [grads32[i].double().norm().item() for i in zero_layers]
    print(
        f"{len(zero_layers)} of {name}'s {len(deep_init['BatchNorm'])} layers have a float32 "
        f"gradient norm of exactly 0. Yet their float32 gradients are not zero: the largest "
        f"element is {min(largest):.2g} to {max(largest):.2g}."
    )
    print(
        f"The norm of those same float32 gradients, summed in float64: {min(norm_of_32):.2g} to "
        f"{max(norm_of_32):.2g}; the whole computation in float64: {min(norm64):.2g} to "
        f"{max(norm64):.2g}. Both fit in float32, whose smallest number is 1.4e-45."
    )
    squares = max(largest) ** 2
    smallest_float32 = 1.4e-45  # the smallest subnormal
    if squares < smallest_float32:
        print(
            f"What underflows is the arithmetic of the norm: sqrt(sum of squares) squares each "
            f"element, and ({max(largest):.1g})^2 = {squares:.1g} is below 1.4e-45, so every "
            "square rounds to 0 in float32 and so does their sum. The gradients are tiny "
            "(vanishing), but not zero."
        )
        lr, decay = session.recipe.lr, session.recipe.weight_decay
        step = lr * max(largest)
        print(
            f"Yet they are as good as zero for training: one SGD step moves a weight by at most "
            f"lr x gradient = {lr} x {max(largest):.1g} = {step:.1g}. float32 keeps about 7 "
            f"digits, so that step is lost in rounding for any weight larger than "
            f"{step / 6e-8:.1g}; and weight decay ({decay}) shrinks every weight w by "
            f"{lr * decay:.0e} x w per step, more than the gradient adds for any |w| above "
            f"{max(largest) / decay:.1g}. These layers are effectively frozen."
        )
    else:
        print("The squares of these elements fit in float32: the zeros come from elsewhere.")
else:
    print("In this run no layer's gradient norm is exactly zero in float32.")

# %% [markdown]
# Back to the nets trained with BatchNorm: phase by phase, how large is the first conv's
# gradient next to the last conv's, and which net's is larger?

# %%
phases = {"at init (median of 5 init seeds)": {d: median(v) for d, v in bn_spreads.items()}}
if len(trained_norms) == len(depths):
    phases[f"epoch 1 (seed {seed})"] = {d: spread(n[0]) for d, n in trained_norms.items()}
    phases[f"last epoch (seed {seed})"] = {d: spread(n[-1]) for d, n in trained_norms.items()}
for phase, ratio in phases.items():
    low, high = ratio[depths[0]], ratio[depths[-1]]
    if min(low, high) > 1:
        where = "larger near the input than at the output in both nets"
    elif max(low, high) < 1:
        where = "smaller near the input than at the output in both nets"
    else:
        where = "larger near the input in one net, smaller in the other"
    print(
        f"{phase}: first-conv / last-conv ratio plain-{depths[0]} {low:.3g}, plain-{depths[-1]} "
        f"{high:.3g}: the gradient is {where}, and the deeper net's ratio is the "
        f"{'larger' if high > low else 'smaller'}."
    )
vanished = [p for p, r in phases.items() if min(r.values()) < 1e-2]
print(
    "With BatchNorm the gradient vanishes (ratio below 0.01) in none of these phases."
    if not vanished
    else f"With BatchNorm the ratio falls below 0.01 in: {'; '.join(vanished)}."
)

# %% [markdown]
# What holds a deep plain net back, then, is not gradients that never arrive: it is an
# *optimisation* difficulty of deep plain stacks. The next notebook adds the one thing He
# et al. changed, the identity shortcut, and measures what it does to the training loss
# and to this gradient ratio.
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
# ## All 50,000 images, 10 epochs: the reference nets
#
# Your runs are short: a part of the training images and a few epochs. The course ships
# plain-20, plain-56, ResNet-20 and ResNet-56 trained on all 50,000 training images for 10
# epochs, several seeds each (`resnet_utils/reference_nets/`; the lines under the figure
# say where, how and when). That is all the data, but still 1/16 of the paper's 164 epochs.
# Left, your runs; right, the references (mean and band over their seeds), on the same
# y-axes. Does the deeper plain net still end behind on the *training* loss, the
# notebook's definition of degradation, when it has all the data and more epochs?

# %%
from resnet_utils import compare_references, reference_group, show_beside_references

show_beside_references({f"plain{d}": g for d, g in groups.items()})
plt.show()
reference_verdicts = compare_references([("plain56", "plain20")])

# %% [markdown]
# The caveat of the section "Degradation, or just slow?" holds here too: 10 epochs is a
# short schedule. Are the reference nets close to fitting their training images?

# %%
for name in ("plain20", "plain56"):
    group = reference_group(name)
    print(f"{name} (reference): training accuracy at the end {group.summary('train_acc')}")
if min(reference_group(n).mean("train_acc") for n in ("plain20", "plain56")) > 0.95:
    print("Both fit their training images: a gap here cannot be slowness.")
else:
    print(
        "At least one is far from fitting its training images, so these runs too cannot tell "
        "'fits worse' from 'fits more slowly'; the paper's 3x longer runs (on ImageNet) are "
        "what speaks to that."
    )

# %% [markdown]
# ## Summary

# %%
summary = {
    "seeds": list(groups[depths[0]].seeds),
    "final_train_loss": {f"plain{d}": g.finals("train_loss") for d, g in groups.items()},
    "final_test_acc": {f"plain{d}": g.finals("test_acc") for d, g in groups.items()},
    "diverged_seeds": {f"plain{d}": g.diverged_seeds for d, g in groups.items()},
    "verdict_train_loss": str(loss_verdict),
    "reference_verdicts": {
        f"{a} vs {b}": {m: str(v) for m, v in by_metric.items()}
        for (a, b), by_metric in reference_verdicts.items()
    },
    "grad_spread_first_epoch": {f"plain{d}": spread(n[0]) for d, n in trained_norms.items()},
    "grad_spread_at_init_bn_5_seeds": {f"plain{d}": v for d, v in bn_spreads.items()},
    "grad_spread_at_init": {
        f"plain{d}": {k: spread(v) for k, v in c.items()} for d, c in at_init.items()
    },
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
import torch.nn.functional as F
from torch import nn

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
# The plots above came from `resnet_utils.measure.gradients.gradient_norms`. Write your own:
# `layer_gradient_norms(model, images, labels)` returns, for each conv and linear layer in
# forward order, the norm of the gradient of the mean cross-entropy loss with respect to its
# weight, after one forward and one backward pass in training mode.


# %% tags=["solution"]
def layer_gradient_norms(model, images, labels):
    # BEGIN SOLUTION
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
