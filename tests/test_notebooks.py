"""The notebooks as files: each .ipynb matches its .py, has one parameters cell, and
carries the outputs of a real run. (nbval executes them: see `make test`.)"""

import ast
import json
from pathlib import Path

import jupytext
import pytest

NOTEBOOKS = sorted((Path(__file__).parent.parent / "notebooks").glob("[0-9][0-9]_*.ipynb"))


def _cells(notebook):
    return [(c.cell_type, c.source.strip()) for c in notebook.cells]


def test_there_are_notebooks():
    assert NOTEBOOKS, "no notebooks/NN_topic.ipynb found"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_ipynb_is_in_sync_with_its_py(path):
    py = path.with_suffix(".py")
    assert py.exists(), f"{path.name} has no paired {py.name}"
    assert _cells(jupytext.read(path)) == _cells(jupytext.read(py)), (
        f"{path.name} and {py.name} differ: edit the .py, then run `make sync`"
    )


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_one_parameters_cell_and_a_python3_kernel(path):
    nb = json.loads(path.read_text())
    tagged = [c for c in nb["cells"] if "parameters" in c.get("metadata", {}).get("tags", [])]
    assert len(tagged) == 1
    assert "profile" in "".join(tagged[0]["source"])
    assert nb["metadata"]["kernelspec"]["name"] == "python3"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_stored_outputs_come_from_a_real_run(path):
    nb = json.loads(path.read_text())
    code = [c for c in nb["cells"] if c["cell_type"] == "code"]
    outputs = [o for c in code for o in c.get("outputs", [])]
    assert not [o for o in outputs if o["output_type"] == "error"]
    provenance = "".join(
        "".join(o.get("data", {}).get("text/plain", "")) for o in outputs if "data" in o
    )
    assert "profile:" in provenance and "wall_seconds:" in provenance
    assert "profile: smoke" not in provenance, "commit the outputs of a quick or full run"
    assert all(c.get("execution_count") for c in code if c.get("outputs")), "nbval needs counts"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_checks_is_imported_once_in_the_set_up_cell(path):
    code = [c for c in jupytext.read(path.with_suffix(".py")).cells if c.cell_type == "code"]
    [parameters] = [i for i, c in enumerate(code) if "parameters" in c.metadata.get("tags", [])]
    importing = [i for i, c in enumerate(code) if _imports_checks(c.source)]
    assert importing == [parameters + 1], f"{path.stem}: import checks once, in the set-up cell"


def _imports_checks(source):
    return any(
        isinstance(node, ast.ImportFrom) and any(alias.name == "checks" for alias in node.names)
        for node in ast.walk(ast.parse(source))
    )
