"""What the student's hardware means for this notebook: which profile runs, how long that took
us, and, in Colab without a GPU, how to get one. Printed under the provenance at the top."""

from __future__ import annotations

import torch

from .hardware import autocast_dtype, precision_name
from .paths import in_colab

# Wall time of each notebook under the quick profile (10,000 images, 6 epochs, three seeds
# per headline net), from `make execute PROFILE=quick` with an empty run cache and the
# notebooks run in order (2 and 3 reuse runs of the ones before: notebook 2 alone from an
# empty cache takes about 15 min), by the number format the CPU trains in. Measured only on
# the course's 2-core development CPU with AVX512-BF16 (bf16 autocast), torch 2.14.1,
# 2026-11-28. A CPU without bf16 trains in fp32, 3-4x slower (README, Speed); no notebook has
# been timed from an empty cache on one, so there the advice gives no time of ours and points
# to the plan's estimate, which is timed on the student's own machine.
QUICK_CPU_SECONDS = {
    "bf16": {
        "01_degradation": 434,
        "02_skip_connections": 477,
        "03_residual_learning": 510,
        "04_deep_resnets": 11,
        "05_skip_variants": 533,
    },
}
MEASURED_ON = {"bf16": "a 2-core CPU with bf16 (AVX512-BF16), like this one"}

COLAB_GPU_STEPS = (
    "To use a GPU in Colab: open the Runtime menu, choose 'Change runtime type', pick a GPU "
    "(the free tier's T4 will do), press Save, then run the notebook again from the top."
)


def _minutes(seconds: float) -> str:
    return f"about {max(1, round(seconds / 60))} min"


def device_advice(notebook: str, profile: str, device: torch.device, colab: bool | None = None) -> str:
    """A few sentences for the student: the profile this hardware runs and what to expect."""
    colab = in_colab() if colab is None else colab
    lines = []
    if profile == "smoke":
        lines.append(
            "Smoke profile: synthetic images and two epochs, to test that the notebook runs. "
            "Its numbers say nothing about ResNets; use profile 'quick' or 'full' to learn from it."
        )
    elif profile == "quick":
        precision = precision_name(autocast_dtype(device))
        seconds = QUICK_CPU_SECONDS.get(precision, {}).get(notebook) if device.type == "cpu" else None
        timing = (
            f"On {MEASURED_ON[precision]}, this notebook took us {_minutes(seconds)} with an empty "
            "cache (the notebooks run in order)"
            if seconds
            else f"Its running time on a machine like this one ({device.type}, {precision}) has not "
            "been measured by the course: the plan printed before the first training estimates "
            "it from steps timed here"
        )
        where = "a GPU" if device.type == "cuda" else "this CPU"
        lines.append(
            f"Quick profile on {where}: a subset of the real CIFAR-10 images and short schedules, so "
            f"the effects show in minutes. {timing}; running it again loads the finished runs."
        )
        if device.type != "cuda":
            lines.append(
                COLAB_GPU_STEPS
                if colab
                else "With a CUDA GPU, profile 'auto' picks the colab profile (all 50,000 images, "
                "20 epochs)."
            )
    elif profile == "colab":
        lines.append(
            "Colab profile: all 50,000 training images and a 20-epoch one-cycle schedule, sized "
            "for one sitting on a GPU such as Colab's T4 (the paper's 164 epochs: profile "
            "'full'). Its running time on a T4 has not been measured for this course yet: the "
            "plan printed before the first training estimates it from timed steps on this machine."
        )
        if device.type != "cuda":
            lines.append(COLAB_GPU_STEPS if colab else "It is meant for a GPU; on a CPU use 'quick'.")
    else:
        lines.append(
            "Full profile: all 50,000 training images and the paper's recipe, 164 epochs per net: "
            "137 times the training of the quick profile (10,000 images, 6 epochs). Its running "
            "time has not been measured for this course yet; it is meant for a GPU."
        )
        if device.type != "cuda" and colab:
            lines.append(COLAB_GPU_STEPS)
    return "\n".join(lines)
