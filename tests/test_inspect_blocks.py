import pytest
import torch
from torch import nn

from resnet_utils import build_model, synthetic
from resnet_utils.measure.blocks import (
    blocks,
    deletable_blocks,
    downsampling_blocks,
    layer_responses,
    lesion_study,
    lesion_summary,
    residual_branch_stats,
    without_block,
)

IMAGES = torch.randn(6, 3, 32, 32, generator=torch.Generator().manual_seed(0))


def _randomise_bn(model):
    """Non-trivial BN statistics, so that eval mode is not the identity on the BN."""
    g = torch.Generator().manual_seed(1)
    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d):
            m.running_mean.copy_(torch.randn(m.num_features, generator=g) * 0.1)
            m.running_var.copy_(torch.rand(m.num_features, generator=g) + 0.5)
            m.weight.data.copy_(torch.rand(m.num_features, generator=g) + 0.5)
    return model.eval()


def test_layer_responses_measure_bn_outputs_before_relu():
    model = _randomise_bn(build_model("resnet8"))
    stds = layer_responses(model, IMAGES)
    assert len(stds) == 2 * 3  # two 3x3 layers per block, n = 1 block per stage
    with torch.no_grad():
        x = model.relu(model.bn1(model.conv1(IMAGES)))
        first = model.layer1[0]
        response1 = first.bn1(first.conv1(x))
        response2 = first.bn2(first.conv2(torch.relu(response1)))  # not in place
    assert stds[0] == pytest.approx(response1.std().item(), rel=1e-5)
    assert stds[1] == pytest.approx(response2.std().item(), rel=1e-5)


def test_branch_ratio_is_what_it_says():
    model = _randomise_bn(build_model("resnet8"))
    (first, *rest) = residual_branch_stats(model, IMAGES)
    assert first.name == "layer1.0" and len(rest) == 2
    with torch.no_grad():
        x = model.relu(model.bn1(model.conv1(IMAGES)))
        branch = model.layer1[0].residual(x)
    expected = (branch.flatten(1).norm(dim=1) / x.flatten(1).norm(dim=1)).mean().item()
    assert first.ratio == pytest.approx(expected, rel=1e-5)
    assert len(first.branch_rms) == 16 and len(rest[-1].branch_rms) == 64


def test_zeroed_branch_has_ratio_zero_and_plain_nets_have_no_branch():
    model = _randomise_bn(build_model("resnet8"))
    nn.init.zeros_(model.layer1[0].bn2.weight)
    nn.init.zeros_(model.layer1[0].bn2.bias)
    assert residual_branch_stats(model, IMAGES)[0].ratio == 0
    with pytest.raises(ValueError, match="no shortcuts"):
        residual_branch_stats(build_model("plain8"), IMAGES)


def test_only_shape_preserving_blocks_are_deletable():
    assert [n for n, _ in blocks(build_model("resnet20"))][3] == "layer2.0"
    expected = ["layer1.0", "layer1.1", "layer1.2", "layer2.1", "layer2.2", "layer3.1", "layer3.2"]
    assert deletable_blocks(build_model("resnet20")) == expected
    assert deletable_blocks(build_model("plain20")) == expected
    assert len(deletable_blocks(build_model("resnet56"))) == 27 - 2
    with pytest.raises(ValueError, match="cannot be deleted"):
        with without_block(build_model("plain20"), "layer2.0"):  # no shortcut to fall back on
            pass


def test_a_residual_nets_downsampling_blocks_can_lose_their_branch_a_plain_nets_cannot():
    assert downsampling_blocks(build_model("resnet20")) == ["layer2.0", "layer3.0"]
    assert downsampling_blocks(build_model("resnet56", shortcut="B")) == ["layer2.0", "layer3.0"]
    assert downsampling_blocks(build_model("plain20")) == []
    model = _randomise_bn(build_model("resnet20"))
    with torch.no_grad():
        before = model(IMAGES)
        with without_block(model, "layer2.0"):
            deleted = model(IMAGES)  # the zero-padded shortcut carries x on: the net still runs
        assert torch.equal(model(IMAGES), before)
        nn.init.zeros_(model.layer2[0].bn2.weight)
        nn.init.zeros_(model.layer2[0].bn2.bias)
        assert torch.allclose(model(IMAGES), deleted, atol=1e-6)
        assert not torch.allclose(deleted, before)


def test_deleting_a_residual_block_equals_zeroing_its_branch_and_is_undone():
    model = _randomise_bn(build_model("resnet20"))
    with torch.no_grad():
        before = model(IMAGES)
        with without_block(model, "layer2.1"):
            deleted = model(IMAGES)
        assert torch.equal(model(IMAGES), before)  # put back on leaving
        nn.init.zeros_(model.layer2[1].bn2.weight)
        nn.init.zeros_(model.layer2[1].bn2.bias)
        assert torch.allclose(model(IMAGES), deleted, atol=1e-6)
        assert not torch.allclose(deleted, before)


def test_lesion_study_covers_every_deletable_block():
    model = build_model("resnet8").eval()
    data = synthetic(64, 40)
    result = lesion_study(model, data, progress=False)
    assert list(result) == deletable_blocks(model) == ["layer1.0"]
    assert all(0 <= acc <= 1 for acc in result.values())
    every = lesion_study(model, data, progress=False, downsampling=True)
    assert list(every) == ["layer1.0", "layer2.0", "layer3.0"]  # in forward order
    assert every["layer1.0"] == result["layer1.0"]
    plain = build_model("plain8").eval()
    assert list(lesion_study(plain, data, progress=False, downsampling=True)) == ["layer1.0"]


def test_a_lesion_summary_says_once_what_one_deletion_costs_a_net():
    studies = [  # two seeds; layer2.0 is a downsampling block, lost by the residual net only
        {"layer1.0": 0.30, "layer1.1": 0.60, "layer2.0": 0.50},
        {"layer1.0": 0.40, "layer1.1": 0.70, "layer2.0": 0.60},
    ]
    summary = lesion_summary(studies, [0.70, 0.80], shared=["layer1.0", "layer1.1"])
    assert summary.intact == [0.70, 0.80]
    assert summary.drop == pytest.approx([0.25, 0.25])  # mean over the shared blocks only
    assert summary.share == pytest.approx([0.25 / 0.6, 0.25 / 0.7])  # of the way down to chance
    assert summary.left == pytest.approx({"layer1.0": 0.35, "layer1.1": 0.65, "layer2.0": 0.55})
    assert list(summary.left) == ["layer1.0", "layer1.1", "layer2.0"]  # forward order, every block
    assert summary.worst(2) == ["layer1.0", "layer2.0"]
    every = lesion_summary(studies, [0.70, 0.80])  # without ``shared``: every block studied
    assert every.drop == pytest.approx([0.7 - 1.4 / 3, 0.8 - 1.7 / 3])
    with pytest.raises(ValueError, match="one intact accuracy per study"):
        lesion_summary(studies, [0.70])
