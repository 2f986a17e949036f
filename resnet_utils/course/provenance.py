"""Where a result came from: the software versions and the machine, for notebooks' first output
and the shipped reference nets' records."""

from __future__ import annotations

import platform
from pathlib import Path

import torch


def versions() -> dict:
    import torchvision

    from resnet_utils import __version__

    return {
        "python": platform.python_version(),
        "torch": torch.__version__,
        "torchvision": torchvision.__version__,
        "resnet_utils": __version__,
    }


def machine() -> str:
    """The architecture and the CPU's model name (runs on different CPUs differ in the last bits)."""
    model = ""
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    return f"{platform.machine()} {model}".strip()
