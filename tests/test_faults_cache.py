"""Cache faults (issue 13): unwritable caches, foreign weights, stale temporary files,
file modes, strict JSON, and one key for one net however it is spelled."""

import json
import math
import os
import stat
import time

import pytest
import torch

from resnet_utils import Recipe, build_model, synthetic
from resnet_utils.storage import paths
from resnet_utils.storage.atomic import save_json, save_tensors
from resnet_utils.storage.temporaries import TEMPORARIES
from resnet_utils.training import cache as cache_module
from resnet_utils.training.cache import RunCache
from resnet_utils.training.runs import train

DATA = synthetic(128, 64, seed=0)
RECIPE = Recipe(epochs=1, batch_size=64)


def _same_weights(a, b):
    return all(
        torch.equal(x.cpu(), y.cpu()) for x, y in zip(a.state_dict().values(), b.state_dict().values())
    )


# --- 5. a cache that cannot be written -------------------------------------------------


def test_an_unwritable_cache_is_reported_when_the_session_starts(tmp_path, monkeypatch):
    root = tmp_path / "cache"
    root.mkdir()
    (root / "runs").write_text("a file where the runs folder should be")
    monkeypatch.setenv(paths.CACHE_ENV, str(root))
    with pytest.warns(UserWarning, match="cannot write to its cache.*runs.*storage_dir"):
        assert paths.use_storage(None) == root


def test_an_unwritable_storage_dir_fails_before_training(tmp_path):
    (tmp_path / "taken").write_text("a file")
    with pytest.raises(ValueError, match="cannot use storage_dir.*folder you can write to"):
        paths.use_storage(tmp_path / "taken" / "course")


def test_a_read_only_cache_warns_at_start_and_keeps_the_trained_net(tmp_path, monkeypatch):
    from resnet_utils import start

    root = tmp_path / "cache"
    root.mkdir()
    (root / "runs").write_text("not a folder")
    monkeypatch.setenv(paths.CACHE_ENV, str(root))
    with pytest.warns(UserWarning, match="cannot write to its cache"):
        session = start("faults", profile="smoke", progress=False, device="cpu")
    with pytest.warns(UserWarning, match="could not save resnet8 in the run cache.*kept in memory"):
        (run,) = session.train("resnet8").runs
    assert run.model is not None and not run.from_cache and len(run.history["epoch"]) == 2


def test_a_save_that_fails_mid_write_keeps_the_net_and_leaves_no_file(cache_dir, monkeypatch):
    def full_disk(obj, file, *args, **kwargs):
        with open(file, "wb") as f:
            f.write(b"\0" * 1000)
        raise RuntimeError("[enforce fail at inline_container.cc:664] . unexpected pos 64 vs 0")

    monkeypatch.setattr(torch, "save", full_disk)
    store = RunCache(cache_dir)
    with pytest.warns(UserWarning, match="could not save.*no space left on device"):
        run = train("resnet8", DATA, RECIPE, cache=store, progress=False)
    assert run.model is not None and run.final("test_acc") is not None
    assert list(cache_dir.iterdir()) == []  # no half entry, no temporary file


# --- 6. weights that do not fit the net ------------------------------------------------


def test_foreign_weights_are_retrained_not_raised(cache_dir, counted_fit):
    store = RunCache(cache_dir)
    first = train("resnet8", DATA, RECIPE, cache=store, progress=False)
    _, weights = store.paths(first.spec)
    save_tensors(weights, build_model("resnet8", shortcut="B").state_dict())  # another net's
    with pytest.warns(UserWarning, match="do not fit resnet8"):
        again = train("resnet8", DATA, RECIPE, cache=store, progress=False)
    assert not again.from_cache and len(counted_fit) == 2
    assert _same_weights(again.model, first.model)  # trained afresh, not on half-loaded weights
    third = train("resnet8", DATA, RECIPE, cache=store, progress=False)
    assert third.from_cache and len(counted_fit) == 2  # the retrained run replaced the entry


def test_the_key_follows_the_module_tree():
    from resnet_utils.training.cache import module_layout

    assert cache_module.FORMAT >= 2
    assert module_layout(build_model("resnet8")) == module_layout(build_model("resnet8"))
    assert module_layout(build_model("resnet8")) != module_layout(build_model("resnet8", shortcut="B"))
    run = train("resnet8", DATA, RECIPE, cache=False, progress=False)
    assert run.spec["layout"] == module_layout(build_model("resnet8"))


# --- 7. temporary files of a killed writer ---------------------------------------------


def test_stale_temporary_files_are_removed_when_a_session_starts(cache_dir):
    runs, temporaries = cache_dir / "runs", cache_dir / TEMPORARIES
    runs.mkdir(parents=True)
    temporaries.mkdir()
    stale = temporaries / ".0123456789abcdef0123.pt.x1y2z3ab.tmp"  # what kill -9 during a save leaves
    stale.write_bytes(b"\0" * 100_000)
    old = time.time() - 3 * 3600
    os.utime(stale, (old, old))
    live = temporaries / ".4567456789abcdef0123.pt.a1b2c3de.tmp"  # another notebook's write in progress
    live.write_bytes(b"\0")
    entry = runs / "0123abcd.json"
    entry.write_text("{}")
    os.utime(entry, (old, old))
    paths.use_storage(None)
    assert not stale.exists() and live.exists() and entry.exists()


# --- file modes and strict JSON --------------------------------------------------------


def test_cache_files_follow_the_umask(tmp_path):
    previous = os.umask(0o022)
    try:
        save_json(tmp_path / "a.json", {"x": 1})
        save_tensors(tmp_path / "b.pt", {"w": torch.zeros(2)})
    finally:
        os.umask(previous)
    for name in ("a.json", "b.pt"):
        assert stat.S_IMODE((tmp_path / name).stat().st_mode) == 0o644, name


def test_json_is_strict(tmp_path):
    with pytest.raises(ValueError):
        save_json(tmp_path / "history.json", {"loss": [1.0, math.nan]}, strict=True)
    assert not (tmp_path / "history.json").exists()
    save_json(tmp_path / "summary.json", {"mean": math.nan, "curve": [1.0, math.inf]})
    text = (tmp_path / "summary.json").read_text()
    assert json.loads(text, parse_constant=lambda c: pytest.fail(c)) == {
        "mean": None,
        "curve": [1.0, None],
    }


# --- one net, one key ------------------------------------------------------------------


def test_spellings_of_one_net_share_one_cache_entry(cache_dir, counted_fit):
    store = RunCache(cache_dir)
    first = train("resnet8", DATA, RECIPE, cache=store, progress=False)
    assert first.label == "resnet8" and first.name == "resnet8"
    for name, options in (
        ("Resnet8", None),
        (" RESNET8 ", {}),
        ("resnet8", {"batchnorm": True}),
        ("resnet8", {"shortcut": "A", "scale_branch": 1, "gate": None, "zero_init": False}),
    ):
        run = train(name, DATA, RECIPE, options=options, cache=store, progress=False)
        assert run.from_cache and run.name == "resnet8", (name, options)
        assert run.spec == first.spec
    assert len(counted_fit) == 1
    other = train("resnet8", DATA, RECIPE, options={"batchnorm": False}, cache=store, progress=False)
    assert not other.from_cache and other.label == "resnet8 (batchnorm=False)"
    assert len(counted_fit) == 2


# --- review round 3: damaged weights named; a storage folder that went away ------------


def test_truncated_weights_are_named_as_damaged_and_retrained(cache_dir, counted_fit):
    store = RunCache(cache_dir)
    first = train("resnet8", DATA, RECIPE, cache=store, progress=False)
    record, weights = store.paths(first.spec)
    weights.write_bytes(weights.read_bytes()[: weights.stat().st_size // 2])  # a cut copy
    with pytest.warns(UserWarning) as caught:
        again = train("resnet8", DATA, RECIPE, cache=store, progress=False)
    [message] = [str(w.message) for w in caught if "ignoring cache entry" in str(w.message)]
    assert message.startswith(
        f"ignoring cache entry {record.stem}: its weights file {weights} is damaged (truncated "
        "or changed since it was written: "
    )
    assert message.endswith("); the run is trained again.")
    assert "Errno" not in message and "internal miniz error" not in message
    assert not again.from_cache and len(counted_fit) == 2
    assert train("resnet8", DATA, RECIPE, cache=store, progress=False).from_cache  # sound again


def test_missing_weights_are_named_as_missing(cache_dir, counted_fit):
    store = RunCache(cache_dir)
    record, weights = store.paths(train("resnet8", DATA, RECIPE, cache=store, progress=False).spec)
    weights.unlink()
    with pytest.warns(
        UserWarning, match=f"ignoring cache entry {record.stem}: its weights file {weights} is missing"
    ):
        assert not train("resnet8", DATA, RECIPE, cache=store, progress=False).from_cache


def _gone(monkeypatch, folder):
    """Path.exists as Python 3.11 has it under a dead Google Drive mount: OSError, not False."""
    real = type(folder).exists

    def exists(path, *args, **kwargs):
        if str(path).startswith(str(folder)):
            raise OSError(107, "Transport endpoint is not connected", str(path))
        return real(path, *args, **kwargs)

    monkeypatch.setattr(type(folder), "exists", exists)


def test_a_run_cache_whose_disk_went_away_is_not_a_crash(cache_dir, monkeypatch):
    store = RunCache(cache_dir / "runs")
    spec = train("resnet8", DATA, RECIPE, cache=store, progress=False).spec
    _gone(monkeypatch, cache_dir)
    with pytest.warns(UserWarning) as caught:
        assert store.load(spec) is None
    [message] = [str(w.message) for w in caught]
    assert message.startswith(f"ignoring cache entry {store.paths(spec)[0].stem}: cannot read the run ")
    assert "Transport endpoint is not connected" in message
    assert message.endswith("the run is trained instead of loaded.")


def test_a_checkpoint_whose_disk_went_away_starts_the_run_over(cache_dir, monkeypatch):
    from resnet_utils.training.checkpoint import read_checkpoint

    checkpoint = cache_dir / "runs" / "0123.resume.pt"
    _gone(monkeypatch, cache_dir)
    with pytest.warns(
        UserWarning,
        match=r"ignoring checkpoint 0123.resume.pt \(cannot read it: .*Transport endpoint is not "
        r"connected.*\); training from the start",
    ):
        assert read_checkpoint(checkpoint, torch.device("cpu")) is None


def test_train_goes_on_when_the_cache_disk_went_away(cache_dir, monkeypatch):
    store = RunCache(cache_dir / "runs")
    _gone(monkeypatch, cache_dir)
    with pytest.warns(UserWarning) as caught:  # share_cpu=False: runs._checkpoint_threads not asked
        run = train("resnet8", DATA, RECIPE, cache=store, progress=False)
    assert run.model is not None and not run.from_cache and run.history["epoch"] == [1]
    key = store.paths(run.spec)[0].stem
    said = [str(w.message) for w in caught]
    assert said[0].startswith(f"ignoring cache entry {key}: cannot read the run cache")
    assert said[1].startswith(f"ignoring checkpoint {key}.resume.pt (cannot read it")
    assert len(said) == 2


def test_a_resume_with_one_thread_says_thread(monkeypatch):
    from resnet_utils.training.checkpoint import warn_other_threads

    monkeypatch.setattr(torch, "get_num_threads", lambda: 1)
    with pytest.warns(UserWarning) as caught:
        warn_other_threads({"threads": 2}, torch.device("cpu"), 3)
    assert str(caught[0].message).startswith(
        "resuming after epoch 3 with 1 CPU thread; the checkpoint was written with 2."
    )
    monkeypatch.setattr(torch, "get_num_threads", lambda: 4)
    with pytest.warns(UserWarning, match="with 4 CPU threads; the checkpoint was written with 2"):
        warn_other_threads({"threads": 2}, torch.device("cpu"), 3)


def test_the_course_path_goes_on_when_the_cache_disk_went_away(tmp_path, monkeypatch):
    """share_cpu (the notebooks' path) reads the checkpoint's thread count first: a dead Drive
    connection (OSError from exists()) must not crash it either."""
    import warnings
    from pathlib import Path

    from resnet_utils.training.cache import RunCache
    from resnet_utils.training.data import synthetic
    from resnet_utils.training.profiles import Recipe
    from resnet_utils.training.runs import train

    real_exists = Path.exists

    def dead(self, *args, **kwargs):
        if str(self).startswith(str(tmp_path)):
            raise OSError(107, "Transport endpoint is not connected")
        return real_exists(self, *args, **kwargs)

    monkeypatch.setattr(Path, "exists", dead)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        run = train(
            "resnet8",
            synthetic(64, 32, seed=0),
            Recipe(epochs=1, batch_size=32),
            cache=RunCache(tmp_path / "runs"),
            progress=False,
            share_cpu=1,
        )
    assert run.history["epoch"] == [1]
