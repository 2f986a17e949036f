"""What the student's hardware means for this notebook: which profile runs, where its running
time is estimated, and, in Colab without a GPU, how to get one. Printed under the provenance at
the top. (No hand-kept table of our own times: they held for one kind of CPU only, and the plan
times the student's own machine.)"""

from __future__ import annotations

import torch

from resnet_utils.course.budgets import budget
from resnet_utils.storage.paths import in_colab
from resnet_utils.training.hardware import autocast_dtype, precision_name
from resnet_utils.training.profiles import (
    CIFAR10_TRAIN_IMAGES,
    CPU_PROFILE,
    GPU_PROFILE,
    Profile,
    get_profile,
)

COLAB_GPU_STEPS = (
    "To use a GPU in Colab: open the Runtime menu, choose 'Change runtime type', pick a GPU "
    "(the free tier's T4 will do), press Save, then run the notebook again from the top."
)


def device_advice(
    profile: Profile | str,
    device: torch.device,
    colab: bool | None = None,
    notebook: str | None = None,
) -> str:
    """A few sentences for the student: the profile this hardware runs and what to expect,
    written from the profiles' own fields (training/profiles.py) and, given ``notebook``, from
    what that notebook trains under them (course/budgets.py: notebook 5 trains 10,000 images
    under 'colab', not the profile's 50,000)."""
    profile = get_profile(profile) if isinstance(profile, str) else profile
    colab = in_colab() if colab is None else colab
    on_gpu = device.type == "cuda"
    name, epochs = profile.name.capitalize(), profile.recipe.epochs
    lines = []
    if profile.dataset == "synthetic":
        lines.append(
            f"{name} profile: synthetic images and {epochs} epochs, to test that the notebook runs. "
            "Its numbers say nothing about ResNets; use profile 'quick' or 'full' to learn from it."
        )
    elif profile.train_size is not None:  # a subset of the images: sized for a CPU
        where = "a GPU" if on_gpu else "this CPU"
        lines.append(
            f"{name} profile on {where} ({precision_name(autocast_dtype(device))}): a subset of the "
            "real CIFAR-10 images and short schedules, sized for a laptop CPU. The plan "
            "printed before the first training says how long it takes here, from steps timed on "
            "this machine; running the notebook again loads the finished runs."
        )
        if not on_gpu:
            gpu = get_profile(GPU_PROFILE)
            lines.append(
                COLAB_GPU_STEPS
                if colab
                else f"With a CUDA GPU, profile 'auto' picks the {gpu.name} profile "
                f"({_scale(gpu, notebook)})."
            )
    elif profile.recipe.schedule == "onecycle":  # every image, a short schedule: one sitting
        paper = get_profile("full")
        lines.append(
            f"{name} profile ({_scale(profile, notebook)}): one-cycle schedules, "
            "sized for one sitting on a GPU such as Colab's T4 (longer: profile "
            f"'{paper.name}', {_scale(paper, notebook)}). Its running time on a T4 has "
            "not been measured for this course yet: the plan printed before the first training "
            "estimates it from timed steps on this machine."
        )
        if not on_gpu:
            lines.append(
                COLAB_GPU_STEPS if colab else f"It is meant for a GPU; on a CPU use '{CPU_PROFILE}'."
            )
    else:  # the paper's recipe
        quick = get_profile(CPU_PROFILE)
        times = CIFAR10_TRAIN_IMAGES * epochs / (quick.train_size * quick.recipe.epochs)
        size = (
            f"{_images(profile)} training images and the paper's recipe, {epochs} epochs per net: "
            f"{times:.0f} times the training of the {quick.name} profile "
            f"({quick.train_size:,} images, {quick.recipe.epochs} epochs)"
        )
        if notebook is not None and _scale(profile, notebook) != _scale(profile, None):
            size = f"{_scale(profile, notebook)}, a step schedule in the paper's proportions"
        lines.append(
            f"{name} profile: {size}. Its running time has not been measured for this course yet; "
            "it is meant for a GPU."
        )
        if not on_gpu and colab:
            lines.append(COLAB_GPU_STEPS)
    return "\n".join(lines)


def _scale(profile: Profile, notebook: str | None) -> str:
    """'all 50,000 images, 20 epochs': what a profile trains, for ``notebook`` if given (each of
    its trainings, when they differ), else the profile's own."""
    if notebook is None:
        return f"{_images(profile)} images, {profile.recipe.epochs} epochs"
    scales = []
    for training in budget(notebook, profile).trainings:
        job = training.jobs[0]
        images = f"all {CIFAR10_TRAIN_IMAGES:,}" if job.train_images is None else f"{job.train_images:,}"
        scale = f"{images} images, {job.recipe.epochs} epochs"
        scales += [scale] if scale not in scales else []
    return "; then ".join(scales) or "no training in this notebook"


def _images(profile: Profile) -> str:
    """'all 50,000' or '10,000': how many training images the profile trains on."""
    if profile.train_size is None:
        return f"all {CIFAR10_TRAIN_IMAGES:,}"
    return f"{profile.train_size:,}"


# Past this, the plan says plainly that the wait is long and what to do instead: on a 2-core CPU
# without bf16 the quick profile is about half an hour per notebook (docs/speed.md).
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
