"""``train``: build, train and cache a named net, or load it if it has been trained before."""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field

import torch
from torch import nn

from resnet_utils.models import build_model, canonical
from resnet_utils.storage.atomic import remove_file, write_problem
from resnet_utils.training.cache import RunCache, module_layout
from resnet_utils.training.checkpoint import peek
from resnet_utils.training.data import ImageData
from resnet_utils.training.hardware import autocast_dtype, pick_device, precision_name, using_threads
from resnet_utils.training.loop import fit
from resnet_utils.training.profiles import Recipe

# The per-epoch curves of every history, the ones a notebook's summary and a shipped net keep.
CURVES = ("train_loss", "train_acc", "test_loss", "test_acc")


@dataclass
class Run:
    name: str
    spec: dict
    history: dict
    model: nn.Module | None  # None for a diverged run
    from_cache: bool
    options: dict = field(default_factory=dict)
    title: str | None = None  # a name for plots and tables; default: the model name and options
    # which test images the final net classifies right (bool), when scored: compare pairs them
    test_correct: torch.Tensor | None = None

    @property
    def label(self) -> str:
        return self.title or run_label(self.name, self.options)

    @property
    def diverged(self) -> bool:
        return bool(self.history.get("diverged"))

    def describe(self) -> str:
        """'resnet56: loaded from the cache (191 s of training)': where this run came from."""
        source = "loaded from the cache" if self.from_cache else "trained"
        return f"{self.label}: {source} ({sum(self.history['seconds']):.0f} s of training)"

    def final(self, metric: str) -> float | None:
        """The last epoch's ``metric``; ``test_error`` is one minus the test accuracy."""
        if metric == "test_error":
            accuracy = self.final("test_acc")
            return None if accuracy is None else 1 - accuracy
        values = self.history[metric]
        return values[-1] if values else None


def run_label(name: str, options: dict) -> str:
    """'resnet20 (shortcut=B)': a net's name with the options it was built with."""
    extras = ", ".join(f"{k}={v}" for k, v in sorted(options.items()))
    return f"{name} ({extras})" if extras else name


def run_spec(
    name: str, data: ImageData, recipe: Recipe, *, seed: int, options: dict, device: torch.device
) -> tuple[str, dict, nn.Module]:
    """The net's canonical name, the spec that keys its run in the cache, and the fresh net
    (built with ``seed``): what :func:`train` trains, and what a plan looks up beforehand."""
    torch.manual_seed(seed)
    model = build_model(name, **options)  # a bad name or option fails here, before anything else
    # "Resnet56", or "resnet56" with batchnorm=True, is the net "resnet56": one cache entry.
    # The Run keeps the options as given, so labels still tell apart what the caller did.
    name, keyed_options = canonical(name, options)
    spec = {
        "model": name,
        "options": keyed_options,
        "layout": module_layout(model),
        "data": data.fingerprint,
        "recipe": recipe.as_dict(),
        "seed": seed,
        "device": device.type,
        "precision": precision_name(autocast_dtype(device)),
    }
    return name, spec, model


def train(
    name: str,
    data: ImageData,
    recipe: Recipe,
    *,
    seed: int = 0,
    options: dict | None = None,
    device: str | torch.device | None = None,
    cache: RunCache | bool = True,
    progress: bool = True,
    share_cpu: int | bool = False,
) -> Run:
    """Train ``build_model(name, **options)`` on ``data`` with ``recipe``, through the run cache.

    The cache key covers the model and its options, a hash of the data, the recipe, the
    seed, the device type and the number format: change any of them and the run is new.
    ``share_cpu``: False (tests, scripts) trains with torch's thread count as it is; a
    number is the thread count a notebook's session chose once for all its runs
    (:mod:`resnet_utils.training.sharing`). Then a run resumed from a checkpoint keeps the
    thread count it was written with, so that it ends as the uninterrupted run would. The
    count comes back after the run.
    """
    options = dict(options or {})
    device = pick_device(device)
    name, spec, model = run_spec(name, data, recipe, seed=seed, options=options, device=device)
    store = RunCache() if cache is True else cache or None
    label = run_label(name, options)
    if store is not None and (hit := store.load(spec)) is not None:
        history, weights = hit
        if weights is None:
            return Run(name, spec, history, None, from_cache=True, options=options)
        if _fits(model, weights):
            model.load_state_dict(weights)
            return Run(name, spec, history, model.to(device), from_cache=True, options=options)
        # weights of another net or layout: retrain the fresh net, as for any damaged entry
        warnings.warn(
            f"ignoring cache entry {store.paths(spec)[1].name}: its weights do not fit {label} "
            "(another net's or layout's); training again.",
            stacklevel=2,
        )

    checkpoint = store.checkpoint_path(spec) if store is not None else None
    threads = _training_threads(share_cpu, device, label, checkpoint)
    with using_threads(threads):
        history = fit(
            model,
            data,
            recipe,
            seed=seed,
            device=device,
            progress=progress,
            description=label,
            checkpoint=checkpoint,
        )
    diverged = history["diverged"]
    model = model.to(memory_format=torch.contiguous_format)
    if store is not None:
        try:
            store.save(spec, history, None if diverged else model.state_dict())
        except Exception as error:  # a read-only or full disk must not cost the trained net
            warnings.warn(
                f"could not save {label} in the run cache {store.root} "
                f"({write_problem(error, store.root)}). The trained net is kept in memory for "
                "this session only; give storage_dir a folder you can write to, to keep the next runs.",
                stacklevel=2,
            )
        else:
            remove_file(checkpoint)  # the finished run is stored: keep only that
    return Run(name, spec, history, None if diverged else model, from_cache=False, options=options)


def _fits(model: nn.Module, weights) -> bool:
    """Whether ``weights`` load into ``model`` whole (the same tensor names and shapes).
    Asked before loading: a refused ``load_state_dict`` has copied the tensors that fit."""
    fresh = model.state_dict()
    return (
        isinstance(weights, dict)
        and weights.keys() == fresh.keys()
        and all(getattr(weights[k], "shape", None) == v.shape for k, v in fresh.items())
    )


def _training_threads(share_cpu: int | bool, device: torch.device, label: str, checkpoint):
    """The thread count a run trains with (None: as torch has it); see :func:`train`."""
    if share_cpu is False or device.type != "cpu":
        return None
    if isinstance(share_cpu, bool) or not isinstance(share_cpu, int) or share_cpu < 1:
        raise ValueError(f"share_cpu must be False or a thread count (1 or more), not {share_cpu!r}.")
    saved = (peek(checkpoint) or {}).get("threads")
    if isinstance(saved, int) and saved >= 1 and saved != share_cpu:
        print(
            f"{label} resumes with {saved} thread{'s' if saved != 1 else ''}, as its checkpoint "
            f"was written (not {share_cpu}): the same sums in the same order, so it ends as the "
            "uninterrupted run would."
        )
        return saved
    return share_cpu
