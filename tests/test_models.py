import pytest
import torch
from torch import nn

from resnet_utils import build_model, count_parameters, weighted_layers
from resnet_utils.models import BasicBlock, ZeroPadShortcut, blocks_per_stage, stage_shapes

# The paper (He et al. 2015, Table 6) lists 0.27, 0.46, 0.66, 0.85, 1.7 and 19.4 M.
EXACT_PARAMETERS = {
    20: 269_722,
    32: 464_154,
    44: 658_586,
    56: 853_018,
    110: 1_727_962,
    1202: 19_421_274,
}
PUBLISHED_MILLIONS = {20: 0.27, 32: 0.46, 44: 0.66, 56: 0.85, 110: 1.7, 1202: 19.4}


def closed_form_parameters(depth: int, num_classes: int = 10) -> int:
    """Counted by hand, independently of the model code, for shortcut A with BatchNorm."""
    n = (depth - 2) // 6
    conv = lambda cin, cout: 9 * cin * cout  # noqa: E731  3x3, no bias
    bn = lambda c: 2 * c  # noqa: E731
    total = conv(3, 16) + bn(16)
    for cin, c in ((16, 16), (16, 32), (32, 64)):
        first = conv(cin, c) + bn(c) + conv(c, c) + bn(c)
        other = 2 * (conv(c, c) + bn(c))
        total += first + (n - 1) * other
    return total + 64 * num_classes + num_classes


@pytest.mark.parametrize("depth", sorted(EXACT_PARAMETERS))
@pytest.mark.parametrize("family", ["plain", "resnet"])
def test_parameter_counts_are_exact(family, depth):
    model = build_model(f"{family}{depth}")
    assert count_parameters(model) == EXACT_PARAMETERS[depth]
    assert closed_form_parameters(depth) == EXACT_PARAMETERS[depth]
    assert round(EXACT_PARAMETERS[depth] / 1e6, 2 if depth < 110 else 1) == PUBLISHED_MILLIONS[depth]


@pytest.mark.parametrize("depth", [8, 20, 56, 110])
def test_weighted_layer_count_is_the_depth(depth):
    for model in (
        build_model(f"plain{depth}"),
        build_model(f"resnet{depth}"),
        build_model(f"resnet{depth}", shortcut="B"),
    ):
        layers = weighted_layers(model)
        assert len(layers) == depth
        assert layers[0][0] == "conv1" and layers[-1][0] == "fc"


def test_projection_shortcut_adds_two_1x1_convs_with_bn():
    # 16->32 and 32->64 at the two stage transitions: 1x1 conv weights plus BN (2 per channel)
    extra = (16 * 32 + 2 * 32) + (32 * 64 + 2 * 64)
    assert count_parameters(build_model("resnet20", shortcut="B")) == 269_722 + extra
    projections = [
        m
        for n, m in build_model("resnet20", shortcut="B").named_modules()
        if isinstance(m, nn.Conv2d) and m.kernel_size == (1, 1)
    ]
    assert len(projections) == 2


def test_without_batchnorm_convs_get_biases_instead():
    # BN has 2 parameters per channel, a conv bias 1: resnet20 has 1,376 BN parameters
    # and 688 conv output channels.
    model = build_model("resnet20", batchnorm=False)
    assert count_parameters(model) == 269_722 - 1_376 + 688
    assert not any(isinstance(m, nn.BatchNorm2d) for m in model.modules())


def test_no_conv_bias_in_front_of_batchnorm():
    convs = [m for m in build_model("resnet56", shortcut="B").modules() if isinstance(m, nn.Conv2d)]
    assert convs and all(c.bias is None for c in convs)


def test_plain_and_residual_nets_have_the_same_tensors():
    plain, res = build_model("plain32").state_dict(), build_model("resnet32").state_dict()
    assert {k: v.shape for k, v in plain.items()} == {k: v.shape for k, v in res.items()}
    assert all(
        block.shortcut is None
        for block in build_model("plain20").modules()
        if isinstance(block, BasicBlock)
    )


def test_output_shapes_and_class_count():
    x = torch.randn(2, 3, 32, 32)
    assert build_model("resnet20")(x).shape == (2, 10)
    assert build_model("plain20", num_classes=100)(x).shape == (2, 100)


def test_stage_shapes_follow_the_paper():
    shapes = dict(stage_shapes(build_model("plain56")))
    assert shapes["conv1"] == (16, 32, 32)
    assert shapes["layer1"] == (16, 32, 32)
    assert shapes["layer2"] == (32, 16, 16)
    assert shapes["layer3"] == (64, 8, 8)
    assert shapes["fc"] == (10,)


def test_block_with_zeroed_branch_is_the_identity():
    block = BasicBlock(16, 16, stride=1, shortcut="A").eval()
    nn.init.zeros_(block.bn2.weight)
    x = torch.rand(2, 16, 8, 8)  # non-negative, as after a ReLU
    assert torch.equal(block(x), x)


def test_zero_pad_shortcut_subsamples_and_pads():
    x = torch.randn(2, 16, 8, 8)
    out = ZeroPadShortcut(16, 32, stride=2)(x)
    assert out.shape == (2, 32, 4, 4)
    assert torch.equal(out[:, :16], x[:, :, ::2, ::2])
    assert torch.count_nonzero(out[:, 16:]) == 0


def test_kaiming_init_and_pytorch_default_differ_as_documented():
    torch.manual_seed(0)
    conv = build_model("plain20").layer3[1].conv1  # 64 -> 64, 3x3: 36,864 weights
    fan_out = 64 * 9
    assert conv.weight.std().item() == pytest.approx((2 / fan_out) ** 0.5, rel=0.03)
    default = build_model("plain20", init="pytorch").layer3[1].conv1
    assert default.weight.std().item() == pytest.approx((1 / (3 * 64 * 9)) ** 0.5, rel=0.03)


@pytest.mark.parametrize("name", ["resnet21", "resnet", "plain", "vgg16", "resnet2", "plainx", "", 20])
def test_bad_names_raise_value_error_naming_valid_forms(name):
    with pytest.raises(ValueError, match=r"plainN.*resnetN"):
        build_model(name)


def test_bad_depth_message_says_6n_plus_2():
    with pytest.raises(ValueError, match=r"6n\+2") as info:
        build_model("resnet21")
    assert "20" in str(info.value) and "56" in str(info.value)
    with pytest.raises(ValueError, match="6n\\+2"):
        blocks_per_stage(57)


@pytest.mark.parametrize("option", [{"shortcut": "C"}, {"init": "xavier"}, {"num_classes": 0}])
def test_bad_options_raise(option):
    with pytest.raises(ValueError):
        build_model("resnet20", **option)


def test_names_are_case_and_space_tolerant():
    assert count_parameters(build_model(" ResNet20 ")) == 269_722
