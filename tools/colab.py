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
import subprocess
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


REPOSITORY = re.compile(r"https://github\.com/[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+")
# A tag, branch or commit as this tool accepts it: git's own rules allow more, but each of
# these characters is safe in the TOML string, the Colab URL and the set-up cell's Python string.
REF = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_./+-]*")


def check_repository(value: str) -> str:
    if not REPOSITORY.fullmatch(value):
        raise SystemExit(f"repository must be https://github.com/OWNER/NAME, not {value!r}")
    return value


def check_ref(value: str) -> str:
    if not REF.fullmatch(value) or ".." in value or value.endswith((".", "/", ".lock")):
        raise SystemExit(
            f"{value!r} is not a ref this tool accepts: give a tag, branch or commit made of letters, "
            "digits and . _ / + - (v0.2.1, main, 4c60b2c)"
        )
    return value


def _table(text: str, pyproject: Path) -> re.Match:
    table = re.search(r"^\[tool\.resnet-course\]\n(.*?)(?=^\[|\Z)", text, re.M | re.S)
    if table is None:
        raise SystemExit(f"{pyproject} has no [tool.resnet-course] table")
    return table


def parse_settings(text: str, pyproject: Path = PYPROJECT) -> dict[str, str]:
    """``repository`` and ``ref`` from the ``[tool.resnet-course]`` table of a pyproject text."""
    body = _table(text, pyproject).group(1)
    found = dict(re.findall(r'^(repository|ref)\s*=\s*"([^"]*)"', body, re.M))
    if set(found) != {"repository", "ref"}:
        raise SystemExit(f'[tool.resnet-course] in {pyproject} needs repository = "..." and ref = "..."')
    check_repository(found["repository"])
    check_ref(found["ref"])
    return found


def settings(pyproject: Path = PYPROJECT) -> dict[str, str]:
    """``repository`` and ``ref`` from the ``[tool.resnet-course]`` table."""
    return parse_settings(pyproject.read_text(), pyproject)


def with_settings(text: str, pyproject: Path = PYPROJECT, **values: str | None) -> str:
    """The pyproject text with new values in its ``[tool.resnet-course]`` table (only there),
    each checked first; nothing is written."""
    table = _table(text, pyproject)
    body = table.group(1)
    for key, value in values.items():
        if value is None:
            continue
        {"ref": check_ref, "repository": check_repository}[key](value)
        line = re.compile(rf'^({key}\s*=\s*)"[^"]*"', re.M)
        body, n = line.subn(lambda m, v=value: f'{m.group(1)}"{v}"', body, count=1)
        if n != 1:
            raise SystemExit(f'[tool.resnet-course] in {pyproject} needs {key} = "..."')
    return text[: table.start(1)] + body + text[table.end(1) :]


def set_settings(pyproject: Path, **values: str | None) -> None:
    pyproject.write_text(with_settings(pyproject.read_text(), pyproject, **values))


def ref_warning(ref: str, root: Path = ROOT) -> str | None:
    """Words for a ref that this repository does not know (Colab would fail to install from
    it), or None: known, or no git repository to ask."""
    try:
        inside = subprocess.run(["git", "rev-parse", "--git-dir"], cwd=root, capture_output=True)
        if inside.returncode != 0:
            return None
        known = subprocess.run(
            ["git", "rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}"],
            cwd=root,
            capture_output=True,
        )
    except OSError:  # no git here
        return None
    if known.returncode == 0:
        return None
    return (
        f"warning: {ref} is not a tag, branch or commit of this repository yet. Colab installs from "
        f"it, so commit these changes, tag them (git tag {ref}) and push the tag "
        f"(git push origin {ref}); until then every badge and set-up cell fails in Colab."
    )


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


def planned(root: Path = ROOT, config: dict[str, str] | None = None) -> dict[Path, str]:
    """Every file this tool writes, with the text it should have (from ``config``, or from
    ``root``'s pyproject.toml)."""
    config = settings(root / "pyproject.toml") if config is None else config
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
    # Everything is computed and checked first: a refused value leaves every file as it was.
    try:
        pyproject = with_settings(PYPROJECT.read_text(), ref=args.ref, repository=args.repository)
        config = parse_settings(pyproject)
        files = {PYPROJECT: pyproject, **planned(ROOT, config)}
    except SystemExit as refused:
        print(f"error: {refused}; nothing was written.", file=sys.stderr)
        return 2
    for path, text in files.items():
        if path.read_text() != text:
            path.write_text(text)
            print(f"updated {path.relative_to(ROOT)}")
    warning = ref_warning(config["ref"])
    if warning:
        print(warning, file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
