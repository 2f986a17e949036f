"""Reference runs: only full-profile GPU runs with provenance are shipped, the notebook says so
when there is none, and a shipped one is drawn beside the student's run."""

import importlib.util
import json
from pathlib import Path

import matplotlib
import pytest

from resnet_utils import synthetic
from resnet_utils.profiles import Recipe
from resnet_utils.reference import BadReference, compare_with_reference, load_reference, validate
from resnet_utils.session import Session

matplotlib.use("Agg")
ROOT = Path(__file__).parent.parent
_spec = importlib.util.spec_from_file_location("ship", ROOT / "tools" / "ship_reference.py")
ship = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(ship)


def _summary(**changes):
    curves = {
        "train_loss": [2.0, 1.0],
        "train_acc": [0.3, 0.6],
        "test_loss": [2.1, 1.2],
        "test_acc": [0.3, 0.55],
    }
    summary = {
        "notebook": "01_degradation",
        "profile": "full (auto: a GPU is present)",
        "device": "cuda (NVIDIA H100)",
        "versions": {"torch": "2.14.1"},
        "started": "2026-11-28T10:00:00+00:00",
        "histories": {"plain20": curves},
    }
    return {**summary, **changes}


class _Run:
    label = "plain20"
    history = {"epoch": [1, 2], "train_loss": [2.2, 1.4], "test_acc": [0.2, 0.4]}

    def final(self, metric):
        return self.history[metric][-1]


def test_a_full_gpu_summary_becomes_a_reference_with_its_provenance():
    record = ship.reference_from_summary(_summary())
    assert record["date"] == "2026-11-28T10:00:00+00:00" and record["device"].startswith("cuda")
    assert record["histories"]["plain20"]["test_acc"] == [0.3, 0.55]


@pytest.mark.parametrize(
    "changes, says",
    [
        ({"profile": "quick (auto: no GPU, so the CPU profile)"}, "full profile"),
        ({"device": "cpu (2 threads, AVX512)"}, "from a GPU"),
        ({"histories": {}}, "no run curves"),
        ({"histories": {"plain20": {"train_loss": [1.0]}}}, "needs the curves"),
    ],
)
def test_anything_else_is_refused(changes, says):
    with pytest.raises(BadReference, match=says):
        ship.reference_from_summary(_summary(**changes))


def test_a_reference_for_another_notebook_is_refused():
    record = ship.reference_from_summary(_summary())
    with pytest.raises(BadReference, match="not '02_skip_connections'"):
        validate(record, "02_skip_connections")


def test_without_a_reference_the_notebook_says_none_is_available(capsys, tmp_path):
    assert compare_with_reference("01_degradation", [_Run()], path=tmp_path / "none.json") is None
    assert "No reference run is available for 01_degradation yet" in capsys.readouterr().out


def test_no_reference_has_been_shipped_without_a_measurement():
    shipped = sorted((ROOT / "resnet_utils" / "reference_runs").glob("*.json"))
    for path in shipped:  # every shipped file must be a valid measured reference
        assert load_reference(path.stem) is not None


def test_a_reference_is_drawn_beside_the_students_run(capsys, tmp_path):
    path = tmp_path / "01_degradation.json"
    path.write_text(json.dumps(ship.reference_from_summary(_summary())))
    fig = compare_with_reference("01_degradation", [_Run()], path=path)
    lines = fig.axes[0].get_lines()
    assert [line.get_label() for line in lines] == ["plain20 (yours)", "plain20 (reference)"]
    assert list(lines[1].get_ydata()) == [2.0, 1.0] and lines[1].get_linestyle() == "--"
    out = capsys.readouterr().out
    assert (
        "cuda (NVIDIA H100)" in out
        and "your final test accuracy 40.0%" in out
        and "reference 55.0%" in out
    )


def test_the_summary_carries_every_runs_curves(tmp_path, cache_dir):
    import torch

    from resnet_utils.profiles import get_profile

    data = synthetic(64, 32, seed=0)
    session = Session("01_degradation", get_profile("smoke"), torch.device("cpu"), data, progress=False)
    session.summary_dir = str(tmp_path)
    session.train("plain8", recipe=Recipe(epochs=1, batch_size=32, lr=0.05))
    written = json.loads((tmp_path / "01_degradation.json").read_text()) if session.finish({}) else None
    assert list(written["histories"]) == ["plain8"]
    assert len(written["histories"]["plain8"]["test_acc"]) == 1
