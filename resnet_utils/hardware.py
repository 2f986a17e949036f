"""The training device and the number format it trains fastest in without losing accuracy."""

from __future__ import annotations

import os

import torch

PRECISION_ENV = "RESNET_PRECISION"  # "fp32" turns autocast off: how a CPU without bf16 runs


def pick_device(device: str | torch.device | None = None) -> torch.device:
    if device is not None:
        return torch.device(device)
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def autocast_dtype(device: torch.device) -> torch.dtype | None:
    """bf16 where the hardware computes it natively, fp16 on older GPUs, else None (fp32).

    Colab's T4 (compute capability 7.5) has no bf16 and gets fp16 with a grad scaler. On a
    CPU, bf16 autocast pays only with AVX512-BF16 or AMX; elsewhere it is slower than fp32.
    ``$RESNET_PRECISION=fp32`` forces fp32 (to time or check a run as such a machine would).
    """
    forced = os.environ.get(PRECISION_ENV, "").strip().lower()
    if forced == "fp32":
        return None
    if forced not in ("", "auto"):
        raise ValueError(f"${PRECISION_ENV}={forced!r}: use 'fp32', or leave it unset.")
    if device.type == "cuda":
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    if device.type == "cpu":
        cpu = torch.cpu
        fast_bf16 = (
            getattr(cpu, "_is_avx512_bf16_supported", lambda: False)()
            or getattr(cpu, "_is_amx_tile_supported", lambda: False)()
        )
        return torch.bfloat16 if fast_bf16 else None
    return None


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
