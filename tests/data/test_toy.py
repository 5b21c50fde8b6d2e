"""The toy vision-language model of chapter 5 (llu_core.data.toy): its shapes, its seeding, its map, and its dial."""

import numpy as np
import pytest

from llu_core import ABLATIONS, LLUClassifier, ZeroShotClassifier, fit_on_base
from llu_core.data.embedded import EmbeddedDataset
from llu_core.data.toy import from_map, to_map, toy_dataset, toy_frame
from llu_core.evaluation.protocols import score_base_to_new


def test_shapes_and_fields_are_those_of_an_embedded_data_set():
    data = toy_dataset(per_row=4, dim=16, train_per_class=7, test_per_class=5)
    assert isinstance(data, EmbeddedDataset)
    assert data.train_X.shape == (8 * 7, 16) and data.test_X.shape == (8 * 5, 16)
    assert data.train_X.dtype == np.float32 and np.asarray(data.text).shape == (8, 16)
    assert np.allclose(np.linalg.norm(data.train_X, axis=1), 1.0, atol=1e-6)
    assert np.allclose(np.linalg.norm(np.asarray(data.text), axis=1), 1.0, atol=1e-6)
    assert sorted(np.unique(data.test_y)) == list(range(8)) and np.bincount(data.train_y).tolist() == [7] * 8
    assert data.classnames == list("ABCDEFGH") and data.text.classnames == tuple("ABCDEFGH")
    assert data.text_map.shape == (8, 2) and data.frame.shape == (16, 3)
    assert np.allclose(data.frame.T @ data.frame, np.eye(3), atol=1e-12)


def test_the_same_seed_gives_the_same_toy_and_another_seed_other_images():
    first, again, other = toy_dataset(seed=3), toy_dataset(seed=3), toy_dataset(seed=4)
    assert np.array_equal(first.train_X, again.train_X) and np.array_equal(first.test_X, again.test_X)
    assert not np.allclose(first.test_X, other.test_X)
    assert np.array_equal(np.asarray(first.text), np.asarray(other.text))  # the texts are the layout, not a draw


def test_the_map_is_the_inverse_of_the_embedding():
    frame = toy_frame(8)
    uv = np.random.default_rng(0).uniform(-0.8, 0.8, size=(50, 2))
    assert np.allclose(to_map(frame, from_map(frame, uv)), uv, atol=1e-5)
    assert np.allclose(to_map(frame, from_map(frame, np.zeros((1, 2)))), 0.0, atol=1e-6)
    # A distance on the map is an angle between the embeddings.
    points = from_map(frame, np.array([[0.0, 0.0], [0.0, 0.3]]))
    assert np.arccos(points[0] @ points[1]) == pytest.approx(0.3, abs=1e-5)
    with pytest.raises(ValueError, match="orthogonal"):
        to_map(frame, np.linalg.svd(frame, full_matrices=True)[0][:, 3:].T)


def test_the_dial_squeezes_the_same_images_along_v():
    aligned, squeezed = toy_dataset(0.0), toy_dataset(0.5)
    before, after = to_map(aligned.frame, aligned.test_X), to_map(squeezed.frame, squeezed.test_X)
    assert np.allclose(after[:, 0], before[:, 0], atol=1e-5)
    assert np.allclose(after[:, 1], 0.5 * before[:, 1], atol=1e-5)
    assert np.array_equal(np.asarray(aligned.text), np.asarray(squeezed.text))


def test_the_base_classes_have_a_shift_of_their_own():
    data = toy_dataset(spread=0.0, base_shift=0.1, train_per_class=1, test_per_class=1)
    offset = to_map(data.frame, data.test_X) - data.text_map[data.test_y]
    assert np.allclose(offset[:3], [0.0, 0.1], atol=1e-5) and np.allclose(offset[3:], 0.0, atol=1e-5)


@pytest.mark.parametrize("misalignment", [-0.1, 1.0, 2.0])
def test_a_misalignment_outside_0_to_1_is_refused(misalignment):
    with pytest.raises(ValueError, match="misalignment"):
        toy_dataset(misalignment)


def test_a_global_update_costs_new_classes_when_aligned_and_helps_them_when_misaligned():
    results = {}
    for misalignment in (0.0, 0.6):
        data = toy_dataset(misalignment)
        for name, estimator in (("zero_shot", ZeroShotClassifier()), ("no_mask", LLUClassifier(**ABLATIONS["no_mask"]))):
            model = fit_on_base(estimator, data.train_X, data.train_y, data.text, 8, 1)
            results[(misalignment, name)] = score_base_to_new(model, data.test_X, data.test_y, data.text)["new"]
    assert results[(0.0, "no_mask")] < results[(0.0, "zero_shot")] - 5.0
    assert results[(0.6, "no_mask")] > results[(0.6, "zero_shot")] + 5.0
