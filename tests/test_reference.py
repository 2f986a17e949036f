"""Reference nets: shipped with their provenance and sha256, loaded strictly, refused when
altered, and (with the real data) re-evaluated to the accuracy their record states."""

import hashlib
import json
import math
import shutil
from pathlib import Path

import matplotlib
import pytest
import torch
from shared import load_tool

from resnet_utils import synthetic
from resnet_utils.course.reference import (
    REQUIRED,
    BadReference,
    available,
    bf16_keys,
    load_net,
    load_record,
    pack_correct,
    reference_group,
    reference_run,
    shipped_folder,
    shipped_seeds,
    show_beside_references,
    unpack_correct,
)
from resnet_utils.course.session import Session
from resnet_utils.report.verdicts import compare
from resnet_utils.storage.atomic import load_tensors, save_tensors
from resnet_utils.training.cifar10 import load_cifar10
from resnet_utils.training.groups import RunGroup
from resnet_utils.training.hardware import autocast_dtype, precision_name
from resnet_utils.training.loop import correct_per_image, evaluate
from resnet_utils.training.profiles import Recipe
from resnet_utils.training.runs import train

matplotlib.use("Agg")
train_references = load_tool("train_references")
ship_net = train_references.ship_net
SHIPPED = ("plain20", "plain56", "resnet20", "resnet56")
# bf16 autocast rounds the conv and linear weights to bf16 itself: storing them so changes no
# score. In another format (fp32, fp16) the tool checks it, image by image.
BF16_HERE = autocast_dtype(torch.device("cpu")) == torch.bfloat16


def stored_dtypes(path: Path, model) -> dict[str, set]:
    """The dtypes of a weights file: of the conv and linear weights, and of the other floats."""
    weights = load_tensors(path)
    in_bf16 = bf16_keys(model)
    return {
        "conv/linear": {v.dtype for k, v in weights.items() if k in in_bf16},
        "rest": {v.dtype for k, v in weights.items() if k not in in_bf16 and v.is_floating_point()},
    }


@pytest.fixture(scope="module")
def shipped(tmp_path_factory):
    """A net trained for one epoch on synthetic images and shipped to a temporary folder."""
    folder = tmp_path_factory.mktemp("reference_nets")
    data = synthetic(128, 64, seed=1)
    run = train("resnet8", data, Recipe(epochs=2, batch_size=32), cache=False, progress=False)
    record = ship_net(run, data, folder, budget="test")
    return folder, run, record


def test_a_shipped_net_loads_with_its_exact_weights_and_provenance(shipped):
    folder, run, record = shipped
    assert set(REQUIRED) <= set(record)
    assert record["epochs"] == 2 and record["history"]["epoch"] == [1, 2]
    assert record["train_size"] == 128 and record["test_size"] == 64
    assert record["versions"]["torch"] == torch.__version__
    model = load_net("resnet8", folder)
    assert not model.training
    stored = load_tensors(folder / "resnet8-seed0.pt")
    for (key, a), b in zip(run.model.state_dict().items(), model.state_dict().values()):
        assert b.dtype == a.dtype, key  # loaded into the fp32 net
        assert torch.equal(a.cpu().to(stored[key].dtype).to(a.dtype), b), key  # rounded as stored
    if BF16_HERE:
        assert stored_dtypes(folder / "resnet8-seed0.pt", model) == {
            "conv/linear": {torch.bfloat16},
            "rest": {torch.float32},
        }
    assert available(folder) == ["resnet8"] and shipped_seeds("resnet8", folder) == [0]
    assert sorted(p.name for p in folder.iterdir()) == ["resnet8-seed0.json", "resnet8-seed0.pt"]
    assert record["threads"] == torch.get_num_threads()


def test_altered_weights_are_refused(shipped, tmp_path):
    folder, _, _ = shipped
    shutil.copytree(folder, tmp_path, dirs_exist_ok=True)
    weights = torch.load(tmp_path / "resnet8-seed0.pt", weights_only=True)
    weights["fc.bias"] += 1
    torch.save(weights, tmp_path / "resnet8-seed0.pt")
    with pytest.raises(BadReference, match="sha256.*altered or damaged"):
        load_net("resnet8", tmp_path)


def test_weights_that_do_not_fill_the_net_exactly_are_refused(shipped, tmp_path):
    """A matching hash is not enough: a key left over or missing fails the strict load."""
    folder, _, record = shipped
    weights = torch.load(folder / "resnet8-seed0.pt", weights_only=True)
    weights["extra.weight"] = torch.zeros(1)
    torch.save(weights, tmp_path / "resnet8-seed0.pt")
    record = dict(
        record, sha256=hashlib.sha256((tmp_path / "resnet8-seed0.pt").read_bytes()).hexdigest()
    )
    (tmp_path / "resnet8-seed0.json").write_text(json.dumps(record))
    with pytest.raises(BadReference, match="does not fit resnet8.*extra.weight"):
        load_net("resnet8", tmp_path)


def test_weights_in_another_number_format_are_refused(shipped, tmp_path):
    """bf16 where the tool stores bf16, fp32 elsewhere: nothing else, though a strict load
    would cast it silently."""
    folder, _, record = shipped
    for key, dtype in (("fc.weight", torch.float16), ("bn1.running_var", torch.bfloat16)):
        weights = torch.load(folder / "resnet8-seed0.pt", weights_only=True)
        weights[key] = weights[key].to(dtype)
        torch.save(weights, tmp_path / "resnet8-seed0.pt")
        digest = hashlib.sha256((tmp_path / "resnet8-seed0.pt").read_bytes()).hexdigest()
        (tmp_path / "resnet8-seed0.json").write_text(json.dumps(dict(record, sha256=digest)))
        with pytest.raises(BadReference, match=f"holds {key} as {dtype}, not torch.float32"):
            load_net("resnet8", tmp_path)


def test_a_missing_or_incomplete_record_says_what_is_wrong(shipped, tmp_path):
    folder, _, record = shipped
    with pytest.raises(BadReference, match="no reference net 'resnet110'.*there are: resnet8"):
        load_record("resnet110", folder)
    with pytest.raises(BadReference, match="'resnet8' seed 3.*there are: seeds \\[0\\] of resnet8"):
        load_record("resnet8", folder, seed=3)
    incomplete = {k: v for k, v in record.items() if k != "sha256"}
    (tmp_path / "resnet8-seed0.json").write_text(json.dumps(incomplete))
    with pytest.raises(BadReference, match="lacks \\['sha256'\\]"):
        load_record("resnet8", tmp_path)


def test_a_reference_is_a_one_seed_run_for_the_verdicts(shipped):
    folder, _, record = shipped
    run = reference_run("resnet8", folder)
    assert run.label == "resnet8 (reference)" and run.model is None
    assert run.final("test_acc") == record["final"]["test_acc"]
    # scored image by image, a net against itself differs on no image: no noise to measure with
    verdict = compare(run, run, "test_acc", test_size=record["test_size"], check_learned=False)
    assert verdict.word == "not compared" and "no measure of noise" in str(verdict)
    # without the per-image scores, one seed a side: the test images' binomial error alone
    run.test_correct = None
    verdict = compare(run, run, "test_acc", test_size=record["test_size"], check_learned=False)
    assert verdict.word == "within noise" and "64 test images" in str(verdict)


def test_the_seeds_of_a_reference_net_make_one_group(shipped, tmp_path):
    """Seed 1 shipped beside seed 0: the group holds both, in seed order, with their spread."""
    folder, _, _ = shipped
    shutil.copytree(folder, tmp_path, dirs_exist_ok=True)
    data = synthetic(128, 64, seed=1)
    run = train("resnet8", data, Recipe(epochs=2, batch_size=32), seed=1, cache=False, progress=False)
    ship_net(run, data, tmp_path, budget="test")
    group = reference_group("resnet8", tmp_path)
    assert group.seeds == [0, 1] and group.label == "resnet8 (reference)"
    assert len(group.finals("test_acc")) == 2
    assert torch.equal(load_net("resnet8", tmp_path, seed=1).fc.bias, run.model.fc.bias.cpu())
    with pytest.raises(BadReference, match="no reference net 'plain8'"):
        reference_group("plain8", tmp_path)


def test_the_reference_panel_has_both_sides_on_shared_axes(shipped, capsys):
    folder, run, _ = shipped
    group = RunGroup([run])  # what session.train gives
    fig = show_beside_references({"resnet8": group, "plain8": group}, folder=folder)
    left, right = fig.axes[0], fig.axes[1]
    assert left.get_shared_y_axes().joined(left, right)
    assert [line.get_label() for line in right.get_lines()] == ["resnet8 (reference)"]
    # the same net, one colour on both sides (its family's, its depth's shade)
    assert left.get_lines()[0].get_color() == right.get_lines()[0].get_color()
    said = capsys.readouterr().out.splitlines()
    assert len(said) == 1 and said[0].startswith("Reference nets: resnet8 (1 seed); 128 training images")
    assert show_beside_references({"plain110": group}, folder=folder) is None


def test_the_course_ships_the_four_reference_nets_intact():
    assert set(SHIPPED) <= set(available())
    for name in SHIPPED:
        seeds = shipped_seeds(name)
        assert seeds[0] == 0 and seeds == list(range(len(seeds)))  # no seed left out between
        for seed in seeds:
            record = load_record(name, seed=seed)
            assert record["train_size"] == 50_000 and record["test_size"] == 10_000
            assert record["final"]["test_acc"] > 0.5  # trained, not a placeholder
            model = load_net(name, seed=seed)  # sha256 and strict keys
            assert sum(p.numel() for p in model.parameters()) > 0


def test_every_seed_of_a_reference_net_shares_its_budget_and_number_format():
    """Seeds are comparable only when nothing but the seed differs (issue 20)."""
    for name in SHIPPED:
        records = [load_record(name, seed=s) for s in shipped_seeds(name)]
        assert len({json.dumps(r["recipe"], sort_keys=True) for r in records}) == 1, name
        assert len({r["precision"] for r in records}) == 1, name
        assert len({r["data_fingerprint"] for r in records}) == 1, name


def test_a_shipped_net_scores_on_cifar10_what_its_record_says(real_cifar10_dir):
    data = load_cifar10(real_cifar10_dir, download=False)
    record = load_record("resnet20")
    _, accuracy = evaluate(load_net("resnet20"), data, device="cpu", autocast=False)
    # fp32 on another CPU may round a borderline image differently: allow 5 of 10,000
    assert abs(accuracy - record["test_acc_fp32"]) <= 5 / 10_000


def test_the_summary_carries_every_runs_curves(tmp_path, cache_dir):
    from resnet_utils.training.profiles import get_profile

    data = synthetic(64, 32, seed=0)
    session = Session("01_degradation", get_profile("smoke"), torch.device("cpu"), data, progress=False)
    session.summary_dir = str(tmp_path)
    session.train("plain8", recipe=Recipe(epochs=1, batch_size=32, lr=0.05))
    written = json.loads((tmp_path / "01_degradation.json").read_text()) if session.finish({}) else None
    assert list(written["histories"]) == ["plain8"]
    assert len(written["histories"]["plain8"]["test_acc"]) == 1


def test_a_deadline_passed_starts_no_net_and_says_so(tmp_path, capsys):
    out = tmp_path / "out"
    missing = tmp_path / "no-cifar10"  # not read: no net starts, so no data is loaded
    argv = ["--deadline", "0", "--data", str(missing), "--out", str(out), "--cache", str(tmp_path)]
    assert train_references.main([*argv, "--nets", "resnet20", "plain20", "--seeds", "0", "1"]) == 0
    said = capsys.readouterr().out
    assert (
        "deadline of 0 s reached: not started resnet20 seed 0, plain20 seed 0, resnet20 seed 1" in said
    )
    assert not out.exists()


def test_a_net_started_before_the_deadline_finishes_and_the_next_is_not_started(
    tmp_path, monkeypatch, capsys
):
    import time
    from types import SimpleNamespace

    trained, shipped = [], []

    def slow_train(name, data, recipe, *, seed, cache):
        trained.append((name, seed))
        time.sleep(0.5)
        return SimpleNamespace(diverged=False)

    def fake_ship(run, data, folder, *, budget):
        shipped.append(run)
        return {"final": {"test_acc": 0.5}, "test_acc_fp32": 0.5, "training_seconds": 0.5}

    monkeypatch.setattr(train_references, "load_cifar10", lambda *a, **k: synthetic(64, 32, seed=0))
    monkeypatch.setattr(train_references, "train", slow_train)
    monkeypatch.setattr(train_references, "ship_net", fake_ship)
    argv = ["--deadline", "0.3", "--nets", "resnet20", "plain20", "--out", str(tmp_path)]
    assert train_references.main(argv) == 0
    assert trained == [("resnet20", 0)] and len(shipped) == 1
    said = capsys.readouterr().out
    assert "resnet20 seed 0: test accuracy 50.00%" in said and "not started plain20 seed 0." in said


def test_the_package_data_includes_the_nets():
    text = (Path(__file__).parent.parent / "pyproject.toml").read_text()
    assert '"reference_nets/*.json"' in text and '"reference_nets/*.pt"' in text


def test_a_shipped_record_carries_which_test_images_the_net_got_right(shipped):
    folder, run, record = shipped
    correct = unpack_correct(record["test_correct"])
    assert correct.dtype == torch.bool and len(correct) == record["test_size"] == 64
    assert correct.float().mean().item() == pytest.approx(record["final"]["test_acc"])
    assert torch.equal(reference_run("resnet8", folder).test_correct, correct)


def test_packed_scores_round_trip_and_a_damaged_field_reads_as_none():
    correct = torch.rand(10_001, generator=torch.Generator().manual_seed(0)) < 0.8
    packed = pack_correct(correct)
    assert len(packed["bits"]) == 4 * math.ceil(math.ceil(10_001 / 8) / 3)  # base64 of 1,251 bytes
    assert torch.equal(unpack_correct(packed), correct)
    for damaged in (None, {}, {"images": 10_001, "bits": "not base64!"}, dict(packed, images=99_999)):
        assert unpack_correct(damaged) is None


def test_repack_adds_the_per_image_scores_to_records_shipped_without(
    shipped, tmp_path, monkeypatch, capsys
):
    folder, _, record = shipped
    shutil.copytree(folder, tmp_path, dirs_exist_ok=True)
    path = tmp_path / "resnet8-seed0.json"
    bare = {k: v for k, v in record.items() if k != "test_correct"}
    path.write_text(json.dumps(bare))
    tool = load_tool("train_references")
    monkeypatch.setattr(tool, "load_cifar10", lambda *a, **k: synthetic(128, 64, seed=1))
    assert tool.main(["--repack", "--out", str(tmp_path), "--nets", "resnet8"]) == 0
    scored_record = json.loads(path.read_text())
    assert scored_record["test_correct"] == record["test_correct"]
    unchanged = json.loads(json.dumps(bare))
    assert {k: v for k, v in scored_record.items() if k != "test_correct"} == unchanged  # nothing else
    assert "added" in capsys.readouterr().out
    tool.main(["--repack", "--out", str(tmp_path), "--nets", "resnet8"])  # already there: untouched
    assert "added" not in capsys.readouterr().out


@pytest.fixture
def shipped_fp32(shipped, tmp_path, monkeypatch):
    """The fixture's net as an older tool shipped it: fp32 weights, no per-image scores; and
    the tool, reading the fixture's synthetic images as its CIFAR-10."""
    _, run, record = shipped
    model = run.model.cpu()
    weights = {k: v.detach().clone() for k, v in model.state_dict().items()}
    save_tensors(tmp_path / "resnet8-seed0.pt", weights)
    data = synthetic(128, 64, seed=1)
    loss, accuracy = evaluate(model, data, device="cpu", autocast=False)
    old = {k: v for k, v in record.items() if k != "test_correct"}
    old.update(
        test_acc_fp32=accuracy,
        test_loss_fp32=loss,
        sha256=hashlib.sha256((tmp_path / "resnet8-seed0.pt").read_bytes()).hexdigest(),
    )
    (tmp_path / "resnet8-seed0.json").write_text(json.dumps(old))
    tool = load_tool("train_references")
    monkeypatch.setattr(tool, "load_cifar10", lambda *a, **k: synthetic(128, 64, seed=1))
    return tmp_path, tool, old, weights


def test_repack_stores_an_fp32_net_in_bf16_and_then_leaves_it(shipped_fp32, shipped, capsys):
    folder, tool, old, weights = shipped_fp32
    argv = ["--repack", "--out", str(folder)]
    converted = tool.main(argv) == 0
    assert converted or not BF16_HERE  # in bf16 autocast the scores cannot change
    said = capsys.readouterr().out
    record = load_record("resnet8", folder)
    if not converted:  # fp32 or fp16 here, and the rounding moved a score: left as it was
        assert (
            "would change" in said and load_tensors(folder / "resnet8-seed0.pt").keys() == weights.keys()
        )
        assert record["sha256"] == old["sha256"]
        return
    assert "per-image test scores added" in said and "weights stored in bf16" in said
    model = load_net("resnet8", folder)  # its new sha256
    assert stored_dtypes(folder / "resnet8-seed0.pt", model) == {
        "conv/linear": {torch.bfloat16},
        "rest": {torch.float32},
    }
    for key, value in model.state_dict().items():
        assert torch.equal(
            value, weights[key].to(load_tensors(folder / "resnet8-seed0.pt")[key].dtype).to(value.dtype)
        )
    data = synthetic(128, 64, seed=1)
    correct = unpack_correct(record["test_correct"])
    assert torch.equal(correct_per_image(model, data, device="cpu"), correct)
    assert correct.float().mean().item() == pytest.approx(record["final"]["test_acc"])
    assert (record["test_loss_fp32"], record["test_acc_fp32"]) == evaluate(
        model, data, device="cpu", autocast=False
    )
    assert record["fp32_original"] == {k: old[k] for k in ("sha256", "test_acc_fp32", "test_loss_fp32")}
    # the same as ship_net writes today, byte for byte
    assert record["sha256"] == shipped[2]["sha256"]
    # idempotent: a second call finds it done and touches nothing
    files = {p.name: p.read_bytes() for p in folder.iterdir()}
    assert tool.main(argv) == 0
    assert "1 shipped net(s) were in their final form already" in capsys.readouterr().out
    assert {p.name: p.read_bytes() for p in folder.iterdir()} == files


def test_repack_stopped_between_record_and_weights_is_finished_by_the_next_call(
    shipped_fp32, monkeypatch, capsys
):
    folder, tool, old, _ = shipped_fp32
    if not BF16_HERE:
        pytest.skip("the conversion may be refused outside bf16 autocast")
    original_write = tool.write_atomically

    def stopped(path, write):
        raise KeyboardInterrupt  # stopped after the record was written, before the weights

    monkeypatch.setattr(tool, "write_atomically", stopped)
    with pytest.raises(KeyboardInterrupt):
        tool.main(["--repack", "--out", str(folder)])
    half = load_record("resnet8", folder)
    assert half["sha256"] != old["sha256"] and half["fp32_original"]["sha256"] == old["sha256"]
    with pytest.raises(BadReference, match="altered or damaged"):
        load_net("resnet8", folder)  # not loaded half-converted
    monkeypatch.setattr(tool, "write_atomically", original_write)
    assert tool.main(["--repack", "--out", str(folder)]) == 0
    assert "weights stored in bf16" in capsys.readouterr().out
    done = load_record("resnet8", folder)
    assert done == half  # the record the first call wrote, now with its weights
    load_net("resnet8", folder)


def test_repack_refuses_bf16_weights_that_change_a_score(shipped_fp32, capsys):
    folder, tool, old, _ = shipped_fp32
    record = dict(old)
    data = synthetic(128, 64, seed=1)
    right = correct_per_image(load_net("resnet8", folder), data, device="cpu")
    record["test_correct"] = pack_correct(~right)  # as if these were the training's scores
    (folder / "resnet8-seed0.json").write_text(json.dumps(record))
    files = {p.name: p.read_bytes() for p in folder.iterdir()}
    assert tool.main(["--repack", "--out", str(folder)]) == 1
    assert "would change 64 test images' scores here: left in fp32" in capsys.readouterr().out
    assert {p.name: p.read_bytes() for p in folder.iterdir()} == files


def test_repack_leaves_weights_that_match_no_hash_it_knows(shipped_fp32, capsys):
    """A net being written (or altered) is not touched."""
    folder, tool, _, weights = shipped_fp32
    weights["fc.bias"] += 1
    save_tensors(folder / "resnet8-seed0.pt", weights)
    files = {p.name: p.read_bytes() for p in folder.iterdir()}
    assert tool.main(["--repack", "--out", str(folder)]) == 1
    assert "neither the sha256 its record states nor its fp32 original's" in capsys.readouterr().out
    assert {p.name: p.read_bytes() for p in folder.iterdir()} == files


def test_every_shipped_net_stores_its_conv_and_linear_weights_in_bf16_and_the_rest_in_fp32():
    """Half the download for every Colab install (``tools/train_references.py --repack``)."""
    for name in available():
        for seed in shipped_seeds(name):
            path = shipped_folder() / f"{name}-seed{seed}.pt"
            assert stored_dtypes(path, load_net(name, seed=seed)) == {
                "conv/linear": {torch.bfloat16},
                "rest": {torch.float32},
            }, (name, seed)


def test_every_shipped_net_carries_its_per_image_test_scores():
    for name in available():
        for seed in shipped_seeds(name):
            record = load_record(name, seed=seed)
            correct = unpack_correct(record.get("test_correct"))
            assert correct is not None and len(correct) == 10_000, (name, seed)
            assert correct.sum().item() == round(record["final"]["test_acc"] * 10_000), (name, seed)


def test_a_shipped_net_rescored_here_gets_the_same_images_right(real_cifar10_dir):
    data = load_cifar10(real_cifar10_dir, download=False)
    record = load_record("resnet20")
    recorded = unpack_correct(record["test_correct"])
    here = correct_per_image(load_net("resnet20"), data, device="cpu")
    differ = (here != recorded).sum().item()
    if precision_name(autocast_dtype(torch.device("cpu"))) == record["precision"]:
        assert differ == 0  # scored in the training's number format: image for image
    else:
        # another format (fp32 on a CPU without bf16, or fp16) rounds borderline images the
        # other way, both ways: 28 of 10,000 in fp32 on the bf16 development CPU
        assert differ <= 100
        assert abs(here.float().mean().item() - record["final"]["test_acc"]) <= 0.002
