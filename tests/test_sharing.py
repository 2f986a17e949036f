"""Issue 19: beside another training, a run takes the cores left to it, and says so."""

from __future__ import annotations

import subprocess
import sys

import pytest
import torch

from resnet_utils.training import sharing
from resnet_utils.training.sharing import others_busy_cores, sharing_the_cpu, threads_beside


def test_the_threads_follow_the_cores_other_processes_leave():
    assert threads_beside(0.0, 2, 2) == 2
    assert threads_beside(0.49, 2, 2) == 2  # a browser or Jupyter: the machine is free
    assert threads_beside(1.0, 2, 2) == 1
    assert threads_beside(2.0, 2, 2) == 1  # never fewer than one
    assert threads_beside(1.0, 4, 8) == 4  # never more than asked for
    assert threads_beside(3.4, 8, 8) == 5


def test_the_kernels_counters_are_read_as_seconds_of_busy_cpu_time(tmp_path):
    stat = tmp_path / "stat"
    tick = sharing.os.sysconf("SC_CLK_TCK")
    # user nice system idle iowait irq softirq steal guest guest_nice: idle, iowait and guest
    # (already in user) are not busy time
    stat.write_text(f"cpu  {tick} 0 {tick} {8 * tick} {tick} 0 0 {tick} 5 5\ncpu0 1 2 3\n")
    assert sharing._busy_seconds(stat) == 3.0
    stat.write_text("intr 1 2 3\n")
    assert others_busy_cores(0.01, stat=stat) is None  # not the format it knows: no guess


def test_without_the_kernels_counters_nothing_is_guessed(tmp_path):
    assert others_busy_cores(0.01, stat=tmp_path / "absent") is None


@pytest.mark.skipif(not sharing.PROC_STAT.exists(), reason="no /proc/stat here (not Linux)")
def test_a_spinning_process_is_seen_as_a_busy_core_and_this_one_is_not():
    spinner = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:
        seen = others_busy_cores(0.6)
    finally:
        spinner.kill()
        spinner.wait()
    assert seen is not None and seen >= 0.6, seen


def test_a_busy_machine_gets_fewer_threads_for_the_run_and_they_come_back(monkeypatch, capsys):
    monkeypatch.setattr(torch, "get_num_threads", lambda: 2)
    set_to = []
    monkeypatch.setattr(torch, "set_num_threads", set_to.append)
    monkeypatch.setattr(sharing, "usable_cores", lambda: 2)
    monkeypatch.setattr(sharing, "others_busy_cores", lambda seconds: 1.1)
    with sharing_the_cpu(torch.device("cpu"), "plain20") as threads:
        assert threads == 1 and set_to == [1]
    assert set_to == [1, 2]
    said = capsys.readouterr().out
    assert "about 1.1 of this machine's 2 cores" in said and "plain20 with 1 thread instead of 2" in said
    monkeypatch.setattr(sharing, "others_busy_cores", lambda seconds: 0.1)
    with sharing_the_cpu(torch.device("cpu"), "plain20") as threads:
        assert threads == 2
    assert set_to == [1, 2, 2] and capsys.readouterr().out == ""


def test_only_the_notebooks_runs_share_the_cpu_tests_keep_their_threads(monkeypatch):
    from resnet_utils.training import runs
    from resnet_utils.training.data import synthetic
    from resnet_utils.training.profiles import Recipe

    entered = []

    class Spy:
        def __init__(self, device, label):
            entered.append(label)

        def __enter__(self):
            return 1

        def __exit__(self, *exc):
            return False

    monkeypatch.setattr(runs, "sharing_the_cpu", Spy)
    data = synthetic(32, 16, seed=0)
    recipe = Recipe(epochs=1, batch_size=16)
    runs.train("resnet8", data, recipe, cache=False, progress=False)
    assert entered == []
    runs.train("resnet8", data, recipe, cache=False, progress=False, share_cpu=True)
    assert entered == ["resnet8"]


def test_the_bench_says_whether_the_machine_was_busy():
    import importlib.util
    from pathlib import Path

    path = Path(__file__).parents[1] / "benchmarks" / "bench.py"
    spec = importlib.util.spec_from_file_location("bench", path)
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    rates = {"min": 1.0, "median": 2.0, "max": 3.0}
    result = {
        "device": "cpu (1 thread, AVX2)",
        "batch": 128,
        "precision (ours, limit)": "fp32",
        "repeats": 2,
        "images_per_s": {
            "resnet20": {**{w: rates for w in bench.WAYS}, "ours/reference": 1, "ours/limit": 1}
        },
        "machine": "busy: another process training ResNet-20 with 1 thread",
    }
    text = bench.table(result)
    assert "machine busy: another process training ResNet-20 with 1 thread" in text
    assert "| resnet20 | 2 (1-3) | 2 (1-3) | 2 (1-3) | 1.00 | 1.00 |" in text
