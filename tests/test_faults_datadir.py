"""A data_dir that is not what the profile needs (issue 21): a missing test/, an empty class
folder, a partial copy, and a data_dir that the smoke profile does not read."""

import numpy as np
import pytest
from PIL import Image

from resnet_utils import start
from resnet_utils.training.cifar10 import load_cifar10
from resnet_utils.training.data import CLASSES


def _image_folders(root, per_class, splits=("train", "test")):
    """A tiny copy in the ImageFolder layout: ``per_class[name]`` 32x32 PNGs per class (3 else)."""
    rng = np.random.default_rng(0)
    for split in splits:
        for name in CLASSES:
            folder = root / split / name
            folder.mkdir(parents=True)
            for i in range(per_class.get(name, 3)):
                pixels = rng.integers(0, 256, (32, 32, 3), dtype=np.uint8)
                Image.fromarray(pixels).save(folder / f"{i}.png")
    return root


def test_a_copy_without_test_says_test_is_missing(tmp_path, cache_dir):
    root = _image_folders(tmp_path / "cifar", {}, splits=("train",))
    with pytest.raises(FileNotFoundError, match=r"has train/ but no test/: .* needs both"):
        load_cifar10(root)


def test_an_empty_class_folder_is_named_with_its_split(tmp_path, cache_dir):
    root = _image_folders(tmp_path / "cifar", {})
    for png in (root / "test" / "cat").iterdir():
        png.unlink()
    empty = root / "test" / "cat"
    with pytest.raises(
        FileNotFoundError, match=f"the test split of .* empty class folder: {empty} holds no image"
    ):
        load_cifar10(root)


def test_a_partial_copy_warns_that_the_subset_is_unbalanced(tmp_path, cache_dir):
    root = _image_folders(tmp_path / "cifar", {"cat": 1})
    data = load_cifar10(root)
    with pytest.warns(
        UserWarning, match=r"train split has fewer images than the 2 per class.*\(cat 1\)"
    ):
        subset = data.subset(20, None)
    assert len(subset.train_y) == 19  # 2 of each class but cat's one


def test_a_complete_copy_does_not_warn(tmp_path, cache_dir, recwarn):
    data = load_cifar10(_image_folders(tmp_path / "cifar", {}))
    assert len(data.subset(30, 20).train_y) == 30
    assert not [w for w in recwarn if "fewer images" in str(w.message)]


def test_smoke_says_it_does_not_read_data_dir(cache_dir):
    with pytest.warns(
        UserWarning, match="smoke profile trains on synthetic images: data_dir='/nowhere' is not read"
    ):
        start("t", profile="smoke", data_dir="/nowhere", progress=False, device="cpu")
