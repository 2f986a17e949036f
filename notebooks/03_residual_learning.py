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
seed = 0  # the first seed; each net is trained with seed, seed + 1, ...
seeds = 3  # seeds per net: the measurements are repeated on each, and at init too
data_dir = None  # a local CIFAR-10 copy; None: $CIFAR10_DIR, else torchvision's download
epochs = None  # None: the profile's epoch count
interactive = True  # show the block picker
progress = True  # progress bars while training
summary_dir = None  # where to write a JSON summary; None: $RESNET_SUMMARY_DIR, or nowhere
storage_dir = None  # data and finished runs; None: $RESNET_CACHE_DIR or ~/.cache/resnet-course;
# in Colab, "/content/drive/MyDrive/resnet-course" keeps them on Drive across runtimes
measure_images = None  # test images for the response and branch measurements; None: 500 (64 under smoke)
landscape_points = None  # grid points per axis of the loss surfaces; None: by profile
landscape_images = None  # training images the loss landscape is measured on; None: 500 (64 under smoke)

# %%
import math
import time
from statistics import fmean, median

import matplotlib.pyplot as plt
import torch

from resnet_utils import (
    CHANCE,
    build_model,
    calibrate_batchnorm,
    checks,
    compare,
    evaluate,
    integer_ticks,
    layer_responses,
    learned,
    plot_responses,
    residual_branch_stats,
    start,
)

session = start("03_residual_learning", vars())  # checks the parameters above, then loads the data
budget = session.budget  # the nets, and the sizes of the measurements (course/budgets.py)
names = [job.name for job in budget.jobs]
smoke = session.profile.name == "smoke"  # every study at the least size that runs its code
measure_images, landscape_images = budget.measure_images, budget.landscape_images

# %% [markdown]
# Every measurement below is taken on each trained seed **and on the same nets at
# initialisation** (fresh weights, seeds `seed` to `seed + seeds - 1`), the same way. A
# property of the architecture shows at init already; what training changed is the
# difference between the two. The measurements run in eval mode, where BN uses its running
# statistics; a fresh net's are mean 0 and variance 1, not those of its activations, so
# its BN layers first get their statistics from 1,000 training images (no weight moves).

# %%
session.plan()  # the nets of `names`, `seeds` seeds each: what, and how long

# %%
groups = {}
for name in names:
    groups[name] = session.train(name, seeds=seeds)
    print(groups[name].describe(), f"test accuracy {groups[name].summary('test_acc')}")
trained = {name: [r.model for r in g.finished] for name, g in groups.items() if g.finished}


calibration, _ = session.data.sample(1000, seed=seed, split="train")


def fresh(name, s):
    """The net at init, its BN statistics taken from training images (see the text above)."""
    torch.manual_seed(s)
    return calibrate_batchnorm(build_model(name).to(session.device), calibration)


init_seeds = range(seed, seed + seeds)
at_init = {name: [fresh(name, s) for s in init_seeds] for name in trained}
for name, g in groups.items():
    status = learned(g)
    if not status.ok:
        print(f"{name} has not trained enough to compare ({status.reason}): its verdicts are skipped.")
ok = {name for name, g in groups.items() if learned(g).ok}

# %% [markdown]
# ## Layer responses (the paper's Fig. 7)
#
# For every 3x3 layer inside the blocks we take its response after BN, before the ReLU or
# the addition, on a batch of test images, and compute its standard deviation. In a
# residual net the second of each pair is F(x) itself. Left: by position in the net;
# right: sorted from largest to smallest. Solid: trained (seed `seed`); dashed: the same
# net at initialisation.

# %%
images, labels = session.data.sample(measure_images, seed=seed)
responses = {name: [layer_responses(m, images) for m in ms] for name, ms in trained.items()}
responses_init = {name: [layer_responses(m, images) for m in ms] for name, ms in at_init.items()}
init_curves = {f"{n}, at init": r[0] for n, r in responses_init.items()}
fig = plot_responses(
    {f"{n}, trained": r[0] for n, r in responses.items()} | init_curves,
    styles={label: {"ls": "--"} for label in init_curves},
    legend_fontsize="small",
    title="std of 3x3 layer responses (after BN, before addition/ReLU)",
)
plt.show()

# %%
mean_std = {n: [fmean(r) for r in rs] for n, rs in responses.items()}
mean_std_init = {n: [fmean(r) for r in rs] for n, rs in responses_init.items()}
for name in mean_std:
    print(
        f"{name}: mean response std {fmean(mean_std[name]):.3f} trained "
        f"({len(mean_std[name])} seed(s)), {fmean(mean_std_init[name]):.3f} at init "
        f"({len(mean_std_init[name])} seeds)"
    )
print()
for name in sorted(ok & mean_std.keys()):
    verdict = compare(
        mean_std[name], mean_std_init[name], "response std", a_name="trained", b_name="at init"
    )
    print(f"training changed {name}'s: {verdict}")
fig7_readings = {  # what each verdict on the trained nets says about the paper's Fig. 7
    ("resnet56", "plain56"): (
        "plain-56",
        {
            "lower": "as in the paper's Fig. 7 (residual responses smaller than plain ones)",
            "higher": "the opposite of the paper's Fig. 7, at this budget",
            "noise": "not told apart by the seeds in this run",
        },
    ),
    ("resnet56", "resnet20"): (
        "ResNet-20",
        {
            "lower": "as in the paper's Fig. 7 (deeper ResNet, smaller responses)",
            "higher": "the opposite of the paper's Fig. 7 trend, at this budget",
            "noise": "no depth trend beyond the noise in this run",
        },
    ),
}
for (a, b), (other, reading) in fig7_readings.items():
    if {a, b} <= ok:
        for when, values in (("at init", mean_std_init), ("trained", mean_std)):
            verdict = compare(values[a], values[b], "response std", a_name=a, b_name=b)
            print(f"{when}: {verdict}")
        print(f"Trained ResNet-56 against {other}: {verdict.say(**reading)}.")

# %% [markdown]
# How to read this. At initialisation, every BN layer has scale 1 and shift 0, so each
# response after BN has a standard deviation of about 1 *by construction*: that is BN,
# not learning. Any difference between trained nets that is already there at init is a
# property of the architecture. He et al.'s reading of Fig. 7, that residual functions are
# "generally closer to zero" and that deeper ResNets have smaller responses, is a claim
# about what *training* does to the BN scales: compare the trained verdicts with the
# init ones above.
#
# ## The branch against the identity
#
# In each residual block, how large is what the branch adds, next to what the shortcut
# carries? We measure ||F(x)|| / ||s(x)|| per image (s(x) the shortcut's output) and average.

# %%
branches = {
    n: [residual_branch_stats(m, images) for m in ms] for n, ms in trained.items() if "resnet" in n
}
branches_init = {n: [residual_branch_stats(m, images) for m in at_init[n]] for n in branches}
fig, ax = plt.subplots(figsize=(8, 3.8))
for name in branches:
    (line,) = ax.plot([s.ratio for s in branches[name][0]], marker="o", ms=3, label=f"{name}, trained")
    ax.plot(
        [s.ratio for s in branches_init[name][0]], "--", color=line.get_color(), label=f"{name}, at init"
    )
ax.set_xlabel("block (0 = first)")
ax.set_ylabel("||F(x)|| / ||s(x)||")
integer_ticks(ax)
ax.grid(alpha=0.3)
ax.legend(fontsize="small")
plt.show()
ratio_median = {n: [median(s.ratio for s in st) for st in sts] for n, sts in branches.items()}
ratio_median_init = {n: [median(s.ratio for s in st) for st in sts] for n, sts in branches_init.items()}
for name in branches:
    print(
        f"{name}: median ||F(x)||/||s(x)|| over its blocks {fmean(ratio_median[name]):.3f} "
        f"trained, {fmean(ratio_median_init[name]):.3f} at init (mean over {seeds} seeds)"
    )
    if name in ok:
        args = (ratio_median[name], ratio_median_init[name], "median ratio")
        print(f"  {compare(*args, a_name='trained', b_name='at init')}")

# %% [markdown]
# Read the "at init" numbers and the dashed lines first. Why could the ratio be small
# before any training? Along a stage, the shortcut's output x carries the sum of every
# earlier block's contribution, while each new F(x), normalised by its own BN, adds about
# as much as one block. So a small ratio in a deep net can be the architecture rather than
# learning; only the trained-vs-init verdicts above say what *training* changed, with the
# seeds' spread as the margin.
#
# Pick a block to see, channel by channel, how large F(x) is next to x. (Needs a live
# kernel.)

# %%
from resnet_utils import block_picker

if interactive and "resnet56" in branches:
    first_seed = groups["resnet56"].finished[0].spec["seed"]
    block_picker(branches["resnet56"][0], net=f"ResNet-56 (trained, seed {first_seed})")

# %% [markdown]
# ## Lesions: delete one block at a time
#
# Following Veit et al. (2016), we delete one block from the trained net and measure test
# accuracy, then put it back and delete the next. In ResNet-56 the deleted block's input
# still reaches the next block through the shortcut. In plain-56 the same deletion removes
# two layers from the only path there is.
#
# The first block of stages 2 and 3 halves the resolution and doubles the channels. In
# plain-56 it cannot go: nothing would be left to change the shape. In ResNet-56 (option A)
# deleting its branch leaves the shortcut, x subsampled and padded with zeros, and the net
# still runs: these are the **downsampling** deletions, marked as such below. Veit et al.
# deleted them too and found that "removing downsampling blocks does have a modest impact".
# The comparison with plain-56 uses the blocks both nets can lose; the stage question below
# uses every block of ResNet-56. Each trained seed is lesioned; the plot shows seed `seed`.

# %% [markdown]
# **Your prediction first.** In the trained ResNet-56, deleting a block of which stage will
# cost the most test accuracy: a block of `layer1` (16 channels, 32x32), `layer2` or `layer3`
# (64 channels, 8x8)? Write it below and run the cell; after the lesions it is printed beside
# the stage of the single most harmful deletion.

# %%
prediction = None  # "layer1", "layer2" or "layer3"
checks.predict(prediction, ["layer1", "layer2", "layer3"])

# %%
from resnet_utils import deletable_blocks, downsampling_blocks, lesion_study, plot_lesions

lesion_nets = [n for n in ("plain56", "resnet56") if n in trained]
deletable = deletable_blocks(trained[lesion_nets[0]][0])
downsampling = downsampling_blocks(trained["resnet56"][0]) if "resnet56" in trained else []
print("blocks both nets can lose:", ", ".join(deletable))
print(
    "downsampling blocks (ResNet-56 only: its zero-padded shortcut stays):",
    ", ".join(downsampling) or "none",
)
lesioned = {n: trained[n][:1] if smoke else trained[n] for n in lesion_nets}  # smoke: one seed
lesions = {
    n: [lesion_study(m, session.data, progress=progress, downsampling=True) for m in nets]
    for n, nets in lesioned.items()
}
baselines = {n: [evaluate(m, session.data)[1] for m in nets] for n, nets in lesioned.items()}
plot_lesions({n: lesions[n][0] for n in lesion_nets}, {n: baselines[n][0] for n in lesion_nets})
plt.show()

# %%
mean_drop, lost_share = {}, {}
for name in lesion_nets:
    drops = [[base - les[b] for b in deletable] for base, les in zip(baselines[name], lesions[name])]
    mean_drop[name] = [fmean(d) for d in drops]
    print(
        f"{name}: intact {fmean(baselines[name]):.1%}; one block deleted costs "
        f"{100 * fmean(mean_drop[name]):.1f} points on average (mean over {len(drops)} seed(s))"
    )
    if name in ok:
        # the share of the way from the intact net down to chance that one deletion takes
        lost_share[name] = [fmean(d) / (base - CHANCE) for d, base in zip(drops, baselines[name])]
        print(f"  that is {fmean(lost_share[name]):.0%} of the way from intact down to chance (10%)")
if {"plain56", "resnet56"} <= lost_share.keys():
    print(
        compare(
            lost_share["resnet56"],
            lost_share["plain56"],
            "share lost to chance",
            a_name="ResNet-56",
            b_name="plain-56",
        )
    )
    per_block = {b: fmean(les[b] for les in lesions["resnet56"]) for b in lesions["resnet56"][0]}
    worst = sorted(per_block, key=per_block.get)[:3]
    stages = sorted({b.split(".")[0] for b in worst})
    where = f"all in {stages[0]}" if len(stages) == 1 else f"in {', '.join(stages)}"
    print(
        "In ResNet-56 the deletions that hurt most (accuracy left, mean over seeds): "
        + ", ".join(
            f"{b}{' (downsampling)' if b in downsampling else ''}: {per_block[b]:.1%}" for b in worst
        )
        + f"; {where}."
    )
    if downsampling:
        identity = [per_block[b] for b in deletable]
        print(
            "Downsampling deletions, accuracy left: "
            + ", ".join(f"{b} {per_block[b]:.1%}" for b in downsampling)
            + f"; the other deletions leave {fmean(identity):.1%} on average (lowest "
            f"{min(identity):.1%})."
        )

# %%
lesion_verdict = None
if {"plain56", "resnet56"} <= lost_share.keys():
    lesion_verdict = compare(
        lost_share["resnet56"],
        lost_share["plain56"],
        "share lost to chance",
        a_name="ResNet-56",
        b_name="plain-56",
    )
harm = {}
if "resnet56" in ok and "resnet56" in lesions:  # every block ResNet-56 can lose, downsampling too
    harm = {b: fmean(les[b] for les in lesions["resnet56"]) for b in lesions["resnet56"][0]}
worst_stage = min(harm, key=harm.get).split(".")[0] if harm else None
worst_block = min(harm, key=harm.get) if harm else None
kind = " (a downsampling block)" if worst_block in downsampling else ""
evidence = (
    f"(the most harmful single deletion: {worst_block}{kind}, mean over seeds)"
    if harm
    else "(ResNet-56 has not trained enough for its lesions to say anything)"
)
checks.reveal(prediction, worst_stage, evidence)

# %% [markdown]
# **Read the lesion verdict.** Which statement does the verdict line "share lost to chance"
# above (ResNet-56 against plain-56) support? (a) one deletion costs ResNet-56 a smaller share
# of the way to chance than plain-56, beyond the seeds' spread; (b) it costs ResNet-56 a larger
# share; (c) the two shares are within noise of each other; (d) no verdict: a net has not
# trained enough to compare (the line is missing, or says "not compared"). Answer with a letter.

# %% tags=["solution"]
# BEGIN SOLUTION
word = lesion_verdict.word if lesion_verdict is not None else "not compared"
lesion_answer = {"lower": "a", "higher": "b", "within noise": "c"}.get(word, "d")
# END SOLUTION

# %%
checks.lesion_reading(lesion_answer, lesion_verdict)

# %% [markdown]
# ## The loss around the trained nets (Li et al. 2018)
#
# The best-known picture of why shortcuts help is Li et al.'s Fig. 1 ("Visualizing the
# Loss Landscape of Neural Nets", NeurIPS 2018): the training loss on a plane through a
# trained ResNet-56's weights, chaotic without the shortcuts, a smooth bowl with them. Here
# we compute it for our own plain-56 and ResNet-56 (seed `seed`). Each axis is a random
# direction, rescaled filter by filter to the size of the net's own filters (their sec. 4),
# so that a step of 1 changes every filter by about its own norm; the loss is measured in
# eval mode on `landscape_images` training images.
#
# **Predict first:** around which net will the loss rise faster as you step away from the
# trained weights, and which surface will be rougher?

# %%
from resnet_utils import (
    classification_loss,
    evaluations,
    landscape_study,
    plot_slices,
    plot_surfaces,
    turning_points,
)

landscape_nets = {n: trained[n][0] for n in ("plain56", "resnet56") if n in trained}
points = budget.landscape_points
x_land, y_land = session.data.sample(landscape_images, seed=seed, split="train")
loss_on_images = classification_loss(x_land, y_land)
if landscape_nets:
    start_time = time.perf_counter()
    loss_on_images(next(iter(landscape_nets.values())))
    cost = evaluations(len(landscape_nets), points)
    print(
        f"{len(landscape_nets)} nets x ({points}x{points} grid + 5 random slices + the line to "
        f"init) = {cost} evaluations of {landscape_images} images, about "
        f"{cost * (time.perf_counter() - start_time) / 60:.1f} min on this machine."
    )
inits = {n: at_init[n][0] for n in landscape_nets}  # the same seed's init (see the top)
study = landscape_study(
    landscape_nets, inits, loss_on_images, points=points, seed=seed, progress=progress
)
surfaces = study["surfaces"]
if surfaces:
    plot_surfaces(surfaces)
    plt.show()

# %% [markdown]
# Both nets share axes and colour scale: log10 of the loss, clipped at 20 (chance is
# ln 10 = 2.3), so that a few enormous values at the corners do not flatten the rest.
# One plane is one draw of two directions; the slices below repeat the measurement along
# five more directions per net, and give the comparison its margin. Dashed: the line from
# the trained weights (0) to the same net at initialisation (1), with the trained net's BN
# statistics (beyond 0 to the left, away from the init).

# %%
coords = study["coords"]
slices = {label: (coords, values) for label, values in study["slices"].items()}
shades = {  # plain-56 in reds, ResNet-56 in blues
    label: {"color": "tab:red" if label.startswith("plain") else "tab:blue", "alpha": 0.6}
    for label in slices
}
fig, ax = plt.subplots(figsize=(8, 4))
plot_slices(slices, styles=shades, ax=ax)
for name, values in study["to_init"].items():
    colour = "darkred" if name.startswith("plain") else "navy"
    ax.plot(coords, values, "--", color=colour, lw=2, label=f"{name}, towards its init")
ax.legend(fontsize="x-small")
ax.set_yscale("log")
plt.show()
rise = study["rise"]
for name, values in rise.items():
    print(
        f"{name}: one step away from the trained weights (each filter moved by its own norm), "
        f"the loss rises by {fmean(values):.3g} on average over {len(values)} random directions "
        f"(min {min(values):.3g}, max {max(values):.3g})"
    )

# %% [markdown]
# **How sharp is each minimum?** The loss one step away from the trained weights, in every
# random direction: the rises differ by orders of magnitude, so they are compared on a log scale.

# %%
if {"plain56", "resnet56"} <= rise.keys():
    # One value per direction. A log needs a positive number, and a rise can be 0 or negative
    # (the loss one step away lower than at the centre, on these images): such a direction
    # counts as a rise of 1e-9, "no rise at all", rather than being dropped.
    flat = {n: sum(v <= 1e-9 for v in rise[n]) for n in ("plain56", "resnet56")}
    if any(flat.values()):
        print(
            "directions with no rise (counted as 1e-9): "
            + ", ".join(f"{n} {k} of {len(rise[n])}" for n, k in flat.items())
        )
    rise_verdict = compare(
        [math.log10(max(v, 1e-9)) for v in rise["plain56"]],
        [math.log10(max(v, 1e-9)) for v in rise["resnet56"]],
        "log10 loss rise at distance 1",
        a_name="plain-56",
        b_name="ResNet-56",
        samples="directions",
    )
    print(rise_verdict)
    rise_verdict.tell(
        higher="So the loss rises faster around plain-56: its minimum is the sharper one.",
        lower="So the loss rises faster around ResNet-56: its minimum is the sharper one.",
        noise="Which net's loss rises faster is within the spread over directions.",
        not_compared=f"No answer on the rise: {rise_verdict.reason}.",
    )
    centre = coords.index(0.0)
    print(
        f"(At the centre: plain-56's loss {surfaces['plain56']['loss'][centre][centre]:.3f}, "
        f"ResNet-56's {surfaces['resnet56']['loss'][centre][centre]:.3f} on these images: the "
        "minima differ in height too, so look at the shapes as well as the rise.)"
    )

# %% [markdown]
# **How rough is each surface?** How often the loss changes direction along each slice: 1 for a
# clean bowl, more for a rugged surface.

# %%
if {"plain56", "resnet56"} <= rise.keys():
    turns = {
        n: [turning_points(v) for k, v in study["slices"].items() if k.startswith(n)]
        for n in ("plain56", "resnet56")
    }
    for n, values in turns.items():
        print(f"{n}: the loss changes direction {values} times along its {len(values)} slices")
    rough_verdict = compare(
        turns["plain56"],
        turns["resnet56"],
        "turns per slice",
        a_name="plain-56",
        b_name="ResNet-56",
        samples="directions",
    )
    if rough_verdict.word == "not compared":  # every slice of a net turns the same number of times
        plain_turns, res_turns = fmean(turns["plain56"]), fmean(turns["resnet56"])
        rougher = "plain-56" if plain_turns > res_turns else "ResNet-56"
        print(
            "Roughness has no spread over directions to give a margin: "
            + (
                "both surfaces turn equally often on this grid."
                if plain_turns == res_turns
                else f"{rougher}'s slices turn more often, on every direction alike."
            )
        )
    else:
        print(rough_verdict)
        rough_verdict.tell(
            higher="plain-56's surface is the rougher, beyond the spread over directions.",
            lower="ResNet-56's surface is the rougher, beyond the spread over directions.",
            noise="Neither surface is rougher beyond the spread over directions.",
        )

# %% [markdown]
# ## The same measurements on the reference nets
#
# Your nets trained briefly on a part of the data. The course ships plain-56, ResNet-20
# and ResNet-56 trained on all 50,000 training images for 10 epochs, several seeds each
# (`resnet_utils/reference_nets/`; the lines below say where, how and when). Here they go
# through the same measurements, on the same test images, beside your trained nets. A
# verdict needs repeated *trainings*: each reference seed gives one value (its mean
# response std over layers, its mean share lost over lesions), and the margins rest on the
# spread of those values over the seeds, not on the layers or blocks of one net.

# %%
from resnet_utils import available, describe_group, load_net, shipped_seeds

ref_names = [n for n in ("plain56", "resnet20", "resnet56") if n in available() and n in trained]
if session.profile.dataset != "cifar10":
    ref_names = []
    print(
        "Skipped under the smoke profile: the reference nets learned CIFAR-10; on synthetic "
        "images their measurements would mean nothing."
    )
reference = {n: [load_net(n, seed=s).to(session.device) for s in shipped_seeds(n)] for n in ref_names}
for n in ref_names:
    print(describe_group(n))
ref_responses = {n: [layer_responses(m, images) for m in nets] for n, nets in reference.items()}
ref_mean_std = {n: [fmean(r) for r in rs] for n, rs in ref_responses.items()}  # one per seed
ref_ratio_median = {
    n: [median(s.ratio for s in residual_branch_stats(m, images)) for m in nets]
    for n, nets in reference.items()
    if "resnet" in n
}
if ref_responses:
    ref_curves = {f"{n}, reference seed {shipped_seeds(n)[0]}": r[0] for n, r in ref_responses.items()}
    your_curves = {f"{n}, yours": responses[n][0] for n in ref_responses}
    fig = plot_responses(
        ref_curves | your_curves,
        styles={label: {"ls": ":"} for label in your_curves},
        legend_fontsize="small",
        title="std of 3x3 layer responses: reference nets (solid) and yours (dotted)",
    )
    plt.show()

# %%
ref_verdicts = {}
for n in ref_mean_std:
    yours = f"{fmean(mean_std[n]):.3f}" if n in mean_std else "-"
    ratio = f", median ||F||/||s|| {fmean(ref_ratio_median[n]):.3f}" if n in ref_ratio_median else ""
    print(
        f"{n} reference: mean response std {fmean(ref_mean_std[n]):.3f} over "
        f"{len(ref_mean_std[n])} seed(s) (yours {yours}){ratio}"
    )
fig7_claims = {
    ("resnet56", "plain56"): "residual responses smaller than plain ones",
    ("resnet56", "resnet20"): "the deeper ResNet's responses smaller",
}
for (a, b), claim in fig7_claims.items():
    if {a, b} <= ref_mean_std.keys():
        verdict = compare(
            ref_mean_std[a],
            ref_mean_std[b],
            "response std",
            a_name=f"{a} (reference)",
            b_name=f"{b} (reference)",
            check_learned=False,
        )
        ref_verdicts[f"responses {a} vs {b}"] = verdict
        print(verdict)
        verdict.tell(
            lower=f"  As in the paper's Fig. 7: {claim}.",
            higher=f"  The opposite of the paper's Fig. 7 ({claim}), at this budget.",
            noise=f"  Fig. 7's {claim} does not show beyond the seeds' spread here.",
            not_compared="  No verdict: " + verdict.reason,
        )

# %% [markdown]
# And the lesions: one block deleted at a time, on the same test images as yours, in every
# reference seed; the figure shows the first seed.

# %%
ref_lesions = {
    n: [lesion_study(m, session.data, progress=progress) for m in reference[n]]
    for n in ("plain56", "resnet56")
    if n in reference
}
ref_base = {n: [evaluate(m, session.data)[1] for m in reference[n]] for n in ref_lesions}
if ref_lesions:
    plot_lesions({n: les[0] for n, les in ref_lesions.items()}, {n: b[0] for n, b in ref_base.items()})
    plt.show()
ref_share = {  # one value per seed: the mean share of the way to chance one deletion takes
    n: [
        fmean((base - a) / (base - CHANCE) for a in les.values())
        for base, les in zip(ref_base[n], studies)
    ]
    for n, studies in ref_lesions.items()
}
if {"plain56", "resnet56"} <= ref_share.keys():
    for n, shares in ref_share.items():
        print(
            f"{n} reference: intact {fmean(ref_base[n]):.1%}; one deletion takes {fmean(shares):.0%} "
            f"of the way to chance on average ({len(shares)} seed(s))"
        )
    ref_verdicts["lesions"] = compare(
        ref_share["resnet56"],
        ref_share["plain56"],
        "share lost to chance",
        a_name="ResNet-56 (reference)",
        b_name="plain-56 (reference)",
        check_learned=False,
    )
    print(ref_verdicts["lesions"])

# %% [markdown]
# ## Summary

# %%
summary = {
    "seeds": list(init_seeds),
    "mean_response_std": mean_std,
    "mean_response_std_at_init": mean_std_init,
    "branch_ratio_median": ratio_median,
    "branch_ratio_median_at_init": ratio_median_init,
    "intact_test_acc": baselines,
    "lesion_mean_drop": mean_drop,
    "lesion_share_lost_to_chance": lost_share,
    "landscape_rise_at_distance_1": rise,
    "reference_mean_response_std": ref_mean_std,
    "reference_lesion_share_lost_to_chance": ref_share,
    "reference_verdicts": {k: str(v) for k, v in ref_verdicts.items()},
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
import torch  # noqa: F811 (again here: the exercises' cells run on their own in the tests)

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
    with torch.no_grad():
        branch, shortcut = block.residual(x), block.shortcut(x)
        return (branch.flatten(1).norm(dim=1) / shortcut.flatten(1).norm(dim=1)).mean().item()
    # END SOLUTION


# %%
checks.branch_to_shortcut_ratio(branch_to_shortcut_ratio)

# %% [markdown]
# ### Your turn 2: which blocks can a lesion remove?
#
# In plain-56 the lesion study above could not delete every block. Write `deletable(model)`:
# the names of the blocks (`"layer1.0"`, ...) whose output has the shape of their input, so
# that even a plain net still runs without them. A block's first conv tells its
# stride (`block.conv1.stride`) and its channels. (ResNet-56 could also lose the first block
# of stages 2 and 3, as the downsampling deletions above did, because its option-A shortcut
# changes the shape by itself; `deletable` asks what a plain net survives too.)


# %% tags=["solution"]
def deletable(model):
    # BEGIN SOLUTION
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
