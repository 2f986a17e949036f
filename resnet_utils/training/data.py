"""CIFAR-10-shaped images as uint8 tensors on the device: the container, balanced subsets,
a synthetic stand-in, normalisation and batched augmentation. Reading the real CIFAR-10
(a local copy or the download) is :mod:`resnet_utils.training.cifar10`'s job."""

from __future__ import annotations

import functools
import hashlib
import warnings
from dataclasses import dataclass, replace

import torch
import torch.nn.functional as F

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


@dataclass(frozen=True)
class ImageData:
    """Train and test images (uint8, N x 3 x 32 x 32) with int64 labels, on one device."""

    train_x: torch.Tensor
    train_y: torch.Tensor
    test_x: torch.Tensor
    test_y: torch.Tensor
    source: str

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

    @functools.cached_property
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

    def sizes(self) -> str:
        """The split sizes as the notebooks print them (no source: a local path is clutter)."""
        return f"{len(self.train_y):,} training and {len(self.test_y):,} test images"


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
    mean, std = _mean_and_std(images.device)
    return (images.float() / 255 - mean) / std


@functools.cache
def _mean_and_std(device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    """Built once per device: a tensor made from Python numbers on a GPU is a blocking
    host-to-device copy, which would make every batch wait for the GPU."""
    mean = torch.tensor(MEAN, device=device).view(1, 3, 1, 1)
    std = torch.tensor(STD, device=device).view(1, 3, 1, 1)
    return mean, std


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
