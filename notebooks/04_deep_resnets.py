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
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/OWNER/REPO/blob/v0.2.0/notebooks/04_deep_resnets.ipynb)
#
# # 4. Deeper: bottleneck ResNet-50, -101 and -152
#
# For ImageNet, He et al. (2015, sec. 4.1 and Table 1) went to 50, 101 and 152 layers. To
# afford that, each block became a *bottleneck*: a 1x1 conv shrinks the channels, a 3x3
# conv works on the narrow tensor, a 1x1 conv widens it again. This notebook computes what
# that saves, measures what the three nets cost on your device, explains the paper's
# multiply-add counts, asks what the ImageNet stem does to a 32x32 image and, where the
# profile has the budget for it (a GPU), trains them on CIFAR-10.
#
# Our nets are written for this course and are state_dict-compatible with torchvision's
# `resnet50/101/152`: the tests load torchvision's weights into them and compare outputs.

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
seed = 0
data_dir = None  # a local CIFAR-10 copy; None: $CIFAR10_DIR, else torchvision's download
epochs = None  # None: this notebook's budget for the profile (below)
interactive = True  # show the ResNet selector
progress = True  # progress bars while training
summary_dir = None  # where to write a JSON summary; None: $RESNET_SUMMARY_DIR, or nowhere
storage_dir = None  # data and finished runs; None: $RESNET_CACHE_DIR or ~/.cache/resnet-course;
# in Colab, "/content/drive/MyDrive/resnet-course" keeps them on Drive across runtimes
cost_batch = None  # batch size for the time and memory measurements; None: 64 (8 for smoke)

# %%
import matplotlib.pyplot as plt
import torchvision

from resnet_utils import (
    Bottleneck,
    ImageNetBasicBlock,
    build_model,
    checks,
    compare,
    count_parameters,
    learned,
    multiply_adds,
    plot_curves,
    resnet_selector,
    saved_for_backward_bytes,
    stage_shapes,
    stage_table,
    start,
    step_seconds,
)

session = start("04_deep_resnets", vars())  # checks the parameters above, then loads the data

# %% [markdown]
# ## What this profile trains
#
# Three deep nets are far more work per image than notebook 1's. A budget that fits in
# minutes on a laptop CPU would stop them too early to compare (training loss still near
# ln 10), so the quick profile trains none of them: there, the cost measurements below carry
# the notebook. "smoke" trains a few steps to test the code; "full" trains on all images for
# 60 epochs (the stem runs 30) with a step schedule in the paper's proportions (the learning
# rate divided by 10 at half and at three quarters of the run; the paper's CIFAR schedule is
# 164 epochs) and the paper's warm-up: lr 0.01 for the first 400 iterations, then 0.1 (He et
# al. 2015, sec. 4.2, where it is used for the 110-layer net).

# %%
budget = session.budget  # this profile's row of resnet_utils/course/budgets.py
train_here = bool(budget.trainings)
cost_batch = budget.cost_batch
if train_here:
    depth_runs, stem_runs = budget.trainings  # their images, epochs and warm-up
    depth_data, depth_recipe = session.data_for(depth_runs), depth_runs.recipe
    stem_data, stem_recipe = session.data_for(stem_runs), stem_runs.recipe
    for what, d, r in (("depth runs", depth_data, depth_recipe), ("stem runs", stem_data, stem_recipe)):
        warm = f", lr {r.warmup_lr} for the first {r.warmup_steps} steps" if r.warmup_steps else ""
        epochs = f"{r.epochs} epoch{'s' * (r.epochs != 1)}"
        print(f"{what}: {d.sizes()}, {epochs}, {r.schedule} lr {r.lr}{warm}")
else:
    print(
        f"The {session.profile.name} profile trains none of the bottleneck nets here (see the "
        "comment above); the cost measurements are the lesson. profile='full' trains them."
    )

# %% [markdown]
# ## Why bottlenecks
#
# The paper's Fig. 5: a basic block on 64 channels against a bottleneck on 256 channels
# (64 inside). Computed here at 56x56, the resolution of ImageNet's first stage:

# %%
# NBVAL_CHECK_OUTPUT
for label, block, channels in (
    ("basic block, 64-d", ImageNetBasicBlock(64, 64), 64),
    ("bottleneck, 256-d", Bottleneck(256, 64), 256),
):
    print(
        f"{label}: {count_parameters(block):>7,} parameters, "
        f"{multiply_adds(block, (channels, 56, 56)) / 1e6:6.1f} M multiply-adds"
    )

# %% [markdown]
# Four times the channels for about the same cost: that is what lets ResNet-50/101/152 be
# deep *and* wide. The three nets differ only in how many bottlenecks each stage stacks:

# %%
# NBVAL_CHECK_OUTPUT
for depth in (50, 101, 152):
    print(stage_table(depth))

# %% [markdown]
# Our counts beside torchvision's, both computed now, for 10 classes:

# %%
# NBVAL_CHECK_OUTPUT
for depth in (50, 101, 152):
    ours = count_parameters(build_model(f"resnet{depth}"))
    theirs = count_parameters(getattr(torchvision.models, f"resnet{depth}")(num_classes=10))
    print(f"ResNet-{depth}: ours {ours:,}, torchvision {theirs:,}, equal: {ours == theirs}")

# %% [markdown]
# ## What they cost here
#
# The time of one training step as `fit` takes it (forward, backward, optimiser step, in the
# number format it trains in) for one batch of 32x32 images on this notebook's device, and
# the memory autograd keeps for the backward pass (counted tensor by tensor, fp32).

# %% [markdown]
# **Your prediction first.** ResNet-152 has three times ResNet-50's multiply-adds (11.3 against
# 3.8 G in the paper's Table 1). How many times longer will one training step of ResNet-152
# take than one of ResNet-50 on this device: "under 2x", "2x to 4x" or "over 4x"? Write it
# below and run the cell; the measurement prints it beside the measured ratio.

# %%
prediction = None  # "under 2x", "2x to 4x" or "over 4x"
checks.predict(prediction, ["under 2x", "2x to 4x", "over 4x"])

# %%
costs = {}
for depth in (50, 101, 152):
    model = build_model(f"resnet{depth}").to(session.device)
    costs[depth] = {
        "seconds": step_seconds(model, cost_batch, repeats=3),
        "backward_mb": saved_for_backward_bytes(model, cost_batch) / 2**20,
    }
    print(
        f"ResNet-{depth}: {costs[depth]['seconds'] * 1000:7.0f} ms per batch of {cost_batch}, "
        f"{costs[depth]['backward_mb']:6.0f} MB kept for backward"
    )
step_ratio = costs[152]["seconds"] / costs[50]["seconds"]
measured = "under 2x" if step_ratio < 2 else "2x to 4x" if step_ratio <= 4 else "over 4x"
checks.reveal(prediction, measured, f"(ResNet-152 / ResNet-50 step time: {step_ratio:.1f}x)")

# %% [markdown]
# ## Training the three with one recipe
#
# Same data, recipe and seed for all three (the budget is printed under the set-up cell;
# under the quick profile this section is skipped). A net is compared with another only
# once it has learned: a training loss still near ln 10 = 2.303, the loss of a uniform
# guess over ten classes, says the budget was too short to tell the nets apart.

# %%
runs = {}
if train_here:
    session.plan(depth_runs)
    for depth in (50, 101, 152):
        runs[depth] = session.train(f"resnet{depth}", data=depth_data, recipe=depth_recipe)
        print(runs[depth].describe())
    plot_curves(
        list(runs.values()), metrics=("train_loss", "test_acc"), title="ResNet-50/101/152, ImageNet stem"
    )
    plt.show()

# %%
n_test = len(session.data.test_y)
for depth, run in runs.items():
    status = learned(run)
    state = "" if status.ok else f" (not trained enough to compare: {status.reason})"
    if run.diverged:
        print(f"ResNet-{depth}: diverged in epoch {run.runs[0].history['diverged_epoch']}")
    else:
        print(
            f"ResNet-{depth}: training loss {run.mean('train_loss'):.3f}, test accuracy "
            f"{run.mean('test_acc'):.1%}{state}"
        )
for a, b in ((101, 50), (152, 101)):
    if runs:
        print(
            compare(
                runs[a],
                runs[b],
                "test_acc",
                test_size=n_test,
                a_name=f"ResNet-{a}",
                b_name=f"ResNet-{b}",
            )
        )

# %% [markdown]
# ## Where the stride goes: v1 and v1.5
#
# The paper (He et al. 2015, Table 1) gives ResNet-50/101/152 as 3.8, 7.6 and 11.3 x 10^9
# FLOPs (multiply-adds, in fact) on a 224x224 image. torchvision's nets, and ours by
# default, count more. The difference is one design choice: in the first bottleneck of
# stages 2-4, the original ("v1") halves the resolution with the first **1x1** conv; the
# later "v1.5", used by torchvision, does it in the **3x3** conv, which then runs at the
# higher resolution: more compute, and about 0.5 points more top-1 accuracy on ImageNet by
# NVIDIA's model card for ResNet-50 v1.5 (torchvision's documentation: "This variant improves
# the accuracy"). Both, counted now on a 224x224 image with 1000 classes:

# %%
# NBVAL_CHECK_OUTPUT
TABLE_1_GMACS = {50: 3.8, 101: 7.6, 152: 11.3}  # He et al. 2015, Table 1
print(
    f"{'net':>10} {'v1: stride on 1x1':>18} {'v1.5: stride on 3x3':>20} {'v1.5 - v1':>10} {'Table 1':>8}"
)
for depth, published in TABLE_1_GMACS.items():
    v1, v15 = (
        multiply_adds(build_model(f"resnet{depth}", num_classes=1000, stride_on=where), (3, 224, 224))
        / 1e9
        for where in ("1x1", "3x3")
    )
    print(f"ResNet-{depth:<3} {v1:>17.2f}G {v15:>19.2f}G {v15 - v1:>9.2f}G {published:>7.1f}G")

# %% [markdown]
# The extra cost of v1.5 is the same in all three nets, because the nets differ only in how many
# blocks each stage repeats, and the stride sits in the three blocks where a stage starts.
# Parameters are the same in both (a stride has no weights).
#
# **Read the table.** Which statement does it support? (a) v1, the stride on the first 1x1
# conv, gives Table 1's counts (within 2%); (b) v1.5, the stride on the 3x3 conv, gives
# Table 1's counts (within 2%); (c) neither placement comes within 2% of Table 1's counts.
# Within 2%, not exactly: the paper does not state its counting convention (which layers it
# counts, how it rounds). Answer with a letter.

# %% tags=["solution"]
# BEGIN SOLUTION
placement_answer = "a"  # v1: 3.86 and 7.57 G against Table 1's 3.8 and 7.6
# END SOLUTION

# %%
checks.stride_placement(placement_answer)

# %% [markdown]
# ## The stem question
#
# The ImageNet stem (a 7x7 stride-2 conv, then a stride-2 max-pool) shrinks a 224x224
# image to 56x56 before the first block. What it leaves of a 32x32 CIFAR image, part by part,
# is Your turn 2 at the end. The CIFAR stem (one 3x3 stride-1 conv, no pool) keeps 32x32
# into the first stage. What each stem costs per image, and the CIFAR stem's feature maps:

# %%
# NBVAL_CHECK_OUTPUT
for stem in ("imagenet", "cifar"):
    model = build_model("resnet50", stem=stem)
    print(f"{stem:>8} stem: {multiply_adds(model) / 1e9:.2f} G multiply-adds per 32x32 image")
shapes = dict(stage_shapes(model))  # the CIFAR stem's; the ImageNet stem's are Your turn 2
sizes = ", ".join(f"{k} {shapes[k][1]}x{shapes[k][2]}" for k in ("layer1", "layer2", "layer3", "layer4"))
print(f"The CIFAR stem's feature maps: no pool, {sizes}")

# %%
stems = {}
if train_here:
    for stem in ("imagenet", "cifar"):
        stems[stem] = session.train("resnet50", data=stem_data, recipe=stem_recipe, stem=stem)
        print(stems[stem].describe())
    plot_curves(
        list(stems.values()),
        metrics=("train_loss", "test_acc"),
        title="ResNet-50: ImageNet stem vs CIFAR stem",
    )
    plt.show()
    stem_verdict = compare(stems["cifar"], stems["imagenet"], "test_acc", test_size=n_test)
    print(stem_verdict)
else:
    print("Not trained under this profile: the shapes and multiply-adds above are the comparison.")

# %% [markdown]
# ## Explore: the family
#
# ResNet-18 and -34 use basic blocks; 50, 101 and 152 use bottlenecks. Pick one to see its
# stage table (needs a live kernel).

# %%
if interactive:
    resnet_selector()

# %% [markdown]
# ## Summary

# %%
summary = {
    "cost": {f"resnet{d}": c for d, c in costs.items()},
    "final_test_acc": {f"resnet{d}": r.mean("test_acc") for d, r in runs.items()},
    "final_train_loss": {f"resnet{d}": r.mean("train_loss") for d, r in runs.items()},
    "stem_test_acc": {s: r.mean("test_acc") for s, r in stems.items()},
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

# %% [markdown]
# ### Your turn 1: a bottleneck's parameters by hand
#
# Write `bottleneck_parameters(in_channels, width, stride)`: the parameters of one
# torchvision bottleneck block: 1x1 conv to `width` channels, 3x3 conv, 1x1 conv to
# 4 x `width` channels, each conv without a bias and followed by a BatchNorm, plus a
# projection (1x1 conv and BN) where the block changes the shape.


# %% tags=["solution"]
def bottleneck_parameters(in_channels, width, stride):
    # BEGIN SOLUTION
    out_channels = 4 * width
    total = in_channels * width + 2 * width  # 1x1 reduce + BN
    total += width * width * 9 + 2 * width  # 3x3 + BN
    total += width * out_channels + 2 * out_channels  # 1x1 expand + BN
    if stride != 1 or in_channels != out_channels:
        total += in_channels * out_channels + 2 * out_channels  # projection + BN
    return total
    # END SOLUTION


# %%
checks.bottleneck_parameters(bottleneck_parameters)

# %% [markdown]
# ### Your turn 2: the ImageNet stem on a 32x32 image
#
# Predict, without running the net, the shape (channels, height, width) of ResNet-50's
# feature map after each part, for one 32x32 CIFAR image and the ImageNet stem (7x7 conv
# with stride 2 and padding 3, then a 3x3 max-pool with stride 2 and padding 1). A conv or
# pool gives floor((size + 2 * padding - kernel) / stride) + 1 pixels. Write your prediction as
# `stem_shapes = {"conv1": (channels, height, width), "maxpool": ..., "layer1": ...,
# "layer2": ..., "layer3": ..., "layer4": ...}`.

# %% tags=["solution"]
# BEGIN SOLUTION
stem_shapes = {
    "conv1": (64, 16, 16),
    "maxpool": (64, 8, 8),
    "layer1": (256, 8, 8),
    "layer2": (512, 4, 4),
    "layer3": (1024, 2, 2),
    "layer4": (2048, 1, 1),
}
# END SOLUTION

# %%
checks.imagenet_stem_shapes(stem_shapes)

# %% [markdown]
# ## References
# - K. He, X. Zhang, S. Ren, J. Sun. *Deep Residual Learning for Image Recognition.*
#   CVPR 2016, arXiv:1512.03385 (Table 1, Fig. 5, sec. 4.1).
# - torchvision's ResNet: `torchvision/models/resnet.py` (the "v1.5" stride placement).
