"""Train the course's reference nets on all of CIFAR-10 and ship them in the package.

    python tools/train_references.py --epochs 10 [--nets resnet56 plain56 ...] [--seeds 0 1 2]
                                     [--deadline SECONDS]

Each net and seed is trained through the run cache (``--cache``, default
``build/reference-cache``), so an interrupted call picks up the runs it has finished; each
finished run is shipped at once to ``resnet_utils/reference_nets/<name>-seed<k>.pt`` with its
record (``.json``): recipe, seed, data, device, thread count, number format, versions, date,
history, final accuracies and the weights' sha256. ``--deadline`` starts no net after that
many seconds from the start (a net already training finishes): a caller with a time budget
gives it the budget less the longest run, and a later call resumes from the cache.
Needs the CIFAR-10 copy in ``$CIFAR10_DIR`` (or ``--data``).
"""

from __future__ import annotations

import argparse
import hashlib
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import torch  # noqa: E402

from resnet_utils.course.provenance import machine, versions  # noqa: E402
from resnet_utils.course.reference import (  # noqa: E402
    NETS_FOLDER,
    file_stem,
    load_net,
    load_record,
    pack_correct,
    shipped_seeds,
)
from resnet_utils.storage.atomic import save_json, save_tensors  # noqa: E402
from resnet_utils.training.cache import RunCache  # noqa: E402
from resnet_utils.training.cifar10 import load_cifar10  # noqa: E402
from resnet_utils.training.hardware import describe_device  # noqa: E402
from resnet_utils.training.loop import correct_per_image, evaluate  # noqa: E402
from resnet_utils.training.profiles import Recipe  # noqa: E402
from resnet_utils.training.runs import CURVES, train  # noqa: E402

NETS = ("resnet56", "plain56", "resnet20", "plain20")


def ship_net(run, data, folder: str | Path, *, budget: str) -> dict:
    """Write ``run``'s weights and record to ``folder/<name>-seed<k>.pt`` and ``.json``; return
    the record (what ``resnet_utils.course.reference`` loads and checks).

    The record carries the weights' sha256, re-evaluated fp32 test accuracy, and everything
    needed to say where the net came from (the thread count too: runs differ by it)."""
    folder = Path(folder)
    seed = run.spec["seed"]
    model = run.model.to("cpu", memory_format=torch.contiguous_format)
    weights = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    pt = folder / f"{file_stem(run.name, seed)}.pt"
    save_tensors(pt, weights)
    test_loss32, test_acc32 = evaluate(model, data, device="cpu", autocast=False)
    # scored as the training scored it (its number format), so the mean is its test accuracy
    correct = correct_per_image(model, data, device="cpu")
    history = run.history
    record = {
        "name": run.name,
        "options": run.options,
        "budget": budget,
        "recipe": run.spec["recipe"],
        "seed": seed,
        "data": data.describe(),
        "data_fingerprint": data.fingerprint,
        "device": describe_device(torch.device(history["device"])),
        "machine": machine(),
        "threads": torch.get_num_threads(),
        "precision": history["precision"],
        "versions": versions(),
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "training_seconds": round(sum(history["seconds"]), 1),
        "epochs": len(history["epoch"]),
        "final": {c: history[c][-1] for c in CURVES},
        "test_acc_fp32": test_acc32,
        "test_loss_fp32": test_loss32,
        "test_size": len(data.test_y),
        "test_correct": pack_correct(correct),
        "train_size": len(data.train_y),
        "history": {k: history[k] for k in (*CURVES, "epoch", "lr", "seconds", "images_per_s")},
        "layout": run.spec["layout"],
        "keys": len(weights),
        "sha256": hashlib.sha256(pt.read_bytes()).hexdigest(),
    }
    save_json(folder / f"{file_stem(run.name, seed)}.json", record, strict=True)
    return record


def score_shipped(folder: Path, data_dir, nets) -> int:
    """Add ``test_correct`` to every shipped record of ``nets`` that lacks it: the net is
    loaded (its sha256 checked) and scored on the CPU in this machine's number format, which
    is the training's where the nets were trained (the record's accuracy is checked against
    it). The weights are not touched."""
    data = None
    for name in nets:
        for seed in shipped_seeds(name, folder):
            record = load_record(name, folder, seed=seed)
            if "test_correct" in record:
                continue
            data = data or load_cifar10(data_dir, download=False)
            correct = correct_per_image(load_net(name, folder, seed=seed), data, device="cpu")
            accuracy = correct.float().mean().item()
            if abs(accuracy - record["final"]["test_acc"]) > 0.0005:
                print(
                    f"{name} seed {seed}: scored {accuracy:.2%} here, its record says "
                    f"{record['final']['test_acc']:.2%}: not written (another number format?)"
                )
                continue
            record["test_correct"] = pack_correct(correct)
            save_json(folder / f"{file_stem(name, seed)}.json", record, strict=True)
            print(
                f"{name} seed {seed}: {accuracy:.2%} of {len(correct):,} test images right, added",
                flush=True,
            )
    return 0


def main(argv=None) -> int:
    began = time.perf_counter()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--nets", nargs="+", default=list(NETS))
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    parser.add_argument("--data", default=None, help="CIFAR-10 copy (default: $CIFAR10_DIR)")
    parser.add_argument("--cache", type=Path, default=ROOT / "build" / "reference-cache")
    parser.add_argument("--out", type=Path, default=ROOT / "resnet_utils" / NETS_FOLDER)
    parser.add_argument("--label", default="cpu", help="the budget's name in the records")
    parser.add_argument(
        "--deadline",
        type=float,
        default=None,
        metavar="SECONDS",
        help="start no net after this many seconds (one already training finishes)",
    )
    parser.add_argument(
        "--score",
        action="store_true",
        help="train nothing: add the per-image test scores to shipped records that lack them",
    )
    args = parser.parse_args(argv)
    if args.score:
        return score_shipped(args.out, args.data, args.nets)

    recipe = Recipe(epochs=args.epochs)  # one-cycle, max lr 0.1, batch 128, wd 5e-4, crop+flip
    jobs = [(name, seed) for seed in args.seeds for name in args.nets]
    data = None  # loaded for the first net started (a deadline already passed needs none)
    for done, (name, seed) in enumerate(jobs):
        started = time.perf_counter()
        if args.deadline is not None and started - began >= args.deadline:
            left = ", ".join(f"{n} seed {s}" for n, s in jobs[done:])
            print(
                f"deadline of {args.deadline:g} s reached: not started {left}. Run this again to "
                "train them (the runs finished so far load from the cache).",
                flush=True,
            )
            return 0
        if data is None:
            data = load_cifar10(args.data, download=False)
        run = train(name, data, recipe, seed=seed, cache=RunCache(args.cache / "runs"))
        if run.diverged:
            print(f"{name} seed {seed}: diverged in epoch {run.history['diverged_epoch']}; not shipped")
            continue
        record = ship_net(run, data, args.out, budget=args.label)
        print(
            f"{name} seed {seed}: test accuracy {record['final']['test_acc']:.2%} "
            f"(fp32 re-evaluation {record['test_acc_fp32']:.2%}), "
            f"{record['training_seconds']:.0f} s of training, "
            f"{time.perf_counter() - started:.0f} s in this call -> {file_stem(name, seed)}.pt",
            flush=True,
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
