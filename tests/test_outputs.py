"""What a notebook shows: the plan alone, no histories on screen, no frozen progress bars,
and many verdicts as one table."""

import importlib.util
import json
from pathlib import Path

import nbformat
import torch
from fakes import fake_run

from resnet_utils.course.session import Session
from resnet_utils.report.tables import verdict_table
from resnet_utils.training.data import synthetic
from resnet_utils.training.groups import RunGroup
from resnet_utils.training.profiles import Recipe, get_profile

TOOLS = Path(__file__).parent.parent / "tools"


def _session(tmp_path):
    data = synthetic(64, 32, seed=0)
    session = Session("01_degradation", get_profile("smoke"), torch.device("cpu"), data, progress=False)
    session.summary_dir = str(tmp_path)
    return session


def test_finish_keeps_the_histories_in_the_file_not_on_screen(tmp_path, cache_dir, capsys):
    session = _session(tmp_path)
    session.train("plain8", recipe=Recipe(epochs=1, batch_size=32, lr=0.05))
    capsys.readouterr()
    session.finish({"answer": "only-in-the-file"})
    shown = capsys.readouterr().out
    assert "wall_seconds" in shown and "summary written to" in shown
    assert "histories" not in shown and "train_loss" not in shown and "only-in-the-file" not in shown
    written = json.loads((tmp_path / "01_degradation.json").read_text())
    assert list(written["histories"]) == ["plain8"]
    assert written["results"] == {"answer": "only-in-the-file"}


def test_the_plan_prints_itself_and_returns_nothing_to_show(tmp_path, cache_dir, capsys):
    session = _session(tmp_path)
    assert session.plan(["plain8"], seeds=2) is None
    shown = capsys.readouterr().out
    assert shown.startswith("Plan (smoke profile): 64 training images")
    assert "plain8" in shown and "2 to train" in shown and "PlannedNet" not in shown


def _tidy():
    spec = importlib.util.spec_from_file_location("tidy_executed", TOOLS / "tidy_executed.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_tidying_drops_saved_progress_bars_and_keeps_everything_else():
    tidy = _tidy()
    bar = nbformat.v4.new_output(
        "display_data",
        data={
            tidy.WIDGET_VIEW: {"model_id": "abc", "version_major": 2, "version_minor": 0},
            "text/plain": "lesions:   0%|          | 0/25 [00:00<?, ?it/s]",
        },
    )
    stderr_bar = nbformat.v4.new_output(
        "stream", name="stderr", text="plain20:  50%|#####     | 3/6 [00:01<00:01, 2.1it/s]\r"
    )
    warning = nbformat.v4.new_output("stream", name="stderr", text="UserWarning: mind this\n")
    printed = nbformat.v4.new_output("stream", name="stdout", text="deletable blocks: layer1.0\n")
    cell = nbformat.v4.new_code_cell("x = 1", outputs=[printed, bar, stderr_bar, warning])
    cell.metadata["tags"] = []
    injected = nbformat.v4.new_code_cell("interactive = False")
    injected.metadata["tags"] = ["injected-parameters"]
    notebook = nbformat.v4.new_notebook(cells=[injected, cell])
    notebook.metadata["widgets"] = {tidy.WIDGET_STATE: {"state": {"abc": {}}}}
    tidy.tidy(notebook)
    assert len(notebook.cells) == 1 and "tags" not in notebook.cells[0].metadata
    assert notebook.cells[0].outputs == [printed, warning]
    assert "widgets" not in notebook.metadata  # no widget left: the bars' saved state goes too


def test_a_live_widget_keeps_its_state():
    tidy = _tidy()
    slider = nbformat.v4.new_output(
        "display_data", data={tidy.WIDGET_VIEW: {"model_id": "s"}, "text/plain": "IntSlider(value=20)"}
    )
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("", outputs=[slider])])
    notebook.metadata["widgets"] = {tidy.WIDGET_STATE: {"state": {"s": {}}}}
    tidy.tidy(notebook)
    assert notebook.cells[0].outputs == [slider] and tidy.WIDGET_STATE in notebook.metadata["widgets"]


def _accs(accs, name):
    return RunGroup([fake_run(1.0, a, seed=s, name=name) for s, a in enumerate(accs)], title=name)


def _losses(name, losses):
    return RunGroup([fake_run(x, 0.8, seed=s, name=name) for s, x in enumerate(losses)])


def test_many_verdicts_read_as_one_table_with_one_sentence_under_it():
    base = _accs([0.60, 0.61, 0.59], "original")
    sides = {
        "much better": _accs([0.70, 0.71, 0.69], "much better"),
        "the same": _accs([0.60, 0.60, 0.61], "the same"),
        "diverged": RunGroup([fake_run(2.2, 0.1, seed=0, diverged=True)], title="diverged"),
    }
    text, verdicts = verdict_table(sides, base, "test_acc", test_size=2000)
    header, rule, better, same, diverged, sentence = text.splitlines()
    assert header.split() == ["variant", "mean", "±", "spread", "difference", "(points)", "margin"] + [
        "±",
        "(points)",
        "verdict",
    ]
    assert set(rule) == {"-", " "}
    assert better.startswith("much better") and better.split()[-1] == "higher"
    assert "70.0% ± 1.0" in better and "+10.0" in better
    assert f"{100 * verdicts['much better'].margin:.1f}" in better
    assert same.endswith("within noise") and diverged.endswith("not compared")
    assert "diverged" in diverged.split()[1:3]
    assert verdicts["the same"].word == "within noise" and verdicts["diverged"].word == "not compared"
    assert sentence.startswith("Difference: mean test acc minus original's; margin: the half-width")
    assert "with 3 comparisons at 95% each, about 0.1 of them" in sentence
    assert len(text.splitlines()) == 3 + len(sides)


def test_a_table_without_any_comparison_says_why_there_is_no_margin():
    base = _accs([0.60, 0.61, 0.59], "original")
    untrained = RunGroup([fake_run(2.3, 0.1, seed=s) for s in range(3)], title="untrained")
    text, _ = verdict_table({"untrained": untrained}, base, "test_acc", test_size=2000)
    assert "no margin: no comparison was made ('not compared'" in text.splitlines()[-1]


def test_a_loss_table_has_no_points():
    base = RunGroup([fake_run(v, 0.6, seed=s) for s, v in enumerate([1.0, 1.1, 0.9])], title="base")
    other = RunGroup([fake_run(v, 0.6, seed=s) for s, v in enumerate([0.5, 0.6, 0.4])], title="x")
    text, verdicts = verdict_table({"x": other}, base, "train_loss")
    assert "(points)" not in text and "-0.500" in text and verdicts["x"].word == "lower"


def test_lesions_of_nets_with_different_blocks_share_one_axis_in_forward_order():
    import matplotlib

    matplotlib.use("Agg")
    from resnet_utils.report.plots import plot_lesions

    plain = {"layer1.0": 0.5, "layer2.1": 0.4}
    resnet = {"layer1.0": 0.6, "layer2.0": 0.55, "layer2.1": 0.58}
    fig = plot_lesions({"plain": plain, "resnet": resnet}, {"plain": 0.6, "resnet": 0.7})
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["layer1.0", "layer2.0", "layer2.1"]
    lines = {line.get_label(): line for line in ax.get_lines()}
    assert list(lines["plain, one block deleted"].get_xdata()) == [0, 2]  # layer2.1 over layer2.1
    assert list(lines["resnet, one block deleted"].get_xdata()) == [0, 1, 2]


def test_the_screen_shows_no_local_data_path_and_no_summary_path_it_was_not_asked_for(
    tmp_path, cache_dir, capsys, monkeypatch
):
    """Review clutter: a folder on the machine that ran the notebook says nothing to its reader;
    `make execute`'s summary folder ($RESNET_SUMMARY_DIR) is a temporary one."""
    from resnet_utils.course.session import _without_path

    line = (
        "CIFAR-10 from /tmp/a, b, stratified subset 10000/2000 (seed 0): 10000 train / 2000 test images"
    )
    assert (
        _without_path(line)
        == "CIFAR-10, stratified subset 10000/2000 (seed 0): 10000 train / 2000 test images"
    )
    assert (
        _without_path("CIFAR-10 from /x: 50000 train / 10000 test images")
        == "CIFAR-10: 50000 train / 10000 test images"
    )
    session = _session(tmp_path)
    session.summary_dir = None
    monkeypatch.setenv("RESNET_SUMMARY_DIR", str(tmp_path / "quiet"))
    session.finish({})
    shown = capsys.readouterr().out
    assert (tmp_path / "quiet" / "01_degradation.json").exists() and "summary written" not in shown


def test_basis_says_once_what_every_verdict_rests_on(tmp_path, cache_dir, capsys):
    session = _session(tmp_path)
    a = RunGroup([fake_run(0.5, 0.8, seed=s) for s in range(3)])
    b = RunGroup([fake_run(0.5, 0.8, seed=s) for s in range(2)])
    session.basis(a, a)
    assert capsys.readouterr().out == (
        "Each verdict rests on 3 seeds per net, 64 training and 32 test images, 2 epochs.\n"
    )
    session.basis(a, b, per="variant")
    assert "2-3 seeds per variant" in capsys.readouterr().out


def test_the_depth_table_compares_each_depth_with_its_familys_shallowest_net():
    from resnet_utils.report.tables import depth_table

    groups = {
        ("resnet", 20): _losses("resnet20", [0.50, 0.51, 0.49]),
        ("resnet", 56): _losses("resnet56", [0.40, 0.41, 0.39]),
        ("plain", 20): _losses("plain20", [0.50, 0.52, 0.48]),
        ("plain", 56): _losses("plain56", [0.90, 0.95, 0.85]),
    }
    text, verdicts = depth_table(groups, metrics=("train_loss",))
    lines = text.splitlines()
    assert (
        len(lines) == 4 and lines[1].startswith("plain56 vs plain20") and lines[2].startswith("resnet56")
    )
    assert lines[1].endswith("higher") and lines[2].endswith("lower")
    assert set(verdicts) == {("plain", 56, "train_loss"), ("resnet", 56, "train_loss")}
    assert "+0.400 ± " in lines[1] and "(3 per net)" in lines[3] and "paired" not in lines[3]
    assert all(line == line.rstrip() for line in lines)


def test_the_ratio_table_compares_two_nets_phase_by_phase_on_log10():
    from resnet_utils.report.tables import ratio_table

    phases = {
        "at init": {"plain56": [400.0, 2000.0, 3800.0], "plain20": [6.5, 8.7, 10.3]},
        "epoch 6": {"plain56": [1.0, 1.1, 0.9], "plain20": [1.5, 1.6, 1.4]},
    }
    text, verdicts = ratio_table(phases, "plain56", "plain20")
    lines = text.splitlines()
    assert len(lines) == 4 and lines[2].startswith("at init") and lines[3].startswith("epoch 6")
    assert verdicts["at init"].word == "higher" and verdicts["epoch 6"].word == "lower"
    assert verdicts["at init"].metric == "log10 ratio" and "2e+03" in lines[2]


def test_the_ratios_in_training_are_one_per_seed_that_recorded_gradient_norms():
    from resnet_utils.measure.gradients import ratios_in_training

    runs = [fake_run(0.5, 0.8, seed=s) for s in range(3)]
    for run, first in zip(runs, (4.0, 6.0, 8.0)):
        run.history["grad_norms"] = [[first, 1.0, 2.0, 5.0], [1.0, 1.0, 0.5, 5.0]]
    assert ratios_in_training(RunGroup(runs), 0) == [2.0, 3.0, 4.0]  # first conv / last conv
    assert ratios_in_training(RunGroup(runs), -1) == [2.0, 2.0, 2.0]
    assert ratios_in_training(RunGroup([fake_run(0.5, 0.8)]), 0) == []


def test_a_verdict_decided_by_less_than_half_its_margin_is_named_as_narrow():
    base = _accs([0.60, 0.61, 0.59], "original")
    sides = {
        "clear": _accs([0.70, 0.71, 0.69], "clear"),
        "barely": _accs([0.625, 0.635, 0.615], "barely"),
    }
    text, verdicts = verdict_table(sides, base, "test_acc")
    clear, barely = verdicts["clear"], verdicts["barely"]
    assert clear.decided and abs(clear.difference) > 1.5 * clear.margin
    assert barely.decided and abs(barely.difference) < 1.5 * barely.margin
    last = text.splitlines()[-1]
    assert last.startswith("Decided narrowly") and "barely" in last and "clear" not in last
    assert "could well read it within noise" in last
    text, _ = verdict_table({"clear": sides["clear"]}, base, "test_acc")
    assert "narrowly" not in text


def test_the_depth_table_names_a_narrow_verdict_by_net_and_metric():
    from resnet_utils.report.tables import depth_table

    groups = {
        ("plain", 20): _losses("plain20", [0.50, 0.51, 0.49]),
        ("plain", 56): _losses("plain56", [0.525, 0.535, 0.515]),
    }
    text, verdicts = depth_table(groups, metrics=("train_loss",))
    v = verdicts["plain", 56, "train_loss"]
    assert v.decided and abs(v.difference) < 1.5 * v.margin
    assert text.splitlines()[-1].startswith("Decided narrowly") and "plain56 train loss." in text
