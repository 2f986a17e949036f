"""``make sync``: bring each notebook pair (``NN_topic.py`` and ``NN_topic.ipynb``) in line,
from whichever side changed, and refuse when both did.

``jupytext --sync`` takes the newer file as the source: a notebook saved in Jupyter after an
edit of its .py wins, and the edit is gone from both files without a word. Here each side's
cell inputs are compared with what the pair last agreed on (recorded in ``build/sync/`` at
every sync; before the first, the committed .py): the side that changed is copied to the
other, outputs kept; when both changed differently, nothing is written and the message says
how to keep one side (the other is backed up first).

Usage: .venv/bin/python tools/sync.py notebooks/01_degradation.py [...] [--keep py|ipynb]
(``make sync [KEEP=py|ipynb]`` runs it on every pair, then remakes student/.)
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import jupytext
from jupytext.combine import combine_inputs_with_outputs

ROOT = Path(__file__).resolve().parents[1]


def records_for(py: Path) -> Path:
    """Where a pair's last agreement is kept: build/sync/ for the course's notebooks (ignored
    by git), a hidden .sync/ beside a pair elsewhere."""
    return ROOT / "build" / "sync" if py.resolve().is_relative_to(ROOT) else py.parent / ".sync"


FORMAT = "py:percent"


class BothChanged(Exception):
    """Both files of a pair changed since they last agreed: which one to keep is the user's call."""


def inputs(notebook) -> list[tuple]:
    """What a sync carries across: each cell's kind, text and tags (not outputs or ids)."""
    return [(c.cell_type, c.source.strip(), tuple(c.metadata.get("tags", ()))) for c in notebook.cells]


def agreed(py: Path, records: Path) -> list[tuple] | None:
    """The cell inputs the pair last agreed on: the record of the last sync, else the
    committed .py (a fresh clone), else None."""
    record = records / py.name
    if record.exists():
        return inputs(jupytext.reads(record.read_text(), fmt=FORMAT))
    try:
        relative = py.resolve().relative_to(ROOT)
        text = subprocess.run(
            ["git", "show", f"HEAD:{relative.as_posix()}"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    except (ValueError, OSError, subprocess.CalledProcessError):
        return None
    return inputs(jupytext.reads(text, fmt=FORMAT))


def _typed(path: str | Path) -> str:
    """A path as one types it here: relative below the current folder, else absolute."""
    path = Path(path).absolute()
    return str(path.relative_to(Path.cwd())) if path.is_relative_to(Path.cwd()) else str(path)


def python_command() -> str:
    """This Python as a command to type here: the venv's (``.venv/bin/python``), not ``python``."""
    return _typed(sys.executable)


def keep_advice(py: Path) -> str:
    """How to keep one side of a pair that both changed, as a command that works here."""
    if py.resolve().parent == ROOT / "notebooks":
        return (
            "Keep one side with `make sync KEEP=py` or `make sync KEEP=ipynb` (in every pair "
            "that both changed; it also remakes student/)."
        )
    tool = _typed(ROOT / "tools" / "sync.py")
    return f"Keep one side with `{python_command()} {tool} --keep py {py}` or `--keep ipynb`."


def sync(py: Path, *, keep: str | None = None, records: Path | None = None) -> str:
    """Sync one pair; return what was done, in words. Raises BothChanged, writing nothing,
    when both sides changed since the last agreement and ``keep`` does not say which wins."""
    records = records_for(py) if records is None else records
    ipynb = py.with_suffix(".ipynb")
    text_nb = jupytext.read(py)
    if not ipynb.exists():
        _write_ipynb(py, text_nb, None)
        done = f"{ipynb} made from {py}"
    else:
        full_nb = jupytext.read(ipynb)
        mine, theirs = inputs(text_nb), inputs(full_nb)
        base = agreed(py, records)
        if mine == theirs:
            side = None
        elif base is not None and theirs == base:
            side = "py"
        elif base is not None and mine == base:
            side = "ipynb"
        elif keep is not None:  # only where both changed: `make sync KEEP=py` runs over every pair
            side = keep
        else:
            since = "since the last `make sync`" if base is not None else "(no record of a last sync)"
            raise BothChanged(
                f"{py} and {ipynb} both changed {since}, differently (the notebook saved in "
                f"Jupyter after an edit of the .py?). Nothing was written. {keep_advice(py)} "
                f"The other side is copied to {records / 'backup'}/ first."
            )
        if side == "py":
            _backup(ipynb, records)
            _write_ipynb(py, text_nb, full_nb)
            done = f"{ipynb} updated from {py} (outputs kept)"
        elif side == "ipynb":
            _backup(py, records)
            jupytext.write(full_nb, py, fmt=FORMAT)
            done = f"{py} updated from {ipynb}"
        else:
            done = f"{py} and {ipynb} agree"
    _touch_text_last(py)
    records.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(py, records / py.name)
    return done


def _write_ipynb(py: Path, text_nb, full_nb) -> None:
    if full_nb is not None:
        text_nb = combine_inputs_with_outputs(text_nb, full_nb, fmt=FORMAT)
    jupytext.write(text_nb, py.with_suffix(".ipynb"))


def _backup(path: Path, records: Path) -> None:
    folder = records / "backup"
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(path, folder / f"{path.name}.{time.strftime('%Y%m%d-%H%M%S')}")


def _touch_text_last(py: Path) -> None:
    """Jupytext in Jupyter reads the inputs from the .py: it must not be older than the .ipynb."""
    ipynb = py.with_suffix(".ipynb")
    if ipynb.exists():
        stamp = max(ipynb.stat().st_mtime, py.stat().st_mtime)
        os.utime(py, (stamp, stamp))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("notebooks", nargs="+", type=Path, help="the .py (or .ipynb) of each pair")
    parser.add_argument(
        "--keep", choices=("py", "ipynb"), help="the side that wins where both changed (only there)"
    )
    args = parser.parse_args(argv)
    refused = 0
    for path in args.notebooks:
        try:
            print(sync(path.with_suffix(".py"), keep=args.keep))
        except BothChanged as error:
            print(f"error: {error}", file=sys.stderr)
            refused += 1
    return 1 if refused else 0


if __name__ == "__main__":
    sys.exit(main())
