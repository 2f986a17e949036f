"""The exercises of notebook 3, what residual blocks learn."""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
from torch import nn

from resnet_utils.checks.choices import pick
from resnet_utils.checks.common import CheckFailed, as_number, exercise, passed, shape_of
from resnet_utils.measure.blocks import blocks, deletable_blocks, evaluating, temporary_hooks
from resnet_utils.models import build_model


@exercise(
    "one ratio per image, then the mean over the images; the branch is block.residual, the "
    "shortcut block.shortcut",
    "t.flatten(1).norm(dim=1) gives one norm per image; divide the branch's norms by the "
    "shortcut's, then take .mean()",
)
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
            got = as_number(ratio_of(block, x), "your ratio")
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
    return passed("the mean of ||F(x)|| / ||s(x)|| per image, for an identity and a downsampling block.")


def _block_shapes(model: nn.Module) -> dict[str, tuple[str, str]]:
    shapes = {}
    record = [
        b.register_forward_hook(
            lambda _m, i, o, n=n: shapes.__setitem__(n, (shape_of(i[0]), shape_of(o)))
        )
        for n, b in blocks(model)
    ]
    with evaluating(model), temporary_hooks(record):
        model(torch.zeros(1, 3, 32, 32))
    return shapes


@exercise(
    "a block can go when its output has the shape of its input",
    "loop over model.named_modules(); a block is named like 'layer2.3'; it keeps the shape when "
    "its conv1.in_channels equals its conv2.out_channels and its conv1.stride is 1",
)
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
    return passed(
        f"ResNet-20: {len(found['resnet20'])} deletable blocks, ResNet-56: "
        f"{len(found['resnet56'])}; the first block of stages 2 and 3 cannot go."
    )


LESION_STATEMENTS = {
    "a": "one deletion costs ResNet-56 a smaller share of the way to chance than plain-56, beyond "
    "the seeds' spread",
    "b": "one deletion costs ResNet-56 a larger share than plain-56, beyond the seeds' spread",
    "c": "the two shares are within noise of each other",
    "d": "no verdict: a net has not trained enough to compare (or there is no noise to measure)",
}


@exercise(
    "read the verdict line 'share lost to chance' above (or its absence): which word does it end on?",
    "'lower' means ResNet-56 loses the smaller share; a verdict that is missing or says 'not "
    "compared' supports none of the first three statements",
)
def lesion_reading(answer, verdict) -> None:
    """Which statement does the lesion verdict (ResNet-56 against plain-56) support?"""
    word = verdict.word if verdict is not None else "not compared"
    correct = {"lower": "a", "higher": "b", "within noise": "c"}.get(word, "d")
    said = str(verdict) if verdict is not None else "this run printed no lesion verdict"
    why = {letter: f"The verdict reads: {said}" for letter in LESION_STATEMENTS}
    pick(answer, LESION_STATEMENTS, correct, why)
