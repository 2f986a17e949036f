"""Where the course keeps what it downloads and what it has computed.

The storage folder (``storage_dir``, else ``$RESNET_CACHE_DIR``, else ``~/.cache/resnet-course``)
may sit on a disk that goes away while a run trains: in Colab, Google Drive is unmounted when its
connection drops. Its disk is noted when it is set (:func:`use_storage`), and every write into it
(:func:`resnet_utils.storage.atomic.write_atomically`) first asks :func:`place_to_write` whether
that disk is still there. If it is not, nothing is written below the empty mount point (there it
would sit on the machine's own disk, and Colab's ``drive.mount`` refuses a folder that holds
files): the write goes to the same place in the default cache on this machine instead, and one
warning says so, where, and what to do.
"""

from __future__ import annotations

import os
import re
import sys
import tempfile
import warnings
from dataclasses import dataclass
from pathlib import Path

from resnet_utils.storage.temporaries import TEMPORARIES, remove_stale_temporaries

CACHE_ENV = "RESNET_CACHE_DIR"
DRIVE = Path("/content/drive")
MOUNTS = Path("/proc/self/mountinfo")


class StorageGone(OSError):
    """The storage folder's disk went away (Drive unmounted) and nothing can stand in for it."""


def cache_root() -> Path:
    """``$RESNET_CACHE_DIR``, else ``~/.cache/resnet-course``: decoded data and finished runs."""
    value = os.environ.get(CACHE_ENV)
    root = Path(value).expanduser() if value else home_cache()
    if _absolute(root) not in _storages:  # set without use_storage: noted too, if it is there
        _note(_absolute(root))
    return root


def home_cache() -> Path:
    return Path.home() / ".cache" / "resnet-course"


def in_colab() -> bool:
    return "google.colab" in sys.modules


# What use_storage(folder) put into $RESNET_CACHE_DIR, and what that variable was before (None:
# unset): storage_dir=None then goes back to that, the default the kernel started with.
_ours: str | None = None
_before: str | None = None


def default_root() -> Path:
    """The cache without a storage_dir: ``$RESNET_CACHE_DIR`` as it was before a storage_dir
    replaced it (as the kernel started), else ``~/.cache/resnet-course``."""
    value = os.environ.get(CACHE_ENV)
    if _ours is not None and value == _ours:
        value = _before
    return _absolute(value) if value else home_cache()


def use_storage(folder: str | os.PathLike | None) -> Path:
    """Keep the data and the finished runs in ``folder`` from now on.

    None (or blank) means the default: ``$RESNET_CACHE_DIR`` as the kernel started with it, else
    ``~/.cache/resnet-course``; after an earlier ``storage_dir`` in the same kernel, the runs go
    back there (said in a line). A relative folder is taken from the working directory now, once.

    A folder on Google Drive (``/content/drive/...``) is mounted first in Colab, so the runs
    outlive the Colab machine; Colab asks the student for permission.
    """
    global _ours, _before
    if folder is None or str(folder).strip() == "":
        earlier = os.environ.get(CACHE_ENV)
        if _ours is not None and earlier == _ours:  # an earlier start(storage_dir=...): undo it
            if _before is None:
                os.environ.pop(CACHE_ENV, None)
            else:
                os.environ[CACHE_ENV] = _before
            _ours = None
            print(
                f"storage_dir is None: the runs and data are kept in the default {cache_root()} "
                f"again, no longer in {earlier} (the storage_dir given earlier in this kernel)."
            )
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
            _note(_absolute(root))
            remove_stale_temporaries(root)
        return root
    path = _absolute(folder)  # once: a later %cd does not move the runs
    if path.is_relative_to(DRIVE):
        _mount_drive(path)
    if (known := _storages.get(path)) is not None and (why := _why_gone(known)):
        raise ValueError(  # making it again would put it on this machine's disk, below the mount point
            f"cannot use storage_dir {str(path)!r}: it is gone ({why}). Mount its disk again and "
            "run this cell again; or give another folder, or None for the default."
        )
    problem = writable_problem(path)
    if problem:
        raise ValueError(
            f"cannot use storage_dir {str(path)!r}: {problem}. Give a folder you can write to."
        )
    if _ours is None or os.environ.get(CACHE_ENV) != _ours:
        _before = os.environ.get(CACHE_ENV)
    os.environ[CACHE_ENV] = _ours = str(path)
    _note(path)
    remove_stale_temporaries(path)
    return path


def _mount_drive(path: Path) -> None:
    """Mount Google Drive at :data:`DRIVE` for a storage_dir on it, unless it is mounted."""
    if _is_mount_point(DRIVE):
        return
    if not in_colab():
        if (DRIVE / "MyDrive").exists():  # a folder of that name outside Colab: as given
            return
        raise ValueError(
            f"storage_dir {str(path)!r} is on Google Drive, which is only mounted in Colab: "
            "here, leave storage_dir as None or give a local folder."
        )
    leftover = _contents(DRIVE)
    if leftover:  # not Drive: files on this machine's disk, where Drive is mounted
        raise ValueError(
            f"Google Drive is not mounted at {DRIVE}, yet that folder holds files on this Colab "
            f"machine ({', '.join(leftover)}): most likely written by a run after Drive went "
            "away. They are not on Drive and are lost with the runtime, and Colab cannot mount "
            f"Drive over them. Move them aside: run `!mv {DRIVE} /content/drive-leftover` in a "
            "cell, then this cell again to mount Drive (and copy what you want to keep from "
            "/content/drive-leftover to Drive); or set storage_dir=None to keep the runs on "
            "this Colab machine."
        )
    from google.colab import drive

    try:
        drive.mount(str(DRIVE))
    except Exception as error:  # MessageError when the permission pop-up is closed
        first = str(error).splitlines()[0] if str(error) else ""
        raise ValueError(
            f"Google Drive was not mounted ({type(error).__name__}: {first}), so storage_dir "
            f"{str(path)!r} cannot be used. Run this cell again and allow access to Google "
            "Drive when Colab asks; or set storage_dir=None to go on without Drive (the runs "
            "are then kept on this Colab machine, and lost with the runtime)."
        ) from None


def _contents(folder: Path, most: int = 3) -> list[str]:
    try:
        names = sorted(p.name for p in folder.iterdir())
    except OSError:
        return []
    return names[:most] + (["..."] if len(names) > most else [])


SUBFOLDERS = ("data", "runs")


def writable_problem(root: Path) -> str | None:
    """None if the course can write its data and its runs under ``root``, else why not.

    Tried by writing a small file in each folder (a read-only folder, a file where a folder
    should be or a full disk show here, before any training, not after it)."""
    for folder in (root, *(root / sub for sub in SUBFOLDERS)):
        try:
            try_writing(folder)
        except OSError as error:
            return f"{folder}: {error.strerror or error}"
    return None


def try_writing(folder: Path) -> None:
    """Make ``folder`` and write and remove a small file in it; OSError if that cannot be done."""
    folder.mkdir(parents=True, exist_ok=True)
    fd, probe = tempfile.mkstemp(prefix=".write-test.", suffix=".tmp", dir=folder)
    try:
        os.write(fd, b"x")
    finally:
        os.close(fd)
        os.unlink(probe)


def describe_storage(root: Path) -> str:
    """Where the runs are kept, and how long they last there."""
    storage = _storages.get(_absolute(root))
    if storage is not None and storage.gone:
        return (
            f"{root} (gone during this session: {storage.gone}; runs written since are in "
            f"{storage.stand_in or 'memory only'})"
        )
    if in_colab() and not root.is_relative_to(DRIVE):
        return (
            f"{root} (on this Colab machine: kept across a restarted session, lost with the "
            "runtime; storage_dir='/content/drive/MyDrive/resnet-course' keeps runs on Drive)"
        )
    return str(root)


# --- a storage folder whose disk goes away ----------------------------------------------


@dataclass
class _Storage:
    root: Path  # absolute
    device: int  # os.stat(root).st_dev when it was set
    mount: str  # the mount point that holds it (a real path); "/" for the root file system
    gone: str | None = None  # why it is gone, once noticed (the warning is given once)
    stand_in: Path | None = None  # where its writes go meanwhile


_storages: dict[Path, _Storage] = {}


def _absolute(folder: str | os.PathLike) -> Path:
    return Path(os.path.abspath(Path(folder).expanduser()))


def _note(root: Path) -> None:
    """Note the disk under the storage folder ``root`` (absolute), if it is there now."""
    try:
        _storages[root] = _Storage(root, os.stat(root).st_dev, _mount_point(root))
    except OSError:  # not there (yet): nothing to compare with
        _storages.pop(root, None)


def _mount_points() -> set[str] | None:
    """The mount points of this process's file systems (Linux), or None where not listed."""
    try:
        lines = MOUNTS.read_text().splitlines()
    except OSError:
        return None
    unescape = re.compile(r"\\([0-7]{3})")  # a space is written \040
    return {
        unescape.sub(lambda m: chr(int(m.group(1), 8)), line.split()[4])
        for line in lines
        if len(line.split()) > 4
    }


def _within(path: str, folder: str) -> bool:
    return path == folder or path.startswith(folder.rstrip("/") + "/")


def _mount_point(path: Path) -> str:
    real = os.path.realpath(path)
    mounts = _mount_points()
    if mounts is None:
        while not os.path.ismount(real) and real != os.path.dirname(real):
            real = os.path.dirname(real)
        return real
    return max((m for m in mounts if _within(real, m)), key=len, default="/")


def _is_mount_point(folder: Path) -> bool:
    """Whether a file system is mounted at ``folder`` (a bind mount included, which
    ``os.path.ismount`` does not see)."""
    if os.path.ismount(folder):
        return True
    mounts = _mount_points()
    return mounts is not None and os.path.realpath(folder) in mounts


def _why_gone(storage: _Storage) -> str | None:
    """None while ``storage`` can be written, else why not, in words."""
    if storage.root.is_relative_to(DRIVE) and in_colab() and not _is_mount_point(DRIVE):
        return f"Google Drive is no longer mounted at {DRIVE}"
    if storage.mount != "/" and not _is_mount_point(Path(storage.mount)):
        return f"{storage.mount} is no longer mounted"
    folder = storage.root
    while True:  # the folder, or the nearest folder above it that is still there
        try:
            device = os.stat(folder).st_dev
            break
        except (FileNotFoundError, NotADirectoryError):
            folder = folder.parent
        except OSError as error:  # a dead network or FUSE mount: "not connected"
            return f"it cannot be reached ({error.strerror or error})"
    if folder == storage.root:
        if device != storage.device:  # there, on a disk mounted again (drive.mount by hand)
            storage.device, storage.mount = device, _mount_point(folder)
        return None
    if device == storage.device:  # deleted, on a disk still there: it is made again
        return None
    return f"the disk it was on is no longer there ({folder} is on another one)"


def _holding(path: Path) -> _Storage | None:
    """The noted storage folder that holds ``path`` (absolute), if any."""
    holders = [s for s in _storages.values() if path.is_relative_to(s.root)]
    return max(holders, key=lambda s: len(s.root.parts), default=None)


def _stand_in_root(storage: _Storage) -> Path | None:
    """A folder on this machine for what ``storage`` would have held: the default cache."""
    for candidate in (default_root(), home_cache(), Path(tempfile.gettempdir()) / "resnet-course"):
        candidate = _absolute(candidate)
        if candidate.is_relative_to(storage.root) or storage.root.is_relative_to(candidate):
            continue
        if storage.mount != "/" and _within(str(candidate), storage.mount):
            continue  # below the same empty mount point
        other = _holding(candidate)
        if other is not None and other is not storage and _why_gone(other):
            continue
        return candidate
    return None


def temporaries_folder(path: str | os.PathLike) -> Path:
    """Where the temporary of a file about to be written to ``path`` goes: the
    :data:`~resnet_utils.storage.temporaries.TEMPORARIES` folder of the storage folder that
    holds ``path`` (swept when a session starts), if it is on the same disk (a rename across
    disks is no rename); else ``path``'s own folder."""
    path = _absolute(path)
    storage = _holding(path)
    if storage is not None:
        folder = storage.root / TEMPORARIES
        folder.mkdir(parents=True, exist_ok=True)
        if os.stat(folder).st_dev == os.stat(path.parent).st_dev:
            return folder
    return path.parent


def stand_in(path: str | os.PathLike) -> Path | None:
    """Where a write meant for ``path`` goes while its storage folder is gone, else None."""
    path = _absolute(path)
    storage = _holding(path)
    if storage is None or _why_gone(storage) is None:
        return None
    root = _stand_in_root(storage)
    return None if root is None else root / path.relative_to(storage.root)


def place_to_write(path: str | os.PathLike) -> Path:
    """Where a file meant for ``path`` is written: ``path`` itself, unless it lies in a storage
    folder whose disk has gone away (Drive unmounted), in which case it is the same place in the
    default cache on this machine; the first such write warns, naming both folders and what to
    do. A storage folder deleted from a disk that is still there is simply made again.

    Raises :class:`StorageGone` when no folder on this machine can stand in."""
    storage = _holding(_absolute(path))
    if storage is None:
        return Path(path)
    why = _why_gone(storage)
    if why is None:
        storage.gone = storage.stand_in = None
        return Path(path)
    root = _stand_in_root(storage)
    if storage.gone is None:
        storage.gone, storage.stand_in = why, root
        warnings.warn(_gone_message(storage, why, root), stacklevel=4)
    if root is None:
        raise StorageGone(f"the storage folder {storage.root} is gone: {why}")
    return root / _absolute(path).relative_to(storage.root)


def _gone_message(storage: _Storage, why: str, stand_in: Path | None) -> str:
    root = storage.root
    if stand_in is not None:
        kept = f"its checkpoints and finished runs go to {stand_in} on this machine instead" + (
            " (lost with the Colab runtime)" if in_colab() else ""
        )
        shell = "!" if in_colab() else ""  # a shell command in a notebook cell
        copy = f"; then `{shell}cp -r {stand_in / 'runs'}/. {root / 'runs'}/` keeps these runs there too"
    else:
        kept, copy = "nothing of it is written to disk", ""
    if root.is_relative_to(DRIVE) or in_colab():
        again = f"run the set-up cell again (it mounts Google Drive; or drive.mount('{DRIVE}'))"
    else:
        again = "mount its disk again and run the set-up cell again"
    return (
        f"the storage folder {root} is gone: {why}. Nothing more is written there (it would land "
        "on this machine's own disk, below the empty mount point). This run goes on and is kept "
        f"in memory for this session; {kept}. To keep the next runs in {root}: {again}{copy}."
    )
