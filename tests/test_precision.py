"""The number format on every device: each GPU's answers faked on the CPU (a T4, an A100, an
H100/H200, a ROCm GPU, no GPU), and the T4's own path (fp16 autocast and a grad scaler) run
for real on the CPU with ``RESNET_PRECISION=fp16``."""

from __future__ import annotations

import types

import pytest
import torch
from fakes import interrupt_in_epoch

from resnet_utils import Recipe, build_model, synthetic
from resnet_utils.training import hardware
from resnet_utils.training.cache import RunCache
from resnet_utils.training.hardware import autocast_dtype
from resnet_utils.training.loop import fit
from resnet_utils.training.plan import plan_heading
from resnet_utils.training.runs import run_spec, train
from resnet_utils.training.step import GradNorms, TrainingStep

CUDA = torch.device("cuda")
DATA = synthetic(128, 64, seed=2)
RECIPE = Recipe(epochs=2, batch_size=32, lr=0.05)

# name, compute capability, ROCm: what each GPU answers (a T4 can *create* bf16 tensors, so
# torch.cuda.is_bf16_supported() answers True there by default: emulation, not hardware)
GPUS = {
    "Tesla T4": ((7, 5), False, torch.float16, "fp16"),
    "NVIDIA A100-SXM4-40GB": ((8, 0), False, torch.bfloat16, "bf16"),
    "NVIDIA H200": ((9, 0), False, torch.bfloat16, "bf16"),
    "AMD Instinct MI300X": ((9, 4), True, torch.bfloat16, "bf16"),
}


def fake_gpu(monkeypatch, name: str) -> None:
    capability, rocm, _, _ = GPUS[name]
    monkeypatch.delenv("RESNET_PRECISION", raising=False)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "current_device", lambda: 0)
    monkeypatch.setattr(torch.cuda, "get_device_capability", lambda device=None: capability)
    monkeypatch.setattr(torch.cuda, "get_device_name", lambda device=None: name)
    monkeypatch.setattr(
        torch.cuda,
        "get_device_properties",
        lambda device=None: types.SimpleNamespace(major=capability[0], minor=capability[1], name=name),
    )
    # torch's own answer, emulation included: True on every one of these GPUs
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda including_emulation=True: True)
    monkeypatch.setattr(torch.version, "hip", "6.2" if rocm else None)


@pytest.mark.parametrize("gpu", GPUS)
def test_each_gpu_trains_in_its_native_format_and_says_so(monkeypatch, gpu):
    fake_gpu(monkeypatch, gpu)
    _, _, dtype, name = GPUS[gpu]
    assert autocast_dtype(CUDA) is dtype
    assert hardware.pick_device() == CUDA
    _, spec, _ = run_spec("resnet8", DATA, RECIPE, seed=0, options={}, device=CUDA)
    assert (spec["device"], spec["precision"]) == ("cuda", name)  # the run's cache key
    heading = plan_heading("colab", DATA, RECIPE, CUDA)  # what the notebook prints
    assert f"cuda ({gpu})" in heading and heading.endswith(f", {name}.")


def test_a_t4_refuses_bf16_in_words_and_takes_fp16_or_fp32(monkeypatch):
    fake_gpu(monkeypatch, "Tesla T4")
    monkeypatch.setenv("RESNET_PRECISION", "bf16")
    with pytest.raises(ValueError, match=r"Tesla T4, compute capability 7\.5\) has no native bf16"):
        autocast_dtype(CUDA)
    monkeypatch.setenv("RESNET_PRECISION", "fp16")
    assert autocast_dtype(CUDA) is torch.float16
    monkeypatch.setenv("RESNET_PRECISION", "fp32")
    assert autocast_dtype(CUDA) is None


def test_an_ampere_gpu_accepts_bf16_and_fp16_when_asked(monkeypatch):
    fake_gpu(monkeypatch, "NVIDIA A100-SXM4-40GB")
    monkeypatch.setenv("RESNET_PRECISION", "bf16")
    assert autocast_dtype(CUDA) is torch.bfloat16
    monkeypatch.setenv("RESNET_PRECISION", "fp16")
    assert autocast_dtype(CUDA) is torch.float16


def test_without_a_gpu_the_cpu_decides(monkeypatch):
    monkeypatch.delenv("RESNET_PRECISION", raising=False)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(hardware, "_cpu_bf16", lambda: False)
    assert hardware.pick_device() == torch.device("cpu")
    assert autocast_dtype(torch.device("cpu")) is None
    monkeypatch.setattr(hardware, "_cpu_bf16", lambda: True)
    assert autocast_dtype(torch.device("cpu")) is torch.bfloat16


# --- the T4's path, on the CPU ----------------------------------------------------------


def test_fp16_trains_with_an_enabled_grad_scaler_and_the_loss_falls(monkeypatch):
    monkeypatch.setenv("RESNET_PRECISION", "fp16")
    torch.manual_seed(0)
    history = fit(build_model("resnet8"), DATA, Recipe(epochs=3, batch_size=32), progress=False)
    assert history["precision"] == "fp16" and not history["diverged"]
    assert history["train_loss"][-1] < history["train_loss"][0] - 0.1, history["train_loss"]
    step = TrainingStep(build_model("resnet8"), RECIPE, "cpu")
    assert step.amp_dtype is torch.float16 and step.scaler.is_enabled()
    logits, loss = step(DATA.train_x[:8].float() / 255, DATA.train_y[:8])
    assert logits.dtype is torch.float16 and loss.dtype is torch.float32


def test_an_overflowing_fp16_step_is_skipped_and_not_counted(monkeypatch):
    monkeypatch.setenv("RESNET_PRECISION", "fp16")
    model = build_model("resnet8")
    step = TrainingStep(model, RECIPE, "cpu")
    step.scaler = torch.amp.GradScaler("cpu", init_scale=2.0**40)  # every gradient overflows
    norms = GradNorms(model)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    scales = []
    for _ in range(3):
        step(DATA.train_x[:8].float() / 255, DATA.train_y[:8], on_gradients=norms.add)
        scales.append(step.scaler.get_scale())
    assert scales == [2.0**39, 2.0**38, 2.0**37]  # halved after each skipped step
    assert norms.steps.item() == 0
    for key, value in model.state_dict().items():
        if "running" not in key and "num_batches" not in key:  # BN statistics do move
            assert torch.equal(value, before[key]), key


def test_an_fp16_run_resumes_with_its_grad_scaler_to_the_uninterrupted_result(tmp_path, monkeypatch):
    monkeypatch.setenv("RESNET_PRECISION", "fp16")
    recipe = Recipe(epochs=3, batch_size=32)
    whole = train("resnet8", DATA, recipe, cache=RunCache(tmp_path / "a"), progress=False)
    cache = RunCache(tmp_path / "b")
    with monkeypatch.context() as patch:
        interrupt_in_epoch(patch, 3)
        with pytest.raises(KeyboardInterrupt):
            train("resnet8", DATA, recipe, cache=cache, progress=False)
    [checkpoint] = (tmp_path / "b").glob("*.resume.pt")
    scaler = torch.load(checkpoint, weights_only=True)["scaler"]
    assert scaler["scale"] > 0 and scaler["_growth_tracker"] > 0  # a live scaler's state
    resumed = train("resnet8", DATA, recipe, cache=cache, progress=False)
    assert resumed.spec["precision"] == "fp16"
    assert resumed.history["train_loss"] == whole.history["train_loss"]
    for (k, a), b in zip(whole.model.state_dict().items(), resumed.model.state_dict().values()):
        assert torch.equal(a, b), k


# --- no host-device sync per batch from the course's own code ----------------------------


def test_a_training_batch_builds_no_tensor_from_python_data(monkeypatch):
    """On a GPU, ``torch.tensor(python_numbers, device=cuda)`` is a blocking copy: the host
    would wait for the GPU at every batch. Count such calls after the first step."""
    calls = []
    real = torch.tensor
    steps = {"n": 0}
    from resnet_utils.training import step as step_module

    real_call = step_module.TrainingStep.__call__

    def counting_call(self, *args, **kwargs):
        steps["n"] += 1
        return real_call(self, *args, **kwargs)

    def counting_tensor(*args, **kwargs):
        if steps["n"] >= 1:
            calls.append(args[0] if args else kwargs)
        return real(*args, **kwargs)

    monkeypatch.setattr(step_module.TrainingStep, "__call__", counting_call)
    monkeypatch.setattr(torch, "tensor", counting_tensor)
    fit(build_model("resnet8"), DATA, Recipe(epochs=1, batch_size=16), progress=False)
    assert steps["n"] == 8 and calls == []


def test_a_large_checkpoint_is_written_less_often_and_at_least_every_few_minutes():
    from resnet_utils.training.checkpoint import CheckpointPace

    now = [0.0]
    pace = CheckpointPace(clock=lambda: now[0])
    assert pace.due()  # the first one is always written: it measures the writing time
    with pace.timed():
        now[0] += 0.2  # a small net's checkpoint
    now[0] += 0.1
    assert pace.due()  # cheap: after every epoch
    with pace.timed():
        now[0] += 5.0  # ResNet-152's 466 MB on a slow disk
    now[0] += 30.0
    assert not pace.due()  # 30 s of training since: writing would be 1/7 of the time
    now[0] += 20.0
    assert pace.due()  # 50 s: ten times the writing time
    with pace.timed():
        now[0] += 60.0  # Drive at its slowest
    now[0] += 179.0
    assert not pace.due()
    now[0] += 1.0
    assert pace.due()  # never more than three minutes of training unsaved


def test_an_fp16_overflow_in_evaluation_is_not_taken_for_divergence(monkeypatch):
    from resnet_utils.training import loop

    monkeypatch.setenv("RESNET_PRECISION", "fp16")
    real = loop.evaluate
    seen = []

    def overflowing(model, data, *, device=None, autocast=True):
        seen.append(autocast)
        return (float("inf"), 0.1) if autocast else real(model, data, device=device, autocast=False)

    monkeypatch.setattr(loop, "evaluate", overflowing)
    history = fit(build_model("resnet8"), DATA, Recipe(epochs=1, batch_size=32), progress=False)
    assert seen == [True, False] and not history["diverged"]
    assert history["test_loss"][0] < 10
