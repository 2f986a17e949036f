"""Checks for the notebooks' exercises, one module per notebook.

Each check runs the student's answer on cases it builds itself and either prints what was
verified or raises :class:`CheckFailed` with what is wrong, in words: the shapes, the numbers
and the likely mistake. In a notebook only that message shows, not a traceback. An exercise
still unanswered is reported in one line with its first hint; ``hint(name, 2)`` gives more.
"""

from .common import HINTS, CheckFailed, hint
from .deep_resnets import STEM_PARTS, bottleneck_parameters, imagenet_stem_shapes
from .degradation import plain_parameter_count, weight_gradient_norms
from .residual_learning import branch_to_shortcut_ratio, deletable
from .skip_connections import projection_extra_parameters, residual_forward, zero_pad_shortcut
from .skip_variants import exclusive_gate, preact_forward, shortcut_scale_after

__all__ = [
    "HINTS",
    "STEM_PARTS",
    "CheckFailed",
    "bottleneck_parameters",
    "branch_to_shortcut_ratio",
    "deletable",
    "exclusive_gate",
    "hint",
    "imagenet_stem_shapes",
    "plain_parameter_count",
    "preact_forward",
    "projection_extra_parameters",
    "residual_forward",
    "shortcut_scale_after",
    "weight_gradient_norms",
    "zero_pad_shortcut",
]
