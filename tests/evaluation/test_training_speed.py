"""The step time of Figure 3 as a difference of two fits, on a fake clock (no timed assertion)."""

import inspect

import numpy as np
import pytest

from llu_core import LLUClassifier
from llu_core.estimators.prompt_learners import CoCoOpClassifier
from llu_core.evaluation import training_speed


@pytest.fixture
def task():
    rng = np.random.default_rng(0)
    return rng.normal(size=(8, 4)), np.arange(8) % 2, rng.normal(size=(2, 4))


def fake_clock(monkeypatch, seconds_for_epochs):
    """Time every fit as ``seconds_for_epochs(its epochs)`` instead of running it."""
    monkeypatch.setattr(training_speed, "best_seconds",
                        lambda fit, repeats: seconds_for_epochs(inspect.getclosurevars(fit).nonlocals["epochs"]))


def test_a_step_is_the_difference_of_two_fits_per_step(task, monkeypatch):
    fake_clock(monkeypatch, lambda epochs: 0.3 + 0.02 * epochs)  # set-up 0.3 s, 20 ms an epoch of one batch
    assert training_speed.step_seconds(LLUClassifier(), *task, batch_size=4, steps=5) == pytest.approx(0.02)


def test_a_difference_lost_in_noise_is_retried_then_reported_as_zero(task, monkeypatch):
    epochs_timed = []
    fake_clock(monkeypatch, lambda epochs: epochs_timed.append(epochs) or 1.0)  # longer fits never take longer
    assert training_speed.step_seconds(LLUClassifier(), *task, batch_size=4, steps=2, warm_up=False) == 0.0
    assert epochs_timed == [1, 3, 5, 9]  # one epoch, then 1 + 2, 1 + 4 and 1 + 8 steps


def test_training_speed_records_table_and_figure(offline_cifar10):
    data = offline_cifar10
    import matplotlib.pyplot as plt

    from llu_core.estimators import CLIPAdapterClassifier
    from llu_core.report.plots import plot_training_speed
    from llu_core.evaluation.training_speed import measure_training_speed
    from llu_core.report.tables import format_speed_table

    methods = {"llu": LLUClassifier(), "clip_adapter": CLIPAdapterClassifier(), "cocoop": CoCoOpClassifier()}
    records = measure_training_speed(data.train_X, data.train_y, data.text, [1, 2], methods=methods, steps=1,
                                     progress=False)
    # CoCoOp is timed at batch 1 only, as in the paper's Figure 3.
    assert [(r["method"], r["batch_size"]) for r in records] == [("llu", 1), ("clip_adapter", 1), ("cocoop", 1),
                                                                  ("llu", 2), ("clip_adapter", 2)]
    assert all(r["classes"] == 10 and r["encode_s"] == 0.0 and r["total_s"] == r["step_s"] for r in records)
    table = format_speed_table([dict(r, total_s=max(r["total_s"], 1e-6)) for r in records])
    assert table.splitlines()[0] == "| classes | batch | LLU | CLIP-Adapter | CoCoOp |"
    assert table.splitlines()[3].endswith("\u00a0(1.00×) | – |")  # batch 2: CLIP-Adapter is the reference, no CoCoOp
    fig = plot_training_speed([dict(r, setting=s) for r in records for s in ("a", "b")])
    assert [ax.get_title() for ax in fig.axes] == ["a, 10 classes", "b, 10 classes"]
    plt.close(fig)
