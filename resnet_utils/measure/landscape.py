"""The loss around a trained net, along random directions (Li et al. 2018, "Visualizing the
Loss Landscape of Neural Nets", NeurIPS): the picture of why shortcuts help, computed.

A direction is a random tensor per parameter, rescaled *filter by filter* to the norm of the
matching filter of the weights (sec. 4), so that a step of 1 moves every filter by its own
size, whatever the scale BatchNorm leaves it at. Biases and BN parameters get a zero direction,
as in the paper. The net is evaluated in eval mode, with the trained net's BN statistics, on a
fixed batch of training images.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Callable, Sequence

import torch
import torch.nn.functional as F
from torch import nn
from tqdm.auto import tqdm

Direction = dict[str, torch.Tensor]
LossFn = Callable[[nn.Module], tuple[float, float]]


def filter_normalized_direction(model: nn.Module, *, seed: int = 0) -> Direction:
    """A random direction with each filter scaled to the norm of the weights' filter.

    A "filter" is one output channel of a conv (``weight[i]``) or one row of a linear layer;
    parameters with one dimension (biases, BN scales and shifts) get zeros.
    """
    generator = torch.Generator().manual_seed(seed)
    direction = {}
    for name, weight in model.named_parameters():
        if weight.dim() <= 1:
            direction[name] = torch.zeros_like(weight)
            continue
        d = torch.randn(weight.shape, generator=generator, dtype=torch.float32).to(weight)
        d_norms = d.flatten(1).norm(dim=1)
        w_norms = weight.detach().flatten(1).norm(dim=1)
        scale = w_norms / d_norms.clamp(min=1e-12)
        direction[name] = d * scale.view(-1, *([1] * (weight.dim() - 1)))
    return direction


def difference(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> Direction:
    """``a - b`` for the parameters of two state_dicts: the line from b (say, the init) to a."""
    return {name: (a[name] - b[name]).float() for name in a if name in b and a[name].is_floating_point()}


def classification_loss(images: torch.Tensor, labels: torch.Tensor, batch_size: int = 500) -> LossFn:
    """Mean cross-entropy and accuracy of a model on one fixed set of images (eval mode)."""

    @torch.no_grad()
    def loss_fn(model: nn.Module) -> tuple[float, float]:
        loss_sum, correct = 0.0, 0
        for start in range(0, len(labels), batch_size):
            x, y = images[start : start + batch_size], labels[start : start + batch_size]
            logits = model(x).float()
            loss_sum += F.cross_entropy(logits, y, reduction="sum").item()
            correct += (logits.argmax(1) == y).sum().item()
        return loss_sum / len(labels), correct / len(labels)

    return loss_fn


class _Moved:
    """Moves a model's parameters to ``base + sum(c_k d_k)`` and back, in place."""

    def __init__(self, model: nn.Module, directions: Sequence[Direction]):
        self.params = dict(model.named_parameters())
        self.base = {n: p.detach().clone() for n, p in self.params.items()}
        self.directions = directions

    @torch.no_grad()
    def to(self, coords: Sequence[float]) -> None:
        for name, param in self.params.items():
            value = self.base[name].clone()
            for c, d in zip(coords, self.directions):
                if name in d and c != 0:
                    value += c * d[name].to(value)
            param.copy_(value)

    @torch.no_grad()
    def restore(self) -> None:
        for name, param in self.params.items():
            param.copy_(self.base[name])


@contextlib.contextmanager
def towards(model: nn.Module, other: nn.Module, step: float):
    """The net moved ``step`` of the way along the line to ``other`` (a net of the same
    architecture: 1 reaches it, a negative step goes the other way) for a ``with``, and back
    after it. Only the weights move; BN keeps the net's own statistics, as on the slice
    :func:`landscape_study` draws towards the init. For measuring what a point of that line
    does inside the net, not only its loss."""
    shift = _Moved(model, [difference(other.state_dict(), model.state_dict())])
    shift.to([step])
    try:
        yield model
    finally:
        shift.restore()


def slice_1d(
    model: nn.Module, direction: Direction, alphas: Sequence[float], loss_fn: LossFn
) -> dict[str, list[float]]:
    """Loss and accuracy at ``weights + alpha * direction`` for each alpha."""
    return _scan(model, [direction], [(a,) for a in alphas], loss_fn, progress=False, what="slice")


def surface_2d(
    model: nn.Module,
    directions: tuple[Direction, Direction],
    alphas: Sequence[float],
    betas: Sequence[float],
    loss_fn: LossFn,
    *,
    progress: bool = True,
) -> dict:
    """Loss and accuracy on the grid ``weights + alpha d1 + beta d2``: lists of rows (one per
    beta), plus the axes."""
    points = [(a, b) for b in betas for a in alphas]
    flat = _scan(model, list(directions), points, loss_fn, progress=progress, what="surface")
    width = len(alphas)
    rows = {k: [v[i : i + width] for i in range(0, len(v), width)] for k, v in flat.items()}
    return {"alphas": list(alphas), "betas": list(betas), **rows}


def _scan(model, directions, points, loss_fn, *, progress, what) -> dict[str, list[float]]:
    was_training = model.training
    model.eval()
    moved = _Moved(model, directions)
    losses, accs = [], []
    try:
        for coords in tqdm(points, desc=what, disable=not progress, leave=False):
            moved.to(coords)
            loss, acc = loss_fn(model)
            losses.append(loss if math.isfinite(loss) else math.inf)
            accs.append(acc)
    finally:
        moved.restore()
        model.train(was_training)
    return {"loss": losses, "acc": accs}


def grid(radius: float, points: int) -> list[float]:
    """``points`` evenly spaced coordinates from -radius to radius, 0 (the net itself) among them."""
    if isinstance(points, bool) or not isinstance(points, int) or points < 3 or points % 2 == 0:
        raise ValueError(
            f"a landscape grid needs an odd number of points, 3 or more, so that 0 (the trained "
            f"weights) is on it; not {points!r}."
        )
    half = points // 2
    return [radius * (i - half) / half for i in range(points)]


def rise_at(line: Sequence[float], coords: Sequence[float]) -> float:
    """How much the loss rises from the centre (coordinate 0) to the two ends of a slice, on
    average: one number per direction, for comparing how sharp two minima are."""
    centre = min(range(len(coords)), key=lambda i: abs(coords[i]))
    return (line[0] + line[-1]) / 2 - line[centre]


def turning_points(line: Sequence[float]) -> int:
    """How often the loss changes direction along a slice (up to down or down to up): 1 for a
    bowl, more for a rough surface; one number per direction, for comparing roughness."""
    steps = [b - a for a, b in zip(line, line[1:]) if math.isfinite(a) and math.isfinite(b)]
    signs = [d > 0 for d in steps if d != 0]
    return sum(x != y for x, y in zip(signs, signs[1:]))


def landscape_study(
    nets: dict[str, nn.Module],
    inits: dict[str, nn.Module],
    loss_fn: LossFn,
    *,
    points: int,
    directions: int = 5,
    seed: int = 0,
    progress: bool = True,
) -> dict:
    """For each trained net: the 2-D surface on two filter-normalised directions, ``directions``
    more 1-D slices with the loss rise at distance 1 along each, and the slice towards the
    same net at init (``inits[name]``, 0 = trained, 1 = init). Same grid for every net."""
    coords = grid(1.0, points)
    out = {"coords": coords, "surfaces": {}, "slices": {}, "rise": {}, "to_init": {}}
    for name, model in nets.items():
        plane = tuple(filter_normalized_direction(model, seed=seed + k) for k in (0, 1))
        out["surfaces"][name] = surface_2d(model, plane, coords, coords, loss_fn, progress=progress)
        rises = []
        for k in range(directions):
            line = slice_1d(
                model, filter_normalized_direction(model, seed=seed + 100 + k), coords, loss_fn
            )
            out["slices"][f"{name}, direction {k + 1}"] = line["loss"]
            rises.append(rise_at(line["loss"], coords))
        out["rise"][name] = rises
        if name in inits:
            to_init = difference(inits[name].state_dict(), model.state_dict())
            out["to_init"][name] = slice_1d(model, to_init, coords, loss_fn)["loss"]
    return out


def evaluations(n_nets: int, points: int, directions: int = 5) -> int:
    """How many loss evaluations :func:`landscape_study` makes: its cost, printed before it runs."""
    return n_nets * (points * points + directions * points + points)
