"""A throw-away JupyterLab for the browser test: 127.0.0.1, a token, a free port, the smoke
profile in its own cache, and settings of its own; stopped by its PID, whatever happens."""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

# Lab's user settings for the test. All cells stay in the page (Lab 4 otherwise renders only
# those on screen, and the test reads every prompt); no news pop-up over the notebook; no
# autosave (the test saves once, when the run is over).
SETTINGS = {
    "@jupyterlab/notebook-extension/tracker.jupyterlab-settings": {"windowingMode": "none"},
    "@jupyterlab/apputils-extension/notification.jupyterlab-settings": {"fetchNews": "false"},
    "@jupyterlab/docmanager-extension/plugin.jupyterlab-settings": {"autosave": False},
}


@dataclass
class Lab:
    url: str
    token: str
    root: Path
    pid: int

    def notebook_url(self, name: str) -> str:
        """The notebook alone in a workspace of its own (Lab would otherwise reopen the
        notebooks of an earlier test beside it)."""
        workspace = re.sub(r"\W", "-", name)
        return f"{self.url}/lab/workspaces/{workspace}/tree/{name}?token={self.token}"


def chromium_binary() -> str:
    """$CHROMIUM, else the real executable of Debian's package (/usr/bin/chromium, a shell
    wrapper around it, only as a last resort)."""
    candidates = [os.environ.get("CHROMIUM", ""), "/usr/lib/chromium/chromium"]
    candidates += ["/usr/lib/chromium-browser/chromium-browser", shutil.which("chromium") or ""]
    for path in candidates:
        if path and os.access(path, os.X_OK):
            return path
    raise FileNotFoundError("no Chromium: `apt-get install -y chromium`, or set CHROMIUM=/path")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def write_settings(folder: Path) -> None:
    for name, values in SETTINGS.items():
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(values))


def wait_until_up(url: str, process: subprocess.Popen, log: Path, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"JupyterLab exited ({process.returncode}):\n{log.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except OSError:
            time.sleep(0.5)
    raise TimeoutError(f"JupyterLab did not answer in {timeout:.0f} s:\n{log.read_text()[-3000:]}")


def stop(pid: int, grace: float = 20) -> None:
    """SIGTERM (the server shuts its kernels down), then SIGKILL if it lingers."""
    try:
        os.kill(pid, signal.SIGTERM)
        for _ in range(int(grace * 10)):
            if os.waitpid(pid, os.WNOHANG) != (0, 0):
                return
            time.sleep(0.1)
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
    except (ProcessLookupError, ChildProcessError):
        pass


@contextmanager
def jupyter_lab(root: Path):
    """JupyterLab serving ``root``, its kernels on the smoke profile with a cache in ``root``."""
    token, port = secrets.token_hex(16), free_port()
    write_settings(root / ".lab-settings")
    env = dict(
        os.environ,
        RESNET_PROFILE="smoke",
        RESNET_CACHE_DIR=str(root / ".cache"),
        RESNET_SUMMARY_DIR="",
        JUPYTERLAB_SETTINGS_DIR=str(root / ".lab-settings"),
        JUPYTERLAB_WORKSPACES_DIR=str(root / ".lab-workspaces"),
    )
    command = [sys.executable, "-m", "jupyter", "lab", "--no-browser", "--ip", "127.0.0.1"]
    command += [f"--port={port}", f"--ServerApp.token={token}", f"--ServerApp.root_dir={root}"]
    command += ["--allow-root"] if os.geteuid() == 0 else []
    log = root / "jupyter-lab.log"
    with open(log, "w") as out:
        process = subprocess.Popen(command, env=env, stdout=out, stderr=subprocess.STDOUT)
    try:
        url = f"http://127.0.0.1:{port}"
        wait_until_up(f"{url}/api/status?token={token}", process, log)
        yield Lab(url=url, token=token, root=root, pid=process.pid)
    finally:
        stop(process.pid)
