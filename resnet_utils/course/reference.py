"""Reference nets: plain-20, plain-56, ResNet-20 and ResNet-56 trained by the course on all
50,000 CIFAR-10 training images, several seeds each, shipped in the package with their
histories and provenance.

They carry results at a scale a student's CPU cannot reach in a sitting to every student:
notebooks 1 and 2 draw their curves beside the student's runs, notebook 3 measures them as it
measures the student's nets. One seed is one draw, so every verdict on them rests on the
spread over their seeds (:func:`reference_group`). ``reference_nets/<name>-seed<k>.pt`` holds
the weights of seed k (a plain dict of tensors, read with ``weights_only=True``; the conv and
linear weights in bf16, see :func:`stored_weights`), ``<name>-seed<k>.json`` the record written
by ``tools/train_references.py``: budget, recipe, seed, data, device, machine, precision,
versions, date, history, final accuracies and the weights' sha256, checked on every load. This
module loads and checks them, and hands them to the verdicts and the plots as runs and groups.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
from importlib import resources
from pathlib import Path

import numpy as np
import torch
from torch import nn

from resnet_utils.models import build_model
from resnet_utils.report.plots import plot_beside
from resnet_utils.storage.atomic import load_tensors
from resnet_utils.training.groups import RunGroup
from resnet_utils.training.runs import CURVES, Run

NETS_FOLDER = "reference_nets"
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
_FILE_STEM = re.compile(r"^(?P<name>[a-z0-9]+)-seed(?P<seed>\d+)$")
STORED_IN_BF16 = (nn.Conv2d, nn.Linear)


class BadReference(ValueError):
    """A reference net whose files are missing, altered or not what ``tools/train_references.py``
    writes."""


def shipped_folder() -> Path:
    return Path(str(resources.files("resnet_utils").joinpath(NETS_FOLDER)))


def _folder(folder) -> Path:
    return Path(folder) if folder is not None else shipped_folder()


def file_stem(name: str, seed: int) -> str:
    """The file name (without suffix) of seed ``seed`` of net ``name``: ``resnet56-seed1``."""
    return f"{name}-seed{seed}"


def _entries(folder: Path) -> list[tuple[str, int]]:
    found = []
    for path in folder.glob("*.json"):
        match = _FILE_STEM.match(path.stem)
        if match and path.with_suffix(".pt").exists():
            found.append((match["name"], int(match["seed"])))
    return sorted(found)


def available(folder: str | Path | None = None) -> list[str]:
    """The names of the shipped reference nets, e.g. ``["plain20", "plain56", ...]``."""
    return sorted({name for name, _ in _entries(_folder(folder))})


def shipped_seeds(name: str, folder: str | Path | None = None) -> list[int]:
    """The seeds of net ``name`` that are shipped, e.g. ``[0, 1, 2]``."""
    return [seed for n, seed in _entries(_folder(folder)) if n == name]


def load_record(name: str, folder: str | Path | None = None, *, seed: int = 0) -> dict:
    """The record of seed ``seed`` of reference net ``name``; BadReference if it is missing or
    incomplete."""
    folder = _folder(folder)
    path = folder / f"{file_stem(name, seed)}.json"
    if not path.exists():
        seeds = shipped_seeds(name, folder)
        there = f"seeds {seeds} of {name}" if seeds else ", ".join(available(folder)) or "none"
        raise BadReference(f"no reference net {name!r} seed {seed} in {folder} (there are: {there}).")
    try:
        record = json.loads(path.read_text())
    except (ValueError, UnicodeDecodeError) as error:
        raise BadReference(f"{path} is not valid JSON ({error}): reinstall the package.") from None
    if not isinstance(record, dict):
        raise BadReference(f"{path} holds {type(record).__name__}, not a record: reinstall the package.")
    missing = [key for key in REQUIRED if key not in record]
    if missing:
        raise BadReference(
            f"{path.name} lacks {missing}: not a record written by tools/train_references.py."
        )
    if record["name"] != name or record["seed"] != seed:
        raise BadReference(
            f"{path.name} describes {record['name']!r} seed {record['seed']}, not {name!r} seed {seed}."
        )
    if not all(isinstance(record["history"].get(c), list) for c in CURVES):
        raise BadReference(f"{path.name} needs the curves {list(CURVES)}.")
    return record


def load_net(
    name: str, folder: str | Path | None = None, *, seed: int = 0, sha256: str | None = None
) -> nn.Module:
    """Seed ``seed`` of the trained reference net ``name`` on the CPU, in fp32, in eval mode.

    Its file must have the sha256 its record states (or ``sha256``: the fp32 original's, which
    ``tools/train_references.py --repack`` passes for a net it was converting), its tensors
    must fill the net exactly (``strict``: no key missing, none left over) and be fp32, or bf16
    where :func:`stored_weights` stores bf16; otherwise BadReference says which."""
    folder = _folder(folder)
    record = load_record(name, folder, seed=seed)
    weights_path = folder / f"{file_stem(name, seed)}.pt"
    expected = sha256 or record["sha256"]
    digest = _sha256(weights_path)
    if digest != expected:
        raise BadReference(
            f"{weights_path.name} has sha256 {digest[:16]}..., its record says "
            f"{expected[:16]}...: the file was altered or damaged; reinstall the package."
        )
    weights = load_tensors(weights_path)  # tensors only: no pickled code runs
    model = build_model(record["name"], **record["options"])
    _check_number_formats(weights, model, weights_path)
    try:
        model.load_state_dict(weights, strict=True)  # bf16 tensors are cast up to the net's fp32
    except RuntimeError as error:
        detail = " ".join(str(error).split())  # torch's message spans several lines
        raise BadReference(f"{weights_path.name} does not fit {name}: {detail}") from None
    return model.eval()


def bf16_keys(model: nn.Module) -> set[str]:
    """The keys of ``model``'s weights a shipped file stores in bf16: the conv and linear
    layers' weights. The bf16 autocast the nets are trained and scored in casts exactly these
    to bf16 anyway, so storing them so changes no score there, and halves the files every
    Colab install downloads. BatchNorm's parameters and running statistics (which autocast
    keeps in fp32), the biases and the counters stay as they are."""
    return {
        f"{name}.weight" for name, module in model.named_modules() if isinstance(module, STORED_IN_BF16)
    }


def stored_weights(model: nn.Module) -> dict[str, torch.Tensor]:
    """``model``'s weights as a shipped file holds them: :func:`bf16_keys` in bf16, the rest
    as they are; on the CPU, contiguous."""
    in_bf16 = bf16_keys(model)
    return {
        key: (tensor.to(torch.bfloat16) if key in in_bf16 else tensor).detach().cpu().contiguous()
        for key, tensor in model.state_dict().items()
    }


def _check_number_formats(weights: dict, model: nn.Module, path: Path) -> None:
    """Each tensor in the net's own dtype, or bf16 where :func:`bf16_keys` allows it: nothing
    that ``load_state_dict`` would silently cast (fp16, fp64, an integer counter as a float).
    Keys the net lacks are left to the strict load, which names them."""
    expected = model.state_dict()
    in_bf16 = bf16_keys(model)
    for key, value in weights.items():
        if key not in expected:
            continue
        allowed = [expected[key].dtype] + ([torch.bfloat16] if key in in_bf16 else [])
        found = value.dtype if isinstance(value, torch.Tensor) else type(value).__name__
        if found not in allowed:
            raise BadReference(
                f"{path.name} holds {key} as {found}, not {' or '.join(map(str, allowed))}: "
                "not a file written by tools/train_references.py."
            )


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def reference_run(name: str, folder: str | Path | None = None, *, seed: int = 0) -> Run:
    """Seed ``seed`` of reference net ``name`` as a :class:`Run` (label ``"<name> (reference)"``):
    its history, without its weights (:func:`load_net` loads those)."""
    return _as_run(load_record(name, folder, seed=seed))


def _as_run(record: dict) -> Run:
    name = record["name"]
    spec = {
        "model": name,
        "options": record["options"],
        "recipe": record["recipe"],
        "seed": record["seed"],
    }
    history = dict(record["history"], diverged=False, diverged_epoch=None)
    run = Run(name, spec, history, None, from_cache=True, title=f"{name} (reference)")
    run.test_correct = unpack_correct(record.get("test_correct"))
    return run


def pack_correct(correct: torch.Tensor) -> dict:
    """Which test images a net got right, as a record keeps it: 10,000 booleans in 1,250 bytes
    (base64), so that two shipped nets can be compared image by image (a paired margin)."""
    bits = np.packbits(correct.cpu().numpy().astype(bool))
    return {"images": len(correct), "bits": base64.b64encode(bits.tobytes()).decode("ascii")}


def unpack_correct(packed: dict | None) -> torch.Tensor | None:
    """The booleans :func:`pack_correct` packed; None for a record without them (or a
    damaged field: the comparison then falls back to the unpaired margin)."""
    try:
        bits = np.frombuffer(base64.b64decode(packed["bits"], validate=True), dtype=np.uint8)
        images = int(packed["images"])
    except (TypeError, KeyError, ValueError):
        return None
    if not 0 < images <= 8 * len(bits):
        return None
    return torch.from_numpy(np.unpackbits(bits)[:images].astype(bool))


def reference_group(name: str, folder: str | Path | None = None) -> RunGroup:
    """Every shipped seed of reference net ``name`` as a :class:`RunGroup`, so the verdicts
    and the plots take them like the student's own seeds, with their spread."""
    seeds = shipped_seeds(name, folder)
    if not seeds:
        raise BadReference(
            f"no reference net {name!r} in {_folder(folder)} "
            f"(there are: {', '.join(available(folder)) or 'none'})."
        )
    runs = [reference_run(name, folder, seed=s) for s in seeds]
    return RunGroup(runs, title=f"{name} (reference)")


def describe_group(name: str, folder: str | Path | None = None) -> str:
    """One line for all seeds of a net: the budget they share, where and in what number format
    they were trained, their training times, and their test accuracy as mean ± spread."""
    records = [load_record(name, folder, seed=s) for s in shipped_seeds(name, folder)]
    first = records[0]
    r = first["recipe"]
    group = RunGroup([_as_run(rec) for rec in records])
    formats = sorted({rec["precision"] for rec in records})
    devices = sorted({f"{rec['device']} ({rec.get('machine', '')})" for rec in records})
    minutes = [rec["training_seconds"] / 60 for rec in records]
    dates = sorted(rec["date"][:10] for rec in records)
    when = dates[0] if dates[0] == dates[-1] else f"{dates[0]} to {dates[-1]}"
    n = len(records)
    return (
        f"{name}: {n} seed{'s' if n != 1 else ''} ({', '.join(str(rec['seed']) for rec in records)}), "
        f"{first['train_size']:,} training images, {first['epochs']} epochs ({r['schedule']}, max lr "
        f"{r['lr']}, batch {r['batch_size']}, wd {r['weight_decay']}); {'; '.join(devices)}, "
        f"{' and '.join(formats)}, torch {first['versions'].get('torch')}, {when}; "
        f"{_span(minutes)} min of training each; test accuracy "
        f"{group.summary('test_acc')} on {first['test_size']:,} test images."
    )


def _span(values) -> str:
    low, high = round(min(values)), round(max(values))
    return f"{low}" if low == high else f"{low}-{high}"


def show_beside_references(
    groups: dict, metrics=("train_loss", "test_acc"), *, folder: str | Path | None = None
):
    """Your runs (left) and the reference nets of the same names (right, mean and min-max band
    over their seeds), metric by metric on shared y-axes (``report.plots.plot_beside``), then
    one line on what they share (each net's whole provenance is :func:`describe_group`'s, and
    the table in docs/reference-nets.md). Returns the figure (None if no net has a reference)."""
    names = [n for n in groups if n in available(folder)]
    if not names:
        print("No reference net of these names is shipped with this version of the package.")
        return None
    references = {n: reference_group(n, folder) for n in names}
    sample = load_record(names[0], folder, seed=references[names[0]].seeds[0])
    budget = f"{sample['train_size']:,} images, {sample['epochs']} epochs, {sample['device'].split()[0]}"
    fig = plot_beside(groups, references, metrics, references_title=f"reference nets ({budget})")
    r = sample["recipe"]
    seeds = ", ".join(
        f"{n} ({len(g.runs)} seed{'s' * (len(g.runs) != 1)})" for n, g in references.items()
    )
    print(
        f"Reference nets: {seeds}; {sample['train_size']:,} training images, {sample['epochs']} "
        f"epochs ({r['schedule']}, max lr {r['lr']}, batch {r['batch_size']}, weight decay "
        f"{r['weight_decay']}), {sample['precision']}. Where and how long each was trained: "
        "describe_group(name), or docs/reference-nets.md."
    )
    return fig


def compare_references(
    pairs, metrics=("train_loss", "test_acc"), *, folder: str | Path | None = None
) -> dict:
    """Print, for each pair ``(a, b)`` of shipped nets, a verdict per metric (the training loss
    first: the degradation problem is about fitting), each over the nets' shipped seeds, and
    return them as ``{(a, b): {metric: Verdict}}``. With one seed a side there is no verdict:
    ``compare`` then says only whether the difference is beyond the test set's noise."""
    from resnet_utils.report.verdicts import compare

    verdicts = {}
    for a, b in pairs:
        if not {a, b} <= set(available(folder)):
            print(f"{a} vs {b}: no reference net of both names is shipped.")
            continue
        ga, gb = reference_group(a, folder), reference_group(b, folder)
        size = load_record(a, folder, seed=ga.seeds[0])["test_size"]
        verdicts[(a, b)] = {}
        for metric in metrics:
            verdict = compare(
                ga, gb, metric, test_size=size, a_name=f"{a} (reference)", b_name=f"{b} (reference)"
            )
            verdicts[(a, b)][metric] = verdict
            print(f"Reference nets: {verdict}")
    return verdicts
