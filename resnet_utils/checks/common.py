"""What every check shares: the worded failure, the one-line "unanswered", hints in steps.

A check either prints what it verified ("Correct: ...") or raises :class:`CheckFailed`
with what is wrong, in words. An exercise left as its student stub (a function that
raises ``NotImplementedError``, or a value left as ``...``) is not a failure: the check
says in one line that it is unanswered, with its first hint, so that Run All goes on.
"""

from __future__ import annotations

import functools
import inspect
import math
import numbers
import re
from collections.abc import Callable, Sequence

import numpy as np
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

    A check whose answer is a function (its first parameter annotated ``Callable``) opens its
    docstring with the call it makes, ``count(depth)``: an answer that is no function, or one
    that cannot be called so, is told that in words before the check runs.
    """
    if not hints:
        raise ValueError("an exercise needs at least one hint")

    def register(check: Callable) -> Callable:
        name = check.__name__
        HINTS[name] = hints

        usage = _usage(check) if _first_annotation(check).startswith("Callable") else None

        @functools.wraps(check)
        def run(answer, *args, **kwargs):
            if answer is Ellipsis:
                return unanswered(name)
            try:
                if usage:
                    as_function(answer, "your answer", usage)
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


def _usage(check: Callable) -> str:
    """'count(depth)': how the check calls the student's function, from its docstring."""
    found = re.match(r"``(\w+\([^`]*\))``", (check.__doc__ or "").strip())
    if not found:
        raise ValueError(
            f"{check.__name__}: a check of a function opens its docstring with the call it makes, "
            "as ``count(depth)``"
        )
    return found[1]


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


def _sentence(text: str) -> str:
    """The text ending as a sentence does, so that what follows it on the line starts anew."""
    text = text.rstrip()
    return text if text.endswith((".", "?", "!")) else text + "."


def unanswered(name: str) -> None:
    """One line: this exercise is still open, its first hint, and how to get the next."""
    more = f' More: checks.hint("{name}", 2).' if len(HINTS[name]) > 1 else ""
    print(f"Unanswered: {name}. Hint: {_sentence(HINTS[name][0])}{more}")


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
    later = f' Next: checks.hint("{name}", {level + 1}).' if level < len(hints) else ""
    print(f"Hint {level} of {len(hints)} for {name}: {_sentence(hints[level - 1])}{later}")


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


def as_function(answer, what: str, usage: str | None = None) -> Callable:
    """The answer, when it is a function that can be called as ``usage`` ('count(depth)');
    else say that a function is asked, and how the check calls it."""
    asked = f"{what} should be a function (def ...: give its name, without calling it), but it is"
    if inspect.isclass(answer):  # callable, but calling it builds an object
        raise CheckFailed(
            f"{asked} a class, {answer.__name__}"
            + (f"; the check calls a function as {usage}." if usage else ".")
        )
    if not callable(answer):
        raise CheckFailed(f"{asked} {type(answer).__name__}: {answer!r}.")
    if usage:
        _refuse_other_parameters(answer, usage)
    return answer


def _refuse_other_parameters(answer: Callable, usage: str) -> None:
    """Say in words when ``answer`` cannot be called as ``usage`` (its parameters differ);
    its own TypeErrors, raised once it runs, stay the student's traceback."""
    module = isinstance(answer, nn.Module)  # calling a module calls its forward
    try:
        signature = inspect.signature(answer.forward if module else answer)
    except (TypeError, ValueError):  # no signature to read (a builtin): calling it will tell
        return
    names = [n.strip() for n in usage[usage.index("(") + 1 : -1].split(",") if n.strip()]
    try:
        signature.bind(*names)
    except TypeError:
        bare = signature.replace(
            parameters=[p.replace(annotation=p.empty) for p in signature.parameters.values()],
            return_annotation=signature.empty,
        )
        count = f"{len(names)} argument{'s' if len(names) != 1 else ''}"
        raise CheckFailed(
            f"{'your module' if module else 'your function'} should take {count}: the check calls it as "
            f"{usage}, but {'its forward' if module else 'yours'} takes {bare}."
        ) from None


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


def _scalar(answer):
    """A one-element tensor or numpy array (or a numpy scalar) as the Python number it holds:
    torch.tensor(5), np.array([5]) and np.int64(5) all give 5. Anything else as it is."""
    if isinstance(answer, torch.Tensor) and answer.numel() == 1:
        return answer.item()
    if isinstance(answer, (np.ndarray, np.generic)) and answer.size == 1:
        return answer.item()
    return answer


def as_number(answer, what: str) -> int | float:
    """The answer as an int or a float: every check that asks for a number reads it here.

    Any real number counts (np.int64 from np.sum, np.float32, fractions), and so does a tensor
    or numpy array holding one; NaN and infinities are refused in words."""
    value = _scalar(answer)
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise CheckFailed(f"{what} should be a number, but it is {type(answer).__name__}: {answer!r}.")
    if isinstance(value, numbers.Integral):
        return int(value)
    value = float(value)
    if math.isnan(value):
        raise CheckFailed(
            f"{what} should be a number, but it is NaN (not a number: what 0/0 or inf - inf give, "
            "and any sum that includes a NaN)."
        )
    if math.isinf(value):
        raise CheckFailed(f"{what} should be a finite number, but it is {value}.")
    return value


def as_whole_numbers(answer, count: int) -> tuple[int, ...] | None:
    """``count`` whole numbers given as a tuple, list, torch.Size, numpy array or tensor, as a
    tuple of ints (64.0 counts as 64); None when the answer is not that."""
    if isinstance(answer, (torch.Tensor, np.ndarray)):
        if answer.ndim != 1:
            return None
        answer = answer.tolist()
    if isinstance(answer, str) or not isinstance(answer, Sequence) or len(answer) != count:
        return None
    values = [_scalar(v) for v in answer]
    if any(isinstance(v, bool) or not isinstance(v, numbers.Real) for v in values):
        return None
    if not all(isinstance(v, numbers.Integral) or float(v).is_integer() for v in values):
        return None
    return tuple(int(v) for v in values)


def bn_parameters(model: nn.Module) -> int:
    return sum(count_parameters(m) for m in model.modules() if isinstance(m, nn.BatchNorm2d))


def conv_outputs(model: nn.Module) -> int:
    """What biases on every conv would add: one per output channel."""
    return sum(m.out_channels for m in model.modules() if isinstance(m, nn.Conv2d))
