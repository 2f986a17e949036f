"""Train the course's reference nets on all of CIFAR-10 and ship them in the package.

    python tools/train_references.py --epochs 10 [--nets resnet56 plain56 ...] [--seeds 0 1 2]
                                     [--deadline SECONDS]
    python tools/train_references.py --repack [--nets ...]

Each net and seed is trained through the run cache (``--cache``, default
``build/reference-cache``), so an interrupted call picks up the runs it has finished; each
finished run is shipped at once to ``resnet_utils/reference_nets/<name>-seed<k>.pt`` (the
conv and linear weights in bf16) with its record (``.json``): recipe, seed, data, device,
thread count, number format, versions, date, history, final accuracies, which test images it
got right and the weights' sha256. ``--deadline`` starts no net after that many seconds from
the start (a net already training finishes): a caller with a time budget gives it the budget
less the longest run, and a later call resumes from the cache. ``--repack`` trains nothing: it
brings nets shipped by an older version of this tool (fp32 weights, no per-image scores) to
the form it ships now. Needs the CIFAR-10 copy in ``$CIFAR10_DIR`` (or ``--data``).
"""

from __future__ import annotations

import argparse
import copy
import functools
import hashlib
import io
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
    available,
    bf16_keys,
    file_stem,
    load_net,
    load_record,
    pack_correct,
    shipped_seeds,
    stored_weights,
    unpack_correct,
)
from resnet_utils.storage.atomic import load_tensors, save_json, write_atomically  # noqa: E402
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

    The conv and linear weights are stored in bf16 (``reference.stored_weights``) when that
    changes no test image's score in this machine's number format (never, in bf16 autocast),
    else in fp32 as trained, and said so. The record carries the weights' sha256, their fp32
    test accuracy as stored, which test images they get right (scored as the training scored
    them) and everything needed to say where the net came from (the thread count too: runs
    differ by it). The weights are written first: a net whose record is there is complete."""
    folder = Path(folder)
    seed = run.spec["seed"]
    stem = file_stem(run.name, seed)
    model = run.model.to("cpu", memory_format=torch.contiguous_format)
    # scored as the training scored it (its number format), so the mean is its test accuracy
    correct = correct_per_image(model, data, device="cpu")
    weights, changed = bf16_weights(model, data, correct)
    if changed:
        print(f"{stem}: bf16 weights would change {changed} test images' scores here: stored in fp32")
        weights = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    blob = serialized(weights)
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
        **fp32_evaluation(model, weights, data),
        "test_size": len(data.test_y),
        "test_correct": pack_correct(correct),
        "train_size": len(data.train_y),
        "history": {k: history[k] for k in (*CURVES, "epoch", "lr", "seconds", "images_per_s")},
        "layout": run.spec["layout"],
        "keys": len(weights),
        "sha256": hashlib.sha256(blob).hexdigest(),
    }
    write_atomically(folder / f"{stem}.pt", lambda tmp: tmp.write_bytes(blob))
    save_json(folder / f"{stem}.json", record, strict=True)
    return record


def bf16_weights(model, data, correct: torch.Tensor) -> tuple[dict, int]:
    """``model``'s weights as shipped (conv and linear weights in bf16), and on how many test
    images the net holding them is scored otherwise than ``correct`` says, in this machine's
    number format (0 in bf16 autocast, which rounds those weights to bf16 itself)."""
    weights = stored_weights(model)
    scored = correct_per_image(holding(model, weights), data, device="cpu")
    return weights, int((scored != correct).sum())


def holding(model, weights: dict):
    """A copy of ``model`` (fp32) holding ``weights``, cast up as ``load_net`` casts them."""
    copied = copy.deepcopy(model)
    copied.load_state_dict(weights, strict=True)
    return copied


def fp32_evaluation(model, weights: dict, data) -> dict:
    """The record's fp32 test loss and accuracy: of the weights as stored, cast up to fp32."""
    loss, accuracy = evaluate(holding(model, weights), data, device="cpu", autocast=False)
    return {"test_acc_fp32": accuracy, "test_loss_fp32": loss}


def serialized(weights: dict) -> bytes:
    """The bytes of the weights' file (``torch.save``; the same weights give the same bytes),
    so that the record can state their sha256 before they are written."""
    buffer = io.BytesIO()
    torch.save(weights, buffer)
    return buffer.getvalue()


class Refused(Exception):
    """A shipped net ``--repack`` leaves as it is, and why."""


def repack_shipped(folder: Path, data_dir, nets) -> int:
    """Bring every shipped net of ``nets`` to the form ``ship_net`` writes; each step is
    checked, and a net that fails a check is left as it is (exit status 1). Running it again
    changes nothing that is done, so it is run after every net that lands. See
    :func:`repack_net`."""
    data = functools.cache(lambda: load_cifar10(data_dir, download=False))  # only if needed
    refused = done = 0
    for name in nets:
        for seed in shipped_seeds(name, folder):
            try:
                said = repack_net(name, seed, Path(folder), data)
            except Refused as why:
                print(f"{file_stem(name, seed)}: {why}", flush=True)
                refused += 1
                continue
            if said:
                print(f"{file_stem(name, seed)}: {said}", flush=True)
            else:
                done += 1
    print(f"{done} shipped net(s) were in their final form already; {refused} left as they were.")
    return 1 if refused else 0


def repack_net(name: str, seed: int, folder: Path, data) -> str:
    """Bring one shipped net to its final form; say what changed ("" for nothing).

    (a) A record without ``test_correct`` gets it, scored on the CPU in this machine's number
    format (the training's, where the nets were trained: the record's test accuracy must come
    out exactly). (b) fp32 weights are stored in bf16, if that leaves every test image's score
    as ``test_correct`` has it (else Refused); the record gets their fp32 test loss and
    accuracy and sha256, and keeps the fp32 original's under ``fp32_original``. The record is
    written before the weights: a call stopped between the two leaves weights with the fp32
    original's sha256, which the next call recognises and converts again (the same weights
    give the same bytes). Only a net whose record is there and whose weights have one of those
    two hashes is touched (a net being shipped has its weights written before its record)."""
    stem = file_stem(name, seed)
    record = load_record(name, folder, seed=seed)
    weights_path = folder / f"{stem}.pt"
    digest = hashlib.sha256(weights_path.read_bytes()).hexdigest()
    original = record.get("fp32_original")
    if digest != record["sha256"] and digest != (original or {}).get("sha256"):
        raise Refused(
            "its weights have neither the sha256 its record states nor its fp32 original's "
            "(being written now, or altered?): left as they are"
        )
    model = load_net(name, folder, seed=seed, sha256=digest)
    stored = load_tensors(weights_path)
    in_bf16 = all(stored[key].dtype == torch.bfloat16 for key in bf16_keys(model))
    said = []
    if "test_correct" not in record:
        correct = correct_per_image(model, data(), device="cpu")
        accuracy = correct.float().mean().item()
        if abs(accuracy - record["final"]["test_acc"]) > 0.0005:
            raise Refused(
                f"scored {accuracy:.2%} here, its record says {record['final']['test_acc']:.2%}: "
                "left as it is (another number format?)"
            )
        record["test_correct"] = pack_correct(correct)
        said.append(f"per-image test scores added ({accuracy:.2%} right)")
    if in_bf16:
        if said:
            save_json(folder / f"{stem}.json", record, strict=True)
        return "; ".join(said)
    weights, changed = bf16_weights(model, data(), unpack_correct(record["test_correct"]))
    if changed:
        if said:  # (a) stands on its own: the fp32 weights are those the record states
            save_json(folder / f"{stem}.json", record, strict=True)
        raise Refused(
            "; ".join(
                [*said, f"bf16 weights would change {changed} test images' scores here: left in fp32"]
            )
        )
    blob = serialized(weights)
    record["fp32_original"] = original or {
        key: record[key] for key in ("sha256", "test_acc_fp32", "test_loss_fp32")
    }
    record.update(fp32_evaluation(model, weights, data()), sha256=hashlib.sha256(blob).hexdigest())
    save_json(folder / f"{stem}.json", record, strict=True)
    write_atomically(weights_path, lambda tmp: tmp.write_bytes(blob))
    said.append(
        f"weights stored in bf16 ({weights_path.stat().st_size / 1e6:.2f} MB), fp32 test accuracy "
        f"{record['test_acc_fp32']:.2%} (fp32 original {record['fp32_original']['test_acc_fp32']:.2%})"
    )
    return "; ".join(said)


def main(argv=None) -> int:
    began = time.perf_counter()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--nets", nargs="+", default=None, help=f"default: {' '.join(NETS)}")
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
        "--repack",
        action="store_true",
        help="train nothing: bring the shipped nets (--nets, default all) to the form this tool "
        "ships (per-image test scores, bf16 conv and linear weights); run after each net lands",
    )
    args = parser.parse_args(argv)
    if args.repack:
        return repack_shipped(args.out, args.data, args.nets or available(args.out))

    recipe = Recipe(epochs=args.epochs)  # one-cycle, max lr 0.1, batch 128, wd 5e-4, crop+flip
    jobs = [(name, seed) for seed in args.seeds for name in args.nets or NETS]
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
