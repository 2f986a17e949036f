"""The budgets table: every notebook resolves under every profile, to what the notebooks
trained before the table existed (their BUDGETS dicts and profile rules, as written there)."""

from dataclasses import replace

import pytest

from resnet_utils.course.budgets import NOTEBOOKS, SKIP_VARIANTS, TrainingJob, budget, workload
from resnet_utils.training.profiles import PROFILES, get_profile


@pytest.mark.parametrize("profile", PROFILES)
@pytest.mark.parametrize("notebook", NOTEBOOKS)
def test_every_notebook_resolves_under_every_profile(notebook, profile):
    jobs = workload(notebook, profile)
    assert all(isinstance(job, TrainingJob) for job in jobs)
    assert all(job.seeds == (1 if notebook == "04_deep_resnets" else 3) for job in jobs)
    assert all(job.test_images == get_profile(profile).test_size for job in jobs)
    assert jobs or (notebook, profile) == ("04_deep_resnets", "quick")


def _names(notebook, profile):
    return [job.name for job in workload(notebook, profile)]


def test_notebooks_1_to_3_train_their_nets_on_the_profiles_data_and_recipe():
    for profile in PROFILES:
        recipe, images = get_profile(profile).recipe, get_profile(profile).train_size
        for notebook in NOTEBOOKS[:3]:
            assert {(j.recipe, j.train_images) for j in workload(notebook, profile)} == {
                (recipe, images)
            }
        assert _names("01_degradation", profile) == ["plain20", "plain56"]
        three = ["plain56", "resnet20", "resnet56"] + (["resnet110"] if profile == "full" else [])
        assert _names("03_residual_learning", profile) == three
    pairs = ["plain20", "resnet20", "plain56", "resnet56"]
    assert _names("02_skip_connections", "colab") == pairs
    assert _names("02_skip_connections", "full") == pairs + ["plain110", "resnet110"]


def test_the_notebooks_parameters_override_the_table():
    assert budget("01_degradation", "quick", depths=[56, 32]).depths == (32, 56)
    assert _names("01_degradation", "quick") == ["plain20", "plain56"]
    assert budget("02_skip_connections", "full", depths=[20, 32]).depths == (20, 32)
    assert budget("05_skip_variants", "quick", depth=32).jobs[0].name == "resnet32"
    assert budget("01_degradation", "quick", seeds=1).jobs[0].seeds == 1
    assert budget("03_residual_learning", "quick", epochs=2).jobs[0].recipe.epochs == 2
    # notebook 4's own epochs give way to the parameter too
    deep = budget("04_deep_resnets", "colab", epochs=3)
    assert {j.recipe.epochs for j in deep.jobs} == {3}
    assert budget("04_deep_resnets", "smoke", cost_batch=16).cost_batch == 16


def test_notebook_3_measures_as_it_did():
    sizes = {
        p: (lambda b: (b.measure_images, b.landscape_images, b.landscape_points))(
            budget("03_residual_learning", p)
        )
        for p in PROFILES
    }
    assert sizes == {
        "smoke": (64, 64, 3),
        "quick": (500, 500, 11),
        "colab": (500, 500, 25),
        "full": (500, 500, 25),
    }
    given = budget(
        "03_residual_learning", "quick", measure_images=7, landscape_images=8, landscape_points=5
    )
    assert (given.measure_images, given.landscape_images, given.landscape_points) == (7, 8, 5)


def test_notebook_4_trains_its_own_budgets_with_the_papers_warm_up_under_full():
    assert budget("04_deep_resnets", "quick").trainings == ()
    assert {p: budget("04_deep_resnets", p).cost_batch for p in PROFILES} == {
        "smoke": 8,
        "quick": 64,
        "colab": 64,
        "full": 64,
    }
    expected = {  # (images, epochs) of the depth runs and of the stem runs
        "smoke": ((128, 1), (128, 1)),
        "colab": ((10_000, 15), (10_000, 10)),
        "full": ((None, 60), (None, 30)),
    }
    for profile, runs in expected.items():
        depth_runs, stem_runs = budget("04_deep_resnets", profile).trainings
        base = get_profile(profile).recipe
        for training, (images, epochs) in zip((depth_runs, stem_runs), runs):
            recipe = replace(base, epochs=epochs)
            if base.schedule == "step":
                recipe = replace(recipe, warmup_steps=400, warmup_lr=0.01)
            assert (training.images, training.recipe) == (images, recipe)
        assert [j.name for j in depth_runs.jobs] == ["resnet50", "resnet101", "resnet152"]
        assert [j.options for j in stem_runs.jobs] == [{"stem": "imagenet"}, {"stem": "cifar"}]
    assert budget("04_deep_resnets", "full").trainings[0].recipe.warmup_steps == 400
    assert budget("04_deep_resnets", "colab").trainings[0].recipe.warmup_steps == 0


def test_notebook_5_trains_every_variant_at_its_depth_images_and_batch():
    expected = {
        "smoke": (8, None, 64),
        "quick": (20, 2_000, 64),
        "colab": (20, 10_000, 128),
        "full": (110, None, 128),
    }
    for profile, (depth, images, batch) in expected.items():
        b = budget("05_skip_variants", profile)
        (training,) = b.trainings
        assert (b.depth, training.images, training.recipe.batch_size) == (depth, images, batch)
        assert training.recipe.epochs == get_profile(profile).recipe.epochs
        assert [(j.title, j.options) for j in b.jobs] == list(SKIP_VARIANTS.items())
        assert {j.name for j in b.jobs} == {f"resnet{depth}"}
        assert training.nets[0] == (f"resnet{depth}", {}, "original")
    assert len(SKIP_VARIANTS) == 13


def test_an_unknown_notebook_is_named():
    with pytest.raises(ValueError, match="06_nothing"):
        budget("06_nothing", "quick")
