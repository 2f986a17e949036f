"""CIFAR-10 from a local copy or the official download, decoded once and cached.

Sources, in the order they are tried:
1. a local copy given by ``root=`` or ``$CIFAR10_DIR``: either the ImageFolder layout
   (``train/<class>/*.jpg|png`` and ``test/<class>/...``) or torchvision's own
   ``cifar-10-batches-py`` folder (or a folder holding it);
2. the official release, downloaded into the course cache: it shows its speed and the time
   left, tells the student within half a minute when that time is long (and what else to
   do), and resumes where a stopped download left off.
Whatever the source, the images are decoded once and kept as a tensor file in the cache,
so the next load takes a second, not a minute. That file holds a SHA-256 of its tensors,
checked at every load (about 0.15 s for the full 60,000 images): one changed on disk is
decoded again, with a note, never trained on.
A data_dir that is the official archive (``cifar-10-python.tar.gz``, its MD5 checked) is
read too: unpacked into a temporary folder once, and decoded. Any other file, an archive or
not, one split (``train/``) of a copy, or a copy at another size is refused with what to give.
Hidden folders and files (``.ipynb_checkpoints``) are not part of a copy.
"""

from __future__ import annotations

import hashlib
import os
import warnings
from pathlib import Path

import torch

from resnet_utils.storage.atomic import load_tensors, save_tensors
from resnet_utils.storage.paths import cache_root, temporaries_folder
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
        if not path.is_dir():
            if path.name.lower().endswith((".tar.gz", ".tgz")):  # the official archive?
                return _cached(path, _file_stamp(path), lambda: _read_archive(path))
            raise NotADirectoryError(_not_a_folder(path))
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
    return _decode_and_keep(batches, _listing(batches), lambda: _read_batches(batches))


ARCHIVE_SUFFIXES = (".tar.gz", ".tgz", ".tar", ".zip", ".7z", ".rar")


def _is_archive(path: Path) -> bool:
    return path.name.lower().endswith(ARCHIVE_SUFFIXES)


def _not_a_folder(path: Path) -> str:
    """Why a data_dir that is a file is refused, and what to give instead."""
    if not _is_archive(path):
        return (
            f"{path} is a file, not a folder: data_dir (or {DATA_ENV}) names the folder of a "
            f"CIFAR-10 copy. {_HOW_TO_POINT}"
        )
    if path.name == "cifar-10-python.tar.gz":
        return (
            f"{path} is a file, not a folder: the official archive's name, but not its content "
            "(its MD5 differs from the release's: cut short by a stopped download, or changed). "
            f"Download it again from {RELEASE_PAGE}, or leave data_dir out and the course "
            "downloads it."
        )
    name = path.name.lower()
    unpack = (
        f"unzip {path.name}"
        if name.endswith(".zip")
        else f"tar xf {path.name}"
        if name.endswith((".tar.gz", ".tgz", ".tar"))
        else "unpack it"
    )
    return (
        f"{path} is a file, not a folder: an archive? Unpack it first (in {path.parent}: "
        f"{unpack}), then point data_dir at the folder it makes, the one holding train/ and "
        "test/ (or cifar-10-batches-py). The course unpacks only the official "
        "cifar-10-python.tar.gz itself."
    )


def _read_archive(archive: Path) -> dict[str, torch.Tensor]:
    """The official release's archive given as data_dir, its MD5 checked: unpacked into a
    temporary folder, decoded (then kept in the course cache, as any copy is) and removed.
    The archive itself is only read."""
    import tempfile

    from torchvision.datasets import CIFAR10

    if not _intact(archive, CIFAR10.tgz_md5):
        raise NotADirectoryError(_not_a_folder(archive))
    _say(f"unpacking {archive} (once: its decoded images are kept in the course cache)")
    with tempfile.TemporaryDirectory(prefix="cifar10-") as folder:
        _extract(archive, Path(folder))
        return _read_batches(Path(folder) / BATCHES)


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
    """Unpack the release's folder beside the archive (its MD5 checked before: the official
    file, so its entries need no other check), replacing a partial one at once."""
    import shutil
    import tempfile

    from torchvision.datasets.utils import extract_archive

    target = root / BATCHES
    # in the storage folder's temporaries (swept when a session starts) if the data is in one
    staging = Path(tempfile.mkdtemp(prefix=".extract.", suffix=".tmp", dir=temporaries_folder(target)))
    try:
        extract_archive(archive, staging)
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
    split = _split_problem(path)
    if split is not None:
        raise FileNotFoundError(split)
    raise FileNotFoundError(
        f"{path} holds neither train/ and test/ class folders nor torchvision's "
        f"cifar-10-batches-py files. {_HOW_TO_POINT}"
    )


def _subfolders(path: Path) -> list[str]:
    """The names of the folders in ``path`` that can be classes: hidden ones (``.name``, such
    as JupyterLab's ``.ipynb_checkpoints``) are not."""
    try:
        with os.scandir(path) as it:
            return sorted(e.name for e in it if e.is_dir() and not e.name.startswith("."))
    except OSError:
        return []


def _split_problem(path: Path) -> str | None:
    """What to give instead, where ``path`` is one split of a copy (it holds CIFAR-10's class
    folders itself), else None."""
    held = [name for name in _subfolders(path) if name in CLASSES]
    if len(held) < len(CLASSES) // 2:
        return None
    holds = f"it holds the class folders ({', '.join(held[:3])}, ...)"
    parent = path.parent
    if path.name in ("train", "test"):
        other = "test" if path.name == "train" else "train"
        if (parent / other).is_dir():
            return (
                f"{path} is the {path.name} split of a CIFAR-10 copy, not the copy: {holds}. "
                f"Give its parent, data_dir='{parent}', which holds both train/ and test/."
            )
        return (
            f"{path} is the {path.name} split of a CIFAR-10 copy, not the copy: {holds}. Give "
            f"its parent, {parent}, once it also holds {other}/ with the ten class folders."
        )
    return (
        f"{path} holds CIFAR-10's class folders itself, as one split of a copy does: {holds}. "
        "The course needs the copy, a folder holding train/ (training images) and test/ (test "
        "images), each with the ten class folders: give that folder as data_dir."
    )


def _read_batches(batches: Path) -> dict[str, torch.Tensor]:
    """The pickled batches of the official release, checked file by file first, read by
    torchvision's ``CIFAR10`` (told the folder's name: a copy may be under another)."""
    from torchvision.datasets import CIFAR10

    problem = _batches_problem(batches)
    if problem is not None:
        raise ValueError(
            f"the CIFAR-10 copy in {batches} is {problem}. Replace that file (or the whole "
            f"folder) with one from {RELEASE_PAGE}, or point the course at another copy."
        )
    copy = type("Copy", (CIFAR10,), {"base_folder": batches.name})
    out = {}
    for split in ("train", "test"):
        release = copy(str(batches.parent), train=split == "train")
        if tuple(release.classes) != CLASSES:
            raise ValueError(f"{batches} does not hold CIFAR-10's classes: {release.classes}")
        out[f"{split}_x"] = torch.from_numpy(release.data).permute(0, 3, 1, 2).contiguous()
        out[f"{split}_y"] = torch.tensor(release.targets, dtype=torch.int64)
    return out


def _visible_image_folder(root: Path):
    """torchvision's ImageFolder of ``root``, without hidden folders and files.

    torchvision's ``find_classes`` takes every folder of a split for a class (``os.scandir``,
    hidden ones too), and ``make_dataset`` every image file below a class folder. JupyterLab's
    ``.ipynb_checkpoints`` (made where a file is opened) would then be an eleventh class,
    sorted first, shifting every label by one; macOS's ``._name.png`` would be read as an
    image. No CIFAR-10 class or image name starts with '.', so names that do are left out,
    as ``ls`` leaves them out."""
    from torchvision.datasets import ImageFolder
    from torchvision.datasets.folder import IMG_EXTENSIONS, has_file_allowed_extension

    class Visible(ImageFolder):
        def find_classes(self, directory):
            classes = _subfolders(Path(directory))
            if not classes:
                raise FileNotFoundError(f"Couldn't find any class folder in {directory}.")
            return classes, {name: i for i, name in enumerate(classes)}

    def visible_image(file: str) -> bool:
        hidden = any(part.startswith(".") for part in Path(file).relative_to(root).parts)
        return not hidden and has_file_allowed_extension(file, IMG_EXTENSIONS)

    return Visible(root, is_valid_file=visible_image)


SIZE_PROBES = 50  # other images whose size is read after a wrong-sized one (headers only)


def _wrong_size(file: str, size: tuple[int, int], files: list[str], at: int, split: Path) -> str:
    """The message for ``file`` (``files[at]``), not 32x32: one file to replace, or a whole
    copy at another size (a resized copy), told from the sizes of up to :data:`SIZE_PROBES`
    others spread over the split."""
    from PIL import Image

    w, h = size
    rest = [f for i, f in enumerate(files) if i != at]
    probes = [rest[i * len(rest) // SIZE_PROBES] for i in range(min(SIZE_PROBES, len(rest)))]
    same = also = 0
    example = None
    for probe in probes:
        try:
            with Image.open(probe) as image:  # the header only: no pixels decoded
                other = image.size
        except Exception:
            continue
        same += other == size
        if other != (32, 32):
            also += 1
            example = example or (probe, other)
    if probes and same == len(probes) and at == 0:
        return (
            f"the images of this copy are {w}x{h} pixels, not CIFAR-10's 32x32: the first, "
            f"{file}, and all {len(probes)} others checked across {split} are {w}x{h}. It "
            "looks like a resized copy: use a copy at 32x32 (the official release, from "
            f"{RELEASE_PAGE}, or leave data_dir out and the course downloads it)."
        )
    first = f"the image {file} is {w}x{h} pixels; CIFAR-10 images are 32x32."
    if also and example is not None:
        return (
            f"{first} {also} of {len(probes)} other images checked in {split} are not 32x32 "
            f"either (for example {example[0]}, {example[1][0]}x{example[1][1]}): replace "
            "those files, or use a copy whose images are all 32x32."
        )
    return f"{first} Replace or remove that file."


def _read_image_folders(path: Path) -> dict[str, torch.Tensor]:
    import numpy as np
    from PIL import Image
    from tqdm.auto import tqdm

    out = {}
    for split in ("train", "test"):
        try:
            folder = _visible_image_folder(path / split)
        except FileNotFoundError:  # torchvision's bare "Found no valid file for the classes ..."
            if not _subfolders(path / split):
                raise FileNotFoundError(
                    f"{path / split} holds no class folders: CIFAR-10's layout is "
                    f"{split}/<class>/<image>, with the ten classes {', '.join(CLASSES)}."
                ) from None
            empty = [
                d
                for d in (path / split / name for name in _subfolders(path / split))
                if not any(e for e in d.iterdir() if not e.name.startswith("."))
            ]
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
                files = [f for f, _ in folder.samples]
                raise ValueError(_wrong_size(file, size, files, i, path / split))
            images[i] = torch.from_numpy(pixels).permute(2, 0, 1)
        out[f"{split}_x"] = images
        out[f"{split}_y"] = torch.tensor(folder.targets, dtype=torch.int64)
    return out


def _listing(folder: Path, subfolders: tuple[str, ...] = ()) -> str:
    """A hash of what ``folder`` holds (each file's relative name, size and mtime), or of all
    that its ``subfolders`` hold: adding, removing or replacing an image changes it. Hidden
    entries (``.ipynb_checkpoints``, ``.DS_Store``) are not read, so they do not change it."""
    h = hashlib.sha256()

    def walk(directory: Path, prefix: str, recurse: bool) -> None:
        try:
            with os.scandir(directory) as it:
                entries = sorted(it, key=lambda e: e.name)
        except OSError:
            return
        for entry in entries:
            if entry.name.startswith("."):
                continue
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


def _file_stamp(file: Path) -> str:
    """What :func:`_listing` is for a folder, for one file: its name, size and mtime."""
    st = file.stat()
    return hashlib.sha256(f"{file.name}\0{st.st_size}\0{st.st_mtime_ns}".encode()).hexdigest()[:12]


def _cache_file(source: Path, listing: str) -> Path:
    key = hashlib.sha256(str(source).encode()).hexdigest()[:12]
    return cache_root() / "data" / f"cifar10-{key}-{listing}.pt"


SPLITS = ("train_x", "train_y", "test_x", "test_y")
CHECKSUM = "sha256"  # the cache file's entry holding the checksum of its tensors


def _checksum(tensors: dict[str, torch.Tensor]) -> str:
    """SHA-256 of the tensors' names, shapes, types and bytes: about 0.1 s for the 185 MB of
    the full CIFAR-10 on a CPU with SHA instructions, about 0.5 s without them."""
    h = hashlib.sha256()
    for name in SPLITS:
        t = tensors[name].contiguous()
        h.update(f"{name} {tuple(t.shape)} {t.dtype}\n".encode())
        h.update(t.numpy())  # the buffer itself: no copy
    return h.hexdigest()


def _from_cache(source: Path, listing: str) -> ImageData | None:
    """The decoded images of ``source`` as kept before, or None: none kept, an older file
    without a checksum, or a damaged one (a file that no longer loads is decoded again
    silently; one whose tensors no longer match their checksum, with a note)."""
    file = _cache_file(source, listing)
    try:
        if not file.exists():
            return None
        stored = load_tensors(file)
        tensors = {name: stored[name] for name in SPLITS}
        _check_shapes(tensors)
    except Exception:  # a stale or damaged cache is rebuilt, never trusted
        return None
    expected = stored.get(CHECKSUM)
    if not isinstance(expected, str):  # kept by an earlier version of the course: unchecked
        return None
    if _checksum(tensors) != expected:
        warnings.warn(
            f"the decoded CIFAR-10 images kept in {file} changed on disk since they were written "
            "(their checksum differs): decoding them again from the copy.",
            stacklevel=2,
        )
        return None
    return ImageData(source=f"CIFAR-10 from {source}", **tensors)


def _cached(source: Path, listing: str, read) -> ImageData:
    """The decoded images of ``source`` as it is now (``listing``), decoded once."""
    data = _from_cache(source, listing)
    if data is not None:
        return data
    return _decode_and_keep(source, listing, read)


def _decode_and_keep(source: Path, listing: str, read) -> ImageData:
    """Decode ``source`` (``read()``) and keep the tensors, with their checksum, in the cache."""
    tensors = read()
    _check_shapes(tensors)
    file = _cache_file(source, listing)
    try:
        save_tensors(file, {**tensors, CHECKSUM: _checksum(tensors)})
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
