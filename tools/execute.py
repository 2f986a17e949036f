"""``make execute``: run each notebook with papermill into a temporary file, and replace the
notebook (and its ``results/<notebook>.json``) only when the whole run succeeded.

Papermill writes over its output as it goes; run in place, a typo or an error mid-way would
leave a notebook with a few cells' outputs and the others gone. A failed run's output is
kept in ``build/failed/`` (named in the message) for reading; the committed notebook stays.

Usage: python tools/execute.py [--profile quick] [--results results] notebooks/01_*.ipynb ...
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import sys
import tempfile
from pathlib import Path

FAILED = Path("build/failed")
ROOT = Path(__file__).resolve().parents[1]


def not_runnable(notebook: Path, root: Path = ROOT) -> str | None:
    """Why ``make execute`` must not run this notebook, or None. It runs only the course's
    teacher notebooks (``notebooks/NN_topic.ipynb`` beside its ``.py``): their outputs and
    ``results/<stem>.json`` are what it replaces. A student copy has neither: it is made from
    the teacher copy by ``make student`` (outputs cleared), and would also write over the
    teacher's results, which are named by the stem they share."""
    where = notebook.resolve()
    teacher = root / "notebooks" / notebook.name
    if where.parent == root / "student":
        return (
            f"{notebook} is a student copy: `make execute` runs the teacher notebooks in notebooks/ "
            f"(NOTEBOOKS={teacher.relative_to(root)}) and keeps their outputs and results/; the "
            "student copies are made from them by `make student` (outputs cleared) and run by "
            "`make test`."
        )
    if (
        where.parent != root / "notebooks"
        or not re.fullmatch(r"\d\d_\w+\.ipynb", notebook.name)
        or not where.is_file()
        or not where.with_suffix(".py").is_file()
    ):
        return (
            f"{notebook} is not one of the course's notebooks (notebooks/NN_topic.ipynb, beside "
            "its .py): `make execute` runs only those."
        )
    return None


def papermill_run(source: Path, target: Path) -> None:
    import papermill

    papermill.execute_notebook(
        str(source),
        str(target),
        parameters={"interactive": False},
        cwd=str(source.parent),
        kernel_name="python3",
        progress_bar=False,
    )


def committed_profile(summary: Path) -> str | None:
    """The profile a notebook's committed results came from ('quick'), if they say."""
    try:
        return json.loads(summary.read_text())["profile"].split()[0]
    except (OSError, ValueError, KeyError, AttributeError, IndexError):
        return None


def execute(
    notebook: Path, results: Path, profile: str, *, run=papermill_run, failed: Path = FAILED
) -> bool:
    """Run one notebook; True when it ran to the end and replaced the committed one."""
    summary = results / f"{notebook.stem}.json"
    before = committed_profile(summary)
    if before and profile != "auto" and before != profile:
        print(
            f"warning: {notebook} and {summary} hold the outputs of the {before} profile; this "
            f"{profile} run replaces them (git checkout -- {notebook} {summary} brings them back)."
        )
    with tempfile.TemporaryDirectory(prefix="execute-") as scratch:
        scratch = Path(scratch)
        target = scratch / notebook.name
        os.environ["RESNET_SUMMARY_DIR"] = str(scratch / "results")
        try:
            run(notebook, target)
        except BaseException as error:
            kept = failed / notebook.name
            if target.exists():
                kept.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(target, kept)
                where = f"its partial output is in {kept}"
            else:
                where = "it wrote no output"
            print(
                f"error: {notebook} failed ({type(error).__name__}: {str(error).strip()[:300]}); "
                f"{notebook} and {summary} are unchanged, {where}.",
                file=sys.stderr,
            )
            if not isinstance(error, Exception):
                raise
            return False
        written = scratch / "results" / summary.name
        if written.exists():
            results.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(written, summary)
        shutil.copyfile(target, notebook)
    return True


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("notebooks", nargs="+", type=Path)
    parser.add_argument("--profile", default="auto")
    parser.add_argument("--results", type=Path, default=Path("results"))
    args = parser.parse_args(argv)
    profile = args.profile.strip().lower() or "auto"
    refused = [why for notebook in args.notebooks if (why := not_runnable(notebook))]
    if refused:  # before anything else (the import below takes seconds: torch)
        for why in refused:
            print(f"error: {why}")
        print("Nothing was run.")
        return 2
    sys.path.insert(0, str(ROOT))
    from resnet_utils.training.profiles import PROFILES

    if profile != "auto" and profile not in PROFILES:
        print(f"error: PROFILE={args.profile!r} is not a profile: use one of {PROFILES} or auto.")
        return 2
    if profile != "auto":
        os.environ["RESNET_PROFILE"] = profile
    for notebook in args.notebooks:
        print(f"== {notebook} (profile {profile})", flush=True)
        if not execute(notebook, args.results, profile):
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
