"""The CIFAR-10 download against a local HTTP server: fast, trickling, cut, resumed,
silent, missing and damaged. A stand-in archive of ~300 KB is made "official" by patching
torchvision's MD5 sums; the time constants are patched so that every test takes seconds."""

import hashlib
import http.server
import pickle
import re
import threading
import time

import numpy as np
import pytest
from shared import cifar_archive

from resnet_utils.training import cifar10 as cifar10_module
from resnet_utils.training.cifar10 import load_cifar10
from resnet_utils.training.data import CLASSES

BATCH_NAMES = [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]
ROWS = 16  # per batch: 6 x 16 x 3072 random bytes, an archive of ~300 KB
ARCHIVE = "cifar-10-python.tar.gz"
PART = ARCHIVE + ".part"


def _md5(data: bytes) -> str:
    return hashlib.md5(data).hexdigest()


@pytest.fixture
def release(monkeypatch):
    """The stand-in archive, with torchvision's MD5 sums replaced by its files' own."""
    from torchvision.datasets import CIFAR10

    rng = np.random.default_rng(0)
    files = {}
    for name in BATCH_NAMES:
        entry = {"data": rng.integers(0, 256, (ROWS, 3072), dtype=np.uint8), "labels": [0, 1, 2, 9] * 4}
        files[name] = pickle.dumps(entry)
    files["batches.meta"] = pickle.dumps({"label_names": list(CLASSES)})
    archive = cifar_archive(files)
    monkeypatch.setattr(CIFAR10, "train_list", [[n, _md5(files[n])] for n in BATCH_NAMES[:5]])
    monkeypatch.setattr(CIFAR10, "test_list", [["test_batch", _md5(files["test_batch"])]])
    meta = {"filename": "batches.meta", "key": "label_names", "md5": _md5(files["batches.meta"])}
    monkeypatch.setattr(CIFAR10, "meta", meta)
    monkeypatch.setattr(CIFAR10, "tgz_md5", _md5(archive))
    monkeypatch.delenv("CIFAR10_DIR", raising=False)
    return archive


class Served:
    """What the test server sends, set by each test, and what it was asked and sent."""

    def __init__(self, archive: bytes):
        self.archive = archive
        self.status = 200  # anything else: that HTTP error
        self.ranges = True  # honour 'Range: bytes=N-' (206); False: always the whole file (200)
        self.step = 64 * 1024  # bytes per write
        self.pause = 0.0  # seconds between writes: a trickle
        self.cut_after = None  # close the connection after this many body bytes
        self.silent_after = None  # say nothing more after this many body bytes
        self.requests = []  # (path, Range header or None)
        self.sent = []  # body bytes sent, per request
        self.release = threading.Event()  # ends the silence


@pytest.fixture
def served(release, cache_dir, monkeypatch):
    """A ThreadingHTTPServer on 127.0.0.1 serving the stand-in archive as the official one."""
    state = Served(release)

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            asked = self.headers.get("Range")
            state.requests.append((self.path, asked))
            state.sent.append(0)  # counted before each write: the client cannot run ahead of it
            index = len(state.sent) - 1
            if state.status != 200:
                self.send_error(state.status)
                return
            body, start = state.archive, 0
            wanted = re.fullmatch(r"bytes=(\d+)-", asked or "")
            if state.ranges and wanted:
                start = int(wanted.group(1))
                if start >= len(body):
                    self.send_response(416)
                    self.send_header("Content-Range", f"bytes */{len(body)}")
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                self.send_response(206)
                self.send_header("Content-Range", f"bytes {start}-{len(body) - 1}/{len(body)}")
            else:
                self.send_response(200)
            self.send_header("Content-Length", str(len(body) - start))
            self.end_headers()
            sent, limit, stop = 0, len(body) - start, None
            for how, after in (("cut", state.cut_after), ("silent", state.silent_after)):
                if after is not None and after < limit:
                    limit, stop = after, how
            try:
                while sent < limit:
                    piece = body[start + sent : start + min(limit, sent + state.step)]
                    sent += len(piece)
                    state.sent[index] = sent
                    self.wfile.write(piece)
                    time.sleep(state.pause)
                if stop == "silent":
                    state.release.wait(10)
                # then the connection closes: all sent, or cut
            except (BrokenPipeError, ConnectionResetError):
                pass

        def log_message(self, *args):
            pass

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=httpd.serve_forever, args=(0.05,), daemon=True).start()
    state.url = f"http://127.0.0.1:{httpd.server_address[1]}/{ARCHIVE}"
    monkeypatch.setattr(cifar10_module, "DOWNLOAD_URL", state.url)
    monkeypatch.setattr(cifar10_module, "DOWNLOAD_TIMEOUT", 2)
    monkeypatch.setattr(cifar10_module, "SLOW_WINDOW", 0.5)
    monkeypatch.setattr(cifar10_module, "SLOW_AFTER", 1)  # > 1 s left at the speed seen: told
    yield state
    state.release.set()
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture
def said(monkeypatch):
    """What the download told the student, with the seconds since the fixture began."""
    messages, began, real = [], time.monotonic(), cifar10_module._say

    def say(text):
        messages.append((time.monotonic() - began, text))
        real(text)

    monkeypatch.setattr(cifar10_module, "_say", say)
    return messages


def _data(cache_dir):
    return cache_dir / "data"


def _loaded_whole(data) -> bool:
    return data.train_x.shape == (5 * ROWS, 3, 32, 32) and data.test_y.tolist() == [0, 1, 2, 9] * 4


def test_a_fast_download_arrives_whole_checked_and_without_a_part(served, cache_dir, said, monkeypatch):
    checked, real = [], cifar10_module._intact
    monkeypatch.setattr(
        cifar10_module, "_intact", lambda f, md5: checked.append((f.name, md5)) or real(f, md5)
    )
    target = cache_dir / "elsewhere" / ARCHIVE
    target.parent.mkdir(parents=True)
    cifar10_module._fetch(served.url, target, _md5(served.archive))
    assert target.read_bytes() == served.archive and not target.with_name(PART).exists()
    assert checked == [(PART, _md5(served.archive))]  # the part, checked before its rename
    assert _loaded_whole(load_cifar10())
    assert served.requests[-1] == (f"/{ARCHIVE}", None) and served.sent == [len(served.archive)] * 2
    assert not (_data(cache_dir) / PART).exists() and not (_data(cache_dir) / ARCHIVE).exists()
    assert said == []  # fast: nothing to tell


def test_a_trickle_is_told_in_time_with_speed_estimate_and_what_else(served, cache_dir, said, capsys):
    served.step, served.pause, served.cut_after = 2048, 0.02, 120_000  # ~100 kB/s, cut at 120 kB
    with pytest.raises(RuntimeError) as raised:
        load_cifar10()
    (when, message), *stopped = said
    assert when < 1.5 and stopped == []  # told within the (patched) 0.5 s window, once
    assert re.search(r"arrives slowly from 127\.0\.0\.1:\d+: [\d.]+kB/s over the last \d+ s", message)
    left = re.search(r"so the ([\d.]+)kB left would take about \d+ s at that speed", message)
    assert float(left.group(1)) * 1000 > len(served.archive) - 100_000  # told as it trickles
    for alternative in (
        "data_dir='/path/to/cifar10'",
        "CIFAR10_DIR",
        "Google Drive",
        "run it again later",
    ):
        assert alternative in message
    assert message in capsys.readouterr().out  # printed, so a notebook shows it
    # the server cut the connection: the part holds what arrived, and says to run it again
    part = _data(cache_dir) / PART
    assert part.read_bytes() == served.archive[:120_000] and not (_data(cache_dir) / ARCHIVE).exists()
    assert re.search(
        r"the connection dropped; the download stopped at 120kB of 29\dkB", str(raised.value)
    )
    assert "Run the cell again (now or later): the download goes on where it stopped" in str(
        raised.value
    )
    # torchvision's download_url prints no such message on the same trickle, and leaves a cut
    # archive under its final name (no .part, no Range next time): why the course has its own
    from torchvision.datasets.utils import download_url

    with pytest.raises(RuntimeError):
        download_url(served.url, str(cache_dir / "tv"), ARCHIVE, _md5(served.archive))
    captured = capsys.readouterr()
    assert (
        "would take" not in captured.out + captured.err
        and "CIFAR10_DIR" not in captured.out + captured.err
    )
    assert 0 < (cache_dir / "tv" / ARCHIVE).stat().st_size < len(served.archive)
    assert all(asked is None for _, asked in served.requests)


def test_ctrl_c_keeps_the_part_and_the_next_run_goes_on_from_it(served, cache_dir, monkeypatch):
    served.step, served.pause = 2048, 0.02
    said = []

    def student_stops_when_told(text):
        said.append(text)
        if len(said) == 1:
            raise KeyboardInterrupt

    monkeypatch.setattr(cifar10_module, "_say", student_stops_when_told)
    with pytest.raises(KeyboardInterrupt):
        load_cifar10()
    part = _data(cache_dir) / PART
    have = part.stat().st_size
    assert 0 < have < len(served.archive) and part.read_bytes() == served.archive[:have]
    assert not (_data(cache_dir) / ARCHIVE).exists()
    assert said[1].startswith("stopped; the download stopped at") and str(part) in said[1]
    served.pause = 0.0
    assert _loaded_whole(load_cifar10())
    assert served.requests[-1] == (f"/{ARCHIVE}", f"bytes={have}-")
    assert served.sent[-1] == len(served.archive) - have  # only the rest
    assert not part.exists()


@pytest.mark.parametrize("ranges", [True, False], ids=["206-resumes", "200-starts-over"])
def test_a_part_is_resumed_with_range_or_started_over_when_the_server_ignores_it(
    served, cache_dir, ranges
):
    served.ranges = ranges
    part = _data(cache_dir) / PART
    part.parent.mkdir(parents=True)
    # a 206 is appended to what is there; a 200 replaces it (zeros: appended, they would show)
    part.write_bytes(served.archive[:100_000] if ranges else bytes(100_000))
    assert _loaded_whole(load_cifar10())
    assert served.requests == [(f"/{ARCHIVE}", "bytes=100000-")]
    assert served.sent == [len(served.archive) - 100_000 if ranges else len(served.archive)]
    assert not part.exists() and not (_data(cache_dir) / ARCHIVE).exists()


def test_a_whole_part_left_before_its_rename_is_not_fetched_again(served, cache_dir):
    part = _data(cache_dir) / PART
    part.parent.mkdir(parents=True)
    part.write_bytes(served.archive)
    assert _loaded_whole(load_cifar10())
    assert served.requests == [(f"/{ARCHIVE}", f"bytes={len(served.archive)}-")]  # answered 416
    assert not part.exists()


@pytest.mark.parametrize("silent_after", [0, 10_000], ids=["headers-only", "after-10kB"])
def test_a_silent_server_fails_in_the_timeout_saying_so(served, cache_dir, monkeypatch, silent_after):
    monkeypatch.setattr(cifar10_module, "DOWNLOAD_TIMEOUT", 0.5)
    served.silent_after = silent_after
    began = time.monotonic()
    with pytest.raises(RuntimeError, match=r"no answer from the server within 0\.5 s") as raised:
        load_cifar10()
    assert time.monotonic() - began < 3
    assert served.url in str(raised.value) and "CIFAR10_DIR" in str(raised.value)
    assert (
        not (_data(cache_dir) / ARCHIVE).exists()
        and not (_data(cache_dir) / "cifar-10-batches-py").exists()
    )
    part = _data(cache_dir) / PART
    if silent_after:  # what arrived is kept, under the part's name only
        assert part.read_bytes() == served.archive[:silent_after]
        assert "goes on where it stopped" in str(raised.value)
    else:
        assert not part.exists()


def test_a_missing_file_names_the_address_and_what_to_do(served, cache_dir):
    served.status = 404
    with pytest.raises(RuntimeError) as raised:
        load_cifar10()
    message = str(raised.value)
    assert f"HTTP 404 Not Found for {served.url}" in message
    assert "cifar.html" in message and "data_dir=" in message and "CIFAR10_DIR" in message
    assert not (_data(cache_dir) / PART).exists()


def test_a_wrong_checksum_removes_the_download_and_says_run_again(served, cache_dir, monkeypatch):
    from torchvision.datasets import CIFAR10

    monkeypatch.setattr(CIFAR10, "tgz_md5", "0" * 32)
    with pytest.raises(
        RuntimeError, match=r"arrived damaged.*removed\. Run the cell again.*CIFAR10_DIR"
    ):
        load_cifar10()
    assert served.sent == [len(served.archive)]
    assert not (_data(cache_dir) / PART).exists() and not (_data(cache_dir) / ARCHIVE).exists()


def test_a_part_another_notebook_is_writing_is_left_alone(served, cache_dir):
    fcntl = pytest.importorskip("fcntl")  # no lock on Windows
    part = _data(cache_dir) / PART
    part.parent.mkdir(parents=True)
    part.write_bytes(served.archive[:5000])
    with open(part, "ab") as other:
        fcntl.flock(other.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        with pytest.raises(RuntimeError, match="another notebook is downloading CIFAR-10"):
            load_cifar10()
    assert served.requests == [] and part.read_bytes() == served.archive[:5000]
