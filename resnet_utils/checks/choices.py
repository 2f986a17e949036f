"""Multiple-choice answers about the measurements: the right choice is computed, not fixed.

An interpretation exercise asks which statement the run supports; which one that is depends on
the run (another profile or seed can change it), so each check derives the right letter from
the measured numbers and explains a wrong pick in words.
"""

from __future__ import annotations

from ..verdicts import learned
from .common import CheckFailed, passed

SEED_STATEMENTS = {
    "a": "on every seed, {a}'s {metric} is higher than {b}'s",
    "b": "on some seeds it is higher, on others not: the seeds disagree",
    "c": "on every seed, {a}'s {metric} is lower than {b}'s",
}


def pick(answer, statements: dict[str, str], correct: str, why: dict[str, str]) -> None:
    """Pass when ``answer`` is the letter of the right statement; else say why it is not."""
    if not isinstance(answer, str):
        raise CheckFailed(
            f"answer with one letter, as text ('a'), of {', '.join(map(repr, statements))}; you "
            f"gave {type(answer).__name__}: {answer!r}."
        )
    letter = answer.strip().lower()
    if letter not in statements:
        raise CheckFailed(
            f"answer with one letter of {', '.join(map(repr, statements))}; you gave {answer!r}."
        )
    if letter == correct:
        return passed(f"({correct}) {statements[correct]}. {why.get(correct, '')}".rstrip())
    raise CheckFailed(f"({letter}) is not what the numbers say. {why.get(letter, '')}".rstrip())


def per_seed(a, b, metric: str) -> list[tuple[int, float, float]]:
    """(seed, a's final metric, b's) for every seed both groups finished: a paired comparison."""
    finals_a = {run.spec["seed"]: run.final(metric) for run in a.finished}
    finals_b = {run.spec["seed"]: run.final(metric) for run in b.finished}
    return [(s, finals_a[s], finals_b[s]) for s in sorted(finals_a.keys() & finals_b.keys())]


def seed_agreement(a, b, metric: str) -> str:
    """'a' when a is higher on every common seed, 'c' when lower on every one, 'b' otherwise."""
    pairs = per_seed(a, b, metric)
    if pairs and all(x > y for _, x, y in pairs):
        return "a"
    if pairs and all(x < y for _, x, y in pairs):
        return "c"
    return "b"


def check_seed_agreement(answer, a, b, metric: str, a_name: str, b_name: str) -> None:
    """Does the comparison of a with b come out the same way on every seed? Worded feedback."""
    pairs = per_seed(a, b, metric)
    if not pairs:
        raise CheckFailed(
            f"{a_name} and {b_name} have no seed in common that finished: nothing to read."
        )
    what = metric.replace("_", " ")
    statements = {k: v.format(a=a_name, b=b_name, metric=what) for k, v in SEED_STATEMENTS.items()}
    listing = "; ".join(f"seed {s}: {a_name} {x:.3f}, {b_name} {y:.3f}" for s, x, y in pairs)
    higher = sum(x > y for _, x, y in pairs)
    counts = f"{a_name}'s {what} is higher on {higher} of {len(pairs)} seeds ({listing})."
    if len(pairs) == 1:
        counts += " With one seed there is no second draw to agree or disagree."
    for side, name in ((a, a_name), (b, b_name)):
        if not (status := learned(side)).ok:
            counts += f" Mind: {name} has not trained enough to be ranked ({status.reason})."
    why = {letter: counts for letter in statements}
    pick(answer, statements, seed_agreement(a, b, metric), why)
