"""The one training step: what fit trains with is what the plan, the step timer and the
benchmarks time."""

import pytest
import torch

from resnet_utils import Recipe, build_model, fit, synthetic
from resnet_utils.measure.counting import step_seconds
from resnet_utils.models import weighted_layers
from resnet_utils.training.data import normalize, random_crop_flip
from resnet_utils.training.step import (
    GradNorms,
    TrainingStep,
    one_batch,
    prepare_batch,
    seconds_per_step,
    time_steps,
)

DATA = synthetic(64, 32, seed=0)
RECIPE = Recipe(epochs=1, batch_size=16, lr=0.05, momentum=0.8, weight_decay=1e-4)


def _batch(device, n=8):
    generator = torch.Generator().manual_seed(0)
    images = torch.randn(n, 3, 32, 32, generator=generator)
    return images.to(device), torch.arange(n, device=device) % 10


def test_a_step_trains_in_fits_layout_format_and_optimiser(device):
    torch.manual_seed(0)
    model = build_model("resnet8")
    step = TrainingStep(model, RECIPE, device)
    conv = model.conv1.weight
    assert conv.device.type == device.type and conv.is_contiguous(memory_format=torch.channels_last)
    [group] = step.optimizer.param_groups
    assert (group["lr"], group["momentum"], group["weight_decay"]) == (0.05, 0.8, 1e-4)
    before = conv.detach().clone()
    logits, loss = step(*_batch(device))  # an NCHW batch is taken in the step's layout
    assert logits.shape == (8, 10) and logits.dtype == (step.amp_dtype or torch.float32)
    assert torch.isfinite(loss) and not torch.equal(conv.detach(), before)


def test_fp32_and_nchw_can_be_asked_for(device):
    model = build_model("resnet8")
    step = TrainingStep(model, RECIPE, device, autocast=False, memory_format=torch.contiguous_format)
    assert step.amp_dtype is None
    assert model.conv1.weight.is_contiguous() and not model.conv1.weight.is_contiguous(
        memory_format=torch.channels_last
    )
    logits, _ = step(*_batch(device))
    assert logits.dtype == torch.float32


def test_on_gradients_runs_between_backward_and_the_optimiser_step(device):
    model = build_model("resnet8")
    step = TrainingStep(model, RECIPE, device)
    seen = []

    def look():
        seen.append((model.fc.weight.grad is not None, model.fc.weight.detach().clone()))

    before = model.fc.weight.detach().clone()
    step(*_batch(device), on_gradients=look)
    [(had_gradient, weight_then)] = seen
    assert had_gradient and torch.equal(weight_then, before)
    assert not torch.equal(model.fc.weight.detach(), before)


def test_grad_norms_are_per_layer_and_skip_a_step_with_a_non_finite_norm(device):
    model = build_model("plain8")
    step = TrainingStep(model, RECIPE, device, autocast=False)
    norms = GradNorms(model)
    layers = [m for _, m in weighted_layers(model)]
    expected = []

    def look():
        expected.append([m.weight.grad.norm().item() for m in layers])
        norms.add()

    step(*_batch(device), on_gradients=look)
    step(*_batch(device), on_gradients=look)
    mean = [sum(v) / 2 for v in zip(*expected)]
    assert len(norms.mean()) == 8 and norms.mean() == pytest.approx(mean, rel=1e-5)

    layers[3].weight.grad.fill_(float("inf"))  # an fp16 overflow: the scaler skips the step
    norms.add()
    assert norms.steps.item() == 2 and norms.mean() == pytest.approx(mean, rel=1e-5)
    assert GradNorms(model).mean() == [0.0] * 8  # no step counted yet


def test_prepare_batch_indexes_augments_normalises_and_lays_out():
    index = torch.tensor([5, 0, 7, 7])
    plain = prepare_batch(DATA.train_x, index, augment=False)
    assert torch.equal(plain, normalize(DATA.train_x[index]))
    assert plain.is_contiguous(memory_format=torch.channels_last)

    augmented = prepare_batch(DATA.train_x, index, torch.Generator().manual_seed(3), augment=True)
    by_hand = normalize(random_crop_flip(DATA.train_x[index], torch.Generator().manual_seed(3)))
    assert torch.equal(augmented, by_hand) and not torch.equal(augmented, plain)


def test_what_is_timed_is_what_is_trained(monkeypatch, device):
    """fit, the plan's timing and the step timer take the same step: same layout, number
    format, optimiser settings (but the timers' small learning rate), gradient norms."""
    real = TrainingStep.__call__
    calls = {}

    def recording(self, images, labels, on_gradients=None):
        [group] = self.optimizer.param_groups
        calls.setdefault(caller, set()).add(
            (
                images.dtype,
                images.is_contiguous(memory_format=torch.channels_last),
                self.model.conv1.weight.is_contiguous(memory_format=torch.channels_last),
                self.amp_dtype,
                self.scaler.is_enabled(),
                group["momentum"],
                isinstance(getattr(on_gradients, "__self__", None), GradNorms),
            )
        )
        return real(self, images, labels, on_gradients)

    monkeypatch.setattr(TrainingStep, "__call__", recording)
    recipe = Recipe(epochs=1, batch_size=16)
    caller = "fit"
    fit(build_model("resnet8"), DATA, recipe, device=device, progress=False)
    caller = "seconds_per_step"
    assert seconds_per_step(build_model("resnet8"), DATA, recipe, device=device, steps=2) > 0
    caller = "step_seconds"
    assert step_seconds(build_model("resnet8").to(device), batch_size=16, repeats=2) > 0
    assert list(calls) == ["fit", "seconds_per_step", "step_seconds"]
    assert len(calls["fit"]) == 1 and calls["fit"] == calls["seconds_per_step"] == calls["step_seconds"]
    [(dtype, batch_channels_last, net_channels_last, *_)] = calls["fit"]
    assert dtype == torch.float32 and batch_channels_last and net_channels_last


def test_the_step_limit_times_only_the_steps_after_the_warm_up(monkeypatch, device):
    """The benchmarks' limit: steps on one batch in the step's layout, the warm-up not timed."""
    real = TrainingStep.__call__
    seen = []

    def counting(self, images, labels, on_gradients=None):
        seen.append((images.is_contiguous(memory_format=self.memory_format), on_gradients))
        return real(self, images, labels, on_gradients)

    monkeypatch.setattr(TrainingStep, "__call__", counting)
    torch.manual_seed(0)
    step = TrainingStep(build_model("resnet8"), RECIPE, device)
    norms = GradNorms(step.model)
    images, labels = _batch(device)  # NCHW: the helper lays it out as the step takes it
    batch = one_batch(images, labels, step.memory_format)
    seconds = time_steps(step, batch, 3, warmup=2, on_gradients=norms.add)
    assert seconds > 0 and len(seen) == 5
    assert all(laid_out and hook == norms.add for laid_out, hook in seen)
    assert norms.steps.item() == 5


def test_seconds_per_step_changes_the_model_in_place_at_a_small_lr(device):
    torch.manual_seed(0)
    model = build_model("resnet8")
    before = {k: v.clone() for k, v in model.state_dict().items()}
    assert seconds_per_step(model, DATA, Recipe(epochs=1, batch_size=16), device=device, steps=2) > 0
    after = model.state_dict()
    assert any(not torch.equal(before[k], after[k].cpu()) for k in before)
    step_size = (after["fc.weight"].cpu() - before["fc.weight"]).abs().max().item()
    assert 0 < step_size < 0.005  # 6e-4 at lr 0.001 (a hundredth of 0.1); 0.05 at lr 0.1
