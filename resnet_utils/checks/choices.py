"""Multiple-choice answers about the measurements: the right choice is computed, not fixed.

An interpretation exercise asks which statement the run supports; which one that is depends on
the run (another profile or seed can change it), so each check derives the right letter from
the measured numbers and explains a wrong pick in words.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from resnet_utils.checks.common import CheckFailed, passed
from resnet_utils.report.verdicts import learned, paired_test_variance

# What a comparison of two nets can do seed by seed: (b) and (e) differ in whether a seed goes
# the other way beyond the noise; a difference within the noise contradicts none beyond it.
SEED_STATEMENTS = {
    "a": "{a}'s {metric} is higher than {b}'s on every seed, beyond {noise}",
    "b": "beyond {noise} on some seeds only, in one direction; the others within it",
    "c": "{a}'s {metric} is lower than {b}'s on every seed, beyond {noise}",
    "d": "within {noise} on every seed",
    "e": "beyond {noise} in opposite directions on different seeds: the seeds disagree",
}
Z95 = 1.96  # a two-sided 95% band of a normal sampling error


def pick(answer, statements: dict[str, str], correct: str, why: dict[str, str]) -> None:
    """Pass when ``answer`` is the letter of the right statement; else say why it is not."""
    if not isinstance(answer, str):
        raise CheckFailed(
            f"answer with one letter, as text ('a'), of {', '.join(map(repr, statements))}; you "
            f"gave {type(answer).__name__}: {answer!r}."
        )
    letter = answer.strip().lower()
    if letter not in statements:
        raise CheckFailed(
            f"answer with one letter of {', '.join(map(repr, statements))}; you gave {answer!r}."
        )
    if letter == correct:
        return passed(f"({correct}) {statements[correct]}. {why.get(correct, '')}".rstrip())
    raise CheckFailed(f"({letter}) is not what the numbers say. {why.get(letter, '')}".rstrip())


def per_seed(a, b, metric: str) -> list[tuple[int, float, float]]:
    """(seed, a's final metric, b's) for every seed both groups finished: a paired comparison."""
    finals_a = {run.spec["seed"]: run.final(metric) for run in a.finished}
    finals_b = {run.spec["seed"]: run.final(metric) for run in b.finished}
    return [(s, finals_a[s], finals_b[s]) for s in sorted(finals_a.keys() & finals_b.keys())]


def accuracy_band(x: float, y: float, images: int) -> float:
    """Half-width of the 95% band of the difference of two accuracies measured on ``images``
    test images each: their binomial sampling error. One image of 2,000 is 0.05 points."""
    return Z95 * math.sqrt((x * (1 - x) + y * (1 - y)) / images)


def accuracy_bands(a, b, images: int) -> dict[int, float]:
    """Per common seed: the 95% band of the difference of that seed's two test accuracies.
    Paired, as ``compare``'s margin is, where both runs were scored image by image on the
    same ``images`` test images (``Run.test_correct``): the spread over images of the two
    nets' per-image difference; else :func:`accuracy_band`, as if scored on two test sets."""
    runs_a = {r.spec["seed"]: r for r in a.finished}
    runs_b = {r.spec["seed"]: r for r in b.finished}
    bands = {}
    for seed, x, y in per_seed(a, b, "test_acc"):
        paired = paired_test_variance(runs_a[seed], runs_b[seed], images)
        bands[seed] = Z95 * math.sqrt(paired[0]) if paired else accuracy_band(x, y, images)
    return bands


@torch.no_grad()
def per_image_loss_std(model: nn.Module, images: torch.Tensor, labels: torch.Tensor) -> float:
    """The spread of the cross-entropy from one image to the next: what makes a mean loss over
    a finite set of images noisy. Measured as the training loss was, in training mode (BN on
    the batch's statistics: a briefly trained net's running statistics lag its weights and
    would inflate it), with every BN's running statistics left as they were."""
    norms = [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    saved = [(m.momentum, m.num_batches_tracked.clone()) for m in norms if m.track_running_stats]
    was_training = model.training
    for m in norms:
        m.momentum = 0.0  # running = (1 - 0) * running + 0 * batch: unchanged
    model.train()
    try:
        losses = F.cross_entropy(model(images).float(), labels, reduction="none")
    finally:
        for m, (momentum, tracked) in zip((m for m in norms if m.track_running_stats), saved):
            m.momentum = momentum
            m.num_batches_tracked.copy_(tracked)
        model.train(was_training)
    return losses.std().item()


def loss_bands(a, b, sample, images: int) -> dict[int, float]:
    """Per common seed: the 95% band of the difference of two mean losses over ``images``
    images each, from the per-image spread each seed's trained net shows on ``sample``
    (images, labels)."""
    x, y = sample
    spread_a = {r.spec["seed"]: per_image_loss_std(r.model, x, y) for r in a.finished if r.model}
    spread_b = {r.spec["seed"]: per_image_loss_std(r.model, x, y) for r in b.finished if r.model}
    return {
        s: Z95 * math.sqrt((spread_a[s] ** 2 + spread_b[s] ** 2) / images)
        for s in spread_a.keys() & spread_b.keys()
    }


def seed_agreement(a, b, metric: str, bands: dict[int, float] | None = None) -> str | None:
    """The letter of :data:`SEED_STATEMENTS` that the per-seed differences of a and b support,
    each seed's difference read against its band (``bands``, by seed; none: any difference
    counts). None when the two have no finished seed in common."""
    sides = _sides(a, b, metric, bands or {})
    if not sides:
        return None
    beyond = {side for side in sides if side != 0}
    if len(beyond) == 2:
        return "e"
    if not beyond:
        return "d"
    if 0 in sides:
        return "b"
    return "a" if beyond == {1} else "c"


def _sides(a, b, metric: str, bands: dict[int, float]) -> list[int]:
    return [_side(x - y, bands.get(s, 0.0)) for s, x, y in per_seed(a, b, metric)]


def _side(difference: float, band: float) -> int:
    """+1 above the band, -1 below it, 0 within it (or exactly equal, with no band)."""
    if abs(difference) <= band:
        return 0
    return 1 if difference > 0 else -1


def _why_not(letter: str, sides: list[int]) -> str:
    """Why the per-seed differences (``sides``, as :func:`_side` gives them) rule out the
    statement ``letter``, in words."""
    n, higher, lower = len(sides), sides.count(1), sides.count(-1)
    beyond = higher + lower
    if letter == "a":
        return f"It needs every seed higher, beyond the noise: here {higher} of {n}."
    if letter == "c":
        return f"It needs every seed lower, beyond the noise: here {lower} of {n}."
    if letter == "d":
        return f"It needs every difference within the noise: here {n - beyond} of {n}."
    if higher and lower:
        return "Some seeds are beyond the noise in opposite directions: the seeds disagree."
    if letter == "b":
        return "It needs some seeds beyond the noise and the others within it; " + (
            "none is beyond it." if not beyond else "every seed is beyond it, the same way."
        )
    direction = "higher" if higher else "lower"
    return "It needs seeds beyond the noise in opposite directions; " + (
        "none is beyond it."
        if not beyond
        else f"every seed beyond it is {direction}, and a difference within the noise "
        "contradicts none beyond it."
    )


def check_seed_agreement(
    answer,
    a,
    b,
    metric: str,
    a_name: str,
    b_name: str,
    bands: dict[int, float] | None = None,
    noise: str = "the noise",
) -> None:
    """Does the comparison of a with b come out the same way on every seed, beyond each seed's
    noise band (``bands``, by seed)? Worded feedback."""
    pairs = per_seed(a, b, metric)
    if not pairs:
        raise CheckFailed(
            f"{a_name} and {b_name} have no seed in common that finished: nothing to read."
        )
    bands = bands or {}
    what = metric.replace("_", " ")
    statements = {
        k: v.format(a=a_name, b=b_name, metric=what, noise=noise) for k, v in SEED_STATEMENTS.items()
    }
    pct = metric.endswith("acc")
    fmt = (lambda v: f"{100 * v:.1f}%") if pct else (lambda v: f"{v:.3f}")
    dfmt = (lambda v: f"{100 * v:+.1f} points") if pct else (lambda v: f"{v:+.3f}")
    band_text = (lambda v: f"±{100 * v:.1f}") if pct else (lambda v: f"±{v:.3f}")
    listing = "; ".join(
        f"seed {s}: {a_name} {fmt(x)}, {b_name} {fmt(y)} (difference {dfmt(x - y)}"
        + (f", band {band_text(bands[s])})" if s in bands else ")")
        for s, x, y in pairs
    )
    sides = _sides(a, b, metric, bands)
    counts = (
        f"{a_name}'s {what} is higher on {sides.count(1)}, lower on {sides.count(-1)} and within "
        f"{noise} on {sides.count(0)} of {len(pairs)} seeds ({listing})."
    )
    if len(pairs) == 1:
        counts += " With one seed there is no second draw to agree or disagree."
    for side, name in ((a, a_name), (b, b_name)):
        if not (status := learned(side)).ok:
            counts += f" Mind: {name} has not trained enough to be ranked ({status.reason})."
    correct = seed_agreement(a, b, metric, bands)
    why = {letter: f"{_why_not(letter, sides)} {counts}" for letter in statements}
    why[correct] = counts
    pick(answer, statements, correct, why)
