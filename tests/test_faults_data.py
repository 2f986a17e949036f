"""Data faults (issue 13): interrupted or hanging downloads, changed copies, damaged files."""

import hashlib
import http.server
import os
import pickle
import socket
import threading
import time

import numpy as np
import pytest
import torch
from PIL import Image
from shared import cifar_archive

from resnet_utils.training import cifar10 as cifar10_module
from resnet_utils.training.cifar10 import load_cifar10
from resnet_utils.training.data import CLASSES

BATCH_NAMES = [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]


def _release_files(seed=0):
    """A tiny stand-in for the official cifar-10-batches-py files: {name: bytes}."""
    rng = np.random.default_rng(seed)
    files = {}
    for name in BATCH_NAMES:
        entry = {"data": rng.integers(0, 256, (4, 3072), dtype=np.uint8), "labels": [0, 1, 2, 9]}
        files[name] = pickle.dumps(entry)
    files["batches.meta"] = pickle.dumps({"label_names": list(CLASSES)})
    return files


def _md5(data: bytes) -> str:
    return hashlib.md5(data).hexdigest()


@pytest.fixture
def fake_release(monkeypatch):
    """torchvision's MD5 sums replaced by those of the stand-in files (and its archive)."""
    from torchvision.datasets import CIFAR10

    files = _release_files()
    archive = cifar_archive(files)
    monkeypatch.setattr(CIFAR10, "train_list", [[n, _md5(files[n])] for n in BATCH_NAMES[:5]])
    monkeypatch.setattr(CIFAR10, "test_list", [["test_batch", _md5(files["test_batch"])]])
    meta = {"filename": "batches.meta", "key": "label_names", "md5": _md5(files["batches.meta"])}
    monkeypatch.setattr(CIFAR10, "meta", meta)
    monkeypatch.setattr(CIFAR10, "tgz_md5", _md5(archive))
    monkeypatch.delenv("CIFAR10_DIR", raising=False)
    return files, archive


@pytest.fixture
def server(fake_release, monkeypatch):
    """An HTTP server on 127.0.0.1 that serves the stand-in archive, counting requests."""
    _, archive = fake_release
    requests = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            requests.append(self.path)
            self.send_response(200)
            self.send_header("Content-Length", str(len(archive)))
            self.end_headers()
            self.wfile.write(archive)

        def log_message(self, *args):
            pass

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{httpd.server_address[1]}/cifar-10-python.tar.gz"
    monkeypatch.setattr(cifar10_module, "DOWNLOAD_URL", url)
    yield requests
    httpd.shutdown()
    httpd.server_close()


# --- 1. an interrupted download -------------------------------------------------------


def test_an_interrupted_download_is_removed_and_fetched_again(cache_dir, fake_release, server):
    files, archive = fake_release
    partial = cache_dir / "data" / "cifar-10-batches-py"
    partial.mkdir(parents=True)
    (partial / "data_batch_1").write_bytes(files["data_batch_1"][:100])  # cut mid-file
    (cache_dir / "data" / "cifar-10-python.tar.gz").write_bytes(archive[:1000])  # and the archive
    data = load_cifar10()
    assert server == ["/cifar-10-python.tar.gz"]
    assert data.train_x.shape == (20, 3, 32, 32) and data.test_y.tolist() == [0, 1, 2, 9]
    for name, content in files.items():
        assert (partial / name).read_bytes() == content
    assert not (cache_dir / "data" / "cifar-10-python.tar.gz").exists()  # unpacked: not kept
    assert load_cifar10().fingerprint == data.fingerprint and len(server) == 1


def test_an_interrupted_download_without_download_names_the_folder(cache_dir, fake_release):
    files, _ = fake_release
    partial = cache_dir / "data" / "cifar-10-batches-py"
    partial.mkdir(parents=True)
    (partial / "data_batch_1").write_bytes(files["data_batch_1"])
    with pytest.raises(FileNotFoundError, match="data_batch_2 is missing.*delete that folder"):
        load_cifar10(download=False)
    assert (partial / "data_batch_1").exists()


# --- 2. a network that accepts and never answers --------------------------------------


def test_a_download_that_gets_no_answer_times_out_with_what_to_do(cache_dir, monkeypatch):
    monkeypatch.delenv("CIFAR10_DIR", raising=False)
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    held = []

    def accept_and_say_nothing():
        try:
            held.append(listener.accept()[0])
        except OSError:
            pass

    threading.Thread(target=accept_and_say_nothing, daemon=True).start()
    port = listener.getsockname()[1]
    monkeypatch.setattr(cifar10_module, "DOWNLOAD_URL", f"http://127.0.0.1:{port}/cifar.tar.gz")
    monkeypatch.setattr(cifar10_module, "DOWNLOAD_TIMEOUT", 1)
    outcome = []

    def load():
        try:
            load_cifar10()
        except Exception as error:
            outcome.append(error)

    worker = threading.Thread(target=load, daemon=True)
    started = time.monotonic()
    worker.start()
    worker.join(30)
    listener.close()
    for connection in held:
        connection.close()
    assert not worker.is_alive(), "the download hangs on a server that never answers"
    assert time.monotonic() - started < 20
    (error,) = outcome
    assert isinstance(error, RuntimeError)
    assert "no answer from the server within 1 s" in str(error)
    assert "data_dir=" in str(error) and "CIFAR10_DIR" in str(error)
    assert not list((cache_dir / "data").glob("*.tmp"))  # no partial archive left behind


# --- 3. a local copy that changed -----------------------------------------------------


def _image_folder(root, per_class=1, seed=0):
    rng = np.random.default_rng(seed)
    for split in ("train", "test"):
        for name in CLASSES:
            folder = root / split / name
            folder.mkdir(parents=True, exist_ok=True)
            for i in range(per_class):
                pixels = rng.integers(0, 256, (32, 32, 3), dtype=np.uint8)
                Image.fromarray(pixels).save(folder / f"{i:04d}.png")


def test_a_changed_local_copy_is_decoded_again(tmp_path, cache_dir):
    copy = tmp_path / "copy"
    _image_folder(copy)
    first = load_cifar10(copy)
    replaced = copy / "train" / "cat" / "0000.png"
    Image.fromarray(np.zeros((32, 32, 3), dtype=np.uint8)).save(replaced)
    os.utime(replaced, ns=(1, 1))  # even a replacement with an old date is seen
    second = load_cifar10(copy)
    assert second.train_x[3].sum() == 0 and not torch.equal(second.train_x, first.train_x)
    assert second.fingerprint != first.fingerprint
    Image.fromarray(np.ones((32, 32, 3), dtype=np.uint8)).save(copy / "test" / "dog" / "new.png")
    third = load_cifar10(copy)
    assert len(third.test_y) == len(second.test_y) + 1
    assert len(list((cache_dir / "data").glob("cifar10-*.pt"))) == 1  # stale decodings removed
    assert torch.equal(load_cifar10(copy).test_x, third.test_x)


# --- weak messages: damaged files are named ------------------------------------------


def test_a_truncated_jpeg_is_named(tmp_path, cache_dir):
    copy = tmp_path / "copy"
    _image_folder(copy)
    bad = copy / "train" / "bird" / "0001.jpg"
    Image.fromarray(np.full((32, 32, 3), 90, dtype=np.uint8)).save(bad)
    bad.write_bytes(bad.read_bytes()[:200])
    with pytest.raises(ValueError, match=f"cannot read the image {bad}"):
        load_cifar10(copy)


def test_an_image_of_the_wrong_size_is_named_with_the_size_expected(tmp_path, cache_dir):
    copy = tmp_path / "copy"
    _image_folder(copy)
    big = copy / "test" / "ship" / "0001.png"
    Image.fromarray(np.zeros((64, 64, 3), dtype=np.uint8)).save(big)
    with pytest.raises(ValueError, match=f"{big} is 64x64 pixels; CIFAR-10 images are 32x32"):
        load_cifar10(copy)


def test_a_truncated_file_in_a_users_batches_copy_is_named_and_kept(tmp_path, cache_dir, fake_release):
    files, _ = fake_release
    copy = tmp_path / "cifar-10-batches-py"
    copy.mkdir()
    for name, content in files.items():
        (copy / name).write_bytes(content)
    assert load_cifar10(copy).train_x.shape == (20, 3, 32, 32)
    (copy / "data_batch_3").write_bytes(files["data_batch_3"][:50])
    with pytest.raises(ValueError, match="data_batch_3 does not match the official release"):
        load_cifar10(copy)
    assert sorted(p.name for p in copy.iterdir()) == sorted(files)  # a user's copy: never deleted


def test_a_batches_copy_under_another_folder_name_loads(tmp_path, cache_dir, fake_release):
    files, _ = fake_release
    copy = tmp_path / "my-cifar"
    copy.mkdir()
    for name, content in files.items():
        (copy / name).write_bytes(content)
    assert load_cifar10(copy).test_y.tolist() == [0, 1, 2, 9]


# --- 5. a cache that cannot be written: the decoded images are still returned --------


def test_decoded_images_survive_a_cache_that_cannot_be_written(tmp_path, cache_dir):
    copy = tmp_path / "copy"
    _image_folder(copy)
    cache_dir.mkdir(parents=True)
    (cache_dir / "data").write_text("a file where the data folder should be")
    with pytest.warns(UserWarning, match="could not keep the decoded images"):
        data = load_cifar10(copy)
    assert data.train_x.shape == (10, 3, 32, 32)


# --- review round 3: a resized copy; the official archive given as data_dir ---------------


def test_a_whole_copy_at_another_size_is_named_as_such(tmp_path, cache_dir):
    copy = tmp_path / "copy"
    _image_folder(copy, per_class=2)
    for png in copy.rglob("*.png"):  # a resized copy: every image 64x64
        Image.fromarray(np.zeros((64, 64, 3), dtype=np.uint8)).save(png)
    with pytest.raises(ValueError) as caught:
        load_cifar10(copy)
    message = str(caught.value)
    first = copy / "train" / "airplane" / "0000.png"
    assert message.startswith("the images of this copy are 64x64 pixels, not CIFAR-10's 32x32")
    assert f"the first, {first}, and all 19 others checked across {copy / 'train'} are 64x64" in message
    assert "use a copy at 32x32" in message and "Replace or remove that file" not in message


def test_one_image_of_another_size_is_still_named_alone(tmp_path, cache_dir):
    copy = tmp_path / "copy"
    _image_folder(copy, per_class=2)
    big = copy / "train" / "airplane" / "0000.png"  # the first image: the others are 32x32
    Image.fromarray(np.zeros((64, 64, 3), dtype=np.uint8)).save(big)
    with pytest.raises(ValueError) as caught:
        load_cifar10(copy)
    assert str(caught.value) == (
        f"the image {big} is 64x64 pixels; CIFAR-10 images are 32x32. Replace or remove that file."
    )


def test_the_official_archive_given_as_data_dir_is_unpacked_and_read(
    tmp_path, cache_dir, fake_release, capsys, monkeypatch
):
    files, archive_bytes = fake_release
    archive = tmp_path / "downloads" / "cifar-10-python.tar.gz"
    archive.parent.mkdir()
    archive.write_bytes(archive_bytes)
    data = load_cifar10(archive)
    assert data.train_x.shape == (20, 3, 32, 32) and data.test_y.tolist() == [0, 1, 2, 9]
    assert f"unpacking {archive}" in capsys.readouterr().out
    assert sorted(p.name for p in archive.parent.iterdir()) == [archive.name]  # only read
    assert not (cache_dir / "data" / "cifar-10-batches-py").exists()  # unpacked in a temporary
    monkeypatch.setattr(cifar10_module, "_read_archive", lambda path: pytest.fail("unpacked again"))
    assert torch.equal(load_cifar10(archive).train_x, data.train_x)  # the decoded images kept
