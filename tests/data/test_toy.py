"""The toy vision-language model of chapter 5: its shapes, its seeding, its map, and its dial."""

import numpy as np
import pytest

from llu_core import ABLATIONS, CLIPAdapterClassifier, LLUClassifier, ZeroShotClassifier, fit_on_base
from llu_core.data.embedded import EmbeddedDataset
from llu_core.data.toy import from_map, map_extent, to_map, toy_dataset, toy_frame
from llu_core.evaluation.alignment import (DIAL_RANGE, mask_effect, misalignment_for_margin, new_class_margin,
                                           sweep_misalignment, toy_view, weight_on_map)
from llu_core.evaluation.geometry import embedding_statistics, image_text_margin
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


def test_the_dial_lowers_zero_shot_and_the_new_class_margin():
    margins, accuracies = [], []
    for misalignment in (0.0, 0.3, 0.6):
        data = toy_dataset(misalignment)
        model = fit_on_base(ZeroShotClassifier(), data.train_X, data.train_y, data.text, 4, 1)
        accuracies.append(score_base_to_new(model, data.test_X, data.test_y, data.text)["new"])
        margins.append(new_class_margin(data))
    assert accuracies[0] > 90.0 and accuracies[0] > accuracies[1] > accuracies[2]
    assert margins[0] > margins[1] > margins[2] > 0.0


def test_the_margin_over_all_classes_is_that_of_embedding_statistics():
    data = toy_dataset(0.2)
    statistics = embedding_statistics(data, shots=4)
    assert image_text_margin(data.test_X, data.test_y, data.text) == pytest.approx(
        statistics["cosine_own_text"] - statistics["cosine_other_texts"], abs=1e-6)
    with pytest.raises(ValueError, match="at least two"):
        image_text_margin(data.test_X, data.test_y, data.text, classes=[1])


def test_the_dial_is_found_from_a_margin():
    target = new_class_margin(toy_dataset(0.3))
    assert misalignment_for_margin(target) == pytest.approx(0.3, abs=1e-3)
    assert misalignment_for_margin(10.0) is None
    assert misalignment_for_margin(new_class_margin(toy_dataset(0.95))) is None  # beyond DIAL_RANGE
    assert DIAL_RANGE[1] < 0.95


def test_a_global_update_costs_new_classes_when_aligned_and_helps_them_when_misaligned():
    results = {}
    for misalignment in (0.0, 0.6):
        data = toy_dataset(misalignment)
        for name, estimator in (("zero_shot", ZeroShotClassifier()), ("no_mask", LLUClassifier(**ABLATIONS["no_mask"]))):
            model = fit_on_base(estimator, data.train_X, data.train_y, data.text, 8, 1)
            results[(misalignment, name)] = score_base_to_new(model, data.test_X, data.test_y, data.text)["new"]
    assert results[(0.0, "no_mask")] < results[(0.0, "zero_shot")] - 5.0
    assert results[(0.6, "no_mask")] > results[(0.6, "zero_shot")] + 5.0


def test_a_view_shows_where_a_model_puts_the_images_and_texts():
    data = toy_dataset(0.2, train_per_class=10, test_per_class=10)
    zero_shot = fit_on_base(ZeroShotClassifier(), data.train_X, data.train_y, data.text, 4, 1)
    view = toy_view(zero_shot, data)
    assert np.allclose(view["images_after"], view["images_before"]) and np.allclose(view["texts_after"], data.text_map,
                                                                                    atol=1e-5)
    assert view["accuracy"] == pytest.approx(
        {k: v for k, v in score_base_to_new(zero_shot, data.test_X, data.test_y, data.text).items() if k != "hm"})
    adapter = fit_on_base(CLIPAdapterClassifier(epochs=3), data.train_X, data.train_y, data.text, 4, 1)
    moved = toy_view(adapter, data)
    assert not np.allclose(moved["images_after"], moved["images_before"])
    assert np.allclose(moved["texts_after"], moved["texts_before"])  # CLIP-Adapter leaves the texts


def test_the_weight_on_the_map_is_each_model_s():
    data = toy_dataset(train_per_class=10, test_per_class=5)
    extent = map_extent(data)
    local = fit_on_base(LLUClassifier(epochs=2), data.train_X, data.train_y, data.text, 4, 1)
    everywhere = fit_on_base(LLUClassifier(epochs=2, mask="global"), data.train_X, data.train_y, data.text, 4, 1)
    adapter = fit_on_base(CLIPAdapterClassifier(epochs=2), data.train_X, data.train_y, data.text, 4, 1)
    zero_shot = fit_on_base(ZeroShotClassifier(), data.train_X, data.train_y, data.text, 4, 1)
    alpha = weight_on_map(local, data, extent, resolution=31)
    assert alpha.shape == (31, 31) and alpha.max() <= local.beta + 1e-6 and alpha.min() < 0.01
    assert np.allclose(weight_on_map(everywhere, data, extent, resolution=5), everywhere.beta)
    assert np.allclose(weight_on_map(adapter, data, extent, resolution=5), adapter.ratio)
    assert weight_on_map(zero_shot, data, extent) is None
    u_min, u_max, v_min, v_max = extent
    inside = to_map(data.frame, data.test_X)
    assert (u_min < inside[:, 0]).all() and (inside[:, 0] < u_max).all() and (v_min < inside[:, 1]).all()


def test_the_sweep_runs_every_method_at_every_setting():
    methods = {"zero_shot": ZeroShotClassifier(), "llu": LLUClassifier(epochs=2)}
    sweep = sweep_misalignment(methods, [0.0, 0.4], 4, [1, 2], progress=False, train_per_class=10, test_per_class=5)
    assert len(sweep.records) == 2 * 2 * 2 and set(sweep.models) == {(m, n) for m in (0.0, 0.4) for n in methods}
    margins = {r["misalignment"]: r["new_margin"] for r in sweep.records}
    assert margins[0.0] > margins[0.4] and set(sweep.toys) == {0.0, 0.4}
    with pytest.raises(ValueError, match="at least one"):
        sweep_misalignment(methods, [], 4, [1])


def test_clip_adapter_scores_are_its_transformed_images_against_the_texts():
    data = toy_dataset(0.4, train_per_class=10, test_per_class=5)
    model = fit_on_base(CLIPAdapterClassifier(epochs=3), data.train_X, data.train_y, data.text, 4, 1)
    texts = np.asarray(data.text)
    assert np.allclose(model.decision_function(data.test_X, texts),
                       model.logit_scale * model.transform_images(data.test_X) @ texts.T, atol=1e-4)


def test_the_mask_effect_is_the_mean_gain_over_seeds():
    records = [{"method": m, "misalignment": a, "seed": s, "new": new, "new_margin": 0.1 - a / 10}
               for m, a, s, new in (("no_mask", 0.0, 1, 80.0), ("llu", 0.0, 1, 90.0), ("no_mask", 0.0, 2, 84.0),
                                    ("llu", 0.0, 2, 90.0), ("no_mask", 0.5, 1, 70.0), ("llu", 0.5, 1, 60.0))]
    curve = mask_effect(records)
    assert [row["misalignment"] for row in curve] == [0.0, 0.5]
    assert curve[0]["effect"] == pytest.approx(-8.0) and curve[0]["spread"] == pytest.approx(2.0)
    assert curve[1] == {"misalignment": 0.5, "margin": pytest.approx(0.05), "effect": 10.0, "spread": 0.0}
