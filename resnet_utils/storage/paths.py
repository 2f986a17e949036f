"""Where the course keeps what it downloads and what it has computed."""

from __future__ import annotations

import os
import sys
import tempfile
import warnings
from pathlib import Path

from resnet_utils.storage import atomic

CACHE_ENV = "RESNET_CACHE_DIR"
DRIVE = Path("/content/drive")


def cache_root() -> Path:
    """``$RESNET_CACHE_DIR``, else ``~/.cache/resnet-course``: decoded data and finished runs."""
    root = os.environ.get(CACHE_ENV)
    return Path(root).expanduser() if root else Path.home() / ".cache" / "resnet-course"


def in_colab() -> bool:
    return "google.colab" in sys.modules


def use_storage(folder: str | os.PathLike | None) -> Path:
    """Keep the data and the finished runs in ``folder`` from now on (None: as before).

    A folder on Google Drive (``/content/drive/...``) is mounted first in Colab, so the runs
    outlive the Colab machine; Colab asks the student for permission.
    """
    if folder is None or str(folder).strip() == "":
        root = cache_root()
        problem = writable_problem(root)
        if problem:
            warnings.warn(
                f"the course cannot write to its cache {root} ({problem}): finished runs and "
                "decoded images will not be kept for the next session. Give storage_dir a "
                f"folder you can write to, or set ${CACHE_ENV} to one.",
                stacklevel=2,
            )
        else:
            remove_stale_cache_temporaries(root)
        return root
    path = Path(folder).expanduser()
    if path.is_relative_to(DRIVE) and not (DRIVE / "MyDrive").exists():
        if not in_colab():
            raise ValueError(
                f"storage_dir {str(path)!r} is on Google Drive, which is only mounted in Colab: "
                "here, leave storage_dir as None or give a local folder."
            )
        from google.colab import drive

        drive.mount(str(DRIVE))
    problem = writable_problem(path)
    if problem:
        raise ValueError(
            f"cannot use storage_dir {str(path)!r}: {problem}. Give a folder you can write to."
        )
    os.environ[CACHE_ENV] = str(path)
    remove_stale_cache_temporaries(path)
    return path


SUBFOLDERS = ("data", "runs")


def writable_problem(root: Path) -> str | None:
    """None if the course can write its data and its runs under ``root``, else why not.

    Tried by writing a small file in each folder (a read-only folder, a file where a folder
    should be or a full disk show here, before any training, not after it)."""
    for folder in (root, *(root / sub for sub in SUBFOLDERS)):
        try:
            folder.mkdir(parents=True, exist_ok=True)
            fd, probe = tempfile.mkstemp(prefix=".write-test.", suffix=".tmp", dir=folder)
            try:
                os.write(fd, b"x")
            finally:
                os.close(fd)
                os.unlink(probe)
        except OSError as error:
            return f"{folder}: {error.strerror or error}"
    return None


def remove_stale_cache_temporaries(root: Path) -> None:
    """Remove what writers killed mid-write (``kill -9``) left in the cache's folders."""
    for sub in SUBFOLDERS:
        atomic.remove_stale_temporaries(root / sub)


def describe_storage(root: Path) -> str:
    """Where the runs are kept, and how long they last there."""
    if in_colab() and not root.is_relative_to(DRIVE):
        return (
            f"{root} (on this Colab machine: kept across a restarted session, lost with the "
            "runtime; storage_dir='/content/drive/MyDrive/resnet-course' keeps runs on Drive)"
        )
    return str(root)
