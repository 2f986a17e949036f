"""Does bf16 autocast change what a run learns? The quick profile's data and recipe, the same
nets and seeds trained in fp32 and with bf16 autocast, compared the course's way: a verdict
over seeds with its margin. Needs $CIFAR10_DIR (or a download) and a CPU or GPU with bf16.

    python benchmarks/precision_check.py [--models plain20] [--seeds 3] [--out FILE.json]
"""

import argparse
import json
from pathlib import Path

import torch

from resnet_utils import build_model, fit, get_profile, load_cifar10
from resnet_utils.report.verdicts import compare
from resnet_utils.training.hardware import autocast_dtype, describe_device, pick_device, precision_name

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("--models", nargs="+", default=["plain20"])
parser.add_argument("--seeds", type=int, default=3)
parser.add_argument("--out", default="results/precision-check.json")
args = parser.parse_args()

profile = get_profile("quick")
data = load_cifar10().subset(profile.train_size, profile.test_size, seed=0)
device = pick_device()
fast = precision_name(autocast_dtype(device))
if fast == "fp32":
    raise SystemExit("this device has no fast low-precision format: nothing to check here.")
result = {
    "device": describe_device(device),
    "profile": profile.name,
    "test_size": len(data.test_y),
    "runs": {},
    "verdicts": {},
}
for name in args.models:
    finals = {}
    for use_autocast in (False, True):
        for seed in range(args.seeds):
            torch.manual_seed(seed)
            h = fit(
                build_model(name), data, profile.recipe, seed=seed, autocast=use_autocast, progress=False
            )
            label = f"{name} {h['precision']} seed {seed}"
            result["runs"][label] = {
                "final_train_loss": h["train_loss"][-1],
                "final_test_acc": h["test_acc"][-1],
                "train_seconds": sum(h["seconds"]),
            }
            finals.setdefault(h["precision"], []).append(h)
            print(label, result["runs"][label], flush=True)
    for metric in ("train_loss", "test_acc"):
        verdict = compare(
            [h[metric][-1] for h in finals[fast]],
            [h[metric][-1] for h in finals["fp32"]],
            metric,
            test_size=len(data.test_y),
            a_name=f"{name} {fast}",
            b_name=f"{name} fp32",
            check_learned=False,
        )
        result["verdicts"][f"{name} {metric}"] = {"word": verdict.word, "text": str(verdict)}
        print(verdict, flush=True)
Path(args.out).parent.mkdir(parents=True, exist_ok=True)
Path(args.out).write_text(json.dumps(result, indent=1))
