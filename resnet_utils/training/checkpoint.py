"""A run's checkpoint: everything the next epoch depends on, written at the end of an epoch,
so that a disconnected runtime, a restarted kernel or a Ctrl-C costs at most one epoch (a
large checkpoint is written less often: at most a few minutes, see :class:`CheckpointPace`).

The file holds the weights, the optimiser, the schedule, the grad scaler, the random states,
the history so far and the CPU thread count; it is read with ``weights_only`` (no pickled
code). A checkpoint that cannot be read or trusted is ignored, with a warning, and the run
starts over: a damaged checkpoint costs time, never a wrong result."""

from __future__ import annotations

import contextlib
import time
import warnings
from pathlib import Path

import torch

from resnet_utils.storage.atomic import load_tensors, write_atomically, write_problem
from resnet_utils.training.step import TrainingStep

CHECKPOINT_FORMAT = 1
# A checkpoint that takes a second or more to write (ResNet-152's is 466 MB: weights, momentum)
# is written only when the training since the last one is ten times its writing time, and at
# least every three minutes: on a T4, whose ResNet-152 epoch takes seconds, one per epoch would
# spend more time writing than training (most of all to Drive), while a disconnect still costs
# at most a few minutes. Cheaper checkpoints are written after every epoch.
CHEAP_WRITE_S = 1.0
WRITE_SHARE = 0.1
MOST_UNSAVED_S = 180.0


class CheckpointPace:
    """When the next end-of-epoch checkpoint is due (see ``CHEAP_WRITE_S``)."""

    def __init__(self, clock=time.perf_counter):
        self.clock = clock
        self.saved_at = clock()
        self.write_s = 0.0

    def due(self) -> bool:
        if self.write_s < CHEAP_WRITE_S:
            return True
        since = self.clock() - self.saved_at
        return since >= min(self.write_s / WRITE_SHARE, MOST_UNSAVED_S)

    @contextlib.contextmanager
    def timed(self):
        started = self.clock()
        yield
        self.saved_at = self.clock()
        self.write_s = self.saved_at - started


class Checkpoint:
    """The checkpoint file of one run of :func:`~resnet_utils.training.loop.fit` (``path``;
    None: a run without one, for which both methods do nothing)."""

    def __init__(self, path: str | Path | None, device: torch.device):
        self.path = None if path is None else Path(path)
        self.device = device
        self.pace = CheckpointPace()

    def resume(self, take_step: TrainingStep, generator: torch.Generator) -> dict | None:
        """Put the step and the random states back as the checkpoint has them, and return its
        history (its finished epochs); None where there is no checkpoint to resume from."""
        state = read_checkpoint(self.path, self.device) if self.path is not None else None
        if state is None:
            return None
        take_step.model.load_state_dict(state["model"])
        take_step.optimizer.load_state_dict(state["optimizer"])
        take_step.schedule.load_state_dict(state["scheduler"])
        take_step.scaler.load_state_dict(state["scaler"])
        generator.set_state(state["generator"])
        torch.set_rng_state(state["torch_rng"])
        if self.device.type == "cuda" and "cuda_rng" in state:
            torch.cuda.set_rng_state(state["cuda_rng"], self.device)
        warn_other_threads(state, self.device, len(state["history"]["epoch"]))
        return state["history"]

    def save(self, take_step: TrainingStep, generator: torch.Generator, history: dict) -> None:
        """Write the checkpoint, if one is due. A full or read-only disk must not stop the
        training: it is said once, and the run goes on without checkpoints."""
        if self.path is None or not self.pace.due():
            return
        try:
            with self.pace.timed():
                write_checkpoint(self.path, take_step, generator, history)
        # torch's zip writer reports a full disk as RuntimeError ("unexpected pos"), not OSError
        except (OSError, RuntimeError) as error:
            problem = write_problem(error, self.path.parent)
            warnings.warn(
                f"cannot write the checkpoint {self.path} ({problem}): this run "
                "goes on, but cannot resume if interrupted.",
                stacklevel=3,
            )
            self.path = None


def write_checkpoint(path: Path, take_step: TrainingStep, generator: torch.Generator, history) -> None:
    model = take_step.model
    state = {
        "format": CHECKPOINT_FORMAT,
        "model": {k: v.detach().cpu() for k, v in model.state_dict().items()},
        "optimizer": take_step.optimizer.state_dict(),
        "scheduler": take_step.schedule.state_dict(),
        "scaler": take_step.scaler.state_dict(),
        "generator": generator.get_state(),
        "torch_rng": torch.get_rng_state(),
        "history": history,
        "threads": torch.get_num_threads(),  # CPU sums in another order differ in the last bits
    }
    if generator.device.type == "cuda":  # dropout on a GPU draws from the device's generator
        state["cuda_rng"] = torch.cuda.get_rng_state(generator.device)
    write_atomically(Path(path), lambda tmp: torch.save(state, tmp))


def read_checkpoint(path, device: torch.device) -> dict | None:
    """The checkpoint's state, or None if there is none or it cannot be trusted (said)."""
    path = Path(path)
    try:
        if not path.exists():
            return None
    except OSError as error:  # a storage folder whose disk went away (Drive unmounted)
        warnings.warn(
            f"ignoring checkpoint {path.name} (cannot read it: {error}); training from the start.",
            stacklevel=4,
        )
        return None
    try:
        state = load_tensors(path, map_location=device)  # no pickled code
        if state.get("format") != CHECKPOINT_FORMAT:
            raise ValueError(f"format {state.get('format')!r}, not {CHECKPOINT_FORMAT}")
        state["generator"] = state["generator"].cpu()
        for key in ("torch_rng", "cuda_rng"):
            if key in state:
                state[key] = state[key].cpu()
        return state
    except Exception as error:
        warnings.warn(
            f"ignoring checkpoint {path.name} ({error}); training from the start.", stacklevel=4
        )
        return None


def peek(path: Path | None) -> dict | None:
    """A checkpoint's state read quickly (mapped, on the CPU), to plan or set up its run
    before :func:`fit` reads it; None without one, or if it cannot be read (then ``fit``
    says so and starts over)."""
    if path is None:
        return None
    try:  # a dead Drive connection raises OSError even from exists()
        if not Path(path).exists():
            return None
        return torch.load(path, map_location="cpu", weights_only=True, mmap=True)
    except Exception:
        return None


def warn_other_threads(state: dict, device: torch.device, epochs_done: int) -> None:
    """A CPU run resumed with another thread count adds in another order: it goes on, but
    its history need not equal an uninterrupted run's to the last digit."""
    saved = state.get("threads")
    now = torch.get_num_threads()
    if device.type == "cpu" and saved is not None and saved != now:
        warnings.warn(
            f"resuming after epoch {epochs_done} with {now} CPU thread{'s' if now != 1 else ''}; "
            f"the checkpoint was written with {saved}. The run goes on, but may end slightly "
            "differently from an uninterrupted one (torch.set_num_threads"
            f"({saved}) before training resumes it exactly).",
            stacklevel=4,
        )
