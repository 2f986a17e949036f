import pytest
import torch

from resnet_utils.training.profiles import get_profile


def test_environment_overrides_auto_only(monkeypatch):
    monkeypatch.setenv("RESNET_PROFILE", "smoke")
    assert get_profile("auto").name == "smoke"
    assert get_profile("quick").name == "quick"


def test_auto_follows_the_hardware(monkeypatch):
    monkeypatch.delenv("RESNET_PROFILE", raising=False)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert get_profile("auto").name == "quick"
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert get_profile("auto").name == "colab"  # the paper's 164 epochs only by name
    assert get_profile("full").recipe.epochs == 164


def test_colab_is_all_the_images_in_a_short_schedule():
    colab = get_profile("colab")
    assert (colab.dataset, colab.train_size, colab.test_size) == ("cifar10", None, None)
    assert colab.recipe.schedule == "onecycle" and colab.recipe.epochs == 20
    # 20 epochs of 390 steps: an eighth of the paper's 64k iterations
    assert colab.recipe.epochs * (50_000 // colab.recipe.batch_size) == 7_800


def test_bad_names_fail_with_the_choices(monkeypatch):
    with pytest.raises(ValueError, match="smoke.*quick.*colab.*full"):
        get_profile("fast")
    monkeypatch.setenv("RESNET_PROFILE", "fast")
    with pytest.raises(ValueError, match="RESNET_PROFILE"):
        get_profile("auto")


def test_full_is_the_papers_recipe():
    r = get_profile("full").recipe
    assert (r.lr, r.momentum, r.weight_decay, r.batch_size) == (0.1, 0.9, 1e-4, 128)
    steps = r.epochs * (50_000 // r.batch_size)  # 164 epochs of 390 steps: about 64k
    assert 63_000 <= steps <= 65_000
    assert [int(f * steps) for f in r.milestones] == [steps // 2, int(0.75 * steps)]
    assert get_profile("full").train_size is None


def test_quick_is_real_data_and_smoke_is_synthetic():
    assert get_profile("quick").dataset == "cifar10" and get_profile("quick").train_size == 10_000
    assert get_profile("smoke").dataset == "synthetic"


def test_epochs_override():
    assert get_profile("quick").with_epochs(3).recipe.epochs == 3
    assert get_profile("quick").with_epochs(None).recipe.epochs == 6
    with pytest.raises(ValueError):
        get_profile("quick").with_epochs(0)


def test_the_colab_profile_says_it_is_untimed_and_meant_for_a_gpu():
    from resnet_utils.course.guidance import device_advice

    on_gpu = device_advice("colab", torch.device("cuda"), colab=True)
    assert "50,000" in on_gpu and "not been measured" in on_gpu and "Runtime menu" not in on_gpu
    on_colab_cpu = device_advice("colab", torch.device("cpu"), colab=True)
    assert "Runtime menu" in on_colab_cpu


def test_the_gpu_advice_gives_what_this_notebook_trains_under_the_gpu_profile():
    """Review W3: nb4 and nb5 train 10,000 images under 'colab', not the profile's 50,000."""
    from resnet_utils.course.guidance import device_advice

    cpu = torch.device("cpu")
    assert "(all 50,000 images, 20 epochs)" in device_advice(
        "quick", cpu, colab=False, notebook="01_degradation"
    )
    nb5 = device_advice("quick", cpu, colab=False, notebook="05_skip_variants")
    assert "(10,000 images, 20 epochs)" in nb5 and "50,000" not in nb5
    nb4 = device_advice("full", torch.device("cuda"), colab=False, notebook="04_deep_resnets")
    assert "60 epochs" in nb4 and "164" not in nb4
    assert "minutes" not in device_advice("quick", cpu, colab=False)
