"""resnet_utils: the small package behind the ResNet course notebooks.

The names here are what the notebooks (and ``benchmarks/``) use; each is defined in its own
module, where the tests import it from.
"""

__version__ = "0.2.0"

# ruff: noqa: E402 (the version first: course/provenance.py reads it from here)
from resnet_utils import checks
from resnet_utils.course.reference import (
    available,
    compare_references,
    describe_group,
    load_net,
    load_record,
    reference_group,
    shipped_seeds,
    show_beside_references,
)
from resnet_utils.course.session import start
from resnet_utils.measure.blocks import (
    calibrate_batchnorm,
    deletable_blocks,
    downsampling_blocks,
    gate_openings,
    layer_responses,
    lesion_study,
    lesion_summary,
    residual_branch_stats,
)
from resnet_utils.measure.counting import multiply_adds, saved_for_backward_bytes, step_seconds
from resnet_utils.measure.gradients import (
    first_to_last_ratio,
    gradient_norms_at_init,
    gradients_at_init,
    init_gradient_curves,
    ratios_at_init,
    ratios_in_training,
)
from resnet_utils.measure.landscape import (
    classification_loss,
    evaluations,
    landscape_study,
    towards,
    turning_points,
)
from resnet_utils.models import (
    BasicBlock,
    Bottleneck,
    ImageNetBasicBlock,
    blocks_per_stage,
    build_model,
    count_parameters,
    stage_shapes,
    weighted_layers,
)
from resnet_utils.report.plots import (
    integer_ticks,
    plot_curves,
    plot_depth,
    plot_final,
    plot_layer_norms,
    plot_lesions,
    plot_responses,
    plot_surfaces,
)
from resnet_utils.report.style import colour_of, legend_beside, line_style
from resnet_utils.report.tables import depth_table, ratio_table, stage_table, verdict_table
from resnet_utils.report.verdicts import CHANCE, compare, learned
from resnet_utils.report.widgets import (
    block_picker,
    compare_runs,
    depth_slider,
    resnet_selector,
    shortcut_toggle,
)
from resnet_utils.training.cifar10 import load_cifar10
from resnet_utils.training.data import synthetic
from resnet_utils.training.loop import evaluate, fit
from resnet_utils.training.profiles import Recipe, get_profile

__all__ = [
    "CHANCE",
    "BasicBlock",
    "Bottleneck",
    "ImageNetBasicBlock",
    "Recipe",
    "available",
    "block_picker",
    "blocks_per_stage",
    "build_model",
    "calibrate_batchnorm",
    "checks",
    "classification_loss",
    "colour_of",
    "compare",
    "compare_references",
    "compare_runs",
    "count_parameters",
    "deletable_blocks",
    "depth_slider",
    "depth_table",
    "describe_group",
    "downsampling_blocks",
    "evaluate",
    "evaluations",
    "first_to_last_ratio",
    "fit",
    "gate_openings",
    "get_profile",
    "gradient_norms_at_init",
    "gradients_at_init",
    "init_gradient_curves",
    "integer_ticks",
    "landscape_study",
    "layer_responses",
    "learned",
    "legend_beside",
    "lesion_study",
    "lesion_summary",
    "line_style",
    "load_cifar10",
    "load_net",
    "load_record",
    "multiply_adds",
    "plot_curves",
    "plot_depth",
    "plot_final",
    "plot_layer_norms",
    "plot_lesions",
    "plot_responses",
    "plot_surfaces",
    "ratio_table",
    "ratios_at_init",
    "ratios_in_training",
    "reference_group",
    "residual_branch_stats",
    "resnet_selector",
    "saved_for_backward_bytes",
    "shipped_seeds",
    "shortcut_toggle",
    "show_beside_references",
    "stage_shapes",
    "stage_table",
    "start",
    "step_seconds",
    "synthetic",
    "towards",
    "turning_points",
    "verdict_table",
    "weighted_layers",
]
