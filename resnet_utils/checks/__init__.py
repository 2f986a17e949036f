"""Checks for the notebooks' exercises, one module per notebook.

Each check runs the student's answer on cases it builds itself and either prints what was
verified or raises :class:`CheckFailed` with what is wrong, in words: the shapes, the numbers
and the likely mistake. In a notebook only that message shows, not a traceback. An exercise
still unanswered is reported in one line with its first hint; ``hint(name, 2)`` gives more.
"""

from resnet_utils.checks.choices import accuracy_band, loss_bands, per_seed
from resnet_utils.checks.common import HINTS, CheckFailed, hint
from resnet_utils.checks.deep_resnets import (
    STEM_PARTS,
    bottleneck_parameters,
    imagenet_stem_shapes,
    stride_placement,
)
from resnet_utils.checks.degradation import (
    deep_loss_on_every_seed,
    plain_parameter_count,
    weight_gradient_norms,
)
from resnet_utils.checks.predictions import outcome_of, predict, reveal
from resnet_utils.checks.residual_learning import branch_to_shortcut_ratio, deletable, lesion_reading
from resnet_utils.checks.skip_connections import (
    projection_extra_parameters,
    residual_forward,
    residual_loss_on_every_seed,
    zero_pad_shortcut,
)
from resnet_utils.checks.skip_variants import (
    exclusive_gate,
    preact_forward,
    preact_on_every_seed,
    shortcut_scale_after,
)

__all__ = [
    "HINTS",
    "accuracy_band",
    "loss_bands",
    "STEM_PARTS",
    "CheckFailed",
    "bottleneck_parameters",
    "branch_to_shortcut_ratio",
    "deep_loss_on_every_seed",
    "deletable",
    "exclusive_gate",
    "hint",
    "imagenet_stem_shapes",
    "lesion_reading",
    "outcome_of",
    "per_seed",
    "plain_parameter_count",
    "preact_forward",
    "preact_on_every_seed",
    "predict",
    "projection_extra_parameters",
    "residual_forward",
    "residual_loss_on_every_seed",
    "reveal",
    "shortcut_scale_after",
    "stride_placement",
    "weight_gradient_norms",
    "zero_pad_shortcut",
]
