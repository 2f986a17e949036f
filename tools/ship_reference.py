"""Ship a full-profile GPU run as a notebook's reference run (resnet_utils/reference_runs/).

Usage, after `make execute PROFILE=full` on a GPU machine:
    python tools/ship_reference.py results/01_degradation.json [...]
Refuses a summary that is not a full-profile run on a CUDA device, or has no run curves.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from resnet_utils.atomic import save_json  # noqa: E402
from resnet_utils.reference import CURVES, BadReference, validate  # noqa: E402

KEPT = ("notebook", "profile", "recipe", "device", "precision", "data", "versions", "wall_seconds")


def reference_from_summary(summary: dict) -> dict:
    """The reference record of a notebook summary; BadReference if it cannot be one."""
    record = {key: summary.get(key) for key in KEPT}
    record["date"] = summary.get("started")
    histories = summary.get("histories") or {}
    record["histories"] = {
        label: {curve: history.get(curve) for curve in CURVES} for label, history in histories.items()
    }
    if not record["histories"]:
        raise BadReference("the summary has no run curves (written by resnet_utils 0.2 or newer?)")
    return validate(record)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("summaries", nargs="+", type=Path)
    parser.add_argument("--out", type=Path, default=ROOT / "resnet_utils" / "reference_runs")
    args = parser.parse_args(argv)
    status = 0
    for path in args.summaries:
        try:
            record = reference_from_summary(json.loads(path.read_text()))
        except (BadReference, json.JSONDecodeError) as error:
            print(f"{path}: not shipped: {error}", file=sys.stderr)
            status = 1
            continue
        target = args.out / f"{record['notebook']}.json"
        save_json(target, record)
        print(f"{path} -> {target} ({len(record['histories'])} runs, {record['device']})")
    return status


if __name__ == "__main__":
    sys.exit(main())
