"""resnet_utils: the small package behind the ResNet course notebooks."""

__version__ = "0.2.0"

from resnet_utils.course.session import Session, start  # noqa: E402
from resnet_utils.measure.gradients import gradient_norms, gradient_norms_at_init, spread  # noqa: E402
from resnet_utils.models import build_model, count_parameters, weighted_layers  # noqa: E402
from resnet_utils.training.cache import RunCache, run_key  # noqa: E402
from resnet_utils.training.cifar10 import load_cifar10
from resnet_utils.training.data import ImageData, stratified_indices, synthetic  # noqa: E402
from resnet_utils.training.loop import evaluate, fit  # noqa: E402
from resnet_utils.training.profiles import Profile, Recipe, get_profile  # noqa: E402
from resnet_utils.training.runs import Run, train  # noqa: E402

__all__ = [
    "ImageData",
    "Profile",
    "Recipe",
    "Run",
    "RunCache",
    "Session",
    "build_model",
    "count_parameters",
    "evaluate",
    "fit",
    "get_profile",
    "gradient_norms",
    "gradient_norms_at_init",
    "load_cifar10",
    "run_key",
    "spread",
    "start",
    "stratified_indices",
    "synthetic",
    "train",
    "weighted_layers",
]
