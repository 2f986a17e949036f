"""Loss landscapes (Li et al. 2018): filter normalisation, slices and surfaces."""

import matplotlib
import pytest
import torch
from torch import nn

matplotlib.use("Agg")

from resnet_utils import build_model, synthetic  # noqa: E402
from resnet_utils.measure.landscape import (  # noqa: E402
    classification_loss,
    difference,
    evaluations,
    filter_normalized_direction,
    grid,
    landscape_study,
    rise_at,
    slice_1d,
    surface_2d,
    towards,
    turning_points,
)
from resnet_utils.report.plots import plot_surfaces  # noqa: E402
from resnet_utils.training.data import normalize  # noqa: E402


@pytest.fixture(scope="module")
def batch():
    data = synthetic(64, 64, seed=0)
    return normalize(data.train_x[:32]), data.train_y[:32]


def test_each_filter_of_the_direction_has_the_norm_of_the_weights_filter():
    torch.manual_seed(0)
    model = build_model("resnet8")
    d = filter_normalized_direction(model, seed=1)
    for name, w in model.named_parameters():
        if w.dim() <= 1:
            assert torch.count_nonzero(d[name]) == 0, f"{name} should not move"
            continue
        assert torch.allclose(d[name].flatten(1).norm(dim=1), w.flatten(1).norm(dim=1), rtol=1e-5)
        assert not torch.allclose(d[name], w)
    again = filter_normalized_direction(model, seed=1)
    assert all(torch.equal(d[n], again[n]) for n in d)
    other = filter_normalized_direction(model, seed=2)
    assert not torch.equal(d["conv1.weight"], other["conv1.weight"])


def test_the_surface_at_the_origin_is_the_nets_own_loss(batch):
    torch.manual_seed(0)
    model = build_model("resnet8").eval()
    loss_fn = classification_loss(*batch, batch_size=10)
    own = loss_fn(model)
    d1, d2 = (filter_normalized_direction(model, seed=s) for s in (1, 2))
    surface = surface_2d(model, (d1, d2), [-0.5, 0.0, 0.5], [0.0, 0.5], loss_fn, progress=False)
    assert surface["loss"][0][1] == pytest.approx(own[0], rel=1e-5)
    assert surface["acc"][0][1] == own[1]
    assert len(surface["loss"]) == 2 and len(surface["loss"][0]) == 3
    assert surface["loss"][1][2] != pytest.approx(own[0])  # it does move elsewhere
    after = loss_fn(model)
    assert after[0] == pytest.approx(own[0], rel=1e-6)  # and the weights are put back


class Quadratic(nn.Module):
    def __init__(self):
        super().__init__()
        self.weight = nn.Parameter(torch.tensor([[1.0, 2.0], [3.0, -1.0]]))
        self.bias = nn.Parameter(torch.tensor([0.5, 0.5]))


def test_a_quadratic_bowl_gives_the_surface_it_should():
    model = Quadratic()
    target = torch.tensor([[0.0, 1.0], [1.0, 0.0]])

    def loss_fn(m):
        return ((m.weight - target) ** 2).sum().item(), 0.0

    d1 = {"weight": torch.tensor([[1.0, 0.0], [0.0, 0.0]])}
    d2 = {"weight": torch.tensor([[0.0, 0.0], [0.0, 1.0]])}
    alphas, betas = [-1.0, 0.0, 2.0], [-2.0, 1.0]
    surface = surface_2d(model, (d1, d2), alphas, betas, loss_fn, progress=False)
    w0 = model.weight.detach()
    for j, b in enumerate(betas):
        for i, a in enumerate(alphas):
            expected = ((w0 + a * d1["weight"] + b * d2["weight"] - target) ** 2).sum().item()
            assert surface["loss"][j][i] == pytest.approx(expected)
    line = slice_1d(model, d1, alphas, loss_fn)
    expected_line = [((w0 + a * d1["weight"] - target) ** 2).sum().item() for a in alphas]
    assert line["loss"] == pytest.approx(expected_line)
    assert torch.equal(model.weight.detach(), w0)  # put back after the scan


def test_the_line_from_init_to_trained_ends_at_the_trained_weights():
    torch.manual_seed(0)
    init = build_model("resnet8")
    trained = build_model("resnet8")
    line = difference(trained.state_dict(), init.state_dict())
    assert "bn1.running_mean" in line  # buffers are in the state_dict, but only params move
    moved = {n: p.detach() + line[n] for n, p in init.named_parameters()}
    assert all(torch.allclose(moved[n], p, atol=1e-6) for n, p in trained.named_parameters())


def test_towards_moves_the_weights_along_the_line_to_the_other_net_and_back():
    torch.manual_seed(0)
    net, other = build_model("resnet8").eval(), build_model("resnet8")
    own = {n: p.detach().clone() for n, p in net.named_parameters()}
    statistics = net.bn1.running_var.clone()
    with towards(net, other, 1.0):  # all the way: the other net's weights
        assert all(
            torch.allclose(p, other.get_parameter(n), atol=1e-6) for n, p in net.named_parameters()
        )
        assert torch.equal(net.bn1.running_var, statistics)  # BN keeps the net's own statistics
    with towards(net, other, -1.0):  # the other way, as far as the other net is
        for n, p in net.named_parameters():
            assert torch.allclose(p, 2 * own[n] - other.get_parameter(n), atol=1e-5)
    with pytest.raises(RuntimeError), towards(net, other, 0.5):
        raise RuntimeError("a failed measurement")
    assert all(torch.equal(p, own[n]) for n, p in net.named_parameters())  # back, even after a failure


def test_grid_and_plots():
    assert grid(1.0, 5) == [-1.0, -0.5, 0.0, 0.5, 1.0]
    for bad in (1, 4, 2.5):
        with pytest.raises(ValueError, match="odd number of points"):
            grid(1.0, bad)
    surfaces = {
        name: {"alphas": [-1, 0, 1], "betas": [-1, 0, 1], "loss": [[3, 2, 3], [2, 1, 2], [3, 2, 9]]}
        for name in ("plain", "resnet")
    }
    fig = plot_surfaces(surfaces, cap=5)
    assert "log10 loss (clipped at 5)" in fig.axes[0].get_title()
    above = {"net": {"alphas": [-1, 0, 1], "betas": [-1, 0, 1], "loss": [[50.0] * 3] * 3}}
    assert len(plot_surfaces(above, cap=20).axes) == 3  # all above the cap: still drawn
    assert len(fig.axes) == 6  # contour, colour bar, 3-D, per net


def test_a_study_measures_every_net_the_same_way(batch):
    torch.manual_seed(0)
    nets = {"a": build_model("resnet8").eval(), "b": build_model("plain8").eval()}
    torch.manual_seed(1)
    inits = {"a": build_model("resnet8")}
    loss_fn = classification_loss(*batch)
    study = landscape_study(nets, inits, loss_fn, points=3, directions=2, progress=False)
    assert study["coords"] == [-1.0, 0.0, 1.0]
    assert set(study["surfaces"]) == {"a", "b"} and set(study["to_init"]) == {"a"}
    assert len(study["slices"]) == 4 and all(len(r) == 2 for r in study["rise"].values())
    own = loss_fn(nets["b"])[0]
    assert study["surfaces"]["b"]["loss"][1][1] == pytest.approx(own, rel=1e-5)
    assert study["to_init"]["a"][1] == pytest.approx(loss_fn(nets["a"])[0], rel=1e-5)
    assert evaluations(2, 3, 2) == 2 * (9 + 6 + 3)
    assert rise_at([3.0, 1.0, 5.0], [-1, 0, 1]) == 3.0


def test_turning_points_count_the_changes_of_direction_along_a_slice():
    assert turning_points([4.0, 1.0, 0.0, 1.0, 4.0]) == 1  # a bowl
    assert turning_points([4.0, 1.0, 2.0, 0.5, 3.0]) == 3  # down, up, down, up
    assert turning_points([1.0, 1.0, 2.0, 3.0]) == 0  # flat then rising: no turn
    assert turning_points([3.0, float("inf"), 1.0, 2.0]) == 0  # an overflow is skipped, not a turn
