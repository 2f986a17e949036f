"""Maintenance commands that must not lose work (issue 21): a failed `make execute` keeps the
notebook and its results, `make sync` refuses when both sides of a pair changed, and
`make help` lists every target."""

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import jupytext
import pytest
from shared import load_tool

ROOT = Path(__file__).parent.parent
PAIR = ROOT / "notebooks" / "01_degradation"


execute_tool = load_tool("execute")
sync_tool = load_tool("sync")


# --- make execute ----------------------------------------------------------------------


@pytest.fixture
def committed(tmp_path):
    """A notebook and its results file as committed (under the quick profile)."""
    notebook = tmp_path / "04_deep_resnets.ipynb"
    notebook.write_text('{"committed": true}')
    results = tmp_path / "results"
    results.mkdir()
    (results / "04_deep_resnets.json").write_text(json.dumps({"profile": "quick (auto)"}))
    return notebook, results


def test_a_failed_execute_keeps_the_notebook_and_its_results(committed, tmp_path, capsys):
    notebook, results = committed

    def fails_mid_way(source, target):
        target.write_text('{"partial": true}')  # papermill writes as it goes
        summary = Path(execute_tool.os.environ["RESNET_SUMMARY_DIR"]) / "04_deep_resnets.json"
        summary.parent.mkdir(parents=True, exist_ok=True)
        summary.write_text("{}")
        raise RuntimeError("PapermillExecutionError: unknown profile 'fast'")

    failed = tmp_path / "failed"
    assert not execute_tool.execute(notebook, results, "quick", run=fails_mid_way, failed=failed)
    assert notebook.read_text() == '{"committed": true}'
    assert json.loads((results / "04_deep_resnets.json").read_text()) == {"profile": "quick (auto)"}
    assert (failed / notebook.name).read_text() == '{"partial": true}'
    err = capsys.readouterr().err
    assert f"its partial output is in {failed / notebook.name}" in err and "unchanged" in err


def test_a_finished_execute_replaces_both_and_warns_when_the_profile_differs(committed, capsys):
    notebook, results = committed

    def succeeds(source, target):
        target.write_text('{"executed": true}')
        summary = Path(execute_tool.os.environ["RESNET_SUMMARY_DIR"]) / "04_deep_resnets.json"
        summary.parent.mkdir(parents=True, exist_ok=True)
        summary.write_text(json.dumps({"profile": "smoke (the notebook's profile parameter)"}))

    assert execute_tool.execute(notebook, results, "smoke", run=succeeds)
    assert notebook.read_text() == '{"executed": true}'
    assert json.loads((results / "04_deep_resnets.json").read_text())["profile"].startswith("smoke")
    out = capsys.readouterr().out
    assert "hold the outputs of the quick profile; this smoke run replaces them" in out


def test_an_unknown_profile_is_refused_before_anything_runs(capsys):
    assert execute_tool.main(["--profile", "fast", str(PAIR.with_suffix(".ipynb"))]) == 2
    assert "PROFILE='fast' is not a profile" in capsys.readouterr().out


def _no_run(monkeypatch):
    monkeypatch.delenv("RESNET_PROFILE", raising=False)  # main() sets it: restored after the test
    ran = []
    monkeypatch.setattr(execute_tool, "execute", lambda notebook, *a, **k: ran.append(notebook) or True)
    return ran


def test_a_student_copy_is_refused_before_anything_runs(monkeypatch, capsys):
    """Review D12: `make execute NOTEBOOKS=student/01_degradation.ipynb` replaced the teacher's
    results/01_degradation.json with a student smoke run, wrote outputs into the student copy,
    warned wrongly and ended in a FileNotFoundError. Now it refuses, naming what to run."""
    ran = _no_run(monkeypatch)
    monkeypatch.chdir(ROOT)
    notebooks = ["notebooks/01_degradation.ipynb", "student/01_degradation.ipynb"]
    assert execute_tool.main(["--profile", "smoke", *notebooks]) == 2
    assert ran == []  # not even the teacher copy given before it
    out = capsys.readouterr().out
    assert "student/01_degradation.ipynb is a student copy" in out and "make student" in out
    assert "NOTEBOOKS=notebooks/01_degradation.ipynb" in out and "Nothing was run" in out


def test_a_notebook_outside_the_course_is_refused(tmp_path, monkeypatch, capsys):
    ran = _no_run(monkeypatch)
    stray = tmp_path / "01_degradation.ipynb"
    stray.write_text("{}")
    for path in (stray, ROOT / "notebooks" / "99_missing.ipynb"):
        assert execute_tool.main(["--profile", "smoke", str(path)]) == 2
        assert f"{path} is not one of the course's notebooks" in capsys.readouterr().out
    assert execute_tool.main(["--profile", "smoke", str(PAIR.with_suffix(".ipynb"))]) == 0
    assert ran == [PAIR.with_suffix(".ipynb")]


def test_the_makefile_executes_through_the_tool():
    makefile = (ROOT / "Makefile").read_text()
    recipe = makefile.split("\nexecute:")[1].split("\n\n")[0]
    assert "tools/execute.py" in recipe and "papermill" not in recipe


# --- make sync -------------------------------------------------------------------------


@pytest.fixture
def pair(tmp_path):
    """A copy of notebook 1's pair, synced once (its agreement recorded)."""
    for suffix in (".py", ".ipynb"):
        shutil.copyfile(PAIR.with_suffix(suffix), tmp_path / f"nb{suffix}")
    py = tmp_path / "nb.py"
    assert sync_tool.sync(py) == f"{py} and {py.with_suffix('.ipynb')} agree"
    return py


def _edit(path, old, new):
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new, 1))


def _seeds_in(path):
    cells = jupytext.read(path).cells
    return [line for c in cells for line in c.source.splitlines() if line.startswith("seeds = ")]


def test_a_py_edit_survives_an_ipynb_saved_after_it(pair):
    ipynb = pair.with_suffix(".ipynb")
    outputs = sum(len(c.get("outputs", [])) for c in json.loads(ipynb.read_text())["cells"])
    _edit(pair, "seeds = 3 ", "seeds = 4 ")
    saved = ipynb.stat().st_mtime  # saved in Jupyter after the edit: newer than the .py,
    os.utime(pair, (saved - 10, saved - 10))  # so jupytext --sync would take it as the source
    assert "updated from" in sync_tool.sync(pair)
    assert _seeds_in(pair) == _seeds_in(ipynb) and _seeds_in(ipynb)[0].startswith("seeds = 4 ")
    assert sum(len(c.get("outputs", [])) for c in json.loads(ipynb.read_text())["cells"]) == outputs
    assert pair.stat().st_mtime >= ipynb.stat().st_mtime


def test_an_ipynb_edit_comes_back_to_the_py(pair):
    ipynb = pair.with_suffix(".ipynb")
    _edit(ipynb, "seeds = 3 ", "seeds = 5 ")
    assert sync_tool.sync(pair) == f"{pair} updated from {ipynb}"
    assert _seeds_in(pair)[0].startswith("seeds = 5 ")


def test_both_sides_changed_is_refused_and_nothing_is_written(pair, capsys):
    ipynb = pair.with_suffix(".ipynb")
    _edit(pair, "seeds = 3 ", "seeds = 4 ")
    _edit(ipynb, "seeds = 3 ", "seeds = 6 ")
    before = pair.read_text(), ipynb.read_text()
    assert sync_tool.main([str(pair)]) == 1
    err = capsys.readouterr().err
    assert f"{pair} and {ipynb} both changed" in err and "--keep py" in err
    assert (pair.read_text(), ipynb.read_text()) == before
    assert sync_tool.main(["--keep", "ipynb", str(pair)]) == 0
    assert _seeds_in(pair)[0].startswith("seeds = 6 ")
    [backup] = (pair.parent / ".sync" / "backup").iterdir()
    assert "seeds = 4 " in backup.read_text()  # the .py's side is kept, not lost


def test_the_makefile_syncs_through_the_tool():
    makefile = (ROOT / "Makefile").read_text()
    assert "jupytext --sync" not in makefile
    assert re.search(r"\nsync:.*\n\t\$\(BIN\)/python tools/sync.py", makefile)


# --- make help -------------------------------------------------------------------------


def test_make_help_lists_every_target():
    if shutil.which("make") is None:
        pytest.skip("no make on this machine")
    makefile = (ROOT / "Makefile").read_text()
    targets = re.search(r"^\.PHONY: (.*)$", makefile, re.M).group(1).split()
    listed = subprocess.run(["make", "-s", "help"], cwd=ROOT, capture_output=True, text=True).stdout
    missing = [t for t in targets if not re.search(rf"make {re.escape(t)}\b", listed)]
    assert not missing, f"make help omits {missing}"
