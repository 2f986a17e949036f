"""The exercise checks: typical wrong answers fail with a message that names the mistake.

(That every notebook solution passes and every student stub fails is in test_exercises.py.)
"""

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from resnet_utils import checks

# --- answers that are wrong in a typical way ---------------------------------------------


def _plain_count(
    depth, *, bn=True, conv_bias=False, fc_bias=True, first_conv_own_width=False, block_bn=(0, 1, 2)
):
    n = (depth - 2) // 6

    def conv(cin, cout, with_bn=True):
        return cin * cout * 9 + (2 * cout if bn and with_bn else 0) + (cout if conv_bias else 0)

    total, cin = conv(3, 16), 16
    for stage, width in enumerate((16, 32, 64)):
        for _ in range(n):
            with_bn = stage in block_bn
            total += conv(width if first_conv_own_width else cin, width, with_bn)
            total += conv(width, width, with_bn)
            cin = width
    return total + 640 + (10 if fc_bias else 0)


def _norms(
    model,
    images,
    labels,
    *,
    keep=lambda m: isinstance(m, (nn.Conv2d, nn.Linear)),
    reverse=False,
    zero=True,
    of_weights=False,
    mode="train",
):
    getattr(model, mode)()
    if zero:
        model.zero_grad()
    F.cross_entropy(model(images), labels).backward()
    tensors = [m.weight for m in model.modules() if keep(m)]
    norms = [(t if of_weights else t.grad).norm().item() for t in tensors]
    return norms[::-1] if reverse else norms


def _all_parameter_norms(model, images, labels):
    model.zero_grad()
    F.cross_entropy(model(images), labels).backward()
    return [p.grad.norm().item() for p in model.parameters()]


def _shortcut_in_place(x, branch, shortcut):
    s = shortcut(x)
    s += branch(x)  # with an identity shortcut, s is x: this overwrites the input
    return torch.relu(s)


def _bottleneck(in_channels, width, stride, *, projection=True, bn=True):
    out = 4 * width
    bn_count = (2 * width + 2 * width + 2 * out) if bn else 0
    total = in_channels * width + width * width * 9 + width * out + bn_count
    if projection and (stride != 1 or in_channels != out):
        total += in_channels * out + 2 * out
    return total


STEM = {
    "conv1": (64, 16, 16),
    "maxpool": (64, 8, 8),
    "layer1": (256, 8, 8),
    "layer2": (512, 4, 4),
    "layer3": (1024, 2, 2),
    "layer4": (2048, 1, 1),
}

WRONG = {
    "plain count without BN": (
        checks.plain_parameter_count,
        lambda d: _plain_count(d, bn=False),
        "left out BatchNorm",
    ),
    "plain count with conv biases": (
        checks.plain_parameter_count,
        lambda d: _plain_count(d, conv_bias=True),
        "bias",
    ),
    "plain count, first conv of a stage": (
        checks.plain_parameter_count,
        lambda d: _plain_count(d, first_conv_own_width=True),
        "previous stage's channels",
    ),
    "plain count without the blocks' BN": (
        checks.plain_parameter_count,
        lambda d: _plain_count(d, block_bn=()),
        "off by -64 per block in stage 1 (16 channels), -128 per block in stage 2 (32 channels), "
        "-256 per block in stage 3 (64 channels). Likely: the BatchNorms inside the blocks",
    ),
    "plain count without BN in stage 3's blocks": (
        checks.plain_parameter_count,
        lambda d: _plain_count(d, block_bn=(0, 1)),
        "off by -256 per block in stage 3 (64 channels). Likely: the BatchNorms",
    ),
    "plain count, an error that grows with depth but names no slip": (
        checks.plain_parameter_count,
        lambda d: _plain_count(d) + 5 * (d - 2) // 6,
        "changes your error by +5. The blocks of the three stages differ",
    ),
    "plain count, constant error": (
        checks.plain_parameter_count,
        lambda d: _plain_count(d) + 7,
        "same at every depth",
    ),
    "norms reversed": (
        checks.weight_gradient_norms,
        lambda *a: _norms(*a, reverse=True),
        "reverse order",
    ),
    "norms of weights": (
        checks.weight_gradient_norms,
        lambda *a: _norms(*a, of_weights=True),
        "norms of the weights",
    ),
    "norms of every tensor": (
        checks.weight_gradient_norms,
        _all_parameter_norms,
        "every parameter tensor",
    ),
    "norms accumulate": (
        checks.weight_gradient_norms,
        lambda *a: _norms(*a, zero=False),
        "twice the norms",
    ),
    "norms in eval mode": (
        checks.weight_gradient_norms,
        lambda *a: _norms(*a, mode="eval"),
        "eval mode",
    ),
    "forward without final relu": (
        checks.residual_forward,
        lambda x, f, s: f(x) + s(x),
        "no ReLU after the addition",
    ),
    "forward without shortcut": (
        checks.residual_forward,
        lambda x, f, s: torch.relu(f(x)),
        "shortcut is missing",
    ),
    "forward relu before add": (
        checks.residual_forward,
        lambda x, f, s: torch.relu(f(x)) + s(x),
        "before the addition",
    ),
    "forward adds x itself": (
        checks.residual_forward,
        lambda x, f, s: torch.relu(f(x) + x),
        "shortcut(x) is what brings",
    ),
    "forward overwrites x": (checks.residual_forward, _shortcut_in_place, "in place"),
    "shortcut returns x": (
        checks.zero_pad_shortcut,
        lambda x, c, s: x,
        "the block's branch gives 32x16x16, but your shortcut returns 16x32x32",
    ),
    "shortcut not padded": (
        checks.zero_pad_shortcut,
        lambda x, c, s: x[:, :, ::s, ::s],
        "pad the channels with zeros",
    ),
    "shortcut odd pixels": (
        checks.zero_pad_shortcut,
        lambda x, c, s: F.pad(x[:, :, s - 1 :: s, s - 1 :: s], (0, 0, 0, 0, 0, c - x.shape[1])),
        "odd pixels",
    ),
    "shortcut averages": (
        checks.zero_pad_shortcut,
        lambda x, c, s: F.pad(F.avg_pool2d(x, s), (0, 0, 0, 0, 0, c - x.shape[1])),
        "averaged",
    ),
    "shortcut pads with ones": (
        checks.zero_pad_shortcut,
        lambda x, c, s: F.pad(x[:, :, ::s, ::s], (0, 0, 0, 0, 0, c - x.shape[1]), value=1.0),
        "zeros in the other",
    ),
    "projection without BN": (checks.projection_extra_parameters, 16 * 32 + 32 * 64, "BatchNorm"),
    "projection option A": (checks.projection_extra_parameters, 0, "option A"),
    "projection everywhere": (checks.projection_extra_parameters, 27 * 16 * 16, "2 of the 27 blocks"),
    "ratio over the batch": (
        checks.branch_to_shortcut_ratio,
        lambda b, x: (b.residual(x).norm() / b.shortcut(x).norm()).item(),
        "whole batch",
    ),
    "ratio upside down": (
        checks.branch_to_shortcut_ratio,
        lambda b, x: (
            b.shortcut(x).flatten(1).norm(dim=1) / b.residual(x).flatten(1).norm(dim=1)
        ).mean(),
        "upside down",
    ),
    "ratio of the block output": (
        checks.branch_to_shortcut_ratio,
        lambda b, x: (b(x).flatten(1).norm(dim=1) / b.shortcut(x).flatten(1).norm(dim=1)).mean(),
        "block.residual(x)",
    ),
    "deletable: every block": (
        checks.deletable,
        lambda m: [n for n, b in m.named_modules() if n.count(".") == 1],
        "changes the shape (16x32x32 in",
    ),
    "deletable: only stage 1": (
        checks.deletable,
        lambda m: [n for n, b in m.named_modules() if n.startswith("layer1.") and n.count(".") == 1],
        "left out 4 blocks, e.g. layer2.1 (32x16x16 in, 32x16x16 out)",
    ),
    "bottleneck without projection": (
        checks.bottleneck_parameters,
        lambda i, w, s: _bottleneck(i, w, s, projection=False),
        "needs a projection shortcut (1x1 conv 64 -> 256",
    ),
    "bottleneck without BN": (
        checks.bottleneck_parameters,
        lambda i, w, s: _bottleneck(i, w, s, bn=False),
        "BatchNorms",
    ),
    "bottleneck projection always": (
        checks.bottleneck_parameters,
        lambda i, w, s: _bottleneck(i, w, s) + (i * 4 * w + 8 * w if i == 4 * w and s == 1 else 0),
        "has no projection",
    ),
    "stem without maxpool": (
        checks.imagenet_stem_shapes,
        {**STEM, "maxpool": (64, 16, 16)},
        "maxpool: you said 64x16x16, it is 64x8x8",
    ),
    "stem without expansion": (checks.imagenet_stem_shapes, {**STEM, "layer1": (64, 8, 8)}, "4 x width"),
    "stem, missing part": (
        checks.imagenet_stem_shapes,
        {k: v for k, v in STEM.items() if k != "layer4"},
        "no entry for ['layer4']",
    ),
    "gate without sigmoid": (checks.exclusive_gate, lambda s, f, g: (1 - g) * s + g * f, "sigmoid"),
    "gate swapped": (
        checks.exclusive_gate,
        lambda s, f, g: torch.sigmoid(g) * s + (1 - torch.sigmoid(g)) * f,
        "swapped",
    ),
    "gate shortcut-only": (
        checks.exclusive_gate,
        lambda s, f, g: (1 - torch.sigmoid(g)) * s + f,
        "shortcut-only",
    ),
    "preact relu after add": (
        checks.preact_forward,
        lambda x, b1, c1, b2, c2: torch.relu(x + c2(torch.relu(b2(c1(torch.relu(b1(x))))))),
        "nothing comes after the addition",
    ),
    "preact without first bn": (
        checks.preact_forward,
        lambda x, b1, c1, b2, c2: x + c2(torch.relu(b2(c1(x)))),
        "starts with BN",
    ),
    "preact without shortcut": (
        checks.preact_forward,
        lambda x, b1, c1, b2, c2: c2(torch.relu(b2(c1(torch.relu(b1(x)))))),
        "add x",
    ),
    "scale times blocks": (checks.shortcut_scale_after, 0.5 * 54, "not 0.5 x 54"),
    "scale per layer": (checks.shortcut_scale_after, 0.5**110, "54 blocks"),
}


@pytest.mark.parametrize("case", WRONG, ids=str)
def test_a_typical_wrong_answer_fails_with_a_message_that_names_it(case):
    check, answer, says = WRONG[case]
    with pytest.raises(checks.CheckFailed) as failure:
        check(answer)
    assert says in str(failure.value)


def test_a_stub_is_reported_unanswered_in_one_line_with_its_first_hint(capsys):
    def stub(x, branch, shortcut):
        raise NotImplementedError("Your turn: ...")

    assert checks.residual_forward(stub) is None
    assert checks.projection_extra_parameters(...) is None
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 2
    assert lines[0].startswith(
        "Unanswered: residual_forward. Hint: " + checks.HINTS["residual_forward"][0]
    )
    assert lines[1].endswith('More: checks.hint("projection_extra_parameters", 2).')


def test_the_unanswered_line_ends_the_hint_before_it_says_more(capsys):
    checks.plain_parameter_count(...)
    checks.residual_forward(...)  # its first hint is a question: it keeps its question mark
    first, second = capsys.readouterr().out.splitlines()
    assert first == (
        "Unanswered: plain_parameter_count. Hint: count one conv with its BatchNorm first (its "
        "weights, then a scale and a shift per output channel), then how many convs of each "
        'width the net has. More: checks.hint("plain_parameter_count", 2).'
    )
    assert second.endswith('where does the last ReLU sit? More: checks.hint("residual_forward", 2).')


@pytest.mark.parametrize("name", sorted(checks.HINTS))
def test_every_unanswered_line_runs_no_hint_into_the_next_sentence(name, capsys):
    from resnet_utils.checks.common import unanswered

    unanswered(name)
    line = capsys.readouterr().out.strip()
    before_more = line.split(" More: ")[0]
    assert before_more.endswith((".", "?")), line


def test_hints_come_in_steps_and_the_last_points_to_the_teacher_copy(capsys):
    checks.hint("deletable", 1)
    checks.hint("deletable", 2)
    checks.hint("deletable", 3)
    first, second, beyond = capsys.readouterr().out.splitlines()
    assert first == (
        "Hint 1 of 2 for deletable: a block can go when its output has the shape of its input. "
        'Next: checks.hint("deletable", 2).'
    )
    assert second == "Hint 2 of 2 for deletable: " + checks.HINTS["deletable"][1] + "."
    assert "teacher's copy" in beyond
    with pytest.raises(checks.CheckFailed, match="no exercise 'deleteable'.*deletable"):
        checks.hint("deleteable")


def test_every_registered_exercise_is_exported():
    assert len(checks.EXERCISES) == len(checks.HINTS)
    for name in checks.HINTS:
        assert name in checks.__all__ and getattr(checks, name) is checks.EXERCISES[name], name


def test_every_exercise_has_a_nudge_and_a_second_hint_that_differ():
    assert len(checks.HINTS) >= 12
    for name, hints in checks.HINTS.items():
        assert len(hints) >= 2 and len(set(hints)) == len(hints), name


def test_a_wrong_type_is_named():
    with pytest.raises(checks.CheckFailed, match="should return a tensor, but it returned NoneType"):
        checks.residual_forward(lambda x, f, s: None)
    with pytest.raises(checks.CheckFailed, match="should be a number"):
        checks.projection_extra_parameters("2752")


def test_ipython_shows_the_message_without_a_traceback():
    lines = checks.CheckFailed("first line\nsecond line")._render_traceback_()
    assert lines == ["Not yet: first line", "second line"]


def test_a_right_answer_prints_what_was_verified(capsys):
    assert checks.shortcut_scale_after(0.5**54) is None
    assert capsys.readouterr().out.startswith("Correct: 0.5^54 = 5.55e-17")
