"""The nets' state-dict layouts are pinned: the run cache keys on them (cache.module_layout),
so a refactor of the model code that renames, reorders or reshapes a tensor would orphan
every cached run and every shipped reference net."""

import inspect

import pytest
import torch

from resnet_utils import build_model
from resnet_utils.models import (
    BasicBlock,
    CifarNet,
    ImageNetBasicBlock,
    Variant,
    VariantBlock,
    VariantNet,
)
from resnet_utils.training.cache import module_layout

# Recorded before the plain BasicBlock and the VariantBlock were split (issue 22).
LAYOUTS = {
    ("plain20", ()): "a3e934ca020e",
    ("resnet20", ()): "a3e934ca020e",  # shortcut A: the very tensors of plain20
    ("plain110", ()): "a471e20969d2",
    ("resnet20", (("shortcut", "B"),)): "939a47113189",
    ("resnet56", (("shortcut", "conv"),)): "1e996c3545cc",
    ("resnet20", (("batchnorm", False),)): "1e6bb24c191b",
    ("resnet20", (("ordering", "preact"),)): "634e18996637",
    ("resnet20", (("ordering", "relu_preact"),)): "2bac2248d6cc",
    ("resnet20", (("ordering", "bn_after_add"), ("zero_init", True))): "a3e934ca020e",
    ("resnet20", (("gate", "exclusive"), ("gate_bias", -6.0))): "0e58350d989c",
    ("resnet20", (("shortcut_dropout", 0.5),)): "a3e934ca020e",
    ("resnet18", ()): "515077926050",
    ("resnet50", ()): "09ca1504468f",
}


@pytest.mark.parametrize(("name", "options"), sorted(LAYOUTS), ids=lambda v: str(v))
def test_state_dict_layouts_are_the_recorded_ones(name, options):
    assert module_layout(build_model(name, **dict(options))) == LAYOUTS[name, options]


def test_variant_blocks_are_built_only_when_a_variant_option_is_given():
    def block_types(model):
        return {type(m) for m in model.modules() if isinstance(m, BasicBlock)}

    assert block_types(build_model("resnet20")) == {BasicBlock}
    assert block_types(build_model("plain20")) == {BasicBlock}
    assert block_types(build_model("resnet20", scale_shortcut=1.0)) == {BasicBlock}  # the default
    assert block_types(build_model("resnet20", ordering="preact")) == {VariantBlock}
    assert type(build_model("resnet20", scale_shortcut=1.0)) is CifarNet
    assert type(build_model("resnet20", zero_init=True)) is VariantNet


@pytest.mark.parametrize("batchnorm", [True, False])
def test_a_default_variant_net_is_the_cifar_net(batchnorm):
    """Same tensors in the same order, drawn from the RNG in the same order: the He init of a
    VariantNet (after its gates are known) draws as CifarNet's does."""
    torch.manual_seed(0)
    plain = CifarNet(20, True, batchnorm=batchnorm).state_dict()
    torch.manual_seed(0)
    variant = VariantNet(20, Variant(), batchnorm=batchnorm).state_dict()
    assert list(plain) == list(variant)
    assert all(torch.equal(plain[k], variant[k]) for k in plain)


@pytest.mark.parametrize("shortcut", ["A", "B", "conv"])
def test_a_default_variant_block_is_the_basic_block(shortcut):
    """Same weights from the same seed (module creation order) and the same outputs."""
    x = torch.randn(2, 16, 8, 8)
    torch.manual_seed(0)
    plain = BasicBlock(16, 32, 2, shortcut)
    torch.manual_seed(0)
    variant = VariantBlock(16, 32, 2, shortcut, variant=Variant())
    assert list(plain.state_dict()) == list(variant.state_dict())
    assert all(
        torch.equal(a, b) for a, b in zip(plain.state_dict().values(), variant.state_dict().values())
    )
    for mode in (True, False):
        plain.train(mode), variant.train(mode)
        assert torch.equal(plain(x), variant(x)) and torch.equal(plain.residual(x), variant.residual(x))


def test_a_variant_block_needs_a_shortcut():
    with pytest.raises(ValueError, match="a plain block has none"):
        VariantBlock(16, 16, shortcut=None, variant=Variant(ordering="preact"))


def test_the_plain_block_reads_in_a_few_lines():
    # notebook 2 prints BasicBlock.forward as the whole difference between the two nets
    source = inspect.getsource(BasicBlock.forward).strip().splitlines()
    assert len(source) <= 12 and "self.shortcut is not None" in "\n".join(source)


def test_imagenet_basic_block_has_no_stride_option_so_resnet18_is_one_net():
    assert "stride_on" not in inspect.signature(ImageNetBasicBlock).parameters
    torch.manual_seed(0)
    v15 = build_model("resnet18").eval()
    torch.manual_seed(0)
    v1 = build_model("resnet18", stride_on="1x1").eval()  # accepted: one place for a basic stride
    x = torch.randn(1, 3, 64, 64)
    assert torch.equal(v15(x), v1(x))
