"""A notebook's run: profile, device, data and provenance, resolved once in its set-up cell."""

from __future__ import annotations

import functools
import os
import re
import sys
import time
import warnings
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import torch

from resnet_utils.course.budgets import BUDGET_PARAMETERS, Budget, Training, budget
from resnet_utils.course.guidance import device_advice, long_plan_advice
from resnet_utils.course.params import check_in_place, summary_folder
from resnet_utils.course.provenance import versions
from resnet_utils.course.reference import available
from resnet_utils.report.verdicts import as_group
from resnet_utils.storage.atomic import save_json
from resnet_utils.storage.paths import cache_root, describe_storage, use_storage
from resnet_utils.training.cifar10 import load_cifar10
from resnet_utils.training.data import ImageData, synthetic
from resnet_utils.training.groups import RunGroup
from resnet_utils.training.hardware import (
    autocast_dtype,
    describe_device,
    pick_device,
    precision_name,
    using_threads,
)
from resnet_utils.training.loop import correct_per_image
from resnet_utils.training.plan import make_plan, plan_heading
from resnet_utils.training.profiles import PROFILE_ENV, Profile, get_profile
from resnet_utils.training.runs import CURVES, Run, train
from resnet_utils.training.sharing import ThreadChoice, choose_threads

SUMMARY_ENV = "RESNET_SUMMARY_DIR"
# "CIFAR-10 from <folder>[, stratified subset ...]: N train / M test images" (ImageData.describe)
DATA_PATH = re.compile(r" from .*?(, stratified subset [^:]*)?(: \d+ train / \d+ test images)$")


@dataclass
class Session:
    notebook: str
    profile: Profile
    device: torch.device
    data: ImageData
    seed: int = 0
    progress: bool = True
    summary_dir: str | None = None
    profile_reason: str = ""
    started: float = field(default_factory=time.perf_counter)
    started_at: str = field(
        default_factory=lambda: datetime.now(timezone.utc).isoformat(timespec="seconds")
    )
    runs: dict[str, Run] = field(default_factory=dict)  # by label: their curves go in the summary
    # the CPU threads every run trains with, chosen once (at the first plan or run): None
    # until then, and on a GPU or under smoke, whose runs keep torch's count
    thread_choice: ThreadChoice | None = None
    # the notebook's parameters that size its budget (seeds, depths, epochs, ...): None or
    # absent keeps the budget table's value
    parameters: dict = field(default_factory=dict)
    subsets: dict[int, ImageData] = field(default_factory=dict, repr=False)

    @property
    def recipe(self):
        return self.profile.recipe

    @functools.cached_property
    def budget(self) -> Budget:
        """What this notebook trains under this profile, and its measurement sizes: its row
        of :mod:`resnet_utils.course.budgets`, with the notebook's parameters applied."""
        return budget(self.notebook, self.profile, **self.parameters)

    def data_for(self, training: Training) -> ImageData:
        """The training images of ``training``: this session's, or the class-balanced subset
        of them that its budget names (drawn once, with the session's seed)."""
        if training.images is None:
            return self.data
        if training.images not in self.subsets:
            self.subsets[training.images] = self.data.subset(training.images, None, seed=self.seed)
        return self.subsets[training.images]

    def train(
        self,
        name: str,
        *,
        data: ImageData | None = None,
        recipe=None,
        seeds: int = 1,
        title: str | None = None,
        **options,
    ) -> RunGroup:
        """Train (or load from the cache) a named net with this notebook's recipe and data,
        or with the ``data`` and ``recipe`` given (a notebook that needs a smaller budget).

        ``seeds=k`` repeats the run with seeds ``seed, seed + 1, ..., seed + k - 1`` (init and
        batch order change; the data subset stays). The :class:`RunGroup` returned (one seed:
        a group of one) has the spread :func:`resnet_utils.report.verdicts.compare` measures
        noise with.
        """
        if isinstance(seeds, bool) or not isinstance(seeds, int) or seeds < 1:
            raise ValueError(f"seeds must be a whole number of runs, 1 or more, not {seeds!r}.")
        members = []
        threads, newly = self._threads()
        if newly and (said := self.thread_choice.sentence()):
            print(said)
        data_used = self.data if data is None else data
        for offset in range(seeds):
            run = train(
                name,
                data_used,
                self.recipe if recipe is None else recipe,
                seed=self.seed + offset,
                options=options,
                device=self.device,
                progress=self.progress,
                share_cpu=False if threads is None else threads,
            )
            run.title = title
            if run.model is not None:  # a diverged run has no net to score
                run.test_correct = correct_per_image(run.model, data_used, device=self.device)
            key = run.label if offset == 0 else f"{run.label}, seed {self.seed + offset}"
            self.runs[key] = run
            members.append(run)
        return RunGroup(members, title)

    def plan(self, nets=None, *, seeds: int = 1, data: ImageData | None = None, recipe=None) -> None:
        """Print what training ``nets`` with ``seeds`` seeds each will do: the runs that come
        from the cache, those left to train, and an estimate of their time on this machine
        from a few timed steps. ``nets``: names, or ``(name, options)`` or ``(name, options,
        title)`` tuples, as later given to :meth:`train`; or a :class:`Training` of the
        budget, with its seeds, data and recipe; None: the budget's (first) training. Returns
        None, so that a notebook cell shows the plan only
        (:func:`resnet_utils.training.plan.make_plan` gives the object)."""
        if nets is None:
            nets = self.budget.trainings[0]
        if isinstance(nets, Training):
            seeds, data, recipe = nets.jobs[0].seeds, self.data_for(nets), nets.recipe
            nets = nets.nets
        data = self.data if data is None else data
        recipe = self.recipe if recipe is None else recipe
        threads, _ = self._threads()
        with using_threads(threads):  # the heading names the count the runs train with
            heading = plan_heading(self.profile.name, data, recipe, self.device)
        if threads is not None and (said := self.thread_choice.sentence()):
            again = "The count is chosen once a session: run the set-up cell again to choose anew."
            heading += f"\n{said} {again}"
        plan = make_plan(
            nets,
            data,
            recipe,
            seeds=list(range(self.seed, self.seed + seeds)),
            device=self.device,
            heading=heading,
            # smoke runs are 4 steps: timing 3 more of each net would double the notebook
            timed_steps=1 if self.profile.name == "smoke" else 3,
            threads=threads,
        )
        print(plan)
        # nets named plainly are the notebook's headline nets, those the reference nets stand
        # for (nb1-3); a (name, options, title) entry is a variant of its own budget (nb5)
        shipped = [name for name in available() if name in nets]
        if advice := long_plan_advice(plan.seconds, shipped, self.device):
            print(advice)

    def basis(self, *groups, per: str = "net", data: ImageData | None = None, recipe=None) -> None:
        """Print what every verdict below rests on, once for the cell: the seeds per net (of
        ``groups``), the training and test images, and the epochs (this notebook's, or the
        ``data`` and ``recipe`` given: a budget of its own)."""
        data = self.data if data is None else data
        recipe = self.recipe if recipe is None else recipe
        counts = sorted({len(as_group(group).runs) for group in groups}) or [1]
        seeds = f"{counts[0]}" if len(counts) == 1 else f"{counts[0]}-{counts[-1]}"
        print(
            f"Each verdict rests on {seeds} seed{'s' * (counts[-1] != 1)} per {per}, "
            f"{data.sizes()}, "
            f"{recipe.epochs} epochs."
        )

    def _threads(self) -> tuple[int | None, bool]:
        """The CPU threads this session's runs train with (None: torch's count, on a GPU or
        under smoke, whose runs take a second and whose outputs stay the same everywhere),
        and whether they were chosen just now. Chosen once, so that the plan is timed with
        the count its runs train with, and every run (a resumed one too) keeps it."""
        if self.device.type != "cpu" or self.profile.name == "smoke":
            return None, False
        if self.thread_choice is not None:
            return self.thread_choice.threads, False
        self.thread_choice = choose_threads(self.device)
        return self.thread_choice.threads, True

    def training_seconds(self) -> float:
        """Seconds of training behind every run this notebook used, cached or not."""
        return sum(sum(run.history["seconds"]) for run in self.runs.values())

    def provenance(self) -> dict:
        r = self.profile.recipe
        return {
            "notebook": self.notebook,
            "profile": f"{self.profile.name} ({self.profile_reason})",
            "profile_meaning": self.profile.description,
            "recipe": f"{r.epochs} epochs, batch {r.batch_size}, lr {r.lr} ({r.schedule}), "
            f"momentum {r.momentum}, weight decay {r.weight_decay}",
            "device": describe_device(self.device),
            "precision": precision_name(autocast_dtype(self.device)),
            "data": self.data.describe(),  # the path shown in the file, not on screen
            "storage": describe_storage(cache_root()),
            "versions": versions(),
            "started": self.started_at,
        }

    def show(self) -> None:
        shown = self.provenance()
        shown["data"] = _without_path(shown["data"])
        _display(_format(shown), update=False)
        print(device_advice(self.profile, self.device, notebook=self.notebook))

    def finish(self, summary: dict) -> dict:
        """Add the wall time to the provenance shown at the top and write the JSON summary
        (with every run's curves: in the file, not on screen, where they would bury the rest).

        The summary is written only when ``summary_dir`` or ``$RESNET_SUMMARY_DIR`` names a
        folder (``make execute`` does), so a test run never overwrites a teacher's results.
        """
        cached = sum(run.from_cache for run in self.runs.values())
        record = {
            **self.provenance(),
            "wall_seconds": round(time.perf_counter() - self.started, 1),
            "training_seconds": round(self.training_seconds(), 1),
            "runs": f"{len(self.runs)} ({len(self.runs) - cached} trained in this run, "
            f"{cached} loaded from the cache)",
        }
        record["results"] = summary
        record["histories"] = {
            label: {curve: run.history[curve] for curve in CURVES} for label, run in self.runs.items()
        }
        on_screen = {k: v for k, v in record.items() if k not in ("results", "histories")}
        on_screen["data"] = _without_path(on_screen["data"])
        _display(_format(on_screen), update=True)
        folder = self.summary_dir or os.environ.get(SUMMARY_ENV)
        if folder:
            path = Path(folder) / f"{self.notebook}.json"
            save_json(path, record)
            if self.summary_dir:  # asked for in the notebook; `make execute`'s folder is its own
                print(f"summary written to {path}")
        print(timing_sentence(record, self.profile.name))
        return record


def timing_sentence(record: dict, profile: str) -> str:
    """How long the notebook ran, and how much training its results stand for: a re-run from
    the cache takes seconds, but its runs took minutes to train."""
    return (
        f"This notebook ran for {record['wall_seconds']:.0f} s under the {profile} profile; "
        f"its runs, {record['runs']}, took {record['training_seconds']:.0f} s of training "
        f"({record['training_seconds'] / 60:.1f} min) when they were trained."
    )


# The parameters every notebook's parameters cell has, and start() reads from it.
SESSION_PARAMETERS = ("profile", "data_dir", "epochs", "seed", "progress", "summary_dir", "storage_dir")


def start(
    notebook: str,
    parameters: dict | None = None,
    *,
    profile: str = "auto",
    data_dir: str | None = None,
    epochs: int | None = None,
    seed: int = 0,
    progress: bool = True,
    summary_dir: str | None = None,
    device: str | None = None,
    storage_dir: str | None = None,
) -> Session:
    """Resolve the profile, load the data it asks for, and show where the outputs come from.

    ``storage_dir`` moves the data and the run cache (for example to a Google Drive folder in
    Colab, so that a new runtime finds the finished runs); None goes back to the default the
    kernel started with (``$RESNET_CACHE_DIR``, else ``~/.cache/resnet-course``). Storage
    that goes away mid-run (Drive unmounted) is never written below its empty mount point: the
    runs go to the default cache, with a warning that says where and what to do.
    In Colab it leaves the widget manager alone: Colab draws the core ipywidgets the course
    uses (interact, sliders, dropdowns, toggles) itself. ``output.enable_custom_widget_manager()``
    would route *every* widget through a manager loaded from a CDN (colabtools'
    ``output/_widgets.py`` tags each widget display with its URL); it exists for third-party
    widgets, and under it Colab's ``Tab`` and ``Accordion`` break (colabtools #3105, #3571).

    ``parameters``: a notebook passes its namespace, ``vars()``, after the parameters cell.
    Every parameter in it is checked at once (a bad value stops here, saying what to give) and
    replaced by its checked value (papermill's text "false" becomes False), and the session's
    own (:data:`SESSION_PARAMETERS`) are read from it instead of from the keywords.
    """
    if parameters is not None:
        check_in_place(parameters)
        own = {name: parameters[name] for name in SESSION_PARAMETERS if name in parameters}
        session = start(notebook, device=device, **own)
        session.parameters = {k: parameters[k] for k in BUDGET_PARAMETERS if k in parameters}
        return session
    chosen = get_profile(profile).with_epochs(epochs)
    summary_dir = summary_folder("summary_dir", summary_dir)  # before any data or training
    device = pick_device(device)
    use_storage(storage_dir)
    if chosen.dataset == "synthetic":
        if data_dir is not None:
            warnings.warn(
                f"the {chosen.name} profile trains on synthetic images: data_dir={str(data_dir)!r} "
                "is not read (nor checked). Give profile='quick' or another to use it.",
                stacklevel=2,
            )
        data = synthetic(chosen.train_size, chosen.test_size, seed=seed)
    else:
        data = load_cifar10(data_dir).subset(chosen.train_size, chosen.test_size, seed=seed)
    session = Session(notebook, chosen, device, data.to(device), seed, progress, summary_dir)
    session.profile_reason = _profile_reason(profile)
    session.show()
    return session


def _profile_reason(asked: str) -> str:
    if (asked or "auto").strip().lower() != "auto":
        return "the notebook's profile parameter"
    if os.environ.get(PROFILE_ENV, "").strip():
        return f"auto, from ${PROFILE_ENV}"
    return "auto: " + ("a GPU is present" if torch.cuda.is_available() else "no GPU, so the CPU profile")


def _without_path(data: str) -> str:
    """The data line without the folder the images were read from: a path on the machine that
    ran the notebook says nothing to its reader (the JSON summary keeps it)."""
    return DATA_PATH.sub(r"\1\2", data)


def _format(info: dict) -> str:
    lines = []
    for key, value in info.items():
        if isinstance(value, dict):
            value = ", ".join(f"{k} {v}" for k, v in value.items())
        lines.append(f"{key:>16}: {value}")
    return "\n".join(lines)


def _display(text: str, *, update: bool) -> None:
    """Show text in the set-up cell's output; ``update`` rewrites that same output later."""
    if "IPython" in sys.modules:
        from IPython import get_ipython
        from IPython.display import Pretty, display, update_display

        if get_ipython() is not None:
            (update_display if update else display)(Pretty(text), display_id="provenance")
            return
    print(text)
