"""Training throughput, three ways, interleaved so that machine noise hits all of them alike.

1. reference: the syllabus' pipeline, written fresh: a CIFAR-style dataset of uint8 arrays
   with per-image PIL transforms (pad+crop, flip, ToTensor, Normalize) in a DataLoader,
   fp32, NCHW;
2. ours: ``resnet_utils.fit`` as the notebooks call it (batched augmentation on the device,
   channels_last, autocast where the hardware has a fast low-precision format, per-layer
   gradient norms recorded);
3. limit: ``fit``'s training step (``resnet_utils.training.step.TrainingStep``: forward, backward,
   optimizer step, in our number format and memory layout) on one batch already on the
   device, and nothing else (no augmentation, no gradient norms).

``--busy N`` measures all three while another process trains ResNet-20 with N threads, as a
second notebook (or any training beside this one) would: the "machine busy" column.

Usage: python benchmarks/bench.py [--models resnet20 resnet56 resnet50] [--repeats 3]
       [--steps 20] [--device cpu|cuda] [--out results/bench-<device>.json] [--busy N]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
import torchvision
from torch.utils.data import DataLoader, Dataset
from torchvision import transforms

from resnet_utils import Recipe, build_model, fit, synthetic
from resnet_utils.training.data import MEAN, STD
from resnet_utils.training.hardware import autocast_dtype, describe_device, precision_name
from resnet_utils.training.step import TrainingStep, one_batch, synchronize, time_steps

BATCH = 128


def make_model(name: str) -> torch.nn.Module:
    if name == "resnet50":  # torchvision's ImageNet net on 32x32 inputs, as the syllabus does
        return torchvision.models.resnet50(num_classes=10)
    return build_model(name)


class SyllabusDataset(Dataset):
    """What torchvision's CIFAR10 does per item: an HWC uint8 array to PIL, then transforms."""

    def __init__(self, images: np.ndarray, labels: list[int]):
        self.images, self.labels = images, labels
        self.transform = transforms.Compose(
            [
                transforms.RandomCrop(32, padding=4),
                transforms.RandomHorizontalFlip(),
                transforms.ToTensor(),
                transforms.Normalize(MEAN, STD),
            ]
        )

    def __len__(self):
        return len(self.labels)

    def __getitem__(self, i):
        from PIL import Image

        return self.transform(Image.fromarray(self.images[i])), self.labels[i]


def reference(name, data, steps, device) -> float:
    torch.manual_seed(0)
    model = make_model(name).to(device)
    opt = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9, weight_decay=5e-4)
    dataset = SyllabusDataset(data.train_x.permute(0, 2, 3, 1).numpy(), data.train_y.tolist())
    loader = DataLoader(dataset, batch_size=BATCH, shuffle=True, num_workers=0, drop_last=True)
    model.train()
    batches = iter(loader)
    for step in range(steps + 2):  # two warm-up steps
        if step == 2:
            synchronize(device)
            start = time.perf_counter()
        x, y = next(batches)
        x, y = x.to(device), y.to(device)
        loss = F.cross_entropy(model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        loss.item()  # the syllabus logs the loss every step
    synchronize(device)
    return steps * BATCH / (time.perf_counter() - start)


def ours(name, data, steps, device, compile=False) -> float:
    torch.manual_seed(0)
    model = make_model(name)
    # warm-up run (kernel selection, allocator; compilation with --compile), then the measured one
    start = time.perf_counter()
    fit(
        model,
        data.subset(2 * BATCH, 10),
        Recipe(epochs=1),
        device=device,
        progress=False,
        compile=compile,
    )
    if compile:
        COMPILE_SECONDS.setdefault(name, []).append(time.perf_counter() - start)
    history = fit(model, data, Recipe(epochs=1), device=device, progress=False, compile=compile)
    return history["images_per_s"][0]


def ours_compiled(name, data, steps, device) -> float:
    return ours(name, data, steps, device, compile=True)


COMPILE_SECONDS: dict[str, list[float]] = {}


def limit(name, data, steps, device) -> float:
    torch.manual_seed(0)
    take_step = TrainingStep(make_model(name), Recipe(epochs=1, lr=0.05), device)
    x = torch.randn(BATCH, 3, 32, 32, device=device)
    y = torch.randint(0, 10, (BATCH,), device=device)
    return BATCH / time_steps(take_step, one_batch(x, y, take_step.memory_format), steps, warmup=2)


WAYS = {"reference": reference, "ours": ours, "limit": limit}


def compete() -> None:
    """Train ResNet-20 in this process until killed: the other work on a busy machine."""
    take_step = TrainingStep(build_model("resnet20"), Recipe(epochs=1, lr=0.05), torch.device("cpu"))
    x, y = torch.randn(BATCH, 3, 32, 32), torch.randint(0, 10, (BATCH,))
    while True:
        take_step(x, y)


def start_competitor(threads: int) -> subprocess.Popen:
    env = {**os.environ, "OMP_NUM_THREADS": str(threads)}
    process = subprocess.Popen([sys.executable, __file__, "--compete"], env=env)
    time.sleep(5)  # past its start-up, into its training
    if process.poll() is not None:
        raise SystemExit(f"the competing training exited at once (code {process.returncode})")
    return process


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", default=["resnet20", "resnet56", "resnet50"])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--steps", type=int, default=20, help="timed steps per measurement")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--out", default=None, help="JSON file (default results/bench-<device>.json)")
    parser.add_argument("--compile", action="store_true", help="also measure ours with torch.compile")
    parser.add_argument(
        "--busy",
        type=int,
        default=0,
        metavar="THREADS",
        help="measure while another process trains ResNet-20 with THREADS threads",
    )
    parser.add_argument("--compete", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.compete:
        return compete()
    competitor = start_competitor(args.busy) if args.busy else None
    try:
        measure_all(args)
    finally:
        if competitor:
            competitor.kill()
            competitor.wait()


def measure_all(args) -> None:
    if args.compile:
        WAYS["ours+compile"] = ours_compiled
    device = torch.device(args.device)
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True
    # the same images for every way: enough for the timed steps, synthetic (no download)
    data = synthetic((args.steps + 2) * BATCH, 10, seed=0)

    samples = {m: {w: [] for w in WAYS} for m in args.models}
    for repeat in range(args.repeats):
        for model in args.models:
            for way, measure in WAYS.items():
                rate = measure(model, data, args.steps, device)
                samples[model][way].append(rate)
                print(
                    f"repeat {repeat + 1}/{args.repeats} {model:>9} {way:>9}: {rate:8.0f} images/s",
                    flush=True,
                )

    rows = {}
    for model, by_way in samples.items():
        med = {w: statistics.median(v) for w, v in by_way.items()}
        rows[model] = {
            **{w: {"min": min(v), "median": med[w], "max": max(v)} for w, v in by_way.items()},
            "ours/reference": med["ours"] / med["reference"],
            "ours/limit": med["ours"] / med["limit"],
        }
        if "ours+compile" in med:
            rows[model]["compiled/ours"] = med["ours+compile"] / med["ours"]
    result = {
        "device": describe_device(device),
        "precision (ours, limit)": precision_name(autocast_dtype(device)),
        "batch": BATCH,
        "timed_steps": args.steps,
        "repeats": args.repeats,
        "torch": torch.__version__,
        "python": platform.python_version(),
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "images_per_s": rows,
        "machine": (
            f"busy: another process training ResNet-20 with {args.busy} "
            f"thread{'s' if args.busy != 1 else ''}"
            if args.busy
            else "idle (nothing else training)"
        ),
    }
    if COMPILE_SECONDS:
        result["compile_warmup_seconds"] = {m: statistics.median(v) for m, v in COMPILE_SECONDS.items()}
    print()
    print(table(result))
    out = Path(args.out or f"results/bench-{device.type}.json")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=1))
    print(f"\nwritten to {out}")


def table(result) -> str:
    lines = [
        f"{result['device']}, batch {result['batch']}, "
        f"ours/limit in {result['precision (ours, limit)']}, "
        f"median (min-max) of {result['repeats']} interleaved repeats, images/s; "
        f"machine {result.get('machine', 'idle')}",
        "",
        "| model | " + " | ".join(WAYS) + " | ours/reference | ours/limit |",
        "|---" * (len(WAYS) + 3) + "|",
    ]
    for model, r in result["images_per_s"].items():
        cells = [f"{r[w]['median']:.0f} ({r[w]['min']:.0f}-{r[w]['max']:.0f})" for w in WAYS]
        lines.append(
            f"| {model} | "
            + " | ".join(cells)
            + f" | {r['ours/reference']:.2f} | {r['ours/limit']:.2f} |"
        )
    for model, seconds in result.get("compile_warmup_seconds", {}).items():
        lines.append(
            f"torch.compile: the first, compiling epoch (2 batches) of {model} took {seconds:.0f} s"
        )
    return "\n".join(lines)


if __name__ == "__main__":
    main()
