"""The step time of Figure 3 as a difference of two fits, on a fake clock (no timed assertion)."""

import inspect

import numpy as np
import pytest

from llu_core import LLUClassifier
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
