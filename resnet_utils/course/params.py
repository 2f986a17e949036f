"""The notebooks' parameters, checked once by ``start(notebook, vars())`` in the set-up cell,
before anything runs.

Papermill passes ``-p interactive false`` as the (truthy) text "false" and ``-r seeds 3`` as
text; a bad value found cells later shows as a raw TypeError or IndexError far from its cause.
Each parameter here is checked by its name, and a message names it and says what to give.
"""

from __future__ import annotations

import numbers
import os
from pathlib import Path

from resnet_utils.models.cifar import blocks_per_stage
from resnet_utils.storage.paths import try_writing

# torch's generators take seeds up to 2**64 - 1; the notebooks add offsets (seed + 1, ...)
# to the seed, and numpy's and Python's signed 64-bit integers end at 2**63 - 1
MAX_SEED = 2**63 - 1
# cost_batch (notebook 4) runs one batch of this many images through ResNet-152 for the time
# and memory measurements. Autograd keeps 223 MB for its backward pass at batch 64 (the
# notebook's quick run): about 3.5 MB an image, 3.5 GB at the bound, which a laptop or a
# Colab T4 holds; the course trains with batches of 128.
MAX_COST_BATCH = 1024
BACKWARD_MB_PER_IMAGE = 223 / 64

_TRUE = ("true", "yes", "1", "on")
_FALSE = ("false", "no", "0", "off")


class BadParameter(ValueError):
    """A notebook parameter that cannot be used; the message names it and what to give."""


def check_in_place(namespace: dict) -> None:
    """Check every parameter in ``namespace`` (a notebook's ``vars()`` after its parameters
    cell) that the course knows, and put back the value as the notebook uses it; names
    without a rule are left alone."""
    for name, rule in _RULES.items():
        if name in namespace:
            namespace[name] = rule(name, namespace[name])


# The whole-number parameters: the least value, the greatest (None: no bound), what to give,
# and whether None is allowed (None: the notebook's budget decides, course/budgets.py).
WHOLE_NUMBERS = {
    "seed": (0, MAX_SEED, "a whole number from 0 to 2**63 - 1 (seed = 0)", False),
    "seeds": (1, None, "a whole number of seeds, 1 or more (seeds = 3)", False),
    "epochs": (1, None, "a whole number, 1 or more", True),
    "measure_images": (1, None, "a whole number, 1 or more", True),
    "landscape_images": (1, None, "a whole number, 1 or more", True),
    "landscape_points": (2, None, "a whole number of grid points, 2 or more", True),
}


def _whole_number(name, value):
    low, high, what, optional = WHOLE_NUMBERS[name]
    return _whole(name, value, low=low, high=high, what=what, optional=optional)


def _whole(name: str, value, *, low: int, what: str, optional: bool = False, high: int | None = None):
    if value is None and optional:
        return None
    if (
        isinstance(value, bool)
        or not isinstance(value, numbers.Integral)
        or value < low
        or (high is not None and value > high)
    ):
        hint = " (text: papermill's -r passes text, -p passes numbers)" if isinstance(value, str) else ""
        none = "None or " if optional else ""
        raise BadParameter(f"{name} must be {none}{what}, not {value!r}{hint}.")
    return int(value)


def _cost_batch(name, value):
    value = _whole(name, value, low=1, what="a whole number, 1 or more", optional=True)
    if value is not None and value > MAX_COST_BATCH:
        gb = value * BACKWARD_MB_PER_IMAGE / 1024
        raise BadParameter(
            f"{name} must be at most {MAX_COST_BATCH} (or None): a batch of {value:,} images "
            f"would keep about {gb:.0f} GB for ResNet-152's backward pass "
            f"({BACKWARD_MB_PER_IMAGE:.1f} MB an image), far more than a laptop or a Colab "
            f"T4 holds; not {value!r}."
        )
    return value


def _depth(name, value):
    value = _whole(name, value, low=8, what="a depth of the form 6n+2 (20, 56, 110)", optional=True)
    if value is not None:
        try:
            blocks_per_stage(value)
        except ValueError as error:
            raise BadParameter(f"{name}: {error}") from None
    return value


def _depths(name, value):
    if value is None:
        return None
    if isinstance(value, (str, bytes)) or not hasattr(value, "__iter__"):
        raise BadParameter(f"{name} must be a list of depths such as [20, 56], not {value!r}.")
    depths = list(value)
    if not depths:
        raise BadParameter(f"{name} is empty: give two depths or more, such as [20, 56].")
    depths = [_depth(f"{name}[{i}]", d) for i, d in enumerate(depths)]
    for depth in depths:
        if depths.count(depth) > 1:
            raise BadParameter(
                f"{name} lists {depth} {_times(depths.count(depth))}: give each depth once, "
                f"such as [20, 56] (not {list(value)!r})."
            )
    if len(depths) < 2:
        raise BadParameter(
            f"{name} must hold two depths or more (the notebook compares the shallowest net "
            f"with the deepest), such as [20, 56], not {list(value)!r}."
        )
    return depths


def _times(n: int) -> str:
    return {2: "twice", 3: "three times"}.get(n, f"{n} times")


def _flag(name, value):
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in _TRUE + _FALSE:
        return value.strip().lower() in _TRUE  # papermill -p interactive false
    if isinstance(value, numbers.Integral) and value in (0, 1):
        return bool(value)
    raise BadParameter(f"{name} must be True or False, not {value!r}.")


def _profile(name, value):
    if value is None:
        return "auto"
    if not isinstance(value, str):
        raise BadParameter(f"{name} must be a profile name such as 'quick' or 'auto', not {value!r}.")
    return value


def _folder(name, value):
    if value is None or isinstance(value, (str, os.PathLike)):
        return value
    raise BadParameter(f"{name} must be a folder (a path as text) or None, not {value!r}.")


def summary_folder(name, value) -> str | None:
    """The folder the summary is written to at the end, with ``~`` expanded (None: blank),
    created and tried by writing a file there now: a folder that cannot be written stops
    the set-up cell, not the summary cell after all the training."""
    value = _folder(name, value)
    if value is None or str(value).strip() == "":
        return None
    folder = Path(value).expanduser()
    try:
        try_writing(folder)
    except OSError as error:
        why = error.strerror or str(error)
        where = f" ({error.filename})" if error.filename and str(error.filename) != str(folder) else ""
        raise BadParameter(
            f"{name} {str(value)!r} cannot be written ({why}{where}): give a folder you can "
            "write to, or None to write no summary file."
        ) from None
    return str(folder)


_RULES = {
    **{name: _whole_number for name in WHOLE_NUMBERS},
    "profile": _profile,
    "depths": _depths,
    "depth": _depth,
    "cost_batch": _cost_batch,
    "interactive": _flag,
    "progress": _flag,
    "data_dir": _folder,
    "summary_dir": summary_folder,
    "storage_dir": _folder,
}
