"""The exercises of notebook 1, the degradation problem."""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import torch

from resnet_utils.checks.choices import check_seed_agreement, loss_bands
from resnet_utils.checks.common import (
    CheckFailed,
    as_number,
    bn_parameters,
    conv_outputs,
    exercise,
    passed,
)
from resnet_utils.measure.gradients import gradient_norms
from resnet_utils.models import build_model, count_parameters, weighted_layers
from resnet_utils.models.cifar import STAGE_WIDTHS, blocks_per_stage


@exercise(
    "count one conv with its BatchNorm first (its weights, then a scale and a shift per output "
    "channel), then how many convs of each width the net has",
    "a 3x3 conv from c_in to c_out holds c_in * c_out * 9 weights and its BN 2 * c_out; each "
    "stage has 2n convs, and only the first conv of stages 2 and 3 takes the previous stage's "
    "channels; add the stem conv and the linear layer (weights and biases)",
)
def plain_parameter_count(count: Callable[[int], int]) -> None:
    """``count(depth)``: the parameters of plainN (BatchNorm, no conv biases, 10 classes)."""
    depths = (20, 56, 110, 14, 74)  # 14 and 74 are printed nowhere in the notebook: no lookup table
    counts, errors = {}, {}
    for depth in depths:
        model = build_model(f"plain{depth}")
        expected, got = count_parameters(model), as_number(count(depth), f"count({depth})")
        counts[depth] = expected
        if got == expected:
            continue
        diff = errors[depth] = got - expected
        known = {
            -bn_parameters(model): "you left out BatchNorm: each BN layer has 2 parameters per "
            "channel (a scale and a shift)",
            conv_outputs(model): "you gave every conv a bias; a conv followed by BatchNorm has "
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
        return passed(
            "your formula gives "
            + ", ".join(f"plain-{d}: {n:,}" for d, n in counts.items())
            + ", exactly what build_model builds."
        )
    lines = [f"plain-{d}: off by {e:+,}" for d, e in errors.items()]
    if len(errors) == len(depths):
        lines.append(_diagnose_per_stage(errors))
    raise CheckFailed("\n".join(lines))


# What one block of width c holds (two 3x3 convs and their BNs) is 18c^2 + 4c. Typical slips,
# as the error they make in one block of each stage:
BLOCK_SLIPS = {
    "the BatchNorms inside the blocks are missing (two per block, 2 parameters per channel)": tuple(
        -4 * c for c in STAGE_WIDTHS
    ),
    "each block has two BatchNorms with 2 parameters per channel each; you counted half of that": tuple(
        -2 * c for c in STAGE_WIDTHS
    ),
    "the convs inside the blocks got a bias; a conv followed by BatchNorm has none": tuple(
        2 * c for c in STAGE_WIDTHS
    ),
    "a block has two 3x3 convs (each with its BN); you counted one": tuple(
        -(9 * c * c + 2 * c) for c in STAGE_WIDTHS
    ),
    "a 3x3 conv holds c_in x c_out x 9 weights; you left out the 3x3": tuple(
        -2 * 8 * c * c for c in STAGE_WIDTHS
    ),
}


def _diagnose_per_stage(errors: dict[int, int]) -> str:
    """Name the slip from how the error grows with depth, stage by stage.

    Every stage gains a block when the depth grows by 6, and the blocks of the three stages
    differ (16, 32, 64 channels), so the growth is a sum over stages, not three equal parts.
    """
    items = list(errors.items())  # three of the depths suffice: first, middle and last
    (d1, e1), (d2, e2), (d3, e3) = items[0], items[len(items) // 2], items[-1]
    n1, n2, n3 = (blocks_per_stage(d) for d in (d1, d2, d3))
    growth = (e2 - e1) / (n2 - n1)  # the error added by one more block in every stage
    if not growth:
        return (
            "The error is the same at every depth: check the parts outside the blocks "
            "(first conv, its BN, the linear layer)."
        )
    if e3 - e1 != growth * (n3 - n1):
        return "Your count does not grow with the number of blocks as a sum of blocks would."
    outside = e1 - growth * n1
    rest = f" Besides that, {outside:+,.0f} outside the repeated blocks." if outside else ""
    for stages in _stage_subsets():
        for slip, per_stage in BLOCK_SLIPS.items():
            if sum(per_stage[s] for s in stages) == growth:
                where = ", ".join(
                    f"{per_stage[s]:+,} per block in stage {s + 1} ({STAGE_WIDTHS[s]} channels)"
                    for s in stages
                )
                return f"Your count is off by {where}. Likely: {slip}.{rest}"
    return (
        f"One more block in each stage changes your error by {growth:+,.0f}. The blocks of the "
        "three stages differ (16, 32, 64 channels): count one block of each stage again." + rest
    )


def _stage_subsets() -> list[tuple[int, ...]]:
    """All stages first, then pairs, then single stages: the widest explanation wins."""
    return [(0, 1, 2), (0, 1), (0, 2), (1, 2), (0,), (1,), (2,)]


@exercise(
    "one forward and one backward pass in training mode, then read the gradient of each conv and "
    "linear layer's weight, from the input to the output",
    "model.train() and model.zero_grad() first (gradients add up across backward passes); the "
    "loss is the mean cross-entropy of the batch; the layers are the nn.Conv2d and nn.Linear "
    "modules of model.modules(), in order, each giving weight.grad.norm()",
)
def weight_gradient_norms(norms_of: Callable) -> None:
    """``norms_of(model, images, labels)``: one gradient norm per weighted layer, input first."""
    torch.manual_seed(0)
    model = build_model("plain20")
    images, labels = torch.randn(16, 3, 32, 32), torch.randint(0, 10, (16,))
    expected = gradient_norms(model, images, labels)  # leaves the gradients cleared
    before = {name: p.detach().clone() for name, p in model.named_parameters()}
    got = norms_of(model, images, labels)
    changed = [name for name, p in model.named_parameters() if not torch.equal(p, before[name])]
    if changed:
        which = changed[0] + (f" and {len(changed) - 1} more" if len(changed) > 1 else "")
        raise CheckFailed(
            f"your function changed the weights of the net it measures ({which}): a measurement "
            "must not train the net. Read each weight.grad after backward(), with no optimizer "
            "step or other update of the weights."
        )
    if isinstance(got, (torch.Tensor, np.ndarray)):
        got = got.tolist()
    if not isinstance(got, (list, tuple)):
        raise CheckFailed(f"return a list of numbers, one per layer; you returned {type(got).__name__}.")
    got = [as_number(g, "each norm") for g in got]
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
        again = again.tolist() if isinstance(again, (torch.Tensor, np.ndarray)) else list(again)
        if close(again, [2 * e for e in expected]):
            raise CheckFailed(
                "the first call is right, but the second gives twice the norms: gradients add up "
                "across backward passes. Clear them first: model.zero_grad()."
            )
        return passed(
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


@exercise(
    "the dots of the per-seed figure are the seeds: compare the two nets seed by seed, not their means",
    "checks.per_seed(deep, shallow, 'train_loss') lists (seed, the deeper net's loss, the shallower "
    "net's); look at the sign of each difference, and whether it is larger than that seed's band "
    "(checks.loss_bands)",
)
def deep_loss_on_every_seed(answer, deep, shallow, sample=None, images: int | None = None) -> None:
    """Is the deeper plain net's training loss higher on every seed, beyond the noise of a mean
    over ``images`` training images (each seed's per-image spread measured on ``sample``)?"""
    bands = loss_bands(deep, shallow, sample, images) if sample is not None and images else None
    noise = f"the noise of a mean over {images:,} images" if bands else "the noise"
    check_seed_agreement(
        answer, deep, shallow, "train_loss", deep.label, shallow.label, bands=bands, noise=noise
    )
