"""One visual language for every figure of the course, after He et al. (2015), Fig. 1, 6 and 7.

- a hue per family: plain nets blue, residual nets orange, so a net keeps its colour from
  one figure to the next and from its trained curve to its initial one;
- a shade per depth: the deeper, the darker (20 light, 56 dark, 110 darker still);
- solid for trained nets, dashed for the same nets at initialisation;
- a band over the seeds is said once per figure (:func:`band_note`), not in every legend entry;
- legends sit beside the panels (:func:`legend_beside`), never over the curves.

A label that names no family ("a variant", "chance") gets a colour of its own from
:data:`OTHER_COLOURS`, in the order asked, so figures of variants stay readable.
"""

from __future__ import annotations

import math
import re

from matplotlib import colormaps
from matplotlib.colors import to_rgb

FAMILY_COLOURMAPS = {"plain": "Blues", "resnet": "Oranges"}
# the depths the course trains, shallow to deep: the shade is set by the position of log(depth)
SHALLOWEST, DEEPEST = 8, 164
# light enough to tell apart, dark enough to see on white
LIGHTEST, DARKEST = 0.45, 0.95
OTHER_COLOURS = ("tab:green", "tab:purple", "tab:brown", "tab:pink", "tab:olive", "tab:cyan",
                 "tab:red", "tab:gray", "black")  # fmt: skip
FAMILY_WORDS = {"plain": "plain", "resnet": "residual"}

_NET = re.compile(r"\b(plain|resnet)[-_ ]?(\d+)", re.IGNORECASE)


def family_and_depth(label: str) -> tuple[str, int] | None:
    """('plain', 56) for "plain56", "Plain-56 (reference)" or "plain56, seed 0"; None otherwise."""
    match = _NET.search(label)
    return (match.group(1).lower(), int(match.group(2))) if match else None


def colour_of(label: str, others: dict[str, str] | None = None) -> str | tuple:
    """The colour of a net by its family and depth; labels of no family take the next of
    :data:`OTHER_COLOURS` (``others`` remembers which, so a label keeps its colour)."""
    parsed = family_and_depth(label)
    if parsed is None:
        others = {} if others is None else others
        if label not in others:
            others[label] = OTHER_COLOURS[len(others) % len(OTHER_COLOURS)]
        return others[label]
    family, depth = parsed
    span = math.log(DEEPEST) - math.log(SHALLOWEST)
    position = (math.log(min(max(depth, SHALLOWEST), DEEPEST)) - math.log(SHALLOWEST)) / span
    return colormaps[FAMILY_COLOURMAPS[family]](LIGHTEST + (DARKEST - LIGHTEST) * position)


def shade(colour, strength: float) -> tuple:
    """``colour`` mixed with white: strength 1 is the colour itself, 0 is white."""
    red, green, blue = to_rgb(colour)
    return tuple(1 - strength * (1 - c) for c in (red, green, blue))


def line_style(label: str, *, at_init: bool = False, others: dict[str, str] | None = None) -> dict:
    """Keyword arguments for ``ax.plot``: the net's colour, solid when trained, dashed at init."""
    return {"color": colour_of(label, others), "ls": "--" if at_init else "-"}


def band_note(fig, seeds: int | list[int], *, what: str = "lines: mean over seeds") -> None:
    """Say once, under the figure, what the lines and the bands are."""
    counts = sorted(set(seeds)) if isinstance(seeds, (list, tuple, set)) else [seeds]
    n = " or ".join(map(str, counts))
    fig.text(0.01, -0.02, f"{what} ({n}); shaded: lowest to highest seed.", fontsize="small",
             ha="left", va="top", color="0.3")  # fmt: skip


def legend_beside(ax, *, panels=(), **options) -> None:
    """The legend to the right of the panel, outside the data, without a frame; with
    ``panels``, it also names what only those other panels draw (each label once)."""
    entries = {}
    for panel in (*panels, ax):
        entries.update({label: h for h, label in zip(*panel.get_legend_handles_labels())})
    handles, labels = list(entries.values()), list(entries)
    if not handles:
        return
    options = {"loc": "upper left", "bbox_to_anchor": (1.01, 1.0), "frameon": False,
               "fontsize": "small", **options}  # fmt: skip
    ax.legend(handles, labels, **options)
