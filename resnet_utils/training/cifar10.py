"""CIFAR-10 from a local copy or the official download, decoded once and cached.

Sources, in the order they are tried:
1. a local copy given by ``root=`` or ``$CIFAR10_DIR``: either the ImageFolder layout
   (``train/<class>/*.jpg|png`` and ``test/<class>/...``) or torchvision's own
   ``cifar-10-batches-py`` folder (or a folder holding it);
2. the official release, downloaded into the course cache: it shows its speed and the time
   left, tells the student within half a minute when that time is long (and what else to
   do), and resumes where a stopped download left off.
Whatever the source, the images are decoded once and kept as a tensor file in the cache,
so the next load takes a second, not a minute.
"""

from __future__ import annotations

import hashlib
import os
import warnings
from pathlib import Path

import torch

from resnet_utils.storage.atomic import load_tensors, save_tensors
from resnet_utils.storage.paths import cache_root
from resnet_utils.storage.temporaries import remove_stale_temporaries
from resnet_utils.training.data import CLASSES, ImageData

DATA_ENV = "CIFAR10_DIR"

_HOW_TO_POINT = (
    "Point the course at a local copy: pass data_dir='/path/to/cifar10' (the notebook "
    f"parameter), or set the environment variable {DATA_ENV}. A copy is either the "
    "ImageFolder layout (train/<class>/*.png and test/<class>/*.png) or torchvision's "
    "'cifar-10-batches-py' folder (from https://www.cs.toronto.edu/~kriz/cifar.html)."
)

BATCHES = "cifar-10-batches-py"  # torchvision's name for the official release's folder
DOWNLOAD_URL = "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz"
DOWNLOAD_TIMEOUT = 60  # seconds to wait for the server to answer, or for the next bytes
DOWNLOAD_CHUNK = 64 * 1024  # bytes per read at most: a trickling server still moves the bar
SLOW_WINDOW = 20  # seconds over which the speed is measured (again every window after)
SLOW_AFTER = 5 * 60  # seconds left, at the speed measured, above which the student is told
ARCHIVE_BYTES = 170_498_071  # the official archive's size: the estimate where a server gives none
PART_SUFFIX = ".part"  # the download in progress: renamed to the archive's name once whole
RELEASE_PAGE = "https://www.cs.toronto.edu/~kriz/cifar.html"

_ON_COLAB = (
    "On Colab, a copy on your Google Drive: mount Drive and pass "
    "data_dir='/content/drive/MyDrive/cifar10'; storage_dir='/content/drive/MyDrive/resnet-course' "
    "keeps this download (even a part of it) for the next runtime."
)


def load_cifar10(root: str | os.PathLike | None = None, *, download: bool = True) -> ImageData:
    """CIFAR-10 from a local copy (``root`` or ``$CIFAR10_DIR``), else the official download.

    The course's own download (in the cache) is checked against the official MD5 sums
    before it is decoded: a damaged one is removed and fetched again, a stopped one goes on
    where it stopped (:func:`_fetch`).
    A copy of your own is never changed or removed; a damaged file in it is named.
    """
    root = root or os.environ.get(DATA_ENV) or None
    if root is not None:
        path = Path(root).expanduser().resolve()
        if not path.exists():
            raise FileNotFoundError(f"CIFAR-10 folder {path} does not exist. {_HOW_TO_POINT}")
        if _is_image_folders(path):
            return _cached(path, _listing(path, ("train", "test")), lambda: _read_image_folders(path))
        batches = _batches_in(path)
        return _cached(batches, _listing(batches), lambda: _read_batches(batches))
    download_root = cache_root() / "data"
    batches = download_root / BATCHES
    data = _from_cache(batches, _listing(batches))  # decoded before: checked then
    if data is not None:
        return data
    problem = _batches_problem(batches)
    if problem is not None:
        if not download:
            if not batches.exists():
                raise FileNotFoundError(f"no CIFAR-10 copy at {batches}. {_HOW_TO_POINT}")
            raise FileNotFoundError(
                f"the CIFAR-10 download in {batches} is {problem}: delete that folder (or "
                f"call load_cifar10 with download=True) to download it again. {_HOW_TO_POINT}"
            )
        _download(download_root)
    return _cached(batches, _listing(batches), lambda: _read_batches(batches))


def _download(root: Path) -> None:
    """Fetch and unpack the official release into ``root/cifar-10-batches-py``.

    Whatever an earlier, interrupted download left there is the course's own and is
    replaced; the archive is only given its name once whole and checked (:func:`_fetch`), so
    a cut never leaves a full-looking one. Raises RuntimeError naming the address, what went
    wrong and what to do: run the cell again, or point at a local copy instead."""
    from torchvision.datasets import CIFAR10

    archive = root / CIFAR10.filename
    try:
        root.mkdir(parents=True, exist_ok=True)
        remove_stale_temporaries(root)
        if archive.exists() and not _intact(archive, CIFAR10.tgz_md5):
            archive.unlink()  # damaged (the course's own): fetched again
        if not archive.exists():
            _fetch(DOWNLOAD_URL, archive, CIFAR10.tgz_md5)
        _extract(archive, root)
    except Exception as error:  # network errors come in many types
        raise RuntimeError(
            f"could not download CIFAR-10 from {DOWNLOAD_URL} into {root} ({_why(error)}). "
            f"{_HOW_TO_POINT} {_ON_COLAB}"
        ) from error
    problem = _batches_problem(root / BATCHES)
    if problem is not None:
        raise RuntimeError(f"the CIFAR-10 download in {root / BATCHES} is {problem}. " + _HOW_TO_POINT)
    archive.unlink(missing_ok=True)  # unpacked and checked: 170 MB no longer needed


class _DownloadProblem(OSError):
    """A download that stopped (the part received is kept) or arrived damaged (removed)."""


def _why(error: BaseException) -> str:
    import urllib.error

    if isinstance(error, _DownloadProblem):
        return str(error)
    if isinstance(error, urllib.error.HTTPError):
        return (
            f"the server answered HTTP {error.code} {error.reason} for {error.url}: the file may "
            f"have moved (see {RELEASE_PAGE}), or the server is down; try again later"
        )
    if _timed_out(error):
        return f"no answer from the server within {DOWNLOAD_TIMEOUT} s"
    return f"{type(error).__name__}: {error}"


def _timed_out(error: BaseException) -> bool:
    return isinstance(error, TimeoutError) or isinstance(getattr(error, "reason", None), TimeoutError)


def _fetch(url: str, target: Path, md5: str) -> None:
    """Download ``url`` to ``target``, going on from ``target.part`` where one was left.

    The bytes go to ``<target>.part``; only once their count matches the server's and their
    MD5 is ``md5`` is the file renamed to ``target``. A stopped download (Ctrl-C, a dropped
    connection, a server silent for :data:`DOWNLOAD_TIMEOUT` s) keeps its part, and the next
    call asks for the rest (``Range``); a server that answers with the whole file (200)
    starts the part over. The bar shows the speed and the time left; where that time is over
    :data:`SLOW_AFTER` s at the speed of a :data:`SLOW_WINDOW`-second window, the student is
    told once, within that window, what else to do, and the download goes on.
    torchvision's ``download_url`` has no timeout, no resume and no time-left message: hence
    this fetch (torchvision's own MD5 check and unpacking are used where they fit).
    """
    part = target.with_name(target.name + PART_SUFFIX)
    with open(part, "ab") as out:  # created if new; every write goes to its end
        _lock(out, part)
        try:
            done, total = _receive(url, out, part, md5)
        finally:
            if os.fstat(out.fileno()).st_size == 0:
                part.unlink(missing_ok=True)  # nothing received: nothing to go on from
    if done is None:  # the part was whole already
        os.replace(part, target)
        return
    if total is not None and done != total:
        raise _DownloadProblem(_stopped("the connection dropped", done, total, part))
    if not _intact(part, md5):
        part.unlink(missing_ok=True)
        raise _DownloadProblem(
            "the download arrived damaged: its MD5 does not match the official release's, so it "
            "was removed. Run the cell again to download it anew"
        )
    os.replace(part, target)


def _receive(url: str, out, part: Path, md5: str) -> tuple[int | None, int | None]:
    """Append the rest of ``url`` to ``out`` (the open, locked ``part``), showing the bar.
    Returns the bytes the part holds then and the file's full size (None: not said), or
    (None, None) where the part is whole already."""
    import http.client
    import time
    import urllib.error
    import urllib.parse

    from tqdm.auto import tqdm

    have = os.fstat(out.fileno()).st_size
    try:
        response = _open(url, have)
    except urllib.error.HTTPError as error:
        if error.code != 416 or not have:
            raise
        # nothing after byte `have`: the part is whole (stopped before its rename), or wrong
        if _intact(part, md5):
            return None, None
        out.truncate(0)
        have, response = 0, _open(url, 0)
    if response.status == 206 and _range_start(response) != have:  # not the range asked for
        response.close()
        out.truncate(0)
        have, response = 0, _open(url, 0)
    with response:
        length = int(response.headers.get("Content-Length") or 0) or None
        if response.status != 206:  # the whole file: no range support, or none asked
            out.truncate(0)
            have = 0
        total = have + length if length else None
        done = have
        host = urllib.parse.urlsplit(url).netloc
        bar = tqdm(
            total=total,
            initial=have,
            unit="B",
            unit_scale=True,
            desc="downloading CIFAR-10",
            leave=True,  # the last speed and size stay in view
            mininterval=0.5,
        )
        mark_time, mark_done, told = time.monotonic(), done, False
        try:
            while True:
                try:
                    chunk = response.read1(DOWNLOAD_CHUNK)  # what has arrived, up to 64 KiB
                except (OSError, http.client.HTTPException) as error:
                    why = (
                        f"no answer from the server within {DOWNLOAD_TIMEOUT} s"
                        if _timed_out(error)
                        else f"{type(error).__name__}: {error}"
                    )
                    raise _DownloadProblem(_stopped(why, done, total, part)) from error
                if not chunk:
                    return done, total
                out.write(chunk)
                done += len(chunk)
                bar.update(len(chunk))
                now = time.monotonic()
                if now - mark_time >= SLOW_WINDOW:
                    speed = (done - mark_done) / (now - mark_time)
                    left = (total or ARCHIVE_BYTES) - done
                    if not told and left > speed * SLOW_AFTER:
                        _say(_slow_message(speed, now - mark_time, left, host, part))
                        told = True
                    mark_time, mark_done = now, done
        except KeyboardInterrupt:
            out.flush()
            _say(_stopped("stopped", done, total, part))
            raise
        finally:
            bar.close()


def _open(url: str, have: int):
    """The server's answer to a GET of ``url``, asking for the bytes after ``have`` if any."""
    import urllib.request

    headers = {"User-Agent": "resnet-course"}
    if have:
        headers["Range"] = f"bytes={have}-"
    return urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=DOWNLOAD_TIMEOUT)


def _range_start(response) -> int | None:
    """The first byte of a 206 answer, from ``Content-Range: bytes N-M/T``."""
    import re

    header = (response.headers.get("Content-Range") or "").strip()
    found = re.fullmatch(r"bytes (\d+)-\d+/(?:\d+|\*)", header)
    return int(found.group(1)) if found else None


def _lock(file, part: Path) -> None:
    """One download into ``part`` at a time: two notebooks appending to it would garble it."""
    try:
        import fcntl
    except ImportError:  # Windows: not locked
        return
    try:
        fcntl.flock(file.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        raise _DownloadProblem(
            f"another notebook is downloading CIFAR-10 into {part} right now: wait until it is "
            "done, then run this cell again"
        ) from None


def _stopped(why: str, done: int, total: int | None, part: Path) -> str:
    if done == 0:
        return f"{why}; nothing was received. Run the cell again later"
    of = f" of {_size(total)}" if total else ""
    return (
        f"{why}; the download stopped at {_size(done)}{of}, kept in {part}. Run the cell "
        "again (now or later): the download goes on where it stopped"
    )


def _slow_message(speed: float, window: float, left: int, host: str, part: Path) -> str:
    at = f"{_size(speed)}/s" if speed > 0 else "no bytes"
    eta = f"about {_duration(left / speed)}" if speed > 0 else "for ever"
    return (
        f"CIFAR-10 arrives slowly from {host}: {at} over the last {window:.0f} s, so the "
        f"{_size(left)} left would take {eta} at that speed. The download goes on; instead:\n"
        f"  - use a CIFAR-10 copy you already have. {_HOW_TO_POINT}\n"
        f"  - {_ON_COLAB}\n"
        "  - or stop this cell and run it again later: the download goes on where it stopped "
        f"(kept in {part})."
    )


def _say(text: str) -> None:
    """One message to the student, in a notebook's output too, without breaking the bar."""
    from tqdm.auto import tqdm

    tqdm.write(text)


def _size(n: float) -> str:
    from tqdm import tqdm

    return tqdm.format_sizeof(n, suffix="B")


def _duration(seconds: float) -> str:
    minutes = round(seconds / 60)
    if minutes < 1:
        return f"{seconds:.0f} s"
    if minutes < 90:
        return f"{minutes} min"
    return f"{minutes // 60} h {minutes % 60:02d} min"


def _extract(archive: Path, root: Path) -> None:
    """Unpack the release's folder beside the archive, replacing a partial one at once."""
    import shutil
    import tarfile
    import tempfile

    target = root / BATCHES
    staging = Path(tempfile.mkdtemp(prefix=".extract.", suffix=".tmp", dir=root))
    try:
        with tarfile.open(archive, "r:gz") as tar:
            members = [m for m in tar.getmembers() if Path(m.name).parts[:1] == (BATCHES,)]
            for m in members:
                if not (m.isfile() or m.isdir()) or Path(m.name).is_absolute() or ".." in m.name:
                    raise OSError(f"unexpected entry {m.name!r} in {archive.name}")
            tar.extractall(staging, members=members)
        if target.exists():  # an interrupted earlier download, in the course's own cache
            shutil.rmtree(target)
        os.replace(staging / BATCHES, target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _intact(file: Path, md5: str) -> bool:
    from torchvision.datasets import cifar

    return cifar.check_integrity(str(file), md5)


def _release_files() -> list[tuple[str, str]]:
    """(name, MD5) of every file of the official cifar-10-batches-py folder."""
    from torchvision.datasets import CIFAR10

    files = [tuple(entry) for entry in CIFAR10.train_list + CIFAR10.test_list]
    return files + [(CIFAR10.meta["filename"], CIFAR10.meta["md5"])]


def _batches_problem(folder: Path) -> str | None:
    """None if ``folder`` holds the official files intact, else what is wrong, naming a file."""
    if not folder.is_dir():
        return "missing"
    for name, md5 in _release_files():
        if not (folder / name).exists():
            return f"incomplete: {name} is missing"
        if not _intact(folder / name, md5):
            return f"damaged: {name} does not match the official release (truncated or changed)"
    return None


def _is_image_folders(path: Path) -> bool:
    return (path / "train").is_dir() and (path / "test").is_dir()


def _batches_in(path: Path) -> Path:
    for candidate in (path, path / BATCHES):
        if (candidate / "data_batch_1").exists() and (candidate / "test_batch").exists():
            return candidate
    for have, lack in (("train", "test"), ("test", "train")):
        if (path / have).is_dir() and not (path / lack).is_dir():
            raise FileNotFoundError(
                f"{path} has {have}/ but no {lack}/: the class-folder layout needs both "
                f"{path / 'train'} and {path / 'test'}, each with CIFAR-10's 10 class folders."
            )
    raise FileNotFoundError(
        f"{path} holds neither train/ and test/ class folders nor torchvision's "
        f"cifar-10-batches-py files. {_HOW_TO_POINT}"
    )


def _read_batches(batches: Path) -> dict[str, torch.Tensor]:
    """The pickled batches of the official release, checked file by file first."""
    import pickle

    import numpy as np

    problem = _batches_problem(batches)
    if problem is not None:
        raise ValueError(
            f"the CIFAR-10 copy in {batches} is {problem}. Replace that file (or the whole "
            f"folder) with one from {RELEASE_PAGE}, or point the course at another copy."
        )

    def unpickle(name: str) -> dict:
        with open(batches / name, "rb") as f:  # the official file (MD5 checked above)
            return pickle.load(f, encoding="latin1")

    classes = tuple(unpickle("batches.meta")["label_names"])
    if classes != CLASSES:
        raise ValueError(f"{batches} does not hold CIFAR-10's classes: {list(classes)}")
    out = {}
    for split, names in (("train", [f"data_batch_{i}" for i in range(1, 6)]), ("test", ["test_batch"])):
        entries = [unpickle(name) for name in names]
        rows = np.concatenate([np.asarray(e["data"], dtype=np.uint8) for e in entries])
        out[f"{split}_x"] = torch.from_numpy(rows.reshape(-1, 3, 32, 32)).contiguous()
        out[f"{split}_y"] = torch.tensor([y for e in entries for y in e["labels"]], dtype=torch.int64)
    return out


def _read_image_folders(path: Path) -> dict[str, torch.Tensor]:
    import numpy as np
    from PIL import Image
    from torchvision.datasets import ImageFolder
    from tqdm.auto import tqdm

    out = {}
    for split in ("train", "test"):
        try:
            folder = ImageFolder(path / split)
        except FileNotFoundError:  # torchvision's bare "Found no valid file for the classes ..."
            empty = [d for d in sorted((path / split).iterdir()) if d.is_dir() and not any(d.iterdir())]
            named = ", ".join(str(d) for d in empty) or f"the class folders in {path / split}"
            raise FileNotFoundError(
                f"the {split} split of {path} has an empty class folder: {named} holds no "
                "image. Copy its images there, or point data_dir at a complete CIFAR-10."
            ) from None
        if tuple(folder.classes) != CLASSES:
            raise ValueError(
                f"{path / split} has class folders {folder.classes}; CIFAR-10 needs {list(CLASSES)}."
            )
        images = torch.empty((len(folder.samples), 3, 32, 32), dtype=torch.uint8)
        for i, (file, _) in enumerate(tqdm(folder.samples, desc=f"decoding {split}", leave=False)):
            try:
                with Image.open(file) as image:
                    size = image.size
                    pixels = np.array(image.convert("RGB"))
            except Exception as error:  # truncated, not an image, unreadable
                raise ValueError(
                    f"cannot read the image {file} ({type(error).__name__}: {error}): replace or "
                    "remove that file."
                ) from error
            if size != (32, 32):
                raise ValueError(
                    f"the image {file} is {size[0]}x{size[1]} pixels; CIFAR-10 images are 32x32. "
                    "Replace or remove that file."
                )
            images[i] = torch.from_numpy(pixels).permute(2, 0, 1)
        out[f"{split}_x"] = images
        out[f"{split}_y"] = torch.tensor(folder.targets, dtype=torch.int64)
    return out


def _listing(folder: Path, subfolders: tuple[str, ...] = ()) -> str:
    """A hash of what ``folder`` holds (each file's relative name, size and mtime), or of all
    that its ``subfolders`` hold: adding, removing or replacing an image changes it."""
    h = hashlib.sha256()

    def walk(directory: Path, prefix: str, recurse: bool) -> None:
        try:
            with os.scandir(directory) as it:
                entries = sorted(it, key=lambda e: e.name)
        except OSError:
            return
        for entry in entries:
            try:
                if entry.is_dir():
                    if recurse:
                        walk(Path(entry.path), f"{prefix}{entry.name}/", True)
                    continue
                st = entry.stat()
            except OSError:
                continue
            h.update(f"{prefix}{entry.name}\0{st.st_size}\0{st.st_mtime_ns}\n".encode())

    if subfolders:
        for sub in subfolders:
            walk(folder / sub, f"{sub}/", True)
    else:
        walk(folder, "", False)  # a batches folder: its own files only
    return h.hexdigest()[:12]


def _cache_file(source: Path, listing: str) -> Path:
    key = hashlib.sha256(str(source).encode()).hexdigest()[:12]
    return cache_root() / "data" / f"cifar10-{key}-{listing}.pt"


def _from_cache(source: Path, listing: str) -> ImageData | None:
    file = _cache_file(source, listing)
    if not file.exists():
        return None
    try:
        tensors = load_tensors(file)
        _check_shapes(tensors)
    except Exception:  # a stale or damaged cache is rebuilt, never trusted
        return None
    return ImageData(source=f"CIFAR-10 from {source}", **tensors)


def _cached(source: Path, listing: str, read) -> ImageData:
    """The decoded images of ``source`` as it is now (``listing``), decoded once."""
    data = _from_cache(source, listing)
    if data is not None:
        return data
    tensors = read()
    _check_shapes(tensors)
    file = _cache_file(source, listing)
    try:
        save_tensors(file, tensors)
    except Exception as error:  # a read-only or full cache costs time next session, not data
        warnings.warn(
            f"could not keep the decoded images in {file.parent} ({type(error).__name__}: "
            f"{error}); they will be decoded again next time.",
            stacklevel=3,
        )
    else:  # the decoded images of this folder as it was before: stale now
        for old in file.parent.glob(file.name.rsplit("-", 1)[0] + "*.pt"):
            if old != file:
                old.unlink(missing_ok=True)
    return ImageData(source=f"CIFAR-10 from {source}", **tensors)


def _check_shapes(t: dict[str, torch.Tensor]) -> None:
    for split in ("train", "test"):
        x, y = t[f"{split}_x"], t[f"{split}_y"]
        if x.dtype != torch.uint8 or x.ndim != 4 or tuple(x.shape[1:]) != (3, 32, 32):
            raise ValueError(f"CIFAR-10 {split} images must be uint8 Nx3x32x32, not {tuple(x.shape)}")
        if len(x) == 0 or y.shape != (len(x),):
            raise ValueError(f"CIFAR-10 {split} split has {len(x)} images and {len(y)} labels")
