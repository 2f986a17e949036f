"""Write the student notebooks: solutions replaced by a stub that raises with a hint.

A solution cell is tagged ``solution`` and holds its answer between two marker lines:

    def residual_forward(x, branch, shortcut):
        # BEGIN SOLUTION
        return torch.relu(branch(x) + shortcut(x))
        # END SOLUTION

and the next code cell calls its check, ``checks.residual_forward(residual_forward)``. In the
student copy everything from ``# BEGIN SOLUTION`` to ``# END SOLUTION`` becomes a stub with
the exercise's first hint, taken from the check (``resnet_utils.checks.HINTS``): the hints are
written there once, and the solved notebook carries none. Inside a function the stub is
``raise NotImplementedError("Your turn: ... Hint: ...")``; at the top level of a cell, where a
raise would stop Run All, each name the solution assigns becomes ``name = ...`` under the hint.
Either way the check below reports the exercise as unanswered in one line, with the same hint,
and the notebook runs on. Outputs are cleared, and the Colab badge points at the student copy.

Usage: python tools/student.py [--out student] notebooks/01_degradation.ipynb [...]
"""

from __future__ import annotations

import argparse
import ast
import re
import textwrap
from pathlib import Path

import nbformat

from resnet_utils.checks import HINTS

BEGIN, END = "# BEGIN SOLUTION", "# END SOLUTION"
SOLUTION_TAG = "solution"
COLAB_PATH = re.compile(r"(colab\.research\.google\.com/github/\S*?/blob/[^/\s]+/)notebooks/")
NOTICE = "Your turn: replace this raise with your answer, run the cell, then run the check below it."
VALUE_NOTICE = "Your turn: replace ... with your answer, run the cell, then run the check below it."
HINT_LINE = re.compile(r"^\s*#\s*hint:", re.I)


def stub_source(
    source: str, hint: str, where: str = "a solution cell", checked: set[str] | None = None
) -> str:
    """The cell's source with each marked solution replaced by a stub that gives ``hint``.
    ``checked``: the names the check cell reads; a top-level stub asks for those only."""
    lines, out, i = source.splitlines(), [], 0
    while i < len(lines):
        line = lines[i]
        if line.strip() != BEGIN:
            if line.strip() == END:
                raise ValueError(f"{where}: '{END}' without '{BEGIN}'")
            out.append(line)
            i += 1
            continue
        indent = line[: len(line) - len(line.lstrip())]
        begin = i
        i += 1
        while i < len(lines) and lines[i].strip() != END:
            if HINT_LINE.match(lines[i]):
                raise ValueError(
                    f"{where}: a '# hint:' line in the solution; the hint is written once, in "
                    "resnet_utils.checks, and the student copy takes it from there"
                )
            i += 1
        if i == len(lines):
            raise ValueError(f"{where}: '{BEGIN}' without '{END}'")
        if indent:
            message = NOTICE + " Hint: " + hint
            out.append(f"{indent}raise NotImplementedError(")
            pieces = textwrap.wrap(message, 80, drop_whitespace=False)
            out.extend(f"{indent}    {piece!r}" for piece in pieces)
            out.append(f"{indent})")
        else:
            out.extend(_value_stub(lines[begin + 1 : i], hint, where, checked))
        i += 1
    return "\n".join(out)


def _value_stub(
    solution: list[str], hint: str, where: str, checked: set[str] | None = None
) -> list[str]:
    """``name = ...`` for each name a top-level solution assigns that the check reads (every
    name it assigns when the check reads none), under the hint as comments. The solution's
    intermediate variables stay out of the stub: a question asking for a letter asks for a
    letter, not for the teacher's way to it."""
    names = []
    for node in ast.parse("\n".join(solution)).body:
        targets = node.targets if isinstance(node, ast.Assign) else [getattr(node, "target", None)]
        names += [t.id for t in targets if isinstance(t, ast.Name) and t.id not in names]
    names = [n for n in names if n in (checked or ())] or names
    if not names:
        raise ValueError(f"{where}: a top-level solution must assign the answer to a name")
    comments = textwrap.wrap(VALUE_NOTICE + " Hint: " + hint, 92)
    return [f"# {line}" for line in comments] + [f"{name} = ..." for name in names]


def student_notebook(notebook: nbformat.NotebookNode, name: str) -> nbformat.NotebookNode:
    """A copy with stubs for solutions, no outputs, and its badge pointing at ``student/``."""
    copy = nbformat.from_dict(notebook)
    for key in ("papermill", "widgets"):  # run records and saved widget state
        copy.metadata.pop(key, None)
    solutions = 0
    for index, cell in enumerate(copy.cells):
        cell.metadata.pop("papermill", None)
        cell.metadata.pop("execution", None)
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
            if SOLUTION_TAG in cell.metadata.get("tags", []):
                where = f"{name}, cell {index}"
                exercise = exercise_checked_after(copy.cells[index + 1 :], where)
                checked = names_read(
                    next(c for c in copy.cells[index + 1 :] if c.cell_type == "code").source
                )
                cell.source = stub_source(cell.source, HINTS[exercise][0], where, checked)
                solutions += 1
        elif cell.cell_type == "markdown":
            cell.source = COLAB_PATH.sub(r"\1student/", cell.source)
    if not solutions:
        raise ValueError(f"{name} has no cell tagged {SOLUTION_TAG!r}")
    return copy


def exercise_checked_after(cells: list, where: str) -> str:
    """The exercise whose check the next code cell calls (``checks.deletable(deletable)``)."""
    following = next((c for c in cells if c.cell_type == "code"), None)
    called = [] if following is None else checks_called(following.source)
    if len(called) != 1:
        raise ValueError(
            f"{where}: the code cell after a solution must call one exercise's check, "
            f"checks.NAME(...) with NAME one of {', '.join(sorted(HINTS))}; found {called or 'none'}"
        )
    return called[0]


def names_read(source: str) -> set[str]:
    """Every name the source reads (the check cell's arguments among them)."""
    return {
        node.id
        for node in ast.walk(ast.parse(source))
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load)
    }


def checks_called(source: str) -> list[str]:
    """The exercises (``HINTS``' names) whose ``checks.NAME(...)`` the source calls."""
    return [
        node.func.attr
        for node in ast.walk(ast.parse(source))
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and getattr(node.func.value, "id", None) == "checks"
        and node.func.attr in HINTS
    ]


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("notebooks", nargs="+", type=Path)
    parser.add_argument("--out", type=Path, default=Path("student"))
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    for path in args.notebooks:
        notebook = student_notebook(nbformat.read(path, as_version=4), path.name)
        target = args.out / path.name
        nbformat.write(notebook, target)
        print(f"{path} -> {target}")


if __name__ == "__main__":
    main()
