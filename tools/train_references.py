"""Train the course's reference nets on all of CIFAR-10 and ship them in the package.

    python tools/train_references.py --epochs 10 [--nets resnet56 plain56 ...] [--seeds 0 1 2]

Each net and seed is trained through the run cache (``--cache``, default
``build/reference-cache``), so an interrupted call picks up the runs it has finished; each
finished run is shipped at once to ``resnet_utils/reference_nets/<name>-seed<k>.pt`` with its
record (``.json``): recipe, seed, data, device, thread count, number format, versions, date,
history, final accuracies and the weights' sha256.
Needs the CIFAR-10 copy in ``$CIFAR10_DIR`` (or ``--data``).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from resnet_utils.course.reference import NETS_FOLDER, ship_net, stem  # noqa: E402
from resnet_utils.training.cache import RunCache  # noqa: E402
from resnet_utils.training.cifar10 import load_cifar10  # noqa: E402
from resnet_utils.training.profiles import Recipe  # noqa: E402
from resnet_utils.training.runs import train  # noqa: E402

NETS = ("resnet56", "plain56", "resnet20", "plain20")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--nets", nargs="+", default=list(NETS))
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    parser.add_argument("--data", default=None, help="CIFAR-10 copy (default: $CIFAR10_DIR)")
    parser.add_argument("--cache", type=Path, default=ROOT / "build" / "reference-cache")
    parser.add_argument("--out", type=Path, default=ROOT / "resnet_utils" / NETS_FOLDER)
    parser.add_argument("--label", default="cpu", help="the budget's name in the records")
    args = parser.parse_args(argv)

    data = load_cifar10(args.data, download=False)
    recipe = Recipe(epochs=args.epochs)  # one-cycle, max lr 0.1, batch 128, wd 5e-4, crop+flip
    for seed in args.seeds:
        for name in args.nets:
            started = time.perf_counter()
            run = train(name, data, recipe, seed=seed, cache=RunCache(args.cache / "runs"))
            if run.diverged:
                print(
                    f"{name} seed {seed}: diverged in epoch {run.history['diverged_epoch']}; not shipped"
                )
                continue
            record = ship_net(run, data, args.out, budget=args.label)
            print(
                f"{name} seed {seed}: test accuracy {record['final']['test_acc']:.2%} "
                f"(fp32 re-evaluation {record['test_acc_fp32']:.2%}), "
                f"{record['training_seconds']:.0f} s of training, "
                f"{time.perf_counter() - started:.0f} s in this call -> {stem(name, seed)}.pt",
                flush=True,
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
