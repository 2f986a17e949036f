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
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/OWNER/REPO/blob/v0.2.0/notebooks/05_skip_variants.ipynb)
#
# # 5. Which skip connection? (He et al. 2016)
#
# A year after ResNets, He et al. asked what exactly about the shortcut matters. In
# *Identity Mappings in Deep Residual Networks* (2016) they tried to improve it: scale it,
# gate it, replace it by a 1x1 conv, drop it out (their Table 1), and to move BN and ReLU
# around the addition (Table 2). Every change to the clean identity path made things worse,
# several made ResNet-110 fail to train, and one change, moving BN and ReLU *before* the
# convs ("pre-activation"), made things better.
#
# Here every variant is one option of the same block (`resnet_utils/models/cifar.py`), and
# all are trained with the same depth, recipe, data and seed. Runs that diverge are kept
# and reported as diverged, as the paper's "fail" rows are.

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
depth = None  # None: 20 under smoke and quick, 110 under full (the paper's depth)
seed = 0
data_dir = None  # a local CIFAR-10 copy; None: $CIFAR10_DIR, else torchvision's download
epochs = None  # None: this notebook's budget for the profile (below)
interactive = True  # show the variant picker
progress = True  # progress bars while training
summary_dir = None  # where to write a JSON summary; None: $RESNET_SUMMARY_DIR, or nowhere
storage_dir = None  # data and finished runs; None: $RESNET_CACHE_DIR or ~/.cache/resnet-course;
# in Colab, "/content/drive/MyDrive/resnet-course" keeps them on Drive across runtimes

# %%
from dataclasses import replace

import matplotlib.pyplot as plt

from resnet_utils import build_model, count_parameters, start
from resnet_utils.models import blocks_per_stage
from resnet_utils.plots import plot_curves
from resnet_utils.widgets import compare_runs

session = start(
    "05_skip_variants",
    profile=profile,
    data_dir=data_dir,
    epochs=epochs,
    seed=seed,
    progress=progress,
    summary_dir=summary_dir,
    storage_dir=storage_dir,
)
# Fourteen trainings: under the quick profile each gets half the profile's images, so that
# the notebook fits in about a quarter of an hour on a laptop CPU. Under full, ResNet-110
# with the profile's recipe, 14 times: hours on one GPU (not yet measured).
BUDGETS = {"smoke": (20, None), "quick": (20, 5_000), "full": (110, None)}
default_depth, images = BUDGETS[session.profile.name]
depth = depth or default_depth
blocks_per_stage(depth)  # a depth that is not 6n+2 stops here
data = session.data if images is None else session.data.subset(images, None, seed=seed)
recipe = session.recipe if epochs is None else replace(session.recipe, epochs=epochs)
print(f"ResNet-{depth}, {data.describe()}, {recipe.epochs} epochs per variant")

# %% [markdown]
# ## The variants
#
# Published CIFAR-10 test errors are He et al. (2016), Table 1 (shortcut variants) and
# Table 2 (orderings), for ResNet-110 (and ResNet-164, bottleneck, where Table 2 gives it),
# trained with the full recipe on all 50,000 images. "fail" is the paper's word for a run
# that did not train.

# %%
VARIANTS = {
    # name: (family, options, published ResNet-110 error, published ResNet-164 error)
    "original": ("shortcut", {}, "6.61", "5.93"),
    "constant scaling 0.5, both paths": (
        "shortcut",
        {"scale_shortcut": 0.5, "scale_branch": 0.5},
        "12.35",
        None,
    ),
    "exclusive gating, b_g = -6": ("shortcut", {"gate": "exclusive", "gate_bias": -6.0}, "8.70", None),
    "exclusive gating, b_g = 0": ("shortcut", {"gate": "exclusive", "gate_bias": 0.0}, "fail", None),
    "shortcut-only gating, b_g = 0": ("shortcut", {"gate": "shortcut", "gate_bias": 0.0}, "12.86", None),
    "shortcut-only gating, b_g = -6": (
        "shortcut",
        {"gate": "shortcut", "gate_bias": -6.0},
        "6.91",
        None,
    ),
    "1x1 conv shortcut": ("shortcut", {"shortcut": "conv"}, "12.22", None),
    "dropout shortcut, 0.5": ("shortcut", {"shortcut_dropout": 0.5}, "fail", None),
    "BN after addition": ("ordering", {"ordering": "bn_after_add"}, "8.17", "6.50"),
    "ReLU before addition": ("ordering", {"ordering": "relu_before_add"}, "7.84", "6.14"),
    "ReLU-only pre-activation": ("ordering", {"ordering": "relu_preact"}, "6.71", "5.91"),
    "full pre-activation": ("ordering", {"ordering": "preact"}, "6.37", "5.46"),
    "zero-initialised last BN (not in the paper)": ("ordering", {"zero_init": True}, None, None),
}

# %%
# NBVAL_CHECK_OUTPUT
print(f"{'variant':<45} {'options':<48} {'parameters':>10}")
for name, (_, options, _, _) in VARIANTS.items():
    text = ", ".join(f"{k}={v}" for k, v in options.items()) or "-"
    print(f"{name:<45} {text:<48} {count_parameters(build_model('resnet20', **options)):>10,}")

# %% [markdown]
# ## Training every variant
#
# Same depth, recipe, data and seed. A run whose loss stops being a finite number is
# stopped and recorded as diverged.

# %%
runs = {}
for name, (_, options, _, _) in VARIANTS.items():
    run = session.train(f"resnet{depth}", data=data, recipe=recipe, **options)
    run.title = name
    runs[name] = run
    outcome = (
        f"diverged in epoch {run.history['diverged_epoch']}"
        if run.diverged
        else f"test error {100 * (1 - run.final('test_acc')):.1f}%"
    )
    print(f"{name}: {outcome} ({'cache' if run.from_cache else 'trained'})")

# %%
print(
    f"{'variant':<45} {'ours: test error':>17} {'train loss':>11} {'ResNet-110':>11} {'ResNet-164':>11}"
)
print(f"{'':<45} {f'(ResNet-{depth})':>17} {'':>11} {'(published)':>11} {'(published)':>11}")
for name, run in runs.items():
    _, _, p110, p164 = VARIANTS[name]
    if run.diverged:
        ours, loss = "diverged", "-"
    else:
        ours, loss = f"{100 * (1 - run.final('test_acc')):.1f}%", f"{run.final('train_loss'):.3f}"
    p110 = "-" if p110 is None else p110 if p110 == "fail" else f"{p110}%"
    p164 = "-" if p164 is None else f"{p164}%"
    print(f"{name:<45} {ours:>17} {loss:>11} {p110:>11} {p164:>11}")

# %% [markdown]
# ## Curves, by family

# %%
for family, title in (
    ("shortcut", "shortcut variants (Table 1)"),
    ("ordering", "orderings (Table 2), and a zero-initialised last BN"),
):
    members = [runs["original"]] + [
        runs[n] for n, (f, *_) in VARIANTS.items() if f == family and n != "original"
    ]
    plot_curves(members, metrics=("train_loss", "test_acc"), title=title)
    plt.show()

# %% [markdown]
# ## What this run shows
#
# Printed from the numbers above. Where it disagrees with the paper, remember what differs:
# the paper trains ResNet-110 for 164 epochs on all 50,000 images; this run's depth and
# budget are in the set-up output. Several of the paper's failures are failures *of depth*
# (signals scaled or gated 54 times over), which a shallower net may not show.

# %%
base = runs["original"]
base_err = 1 - base.final("test_acc")
worse, better, failed = [], [], []
for name, run in runs.items():
    if name == "original":
        continue
    if run.diverged:
        failed.append(name)
    elif 1 - run.final("test_acc") > base_err:
        worse.append(name)
    else:
        better.append(name)
print(f"original: test error {100 * base_err:.1f}% (one seed: small differences may be seed noise)")
print(f"worse than the original here: {'; '.join(worse) or 'none'}")
print(f"as good or better here: {'; '.join(better) or 'none'}")
print(f"diverged here: {'; '.join(failed) or 'none'}")
published_fail = [n for n, v in VARIANTS.items() if v[2] == "fail"]
trained_anyway = [n for n in published_fail if not runs[n].diverged]
if trained_anyway:
    print(
        f"The paper reports as failing at ResNet-110: {'; '.join(trained_anyway)}. At ResNet-{depth} "
        "with this budget, these trained: the paper's failures may need its depth or its long schedule."
    )
pre = runs["full pre-activation"]
if not pre.diverged:
    verdict = "lower" if 1 - pre.final("test_acc") < base_err else "NOT lower"
    print(
        f"Full pre-activation: test error {100 * (1 - pre.final('test_acc')):.1f}%, {verdict} than the "
        f"original's {100 * base_err:.1f}% in this run (the paper: 6.37% vs 6.61% at ResNet-110)."
    )

# %% [markdown]
# ## Explore: two variants side by side
#
# Pick two variants to overlay their curves (from the runs above; needs a live kernel).

# %%
if interactive:
    compare_runs(runs)

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
    "depth": depth,
    "test_error": {n: (None if r.diverged else 1 - r.final("test_acc")) for n, r in runs.items()},
    "final_train_loss": {n: r.final("train_loss") for n, r in runs.items()},
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
# ### Your turn 1: exclusive gating
#
# He et al. (2016, Table 1, after Highway networks) gate the two paths: g = sigmoid(gate
# logits), computed from x by a 1x1 conv, and the block adds (1 - g) * s(x) + g * F(x)
# before its ReLU. Write `exclusive_gate(shortcut, branch, gate_logits)`, given the three
# tensors s(x), F(x) and the gate's logits; it returns the sum, before the ReLU.


# %% tags=["solution"]
def exclusive_gate(shortcut, branch, gate_logits):
    # BEGIN SOLUTION
    # hint: g = torch.sigmoid(gate_logits); g weighs the branch, 1 - g the shortcut
    g = torch.sigmoid(gate_logits)
    return (1 - g) * shortcut + g * branch
    # END SOLUTION


# %%
checks.exclusive_gate(exclusive_gate)

# %% [markdown]
# ### Your turn 2: a full pre-activation block
#
# In the block the 2016 paper recommends, BN and ReLU come *before* each conv, and nothing
# is applied after the addition: out = x + F(x). Write
# `preact_forward(x, bn1, conv1, bn2, conv2)` for a block with an identity shortcut.


# %% tags=["solution"]
def preact_forward(x, bn1, conv1, bn2, conv2):
    # BEGIN SOLUTION
    # hint: F(x) = conv2(relu(bn2(conv1(relu(bn1(x)))))); then add x and stop
    return x + conv2(F.relu(bn2(conv1(F.relu(bn1(x))))))
    # END SOLUTION


# %%
checks.preact_forward(preact_forward)

# %% [markdown]
# ### Your turn 3: why constant scaling hurts
#
# In the "constant scaling" row of Table 1 every shortcut is multiplied by 0.5. ResNet-110
# has 54 residual blocks. By what factor does the input x reach the output through the
# shortcuts alone? Set `shortcut_factor` to it. (He et al. 2016, sec. 3, argue from exactly
# this product.)

# %% tags=["solution"]
# BEGIN SOLUTION
# hint: every block multiplies what its shortcut carries by 0.5
shortcut_factor = 0.5**54
# END SOLUTION

# %%
checks.shortcut_scale_after(shortcut_factor)

# %% [markdown]
# ## References
# - K. He, X. Zhang, S. Ren, J. Sun. *Identity Mappings in Deep Residual Networks.*
#   ECCV 2016, arXiv:1603.05027 (Tables 1 and 2, Figs. 2 and 4).
# - P. Goyal et al. *Accurate, Large Minibatch SGD: Training ImageNet in 1 Hour.*
#   arXiv:1706.02677 (zero-initialised last BN in each residual branch).
