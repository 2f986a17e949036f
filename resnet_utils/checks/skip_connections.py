"""The exercises of notebook 2, skip connections."""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import nn

from resnet_utils.checks.choices import check_seed_agreement, loss_bands
from resnet_utils.checks.common import (
    CheckFailed,
    as_number,
    as_tensor,
    exercise,
    passed,
    refuse_in_place,
    same,
    shape_of,
)
from resnet_utils.models import ZeroPadShortcut, build_model, count_parameters


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


@exercise(
    "the output combines branch(x) and shortcut(x); in the paper's Fig. 2, where does the last "
    "ReLU sit?",
    "the ReLU comes after the addition; and do not write into x in place (x += ... or an in-place"
    " ReLU on x): the shortcut still needs it",
)
def residual_forward(forward: Callable) -> None:
    """``forward(x, branch, shortcut)``: a residual block's output (notebook 2, Your turn 1)."""
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
        where = f"for a block {shape_of(x)} -> {shape_of(expected)}"
        try:
            with torch.no_grad():
                got = as_tensor(forward(x, branch, shortcut), "your forward")
        except RuntimeError as error:
            if "size of tensor" not in str(error):
                raise
            raise CheckFailed(
                f"{where}, your forward fails: {error}. The branch gives {shape_of(f)}, x is "
                f"{shape_of(x)}: shortcut(x) is what brings x to the branch's shape."
            ) from None
        if not torch.equal(x, x_before):
            raise CheckFailed(
                f"{where}, your forward changed its input x in place (x += ..., relu_ or "
                "inplace=True on something that is x). The shortcut still needs x: use out = ... + s."
            )
        if got.shape != expected.shape:
            raise CheckFailed(
                f"{where}: yours returns {shape_of(got)}. The branch gives {shape_of(f)} and the "
                f"shortcut {shape_of(s)}: add those two."
            )
        if same(got, expected):
            continue
        mistakes = [
            (f + s, "there is no ReLU after the addition: the original block ends with relu(F(x) + x)"),
            (F.relu(f), "the shortcut is missing: that is a plain block"),
            (F.relu(f) + s, "the ReLU comes before the addition; the original block applies it after"),
            (F.relu(s), "the branch F(x) is missing"),
        ]
        for candidate, why in mistakes:
            if same(got, candidate):
                raise CheckFailed(f"{where}: {why}.")
        raise CheckFailed(f"{where}: your output differs from relu(branch(x) + shortcut(x)).")
    return passed("relu(F(x) + s(x)) for a 16x16x16 block and a downsampling 16x16x16 -> 32x8x8 one.")


@exercise(
    "the output must match the branch's height and width (set by the stride) and its channels; "
    "option A has nothing to learn",
    "keep one pixel of each stride x stride window, the top-left one, as the strided conv of the "
    "branch does; then append zero channels up to out_channels (F.pad pads the last dimensions "
    "first)",
)
def zero_pad_shortcut(shortcut: Callable) -> None:
    """``shortcut(x, out_channels, stride)``: option A; subsample by the stride, zero-pad channels."""
    torch.manual_seed(3)
    for channels, out_channels, stride, size in ((16, 32, 2, 32), (32, 64, 2, 16), (16, 16, 1, 32)):
        x = torch.randn(2, channels, size, size)
        expected = ZeroPadShortcut(channels, out_channels, stride)(x)
        x_before = x.clone()
        got = as_tensor(shortcut(x, out_channels, stride), "your shortcut")
        refuse_in_place("your shortcut", {"x": x_before}, {"x": x})
        if got.shape != expected.shape:
            problem = []
            if got.shape[2:] != expected.shape[2:]:
                problem.append(f"take every {stride}nd pixel, x[:, :, ::{stride}, ::{stride}]")
            if got.shape[1] != expected.shape[1]:
                problem.append(f"pad the channels with zeros up to {out_channels}")
            raise CheckFailed(
                f"your shortcut changes the shape wrongly: {shape_of(x)} in; the block's branch gives "
                f"{shape_of(expected)}, but your shortcut returns {shape_of(got)}. To match: "
                + " and ".join(problem)
                + "."
            )
        sub = x[:, :, ::stride, ::stride]
        kept = [c for c in range(got.shape[1]) if got[:, c].abs().sum() > 0]
        consecutive = len(kept) == channels and kept == list(range(kept[0], kept[0] + channels))
        if consecutive and same(got[:, kept[0] : kept[0] + channels], sub):
            continue
        if stride > 1 and same(got[:, :channels], F.avg_pool2d(x, stride)):
            raise CheckFailed(
                "you averaged each 2x2 patch; option A keeps one pixel of each (x[:, :, ::2, ::2]) "
                "and has nothing to learn or mix."
            )
        if stride > 1 and same(got[:, :channels], x[:, :, 1::stride, 1::stride]):
            raise CheckFailed(
                "you kept the odd pixels (1::2); the stride-2 conv of the branch centres its "
                "windows on pixels 0, 2, 4, ..., so keep those: x[:, :, ::2, ::2]."
            )
        raise CheckFailed(
            f"for {shape_of(x)} -> {shape_of(expected)}: the output should hold the subsampled input "
            f"x[:, :, ::{stride}, ::{stride}] in {channels} consecutive channels and zeros in the "
            f"other {out_channels - channels}."
        )
    return passed("16x32x32 -> 32x16x16, 32x16x16 -> 64x8x8, and the identity where nothing changes.")


@exercise(
    "which blocks of ResNet-56 change the shape of their input, and what does option B put on "
    "their shortcut?",
    "two blocks change shape (16 -> 32 and 32 -> 64 channels); each gets a 1x1 conv without bias "
    "(C_in * C_out weights) and a BatchNorm (2 * C_out)",
)
def projection_extra_parameters(answer) -> None:
    """How many more parameters ResNet-56 with option B shortcuts has than plain-56."""
    answer = as_number(answer, "your answer")
    plain = count_parameters(build_model("plain56"))
    expected = count_parameters(build_model("resnet56", shortcut="B")) - plain
    convs = 16 * 32 + 32 * 64
    if answer == expected:
        return passed(
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


@exercise(
    "the dots of the per-seed figure are the seeds: compare the two nets seed by seed, not their means",
    "checks.per_seed(resnet, plain, 'train_loss') lists (seed, ResNet's loss, the plain net's); "
    "look at the sign of each difference, and whether it is larger than that seed's band "
    "(checks.loss_bands)",
)
def residual_loss_on_every_seed(answer, resnet, plain, sample=None, images: int | None = None) -> None:
    """Is the residual net's training loss lower than the plain net's on every seed, beyond the
    noise of a mean over ``images`` training images (per-image spread measured on ``sample``)?"""
    bands = loss_bands(resnet, plain, sample, images) if sample is not None and images else None
    noise = f"the noise of a mean over {images:,} images" if bands else "the noise"
    check_seed_agreement(
        answer, resnet, plain, "train_loss", resnet.label, plain.label, bands=bands, noise=noise
    )
