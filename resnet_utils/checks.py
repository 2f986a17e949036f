"""Checks for the notebooks' "Your turn" exercises.

Each check runs the student's answer on cases it builds itself and either prints what was
verified or raises :class:`CheckFailed` with what is wrong, in words: the shapes, the numbers
and the likely mistake. In a notebook only that message shows, not a traceback.

A stub that still raises ``NotImplementedError`` is left to raise: its message is the hint.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import torch
import torch.nn.functional as F
from torch import nn

from .analysis import gradient_norms, stage_shapes
from .inspect_blocks import _eval_mode, _hooks, blocks, deletable_blocks
from .models import (
    BasicBlock,
    Bottleneck,
    Variant,
    ZeroPadShortcut,
    build_model,
    count_parameters,
    weighted_layers,
)
from .models.cifar import blocks_per_stage


class CheckFailed(AssertionError):
    """A wrong answer, explained. IPython shows only the message (``_render_traceback_``)."""

    def _render_traceback_(self) -> list[str]:
        return ["Not yet: " + line if i == 0 else line for i, line in enumerate(str(self).splitlines())]


def _passed(message: str) -> None:
    """Print what was verified (and return nothing, so a notebook shows no stray ``True``)."""
    print("Correct: " + message)


def _shape(t: torch.Tensor | Sequence[int]) -> str:
    """'16x32x32': a feature map's shape without the batch dimension."""
    dims = t.shape[1:] if isinstance(t, torch.Tensor) else t
    return "x".join(str(d) for d in dims)


def _same(a, b, tol: float = 1e-5) -> bool:
    return (
        isinstance(a, torch.Tensor)
        and a.shape == b.shape
        and torch.allclose(a.float(), b.float(), rtol=tol, atol=tol)
    )


def _tensor(answer, what: str) -> torch.Tensor:
    if not isinstance(answer, torch.Tensor):
        raise CheckFailed(f"{what} should return a tensor, but it returned {type(answer).__name__}.")
    return answer


def _number(answer, what: str) -> float:
    if isinstance(answer, torch.Tensor) and answer.numel() == 1:
        answer = answer.item()
    if isinstance(answer, bool) or not isinstance(answer, (int, float)):
        raise CheckFailed(f"{what} should be a number, but it is {type(answer).__name__}: {answer!r}.")
    return answer


def _bn_parameters(model: nn.Module) -> int:
    return sum(count_parameters(m) for m in model.modules() if isinstance(m, nn.BatchNorm2d))


def _conv_outputs(model: nn.Module) -> int:
    """What biases on every conv would add: one per output channel."""
    return sum(m.out_channels for m in model.modules() if isinstance(m, nn.Conv2d))


# --- notebook 1 -------------------------------------------------------------------------


def plain_parameter_count(count: Callable[[int], int]) -> None:
    """``count(depth)``: the parameters of plainN (BatchNorm, no conv biases, 10 classes)."""
    depths = (20, 56, 110)
    counts, errors = {}, {}
    for depth in depths:
        model = build_model(f"plain{depth}")
        expected, got = count_parameters(model), _number(count(depth), f"count({depth})")
        counts[depth] = expected
        if got == expected:
            continue
        diff = errors[depth] = got - expected
        known = {
            -_bn_parameters(model): "you left out BatchNorm: each BN layer has 2 parameters per "
            "channel (a scale and a shift)",
            _conv_outputs(model): "you gave every conv a bias; a conv followed by BatchNorm has "
            "none (BN's shift does that job)",
            -10: "the linear layer has a bias too: 64 x 10 weights and 10 biases",
            -650: "you left out the final linear layer (64 x 10 weights + 10 biases)",
            -(3 * 16 * 9 + 32): "you left out the first conv (3 -> 16 channels, 3x3) and its BN",
            (32 - 16) * 32 * 9 + (64 - 32) * 64 * 9: "the first conv of stages 2 and 3 takes "
            "the previous stage's channels (16 -> 32 and 32 -> 64), not its own",
        }
        if diff in known:
            raise CheckFailed(
                f"plain-{depth} has {expected:,} parameters; you counted {got:,} ({diff:+,}).\n"
                f"Likely: {known[diff]}."
            )
    if not errors:
        return _passed(
            "your formula gives "
            + ", ".join(f"plain-{d}: {n:,}" for d, n in counts.items())
            + ", exactly what build_model builds."
        )
    lines = [f"plain-{d}: off by {e:+,}" for d, e in errors.items()]
    if len(errors) == len(depths):
        (d1, e1), (d2, e2) = list(errors.items())[:2]
        per_block = (e2 - e1) / (3 * (blocks_per_stage(d2) - blocks_per_stage(d1)))
        lines.append(
            f"The error changes by {per_block:+,.0f} per block: count one block of each stage again."
            if per_block
            else "The error is the same at every depth: check the parts outside the blocks "
            "(first conv, its BN, the linear layer)."
        )
    raise CheckFailed("\n".join(lines))


def weight_gradient_norms(norms_of: Callable) -> None:
    """``norms_of(model, images, labels)``: one gradient norm per weighted layer, input first."""
    torch.manual_seed(0)
    model = build_model("plain20")
    images, labels = torch.randn(16, 3, 32, 32), torch.randint(0, 10, (16,))
    expected = gradient_norms(model, images, labels)  # leaves the gradients cleared
    got = norms_of(model, images, labels)
    if isinstance(got, torch.Tensor):
        got = got.tolist()
    if not isinstance(got, (list, tuple)):
        raise CheckFailed(f"return a list of numbers, one per layer; you returned {type(got).__name__}.")
    got = [_number(g, "each norm") for g in got]
    if len(got) != len(expected):
        every = sum(1 for p in model.parameters())
        hint = (
            "you took every parameter tensor (BN scales and shifts, biases too): keep the conv and "
            "linear weights (resnet_utils.weighted_layers lists them)"
            if len(got) == every
            else "plain-20 has 19 convs and 1 linear layer: one norm each"
        )
        raise CheckFailed(f"you returned {len(got)} norms for 20 weighted layers: {hint}.")
    close = lambda a, b: all(math.isclose(x, y, rel_tol=1e-3, abs_tol=1e-9) for x, y in zip(a, b))  # noqa: E731
    if close(got, expected):
        again = norms_of(model, images, labels)
        again = again.tolist() if isinstance(again, torch.Tensor) else list(again)
        if close(again, [2 * e for e in expected]):
            raise CheckFailed(
                "the first call is right, but the second gives twice the norms: gradients add up "
                "across backward passes. Clear them first: model.zero_grad()."
            )
        return _passed(
            f"20 norms, input to output; first conv {got[0]:.3g}, last conv {got[-2]:.3g}, "
            f"linear {got[-1]:.3g}."
        )
    if close(got[::-1], expected):
        raise CheckFailed("your norms are in reverse order: list them from the input to the output.")
    weights = [m.weight.norm().item() for _, m in weighted_layers(model)]
    if close(got, weights):
        raise CheckFailed(
            "these are the norms of the weights; take the norms of their gradients (.grad)."
        )
    in_eval_mode = gradient_norms(model, images, labels, training=False)
    if close(got, in_eval_mode):
        raise CheckFailed(
            "you ran the model in eval mode: BatchNorm then uses its running statistics. "
            "Measure as in training, with model.train()."
        )
    raise CheckFailed(
        f"your norms differ: first conv {got[0]:.4g} (expected {expected[0]:.4g}), linear "
        f"{got[-1]:.4g} (expected {expected[-1]:.4g}). Use the mean cross-entropy of the batch, "
        "model.train() (BatchNorm uses the batch's statistics), one backward pass."
    )


# --- notebook 2 -------------------------------------------------------------------------


def _branch(in_channels: int, out_channels: int, stride: int) -> nn.Module:
    torch.manual_seed(1)
    branch = nn.Sequential(
        nn.Conv2d(in_channels, out_channels, 3, stride, 1, bias=False),
        nn.BatchNorm2d(out_channels),
        nn.ReLU(),
        nn.Conv2d(out_channels, out_channels, 3, 1, 1, bias=False),
        nn.BatchNorm2d(out_channels),
    )
    return branch.eval()


def residual_forward(forward: Callable) -> None:
    """``forward(x, branch, shortcut)``: the output of a residual block, relu(F(x) + s(x))."""
    cases = [
        (16, 16, 1, nn.Identity()),
        (16, 32, 2, ZeroPadShortcut(16, 32, 2)),
    ]
    for in_channels, out_channels, stride, shortcut in cases:
        branch = _branch(in_channels, out_channels, stride)
        torch.manual_seed(2)
        x = torch.randn(2, in_channels, 16, 16)
        x_before = x.clone()
        with torch.no_grad():
            f, s = branch(x), shortcut(x)
            expected = F.relu(f + s)
        where = f"for a block {_shape(x)} -> {_shape(expected)}"
        try:
            with torch.no_grad():
                got = _tensor(forward(x, branch, shortcut), "your forward")
        except RuntimeError as error:
            if "size of tensor" not in str(error):
                raise
            raise CheckFailed(
                f"{where}, your forward fails: {error}. The branch gives {_shape(f)}, x is "
                f"{_shape(x)}: shortcut(x) is what brings x to the branch's shape."
            ) from None
        if not torch.equal(x, x_before):
            raise CheckFailed(
                f"{where}, your forward changed its input x in place (x += ..., relu_ or "
                "inplace=True on something that is x). The shortcut still needs x: use out = ... + s."
            )
        if got.shape != expected.shape:
            raise CheckFailed(
                f"{where}: yours returns {_shape(got)}. The branch gives {_shape(f)} and the "
                f"shortcut {_shape(s)}: add those two."
            )
        if _same(got, expected):
            continue
        mistakes = [
            (f + s, "there is no ReLU after the addition: the original block ends with relu(F(x) + x)"),
            (F.relu(f), "the shortcut is missing: that is a plain block"),
            (F.relu(f) + s, "the ReLU comes before the addition; the original block applies it after"),
            (F.relu(s), "the branch F(x) is missing"),
        ]
        for candidate, why in mistakes:
            if _same(got, candidate):
                raise CheckFailed(f"{where}: {why}.")
        raise CheckFailed(f"{where}: your output differs from relu(branch(x) + shortcut(x)).")
    return _passed("relu(F(x) + s(x)) for a 16x16x16 block and a downsampling 16x16x16 -> 32x8x8 one.")


def zero_pad_shortcut(shortcut: Callable) -> None:
    """``shortcut(x, out_channels, stride)``: option A; subsample by the stride, zero-pad channels."""
    torch.manual_seed(3)
    for channels, out_channels, stride, size in ((16, 32, 2, 32), (32, 64, 2, 16), (16, 16, 1, 32)):
        x = torch.randn(2, channels, size, size)
        expected = ZeroPadShortcut(channels, out_channels, stride)(x)
        got = _tensor(shortcut(x, out_channels, stride), "your shortcut")
        if got.shape != expected.shape:
            problem = []
            if got.shape[2:] != expected.shape[2:]:
                problem.append(f"take every {stride}nd pixel, x[:, :, ::{stride}, ::{stride}]")
            if got.shape[1] != expected.shape[1]:
                problem.append(f"pad the channels with zeros up to {out_channels}")
            raise CheckFailed(
                f"your shortcut changes the shape wrongly: {_shape(x)} in; the block's branch gives "
                f"{_shape(expected)}, but your shortcut returns {_shape(got)}. To match: "
                + " and ".join(problem)
                + "."
            )
        sub = x[:, :, ::stride, ::stride]
        kept = [c for c in range(got.shape[1]) if got[:, c].abs().sum() > 0]
        consecutive = len(kept) == channels and kept == list(range(kept[0], kept[0] + channels))
        if consecutive and _same(got[:, kept[0] : kept[0] + channels], sub):
            continue
        if stride > 1 and _same(got[:, :channels], F.avg_pool2d(x, stride)):
            raise CheckFailed(
                "you averaged each 2x2 patch; option A keeps one pixel of each (x[:, :, ::2, ::2]) "
                "and has nothing to learn or mix."
            )
        if stride > 1 and _same(got[:, :channels], x[:, :, 1::stride, 1::stride]):
            raise CheckFailed(
                "you kept the odd pixels (1::2); the stride-2 conv of the branch centres its "
                "windows on pixels 0, 2, 4, ..., so keep those: x[:, :, ::2, ::2]."
            )
        raise CheckFailed(
            f"for {_shape(x)} -> {_shape(expected)}: the output should hold the subsampled input "
            f"x[:, :, ::{stride}, ::{stride}] in {channels} consecutive channels and zeros in the "
            f"other {out_channels - channels}."
        )
    return _passed("16x32x32 -> 32x16x16, 32x16x16 -> 64x8x8, and the identity where nothing changes.")


def projection_extra_parameters(answer) -> None:
    """How many more parameters ResNet-56 with option B shortcuts has than plain-56."""
    answer = _number(answer, "your answer")
    plain = count_parameters(build_model("plain56"))
    expected = count_parameters(build_model("resnet56", shortcut="B")) - plain
    convs = 16 * 32 + 32 * 64
    if answer == expected:
        return _passed(
            f"{expected:,} more: two 1x1 projections with BN, where the shape changes "
            f"(plain-56 {plain:,}, ResNet-56 B {plain + expected:,})."
        )
    known = {
        0: "that is option A (zero padding, no parameters); option B adds a 1x1 conv and BN "
        "wherever the shape changes",
        convs: "the 1x1 convs are right; each is followed by a BatchNorm (2 parameters per channel)",
        convs + 2 * (32 + 64) + 32 + 64: "a conv followed by BatchNorm has no bias",
        27 * 16 * 16: "option B projects only where the shape changes: 2 of the 27 blocks",
    }
    raise CheckFailed(
        f"you said {answer:,}; "
        + known.get(
            answer,
            "count the blocks whose input and output shapes differ, and what a "
            "1x1 conv from C_in to C_out channels plus its BN holds",
        )
        + "."
    )


# --- notebook 3 -------------------------------------------------------------------------


def branch_to_shortcut_ratio(ratio_of: Callable) -> None:
    """``ratio_of(block, x)``: the mean over images of ||F(x)|| / ||shortcut(x)||."""
    torch.manual_seed(4)
    model = build_model("resnet20").eval()
    for name in ("layer1.1", "layer2.0"):
        block = model.get_submodule(name)
        x = torch.relu(torch.randn(8, block.conv1.in_channels, 32, 32))
        with torch.no_grad():
            f, s = block.residual(x), block.shortcut(x)
            per_image = f.flatten(1).norm(dim=1) / s.flatten(1).norm(dim=1)
            expected = per_image.mean().item()
            got = _number(ratio_of(block, x), "your ratio")
            if math.isclose(got, expected, rel_tol=1e-4):
                continue
            known = [
                (
                    f.norm() / s.norm(),
                    "that is one ratio for the whole batch; take the ratio per "
                    "image (flatten(1).norm(dim=1)), then the mean",
                ),
                (
                    (s.flatten(1).norm(dim=1) / f.flatten(1).norm(dim=1)).mean(),
                    "the ratio is upside down: the branch over the shortcut",
                ),
                (
                    (block(x).flatten(1).norm(dim=1) / s.flatten(1).norm(dim=1)).mean(),
                    "block(x) is relu(F(x) + s(x)); the branch alone is block.residual(x)",
                ),
                (
                    (f.flatten(1).norm(dim=1) / x.flatten(1).norm(dim=1)).mean(),
                    "in a block that changes the shape, the shortcut is not x: use block.shortcut(x)",
                ),
            ]
            for value, why in known:
                if math.isclose(got, float(value), rel_tol=1e-4):
                    raise CheckFailed(
                        f"block {name}: you got {got:.4f}, expected {expected:.4f}: {why}."
                    )
            raise CheckFailed(f"block {name}: you got {got:.4f}, expected {expected:.4f}.")
    return _passed(
        "the mean of ||F(x)|| / ||s(x)|| per image, for an identity and a downsampling block."
    )


def _block_shapes(model: nn.Module) -> dict[str, tuple[str, str]]:
    shapes = {}
    record = [
        b.register_forward_hook(lambda _m, i, o, n=n: shapes.__setitem__(n, (_shape(i[0]), _shape(o))))
        for n, b in blocks(model)
    ]
    with _eval_mode(model), _hooks(record):
        model(torch.zeros(1, 3, 32, 32))
    return shapes


def deletable(find: Callable) -> None:
    """``find(model)``: the names of the blocks that can be deleted from the net (``layer1.0``...)."""
    found = {}
    for name in ("resnet20", "resnet56"):
        model = build_model(name)
        expected = found[name] = deletable_blocks(model)
        got = find(model)
        if isinstance(got, str) or not isinstance(got, (list, tuple, set)):
            raise CheckFailed(f"return a list of block names; you returned {type(got).__name__}.")
        got = list(got)
        shapes = _block_shapes(model)
        extra = [g for g in got if g not in expected]
        missing = [e for e in expected if e not in got]
        if extra:
            known = [e for e in extra if e in shapes]
            if known:
                i, o = shapes[known[0]]
                raise CheckFailed(
                    f"{name}: {known[0]} changes the shape ({i} in, {o} out); without it the next "
                    "block would get an input of the wrong shape."
                )
            raise CheckFailed(
                f"{name} has no blocks named {extra}; its blocks are named like 'layer2.3'."
            )
        if missing:
            i, o = shapes[missing[0]]
            raise CheckFailed(
                f"{name}: you left out {len(missing)} blocks, e.g. {missing[0]} ({i} in, {o} out): "
                "its output has its input's shape, so the net still works without it."
            )
    return _passed(
        f"ResNet-20: {len(found['resnet20'])} deletable blocks, ResNet-56: "
        f"{len(found['resnet56'])}; the first block of stages 2 and 3 cannot go."
    )


# --- notebook 4 -------------------------------------------------------------------------


def bottleneck_parameters(count: Callable[[int, int, int], int]) -> None:
    """``count(in_channels, width, stride)``: parameters of one bottleneck block (torchvision's)."""
    for in_channels, width, stride in ((64, 64, 1), (256, 64, 1), (256, 128, 2), (1024, 512, 2)):
        block = Bottleneck(in_channels, width, stride)
        expected = count_parameters(block)
        got = _number(count(in_channels, width, stride), "your count")
        if got == expected:
            continue
        diff = got - expected
        out_channels = 4 * width
        projection = count_parameters(block.downsample) if block.downsample is not None else 0
        known = {
            -projection: f"this block needs a projection shortcut (1x1 conv {in_channels} -> "
            f"{out_channels} and its BN): its input has {in_channels} channels, "
            f"its output {out_channels}",
            in_channels * out_channels + 2 * out_channels: "this block has no projection: its input "
            f"already has {out_channels} channels and the stride is 1",
            -_bn_parameters(block): "you left out the BatchNorms (2 parameters per channel)",
            -_bn_parameters(block) + 2 * out_channels * (projection > 0): "you left out the "
            "BatchNorms of the branch (2 parameters per channel)",
            _conv_outputs(block): "a conv followed by BatchNorm has no bias",
            -(width * out_channels - width * width + 2 * (out_channels - width)): "the last 1x1 conv "
            f"expands to 4 x width = {out_channels} channels",
        }
        why = known.get(
            diff,
            "count conv1 (1x1), conv2 (3x3), conv3 (1x1), their BNs, and the "
            "projection if the shape changes",
        )
        raise CheckFailed(
            f"Bottleneck(in={in_channels}, width={width}, stride={stride}) has {expected:,} "
            f"parameters; you counted {got:,}. {why}."
        )
    return _passed("four bottlenecks (with and without a projection) counted exactly.")


STEM_PARTS = ("conv1", "maxpool", "layer1", "layer2", "layer3", "layer4")
_WHY = {
    "conv1": "a 7x7 conv, stride 2, padding 3: out = floor((in + 2*3 - 7) / 2) + 1",
    "maxpool": "a 3x3 max-pool, stride 2, padding 1: out = floor((in + 2*1 - 3) / 2) + 1",
    "layer1": "stride 1; a bottleneck stage outputs 4 x width channels (width 64)",
    "layer2": "its first block has stride 2; width 128, so 4 x 128 channels",
    "layer3": "its first block has stride 2; width 256, so 4 x 256 channels",
    "layer4": "its first block has stride 2; width 512, so 4 x 512 channels",
}


def imagenet_stem_shapes(answer: dict) -> None:
    """``{"conv1": (C, H, W), ...}``: ResNet-50's feature maps on a 32x32 image."""
    if not isinstance(answer, dict):
        raise CheckFailed(
            f"give a dict {{part: (channels, height, width)}}; you gave {type(answer).__name__}."
        )
    actual = dict(stage_shapes(build_model("resnet50", num_classes=10)))
    missing = [p for p in STEM_PARTS if p not in answer]
    if missing:
        raise CheckFailed(
            f"your dict has no entry for {missing}; give one for each of {list(STEM_PARTS)}."
        )
    for part in STEM_PARTS:
        got = tuple(answer[part])
        if got != actual[part]:
            raise CheckFailed(
                f"{part}: you said {_shape(got)}, it is {_shape(actual[part])}. {_WHY[part]}."
            )
    return _passed(
        "on 32x32 the ImageNet stem leaves 8x8 after two layers, and layer4 works on a single "
        "pixel (2048x1x1): notebook 4's reason for a CIFAR stem."
    )


# --- notebook 5 -------------------------------------------------------------------------


def exclusive_gate(combine: Callable) -> None:
    """``combine(shortcut, branch, gate_logits)``: (1 - g) * s + g * F, with g = sigmoid(logits)."""
    torch.manual_seed(5)
    s, f, logits = torch.randn(2, 8, 4, 4), torch.randn(2, 8, 4, 4), torch.randn(2, 8, 4, 4)
    got = _tensor(combine(s, f, logits), "your combine")
    g = torch.sigmoid(logits)
    expected = (1 - g) * s + g * f
    if got.shape != expected.shape:
        raise CheckFailed(
            f"the result should have the shape of its inputs ({_shape(s)}), not {_shape(got)}."
        )
    if _same(got, expected):
        block = BasicBlock(8, 8, variant=Variant(gate="exclusive")).eval()
        x = torch.randn(2, 8, 4, 4)
        with torch.no_grad():
            same = _same(block(x), F.relu(combine(block.shortcut(x), block.residual(x), block.gate(x))))
        if not same:
            raise CheckFailed(
                "right on random tensors but not inside a gated block: is g computed once?"
            )
        return _passed("(1 - g) * s + g * F(x): the gate trades the shortcut against the branch.")
    known = [
        (
            (1 - logits) * s + logits * f,
            "g is sigmoid(gate_logits): squash the logits into (0, 1) first",
        ),
        (g * s + (1 - g) * f, "g and 1 - g are swapped: g weighs the branch F, 1 - g the shortcut"),
        ((1 - g) * s + f, "that is shortcut-only gating; exclusive gating also scales F by g"),
        (F.relu(expected), "leave the ReLU to the block: combine returns the sum before it"),
    ]
    for value, why in known:
        if _same(got, value):
            raise CheckFailed(why + ".")
    raise CheckFailed("your result differs from (1 - g) * s + g * F with g = sigmoid(gate_logits).")


def preact_forward(forward: Callable) -> None:
    """``forward(x, bn1, conv1, bn2, conv2)``: a full pre-activation block with an identity shortcut."""
    torch.manual_seed(6)
    block = BasicBlock(8, 8, variant=Variant(ordering="preact"))
    for bn in (block.bn1, block.bn2):
        bn.running_mean.normal_()
        bn.running_var.uniform_(0.5, 2)
        bn.weight.data.normal_()
        bn.bias.data.normal_()
    block.eval()
    x = torch.randn(2, 8, 6, 6)
    parts = block.bn1, block.conv1, block.bn2, block.conv2
    with torch.no_grad():
        expected = block(x)
        got = _tensor(forward(x, *parts), "your forward")
        if got.shape != expected.shape:
            raise CheckFailed(f"{_shape(x)} in should give {_shape(x)} out; yours gives {_shape(got)}.")
        if _same(got, expected):
            return _passed(
                "x + conv2(relu(bn2(conv1(relu(bn1(x)))))): nothing touches the identity path."
            )
        _, conv1, bn2, conv2 = parts
        branch = expected - x
        known = [
            (
                F.relu(expected),
                "nothing comes after the addition in full pre-activation: the ReLU "
                "after it is what the 2016 paper removed, so the identity path stays clean",
            ),
            (
                x + conv2(F.relu(bn2(conv1(x)))),
                "the branch starts with BN and ReLU (bn1, relu) before conv1",
            ),
            (branch, "the shortcut is missing: add x"),
        ]
        for value, why in known:
            if _same(got, value):
                raise CheckFailed(why + ".")
        raise CheckFailed("your output differs from x + conv2(relu(bn2(conv1(relu(bn1(x)))))).")


def shortcut_scale_after(answer, *, scale: float = 0.5, block_count: int = 54) -> None:
    """The factor on x after ``block_count`` blocks whose shortcuts are all scaled by ``scale``."""
    answer = _number(answer, "your answer")
    expected = scale**block_count
    if math.isclose(answer, expected, rel_tol=1e-6):
        return _passed(
            f"{scale}^{block_count} = {expected:.2e}: through the shortcuts alone, the input "
            "reaches the output scaled to nothing, so the signal must pass through the branches."
        )
    known = {
        scale * block_count: f"the factor multiplies at every block: {scale} x {scale} x ..., "
        f"not {scale} x {block_count}",
        scale**110: "ResNet-110 has 110 layers but 54 blocks (3 stages of 18), one shortcut each",
        scale ** (block_count + 1): "count the blocks again: 3 stages x 18 = 54",
        1 - scale: "after one block it is 0.5; then multiply again for each further block",
    }
    for value, why in known.items():
        if math.isclose(answer, value, rel_tol=1e-6):
            raise CheckFailed(why + ".")
    raise CheckFailed(
        f"you said {answer:.3g}; each of the {block_count} shortcuts multiplies x by {scale}."
    )
