"""llu_core.evaluation.diagnostics: LLU's update taken apart at test time."""

import copy

import numpy as np
import pytest
import torch

from llu_core import ABLATIONS, LLUClassifier
from llu_core.evaluation.diagnostics import (adapter_side_accuracies, adapter_side_correct, common_shift_accuracies,
                                             image_text_margin, mean_test_weights, shift_shares)
from synthetic import random_unit, shifted_domain_task, unit_rows


@pytest.fixture(scope="module")
def task():
    return shifted_domain_task(seed=3)


@pytest.fixture(scope="module")
def no_mask(task):
    model = LLUClassifier(**{**ABLATIONS["no_mask"], "lam": 0.0}, epochs=30, lr=0.05, seed=1, device="cpu")
    return model.fit(task.X_train, task.y_train, task.T[task.base])


def test_margin_of_perfect_and_of_unrelated_alignment():
    T = np.eye(4, dtype=np.float32)
    y = np.array([0, 1, 2, 3, 3])
    assert image_text_margin(T[y], y, T) == pytest.approx(1.0)  # own cosine 1, all others 0
    X = random_unit(4000, 64, seed=0)
    assert abs(image_text_margin(X, np.arange(4000) % 4, random_unit(4, 64, seed=1))) < 0.01
    with pytest.raises(ValueError, match="at least two"):
        image_text_margin(X[:3], np.zeros(3, dtype=int), random_unit(1, 64, seed=2))


def test_sides_of_an_untrained_update_are_zero_shot(task):
    untrained = LLUClassifier(lr=0.0, epochs=1, device="cpu").fit(task.X_train, task.y_train, task.T[task.base])
    rows = np.isin(task.y_test, task.base)
    sides = adapter_side_accuracies(untrained, task.X_test[rows], task.y_test[rows], task.T[task.base])
    assert len(set(sides.values())) == 1


def test_each_side_alone_is_the_model_with_the_other_adapter_reset(task, no_mask):
    rows = np.isin(task.y_test, task.new)
    X, y, T = task.X_test[rows], task.y_test[rows] - len(task.base), task.T[task.new]
    sides = adapter_side_accuracies(no_mask, X, y, T)
    assert sides["both"] == pytest.approx(100.0 * no_mask.score(X, y, T))
    assert sides["neither"] == pytest.approx(100.0 * np.mean((X @ T.T).argmax(axis=1) == y))
    for side, frozen in (("image", "text_adapter_"), ("text", "image_adapter_")):
        reset = copy.deepcopy(no_mask)
        with torch.no_grad():
            getattr(reset, frozen).linear.weight.copy_(torch.eye(X.shape[1]))
            getattr(reset, frozen).linear.bias.zero_()
        assert sides[side] == pytest.approx(100.0 * reset.score(X, y, T)), side
    # Image by image: the same images, and the share right is the accuracy.
    correct = adapter_side_correct(no_mask, X, y, T)
    assert all(right.shape == (len(y),) and right.dtype == bool for right in correct.values())
    assert {side: 100.0 * right.mean() for side, right in correct.items()} == pytest.approx(sides)
    assert np.array_equal(correct["both"], no_mask.predict(X, T) == y)


def test_shift_shares_find_a_common_a_class_and_a_within_class_shift():
    rng = np.random.default_rng(0)
    E = rng.normal(size=(60, 8))
    labels = np.repeat(np.arange(3), 20)
    common = shift_shares(E, E + np.arange(8), labels)
    assert common["common"] == pytest.approx(1.0) and common["mean_squared_shift"] == pytest.approx(140.0)
    per_class = np.array([[1.0] * 8, [-1.0] * 8, [0.0] * 8])[labels]
    assert shift_shares(E, E + per_class, labels)["class"] == pytest.approx(1.0)
    noise = rng.normal(size=E.shape)
    noise -= np.stack([noise[labels == k].mean(axis=0) for k in range(3)])[labels]  # no class mean left
    assert shift_shares(E, E + noise, labels)["within"] == pytest.approx(1.0)
    mixed = shift_shares(E, E + 0.5 + per_class + noise, labels)
    assert mixed["common"] + mixed["class"] + mixed["within"] == pytest.approx(1.0)
    assert shift_shares(E, E, labels) == {"mean_squared_shift": 0.0, "common": 0.0, "class": 0.0, "within": 0.0}
    with pytest.raises(ValueError, match="one label per row"):
        shift_shares(E, E[:-1], labels)


def test_common_shift_of_a_switched_off_update_changes_nothing(task, no_mask):
    switched_off = copy.deepcopy(no_mask).set_params(beta=0.0)
    rows = np.isin(task.y_test, task.new)
    X, y, T = task.X_test[rows], task.y_test[rows] - len(task.base), task.T[task.new]
    zero_shot = adapter_side_accuracies(switched_off, X, y, T)["neither"]
    assert common_shift_accuracies(switched_off, task.X_train, task.T[task.base], X, y, T) == dict.fromkeys(
        ("image", "text", "both"), zero_shot)


def test_common_shift_is_the_mean_training_shift(task, no_mask):
    # A test set made of the training images themselves, scored with one shift added to every row:
    # the result must equal shifting by hand.
    X, y, T = task.X_train, task.y_train, task.T[task.base]
    image_shift = (no_mask.transform_images(X) - X).mean(axis=0)
    text_shift = (no_mask.transform_texts(T) - T).mean(axis=0)
    expected = 100.0 * np.mean((unit_rows(X + image_shift) @ unit_rows(T + text_shift).T).argmax(axis=1) == y)
    assert common_shift_accuracies(no_mask, X, T, X, y, T)["both"] == pytest.approx(expected)


def test_training_weights_are_those_the_fitted_model_gives_its_training_rows(task):
    from llu_core.evaluation.diagnostics import training_weights

    X, T = task.X_train, task.T[task.base]
    for variant in ("default", "no_mask", "dirac_mask", "no_damping"):
        fitted = LLUClassifier(**ABLATIONS[variant], epochs=1, device="cpu").fit(X, task.y_train, T)
        image, text = training_weights(fitted, X, T)
        np.testing.assert_allclose(image, fitted.local_weight(X, "image"), rtol=1e-6)
        np.testing.assert_allclose(text, fitted.local_weight(T, "text"), rtol=1e-6)
        # fewer training rows than clusters: every row is a point of D, so α = β on each
        np.testing.assert_allclose(image, fitted.beta, rtol=1e-4)
    clustered = LLUClassifier(n_clusters=4)  # 80 images into 4 centres: most rows lie off D
    image, text = training_weights(clustered, X, T)
    assert image.min() < 0.5 * clustered.beta and text.max() <= clustered.beta


def test_clip_adapter_is_read_on_its_image_side_only(task):
    from llu_core import CLIPAdapterClassifier
    from llu_core.evaluation.diagnostics import decompose_update

    adapter = CLIPAdapterClassifier(epochs=20, lr=0.05, device="cpu").fit(task.X_train, task.y_train, task.T[task.base])
    X, T = task.X_test, task.T
    np.testing.assert_allclose(adapter.decision_function(X, T), 100.0 * adapter.transform_images(X) @ T.T, atol=1e-4)
    rows = np.isin(task.y_test, task.new)
    X, y, T = task.X_test[rows], task.y_test[rows] - len(task.base), task.T[task.new]
    report = decompose_update(adapter, task.X_train, task.T[task.base], X, y, T)
    assert report["text"] == report["neither"] and report["both"] == report["image"]
    assert report["common_text"] == report["neither"]
    assert report["both"] == pytest.approx(100.0 * adapter.score(X, y, T))
    assert report["image_shift_common"] + report["image_shift_class"] + report["image_shift_within"] == pytest.approx(1.0)
    assert report["margin"] == pytest.approx(image_text_margin(X, y, T))


def test_mean_test_weights_split_the_test_images_into_base_and_new(task, no_mask):
    local = copy.deepcopy(no_mask).set_params(gamma=20.0)
    weights = mean_test_weights(local, task.X_test, task.y_test, task.base)
    alpha = local.local_weight(task.X_test)
    rows = np.isin(task.y_test, task.base)
    assert weights == pytest.approx({"mean_alpha_base": alpha[rows].mean(), "mean_alpha_new": alpha[~rows].mean()})
    assert mean_test_weights(no_mask, task.X_test, task.y_test, task.base) == pytest.approx(
        {"mean_alpha_base": no_mask.beta, "mean_alpha_new": no_mask.beta})  # no mask: α = β everywhere
    with pytest.raises(ValueError, match="base classes only"):
        mean_test_weights(local, task.X_test[rows], task.y_test[rows], task.base)
