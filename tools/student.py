"""Write the student notebooks: solutions replaced by a stub that raises with a hint.

A solution cell is tagged ``solution`` and holds its answer between two marker lines:

    def residual_forward(x, branch, shortcut):
        # BEGIN SOLUTION
        # hint: add the two paths first, then apply the ReLU
        return torch.relu(branch(x) + shortcut(x))
        # END SOLUTION

In the student copy everything from ``# BEGIN SOLUTION`` to ``# END SOLUTION`` becomes
``raise NotImplementedError("Your turn: ... Hint: ...")`` at the marker's indentation; the
comment lines right after ``BEGIN SOLUTION`` are the hint. Outputs are cleared, and the
Colab badge points at the student copy.

Usage: python tools/student.py [--out student] notebooks/01_degradation.ipynb [...]
"""

from __future__ import annotations

import argparse
import re
import textwrap
from pathlib import Path

import nbformat

BEGIN, END = "# BEGIN SOLUTION", "# END SOLUTION"
SOLUTION_TAG = "solution"
COLAB_PATH = re.compile(r"(colab\.research\.google\.com/github/\S*?/blob/[^/\s]+/)notebooks/")
NOTICE = "Your turn: replace this raise with your answer, run the cell, then run the check below it."


def stub_source(source: str, where: str = "a solution cell") -> str:
    """The cell's source with each marked solution replaced by a raising stub."""
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
        i += 1
        hint = []
        while i < len(lines) and lines[i].strip().startswith("#") and lines[i].strip() != END:
            hint.append(re.sub(r"^#\s*(hint:\s*)?", "", lines[i].strip()))
            i += 1
        while i < len(lines) and lines[i].strip() != END:
            i += 1
        if i == len(lines):
            raise ValueError(f"{where}: '{BEGIN}' without '{END}'")
        if not hint:
            raise ValueError(f"{where}: a solution needs a '# hint: ...' line after '{BEGIN}'")
        message = NOTICE + " Hint: " + " ".join(hint)
        out.append(f"{indent}raise NotImplementedError(")
        pieces = textwrap.wrap(message, 80, drop_whitespace=False)
        out.extend(f"{indent}    {piece!r}" for piece in pieces)
        out.append(f"{indent})")
        i += 1
    return "\n".join(out)


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
                cell.source = stub_source(cell.source, f"{name}, cell {index}")
                solutions += 1
        elif cell.cell_type == "markdown":
            cell.source = COLAB_PATH.sub(r"\1student/", cell.source)
    if not solutions:
        raise ValueError(f"{name} has no cell tagged {SOLUTION_TAG!r}")
    return copy


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
