"""Predictions and interpretation exercises: the right choice comes from the measurements,
a wrong pick or an invalid prediction fails in words, an empty one is skipped in one line."""

import pytest
import torch
from fakes import fake_run

from resnet_utils import checks
from resnet_utils.report.verdicts import compare
from resnet_utils.training.groups import RunGroup


def _group(name, losses, accs=None):
    accs = accs or [0.6] * len(losses)
    runs = [fake_run(loss, a, seed=s, name=name) for s, (loss, a) in enumerate(zip(losses, accs))]
    return RunGroup(runs)


DEEP_WORSE = _group("plain56", [1.50, 1.52, 1.49]), _group("plain20", [1.20, 1.22, 1.21])
MIXED = _group("plain56", [1.50, 1.10, 1.49]), _group("plain20", [1.20, 1.22, 1.21])


def test_a_prediction_is_recorded_and_a_typo_is_refused(capsys):
    checks.predict("plain56", ["plain20", "plain56", "within noise"])
    checks.predict(None, ["plain20", "plain56"])
    recorded, skipped = capsys.readouterr().out.splitlines()
    assert recorded.startswith("Prediction recorded: plain56")
    assert skipped.startswith("No prediction made")
    with pytest.raises(
        checks.CheckFailed, match="predict one of 'plain20', 'plain56'; you wrote 'plain-56'"
    ):
        checks.predict("plain-56", ["plain20", "plain56"])


def test_the_reveal_puts_the_prediction_beside_the_measured_verdict(capsys):
    verdict = compare(*DEEP_WORSE, "train_loss")
    assert checks.outcome_of(verdict) == "plain20"  # the lower training loss is the better side
    checks.reveal("plain56", checks.outcome_of(verdict), str(verdict))
    checks.reveal("plain20", checks.outcome_of(verdict), str(verdict))
    checks.reveal(None, checks.outcome_of(verdict), str(verdict))
    wrong, right, none = capsys.readouterr().out.splitlines()
    assert wrong.startswith("You predicted plain56; measured: plain20. Not what you predicted")
    assert right.startswith("You predicted plain20; measured: plain20. As you predicted.")
    assert none.startswith("No prediction to compare (prediction = None). Measured: plain20.")
    assert str(verdict) in wrong


def test_an_untrained_net_gives_no_outcome_to_predict(capsys):
    untrained = _group("plain56", [2.30, 2.29, 2.31])
    verdict = compare(untrained, DEEP_WORSE[1], "train_loss")
    assert checks.outcome_of(verdict) is None
    checks.reveal("plain20", None, str(verdict))
    assert "this run gives no verdict" in capsys.readouterr().out


@pytest.mark.parametrize(
    "groups, right, wrong, says",
    [
        (DEEP_WORSE, "a", "b", "higher on 3, lower on 0 and within the noise on 0 of 3 seeds"),
        (MIXED, "e", "a", "higher on 2, lower on 1 and within the noise on 0 of 3 seeds (seed 0: "),
    ],
)
def test_seed_agreement_is_read_from_the_per_seed_numbers(groups, right, wrong, says, capsys):
    checks.deep_loss_on_every_seed(right, *groups)
    assert capsys.readouterr().out.startswith(f"Correct: ({right})")
    with pytest.raises(checks.CheckFailed) as failure:
        checks.deep_loss_on_every_seed(wrong, *groups)
    assert f"({wrong}) is not what the numbers say" in str(failure.value)
    assert says in str(failure.value)


def test_seeds_are_paired_by_seed_not_by_position():
    a = RunGroup(
        [
            fake_run(1.5, 0.6, seed=0),
            fake_run(2.2, 0.1, seed=1, diverged=True),
            fake_run(1.0, 0.6, seed=2),
        ]
    )
    b = _group("plain20", [1.2, 1.2, 1.2])
    assert [s for s, _, _ in checks.per_seed(a, b, "train_loss")] == [0, 2]
    checks.deep_loss_on_every_seed("e", a, b)  # seed 0 higher, seed 2 lower


def test_a_choice_must_be_one_of_the_letters_and_an_empty_one_is_unanswered(capsys):
    with pytest.raises(
        checks.CheckFailed, match="answer with one letter of 'a', 'b', 'c', 'd', 'e'; you gave 'yes'"
    ):
        checks.residual_loss_on_every_seed("yes", *DEEP_WORSE)
    checks.residual_loss_on_every_seed(..., *DEEP_WORSE)
    assert capsys.readouterr().out.startswith("Unanswered: residual_loss_on_every_seed. Hint: ")


def test_the_lesion_reading_follows_the_verdict_word():
    shares = [0.10, 0.12, 0.11], [0.50, 0.55, 0.52]
    verdict = compare(*shares, "share lost to chance", a_name="ResNet-56", b_name="plain-56")
    checks.lesion_reading("a", verdict)
    with pytest.raises(checks.CheckFailed, match="The verdict reads: share lost to chance"):
        checks.lesion_reading("c", verdict)
    checks.lesion_reading("d", None)
    with pytest.raises(checks.CheckFailed, match="printed no lesion verdict"):
        checks.lesion_reading("a", None)


def test_the_stride_placement_is_computed_from_the_nets():
    checks.stride_placement("a")
    with pytest.raises(checks.CheckFailed, match=r"v1: ResNet-50 3\.86 G"):
        checks.stride_placement("b")


def test_the_seed_reading_says_when_a_net_has_not_learned_enough_to_be_ranked(capsys):
    untrained = _group("plain56", [2.30, 2.29, 2.31])
    checks.deep_loss_on_every_seed("a", untrained, DEEP_WORSE[1])
    assert "Mind: plain56 has not trained enough to be ranked" in capsys.readouterr().out


def _acc_group(accs, name):
    return RunGroup([fake_run(1.0, a, seed=s, name=name) for s, a in enumerate(accs)])


def test_wins_of_a_few_test_images_are_within_the_test_sets_noise(capsys):
    # 2,000 test images: 3 and 1 images are 0.15 and 0.05 points; the band at 60% is 3.0 points
    assert checks.accuracy_band(0.6, 0.6, 2000) == pytest.approx(1.96 * (2 * 0.24 / 2000) ** 0.5)
    original = _acc_group([0.6000, 0.6000, 0.6000], "original")
    tiny = _acc_group([0.6015, 0.6005, 0.6010], "preact")
    checks.preact_on_every_seed("d", tiny, original, test_size=2000)
    assert "within the test set's noise (2,000 images) on 3 of 3 seeds" in capsys.readouterr().out
    with pytest.raises(checks.CheckFailed, match=r"\(a\) is not what the numbers say"):
        checks.preact_on_every_seed("a", tiny, original, test_size=2000)
    one_clear = _acc_group([0.6500, 0.6015, 0.6005], "preact")
    checks.preact_on_every_seed("b", one_clear, original, test_size=2000)
    assert "higher on 1, lower on 0 and within" in capsys.readouterr().out
    checks.preact_on_every_seed("a", _acc_group([0.65, 0.66, 0.64], "preact"), original, test_size=2000)
    # without a test-set size there is no band: any difference is a win
    checks.preact_on_every_seed("a", tiny, original)


def test_within_the_noise_contradicts_no_seed_beyond_it_and_opposite_directions_disagree(capsys):
    """He et al.'s full pre-activation against the original on three seeds: +1.6, +4.3 and
    +1.7 points against a band of about 3.0 (2,000 test images) is one seed beyond the noise
    and two within it, all the same way: (b), not "the seeds disagree" (e)."""
    original = _acc_group([0.371, 0.359, 0.360], "original")
    preact = _acc_group([0.387, 0.402, 0.377], "preact")
    bands = checks.choices.accuracy_bands(preact, original, 2000)
    assert sorted(bands) == [0, 1, 2] and all(0.029 < b < 0.031 for b in bands.values())
    assert checks.choices.seed_agreement(preact, original, "test_acc", bands) == "b"
    checks.preact_on_every_seed("b", preact, original, test_size=2000)
    assert "higher on 1, lower on 0 and within" in capsys.readouterr().out
    with pytest.raises(checks.CheckFailed, match="contradicts none beyond it") as failure:
        checks.preact_on_every_seed("e", preact, original, test_size=2000)
    assert "seed 1: full pre-activation 40.2%, original 35.9% (difference +4.3 points" in str(
        failure.value
    )
    with pytest.raises(
        checks.CheckFailed, match="needs every seed higher, beyond the noise: here 1 of 3"
    ):
        checks.preact_on_every_seed("a", preact, original, test_size=2000)
    opposite = _acc_group([0.420, 0.300, 0.361], "preact")  # +4.9, -5.9, +0.1 points
    assert checks.choices.seed_agreement(opposite, original, "test_acc", bands) == "e"
    with pytest.raises(checks.CheckFailed, match="opposite directions"):
        checks.preact_on_every_seed("b", opposite, original, test_size=2000)
    lower = _acc_group([0.330, 0.320, 0.321], "preact")
    assert checks.choices.seed_agreement(lower, original, "test_acc", bands) == "c"
    assert checks.choices.seed_agreement(original, original, "test_acc", bands) == "d"
    nothing_in_common = RunGroup([fake_run(1.0, 0.6, seed=7, name="preact")])
    assert checks.choices.seed_agreement(nothing_in_common, original, "test_acc") is None


def test_the_loss_band_comes_from_each_seeds_per_image_spread_and_the_image_count():
    import torch

    from resnet_utils import build_model
    from resnet_utils.training.runs import Run

    images = torch.randn(32, 3, 32, 32, generator=torch.Generator().manual_seed(0))
    labels = torch.arange(32) % 10

    def group(losses, name):
        runs = []
        for s, loss in enumerate(losses):
            torch.manual_seed(s)
            run = fake_run(loss, 0.6, seed=s, name=name)
            runs.append(Run(name, run.spec, run.history, build_model("plain8"), from_cache=True))
        return RunGroup(runs)

    deep, shallow = group([1.52, 1.51, 1.53], "plain56"), group([1.50, 1.50, 1.50], "plain20")
    bands = checks.loss_bands(deep, shallow, (images, labels), 10_000)
    assert sorted(bands) == [0, 1, 2]
    spread = checks.choices.per_image_loss_std(deep.runs[0].model, images, labels)
    other = checks.choices.per_image_loss_std(shallow.runs[0].model, images, labels)
    assert spread > 0
    assert bands[0] == pytest.approx(1.96 * ((spread**2 + other**2) / 10_000) ** 0.5)
    # differences of 0.01 to 0.03: within the noise of a mean over 2 images, beyond that of a
    # billion (the deeper net's loss is then higher on every seed)
    assert min(checks.loss_bands(deep, shallow, (images, labels), 2).values()) > 0.03
    checks.deep_loss_on_every_seed("d", deep, shallow, (images, labels), 2)
    assert max(checks.loss_bands(deep, shallow, (images, labels), 10**9).values()) < 0.01
    checks.deep_loss_on_every_seed("a", deep, shallow, (images, labels), 10**9)


def test_measuring_the_loss_spread_leaves_the_net_as_it_was():
    import torch

    from resnet_utils import build_model

    model = build_model("plain8").eval()
    images = torch.randn(16, 3, 32, 32, generator=torch.Generator().manual_seed(0))
    before = {k: v.clone() for k, v in model.state_dict().items()}
    spread = checks.choices.per_image_loss_std(model, images, torch.arange(16) % 10)
    assert spread > 0 and not model.training
    after = model.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)
    assert [m.momentum for m in model.modules() if isinstance(m, torch.nn.BatchNorm2d)][0] == 0.1


def test_a_seeds_accuracy_band_is_paired_where_both_runs_were_scored_image_by_image():
    """compare's margin pairs the test-set term; the per-seed band does too: two nets that get
    mostly the same images right differ by far less noise than two independent test sets."""
    torch.manual_seed(0)
    right = torch.rand(2000) < 0.37
    changed = torch.rand(2000) < 0.05  # the other net differs from it on 5% of the images
    original = _acc_group([right.float().mean().item()], "original")
    preact = _acc_group([(right ^ changed).float().mean().item()], "preact")
    original.finished[0].test_correct, preact.finished[0].test_correct = right, right ^ changed
    (paired,) = checks.choices.accuracy_bands(preact, original, 2000).values()
    x, y = preact.finished[0].final("test_acc"), original.finished[0].final("test_acc")
    assert paired < 0.5 * checks.choices.accuracy_band(x, y, 2000)
    assert paired == pytest.approx(
        1.96 * ((right ^ changed).float() - right.float()).var().item() ** 0.5 / 2000**0.5
    )
