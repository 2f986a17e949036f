"""tools/gpu_check.py, the one call a GPU machine gets: what it plans to fit in its budget,
which stages it accepts, and what it reads from the notebooks. Nothing here needs a GPU."""

import sys
import tarfile
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tools"))
import gpu_check  # noqa: E402
from gpu_check import Budget, colab_workload, makespan, notebook_totals, parse_stages  # noqa: E402
from gpu_check import plan_references as plan  # noqa: E402

OVERHEAD = gpu_check.JOB_OVERHEAD_S
EPOCH_S = {"a": 1.0, "b": 2.0}
JOBS = [("a", 0), ("b", 0)]


def test_stages_keep_their_order_and_an_unknown_one_is_refused():
    assert parse_stages("colab, tests,colab") == ["colab", "tests"]
    with pytest.raises(ValueError, match="unknown \\['benchmark'\\].*tests, bench, colab, references"):
        parse_stages("tests,benchmark")
    with pytest.raises(ValueError, match="empty"):
        parse_stages(" , ")


def test_the_budget_starts_nothing_that_would_end_past_it():
    now = [100.0]
    budget = Budget(60, reserve=10, clock=lambda: now[0])
    now[0] += 20
    assert budget.left() == 30
    assert budget.allows(30) and not budget.allows(30.5)


def test_jobs_go_to_the_first_free_process():
    assert makespan([3, 3, 3], 2) == 6
    assert makespan([5, 1, 1, 1], 2) == 5
    assert makespan([2, 2], 1) == 4


def test_the_papers_recipe_when_it_fits_else_the_longest_one_cycle_that_does():
    # one process: 164 epochs of both take 164 * 3 + 2 * OVERHEAD seconds
    paper_wall = 164 * 3 + 2 * OVERHEAD
    recipe, jobs, wall, why = plan(EPOCH_S, JOBS, paper_wall)
    assert (recipe.epochs, recipe.schedule, jobs, wall) == (164, "step", JOBS, paper_wall)
    assert "paper" in why

    recipe, jobs, wall, _ = plan(EPOCH_S, JOBS, 300 + 2 * OVERHEAD + 2)
    assert (recipe.epochs, recipe.schedule, jobs, wall) == (100, "onecycle", JOBS, 300 + 2 * OVERHEAD)


def test_processes_side_by_side_fit_more_epochs_only_if_they_gain():
    seconds = 320 + OVERHEAD  # in parallel, the longer job (b) sets the wall time
    no_gain, *_ = plan(EPOCH_S, JOBS, seconds, parallel=2, gain=1.0)
    gain, *_ = plan(EPOCH_S, JOBS, seconds, parallel=2, gain=2.0)
    assert no_gain.epochs == 80  # each process at half speed: 2 * 2 s per epoch of b
    assert gain.epochs == 160


def test_too_small_a_budget_trains_the_first_runs_at_the_shortest_schedule():
    recipe, jobs, wall, why = plan(EPOCH_S, JOBS, 10 + OVERHEAD + 1, min_epochs=10)
    assert (recipe.epochs, jobs, wall) == (10, [("a", 0)], 10 + OVERHEAD)
    assert "first 1" in why
    fixed = gpu_check.parse_recipe("step:30")
    recipe, jobs, _, _ = plan(EPOCH_S, JOBS, 30 * 3 + 2 * OVERHEAD, recipe=fixed)
    assert (recipe.epochs, recipe.schedule, recipe.weight_decay, jobs) == (30, "step", 1e-4, JOBS)
    with pytest.raises(ValueError, match="--recipe 'cosine:5'"):
        gpu_check.parse_recipe("cosine:5")


def test_the_colab_workload_is_read_from_the_notebooks():
    work = colab_workload()
    per_notebook = {}
    for w in work:
        per_notebook.setdefault(w.notebook, []).append(w)
    assert {nb: len(ws) for nb, ws in per_notebook.items()} == {
        "01_degradation": 2,
        "02_skip_connections": 4,
        "03_residual_learning": 3,
        "04_deep_resnets": 5,
        "05_skip_variants": 13,
    }
    assert {w.images for w in per_notebook["04_deep_resnets"]} == {10_000}
    assert all(w.seeds == 3 and w.epochs == 20 for w in per_notebook["01_degradation"])
    # notebook 3 trains nothing notebook 2 has not trained: in course order it costs nothing
    totals = notebook_totals(work, {w.config(): 1.0 for w in work})
    assert totals["03_residual_learning"]["in_order_s"] == 0
    assert totals["03_residual_learning"]["alone_s"] == 3 * 3 * 20
    assert totals["02_skip_connections"]["in_order_s"] == 2 * 3 * 20  # the two ResNets


def test_a_carried_cifar10_archive_is_found_and_extracted(tmp_path):
    source = tmp_path / "src" / "cifar10"
    for split in ("train", "test"):
        (source / split / "cat").mkdir(parents=True)
        (source / split / "cat" / "0.png").write_bytes(b"")
    archive = tmp_path / "cifar10-jpeg.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(source, arcname="cifar10")
    found = gpu_check.find_cifar10(str(archive), tmp_path / "scratch")
    assert found == tmp_path / "scratch" / "cifar10" / "cifar10"
    assert (found / "train" / "cat" / "0.png").exists()
    assert gpu_check.find_cifar10(str(tmp_path / "src" / "cifar10" / "train"), tmp_path) is None


def test_a_cap_on_the_epochs_rules_out_the_papers_recipe():
    recipe, jobs, _, _ = plan(EPOCH_S, JOBS, 10_000, min_epochs=1, max_epochs=2)
    assert (recipe.epochs, recipe.schedule, jobs) == (2, "onecycle", JOBS)


def test_the_t4_estimate_is_a_range_whose_halves_are_the_device_and_the_host():
    """ResNet-56 at batch 128 on 50,000 images: 391 steps of ~950 launches each take longer on
    Colab's host than its FLOPs take on the T4 at 30% (the audit's section 5): launch-bound."""
    macs, ops = 125_000_000, 950
    t4 = gpu_check.t4_estimates(macs, ops, 50_000, 10_000, 128, 1000)
    assert set(t4) == {"optimistic", "pessimistic"}
    flops = 2 * macs * (3 * 50_000 + 10_000)
    assert t4["optimistic"]["device_s"] == pytest.approx(flops / (65e12 * 0.30))
    launches = 390 * ops + 10 * ops / 3
    assert t4["pessimistic"]["host_s"] == pytest.approx(launches * 15e-6)
    for scenario in t4.values():
        assert scenario["epoch_s"] == max(scenario["device_s"], scenario["host_s"])
    assert t4["optimistic"]["epoch_s"] < t4["pessimistic"]["epoch_s"]
    # the audit's central figure (5.9 s) lies inside the range
    assert t4["optimistic"]["epoch_s"] < 5.9 < t4["pessimistic"]["epoch_s"]


def test_ops_per_step_are_counted_from_a_real_step():
    from resnet_utils import Recipe, build_model, synthetic

    data = synthetic(32, 8, seed=0)
    recipe = Recipe(epochs=1, batch_size=16)
    small = gpu_check.count_ops_per_step(build_model("resnet8"), data, recipe, "cpu")
    large = gpu_check.count_ops_per_step(build_model("resnet20"), data, recipe, "cpu")
    assert 100 < small < large  # more layers, more launches
