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
# Every number below comes from this notebook's own runs (the first output says which
# profile, device and data produced them), from the reference nets the course ships (named
# where used), or from the papers (cited with their table or section).

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
from statistics import median

import matplotlib.pyplot as plt

from resnet_utils import (
    blocks_per_stage,
    build_model,
    checks,
    compare,
    count_parameters,
    depth_slider,
    first_to_last_ratio,
    gradients_at_init,
    init_gradient_curves,
    learned,
    plot_curves,
    plot_final,
    plot_layer_norms,
    ratio_table,
    ratios_at_init,
    ratios_in_training,
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
# has 2 x 20 + 2 = 42 weighted layers (with the first conv and the linear layer), and
# "depth 56" has 114.

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
# says what the recipe is in this run, and the plan below how many images it trains on and
# for how long on this machine (the `quick` profile trains on a class-balanced subset;
# `full` is the paper's recipe, for a GPU). One step of that training, as the course's
# `TrainingStep` takes it: a forward pass under autocast (bf16 where the hardware has it),
# the cross-entropy loss, the backward pass, and the optimiser and learning-rate schedule
# each stepping once (`scaler` matters only for fp16, on a GPU without bf16).
# One run is one draw: another seed gives another initialisation and another batch order,
# and the final numbers move. So each net is trained with `seeds` seeds, and every
# comparison below says whether the difference is larger than that spread (a 95% interval
# from the seeds and, for test accuracy, the sampling error of the test images). A finished
# run is stored in the run cache, so running this cell again loads it.

# %%
import inspect

from resnet_utils.training.step import TrainingStep

print(inspect.getsource(TrainingStep.__call__))

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
# What to look for: if the deeper net were *overfitting*, it would fit the training set at
# least as well as the shallow one and fall behind on the test set only. Degradation is the
# deeper net falling behind on the **training** set itself.

# %%
shallow, deep = groups[depths[0]], groups[depths[-1]]
n_test = len(session.data.test_y)
session.basis(deep, shallow)
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
# than the shallower net's, by more than that seed's noise; (b) beyond the noise on some seeds
# only, in one direction, and within it on the others; (c) on every seed, the deeper net's
# training loss is lower, by more than the noise; (d) on every seed the difference is within
# the noise; (e) beyond the noise in opposite directions on different seeds: the seeds
# disagree. The noise of one seed's training loss, a mean over the training images: the
# per-image spread of the loss (measured on the 500 training images sampled below) over the
# square root of their number, as a 95% band. Answer with a letter.

# %%
loss_sample = session.data.sample(500, seed=seed, split="train")  # for the noise bands

# %% tags=["solution"]
# BEGIN SOLUTION
bands = checks.loss_bands(deep, shallow, loss_sample, len(session.data.train_y))
seed_answer = checks.seed_agreement(deep, shallow, "train_loss", bands)
# END SOLUTION

# %%
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
        "At least one net is far from fitting its training data: this run alone cannot tell "
        "'the deeper plain net fits worse' from 'it fits more slowly'."
    )

# %% [markdown]
# To test slowness, re-run this notebook with a larger `epochs` (2x or 3x) and see whether
# the verdict above stays: the paper's answer, on ImageNet at 3x, is that it does. Notebook 2
# gives a second answer: a residual net of the same depth trained with this same budget.
#
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
        net=f"plain{depth}",
    )
plt.show()

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
    plot_layer_norms(
        curves, ax=ax, title=f"plain{depth} at initialisation (seed {seed})", net=f"plain{depth}"
    )
plt.show()
init_seeds = range(seed, seed + 5)
bn_ratios = {d: ratios_at_init(f"plain{d}", images, labels, seeds=init_seeds) for d in depths}
for depth, values in bn_ratios.items():
    print(
        f"plain{depth} with BatchNorm at init, first-conv / last-conv gradient norm over 5 init "
        f"seeds: median {sorted(values)[2]:.3g} (min {min(values):.3g}, max {max(values):.3g})"
    )

# %%
deep_bn, shallow_bn = bn_ratios[depths[-1]], bn_ratios[depths[0]]
# the ratios spread over orders of magnitude: compared on log10
print(
    compare(
        deep_bn, shallow_bn, "gradient ratio at init", log=True, a_name=deep.label, b_name=shallow.label
    )
)
if min(deep_bn) > 10:
    print(
        f"With BatchNorm, plain-{depths[-1]}'s gradient does not vanish at init: it EXPLODES toward "
        f"the input; its first conv gets {min(deep_bn):.3g} to {max(deep_bn):.3g} times the gradient "
        "of its last conv."
    )

# %% [markdown]
# At initialisation this is what mean-field theory predicts for deep BatchNorm nets without
# shortcuts: each BN layer, normalising over a batch, multiplies the gradient on its way back
# by a factor a little above 1, so it grows geometrically with depth (Yang et al., *A Mean
# Field Theory of Batch Normalization*, ICLR 2019). Balduzzi et al. (2017, *The Shattered
# Gradients Problem*) show the other face of it: the gradients of deep plain nets look more
# and more like noise across inputs. Yang et al. also say what happens next: "after a single
# step of optimization the networks achieve a relatively stable equilibrium in which
# gradients have dramatically smaller dynamic range" (their abstract). The phase table
# further down follows the ratio through training. He et al.'s "healthy norms" are a
# statement about the nets they *trained*.
#
# Without BatchNorm, the init decides:

# %%
deep_init = at_init[depths[-1]]
default_ratio = first_to_last_ratio(deep_init["no BN, PyTorch default init"])
kaiming = ratios_at_init(
    f"plain{depths[-1]}", images, labels, seeds=init_seeds, batchnorm=False, init="kaiming"
)
print(f"plain{depths[-1]} without BatchNorm, first conv / last conv gradient norm at init:")
print(f"  PyTorch's default init (seed {seed}): {default_ratio:.2g}")
print(f"  Kaiming init, 5 init seeds: {min(kaiming):.3g} to {max(kaiming):.3g}")

# %% [markdown]
# With PyTorch's default init the gradient vanishes on its way to the input; Kaiming's
# scaling keeps the backward signal's size from layer to layer. Where the line above says
# 0, some layers' gradient norm came out as exactly zero in float32 (they are missing from
# the log-scale plot). Is their gradient zero, or too small for float32? The gradients
# themselves, and the same net, same init, computed in float64:

# %%
import torch

zero_layers = [i for i, norm in enumerate(deep_init["no BN, PyTorch default init"]) if norm == 0]
if zero_layers:
    no_bn = {"batchnorm": False, "init": "pytorch"}
    grads32 = gradients_at_init(deep.label, images, labels, seed=seed, **no_bn)
    grads64 = gradients_at_init(deep.label, images, labels, seed=seed, dtype=torch.float64, **no_bn)
    largest = max(grads32[i].abs().max().item() for i in zero_layers)
    print(f"layers whose float32 gradient norm is exactly 0: {len(zero_layers)}")
    print(f"their largest float32 gradient element: {largest:.2g}; its square: {largest**2:.2g}")
    print("the smallest positive float32 (subnormal): 1.4e-45")
    norm64 = min(grads64[i].norm().item() for i in zero_layers)
    print(f"their gradient norms computed in float64: {norm64:.2g} and up")
    print(
        f"one SGD step moves their weights by at most lr x gradient = {session.recipe.lr * largest:.1g}"
    )
else:
    print("In this run no layer's gradient norm is exactly zero in float32.")

# %% [markdown]
# Where the largest element's square is below float32's smallest number, every square in
# sqrt(sum of squares) rounds to 0, and so does the norm: an underflow of the norm's
# arithmetic, not a zero gradient (float64 holds it). But gradients this small are as good
# as zero for training: float32 keeps about 7 digits, so a step of that size is lost in
# rounding for any weight larger than about 10^7 times the step, and weight decay shrinks
# every weight by lr x decay x w per step, far more. Those layers are effectively frozen.
#
# Back to the nets trained with BatchNorm: phase by phase, how large is the first conv's
# gradient next to the last conv's? At init over 5 init seeds, during training over the
# `seeds` training runs (each epoch's average, as recorded by the training loop).


# %%
phases = {
    "at init": {n: bn_ratios[d] for n, d in ((deep.label, depths[-1]), (shallow.label, depths[0]))}
}
if ratios_in_training(deep, 0) and ratios_in_training(shallow, 0):
    for phase, epoch in (("epoch 1", 0), (f"epoch {session.recipe.epochs}", -1)):
        phases[phase] = {g.label: ratios_in_training(g, epoch) for g in (deep, shallow)}
table, phase_verdicts = ratio_table(phases, deep.label, shallow.label)
print(table)
if min(min(v) for r in phases.values() for v in r.values()) > 0.01:
    print("With BatchNorm the ratio is above 0.01 in every phase and on every seed: no vanishing.")
if len(phases) == 3:
    initial, first_epoch, last_epoch = (median(r[deep.label]) for r in phases.values())
    if initial > first_epoch > last_epoch:
        print(
            f"{deep.label}'s ratio falls from {initial:.3g} at init to {first_epoch:.3g} in epoch 1 "
            f"and {last_epoch:.3g} in the last: training tames the explosion, as Yang et al. describe."
        )
    if all(0.5 < median(v) < 2 for v in phases[f"epoch {session.recipe.epochs}"].values()):
        print(
            "By the last epoch both nets' ratios are near 1, He et al.'s 'healthy norms': neither "
            "vanishing nor exploding gradients explain the gap in training loss that remains."
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
# plain and residual nets of 20, 32, 44 and 56 layers trained on all 50,000 training images
# for 10 epochs, several seeds each (`resnet_utils/reference_nets/`; where, how and how long:
# `docs/reference-nets.md`). That is all the data, but still 1/16 of the paper's 164
# epochs. Left, your runs; right, the references (mean and band over their seeds), on the
# same y-axes. Does the deeper plain net still end behind on the *training* loss, the
# notebook's definition of degradation, when it has all the data and more epochs?

# %%
from resnet_utils import depth_table, plot_depth, reference_group, show_beside_references

show_beside_references({f"plain{d}": g for d, g in groups.items()})
plt.show()

# %% [markdown]
# He et al.'s Fig. 6 (left) draws the plain nets' error against depth: the deeper, the
# worse. The same picture from the shipped plain nets, each depth against plain-20:

# %%
plain_nets = {("plain", d): reference_group(f"plain{d}") for d in (20, 32, 44, 56)}
plot_depth(plain_nets, metrics=("train_loss", "test_error"))
plt.show()
table, reference_verdicts = depth_table(plain_nets)
print(table)
worse = [
    f"plain{d}"
    for (_, d, m), v in reference_verdicts.items()
    if m == "train_loss" and v.word == "higher"
]
print(f"Beyond the noise, a higher training loss than plain-20: {', '.join(worse) or 'none'}.")

# %% [markdown]
# The caveat of the section "Degradation, or just slow?" holds here too: 10 epochs is a
# short schedule. Are the reference nets close to fitting their training images?

# %%
for name, group in {"plain20": plain_nets["plain", 20], "plain56": plain_nets["plain", 56]}.items():
    print(f"{name} (reference): training accuracy at the end {group.summary('train_acc')}")
if min(plain_nets["plain", d].mean("train_acc") for d in (20, 56)) > 0.95:
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
    "reference_verdicts_vs_plain20": {
        f"plain{d} {m}": str(v) for (_, d, m), v in reference_verdicts.items()
    },
    "grad_ratio_by_phase": phases,
    "grad_ratio_at_init": {
        f"plain{d}": {k: first_to_last_ratio(v) for k, v in c.items()} for d, c in at_init.items()
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
