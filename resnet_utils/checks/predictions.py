"""Predict, then measure: a prediction recorded before an experiment, shown beside its result.

A prediction left as ``None`` (always so in headless runs: papermill, nbval) is no error: the
comparison is skipped in one line and the measurement is still shown.
"""

from __future__ import annotations

from collections.abc import Sequence

from resnet_utils.checks.common import CheckFailed


def predict(prediction, choices: Sequence[str]) -> None:
    """Record a prediction, refusing one that is not among the choices (a typo would never match)."""
    if prediction is None:
        print("No prediction made (prediction = None): the result below will be shown without one.")
        return
    if prediction not in choices:
        raise CheckFailed(f"predict one of {', '.join(map(repr, choices))}; you wrote {prediction!r}.")
    print(f"Prediction recorded: {prediction}. Now run the experiment.")


def outcome_of(verdict) -> str | None:
    """A verdict as a prediction's choice: the better side's name, 'within noise', or None."""
    if verdict is None or verdict.word == "not compared":
        return None
    return verdict.better or "within noise"


def reveal(prediction, measured: str | None, evidence: str) -> None:
    """Print the prediction beside the measured result and the evidence it rests on."""
    result = measured if measured is not None else "no verdict"
    if prediction is None:
        print(f"No prediction to compare (prediction = None). Measured: {result}. {evidence}")
    elif measured is None:
        print(f"You predicted {prediction}; this run gives no verdict to compare with. {evidence}")
    elif prediction == measured:
        print(f"You predicted {prediction}; measured: {measured}. As you predicted. {evidence}")
    else:
        print(
            f"You predicted {prediction}; measured: {measured}. Not what you predicted: what "
            f"did your reasoning leave out? {evidence}"
        )
