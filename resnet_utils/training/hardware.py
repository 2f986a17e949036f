"""The training device and the number format it trains fastest in.

Does bf16 autocast change what a run learns? Over three seeds of plain-20 under the quick
profile (``benchmarks/precision_check.py``, ``results/precision-check-seeds.json``; AVX512-BF16
CPU, one thread), no difference beyond the noise: final training loss 1.453 in bf16 vs 1.432
in fp32 (margin 0.089), test accuracy 46.2% vs 48.1% (margin 4.2 points, 2,000 test images).
That is one net at one budget: a small effect, or one on deeper nets, is not ruled out (the
older one-seed check of plain-56, ``results/precision-check.json``, was at 10 epochs and gives
no verdict). The cache keys runs by format, so the two are never mixed."""

from __future__ import annotations

import os
from contextlib import contextmanager

import torch

# "fp32" turns autocast off (how a CPU without bf16 runs); "bf16" insists on bf16 where native;
# "fp16" is the T4's format (fp16 autocast and a grad scaler), accepted on any device, so that
# the path of Colab's free GPU is trained and tested on every CI machine (``make unit-fp16``)
PRECISION_ENV = "RESNET_PRECISION"


def pick_device(device: str | torch.device | None = None) -> torch.device:
    if device is not None:
        return torch.device(device)
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def autocast_dtype(device: torch.device) -> torch.dtype | None:
    """bf16 where the hardware computes it natively, fp16 on older GPUs, else None (fp32).

    Colab's T4 (compute capability 7.5) has no bf16 and gets fp16 with a grad scaler. On a
    CPU, bf16 autocast pays only with AVX512-BF16 or AMX; elsewhere it is slower than fp32.
    ``$RESNET_PRECISION`` forces a format: ``fp32`` (to time or check a run as such a machine
    would), ``bf16`` (only where native), ``fp16`` (the T4's path, on any device).
    """
    forced = os.environ.get(PRECISION_ENV, "").strip().lower()
    if forced == "fp32":
        return None
    if forced == "fp16":
        return torch.float16
    if forced == "bf16":  # what the course prints as the precision: accepted where it is fast
        if native_bf16(device):
            return torch.bfloat16
        raise ValueError(
            f"${PRECISION_ENV}=bf16: this {_device_words(device)} has no native bf16 (it would "
            "be emulated: slower than fp32, or failing); use 'fp16' or 'fp32', or leave it unset "
            "for the fastest format here."
        )
    if forced not in ("", "auto"):
        raise ValueError(
            f"${PRECISION_ENV}={forced!r}: use 'fp32', 'bf16' or 'fp16', or leave it unset."
        )
    if device.type == "cuda":
        return torch.bfloat16 if native_bf16(device) else torch.float16
    if device.type == "cpu":
        return torch.bfloat16 if _cpu_bf16() else None
    return None


def native_bf16(device: torch.device) -> bool:
    """Does ``device`` compute bf16 in hardware?

    On CUDA that is compute capability 8.0 (Ampere) or more, or a ROCm GPU. Not
    ``torch.cuda.is_bf16_supported()``: by default it also counts emulation, and answers True
    on a T4 (7.5), where bf16 convolutions have no cuDNN engine (pytorch#81139, #148322)."""
    if device.type == "cuda":
        if torch.version.hip is not None:
            return True
        return tuple(torch.cuda.get_device_capability(device)) >= (8, 0)
    return device.type == "cpu" and _cpu_bf16()


def _device_words(device: torch.device) -> str:
    if device.type == "cuda":
        major, minor = torch.cuda.get_device_capability(device)
        return f"GPU ({torch.cuda.get_device_name(device)}, compute capability {major}.{minor})"
    return device.type


def _cpu_bf16() -> bool:
    """AVX512-BF16 or AMX, and torch allowed to use them: a CPU where bf16 autocast pays."""
    cpu = torch.cpu
    has_bf16 = bool(
        getattr(cpu, "_is_avx512_bf16_supported", lambda: False)()
        or getattr(cpu, "_is_amx_tile_supported", lambda: False)()
    )
    return has_bf16 and not capped_below_avx512()


# oneDNN's names for the instruction sets below AVX512-BF16 (its docs, "CPU Dispatcher Control")
_ONEDNN_BELOW_BF16 = {
    "SSE41",
    "AVX",
    "AVX2",
    "AVX2_VNNI",
    "AVX2_VNNI_2",
    "AVX512_CORE",
    "AVX512_CORE_VNNI",
}

# ATen's names for its kernel levels below AVX-512 on x86 (``torch.backends.cpu``)
_ATEN_BELOW = {"DEFAULT", "AVX2"}


def capped_below_avx512() -> bool:
    """True when ``ATEN_CPU_CAPABILITY`` or ``ONEDNN_MAX_CPU_ISA`` hold torch below AVX-512.

    ``ATEN_CPU_CAPABILITY=avx2 ONEDNN_MAX_CPU_ISA=AVX2`` makes a CPU with AVX512-BF16 run the
    kernels a laptop without AVX-512 runs (docs/speed.md, "As a CPU without AVX-512"); bf16 would
    then be emulated, slower than fp32, so the course trains in fp32 there, as on such a laptop.
    """
    onednn = os.environ.get("ONEDNN_MAX_CPU_ISA", "").strip().upper()
    return onednn in _ONEDNN_BELOW_BF16 or torch.backends.cpu.get_cpu_capability() in _ATEN_BELOW


def precision_name(dtype: torch.dtype | None) -> str:
    return {None: "fp32", torch.bfloat16: "bf16", torch.float16: "fp16"}[dtype]


def describe_device(device: torch.device) -> str:
    if device.type == "cuda":
        return f"cuda ({torch.cuda.get_device_name(device)})"
    if device.type == "cpu":
        threads = torch.get_num_threads()
        plural = "s" if threads != 1 else ""
        return f"cpu ({threads} thread{plural}, {torch.backends.cpu.get_cpu_capability()})"
    return str(device)


@contextmanager
def using_threads(threads: int | None):
    """Within it, torch computes with ``threads`` CPU threads (None: as it is); the count it
    had comes back after, on an error or a Ctrl-C too."""
    before = torch.get_num_threads()
    if threads is not None and threads != before:
        torch.set_num_threads(threads)
    try:
        yield before if threads is None else threads
    finally:
        torch.set_num_threads(before)
