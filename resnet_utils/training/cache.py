"""Finished runs on disk: a key from everything that determines a run, atomic writes, safe loads.

A run is two files under ``<cache root>/runs``: ``<key>.json`` (what was run and its history)
and ``<key>.pt`` (the trained weights, a plain dict of tensors read with
``weights_only=True``, so loading never runs pickled code).
"""

from __future__ import annotations

import hashlib
import json
import pickle
import warnings
from pathlib import Path

import torch

from resnet_utils.storage.atomic import load_tensors, save_json, save_tensors
from resnet_utils.storage.paths import cache_root

# Bump when the history layout or the spec's meaning changes, so old entries are not misread.
# 2: names lower-case and default options dropped before keying; the net's layout in the spec.
FORMAT = 2


def _canonical(spec: dict) -> dict:
    """The spec as JSON gives it back (tuples become lists), so saved and asked specs compare."""
    return json.loads(json.dumps(spec, sort_keys=True))


def module_layout(model: torch.nn.Module) -> str:
    """A hash of the net's module tree (every parameter's and buffer's name, shape and type).

    Part of a run's spec: change the code that builds a net and its old weights no longer
    match a key, so they are never loaded into a net they do not fit."""
    text = json.dumps(
        [(k, list(v.shape), str(v.dtype)) for k, v in model.state_dict().items()], sort_keys=False
    )
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def run_key(spec: dict) -> str:
    text = json.dumps({"format": FORMAT, **_canonical(spec)}, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:20]


class RunCache:
    def __init__(self, root: str | Path | None = None):
        self.root = Path(root) if root is not None else cache_root() / "runs"

    def paths(self, spec: dict) -> tuple[Path, Path]:
        key = run_key(spec)
        return self.root / f"{key}.json", self.root / f"{key}.pt"

    def checkpoint_path(self, spec: dict) -> Path:
        """Where an unfinished run keeps its last epoch (see ``train.fit``); gone once it is done."""
        return self.root / f"{run_key(spec)}.resume.pt"

    def load(self, spec: dict) -> tuple[dict, dict | None] | None:
        """(history, weights or None) for this spec, or None if there is no sound entry.

        An entry that cannot be trusted is not used, with a warning that names the damaged
        file and says the run is trained again: a damaged entry costs time, never a wrong net.
        """
        record_path, weights_path = self.paths(spec)
        key = record_path.stem

        def ignored(why: str, then: str = "the run is trained again") -> None:
            warnings.warn(f"ignoring cache entry {key}: {why}; {then}.", stacklevel=3)

        try:
            if not record_path.exists():
                return None
        except OSError as error:  # a storage folder whose disk went away (Drive unmounted)
            ignored(
                f"cannot read the run cache {self.root} ({_reason(error)}: has its disk, such as "
                "Google Drive, gone away?)",
                "the run is trained instead of loaded",
            )
            return None
        try:
            record = json.loads(record_path.read_text())
            if record.get("format") != FORMAT or record.get("spec") != _canonical(spec):
                raise ValueError("the entry was written for another run")
            history = record["history"]
            diverged = bool(history.get("diverged"))
        except Exception as error:  # damaged, foreign or half-copied: retrain, do not trust
            ignored(f"its record {record_path} cannot be used ({_reason(error)})")
            return None
        if diverged:
            return history, None
        try:
            weights = load_tensors(weights_path)
        except FileNotFoundError:
            ignored(f"its weights file {weights_path} is missing")
            return None
        except pickle.UnpicklingError as error:  # load_tensors says why in words
            ignored(str(error).rstrip("."))
            return None
        except Exception as error:  # truncated (a cut copy), bits changed, unreadable
            ignored(
                f"its weights file {weights_path} is damaged (truncated or changed since it was "
                f"written: {_reason(error)})"
            )
            return None
        return history, weights

    def save(self, spec: dict, history: dict, weights: dict[str, torch.Tensor] | None) -> None:
        """Store a run; ``weights`` is a state_dict on any device (copied to the CPU here)."""
        record_path, weights_path = self.paths(spec)
        if weights is not None:  # weights first: a record is only ever beside its weights
            save_tensors(weights_path, {k: v.detach().cpu().contiguous() for k, v in weights.items()})
        record = {"format": FORMAT, "spec": _canonical(spec), "history": history}
        save_json(record_path, record, strict=True)


def _reason(error: BaseException) -> str:
    """An error's type and first line, short: torch's zip reader adds a paragraph of advice."""
    first = str(error).strip().splitlines()[0] if str(error).strip() else ""
    first = first.split(". ")[0].rstrip(".")
    if len(first) > 120:
        first = first[:117] + "..."
    return f"{type(error).__name__}: {first}" if first else type(error).__name__
