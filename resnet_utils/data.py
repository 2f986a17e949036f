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
from dataclasses import dataclass, replace
from functools import cached_property
from pathlib import Path

import torch
import torch.nn.functional as F

from .atomic import load_tensors, save_tensors
from .paths import cache_root

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
        """A class-balanced subset of each split (``None`` keeps a split whole)."""
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


def load_cifar10(root: str | os.PathLike | None = None, *, download: bool = True) -> ImageData:
    """CIFAR-10 from a local copy (``root`` or ``$CIFAR10_DIR``), else torchvision's download."""
    root = root or os.environ.get(DATA_ENV) or None
    if root is not None:
        path = Path(root).expanduser().resolve()
        if not path.exists():
            raise FileNotFoundError(f"CIFAR-10 folder {path} does not exist. {_HOW_TO_POINT}")
        return _cached(path, lambda: _read_local(path))
    download_root = cache_root() / "data"
    batches = download_root / "cifar-10-batches-py"
    if not batches.exists():
        if not download:
            raise FileNotFoundError(f"no CIFAR-10 copy at {batches}. {_HOW_TO_POINT}")
        _download(download_root)
    return _cached(batches, lambda: _read_torchvision(batches))


def _download(root: Path) -> None:
    from torchvision.datasets import CIFAR10

    try:
        CIFAR10(root, train=True, download=True)
        CIFAR10(root, train=False, download=True)
    except Exception as error:  # network errors come in many types
        raise RuntimeError(
            f"could not download CIFAR-10 into {root} ({type(error).__name__}: {error}). "
            + _HOW_TO_POINT
        ) from error


def _read_local(path: Path) -> dict[str, torch.Tensor]:
    if (path / "train").is_dir() and (path / "test").is_dir():
        return _read_image_folders(path)
    for candidate in (path, path / "cifar-10-batches-py"):
        if (candidate / "data_batch_1").exists() and (candidate / "test_batch").exists():
            return _read_torchvision(candidate)
    raise FileNotFoundError(
        f"{path} holds neither train/ and test/ class folders nor torchvision's "
        f"cifar-10-batches-py files. {_HOW_TO_POINT}"
    )


def _read_torchvision(batches: Path) -> dict[str, torch.Tensor]:
    from torchvision.datasets import CIFAR10

    out = {}
    for split, train in (("train", True), ("test", False)):
        ds = CIFAR10(batches.parent, train=train, download=False)
        if tuple(ds.classes) != CLASSES:
            raise ValueError(f"{batches} does not hold CIFAR-10's classes: {ds.classes}")
        out[f"{split}_x"] = torch.from_numpy(ds.data).permute(0, 3, 1, 2).contiguous()
        out[f"{split}_y"] = torch.tensor(ds.targets, dtype=torch.int64)
    return out


def _read_image_folders(path: Path) -> dict[str, torch.Tensor]:
    import numpy as np
    from PIL import Image
    from torchvision.datasets import ImageFolder
    from tqdm.auto import tqdm

    out = {}
    for split in ("train", "test"):
        folder = ImageFolder(path / split)
        if tuple(folder.classes) != CLASSES:
            raise ValueError(
                f"{path / split} has class folders {folder.classes}; CIFAR-10 needs {list(CLASSES)}."
            )
        images = torch.empty((len(folder.samples), 3, 32, 32), dtype=torch.uint8)
        for i, (file, _) in enumerate(tqdm(folder.samples, desc=f"decoding {split}", leave=False)):
            with Image.open(file) as image:
                images[i] = torch.from_numpy(np.array(image.convert("RGB"))).permute(2, 0, 1)
        out[f"{split}_x"] = images
        out[f"{split}_y"] = torch.tensor(folder.targets, dtype=torch.int64)
    return out


def _cached(source: Path, read) -> ImageData:
    key = hashlib.sha256(str(source).encode()).hexdigest()[:12]
    file = cache_root() / "data" / f"cifar10-{key}.pt"
    tensors = None
    if file.exists():
        try:
            tensors = load_tensors(file)
            _check_shapes(tensors)
        except Exception:  # a stale or damaged cache is rebuilt, never trusted
            tensors = None
    if tensors is None:
        tensors = read()
        _check_shapes(tensors)
        save_tensors(file, tensors)
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
