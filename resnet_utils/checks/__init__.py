"""Checks for the notebooks' exercises, one module per notebook.

Each check runs the student's answer on cases it builds itself and either prints what was
verified or raises :class:`CheckFailed` with what is wrong, in words: the shapes, the numbers
and the likely mistake. In a notebook only that message shows, not a traceback. An exercise
still unanswered is reported in one line with its first hint; ``hint(name, 2)`` gives more.

The exercises are exported as ``@exercise`` registers them (:data:`HINTS` holds their names),
so a new exercise needs no line here; the helpers the notebooks call are listed by hand.
"""

from resnet_utils.checks import (
    deep_resnets,
    degradation,
    residual_learning,
    skip_connections,
    skip_variants,
)
from resnet_utils.checks.choices import (
    accuracy_band,
    accuracy_bands,
    loss_bands,
    per_seed,
    seed_agreement,
)
from resnet_utils.checks.common import HINTS, CheckFailed, hint
from resnet_utils.checks.predictions import outcome_of, predict, reveal

EXERCISE_MODULES = (degradation, skip_connections, residual_learning, deep_resnets, skip_variants)
EXERCISES = {
    name: getattr(module, name) for module in EXERCISE_MODULES for name in HINTS if hasattr(module, name)
}
globals().update(EXERCISES)

__all__ = [
    "HINTS",
    "CheckFailed",
    "accuracy_band",
    "accuracy_bands",
    "hint",
    "loss_bands",
    "outcome_of",
    "per_seed",
    "predict",
    "reveal",
    "seed_agreement",
    *sorted(EXERCISES),
]
