import pytest
import torch
import torchvision

from resnet_utils import build_model, count_parameters, weighted_layers

DEPTHS = (18, 34, 50, 101, 152)
TEN_CLASS_COUNTS = {50: 23_528_522, 101: 42_520_650, 152: 58_164_298}  # torchvision, 10 classes


def _torchvision(depth, num_classes):
    return getattr(torchvision.models, f"resnet{depth}")(weights=None, num_classes=num_classes)


@pytest.mark.parametrize("depth", DEPTHS)
@pytest.mark.parametrize("num_classes", [10, 1000])
def test_state_dict_matches_torchvision(depth, num_classes):
    ours = build_model(f"resnet{depth}", num_classes=num_classes).state_dict()
    theirs = _torchvision(depth, num_classes).state_dict()
    assert list(ours) == list(theirs)
    assert all(ours[k].shape == theirs[k].shape for k in ours)


@pytest.mark.parametrize("depth", DEPTHS)
def test_same_outputs_with_torchvisions_weights(depth):
    torch.manual_seed(depth)
    reference = _torchvision(depth, 7).eval()
    with torch.no_grad():  # non-trivial BN statistics, so that eval mode tests them too
        for m in reference.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.running_mean.normal_(0, 0.1)
                m.running_var.uniform_(0.5, 1.5)
                m.weight.uniform_(0.5, 1.5)
                m.bias.normal_(0, 0.1)
    ours = build_model(f"resnet{depth}", num_classes=7).eval()
    ours.load_state_dict(reference.state_dict())
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        assert torch.allclose(ours(x), reference(x), rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("depth", DEPTHS)
def test_parameter_counts_equal_torchvisions(depth):
    for classes in (10, 1000):
        assert count_parameters(build_model(f"resnet{depth}", num_classes=classes)) == count_parameters(
            _torchvision(depth, classes)
        )


def test_published_ten_class_counts():
    for depth, count in TEN_CLASS_COUNTS.items():
        assert count_parameters(build_model(f"resnet{depth}")) == count
    assert count_parameters(build_model("resnet50", num_classes=1000)) == 25_557_032


@pytest.mark.parametrize("depth", DEPTHS)
def test_weighted_layers_count_the_depth(depth):
    assert len(weighted_layers(build_model(f"resnet{depth}"))) == depth


def test_v1_moves_the_stride_to_the_first_1x1():
    v15, v1 = build_model("resnet50"), build_model("resnet50", stride_on="1x1")
    assert v15.layer2[0].conv1.stride == (1, 1) and v15.layer2[0].conv2.stride == (2, 2)
    assert v1.layer2[0].conv1.stride == (2, 2) and v1.layer2[0].conv2.stride == (1, 1)
    assert count_parameters(v1) == count_parameters(v15)
    assert v1(torch.randn(1, 3, 64, 64)).shape == (1, 10)


def test_cifar_stem_keeps_32x32_resolution():
    from resnet_utils.models import stage_shapes

    imagenet = dict(stage_shapes(build_model("resnet50")))
    cifar = dict(stage_shapes(build_model("resnet50", stem="cifar")))
    assert imagenet["layer1"] == (256, 8, 8) and imagenet["layer4"] == (2048, 1, 1)
    assert cifar["layer1"] == (256, 32, 32) and cifar["layer4"] == (2048, 4, 4)
    # 7x7 conv (3*64*49) replaced by a 3x3 (3*64*9)
    assert count_parameters(build_model("resnet50")) - count_parameters(
        build_model("resnet50", stem="cifar")
    ) == 3 * 64 * (49 - 9)


@pytest.mark.parametrize(
    "name, option",
    [("resnet50", {"shortcut": "A"}), ("resnet56", {"stem": "cifar"}), ("resnet18", {"stem": "tiny"})],
)
def test_options_of_the_other_family_are_refused(name, option):
    with pytest.raises(ValueError, match="option|must be one of"):
        build_model(name, **option)


def test_zero_init_residual_starts_each_block_as_identity():
    model = build_model("resnet50", zero_init_residual=True).eval()
    assert all(torch.count_nonzero(b.bn3.weight) == 0 for b in model.modules() if hasattr(b, "bn3"))
    block = model.layer1[1]  # same shape in and out
    x = torch.rand(1, 256, 8, 8)
    with torch.no_grad():
        assert torch.equal(block(x), x)
    basic = build_model("resnet18", zero_init_residual=True)
    assert torch.count_nonzero(basic.layer1[0].bn2.weight) == 0
