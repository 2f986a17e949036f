"""The exercises of notebook 5, skip-connection variants."""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
import torch.nn.functional as F

from resnet_utils.checks.choices import accuracy_bands, check_seed_agreement
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
from resnet_utils.models import Variant, VariantBlock


@exercise(
    "the logits are not a gate yet: squash them into (0, 1) first; then decide which path the "
    "gate weighs",
    "g = torch.sigmoid(gate_logits) weighs the branch F, and 1 - g the shortcut",
)
def exclusive_gate(combine: Callable) -> None:
    """``combine(shortcut, branch, gate_logits)``: the exclusive gate's output (notebook 5)."""
    torch.manual_seed(5)
    s, f, logits = torch.randn(2, 8, 4, 4), torch.randn(2, 8, 4, 4), torch.randn(2, 8, 4, 4)
    g = torch.sigmoid(logits)  # the expected value first: an in-place write cannot reach it
    expected = (1 - g) * s + g * f
    before = {"shortcut": s.clone(), "branch": f.clone(), "gate_logits": logits.clone()}
    got = as_tensor(combine(s, f, logits), "your combine")
    refuse_in_place("your combine", before, {"shortcut": s, "branch": f, "gate_logits": logits})
    if got.shape != expected.shape:
        raise CheckFailed(
            f"the result should have the shape of its inputs ({shape_of(s)}), not {shape_of(got)}."
        )
    if same(got, expected):
        block = VariantBlock(8, 8, variant=Variant(gate="exclusive")).eval()
        x = torch.randn(2, 8, 4, 4)
        with torch.no_grad():
            inside_block = same(
                block(x), F.relu(combine(block.shortcut(x), block.residual(x), block.gate(x)))
            )
        if not inside_block:
            raise CheckFailed(
                "right on random tensors but not inside a gated block: is g computed once?"
            )
        return passed("(1 - g) * s + g * F(x): the gate trades the shortcut against the branch.")
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
        if same(got, value):
            raise CheckFailed(why + ".")
    raise CheckFailed("your result differs from (1 - g) * s + g * F with g = sigmoid(gate_logits).")


@exercise(
    "in full pre-activation, BN and ReLU come before each conv, and nothing comes after the addition",
    "the branch is bn1, ReLU, conv1, bn2, ReLU, conv2, in that order; the block returns x plus "
    "the branch",
)
def preact_forward(forward: Callable) -> None:
    """``forward(x, bn1, conv1, bn2, conv2)``: a full pre-activation block with an identity shortcut."""
    torch.manual_seed(6)
    block = VariantBlock(8, 8, variant=Variant(ordering="preact"))
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
        x_before = x.clone()
        got = as_tensor(forward(x, *parts), "your forward")
        refuse_in_place("your forward", {"x": x_before}, {"x": x})
        if got.shape != expected.shape:
            raise CheckFailed(
                f"{shape_of(x)} in should give {shape_of(x)} out; yours gives {shape_of(got)}."
            )
        if same(got, expected):
            return passed(
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
            if same(got, value):
                raise CheckFailed(why + ".")
        raise CheckFailed("your output differs from x + conv2(relu(bn2(conv1(relu(bn1(x)))))).")


@exercise(
    "follow x along the shortcuts only: what does one block do to it, and how many blocks does "
    "ResNet-110 have?",
    "each block multiplies what its shortcut carries by 0.5, and these factors multiply; "
    "ResNet-110 has 3 stages of 18 blocks",
)
def shortcut_scale_after(answer, *, scale: float = 0.5, block_count: int = 54) -> None:
    """The factor on x after ``block_count`` blocks whose shortcuts are all scaled by ``scale``."""
    answer = as_number(answer, "your answer")
    expected = scale**block_count
    if math.isclose(answer, expected, rel_tol=1e-6):
        return passed(
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


@exercise(
    "the verdict compares means; here compare the two nets seed by seed, as the figure of "
    "differences does with a dot per seed",
    "each dot is one seed's difference from the original, the grey band one seed's test-set "
    "noise: is each dot beyond the band, and on which side? (checks.per_seed(preact, original, "
    "'test_acc') and checks.accuracy_bands(preact, original, test_size) give the numbers)",
)
def preact_on_every_seed(answer, preact, original, test_size: int | None = None) -> None:
    """Is full pre-activation's test accuracy above the original's on every seed, beyond the
    binomial noise of ``test_size`` test images?"""
    bands = accuracy_bands(preact, original, test_size) if test_size else None
    noise = f"the test set's noise ({test_size:,} images)" if test_size else "the noise"
    check_seed_agreement(
        answer, preact, original, "test_acc", "full pre-activation", "original", bands, noise
    )
