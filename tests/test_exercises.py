"""The exercises: every solution in the notebooks passes its check, every student stub is
reported unanswered with its first hint, `make student` is up to date, and a student notebook
runs headless to its end, reporting each unanswered exercise in one line."""

import ast
import importlib.util
from pathlib import Path

import nbformat
import papermill
import pytest

from resnet_utils import checks

ROOT = Path(__file__).parent.parent
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
_spec = importlib.util.spec_from_file_location("student", ROOT / "tools" / "student.py")
student = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(student)


def _tags(cell):
    return cell.metadata.get("tags", [])


def _exercise_cells(notebook):
    """The code cells of the "Your turn" section, in order."""
    start = next(
        i
        for i, c in enumerate(notebook.cells)
        if c.cell_type == "markdown" and "## Your turn" in c.source
    )
    return [c for c in notebook.cells[start:] if c.cell_type == "code"]


def _exercises(notebook):
    """(solution cell, check cell) pairs."""
    cells = _exercise_cells(notebook)
    return [(c, cells[i + 1]) for i, c in enumerate(cells) if "solution" in _tags(c)]


def _solutions_and_next_cells(notebook):
    """Every solution cell (not only the "Your turn" ones) and the code cell after it."""
    code = [c for c in notebook.cells if c.cell_type == "code"]
    return [(c, code[i + 1]) for i, c in enumerate(code) if "solution" in _tags(c)]


def _what_the_stub_says(source):
    """The texts a stub shows the student: its raise's message, and its comment lines joined."""
    raised = [
        node.exc.args[0].value
        for node in ast.walk(ast.parse(source))
        if isinstance(node, ast.Raise) and isinstance(node.exc, ast.Call) and node.exc.args
    ]
    comments = " ".join(line.strip()[2:] for line in source.splitlines() if line.strip()[:2] == "# ")
    return [*raised, comments]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_two_to_four_exercises_each_followed_by_its_check(path):
    exercises = _exercises(nbformat.read(path, as_version=4))
    assert 2 <= len(exercises) <= 4
    for solution, check in exercises:
        assert student.BEGIN in solution.source and student.END in solution.source
        assert check.source.strip().startswith("checks."), check.source


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_every_solution_passes_its_check(path, capsys):
    notebook = nbformat.read(path, as_version=4)
    namespace = {"checks": checks}  # imported once, in the notebook's set-up cell
    for cell in _exercise_cells(notebook):
        exec(cell.source, namespace)
    out = capsys.readouterr().out
    assert out.count("Correct: ") == len(_exercises(notebook)), out


def _check_name(check_cell):
    return check_cell.source.strip().removeprefix("checks.").split("(")[0]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_each_stub_gives_the_first_hint_of_the_check_below_it_written_only_in_checks(path):
    teacher = nbformat.read(path, as_version=4)
    copy = student.student_notebook(teacher, path.name)
    pairs = _solutions_and_next_cells(teacher)
    stubs = _solutions_and_next_cells(copy)
    assert len(pairs) == len(stubs) >= 3
    for (solution, check), (stub, _) in zip(pairs, stubs, strict=True):
        [name] = student.checks_called(check.source)
        hints = checks.HINTS[name]
        assert len(hints) >= 2, "a nudge, then a second hint with more"
        assert "hint" not in solution.source.lower(), "the hint is written in checks only"
        assert any(f"Hint: {hints[0]}" in text for text in _what_the_stub_says(stub.source)), name


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_every_stub_is_reported_unanswered_in_one_line_with_its_first_hint(path, capsys):
    teacher = nbformat.read(path, as_version=4)
    copy = student.student_notebook(teacher, path.name)
    namespace = {"checks": checks}  # imported once, in the notebook's set-up cell
    cells = _exercise_cells(copy)
    first = next(i for i, c in enumerate(cells) if "solution" in _tags(c))
    for imports in cells[:first]:
        exec(imports.source, namespace)
    for solution, check in _exercises(copy):
        assert student.BEGIN not in solution.source
        exec(solution.source, namespace)
        capsys.readouterr()
        exec(check.source, namespace)  # no exception: Run All goes on
        out = capsys.readouterr().out
        name = _check_name(check)
        hint = checks.HINTS[name][0]
        ended = hint if hint.endswith("?") else hint + "."  # the hint ends before "More:"
        assert out.splitlines() == [f'Unanswered: {name}. Hint: {ended} More: checks.hint("{name}", 2).']


def test_a_top_level_solution_becomes_an_ellipsis_under_its_hint():
    stub = student.stub_source("# BEGIN SOLUTION\nanswer = 2 * 27\n# END SOLUTION", "count the blocks")
    assert stub.splitlines()[-1] == "answer = ..."
    assert "Hint: count the blocks" in " ".join(stub.splitlines()[:-1]).replace("# ", "")
    with pytest.raises(ValueError, match="must assign the answer to a name"):
        student.stub_source("# BEGIN SOLUTION\nprint(1)\n# END SOLUTION", "h")


def test_the_stub_keeps_the_signature_and_the_indentation():
    source = "def f(x):\n    # BEGIN SOLUTION\n    return 2 * x\n    # END SOLUTION\n"
    stub = student.stub_source(source, "double it")
    assert stub.splitlines()[0] == "def f(x):"
    assert stub.splitlines()[1].startswith("    raise NotImplementedError(")
    namespace = {}
    exec(stub, namespace)
    with pytest.raises(NotImplementedError, match="Hint: double it$"):
        namespace["f"](1)


@pytest.mark.parametrize(
    "source, problem",
    [
        ("# BEGIN SOLUTION\nx = 1\n", "without '# END SOLUTION'"),
        ("x = 1\n# END SOLUTION\n", "without '# BEGIN SOLUTION'"),
        ("# BEGIN SOLUTION\n# hint: h\nx = 1\n# END SOLUTION\n", "the hint is written once"),
    ],
)
def test_a_badly_marked_solution_is_refused(source, problem):
    with pytest.raises(ValueError, match=problem):
        student.stub_source(source, "h")


def _notebook(*sources, solution=0):
    cells = [nbformat.v4.new_code_cell(s) for s in sources]
    cells[solution].metadata["tags"] = ["solution"]
    return nbformat.v4.new_notebook(cells=cells)


def test_the_student_copy_takes_the_hint_from_the_check_the_next_cell_calls():
    solution = "def deletable(model):\n    # BEGIN SOLUTION\n    return []\n    # END SOLUTION"
    copy = student.student_notebook(_notebook(solution, "checks.deletable(deletable)"), "t.ipynb")
    namespace = {}
    exec(copy.cells[0].source, namespace)
    with pytest.raises(NotImplementedError) as raised:
        namespace["deletable"](None)
    assert str(raised.value).endswith("Hint: " + checks.HINTS["deletable"][0])
    for after in ("print(deletable)", "checks.hint('deletable')", "x = 1\ncheck = 2"):
        with pytest.raises(ValueError, match="must call one exercise's check"):
            student.student_notebook(_notebook(solution, after), "t.ipynb")


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_the_student_notebook_is_up_to_date(path):
    committed = ROOT / "student" / path.name
    assert committed.exists(), f"no {committed.relative_to(ROOT)}: run `make student`"
    expected = student.student_notebook(nbformat.read(path, as_version=4), path.name)
    actual = nbformat.read(committed, as_version=4)
    assert [(c.cell_type, c.source) for c in actual.cells] == [
        (c.cell_type, c.source) for c in expected.cells
    ], f"{committed.name} is older than {path.name}: run `make student`"
    assert not any(c.get("outputs") for c in actual.cells), "student notebooks carry no outputs"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_a_student_notebook_runs_headless_to_its_end_reporting_each_unanswered_exercise(
    path, tmp_path, monkeypatch
):
    monkeypatch.setenv("RESNET_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.delenv("RESNET_SUMMARY_DIR", raising=False)
    out = tmp_path / path.name
    papermill.execute_notebook(
        str(ROOT / "student" / path.name),
        str(out),
        parameters={"profile": "smoke", "interactive": False, "progress": False},
        cwd=str(ROOT / "notebooks"),
        kernel_name="python3",
        progress_bar=False,
    )
    code = [c for c in nbformat.read(out, as_version=4).cells if c.cell_type == "code"]
    assert all(c.execution_count for c in code), "every cell ran"
    assert not [o for c in code for o in c.outputs if o.output_type == "error"]
    printed = "".join(o.get("text", "") for c in code for o in c.outputs if o.output_type == "stream")
    solutions = sum("solution" in _tags(c) for c in code)
    assert printed.count("Unanswered: ") == solutions > 0
    assert "Correct: " not in printed


def test_in_a_notebook_a_wrong_answer_shows_its_message_not_a_traceback():
    from nbclient import NotebookClient

    notebook = nbformat.v4.new_notebook()
    notebook.cells = [
        nbformat.v4.new_code_cell(
            "from resnet_utils import checks\nchecks.zero_pad_shortcut(lambda x, c, s: x)"
        )
    ]
    NotebookClient(notebook, kernel_name="python3", allow_errors=True).execute()
    (error,) = notebook.cells[0].outputs
    assert error.ename == "CheckFailed"
    assert error.traceback == [
        "Not yet: your shortcut changes the shape wrongly: 16x32x32 in; the block's branch gives "
        "32x16x16, but your shortcut returns 16x32x32. To match: take every 2nd pixel, "
        "x[:, :, ::2, ::2] and pad the channels with zeros up to 32."
    ]
