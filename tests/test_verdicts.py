"""The verdict helper and seed groups: margins, the did-it-learn guard, group statistics."""

import math
from statistics import fmean

import pytest
import torch
from fakes import fake_run

from resnet_utils.report.verdicts import LN10, Verdict, compare, learned, t975
from resnet_utils.training.groups import RunGroup


def group(values, name="resnet20"):
    return RunGroup([fake_run(loss, acc, seed=i, name=name) for i, (loss, acc) in enumerate(values)])


def test_t_quantiles_are_students():
    assert t975(2) == pytest.approx(4.303) and t975(4) == pytest.approx(2.776)
    assert t975(1000) == 1.96 and t975(0.5) == pytest.approx(12.706)


def test_fractional_degrees_of_freedom_lie_between_their_whole_neighbours():
    # scipy.stats.t.ppf(0.975, 2.47) = 3.606; the interpolation in 1/dof gives 3.663, above it
    assert t975(2.47) == pytest.approx(3.663, abs=0.002)
    values = [t975(d / 10) for d in range(10, 301)]
    assert all(a >= b for a, b in zip(values, values[1:]))  # falls as the dof grow, no jump
    assert t975(3.0) == pytest.approx(3.182) and t975(2.999) > t975(3.0) > t975(3.001)


def test_a_clear_difference_is_lower_with_its_margin():
    a = group([(0.80, 0.6), (0.82, 0.6), (0.81, 0.6)], name="resnet56")
    b = group([(1.20, 0.5), (1.22, 0.5), (1.18, 0.5)], name="plain56")
    v = compare(a, b, "train_loss")
    # Welch: s_a = 0.01, s_b = 0.02 over 3 seeds each
    se = math.sqrt(0.01**2 / 3 + 0.02**2 / 3)
    dof = se**4 / ((0.01**2 / 3) ** 2 / 2 + (0.02**2 / 3) ** 2 / 2)
    assert dof == pytest.approx(2.94, abs=0.01)
    assert v.word == "lower" and v.margin == pytest.approx(t975(dof) * se)
    assert v.difference == pytest.approx(-0.39)
    assert v.better == "resnet56"  # lower loss is better
    text = str(v)
    assert "resnet56's is lower" in text and "margin ±" in text and "3 seeds" in text


def test_overlapping_seeds_are_within_noise():
    a = group([(1.00, 0.5), (1.10, 0.5), (0.95, 0.5)])
    b = group([(1.05, 0.5), (0.98, 0.5), (1.12, 0.5)])
    v = compare(a, b, "train_loss")
    assert v.word == "within noise" and v.better is None and not v.decided
    assert "within noise" in str(v)


def test_test_accuracy_adds_the_binomial_error_of_the_test_set():
    # identical seeds: only the test set's sampling error is left
    a = group([(1.0, 0.52)] * 3)
    b = group([(1.0, 0.50)] * 3)
    small = compare(a, b, "test_acc", test_size=2000)
    expected = 1.96 * math.sqrt(0.52 * 0.48 / 2000 + 0.5 * 0.5 / 2000)
    assert small.margin == pytest.approx(expected)
    assert small.word == "within noise"  # 2 points on 2,000 images is noise
    large = compare(a, b, "test_acc", test_size=100_000)
    assert large.word == "higher" and large.better == a.label
    assert "2,000 test images" in str(small)


def test_the_binomial_part_counts_as_known_variance_in_the_degrees_of_freedom():
    a = group([(1.0, 0.58), (1.0, 0.585), (1.0, 0.575)])
    b = group([(1.0, 0.47), (1.0, 0.46), (1.0, 0.48)])
    v = compare(a, b, "test_acc", test_size=2000)
    seed_terms = [0.005**2 / 3, 0.01**2 / 3]
    binom = 0.58 * 0.42 / 2000 + 0.47 * 0.53 / 2000
    dof = (sum(seed_terms) + binom) ** 2 / sum(t * t / 2 for t in seed_terms)
    assert dof > 30 and v.margin == pytest.approx(1.96 * math.sqrt(sum(seed_terms) + binom))


def test_one_seed_each_without_a_test_size_gives_no_verdict():
    v = compare(fake_run(1.0, 0.5), fake_run(1.5, 0.4), "train_loss")
    assert v.word == "not compared" and "one seed per side" in v.reason


def test_one_run_per_side_is_never_higher_or_lower_however_far_apart():
    """The test set's binomial error alone is a floor of the noise: beyond it, one run per net
    still says nothing about another seed, so there is no verdict (issue 20); within it, the
    two are within noise."""
    far = compare(fake_run(1.0, 0.832), fake_run(1.2, 0.818), "test_acc", test_size=10_000)
    assert far.word == "not compared" and not far.decided and far.better is None
    assert far.margin == pytest.approx(1.96 * math.sqrt((0.832 * 0.168 + 0.818 * 0.182) / 10_000))
    text = str(far)
    assert "83.2% vs" in text and "81.8%" in text
    assert "beyond the test set's noise" in text and "one run per net is not a verdict" in text
    assert "higher" not in text and "lower" not in text
    very_far = compare(fake_run(1.0, 0.9), fake_run(2.0, 0.2), "test_acc", test_size=10_000)
    assert very_far.word == "not compared"
    near = compare(fake_run(1.0, 0.820), fake_run(1.2, 0.818), "test_acc", test_size=10_000)
    assert near.word == "within noise"
    # two seeds on one side give a spread, so a verdict again
    two = group([(1.0, 0.83), (1.0, 0.834)])
    assert compare(two, fake_run(1.2, 0.70), "test_acc", test_size=10_000).word == "higher"


def test_a_single_run_against_seeds_is_given_their_spread_too():
    """One run on a side is one draw: its seed noise is assumed to be the other side's, not 0."""
    three = group([(1.0, 0.80), (1.1, 0.82), (1.2, 0.84)])  # train loss sd 0.1
    v = compare(three, fake_run(0.8, 0.6), "train_loss")
    sd2 = 0.1**2
    dof = (sd2 / 3 + sd2) ** 2 / ((sd2 / 3) ** 2 / 2 + sd2**2 / 2)
    assert v.margin == pytest.approx(t975(dof) * math.sqrt(sd2 / 3 + sd2))
    assert "assumed for the one-run side too" in v.basis
    # 0.3 apart: beyond the three seeds' own margin (4.303 x 0.1 / sqrt 3 = 0.25), but one run
    # of a net whose seeds spread by 0.1 cannot tell
    assert v.word == "within noise"


def test_nets_near_ln10_or_chance_are_never_ranked():
    # notebook 4's case: ResNet-50 at 2.104 / 31.1%, its imagenet-stem run at 2.971 / 16.2%
    stuck = fake_run(2.104, 0.311, name="resnet50")
    worse = fake_run(2.971, 0.162, name="resnet50")
    assert not learned(stuck).ok and "ln 10" in learned(stuck).reason
    v = compare(stuck, worse, "test_acc", test_size=2000)
    assert v.word == "not compared" and "not trained enough" in str(v)
    chance = fake_run(1.5, 0.11)
    assert not learned(chance).ok and "chance" in learned(chance).reason
    assert learned(fake_run(0.9 * LN10 - 0.01, 0.3)).ok


def test_diverged_runs_are_not_compared():
    v = compare(fake_run(0, 0, diverged=True), group([(1.0, 0.5)] * 3), "train_loss")
    assert v.word == "not compared" and "diverged in epoch 2" in v.reason
    all_gone = RunGroup([fake_run(0, 0, seed=s, diverged=True) for s in range(3)])
    assert not learned(all_gone).ok and learned(all_gone).reason == "every seed diverged"


def test_plain_lists_compare_without_the_guard():
    v = compare([0.40, 0.41, 0.39], [0.90, 0.92, 0.91], "median ratio", a_name="init", b_name="trained")
    assert v.word == "lower" and v.a_name == "init" and "0.400" in str(v)
    w = compare([1.0, 1.1, 0.9], [3.0, 3.1, 2.9], "rise", samples="directions")
    assert "spread over 3 directions" in str(w)


def test_a_group_reports_mean_spread_curve_and_diverged_seeds():
    g = RunGroup(
        [fake_run(1.0, 0.5, seed=0), fake_run(1.2, 0.6, seed=1), fake_run(0, 0, seed=2, diverged=True)]
    )
    assert g.seeds == [0, 1, 2] and g.diverged_seeds == [2] and not g.diverged
    assert g.finals("train_loss") == pytest.approx([1.0, 1.2])
    assert g.mean("train_loss") == pytest.approx(1.1)
    assert g.std("train_loss") == pytest.approx(math.sqrt(0.02))
    epochs, mean, low, high = g.curve("train_loss")
    assert epochs == [1, 2, 3] and mean[-1] == pytest.approx(1.1)
    assert low[-1] == pytest.approx(1.0) and high[-1] == pytest.approx(1.2)
    assert g.summary("test_acc") == "55.0% ± 7.1"
    assert g.training_seconds() == pytest.approx(2.0 * 3 * 2 + 2.0 * 3)
    assert "diverged: seed 2" in g.describe()
    with pytest.raises(ValueError):
        RunGroup([])


def test_session_train_with_seeds_repeats_through_the_cache(cache_dir):
    from resnet_utils import start

    session = start("test", profile="smoke", progress=False)
    first = session.train("resnet8", seeds=2)
    assert isinstance(first, RunGroup) and first.seeds == [0, 1]
    assert [r.from_cache for r in first.runs] == [False, False]
    # different seeds, different runs
    assert first.runs[0].history["train_loss"] != first.runs[1].history["train_loss"]
    again = session.train("resnet8", seeds=3)
    assert [r.from_cache for r in again.runs] == [True, True, False]
    assert again.runs[1].history == first.runs[1].history
    assert "resnet8, seed 2" in session.runs
    with pytest.raises(ValueError, match="seeds must be"):
        session.train("resnet8", seeds=0)
    record = session.finish({})
    assert record["training_seconds"] == pytest.approx(session.training_seconds(), abs=0.1)
    assert "3 (1 trained in this run, 2 loaded from the cache)" in record["runs"]


def verdict_of(word: str) -> Verdict:
    return Verdict(word, "train_loss", "a", "b", 1.0, 0.5, 0.1, "basis", reason=f"why {word}")


def test_say_gives_the_sentence_of_the_verdicts_own_word():
    sentences = {"higher": "H", "lower": "L", "noise": "N", "not_compared": "X"}
    words = {"higher": "H", "lower": "L", "within noise": "N", "not compared": "X"}
    for word, expected in words.items():
        assert verdict_of(word).say(**sentences) == expected


def test_a_word_given_no_sentence_says_otherwise_or_nothing():
    assert verdict_of("within noise").say(higher="H") == ""
    assert verdict_of("within noise").say(higher="H", otherwise="O") == "O"
    assert verdict_of("higher").say(higher="H", otherwise="O") == "H"
    # an empty sentence is a sentence: it is not replaced by otherwise
    assert verdict_of("lower").say(lower="", otherwise="O") == ""
    with pytest.raises(TypeError):
        verdict_of("higher").say(within_noise="N")  # the keyword is noise


def test_tell_prints_the_sentence_and_nothing_for_no_sentence(capsys):
    verdict_of("higher").tell(higher="H", lower="L")
    verdict_of("not compared").tell(higher="H", lower="L")
    verdict_of("lower").tell(lower="", otherwise="O")
    assert capsys.readouterr().out == "H\n"


def scored(accuracy_per_seed, shared, images=2_000, name="resnet20", seed_base=0):
    """A group whose seeds get the first ``shared`` share of the images right (the easy ones
    every net gets), plus each seed's own extra images up to its accuracy."""
    runs = []
    for i, acc in enumerate(accuracy_per_seed):
        run = fake_run(0.5, acc, seed=seed_base + i, name=name)
        correct = torch.zeros(images, dtype=torch.bool)
        correct[: int(shared * images)] = True
        extra = int(round(acc * images)) - int(shared * images)
        generator = torch.Generator().manual_seed(seed_base + i)
        rest = torch.randperm(images - int(shared * images), generator=generator)[:extra]
        correct[int(shared * images) + rest] = True
        run.test_correct = correct
        runs.append(run)
    return RunGroup(runs)


def test_nets_scored_on_the_same_images_get_a_paired_and_tighter_test_set_margin():
    a = scored([0.83, 0.84, 0.835], shared=0.78, name="resnet56")
    b = scored([0.82, 0.825, 0.83], shared=0.78, name="resnet20", seed_base=10)
    paired = compare(a, b, "test_acc", test_size=2_000)
    unpaired = compare(a.finals("test_acc"), b.finals("test_acc"), "test_acc", test_size=2_000)
    assert "2,000 test images, paired" in paired.basis
    assert "paired" not in unpaired.basis
    assert paired.margin < unpaired.margin
    # the paired term is the variance over images of the seed-averaged difference, over N
    diff = torch.stack(a.test_correct()).float().mean(0) - torch.stack(b.test_correct()).float().mean(0)
    seed_var = a.std("test_acc") ** 2 / 3 + b.std("test_acc") ** 2 / 3
    test_var = diff.var().item() / 2_000
    dof = (seed_var + test_var) ** 2 / sum(
        (s**2 / 3) ** 2 / 2 for s in (a.std("test_acc"), b.std("test_acc"))
    )
    assert paired.margin == pytest.approx(t975(dof) * math.sqrt(seed_var + test_var))


def test_nets_right_on_the_same_images_leave_only_the_seed_spread():
    a = scored([0.80, 0.81, 0.82], shared=0.78)
    b = scored([0.80, 0.81, 0.82], shared=0.78)  # the same seeds: the same images right
    v = compare(a, b, "test_acc")
    seed_var = 2 * a.std("test_acc") ** 2 / 3
    assert "paired" in v.basis and v.margin == pytest.approx(t975(4) * math.sqrt(seed_var))


def test_the_unpaired_margin_stays_where_a_side_was_not_scored_per_image():
    a = scored([0.83, 0.84, 0.835], shared=0.78)
    b = group([(0.5, 0.82), (0.5, 0.825), (0.5, 0.83)])
    with_scores = compare(a, b, "test_acc", test_size=2_000)
    plain = compare(a.finals("test_acc"), b.finals("test_acc"), "test_acc", test_size=2_000)
    assert with_scores.margin == pytest.approx(plain.margin) and "paired" not in with_scores.basis


def test_test_sets_of_other_sizes_are_not_paired():
    a = scored([0.83, 0.84], shared=0.78, images=2_000)
    b = scored([0.82, 0.83], shared=0.78, images=1_000, seed_base=10)
    assert "paired" not in compare(a, b, "test_acc", test_size=2_000).basis


def test_test_error_is_one_minus_accuracy_with_the_same_paired_margin():
    a = scored([0.83, 0.84, 0.835], shared=0.78, name="resnet56")
    b = scored([0.82, 0.825, 0.83], shared=0.78, seed_base=10)
    acc, err = compare(a, b, "test_acc"), compare(a, b, "test_error")
    assert err.difference == pytest.approx(-acc.difference) and err.margin == pytest.approx(acc.margin)
    opposite = {"higher": "lower", "lower": "higher"}
    assert err.word == opposite.get(acc.word, acc.word) and err.better == acc.better


def test_a_log_comparison_compares_orders_of_magnitude_and_says_so():
    """Gradient ratios of 400 to 3,800 across seeds: on the raw scale one large seed sets the
    margin; on log10 the same numbers are three tight values."""
    deep, shallow = [2050.0, 394.0, 3760.0], [6.7, 5.5, 9.1]
    verdict = compare(deep, shallow, "gradient ratio", log=True, a_name="plain56", b_name="resnet56")
    assert verdict.metric == "log10 gradient ratio"
    assert verdict.word == "higher"
    expected = fmean(math.log10(v) for v in deep) - fmean(math.log10(v) for v in shallow)
    assert verdict.difference == pytest.approx(expected)
    assert str(verdict).startswith("log10 gradient ratio: plain56 ")
    with pytest.raises(ValueError, match="positive"):
        compare([1.0, 0.0], [1.0, 2.0], "ratio", log=True)


def test_a_groups_test_error_reads_in_percent_like_its_accuracy():
    group = RunGroup([fake_run(0.5, acc, seed=s) for s, acc in enumerate((0.80, 0.82))])
    assert group.summary("test_acc") == "81.0% ± 1.4"
    assert group.summary("test_error") == "19.0% ± 1.4"


def test_sides_whose_samples_all_agree_are_not_compared_and_say_so():
    v = compare([1.0, 1.0, 1.0], [1.0, 1.0, 1.0], "turns", samples="directions")
    assert v.word == "not compared" and "the directions of each side all give the same value" in v.reason
    one = compare([1.0], [2.0], "turns")
    assert one.word == "not compared" and "one seed per side" in one.reason
