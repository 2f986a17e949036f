import pytest
import torch
from torch import nn

from resnet_utils import build_model, count_parameters
from resnet_utils.measure.counting import (
    multiply_adds,
    parameters_per_stage,
    saved_for_backward_bytes,
    step_seconds,
)
from resnet_utils.models import Bottleneck, ImageNetBasicBlock


def test_multiply_adds_by_hand():
    conv = nn.Sequential(nn.Conv2d(3, 16, 3, padding=1, bias=False))
    # every one of the 16 x 32 x 32 outputs needs 3 x 3 x 3 multiply-adds
    assert multiply_adds(conv, (3, 32, 32)) == 16 * 32 * 32 * 27
    strided = nn.Sequential(
        nn.Conv2d(8, 4, 1, stride=2, bias=False), nn.Flatten(), nn.Linear(4 * 4 * 4, 5)
    )
    assert multiply_adds(strided, (8, 8, 8)) == 4 * 4 * 4 * 8 + 64 * 5


def test_resnet50_multiply_adds_match_the_published_figure():
    # torchvision lists ResNet-50 at 4.09 GFLOPS (multiply-adds) for 224x224; the paper 3.8e9
    assert (
        round(multiply_adds(build_model("resnet50", num_classes=1000), (3, 224, 224)) / 1e9, 2) == 4.09
    )


def test_bottleneck_and_basic_block_cost_alike_at_four_times_the_width():
    # He et al. 2015, Fig. 5: a basic block on 64 channels, a bottleneck on 256 (64 inside)
    basic, bottleneck = ImageNetBasicBlock(64, 64), Bottleneck(256, 64)
    assert count_parameters(basic) == 2 * 64 * 64 * 9 + 4 * 64
    assert count_parameters(bottleneck) == 256 * 64 + 64 * 64 * 9 + 64 * 256 + 2 * (64 + 64 + 256)


def test_parameters_per_stage_add_up():
    model = build_model("resnet50")
    stages = parameters_per_stage(model)
    assert list(stages) == ["stem", "layer1", "layer2", "layer3", "layer4", "fc"]
    assert sum(stages.values()) == count_parameters(model) == 23_528_522
    assert stages["stem"] == 3 * 64 * 49 + 2 * 64
    assert stages["fc"] == 2048 * 10 + 10


def test_saved_for_backward_grows_with_batch_and_depth():
    small = saved_for_backward_bytes(build_model("resnet20"), batch_size=4)
    assert saved_for_backward_bytes(build_model("resnet20"), batch_size=8) == pytest.approx(
        2 * small, rel=0.01
    )
    assert saved_for_backward_bytes(build_model("resnet56"), batch_size=4) > 2 * small
    # at least the input of every conv: the stem conv alone keeps the 4x3x32x32 input
    assert small > 4 * 3 * 32 * 32 * 4


def test_step_seconds_times_a_training_step_on_a_copy():
    model = build_model("resnet8")
    before = {k: v.clone() for k, v in model.state_dict().items()}
    seconds = step_seconds(model, batch_size=8, repeats=2)
    assert 0 < seconds < 60
    # the net the caller measures next (saved_for_backward_bytes) is the one it passed
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())
    assert model.conv1.weight.is_contiguous() and model.conv1.weight.grad is None
