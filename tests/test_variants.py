"""Each skip-connection variant of He et al. (2016) pinned by the property that defines it."""

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from resnet_utils import build_model, count_parameters, weighted_layers
from resnet_utils.models import BasicBlock, Variant, VariantBlock

X = torch.rand(4, 16, 8, 8, generator=torch.Generator().manual_seed(0))  # >= 0, as after a ReLU
XS = torch.randn(4, 16, 8, 8, generator=torch.Generator().manual_seed(1))  # any sign


def block(variant=None, shortcut="A", in_channels=16, out_channels=16, stride=1):
    torch.manual_seed(0)
    b = VariantBlock(in_channels, out_channels, stride, shortcut, True, variant or Variant())
    with torch.no_grad():  # non-trivial BN statistics, so eval mode exercises them
        for m in b.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.running_mean.normal_(0, 0.1)
                m.running_var.uniform_(0.5, 1.5)
    return b.eval()


def original_branch(b, x):
    return b.bn2(b.conv2(F.relu(b.bn1(b.conv1(x)))))


@torch.no_grad()
def test_lambda_one_on_both_paths_is_the_original():
    a, b = block(), block(Variant(scale_shortcut=1.0, scale_branch=1.0))
    assert torch.equal(a(X), b(X))
    assert torch.equal(a(X), F.relu(original_branch(a, X) + X))


@torch.no_grad()
def test_constant_scaling_scales_each_path():
    b = block(Variant(scale_shortcut=0.5, scale_branch=0.25))
    assert torch.allclose(b(X), F.relu(0.25 * original_branch(b, X) + 0.5 * X), atol=1e-6)


@torch.no_grad()
def test_exclusive_gate_with_very_negative_bias_is_nearly_the_identity():
    b = block(Variant(gate="exclusive", gate_bias=-30.0))
    assert torch.allclose(b(X), X, atol=1e-6)
    opened = block(Variant(gate="exclusive", gate_bias=30.0))  # g = 1: the branch alone
    assert torch.allclose(opened(X), F.relu(original_branch(opened, X)), atol=1e-5)


@torch.no_grad()
def test_shortcut_only_gate_scales_the_shortcut_alone():
    closed = block(Variant(gate="shortcut", gate_bias=-30.0))  # 1 - g = 1: the original block
    assert torch.allclose(closed(X), F.relu(original_branch(closed, X) + X), atol=1e-5)
    shut = block(Variant(gate="shortcut", gate_bias=30.0))  # 1 - g = 0: no shortcut at all
    assert torch.allclose(shut(X), F.relu(original_branch(shut, X)), atol=1e-5)


@torch.no_grad()
def test_gate_is_a_1x1_conv_with_its_bias_and_not_a_counted_layer():
    model = build_model("resnet20", gate="exclusive", gate_bias=-6.0)
    gates = [m.gate for m in model.modules() if isinstance(m, BasicBlock)]
    assert all(g.kernel_size == (1, 1) and torch.all(g.bias == -6.0) for g in gates)
    assert len(weighted_layers(model)) == 20
    # one 1x1 conv with bias per block: 3 blocks 16->16, 1 16->32, 2 32->32, 1 32->64, 2 64->64
    extra = (
        3 * (16 * 16 + 16) + (16 * 32 + 32) + 2 * (32 * 32 + 32) + (32 * 64 + 64) + 2 * (64 * 64 + 64)
    )
    assert count_parameters(model) == 269_722 + extra


@torch.no_grad()
def test_conv_shortcut_projects_on_every_block():
    model = build_model("resnet20", shortcut="conv")
    blocks = [m for m in model.modules() if isinstance(m, BasicBlock)]
    assert all(
        isinstance(b.shortcut, nn.Sequential) and b.shortcut[0].kernel_size == (1, 1) for b in blocks
    )
    b = block(shortcut="conv")
    assert torch.allclose(b(X), F.relu(original_branch(b, X) + b.shortcut(X)), atol=1e-6)


def test_dropout_shortcut_drops_without_rescaling():
    b = block(Variant(shortcut_dropout=0.5))
    with torch.no_grad():
        assert torch.allclose(b(X), F.relu(original_branch(b, X) + 0.5 * X), atol=1e-6)  # eval: 0.5 x
        b.drop.train()
        torch.manual_seed(3)
        kept = b.drop(torch.ones(10_000))
    assert set(kept.unique().tolist()) == {0.0, 1.0}
    assert 0.45 < kept.mean().item() < 0.55


@torch.no_grad()
def test_bn_after_addition():
    b = block(Variant(ordering="bn_after_add"))
    branch = b.conv2(F.relu(b.bn1(b.conv1(X))))
    assert torch.allclose(b(X), F.relu(b.bn2(branch + X)), atol=1e-6)


@torch.no_grad()
def test_relu_before_addition_only_adds():
    b = block(Variant(ordering="relu_before_add"))
    assert torch.allclose(b(XS), F.relu(original_branch(b, XS)) + XS, atol=1e-6)
    assert (b(XS) - XS).min() >= 0


@torch.no_grad()
def test_full_preactivation_puts_bn_relu_before_each_conv_and_nothing_after_the_addition():
    b = block(Variant(ordering="preact"), in_channels=16, out_channels=32, stride=2)
    assert b.bn1.num_features == 16 and b.bn2.num_features == 32  # BN sees each conv's input
    x = XS
    expected = b.conv2(F.relu(b.bn2(b.conv1(F.relu(b.bn1(x)))))) + b.shortcut(x)
    out = b(x)
    assert torch.allclose(out, expected, atol=1e-6)
    assert out.min() < 0  # no ReLU after the addition


@torch.no_grad()
def test_relu_only_preactivation():
    b = block(Variant(ordering="relu_preact"))
    expected = b.bn2(b.conv2(F.relu(b.bn1(b.conv1(F.relu(XS)))))) + XS
    assert torch.allclose(b(XS), expected, atol=1e-6)


def test_preactivation_net_has_a_bare_stem_and_a_final_bn_relu():
    model = build_model("resnet20", ordering="preact")
    assert isinstance(model.bn1, nn.Identity)
    assert isinstance(model.final[0], nn.BatchNorm2d) and isinstance(model.final[1], nn.ReLU)
    assert model(torch.randn(2, 3, 32, 32)).shape == (2, 10)
    # the stem's BN moved to the end: the same count as the original net
    assert count_parameters(model) == 269_722


@pytest.mark.parametrize("ordering", ["original", "relu_before_add", "relu_preact", "preact"])
def test_zero_initialised_branch_makes_the_block_the_identity(ordering):
    model = build_model("resnet20", ordering=ordering, zero_init=True)
    for b in (m for m in model.modules() if isinstance(m, BasicBlock)):
        if b.conv1.stride == (1, 1):
            x = torch.rand(2, b.conv1.in_channels, 8, 8)
            assert torch.equal(b(x), x), ordering
    assert not torch.equal(build_model("resnet20").layer1[0](X), X)  # not so without zero_init


def test_variants_are_for_residual_nets_and_are_checked():
    with pytest.raises(ValueError, match="residual"):
        build_model("plain20", ordering="preact")
    with pytest.raises(ValueError, match="ordering"):
        build_model("resnet20", ordering="sideways")
    with pytest.raises(ValueError, match="gate"):
        build_model("resnet20", gate="both")
    with pytest.raises(ValueError, match="shortcut_dropout"):
        build_model("resnet20", shortcut_dropout=1.0)
