"""The shared fitting loop and CoOp's schedule (llu_core.method.training), and the watch that stops a
fit whose loss or weights run away."""

import numpy as np
import pytest
import torch

from llu_core import CLIPAdapterClassifier, LLUClassifier, embed_dataset
from llu_core.method.training import (LOSS_GROWTH_LIMIT, WEIGHT_GROWTH_LIMIT, DivergenceWatch, coop_epochs,
                                     coop_optimizer, coop_schedule, minimise, training_epochs)
from synthetic import small_problem

X, y, T = small_problem()


# --- CoOp's epochs and schedule -------------------------------------------------------------------


def test_coop_epochs_per_shot_count():
    assert [coop_epochs(s) for s in (1, 2, 4, 8, 16)] == [50, 100, 100, 200, 200]
    with pytest.raises(ValueError):
        coop_epochs(0)


def test_training_epochs_set_then_published_then_coops_for_the_fewest_shots():
    y = np.array([0, 0, 1, 1, 1, 1, 2, 2])  # the fewest: 2 per class
    assert training_epochs(7, y, default=30) == 7
    assert training_epochs(None, y, default=30) == 30
    assert training_epochs(None, y) == training_epochs(None, torch.as_tensor(y)) == coop_epochs(2) == 100


def test_coop_schedule_warms_up_then_decays_by_cosine():
    parameter = torch.nn.Parameter(torch.zeros(1))
    optimizer = coop_optimizer([parameter], lr=0.002)
    schedule = coop_schedule(optimizer, epochs=5, steps_per_epoch=2)
    rates = []
    for _ in range(10):
        rates.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        schedule.step()
    assert rates[0] == rates[1] == pytest.approx(1e-5)
    assert rates[2] == pytest.approx(0.002)
    assert rates[2] > rates[4] > rates[6] > rates[8] > 0


# --- The fitting loop -----------------------------------------------------------------------------


def test_minimise_lowers_a_quadratic_loss_and_is_seeded():
    target = torch.linspace(-1, 1, 20)

    def run(seed):
        weight = torch.nn.Parameter(torch.zeros(1))
        history = minimise(lambda i: ((weight - target[i]) ** 2 + (weight - 3.0) ** 2).mean(),
                           coop_optimizer([weight], lr=0.05), 20, epochs=10, batch_size=4, seed=seed)
        return history, weight.item()

    history, weight = run(0)
    assert len(history) == 10 and history[-1] < history[0]
    assert run(0) == (history, weight)


# --- A fit that diverges raises instead of returning a model --------------------------------------


def test_the_watch_stops_a_loss_that_grows_far_beyond_its_start():
    watch = DivergenceWatch("LLU", initial_size=22.6, hyperparameters={"lr": 1000.0, "lam": 0.0, "logit_scale": 100.0})
    watch.end_epoch(0, 2.5, 22.6)
    watch.end_epoch(1, 10.0 * 2.5, 30.0)  # up to LOSS_GROWTH_LIMIT times the first epoch's: a spike, not divergence
    with pytest.raises(ValueError, match=r"LLU: training diverged in epoch 3: the mean loss rose to 25.1, from 2.5 "
                                         r"in the first epoch. The hyperparameters lr=1000 and lam=0 and "
                                         r"logit_scale=100 are too large .*; lower them"):
        watch.end_epoch(2, 25.1, 30.0)


@pytest.mark.parametrize("size", [22.6e3 * 1.01, float("nan")])
def test_the_watch_stops_parameters_that_explode(size):
    watch = DivergenceWatch("CLIP-Adapter", initial_size=22.6, hyperparameters={"lr": 100.0})
    watch.end_epoch(0, 1.0, 22.6e3)  # WEIGHT_GROWTH_LIMIT times the initial norm
    with pytest.raises(ValueError, match="CLIP-Adapter: training diverged in epoch 2: the norm of the trained "
                                         "parameters grew to .* lr=100 are too large"):
        watch.end_epoch(1, 0.5, size)
    assert WEIGHT_GROWTH_LIMIT == 1e3 and LOSS_GROWTH_LIMIT == 10.0


def test_minimise_stops_a_fit_whose_loss_grows():
    weight = torch.nn.Parameter(torch.zeros(1))
    # SGD with momentum on (w − 3)² is unstable for lr > 1.9: the loss grows geometrically.
    with pytest.raises(ValueError, match=r"toy: training diverged in epoch \d+: the mean loss rose .* lr=2.5 .* lower"):
        minimise(lambda i: (weight - 3.0).pow(2).sum() + 0.0 * i.sum(), coop_optimizer([weight], lr=2.5), 4, epochs=50,
                 batch_size=2, seed=0, description="toy", hyperparameters={"lr": 2.5})
    assert torch.isfinite(weight).all()  # stopped long before the loss overflowed


# The estimators' fits: before the watch, each returned a model, its loss far above where it started;
# the Linear ablation at lr = 1e3 and CLIP-Adapter at lr = 100 scored below zero-shot on the base classes.
@pytest.mark.parametrize("estimator", [LLUClassifier(lam=1e38, epochs=10), CLIPAdapterClassifier(lr=1e38, epochs=10)],
                         ids=["lam", "lr"])
def test_a_fit_whose_loss_stops_being_finite_raises(estimator):
    with pytest.raises(ValueError, match="training diverged .* lower them"):
        estimator.fit(X, y, T)
    assert not hasattr(estimator, "loss_history_")


@pytest.fixture(scope="module")
def offline_cifar10_training():
    return embed_dataset("offline", "cifar10", train_per_class=50, test_per_class=100, progress=False)


@pytest.mark.parametrize("estimator, named", [
    (LLUClassifier(init="random", mask="global", beta=1.0, lam=0.0, n_clusters=None, lr=1e3),  # the Linear ablation
     r"LLU: training diverged in epoch \d+: .* lr=1000 and lam=0 and logit_scale=100"),
    (CLIPAdapterClassifier(lr=100.0), r"CLIP-Adapter: training diverged .* lr=100 and logit_scale=100"),
], ids=["linear_lr_1e3", "clip_adapter_lr_100"])
def test_a_fit_whose_loss_grows_far_beyond_its_start_raises(offline_cifar10_training, estimator, named):
    from llu_core.estimators.together import fit_together
    from llu_core.evaluation.protocols import base_training_job, fit_on_base

    data = offline_cifar10_training
    with pytest.raises(ValueError, match=named + ".* lower them"):
        fit_on_base(estimator, data.train_X, data.train_y, data.text, 16, 1)
    with pytest.raises(ValueError, match=named):  # LLU models trained together are watched one by one
        fit_together([base_training_job(estimator, data.train_X, data.train_y, data.text, 16, 1)], progress=False)


def test_a_tiny_model_with_lambda_beyond_sgds_stable_range_raises():
    # d = 6: Eq. 6's mean(b²) has curvature 2λ/d, so SGD's step on b is lr · 2λ/d; with momentum 0.9 it
    # is stable below 2 (1 + 0.9) = 3.8.
    LLUClassifier(lam=1e3, epochs=50).fit(X, y, T)  # step 0.67
    with pytest.raises(ValueError, match=r"training diverged in epoch \d+: the mean loss rose .* lam=10000 .* lower"):
        LLUClassifier(lam=1e4, epochs=50).fit(X, y, T)  # step 6.7: b oscillates and grows
