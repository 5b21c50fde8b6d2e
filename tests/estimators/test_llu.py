"""LLU against zero-shot, its state after a fit, and Table 4's ablations."""

import numpy as np
import pytest
import torch

from llu_core.estimators import ABLATIONS, LLUClassifier, ZeroShotClassifier
from llu_core.method.defaults import BETA, GAMMA, LAM, N_CLUSTERS
from synthetic import random_unit, shifted_domain_task


@pytest.fixture(scope="module")
def task():
    return shifted_domain_task()


def _split(task, classes):
    rows = np.isin(task.y_test, classes)
    return task.X_test[rows], np.searchsorted(classes, task.y_test[rows]), task.T[classes]


@pytest.fixture(scope="module")
def fitted_llu(task):
    return LLUClassifier(epochs=50).fit(task.X_train, task.y_train, task.T[task.base])


def test_identity_adapters_score_like_zero_shot(task):
    # lr = 0 keeps the identity initialisation: before any update LLU is zero-shot CLIP.
    llu = LLUClassifier(lr=0.0, epochs=1).fit(task.X_train, task.y_train, task.T[task.base])
    zero_shot = ZeroShotClassifier().fit(task.X_train, task.y_train, task.T[task.base])
    np.testing.assert_allclose(llu.decision_function(task.X_test, task.T), zero_shot.decision_function(task.X_test, task.T),
                               atol=1e-4)
    assert llu.identity_distance_ == 0.0


def test_llu_beats_zero_shot_on_base_and_keeps_new_classes(task, fitted_llu):
    zero_shot = ZeroShotClassifier().fit(task.X_train, task.y_train, task.T[task.base])
    base, new = _split(task, task.base), _split(task, task.new)
    assert fitted_llu.score(*base) >= zero_shot.score(*base) + 0.5
    assert fitted_llu.score(*new) == zero_shot.score(*new)
    # Far from D (γ = 20, distance ≈ 1) the scores themselves are zero-shot's.
    np.testing.assert_allclose(fitted_llu.decision_function(new[0], new[2]), zero_shot.decision_function(new[0], new[2]),
                               atol=1e-3)


def test_training_lowers_loss_and_reports_state(task, fitted_llu):
    assert fitted_llu.n_epochs_ == 50 and len(fitted_llu.loss_history_) == 50
    assert fitted_llu.loss_history_[-1] < 0.5 * fitted_llu.loss_history_[0]
    assert fitted_llu.identity_distance_ > 0
    assert fitted_llu.image_centres_.shape == (len(task.y_train), task.T.shape[1])
    assert fitted_llu.text_centres_.shape == (len(task.base), task.T.shape[1])
    alpha = fitted_llu.local_weight(task.X_train, "image")
    np.testing.assert_allclose(alpha, 0.5, rtol=1e-5)
    assert fitted_llu.local_weight(task.T[task.new], "text").max() < 1e-6
    adapted = fitted_llu.transform_images(task.X_test)
    np.testing.assert_allclose(np.linalg.norm(adapted, axis=1), 1.0, rtol=1e-5)
    np.testing.assert_allclose(fitted_llu.transform_texts(task.T[task.new]), task.T[task.new], atol=1e-5)


def test_large_lambda_keeps_adapters_near_identity(task):
    distances = [LLUClassifier(lam=lam, epochs=10).fit(task.X_train, task.y_train, task.T[task.base]).identity_distance_
                 for lam in (0.0, 1e3, 1e4)]
    assert distances[0] > distances[1] > distances[2]
    assert distances[2] < distances[0] / 5


def test_large_gamma_leaves_far_points_at_zero_shot(task):
    llu = LLUClassifier(gamma=1e3, lam=0.0, epochs=20).fit(task.X_train, task.y_train, task.T[task.base])
    zero_shot = ZeroShotClassifier().fit(task.X_train, task.y_train, task.T[task.base])
    far = random_unit(30, task.T.shape[1], seed=9)
    T_new = task.T[task.new]  # the base classes are in D_text, so their embeddings move
    np.testing.assert_allclose(llu.decision_function(far, T_new), zero_shot.decision_function(far, T_new), atol=1e-4)


def test_same_seed_same_result_other_seed_other_batches(task):
    runs = [LLUClassifier(init="random", epochs=3, seed=s).fit(task.X_train, task.y_train, task.T[task.base])
            for s in (4, 4, 5)]
    scores = [run.decision_function(task.X_test, task.T) for run in runs]
    np.testing.assert_array_equal(scores[0], scores[1])
    assert not np.array_equal(scores[0], scores[2])


@pytest.mark.parametrize("name", list(ABLATIONS))
def test_every_ablation_fits_and_predicts(task, name):
    llu = LLUClassifier(**ABLATIONS[name], epochs=2).fit(task.X_train, task.y_train, task.T[task.base])
    predicted = llu.predict(task.X_test, task.T)
    assert predicted.dtype == np.int64 and predicted.shape == task.y_test.shape
    assert np.isfinite(llu.identity_distance_)


def test_ablation_table_is_table4():
    assert list(ABLATIONS) == ["default", "no_cluster", "no_damping", "no_mask", "dirac_mask", "no_reg",
                               "random_init", "linear"]
    assert ABLATIONS["default"] == dict(beta=BETA, gamma=GAMMA, lam=LAM, n_clusters=N_CLUSTERS, mask="local", init="identity")
    assert ABLATIONS["linear"]["mask"] == "global" and ABLATIONS["linear"]["beta"] == 1.0
    assert ABLATIONS["linear"]["lam"] == 0.0 and ABLATIONS["linear"]["init"] == "random"


def test_dirac_mask_leaves_unseen_images_at_zero_shot(task):
    llu = LLUClassifier(**ABLATIONS["dirac_mask"], epochs=20).fit(task.X_train, task.y_train, task.T[task.base])
    assert (llu.local_weight(task.X_test) == 0).all()
    np.testing.assert_allclose(llu.local_weight(task.X_train), 0.5)


def test_linear_ablation_is_a_plain_linear_layer(task):
    llu = LLUClassifier(**ABLATIONS["linear"], epochs=2).fit(task.X_train, task.y_train, task.T[task.base])
    weight, bias = llu.image_adapter_.linear.weight.detach(), llu.image_adapter_.linear.bias.detach()
    expected = torch.nn.functional.normalize(torch.from_numpy(task.X_test) @ weight.T + bias, dim=1)
    np.testing.assert_allclose(llu.transform_images(task.X_test), expected.numpy(), atol=1e-5)
