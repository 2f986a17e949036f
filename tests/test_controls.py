"""Controls: nets at init measured like trained ones, band plots of seed groups."""

import math

import matplotlib
import pytest
import torch
from fakes import fake_run

matplotlib.use("Agg")

from resnet_utils import build_model, synthetic  # noqa: E402
from resnet_utils.measure.blocks import (  # noqa: E402
    calibrate_batchnorm,
    gate_openings,
    layer_responses,
)
from resnet_utils.measure.gradients import gradients_at_init, ratios_at_init  # noqa: E402
from resnet_utils.report.plots import plot_curves, plot_final, plot_lesions  # noqa: E402
from resnet_utils.training.data import normalize  # noqa: E402
from resnet_utils.training.groups import RunGroup  # noqa: E402


@pytest.fixture(scope="module")
def images():
    data = synthetic(64, 64, seed=0)
    return normalize(data.train_x[:64]), data.train_y[:64]


def test_calibrated_bn_holds_the_statistics_of_the_images(images):
    x, _ = images
    torch.manual_seed(0)
    model = calibrate_batchnorm(build_model("resnet8"), x, batch_size=16)
    assert not model.training
    conv_out = model.conv1(x)
    mean = conv_out.mean(dim=(0, 2, 3))
    assert torch.allclose(model.bn1.running_mean, mean, atol=1e-5)
    assert model.bn1.momentum == 0.1  # restored after calibration
    # after BN with its own statistics every response has a std of about 1, by construction
    assert all(abs(s - 1) < 0.15 for s in layer_responses(model, x))


def test_an_uncalibrated_fresh_net_would_mislead(images):
    x, _ = images
    torch.manual_seed(0)
    stds = layer_responses(build_model("resnet20"), x)
    assert max(stds) > 2  # BN with running stats 0/1 normalises nothing


def test_gates_start_at_the_sigmoid_of_their_bias(images):
    x, _ = images
    torch.manual_seed(0)
    model = build_model("resnet8", gate="exclusive", gate_bias=-6.0)
    openings = gate_openings(calibrate_batchnorm(model, x), x)
    assert len(openings) == 3  # one gated block per stage in resnet8
    assert all(0.0005 < g < 0.02 for g in openings)  # sigmoid(-6) = 0.0025, give or take W x
    assert gate_openings(build_model("resnet8"), x) == []


def test_the_float64_gradients_are_the_same_net(images):
    x, y = images
    g32 = gradients_at_init("plain20", x, y, seed=3)
    g64 = gradients_at_init("plain20", x, y, seed=3, dtype=torch.float64)
    assert g64[0].dtype == torch.float64 and len(g32) == len(g64) == 20
    assert torch.allclose(g32[-1].double(), g64[-1], rtol=1e-3, atol=1e-6)


def test_init_spreads_change_with_the_seed_only(images):
    x, y = images
    a = ratios_at_init("resnet20", x, y, seeds=range(3))
    assert len(a) == 3 and len(set(a)) == 3
    assert ratios_at_init("resnet20", x, y, seeds=[1]) == [a[1]]


def test_a_group_is_drawn_as_a_mean_with_a_band():
    group = RunGroup([fake_run(1.0 + 0.1 * s, 0.5, seed=s) for s in range(3)])
    fig = plot_curves([group, fake_run(1.5, 0.4)], metrics=("train_loss",))
    ax = fig.axes[0]
    bands = [
        c
        for c in ax.collections
        if c.__class__.__name__ in ("PolyCollection", "FillBetweenPolyCollection")
    ]
    assert len(bands) == 1
    labels = [line.get_label() for line in ax.get_lines()]
    assert labels[:2] == ["resnet20", "resnet20"]  # the legend names the nets only
    # what the lines and the band are is said once, under the figure
    notes = [t.get_text() for t in fig.texts]
    assert notes == ["lines: mean over the seeds (3); shaded: lowest to highest seed."]
    mean_line = ax.get_lines()[0]
    assert mean_line.get_ydata()[-1] == pytest.approx(1.1)
    assert all(float(t).is_integer() for t in ax.get_xticks())


def test_final_values_show_each_seed_and_lesions_show_chance():
    group = RunGroup([fake_run(1.0, 0.5 + 0.01 * s, seed=s) for s in range(3)])
    ax = plot_final({"a": group}, "test_acc")
    (dots,) = [line.get_ydata() for line in ax.get_lines() if line.get_marker() == "."]
    assert list(dots) == pytest.approx([50, 51, 52])
    fig = plot_lesions({"net": {"layer1.0": 0.4, "layer1.1": 0.3}}, {"net": 0.5})
    labels = [line.get_label() for line in fig.axes[0].get_lines()]
    assert "chance (10%)" in labels and "net intact (50.0%)" in labels
    assert math.isclose(fig.axes[0].get_ylim()[0], 0)


def test_precision_can_be_forced_to_fp32(monkeypatch):
    from resnet_utils.training.hardware import autocast_dtype

    monkeypatch.setenv("RESNET_PRECISION", "fp32")
    assert autocast_dtype(torch.device("cpu")) is None
    monkeypatch.setenv("RESNET_PRECISION", "fp8")
    with pytest.raises(ValueError, match="use 'fp32'"):
        autocast_dtype(torch.device("cpu"))


def test_final_values_join_each_seed_across_nets_and_name_it():
    """Review: the per-seed exercises ask about the same seed on both nets; the dots said
    nothing of which seed was which."""
    a = RunGroup([fake_run(1.0 + 0.1 * s, 0.5, seed=s) for s in range(3)])
    b = RunGroup([fake_run(2.0 - 0.1 * s, 0.5, seed=s) for s in range(3)])
    ax = plot_final({"plain20": a, "plain56": b}, "train_loss")
    joins = [line for line in ax.get_lines() if list(line.get_xdata()) == [0, 1]]
    ends = sorted(tuple(round(float(y), 6) for y in j.get_ydata()) for j in joins)
    assert ends == [(1.0, 2.0), (1.1, 1.9), (1.2, 1.8)]
    assert sorted(t.get_text() for t in ax.texts) == ["s0", "s0", "s1", "s1", "s2", "s2"]
