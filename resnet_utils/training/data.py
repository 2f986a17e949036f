"""CIFAR-10 as uint8 tensors: decoded once, cached, subset by class, augmented in batches.

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
from dataclasses import dataclass, replace
from functools import cached_property
from pathlib import Path

import torch
import torch.nn.functional as F

from resnet_utils.storage.atomic import (
    load_tensors,
    remove_stale_temporaries,
    save_tensors,
    write_atomically,
)
from resnet_utils.storage.paths import cache_root

DATA_ENV = "CIFAR10_DIR"
CLASSES = (
    "airplane",
    "automobile",
    "bird",
    "cat",
    "deer",
    "dog",
    "frog",
    "horse",
    "ship",
    "truck",
)
# Per-channel statistics of the official CIFAR-10 training split. The often copied std
# (0.2023, 0.1994, 0.2010) is wrong (syllabus ERRATA 9).
MEAN = (0.4914, 0.4822, 0.4465)
STD = (0.2470, 0.2435, 0.2616)

_HOW_TO_POINT = (
    "Point the course at a local copy: pass data_dir='/path/to/cifar10' (the notebook "
    f"parameter), or set the environment variable {DATA_ENV}. A copy is either the "
    "ImageFolder layout (train/<class>/*.png and test/<class>/*.png) or torchvision's "
    "'cifar-10-batches-py' folder (from https://www.cs.toronto.edu/~kriz/cifar.html)."
)


@dataclass(frozen=True)
class ImageData:
    """Train and test images (uint8, N x 3 x 32 x 32) with int64 labels, on one device."""

    train_x: torch.Tensor
    train_y: torch.Tensor
    test_x: torch.Tensor
    test_y: torch.Tensor
    source: str
    classes: tuple[str, ...] = CLASSES

    @property
    def device(self) -> torch.device:
        return self.train_x.device

    def to(self, device) -> ImageData:
        return replace(
            self,
            train_x=self.train_x.to(device),
            train_y=self.train_y.to(device),
            test_x=self.test_x.to(device),
            test_y=self.test_y.to(device),
        )

    def subset(self, train_size: int | None, test_size: int | None, seed: int = 0) -> ImageData:
        """A class-balanced subset of each split (``None`` keeps a split whole); a warning
        when the data has fewer images of a class than a balanced subset of that size needs."""
        _warn_short(self.source, "train", self.train_y, train_size)
        _warn_short(self.source, "test", self.test_y, test_size)
        train = stratified_indices(self.train_y, train_size, seed)
        test = stratified_indices(self.test_y, test_size, seed)
        return replace(
            self,
            train_x=self.train_x[train],
            train_y=self.train_y[train],
            test_x=self.test_x[test],
            test_y=self.test_y[test],
            source=self.source
            if train_size is None and test_size is None
            else f"{self.source}, stratified subset {len(train)}/{len(test)} (seed {seed})",
        )

    @cached_property
    def fingerprint(self) -> str:
        """A hash of the pixels and labels: the cache key of a run depends on the data itself.

        Computed once per data set (a property, cached), not once per run."""
        h = hashlib.sha256()
        for t in (self.train_x, self.train_y, self.test_x, self.test_y):
            h.update(str(tuple(t.shape)).encode())
            h.update(t.detach().cpu().contiguous().numpy().tobytes())
        return h.hexdigest()[:16]

    def sample(self, n: int, seed: int = 0, split: str = "test") -> tuple[torch.Tensor, torch.Tensor]:
        """A class-balanced batch of ``n`` normalised images and their labels, for measurements."""
        x, y = (self.test_x, self.test_y) if split == "test" else (self.train_x, self.train_y)
        index = stratified_indices(y, n, seed).to(y.device)
        return normalize(x[index]), y[index]

    def describe(self) -> str:
        return f"{self.source}: {len(self.train_y)} train / {len(self.test_y)} test images"


def _warn_short(source: str, split: str, labels: torch.Tensor, size: int | None) -> None:
    """A partial copy (5 images of one class, 20 of the others) cannot give a balanced
    subset: say so, with the classes that fall short, rather than call it stratified."""
    if size is None or size <= 0:
        return
    counts = torch.bincount(labels.cpu(), minlength=len(CLASSES)).tolist()
    wanted = size // len(counts)
    short = [f"{CLASSES[c] if c < len(CLASSES) else c} {n}" for c, n in enumerate(counts) if n < wanted]
    if short:
        warnings.warn(
            f"{source}: the {split} split has fewer images than the {wanted:,} per class a "
            f"subset of {size:,} asks for ({', '.join(short)}): the {split} subset is smaller "
            "and unbalanced. A partial copy? Point data_dir at a complete CIFAR-10.",
            stacklevel=3,
        )


def stratified_indices(labels: torch.Tensor, size: int | None, seed: int = 0) -> torch.Tensor:
    """Indices of ``size`` items with the classes as balanced as possible, chosen at random."""
    labels = labels.cpu()
    if size is None or size >= len(labels):
        return torch.arange(len(labels))
    if size <= 0:
        raise ValueError(f"a subset needs a positive size, not {size}.")
    classes = labels.unique()
    generator = torch.Generator().manual_seed(seed)
    per_class = [
        torch.nonzero(labels == c).flatten()[
            torch.randperm(int((labels == c).sum()), generator=generator)
        ]
        for c in classes
    ]
    base, extra = divmod(size, len(classes))
    chosen = [idx[: base + (i < extra)] for i, idx in enumerate(per_class)]
    return torch.cat(chosen).sort().values


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


def synthetic(train_size: int = 512, test_size: int = 256, seed: int = 0) -> ImageData:
    """A small learnable stand-in with CIFAR-10's shapes: each class is a colour pattern plus noise.

    Deterministic for a seed; a net learns it within a few dozen steps, so tests and the
    smoke profile can check that training does something without downloading anything.
    """
    generator = torch.Generator().manual_seed(seed)
    templates = F.interpolate(
        torch.rand(len(CLASSES), 3, 4, 4, generator=generator), size=32, mode="bilinear"
    )

    def split(n: int):
        labels = torch.arange(n) % len(CLASSES)
        labels = labels[torch.randperm(n, generator=generator)]
        noise = torch.randn(n, 3, 32, 32, generator=generator) * 0.1
        pixels = (0.8 * templates[labels] + 0.1 + noise).clamp(0, 1)
        return (pixels * 255).round().to(torch.uint8), labels

    train_x, train_y = split(train_size)
    test_x, test_y = split(test_size)
    return ImageData(train_x, train_y, test_x, test_y, source=f"synthetic (seed {seed})")


def normalize(images: torch.Tensor) -> torch.Tensor:
    """uint8 images to float, standardised with CIFAR-10's per-channel mean and std."""
    mean = torch.tensor(MEAN, device=images.device).view(1, 3, 1, 1)
    std = torch.tensor(STD, device=images.device).view(1, 3, 1, 1)
    return (images.float() / 255 - mean) / std


def crop_flip(
    images: torch.Tensor,
    top: torch.Tensor,
    left: torch.Tensor,
    flip: torch.Tensor,
    padding: int = 4,
) -> torch.Tensor:
    """Zero-pad by ``padding``, crop each image at (top, left), mirror where ``flip``: one gather."""
    n, c, h, w = images.shape
    padded = F.pad(images, (padding,) * 4)
    rows = top[:, None] + torch.arange(h, device=images.device)
    cols = left[:, None] + torch.arange(w, device=images.device)
    cols = torch.where(flip[:, None], cols.flip(1), cols)
    batch = torch.arange(n, device=images.device)[:, None, None, None]
    channel = torch.arange(c, device=images.device)[None, :, None, None]
    return padded[batch, channel, rows[:, None, :, None], cols[:, None, None, :]]


def random_crop_flip(
    images: torch.Tensor, generator: torch.Generator | None = None, padding: int = 4
) -> torch.Tensor:
    """The paper's augmentation (4-px pad, random 32x32 crop, random flip) for a whole batch."""
    n = images.shape[0]
    kwargs = {"device": images.device, "generator": generator}
    top = torch.randint(0, 2 * padding + 1, (n,), **kwargs)
    left = torch.randint(0, 2 * padding + 1, (n,), **kwargs)
    flip = torch.rand(n, **kwargs) < 0.5
    return crop_flip(images, top, left, flip, padding)
