"""Colab's set-up cell run for real (issue 28): in IPython's own shell (Colab's is 7.34 on Python
3.13: `make test-colab` runs this there), with ``google.colab`` faked and a local copy of the
package in place of the git URL, the cell's pip command installs the package and the same
session imports it. (tests/test_colab.py checks the command the cell builds, with pip faked.)"""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import IPython
import jupytext
import pytest
from shared import load_tool

import resnet_utils

ROOT = Path(__file__).parent.parent
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.py"))
colab_tool = load_tool("colab")

# Run in a fresh interpreter: Colab's way of running a cell (IPython's InteractiveShell), with
# google.colab present, the install target first on sys.path (Colab's site-packages), and
# resnet_utils not imported before the cell.
SESSION = """
import json, sys, types
target, cell = sys.argv[1], open(sys.argv[2]).read()
sys.path.insert(0, target)
google = types.ModuleType("google")
google.colab = types.ModuleType("google.colab")
sys.modules.update({"google": google, "google.colab": google.colab})
from IPython.core.interactiveshell import InteractiveShell
import IPython
shell = InteractiveShell.instance()
result = shell.run_cell(cell)
result.raise_error()
result = shell.run_cell("import resnet_utils")
result.raise_error()
import resnet_utils
print(json.dumps({"ipython": IPython.__version__, "file": resnet_utils.__file__,
                  "version": resnet_utils.__version__}))
"""


def _setup_cell(path):
    cells = jupytext.read(path).cells
    [cell] = [c for c in cells if colab_tool.SETUP_TAG in c.metadata.get("tags", [])]
    return cell.source


def test_every_notebook_has_the_same_setup_cell():
    """So that the one install below stands for all five."""
    assert len({_setup_cell(path) for path in NOTEBOOKS}) == 1


def test_the_setup_cell_installs_the_package_in_ipythons_shell_with_colab_faked(tmp_path):
    pytest.importorskip("setuptools", minversion="68")  # pyproject's build requirement
    source = tmp_path / "source"
    source.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, source / name)
    skip = shutil.ignore_patterns("__pycache__")
    shutil.copytree(ROOT / "resnet_utils", source / "resnet_utils", ignore=skip)
    config = colab_tool.settings()
    url = f"git+{config['repository']}@{config['ref']}"
    cell = _setup_cell(NOTEBOOKS[0])
    assert cell.count(url) == 1
    (tmp_path / "cell.py").write_text(cell.replace(url, str(source)))
    target = tmp_path / "site-packages"
    target.mkdir()
    # pip from this machine only: no index, and the build with the environment's setuptools
    # (PIP_NO_BUILD_ISOLATION=0 is --no-build-isolation: pip reads it as build_isolation=False)
    env = dict(os.environ, PIP_TARGET=str(target), PIP_NO_INDEX="1", PIP_NO_BUILD_ISOLATION="0")
    env.pop("PYTHONPATH", None)
    done = subprocess.run(
        [sys.executable, "-c", SESSION, str(target), str(tmp_path / "cell.py")],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    session = json.loads(done.stdout.strip().splitlines()[-1])
    assert session["ipython"] == IPython.__version__
    assert Path(session["file"]).is_relative_to(target), "imported the copy the cell installed"
    assert session["version"] == resnet_utils.__version__
