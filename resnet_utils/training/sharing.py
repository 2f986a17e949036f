"""Training beside other work on a CPU: fewer threads when another process keeps cores busy.

OpenMP threads wait for each other at every operation; when one of them shares its core with
another process, all of them wait: beside another training, fewer threads ran 1.7-2.2 times
faster on a 2-core CPU (``benchmarks/bench.py --busy``; docs/speed.md). So a notebook that
starts while other processes keep cores busy takes the cores left to it, and says so.

A notebook's session chooses once, at its first plan or run (``Session.thread_choice``): the
plan prints the count, times its steps with it, and every run of the session trains with it
(``runs.train(share_cpu=count)``, under :func:`~resnet_utils.training.hardware.using_threads`).
Only the cores this process may use (its CPU set) are counted: load on the others costs it
nothing. Nothing else in the training path looks at the machine's load."""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path

import torch

PROC_STAT = Path("/proc/stat")
# below this many cores kept busy by others, the machine counts as free (a browser, Jupyter)
FREE_BELOW = 0.5


def _busy_seconds(stat: Path | None = None, cpus=None) -> float:
    """Busy CPU seconds since boot, from the kernel's counters: of the cores numbered
    ``cpus`` (their ``cpuN`` lines), or of all cores (None). Where the kernel gives no line
    for one of ``cpus``, the machine's total is scaled to their share of its cores."""
    lines = (stat or PROC_STAT).read_text().splitlines()
    fields = lines[0].split()
    if fields[0] != "cpu":
        raise ValueError(f"{stat or PROC_STAT}: unexpected first line {fields[:2]}")
    per_cpu = {}
    for line in lines[1:]:
        name, *values = line.split()
        if name.startswith("cpu") and name[3:].isdigit() and len(values) >= 8:
            per_cpu[int(name[3:])] = _busy(name, values)
    total = _busy("cpu", fields[1:])
    if cpus is None:
        return total
    cpus = list(cpus)
    if all(cpu in per_cpu for cpu in cpus):
        return sum(per_cpu[cpu] for cpu in cpus)
    return total * len(cpus) / max(len(per_cpu) or os.cpu_count() or 1, len(cpus))


def _busy(name: str, values: list[str]) -> float:
    if len(values) < 8:
        raise ValueError(f"{name}: {len(values)} counters, not 8 or more")
    user, nice, system, _idle, _iowait, irq, softirq, steal = (int(v) for v in values[:8])
    # steal: taken by the hypervisor; guest time is counted in user already
    return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")


def others_busy_cores(seconds: float = 0.5, stat: Path | None = None, cpus=None) -> float | None:
    """How many of the cores this process may use (``cpus``; default: its CPU set) other
    processes kept busy over the next ``seconds`` (this process is asleep meanwhile, and its
    own CPU time is taken off); None where the kernel does not say (no ``/proc/stat``: macOS,
    Windows)."""
    cpus = usable_cpus() if cpus is None else list(cpus)
    try:
        busy_before = _busy_seconds(stat, cpus)
        own_before, start = time.process_time(), time.monotonic()
        time.sleep(seconds)
        busy = _busy_seconds(stat, cpus) - busy_before
    except (OSError, ValueError):
        return None
    own = time.process_time() - own_before
    return max(0.0, (busy - own) / (time.monotonic() - start))


def threads_beside(others: float, threads: int, cores: int) -> int:
    """The threads to train with when other processes keep ``others`` cores busy."""
    if others < FREE_BELOW:
        return threads
    return max(1, min(threads, cores - round(others)))


def usable_cpus() -> list[int] | None:
    """The numbers of the cores this process may run on (its CPU set); None off Linux."""
    try:
        return sorted(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return None


@dataclass(frozen=True)
class ThreadChoice:
    """The threads to train with (``threads``), chosen from those torch had (``asked``)
    with ``others`` of this process's ``cores`` kept busy by other processes (None: not
    looked at: a GPU, one thread, or no ``/proc/stat``)."""

    threads: int
    asked: int
    others: float | None = None
    cores: int = 1

    def sentence(self, what: str = "this notebook's runs train") -> str:
        """What was chosen and why, when it is fewer threads than torch had; else ''."""
        if self.threads == self.asked or self.others is None:
            return ""
        busy = min(self.others, self.cores)  # measured noise may exceed the cores it counts
        return (
            f"Other processes keep about {busy:.1f} of the {self.cores} "
            f"core{'s' if self.cores != 1 else ''} this process may use busy: {what} with "
            f"{_threads(self.threads)} instead of {self.asked} (threads that share a core with "
            "other work wait for it; beside another training, fewer threads ran 1.7-2.2 times "
            "faster on a 2-core CPU: docs/speed.md). One notebook at a time trains fastest."
        )


def choose_threads(
    device: torch.device,
    *,
    threads: int | None = None,
    sample_seconds: float = 0.5,
    stat: Path | None = None,
) -> ThreadChoice:
    """How many of ``threads`` (default: torch's count now) to train with on ``device``:
    fewer on a CPU whose cores other processes keep busy. Looks for ``sample_seconds``."""
    threads = torch.get_num_threads() if threads is None else threads
    if device.type != "cpu" or threads <= 1:
        return ThreadChoice(threads, threads)
    cpus = usable_cpus()
    cores = len(cpus) if cpus is not None else os.cpu_count() or 1
    others = others_busy_cores(sample_seconds, stat=stat, cpus=cpus)
    if others is None:
        return ThreadChoice(threads, threads)
    return ThreadChoice(threads_beside(others, threads, cores), threads, others, cores)


def _threads(n: int) -> str:
    return f"{n} thread{'s' if n != 1 else ''}"
