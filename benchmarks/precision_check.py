"""Does bf16 autocast change what notebook 1 concludes? The quick profile's data and recipe,
plain-20 and plain-56, trained in fp32 and with autocast, same seed. Needs $CIFAR10_DIR
(or a download). Usage: python benchmarks/precision_check.py [--out results/precision-check.json]"""

import argparse
import json
from pathlib import Path

import torch

from resnet_utils import build_model, fit, get_profile, load_cifar10
from resnet_utils.hardware import autocast_dtype, describe_device, pick_device, precision_name

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("--models", nargs="+", default=["plain20", "plain56"])
parser.add_argument("--out", default="results/precision-check.json")
args = parser.parse_args()

profile = get_profile("quick")
data = load_cifar10().subset(profile.train_size, profile.test_size, seed=0)
device = pick_device()
fast = precision_name(autocast_dtype(device))
result = {"device": describe_device(device), "profile": profile.name, "runs": {}}
for name in args.models:
    for use_autocast in (False, True):
        torch.manual_seed(0)
        h = fit(build_model(name), data, profile.recipe, seed=0, autocast=use_autocast, progress=False)
        label = f"{name} {h['precision']}"
        result["runs"][label] = {
            "final_train_loss": h["train_loss"][-1],
            "final_test_acc": h["test_acc"][-1],
            "train_seconds": sum(h["seconds"]),
        }
        print(label, result["runs"][label], flush=True)
Path(args.out).parent.mkdir(parents=True, exist_ok=True)
Path(args.out).write_text(json.dumps(result, indent=1))
