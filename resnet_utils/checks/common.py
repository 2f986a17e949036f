"""What every check shares: the worded failure, the one-line "unanswered", hints in steps.

A check either prints what it verified ("Correct: ...") or raises :class:`CheckFailed`
with what is wrong, in words. An exercise left as its student stub (a function that
raises ``NotImplementedError``, or a value left as ``...``) is not a failure: the check
says in one line that it is unanswered, with its first hint, so that Run All goes on.
"""

from __future__ import annotations

import functools
import inspect
import numbers
from collections.abc import Callable, Sequence

import torch
from torch import nn

from resnet_utils.models import count_parameters


class CheckFailed(AssertionError):
    """A wrong answer, explained. IPython shows only the message (``_render_traceback_``)."""

    def _render_traceback_(self) -> list[str]:
        return ["Not yet: " + line if i == 0 else line for i, line in enumerate(str(self).splitlines())]


HINTS: dict[str, tuple[str, ...]] = {}  # exercise name -> its hints, nudge first


def exercise(*hints: str) -> Callable:
    """Make a check an exercise: its hints are registered, an unanswered answer is reported.

    The exercise is named after the check (``checks.hint("deletable", 2)``). Hints go from a
    nudge to more; none of them is the answer, which only the teacher's copy holds.
    """
    if not hints:
        raise ValueError("an exercise needs at least one hint")

    def register(check: Callable) -> Callable:
        name = check.__name__
        HINTS[name] = hints

        wants_function = _first_annotation(check).startswith("Callable")

        @functools.wraps(check)
        def run(answer, *args, **kwargs):
            if answer is Ellipsis:
                return unanswered(name)
            try:
                if wants_function:
                    as_function(answer, "your answer")
                return check(answer, *args, **kwargs)
            except NotImplementedError as error:
                if is_stub(error, answer):  # the student stub, raised when the check calls it
                    return unanswered(name)
                raise CheckFailed(
                    f"your code raised NotImplementedError in {innermost(error)} ({error}). It "
                    "is answered, but something it calls is not written: an nn.Module whose "
                    "forward is misspelt (def foward) raises this, for one."
                ) from None

        return run

    return register


def _first_annotation(check: Callable) -> str:
    """The annotation of the check's first parameter, as text ('Callable[[int], int]')."""
    parameters = list(inspect.signature(check).parameters.values())
    annotation = parameters[0].annotation if parameters else inspect.Parameter.empty
    return annotation if isinstance(annotation, str) else getattr(annotation, "__name__", "")


def is_stub(error: NotImplementedError, answer) -> bool:
    """The student copy's stub ("Your turn: ..."), or a raise in the answer function itself;
    not one from deeper in the student's working code (nn.Module's missing ``forward``)."""
    if str(error).startswith("Your turn"):
        return True
    tb = error.__traceback__
    while tb is not None and tb.tb_next is not None:
        tb = tb.tb_next
    return tb is not None and tb.tb_frame.f_code is getattr(answer, "__code__", None)


def innermost(error: BaseException) -> str:
    """'forward (torch/nn/modules/module.py)': the function that raised, and its file."""
    tb = error.__traceback__
    while tb is not None and tb.tb_next is not None:
        tb = tb.tb_next
    if tb is None:
        return "your code"
    code = tb.tb_frame.f_code
    return f"{code.co_name} ({'/'.join(code.co_filename.split('/')[-3:])})"


def unanswered(name: str) -> None:
    """One line: this exercise is still open, its first hint, and how to get the next."""
    more = f' More: checks.hint("{name}", 2).' if len(HINTS[name]) > 1 else ""
    print(f"Unanswered: {name}. Hint: {HINTS[name][0]}{more}")


def hint(name: str, level: int = 1) -> None:
    """Print hint number ``level`` of an exercise (1 nudges; later ones say more)."""
    if isinstance(level, str) and level.strip().isdigit():
        level = int(level)  # hint(name, "2")
    if isinstance(level, bool) or not isinstance(level, numbers.Integral):
        raise CheckFailed(f'the hint level is a whole number: checks.hint("{name}", 2), not {level!r}.')
    level = int(level)
    if not isinstance(name, str) or name not in HINTS:
        raise CheckFailed(
            f"there is no exercise {name!r}; the exercises are: {', '.join(sorted(HINTS))}."
        )
    hints = HINTS[name]
    if level > len(hints):
        print(
            f"{name} has {len(hints)} hints; the answer itself is in the teacher's copy of the "
            "notebook (notebooks/ in the course repository)."
        )
        return
    level = max(level, 1)
    later = f' (next: checks.hint("{name}", {level + 1}))' if level < len(hints) else ""
    print(f"Hint {level} of {len(hints)} for {name}: {hints[level - 1]}{later}")


def passed(message: str) -> None:
    """Print what was verified (and return nothing, so a notebook shows no stray ``True``)."""
    print("Correct: " + message)


def shape_of(t: torch.Tensor | Sequence[int]) -> str:
    """'16x32x32': a feature map's shape without the batch dimension."""
    dims = t.shape[1:] if isinstance(t, torch.Tensor) else t
    return "x".join(str(d) for d in dims)


def same(a, b, tol: float = 1e-5) -> bool:
    return (
        isinstance(a, torch.Tensor)
        and a.shape == b.shape
        and torch.allclose(a.float(), b.float(), rtol=tol, atol=tol)
    )


def as_function(answer, what: str) -> Callable:
    """The answer, when it is a function to call; else say that a function is asked."""
    if not callable(answer):
        raise CheckFailed(
            f"{what} should be a function (def ...: give its name, without calling it), but it is "
            f"{type(answer).__name__}: {answer!r}."
        )
    return answer


def as_tensor(answer, what: str) -> torch.Tensor:
    if not isinstance(answer, torch.Tensor):
        raise CheckFailed(f"{what} should return a tensor, but it returned {type(answer).__name__}.")
    return answer


def refuse_in_place(what: str, before: dict[str, torch.Tensor], after: dict[str, torch.Tensor]) -> None:
    """Fail when the student's code wrote into an input: ``before`` holds copies taken before
    the call (the expected value is computed before it too, so it is never the victim)."""
    changed = [name for name, old in before.items() if not torch.equal(old, after[name])]
    if changed:
        raise CheckFailed(
            f"{what} changed its input {' and '.join(changed)} in place (+=, relu_, inplace=True "
            "or a slice assignment on an input); its caller still needs it: build a new tensor."
        )


def as_number(answer, what: str) -> float:
    if isinstance(answer, torch.Tensor) and answer.numel() == 1:
        answer = answer.item()
    # any real number counts: np.int64 (what np.sum gives), np.float32, fractions
    if isinstance(answer, bool) or not isinstance(answer, numbers.Real):
        raise CheckFailed(f"{what} should be a number, but it is {type(answer).__name__}: {answer!r}.")
    return int(answer) if isinstance(answer, numbers.Integral) else float(answer)


def bn_parameters(model: nn.Module) -> int:
    return sum(count_parameters(m) for m in model.modules() if isinstance(m, nn.BatchNorm2d))


def conv_outputs(model: nn.Module) -> int:
    """What biases on every conv would add: one per output channel."""
    return sum(m.out_channels for m in model.modules() if isinstance(m, nn.Conv2d))
