"""The course's temporary files: how they are named, and how a dead writer's are swept.

Every file is written to a temporary beside its target and renamed
(:func:`resnet_utils.storage.atomic.write_atomically`); a writer killed mid-write (``kill -9``, a
Colab runtime reset) cannot remove its temporary: :func:`remove_stale_temporaries` does, later.
"""

from __future__ import annotations

import re
import shutil
import time
from pathlib import Path

TMP_PREFIX = "."
TMP_SUFFIX = ".tmp"
# A temporary file untouched for this long belongs to a dead writer: a live one writes
# continuously and renames its file within seconds of finishing.
STALE_SECONDS = 15 * 60
# The temporaries the course itself writes (``.<target>.<8 random>.tmp``), and only those are
# ever removed: a run (its record, weights or checkpoint), decoded data, the CIFAR-10 archive,
# an extraction folder, a write probe. A user's own hidden ``*.tmp`` in a shared folder stays.
COURSE_TEMPORARY = re.compile(
    r"\.(?:[0-9a-f]{20}\.(?:json|pt|resume\.pt)|cifar10-[0-9a-f]{12}-[0-9a-f]{12}\.pt"
    r"|cifar-10-python\.tar\.gz|extract|write-test)\.[a-z0-9_]{8}\.tmp"
)


def remove_stale_temporaries(folder: Path, older_than: float = STALE_SECONDS) -> list[Path]:
    """Remove the temporary files (and folders) of writers that died in ``folder``.

    Only the course's own names (:data:`COURSE_TEMPORARY`) untouched for ``older_than``
    seconds go: a write in progress in another notebook, or a user's file, is never touched.
    Returns what was removed.
    """
    removed = []
    try:
        candidates = list(Path(folder).glob(f"{TMP_PREFIX}*{TMP_SUFFIX}"))
    except OSError:
        return removed
    now = time.time()
    for item in candidates:
        if not COURSE_TEMPORARY.fullmatch(item.name):  # not a name the course writes
            continue
        try:
            if now - item.lstat().st_mtime < older_than:
                continue
            if item.is_dir() and not item.is_symlink():
                shutil.rmtree(item)
            else:
                item.unlink()
            removed.append(item)
        except OSError:  # gone already, or not ours to remove: leave it
            continue
    return removed
