"""Storage that goes away mid-run (issue 31; review round 3, B1/B2/B3/B13/B14/B18).

When the disk under ``storage_dir`` is unmounted while a run trains (Google Drive in Colab),
nothing may be written below the empty mount point: the run goes on, a warning says that the
storage is gone, where the run is kept instead and what to do, and a re-run of the set-up cell
mounts Drive again instead of adopting a local leftover. The tests that unmount a real file
system need root (as here and in CI); elsewhere they are skipped.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import types
import warnings
from pathlib import Path

import pytest

from resnet_utils.storage import paths
from resnet_utils.storage.atomic import remove_file, save_json, write_atomically
from resnet_utils.storage.temporaries import TEMPORARIES
from resnet_utils.training.cache import run_key
from resnet_utils.training.data import synthetic
from resnet_utils.training.profiles import Recipe
from resnet_utils.training.runs import train

DATA = synthetic(128, 64, seed=0)
RECIPE = Recipe(epochs=6, batch_size=64)  # 2 steps an epoch, a checkpoint after each epoch
COURSE = ("MyDrive", "resnet-course")


@pytest.fixture(autouse=True)
def _fresh_storage(monkeypatch):
    """No storage noted by another test, no Colab unless a test fakes one, and the cache
    variable as it was afterwards (use_storage sets it)."""
    monkeypatch.setenv(paths.CACHE_ENV, os.environ.get(paths.CACHE_ENV, ""))
    monkeypatch.setattr(paths, "_storages", {}, raising=False)
    monkeypatch.setattr(paths, "_ours", None, raising=False)
    monkeypatch.setattr(paths, "_before", None, raising=False)
    monkeypatch.delitem(sys.modules, "google.colab", raising=False)


def _mounted_at() -> set[str]:
    lines = Path("/proc/self/mountinfo").read_text().splitlines()
    return {line.split()[4].replace("\\040", " ") for line in lines}


def _umount(where: Path) -> None:
    subprocess.run(["umount", "-l", str(where)], check=True, capture_output=True)


@pytest.fixture
def mount(tmp_path):
    """``mount(*args, where)``: mount a file system for one test (skipped where that is not
    permitted); whatever is still mounted at the end is unmounted."""
    if os.geteuid() != 0 or shutil.which("mount") is None or not Path("/proc/self/mountinfo").exists():
        pytest.skip(
            "mounting a file system needs root and mount(8) on Linux (CI and the dev box run as root)"
        )
    probe = tmp_path / ".probe"
    probe.mkdir()
    tried = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(probe)], capture_output=True, text=True
    )
    if tried.returncode != 0:
        pytest.skip(
            f"cannot mount a tmpfs here ({tried.stderr.strip()}): a container without CAP_SYS_ADMIN?"
        )
    _umount(probe)
    probe.rmdir()
    done: list[Path] = []

    def mount(*args: str, where: Path) -> None:
        where.mkdir(parents=True, exist_ok=True)
        subprocess.run(["mount", *args, str(where)], check=True, capture_output=True)
        done.append(where)

    yield mount
    for where in reversed(done):
        if os.path.realpath(where) in _mounted_at():
            _umount(where)


def _on_epoch(monkeypatch, epoch: int, action) -> None:
    """Call ``action()`` when the test-set evaluation of ``epoch`` starts: epochs 1 to
    ``epoch - 1`` and their checkpoints are done (as ``fakes.interrupt_in_epoch`` does)."""
    from resnet_utils.training import loop

    real = loop.evaluate
    calls = {"n": 0}

    def evaluate(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == epoch:
            action()
        return real(*args, **kwargs)

    monkeypatch.setattr(loop, "evaluate", evaluate)


def _train_recording(*args, **kwargs):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        run = train(*args, **kwargs)
    return run, [str(w.message) for w in caught]


def _fake_colab(monkeypatch, mount) -> list[str]:
    """google.colab with ``drive.mount`` as given; returns the folders it was asked to mount."""
    calls: list[str] = []

    def recorded(where):
        calls.append(where)
        mount(where)

    fake = types.ModuleType("google.colab")
    fake.drive = types.SimpleNamespace(mount=recorded)
    monkeypatch.setitem(sys.modules, "google", types.ModuleType("google"))
    monkeypatch.setitem(sys.modules, "google.colab", fake)
    return calls


def _refuse_files(where) -> None:
    """What Colab's drive.mount does with a mount point that holds files."""
    if Path(where).exists() and any(Path(where).iterdir()):
        raise ValueError("Mountpoint must not already contain files")


# --- B1: the disk under storage_dir unmounted mid-run ----------------------------------


def test_storage_unmounted_mid_run_writes_nothing_below_the_mount_point(tmp_path, monkeypatch, mount):
    disk = tmp_path / "drive"
    mount("-t", "tmpfs", "-o", "size=50m", "tmpfs", where=disk)
    local = tmp_path / "local-cache"
    monkeypatch.setenv(paths.CACHE_ENV, str(local))  # the default this kernel started with
    root = paths.use_storage(disk.joinpath(*COURSE))
    on_disk_before = []

    def unplug():
        on_disk_before.extend(p.name for p in (root / "runs").iterdir())
        _umount(disk)

    _on_epoch(monkeypatch, 3, unplug)
    run, messages = _train_recording("resnet8", DATA, RECIPE, progress=False)

    key = run_key(run.spec)
    assert on_disk_before == [f"{key}.resume.pt"]  # epoch 2's checkpoint, on the storage
    assert list(disk.iterdir()) == []  # nothing on the machine's disk below the mount point
    gone = [m for m in messages if "is gone" in m]
    assert len(gone) == 1, messages  # said once, not at every epoch
    assert str(root) in gone[0] and "no longer mounted" in gone[0]
    assert str(local) in gone[0] and "set-up cell again" in gone[0] and "kept in memory" in gone[0]
    # the run went on to the end, and is kept: in memory and in the default cache
    assert run.history["epoch"] == [1, 2, 3, 4, 5, 6] and run.model is not None
    assert not run.from_cache
    kept = {p.name for p in (local / "runs").iterdir()}
    assert {f"{key}.json", f"{key}.pt"} <= kept
    assert "gone during this session" in paths.describe_storage(root)
    # the set-up cell run again before the disk is back: refused, and still nothing below it
    with pytest.raises(ValueError, match="it is gone .*no longer mounted.*Mount its disk again"):
        paths.use_storage(root)
    assert list(disk.iterdir()) == []


def test_a_file_written_in_place_of_a_gone_storage_is_removed_there(tmp_path, monkeypatch, mount):
    disk = tmp_path / "drive"
    mount("-t", "tmpfs", "-o", "size=10m", "tmpfs", where=disk)
    monkeypatch.setenv(paths.CACHE_ENV, str(tmp_path / "local-cache"))
    root = paths.use_storage(disk / "course")
    _umount(disk)
    target = root / "runs" / "0123.resume.pt"
    with pytest.warns(UserWarning, match="is gone"):
        written = write_atomically(target, lambda tmp: tmp.write_bytes(b"x"))
    assert written == tmp_path / "local-cache" / "runs" / "0123.resume.pt" and written.exists()
    remove_file(target)  # what train does with a finished run's checkpoint
    assert not written.exists() and list(disk.iterdir()) == []


# --- B2: the same in Colab's layout; the set-up cell run again -------------------------


def test_in_colab_drive_unmounted_mid_run_is_mounted_again_by_the_setup_cell(
    tmp_path, monkeypatch, mount
):
    cloud = tmp_path / "cloud"  # what Drive holds; bind-mounted as Colab's FUSE mount would be
    (cloud / "MyDrive").mkdir(parents=True)
    drive_at = tmp_path / "content" / "drive"
    monkeypatch.setattr(paths, "DRIVE", drive_at)

    def drive_mount(where):
        _refuse_files(where)
        mount("--bind", str(cloud), where=Path(where))

    calls = _fake_colab(monkeypatch, drive_mount)
    monkeypatch.setenv(paths.CACHE_ENV, str(tmp_path / "colab-cache"))
    folder = drive_at.joinpath(*COURSE)
    root = paths.use_storage(folder)
    assert calls == [str(drive_at)] and cloud.joinpath(*COURSE).is_dir()

    _on_epoch(monkeypatch, 3, lambda: _umount(drive_at))
    run, messages = _train_recording("resnet8", DATA, RECIPE, progress=False)
    key = run_key(run.spec)
    assert list(drive_at.iterdir()) == []  # no local MyDrive that would stop drive.mount
    [gone] = [m for m in messages if "is gone" in m]
    assert f"Google Drive is no longer mounted at {drive_at}" in gone and "drive.mount(" in gone
    assert str(tmp_path / "colab-cache") in gone and "lost with the Colab runtime" in gone
    assert run.history["epoch"] == [1, 2, 3, 4, 5, 6] and run.model is not None
    assert [p.name for p in (cloud.joinpath(*COURSE) / "runs").iterdir()] == [f"{key}.resume.pt"]

    # the set-up cell again: Drive is mounted again (not refused), and the next run goes there
    assert paths.use_storage(folder) == root
    assert calls == [str(drive_at)] * 2 and os.path.realpath(drive_at) in _mounted_at()
    again = train("resnet8", DATA, Recipe(epochs=1, batch_size=64), progress=False)
    stored = {p.name for p in (cloud.joinpath(*COURSE) / "runs").iterdir()}
    assert {f"{run_key(again.spec)}.json", f"{run_key(again.spec)}.pt"} <= stored


def test_in_colab_a_local_leftover_where_drive_belongs_is_not_used_silently(tmp_path, monkeypatch):
    """What an unmount left with the earlier code: MyDrive on the machine's own disk."""
    drive_at = tmp_path / "content" / "drive"
    leftover = drive_at.joinpath(*COURSE) / "runs"
    leftover.mkdir(parents=True)
    (leftover / "0123.json").write_text("{}")
    monkeypatch.setattr(paths, "DRIVE", drive_at)
    calls = _fake_colab(monkeypatch, _refuse_files)
    monkeypatch.setenv(paths.CACHE_ENV, str(tmp_path / "colab-cache"))
    with pytest.raises(ValueError) as raised:
        paths.use_storage(drive_at.joinpath(*COURSE))
    said = str(raised.value)
    assert f"Google Drive is not mounted at {drive_at}" in said and "holds files" in said
    assert "MyDrive" in said and f"!mv {drive_at}" in said and "storage_dir=None" in said
    assert calls == [] and os.environ[paths.CACHE_ENV] == str(tmp_path / "colab-cache")


# --- B3: a local storage folder deleted mid-run ----------------------------------------


def test_a_local_storage_folder_deleted_mid_run_is_made_again(tmp_path, monkeypatch):
    root = paths.use_storage(tmp_path / "store")
    _on_epoch(monkeypatch, 3, lambda: shutil.rmtree(root))
    run, messages = _train_recording("resnet8", DATA, RECIPE, progress=False)
    assert not [m for m in messages if "is gone" in m], messages
    key = run_key(run.spec)
    assert sorted(p.name for p in (root / "runs").iterdir()) == [f"{key}.json", f"{key}.pt"]


# --- B13, B14: a relative storage_dir; a blank one after an earlier one ----------------


def test_a_relative_storage_dir_is_resolved_once(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    root = paths.use_storage("rel-store")
    assert root == tmp_path / "rel-store" and root.is_absolute()
    assert os.environ[paths.CACHE_ENV] == str(tmp_path / "rel-store")
    (tmp_path / "elsewhere").mkdir()
    monkeypatch.chdir(tmp_path / "elsewhere")  # a later %cd does not move the runs
    assert paths.cache_root() == tmp_path / "rel-store"


@pytest.mark.parametrize("blank", [None, "  "])
def test_a_blank_storage_dir_goes_back_to_the_default_the_kernel_started_with(
    tmp_path, monkeypatch, capsys, blank
):
    monkeypatch.setenv(paths.CACHE_ENV, str(tmp_path / "kernel-default"))
    paths.use_storage(tmp_path / "earlier")
    assert paths.use_storage(blank) == tmp_path / "kernel-default"
    assert os.environ[paths.CACHE_ENV] == str(tmp_path / "kernel-default")
    said = capsys.readouterr().out
    assert "storage_dir is None" in said and str(tmp_path / "earlier") in said
    assert paths.use_storage(blank) == tmp_path / "kernel-default"  # said once, not again
    assert capsys.readouterr().out == ""


def test_a_blank_storage_dir_without_a_cache_variable_goes_back_to_the_home_cache(tmp_path, monkeypatch):
    monkeypatch.delenv(paths.CACHE_ENV)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    paths.use_storage(tmp_path / "earlier")
    assert paths.use_storage(None) == tmp_path / "home" / ".cache" / "resnet-course"
    assert paths.CACHE_ENV not in os.environ


def test_a_cache_variable_set_by_hand_is_still_the_default(tmp_path, monkeypatch):
    paths.use_storage(tmp_path / "earlier")
    monkeypatch.setenv(paths.CACHE_ENV, str(tmp_path / "by-hand"))  # %env after start()
    assert paths.use_storage(None) == tmp_path / "by-hand"


# --- B18: the Drive permission pop-up closed -------------------------------------------


def test_in_colab_a_refused_drive_says_that_storage_dir_none_goes_on(tmp_path, monkeypatch):
    class MessageError(Exception):  # google.colab._message.MessageError
        pass

    def refused(where):
        raise MessageError("Error: credential propagation was unsuccessful")

    monkeypatch.setattr(paths, "DRIVE", tmp_path / "content" / "drive")
    _fake_colab(monkeypatch, refused)
    monkeypatch.setenv(paths.CACHE_ENV, str(tmp_path / "colab-cache"))
    with pytest.raises(ValueError) as raised:
        paths.use_storage(paths.DRIVE.joinpath(*COURSE))
    said = str(raised.value)
    assert said.startswith("Google Drive was not mounted (MessageError: Error: credential propagation")
    assert "allow access" in said and "storage_dir=None to go on without Drive" in said
    assert os.environ[paths.CACHE_ENV] == str(tmp_path / "colab-cache")


# --- where the temporaries go ----------------------------------------------------------


def test_a_write_in_the_storage_folder_goes_through_its_folder_of_temporaries(tmp_path):
    """All temporaries of a storage folder in one folder, which a session start sweeps."""
    paths.use_storage(tmp_path)
    used = []

    def write(tmp):
        used.append(tmp)
        tmp.write_text("{}")

    written = write_atomically(tmp_path / "runs" / "a.json", write)
    assert written.read_text() == "{}" and used[0].parent == tmp_path / TEMPORARIES
    assert list((tmp_path / TEMPORARIES).iterdir()) == []
    outside = tmp_path.parent / f"{tmp_path.name}-elsewhere"
    write_atomically(outside / "b.json", write)
    assert used[1].parent == outside  # outside any storage folder: beside its target, as before


# --- writes outside any storage folder -------------------------------------------------


def test_a_write_outside_the_storage_makes_its_folders_as_before(tmp_path):
    save_json(tmp_path / "a" / "b" / "c.json", {"x": 1})
    assert (tmp_path / "a" / "b" / "c.json").read_text().strip().startswith("{")
