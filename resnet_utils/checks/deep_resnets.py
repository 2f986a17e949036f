"""The exercises of notebook 4, bottleneck ResNets."""

from __future__ import annotations

from collections.abc import Callable

from resnet_utils.checks.choices import pick
from resnet_utils.checks.common import (
    CheckFailed,
    as_number,
    as_whole_numbers,
    bn_parameters,
    conv_outputs,
    exercise,
    passed,
    shape_of,
)
from resnet_utils.measure.counting import multiply_adds
from resnet_utils.models import Bottleneck, build_model, count_parameters, stage_shapes


@exercise(
    "three convs (1x1, 3x3, 1x1), each with its BatchNorm, and a projection shortcut only where "
    "the shape changes",
    "a k x k conv from c_in to c_out holds c_in * c_out * k * k weights, a BN 2 * c_out; the last"
    " conv expands to 4 * width channels; the projection (1x1 conv and BN) is there when stride >"
    " 1 or in_channels != 4 * width",
)
def bottleneck_parameters(count: Callable[[int, int, int], int]) -> None:
    """``count(in_channels, width, stride)``: parameters of one bottleneck block (torchvision's)."""
    for in_channels, width, stride in ((64, 64, 1), (256, 64, 1), (256, 128, 2), (1024, 512, 2)):
        block = Bottleneck(in_channels, width, stride)
        expected = count_parameters(block)
        got = as_number(count(in_channels, width, stride), "your count")
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
            -bn_parameters(block): "you left out the BatchNorms (2 parameters per channel)",
            -bn_parameters(block) + 2 * out_channels * (projection > 0): "you left out the "
            "BatchNorms of the branch (2 parameters per channel)",
            conv_outputs(block): "a conv followed by BatchNorm has no bias",
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
    return passed("four bottlenecks (with and without a projection) counted exactly.")


STEM_PARTS = ("conv1", "maxpool", "layer1", "layer2", "layer3", "layer4")
_WHY = {
    "conv1": "a 7x7 conv, stride 2, padding 3: out = floor((in + 2*3 - 7) / 2) + 1",
    "maxpool": "a 3x3 max-pool, stride 2, padding 1: out = floor((in + 2*1 - 3) / 2) + 1",
    "layer1": "stride 1; a bottleneck stage outputs 4 x width channels (width 64)",
    "layer2": "its first block has stride 2; width 128, so 4 x 128 channels",
    "layer3": "its first block has stride 2; width 256, so 4 x 256 channels",
    "layer4": "its first block has stride 2; width 512, so 4 x 512 channels",
}


@exercise(
    "follow the height and width part by part: which parts have a stride of 2? A bottleneck stage"
    " outputs 4 x its width channels",
    "conv1 (stride 2) and the max-pool (stride 2) each halve the size, layer1 keeps it, layers 2,"
    " 3 and 4 each halve it; the stage widths are 64, 128, 256 and 512",
)
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
        given = answer[part]
        got = as_whole_numbers(given, 3)  # a tuple, list, torch.Size, numpy array or tensor
        if got is None:
            raise CheckFailed(
                f"{part}: give its shape as three whole numbers (channels, height, width); you "
                f"gave {given!r}."
            )
        if got != actual[part]:
            raise CheckFailed(
                f"{part}: you said {shape_of(got)}, it is {shape_of(actual[part])}. {_WHY[part]}."
            )
    return passed(
        "on 32x32 the ImageNet stem leaves 8x8 after two layers, and layer4 works on a single "
        "pixel (2048x1x1): notebook 4's reason for a CIFAR stem."
    )


TABLE_1_GMACS = {50: 3.8, 101: 7.6}  # He et al. 2015, Table 1 (224x224, 1000 classes)
# The paper does not state its counting convention (which layers it counts, how it rounds):
# a count within 2% of the table's is taken as the table's.
TOLERANCE = 0.02
PLACEMENT_STATEMENTS = {
    "a": "v1, the stride on the first 1x1 conv, gives Table 1's counts (within 2%)",
    "b": "v1.5, the stride on the 3x3 conv, gives Table 1's counts (within 2%)",
    "c": "neither placement comes within 2% of Table 1's counts",
}


@exercise(
    "compare each column of the table with Table 1's column, net by net",
    "ResNet-50: Table 1 says 3.8 G; which column is within 2% of it (0.08 G), and does the same "
    "column come within 2% of 7.6 G for ResNet-101?",
)
def stride_placement(answer) -> None:
    """Which stride placement reproduces the multiply-adds of He et al. 2015, Table 1?"""
    matches = {}
    for letter, where in (("a", "1x1"), ("b", "3x3")):
        counts = {
            d: multiply_adds(build_model(f"resnet{d}", num_classes=1000, stride_on=where), (3, 224, 224))
            / 1e9
            for d in TABLE_1_GMACS
        }
        matches[letter] = all(abs(counts[d] - g) <= TOLERANCE * g for d, g in TABLE_1_GMACS.items())
        matches[letter + "_text"] = ", ".join(f"ResNet-{d} {c:.2f} G" for d, c in counts.items())
    correct = "a" if matches["a"] and not matches["b"] else "b" if matches["b"] else "c"
    table = f"Table 1: 3.8 and 7.6 G; v1: {matches['a_text']}; v1.5: {matches['b_text']}."
    pick(answer, PLACEMENT_STATEMENTS, correct, {k: table for k in PLACEMENT_STATEMENTS})
