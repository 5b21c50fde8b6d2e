"""GDA: its head is the LDA solution with its shrinkage, its new classes come from their texts' neighbours."""

import math

import numpy as np
import pytest
import torch
from sklearn.discriminant_analysis import LinearDiscriminantAnalysis

from llu_core import GDAClassifier, ZeroShotClassifier, embed_dataset, evaluate_base_to_new
from llu_core.estimators.gda import ALPHA_GRID, FALLBACK_ALPHA, shrunk_precision
from synthetic import random_unit, shifted_domain_task, unit_rows


def two_gaussians(n=40, dim=6, seed=0):
    """Two classes of unit embeddings around two directions, and two text embeddings."""
    rng = np.random.default_rng(seed)
    centres = unit_rows(rng.normal(size=(2, dim)))
    y = np.repeat([0, 1], n)
    X = unit_rows(centres[y] + 0.3 * rng.normal(size=(2 * n, dim)))
    return X, y, unit_rows(centres + 0.5 * rng.normal(size=(2, dim)))


@pytest.mark.parametrize("m", [5, 40])  # fewer samples than dimensions (Woodbury), and more
def test_shrunk_precision_is_eq4(m):
    A = np.random.default_rng(1).normal(size=(m, 12))
    scatter_trace = (A ** 2).sum() / (m - 1)  # tr(S) with S = AᵀA / (m − 1)
    expected = 12 * np.linalg.pinv(A.T @ A + scatter_trace * np.eye(12))
    np.testing.assert_allclose(shrunk_precision(torch.from_numpy(A)).numpy(), expected, rtol=1e-9, atol=1e-12)
    assert not shrunk_precision(torch.zeros(3, 12, dtype=torch.float64)).any()  # pinv(0) = 0


def test_head_is_lda_with_the_same_shrinkage():
    X, y, T = two_gaussians()
    n, d = X.shape
    gda = GDAClassifier(alpha=1.0).fit(X, y, T)
    # GDA's Σ = (ZᵀZ + tr(S) I) / d with S = ZᵀZ / (n − 1), Z the deviations from the class means.
    # scikit-learn's shrunk Σ_s = (1 − s) ZᵀZ / n + s tr(ZᵀZ / n) / d · I (equal priors), so
    # Σ = c · Σ_s with c(1 − s) = n / d and c · s = n / (n − 1).
    c = n / d + n / (n - 1)
    lda = LinearDiscriminantAnalysis(solver="lsqr", shrinkage=(n / (n - 1)) / c).fit(X.astype(np.float64), y)
    coef, intercept = gda.coef_.double().numpy(), gda.intercept_.double().numpy()
    # Two classes: scikit-learn keeps w_1 − w_0 and b_1 − b_0 (the equal log priors cancel).
    np.testing.assert_allclose(coef[1] - coef[0], lda.coef_[0] / c, rtol=1e-4)
    np.testing.assert_allclose(intercept[1] - intercept[0], lda.intercept_[0] / c, rtol=1e-4)
    # The scores: zero-shot logits plus α (xᵀw + b + log ½).
    zero_shot = 100.0 * X @ T.T
    expected = zero_shot + 1.0 * (X @ coef.T + intercept + math.log(0.5))
    np.testing.assert_allclose(gda.decision_function(X, T), expected, rtol=1e-4, atol=1e-3)


def test_head_by_hand_on_three_points():
    # Two classes in 2-D (not unit-norm on purpose: rows are normalised first, so pick unit rows).
    X = unit_rows([[1.0, 0.0], [0.8, 0.6], [0.0, 1.0], [0.6, 0.8]])
    y = np.array([0, 0, 1, 1])
    means = np.stack([X[:2].mean(0), X[2:].mean(0)])
    Z = X - means[y]
    precision = 2 * np.linalg.inv(Z.T @ Z + (Z ** 2).sum() / 3 * np.eye(2))
    gda = GDAClassifier(alpha=0.5).fit(X, y, np.eye(2))
    np.testing.assert_allclose(gda.coef_.numpy(), means @ precision, rtol=1e-5)
    np.testing.assert_allclose(gda.intercept_.numpy(), -0.5 * np.einsum("kd,de,ke->k", means, precision, means),
                               rtol=1e-5)


def test_alpha_zero_is_zero_shot_and_alpha_is_chosen_from_the_grid():
    task = shifted_domain_task()
    T_base = task.T[task.base]
    zero_shot = ZeroShotClassifier().fit(task.X_train, task.y_train, T_base)
    off = GDAClassifier(alpha=0.0).fit(task.X_train, task.y_train, T_base)
    np.testing.assert_allclose(off.decision_function(task.X_test, task.T), zero_shot.decision_function(task.X_test, task.T),
                               atol=1e-4)
    chosen = GDAClassifier().fit(task.X_train, task.y_train, T_base)
    assert chosen.alpha_ in ALPHA_GRID
    base = np.isin(task.y_test, task.base)
    assert chosen.score(task.X_test[base], task.y_test[base], T_base) > zero_shot.score(
        task.X_test[base], task.y_test[base], T_base) + 0.3
    # One shot per class: nothing to hold out, the code's starting α; no spread, so the head vanishes.
    one_shot = GDAClassifier().fit(task.X_train[::16], task.y_train[::16], T_base)
    assert one_shot.alpha_ == FALLBACK_ALPHA and not one_shot.coef_.any()


def test_new_classes_come_from_their_texts_and_nearest_features():
    X, y, T = two_gaussians(n=10, dim=8)
    gda = GDAClassifier(alpha=1.0, n_neighbours=3, text_weight=2.0).fit(X, y, T)
    new = random_unit(2, 8, seed=3)
    coef, intercept = gda.new_class_head(torch.from_numpy(new))
    # By hand: each new class averages its 3 nearest features with 2 copies of its text; the precision
    # is Eq. 4 on the neighbours' deviations from the text, averaged over the two new classes.
    means, precisions = [], []
    for t in new:
        neighbours = X[np.argsort(-(X @ t))[:3]]
        means.append((neighbours.sum(0) + 2.0 * t) / 5.0)
        A = neighbours - t
        precisions.append(8 * np.linalg.inv(A.T @ A + (A ** 2).sum() / 2 * np.eye(8)))
    means, precision = np.array(means), np.mean(precisions, axis=0)
    np.testing.assert_allclose(coef.numpy(), means @ precision, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(intercept.numpy(), -0.5 * np.einsum("kd,de,ke->k", means, precision, means),
                               rtol=1e-4)
    # Scoring: the seen classes keep their own head inside a mixed T; unseen ones get the synthesised one.
    mixed = np.vstack([T, new])
    scores = gda.decision_function(X, mixed)
    head = X @ np.vstack([gda.coef_.numpy(), coef.numpy()]).T + np.concatenate([gda.intercept_, intercept])
    np.testing.assert_allclose(scores, 100.0 * X @ mixed.T + head + math.log(1 / 4), rtol=1e-4, atol=1e-3)


def test_beats_zero_shot_on_offline_cifar10_base_classes():
    data = embed_dataset("offline", "cifar10", train_per_class=50, test_per_class=100, progress=False)
    runs = {name: evaluate_base_to_new(model, data.train_X, data.train_y, data.test_X, data.test_y, data.text, 16, 1)
            for name, model in (("zero_shot", ZeroShotClassifier()), ("gda", GDAClassifier()))}
    assert runs["gda"]["base"] > runs["zero_shot"]["base"] + 5.0
    assert runs["gda"]["new"] >= runs["zero_shot"]["new"] - 2.0


@pytest.mark.parametrize("params, message", [({"alpha": -1.0}, "alpha"), ({"n_neighbours": 0}, "n_neighbours"),
                                             ({"text_weight": float("nan")}, "text_weight"),
                                             ({"n_folds": 1}, "n_folds")])
def test_bad_hyperparameters_are_named(params, message):
    X, y, T = two_gaussians()
    with pytest.raises(ValueError, match=message):
        GDAClassifier(**params).fit(X, y, T)
