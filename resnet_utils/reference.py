"""Reference nets: plain-20, plain-56, ResNet-20 and ResNet-56 trained by the course on all
50,000 CIFAR-10 training images, shipped in the package with their histories and provenance.

They carry results at a scale a student's CPU cannot reach in a sitting to every student:
notebooks 1 and 2 draw their curves beside the student's runs, notebook 3 measures them as it
measures the student's nets. ``reference_nets/<name>.pt`` holds the weights (a plain dict of
tensors, read with ``weights_only=True``), ``<name>.json`` the record written by
:func:`ship_net` (``tools/train_references.py``): budget, recipe, seed, data, device, machine,
versions, date, history, final accuracies and the weights' sha256, checked on every load.
"""

from __future__ import annotations

import hashlib
import json
import platform
from importlib import resources
from pathlib import Path

import matplotlib.pyplot as plt
from torch import nn

from .atomic import load_tensors
from .models import build_model
from .plots import METRIC_LABELS, _plot_group, integer_ticks
from .runs import Run

NETS_FOLDER = "reference_nets"
CURVES = ("train_loss", "train_acc", "test_loss", "test_acc")
REQUIRED = (
    "name",
    "options",
    "budget",
    "recipe",
    "seed",
    "data",
    "device",
    "precision",
    "versions",
    "date",
    "training_seconds",
    "final",
    "test_acc_fp32",
    "test_size",
    "history",
    "keys",
    "sha256",
)


class BadReference(ValueError):
    """A reference net whose files are missing, altered or not what ``ship_net`` writes."""


def shipped_folder() -> Path:
    return Path(str(resources.files(__package__).joinpath(NETS_FOLDER)))


def available(folder: str | Path | None = None) -> list[str]:
    """The names of the shipped reference nets, e.g. ``["plain20", "plain56", ...]``."""
    folder = Path(folder) if folder is not None else shipped_folder()
    return sorted(p.stem for p in folder.glob("*.json") if p.with_suffix(".pt").exists())


def load_record(name: str, folder: str | Path | None = None) -> dict:
    """The record of reference net ``name``; BadReference if it is missing or incomplete."""
    folder = Path(folder) if folder is not None else shipped_folder()
    path = folder / f"{name}.json"
    if not path.exists():
        raise BadReference(
            f"no reference net {name!r} in {folder} "
            f"(there are: {', '.join(available(folder)) or 'none'})."
        )
    try:
        record = json.loads(path.read_text())
    except (ValueError, UnicodeDecodeError) as error:
        raise BadReference(f"{path} is not valid JSON ({error}): reinstall the package.") from None
    if not isinstance(record, dict):
        raise BadReference(f"{path} holds {type(record).__name__}, not a record: reinstall the package.")
    missing = [key for key in REQUIRED if key not in record]
    if missing:
        raise BadReference(f"{path.name} lacks {missing}: not a record written by ship_net.")
    if record["name"] != name:
        raise BadReference(f"{path.name} describes {record['name']!r}, not {name!r}.")
    if not all(isinstance(record["history"].get(c), list) for c in CURVES):
        raise BadReference(f"{path.name} needs the curves {list(CURVES)}.")
    return record


def load_net(name: str, folder: str | Path | None = None) -> nn.Module:
    """The trained reference net ``name`` on the CPU, in eval mode.

    Its file must have the sha256 its record states, and its tensors must fill the net
    exactly (``strict``: no key missing, none left over), or BadReference says which."""
    folder = Path(folder) if folder is not None else shipped_folder()
    record = load_record(name, folder)
    weights_path = folder / f"{name}.pt"
    if not weights_path.exists():
        raise BadReference(f"{weights_path} is missing: reinstall the package.")
    digest = _sha256(weights_path)
    if digest != record["sha256"]:
        raise BadReference(
            f"{weights_path.name} has sha256 {digest[:16]}..., its record says "
            f"{record['sha256'][:16]}...: the file was altered or damaged; reinstall the package."
        )
    weights = load_tensors(weights_path)  # tensors only: no pickled code runs
    model = build_model(record["name"], **record["options"])
    try:
        model.load_state_dict(weights, strict=True)
    except RuntimeError as error:
        detail = " ".join(str(error).split())  # torch's message spans several lines
        raise BadReference(f"{weights_path.name} does not fit {name}: {detail}") from None
    return model.eval()


def reference_run(name: str, folder: str | Path | None = None, *, with_model: bool = False) -> Run:
    """Reference net ``name`` as a :class:`Run` (label ``"<name> (reference)"``), so the
    verdict helper and the plots take it like a run of one seed."""
    record = load_record(name, folder)
    model = load_net(name, folder) if with_model else None
    spec = {
        "model": name,
        "options": record["options"],
        "recipe": record["recipe"],
        "seed": record["seed"],
    }
    history = dict(record["history"], diverged=False, diverged_epoch=None)
    return Run(name, spec, history, model, from_cache=True, title=f"{name} (reference)")


def describe(record: dict) -> str:
    """One line of provenance: what was trained, how, where, when, and with what result."""
    r = record["recipe"]
    return (
        f"{record['name']}: {record['train_size']:,} training images, {record['epochs']} epochs "
        f"({r['schedule']}, max lr {r['lr']}, batch {r['batch_size']}, wd {r['weight_decay']}), seed "
        f"{record['seed']}; {record['device']} ({record.get('machine', '')}), {record['precision']}, "
        f"torch {record['versions'].get('torch')}, {record['date'][:10]}; "
        f"{record['training_seconds'] / 60:.0f} min of training; test accuracy "
        f"{record['final']['test_acc']:.1%} on {record['test_size']:,} test images."
    )


def show_beside_references(
    groups: dict, metrics=("train_loss", "test_acc"), *, folder: str | Path | None = None
):
    """Your runs (left) and the reference nets of the same names (right), metric by metric on
    shared y-axes, then each pair's final numbers. Each side has its own epoch axis: the
    budgets differ, and the provenance lines say how. Returns the figure (None if no net
    has a reference)."""
    names = [n for n in groups if n in available(folder)]
    if not names:
        print("No reference net of these names is shipped with this version of the package.")
        return None
    records = {n: load_record(n, folder) for n in names}
    fig, axes = plt.subplots(
        len(metrics), 2, figsize=(10.4, 3.4 * len(metrics)), sharey="row", squeeze=False
    )
    colours = {}
    for row, metric in zip(axes, metrics):
        for name, group in groups.items():
            if hasattr(group, "curve"):
                _plot_group(row[0], group, metric)
            else:
                row[0].plot(group.history["epoch"], group.history[metric], marker="o", ms=3, label=name)
            colours[name] = row[0].get_lines()[-1].get_color()
        for name in names:
            h = records[name]["history"]
            row[1].plot(
                h["epoch"], h[metric], marker="o", ms=3, color=colours[name], label=f"{name} (reference)"
            )
        for ax in row:
            ax.set_xlabel("epoch")
            integer_ticks(ax)
            ax.grid(alpha=0.3)
            ax.legend(fontsize="small")
        row[0].set_ylabel(METRIC_LABELS.get(metric, metric))
    first = next(iter(groups.values()))
    yours = (
        len(first.runs[0].history["epoch"]) if hasattr(first, "runs") else len(first.history["epoch"])
    )
    axes[0][0].set_title(f"your runs ({yours} epochs)")
    sample = records[names[0]]
    axes[0][1].set_title(
        f"reference nets ({sample['train_size']:,} images, {sample['epochs']} epochs, "
        f"{sample['device'].split()[0]})"
    )
    fig.tight_layout()
    for name in names:
        print(describe(records[name]))
    return fig


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _machine() -> str:
    model = ""
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    return f"{platform.machine()} {model}".strip()


def ship_net(run, data, folder: str | Path, *, budget: str) -> dict:
    """Write ``run``'s weights and record to ``folder/<name>.pt`` and ``.json``; return the record.

    The record carries the weights' sha256, re-evaluated fp32 test accuracy, and everything
    needed to say where the net came from."""
    from datetime import datetime, timezone

    import torch

    from .atomic import save_json, save_tensors
    from .hardware import describe_device
    from .session import _versions
    from .train import evaluate

    folder = Path(folder)
    model = run.model.to("cpu", memory_format=torch.contiguous_format)
    weights = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    pt = folder / f"{run.name}.pt"
    save_tensors(pt, weights)
    test_loss32, test_acc32 = evaluate(model, data, device="cpu", autocast=False)
    history = run.history
    record = {
        "name": run.name,
        "options": run.options,
        "budget": budget,
        "recipe": run.spec["recipe"],
        "seed": run.spec["seed"],
        "data": data.describe(),
        "data_fingerprint": data.fingerprint,
        "device": describe_device(torch.device(history["device"])),
        "machine": _machine(),
        "precision": history["precision"],
        "versions": _versions(),
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "training_seconds": round(sum(history["seconds"]), 1),
        "epochs": len(history["epoch"]),
        "final": {c: history[c][-1] for c in CURVES},
        "test_acc_fp32": test_acc32,
        "test_loss_fp32": test_loss32,
        "test_size": len(data.test_y),
        "train_size": len(data.train_y),
        "history": {k: history[k] for k in (*CURVES, "epoch", "lr", "seconds", "images_per_s")},
        "layout": run.spec["layout"],
        "keys": len(weights),
        "sha256": _sha256(pt),
    }
    save_json(folder / f"{run.name}.json", record, strict=True)
    return record


def compare_references(pairs, *, folder: str | Path | None = None) -> dict:
    """Print, for each pair ``(a, b)`` of shipped nets, the verdict on their test accuracy and
    both training losses; return the verdicts by pair. One seed a side: the margin is the
    sampling error of the test images alone, and the training losses get none."""
    from .verdicts import compare

    verdicts = {}
    for a, b in pairs:
        if not {a, b} <= set(available(folder)):
            print(f"{a} vs {b}: no reference net of both names is shipped.")
            continue
        ra, rb = reference_run(a, folder), reference_run(b, folder)
        size = load_record(a, folder)["test_size"]
        verdicts[(a, b)] = compare(ra, rb, "test_acc", test_size=size, a_name=a, b_name=b)
        print(f"Reference nets: {verdicts[(a, b)]}")
        print(
            f"  final training loss {a} {ra.final('train_loss'):.3f}, {b} {rb.final('train_loss'):.3f} "
            "(one seed each: no margin for a training loss)"
        )
    return verdicts
