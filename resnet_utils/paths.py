"""Where the course keeps what it downloads and what it has computed."""

from __future__ import annotations

import os
import sys
from pathlib import Path

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
        return cache_root()
    path = Path(folder).expanduser()
    if path.is_relative_to(DRIVE) and not (DRIVE / "MyDrive").exists():
        if not in_colab():
            raise ValueError(
                f"storage_dir {str(path)!r} is on Google Drive, which is only mounted in Colab: "
                "here, leave storage_dir as None or give a local folder."
            )
        from google.colab import drive

        drive.mount(str(DRIVE))
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise ValueError(
            f"cannot use storage_dir {str(path)!r}: {error}. Give a folder you can write to."
        ) from error
    os.environ[CACHE_ENV] = str(path)
    return path


def describe_storage(root: Path) -> str:
    """Where the runs are kept, and how long they last there."""
    if in_colab() and not root.is_relative_to(DRIVE):
        return (
            f"{root} (on this Colab machine: kept across a restarted session, lost with the "
            "runtime; storage_dir='/content/drive/MyDrive/resnet-course' keeps runs on Drive)"
        )
    return str(root)
