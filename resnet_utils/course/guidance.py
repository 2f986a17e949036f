"""What the student's hardware means for this notebook: which profile runs, where its running
time is estimated, and, in Colab without a GPU, how to get one. Printed under the provenance at
the top. (No hand-kept table of our own times: they held for one kind of CPU only, and the plan
times the student's own machine.)"""

from __future__ import annotations

import torch

from resnet_utils.storage.paths import in_colab
from resnet_utils.training.hardware import autocast_dtype, precision_name

COLAB_GPU_STEPS = (
    "To use a GPU in Colab: open the Runtime menu, choose 'Change runtime type', pick a GPU "
    "(the free tier's T4 will do), press Save, then run the notebook again from the top."
)


def device_advice(profile: str, device: torch.device, colab: bool | None = None) -> str:
    """A few sentences for the student: the profile this hardware runs and what to expect."""
    colab = in_colab() if colab is None else colab
    lines = []
    if profile == "smoke":
        lines.append(
            "Smoke profile: synthetic images and two epochs, to test that the notebook runs. "
            "Its numbers say nothing about ResNets; use profile 'quick' or 'full' to learn from it."
        )
    elif profile == "quick":
        where = "a GPU" if device.type == "cuda" else "this CPU"
        lines.append(
            f"Quick profile on {where} ({precision_name(autocast_dtype(device))}): a subset of the "
            "real CIFAR-10 images and short schedules, so the effects show in minutes. The plan "
            "printed before the first training says how long it takes here, from steps timed on "
            "this machine; running the notebook again loads the finished runs."
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


# Past this, the plan says plainly that the wait is long and what to do instead: on a 2-core CPU
# without bf16 the quick profile is about half an hour per notebook (README, "Speed").
LONG_PLAN_SECONDS = 15 * 60


def long_plan_advice(
    seconds: float, shipped: list[str], device: torch.device, colab: bool | None = None
) -> str:
    """What a student can do instead of waiting, when the plan's estimate is over 15 minutes;
    empty below that. ``shipped``: the planned nets the course ships trained (reference nets)."""
    if seconds <= LONG_PLAN_SECONDS:
        return ""
    lines = [
        f"That is more than {LONG_PLAN_SECONDS // 60} minutes here. You can stop at any time: "
        "finished runs (and each epoch of an unfinished one) are kept, and running the notebook "
        "again goes on from them."
    ]
    if shipped:
        lines.append(
            f"Trained nets of {', '.join(shipped)} ship with the course (all 50,000 images, "
            "10 epochs, three seeds): the notebook's reference section shows them without any "
            "training here, if you would rather read that first."
        )
    if device.type != "cuda":
        colab = in_colab() if colab is None else colab
        lines.append(COLAB_GPU_STEPS if colab else "On a CUDA GPU the same runs take minutes.")
    return "\n".join(lines)
