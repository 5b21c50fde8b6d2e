"""CLAP: its class-adaptive penalty weights on a hand-computed case, zero-shot CLIP before any
step and on new classes, the penalty holding the prototypes, and a gain over zero-shot CLIP on
the offline CIFAR-10 base classes."""

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from llu_core import CLAPClassifier, ZeroShotClassifier, embed_dataset, evaluate_base_to_new, fit_on_base
from llu_core.estimators.clap import class_adaptive_penalty_weights

R = 1 / math.sqrt(2)
# Three unit rows in the plane, two classes whose text embeddings are the axes.
X = torch.tensor([[1.0, 0.0], [0.0, 1.0], [R, R]])
Y = torch.tensor([0, 1, 0])
T = torch.eye(2)


def test_penalty_weights_follow_the_formula_on_a_tiny_case():
    # At logit scale 2, row (1, 0) has logits (2, 0): p = e²/(e² + 1); row (1/√2, 1/√2) ties: p = 1/2.
    confident = math.exp(2) / (math.exp(2) + 1)
    expected = [(confident + 0.5) / 2, confident]  # class 0: the mean over its two rows; class 1: one row
    np.testing.assert_allclose(class_adaptive_penalty_weights(X, Y, T, logit_scale=2.0).numpy(), expected, rtol=1e-6)
    model = CLAPClassifier(logit_scale=2.0, epochs=1).fit(X, Y, T)
    np.testing.assert_allclose(model.penalty_weights_.numpy(), expected, rtol=1e-6)


def test_before_any_step_clap_is_zero_shot_clip():
    model = CLAPClassifier(lr=0.0, epochs=2).fit(X, Y, T)
    zero_shot = ZeroShotClassifier().fit(X, Y, T)
    np.testing.assert_allclose(model.decision_function(X, T), zero_shot.decision_function(X, T), atol=1e-4)
    np.testing.assert_allclose(model.prototypes_.numpy(), model.prototype_norm * T.numpy(), atol=1e-6)


def test_bad_input_is_refused_with_the_argument_named():
    with pytest.raises(ValueError, match="prototype_norm"):
        CLAPClassifier(prototype_norm=0.0).fit(X, Y, T)
    with pytest.raises(ValueError, match="penalty_scale"):
        CLAPClassifier(penalty_scale=-1.0).fit(X, Y, T)


@pytest.fixture(scope="module")
def cifar10():
    return embed_dataset("offline", "cifar10", train_per_class=50, test_per_class=100, progress=False)


def drift(model):
    """The mean distance of the learned prototype directions from their text embeddings."""
    return float((F.normalize(model.prototypes_, dim=1) - model.class_embeddings_).norm(dim=1).mean())


def test_a_heavier_penalty_holds_the_prototypes_nearer_their_text(cifar10):
    fits = {scale: fit_on_base(CLAPClassifier(penalty_scale=scale), cifar10.train_X, cifar10.train_y, cifar10.text,
                               16, 1) for scale in (0.0, 1.0, 50.0)}
    assert drift(fits[0.0]) > drift(fits[1.0]) > drift(fits[50.0])
    assert drift(fits[50.0]) < 0.1 * drift(fits[0.0])


def test_new_classes_are_scored_by_their_text_prototypes(cifar10):
    model = fit_on_base(CLAPClassifier(), cifar10.train_X, cifar10.train_y, cifar10.text, 16, 1)
    T_all = np.asarray(cifar10.text, dtype=np.float32)
    zero_shot = ZeroShotClassifier().fit(cifar10.train_X, cifar10.train_y, T_all)
    mixed, plain = model.decision_function(cifar10.test_X, T_all), zero_shot.decision_function(cifar10.test_X, T_all)
    np.testing.assert_allclose(mixed[:, 5:], plain[:, 5:], atol=1e-4)  # the new half: zero-shot's scores
    assert np.abs(mixed[:, :5] - plain[:, :5]).max() > 1.0  # the base half: the learned prototypes


def test_beats_zero_shot_on_the_base_classes_of_cifar10_at_16_shots(cifar10):
    data = (cifar10.train_X, cifar10.train_y, cifar10.test_X, cifar10.test_y, cifar10.text)
    for seed in (1, 2, 3):
        zero_shot = evaluate_base_to_new(ZeroShotClassifier(), *data, shots=16, seed=seed)
        clap = evaluate_base_to_new(CLAPClassifier(), *data, shots=16, seed=seed)
        assert clap["base"] > zero_shot["base"] + 3.0, (seed, clap, zero_shot)
        assert clap["new"] == zero_shot["new"]
