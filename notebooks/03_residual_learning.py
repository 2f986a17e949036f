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
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/OWNER/REPO/blob/v0.2.0/notebooks/03_residual_learning.ipynb)
#
# # 3. What do residual blocks learn?
#
# He et al. (2015) motivate the residual form with a hypothesis: if the identity is close
# to what a block should compute, it is easier to learn a small correction F(x) than the
# whole mapping. If that is right, the residual branches of a trained ResNet should be
# *small*: their responses weaker than a plain net's, and weaker still in a deeper ResNet
# (their Fig. 7). Veit et al. (2016) went further: delete a block from a trained ResNet and
# it barely notices; delete a layer from a plain net and it breaks.
#
# This notebook measures both on trained nets (loaded from the run cache when notebook 2
# trained them with the same profile and seed).

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
seed = 0
data_dir = None  # a local CIFAR-10 copy; None: $CIFAR10_DIR, else torchvision's download
epochs = None  # None: the profile's epoch count
interactive = True  # show the block picker
progress = True  # progress bars while training
summary_dir = None  # where to write a JSON summary; None: $RESNET_SUMMARY_DIR, or nowhere
storage_dir = None  # data and finished runs; None: $RESNET_CACHE_DIR or ~/.cache/resnet-course;
# in Colab, "/content/drive/MyDrive/resnet-course" keeps them on Drive across runtimes
measure_images = 500  # test images used for the response and branch measurements

# %%
import matplotlib.pyplot as plt

from resnet_utils import evaluate, start
from resnet_utils.inspect_blocks import (
    blocks,
    deletable_blocks,
    layer_responses,
    lesion_study,
    residual_branch_stats,
)
from resnet_utils.plots import plot_lesions, plot_responses
from resnet_utils.widgets import block_picker

session = start(
    "03_residual_learning",
    profile=profile,
    data_dir=data_dir,
    epochs=epochs,
    seed=seed,
    progress=progress,
    summary_dir=summary_dir,
    storage_dir=storage_dir,
)
names = ["plain56", "resnet20", "resnet56"] + (["resnet110"] if session.profile.name == "full" else [])

# %%
runs = {}
for name in names:
    run = session.train(name)
    status = "diverged" if run.diverged else f"test accuracy {run.final('test_acc'):.1%}"
    print(f"{run.describe()}, {status}")
    runs[name] = run
models = {name: run.model for name, run in runs.items() if not run.diverged}

# %% [markdown]
# ## Layer responses (the paper's Fig. 7)
#
# For every 3x3 layer inside the blocks we take its response after BN, before the ReLU or
# the addition, on a batch of test images, and compute its standard deviation. In a
# residual net the second of each pair is F(x) itself. Left: by position in the net;
# right: sorted from largest to smallest.

# %%
images, labels = session.data.sample(measure_images, seed=seed)
responses = {name: layer_responses(model, images) for name, model in models.items()}
plot_responses(responses, title="std of 3x3 layer responses (after BN, before addition/ReLU)")
plt.show()

# %%
mean_std = {name: sum(s) / len(s) for name, s in responses.items()}
for name, value in mean_std.items():
    print(f"{name}: mean response std {value:.3f} over {len(responses[name])} layers")
if {"plain56", "resnet56", "resnet20"} <= mean_std.keys():
    smaller = mean_std["resnet56"] < mean_std["plain56"]
    print(
        f"ResNet-56's responses are {'smaller' if smaller else 'NOT smaller'} than plain-56's "
        f"({mean_std['resnet56']:.3f} vs {mean_std['plain56']:.3f})."
    )
    deeper = mean_std["resnet56"] < mean_std["resnet20"]
    print(
        f"ResNet-56's are {'smaller' if deeper else 'NOT smaller'} than ResNet-20's "
        f"({mean_std['resnet56']:.3f} vs {mean_std['resnet20']:.3f})"
        + ("" if deeper else ": this run does not show the paper's depth trend.")
    )

# %% [markdown]
# ## The branch against the identity
#
# In each residual block, how large is what the branch adds, next to what the shortcut
# carries? We measure ||F(x)|| / ||x|| per image (x after the shortcut) and average.

# %%
branches = {
    name: residual_branch_stats(model, images) for name, model in models.items() if "resnet" in name
}
fig, ax = plt.subplots(figsize=(8, 3.8))
for name, stats in branches.items():
    ax.plot(range(1, len(stats) + 1), [s.ratio for s in stats], marker="o", ms=3, label=name)
ax.set_xlabel("block")
ax.set_ylabel("||F(x)|| / ||x||")
ax.grid(alpha=0.3)
ax.legend()
plt.show()
for name, stats in branches.items():
    ratios = [s.ratio for s in stats]
    below = sum(r < 1 for r in ratios)
    print(
        f"{name}: median ||F(x)||/||x|| {sorted(ratios)[len(ratios) // 2]:.3f}; "
        f"{below} of {len(ratios)} blocks add less than they pass on"
    )

# %% [markdown]
# Pick a block to see, channel by channel, how large F(x) is next to x. (Needs a live
# kernel.)

# %%
if interactive and "resnet56" in branches:
    block_picker(branches["resnet56"])

# %% [markdown]
# ## Lesions: delete one block at a time
#
# Following Veit et al. (2016), we delete one block from the trained net and measure test
# accuracy, then put it back and delete the next. In ResNet-56 the deleted block's input
# still reaches the next block through the shortcut. In plain-56 the same deletion removes
# two layers from the only path there is. Only blocks whose output has their input's shape
# can be deleted: the first block of stages 2 and 3 changes resolution and channels, so
# it stays.

# %%
lesion_nets = [n for n in ("plain56", "resnet56") if n in models]
deletable = deletable_blocks(models[lesion_nets[0]])
print("deletable blocks:", ", ".join(deletable))
print(
    "kept, as they change the shape:",
    ", ".join(n for n, _ in blocks(models[lesion_nets[0]]) if n not in deletable),
)
lesions = {name: lesion_study(models[name], session.data, progress=progress) for name in lesion_nets}
baselines = {name: evaluate(models[name], session.data)[1] for name in lesion_nets}
plot_lesions(lesions, baselines)
plt.show()

# %%
for name in lesion_nets:
    accs = list(lesions[name].values())
    drop = [baselines[name] - a for a in accs]
    median = sorted(accs)[len(accs) // 2]
    print(
        f"{name}: intact {baselines[name]:.1%}; with one block deleted, median {median:.1%}, "
        f"worst {min(accs):.1%}; mean drop {sum(drop) / len(drop):.1%} points"
    )
if len(lesion_nets) == 2:
    mean_acc = {n: sum(lesions[n].values()) / len(lesions[n]) for n in lesion_nets}
    robust = (baselines["resnet56"] - mean_acc["resnet56"]) < (
        baselines["plain56"] - mean_acc["plain56"]
    )
    print(
        "Deleting a block costs ResNet-56 "
        + ("less" if robust else "NOT less")
        + " accuracy on average than it costs plain-56 in this run."
    )

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
    "mean_response_std": mean_std,
    "branch_ratio_median": {n: sorted(s.ratio for s in st)[len(st) // 2] for n, st in branches.items()},
    "intact_test_acc": baselines,
    "lesion_test_acc": lesions,
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

from resnet_utils import checks

# %% [markdown]
# ### Your turn 1: how large is the branch next to the shortcut?
#
# Write `branch_to_shortcut_ratio(block, x)`: for a block of a `resnetN` (in eval mode) and a
# batch `x` of its inputs, the mean over the images of ||F(x)|| / ||s(x)||, where
# `block.residual(x)` is the branch F(x) and `block.shortcut(x)` the shortcut s(x). Each
# norm is taken over one image's whole feature map.


# %% tags=["solution"]
def branch_to_shortcut_ratio(block, x):
    # BEGIN SOLUTION
    # hint: t.flatten(1).norm(dim=1) gives one norm per image; divide, then take the mean
    with torch.no_grad():
        branch, shortcut = block.residual(x), block.shortcut(x)
        return (branch.flatten(1).norm(dim=1) / shortcut.flatten(1).norm(dim=1)).mean().item()
    # END SOLUTION


# %%
checks.branch_to_shortcut_ratio(branch_to_shortcut_ratio)

# %% [markdown]
# ### Your turn 2: which blocks can a lesion remove?
#
# The lesion study above deleted blocks one at a time, but not every block. Write
# `deletable(model)`: the names of the blocks (`"layer1.0"`, ...) whose output has the shape
# of their input, so that the net still runs without them. A block's first conv tells its
# stride (`block.conv1.stride`) and its channels.


# %% tags=["solution"]
def deletable(model):
    # BEGIN SOLUTION
    # hint: loop over model.named_modules(); a block is named like "layer2.3"; compare
    # conv1.in_channels with conv2.out_channels and look at conv1.stride
    names = []
    for name, module in model.named_modules():
        if name.startswith("layer") and name.count(".") == 1:
            same_channels = module.conv1.in_channels == module.conv2.out_channels
            if same_channels and module.conv1.stride == (1, 1):
                names.append(name)
    return names
    # END SOLUTION


# %%
checks.deletable(deletable)

# %% [markdown]
# ## References
# - K. He, X. Zhang, S. Ren, J. Sun. *Deep Residual Learning for Image Recognition.*
#   CVPR 2016, arXiv:1512.03385 (sec. 3.1 and 4.2, Fig. 7).
# - A. Veit, M. Wilber, S. Belongie. *Residual Networks Behave Like Ensembles of Relatively
#   Shallow Networks.* NeurIPS 2016, arXiv:1605.06431.
