"""Inputs and messages (issue 13): option types, depths from papermill, recipes, divergence."""

import json
import math

import pytest
import torch
from torch import nn

from resnet_utils import Recipe, build_model, models, synthetic
from resnet_utils.training import loop as train_module
from resnet_utils.training.loop import fit

DATA = synthetic(128, 64, seed=0)

# --- 4. option types -------------------------------------------------------------------


@pytest.mark.parametrize(
    "name, option, value, message",
    [
        ("resnet8", "batchnorm", "no", "batchnorm must be True or False, not 'no'"),
        ("plain8", "batchnorm", 0, "batchnorm must be True or False"),
        ("resnet8", "zero_init", "yes", "zero_init must be True or False"),
        ("resnet18", "zero_init_residual", 1, "zero_init_residual must be True or False"),
        ("resnet8", "num_classes", 2.5, "num_classes must be a positive whole number"),
        ("resnet8", "num_classes", True, "num_classes must be a positive whole number"),
        ("resnet18", "num_classes", 0, "num_classes must be a positive whole number"),
        ("resnet8", "scale_shortcut", "0.5", "scale_shortcut must be a finite number"),
        ("resnet8", "scale_branch", math.nan, "scale_branch must be a finite number"),
        ("resnet8", "gate_bias", math.inf, "gate_bias must be a finite number"),
        ("resnet8", "shortcut_dropout", "0.1", "shortcut_dropout must be a finite number"),
    ],
)
def test_options_of_the_wrong_type_are_refused_by_name(name, option, value, message):
    with pytest.raises(ValueError, match=message):
        build_model(name, **{option: value})


def test_options_of_the_right_type_still_build():
    assert not any(
        isinstance(m, nn.BatchNorm2d) for m in build_model("resnet8", batchnorm=False).modules()
    )
    assert build_model("resnet8", num_classes=3, scale_shortcut=0.5, gate_bias=-1).fc.out_features == 3
    assert build_model("resnet8", scale_branch=2, shortcut_dropout=0).fc.out_features == 10


def test_canonical_lowers_the_name_and_drops_defaults():
    assert models.canonical(" ResNet56 ", {"batchnorm": True, "scale_shortcut": 1}) == ("resnet56", {})
    assert models.canonical("plain20", {"batchnorm": False, "init": "kaiming"}) == (
        "plain20",
        {"batchnorm": False},
    )
    assert models.canonical("RESNET50", {"stem": "imagenet", "num_classes": 100}) == (
        "resnet50",
        {"num_classes": 100},
    )


# --- Recipe ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "change, message",
    [
        ({"epochs": 0}, "epochs must be a whole number >= 1"),
        ({"epochs": 1.5}, "epochs must be a whole number >= 1"),
        ({"epochs": True}, "epochs must be a whole number >= 1"),
        ({"batch_size": 0}, "batch_size must be a whole number >= 1"),
        ({"lr": 0}, "lr must be a positive number"),
        ({"lr": math.nan}, "lr must be a positive number"),
        ({"momentum": 1.0}, r"momentum must be a number in \[0, 1\)"),
        ({"weight_decay": -1e-4}, "weight_decay must be a number >= 0"),
        ({"schedule": "cosine"}, "schedule must be one of"),
        ({"milestones": (0.75, 0.5)}, "milestones must increase"),
        ({"milestones": (0.5, 1.5)}, r"each milestone must be a fraction of training in \(0, 1\)"),
        ({"augment": "yes"}, "augment must be True or False"),
        ({"warmup_steps": -1}, "warmup_steps must be a whole number >= 0"),
        ({"warmup_lr": 0.0}, "warmup_lr must be a positive number"),
    ],
)
def test_a_recipe_that_cannot_train_is_refused(change, message):
    with pytest.raises(ValueError, match=message):
        Recipe(**{"epochs": 2, **change})


def test_a_sound_recipe_is_unchanged():
    r = Recipe(epochs=3, batch_size=32, lr=0.05, milestones=[0.5, 0.75])
    assert r.milestones == (0.5, 0.75) and hash(r) == hash(Recipe(3, 32, 0.05, milestones=(0.5, 0.75)))


# --- divergence --------------------------------------------------------------------------


class Blown(nn.Module):
    """A linear classifier whose logits are a million times too large: a finite, absurd loss."""

    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(3 * 32 * 32, 10)

    def forward(self, x):
        return self.fc(x.flatten(1).float()) * 1e6


def test_an_absurd_finite_loss_is_divergence_in_that_epoch():
    torch.manual_seed(0)
    recipe = Recipe(epochs=2, batch_size=64, lr=1e-12)
    history = fit(Blown(), DATA, recipe, progress=False, device="cpu", autocast=False)
    assert history["diverged"] is True and history["diverged_epoch"] == 1
    assert history["epoch"] == [] and history["train_loss"] == [] and history["test_loss"] == []


def test_a_nan_test_loss_ends_the_run_in_that_epoch(monkeypatch):
    real = train_module.evaluate
    calls = []

    def evaluate(*args, **kwargs):
        calls.append(1)
        loss, acc = real(*args, **kwargs)
        # NaN from epoch 2 on, as a blown-up net stays (under fp16 the loop evaluates a
        # non-finite loss again in fp32 before it calls the run diverged)
        return (math.nan, acc) if len(calls) >= 2 else (loss, acc)

    monkeypatch.setattr(train_module, "evaluate", evaluate)
    torch.manual_seed(0)
    recipe = Recipe(epochs=3, batch_size=64)
    history = fit(build_model("resnet8"), DATA, recipe, progress=False, device="cpu")
    assert history["diverged"] is True and history["diverged_epoch"] == 2
    assert history["epoch"] == [1] and len(history["test_loss"]) == len(history["train_loss"]) == 1
    json.dumps(history, allow_nan=False)  # strict JSON: no NaN anywhere


def test_a_truly_diverging_run_keeps_only_finite_numbers():
    torch.manual_seed(0)
    recipe = Recipe(epochs=3, batch_size=64, lr=1e6, schedule="step")
    history = fit(build_model("plain8", batchnorm=False), DATA, recipe, progress=False)
    assert history["diverged"] and len(history["epoch"]) == history["diverged_epoch"] - 1
    values = [v for k in ("train_loss", "train_acc", "test_acc", "lr") for v in history[k]]
    assert all(math.isfinite(v) and abs(v) <= 1e3 for v in values)
    assert all(math.isfinite(v) for v in history["test_loss"])
    json.dumps(history, allow_nan=False)


def test_a_large_finite_test_loss_early_on_is_not_divergence(monkeypatch):
    """Deep plain nets show test losses in the hundreds or thousands in their first epoch
    (eval-mode BN statistics lag the weights) while training goes on normally."""
    real = train_module.evaluate
    calls = []

    def evaluate(*args, **kwargs):
        calls.append(1)
        loss, acc = real(*args, **kwargs)
        return (5000.0, acc) if len(calls) == 1 else (loss, acc)

    monkeypatch.setattr(train_module, "evaluate", evaluate)
    torch.manual_seed(0)
    history = fit(build_model("resnet8"), DATA, Recipe(epochs=2, batch_size=64), progress=False)
    assert not history["diverged"] and history["epoch"] == [1, 2]
    assert history["test_loss"][0] == 5000.0
