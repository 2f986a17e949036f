import json

import pytest
import torch

from resnet_utils import Recipe, synthetic
from resnet_utils.storage.atomic import save_json, write_atomically
from resnet_utils.training.cache import RunCache, run_key
from resnet_utils.training.runs import train

DATA = synthetic(128, 64, seed=0)
RECIPE = Recipe(epochs=1, batch_size=64)


def test_key_depends_on_everything_that_determines_a_run():
    spec = {"model": "plain20", "options": {}, "data": "abc", "recipe": RECIPE.as_dict(), "seed": 0}
    assert run_key(spec) == run_key(dict(reversed(list(spec.items()))))
    for change in (
        {"model": "plain56"},
        {"options": {"batchnorm": False}},
        {"data": "abd"},
        {"recipe": Recipe(epochs=2, batch_size=64).as_dict()},
        {"seed": 1},
    ):
        assert run_key({**spec, **change}) != run_key(spec), change


def test_second_run_comes_from_the_cache(cache_dir, counted_fit):
    first = train("resnet8", DATA, RECIPE, cache=RunCache(cache_dir), progress=False)
    second = train("resnet8", DATA, RECIPE, cache=RunCache(cache_dir), progress=False)
    assert len(counted_fit) == 1
    assert not first.from_cache and second.from_cache
    assert second.history == json.loads(json.dumps(first.history))
    took = f"({sum(first.history['seconds']):.0f} s of training)"
    assert first.describe() == f"resnet8: trained {took}"
    assert second.describe() == f"resnet8: loaded from the cache {took}"
    for (k, a), b in zip(first.model.state_dict().items(), second.model.state_dict().values()):
        assert torch.equal(a.cpu(), b.cpu()), k
    train("resnet8", DATA, RECIPE, seed=1, cache=RunCache(cache_dir), progress=False)
    assert len(counted_fit) == 2  # another seed is another run


def test_damaged_entry_is_retrained_not_trusted(cache_dir, counted_fit):
    store = RunCache(cache_dir)
    run = train("resnet8", DATA, RECIPE, cache=store, progress=False)
    record, _ = store.paths(run.spec)
    record.write_text(record.read_text()[:40])  # a truncated copy
    with pytest.warns(UserWarning, match="ignoring cache entry"):
        again = train("resnet8", DATA, RECIPE, cache=store, progress=False)
    assert not again.from_cache and len(counted_fit) == 2


class Payload:
    """Any class: unpickling it would import and run code of the file's choosing."""


def test_weights_file_with_pickled_code_is_refused(cache_dir, counted_fit):
    store = RunCache(cache_dir)
    run = train("resnet8", DATA, RECIPE, cache=store, progress=False)
    _, weights = store.paths(run.spec)
    torch.save({"payload": Payload()}, weights)
    with pytest.warns(UserWarning, match="ignoring cache entry"):
        assert not train("resnet8", DATA, RECIPE, cache=store, progress=False).from_cache


def test_entry_for_another_spec_is_not_used(cache_dir, counted_fit):
    store = RunCache(cache_dir)
    run = train("resnet8", DATA, RECIPE, cache=store, progress=False)
    record, _ = store.paths(run.spec)
    content = json.loads(record.read_text())
    content["spec"]["seed"] = 99
    record.write_text(json.dumps(content))
    with pytest.warns(UserWarning):
        assert not train("resnet8", DATA, RECIPE, cache=store, progress=False).from_cache


def test_diverged_run_is_cached_without_weights(cache_dir, counted_fit):
    recipe = Recipe(epochs=2, batch_size=64, lr=1e6, schedule="step")
    options = {"batchnorm": False}
    first = train("plain8", DATA, recipe, options=options, cache=RunCache(cache_dir), progress=False)
    assert first.diverged and first.model is None
    second = train("plain8", DATA, recipe, options=options, cache=RunCache(cache_dir), progress=False)
    assert second.from_cache and second.diverged and second.model is None
    assert len(counted_fit) == 1


def test_bad_model_name_fails_before_training(cache_dir, counted_fit):
    with pytest.raises(ValueError, match="6n\\+2"):
        train("plain21", DATA, RECIPE, cache=RunCache(cache_dir), progress=False)
    assert counted_fit == []


def test_atomic_write_leaves_nothing_half_written(tmp_path):
    target = tmp_path / "entry.json"
    save_json(target, {"old": True})

    def crash(tmp):
        tmp.write_text('{"half": ')
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        write_atomically(target, crash)
    assert json.loads(target.read_text()) == {"old": True}
    assert [p.name for p in tmp_path.iterdir()] == ["entry.json"]
