"""Made-up runs for tests of what is computed from histories."""

from resnet_utils.training.runs import Run


def fake_run(train_loss, test_acc, *, seed=0, name="resnet20", diverged=False, epochs=3):
    """A Run with a made-up history that ends at the given values."""
    history = {
        "epoch": list(range(1, epochs + 1)),
        "train_loss": [train_loss + 0.1 * (epochs - e) for e in range(1, epochs + 1)],
        "test_acc": [test_acc - 0.01 * (epochs - e) for e in range(1, epochs + 1)],
        "seconds": [2.0] * epochs,
        "diverged": diverged,
        "diverged_epoch": 2 if diverged else None,
    }
    if diverged:
        history["epoch"], history["train_loss"], history["test_acc"] = [1], [2.2], [0.1]
    spec = {"seed": seed}
    return Run(name, spec, history, None, from_cache=False)


def interrupt_in_epoch(monkeypatch, epoch: int) -> None:
    """Make the test-set evaluation of ``epoch`` raise KeyboardInterrupt (a Ctrl-C mid-run),
    so that a run stops after ``epoch - 1`` finished epochs and their checkpoint."""
    from resnet_utils.training import loop as train_module

    real = train_module.evaluate
    calls = {"n": 0}

    def evaluate(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == epoch:
            raise KeyboardInterrupt
        return real(*args, **kwargs)

    monkeypatch.setattr(train_module, "evaluate", evaluate)
