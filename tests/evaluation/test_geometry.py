"""The embedding geometry the local mask sees (llu_core.evaluation.geometry): the statistics
function, the image-text margin, the γ that suits a backbone, and the offline model in CLIP's regime."""

from types import SimpleNamespace

import numpy as np
import pytest

from llu_core import LLUClassifier, ZeroShotClassifier, embed_dataset, hold_out_shots, suggest_gamma
from llu_core.data.toy import toy_dataset
from llu_core.evaluation.geometry import (CLIP_TYPICAL_DISTANCE, STATISTICS, embedding_statistics, image_text_margin,
                                          mean_pairwise_cosine)
from llu_core.evaluation.protocols import fit_on_base, score_base_to_new
from llu_core.method.defaults import BETA, GAMMA
from synthetic import embedded_pool


def unit(rows):
    return rows / np.linalg.norm(rows, axis=1, keepdims=True)


def test_mean_pairwise_cosine_matches_brute_force():
    E = unit(np.random.default_rng(0).normal(size=(40, 6)) + 1.0)
    cosines = E @ E.T
    brute = (cosines.sum() - np.trace(cosines)) / (40 * 39)
    assert mean_pairwise_cosine(E) == pytest.approx(brute, abs=1e-9)
    with pytest.raises(ValueError, match="at least two rows"):
        mean_pairwise_cosine(E[:1])


def test_statistics_on_a_constructed_geometry():
    # Two classes, each a tight bundle around one axis; D is the base class's training images.
    rng = np.random.default_rng(1)

    def around(axis, n, spread):
        rows = np.zeros((n, 4))
        rows[:, axis] = 1.0
        return unit(rows + spread * rng.normal(size=(n, 4)))

    data = SimpleNamespace(train_X=np.vstack([around(0, 8, 0.01), around(1, 8, 0.01)]), train_y=np.repeat([0, 1], 8),
                           test_X=np.vstack([around(0, 5, 0.01), around(1, 5, 0.01)]), test_y=np.repeat([0, 1], 5),
                           text=np.eye(4)[[0, 2]])
    stats = embedding_statistics(data, shots=4, seed=1, beta=BETA, gamma=GAMMA)
    assert list(stats) == list(STATISTICS)
    assert stats["median_distance_base"] < 1e-3        # base test images sit on D
    assert stats["median_distance_new"] == pytest.approx(1.0, abs=0.05)  # new ones are orthogonal to it
    assert stats["mean_alpha_base"] == pytest.approx(0.5, abs=0.02)
    assert stats["mean_alpha_new"] == pytest.approx(0.5 * np.exp(-20.0), rel=0.7)
    assert stats["mean_cosine_texts"] == pytest.approx(0.0, abs=1e-9)
    assert stats["cosine_own_text"] == pytest.approx(0.5, abs=0.02)     # class 0 on its text, class 1 off
    with pytest.raises(ValueError, match="no new classes"):
        embedding_statistics(SimpleNamespace(train_X=data.train_X[:8], train_y=np.zeros(8, int), test_X=data.test_X[:5],
                                             test_y=np.zeros(5, int), text=data.text[:1]), shots=4)


def test_the_margin_over_all_classes_is_that_of_embedding_statistics():
    data = toy_dataset(0.2)
    statistics = embedding_statistics(data, shots=4)
    assert image_text_margin(data.test_X, data.test_y, data.text) == pytest.approx(
        statistics["cosine_own_text"] - statistics["cosine_other_texts"], abs=1e-6)
    with pytest.raises(ValueError, match="at least two"):
        image_text_margin(data.test_X, data.test_y, data.text, classes=[1])


def test_suggest_gamma_gives_clips_alpha_at_the_backbones_typical_distance():
    split = hold_out_shots(embedded_pool(), shots=3, seed=1)
    distance = embedding_statistics(split, shots=3, seed=1)["median_distance_base"]
    gamma = suggest_gamma(split, shots=3, seed=1)
    assert gamma == pytest.approx(GAMMA * CLIP_TYPICAL_DISTANCE / distance)
    assert BETA * np.exp(-gamma * distance) == pytest.approx(BETA * np.exp(-GAMMA * CLIP_TYPICAL_DISTANCE))
    assert CLIP_TYPICAL_DISTANCE == pytest.approx(0.115)
    with pytest.raises(ValueError, match="no test images"):
        suggest_gamma(embedded_pool(), shots=3, seed=1)  # a pool needs its images held out first


# Zero-shot accuracy of the offline model on these subsets, in %, as the README's accuracy table states it.
ZERO_SHOT = {"fashion_mnist": 45.5, "cifar10": 51.5, "dtd": 23.3}


@pytest.fixture(scope="module")
def offline_data():
    # The book's default subsets (50 training and 100 test images per class): shared cache.
    return {name: embed_dataset("offline", name, train_per_class=50, test_per_class=100, progress=False)
            for name in ZERO_SHOT}


@pytest.mark.parametrize("name", sorted(ZERO_SHOT))
def test_offline_model_puts_the_mask_in_clips_regime(offline_data, name):
    data = offline_data[name]
    stats = embedding_statistics(data)  # 16 shots, seed 1, β = 0.5, γ = 20: the paper's setting
    # Real CLIP ViT-B/32 (two CoOp data sets): median distance 0.11-0.12 (±30 %: 0.077-0.156),
    # mean α on base-class test images 0.06 (a factor of 2: 0.03-0.12), mean image cosine ≥ 0.385.
    assert 0.077 <= stats["median_distance_base"] <= 0.156, stats
    assert 0.03 <= stats["mean_alpha_base"] <= 0.12, stats
    assert stats["mean_cosine_images"] >= 0.385, stats
    zero_shot = 100 * ZeroShotClassifier().fit(data.train_X, data.train_y, data.text).score(
        data.test_X, data.test_y, data.text)
    assert abs(zero_shot - ZERO_SHOT[name]) <= 0.05  # the table rounds to one decimal
    zero_shot_base = score_base_to_new(ZeroShotClassifier().fit(data.train_X, data.train_y, data.text),
                                       data.test_X, data.test_y, data.text)["base"]
    llu = fit_on_base(LLUClassifier(), data.train_X, data.train_y, data.text, shots=16, seed=1)
    assert score_base_to_new(llu, data.test_X, data.test_y, data.text)["base"] > zero_shot_base + 3.0


def test_mask_separates_base_from_new_where_the_features_do(offline_data):
    # What the appendix says: the cones scale distances alike, so the base/new ratio of α is the
    # features' own; Fashion-MNIST (chapter 4's data set) separates, CIFAR-10 least.
    ratio = {name: (lambda s: s["mean_alpha_base"] / s["mean_alpha_new"])(embedding_statistics(data))
             for name, data in offline_data.items()}
    assert ratio["fashion_mnist"] >= 3.0, ratio
    assert ratio["cifar10"] < min(ratio["fashion_mnist"], ratio["dtd"]), ratio
