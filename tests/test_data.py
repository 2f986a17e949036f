import hashlib
import pickle
import socket

import numpy as np
import pytest
import torch
from PIL import Image
from torchvision.transforms.v2 import functional as TF

from resnet_utils.storage.atomic import load_tensors, save_tensors
from resnet_utils.training import cifar10 as cifar10_module
from resnet_utils.training.cifar10 import load_cifar10
from resnet_utils.training.data import (
    CLASSES,
    MEAN,
    STD,
    crop_flip,
    normalize,
    random_crop_flip,
    stratified_indices,
    synthetic,
)


def test_statistics_are_cifar10s_real_ones():
    # ERRATA 9: the often copied std (0.2023, 0.1994, 0.2010) is wrong.
    assert MEAN == (0.4914, 0.4822, 0.4465)
    assert STD == (0.2470, 0.2435, 0.2616)


def test_normalize_maps_the_mean_to_zero_and_mean_plus_std_to_one():
    mean = torch.tensor(MEAN).view(1, 3, 1, 1)
    std = torch.tensor(STD).view(1, 3, 1, 1)
    x = torch.full((1, 3, 2, 2), 200, dtype=torch.uint8)
    expected = (200 / 255 - mean) / std
    assert torch.allclose(normalize(x), expected.expand(1, 3, 2, 2))


def test_crop_flip_matches_torchvision_image_by_image():
    g = torch.Generator().manual_seed(1)
    images = torch.randint(0, 256, (16, 3, 32, 32), dtype=torch.uint8, generator=g)
    top = torch.randint(0, 9, (16,), generator=g)
    left = torch.randint(0, 9, (16,), generator=g)
    flip = torch.rand(16, generator=g) < 0.5
    out = crop_flip(images, top, left, flip)
    for i in range(16):
        ref = TF.crop(TF.pad(images[i], [4]), int(top[i]), int(left[i]), 32, 32)
        if flip[i]:
            ref = TF.horizontal_flip(ref)
        assert torch.equal(out[i], ref), i


def test_centre_crop_without_flip_is_the_identity():
    images = torch.randint(0, 256, (4, 3, 32, 32), dtype=torch.uint8)
    four = torch.full((4,), 4)
    assert torch.equal(crop_flip(images, four, four, torch.zeros(4, dtype=torch.bool)), images)


def test_random_crop_flip_is_seeded_and_random():
    images = torch.randint(0, 256, (64, 3, 32, 32), dtype=torch.uint8)
    a = random_crop_flip(images, torch.Generator().manual_seed(0))
    b = random_crop_flip(images, torch.Generator().manual_seed(0))
    c = random_crop_flip(images, torch.Generator().manual_seed(1))
    assert torch.equal(a, b)
    assert not torch.equal(a, c)
    assert a.dtype == torch.uint8 and a.shape == images.shape


def test_stratified_indices_balance_classes():
    labels = torch.arange(10).repeat_interleave(100)
    idx = stratified_indices(labels, 55, seed=3)
    assert len(idx) == len(idx.unique()) == 55
    counts = labels[idx].bincount(minlength=10)
    assert counts.max() - counts.min() <= 1
    assert torch.equal(idx, stratified_indices(labels, 55, seed=3))
    assert not torch.equal(idx, stratified_indices(labels, 55, seed=4))
    assert torch.equal(stratified_indices(labels, None), torch.arange(1000))
    with pytest.raises(ValueError):
        stratified_indices(labels, 0)


def test_synthetic_is_deterministic_and_shaped_like_cifar():
    a, b = synthetic(100, 50, seed=0), synthetic(100, 50, seed=0)
    assert torch.equal(a.train_x, b.train_x) and torch.equal(a.test_y, b.test_y)
    assert a.train_x.shape == (100, 3, 32, 32) and a.train_x.dtype == torch.uint8
    assert a.train_y.bincount().tolist() == [10] * 10
    assert not torch.equal(a.train_x, synthetic(100, 50, seed=1).train_x)
    assert a.fingerprint == b.fingerprint != synthetic(100, 50, seed=1).fingerprint


def test_subset_and_sample():
    d = synthetic(200, 100).subset(50, 20, seed=0)
    assert len(d.train_y) == 50 and len(d.test_y) == 20
    assert d.test_y.bincount().tolist() == [2] * 10
    x, y = d.sample(10)
    assert x.dtype == torch.float32 and x.shape == (10, 3, 32, 32)
    assert sorted(y.tolist()) == list(range(10))


def _write_image_folder(root, per_class=3):
    rng = np.random.default_rng(0)
    pixels = {}
    for split in ("train", "test"):
        for label, name in enumerate(CLASSES):
            folder = root / split / name
            folder.mkdir(parents=True)
            for i in range(per_class):
                array = rng.integers(0, 256, (32, 32, 3), dtype=np.uint8)
                Image.fromarray(array).save(folder / f"{i:04d}.png")
                pixels[(split, label, i)] = array
    return pixels


def test_loads_an_image_folder_copy_and_caches_the_decoded_tensors(tmp_path, cache_dir, monkeypatch):
    pixels = _write_image_folder(tmp_path / "copy")
    data = load_cifar10(tmp_path / "copy")
    assert data.train_x.shape == (30, 3, 32, 32) and data.test_x.shape == (30, 3, 32, 32)
    assert data.train_y.tolist() == [c for c in range(10) for _ in range(3)]
    # PNG is lossless: the first training image of class 1 comes back pixel for pixel
    assert np.array_equal(data.train_x[3].permute(1, 2, 0).numpy(), pixels[("train", 1, 0)])

    def no_decoding(path):
        raise AssertionError("decoded again instead of using the cache")

    monkeypatch.setattr(cifar10_module, "_read_image_folders", no_decoding)
    again = load_cifar10(tmp_path / "copy")
    assert torch.equal(again.train_x, data.train_x)


def test_a_damaged_decode_cache_is_rebuilt(tmp_path, cache_dir):
    _write_image_folder(tmp_path / "copy", per_class=1)
    first = load_cifar10(tmp_path / "copy")
    (cached,) = (cache_dir / "data").glob("cifar10-*.pt")
    cached.write_bytes(b"not a tensor file")
    assert torch.equal(load_cifar10(tmp_path / "copy").train_x, first.train_x)


def test_flipped_bits_in_the_decoded_cache_are_seen_and_decoded_again(tmp_path, cache_dir):
    _write_image_folder(tmp_path / "copy", per_class=2)
    first = load_cifar10(tmp_path / "copy")
    (cached,) = (cache_dir / "data").glob("cifar10-*.pt")
    content = bytearray(cached.read_bytes())
    at = content.find(first.train_x[5].numpy().tobytes())  # the pixels of one image, stored raw
    assert at > 0
    content[at : at + 1024] = bytes(b ^ 0xFF for b in content[at : at + 1024])  # 1 KB flipped
    cached.write_bytes(bytes(content))
    with pytest.warns(UserWarning) as caught:
        again = load_cifar10(tmp_path / "copy")
    [note] = [str(w.message) for w in caught if "checksum" in str(w.message)]
    assert note == (
        f"the decoded CIFAR-10 images kept in {cached} changed on disk since they were written "
        "(their checksum differs): decoding them again from the copy."
    )
    assert torch.equal(again.train_x, first.train_x) and again.fingerprint == first.fingerprint
    assert torch.equal(load_tensors(cached)["train_x"], first.train_x)  # the cache made sound again


def test_a_decoded_cache_without_a_checksum_is_not_trusted(tmp_path, cache_dir, recwarn):
    _write_image_folder(tmp_path / "copy", per_class=1)
    first = load_cifar10(tmp_path / "copy")
    (cached,) = (cache_dir / "data").glob("cifar10-*.pt")
    stored = load_tensors(cached)
    assert (
        stored["sha256"]
        == hashlib.sha256(
            b"".join(
                f"{k} {tuple(stored[k].shape)} {stored[k].dtype}\n".encode()
                + stored[k].numpy().tobytes()
                for k in ("train_x", "train_y", "test_x", "test_y")
            )
        ).hexdigest()
    )
    altered = {k: v for k, v in stored.items() if k != "sha256"}  # as an older course wrote it
    altered["train_x"] = altered["train_x"] ^ 1
    save_tensors(cached, altered)
    assert torch.equal(load_cifar10(tmp_path / "copy").train_x, first.train_x)
    assert not [w for w in recwarn if "checksum" in str(w.message)]  # older files: no alarm


def test_environment_variable_names_the_copy(tmp_path, cache_dir, monkeypatch):
    _write_image_folder(tmp_path / "copy", per_class=1)
    monkeypatch.setenv("CIFAR10_DIR", str(tmp_path / "copy"))
    assert len(load_cifar10().train_y) == 10


def test_loads_torchvisions_batches_folder(tmp_path, cache_dir, monkeypatch):
    from torchvision.datasets import CIFAR10

    folder = tmp_path / "cifar-10-batches-py"
    folder.mkdir()
    rng = np.random.default_rng(0)
    rows = {}
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        rows[name] = rng.integers(0, 256, (4, 3072), dtype=np.uint8)
        entry = {"data": rows[name], "labels": [0, 1, 2, 9]}
        (folder / name).write_bytes(pickle.dumps(entry))
    (folder / "batches.meta").write_bytes(pickle.dumps({"label_names": list(CLASSES)}))
    # no official md5 sums for these made-up files
    monkeypatch.setattr(CIFAR10, "_check_integrity", lambda self: True)
    monkeypatch.setattr("torchvision.datasets.cifar.check_integrity", lambda *args: True)
    for root in (tmp_path, folder):  # the folder itself, or the folder that holds it
        data = load_cifar10(root)
        assert data.train_x.shape == (20, 3, 32, 32) and data.test_x.shape == (4, 3, 32, 32)
        assert data.test_y.tolist() == [0, 1, 2, 9]
        # torchvision's rows are channel-major: 1024 red, 1024 green, 1024 blue values
        assert torch.equal(data.test_x[0], torch.from_numpy(rows["test_batch"][0].reshape(3, 32, 32)))


def test_missing_folder_fails_at_once_with_what_to_do(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist.*CIFAR10_DIR"):
        load_cifar10(tmp_path / "nowhere")


def test_folder_without_cifar_layout_is_refused(tmp_path):
    (tmp_path / "something").mkdir()
    with pytest.raises(FileNotFoundError, match="neither train/ and test/"):
        load_cifar10(tmp_path / "something")


def test_failed_download_says_how_to_point_at_a_copy(cache_dir, monkeypatch):
    with socket.socket() as probe:  # a port on this machine that nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    monkeypatch.delenv("CIFAR10_DIR", raising=False)
    monkeypatch.setattr(cifar10_module, "DOWNLOAD_URL", f"http://127.0.0.1:{port}/cifar.tar.gz")
    with pytest.raises(RuntimeError, match="could not download.*CIFAR10_DIR"):
        load_cifar10()


def test_real_copy_has_cifar10s_shape_and_statistics(real_cifar10_dir, cache_dir, monkeypatch):
    data = load_cifar10(real_cifar10_dir)
    with monkeypatch.context() as patch:  # the second load: the kept tensors, their checksum checked
        patch.setattr(cifar10_module, "_read_image_folders", lambda path: pytest.fail("decoded again"))
        patch.setattr(cifar10_module, "_read_batches", lambda path: pytest.fail("decoded again"))
        assert load_cifar10(real_cifar10_dir).fingerprint == data.fingerprint
    assert data.train_x.shape == (50_000, 3, 32, 32) and data.test_x.shape == (10_000, 3, 32, 32)
    assert data.train_y.bincount().tolist() == [5_000] * 10
    assert data.test_y.bincount().tolist() == [1_000] * 10
    mean = data.train_x.float().mean(dim=(0, 2, 3)) / 255
    assert torch.allclose(mean, torch.tensor(MEAN), atol=0.002)
    small = data.subset(5_000, 2_000, seed=0)
    assert small.train_y.bincount().tolist() == [500] * 10
