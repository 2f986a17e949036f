"""What every check shares: the worded failure, the one-line "unanswered", hints in steps.

A check either prints what it verified ("Correct: ...") or raises :class:`CheckFailed`
with what is wrong, in words. An exercise left as its student stub (a function that
raises ``NotImplementedError``, or a value left as ``...``) is not a failure: the check
says in one line that it is unanswered, with its first hint, so that Run All goes on.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence

import torch
from torch import nn

from ..models import count_parameters


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

        @functools.wraps(check)
        def run(answer, *args, **kwargs):
            if answer is Ellipsis:
                return unanswered(name)
            try:
                return check(answer, *args, **kwargs)
            except NotImplementedError:  # the student stub, raised when the check calls it
                return unanswered(name)

        return run

    return register


def unanswered(name: str) -> None:
    """One line: this exercise is still open, its first hint, and how to get the next."""
    more = f' More: checks.hint("{name}", 2).' if len(HINTS[name]) > 1 else ""
    print(f"Unanswered: {name}. Hint: {HINTS[name][0]}{more}")


def hint(name: str, level: int = 1) -> None:
    """Print hint number ``level`` of an exercise (1 nudges; later ones say more)."""
    if name not in HINTS:
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


def as_tensor(answer, what: str) -> torch.Tensor:
    if not isinstance(answer, torch.Tensor):
        raise CheckFailed(f"{what} should return a tensor, but it returned {type(answer).__name__}.")
    return answer


def as_number(answer, what: str) -> float:
    if isinstance(answer, torch.Tensor) and answer.numel() == 1:
        answer = answer.item()
    if isinstance(answer, bool) or not isinstance(answer, (int, float)):
        raise CheckFailed(f"{what} should be a number, but it is {type(answer).__name__}: {answer!r}.")
    return answer


def bn_parameters(model: nn.Module) -> int:
    return sum(count_parameters(m) for m in model.modules() if isinstance(m, nn.BatchNorm2d))


def conv_outputs(model: nn.Module) -> int:
    """What biases on every conv would add: one per output channel."""
    return sum(m.out_channels for m in model.modules() if isinstance(m, nn.Conv2d))
