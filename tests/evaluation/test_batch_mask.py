"""LLU's mask per sample (Eq. 5) against one weight per batch (the authors' released code)."""

import numpy as np
import pytest
import torch

from llu_core import LLUClassifier, fit_on_base
from llu_core.evaluation.batch_mask import batch_mask_accuracies, batch_mask_base_to_new, batch_weights

from synthetic import embedded_dataset


def test_batch_weights_give_every_row_the_largest_alpha_of_its_batch():
    alpha = torch.tensor([0.1, 0.4, 0.2, 0.0, 0.3])
    assert batch_weights(alpha, 2).tolist() == pytest.approx([0.4, 0.4, 0.2, 0.2, 0.3])
    assert batch_weights(alpha, 1).tolist() == pytest.approx(alpha.tolist())
    assert batch_weights(alpha, 10).tolist() == pytest.approx([0.4] * 5)
    with pytest.raises(ValueError, match="batch_size"):
        batch_weights(alpha, 0)


@pytest.fixture(scope="module")
def fitted():
    data = embedded_dataset(n_classes=6, dim=16, train_per_class=8, test_per_class=20)
    return data, fit_on_base(LLUClassifier(epochs=5, n_clusters=4, device="cpu"), data.train_X, data.train_y,
                             data.text, 4, 1)


def test_a_batch_of_one_image_is_the_mask_per_sample_on_the_image_side(fitted):
    data, model = fitted
    result = batch_mask_accuracies(model, data.test_X, data.test_y, data.text, batch_size=1)
    assert result["alpha_per_batch"] == pytest.approx(result["alpha_per_sample"])
    # the texts are one batch: each gets the largest α of any of them
    alpha_text = model.local_weight(data.text, "text")
    assert result["alpha_text_per_batch"] == pytest.approx(float(alpha_text.max()))
    assert result["alpha_text_per_sample"] == pytest.approx(float(alpha_text.mean()))


def test_per_sample_accuracy_is_the_models_own_score(fitted):
    data, model = fitted
    result = batch_mask_accuracies(model, data.test_X, data.test_y, data.text)
    assert result["per_sample"] == pytest.approx(100.0 * model.score(data.test_X, data.test_y, data.text))
    assert result["alpha_per_batch"] >= result["alpha_per_sample"]


def test_shuffling_changes_which_rows_share_a_batch(fitted):
    data, model = fitted
    alpha = torch.as_tensor(model.local_weight(data.test_X, "image"))
    in_order = batch_mask_accuracies(model, data.test_X, data.test_y, data.text, batch_size=20)
    assert in_order["alpha_per_batch"] == pytest.approx(float(batch_weights(alpha, 20).mean()), rel=1e-5)
    order = torch.from_numpy(np.random.default_rng(3).permutation(len(alpha)))
    shuffled = batch_mask_accuracies(model, data.test_X, data.test_y, data.text, batch_size=20, seed=3)
    assert shuffled["alpha_per_batch"] == pytest.approx(float(batch_weights(alpha[order], 20).mean()), rel=1e-5)


def test_base_to_new_scores_each_half_against_its_own_classes(fitted):
    data, model = fitted
    result = batch_mask_base_to_new(model, data.test_X, data.test_y, data.text, batch_size=1)
    base_rows = data.test_y < 3
    assert result["base"]["per_sample"] == pytest.approx(
        100.0 * model.score(data.test_X[base_rows], data.test_y[base_rows], data.text[:3]))
    assert result["new"]["per_sample"] == pytest.approx(
        100.0 * model.score(data.test_X[~base_rows], data.test_y[~base_rows] - 3, data.text[3:]))
    with pytest.raises(ValueError, match="no rows of the new classes"):
        batch_mask_base_to_new(model, data.test_X[base_rows], data.test_y[base_rows], data.text)
