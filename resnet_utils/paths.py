"""Where the course keeps what it downloads and what it has computed."""

from __future__ import annotations

import os
from pathlib import Path

CACHE_ENV = "RESNET_CACHE_DIR"


def cache_root() -> Path:
    """``$RESNET_CACHE_DIR``, else ``~/.cache/resnet-course``: decoded data and finished runs."""
    root = os.environ.get(CACHE_ENV)
    return Path(root).expanduser() if root else Path.home() / ".cache" / "resnet-course"
