"""The notebooks' parameters, checked once by ``start(notebook, vars())`` in the set-up cell,
before anything runs.

Papermill passes ``-p interactive false`` as the (truthy) text "false" and ``-r seeds 3`` as
text; a bad value found cells later shows as a raw TypeError or IndexError far from its cause.
Each parameter here is checked by its name, and a message names it and says what to give.
"""

from __future__ import annotations

import numbers
import os

from resnet_utils.models.cifar import blocks_per_stage

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


def _whole(name: str, value, *, low: int, what: str, optional: bool = False):
    if value is None and optional:
        return None
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < low:
        hint = " (text: papermill's -r passes text, -p passes numbers)" if isinstance(value, str) else ""
        none = "None or " if optional else ""
        raise BadParameter(f"{name} must be {none}{what}, not {value!r}{hint}.")
    return int(value)


def _seed(name, value):
    return _whole(name, value, low=0, what="a whole number, 0 or more (seed = 0)")


def _seeds(name, value):
    return _whole(name, value, low=1, what="a whole number of seeds, 1 or more (seeds = 3)")


def _positive(name, value):
    return _whole(name, value, low=1, what="a whole number, 1 or more", optional=True)


def _points(name, value):
    return _whole(name, value, low=2, what="a whole number of grid points, 2 or more", optional=True)


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
        raise BadParameter(f"{name} is empty: give at least one depth, such as [20, 56].")
    return [_depth(f"{name}[{i}]", d) for i, d in enumerate(depths)]


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


_RULES = {
    "profile": _profile,
    "seed": _seed,
    "seeds": _seeds,
    "epochs": _positive,
    "depths": _depths,
    "depth": _depth,
    "cost_batch": _positive,
    "measure_images": _positive,
    "landscape_images": _positive,
    "landscape_points": _points,
    "interactive": _flag,
    "progress": _flag,
    "data_dir": _folder,
    "summary_dir": _folder,
    "storage_dir": _folder,
}
