"""The GPU path in one call: CUDA tests, a smoke notebook, resume, the bench, Colab timings and
reference nets at the paper's scale, inside a hard wall-clock budget.

    python3 tools/gpu_check.py [--device cuda] [--stages tests,bench,colab,references]
        [--budget-s 540] [--out DIR] [--parallel N] [--recipe auto|paper|onecycle:E|step:E]
        [--data DIR|ARCHIVE] [--wheels DIR] [--resume-from DIR] [--smoke]

Written for a GPU machine lent for minutes, with no network: every stage checks what it needs
(pytest, papermill, ipykernel, CIFAR-10) and is skipped, saying what is missing, rather than
crash; no step starts that the budget cannot hold, and a reference net still training at the
deadline is stopped with its checkpoint kept. Everything goes into ``--out`` (default ``$OUT``,
else build/gpu-check), in at most eight files, as the device tool brings back: summary.json,
summary.md, gpu-check.log and references-<k>.tar (the trained nets, one folder per seed in the
layout of resnet_utils/reference_nets, and the checkpoints of unfinished runs).

Stages:
  tests       the unit tests that train (pytest --device), a check that an interrupted run
              resumes to an uninterrupted one's history (with a repeat run as the control:
              on a GPU two uninterrupted runs may differ), one notebook under the smoke
              profile through papermill;
  bench       benchmarks/bench.py --device for ResNet-20, ResNet-56 and ResNet-50;
  colab       one timed epoch of every net each notebook trains under the colab profile (read
              from the notebooks), each notebook's total, and a T4 estimate (stated, sourced);
  references  ResNet-20/56 then plain-20/56, seeds 0-2, with --recipe (auto: the paper's 164
              epochs if they fit, else the longest one-cycle schedule that fits), --parallel
              processes side by side, a checkpoint every epoch.

``--smoke`` shrinks every stage (synthetic data, one or two epochs, few steps) to test this
script itself on a CPU: ``--device cpu --smoke --budget-s 300``.
"""

from __future__ import annotations

import argparse
import ast
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
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

STAGES = ("tests", "bench", "colab", "references")
# The unit tests that run the training loop with the default device (see tests/conftest.py).
DEVICE_TESTS = ("test_train.py", "test_step.py", "test_resume.py", "test_cache.py", "test_variants.py")
SMOKE_TESTS = ("test_train.py", "test_resume.py")
NOTEBOOK = "01_degradation"
REFERENCE_NETS = ("resnet20", "resnet56", "plain20", "plain56")  # in the order they are trained
REFERENCE_SEEDS = (0, 1, 2)
PAPER_EPOCHS = 164
# He et al. 2015, Table 6: CIFAR-10 test error of ResNet-20 8.75%, ResNet-56 6.97%. The plain
# nets have curves only (Fig. 6).
TABLE6_ACCURACY = {"resnet20": 0.9125, "resnet56": 0.9303}
# Peak dense tensor-core throughput, from the makers' datasheets: NVIDIA T4 Tensor Core GPU
# datasheet, "Mixed Precision (FP16/FP32) 65 TFLOPS"; NVIDIA H200 Tensor Core GPU datasheet
# (SXM), BF16 1,979 TFLOPS with sparsity, so 989.5 dense (the H100 SXM's figure is the same).
PEAK_TFLOPS = {"T4": 65.0, "H200": 989.5, "H100": 989.5, "A100": 312.0}
T4_SOURCE = "NVIDIA T4 datasheet: 65 TFLOPS fp16 (mixed precision) peak"
COLAB_MINUTES = 20  # a notebook should fit about this on a free Colab T4
# The few seconds a reference-net process spends outside its epochs: start-up, data, the fp32
# re-evaluation and shipping. Added to each job's predicted time.
JOB_OVERHEAD_S = 20.0
RESERVE_S = 20.0  # kept at the end of the budget for packing and the summary
STEP_CAP_S = 240.0  # the most one test, notebook or bench step may take: the rest get their turn
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

    def step(self, stage: str, step: str, record: dict) -> dict:
        self.data["stages"].setdefault(stage, {})[step] = record
        status = record.get("status", "?")
        self.say(f"[{stage}/{step}] {status}: {record.get('detail', '')}".rstrip(": "))
        self.save()
        return record

    def save(self) -> None:
        text = json.dumps(self.data, indent=1, default=str)
        (self.out / "summary.json").write_text(text)


def skipped(why: str) -> dict:
    return {"status": "skipped", "detail": why}


def missing_modules(names) -> list[str]:
    return [n for n in names if importlib.util.find_spec(n) is None]


def run_logged(cmd, report: Report, *, timeout: float, env=None) -> tuple[int | None, float]:
    """Run ``cmd`` in its own process group with its output in the log; kill the group at
    ``timeout``. Returns (exit status or None if it was killed, seconds)."""
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
        try:
            code = proc.wait(timeout=max(1.0, timeout))
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
            code = None
    return code, time.perf_counter() - start


# --- data and carried packages ----------------------------------------------------------------


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


def install_wheels(wheels: Path, site: Path, report: Report) -> str | None:
    """pip-install the carried wheels into ``site`` (no network, no dependencies resolved);
    return the folder to put on PYTHONPATH, or None if there are none or pip failed."""
    files = sorted(wheels.glob("*.whl")) if wheels.is_dir() else []
    if not files:
        return None
    cmd = [sys.executable, "-m", "pip", "install", "-q", "--no-index", "--no-deps", "--no-compile"]
    cmd += ["--no-cache-dir", "--upgrade", "--target", site, *files]
    code, _ = run_logged(cmd, report, timeout=120)
    if code != 0:
        report.say(f"pip could not install the wheels in {wheels} (see the log); going on without")
        return None
    sys.path.insert(0, str(site))
    importlib.invalidate_caches()
    return str(site)


# --- stage: tests -----------------------------------------------------------------------------


def stage_tests(ctx) -> None:
    report, budget = ctx.report, ctx.budget
    files = SMOKE_TESTS if ctx.smoke else DEVICE_TESTS
    if missing := missing_modules(["pytest"]):
        report.step("tests", "pytest", skipped(f"missing {missing}: carry its wheel (--wheels)"))
    elif not budget.allows(30):
        report.step("tests", "pytest", skipped("budget"))
    else:
        cmd = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--device", ctx.device]
        # the device's own format, then fp16 with the grad scaler: a T4's path, which a GPU with
        # native bf16 (an H200) would otherwise never take
        for step, precision in (("pytest", ""), ("pytest-fp16", "fp16")):
            if not budget.allows(30):
                report.step("tests", step, skipped("budget"))
                continue
            code, seconds = run_logged(
                cmd + [f"tests/{f}" for f in files],
                report,
                timeout=ctx.step_timeout(),
                env=ctx.env(RESNET_PRECISION=precision),
            )
            tail = _last_line_with(report.log_path, ("passed", "failed", "error"))
            status = {0: "passed", None: "timed out"}.get(code, "failed")
            report.step(
                "tests",
                step,
                {
                    "status": status,
                    "detail": tail,
                    "files": list(files),
                    "precision": precision or "native",
                    "seconds": round(seconds, 1),
                },
            )

    if budget.allows(20 if ctx.smoke else 40):
        report.step("tests", "resume", resume_check(ctx.device, smoke=ctx.smoke))
    else:
        report.step("tests", "resume", skipped("budget"))

    needed = ["papermill", "ipykernel", "nbformat", "nbclient"]
    if missing := missing_modules(needed):
        report.step("tests", "notebook", skipped(f"missing {missing}: carry their wheels (--wheels)"))
    elif not budget.allows(60):
        report.step("tests", "notebook", skipped("budget"))
    else:
        report.step("tests", "notebook", notebook_check(ctx))


def _last_line_with(path: Path, words) -> str:
    for line in reversed(path.read_text().splitlines()):
        if any(w in line for w in words):
            return line.strip("= ").strip()
    return ""


class _Patch:
    """The one monkeypatch method tests/fakes.py uses, without pytest; undone on exit."""

    def __init__(self):
        self.undo = []

    def setattr(self, target, name, value):
        self.undo.append((target, name, getattr(target, name)))
        setattr(target, name, value)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        for target, name, value in reversed(self.undo):
            setattr(target, name, value)


def resume_check(device: str, *, smoke: bool) -> dict:
    """An interrupted run resumed from its checkpoint against an uninterrupted one (as
    tests/test_resume.py does), and a second uninterrupted run as the control: if two
    uninterrupted runs differ (non-deterministic kernels), exact equality cannot be asked of
    the resumed one, and its difference is compared with theirs instead."""
    sys.path.insert(0, str(ROOT / "tests"))
    import torch
    from fakes import interrupt_in_epoch

    from resnet_utils.training.cache import RunCache
    from resnet_utils.training.data import synthetic
    from resnet_utils.training.profiles import Recipe
    from resnet_utils.training.runs import train

    curves = ("train_loss", "train_acc", "test_loss", "test_acc", "lr")
    data = synthetic(256, 128, seed=3)
    recipe = Recipe(epochs=3 if smoke else 4, batch_size=64)
    start = time.perf_counter()
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        for label, options in (("plain-rng", {}), ("dropout", {"shortcut_dropout": 0.3})):
            kw = {"options": options, "device": device, "progress": False}
            runs = []
            for name in ("whole", "repeat"):
                cache = RunCache(Path(tmp) / label / name)
                runs.append(train("resnet8", data, recipe, **kw, cache=cache))
            cache = RunCache(Path(tmp) / label / "cut")
            with _Patch() as patch:
                interrupt_in_epoch(patch, 2)
                try:
                    train("resnet8", data, recipe, **kw, cache=cache)
                except KeyboardInterrupt:
                    pass
            torch.manual_seed(12345)  # a restarted kernel leaves the global RNG anywhere
            resumed = train("resnet8", data, recipe, **kw, cache=cache)
            whole, repeat = runs

            def gap(a, b):
                return max(abs(x - y) for c in curves for x, y in zip(a.history[c], b.history[c]))

            exact = all(resumed.history[c] == whole.history[c] for c in curves)
            repeat_exact = all(repeat.history[c] == whole.history[c] for c in curves)
            resumed_gap, repeat_gap = gap(resumed, whole), gap(repeat, whole)
            results[label] = {
                "epochs": resumed.history["epoch"],
                "resumed_equals_whole": exact,
                "repeat_equals_whole": repeat_exact,
                "max_gap_resumed": resumed_gap,
                "max_gap_repeat": repeat_gap,
                "ok": exact or (not repeat_exact and resumed_gap <= 3 * repeat_gap + 1e-6),
            }
    ok = all(r["ok"] for r in results.values()) and all(
        r["epochs"] == list(range(1, recipe.epochs + 1)) for r in results.values()
    )
    detail = "; ".join(
        f"{k}: resumed {'==' if r['resumed_equals_whole'] else '!='} whole "
        f"(gap {r['max_gap_resumed']:.2g}), repeat {'==' if r['repeat_equals_whole'] else '!='} "
        f"whole (gap {r['max_gap_repeat']:.2g})"
        for k, r in results.items()
    )
    return {
        "status": "passed" if ok else "failed",
        "detail": detail,
        "runs": results,
        "seconds": round(time.perf_counter() - start, 1),
    }


def notebook_check(ctx) -> dict:
    """Notebook 1 under the smoke profile through papermill, on the device (its summary says
    which device it trained on)."""
    scratch = ctx.scratch / "notebook"
    scratch.mkdir(parents=True, exist_ok=True)
    env = ctx.env(
        RESNET_PROFILE="smoke",
        RESNET_CACHE_DIR=str(scratch / "cache"),
        RESNET_SUMMARY_DIR=str(scratch),
        MPLBACKEND="Agg",
    )
    if ctx.device == "cpu":
        env["CUDA_VISIBLE_DEVICES"] = ""  # the notebook picks its device itself
    source = ROOT / "notebooks" / f"{NOTEBOOK}.ipynb"
    cmd = [sys.executable, "-m", "papermill", source, scratch / f"{NOTEBOOK}.ipynb"]
    cmd += ["-p", "interactive", "False", "-p", "progress", "False"]
    cmd += ["--cwd", ROOT / "notebooks", "--kernel", "python3"]
    code, seconds = run_logged(cmd, ctx.report, timeout=ctx.step_timeout(), env=env)
    summary = scratch / f"{NOTEBOOK}.json"
    trained_on = json.loads(summary.read_text()).get("device", "?") if summary.exists() else "?"
    right_device = trained_on.split()[0] == ctx.device.split(":")[0]
    status = {0: "passed", None: "timed out"}.get(code, "failed")
    if status == "passed" and not right_device:
        status = "failed"
    return {
        "status": status,
        "detail": f"{NOTEBOOK} (smoke) in {seconds:.0f} s, trained on {trained_on}",
        "seconds": round(seconds, 1),
    }


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
    ctx.report.step(
        "bench",
        "bench",
        {
            "status": "passed",
            "detail": f"ours/limit {ratios}; the JSON is summary.json's bench/bench/result",
            "seconds": round(seconds, 1),
            "result": result,
        },
    )


# --- stage: colab -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Work:
    """Runs of one net in one notebook: ``images`` training images (None: all), ``epochs``."""

    notebook: str
    net: str
    options: tuple = ()
    images: int | None = None
    epochs: int = 20
    batch_size: int = 128
    seeds: int = 1
    title: str = ""

    def config(self) -> tuple:  # what an epoch's time depends on
        from resnet_utils.models import canonical

        name, options = canonical(self.net, dict(self.options))
        return (name, tuple(sorted(options.items())), self.images, self.batch_size)

    def run_key(self) -> tuple:  # what the run cache keys on (seeds aside): reused if equal
        return (*self.config(), self.epochs)


def notebook_literals(path: Path) -> dict:
    """The module-level assignments of a notebook's .py whose values are literals."""
    values = {}
    for node in ast.parse(path.read_text()).body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1:
            target = node.targets[0]
            if isinstance(target, ast.Name):
                try:
                    values[target.id] = ast.literal_eval(node.value)
                except ValueError:
                    pass
    return values


def colab_workload(notebooks: Path = ROOT / "notebooks", profile: str = "colab") -> list[Work]:
    """What each notebook trains under ``profile``, read from its parameters and budgets
    (seeds, depths, BUDGETS, VARIANTS) and its training cells' net lists, as written there."""
    from resnet_utils.training.profiles import get_profile

    epochs = get_profile(profile).recipe.epochs
    batch = get_profile(profile).recipe.batch_size
    nb = {p.stem: notebook_literals(p) for p in sorted(notebooks.glob("0[1-5]_*.py"))}
    work = []
    n1 = nb["01_degradation"]
    for depth in sorted(n1["depths"]):
        work.append(Work("01_degradation", f"plain{depth}", epochs=epochs, seeds=n1["seeds"]))
    n2 = nb["02_skip_connections"]
    depths = n2["depths"] or ([20, 56, 110] if profile == "full" else [20, 56])
    for depth in sorted(depths):
        for family in ("plain", "resnet"):
            work.append(
                Work("02_skip_connections", f"{family}{depth}", epochs=epochs, seeds=n2["seeds"])
            )
    n3 = nb["03_residual_learning"]
    names = ["plain56", "resnet20", "resnet56"] + (["resnet110"] if profile == "full" else [])
    work += [Work("03_residual_learning", n, epochs=epochs, seeds=n3["seeds"]) for n in names]
    b4 = nb["04_deep_resnets"]["BUDGETS"][profile]
    if b4 is not None:
        for depth in (50, 101, 152):
            work.append(Work("04_deep_resnets", f"resnet{depth}", (), b4["images"], b4["epochs"], batch))
        for stem in ("imagenet", "cifar"):
            work.append(
                Work(
                    "04_deep_resnets",
                    "resnet50",
                    (("stem", stem),),
                    b4["stem_images"],
                    b4["stem_epochs"],
                )
            )
    n5 = nb["05_skip_variants"]
    depth, images, batch5 = n5["BUDGETS"][profile]
    for title, (_, options, _, _) in n5["VARIANTS"].items():
        work.append(
            Work(
                "05_skip_variants",
                f"resnet{n5['depth'] or depth}",
                tuple(sorted(options.items())),
                images,
                epochs,
                batch5 or batch,
                n5["seeds"],
                title,
            )
        )
    return work


def notebook_totals(work: list[Work], epoch_seconds: dict) -> dict:
    """Per notebook: seconds of training alone (empty cache) and in course order (the runs an
    earlier notebook trained come from the cache), from one epoch's time per config."""
    totals, trained = {}, set()
    for w in work:
        t = totals.setdefault(w.notebook, {"alone_s": 0.0, "in_order_s": 0.0, "runs": 0})
        seconds = epoch_seconds[w.config()] * w.epochs * w.seeds
        t["alone_s"] += seconds
        t["runs"] += w.seeds
        if w.run_key() not in trained:
            t["in_order_s"] += seconds
        trained.add(w.run_key())
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
        device_s = flops / (PEAK_TFLOPS["T4"] * 1e12 * utilisation)
        host_s = launches * per_op
        out[name] = {"device_s": device_s, "host_s": host_s, "epoch_s": max(device_s, host_s)}
    return out


def _minutes_range(totals: dict, kind: str) -> str:
    low, high = totals[f"t4_optimistic_{kind}_s"], totals[f"t4_pessimistic_{kind}_s"]
    return f"{low / 60:.1f}-{high / 60:.1f} min"


def stage_colab(ctx) -> None:
    import torch

    from resnet_utils import build_model, fit
    from resnet_utils.measure.counting import multiply_adds
    from resnet_utils.training.data import synthetic
    from resnet_utils.training.hardware import describe_device
    from resnet_utils.training.loop import EVAL_BATCH, seconds_per_step
    from resnet_utils.training.plan import EVAL_SHARE
    from resnet_utils.training.profiles import Recipe, get_profile

    report, budget = ctx.report, ctx.budget
    work = colab_workload()
    profile = get_profile("colab")
    if ctx.smoke:  # tiny images counts, the same nets: tests the code, measures nothing
        n_train, n_test, batch = 64, 32, 32
        work = [Work(w.notebook, w.net, w.options, None, 1, batch, w.seeds, w.title) for w in work]
        full = synthetic(n_train, n_test, seed=0)
        source = f"synthetic ({n_train} training images: --smoke)"
    else:
        n_train, n_test = 50_000, 10_000
        data_dir = ctx.cifar10()
        full = ctx.load_cifar10() if data_dir else synthetic(n_train, n_test, seed=0)
        source = f"CIFAR-10 at {data_dir}" if data_dir else "synthetic of CIFAR-10's size (no copy)"
    device = torch.device(ctx.device)
    epoch_seconds, t4_seconds, rows, not_timed = {}, {}, [], []
    configs = list(dict.fromkeys(w.config() for w in work))
    for config in configs:
        name, options, images, batch_size = config
        w = next(w for w in work if w.config() == config)
        data = full if images is None else full.subset(images, None, seed=0)
        guess = (epoch_seconds and max(epoch_seconds.values())) or 10
        if not budget.allows(2 * guess):
            not_timed.append(f"{name} {dict(options) or ''}".strip())
            continue
        recipe = Recipe(epochs=1, batch_size=batch_size)
        torch.manual_seed(0)
        model = build_model(name, **dict(options))
        macs = multiply_adds(model)
        step = seconds_per_step(build_model(name, **dict(options)), data, recipe, device=device)
        n = len(data.train_y)
        plan_estimate = step * (n // batch_size + EVAL_SHARE * len(data.test_y) / batch_size)
        warm = data.subset(2 * batch_size, min(1000, len(data.test_y)))  # the eval batch's shape too
        fit(model, warm, recipe, device=device, progress=False)  # kernel choices, allocator
        if device.type == "cuda":
            torch.cuda.reset_peak_memory_stats(device)
        history = fit(model, data, recipe, device=device, progress=False)
        peak = torch.cuda.max_memory_allocated(device) if device.type == "cuda" else None
        seconds = history["seconds"][0]
        epoch_seconds[config] = seconds
        ops = count_ops_per_step(build_model(name, **dict(options)), data, recipe, device)
        t4 = t4_estimates(macs, ops, n, len(data.test_y), batch_size, EVAL_BATCH)
        for scenario, seconds_t4 in t4.items():
            t4_seconds.setdefault(scenario, {})[config] = seconds_t4["epoch_s"]
        row = {
            "net": name,
            "options": dict(options),
            "train_images": n,
            "batch_size": batch_size,
            "notebooks": sorted({x.notebook for x in work if x.config() == config}),
            "epoch_s": round(seconds, 2),
            "images_per_s": round(history["images_per_s"][0]),
            "plan_estimate_epoch_s": round(plan_estimate, 2),
            "multiply_adds": macs,
            "ops_per_step": ops,
            "peak_memory_mib": None if peak is None else round(peak / 2**20),
            "t4_epoch_s": {k: {h: round(v, 2) for h, v in x.items()} for k, x in t4.items()},
            "title": w.title,
        }
        rows.append(row)
        report.say(
            f"[colab] {name} {dict(options) or ''} on {n:,} images: {seconds:.2f} s/epoch "
            f"(plan's estimate {plan_estimate:.2f} s)"
        )
    totals = {}
    if len(epoch_seconds) == len(configs):
        totals = notebook_totals(work, epoch_seconds)
        t4_totals = {k: notebook_totals(work, v) for k, v in t4_seconds.items()}
        for nb, t in totals.items():
            for scenario, by_notebook in t4_totals.items():
                t[f"t4_{scenario}_alone_s"] = by_notebook[nb]["alone_s"]
                t[f"t4_{scenario}_in_order_s"] = by_notebook[nb]["in_order_s"]
            # judged on the pessimistic end of the range
            t["fits_t4_in_minutes"] = t["t4_pessimistic_in_order_s"] <= COLAB_MINUTES * 60
    report.step(
        "colab",
        "timings",
        {
            "status": "passed" if totals else "incomplete",
            "detail": f"{len(epoch_seconds)} of {len(configs)} configs timed on {source}"
            + (f"; not timed (budget): {', '.join(not_timed)}" if not_timed else ""),
            "device": describe_device(device),
            "profile": profile.description,
            "data": source,
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
        },
    )
    ctx.epoch_seconds = {c[0]: s for c, s in epoch_seconds.items() if c[2] is None and not c[1]}


# --- stage: references ------------------------------------------------------------------------


@dataclass
class Job:
    net: str
    seed: int
    status: str = "waiting"
    detail: str = ""
    record: dict = field(default_factory=dict)


def parse_recipe(text: str):
    """'paper' (the paper's 164 epochs, step schedule), 'step:E', 'onecycle:E' or 'auto'
    (None: chosen from the budget)."""
    from resnet_utils.training.profiles import Recipe, get_profile

    text = text.strip().lower()
    if text == "auto":
        return None
    if text == "paper":
        return get_profile("full").recipe
    kind, _, epochs = text.partition(":")
    if kind in ("step", "onecycle") and epochs.isdigit() and int(epochs) >= 1:
        if kind == "step":
            return Recipe(epochs=int(epochs), weight_decay=1e-4, schedule="step")
        return Recipe(epochs=int(epochs))
    raise ValueError(f"--recipe {text!r}: use auto, paper, step:EPOCHS or onecycle:EPOCHS.")


def recipe_name(recipe) -> str:
    if recipe.schedule == "step" and recipe.epochs == PAPER_EPOCHS:
        return "paper"
    return f"{recipe.schedule}:{recipe.epochs}"


def makespan(durations: list[float], workers: int) -> float:
    """Wall time of jobs started in this order on ``workers`` slots, each as soon as one frees."""
    free = [0.0] * max(1, workers)
    for d in durations:
        free.sort()
        free[0] += d
    return max(free)


def plan_references(
    epoch_s: dict[str, float],
    jobs: list[tuple[str, int]],
    seconds: float,
    *,
    parallel: int = 1,
    gain: float = 1.0,
    recipe=None,
    min_epochs: int = 10,
    max_epochs: int = PAPER_EPOCHS,
):
    """(recipe, the jobs to run, predicted wall seconds, why) for training ``jobs`` in
    ``seconds``. ``epoch_s``: one process's epoch time per net; with ``parallel`` processes
    side by side, all of them together go ``gain`` times as fast as one alone.

    Given no recipe: the paper's if every job fits (and ``max_epochs`` allows it), else the
    longest one-cycle schedule (of ``min_epochs`` to ``max_epochs``) that fits every job, else
    ``min_epochs`` for as many jobs, in order, as fit. Given one, as many jobs as fit, in order."""
    from resnet_utils.training.profiles import Recipe, get_profile

    slow = parallel / gain  # one job's slowdown beside the others

    def wall(epochs, some):
        return makespan([epochs * epoch_s[n] * slow + JOB_OVERHEAD_S for n, _ in some], parallel)

    def prefix(epochs):
        some = list(jobs)
        while some and wall(epochs, some) > seconds:
            some.pop()
        return some

    if recipe is None:
        paper = get_profile("full").recipe
        if paper.epochs <= max_epochs and wall(paper.epochs, jobs) <= seconds:
            return paper, list(jobs), wall(paper.epochs, jobs), "the paper's recipe fits"
        fitting = [e for e in range(min_epochs, max_epochs + 1) if wall(e, jobs) <= seconds]
        if fitting:
            recipe = Recipe(epochs=max(fitting))
            why = (
                f"the paper's {paper.epochs} epochs need {wall(paper.epochs, jobs):.0f} s of the "
                f"{seconds:.0f} s"
                if paper.epochs <= max_epochs
                else f"at most {max_epochs} epochs asked"
            ) + f": the longest one-cycle schedule that fits all {len(jobs)} runs"
            return recipe, list(jobs), wall(recipe.epochs, jobs), why
        recipe = Recipe(epochs=min_epochs)
        some = prefix(min_epochs)
        why = f"not even {min_epochs} epochs fit all {len(jobs)} runs: the first {len(some)} of them"
        return recipe, some, wall(min_epochs, some), why
    some = prefix(recipe.epochs)
    return recipe, some, wall(recipe.epochs, some), f"as asked; {len(some)} of {len(jobs)} runs fit"


def stage_references(ctx) -> None:
    report, budget, args = ctx.report, ctx.budget, ctx.args
    seeds = (0,) if ctx.smoke else REFERENCE_SEEDS
    jobs = [(n, s) for n in REFERENCE_NETS for s in seeds]
    if not budget.allows(2 * JOB_OVERHEAD_S):
        report.step("references", "plan", skipped("budget"))
        return
    refs = ctx.scratch / "references"
    if args.resume_from:
        for tar in sorted(Path(args.resume_from).glob("references-*.tar")):
            with tarfile.open(tar) as archive:
                archive.extractall(refs, filter="data")
    if not ctx.smoke and ctx.cifar10() is None:
        report.step(
            "references",
            "plan",
            skipped(
                "no CIFAR-10: pass --data, set CIFAR10_DIR, or carry build/cifar10-jpeg.tar.gz "
                "(the ImageFolder layout, tarred)"
            ),
        )
        return
    epoch_s = dict(getattr(ctx, "epoch_seconds", {}))
    if ctx.smoke or not all(n in epoch_s for n in REFERENCE_NETS):
        epoch_s.update(estimate_epochs(ctx, [n for n in REFERENCE_NETS if n not in epoch_s]))
    gain = args.parallel_gain
    if gain is None:
        gain = measure_parallel_gain(ctx) if args.parallel > 1 else 1.0
    recipe = parse_recipe(args.recipe)
    done = {(n, s) for n, s in jobs if _shipped(refs, n, s)}
    todo = [j for j in jobs if j not in done]
    recipe, chosen, predicted, why = plan_references(
        epoch_s,
        todo,
        budget.left(),
        parallel=args.parallel,
        gain=gain,
        recipe=recipe,
        min_epochs=1 if ctx.smoke else args.min_epochs,
        max_epochs=2 if ctx.smoke else PAPER_EPOCHS,
    )
    label = f"gpu-{recipe_name(recipe).replace(':', '-')}"
    report.step(
        "references",
        "plan",
        {
            "status": "planned",
            "detail": f"{recipe_name(recipe)} for {len(chosen)} of {len(todo)} runs "
            f"({len(done)} shipped before), about {predicted:.0f} s: {why}",
            "recipe": recipe.as_dict(),
            "recipe_arg": recipe_name(recipe),
            "epoch_s_one_process": epoch_s,
            "parallel": args.parallel,
            "parallel_gain": gain,
            "runs": [f"{n} seed {s}" for n, s in chosen],
            "continue_with": f"--recipe {recipe_name(recipe)} --resume-from <folder with the tars>",
        },
    )
    if not ctx.smoke:
        ctx.load_cifar10()  # decoded once here, read from the cache by every worker
    slow = args.parallel / gain
    durations = {n: recipe.epochs * epoch_s[n] * slow + JOB_OVERHEAD_S for n in REFERENCE_NETS}
    results = run_jobs(ctx, [Job(n, s) for n, s in chosen], recipe, label, refs, durations)
    pack(refs, ctx.out, report)
    report.step("references", "results", summarise_references(refs, results, jobs))


def _shipped(refs: Path, net: str, seed: int) -> bool:
    return (refs / f"seed{seed}" / f"{net}.json").exists() and (
        refs / f"seed{seed}" / f"{net}.pt"
    ).exists()


def estimate_epochs(ctx, nets) -> dict[str, float]:
    """One process's epoch time per net, from a few timed steps (the notebooks' plan formula)."""
    import torch

    from resnet_utils import build_model
    from resnet_utils.training.data import synthetic
    from resnet_utils.training.loop import seconds_per_step
    from resnet_utils.training.plan import EVAL_SHARE
    from resnet_utils.training.profiles import Recipe

    n_train, n_test = (128, 64) if ctx.smoke else (50_000, 10_000)
    data = synthetic(min(n_train, 2048), 64, seed=0)
    recipe = Recipe(epochs=1, batch_size=64 if ctx.smoke else 128)
    out = {}
    for net in nets:
        torch.manual_seed(0)
        step = seconds_per_step(build_model(net), data, recipe, device=ctx.device, steps=5)
        out[net] = step * (n_train // recipe.batch_size + EVAL_SHARE * n_test / recipe.batch_size)
    return out


def measure_parallel_gain(ctx) -> float:
    """How much faster ``--parallel`` processes side by side train together than one alone:
    each times the same steps after a common start (a file barrier), as does one alone."""
    n = ctx.args.parallel
    steps = 5 if ctx.smoke else 40

    def timed(count):
        barrier = Path(tempfile.mkdtemp(dir=ctx.scratch, prefix="barrier-"))
        spec = {"mode": "time", "device": ctx.device, "steps": steps, "barrier": str(barrier)}
        spec["batch_size"] = 16 if ctx.smoke else 128
        procs = []
        for i in range(count):
            job = dict(spec, index=i)
            with ctx.report.log_path.open("a") as log:
                cmd = [sys.executable, __file__, "--worker", json.dumps(job)]
                procs.append(
                    subprocess.Popen(cmd, cwd=ROOT, env=ctx.env(), stdout=log, stderr=subprocess.STDOUT)
                )
        deadline = time.monotonic() + 120
        while len(list(barrier.glob("ready-*"))) < count and time.monotonic() < deadline:
            time.sleep(0.05)
        (barrier / "go").touch()
        for p in procs:
            try:
                p.wait(timeout=max(1.0, min(120.0, ctx.budget.left())))
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        times = [json.loads(f.read_text())["seconds"] for f in barrier.glob("result-*")]
        return statistics.fmean(times) if len(times) == count else None

    if not ctx.budget.allows(90):
        return 1.0
    alone, together = timed(1), timed(n)
    if not alone or not together:
        ctx.report.say("[references] could not measure the parallel gain: assuming none (1.0)")
        return 1.0
    gain = n * alone / together
    ctx.report.say(f"[references] {n} processes side by side: {gain:.2f}x the throughput of one")
    return gain


def run_jobs(ctx, jobs: list[Job], recipe, label: str, refs: Path, durations: dict) -> list[Job]:
    """Train the jobs, ``--parallel`` at a time, each in its own process; none starts that the
    budget cannot hold, and those still running at the deadline are stopped (their checkpoint
    of the last finished epoch stays, and comes back in the tars)."""
    running: dict[int, tuple[Job, subprocess.Popen, float]] = {}
    queue = list(jobs)
    last_pack = time.monotonic()
    logs = ctx.scratch / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    stop_signal = signal.SIGINT  # a KeyboardInterrupt in fit: the checkpoint is already on disk
    while queue or running:
        for key, (job, proc, _) in list(running.items()):
            if proc.poll() is not None:
                del running[key]
                result = refs / "results" / f"{job.net}-seed{job.seed}.json"
                if proc.returncode == 0 and result.exists():
                    job.status, job.record = "done", json.loads(result.read_text())
                    job.detail = f"test accuracy {job.record['test_acc']:.2%}"
                else:
                    job.status = "failed" if job.status == "running" else job.status
                    job.detail = job.detail or f"exit {proc.returncode}; see the log"
                ctx.report.say(f"[references] {job.net} seed {job.seed}: {job.status} {job.detail}")
        while queue and len(running) < ctx.args.parallel:
            job = queue.pop(0)
            if not ctx.budget.allows(durations[job.net]):
                job.status, job.detail = "not started", f"needs about {durations[job.net]:.0f} s"
                ctx.report.say(f"[references] {job.net} seed {job.seed}: {job.status}, {job.detail}")
                continue
            spec = {
                "mode": "train",
                "net": job.net,
                "seed": job.seed,
                "recipe": recipe.as_dict(),
                "label": label,
                "device": ctx.device,
                "refs": str(refs),
                "smoke": ctx.smoke,
                "data": str(ctx.cifar10()) if not ctx.smoke else None,
            }
            log = (logs / f"{job.net}-seed{job.seed}.log").open("w")
            proc = subprocess.Popen(
                [sys.executable, __file__, "--worker", json.dumps(spec)],
                cwd=ROOT,
                env=ctx.env(),
                stdout=log,
                stderr=subprocess.STDOUT,
            )
            job.status = "running"
            running[id(job)] = (job, proc, time.monotonic())
        if ctx.budget.left() <= 0:
            for job, proc, _ in running.values():
                proc.send_signal(stop_signal)
                job.status, job.detail = "cut off", "stopped at the deadline; checkpoint kept"
            deadline = time.monotonic() + 15
            for _, proc, _ in running.values():
                try:
                    proc.wait(timeout=max(0.1, deadline - time.monotonic()))
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
            for job, _, _ in running.values():
                ctx.report.say(f"[references] {job.net} seed {job.seed}: {job.status}")
            running.clear()
            for job in queue:
                job.status, job.detail = "not started", "budget"
            queue.clear()
        if time.monotonic() - last_pack > 60:  # so that a call killed from outside still returns work
            try:
                pack(refs, ctx.out, ctx.report)
            except Exception as error:  # packing must never stop the training
                ctx.report.say(f"[references] packing failed ({error}); trying again later")
            last_pack = time.monotonic()
        time.sleep(0.5)
    with ctx.report.log_path.open("a") as out:
        for path in sorted(logs.glob("*.log")):
            out.write(f"--- {path.name}\n{path.read_text()[-4000:]}\n")
    return jobs


def worker(spec: dict) -> int:
    """One reference net (mode 'train') or one timing (mode 'time'), in a process of its own."""
    import torch

    from resnet_utils import build_model
    from resnet_utils.training.data import synthetic
    from resnet_utils.training.profiles import Recipe

    if spec["mode"] == "time":
        from resnet_utils.training.loop import seconds_per_step

        barrier = Path(spec["barrier"])
        data = synthetic(1024, 64, seed=0)
        recipe = Recipe(epochs=1, batch_size=spec["batch_size"])
        models = [build_model(n) for n in ("resnet20", "resnet56")]
        for m in models:  # warm-up: kernel choices, allocator
            seconds_per_step(m, data, recipe, device=spec["device"], steps=2)
        (barrier / f"ready-{spec['index']}").touch()
        while not (barrier / "go").exists():
            time.sleep(0.005)
        seconds = sum(
            seconds_per_step(m, data, recipe, device=spec["device"], steps=spec["steps"]) for m in models
        )
        (barrier / f"result-{spec['index']}").write_text(json.dumps({"seconds": seconds}))
        return 0

    from resnet_utils.course.reference import ship_net
    from resnet_utils.training.cache import RunCache
    from resnet_utils.training.cifar10 import load_cifar10
    from resnet_utils.training.runs import train

    refs = Path(spec["refs"])
    data = synthetic(128, 64, seed=0) if spec["smoke"] else load_cifar10(spec["data"], download=False)
    recipe = Recipe(**{**spec["recipe"], "milestones": tuple(spec["recipe"]["milestones"])})
    if spec["smoke"]:
        recipe = Recipe(**{**recipe.as_dict(), "batch_size": 64})
    started = time.perf_counter()
    run = train(
        spec["net"],
        data,
        recipe,
        seed=spec["seed"],
        device=torch.device(spec["device"]),
        cache=RunCache(refs / "runs"),
        progress=False,
    )
    if run.diverged:
        print(f"{spec['net']} seed {spec['seed']}: diverged in epoch {run.history['diverged_epoch']}")
        return 3
    record = ship_net(run, data, refs / f"seed{spec['seed']}", budget=spec["label"])
    result = {
        "net": spec["net"],
        "seed": spec["seed"],
        "epochs": record["epochs"],
        "test_acc": record["final"]["test_acc"],
        "test_acc_fp32": record["test_acc_fp32"],
        "training_seconds": record["training_seconds"],
        "call_seconds": round(time.perf_counter() - started, 1),
        "recipe": record["recipe"],
        "device": record["device"],
    }
    (refs / "results").mkdir(parents=True, exist_ok=True)
    (refs / "results" / f"{spec['net']}-seed{spec['seed']}.json").write_text(json.dumps(result))
    print(json.dumps(result))
    return 0


def pack(refs: Path, out: Path, report: Report) -> list[Path]:
    """The shipped nets, results and unfinished checkpoints under ``refs`` into at most
    ``MAX_TARS`` tars of up to ``TAR_LIMIT`` bytes in ``out`` (what the device tool brings
    back); the checkpoints of finished runs are left out."""
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


def summarise_references(refs: Path, jobs: list[Job], all_jobs) -> dict:
    """Per run its status; per net the mean, spread and range of test accuracy over seeds,
    beside Table 6."""
    results = {}
    for path in sorted((refs / "results").glob("*.json")) if (refs / "results").exists() else []:
        r = json.loads(path.read_text())
        results[(r["net"], r["seed"])] = r
    by_job = {(j.net, j.seed): j for j in jobs}
    runs = []
    for net, seed in all_jobs:
        job = by_job.get((net, seed))
        r = results.get((net, seed))
        status = "done" if r else (job.status if job else "not planned")
        runs.append({"net": net, "seed": seed, "status": status, "result": r})
    nets = {}
    for net in REFERENCE_NETS:
        accs = [r["test_acc_fp32"] for (n, _), r in results.items() if n == net]
        if accs:
            nets[net] = {
                "seeds": len(accs),
                "mean_test_acc": statistics.fmean(accs),
                "std_test_acc": statistics.stdev(accs) if len(accs) > 1 else None,
                "min": min(accs),
                "max": max(accs),
                "table6": TABLE6_ACCURACY.get(net),
            }
    done = sum(r["status"] == "done" for r in runs)
    counts = {}
    for r in runs:
        counts[r["status"]] = counts.get(r["status"], 0) + 1
    statuses = ", ".join(f"{n} {k}" for k, n in counts.items())
    detail = ", ".join(
        f"{n} {v['mean_test_acc']:.2%}"
        + (f" ± {v['std_test_acc']:.2%}" if v["std_test_acc"] is not None else "")
        + f" ({v['seeds']} seeds)"
        for n, v in nets.items()
    )
    return {
        "status": "passed" if done == len(runs) else "partial",
        "detail": f"{done} of {len(runs)} runs shipped ({statuses}); {detail}",
        "runs": runs,
        "nets": nets,
        "accuracy": "fp32 re-evaluation on the test split (ship_net's test_acc_fp32)",
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
            "| net | options | images | epoch s | plan's estimate s | G multiply-adds "
            "| ops per step | peak MiB | T4 epoch s (estimate) |",
        ]
        lines += ["|---|---|---|---|---|---|---|---|---|"]
        for r in colab["nets"]:
            t4 = r["t4_epoch_s"]
            lines.append(
                f"| {r['net']} | {r['options'] or '-'} | {r['train_images']:,} | {r['epoch_s']} | "
                f"{r['plan_estimate_epoch_s']} | {r['multiply_adds'] / 1e9:.3f} | "
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
    def __init__(self, args, report, budget, scratch):
        self.args, self.report, self.budget, self.scratch = args, report, budget, scratch
        self.device, self.smoke, self.out = args.device, args.smoke, report.out
        self.device_type = args.device.split(":")[0]
        self.site = None
        self._cifar = False

    def env(self, **extra) -> dict:
        env = dict(os.environ, PYTHONUNBUFFERED="1", **extra)
        paths = [str(ROOT)] + ([self.site] if self.site else [])
        env["PYTHONPATH"] = os.pathsep.join(paths + [p for p in [env.get("PYTHONPATH")] if p])
        return env

    def step_timeout(self) -> float:
        return min(self.budget.left(), STEP_CAP_S)

    def cifar10(self) -> Path | None:
        if self._cifar is False:
            self._cifar = find_cifar10(self.args.data, self.scratch)
        return self._cifar

    def load_cifar10(self):
        from resnet_utils.training.cifar10 import load_cifar10

        return load_cifar10(self.cifar10(), download=False)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default=None, help="cuda (default where there is one) or cpu")
    parser.add_argument(
        "--stages", default=",".join(STAGES), help=f"comma-separated: {','.join(STAGES)}"
    )
    parser.add_argument("--budget-s", type=float, default=540.0, help="hard wall-clock budget")
    parser.add_argument("--out", type=Path, default=None, help="default $OUT, else build/gpu-check")
    parser.add_argument("--smoke", action="store_true", help="shrink every stage (tests the script)")
    parser.add_argument("--parallel", type=int, default=1, help="reference-net processes at a time")
    parser.add_argument(
        "--parallel-gain",
        type=float,
        default=None,
        help="their throughput over one's (default: measured)",
    )
    parser.add_argument("--recipe", default="auto", help="auto, paper, step:EPOCHS or onecycle:EPOCHS")
    parser.add_argument("--min-epochs", type=int, default=10, help="the shortest schedule auto picks")
    parser.add_argument("--data", default=None, help="CIFAR-10 folder or archive (default $CIFAR10_DIR)")
    parser.add_argument(
        "--wheels", type=Path, default=ROOT / "build" / "wheels", help="wheels to install if missing"
    )
    parser.add_argument("--resume-from", type=Path, default=None, help="a folder of references-*.tar")
    parser.add_argument("--bench-compile", action="store_true", help="bench torch.compile as well")
    parser.add_argument("--scratch", type=Path, default=None, help="working files (default: a temp dir)")
    parser.add_argument("--worker", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        return worker(json.loads(args.worker))
    try:
        stages = parse_stages(args.stages)
    except ValueError as error:
        parser.error(str(error))
    if args.parallel < 1:
        parser.error(f"--parallel must be 1 or more, not {args.parallel}.")
    try:
        parse_recipe(args.recipe)
    except ValueError as error:
        parser.error(str(error))

    import torch

    if args.device is None:
        args.device = "cuda" if torch.cuda.is_available() else "cpu"
    if args.device.startswith("cuda") and not torch.cuda.is_available():
        parser.error("--device cuda, but torch sees no CUDA device here: use --device cpu.")
    # absolute: papermill starts the notebook kernel in notebooks/, where a relative path breaks
    out = (args.out or Path(os.environ.get("OUT") or ROOT / "build" / "gpu-check")).resolve()
    scratch = (args.scratch or Path(tempfile.mkdtemp(prefix="gpu-check-"))).resolve()
    scratch.mkdir(parents=True, exist_ok=True)
    # one data cache for this process and its workers: CIFAR-10 is decoded once
    os.environ.setdefault("RESNET_CACHE_DIR", str(scratch / "cache"))
    budget = Budget(args.budget_s)
    shown = {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items() if k != "worker"}
    report = Report(out, dict(shown, stages=stages))
    ctx = Context(args, report, budget, scratch)

    from resnet_utils.training.hardware import autocast_dtype, describe_device, precision_name

    device = torch.device(args.device)
    report.data["device"] = f"{describe_device(device)}, {precision_name(autocast_dtype(device))}"
    report.data["torch"] = torch.__version__
    wanted = ["pytest", "papermill", "ipykernel", "nbformat", "nbclient", "ipywidgets"]
    if missing_modules(wanted):
        ctx.site = install_wheels(args.wheels, scratch / "site", report)
    report.data["missing"] = missing_modules(wanted)
    report.say(f"gpu-check on {report.data['device']}, stages {stages}, budget {args.budget_s:.0f} s")
    if report.data["missing"]:
        report.say(f"missing: {report.data['missing']} (the steps needing them are skipped)")
    runners = {
        "tests": stage_tests,
        "bench": stage_bench,
        "colab": stage_colab,
        "references": stage_references,
    }
    try:
        for stage in stages:
            try:
                runners[stage](ctx)
            except Exception as error:  # one broken stage must not cost the others
                import traceback

                report.say(traceback.format_exc())
                report.step(
                    stage, "error", {"status": "failed", "detail": f"{type(error).__name__}: {error}"}
                )
    finally:
        report.data["elapsed_s"] = round(budget.elapsed(), 1)
        report.save()
        text = summary_markdown(report.data)
        (out / "summary.md").write_text(text)
        print("\n" + text)
        if args.scratch is None:
            shutil.rmtree(scratch, ignore_errors=True)
    failed = [
        f"{s}/{k}"
        for s, steps in report.data["stages"].items()
        for k, r in steps.items()
        if r.get("status") == "failed"
    ]
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
