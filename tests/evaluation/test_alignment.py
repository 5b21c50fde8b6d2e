"""The toy model's dial (llu_core.evaluation.alignment): the new-class margin it sets, the sweep over
it, the setting that matches a margin, and the views of chapter 5."""

import numpy as np
import pytest

from llu_core import CLIPAdapterClassifier, LLUClassifier, ZeroShotClassifier, fit_on_base
from llu_core.data.toy import map_extent, to_map, toy_dataset
from llu_core.evaluation.alignment import (DIAL_RANGE, mask_effect, misalignment_for_margin, new_class_margin,
                                           sweep_misalignment, toy_view, weight_on_map)
from llu_core.evaluation.protocols import score_base_to_new


def test_the_dial_lowers_zero_shot_and_the_new_class_margin():
    margins, accuracies = [], []
    for misalignment in (0.0, 0.3, 0.6):
        data = toy_dataset(misalignment)
        model = fit_on_base(ZeroShotClassifier(), data.train_X, data.train_y, data.text, 4, 1)
        accuracies.append(score_base_to_new(model, data.test_X, data.test_y, data.text)["new"])
        margins.append(new_class_margin(data))
    assert accuracies[0] > 90.0 and accuracies[0] > accuracies[1] > accuracies[2]
    assert margins[0] > margins[1] > margins[2] > 0.0


def test_the_dial_is_found_from_a_margin():
    target = new_class_margin(toy_dataset(0.3))
    assert misalignment_for_margin(target) == pytest.approx(0.3, abs=1e-3)
    assert misalignment_for_margin(10.0) is None
    assert misalignment_for_margin(new_class_margin(toy_dataset(0.95))) is None  # beyond DIAL_RANGE
    assert DIAL_RANGE[1] < 0.95


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


def test_the_mask_effect_is_the_mean_gain_over_seeds():
    records = [{"method": m, "misalignment": a, "seed": s, "new": new, "new_margin": 0.1 - a / 10}
               for m, a, s, new in (("no_mask", 0.0, 1, 80.0), ("llu", 0.0, 1, 90.0), ("no_mask", 0.0, 2, 84.0),
                                    ("llu", 0.0, 2, 90.0), ("no_mask", 0.5, 1, 70.0), ("llu", 0.5, 1, 60.0))]
    curve = mask_effect(records)
    assert [row["misalignment"] for row in curve] == [0.0, 0.5]
    assert curve[0]["effect"] == pytest.approx(-8.0) and curve[0]["spread"] == pytest.approx(2.0)
    assert curve[1] == {"misalignment": 0.5, "margin": pytest.approx(0.05), "effect": 10.0, "spread": 0.0}
