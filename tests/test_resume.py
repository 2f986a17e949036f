"""Resumable runs: a run interrupted after some epochs continues from its checkpoint, and
ends with the history and weights of a run that was never interrupted."""

from __future__ import annotations

import pytest
import torch
from fakes import interrupt_in_epoch

from resnet_utils.training.cache import RunCache
from resnet_utils.training.data import synthetic
from resnet_utils.training.profiles import Recipe
from resnet_utils.training.runs import train

CURVES = ("train_loss", "train_acc", "test_loss", "test_acc", "lr", "grad_norms")
RECIPE = Recipe(epochs=4, batch_size=64)


@pytest.fixture(scope="module")
def data():
    return synthetic(256, 128, seed=3)


@pytest.mark.parametrize("options", [{}, {"shortcut_dropout": 0.3}], ids=["plain-rng", "dropout"])
def test_an_interrupted_run_resumes_to_the_uninterrupted_result(tmp_path, monkeypatch, data, options):
    whole = train(
        "resnet8", data, RECIPE, options=options, cache=RunCache(tmp_path / "a"), progress=False
    )

    cache = RunCache(tmp_path / "b")
    with monkeypatch.context() as patch:
        interrupt_in_epoch(patch, 3)
        with pytest.raises(KeyboardInterrupt):
            train("resnet8", data, RECIPE, options=options, cache=cache)
    [checkpoint] = (tmp_path / "b").glob("*.resume.pt")
    saved = torch.load(checkpoint, weights_only=True)
    assert saved["history"]["epoch"] == [1, 2]  # the two finished epochs, not the third

    torch.manual_seed(12345)  # a kernel restart leaves the global RNG anywhere
    resumed = train("resnet8", data, RECIPE, options=options, cache=cache)
    assert not resumed.from_cache
    assert resumed.history["epoch"] == [1, 2, 3, 4]
    for curve in CURVES:
        assert resumed.history[curve] == whole.history[curve], curve
    for (k, a), b in zip(whole.model.state_dict().items(), resumed.model.state_dict().values()):
        assert torch.equal(a, b), k
    # a finished run keeps only its final entry: the checkpoint is gone
    assert sorted(p.suffix for p in (tmp_path / "b").iterdir()) == [".json", ".pt"]
    assert not list((tmp_path / "b").glob("*.resume.pt"))


def test_a_damaged_checkpoint_is_ignored_and_the_run_starts_over(tmp_path, monkeypatch, data):
    cache = RunCache(tmp_path)
    with monkeypatch.context() as patch:
        interrupt_in_epoch(patch, 2)
        with pytest.raises(KeyboardInterrupt):
            train("resnet8", data, RECIPE, cache=cache, progress=False)
    [checkpoint] = tmp_path.glob("*.resume.pt")
    checkpoint.write_bytes(b"half a file")
    with pytest.warns(UserWarning, match="ignoring checkpoint"):
        run = train("resnet8", data, RECIPE, cache=cache, progress=False)
    fresh = train("resnet8", data, RECIPE, cache=False, progress=False)
    assert run.history["train_loss"] == fresh.history["train_loss"]


def test_a_run_without_a_cache_writes_no_checkpoint(tmp_path, monkeypatch, data):
    monkeypatch.chdir(tmp_path)
    train("resnet8", data, Recipe(epochs=2, batch_size=64), cache=False, progress=False)
    assert not list(tmp_path.rglob("*.resume.pt"))


def test_the_checkpoint_holds_no_pickled_code(tmp_path, monkeypatch, data):
    """It is read with weights_only=True: a state the safe loader refuses would never resume."""
    cache = RunCache(tmp_path)
    with monkeypatch.context() as patch:
        interrupt_in_epoch(patch, 2)
        with pytest.raises(KeyboardInterrupt):
            train(
                "resnet8",
                data,
                Recipe(epochs=3, batch_size=64, schedule="step"),
                cache=cache,
                progress=False,
            )
    [checkpoint] = tmp_path.glob("*.resume.pt")
    state = torch.load(checkpoint, weights_only=True)
    assert set(state) >= {
        "model",
        "optimizer",
        "scheduler",
        "scaler",
        "generator",
        "torch_rng",
        "history",
    }
