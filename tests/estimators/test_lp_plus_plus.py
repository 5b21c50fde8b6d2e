"""LP++: its closed-form step sizes and start on a hand-computed case, zero-shot scores for new
classes, and a gain over zero-shot CLIP on the offline CIFAR-10 base classes."""

import math

import numpy as np
import pytest
import torch

from llu_core import LPPlusPlusClassifier, ZeroShotClassifier, embed_dataset, evaluate_base_to_new, fit_on_base
from llu_core.estimators.lp_plus_plus import lp_plus_plus_start, lp_plus_plus_step_sizes

R = 1 / math.sqrt(2)
# Three unit rows in the plane, two classes whose text embeddings are the axes.
X = torch.tensor([[1.0, 0.0], [0.0, 1.0], [R, R]])
Y = torch.tensor([0, 1, 0])
T = torch.eye(2)


def test_step_sizes_are_the_closed_forms_on_a_tiny_case():
    # FᵀF = [[1.5, 0.5], [0.5, 1.5]]: λ_max = 2, so η_w = 4N / λ_max = 4 · 3 / 2 = 6.
    # Σ_i (f_iᵀ t_k)² = 1 + 0 + 1/2 = 1.5 for both classes, so η_α = N / (4 · 1.5) = 0.5.
    prototype_step, blending_step = lp_plus_plus_step_sizes(X, T)
    assert prototype_step == pytest.approx(6.0, rel=1e-6)
    assert blending_step == pytest.approx(0.5, rel=1e-6)


def test_start_is_the_class_sums_and_the_scaled_mean_own_similarity():
    prototypes, alpha = lp_plus_plus_start(X, Y, T, alpha_init_factor=250.0)
    np.testing.assert_allclose(prototypes.numpy(), [[1 + R, R], [0.0, 1.0]], rtol=1e-6)
    # Class 0's own similarities are 1 and 1/√2, class 1's is 1: α⁰ = 250 · mean((1 + 1/√2) / 2, 1).
    assert alpha == pytest.approx(250.0 * ((1 + R) / 2 + 1.0) / 2, rel=1e-6)


def test_without_steps_the_scores_are_those_of_the_start():
    model = LPPlusPlusClassifier(epochs=3, step_scale=0.0).fit(X, Y, T)
    alpha = 250.0 * ((1 + R) / 2 + 1.0) / 2
    weights = np.array([[1 + R, R], [0.0, 1.0]]) + alpha * np.eye(2)  # w_k + α t_k, bias 0
    np.testing.assert_allclose(model.decision_function(X, T), X.numpy() @ weights.T, rtol=1e-5)
    assert model.prototype_step_ == pytest.approx(6.0, rel=1e-6)


def test_training_lowers_the_loss_and_is_deterministic():
    # A small α⁰ keeps the tiny case away from a loss of 0, where every gradient vanishes.
    first = LPPlusPlusClassifier(epochs=30, alpha_init_factor=1.0).fit(X, Y, T)
    second = LPPlusPlusClassifier(epochs=30, alpha_init_factor=1.0).fit(X, Y, T)
    assert len(first.loss_history_) == 30 and first.loss_history_[-1] < first.loss_history_[0]
    np.testing.assert_array_equal(first.decision_function(X, T), second.decision_function(X, T))
    # α took its steps (iterations 10, 20, 30), one value per class.
    alpha = (1 + R) / 2 / 2 + 0.5
    assert first.blending_.shape == (2,) and not np.allclose(first.blending_.numpy(), alpha)


def test_bad_input_is_refused_with_the_argument_named():
    with pytest.raises(ValueError, match="step_scale"):
        LPPlusPlusClassifier(step_scale=-1.0).fit(X, Y, T)
    with pytest.raises(ValueError, match="alpha_interval"):
        LPPlusPlusClassifier(alpha_interval=0).fit(X, Y, T)
    with pytest.raises(ValueError, match="at least two classes"):
        LPPlusPlusClassifier().fit(X, torch.zeros(3, dtype=torch.int64), T)


@pytest.fixture(scope="module")
def cifar10():
    return embed_dataset("offline", "cifar10", train_per_class=50, test_per_class=100, progress=False)


def test_new_classes_are_scored_as_zero_shot_clip(cifar10):
    model = fit_on_base(LPPlusPlusClassifier(), cifar10.train_X, cifar10.train_y, cifar10.text, 16, 1)
    T_all = np.asarray(cifar10.text, dtype=np.float32)
    new = T_all[5:]
    zero_shot = ZeroShotClassifier().fit(cifar10.train_X, cifar10.train_y, T_all)
    # For a class without a prototype the logit is ᾱ fᵀt: zero-shot's scores up to a positive scale.
    scores = model.decision_function(cifar10.test_X, new)
    expected = float(model.blending_.mean()) / 100.0 * zero_shot.decision_function(cifar10.test_X, new)
    np.testing.assert_allclose(scores, expected, rtol=1e-4, atol=1e-4)
    np.testing.assert_array_equal(model.predict(cifar10.test_X, new), zero_shot.predict(cifar10.test_X, new))
    # Among all ten classes, the base classes keep the scores they have among themselves.
    np.testing.assert_allclose(model.decision_function(cifar10.test_X, T_all)[:, :5],
                               model.decision_function(cifar10.test_X, T_all[:5]), rtol=1e-5, atol=1e-4)


def test_beats_zero_shot_on_the_base_classes_of_cifar10_at_16_shots(cifar10):
    data = (cifar10.train_X, cifar10.train_y, cifar10.test_X, cifar10.test_y, cifar10.text)
    for seed in (1, 2, 3):
        zero_shot = evaluate_base_to_new(ZeroShotClassifier(), *data, shots=16, seed=seed)
        lp = evaluate_base_to_new(LPPlusPlusClassifier(), *data, shots=16, seed=seed)
        assert lp["base"] > zero_shot["base"] + 5.0, (seed, lp, zero_shot)
        assert lp["new"] == zero_shot["new"]
