"""Where an fp32 training step's time goes on a CPU, and what each lever is worth.

Measured in one process, interleaved over repeats (medians), for ResNet-20 and ResNet-56 at
batch 128 with autocast off (fp32, as a CPU without bf16 trains):

- the step limit (``fit``'s training step, ``resnet_utils.training.step.TrainingStep``: forward,
  loss, backward, SGD step, on a batch already in memory) in channels_last and in NCHW
  (contiguous) layout;
- the same step with the per-layer gradient-norm bookkeeping that ``fit`` does;
- the same step with the model under ``torch.compile`` (its compile time reported apart);
- the batch preparation as ``fit`` does it (gather, pad, crop, flip, normalise) of one batch;
- one evaluation of 2,000 test images (the quick profile's test set), as a share of an
  epoch of the quick profile's training (78 steps);
- the torch profiler's split of one step's CPU time by operator family.

    python benchmarks/fp32_levers.py [--models resnet20 resnet56] [--repeats 3] [--steps 10]
        [--compile] [--out results/fp32-levers.json]

Thread counts and OpenMP's wait policy are process-wide: ``--threads`` and the environment
(``OMP_WAIT_POLICY``) set them, so compare those in separate runs.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import time
from datetime import datetime, timezone
from pathlib import Path

import torch

from resnet_utils import Recipe, build_model, synthetic
from resnet_utils.training.data import normalize
from resnet_utils.training.hardware import describe_device
from resnet_utils.training.loop import evaluate
from resnet_utils.training.step import GradNorms, TrainingStep, one_batch, prepare_batch, time_steps

BATCH = 128
QUICK_STEPS_PER_EPOCH = 10_000 // BATCH
QUICK_TEST_IMAGES = 2_000
RECIPE = Recipe(epochs=1, lr=0.01)  # the optimiser of the timed steps (SGD, momentum, decay)


def make_step(name: str, layout=torch.channels_last, compile=False) -> TrainingStep:
    """``fit``'s training step for a fresh ``name`` in fp32, its weights drawn from seed 0."""
    torch.manual_seed(0)
    model = build_model(name).train()
    return TrainingStep(model, RECIPE, "cpu", autocast=False, compile=compile, memory_format=layout)


def step_rate(step: TrainingStep, x, y, steps, *, norms=False) -> float:
    """Images per second of bare training steps (two untimed warm-up steps first); with
    ``norms``, with the per-layer gradient-norm bookkeeping ``fit`` does in each step."""
    on_gradients = GradNorms(step.model).add if norms else None
    batch = one_batch(x, y, step.memory_format)
    return BATCH / time_steps(step, batch, steps, warmup=2, on_gradients=on_gradients)


def augment_seconds(data, repeats=20) -> float:
    """One batch's preparation as ``fit`` does it: gather, pad, crop, flip, normalise, layout."""
    generator = torch.Generator().manual_seed(0)
    index = torch.arange(BATCH)
    start = time.perf_counter()
    for _ in range(repeats):
        prepare_batch(data.train_x, index, generator, augment=True)
    return (time.perf_counter() - start) / repeats


def profile_split(name, x, y) -> dict[str, float]:
    """Share of one step's self CPU time by operator family (torch profiler)."""
    from torch.profiler import ProfilerActivity, profile

    step = make_step(name)
    x = x.contiguous(memory_format=step.memory_format)
    for _ in range(2):
        step(x, y)
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        for _ in range(3):
            step(x, y)
    families = {
        "convolution": ("conv", "mkldnn_convolution"),
        "batch norm": ("batch_norm",),
        "relu": ("relu", "threshold"),
        "optimizer": ("sgd", "foreach", "_fused", "add_", "mul_", "lerp"),
    }
    totals = dict.fromkeys([*families, "other"], 0.0)
    for event in prof.key_averages():
        name = event.key.lower()
        family = next((f for f, keys in families.items() if any(k in name for k in keys)), "other")
        totals[family] += event.self_cpu_time_total
    whole = sum(totals.values()) or 1.0
    return {k: round(v / whole, 3) for k, v in totals.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", default=["resnet20", "resnet56"])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--compile", action="store_true", help="also time the step under torch.compile")
    parser.add_argument("--out", default="results/fp32-levers.json")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    data = synthetic(QUICK_TEST_IMAGES + BATCH, QUICK_TEST_IMAGES, seed=0)
    x = normalize(data.train_x[:BATCH])
    y = data.train_y[:BATCH]
    ways = {  # memory layout, and whether the step keeps fit's gradient norms
        "channels_last": (torch.channels_last, False),
        "nchw": (torch.contiguous_format, False),
        "channels_last + grad norms": (torch.channels_last, True),
    }
    rows, compile_seconds = {}, {}
    for name in args.models:
        samples = {w: [] for w in ways}
        if args.compile:
            samples["channels_last + compile"] = []
        for _ in range(args.repeats):
            for way, (layout, norms) in ways.items():
                step = make_step(name, layout)
                samples[way].append(step_rate(step, x, y, args.steps, norms=norms))
            if args.compile:
                compiled = make_step(name, compile=True)
                start = time.perf_counter()
                step_rate(compiled, x, y, 1)
                compile_seconds.setdefault(name, []).append(time.perf_counter() - start)
                samples["channels_last + compile"].append(step_rate(compiled, x, y, args.steps))
        medians = {w: statistics.median(v) for w, v in samples.items()}
        torch.manual_seed(0)
        model = build_model(name).to(memory_format=torch.channels_last)
        start = time.perf_counter()
        evaluate(model, data, device="cpu", autocast=False)
        eval_seconds = time.perf_counter() - start
        epoch_seconds = QUICK_STEPS_PER_EPOCH * BATCH / medians["channels_last + grad norms"]
        rows[name] = {
            "images_per_s": {w: round(v) for w, v in medians.items()},
            "nchw / channels_last": round(medians["nchw"] / medians["channels_last"], 3),
            "grad norms cost": round(
                1 - medians["channels_last + grad norms"] / medians["channels_last"], 3
            ),
            "augment_seconds_per_batch": round(augment_seconds(data), 4),
            "eval_2000_seconds": round(eval_seconds, 2),
            "eval share of a quick epoch": round(eval_seconds / (epoch_seconds + eval_seconds), 3),
            "profile_split": profile_split(name, x, y),
        }
        if args.compile:
            rows[name]["compiled / channels_last"] = round(
                medians["channels_last + compile"] / medians["channels_last"], 3
            )
            rows[name]["compile_seconds"] = round(statistics.median(compile_seconds[name]), 1)
        print(name, json.dumps(rows[name], indent=1), flush=True)
    result = {
        "device": describe_device(torch.device("cpu")),
        "precision": "fp32",
        "cpu": platform.processor() or platform.machine(),
        "batch": BATCH,
        "repeats": args.repeats,
        "timed_steps": args.steps,
        "torch": torch.__version__,
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "models": rows,
    }
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=1))
    print(f"written to {args.out}")


if __name__ == "__main__":
    main()
