"""Test set-up: a private cache folder, the real CIFAR-10 copy when one is there, and the
device the training tests use (``--device cuda`` or ``$RESNET_TEST_DEVICE``; default cpu)."""

import os
import sys
import tempfile
from pathlib import Path

import pytest

# Set before resnet_utils is imported anywhere: tests never read or write a user's cache.
os.environ["RESNET_CACHE_DIR"] = tempfile.mkdtemp(prefix="resnet-test-cache-")
os.environ.pop("RESNET_PROFILE", None)
os.environ.pop("RESNET_SUMMARY_DIR", None)

DEVICE_ENV = "RESNET_TEST_DEVICE"


def pytest_addoption(parser):
    parser.addoption(
        "--device",
        default=None,
        help=f"the device of the tests that train with the default device: cpu (the default) "
        f"or cuda; also ${DEVICE_ENV}",
    )


def _device_name(config) -> str:
    return config.getoption("--device") or os.environ.get(DEVICE_ENV) or "cpu"


def pytest_configure(config):
    import torch

    name = _device_name(config)
    try:
        device = torch.device(name)
    except RuntimeError as error:
        raise pytest.UsageError(f"--device {name!r} ({error}): use cpu or cuda.") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise pytest.UsageError(f"--device {name!r}, but torch sees no CUDA device: use cpu.")
    if device.type == "cuda":
        # the bit-exact tests (same seed, resume) need cuDNN's deterministic kernels: the
        # autotuner (cudnn.benchmark, on in every TrainingStep) may otherwise pick others
        torch.backends.cudnn.deterministic = True


@pytest.fixture(scope="session")
def device(request):
    """The device the training tests run on (``--device``)."""
    import torch

    return torch.device(_device_name(request.config))


@pytest.fixture(autouse=True)
def _default_device(device, monkeypatch):
    """``pick_device(None)``, the default of ``fit``, ``train`` and ``start``, gives the test
    device: cpu unless asked, even on a machine with a GPU. Nothing changes where that is
    what it gives anyway (a CPU-only machine, no --device)."""
    from resnet_utils.training import hardware

    real = hardware.pick_device
    if real(None) == device:
        return

    def pick_device(asked=None):
        return real(device if asked is None else asked)

    for name, module in list(sys.modules.items()):
        if name.startswith("resnet_utils") and getattr(module, "pick_device", None) is real:
            monkeypatch.setattr(module, "pick_device", pick_device)


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
    """The calls to ``fit`` made through ``resnet_utils.training.runs.train``: trained, not loaded."""
    from resnet_utils.training import runs as runs_module

    calls = []
    real_fit = runs_module.fit

    def fit(*args, **kwargs):
        calls.append(args)
        return real_fit(*args, **kwargs)

    monkeypatch.setattr(runs_module, "fit", fit)
    return calls
