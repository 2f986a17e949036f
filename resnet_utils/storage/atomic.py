"""Atomic file writes: a crash or a Ctrl-C mid-write never leaves a half-written file.

A write goes to a temporary file that is renamed into place when complete: in the storage
folder's folder of temporaries (:func:`resnet_utils.storage.paths.temporaries_folder`), where
whatever a process killed outright (``kill -9``, a full machine reset) leaves is swept later.
"""

from __future__ import annotations

import errno
import json
import math
import os
import pickle
import shutil
from collections.abc import Callable
from pathlib import Path

import torch

from resnet_utils.storage import paths
from resnet_utils.storage.temporaries import temporary_name


def write_atomically(path: Path, write: Callable[[Path], None]) -> Path:
    """Call ``write(tmp)`` on a temporary file, then rename it to ``path``.

    ``write`` creates the file, so it gets the usual mode (the umask's, as ``open`` gives it):
    a teacher's shared cache stays readable by the students it is shared with.

    A path in a storage folder whose disk has gone away (Google Drive unmounted mid-run) is
    never written below the empty mount point: the file goes to the default cache on this
    machine, with a warning (:func:`resnet_utils.storage.paths.place_to_write`). Returns the
    path written.
    """
    path = paths.place_to_write(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = temporary_name(paths.temporaries_folder(path), path.name)
    try:
        write(tmp)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return path


def remove_file(path: Path) -> None:
    """Remove ``path`` if it is there, and the file written in its stead while its storage
    folder was gone (see :func:`write_atomically`)."""
    elsewhere = paths.stand_in(path)  # None while its storage folder is there
    (Path(path) if elsewhere is None else elsewhere).unlink(missing_ok=True)


def write_problem(error: BaseException, folder: Path) -> str:
    """Why a write into ``folder`` failed, in words. A full disk is named as such, with the
    space left: torch's zip writer reports one as ``RuntimeError: ... unexpected pos``."""
    existing = Path(folder)
    while not existing.exists() and existing != existing.parent:  # not made yet: its disk
        existing = existing.parent
    try:
        free = shutil.disk_usage(existing).free
    except OSError:
        free = None
    full = (
        getattr(error, "errno", None) == errno.ENOSPC
        or "unexpected pos" in str(error)
        or (free is not None and free < 2**20)
    )
    if isinstance(error, paths.StorageGone):
        return str(error)
    if full:
        left = "?" if free is None else f"{free / 2**20:.0f}"
        return f"no space left on device: {left} MB free in {folder}"
    first = str(error).splitlines()[0] if str(error) else ""
    return f"{type(error).__name__}: {first}"


def save_json(path: Path, obj, *, strict: bool = False) -> None:
    """Write valid (strict) JSON, which has no NaN or infinity.

    ``strict=True`` raises ValueError on a non-finite number (data that should never hold
    one, such as a run's history); otherwise such a number is written as ``null`` (a
    summary's "no value", for example the mean of no finished seed).
    """
    text = json.dumps(obj if strict else _finite_or_none(obj), indent=1, sort_keys=True, allow_nan=False)
    write_atomically(path, lambda tmp: tmp.write_text(text))


def _finite_or_none(obj):
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {k: _finite_or_none(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_finite_or_none(v) for v in obj]
    return obj


def save_tensors(path: Path, tensors: dict[str, torch.Tensor]) -> None:
    """Save a flat dict of tensors; read it back with :func:`load_tensors` (no pickled code)."""
    write_atomically(path, lambda tmp: torch.save(tensors, tmp))


def load_tensors(path: Path, map_location="cpu") -> dict:
    """Tensors (and plain numbers, lists, dicts) only: a file holding pickled code is refused
    in words, not with torch's advice to load it with ``weights_only=False``."""
    try:
        return torch.load(path, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError:
        raise pickle.UnpicklingError(
            f"{Path(path).name} holds pickled code, not only tensors: it will not be loaded, "
            "since loading it would run that code. Delete it (it is remade or retrained), or "
            "ask whoever gave it to you."
        ) from None
