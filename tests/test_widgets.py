"""Widgets as a student meets them: a depth can be hit and read, ticks are whole layers and
epochs, and a block picker says whose blocks it offers."""

import matplotlib
import pytest
import torch

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402

from resnet_utils import build_model, synthetic  # noqa: E402
from resnet_utils.measure.blocks import residual_branch_stats  # noqa: E402
from resnet_utils.report.plots import label_epoch_panel, plot_layer_norms, plot_responses  # noqa: E402
from resnet_utils.report.widgets import block_picker, depth_control, depth_slider  # noqa: E402
from resnet_utils.training.data import normalize  # noqa: E402

DEPTHS = range(20, 111, 6)  # the 16 depths notebook 1 offers


@pytest.fixture(scope="module")
def images():
    data = synthetic(8, 8, seed=0)
    return normalize(data.train_x[:4]), data.train_y[:4]


def pixels(width: str) -> int:
    assert width.endswith("px"), width
    return int(width[:-2])


def all_integers(ticks) -> bool:
    return all(float(t).is_integer() for t in ticks)


def drawn(shown):
    """The figure an interact drew. ipywidgets 8 calls its function as the widget is built; 7
    (Colab's 7.7.1) only when a kernel displays it, which never happens here: then call it."""
    if not plt.get_fignums():
        shown.widget.update()
    return plt.gcf()


def test_the_depth_slider_gives_each_depth_room_and_shows_it():
    slider = depth_control(DEPTHS)
    assert len(slider.options) == 16
    assert pixels(slider.layout.width) >= 30 * 16  # was about 125 px for all 16
    assert slider.readout and not slider.continuous_update
    assert slider.value == 20
    assert depth_control(DEPTHS, value=56).value == 56


def test_notebook_1s_slider_is_the_wide_one_and_draws_whole_layers(images):
    plt.close("all")
    shown = depth_slider(*images, depths=(8, 14))
    slider = shown.widget.children[0]
    assert slider.description == "plain-net depth"
    assert pixels(slider.layout.width) >= 30 * 2
    ax = drawn(shown).axes[0]
    assert ax.get_xlabel().startswith("layer") and all_integers(ax.get_xticks())
    plt.close("all")


def test_the_block_picker_names_its_net(images):
    torch.manual_seed(0)
    stats = residual_branch_stats(build_model("resnet8").eval(), images[0])
    plt.close("all")
    shown = block_picker(stats, net="ResNet-8 (trained, seed 0)")
    picker = shown.widget.children[0]
    assert picker.description == "block of ResNet-8 (trained, seed 0)"
    assert list(picker.options) == [s.name for s in stats]
    ax = drawn(shown).axes[0]
    assert ax.get_title().startswith("ResNet-8 (trained, seed 0), block ")
    assert all_integers(ax.get_xticks())
    plt.close("all")


def test_response_curves_are_drawn_in_their_given_style_in_both_panels_and_the_legend():
    fig = plot_responses(
        {"net, trained": [1.0, 0.8], "net, at init": [0.9, 0.7]},
        styles={"net, at init": {"ls": "--"}},
        legend_fontsize="small",
    )
    for ax in fig.axes:
        style = {line.get_label(): line.get_linestyle() for line in ax.get_lines()}
        assert style == {"net, trained": "-", "net, at init": "--"}
    # one legend for both panels, beside the right one (issue 29: legends off the curves)
    assert fig.axes[0].get_legend() is None
    legend = fig.axes[1].get_legend()
    assert [h.get_linestyle() for h in legend.legend_handles] == ["-", "--"]
    assert legend.get_texts()[0].get_fontsize() < plt.rcParams["font.size"]  # "small"
    plt.close("all")


def test_layer_and_epoch_axes_have_whole_numbers():
    # three layers or three epochs: matplotlib's default ticks would be 1.0, 1.25, 1.5, ...
    norms = plot_layer_norms({"net": [1.0, 0.5, 0.2]})
    responses = plot_responses({"net": [1.0, 0.8, 0.9]})
    _, epochs = plt.subplots()
    epochs.plot([1, 2, 3], [2.3, 2.0, 1.9], label="run")
    label_epoch_panel(epochs, "train_loss")
    for ax in (norms, *responses.axes, epochs):
        ticks = [t for t in ax.get_xticks() if ax.get_xlim()[0] <= t <= ax.get_xlim()[1]]
        assert len(ticks) >= 2 and all_integers(ticks), ax.get_xlabel()
    plt.close("all")
