"""CIFAR-10 from a local copy or the official download, decoded once and cached.

Sources, in the order they are tried:
1. a local copy given by ``root=`` or ``$CIFAR10_DIR``: either the ImageFolder layout
   (``train/<class>/*.jpg|png`` and ``test/<class>/...``) or torchvision's own
   ``cifar-10-batches-py`` folder (or a folder holding it);
2. torchvision's download of the official release into the course cache.
Whatever the source, the images are decoded once and kept as a tensor file in the cache,
so the next load takes a second, not a minute.
"""

from __future__ import annotations

import hashlib
import os
import warnings
from pathlib import Path

import torch

from resnet_utils.storage.atomic import (
    load_tensors,
    remove_stale_temporaries,
    save_tensors,
    write_atomically,
)
from resnet_utils.storage.paths import cache_root
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
RELEASE_PAGE = "https://www.cs.toronto.edu/~kriz/cifar.html"


def load_cifar10(root: str | os.PathLike | None = None, *, download: bool = True) -> ImageData:
    """CIFAR-10 from a local copy (``root`` or ``$CIFAR10_DIR``), else torchvision's download.

    The course's own download (in the cache) is checked against the official MD5 sums
    before it is decoded: an interrupted or damaged download is removed and fetched again.
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
    replaced; the archive goes to a temporary file first, so a cut never leaves a
    full-looking one. Raises RuntimeError saying how to point at a local copy instead."""
    from torchvision.datasets import CIFAR10

    archive = root / CIFAR10.filename
    try:
        root.mkdir(parents=True, exist_ok=True)
        remove_stale_temporaries(root)
        if not (archive.exists() and _intact(archive, CIFAR10.tgz_md5)):
            write_atomically(archive, lambda tmp: _fetch(DOWNLOAD_URL, tmp))
            if not _intact(archive, CIFAR10.tgz_md5):
                archive.unlink()
                raise OSError("the archive does not match the official release (MD5)")
        _extract(archive, root)
    except Exception as error:  # network errors come in many types
        reason = f"{type(error).__name__}: {error}"
        if isinstance(error, TimeoutError) or isinstance(getattr(error, "reason", None), TimeoutError):
            reason = f"no answer from the server within {DOWNLOAD_TIMEOUT} s"
        raise RuntimeError(
            f"could not download CIFAR-10 into {root} ({reason}). " + _HOW_TO_POINT
        ) from error
    problem = _batches_problem(root / BATCHES)
    if problem is not None:
        raise RuntimeError(f"the CIFAR-10 download in {root / BATCHES} is {problem}. " + _HOW_TO_POINT)
    archive.unlink(missing_ok=True)  # unpacked and checked: 170 MB no longer needed


def _fetch(url: str, target: Path) -> None:
    import urllib.request

    from tqdm.auto import tqdm

    request = urllib.request.Request(url, headers={"User-Agent": "resnet-course"})
    with urllib.request.urlopen(request, timeout=DOWNLOAD_TIMEOUT) as response:
        size = int(response.headers.get("Content-Length") or 0) or None
        with (
            open(target, "wb") as out,
            tqdm(total=size, unit="B", unit_scale=True, desc="downloading CIFAR-10", leave=False) as bar,
        ):
            while chunk := response.read(1 << 20):
                out.write(chunk)
                bar.update(len(chunk))


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
