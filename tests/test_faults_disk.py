"""Disk faults (issue 21): a full disk while writing a checkpoint or the finished run, and a
run resumed with another CPU thread count."""

import re

import pytest
import torch
from fakes import interrupt_in_epoch

from resnet_utils import Recipe, synthetic
from resnet_utils.storage.atomic import write_problem
from resnet_utils.training.cache import RunCache
from resnet_utils.training.runs import train

DATA = synthetic(128, 64, seed=0)
RECIPE = Recipe(epochs=2, batch_size=64)
FULL = r"no space left on device: \d+ MB free in "


def _full_disk(obj, file, *args, **kwargs):
    """torch.save on a full file system: some bytes land, then its zip writer gives up."""
    with open(file, "wb") as f:
        f.write(b"\0" * 1000)
    raise RuntimeError("[enforce fail at inline_container.cc:672] . unexpected pos 4160 vs 4054")


def test_a_full_disk_warns_in_words_and_training_goes_on(cache_dir, monkeypatch):
    monkeypatch.setattr(torch, "save", _full_disk)
    store = RunCache(cache_dir / "runs")
    with pytest.warns(UserWarning) as caught:
        run = train("resnet8", DATA, RECIPE, cache=store, progress=False)
    messages = [str(w.message) for w in caught]
    checkpoint = [m for m in messages if m.startswith("cannot write the checkpoint")]
    final = [m for m in messages if m.startswith("could not save resnet8")]
    assert len(checkpoint) == 1 and len(final) == 1, messages
    assert re.search(FULL + re.escape(str(store.root)), checkpoint[0])
    assert re.search(FULL + re.escape(str(store.root)), final[0])
    assert "unexpected pos" not in final[0]
    assert run.history["epoch"] == [1, 2] and run.model is not None  # both epochs trained
    assert not [p for p in cache_dir.rglob("*") if p.is_file()]  # no half file left


def test_other_write_failures_keep_their_own_words(tmp_path):
    problem = write_problem(PermissionError(13, "Permission denied"), tmp_path)
    assert problem.startswith("PermissionError") and "no space" not in problem
    assert re.fullmatch(FULL + re.escape(str(tmp_path)), write_problem(OSError(28, "x"), tmp_path))


def test_a_resume_with_another_thread_count_says_so(tmp_path, monkeypatch):
    data = synthetic(128, 64, seed=1)
    recipe = Recipe(epochs=3, batch_size=64)
    cache = RunCache(tmp_path)
    threads = torch.get_num_threads()
    with monkeypatch.context() as patch:
        interrupt_in_epoch(patch, 2)
        with pytest.raises(KeyboardInterrupt):
            train("resnet8", data, recipe, cache=cache, progress=False)
    [checkpoint] = tmp_path.glob("*.resume.pt")
    assert torch.load(checkpoint, weights_only=True)["threads"] == threads
    torch.set_num_threads(threads + 1)
    try:
        with pytest.warns(UserWarning, match=rf"with {threads + 1} CPU threads.*written with {threads}"):
            resumed = train("resnet8", data, recipe, cache=cache, progress=False, device="cpu")
    finally:
        torch.set_num_threads(threads)
    assert resumed.history["epoch"] == [1, 2, 3]
