"""Weak messages made plain (issue 21): every notebook parameter checked in the set-up cell,
bf16 on request, refused pickles and malformed records said in words, only the course's own
temporary files removed, and "1 seed", not "1 seeds"."""

import ast
import os
import pickle
import time
from pathlib import Path

import jupytext
import numpy as np
import pytest
import torch

from resnet_utils.course import session as session_module
from resnet_utils.course.params import BadParameter, check_in_place
from resnet_utils.course.reference import BadReference, load_record
from resnet_utils.storage import paths
from resnet_utils.storage.atomic import load_tensors
from resnet_utils.storage.temporaries import TEMPORARIES
from resnet_utils.training.hardware import autocast_dtype

NOTEBOOKS = sorted((Path(__file__).parent.parent / "notebooks").glob("[0-9][0-9]_*.py"))


# --- parameters ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name, value, says",
    [
        ("seeds", 0, r"seeds must be a whole number of seeds, 1 or more \(seeds = 3\), not 0"),
        ("seeds", -1, "seeds must be .* not -1"),
        ("seeds", "3", r"not '3' \(text: papermill's -r passes text"),
        ("seed", "0", r"seed must be a whole number from 0 to 2\*\*63 - 1 \(seed = 0\), not '0'"),
        ("seed", 1.5, "seed must be"),
        ("seed", -1, "seed must be .* not -1"),
        ("epochs", 0, "epochs must be None or a whole number, 1 or more, not 0"),
        ("depths", [], r"depths is empty: give two depths or more, such as \[20, 56\]"),
        # A22: notebooks 1 and 2 compare the shallowest depth with the deepest
        ("depths", [20], r"depths must hold two depths or more .* such as \[20, 56\], not \[20\]"),
        # A23: plain20 would be planned twice and trained twice
        ("depths", [56, 20, 20], r"depths lists 20 twice: give each depth once, such as \[20, 56\]"),
        # A7: torch's generators take 0 to 2**64 - 1, and the notebooks add offsets to the seed
        (
            "seed",
            2**70,
            r"seed must be a whole number from 0 to 2\*\*63 - 1 .* not 1180591620717411303424",
        ),
        # A35: the time and memory measurements run one batch of this size through ResNet-152
        ("cost_batch", 20000, r"cost_batch must be at most 1024 .* about 68 GB .* not 20000"),
        ("depths", "20,56", r"depths must be a list of depths such as \[20, 56\]"),
        ("depths", [20, 21], r"depths\[1\]: depth 21 is not of the form 6n\+2"),
        ("depth", "56", "depth must be None or a depth of the form 6n"),
        ("cost_batch", -1, "cost_batch must be None or a whole number, 1 or more, not -1"),
        ("cost_batch", 0, "cost_batch must be .* not 0"),
        ("interactive", "maybe", "interactive must be True or False, not 'maybe'"),
        ("landscape_points", 1, "landscape_points must be None or a whole number of grid points"),
        ("data_dir", 3, "data_dir must be a folder"),
    ],
)
def test_a_bad_parameter_is_named_with_what_to_give(name, value, says):
    with pytest.raises(BadParameter, match=says):
        check_in_place({name: value})


def test_good_parameters_come_back_as_the_notebook_uses_them():
    namespace = {
        "interactive": "false",
        "progress": "True",
        "seed": np.int64(2),
        "seeds": 3,
        "depths": (56, 20),
        "epochs": None,
        "depth": None,
        "plt": "not a parameter",
    }
    check_in_place(namespace)
    assert namespace == {
        "interactive": False,
        "progress": True,
        "seed": 2,
        "seeds": 3,
        "depths": [56, 20],
        "epochs": None,
        "depth": None,
        "plt": "not a parameter",
    }
    assert type(namespace["seed"]) is int


def test_start_checks_the_namespace_before_it_loads_anything(monkeypatch):
    def no_loading(*args, **kwargs):
        raise AssertionError("data loaded before the parameters were checked")

    monkeypatch.setattr(session_module, "load_cifar10", no_loading)
    monkeypatch.setattr(session_module, "synthetic", no_loading)
    with pytest.raises(BadParameter, match="seeds must be a whole number of seeds"):
        session_module.start("01_degradation", {"profile": "quick", "seeds": "3"})


def test_start_reads_the_sessions_own_parameters_from_the_namespace(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("RESNET_CACHE_DIR", str(tmp_path))
    namespace = {"profile": "smoke", "seed": 4, "progress": "false", "epochs": 1, "depths": [20, 56]}
    session = session_module.start("01_degradation", namespace)
    assert (session.profile.name, session.seed, session.progress) == ("smoke", 4, False)
    assert session.recipe.epochs == 1 and namespace["progress"] is False
    assert "smoke" in capsys.readouterr().out


def test_the_largest_seed_and_batch_are_accepted():
    namespace = {"seed": 2**63 - 1, "cost_batch": 1024, "depths": [110, 20, 56]}
    check_in_place(namespace)
    assert namespace == {"seed": 2**63 - 1, "cost_batch": 1024, "depths": [110, 20, 56]}


@pytest.mark.parametrize(
    "folder, why",
    [
        ("/proc/nope", "No such file or directory"),  # A20: mkdir fails even for root
        ("{tmp}/a-file/summaries", "Not a directory"),  # a file where a folder should be
    ],
)
def test_an_unwritable_summary_dir_stops_the_set_up_cell(tmp_path, monkeypatch, folder, why):
    """A20: before, the type alone was checked, and the summary cell failed after all the
    training with a raw FileNotFoundError."""
    (tmp_path / "a-file").write_text("")
    folder = folder.format(tmp=tmp_path)

    def no_loading(*args, **kwargs):
        raise AssertionError("data loaded before summary_dir was checked")

    monkeypatch.setattr(session_module, "load_cifar10", no_loading)
    monkeypatch.setattr(session_module, "synthetic", no_loading)
    with pytest.raises(BadParameter) as refused:
        session_module.start("01_degradation", {"profile": "smoke", "summary_dir": folder})
    message = str(refused.value)
    assert message.startswith(f"summary_dir {folder!r} cannot be written") and why in message
    assert "give a folder you can write to, or None" in message
    with pytest.raises(BadParameter, match="summary_dir"):  # start() called with keywords
        session_module.start("01_degradation", profile="smoke", summary_dir=folder)


def test_summary_dir_is_created_and_probed_and_left_clean(tmp_path):
    namespace = {"summary_dir": str(tmp_path / "new" / "deeper"), "storage_dir": None}
    check_in_place(namespace)
    assert namespace["summary_dir"] == str(tmp_path / "new" / "deeper")
    assert list((tmp_path / "new" / "deeper").iterdir()) == []  # the probe file is gone
    for blank in (None, "", "  "):
        namespace = {"summary_dir": blank}
        check_in_place(namespace)
        assert namespace["summary_dir"] is None


def test_a_summary_dir_under_home_is_expanded(tmp_path, monkeypatch, capsys):
    """B15: before, "~/course-summaries" made a folder named ~ in the working directory."""
    home, work = tmp_path / "home", tmp_path / "work"
    work.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("RESNET_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.chdir(work)
    namespace = {"profile": "smoke", "summary_dir": "~/course-summaries"}
    session = session_module.start("01_degradation", namespace)
    assert session.summary_dir == namespace["summary_dir"] == str(home / "course-summaries")
    session.finish({})
    assert (home / "course-summaries" / "01_degradation.json").exists()
    assert list(work.iterdir()) == []  # no folder named ~
    assert f"summary written to {home / 'course-summaries' / '01_degradation.json'}" in (
        capsys.readouterr().out
    )


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_every_notebook_checks_its_parameters_in_the_set_up_cell(path):
    """One call, start(<this notebook>, vars()), checks every parameter before anything runs."""
    cells = [c for c in jupytext.read(path).cells if c.cell_type == "code"]
    [index] = [i for i, c in enumerate(cells) if "parameters" in c.metadata.get("tags", [])]
    setup = ast.parse(cells[index + 1].source)
    calls = [n for n in ast.walk(setup) if isinstance(n, ast.Call)]
    starts = [n for n in calls if getattr(n.func, "id", "") == "start"]
    assert len(starts) == 1, f"{path.name}: one start(...) in the set-up cell"
    [call] = starts
    assert [ast.unparse(a) for a in call.args] == [repr(path.stem), "vars()"], path.name
    first = min(calls, key=lambda n: (n.lineno, n.col_offset))
    assert first is call, f"{path.name}: start(...) is the set-up cell's first call"


# --- precision -------------------------------------------------------------------------


def test_bf16_is_accepted_where_the_cpu_has_it_and_refused_in_words_elsewhere(monkeypatch):
    monkeypatch.setenv("RESNET_PRECISION", "bf16")
    monkeypatch.delenv("ONEDNN_MAX_CPU_ISA", raising=False)
    monkeypatch.setattr(torch.backends.cpu, "get_cpu_capability", lambda: "AVX512")
    monkeypatch.setattr(torch.cpu, "_is_avx512_bf16_supported", lambda: True, raising=False)
    assert autocast_dtype(torch.device("cpu")) is torch.bfloat16
    monkeypatch.setattr(torch.cpu, "_is_avx512_bf16_supported", lambda: False, raising=False)
    monkeypatch.setattr(torch.cpu, "_is_amx_tile_supported", lambda: False, raising=False)
    with pytest.raises(ValueError, match="RESNET_PRECISION=bf16: this cpu has no native bf16"):
        autocast_dtype(torch.device("cpu"))


def test_a_cpu_held_below_avx512_trains_in_fp32_as_a_laptop_without_it_would(monkeypatch):
    monkeypatch.delenv("RESNET_PRECISION", raising=False)
    monkeypatch.setattr(torch.cpu, "_is_avx512_bf16_supported", lambda: True, raising=False)
    monkeypatch.setattr(torch.backends.cpu, "get_cpu_capability", lambda: "AVX512")
    monkeypatch.delenv("ONEDNN_MAX_CPU_ISA", raising=False)
    assert autocast_dtype(torch.device("cpu")) is torch.bfloat16
    monkeypatch.setenv("ONEDNN_MAX_CPU_ISA", "avx2")
    assert autocast_dtype(torch.device("cpu")) is None
    monkeypatch.setenv("RESNET_PRECISION", "bf16")
    with pytest.raises(ValueError, match="no native bf16"):
        autocast_dtype(torch.device("cpu"))
    monkeypatch.delenv("RESNET_PRECISION")
    monkeypatch.setenv("ONEDNN_MAX_CPU_ISA", "AVX512_CORE_BF16")
    assert autocast_dtype(torch.device("cpu")) is torch.bfloat16
    monkeypatch.setattr(torch.backends.cpu, "get_cpu_capability", lambda: "AVX2")
    assert autocast_dtype(torch.device("cpu")) is None


# --- refused code, malformed records ---------------------------------------------------


class Payload:
    """Any class: unpickling it would import and run code of the file's choosing."""


def test_a_file_with_pickled_code_is_refused_in_words(tmp_path):
    path = tmp_path / "resnet8.pt"
    torch.save({"payload": Payload()}, path)
    with pytest.raises(pickle.UnpicklingError) as refused:
        load_tensors(path)
    message = str(refused.value)
    assert "resnet8.pt holds pickled code" in message and "will not be loaded" in message
    assert "weights_only=False" not in message


def test_a_malformed_reference_record_is_a_bad_reference(tmp_path):
    (tmp_path / "resnet8-seed0.json").write_text('{"name": "resnet8", ')
    with pytest.raises(BadReference, match="resnet8-seed0.json is not valid JSON"):
        load_record("resnet8", tmp_path)
    (tmp_path / "resnet8-seed0.json").write_text("[1, 2]")
    with pytest.raises(BadReference, match="holds list, not a record"):
        load_record("resnet8", tmp_path)


# --- temporary files -------------------------------------------------------------------


def test_only_the_course_temporaries_are_removed_from_a_shared_folder(tmp_path, monkeypatch):
    runs, data, temporaries = tmp_path / "runs", tmp_path / "data", tmp_path / TEMPORARIES
    runs.mkdir()
    data.mkdir()
    temporaries.mkdir()
    ours = [
        temporaries / ".0123456789abcdef0123.pt.x1y2z3_a.tmp",
        temporaries / ".0123456789abcdef0123.resume.pt.k2j3h4g5.tmp",
        temporaries / ".cifar10-0123456789ab-ba9876543210.pt.abcdefgh.tmp",
    ]
    theirs = [runs / ".notes.tmp", data / ".my-thesis.docx.a1b2c3d4.tmp", runs / ".draft.tmp"]
    old = time.time() - 3 * 3600
    for path in ours + theirs:
        path.write_bytes(b"\0")
        os.utime(path, (old, old))
    monkeypatch.setenv(paths.CACHE_ENV, str(tmp_path))  # as storage_dir=tmp_path would
    paths.use_storage(None)
    assert [p for p in ours if p.exists()] == []
    assert [p for p in theirs if p.exists()] == theirs


# --- wording ---------------------------------------------------------------------------


def test_one_seed_is_one_seed():
    from fakes import fake_run

    from resnet_utils.training.groups import RunGroup

    assert ", 1 seed (0):" in RunGroup([fake_run(1.0, 0.5)], None).describe()
    assert (
        ", 2 seeds (0, 1):"
        in RunGroup([fake_run(1.0, 0.5), fake_run(1.0, 0.5, seed=1)], None).describe()
    )
