"""What each notebook trains under each profile, and how large its measurements are: one
table, so that what "quick" means for notebook 4 is written once, here, and read by the
notebooks (through their :class:`~resnet_utils.course.session.Session`) and by
``tools/gpu_check.py``.

A notebook's parameters (``depths``, ``depth``, ``epochs``, ``measure_images``, ...) override
the table's values when given; None keeps the table's.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from resnet_utils.training.profiles import PROFILES, Profile, Recipe, get_profile

NOTEBOOKS = (
    "01_degradation",
    "02_skip_connections",
    "03_residual_learning",
    "04_deep_resnets",
    "05_skip_variants",
)

# The notebooks' parameters that override the table (None keeps the table's value).
BUDGET_PARAMETERS = (
    "seeds",
    "epochs",
    "depths",
    "depth",
    "measure_images",
    "landscape_images",
    "landscape_points",
    "cost_batch",
)

# Notebook 5's thirteen variants (He et al. 2016, Tables 1 and 2) and the options that build
# each one as a ResNet (the notebook sets the published errors beside them).
SKIP_VARIANTS = {
    "original": {},
    "constant scaling 0.5, both paths": {"scale_shortcut": 0.5, "scale_branch": 0.5},
    "exclusive gating, b_g = -6": {"gate": "exclusive", "gate_bias": -6.0},
    "exclusive gating, b_g = 0": {"gate": "exclusive", "gate_bias": 0.0},
    "shortcut-only gating, b_g = 0": {"gate": "shortcut", "gate_bias": 0.0},
    "shortcut-only gating, b_g = -6": {"gate": "shortcut", "gate_bias": -6.0},
    "1x1 conv shortcut": {"shortcut": "conv"},
    "dropout shortcut, 0.5": {"shortcut_dropout": 0.5},
    "BN after addition": {"ordering": "bn_after_add"},
    "ReLU before addition": {"ordering": "relu_before_add"},
    "ReLU-only pre-activation": {"ordering": "relu_preact"},
    "full pre-activation": {"ordering": "preact"},
    "zero-initialised last BN (not in the paper)": {"zero_init": True},
}

# He et al. 2015, sec. 4.2, for ResNet-110: lr 0.01 "until the training error is below 80%
# (about 400 iterations)", then 0.1. Notebook 4 uses it with the paper's step schedule.
PAPER_WARMUP_STEPS = 400

# The table. Per notebook and profile: the depths or nets it trains, and its sizes. For a
# notebook that trains on its own subset: ``images`` (a class-balanced subset of the profile's
# training images; None: all of them), ``epochs`` and ``batch_size`` (None: the profile's).
_SMALL = ("smoke", "quick", "colab")
TABLE: dict[str, dict[str, dict]] = {
    # plain nets of each depth (the notebook's `depths` parameter)
    "01_degradation": {p: {"depths": (20, 56)} for p in PROFILES},
    # plain and residual nets of each depth; ResNet-110 as well where the budget allows it
    "02_skip_connections": {
        **{p: {"depths": (20, 56)} for p in _SMALL},
        "full": {"depths": (20, 56, 110)},
    },
    # nets measured after training and at init: test images for the responses and branches,
    # training images and grid points per axis for the loss landscape
    "03_residual_learning": {
        "smoke": {
            "nets": ("plain56", "resnet20", "resnet56"),
            "measure_images": 64,
            "landscape_images": 64,
            "landscape_points": 3,
        },
        "quick": {
            "nets": ("plain56", "resnet20", "resnet56"),
            "measure_images": 500,
            "landscape_images": 500,
            "landscape_points": 11,
        },
        "colab": {
            "nets": ("plain56", "resnet20", "resnet56"),
            "measure_images": 500,
            "landscape_images": 500,
            "landscape_points": 25,
        },
        "full": {
            "nets": ("plain56", "resnet20", "resnet56", "resnet110"),
            "measure_images": 500,
            "landscape_images": 500,
            "landscape_points": 25,
        },
    },
    # ResNet-50/101/152 (one seed) and ResNet-50 with either stem, each on its own budget;
    # quick trains none (the cost measurements carry it). At 32x32 the ImageNet stem leaves
    # these nets few pixels: ResNet-50 costs 0.08 G multiply-adds per image, less than a CIFAR
    # ResNet-56's 0.13 G. ``cost_batch``: the batch of the time and memory measurements.
    "04_deep_resnets": {
        "smoke": {
            "depth_runs": {"images": 128, "epochs": 1},
            "stem_runs": {"images": 128, "epochs": 1},
            "cost_batch": 8,
        },
        "quick": {"cost_batch": 64},
        "colab": {
            "depth_runs": {"images": 10_000, "epochs": 15},
            "stem_runs": {"images": 10_000, "epochs": 10},
            "cost_batch": 64,
        },
        "full": {
            "depth_runs": {"images": None, "epochs": 60, "warmup_steps": PAPER_WARMUP_STEPS},
            "stem_runs": {"images": None, "epochs": 30, "warmup_steps": PAPER_WARMUP_STEPS},
            "cost_batch": 64,
        },
    },
    # every variant of SKIP_VARIANTS as a ResNet of `depth`
    "05_skip_variants": {
        "smoke": {"depth": 8, "images": None, "batch_size": None},
        "quick": {"depth": 20, "images": 2_000, "batch_size": 64},
        "colab": {"depth": 20, "images": 10_000, "batch_size": None},
        "full": {"depth": 110, "images": None, "batch_size": None},
    },
}


@dataclass(frozen=True)
class TrainingJob:
    """One net a notebook trains, over ``seeds`` seeds: what it takes to train or time it."""

    name: str  # "plain56"
    options: dict  # build_model's keywords beyond the name
    train_images: int | None  # None: all 50,000
    test_images: int | None  # None: all 10,000
    recipe: Recipe
    seeds: int
    title: str  # the name the notebook shows it by ("" for the net's own label)


@dataclass(frozen=True)
class Training:
    """Nets trained on the same data with the same recipe: one training cell's runs."""

    jobs: tuple[TrainingJob, ...]
    images: int | None  # the notebook's own subset of the profile's training images; None: all
    recipe: Recipe

    @property
    def nets(self) -> list:
        """The jobs as :meth:`Session.plan` takes them: names, (name, options) or (name,
        options, title)."""
        return [
            (j.name, j.options, j.title) if j.title else (j.name, j.options) if j.options else j.name
            for j in self.jobs
        ]


@dataclass(frozen=True)
class Budget:
    """What one notebook trains under one profile, and the sizes of its measurements."""

    notebook: str
    profile: Profile
    trainings: tuple[Training, ...]  # nb4: the depth runs, then the stem runs; empty: none
    depths: tuple[int, ...] = ()  # nb1, nb2: the depths compared; nb5: the variants' depth
    measure_images: int | None = None  # nb3
    landscape_images: int | None = None  # nb3
    landscape_points: int | None = None  # nb3
    cost_batch: int | None = None  # nb4

    @property
    def jobs(self) -> list[TrainingJob]:
        return [job for training in self.trainings for job in training.jobs]

    @property
    def depth(self) -> int:
        """Notebook 5's one depth."""
        (depth,) = self.depths
        return depth


def budget(
    notebook: str,
    profile: str | Profile,
    *,
    seeds: int = 3,
    epochs: int | None = None,
    depths=None,
    depth: int | None = None,
    measure_images: int | None = None,
    landscape_images: int | None = None,
    landscape_points: int | None = None,
    cost_batch: int | None = None,
) -> Budget:
    """The table's row for ``notebook`` under ``profile``, with the notebook's parameters
    (None: the table's value) applied. ``epochs`` replaces every run's epoch count;
    ``seeds`` is the seeds of each net (notebook 4 trains one seed whatever it says)."""
    if notebook not in TABLE:
        raise ValueError(f"unknown notebook {notebook!r}: the budgets know {NOTEBOOKS}.")
    profile = get_profile(profile) if isinstance(profile, str) else profile
    row = TABLE[notebook][profile.name]
    base = profile.recipe if epochs is None else replace(profile.recipe, epochs=epochs)
    epochs_parameter = epochs

    def training(nets, *, images=None, epochs=None, batch_size=None, warmup_steps=0, seeds=seeds):
        """Jobs for ``nets`` ((name, options, title) each) on the row's own budget, if any:
        its epochs count where the notebook's ``epochs`` parameter is None."""
        recipe = base
        if epochs is not None and epochs_parameter is None:
            recipe = replace(recipe, epochs=epochs)
        if batch_size is not None:
            recipe = replace(recipe, batch_size=batch_size)
        if warmup_steps:
            recipe = replace(recipe, warmup_steps=warmup_steps)
        train_images = profile.train_size if images is None else images
        jobs = tuple(
            TrainingJob(name, dict(options), train_images, profile.test_size, recipe, seeds, title)
            for name, options, title in nets
        )
        return Training(jobs, images, recipe)

    if notebook == "01_degradation":
        chosen = tuple(sorted(depths or row["depths"]))
        nets = [(f"plain{d}", {}, "") for d in chosen]
        return Budget(notebook, profile, (training(nets),), depths=chosen)
    if notebook == "02_skip_connections":
        chosen = tuple(sorted(depths or row["depths"]))
        nets = [(f"{family}{d}", {}, "") for d in chosen for family in ("plain", "resnet")]
        return Budget(notebook, profile, (training(nets),), depths=chosen)
    if notebook == "03_residual_learning":
        nets = [(name, {}, "") for name in row["nets"]]
        return Budget(
            notebook,
            profile,
            (training(nets),),
            measure_images=measure_images or row["measure_images"],
            landscape_images=landscape_images or row["landscape_images"],
            landscape_points=landscape_points or row["landscape_points"],
        )
    if notebook == "04_deep_resnets":
        trainings = ()
        if "depth_runs" in row:
            deep = [(f"resnet{d}", {}, "") for d in (50, 101, 152)]
            stems = [("resnet50", {"stem": stem}, "") for stem in ("imagenet", "cifar")]
            trainings = (
                training(deep, seeds=1, **row["depth_runs"]),
                training(stems, seeds=1, **row["stem_runs"]),
            )
        return Budget(notebook, profile, trainings, cost_batch=cost_batch or row["cost_batch"])
    chosen = depth or row["depth"]
    nets = [(f"resnet{chosen}", options, title) for title, options in SKIP_VARIANTS.items()]
    five = training(nets, images=row["images"], batch_size=row["batch_size"])
    return Budget(notebook, profile, (five,), depths=(chosen,))


def workload(notebook: str, profile: str, *, seeds: int = 3) -> list[TrainingJob]:
    """Every net ``notebook`` trains under ``profile`` with its parameters' defaults, and
    ``seeds`` seeds per net where the notebook repeats its runs (notebook 4 does not)."""
    return budget(notebook, profile, seeds=seeds).jobs
