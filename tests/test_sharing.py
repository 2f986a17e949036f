"""Issue 19: beside another training, a run takes the cores left to it, and says so."""

from __future__ import annotations

import subprocess
import sys
import time
import warnings
from dataclasses import replace

import pytest
import torch

from resnet_utils.training import sharing
from resnet_utils.training.hardware import using_threads
from resnet_utils.training.sharing import choose_threads, others_busy_cores, threads_beside


class BusyStat:
    """A stand-in for /proc/stat on a machine of ``cores`` cores where other processes keep
    the cores in ``busy`` busy: each read gives the kernel's counters as of now."""

    def __init__(self, cores: int, busy, *, per_cpu: bool = True):
        self.cores, self.busy, self.per_cpu = cores, set(busy), per_cpu
        self.started = time.monotonic()
        self.reads = 0

    def read_text(self) -> str:
        self.reads += 1
        tick = sharing.os.sysconf("SC_CLK_TCK")
        now = time.monotonic() - self.started
        user = {cpu: round(now * tick) if cpu in self.busy else 0 for cpu in range(self.cores)}
        idle = {cpu: round(now * tick) - user[cpu] for cpu in range(self.cores)}

        def line(name, u, i):
            return f"{name} {u} 0 0 {i} 0 0 0 0 0 0"

        lines = [line("cpu ", sum(user.values()), sum(idle.values()))]
        if self.per_cpu:
            lines += [line(f"cpu{c}", user[c], idle[c]) for c in range(self.cores)]
        return "\n".join([*lines, "intr 1 2 3", ""])


@pytest.fixture
def two_threads():
    """torch at 2 threads for the test (the sharing code never trims 1), as before after."""
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    yield
    torch.set_num_threads(before)


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
    stat.write_text(
        f"cpu  {tick} 0 {tick} {8 * tick} {tick} 0 0 {tick} 5 5\n"
        f"cpu0 {tick} 0 0 {4 * tick} 0 0 0 0 0 0\ncpu1 0 0 {tick} {4 * tick} {tick} 0 0 {tick} 5 5\n"
    )
    assert sharing._busy_seconds(stat) == 3.0
    assert sharing._busy_seconds(stat, cpus=[1]) == 2.0  # only the cores named
    assert sharing._busy_seconds(stat, cpus=[0, 1]) == 3.0
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
    monkeypatch.setattr(sharing, "usable_cpus", lambda: [0, 1])
    monkeypatch.setattr(sharing, "others_busy_cores", lambda seconds, **kw: 1.1)
    choice = choose_threads(torch.device("cpu"))
    with using_threads(choice.threads) as threads:
        assert threads == 1 and set_to == [1]
    assert set_to == [1, 2]
    said = choice.sentence("training plain20")
    assert "about 1.1 of the 2 cores this process may use" in said
    assert "plain20 with 1 thread instead of 2" in said
    monkeypatch.setattr(sharing, "others_busy_cores", lambda seconds, **kw: 0.1)
    choice = choose_threads(torch.device("cpu"))
    with using_threads(choice.threads) as threads:
        assert threads == 2
    assert set_to == [1, 2, 2] and choice.sentence() == ""


def test_busy_cores_are_counted_among_those_this_process_may_use(monkeypatch, capsys):
    """F7: on a 64-core host whose other 60 cores are busy, a kernel held to cores 0-3 that
    nothing else uses keeps its 4 threads; before, it fell to 1 ("30.0 of this machine's 4
    cores busy")."""
    monkeypatch.setattr(sharing, "usable_cpus", lambda: [0, 1, 2, 3])
    elsewhere = BusyStat(64, range(4, 64))
    assert others_busy_cores(0.2, stat=elsewhere) == pytest.approx(0.0, abs=0.3)
    choice = sharing.choose_threads(torch.device("cpu"), threads=4, sample_seconds=0.2, stat=elsewhere)
    assert choice.threads == 4 and choice.sentence() == ""
    beside = BusyStat(64, [0, *range(4, 64)])
    choice = sharing.choose_threads(torch.device("cpu"), threads=4, sample_seconds=0.2, stat=beside)
    assert choice.threads == 3
    assert "about 1.0 of the 4 cores this process may use busy" in choice.sentence()


def test_the_busy_count_never_exceeds_the_cores_it_is_set_against(monkeypatch):
    """F4: taskset -c 0 with 2 threads beside other work said "2.0 of this machine's 1 cores
    busy". Where the kernel gives no per-core lines, the machine's count is scaled to the
    cores this process may use, and the sentence never counts more busy cores than there are."""
    monkeypatch.setattr(sharing, "usable_cpus", lambda: [0])
    monkeypatch.setattr(sharing.os, "cpu_count", lambda: 2)
    both = BusyStat(2, [0, 1], per_cpu=False)
    assert others_busy_cores(0.2, stat=both) == pytest.approx(1.0, abs=0.3)
    choice = sharing.ThreadChoice(threads=1, asked=2, others=2.0, cores=1)
    said = choice.sentence("training resnet8")
    assert "about 1.0 of the 1 core this process may use busy" in said
    assert "training resnet8 with 1 thread instead of 2" in said and "cores busy" not in said


def test_only_the_notebooks_runs_share_the_cpu_tests_keep_their_threads(monkeypatch, two_threads):
    from resnet_utils.training import runs
    from resnet_utils.training.data import synthetic
    from resnet_utils.training.profiles import Recipe

    trained_with, sampled = [], []
    real_fit = runs.fit

    def fit(*args, **kwargs):
        trained_with.append(torch.get_num_threads())
        return real_fit(*args, **kwargs)

    monkeypatch.setattr(runs, "fit", fit)
    monkeypatch.setattr(sharing, "others_busy_cores", lambda *a, **k: sampled.append(1) or 1.0)
    monkeypatch.setattr(sharing, "usable_cpus", lambda: [0, 1])
    data = synthetic(32, 16, seed=0)
    recipe = Recipe(epochs=1, batch_size=16)
    runs.train("resnet8", data, recipe, cache=False, progress=False)
    assert trained_with == [2] and sampled == []  # a test's (or a script's) threads are its own
    runs.train("resnet8", data, recipe, cache=False, progress=False, share_cpu=1)
    assert trained_with == [2, 1] and sampled == []  # the count the session chose, not sampled
    assert torch.get_num_threads() == 2


def test_the_plan_is_timed_and_the_runs_trained_with_the_threads_chosen_once(
    tmp_path, monkeypatch, capsys, two_threads
):
    """F8: beside other work the plan timed its steps with every thread, then each run chose
    fewer, so the plan overestimated 14-90x. Now the session chooses once, at its first plan,
    prints the count with the plan, times the plan's steps with it and trains with it."""
    from resnet_utils.course.session import Session
    from resnet_utils.training import plan as plan_module
    from resnet_utils.training import runs
    from resnet_utils.training.data import synthetic
    from resnet_utils.training.profiles import Recipe, get_profile

    monkeypatch.setenv("RESNET_CACHE_DIR", str(tmp_path))
    monkeypatch.setattr(sharing, "usable_cpus", lambda: [0, 1])
    stat = BusyStat(2, [0])  # other processes keep one of the two cores busy
    monkeypatch.setattr(sharing, "PROC_STAT", stat)
    timed_with, trained_with = [], []

    def seconds_per_step(*args, **kwargs):
        timed_with.append(torch.get_num_threads())
        return 0.01

    real_fit = runs.fit

    def fit(*args, **kwargs):
        trained_with.append(torch.get_num_threads())
        return real_fit(*args, **kwargs)

    monkeypatch.setattr(plan_module, "seconds_per_step", seconds_per_step)
    monkeypatch.setattr(runs, "fit", fit)
    profile = replace(get_profile("quick"), recipe=Recipe(epochs=1, batch_size=16))
    session = Session("t", profile, torch.device("cpu"), synthetic(32, 16, seed=0), progress=False)

    session.plan(["resnet8", "plain8"])
    shown = capsys.readouterr().out
    assert timed_with == [1, 1] and torch.get_num_threads() == 2
    assert "on cpu (1 thread," in shown.splitlines()[0]
    assert "about 1.0 of the 2 cores this process may use busy" in shown
    assert "this notebook's runs train with 1 thread instead of 2" in shown
    reads = stat.reads
    session.train("resnet8")
    session.train("plain8", seeds=2)
    session.plan(["resnet8"], seeds=2)  # a second plan names the same count, sampled once
    assert trained_with == [1, 1, 1] and timed_with == [1, 1, 1] and stat.reads == reads
    assert "1 thread instead of 2" in capsys.readouterr().out
    assert torch.get_num_threads() == 2


def test_a_resumed_run_keeps_its_checkpoints_threads_when_the_course_chooses(
    tmp_path, monkeypatch, capsys, two_threads
):
    """F6: a run checkpointed with 2 threads, resumed by a session that chose 1, was told to
    call torch.set_num_threads(2), which the course then overrode. Now it resumes with the
    checkpoint's 2 threads, and ends as the uninterrupted run does."""
    from fakes import interrupt_in_epoch

    from resnet_utils.training import runs
    from resnet_utils.training.cache import RunCache
    from resnet_utils.training.data import synthetic
    from resnet_utils.training.profiles import Recipe

    data, recipe = synthetic(64, 32, seed=1), Recipe(epochs=3, batch_size=16)
    whole = runs.train("resnet8", data, recipe, cache=RunCache(tmp_path / "a"), progress=False)
    cache = RunCache(tmp_path / "b")
    with monkeypatch.context() as patch:
        interrupt_in_epoch(patch, 2)
        with pytest.raises(KeyboardInterrupt):
            runs.train("resnet8", data, recipe, cache=cache, progress=False)
    trained_with = []
    real_fit = runs.fit

    def fit(*args, **kwargs):
        trained_with.append(torch.get_num_threads())
        return real_fit(*args, **kwargs)

    monkeypatch.setattr(runs, "fit", fit)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no "resuming ... with 1 CPU threads" warning
        resumed = runs.train("resnet8", data, recipe, cache=cache, progress=False, share_cpu=1)
    assert trained_with == [2] and torch.get_num_threads() == 2
    assert "resnet8 resumes with 2 threads, as its checkpoint was written" in capsys.readouterr().out
    assert resumed.history["train_loss"] == whole.history["train_loss"]


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
