"""Colab badges and the Colab set-up cell, generated from one place.

The repository and the ref (tag, branch or commit) that Colab installs the course package
from live in ``pyproject.toml``, table ``[tool.resnet-course]``. This tool writes them into

- the first markdown cell of each ``notebooks/NN_*.py`` (an "Open in Colab" badge),
- the code cell tagged ``colab-setup`` that follows it (installs resnet_utils, Colab only;
  ``start()`` turns on Colab's widget support),
- the badge table in README.md, between ``<!-- colab-badges -->`` and ``<!-- /colab-badges -->``.

Usage:
    python tools/colab.py                      rewrite everything from pyproject.toml
    python tools/colab.py --ref v0.3.0         bump the ref (and --repository URL), then rewrite
    python tools/colab.py --check              exit 1 if a file is out of date
(then ``make sync`` pairs the .ipynb files and writes the student copies; ``make colab-ref`` does both.)
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

import jupytext
from nbformat.v4 import new_code_cell

ROOT = Path(__file__).resolve().parent.parent
PYPROJECT = ROOT / "pyproject.toml"
README = ROOT / "README.md"
SETUP_TAG = "colab-setup"
BADGE_IMAGE = "https://colab.research.google.com/assets/colab-badge.svg"
BADGE = re.compile(r"^\[!\[Open In Colab\]\([^)]*\)\]\([^)]*\)\n*")
TABLE = re.compile(r"<!-- colab-badges -->.*?<!-- /colab-badges -->", re.S)
HEADING = re.compile(r"^# (?:\d+\.\s*)?(.+)$", re.M)  # "# 1. The degradation problem"


def settings(pyproject: Path = PYPROJECT) -> dict[str, str]:
    """``repository`` and ``ref`` from the ``[tool.resnet-course]`` table."""
    table = re.search(r"^\[tool\.resnet-course\]\n(.*?)(?=^\[|\Z)", pyproject.read_text(), re.M | re.S)
    if table is None:
        raise SystemExit(f"{pyproject} has no [tool.resnet-course] table")
    found = dict(re.findall(r'^(repository|ref)\s*=\s*"([^"]*)"', table.group(1), re.M))
    if set(found) != {"repository", "ref"}:
        raise SystemExit(f'[tool.resnet-course] in {pyproject} needs repository = "..." and ref = "..."')
    if not re.fullmatch(r"https://github\.com/[^/\s]+/[^/\s]+", found["repository"]):
        raise SystemExit(
            f"repository must be https://github.com/OWNER/NAME, not {found['repository']!r}"
        )
    return found


def set_settings(pyproject: Path, **values: str | None) -> None:
    text = pyproject.read_text()
    for key, value in values.items():
        if value is not None:
            text = re.sub(rf'^({key}\s*=\s*)"[^"]*"', rf'\g<1>"{value}"', text, count=1, flags=re.M)
    pyproject.write_text(text)


def colab_url(repository: str, ref: str, path: str) -> str:
    slug = repository.removeprefix("https://github.com/")
    return f"https://colab.research.google.com/github/{slug}/blob/{ref}/{path}"


def badge(repository: str, ref: str, path: str) -> str:
    return f"[![Open In Colab]({BADGE_IMAGE})]({colab_url(repository, ref, path)})"


def setup_cell(repository: str, ref: str) -> str:
    """The cell that installs the course package in Colab (its widget support is turned on by
    ``start()``, in the set-up cell)."""
    return f"""# In Colab only (elsewhere nothing): install this course's package at the version these
# notebooks were written for; --no-deps keeps Colab's own torch, numpy, matplotlib, ipywidgets.
import importlib
import subprocess
import sys

if "google.colab" in sys.modules:
    package = "git+{repository}@{ref}"
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", package], check=True)
    importlib.invalidate_caches()"""


def update_notebook(path: Path, repository: str, ref: str) -> str:
    """The .py text of a notebook with its badge and set-up cell brought up to date."""
    notebook = jupytext.read(path)
    title = notebook.cells[0]
    if title.cell_type != "markdown":
        raise SystemExit(f"{path}: the first cell should be the title (markdown)")
    ipynb = f"notebooks/{path.stem}.ipynb"
    title.source = badge(repository, ref, ipynb) + "\n\n" + BADGE.sub("", title.source)
    cell = new_code_cell(setup_cell(repository, ref), metadata={"tags": [SETUP_TAG]})
    tagged = [i for i, c in enumerate(notebook.cells) if SETUP_TAG in c.metadata.get("tags", [])]
    if tagged:
        notebook.cells[tagged[0]] = cell
    else:
        notebook.cells.insert(1, cell)
    return jupytext.writes(notebook, fmt="py:percent")


def title(path: Path) -> str:
    """A notebook's title: the heading of its first cell, without its number."""
    found = HEADING.search(jupytext.read(path).cells[0].source)
    return found.group(1).strip() if found else path.stem


def readme_table(repository: str, ref: str, notebooks: list[Path]) -> str:
    rows = [
        "<!-- colab-badges -->",
        "| notebook | for students (exercises open) | with solutions and our outputs |",
        "|---|---|---|",
    ]
    for path in notebooks:
        name = path.stem
        rows.append(
            f"| {title(path)} | {badge(repository, ref, f'student/{name}.ipynb')} "
            f"| {badge(repository, ref, f'notebooks/{name}.ipynb')} |"
        )
    rows.append("<!-- /colab-badges -->")
    return "\n".join(rows)


def planned(root: Path = ROOT) -> dict[Path, str]:
    """Every file this tool writes, with the text it should have."""
    config = settings(root / "pyproject.toml")
    notebooks = sorted((root / "notebooks").glob("[0-9][0-9]_*.py"))
    files = {path: update_notebook(path, **config) for path in notebooks}
    readme = (root / "README.md").read_text()
    if not TABLE.search(readme):
        raise SystemExit("README.md has no <!-- colab-badges --> ... <!-- /colab-badges --> block")
    files[root / "README.md"] = TABLE.sub(lambda _: readme_table(notebooks=notebooks, **config), readme)
    return files


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ref", help="the tag, branch or commit Colab installs from")
    parser.add_argument("--repository", help="https://github.com/OWNER/NAME")
    parser.add_argument("--check", action="store_true", help="only report files that are out of date")
    args = parser.parse_args(argv)
    if args.check:
        stale = [p for p, text in planned().items() if p.read_text() != text]
        for path in stale:
            print(f"out of date: {path.relative_to(ROOT)} (run `make colab-ref`)")
        return 1 if stale else 0
    set_settings(PYPROJECT, ref=args.ref, repository=args.repository)
    for path, text in planned().items():
        if path.read_text() != text:
            path.write_text(text)
            print(f"updated {path.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
