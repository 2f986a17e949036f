"""Colab: the set-up cell installs only inside Colab and never torch; badges and cells come from
the one ref in pyproject.toml; storage can move to Drive; the device advice fits the hardware."""

import re
import subprocess
import sys
import types
from pathlib import Path

import jupytext
import pytest
import torch
from shared import load_tool

from resnet_utils import start
from resnet_utils.course import guidance
from resnet_utils.course.guidance import COLAB_GPU_STEPS, device_advice
from resnet_utils.storage import paths

ROOT = Path(__file__).parent.parent
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.py"))
colab_tool = load_tool("colab")


def _setup_cell(path):
    cells = [c for c in jupytext.read(path).cells if colab_tool.SETUP_TAG in c.metadata.get("tags", [])]
    assert len(cells) == 1, f"{path.name}: one cell tagged {colab_tool.SETUP_TAG!r}"
    return cells[0].source


def _without_jupytext_version(text):
    """The .py header records the jupytext that wrote it (Colab's 1.19.5 under `make test-colab`)."""
    return re.sub(r"(?m)^#\s+jupytext_version: .*$", "", text)


def test_badges_and_setup_cells_match_the_ref_in_pyproject():
    planned = colab_tool.planned().items()
    stale = [
        p.name
        for p, text in planned
        if _without_jupytext_version(p.read_text()) != _without_jupytext_version(text)
    ]
    assert not stale, f"out of date: {stale}; run `make colab-ref`"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_the_badge_opens_this_notebook_at_the_pinned_ref(path):
    config = colab_tool.settings()
    title = jupytext.read(path).cells[0].source
    slug = config["repository"].removeprefix("https://github.com/")
    url = f"https://colab.research.google.com/github/{slug}/blob/{config['ref']}/notebooks/{path.stem}.ipynb"
    assert title.startswith(f"[![Open In Colab]({colab_tool.BADGE_IMAGE})]({url})")
    assert f"git+{config['repository']}@{config['ref']}" in _setup_cell(path)


def test_the_setup_cell_does_nothing_outside_colab(monkeypatch):
    monkeypatch.delitem(sys.modules, "google.colab", raising=False)
    monkeypatch.setattr(subprocess, "run", lambda *a, **k: pytest.fail("installed outside Colab"))
    exec(_setup_cell(NOTEBOOKS[0]), {})


def _fake_colab(monkeypatch):
    """google.colab as Colab has it, with an output module that records the widget manager."""
    enabled = []
    fake = types.ModuleType("google.colab")
    fake.output = types.SimpleNamespace(enable_custom_widget_manager=lambda: enabled.append(True))
    monkeypatch.setitem(sys.modules, "google", types.ModuleType("google"))
    monkeypatch.setitem(sys.modules, "google.colab", fake)
    return enabled


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_in_colab_the_setup_cell_installs_the_package_only(path, monkeypatch):
    _fake_colab(monkeypatch)
    calls = []
    monkeypatch.setattr(subprocess, "run", lambda command, **kw: calls.append((command, kw)))
    exec(_setup_cell(path), {})
    ((command, options),) = calls
    config = colab_tool.settings()
    assert command[:4] == [sys.executable, "-m", "pip", "install"]
    assert "--no-deps" in command and command[-1] == f"git+{config['repository']}@{config['ref']}"
    assert not any("torch" in part for part in command)
    assert options.get("check") is True
    assert len(_setup_cell(path).splitlines()) <= 10, "a short cell"


def test_in_colab_start_leaves_colabs_own_widget_manager_on(tmp_path, monkeypatch):
    """Colab draws core ipywidgets itself; the CDN manager is for third-party widgets and
    breaks Tab and Accordion (colabtools #3105, #3571): the course never turns it on."""
    monkeypatch.setenv(paths.CACHE_ENV, str(tmp_path))
    enabled = _fake_colab(monkeypatch)
    start("t", profile="smoke", progress=False, device="cpu")
    assert enabled == []


def test_bumping_the_ref_rewrites_every_place(tmp_path):
    for name in ("pyproject.toml", "README.md"):
        (tmp_path / name).write_text((ROOT / name).read_text())
    (tmp_path / "notebooks").mkdir()
    for path in NOTEBOOKS:
        (tmp_path / "notebooks" / path.name).write_text(path.read_text())
    colab_tool.set_settings(tmp_path / "pyproject.toml", ref="v9.9.9")
    files = colab_tool.planned(tmp_path)
    assert colab_tool.settings(tmp_path / "pyproject.toml")["ref"] == "v9.9.9"
    assert all("@v9.9.9" in files[tmp_path / "notebooks" / p.name] for p in NOTEBOOKS)
    readme = files[tmp_path / "README.md"]
    assert (
        readme.count("/blob/v9.9.9/student/")
        == len(NOTEBOOKS)
        == readme.count("/blob/v9.9.9/notebooks/")
    )
    assert "/blob/v0" not in readme.split("<!-- colab-badges -->")[1].split("<!-- /colab-badges -->")[0]


def test_a_repository_that_is_not_github_is_refused(tmp_path):
    (tmp_path / "pyproject.toml").write_text(
        '[tool.resnet-course]\nrepository = "gitlab.com/a/b"\nref = "x"\n'
    )
    with pytest.raises(SystemExit, match="https://github.com/OWNER/NAME"):
        colab_tool.settings(tmp_path / "pyproject.toml")


# --- storage ---------------------------------------------------------------------------


def test_storage_dir_moves_data_and_runs(tmp_path, monkeypatch):
    monkeypatch.setenv(paths.CACHE_ENV, str(tmp_path / "before"))
    assert paths.use_storage(None) == tmp_path / "before"
    assert paths.use_storage(tmp_path / "drive-like") == tmp_path / "drive-like"
    assert paths.cache_root() == tmp_path / "drive-like" and (tmp_path / "drive-like").is_dir()


def test_a_drive_folder_outside_colab_fails_with_what_to_do(monkeypatch):
    monkeypatch.delitem(sys.modules, "google.colab", raising=False)
    if (paths.DRIVE / "MyDrive").exists():
        pytest.skip("a Drive is mounted here")
    with pytest.raises(ValueError, match="only mounted in Colab"):
        paths.use_storage("/content/drive/MyDrive/resnet-course")


def test_in_colab_a_drive_folder_is_mounted_first(tmp_path, monkeypatch):
    mounted = []
    fake = types.ModuleType("google.colab")
    fake.drive = types.SimpleNamespace(mount=lambda where: mounted.append(where))
    monkeypatch.setitem(sys.modules, "google", types.ModuleType("google"))
    monkeypatch.setitem(sys.modules, "google.colab", fake)
    monkeypatch.setattr(paths, "DRIVE", tmp_path / "drive")
    paths.use_storage(tmp_path / "drive" / "MyDrive" / "course")
    assert mounted == [str(tmp_path / "drive")]


def test_the_storage_line_warns_in_colab_only(tmp_path, monkeypatch):
    monkeypatch.delitem(sys.modules, "google.colab", raising=False)
    assert paths.describe_storage(tmp_path) == str(tmp_path)
    monkeypatch.setitem(sys.modules, "google.colab", types.ModuleType("google.colab"))
    assert "lost with the runtime" in paths.describe_storage(tmp_path)
    assert "lost" not in paths.describe_storage(paths.DRIVE / "MyDrive" / "course")


# --- device advice ---------------------------------------------------------------------


def test_on_a_colab_cpu_the_advice_points_to_the_timed_plan_and_the_way_to_a_gpu(monkeypatch):
    monkeypatch.setattr(guidance, "autocast_dtype", lambda device: torch.bfloat16)
    text = device_advice("quick", torch.device("cpu"), colab=True)
    assert COLAB_GPU_STEPS in text and "(bf16)" in text and "steps timed on this machine" in text


@pytest.mark.parametrize("dtype, name", [(torch.bfloat16, "bf16"), (None, "fp32")])
def test_no_cpu_gets_a_time_of_ours_only_the_plan_timed_on_it(monkeypatch, dtype, name):
    """Issue 19/22: our times held for one kind of CPU; the plan times the student's own."""
    monkeypatch.setattr(guidance, "autocast_dtype", lambda device: dtype)
    text = device_advice("quick", torch.device("cpu"), colab=False)
    assert "took us" not in text and not re.search(r"about \d+ min", text)
    assert f"this CPU ({name})" in text and "plan" in text


def test_off_colab_the_advice_has_no_colab_menu_and_the_full_profile_is_not_timed():
    assert "Runtime menu" not in device_advice("quick", torch.device("cpu"), colab=False)
    full = device_advice("full", torch.device("cuda"), colab=True)
    assert "not been measured" in full and "Runtime menu" not in full
    assert "say nothing" in device_advice("smoke", torch.device("cpu"), colab=False)


def test_a_plan_over_15_minutes_says_so_plainly_and_points_to_the_shipped_nets():
    """Issue 19: on a CPU without bf16 a quick notebook is about half an hour."""
    from resnet_utils.course.guidance import LONG_PLAN_SECONDS, long_plan_advice

    cpu = torch.device("cpu")
    assert long_plan_advice(LONG_PLAN_SECONDS, ["plain20"], cpu, colab=False) == ""
    text = long_plan_advice(LONG_PLAN_SECONDS + 1, ["plain20", "plain56"], cpu, colab=False)
    assert "more than 15 minutes" in text and "stop at any time" in text
    assert "plain20, plain56 ship with the course" in text and "On a CUDA GPU" in text
    on_colab = long_plan_advice(3600, [], cpu, colab=True)
    assert "ship with" not in on_colab and COLAB_GPU_STEPS in on_colab
    assert "CUDA" not in long_plan_advice(3600, [], torch.device("cuda"), colab=False)


def test_the_session_names_only_the_planned_nets_the_course_ships(monkeypatch, capsys):
    from resnet_utils.course import session as session_module

    seen = {}

    def fake_plan(nets, *args, **kwargs):
        return type("P", (), {"seconds": 3600, "__str__": lambda self: "PLAN"})()

    def fake_advice(seconds, shipped, device):
        seen["shipped"] = shipped
        return "LONG"

    monkeypatch.setattr(session_module, "make_plan", fake_plan)
    monkeypatch.setattr(session_module, "long_plan_advice", fake_advice)
    monkeypatch.setattr(session_module, "plan_heading", lambda *a: "")
    s = session_module.Session.__new__(session_module.Session)
    s.data, s.seed, s.device = None, 0, torch.device("cpu")
    s.profile = type("Pr", (), {"name": "quick", "recipe": None})()
    nets = ["plain20", ("resnet20", {"shortcut": "A"}), ("resnet56", {}, "original"), "resnet8"]
    s.plan(nets, seeds=3)
    assert capsys.readouterr().out == "PLAN\nLONG\n"
    assert seen["shipped"] == ["plain20"]  # a titled variant is not the shipped net, nor resnet8
