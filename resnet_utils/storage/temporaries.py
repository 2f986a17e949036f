"""The course's temporary files: one folder of them per storage folder, swept wholesale.

Every file is written to a temporary and renamed into place
(:func:`resnet_utils.storage.atomic.write_atomically`). Within a storage folder the temporaries
all go to its :data:`TEMPORARIES` folder, which holds nothing else: a writer killed mid-write
(``kill -9``, a Colab runtime reset) cannot remove its temporary, and
:func:`remove_stale_temporaries` removes whatever is old there, whatever kind of file it was.
"""

from __future__ import annotations

import secrets
import shutil
import time
from pathlib import Path

# A name no user's folder has: a storage folder may be shared, and only this folder is swept.
TEMPORARIES = ".resnet-course-tmp"
# A temporary file untouched for this long belongs to a dead writer: a live one writes
# continuously and renames its file within seconds of finishing.
STALE_SECONDS = 15 * 60


def temporary_name(folder: Path, target: str) -> Path:
    """A fresh temporary in ``folder`` for a file to be named ``target``: ``.<target>.<random>.tmp``."""
    return Path(folder) / f".{target}.{secrets.token_hex(4)}.tmp"


def remove_stale_temporaries(root: Path, older_than: float = STALE_SECONDS) -> list[Path]:
    """Remove what dead writers left in ``root``'s :data:`TEMPORARIES` folder: everything there
    untouched for ``older_than`` seconds (a write in progress in another notebook stays).
    Returns what was removed."""
    removed = []
    try:
        entries = list((Path(root) / TEMPORARIES).iterdir())
    except OSError:  # none written yet, or the folder cannot be reached
        return removed
    now = time.time()
    for entry in entries:
        try:
            if now - entry.lstat().st_mtime < older_than:
                continue
            if entry.is_dir() and not entry.is_symlink():
                shutil.rmtree(entry)
            else:
                entry.unlink()
            removed.append(entry)
        except OSError:  # gone already, or not ours to remove: leave it
            continue
    return removed
