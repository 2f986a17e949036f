"""Answers of an unexpected kind (issue 21): numpy numbers count as numbers, a
NotImplementedError from working code is not "unanswered", in-place writes to inputs are
refused alike everywhere, and answers of the wrong kind get a message, not a TypeError."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from resnet_utils import checks
from resnet_utils.checks.choices import pick

PROJECTION_B = (16 * 32 + 2 * 32) + (32 * 64 + 2 * 64)  # ResNet-56 B over plain-56


@pytest.mark.parametrize("kind", [np.int64, np.int32, np.float64, np.float32], ids=lambda k: k.__name__)
def test_numpy_numbers_are_numbers(kind, capsys):
    assert checks.projection_extra_parameters(kind(PROJECTION_B)) is None
    assert capsys.readouterr().out.startswith("Correct: ")


@pytest.mark.parametrize("kind", [np.float64, np.float32], ids=lambda k: k.__name__)
def test_numpy_floats_are_numbers(kind, capsys):
    assert checks.shortcut_scale_after(kind(0.5**54)) is None  # a power of 2: exact in float32
    assert capsys.readouterr().out.startswith("Correct: 0.5^54")


def test_a_numpy_sum_is_a_count():
    def count(depth):  # what a student who sums an array of per-layer counts returns
        from resnet_utils import build_model, count_parameters

        return np.sum(np.array([count_parameters(build_model(f"plain{depth}"))]))

    checks.plain_parameter_count(count)  # passes, no "should be a number, but it is int64"


def test_not_implemented_in_working_code_is_not_unanswered(capsys):
    class Misspelt(nn.Module):
        def foward(self, x):
            return x

    def forward(x, branch, shortcut):
        return F.relu(branch(x) + Misspelt()(shortcut(x)))

    with pytest.raises(checks.CheckFailed, match=r"raised NotImplementedError in .*def foward"):
        checks.residual_forward(forward)
    assert "Unanswered" not in capsys.readouterr().out


def test_a_bare_raise_in_the_answer_itself_is_still_unanswered(capsys):
    def forward(x, branch, shortcut):
        raise NotImplementedError

    assert checks.residual_forward(forward) is None
    assert capsys.readouterr().out.startswith("Unanswered: residual_forward.")


def _gate_in_place(s, f, logits):
    g = torch.sigmoid(logits)
    s.mul_(1 - g)  # right value, written into the caller's shortcut tensor
    return s + g * f


def _preact_in_place(x, bn1, conv1, bn2, conv2):
    x += conv2(F.relu(bn2(conv1(F.relu(bn1(x))))))
    return x


def _pad_in_place(x, out_channels, stride):
    sub = x[:, :, ::stride, ::stride].clone()
    x.zero_()
    return F.pad(sub, (0, 0, 0, 0, 0, out_channels - x.shape[1]))


def _residual_in_place(x, branch, shortcut):
    out = F.relu(branch(x) + shortcut(x))
    x.zero_()
    return out


@pytest.mark.parametrize(
    "check, answer",
    [
        (checks.exclusive_gate, _gate_in_place),
        (checks.preact_forward, _preact_in_place),
        (checks.zero_pad_shortcut, _pad_in_place),
        (checks.residual_forward, _residual_in_place),
    ],
    ids=["exclusive_gate", "preact_forward", "zero_pad_shortcut", "residual_forward"],
)
def test_in_place_writes_to_inputs_are_refused_alike(check, answer):
    with pytest.raises(checks.CheckFailed, match="in place"):
        check(answer)


def test_answers_of_the_wrong_kind_get_words():
    with pytest.raises(checks.CheckFailed, match="should be a function.*int: 3"):
        checks.residual_forward(3)
    with pytest.raises(checks.CheckFailed, match="should be a function"):
        checks.plain_parameter_count(270_000)
    with pytest.raises(checks.CheckFailed, match=r"one letter, as text \('a'\).*list: \['a'\]"):
        pick(["a"], {"a": "x", "b": "y"}, "a", {})
    shapes = dict.fromkeys(checks.STEM_PARTS, 64)
    with pytest.raises(checks.CheckFailed, match="conv1: give its shape as three whole numbers"):
        checks.imagenet_stem_shapes(shapes)
    with pytest.raises(checks.CheckFailed, match=r'whole number: checks.hint\("deletable", 2\)'):
        checks.hint("deletable", [2])


def test_a_hint_level_given_as_text_is_read(capsys):
    checks.hint("deletable", "2")
    assert capsys.readouterr().out.startswith("Hint 2 of 2 for deletable: ")
