"""Teacher tools that must refuse cleanly or keep work (issue 31, review round 3, section D):
`make colab-ref` validates before it writes and checks that the ref exists, `REF` reaches the
tool as one word, the venv is not re-created for a ref, `make clean-checkpoints` keeps a
checkpoint its run may still be writing, `make sync KEEP=...` is the advice printed."""

import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
from shared import load_tool

ROOT = Path(__file__).parent.parent
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.py"))
needs_make = pytest.mark.skipif(shutil.which("make") is None, reason="no make on this machine")


colab_tool = load_tool("colab")
sync_tool = load_tool("sync")


# --- make colab-ref ----------------------------------------------------------------------


@pytest.fixture
def course_copy(tmp_path):
    """The files `tools/colab.py` reads and writes, with the tool itself, in a temporary tree."""
    (tmp_path / "tools").mkdir()
    shutil.copyfile(ROOT / "tools" / "colab.py", tmp_path / "tools" / "colab.py")
    for name in ("pyproject.toml", "README.md"):
        shutil.copyfile(ROOT / name, tmp_path / name)
    (tmp_path / "notebooks").mkdir()
    for path in NOTEBOOKS:
        shutil.copyfile(path, tmp_path / "notebooks" / path.name)
    return tmp_path


def _snapshot(root):
    return {p: p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def _colab(root, *args):
    return subprocess.run(
        [sys.executable, str(root / "tools" / "colab.py"), *args],
        cwd=root,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.parametrize(
    "args, said",
    [
        (
            ["--ref", "v0.2.1", "--repository", "github.com/me/resnet-course"],
            "https://github.com/OWNER/NAME",
        ),
        (["--ref", 'v0.3"x'], "not a ref"),
        (["--ref", "v0.3 beta"], "not a ref"),
        (["--ref=-v1"], "not a ref"),
    ],
    ids=["repository-without-https", "ref-with-a-quote", "ref-with-a-space", "ref-like-an-option"],
)
def test_a_refused_colab_ref_leaves_every_file_as_it_was(course_copy, args, said):
    """D8: the malformed repository was written into pyproject.toml before it was refused, and
    every later call (and 12 tests) then failed."""
    before = _snapshot(course_copy)
    refused = _colab(course_copy, *args)
    after = _snapshot(course_copy)
    assert [p.relative_to(course_copy).as_posix() for p in before if after.get(p) != before[p]] == []
    assert refused.returncode != 0 and said in refused.stderr
    assert "nothing was written" in refused.stderr
    fixed = _colab(course_copy, "--ref", "v0.2.1")  # the correct call works at once
    assert fixed.returncode == 0, fixed.stderr
    assert colab_tool.settings(course_copy / "pyproject.toml") == {
        "repository": colab_tool.settings()["repository"],
        "ref": "v0.2.1",
    }


def test_a_ref_unknown_to_this_repository_gets_a_warning_in_words():
    """D9: Colab cannot install from a ref that was never tagged or pushed."""
    if subprocess.run(["git", "rev-parse", "--git-dir"], cwd=ROOT, capture_output=True).returncode:
        pytest.skip("not a git checkout")
    text = colab_tool.ref_warning("v9.9.9-nonexistent", ROOT)
    assert "v9.9.9-nonexistent is not a tag, branch or commit of this repository" in text
    assert "git tag v9.9.9-nonexistent" in text and "git push" in text
    assert colab_tool.ref_warning("HEAD", ROOT) is None


def test_set_settings_changes_only_the_course_table(tmp_path):
    pyproject = tmp_path / "pyproject.toml"
    pyproject.write_text('[other]\nref = "keep"\n\n[tool.resnet-course]\nrepository = "x"\nref = "a"\n')
    colab_tool.set_settings(pyproject, ref="v1.0")
    assert pyproject.read_text() == (
        '[other]\nref = "keep"\n\n[tool.resnet-course]\nrepository = "x"\nref = "v1.0"\n'
    )


def _recipe_line(target, *make_args, containing):
    dry = subprocess.run(
        ["make", "-n", "--no-print-directory", target, *make_args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert dry.returncode == 0, dry.stderr
    [line] = [line for line in dry.stdout.splitlines() if containing in line]
    return line


@needs_make
@pytest.mark.parametrize("ref", ['v0.3"x', "it's a ref", "a;echo injected"])
def test_make_colab_ref_passes_ref_as_one_word(ref, tmp_path):
    """D7: REF went into the shell unquoted ("Unterminated quoted string")."""
    line = _recipe_line(
        "colab-ref", f"REF={ref}", "REPOSITORY=https://x/y z", containing="tools/colab.py"
    )
    command = line.replace(".venv/bin/python tools/colab.py", "printf '%s\\n'", 1)
    assert command != line
    words = subprocess.run(["sh", "-c", command], cwd=tmp_path, capture_output=True, text=True).stdout
    assert words.splitlines() == [f"--ref={ref}", "--repository=https://x/y z"]


def test_make_colab_ref_does_not_re_create_the_venv():
    """D9: the ref lives in pyproject.toml, which the venv's stamp depends on; the stamp is
    touched after the tool, so the sync that follows does not reinstall."""
    makefile = (ROOT / "Makefile").read_text()
    recipe = makefile.split("\ncolab-ref:")[1].split("\n\n")[0].splitlines()
    tool = next(i for i, line in enumerate(recipe) if "tools/colab.py" in line)
    touch = next(i for i, line in enumerate(recipe) if line.strip() == "touch $(STAMP)")
    again = next(i for i, line in enumerate(recipe) if "$(MAKE) sync" in line)
    assert tool < touch < again


# --- make clean-checkpoints --------------------------------------------------------------


@needs_make
def test_clean_checkpoints_keeps_a_checkpoint_written_in_the_last_hour(tmp_path):
    """D5: it deleted the checkpoint of a run still training. A live run rewrites its own at
    the end of every epoch, so one written in the last hour is kept, and named."""
    runs = tmp_path / "runs"
    runs.mkdir()
    old, live = runs / f"{'a' * 20}.resume.pt", runs / f"{'b' * 20}.resume.pt"
    finished = [runs / f"{'c' * 20}.pt", runs / f"{'c' * 20}.json"]
    for path in (old, live, *finished):
        path.write_bytes(b"x")
    hours_ago = time.time() - 2 * 3600
    for path in (old, *finished):
        os.utime(path, (hours_ago, hours_ago))
    env = {**os.environ, "RESNET_CACHE_DIR": str(tmp_path)}
    done = subprocess.run(
        ["make", "-s", "--no-print-directory", "clean-checkpoints"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert not old.exists() and live.exists() and all(p.exists() for p in finished)
    assert f"removed {old}" in done.stdout
    assert re.search(rf"kept {re.escape(str(live))}.*last hour", done.stdout)
    empty = subprocess.run(  # no runs folder at all: nothing to do, no error
        ["make", "-s", "--no-print-directory", "clean-checkpoints"],
        cwd=ROOT,
        env={**env, "RESNET_CACHE_DIR": str(tmp_path / "none")},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert empty.returncode == 0 and empty.stderr == ""


# --- make sync ---------------------------------------------------------------------------


def test_the_keep_advice_is_a_command_that_works_here():
    """D2: the advice said `python tools/sync.py ...`, not the venv's python, and left
    student/ stale."""
    course = sync_tool.keep_advice(ROOT / "notebooks" / "04_deep_resnets.py")
    assert "`make sync KEEP=py`" in course and "KEEP=ipynb" in course and "student/" in course
    elsewhere = sync_tool.keep_advice(Path("/somewhere/nb.py"))
    assert f"{sync_tool.python_command()} " in elsewhere and "--keep py /somewhere/nb.py" in elsewhere
    assert not sync_tool.python_command().startswith("python ")


def test_keep_decides_only_where_both_sides_changed(tmp_path):
    """`make sync KEEP=py` runs over every pair: a pair where only the .ipynb changed must
    still come back to the .py, not lose its edit."""
    for suffix in (".py", ".ipynb"):
        shutil.copyfile(
            (ROOT / "notebooks" / "01_degradation").with_suffix(suffix), tmp_path / f"nb{suffix}"
        )
    py, ipynb = tmp_path / "nb.py", tmp_path / "nb.ipynb"
    sync_tool.sync(py)
    text = ipynb.read_text()
    assert "seeds = 3 " in text
    ipynb.write_text(text.replace("seeds = 3 ", "seeds = 5 ", 1))
    assert sync_tool.sync(py, keep="py") == f"{py} updated from {ipynb}"
    assert "seeds = 5 " in py.read_text()


@needs_make
def test_make_sync_passes_keep_to_the_tool(tmp_path):
    line = _recipe_line("sync", "KEEP=ipynb", containing="tools/sync.py")
    command = line.replace(".venv/bin/python tools/sync.py", "printf '%s\\n'", 1)
    words = subprocess.run(["sh", "-c", command], cwd=ROOT, capture_output=True, text=True).stdout
    assert words.splitlines()[-2:] == ["--keep", "ipynb"]


def test_a_top_level_stub_asks_only_for_what_the_check_reads():
    """Review (student copies): "answer with a letter" stubs listed the solution's intermediate
    variables (`pairs = ...`, `sides = ...`), asking for a computation the notebook never shows."""
    import nbformat

    student = load_tool("student")
    solution = "# BEGIN SOLUTION\nsides = {1}\nseed_answer = 'a'\n# END SOLUTION"
    cells = [
        nbformat.v4.new_code_cell(s)
        for s in (solution, "checks.residual_loss_on_every_seed(seed_answer, runs)")
    ]
    cells[0].metadata["tags"] = ["solution"]
    copy = student.student_notebook(nbformat.v4.new_notebook(cells=cells), "t.ipynb")
    code = [line for line in copy.cells[0].source.splitlines() if not line.startswith("#")]
    assert code == ["seed_answer = ..."]
    # a check that reads none of the assigned names: every one is asked for, as before
    assert student.stub_source(solution, "h", checked={"other"}).splitlines()[-2:] == [
        "sides = ...",
        "seed_answer = ...",
    ]
