"""Comparisons that say how sure they are: higher, lower or within noise, with the margin.

Every comparative sentence a notebook prints goes through :func:`compare`. A difference
counts only when it is larger than the margin: a 95% Welch t interval from the spread of
the final values across seeds, plus, for test accuracy, the test set's sampling error: paired
when both nets were scored image by image on the same test images (a session's runs and the
shipped reference nets are), else the binomial error of two test sets of ``test_size``
images. Nets that have not learned (training loss still near ln 10, or accuracy near chance)
are never ranked: :func:`learned` says so first.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from statistics import fmean, stdev

import torch

from resnet_utils.training.groups import RunGroup
from resnet_utils.training.runs import Run

LN10 = math.log(10)  # the cross-entropy of a uniform guess over CIFAR-10's ten classes
CHANCE = 0.1
NOT_LEARNED_LOSS = 0.9 * LN10  # a final training loss above this has barely left the start
NOT_LEARNED_ACC = CHANCE + 0.05  # test accuracy below this is chance, give or take

# two-sided 95% quantiles of Student's t by degrees of freedom (1..30); above: the normal's
_T975 = (12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179,
         2.160, 2.145, 2.131, 2.120, 2.110, 2.101, 2.093, 2.086, 2.080, 2.074, 2.069, 2.064,
         2.060, 2.056, 2.052, 2.048, 2.045, 2.042)  # fmt: skip

LOWER_IS_BETTER = {"train_loss", "test_loss", "test_error", "train_error"}
PERCENT = {"train_acc", "test_acc", "test_error", "train_error"}


def t975(dof: float) -> float:
    """The 97.5% quantile of Student's t. Welch's degrees of freedom are fractional: between
    whole ones the quantile is interpolated linearly in 1/dof (checked against scipy's
    ``t.ppf``: never below it, within 2% from 2 degrees of freedom up, within 19% between 1
    and 2). Rounding down instead made a smaller variance give a wider margin: a paired
    test-set term of 2.47 degrees of freedom read as 2 (t 4.30 instead of 3.61)."""
    if dof <= 1:
        return _T975[0]
    if dof > len(_T975):
        return 1.96
    whole = int(dof)
    if whole == dof:
        return _T975[whole - 1]
    share = (1 / whole - 1 / dof) / (1 / whole - 1 / (whole + 1))
    return _T975[whole - 1] + share * (_T975[whole] - _T975[whole - 1])


def as_group(side):
    """A RunGroup as it is; a single Run as a group of one (what a session's training gives);
    a number or a list of per-seed values as they are."""
    return RunGroup([side]) if isinstance(side, Run) else side


def paired_test_variance(a, b, test_size: int | None) -> tuple[float, int] | None:
    """The test set's variance of the accuracy difference when both sides were scored image by
    image on the same test set (``RunGroup.test_correct``): the variance over images of the
    difference of their per-image scores (each averaged over seeds), over the number of
    images. Both nets get the easy images right and the hard ones wrong, so this is far
    smaller than the two accuracies' binomial variances added, which treat the nets as if
    scored on independent test sets. None when a side has no per-image scores."""
    if isinstance(a, (list, tuple, int, float)) or isinstance(b, (list, tuple, int, float)):
        return None
    scores_a, scores_b = as_group(a).test_correct(), as_group(b).test_correct()
    if scores_a is None or scores_b is None:
        return None
    images = len(scores_a[0])
    if images < 2 or len(scores_b[0]) != images or (test_size and test_size != images):
        return None
    mean_a = torch.stack(scores_a).float().mean(0)
    mean_b = torch.stack(scores_b).float().mean(0)
    return (mean_a - mean_b).var().item() / images, images


def values_of(side, metric: str) -> list[float]:
    """The final ``metric`` of each finished seed of a RunGroup (or Run), or the numbers given."""
    side = as_group(side)
    if isinstance(side, RunGroup):
        return side.finals(metric)
    if isinstance(side, (int, float)):
        return [float(side)]
    return [float(v) for v in side]


def name_of(side, default: str) -> str:
    side = as_group(side)
    return side.label if isinstance(side, RunGroup) else default


@dataclass(frozen=True)
class Learned:
    ok: bool
    reason: str


def learned(side) -> Learned:
    """Has this net learned enough to be compared? Checked on its mean final values."""
    side = as_group(side)
    if isinstance(side, RunGroup) and side.diverged:
        if len(side.runs) > 1:
            return Learned(False, "every seed diverged")
        return Learned(False, f"diverged in epoch {side.runs[0].history.get('diverged_epoch')}")
    losses = values_of(side, "train_loss")
    if not losses:
        return Learned(False, "no finished run")
    loss = fmean(losses)
    if not math.isfinite(loss) or loss > NOT_LEARNED_LOSS:
        return Learned(
            False,
            f"training loss {loss:.3f} is still near ln 10 = {LN10:.3f}, the loss of a uniform guess",
        )
    accs = values_of(side, "test_acc")
    if accs and fmean(accs) < NOT_LEARNED_ACC:
        return Learned(False, f"test accuracy {fmean(accs):.1%} is near chance (10%)")
    return Learned(True, f"training loss {loss:.3f}, clearly below ln 10 = {LN10:.3f}")


@dataclass(frozen=True)
class Verdict:
    """How side a compares with side b on one metric."""

    word: str  # "higher", "lower", "within noise", "not compared"
    metric: str
    a_name: str
    b_name: str
    a_mean: float | None
    b_mean: float | None
    margin: float | None  # half-width of the 95% interval of the difference a - b
    basis: str  # what the margin rests on, in words
    reason: str = ""  # why there is no verdict, for "not compared"

    @property
    def difference(self) -> float | None:
        if self.a_mean is None or self.b_mean is None:
            return None
        return self.a_mean - self.b_mean

    @property
    def better(self) -> str | None:
        """The name of the better side, or None when within noise or not compared."""
        if self.word not in ("higher", "lower"):
            return None
        a_higher = self.word == "higher"
        return self.a_name if a_higher != (self.metric in LOWER_IS_BETTER) else self.b_name

    @property
    def decided(self) -> bool:
        return self.word in ("higher", "lower")

    def say(
        self,
        *,
        higher: str | None = None,
        lower: str | None = None,
        noise: str | None = None,
        not_compared: str | None = None,
        otherwise: str = "",
    ) -> str:
        """The sentence given for this verdict's word (``otherwise`` for a word given none),
        so that a notebook chooses its reading in one call, not in an if/elif per word."""
        sentences = {
            "higher": higher,
            "lower": lower,
            "within noise": noise,
            "not compared": not_compared,
        }
        sentence = sentences[self.word]
        return otherwise if sentence is None else sentence

    def tell(self, **sentences: str) -> None:
        """Print :meth:`say`'s sentence; a word with no sentence prints nothing, not a blank line."""
        sentence = self.say(**sentences)
        if sentence:
            print(sentence)

    def _fmt(self, value: float) -> str:
        return f"{100 * value:.1f}%" if self.metric in PERCENT else f"{value:.3f}"

    def _fmt_diff(self, value: float) -> str:
        return f"{100 * value:.1f} points" if self.metric in PERCENT else f"{value:.3f}"

    def __str__(self) -> str:
        what = self.metric.replace("_", " ")
        if self.word == "not compared":
            if self.a_mean is None or self.b_mean is None:
                return f"{what}: {self.a_name} vs {self.b_name}: not compared ({self.reason})."
            values = f"{self.a_name} {self._fmt(self.a_mean)} vs {self.b_name} {self._fmt(self.b_mean)}"
            return f"{what}: {values}: not compared ({self.reason})."
        head = (
            f"{what}: {self.a_name} {self._fmt(self.a_mean)} vs {self.b_name} {self._fmt(self.b_mean)}: "
        )
        size, margin = self._fmt_diff(abs(self.difference)), self._fmt_diff(self.margin)
        diff = f"difference {size}, margin ±{margin}"
        if self.word == "within noise":
            return f"{head}within noise ({diff}; {self.basis})."
        return f"{head}{self.a_name}'s is {self.word} ({diff}; {self.basis})."


def compare(
    a,
    b,
    metric: str,
    *,
    test_size: int | None = None,
    a_name: str = "a",
    b_name: str = "b",
    check_learned: bool = True,
    samples: str = "seeds",
    log: bool = False,
) -> Verdict:
    """Is ``a``'s final ``metric`` higher or lower than ``b``'s, or within noise?

    ``a`` and ``b`` are RunGroups (a Run counts as a group of one) or lists of per-seed
    values. The margin is ``t * sqrt(s_a^2/n_a + s_b^2/n_b + test-set term)``: the seed
    spread needs two seeds or more on a side. For an accuracy or error, the test-set term is
    the variance over the N test images of the two sides' per-image difference, over N, when
    both were scored image by image on the same images (``RunGroup.test_correct``: paired);
    else, given ``test_size`` = N, each side's binomial variance ``p(1-p)/N`` (unpaired, as
    if the nets had been scored on two independent test sets: wider). ``samples`` names
    what the repeated values are ("seeds", or "directions").

    ``log=True`` compares the log10 of each value (lists of positive numbers): for a quantity
    whose seeds spread over orders of magnitude (a gradient ratio, a loss rise), where one
    large seed would otherwise set both the mean and the margin. The metric is named
    "log10 ..." so that the printed numbers say which scale they are on.
    """
    if log:
        for side in (a, b):
            if not isinstance(side, (list, tuple)) or not all(v > 0 for v in side):
                raise ValueError(
                    "compare(..., log=True) takes two lists of positive numbers (per-seed values); "
                    f"got {side!r:.80}"
                )
        a, b = [math.log10(v) for v in a], [math.log10(v) for v in b]
        metric = f"log10 {metric}"
    a_name, b_name = name_of(a, a_name), name_of(b, b_name)
    if check_learned:
        for side, name in ((a, a_name), (b, b_name)):
            status = learned(side) if not isinstance(side, (list, tuple)) else Learned(True, "")
            if not status.ok:
                reason = f"{name} has not trained enough to compare: {status.reason}"
                return Verdict("not compared", metric, a_name, b_name, None, None, None, "", reason)
    va, vb = values_of(a, metric), values_of(b, metric)
    if not va or not vb:
        reason = "a side has no finished run"
        return Verdict("not compared", metric, a_name, b_name, None, None, None, "", reason)
    ma, mb = fmean(va), fmean(vb)
    seed_var, dof_terms, parts = 0.0, [], []
    lenders = (None, None)
    assumed = min(len(va), len(vb)) < 2 <= max(len(va), len(vb))
    if assumed:
        # One run is not free of noise: it varies from seed to seed too, and the best guess of
        # how much is the spread measured on the side that has several: it lends it.
        lenders = (vb, None) if len(va) < 2 else (None, va)
    for values, lender in zip((va, vb), lenders):
        spread_values = lender if len(values) < 2 and lender is not None else values
        if len(spread_values) >= 2:
            term = stdev(spread_values) ** 2 / len(values)
            seed_var += term
            dof_terms.append((term, len(spread_values) - 1))
    n_seeds = sorted({len(va), len(vb)})
    if assumed:
        parts.append(
            f"spread over {max(n_seeds)} {samples} on one side, assumed for the one-run side too"
        )
    elif len(dof_terms) == 2:
        parts.append(f"spread over {' and '.join(map(str, n_seeds))} {samples}")
    else:
        parts.append("one seed per side, so no seed spread")
    binom_var, images = 0.0, test_size
    if metric in ("test_acc", "test_error"):
        paired = paired_test_variance(a, b, test_size)
        if paired is not None:
            binom_var, images = paired
            parts.append(f"{images:,} test images, paired")
        elif test_size:
            binom_var = sum(m * (1 - m) / test_size for m in (ma, mb))
            parts.append(f"{test_size:,} test images")
    if seed_var > 0 and sum(t * t / d for t, d in dof_terms) > 0:
        # Welch-Satterthwaite; the binomial part is a known variance (infinite dof)
        dof = (seed_var + binom_var) ** 2 / sum(t * t / d for t, d in dof_terms)
        crit = t975(dof)
    else:
        crit = 1.96
    if seed_var == 0 and binom_var == 0:
        reason = (
            f"no measure of noise: the {samples} of each side all give the same value"
            if dof_terms
            else "no measure of noise: one seed per side and no test-set size"
        )
        return Verdict("not compared", metric, a_name, b_name, ma, mb, None, parts[0], reason)
    margin = crit * math.sqrt(seed_var + binom_var)
    basis = "95% interval from the " + ", ".join(parts)
    if abs(ma - mb) <= margin:
        word = "within noise"
    elif not dof_terms:
        # The test set's noise alone is a floor, not the noise: another seed moves each net's
        # accuracy too, by an unmeasured amount. Within it means within noise; beyond it
        # means nothing yet.
        scale, unit = (100, " points") if metric in PERCENT else (1, "")
        reason = (
            f"the difference, {scale * abs(ma - mb):.1f}{unit}, is beyond the test set's noise "
            f"(±{scale * margin:.1f}{unit} on {images:,} test images), but one run per net is "
            "not a verdict: another seed can move each net by more than that"
        )
        return Verdict("not compared", metric, a_name, b_name, ma, mb, margin, basis, reason)
    else:
        word = "higher" if ma > mb else "lower"
    return Verdict(word, metric, a_name, b_name, ma, mb, margin, basis)
