"""Looking inside trained nets: layer responses (He et al. 2015, Fig. 7), the residual branch
against the identity, and lesions (Veit et al. 2016). All measurements run in eval mode."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from statistics import fmean

import torch
from torch import nn

from resnet_utils.models import BasicBlock
from resnet_utils.report.verdicts import CHANCE
from resnet_utils.training.data import ImageData
from resnet_utils.training.loop import evaluate


def blocks(model: nn.Module) -> list[tuple[str, BasicBlock]]:
    """The net's blocks in forward order, with their names (``layer2.0`` ...)."""
    return [(name, m) for name, m in model.named_modules() if isinstance(m, BasicBlock)]


@contextlib.contextmanager
def temporary_hooks(registrations):
    """Hooks registered for one measurement, removed after it even if it fails."""
    handles = list(registrations)
    try:
        yield
    finally:
        for handle in handles:
            handle.remove()


@contextlib.contextmanager
def evaluating(model: nn.Module):
    """Eval mode without gradients for a measurement; the net's mode is restored after it."""
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            yield
    finally:
        model.train(was_training)


def layer_responses(model: nn.Module, images: torch.Tensor) -> list[float]:
    """Std of each 3x3 layer's response in the blocks, after its BN and before the ReLU or the
    addition, in forward order (two per block): what He et al. (2015) plot in Fig. 7.

    The std is taken over all values of the response for the batch (images, channels, pixels).
    """
    stds: list[float] = []
    norms = [m for _, block in blocks(model) for m in (block.bn1, block.bn2)]
    with (
        evaluating(model),
        temporary_hooks(
            m.register_forward_hook(lambda _m, _i, out: stds.append(out.float().std().item()))
            for m in norms
        ),
    ):
        model(images)
    return stds


@dataclass
class BranchStats:
    """One block's residual branch F(x) against what its shortcut passes on."""

    name: str
    ratio: float  # mean over images of ||F(x)|| / ||shortcut(x)||
    branch_rms: list[float]  # per output channel: root mean square of F(x)
    identity_rms: list[float]  # per output channel: root mean square of shortcut(x)


def residual_branch_stats(model: nn.Module, images: torch.Tensor) -> list[BranchStats]:
    """For each block of a residual net: how large is F(x) next to the x it is added to?"""
    found: list[BranchStats] = []

    def measure(name):
        def hook(block: BasicBlock, inputs, _output):
            x = inputs[0]
            branch = block.residual(x).float()
            identity = block.shortcut(x).float()
            ratio = branch.flatten(1).norm(dim=1) / identity.flatten(1).norm(dim=1).clamp(min=1e-12)
            found.append(
                BranchStats(
                    name,
                    ratio.mean().item(),
                    branch.pow(2).mean(dim=(0, 2, 3)).sqrt().tolist(),
                    identity.pow(2).mean(dim=(0, 2, 3)).sqrt().tolist(),
                )
            )

        return hook

    residual = [(n, b) for n, b in blocks(model) if b.shortcut is not None]
    if not residual:
        raise ValueError("the net has no shortcuts: a plain net has no residual branch to compare")
    with evaluating(model), temporary_hooks(b.register_forward_hook(measure(n)) for n, b in residual):
        model(images)
    return found


def deletable_blocks(model: nn.Module) -> list[str]:
    """Blocks whose output has the shape of their input: only these can be deleted outright."""
    return [
        name
        for name, b in blocks(model)
        if b.conv1.stride == (1, 1) and b.conv1.in_channels == b.conv2.out_channels
    ]


def downsampling_blocks(model: nn.Module) -> list[str]:
    """Residual blocks that change the shape: deleting their branch leaves the shortcut (with
    option A, x subsampled and padded with zeros), so the net still runs without F(x). A plain
    net has none: without its convs nothing of such a block is left to pass x on."""
    kept = set(deletable_blocks(model))
    return [name for name, b in blocks(model) if name not in kept and b.shortcut is not None]


@contextlib.contextmanager
def without_block(model: nn.Module, name: str):
    """Delete one block for the duration of a ``with``: its input passes straight on.

    In a residual net that keeps the shortcut and drops F(x) (in a downsampling block, the
    shortcut's subsampling and zero padding); in a plain net nothing is left of the block at
    all. On leaving, the block is put back.
    """
    allowed = deletable_blocks(model) + downsampling_blocks(model)
    if name not in allowed:
        raise ValueError(f"{name!r} cannot be deleted: choose one of {allowed}")
    parent_name, _, index = name.rpartition(".")
    parent = model.get_submodule(parent_name)
    original = parent[int(index)]
    parent[int(index)] = nn.Identity() if original.shortcut is None else original.shortcut
    try:
        yield model
    finally:
        parent[int(index)] = original


def lesion_study(
    model: nn.Module, data: ImageData, progress: bool = True, downsampling: bool = False
) -> dict[str, float]:
    """Test accuracy with each deletable block deleted in turn, in forward order; with
    ``downsampling``, a residual net's downsampling blocks too (see :func:`downsampling_blocks`)."""
    from tqdm.auto import tqdm

    device = next(model.parameters()).device
    names = set(deletable_blocks(model)) | (set(downsampling_blocks(model)) if downsampling else set())
    accuracies = {}
    for name in tqdm(
        [n for n, _ in blocks(model) if n in names], desc="lesions", disable=not progress, leave=False
    ):
        with without_block(model, name):
            accuracies[name] = evaluate(model, data, device=device)[1]
    return accuracies


@dataclass(frozen=True)
class LesionSummary:
    """One net's lesions over its seeds, summed up once for every sentence and verdict that
    reads them."""

    intact: list[float]  # per seed: the whole net's test accuracy
    drop: list[float]  # per seed: the accuracy one deletion costs, mean over the shared blocks
    share: list[float]  # per seed: that cost as a share of the way from intact down to chance
    left: dict[str, float]  # per block studied, in forward order: accuracy left, mean over seeds

    def worst(self, k: int = 3) -> list[str]:
        """The ``k`` blocks whose deletion leaves the least accuracy, the most harmful first."""
        return sorted(self.left, key=self.left.get)[:k]


def lesion_summary(
    studies: list[dict[str, float]],
    intact: list[float],
    *,
    shared: list[str] | None = None,
    chance: float = CHANCE,
) -> LesionSummary:
    """Sum up one net's :func:`lesion_study` of each seed (``studies``) beside its intact
    accuracies. The drop and the share average over ``shared`` (by default every block
    studied): the blocks both nets of a comparison can lose, so that a residual net's
    downsampling deletions do not enter a comparison with a plain net that has none. The
    share, ``drop / (intact - chance)``, puts nets of different accuracy on one scale."""
    if len(studies) != len(intact) or not studies:
        raise ValueError(
            f"one intact accuracy per study: {len(studies)} studies, {len(intact)} accuracies"
        )
    shared = list(studies[0]) if shared is None else shared
    drop = [fmean(base - study[b] for b in shared) for study, base in zip(studies, intact)]
    share = [d / (base - chance) for d, base in zip(drop, intact)]
    left = {b: fmean(study[b] for study in studies) for b in studies[0]}
    return LesionSummary(list(intact), drop, share, left)


@torch.no_grad()
def calibrate_batchnorm(model: nn.Module, images: torch.Tensor, batch_size: int = 250) -> nn.Module:
    """Set every BN layer's running statistics to those of ``images`` (no weight changes).

    A freshly built net in eval mode normalises with mean 0 and variance 1, which are not
    its activations' statistics, so measurements of it would mean nothing. Calibrated on
    real images, the untrained net is measured in eval mode as a trained net is: the control
    for the same measurement on a trained net. (On other images a BN output's std is then 1
    only roughly: exactly 1 holds in training mode, on the batch being normalised.) Returns
    the model, in eval mode.
    """
    norms = [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    momenta = [m.momentum for m in norms]
    for m in norms:
        m.reset_running_stats()
        m.momentum = None  # a cumulative average over the calibration batches
    model.train()
    for start in range(0, len(images), batch_size):
        model(images[start : start + batch_size])
    for m, momentum in zip(norms, momenta):
        m.momentum = momentum
    return model.eval()


@torch.no_grad()
def gate_openings(model: nn.Module, images: torch.Tensor) -> list[float]:
    """The mean gate value g = sigmoid(gate(x)) of each gated block, in forward order: how
    much of the branch (exclusive gating) a gated net lets through."""
    openings: list[float] = []
    gates = [block.gate for _, block in blocks(model) if getattr(block, "gate", None) is not None]
    with (
        evaluating(model),
        temporary_hooks(
            g.register_forward_hook(
                lambda _m, _i, out: openings.append(torch.sigmoid(out.float()).mean().item())
            )
            for g in gates
        ),
    ):
        model(images)
    return openings
