"""ProKeR: its closed form, its limits in λ, zero-shot on new classes, and its choice of β and λ."""

import numpy as np
import pytest
import torch

from llu_core import ProKeRClassifier, ZeroShotClassifier, embed_dataset, evaluate_base_to_new
from llu_core.estimators.proker import BETA_GRID, FALLBACK, LAM_GRID, residual_coefficients
from llu_core.method.locality import kernel
from synthetic import random_unit, shifted_domain_task


@pytest.fixture(scope="module")
def task():
    return shifted_domain_task()


def residuals_of(X, y, T):
    """One-hot labels minus the zero-shot cosines of the shots: what the regression fits."""
    return np.eye(T.shape[0])[y] - X @ T.T


def test_scores_are_the_closed_form():
    X, T = random_unit(12, 8, seed=0), random_unit(3, 8, seed=1)
    y = np.arange(12) % 3
    beta, lam = 2.0, 0.3
    K = np.exp(-beta * (1.0 - X @ X.T))
    A = np.linalg.solve(K / lam + np.eye(12), residuals_of(X, y, T))  # (K/λ + I) A = Y − f₀(S)
    queries = random_unit(5, 8, seed=2)
    expected = queries @ T.T + np.exp(-beta * (1.0 - queries @ X.T)) @ A
    proker = ProKeRClassifier(beta=beta, lam=lam, logit_scale=10.0).fit(X, y, T)
    np.testing.assert_allclose(proker.dual_coef_.numpy(), A, rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(proker.decision_function(queries, T), 10.0 * expected, rtol=1e-4, atol=1e-5)


def test_residual_fit_interpolates_as_lambda_goes_to_zero_and_caches_residuals_as_it_grows():
    X = torch.from_numpy(random_unit(20, 16, seed=4)).double()
    R = torch.from_numpy(np.random.default_rng(5).normal(size=(20, 3)))
    K = kernel(X, X, 5.0)
    gaps = [float((K @ residual_coefficients(K, R, lam) / lam - R).abs().max()) for lam in (1e-1, 1e-3, 1e-6)]
    assert gaps[0] > gaps[1] > gaps[2] and gaps[2] < 1e-4  # K A / λ: the ridge regression of R, ridge λ
    torch.testing.assert_close(residual_coefficients(K, R, 1e8), R, rtol=0.0, atol=1e-5)  # A → Y − f₀(S)
    many = residual_coefficients(K, R, [1e-3, 1.0])
    torch.testing.assert_close(many[1], torch.linalg.solve(K + torch.eye(20, dtype=K.dtype), R))


def test_vanishing_lambda_or_a_far_kernel_leaves_zero_shot(task):
    T_base = task.T[task.base]
    zero_shot = ZeroShotClassifier().fit(task.X_train, task.y_train, T_base).decision_function(task.X_test, T_base)
    tiny = ProKeRClassifier(beta=1.0, lam=1e-9).fit(task.X_train, task.y_train, T_base)
    np.testing.assert_allclose(tiny.decision_function(task.X_test, T_base), zero_shot, atol=1e-4)
    # A very concentrated kernel sees nothing but the shots themselves: test images keep zero-shot scores.
    sharp = ProKeRClassifier(beta=1e4, lam=1.0).fit(task.X_train, task.y_train, T_base)
    np.testing.assert_allclose(sharp.decision_function(task.X_test, T_base), zero_shot, atol=1e-4)


def test_new_classes_keep_zero_shot_scores_seen_ones_are_corrected(task):
    proker = ProKeRClassifier().fit(task.X_train, task.y_train, task.T[task.base])
    plain = ZeroShotClassifier().fit(task.X_train, task.y_train, task.T[task.base]).decision_function(task.X_test,
                                                                                                         task.T)
    mixed = proker.decision_function(task.X_test, task.T)
    np.testing.assert_allclose(mixed[:, task.new], plain[:, task.new], atol=1e-4)
    assert not np.allclose(mixed[:, task.base], plain[:, task.base], atol=1e-2)
    base = np.isin(task.y_test, task.base)
    X_base, y_base = task.X_test[base], task.y_test[base]
    assert proker.score(X_base, y_base, task.T[task.base]) > ZeroShotClassifier().fit(
        task.X_train, task.y_train, task.T[task.base]).score(X_base, y_base, task.T[task.base]) + 0.3


def test_beta_and_lambda_come_from_the_grid_or_the_fallback(task):
    T_base = task.T[task.base]
    searched = ProKeRClassifier().fit(task.X_train, task.y_train, T_base)
    assert searched.beta_ in BETA_GRID and searched.lam_ in LAM_GRID
    half = ProKeRClassifier(beta=2.0).fit(task.X_train, task.y_train, T_base)
    assert half.beta_ == 2.0 and half.lam_ in LAM_GRID
    one_shot = ProKeRClassifier(lam=0.5).fit(task.X_train[::16], task.y_train[::16], T_base)
    assert (one_shot.beta_, one_shot.lam_) == (FALLBACK[0], 0.5)
    # The same seed deals the same folds; the search is deterministic.
    again = ProKeRClassifier().fit(task.X_train, task.y_train, T_base)
    assert (again.beta_, again.lam_) == (searched.beta_, searched.lam_)


def test_beats_zero_shot_on_offline_cifar10_base_classes():
    data = embed_dataset("offline", "cifar10", train_per_class=50, test_per_class=100, progress=False)
    runs = {name: evaluate_base_to_new(model, data.train_X, data.train_y, data.test_X, data.test_y, data.text, 16, 1)
            for name, model in (("zero_shot", ZeroShotClassifier()), ("proker", ProKeRClassifier()))}
    assert runs["proker"]["base"] > runs["zero_shot"]["base"] + 5.0
    assert runs["proker"]["new"] == runs["zero_shot"]["new"]


@pytest.mark.parametrize("params, message", [({"beta": -1.0}, "beta"), ({"lam": 0.0}, "lam"),
                                             ({"n_folds": 1}, "n_folds"), ({"logit_scale": 0.0}, "logit_scale")])
def test_bad_hyperparameters_are_named(task, params, message):
    with pytest.raises(ValueError, match=message):
        ProKeRClassifier(**params).fit(task.X_train, task.y_train, task.T[task.base])
