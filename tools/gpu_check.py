"""The GPU path in one call, inside a hard wall-clock budget.

CUDA tests, a smoke notebook, the bench, Colab timings and reference nets:

    python3 tools/gpu_check.py [--device cuda|cpu] [--stages tests,bench,colab,references]
        [--budget-s 540] [--out DIR] [--scratch DIR] [--data DIR|ARCHIVE]
        [--epochs auto|N] [--min-epochs 10] [--resume-from DIR] [--bench-compile] [--smoke]

Written for a GPU machine lent for minutes, with no network. Each stage calls an entry point
that exists for its own sake and reads what it leaves. A step whose packages (pytest, nbval,
ipykernel: carry their wheels and pip-install them with --no-index --target before the call)
or data (CIFAR-10) are missing is skipped, saying what is missing; no step starts that the
budget cannot hold, and one still running at the deadline is interrupted (a training keeps
the checkpoint of its last epoch). Everything goes into ``--out`` (default ``$OUT``, else
build/gpu-check), in at most eight files, as the device tool brings back: summary.json,
summary.md, gpu-check.log and references-<k>.tar.

Stages:
  tests       pytest --device on the unit tests that train (resume included), again with
              RESNET_PRECISION=fp16 (a T4's path), and notebook 1 under the smoke profile as
              `make nbval` runs it, on the device;
  bench       benchmarks/bench.py --device for ResNet-20, ResNet-56 and ResNet-50;
  colab       an epoch's time, from timed steps, of every net each notebook trains under the
              colab profile (resnet_utils/course/budgets.py), each notebook's total, and a T4
              estimate (ops per step counted, peak memory, the sources stated);
  references  tools/train_references.py --deadline: ResNet-20/56 and plain-20/56, seeds 0-2,
              the longest one-cycle schedule that fits (or --epochs), shipped into the tars;
              --resume-from a folder of those tars trains only the runs not shipped yet.

``--smoke`` shrinks every stage (one quick test file, small batches, a tiny made-up CIFAR-10,
two epochs) to test this script itself on a CPU: ``--device cpu --smoke --budget-s 600``.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import platform
import shutil
import signal
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from dataclasses import replace
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

STAGES = ("tests", "bench", "colab", "references")
# The unit tests that run the training loop with the default device (see tests/conftest.py).
DEVICE_TESTS = ("test_train.py", "test_step.py", "test_resume.py", "test_cache.py", "test_variants.py")
SMOKE_TESTS = ("test_step.py",)  # one quick file: --smoke tests the call, not the tests
NOTEBOOK = "01_degradation"
REFERENCE_NETS = ("resnet20", "resnet56", "plain20", "plain56")  # in the order they are trained
REFERENCE_SEEDS = (0, 1, 2)
PAPER_EPOCHS = 164  # the most epochs a reference schedule is given
# He et al. 2015, Table 6: CIFAR-10 test error of ResNet-20 8.75%, ResNet-56 6.97%. The plain
# nets have curves only (Fig. 6).
TABLE6_ACCURACY = {"resnet20": 0.9125, "resnet56": 0.9303}
# Peak dense fp16 tensor-core throughput of a T4: NVIDIA T4 Tensor Core GPU datasheet,
# "Mixed Precision (FP16/FP32) 65 TFLOPS".
T4_PEAK_TFLOPS = 65.0
T4_SOURCE = "NVIDIA T4 datasheet: 65 TFLOPS fp16 (mixed precision) peak"
COLAB_MINUTES = 20  # a notebook should fit about this on a free Colab T4
# The seconds a reference run spends outside its epochs: start-up, data, the fp32
# re-evaluation and shipping. Added to each run's predicted time.
JOB_OVERHEAD_S = 20.0
RESERVE_S = 20.0  # kept at the end of the budget for packing and the summary
STEP_CAP_S = 240.0  # the most one test, notebook or bench step may take: the rest get their turn
STOP_GRACE_S = 15.0  # after the interrupt at the deadline, before a step is killed
TAR_LIMIT = 15 * 2**20  # the device tool brings back files of up to 16 MiB
MAX_TARS = 4  # with summary.json, summary.md and the log: at most 8 files (one being rewritten)


# --- budget, stages, output -------------------------------------------------------------------


def parse_stages(text: str) -> list[str]:
    """'tests,bench' -> ['tests', 'bench'], in the order given; an unknown name is refused."""
    names = [s.strip().lower() for s in text.split(",") if s.strip()]
    unknown = [s for s in names if s not in STAGES]
    if unknown or not names:
        raise ValueError(
            f"--stages {text!r}: unknown {unknown or 'empty'}; use a comma-separated list of "
            f"{', '.join(STAGES)}."
        )
    return list(dict.fromkeys(names))


class Budget:
    """A hard wall-clock budget: work starts only if its estimate fits in what is left."""

    def __init__(self, seconds: float, reserve: float = RESERVE_S, clock=time.monotonic):
        self.seconds, self.reserve, self.clock = seconds, reserve, clock
        self.started = clock()

    def elapsed(self) -> float:
        return self.clock() - self.started

    def left(self) -> float:
        """Seconds left for work (the reserve for the summary already taken off)."""
        return self.seconds - self.reserve - self.elapsed()

    def allows(self, estimate: float) -> bool:
        return estimate <= self.left()


class Report:
    """summary.json (rewritten after every step, so a cut-off call still returns it) and the log."""

    def __init__(self, out: Path, args: dict):
        self.out = out
        out.mkdir(parents=True, exist_ok=True)
        self.log_path = out / "gpu-check.log"
        self.log_path.write_text("")
        self.data = {
            "script": "tools/gpu_check.py",
            "args": args,
            "started": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "machine": f"{platform.node()} {platform.machine()}, python {platform.python_version()}",
            "stages": {},
        }

    def say(self, text: str) -> None:
        print(text, flush=True)
        with self.log_path.open("a") as log:
            log.write(text + "\n")

    def step(self, stage: str, step: str, record: dict) -> None:
        self.data["stages"].setdefault(stage, {})[step] = record
        status = record.get("status", "?")
        self.say(f"[{stage}/{step}] {status}: {record.get('detail', '')}".rstrip(": "))
        self.save()

    def save(self) -> None:
        text = json.dumps(self.data, indent=1, default=str)
        (self.out / "summary.json").write_text(text)


def skipped(why: str) -> dict:
    return {"status": "skipped", "detail": why}


def outcome(code: int | None) -> str:
    return {0: "passed", None: "timed out"}.get(code, "failed")


def missing_modules(names) -> list[str]:
    return [n for n in names if importlib.util.find_spec(n) is None]


def run_logged(cmd, report: Report, *, timeout: float, env=None, every_minute=None):
    """Run ``cmd`` in its own process group with its output in the log. At ``timeout`` the
    group is interrupted (SIGINT: a training stops with its last epoch's checkpoint on disk),
    then killed if it has not ended within STOP_GRACE_S. ``every_minute`` is called while it
    runs. Returns (exit status, or None if it was stopped; seconds)."""
    start = time.perf_counter()
    with report.log_path.open("a") as log:
        log.write(f"$ {' '.join(map(str, cmd))}\n")
        log.flush()
        proc = subprocess.Popen(
            [str(c) for c in cmd],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        deadline = time.monotonic() + max(1.0, timeout)
        while (left := deadline - time.monotonic()) > 0:
            try:
                return proc.wait(timeout=min(left, 60.0)), time.perf_counter() - start
            except subprocess.TimeoutExpired:
                if every_minute is not None:
                    every_minute()
        os.killpg(proc.pid, signal.SIGINT)
        try:
            proc.wait(timeout=STOP_GRACE_S)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    return None, time.perf_counter() - start


def last_line_with(path: Path, words) -> str:
    for line in reversed(path.read_text().splitlines()):
        if any(w in line for w in words):
            return line.strip("= ").strip()
    return ""


# --- data ------------------------------------------------------------------------------------


def find_cifar10(given: str | None, scratch: Path) -> Path | None:
    """A CIFAR-10 folder: ``given`` (a folder or a .tar.gz/.tar) if given, else $CIFAR10_DIR,
    else the first build/cifar10*.tar* carried into the repository; an archive is extracted
    into ``scratch``. None if there is none."""
    candidates = [given] if given else [os.environ.get("CIFAR10_DIR")]
    if not given:
        candidates += sorted(str(p) for p in (ROOT / "build").glob("cifar10*.tar*"))
    for candidate in candidates:
        if not candidate:
            continue
        path = Path(candidate).expanduser()
        if path.is_file() and ".tar" in path.name:
            target = scratch / "cifar10"
            if not target.exists():
                with tarfile.open(path) as archive:
                    archive.extractall(target, filter="data")
            path = target
        if path.is_dir() and (found := _cifar_root(path)) is not None:
            return found
    return None


def _cifar_root(path: Path, depth: int = 2) -> Path | None:
    """The folder at or below ``path`` holding train/ and test/ or the pickled batches."""
    if ((path / "train").is_dir() and (path / "test").is_dir()) or (path / "data_batch_1").exists():
        return path
    if depth == 0:
        return None
    for child in sorted(p for p in path.iterdir() if p.is_dir()):
        if (found := _cifar_root(child, depth - 1)) is not None:
            return found
    return None


def tiny_cifar10(folder: Path, train_per_class: int = 13, test_per_class: int = 2) -> Path:
    """A made-up CIFAR-10 in the ImageFolder layout, just over one batch of 128 training
    images: what --smoke gives tools/train_references.py, which reads only a folder."""
    from PIL import Image

    from resnet_utils.training.data import CLASSES

    for split, count in (("train", train_per_class), ("test", test_per_class)):
        for label, name in enumerate(CLASSES):
            classes = folder / split / name
            classes.mkdir(parents=True, exist_ok=True)
            for i in range(count):
                Image.new("RGB", (32, 32), (25 * label, 7 * i, 128)).save(classes / f"{i}.png")
    return folder


# --- stage: tests -----------------------------------------------------------------------------


def stage_tests(ctx) -> None:
    """pytest on the device: the unit tests that train, in the device's own format and then in
    fp16 with the grad scaler (a T4's path, which a GPU with native bf16, an H200, would
    otherwise never take); then notebook 1 under the smoke profile as `make nbval` runs it,
    training on the device (its summary says which device it trained on)."""
    files = [f"tests/{f}" for f in (SMOKE_TESTS if ctx.smoke else DEVICE_TESTS)]
    notebook = ctx.scratch / "notebook"
    notebook_env = {
        "RESNET_PROFILE": "smoke",
        "RESNET_CACHE_DIR": str(notebook / "cache"),
        "RESNET_SUMMARY_DIR": str(notebook),
        "MPLBACKEND": "Agg",
    }
    pytest = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"]
    steps = (
        ("pytest", ["pytest"], [*pytest, "--device", ctx.device, *files], {}),
        (
            "pytest-fp16",
            ["pytest"],
            [*pytest, "--device", ctx.device, *files],
            {"RESNET_PRECISION": "fp16"},
        ),
        (
            "notebook",
            ["pytest", "nbval", "ipykernel"],
            [*pytest, "--nbval-lax", "--nbval-current-env", f"notebooks/{NOTEBOOK}.ipynb"],
            notebook_env,
        ),
    )
    for step, needed, cmd, env in steps:
        if missing := missing_modules(needed):
            ctx.report.step("tests", step, skipped(f"missing {missing}: carry their wheels"))
            continue
        if not ctx.budget.allows(30):
            ctx.report.step("tests", step, skipped("budget"))
            continue
        code, seconds = run_logged(cmd, ctx.report, timeout=ctx.step_timeout(), env=ctx.env(**env))
        record = {
            "status": outcome(code),
            "detail": last_line_with(ctx.report.log_path, ("passed", "failed", "error")),
            "command": " ".join(map(str, cmd)),
            "seconds": round(seconds, 1),
        }
        if step == "notebook":
            summary = notebook / f"{NOTEBOOK}.json"
            trained_on = json.loads(summary.read_text()).get("device", "?") if summary.exists() else "?"
            record["detail"] += f"; {NOTEBOOK} (smoke) trained on {trained_on}"
            if record["status"] == "passed" and trained_on.split()[0] != ctx.device_type:
                record["status"] = "failed"
        ctx.report.step("tests", step, record)


# --- stage: bench -----------------------------------------------------------------------------


def stage_bench(ctx) -> None:
    models = ["resnet20"] if ctx.smoke else ["resnet20", "resnet56", "resnet50"]
    if not ctx.budget.allows(20 if ctx.smoke else 60):
        ctx.report.step("bench", "bench", skipped("budget"))
        return
    out = ctx.scratch / f"bench-{ctx.device_type}.json"
    cmd = [sys.executable, "benchmarks/bench.py", "--device", ctx.device, "--models", *models]
    cmd += ["--out", out] + (["--repeats", "1", "--steps", "2"] if ctx.smoke else [])
    cmd += ["--compile"] if ctx.args.bench_compile else []
    code, seconds = run_logged(cmd, ctx.report, timeout=ctx.step_timeout(), env=ctx.env())
    if code != 0 or not out.exists():
        ctx.report.step("bench", "bench", {"status": "timed out" if code is None else "failed"})
        return
    result = json.loads(out.read_text())
    ratios = ", ".join(f"{m} {r['ours/limit']:.2f}" for m, r in result["images_per_s"].items())
    record = {
        "status": "passed",
        "detail": f"ours/limit {ratios}; the JSON is summary.json's bench/bench/result",
        "seconds": round(seconds, 1),
        "result": result,
    }
    ctx.report.step("bench", "bench", record)


# --- stage: colab -----------------------------------------------------------------------------


def colab_workload(profile: str = "colab") -> list[tuple[str, object]]:
    """(notebook, TrainingJob) for every net each notebook trains under ``profile``, from the
    budget table the notebooks themselves read."""
    from resnet_utils.course.budgets import NOTEBOOKS, workload

    return [(notebook, job) for notebook in NOTEBOOKS for job in workload(notebook, profile)]


def job_config(job) -> tuple:
    """What one epoch's time depends on: the net as built, its training images, the batch."""
    from resnet_utils.models import canonical

    name, options = canonical(job.name, dict(job.options))
    return (name, tuple(sorted(options.items())), job.train_images, job.recipe.batch_size)


def notebook_totals(work, epoch_seconds: dict) -> dict:
    """Per notebook: seconds of training alone (empty cache) and in course order (a run an
    earlier notebook trained comes from the cache), from one epoch's time per config."""
    totals, trained = {}, set()
    for notebook, job in work:
        t = totals.setdefault(notebook, {"alone_s": 0.0, "in_order_s": 0.0, "runs": 0})
        seconds = epoch_seconds[job_config(job)] * job.recipe.epochs * job.seeds
        t["alone_s"] += seconds
        t["runs"] += job.seeds
        run = (job_config(job), job.recipe)  # what the run cache keys on, seeds aside
        if run not in trained:
            t["in_order_s"] += seconds
        trained.add(run)
    return totals


# A T4 epoch, modelled (He et al.'s CIFAR nets are small: a step is as much launch overhead on
# the host as work on the GPU). Two stated scenarios, from the GPU/Colab audit's section 5:
# (share of the T4's fp16 peak reached, host seconds per dispatched ATen op on Colab's 2 vCPUs).
T4_SCENARIOS = {"optimistic": (0.30, 6e-6), "pessimistic": (0.10, 15e-6)}
EVAL_OPS_SHARE = 1 / 3  # an evaluation batch dispatches the forward's ops only


def count_ops_per_step(model, data, recipe, device) -> int:
    """ATen ops one training step dispatches on ``device`` (on CUDA each is a kernel launch,
    a few microseconds of host time whatever the kernel's size)."""
    import torch
    from torch.utils._python_dispatch import TorchDispatchMode

    from resnet_utils.training.step import GradNorms, TrainingStep, prepare_batch

    class Count(TorchDispatchMode):
        n = 0

        def __torch_dispatch__(self, func, types, args=(), kwargs=None):
            Count.n += 1
            return func(*args, **(kwargs or {}))

    take_step = TrainingStep(model, recipe, device)
    norms = GradNorms(model)
    index = torch.arange(min(recipe.batch_size, len(data.train_y)), device=device)
    x, y = data.train_x.to(device), data.train_y.to(device)
    take_step(prepare_batch(x, index, augment=recipe.augment), y[index], norms.add)  # warm-up
    with Count():
        take_step(prepare_batch(x, index, augment=recipe.augment), y[index], norms.add)
    return Count.n


def t4_estimates(
    macs: int, ops_per_step: int, n_train: int, n_test: int, batch_size: int, eval_batch: int
) -> dict:
    """Each scenario's T4 epoch in seconds, with its two halves: the device's (training FLOPs,
    2 per multiply-add and the backward twice the forward, over the fp16 peak at the
    scenario's share) and the host's (ops dispatched x seconds per op); the step takes the
    longer. An estimate until a T4 measures it."""
    flops = 2 * macs * (3 * n_train + n_test)
    launches = (n_train // batch_size) * ops_per_step + (
        -(-n_test // eval_batch) * ops_per_step * EVAL_OPS_SHARE
    )
    out = {}
    for name, (utilisation, per_op) in T4_SCENARIOS.items():
        device_s = flops / (T4_PEAK_TFLOPS * 1e12 * utilisation)
        host_s = launches * per_op
        out[name] = {"device_s": device_s, "host_s": host_s, "epoch_s": max(device_s, host_s)}
    return out


def _minutes_range(totals: dict, kind: str) -> str:
    low, high = totals[f"t4_optimistic_{kind}_s"], totals[f"t4_pessimistic_{kind}_s"]
    return f"{low / 60:.1f}-{high / 60:.1f} min"


def time_net(name, options, recipe, n_train, n_test, device, *, steps) -> dict:
    """One epoch of ``name`` on ``n_train`` training and ``n_test`` test images, estimated as
    the notebooks' plan does (a few training steps timed as ``fit`` takes them, an evaluation
    batch counted as a third of a step), with the training step's peak memory."""
    import torch

    from resnet_utils import build_model
    from resnet_utils.training.data import synthetic
    from resnet_utils.training.plan import EVAL_SHARE
    from resnet_utils.training.step import seconds_per_step

    data = synthetic(min(n_train, 4 * recipe.batch_size), 64, seed=0)  # a step's time: its shape
    torch.manual_seed(0)
    model = build_model(name, **options)
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    step = seconds_per_step(model, data, recipe, device=device, steps=steps)
    peak = torch.cuda.max_memory_allocated(device) if device.type == "cuda" else None
    batches = n_train // recipe.batch_size + EVAL_SHARE * n_test / recipe.batch_size
    return {
        "step_s": step,
        "epoch_s": step * batches,
        "peak_memory_mib": None if peak is None else round(peak / 2**20),
    }


def stage_colab(ctx) -> None:
    import torch

    from resnet_utils import build_model
    from resnet_utils.measure.counting import multiply_adds
    from resnet_utils.training.data import synthetic
    from resnet_utils.training.hardware import describe_device
    from resnet_utils.training.loop import EVAL_BATCH
    from resnet_utils.training.profiles import get_profile

    work = colab_workload()
    if ctx.smoke:  # small batches, the same nets: tests the code, measures nothing
        work = [(nb, replace(job, recipe=replace(job.recipe, batch_size=16))) for nb, job in work]
    device = torch.device(ctx.device)
    epoch_seconds, t4_seconds, rows, not_timed = {}, {}, [], []
    jobs = {}  # each config's first job: a run the course trains twice is timed once
    for _, job in work:
        jobs.setdefault(job_config(job), job)
    for config, job in jobs.items():
        if not ctx.budget.allows(30):
            not_timed.append(f"{job.name} {job.options or ''}".strip())
            continue
        name, options, _, batch = config
        n_train, n_test = job.train_images or 50_000, job.test_images or 10_000
        recipe = replace(job.recipe, epochs=1)
        timed = time_net(
            name, dict(options), recipe, n_train, n_test, device, steps=1 if ctx.smoke else 10
        )
        model = build_model(name, **dict(options))
        macs = multiply_adds(model)
        ops = count_ops_per_step(model, synthetic(batch, 8, seed=0), recipe, device)
        t4 = t4_estimates(macs, ops, n_train, n_test, batch, EVAL_BATCH)
        epoch_seconds[config] = timed["epoch_s"]
        for scenario, seconds_t4 in t4.items():
            t4_seconds.setdefault(scenario, {})[config] = seconds_t4["epoch_s"]
        row = {
            "net": name,
            "options": dict(options),
            "train_images": n_train,
            "batch_size": batch,
            "notebooks": sorted({nb for nb, other in work if job_config(other) == config}),
            "step_s": round(timed["step_s"], 4),
            "epoch_s": round(timed["epoch_s"], 2),
            "multiply_adds": macs,
            "ops_per_step": ops,
            "peak_memory_mib": timed["peak_memory_mib"],
            "t4_epoch_s": {k: {h: round(v, 2) for h, v in x.items()} for k, x in t4.items()},
            "title": job.title,
        }
        rows.append(row)
        ctx.report.say(
            f"[colab] {name} {row['options'] or ''} on {n_train:,} images: about "
            f"{row['epoch_s']:.2f} s/epoch ({row['step_s'] * 1e3:.1f} ms a step), {ops} ops a step"
        )
    totals = {}
    if len(epoch_seconds) == len(jobs):
        totals = notebook_totals(work, epoch_seconds)
        t4_totals = {k: notebook_totals(work, v) for k, v in t4_seconds.items()}
        for nb, t in totals.items():
            for scenario, by_notebook in t4_totals.items():
                t[f"t4_{scenario}_alone_s"] = by_notebook[nb]["alone_s"]
                t[f"t4_{scenario}_in_order_s"] = by_notebook[nb]["in_order_s"]
            # judged on the pessimistic end of the range
            t["fits_t4_in_minutes"] = t["t4_pessimistic_in_order_s"] <= COLAB_MINUTES * 60
    record = {
        "status": "passed" if totals else "incomplete",
        "detail": f"{len(epoch_seconds)} of {len(jobs)} configs timed"
        + (f"; not timed (budget): {', '.join(not_timed)}" if not_timed else ""),
        "device": describe_device(device),
        "profile": get_profile("colab").description,
        "nets": rows,
        "notebooks": totals,
        "t4_estimate": (
            "an estimate, not a measurement, as a range: each epoch takes the longer of "
            "the device's work (2 x multiply-adds x (3 x training + 1 x test images) over "
            f"{T4_SOURCE}, at {T4_SCENARIOS['optimistic'][0]:.0%} to "
            f"{T4_SCENARIOS['pessimistic'][0]:.0%} of it) and the host's (the ATen ops one "
            "step dispatches, counted here, at "
            f"{T4_SCENARIOS['optimistic'][1] * 1e6:.0f} to "
            f"{T4_SCENARIOS['pessimistic'][1] * 1e6:.0f} us each on Colab's 2 vCPUs): "
            "these small nets are launch-bound, so the H200's time scaled by the chips' "
            "peak ratio is not used"
        ),
    }
    ctx.report.step("colab", "timings", record)
    if not ctx.smoke:  # a plain net's epoch on all images: what a reference run's epoch takes
        ctx.epoch_seconds = {c[0]: s for c, s in epoch_seconds.items() if c[2] is None and not c[1]}


# --- stage: references ------------------------------------------------------------------------


def reference_epochs(epoch_s: dict, runs: list[str], seconds: float, least: int, most: int) -> int:
    """The longest one-cycle schedule (``least`` to ``most`` epochs) in which ``runs`` (net
    names, one after another) all fit ``seconds``; ``least`` if none does (then the deadline
    decides how many are trained)."""
    per_epoch = sum(epoch_s[net] for net in runs)
    fitting = int((seconds - JOB_OVERHEAD_S * len(runs)) // per_epoch) if per_epoch else most
    return max(least, min(most, fitting))


def reference_calls(refs: Path, nets, seeds) -> list[tuple[list[str], list[int]]]:
    """(nets, seeds) per call of tools/train_references.py (which trains every net of every
    seed given) for the runs not yet shipped into ``refs``: seeds with the same nets left
    share a call."""
    calls = []
    for seed in seeds:
        left = [net for net in nets if not (refs / f"{net}-seed{seed}.json").exists()]
        if left and calls and calls[-1][0] == left:
            calls[-1][1].append(seed)
        elif left:
            calls.append((left, [seed]))
    return calls


def stage_references(ctx) -> None:
    import torch

    from resnet_utils.training.profiles import Recipe

    report, budget, args = ctx.report, ctx.budget, ctx.args
    if not budget.allows(2 * JOB_OVERHEAD_S):
        report.step("references", "plan", skipped("budget"))
        return
    refs = ctx.scratch / "references"
    if args.resume_from:
        for tar in sorted(Path(args.resume_from).glob("references-*.tar")):
            with tarfile.open(tar) as archive:
                archive.extractall(refs, filter="data")
    data = tiny_cifar10(ctx.scratch / "tiny-cifar10") if ctx.smoke else ctx.cifar10()
    if data is None:
        why = "no CIFAR-10: pass --data, set CIFAR10_DIR, or carry build/cifar10-jpeg.tar.gz"
        report.step("references", "plan", skipped(why + " (the ImageFolder layout, tarred)"))
        return
    seeds = (0,) if ctx.smoke else REFERENCE_SEEDS
    calls = reference_calls(refs, REFERENCE_NETS, seeds)
    runs = [net for nets, call_seeds in calls for _ in call_seeds for net in nets]
    epoch_s = dict(getattr(ctx, "epoch_seconds", {}))
    for net in [n for n in REFERENCE_NETS if n not in epoch_s]:
        sizes = (130, 20) if ctx.smoke else (50_000, 10_000)
        device = torch.device(ctx.device)
        epoch_s[net] = time_net(net, {}, Recipe(epochs=1), *sizes, device, steps=5)["epoch_s"]
    if args.epochs == "auto":
        most = 2 if ctx.smoke else PAPER_EPOCHS
        epochs = reference_epochs(epoch_s, runs, budget.left(), min(args.min_epochs, most), most)
    else:
        epochs = int(args.epochs)
    longest = max((epochs * epoch_s[n] + JOB_OVERHEAD_S for n in runs), default=0.0)
    shipped = len(REFERENCE_NETS) * len(seeds) - len(runs)
    plan = {
        "status": "planned",
        "detail": f"one-cycle, {epochs} epochs, for {len(runs)} runs ({shipped} shipped before); "
        f"about {sum(epochs * epoch_s[n] + JOB_OVERHEAD_S for n in runs):.0f} s of "
        f"{budget.left():.0f} s left",
        "epochs": epochs,
        "epoch_s": epoch_s,
        "calls": [{"nets": nets, "seeds": s} for nets, s in calls],
        "continue_with": f"--epochs {epochs} --resume-from <the folder with the tars>",
    }
    report.step("references", "plan", plan)
    script = ROOT / "tools" / "train_references.py"
    has_deadline = (
        "--deadline"
        in subprocess.run(
            [sys.executable, script, "--help"], capture_output=True, text=True, env=ctx.env()
        ).stdout
    )
    failed = []
    for nets, call_seeds in calls:
        if not budget.allows(min(epochs * epoch_s[n] + JOB_OVERHEAD_S for n in nets)):
            break
        cmd = [sys.executable, script, "--epochs", epochs, "--nets", *nets, "--seeds", *call_seeds]
        cmd += ["--data", data, "--cache", refs / "cache", "--out", refs]
        cmd += ["--label", f"gpu-onecycle-{epochs}"]
        if has_deadline:  # no net starts that could not end in the budget; the first always does
            cmd += ["--deadline", max(1, round(budget.left() - longest))]
        code, _ = run_logged(
            cmd,
            report,
            timeout=budget.left(),
            env=ctx.env(),
            every_minute=lambda: pack(refs, ctx.out, report),  # a call cut from outside keeps them
        )
        if code not in (0, None):  # None: stopped at the deadline, its checkpoint kept
            failed.append(f"train_references.py exited {code} for seeds {call_seeds} (see the log)")
    pack(refs, ctx.out, report)
    results = summarise_references(refs, seeds)
    if failed:
        results.update(status="failed", detail="; ".join([results["detail"], *failed]))
    report.step("references", "results", results)


def pack(refs: Path, out: Path, report: Report) -> list[Path]:
    """The shipped nets and the checkpoints of unfinished runs under ``refs`` into at most
    ``MAX_TARS`` tars of up to ``TAR_LIMIT`` bytes in ``out`` (what the device tool brings
    back); the run cache's finished runs are left out (their nets are shipped)."""
    if not refs.exists():
        return []
    files = sorted(p for p in refs.rglob("*") if p.is_file() and not p.name.startswith("."))
    files = [p for p in files if p.parent.name != "runs" or p.name.endswith(".resume.pt")]
    bins: list[list[Path]] = []
    sizes: list[int] = []
    for path in sorted(files, key=lambda p: -p.stat().st_size):
        size = path.stat().st_size + 1024
        for i, used in enumerate(sizes):
            if used + size <= TAR_LIMIT:
                bins[i].append(path)
                sizes[i] += size
                break
        else:
            bins.append([path])
            sizes.append(size)
    if len(bins) > MAX_TARS:
        report.say(f"[references] {len(bins)} tars needed, {MAX_TARS} kept: the rest stays behind")
        bins = bins[:MAX_TARS]
    written = []
    for i, group in enumerate(bins, 1):
        target = out / f"references-{i}.tar"
        part = target.with_suffix(".part")
        with tarfile.open(part, "w") as archive:
            for path in sorted(group):
                try:
                    archive.add(path, arcname=str(path.relative_to(refs)))
                except (OSError, tarfile.TarError) as error:  # replaced by its writer meanwhile
                    report.say(f"[references] {path.name} left out of {target.name}: {error}")
        os.replace(part, target)
        written.append(target)
    for stale in out.glob("references-*.tar"):
        if stale not in written:
            stale.unlink()
    return written


def summarise_references(refs: Path, seeds) -> dict:
    """Which runs were shipped; per net the mean, spread and range of their test accuracy
    over seeds, beside Table 6."""
    records = [json.loads(p.read_text()) for p in sorted(refs.glob("*-seed*.json"))]
    nets = {}
    for net in REFERENCE_NETS:
        accs = [r["test_acc_fp32"] for r in records if r["name"] == net and r["seed"] in seeds]
        if accs:
            nets[net] = {
                "seeds": len(accs),
                "mean_test_acc": statistics.fmean(accs),
                "std_test_acc": statistics.stdev(accs) if len(accs) > 1 else None,
                "min": min(accs),
                "max": max(accs),
                "table6": TABLE6_ACCURACY.get(net),
            }
    shipped = sum(v["seeds"] for v in nets.values())
    wanted = len(REFERENCE_NETS) * len(seeds)
    detail = ", ".join(
        f"{n} {v['mean_test_acc']:.2%}"
        + (f" ± {v['std_test_acc']:.2%}" if v["std_test_acc"] is not None else "")
        + f" ({v['seeds']} seeds)"
        for n, v in nets.items()
    )
    return {
        "status": "passed" if shipped == wanted else "partial",
        "detail": f"{shipped} of {wanted} runs shipped; {detail}",
        "shipped": [
            f"{r['name']}-seed{r['seed']}: {r['epochs']} epochs, {r['training_seconds']} s"
            for r in records
        ],
        "nets": nets,
        "accuracy": "fp32 re-evaluation on the test split (the shipped record's test_acc_fp32)",
    }


# --- the summary in words ---------------------------------------------------------------------


def summary_markdown(data: dict) -> str:
    lines = [
        "# GPU check",
        "",
        f"{data.get('device', '?')}; started {data['started']}, {data.get('elapsed_s', 0):.0f} s "
        f"of a {data['args']['budget_s']:.0f} s budget; stages {', '.join(data['args']['stages'])}"
        + (" (smoke: tests the script, measures nothing)" if data["args"]["smoke"] else ""),
        "",
    ]
    if data.get("missing"):
        lines += [f"Missing here: {', '.join(data['missing'])}", ""]
    lines += ["| stage | step | status | detail |", "|---|---|---|---|"]
    for stage, steps in data["stages"].items():
        for step, record in steps.items():
            detail = str(record.get("detail", "")).replace("|", "/")
            lines.append(f"| {stage} | {step} | {record.get('status')} | {detail} |")
    bench = data["stages"].get("bench", {}).get("bench", {}).get("result")
    if bench:
        sys.path.insert(0, str(ROOT / "benchmarks"))
        from bench import table

        lines += ["", "## Bench", "", table(bench)]
    colab = data["stages"].get("colab", {}).get("timings")
    if colab and colab.get("notebooks"):
        lines += [
            "",
            "## Colab profile: measured epochs, and T4 estimates",
            "",
            colab["t4_estimate"],
            "",
        ]
        lines += [
            f"| notebook | runs | {colab['device']} alone | in course order | T4 estimate alone "
            f"| T4 estimate in order | fits {COLAB_MINUTES} min on a T4 |",
            "|---|---|---|---|---|---|---|",
        ]
        for nb, t in colab["notebooks"].items():
            lines.append(
                f"| {nb} | {t['runs']} | {t['alone_s'] / 60:.1f} min | {t['in_order_s'] / 60:.1f} min | "
                f"{_minutes_range(t, 'alone')} | {_minutes_range(t, 'in_order')} | "
                f"{'yes' if t['fits_t4_in_minutes'] else 'no'} |"
            )
        lines += [
            "",
            "| net | options | images | step ms | epoch s (estimate) | G multiply-adds "
            "| ops per step | peak MiB | T4 epoch s (estimate) |",
            "|---|---|---|---|---|---|---|---|---|",
        ]
        for r in colab["nets"]:
            t4 = r["t4_epoch_s"]
            lines.append(
                f"| {r['net']} | {r['options'] or '-'} | {r['train_images']:,} | "
                f"{r['step_s'] * 1e3:.1f} | {r['epoch_s']} | {r['multiply_adds'] / 1e9:.3f} | "
                f"{r['ops_per_step']} | {r['peak_memory_mib'] or '-'} | "
                f"{t4['optimistic']['epoch_s']}-{t4['pessimistic']['epoch_s']} |"
            )
    refs = data["stages"].get("references", {}).get("results")
    if refs:
        lines += ["", "## Reference nets", "", f"Accuracy: {refs['accuracy']}.", ""]
        lines += ["| net | seeds | mean | spread (sd) | range | Table 6 |", "|---|---|---|---|---|---|"]
        for net, v in refs["nets"].items():
            sd = f"{v['std_test_acc']:.2%}" if v["std_test_acc"] is not None else "-"
            t6 = f"{v['table6']:.2%}" if v["table6"] else "(curves only)"
            lines.append(
                f"| {net} | {v['seeds']} | {v['mean_test_acc']:.2%} | {sd} | "
                f"{v['min']:.2%}-{v['max']:.2%} | {t6} |"
            )
    return "\n".join(lines) + "\n"


# --- main -------------------------------------------------------------------------------------


class Context:
    """What every stage reads: the arguments, the report, the budget and the working folder."""

    def __init__(self, args, report, budget, scratch):
        self.args, self.report, self.budget, self.scratch = args, report, budget, scratch
        self.device, self.smoke, self.out = args.device, args.smoke, report.out
        self.device_type = args.device.split(":")[0]
        self._cifar = False

    def env(self, **extra) -> dict:
        """The environment of a step's process: the repository on its path, and no GPU in
        sight when the check runs on the CPU (the notebook and train_references.py pick their
        device themselves)."""
        env = dict(os.environ, PYTHONUNBUFFERED="1", **extra)
        env["PYTHONPATH"] = os.pathsep.join([str(ROOT)] + [p for p in [env.get("PYTHONPATH")] if p])
        if self.device_type == "cpu":
            env["CUDA_VISIBLE_DEVICES"] = ""
        return env

    def step_timeout(self) -> float:
        return min(self.budget.left(), STEP_CAP_S)

    def cifar10(self) -> Path | None:
        if self._cifar is False:
            self._cifar = find_cifar10(self.args.data, self.scratch)
        return self._cifar


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default=None, help="cuda (default where there is one) or cpu")
    parser.add_argument(
        "--stages", default=",".join(STAGES), help=f"comma-separated: {','.join(STAGES)}"
    )
    parser.add_argument("--budget-s", type=float, default=540.0, help="hard wall-clock budget")
    parser.add_argument("--out", type=Path, default=None, help="default $OUT, else build/gpu-check")
    parser.add_argument("--scratch", type=Path, default=None, help="working files (default: a temp dir)")
    parser.add_argument("--data", default=None, help="CIFAR-10 folder or archive (default $CIFAR10_DIR)")
    parser.add_argument(
        "--epochs", default="auto", help="reference nets' one-cycle epochs (auto: the most that fit)"
    )
    parser.add_argument("--min-epochs", type=int, default=10, help="the shortest schedule auto picks")
    parser.add_argument("--resume-from", type=Path, default=None, help="a folder of references-*.tar")
    parser.add_argument("--bench-compile", action="store_true", help="bench torch.compile as well")
    parser.add_argument("--smoke", action="store_true", help="shrink every stage (tests the script)")
    args = parser.parse_args(argv)
    try:
        args.stages = parse_stages(args.stages)
    except ValueError as error:
        parser.error(str(error))
    if args.epochs != "auto" and not (args.epochs.isdigit() and int(args.epochs) >= 1):
        parser.error(f"--epochs {args.epochs!r}: use auto or a number of epochs.")

    import torch

    if args.device is None:
        args.device = "cuda" if torch.cuda.is_available() else "cpu"
    if args.device.startswith("cuda") and not torch.cuda.is_available():
        parser.error("--device cuda, but torch sees no CUDA device here: use --device cpu.")
    return args


def main(argv=None) -> int:
    args = parse_args(argv)
    import torch

    from resnet_utils.training.hardware import autocast_dtype, describe_device, precision_name

    # absolute: the notebook's kernel starts in notebooks/, where a relative path breaks
    out = (args.out or Path(os.environ.get("OUT") or ROOT / "build" / "gpu-check")).resolve()
    scratch = (args.scratch or Path(tempfile.mkdtemp(prefix="gpu-check-"))).resolve()
    scratch.mkdir(parents=True, exist_ok=True)
    # one data cache for this process and the ones it starts: CIFAR-10 is decoded once
    os.environ.setdefault("RESNET_CACHE_DIR", str(scratch / "cache"))
    budget = Budget(args.budget_s)
    report = Report(out, {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()})
    ctx = Context(args, report, budget, scratch)

    device = torch.device(args.device)
    report.data["device"] = f"{describe_device(device)}, {precision_name(autocast_dtype(device))}"
    report.data["torch"] = torch.__version__
    report.data["missing"] = missing_modules(["pytest", "nbval", "ipykernel", "ipywidgets"])
    report.say(
        f"gpu-check on {report.data['device']}, stages {args.stages}, budget {args.budget_s:.0f} s"
    )
    if report.data["missing"]:
        report.say(f"missing: {report.data['missing']} (the steps needing them are skipped)")
    runners = {
        "tests": stage_tests,
        "bench": stage_bench,
        "colab": stage_colab,
        "references": stage_references,
    }
    try:
        for stage in args.stages:
            try:
                runners[stage](ctx)
            except Exception as error:  # one broken stage must not cost the others
                import traceback

                report.say(traceback.format_exc())
                failure = {"status": "failed", "detail": f"{type(error).__name__}: {error}"}
                report.step(stage, "error", failure)
    finally:
        report.data["elapsed_s"] = round(budget.elapsed(), 1)
        report.save()
        text = summary_markdown(report.data)
        (out / "summary.md").write_text(text)
        print("\n" + text)
        if args.scratch is None:
            shutil.rmtree(scratch, ignore_errors=True)
    statuses = [r.get("status") for steps in report.data["stages"].values() for r in steps.values()]
    return 1 if "failed" in statuses else 0


if __name__ == "__main__":
    sys.exit(main())
