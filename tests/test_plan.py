"""The plan a notebook prints before training: what comes from the cache, what will train,
what resumes, and an estimate built from timed steps. Making a plan trains nothing."""

import pytest
import torch
from fakes import interrupt_in_epoch

from resnet_utils.training.cache import RunCache
from resnet_utils.training.data import synthetic
from resnet_utils.training.plan import PlannedNet, _duration, make_plan
from resnet_utils.training.profiles import Recipe
from resnet_utils.training.runs import train

RECIPE = Recipe(epochs=3, batch_size=64)
DEVICE = torch.device("cpu")


@pytest.fixture
def data():
    return synthetic(256, 128, seed=5)


def test_an_empty_cache_plans_every_run_and_trains_none(tmp_path, data, counted_fit):
    cache = RunCache(tmp_path)
    plan = make_plan(
        ["resnet8", ("plain8", {}, "plain-8")], data, RECIPE, seeds=[0, 1], device=DEVICE, cache=cache
    )
    assert counted_fit == [] and not list(tmp_path.iterdir())
    assert [n.label for n in plan.nets] == ["resnet8", "plain-8"]
    assert plan.runs_to_train == 4 and all(n.seconds > 0 for n in plan.nets)
    assert "2 seeds: 2 to train" in str(plan) and "To train: 4 runs" in str(plan)


def test_cached_runs_are_not_estimated(tmp_path, data):
    cache = RunCache(tmp_path)
    train("resnet8", data, RECIPE, seed=0, cache=cache, progress=False)
    plan = make_plan(["resnet8"], data, RECIPE, seeds=[0, 1], device=DEVICE, cache=cache)
    [net] = plan.nets
    assert net.cached == [0] and net.to_train == [1]
    assert "1 to train" in str(plan) and "1 from the cache" in str(plan)
    everything = make_plan(["resnet8"], data, RECIPE, seeds=[0], device=DEVICE, cache=cache)
    assert everything.seconds == 0 and "nothing to train" in str(everything)


def test_a_run_with_a_checkpoint_is_planned_for_its_remaining_epochs(tmp_path, data, monkeypatch):
    cache = RunCache(tmp_path)
    with monkeypatch.context() as patch:
        interrupt_in_epoch(patch, 3)
        with pytest.raises(KeyboardInterrupt):
            train("resnet8", data, RECIPE, seed=0, cache=cache, progress=False)
    plan = make_plan(["resnet8"], data, RECIPE, seeds=[0, 1], device=DEVICE, cache=cache)
    [net] = plan.nets
    assert net.resumed == {0: 2} and net.to_train == [0, 1]
    # seed 0 has 1 epoch left, seed 1 all 3: 4 epochs at the timed rate
    assert net.seconds == pytest.approx(4 * net.seconds_per_epoch)
    assert "1 resuming from a checkpoint" in str(plan)


def test_the_estimate_adds_the_epochs_left_and_reads_in_sensible_units():
    net = PlannedNet("x", [0, 1, 2], cached=[2], resumed={1: 1}, seconds_per_epoch=10.0, epochs=6)
    assert net.seconds == (6 + 5) * 10.0
    assert [_duration(s) for s in (3, 120, 2100, 9000)] == [
        "about 3 s",
        "about 2 min",
        "about 35 min",
        "about 2.5 h",
    ]


def test_the_steps_are_timed_with_the_threads_the_runs_will_train_with(tmp_path, data, monkeypatch):
    """F8: a plan times its steps with the count its runs train with, and gives torch's count
    back; without ``threads``, with torch's count as it is."""
    from resnet_utils.training import plan as plan_module

    timed_with = []

    def seconds_per_step(*args, **kwargs):
        timed_with.append(torch.get_num_threads())
        return 0.01

    monkeypatch.setattr(plan_module, "seconds_per_step", seconds_per_step)
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        cache = RunCache(tmp_path)
        make_plan(["resnet8", "plain8"], data, RECIPE, seeds=[0], device=DEVICE, cache=cache, threads=1)
        assert timed_with == [1, 1] and torch.get_num_threads() == 2
        make_plan(["resnet8"], data, RECIPE, seeds=[0], device=DEVICE, cache=cache)
        assert timed_with == [1, 1, 2] and torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(before)
