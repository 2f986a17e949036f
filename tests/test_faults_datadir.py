"""A data_dir that is not what the profile needs (issue 21): a missing test/, an empty class
folder, a partial copy, and a data_dir that the smoke profile does not read."""

import numpy as np
import pytest
import torch
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


# --- review round 3: a data_dir that is a split, a file, an archive; hidden folders -----


def test_a_split_folder_given_as_the_copy_says_give_its_parent(tmp_path, cache_dir):
    root = _image_folders(tmp_path / "cifar", {})
    with pytest.raises(FileNotFoundError) as caught:
        load_cifar10(root / "train")
    message = str(caught.value)
    assert f"{root / 'train'} is the train split of a CIFAR-10 copy, not the copy" in message
    assert f"Give its parent, data_dir='{root}', which holds both train/ and test/" in message
    assert "holds neither" not in message
    only_train = _image_folders(tmp_path / "half", {}, splits=("train",))
    with pytest.raises(FileNotFoundError, match=r"once it also holds test/ with the ten class folders"):
        load_cifar10(only_train / "train")


def test_hidden_folders_in_a_split_are_not_classes(tmp_path, cache_dir, monkeypatch):
    from resnet_utils.training import cifar10 as cifar10_module

    root = _image_folders(tmp_path / "cifar", {})
    first = load_cifar10(root)
    (root / "train" / ".ipynb_checkpoints").mkdir()  # JupyterLab's, empty
    checkpoints = root / "test" / ".ipynb_checkpoints"
    checkpoints.mkdir()
    Image.fromarray(np.zeros((32, 32, 3), dtype=np.uint8)).save(checkpoints / "x-checkpoint.png")
    (root / "test" / "cat" / "._0.png").write_bytes(b"\0\5\26\7 macOS resource fork")

    def no_decoding(path):
        raise AssertionError("hidden entries changed the copy's listing: decoded again")

    with monkeypatch.context() as patch:  # the same copy: its decoded images are reused
        patch.setattr(cifar10_module, "_read_image_folders", no_decoding)
        assert torch.equal(load_cifar10(root).test_x, first.test_x)
    for cached in (cache_dir / "data").glob("cifar10-*.pt"):
        cached.unlink()
    again = load_cifar10(root)  # decoded anew: the hidden folder and file are left out
    assert again.test_y.tolist() == first.test_y.tolist() == [c for c in range(10) for _ in range(3)]
    assert torch.equal(again.test_x, first.test_x)


def test_a_file_given_as_data_dir_says_it_is_a_file(tmp_path, cache_dir, monkeypatch):
    afile = tmp_path / "afile.txt"
    afile.write_text("not CIFAR-10")
    with pytest.raises(NotADirectoryError, match=f"{afile} is a file, not a folder"):
        load_cifar10(afile)
    monkeypatch.setenv("CIFAR10_DIR", str(afile))
    with pytest.raises(
        NotADirectoryError, match=r"is a file, not a folder: data_dir \(or CIFAR10_DIR\)"
    ):
        load_cifar10()


def test_an_archive_given_as_data_dir_says_unpack_it(tmp_path, cache_dir):
    for name, command in (("cifar10.zip", "unzip cifar10.zip"), ("my-cifar.tgz", "tar xf my-cifar.tgz")):
        archive = tmp_path / name
        archive.write_bytes(b"PK\3\4 not the official release")
        with pytest.raises(NotADirectoryError) as caught:
            load_cifar10(archive)
        message = str(caught.value)
        assert f"{archive} is a file, not a folder: an archive? Unpack it first" in message
        assert f"(in {tmp_path}: {command}), then point data_dir at the folder it makes" in message
    official = tmp_path / "cifar-10-python.tar.gz"
    official.write_bytes(b"the first bytes of a download that stopped")
    with pytest.raises(NotADirectoryError, match=r"official archive's name, but not its content"):
        load_cifar10(official)
    assert official.read_bytes() == b"the first bytes of a download that stopped"  # never removed
