"""Training beside other work on a CPU: fewer threads when another process keeps cores busy.

OpenMP threads wait for each other at every operation; when one of them shares its core with
another process, all of them wait. Measured on a 2-core EPYC held to AVX2 kernels (fp32),
ResNet-20, batch 128, ``benchmarks/bench.py --busy`` (README, "Speed"): alone, 2 threads train
546 images/s and 1 thread 317; beside another 2-thread training, 2 threads fall to 87 and 1
thread keeps 191; beside a 1-thread training, 152 vs 256. So a run that starts while other
processes keep cores busy takes the cores left to it, and says so. The count is chosen once per
run, when it starts (a checkpoint records it), and restored after the run."""

from __future__ import annotations

import os
import time
from contextlib import contextmanager
from pathlib import Path

import torch

PROC_STAT = Path("/proc/stat")
# below this many cores kept busy by others, the machine counts as free (a browser, Jupyter)
FREE_BELOW = 0.5


def _busy_seconds(stat: Path = PROC_STAT) -> float:
    """All cores' busy CPU seconds since boot, from the kernel's counters."""
    fields = stat.read_text().splitlines()[0].split()
    if fields[0] != "cpu":
        raise ValueError(f"{stat}: unexpected first line {fields[:2]}")
    user, nice, system, _idle, _iowait, irq, softirq, steal = (int(v) for v in fields[1:9])
    # steal: taken by the hypervisor; guest time is counted in user already
    return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")


def others_busy_cores(seconds: float = 0.5, stat: Path = PROC_STAT) -> float | None:
    """How many cores other processes kept busy over the next ``seconds`` (this process is
    asleep meanwhile, and its own CPU time is taken off); None where the kernel does not say
    (no ``/proc/stat``: macOS, Windows)."""
    try:
        busy_before = _busy_seconds(stat)
        own_before, start = time.process_time(), time.monotonic()
        time.sleep(seconds)
        busy = _busy_seconds(stat) - busy_before
    except (OSError, ValueError):
        return None
    own = time.process_time() - own_before
    return max(0.0, (busy - own) / (time.monotonic() - start))


def threads_beside(others: float, threads: int, cores: int) -> int:
    """The threads to train with when other processes keep ``others`` cores busy."""
    if others < FREE_BELOW:
        return threads
    return max(1, min(threads, cores - round(others)))


def usable_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


@contextmanager
def sharing_the_cpu(device: torch.device, label: str, *, sample_seconds: float = 0.5):
    """Within it, train with the cores other processes leave free (CPU only)."""
    threads = torch.get_num_threads()
    others = others_busy_cores(sample_seconds) if device.type == "cpu" and threads > 1 else None
    cores = usable_cores()
    use = threads if others is None else threads_beside(others, threads, cores)
    if use != threads:
        print(
            f"Other processes keep about {others:.1f} of this machine's {cores} cores "
            f"busy: training {label} with {use} thread{'s' if use != 1 else ''} instead of "
            f"{threads} (threads that share a core with other work wait for it; beside another "
            "training, fewer threads ran 1.7-2.2 times faster on a 2-core CPU: README, Speed). "
            "One notebook at a time trains fastest."
        )
        torch.set_num_threads(use)
    try:
        yield use
    finally:
        torch.set_num_threads(threads)
