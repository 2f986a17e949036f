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
# (their Fig. 7). Veit et al. (2016) report what follows from it: delete one block from a
# trained ResNet at test time and its accuracy barely changes, apart from a modest cost for
# the blocks that downsample; delete a layer from a plain net and it breaks.
#
# This notebook measures both on trained nets (loaded from the run cache when notebook 2
# trained them with the same profile and seed), each beside the same nets at initialisation,
# and says where its measurements and the papers part.

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
fig = plot_responses(
    {f"{n}, trained": r[0] for n, r in responses.items()}
    | {f"{n}, at init": r[0] for n, r in responses_init.items()},
    title="std of 3x3 layer responses (after BN, before addition/ReLU)",
)
plt.show()

# %%
mean_std = {n: [fmean(r) for r in rs] for n, rs in responses.items()}
mean_std_init = {n: [fmean(r) for r in rs] for n, rs in responses_init.items()}
# the same nets at init, measured on the 1,000 training images their BN statistics came from
init_on_calibration = {
    n: [fmean(layer_responses(m, calibration)) for m in ms] for n, ms in at_init.items()
}
for name in mean_std:
    print(
        f"{name}: mean response std {fmean(mean_std[name]):.3f} trained, "
        f"{fmean(mean_std_init[name]):.3f} at init (mean over {len(mean_std[name])} seed(s))"
    )
    print(
        "  at init, seed by seed: "
        + ", ".join(f"{v:.3f}" for v in mean_std_init[name])
        + " on the test images; "
        + ", ".join(f"{v:.3f}" for v in init_on_calibration[name])
        + " on the calibration images"
    )
print()
for name in sorted(ok & mean_std.keys()):
    verdict = compare(
        mean_std[name], mean_std_init[name], "response std", a_name="trained", b_name="at init"
    )
    print(f"training changed {name}'s: {verdict}")

# %% [markdown]
# How to read this. At initialisation every BN layer has scale 1 and shift 0. In training
# mode, where BN normalises each batch by that batch's own statistics, every response would
# have a standard deviation of 1 by construction. We measure in eval mode, as for the trained
# nets, and BN divides by the statistics it took from the 1,000 calibration images: on those
# images the values at init are close to 1 (the lines above); on the test images they can be
# larger. That excess is a mismatch between the images the statistics came from and the
# images measured, not learning. Where a net's values at init differ from seed to seed, that
# mismatch is why, and it widens the margin of the net's trained-vs-init verdict.
#
# Any difference between trained nets that is already there at init is a property of the
# architecture. He et al.'s reading of Fig. 7, that residual functions are "generally closer
# to zero" and that deeper ResNets have smaller responses, is a claim about what *training*
# does: compare the trained verdicts with the init ones.

# %%
for a, b in (("resnet56", "plain56"), ("resnet56", "resnet20")):
    if {a, b} <= ok:
        for when, values in (("at init", mean_std_init), ("trained", mean_std)):
            verdict = compare(values[a], values[b], "response std", a_name=a, b_name=b)
            print(f"{when}: {verdict}")
        verdict.tell(
            lower=f"Trained, {a}'s responses are smaller than {b}'s, as in the paper's Fig. 7.",
            higher=f"Trained, {a}'s responses are larger than {b}'s: the opposite of Fig. 7 here.",
            noise=f"Trained, {a} and {b} are not told apart by the seeds in this run.",
        )

# %% [markdown]
# ## The branch against the identity
#
# In each residual block, how large is what the branch adds, next to what the shortcut
# carries? We measure ||F(x)|| / ||s(x)|| per image (s(x) the shortcut's output) and average.

# %%
from resnet_utils import legend_beside, line_style

branches = {
    n: [residual_branch_stats(m, images) for m in ms] for n, ms in trained.items() if "resnet" in n
}
branches_init = {n: [residual_branch_stats(m, images) for m in at_init[n]] for n in branches}
fig, ax = plt.subplots(figsize=(8, 3.8))
for name in branches:
    for when, stats in (("trained", branches[name][0]), ("at init", branches_init[name][0])):
        style = line_style(name, at_init=when == "at init")
        ax.plot([s.ratio for s in stats], marker="o", ms=3, label=f"{name}, {when}", **style)
ax.set_xlabel("block (0 = first)")
ax.set_ylabel("||F(x)|| / ||s(x)||")
integer_ticks(ax)
ax.grid(alpha=0.3)
legend_beside(ax)
fig.tight_layout()
plt.show()


# %%
def ratio_per_block(stats_per_seed):
    """Each block's ||F(x)|| / ||s(x)||, mean over the seeds."""
    return {s.name: fmean(st[i].ratio for st in stats_per_seed) for i, s in enumerate(stats_per_seed[0])}


ratio_median = {n: [median(s.ratio for s in st) for st in sts] for n, sts in branches.items()}
ratio_median_init = {n: [median(s.ratio for s in st) for st in sts] for n, sts in branches_init.items()}
training_did = {  # what training did to a net's branches, as its trained-vs-init verdict says
    "higher": "training enlarged {}'s branches next to the identity: the opposite of the hypothesis.",
    "lower": "training shrank {}'s branches next to the identity, as the hypothesis expects.",
    "noise": "training left {}'s branches where initialisation put them, within the seeds' spread.",
}
for name in branches:
    print(
        f"{name}: median ||F(x)||/||s(x)|| over its blocks {fmean(ratio_median[name]):.3f} "
        f"trained, {fmean(ratio_median_init[name]):.3f} at init (mean over {seeds} seeds)"
    )
    if name in ok:
        args = (ratio_median[name], ratio_median_init[name], "median ratio")
        verdict = compare(*args, a_name="trained", b_name="at init")
        print(f"  {verdict}")
        verdict.tell(**{word: "  " + sentence.format(name) for word, sentence in training_did.items()})

# %% [markdown]
# Read the "at init" numbers and the dashed lines first. Why could the ratio be small
# before any training? Along a stage, the shortcut's output x carries the sum of every
# earlier block's contribution, while each new F(x), normalised by its own BN, adds about
# as much as one block. So a small ratio in a deep net can be the architecture rather than
# learning; only the trained-vs-init verdicts say what *training* changed, with the seeds'
# spread as the margin, and the sentence under each says which way. The first block is the
# exception: its shortcut carries the stem's output alone, one layer's worth, so already at
# init its branch is about as large as what it is added to, or larger (block 0 above).
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
# deleted them too (their sec. 4.1): "removing downsampling blocks does have a modest impact
# … but no other block removal lead to a noticeable change". The comparison with plain-56
# uses the blocks both nets can lose; the stage question below uses every block of ResNet-56.
# Each trained seed is lesioned; the figure shows one seed, the lines under it the mean
# over the seeds.

# %% [markdown]
# **Your prediction first.** In the trained ResNet-56, deleting a block of which stage will
# cost the most test accuracy: a block of `layer1` (16 channels, 32x32), `layer2` or `layer3`
# (64 channels, 8x8)? Write it below and run the cell; after the lesions it is printed beside
# the stage of the single most harmful deletion.

# %%
prediction = None  # "layer1", "layer2" or "layer3"
checks.predict(prediction, ["layer1", "layer2", "layer3"])

# %%
from resnet_utils import (
    deletable_blocks,
    downsampling_blocks,
    lesion_study,
    lesion_summary,
    plot_lesions,
)

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
shown = {n: f"{n}, seed {groups[n].finished[0].spec['seed']}" for n in lesion_nets}
plot_lesions(
    {shown[n]: lesions[n][0] for n in lesion_nets}, {shown[n]: baselines[n][0] for n in lesion_nets}
)
plt.show()


# %%
def report_lesions(summaries, comparable, suffix=""):
    """What one deletion costs each net; the verdict, ResNet-56 against plain-56, when both
    nets are ``comparable`` (trained enough), else None."""
    test_images = len(session.data.test_y)
    for name, s in summaries.items():
        print(
            f"{name}{suffix}: intact {fmean(s.intact):.1%} on {test_images:,} test images; one block "
            f"deleted costs {100 * fmean(s.drop):.1f} points on average ({len(s.drop)} seed(s))"
        )
        if name in comparable:
            print(f"  that is {fmean(s.share):.0%} of the way from intact down to chance ({CHANCE:.0%})")
    if not {"plain56", "resnet56"} <= comparable & summaries.keys():
        return None
    shares = (summaries["resnet56"].share, summaries["plain56"].share, "share lost to chance")
    verdict = compare(*shares, a_name=f"ResNet-56{suffix}", b_name=f"plain-56{suffix}")
    print(verdict)
    return verdict


summaries = {n: lesion_summary(lesions[n], baselines[n], shared=deletable) for n in lesion_nets}
lesion_verdict = report_lesions(summaries, ok)

# %% [markdown]
# **Which blocks matter?** Veit et al.'s sentence above says: the downsampling blocks a little,
# no other noticeably. The lines below give ResNet-56's most harmful deletions, each with its
# branch's ||F(x)|| / ||s(x)|| from the branch section (mean over seeds), and the downsampling
# deletions against the rest (each seed's mean over its two downsampling deletions against its
# mean over the others).


# %%
def most_harmful(name, summary, ratio, downsampling):
    """A residual net's most harmful deletions with their blocks' ||F||/||s|| (``ratio``), and
    what the worst says of Veit et al.'s sentence."""
    worst = summary.worst(3)
    listed = ", ".join(f"{b} {summary.left[b]:.1%} (||F||/||s|| {ratio[b]:.2f})" for b in worst)
    print(f"{name}'s most harmful deletions, accuracy left (mean over seeds): {listed}")
    if worst[0] in downsampling:
        print("  As Veit et al. report, a downsampling deletion is the most harmful.")
        return
    rank = sorted(ratio, key=ratio.get, reverse=True).index(worst[0]) + 1
    print(
        f"  Against Veit et al.: the most harmful deletion is {worst[0]}, not a downsampling block. "
        f"Its branch ranks {rank} of {len(ratio)} by ||F||/||s|| (the median block's "
        f"{median(ratio.values()):.2f})"
        + (
            ": the largest next to its shortcut, a likely reason its deletion costs most."
            if rank == 1
            else "."
        )
    )


if "resnet56" in ok & summaries.keys():  # a net that has not learned is not read
    ratio = ratio_per_block(branches["resnet56"])
    most_harmful("ResNet-56", summaries["resnet56"], ratio, downsampling)


# %%
def downsampling_against_others(studies, downsampling):
    """Each seed's mean accuracy left by its downsampling deletions against its mean over the
    other deletions: Veit et al.'s 'modest impact', as a verdict over the seeds."""
    down = [fmean(study[b] for b in downsampling) for study in studies]
    others = [fmean(v for b, v in study.items() if b not in downsampling) for study in studies]
    v = compare(down, others, "test_acc", a_name="a downsampling deletion", b_name="another deletion")
    print(f"  accuracy left, {v}")
    v.tell(
        lower="  As Veit et al. report, the downsampling deletions cost more than the others.",
        higher="  Against Veit et al.: the downsampling deletions cost less than the others.",
        noise="  Veit et al.'s 'modest impact' of the downsampling deletions is not told apart here.",
    )


if "resnet56" in ok & summaries.keys():
    downsampling_against_others(lesions["resnet56"], downsampling)

# %%
harm = summaries["resnet56"].left if "resnet56" in ok and "resnet56" in summaries else {}
worst_block = min(harm, key=harm.get) if harm else None
worst_stage = worst_block.split(".")[0] if harm else None
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
from resnet_utils import classification_loss, evaluations, landscape_study, plot_surfaces, turning_points

landscape_nets = {n: trained[n][0] for n in ("plain56", "resnet56") if n in trained}
points = budget.landscape_points
x_land, y_land = session.data.sample(landscape_images, seed=seed, split="train")
loss_on_images = classification_loss(x_land, y_land)
if landscape_nets:
    start_time = time.perf_counter()
    loss_on_images(next(iter(landscape_nets.values())))
    cost = evaluations(len(landscape_nets), points)
    print(
        f"{len(landscape_nets)} nets x ({points}x{points} grid over [-1, 1], a step of "
        f"{2 / (points - 1):g}, + 5 random slices + the line to init) = {cost} evaluations of "
        f"{landscape_images} images: about {cost * (time.perf_counter() - start_time) / 60:.1f} min"
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
coords, rise = study["coords"], study["rise"]
fig, ax = plt.subplots(figsize=(8, 4))
for label, values in study["slices"].items():
    name = label.split(",")[0]
    directions = f"{name}, {len(rise[name])} random directions"
    ax.plot(coords, values, marker=".", alpha=0.6, label=directions, **line_style(name))
for name, values in study["to_init"].items():
    ax.plot(coords, values, lw=2, label=f"{name}, towards its init", **line_style(name, at_init=True))
ax.set(xlabel="step along the direction (0 = trained weights)", ylabel="loss", yscale="log")
ax.grid(alpha=0.3)
legend_beside(ax)
fig.tight_layout()
plt.show()
centre = coords.index(0.0)
for name, values in rise.items():
    print(
        f"{name}: loss {surfaces[name]['loss'][centre][centre]:.3f} at the trained weights; one step "
        f"away (each filter moved by its own norm) it rises by {fmean(values):.3g} on average over "
        f"{len(values)} random directions (min {min(values):.3g}, max {max(values):.3g})"
    )

# %% [markdown]
# **What are the enormous losses on the dashed lines?** At the left end of a dashed line every
# weight has moved away from its initial value by as much as training moved it. BN, in eval
# mode, still subtracts and divides by the trained net's statistics, so nothing renormalises a
# layer whose output changed its scale: each layer hands its change on to the next, and the
# changes multiply along the depth. The lines below measure it, as the std of the 3x3 layers'
# responses from the first to the last quarter of each net; a cross-entropy with logits that
# large is about as large as the logits.

# %%
from resnet_utils import towards


def by_quarter(stds):
    """The mean of each quarter of the layers, first to last."""
    quarters = [stds[i * len(stds) // 4 : (i + 1) * len(stds) // 4] for i in range(4)]
    return ", ".join(f"{fmean(q):.3g}" for q in quarters)


for name, net in landscape_nets.items():
    with towards(net, inits[name], coords[0]):
        far = layer_responses(net, x_land)
    near = layer_responses(net, x_land)
    print(
        f"{name} at {coords[0]:g} on the line to its init: loss {study['to_init'][name][0]:.3g}; "
        f"response std by quarter {by_quarter(far)} (trained: {by_quarter(near)})"
    )

# %% [markdown]
# **How sharp is each minimum?** The loss one step away from the trained weights, in every
# random direction, above the net's own loss at its weights (the two minima are not at the same
# height): the rises differ by orders of magnitude, so they are compared on a log scale.

# %%
if {"plain56", "resnet56"} <= ok & rise.keys():  # nets that have not learned are not ranked
    # a rise of 0 or less (lower one step away than at the centre) counts as 1e-9, not dropped
    flat = {n: sum(v <= 1e-9 for v in rise[n]) for n in ("plain56", "resnet56")}
    if any(flat.values()):
        print(
            "directions with no rise (counted as 1e-9): "
            + ", ".join(f"{n} {k} of {len(rise[n])}" for n, k in flat.items())
        )
    rises = {n: [max(v, 1e-9) for v in rise[n]] for n in flat}
    rise_verdict = compare(
        rises["plain56"], rises["resnet56"], "loss rise at distance 1",
        a_name="plain-56", b_name="ResNet-56", samples="directions", log=True,
    )  # fmt: skip
    print(rise_verdict)
    rise_verdict.tell(
        higher="So the loss rises faster around plain-56: its minimum is the sharper one.",
        lower="So the loss rises faster around ResNet-56: its minimum is the sharper one.",
        noise="Which net's loss rises faster is within the spread over directions.",
        not_compared=f"No answer on the rise: {rise_verdict.reason}.",
    )

# %% [markdown]
# **How rough is each surface?** How often the loss changes direction along each slice: 1 for a
# clean bowl, more for a rugged surface.

# %%
if {"plain56", "resnet56"} <= ok & rise.keys():
    turns = {
        n: [turning_points(v) for k, v in study["slices"].items() if k.startswith(n)]
        for n in ("plain56", "resnet56")
    }
    for n, values in turns.items():
        print(f"{n}: the loss changes direction {values} times along its {len(values)} slices")
    rough_verdict = compare(
        turns["plain56"], turns["resnet56"], "turns per slice",
        a_name="plain-56", b_name="ResNet-56", samples="directions",
    )  # fmt: skip
    print(rough_verdict)
    rough_verdict.tell(
        higher="plain-56's surface is the rougher, beyond the spread over directions.",
        lower="ResNet-56's surface is the rougher, beyond the spread over directions.",
        noise="Neither surface is rougher beyond the spread over directions.",
        not_compared="Every slice of a net turns as often as its others: no spread to give a margin.",
    )

# %%
if {"plain56", "resnet56"} <= ok & rise.keys():
    li_shown = [v.word == "higher" for v in (rise_verdict, rough_verdict)]
    reading = (
        "on both counts" if all(li_shown) else "on one count" if any(li_shown) else "on neither count"
    )
    print(f"Li et al.'s Fig. 1 (without shortcuts, sharper and rougher): reproduced here {reading}.")

# %% [markdown]
# Why the pictures here can differ from Li et al.'s: the grid is coarse (the step printed above
# the surfaces), where Li et al. draw their planes on a much finer grid, so what lies between
# two grid points does not show; and the two nets are probed along the *same* directions.
# They have the same parameter names and shapes, so each seed draws the same random numbers
# for both, rescaled filter by filter to each net's own weights: the turning points of the two
# nets, slice by slice, are alike partly by construction.

# %% [markdown]
# ## The same measurements on the reference nets
#
# Your nets trained briefly on a part of the data. The course ships plain-56, ResNet-20 and
# ResNet-56 trained on all the training images for longer, several seeds each
# (`resnet_utils/reference_nets/`; the lines below say how). Here they go through the same
# measurements, on the same test images, beside the same nets at initialisation. A verdict
# needs repeated *trainings*: each reference seed gives one value (its mean response std over
# layers, its mean share lost over lesions), and the margins rest on the spread of those
# values over the seeds, not on the layers or blocks of one net.

# %%
from resnet_utils import available, load_net, load_record, reference_group, shipped_seeds

ref_names = [n for n in ("plain56", "resnet20", "resnet56") if n in available() and n in trained]
if session.profile.dataset != "cifar10":
    ref_names = []
    print(
        "Skipped under the smoke profile: the reference nets learned CIFAR-10; on synthetic "
        "images their measurements would mean nothing."
    )
reference = {n: [load_net(n, seed=s).to(session.device) for s in shipped_seeds(n)] for n in ref_names}
records = {n: load_record(n, seed=shipped_seeds(n)[0]) for n in ref_names}
for n, record in records.items():
    print(
        f"{n} (reference): seeds {shipped_seeds(n)}, {record['train_size']:,} training images, "
        f"{record['epochs']} epochs, weight decay {record['recipe']['weight_decay']:g}; test accuracy "
        f"{reference_group(n).summary('test_acc')} on {record['test_size']:,} test images"
    )
if records:
    print("Where, when and how long each trained: describe_group(name), or docs/reference-nets.md.")
ref_responses = {n: [layer_responses(m, images) for m in nets] for n, nets in reference.items()}
ref_mean_std = {n: [fmean(r) for r in rs] for n, rs in ref_responses.items()}  # one per seed

# %%
if ref_responses:
    plot_responses(
        {f"{n} (reference), seed {shipped_seeds(n)[0]}": r[0] for n, r in ref_responses.items()}
        | {f"{n}, at init, seed {seed}": responses_init[n][0] for n in ref_responses},
        title="std of 3x3 layer responses: reference nets (solid), the same nets at init (dashed)",
    )
    plt.show()
fall = {}  # what training did to each net's responses, reference against init
for n in ref_mean_std:
    yours = f", yours {fmean(mean_std[n]):.3f}" if n in mean_std else ""
    print(
        f"{n}: mean response std at init {fmean(mean_std_init[n]):.3f}{yours}, "
        f"reference {fmean(ref_mean_std[n]):.3f} ({len(ref_mean_std[n])} seeds)"
    )
    fall[n] = compare(
        ref_mean_std[n], mean_std_init[n], "response std",
        a_name=f"{n} (reference)", b_name="at init", check_learned=False,
    )  # fmt: skip
    print(f"  {fall[n]}")
if records:
    decay = records[ref_names[0]]["recipe"]["weight_decay"]
    print(f"The reference recipe's weight decay is {decay:g}, {decay / 1e-4:g} times He et al.'s 1e-4.")

# %%
ref_verdicts = {}
for a, b in (("resnet56", "plain56"), ("resnet56", "resnet20")):
    if {a, b} <= ref_mean_std.keys():
        verdict = compare(
            ref_mean_std[a], ref_mean_std[b], "response std",
            a_name=f"{a} (reference)", b_name=f"{b} (reference)", check_learned=False,
        )  # fmt: skip
        ref_verdicts[f"responses {a} vs {b}"] = verdict
        print(verdict)
        size = f"by {abs(verdict.difference) / verdict.b_mean:.0%}" if verdict.decided else ""
        after = f"after {records[a]['epochs']} epochs"
        shared = (
            ", on top of the fall from init both share"
            if fall[a].word == fall[b].word == "lower"
            else ""
        )
        verdict.tell(
            lower=f"  As in the paper's Fig. 7: {a}'s responses are smaller, {size} {after}{shared}.",
            higher=f"  The opposite of the paper's Fig. 7: {a}'s responses are larger, {size} {after}.",
            noise=f"  The paper's Fig. 7 ordering of {a} and {b} is within the seeds' spread here.",
            not_compared="  No verdict: " + verdict.reason,
        )

# %% [markdown]
# **How much does the Fig. 7 verdict say about residual learning?** Three things stand between
# it and He et al.'s reading:
# - *its size*: the lines above put the gap between two trained nets beside the fall from
#   initialisation that both nets share;
# - *the weight decay*: the reference recipe's (printed above) is larger than He et al.'s
#   (sec. 4.2), and the optimiser applies it to every parameter, BN's scales included, so it
#   pulls every response's std down, whatever the layer computes;
# - *BN removes scale*: in a plain net each BN's output goes through a ReLU and a conv into the
#   next BN, which divides the scale out again. How large a plain net's responses are changes
#   nothing it computes, so the optimiser sets it (weight decay pulling the BN scales down
#   against the gradient noise), not the task. The same holds for the first BN of every
#   residual block; only a ResNet's second BN, whose output F(x) is added to x, sets a size
#   that matters: how much the branch changes its input.
#
# The branch against the identity on the reference nets, beside the same nets at init:

# %%
ref_branches = {
    n: [residual_branch_stats(m, images) for m in nets] for n, nets in reference.items() if "resnet" in n
}
ref_ratio_median = {n: [median(s.ratio for s in st) for st in sts] for n, sts in ref_branches.items()}
for n, ratios in ref_ratio_median.items():
    verdict = compare(
        ratios, ratio_median_init[n], "median ratio",
        a_name=f"{n} (reference)", b_name="at init", check_learned=False,
    )  # fmt: skip
    print(verdict)
    verdict.tell(
        **{word: "  " + sentence.format(f"{n} (reference)") for word, sentence in training_did.items()}
    )

# %% [markdown]
# And the lesions: one block deleted at a time, downsampling blocks included, on the same test
# images as yours, in every reference seed; the figure shows the first seed.

# %%
ref_lesions = {
    n: [lesion_study(m, session.data, progress=progress, downsampling=True) for m in reference[n]]
    for n in ("plain56", "resnet56")
    if n in reference
}
ref_intact = {n: [evaluate(m, session.data)[1] for m in reference[n]] for n in ref_lesions}
if ref_lesions:
    shown = {n: f"{n} (reference), seed {shipped_seeds(n)[0]}" for n in ref_lesions}
    plot_lesions(
        {shown[n]: les[0] for n, les in ref_lesions.items()}, {shown[n]: ref_intact[n][0] for n in shown}
    )
    plt.show()
ref_summaries = {n: lesion_summary(ref_lesions[n], ref_intact[n], shared=deletable) for n in ref_lesions}
ref_verdicts["lesions"] = report_lesions(ref_summaries, set(ref_summaries), suffix=" (reference)")
if "resnet56" in ref_summaries:
    ratio = ratio_per_block(ref_branches["resnet56"])
    most_harmful("ResNet-56 (reference)", ref_summaries["resnet56"], ratio, downsampling)
    downsampling_against_others(ref_lesions["resnet56"], downsampling)

# %% [markdown]
# ## Summary

# %%
summary = {
    "seeds": list(init_seeds),
    "mean_response_std": mean_std,
    "mean_response_std_at_init": mean_std_init,
    "mean_response_std_at_init_on_calibration_images": init_on_calibration,
    "branch_ratio_median": ratio_median,
    "branch_ratio_median_at_init": ratio_median_init,
    "intact_test_acc": baselines,
    "lesion_mean_drop": {n: s.drop for n, s in summaries.items()},
    "lesion_share_lost_to_chance": {n: s.share for n, s in summaries.items() if n in ok},
    "landscape_rise_at_distance_1": rise,
    "reference_mean_response_std": ref_mean_std,
    "reference_branch_ratio_median": ref_ratio_median,
    "reference_lesion_share_lost_to_chance": {n: s.share for n, s in ref_summaries.items()},
    "reference_verdicts": {k: str(v) for k, v in ref_verdicts.items() if v is not None},
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
