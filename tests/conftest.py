"""Test set-up: a private cache folder, and the real CIFAR-10 copy when one is there."""

import os
import tempfile
from pathlib import Path

import pytest

# Set before resnet_utils is imported anywhere: tests never read or write a user's cache.
os.environ["RESNET_CACHE_DIR"] = tempfile.mkdtemp(prefix="resnet-test-cache-")
os.environ.pop("RESNET_PROFILE", None)
os.environ.pop("RESNET_SUMMARY_DIR", None)


@pytest.fixture
def cache_dir(tmp_path, monkeypatch):
    """A fresh, empty cache for one test."""
    monkeypatch.setenv("RESNET_CACHE_DIR", str(tmp_path / "cache"))
    return tmp_path / "cache"


@pytest.fixture(scope="session")
def real_cifar10_dir():
    """The real CIFAR-10 copy named by $CIFAR10_DIR; tests that need it skip without it."""
    root = os.environ.get("CIFAR10_DIR")
    if not root or not Path(root).exists():
        pytest.skip(
            "no real CIFAR-10 copy: set CIFAR10_DIR to one (the ImageFolder layout or "
            "cifar-10-batches-py); .ci/run does so when ../shared/data is present"
        )
    return Path(root)


@pytest.fixture
def counted_fit(monkeypatch):
    """The calls to ``fit`` made through ``resnet_utils.runs.train``: trained, not loaded."""
    from resnet_utils import runs as runs_module

    calls = []
    real_fit = runs_module.fit

    def fit(*args, **kwargs):
        calls.append(args)
        return real_fit(*args, **kwargs)

    monkeypatch.setattr(runs_module, "fit", fit)
    return calls
