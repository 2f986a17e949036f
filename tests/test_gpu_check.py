"""tools/gpu_check.py, the one call a GPU machine gets: what it plans to fit in its budget,
which stages it accepts, what it reads from the budget table, and what it brings back.
Nothing here needs a GPU."""

import sys
import tarfile
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tools"))
import gpu_check  # noqa: E402
from gpu_check import (  # noqa: E402
    Budget,
    colab_workload,
    job_config,
    notebook_totals,
    parse_stages,
    reference_calls,
    reference_epochs,
)

OVERHEAD = gpu_check.JOB_OVERHEAD_S
EPOCH_S = {"a": 1.0, "b": 2.0}


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


def test_the_colab_workload_is_read_from_the_budget_table():
    work = colab_workload()
    per_notebook = {}
    for notebook, job in work:
        per_notebook.setdefault(notebook, []).append(job)
    assert {nb: len(jobs) for nb, jobs in per_notebook.items()} == {
        "01_degradation": 2,
        "02_skip_connections": 4,
        "03_residual_learning": 3,
        "04_deep_resnets": 5,
        "05_skip_variants": 13,
    }
    assert {job.train_images for job in per_notebook["04_deep_resnets"]} == {10_000}
    assert all(job.seeds == 3 and job.recipe.epochs == 20 for job in per_notebook["01_degradation"])
    # notebook 3 trains nothing notebook 2 has not trained: in course order it costs nothing
    totals = notebook_totals(work, {job_config(job): 1.0 for _, job in work})
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


def test_the_reference_nets_get_the_longest_one_cycle_schedule_that_fits():
    # a after b, one process: e epochs take 3 e seconds, plus each run's overhead
    assert reference_epochs(EPOCH_S, ["a", "b"], 300 + 2 * OVERHEAD + 2, least=10, most=164) == 100
    assert reference_epochs(EPOCH_S, ["a", "b"], 10_000, least=1, most=2) == 2  # capped
    # not even the shortest fits: the shortest, and the deadline stops what does not fit
    assert reference_epochs(EPOCH_S, ["a", "b"], 10, least=10, most=164) == 10


def test_a_resumed_call_trains_only_the_runs_not_shipped(tmp_path):
    nets, seeds = ("resnet20", "resnet56", "plain20"), (0, 1, 2)
    assert reference_calls(tmp_path, nets, seeds) == [(list(nets), [0, 1, 2])]
    for shipped in ("resnet20-seed0", "resnet56-seed0", "plain20-seed0", "resnet20-seed1"):
        (tmp_path / f"{shipped}.json").write_text("{}")
    assert reference_calls(tmp_path, nets, seeds) == [
        (["resnet56", "plain20"], [1]),
        (list(nets), [2]),
    ]


def test_the_tars_hold_shipped_nets_and_unfinished_checkpoints_within_the_size_limit(
    tmp_path, monkeypatch, capsys
):
    refs, out = tmp_path / "refs", tmp_path / "out"
    (refs / "cache" / "runs").mkdir(parents=True)
    out.mkdir()
    for name, size in (
        ("resnet56-seed0.pt", 700),
        ("resnet56-seed0.json", 10),
        ("plain56-seed0.pt", 700),
    ):
        (refs / name).write_bytes(b"x" * size)
    (refs / "cache" / "runs" / "abc.pt").write_bytes(b"finished")  # its net is shipped
    (refs / "cache" / "runs" / "def.resume.pt").write_bytes(b"unfinished")
    (out / "references-9.tar").write_bytes(b"stale")
    monkeypatch.setattr(gpu_check, "TAR_LIMIT", 3000)  # two .pt do not fit one tar
    report = gpu_check.Report(out, {})
    tars = gpu_check.pack(refs, out, report)
    names = {}
    for tar in tars:
        with tarfile.open(tar) as archive:
            names[tar.name] = sorted(archive.getnames())
    assert sorted(names) == ["references-1.tar", "references-2.tar"]
    assert sorted(n for group in names.values() for n in group) == [
        "cache/runs/def.resume.pt",
        "plain56-seed0.pt",
        "resnet56-seed0.json",
        "resnet56-seed0.pt",
    ]
    assert not (out / "references-9.tar").exists()
