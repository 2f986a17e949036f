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
from resnet_utils.checks.deep_resnets import STEM_PARTS

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
    shapes = dict.fromkeys(STEM_PARTS, 64)
    with pytest.raises(checks.CheckFailed, match="conv1: give its shape as three whole numbers"):
        checks.imagenet_stem_shapes(shapes)
    with pytest.raises(checks.CheckFailed, match=r'whole number: checks.hint\("deletable", 2\)'):
        checks.hint("deletable", [2])


def test_a_hint_level_given_as_text_is_read(capsys):
    checks.hint("deletable", "2")
    assert capsys.readouterr().out.startswith("Hint 2 of 2 for deletable: ")


# --- review round 3, E7 to E39: what the student sees -------------------------------------


def _stem():
    return {
        "conv1": (64, 16, 16),
        "maxpool": (64, 8, 8),
        "layer1": (256, 8, 8),
        "layer2": (512, 4, 4),
        "layer3": (1024, 2, 2),
        "layer4": (2048, 1, 1),
    }


def test_a_count_that_returns_nan_is_told_it_is_not_a_number():
    with pytest.raises(checks.CheckFailed) as failure:
        checks.plain_parameter_count(lambda depth: float("nan"))
    message = str(failure.value)
    assert message.startswith("count(20) should be a number, but it is NaN (not a number")
    assert "off by" not in message and "grow" not in message
    with pytest.raises(checks.CheckFailed, match=r"^your answer should be a number, but it is NaN"):
        checks.shortcut_scale_after(torch.tensor(float("nan")))
    with pytest.raises(
        checks.CheckFailed, match=r"^your count should be a finite number, but it is inf"
    ):
        checks.bottleneck_parameters(lambda i, w, s: float("inf"))


def _plain_count(depth):
    from resnet_utils import build_model, count_parameters

    return count_parameters(build_model(f"plain{depth}"))


@pytest.mark.parametrize(
    "wrap",
    [
        np.array,
        lambda n: np.array([n]),
        lambda n: np.array([[n]]),
        torch.tensor,
        lambda n: torch.tensor([n]),
    ],
    ids=["0-d array", "1-element array", "1x1 array", "0-d tensor", "1-element tensor"],
)
def test_a_number_held_in_a_one_element_array_or_tensor_is_that_number(wrap, capsys):
    checks.projection_extra_parameters(wrap(PROJECTION_B))
    checks.plain_parameter_count(lambda depth: wrap(_plain_count(depth)))
    out = capsys.readouterr().out.splitlines()
    assert [line.split(":")[0] for line in out] == ["Correct", "Correct"], out


def test_several_numbers_or_a_yes_are_still_not_a_number():
    with pytest.raises(
        checks.CheckFailed, match=r"should be a number, but it is ndarray: array\(\[2752,"
    ):
        checks.projection_extra_parameters(np.array([2752, 1]))
    with pytest.raises(
        checks.CheckFailed, match=r"should be a number, but it is ndarray: array\(\[ True\]\)"
    ):
        checks.projection_extra_parameters(np.array([True]))


@pytest.mark.parametrize(
    "check, answer, says",
    [
        (
            checks.plain_parameter_count,
            lambda: 5,
            "your function should take 1 argument: the check calls it as count(depth), but "
            "yours takes ().",
        ),
        (
            checks.residual_forward,
            lambda x, f: x,
            "your function should take 3 arguments: the check calls it as forward(x, branch, "
            "shortcut), but yours takes (x, f).",
        ),
        (
            checks.bottleneck_parameters,
            lambda in_channels, width, stride, *, expansion: 0,
            "your function should take 3 arguments: the check calls it as count(in_channels, "
            "width, stride), but yours takes (in_channels, width, stride, *, expansion).",
        ),
    ],
    ids=["no argument", "too few", "a keyword without default"],
)
def test_a_function_that_takes_other_arguments_is_told_how_it_is_called(check, answer, says):
    with pytest.raises(checks.CheckFailed) as failure:
        check(answer)
    assert str(failure.value) == says


def test_a_function_with_defaults_or_star_args_is_called_as_usual(capsys):
    checks.plain_parameter_count(lambda depth, classes=10: _plain_count(depth))
    checks.plain_parameter_count(lambda *args: _plain_count(args[0]))
    assert capsys.readouterr().out.count("Correct: ") == 2


def test_a_type_error_inside_the_answer_stays_the_students_own():
    def count(depth):
        return len(depth)  # the student's own slip, raised once it runs

    with pytest.raises(TypeError, match="has no len"):
        checks.plain_parameter_count(count)


@pytest.mark.parametrize(
    "wrap",
    [np.array, torch.tensor, torch.Size, list, tuple, lambda v: np.array(v, dtype=np.float32)],
    ids=["ndarray", "tensor", "torch.Size", "list", "tuple", "float32 array"],
)
def test_stem_shapes_are_read_from_any_sequence_of_three_whole_numbers(wrap, capsys):
    checks.imagenet_stem_shapes({part: wrap(shape) for part, shape in _stem().items()})
    assert capsys.readouterr().out.startswith("Correct: on 32x32 the ImageNet stem")


@pytest.mark.parametrize(
    "conv1",
    [(64, 16.5, 16), np.array([[64, 16, 16]]), (64, 16), (True, 16, 16), "64x16x16"],
    ids=["a fraction", "a 2-d array", "two numbers", "a bool", "text"],
)
def test_stem_shapes_that_are_not_three_whole_numbers_are_refused(conv1):
    with pytest.raises(checks.CheckFailed, match="conv1: give its shape as three whole numbers"):
        checks.imagenet_stem_shapes({**_stem(), "conv1": conv1})


def test_a_wrong_stem_shape_as_an_array_is_compared_not_refused():
    with pytest.raises(checks.CheckFailed, match="maxpool: you said 64x16x16, it is 64x8x8"):
        checks.imagenet_stem_shapes({**_stem(), "maxpool": np.array([64, 16, 16])})


def test_a_class_given_for_a_function_is_named_a_class():
    from resnet_utils.models import BasicBlock

    with pytest.raises(checks.CheckFailed) as failure:
        checks.residual_forward(BasicBlock)
    assert str(failure.value) == (
        "your answer should be a function (def ...: give its name, without calling it), but it "
        "is a class, BasicBlock; the check calls a function as forward(x, branch, shortcut)."
    )


def test_a_module_whose_forward_takes_other_arguments_is_told_so():
    from resnet_utils.models import BasicBlock

    with pytest.raises(
        checks.CheckFailed, match=r"module should take 3 arguments.*its forward takes \(x\)\."
    ):
        checks.residual_forward(BasicBlock(16, 16))


def _norms_then_a_step(model, images, labels):
    model.train()
    model.zero_grad()
    F.cross_entropy(model(images), labels).backward()
    norms = [
        m.weight.grad.norm().item() for m in model.modules() if isinstance(m, (nn.Conv2d, nn.Linear))
    ]
    torch.optim.SGD(model.parameters(), lr=1).step()  # right norms, but the net is trained
    return norms


def test_a_measurement_that_trains_the_net_is_refused():
    with pytest.raises(checks.CheckFailed) as failure:
        checks.weight_gradient_norms(_norms_then_a_step)
    assert str(failure.value).startswith(
        "your function changed the weights of the net it measures (conv1.weight and "
    )
    assert "a measurement must not train the net" in str(failure.value)


def test_gradient_norms_as_a_numpy_array_are_a_list_of_numbers(capsys):
    from resnet_utils.measure.gradients import gradient_norms

    checks.weight_gradient_norms(lambda m, x, y: np.array(gradient_norms(m, x, y)))
    assert capsys.readouterr().out.startswith("Correct: 20 norms")
