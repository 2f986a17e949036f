"""The course's one visual language (issue 29): a hue per family, a shade per depth, dashed at
initialisation, the seed band said once, legends beside the data; and the depth picture."""

import matplotlib

matplotlib.use("Agg")

import pytest  # noqa: E402
from fakes import fake_run  # noqa: E402
from matplotlib.colors import to_rgb  # noqa: E402

from resnet_utils.report.plots import plot_curves, plot_depth  # noqa: E402
from resnet_utils.report.style import colour_of, family_and_depth, line_style  # noqa: E402
from resnet_utils.training.groups import RunGroup  # noqa: E402


def lightness(colour) -> float:
    return sum(to_rgb(colour)) / 3


def test_labels_name_their_family_and_depth():
    assert family_and_depth("plain56") == ("plain", 56)
    assert family_and_depth("ResNet-110 (reference)") == ("resnet", 110)
    assert family_and_depth("plain20, seed 1") == ("plain", 20)
    assert family_and_depth("chance") is None


def test_a_family_keeps_its_hue_and_the_deeper_net_is_darker():
    names = ("plain20", "plain56", "resnet20", "resnet56")
    plain20, plain56, resnet20, resnet56 = (colour_of(n) for n in names)
    assert lightness(plain56) < lightness(plain20) and lightness(resnet56) < lightness(resnet20)
    blue = lambda c: to_rgb(c)[2] - to_rgb(c)[0]  # noqa: E731
    assert blue(plain20) > 0 and blue(plain56) > 0  # plain nets: blue
    assert blue(resnet20) < 0 and blue(resnet56) < 0  # residual nets: orange
    assert colour_of("plain56 (reference)") == plain56  # the same net, the same colour


def test_initialisation_is_dashed_in_the_same_colour():
    trained, init = line_style("resnet56"), line_style("resnet56", at_init=True)
    assert (trained["ls"], init["ls"]) == ("-", "--") and trained["color"] == init["color"]


def test_labels_of_no_family_get_distinct_colours_that_stay():
    others = {}
    a, b = colour_of("BN after addition", others), colour_of("full pre-activation", others)
    assert a != b and colour_of("BN after addition", others) == a


def test_the_legend_sits_beside_the_panels_not_on_them():
    group = RunGroup([fake_run(1.0 + 0.1 * s, 0.5, seed=s, name="plain56") for s in range(3)])
    fig = plot_curves([group], metrics=("train_loss", "test_acc"))
    legends = [ax.get_legend() for ax in fig.axes]
    assert legends[0] is None and legends[1] is not None  # one legend for the figure
    anchor = legends[1].get_bbox_to_anchor().transformed(fig.axes[1].transAxes.inverted())
    assert anchor.x0 >= 1.0  # to the right of the last panel


def depth_groups():
    """Plain nets worse with depth, residual nets better, three seeds each."""
    acc = {("plain", 20): 0.80, ("plain", 56): 0.55, ("resnet", 20): 0.82, ("resnet", 56): 0.84}
    return {
        (family, depth): RunGroup(
            [fake_run(0.5, a + 0.005 * s, seed=s, name=f"{family}{depth}") for s in range(3)]
        )
        for (family, depth), a in acc.items()
    }


def test_the_depth_picture_draws_error_and_loss_against_depth_per_family():
    published = {"resnet": {20: 8.75, 32: 7.51, 44: 7.17, 56: 6.97}}
    fig = plot_depth(depth_groups(), published=published, published_label="He et al. 2015, Table 6")
    error, loss = fig.axes[:2]
    lines = {line.get_label(): line for line in error.get_lines()}
    assert list(lines) == ["plain (3 seeds)", "residual (3 seeds)", "residual, He et al. 2015, Table 6"]
    assert list(lines["plain (3 seeds)"].get_xdata()) == [20, 56]
    errors = [100 * (1 - 0.805), 100 * (1 - 0.555)]  # the mean over the three seeds
    assert list(lines["plain (3 seeds)"].get_ydata()) == pytest.approx(errors)
    assert list(lines["residual, He et al. 2015, Table 6"].get_ydata()) == [8.75, 7.51, 7.17, 6.97]
    assert error.get_xlabel() == "depth (weighted layers)" and "test error (%)" in error.get_ylabel()
    assert len(loss.get_lines()) == 2  # the published values are test errors only
    assert lines["plain (3 seeds)"].get_color() == colour_of("plain56")


def test_variants_of_no_family_get_one_colour_each_the_same_in_every_panel():
    """nb5's 13 variants have no family in their labels: before, every one took the first spare
    colour."""
    groups = [
        RunGroup([fake_run(0.5, 0.8, seed=s) for s in range(2)], title=title)
        for title in ("original", "gated")
    ]
    fig = plot_curves(groups, metrics=("train_loss", "test_acc"))
    colours = [[line.get_color() for line in ax.get_lines()] for ax in fig.axes[:2]]
    assert colours[0] == colours[1] and len(set(colours[0])) == 2
    matplotlib.pyplot.close(fig)


def test_one_nets_phases_share_its_familys_hue_in_shades_dashed_at_init():
    from resnet_utils.report.plots import plot_layer_norms

    curves = {"at init": [1.0, 2.0], "epoch 1": [1.0, 1.5], "epoch 6": [1.0, 1.2]}
    ax = plot_layer_norms(curves, net="resnet56")
    lines = ax.get_lines()
    colours = [to_rgb(line.get_color()) for line in lines]
    assert len(set(colours)) == 3 and all(r > b for r, _, b in colours)  # orange, three shades
    assert [line.get_linestyle() for line in lines] == ["--", "-", "-"]
    assert sum(colours[2]) < sum(colours[1]) < sum(colours[0])  # the last phase the fullest
    matplotlib.pyplot.close(ax.figure)


def test_a_shallow_nets_phases_take_its_familys_full_hue_not_its_pale_depth_shade():
    from resnet_utils.report.plots import plot_layer_norms
    from resnet_utils.report.style import DEEPEST

    ax = plot_layer_norms({"at init": [1.0, 2.0], "epoch 6": [1.0, 1.2]}, net="plain20")
    assert to_rgb(ax.get_lines()[-1].get_color()) == pytest.approx(to_rgb(colour_of(f"plain{DEEPEST}")))
    matplotlib.pyplot.close(ax.figure)
