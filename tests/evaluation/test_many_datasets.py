"""Many data sets, one model: the protocol, its summary, its interference map and its cost."""

import math

import numpy as np
import pytest

from llu_core import CLIPAdapterClassifier, LLUClassifier, toy_family
from llu_core.evaluation.many_datasets import (check_datasets, fit_sequentially, measure_cost, run_many_datasets,
                                               summarise_many, union_training_set)

SHOTS = 4


@pytest.fixture(scope="module")
def family():
    """Four far-apart toy data sets: three to fit, one never fitted."""
    return toy_family(4, misalignment=0.6, train_per_class=SHOTS, test_per_class=20)


@pytest.fixture(scope="module")
def listed(family):
    return run_many_datasets(family[:3], unseen=family[3:], shots=SHOTS, seeds=[1, 2],
                             llu=LLUClassifier(epochs=20, device="cpu"),
                             clip_adapter=CLIPAdapterClassifier(epochs=20, device="cpu"), progress=False)


def scores(result, **where):
    """Accuracy by (data set, setting, classes, seed) of the records that match ``where``."""
    return {(r["dataset"], r["setting"], r["classes"], r["seed"]): r["accuracy"] for r in result["records"]
            if all(r[key] == value for key, value in where.items())}


def test_every_method_is_scored_on_every_data_set_against_both_label_spaces(listed):
    records = listed["records"]
    fitted = {(r["method"], r["dataset"], r["classes"]) for r in records if r["setting"] == "fitted"}
    methods = {"multi_max", "multi_mixture", "multi_share", "oracle_llu", "union_llu", "sequential_clip_adapter",
               "sequential_clip_adapter_when_fitted", "zero_shot"}
    assert fitted == {(m, f"toy_{k}", c) for m in methods for k in (1, 2, 3) for c in ("own", "union")}
    unseen = {(r["method"], r["dataset"]) for r in records if r["setting"] == "unseen"}
    # No oracle for a data set never fitted, and no turn of its own.
    assert unseen == {(m, "toy_4") for m in methods - {"oracle_llu", "sequential_clip_adapter_when_fitted"}}
    assert len(records) == 2 * (8 * 3 * 2 + 6 * 2)
    last = scores(listed, method="sequential_clip_adapter", dataset="toy_3")
    assert last == scores(listed, method="sequential_clip_adapter_when_fitted", dataset="toy_3")  # the same model
    assert len(listed["union_classes"]) == 4 * 6 and all(0.0 <= r["accuracy"] <= 100.0 for r in records)


def test_far_apart_data_sets_keep_their_own_llu_and_the_unseen_one_zero_shot(listed):
    for classes in ("own", "union"):
        multi, oracle = scores(listed, method="multi_max", classes=classes), scores(listed, method="oracle_llu",
                                                                                   classes=classes)
        for key, value in oracle.items():
            assert abs(multi[key] - value) <= 0.5
    multi = scores(listed, method="multi_max", setting="unseen")
    zero_shot = scores(listed, method="zero_shot", setting="unseen")
    assert multi == pytest.approx(zero_shot, abs=0.5)
    oracle, zero = scores(listed, method="oracle_llu", classes="own"), scores(listed, method="zero_shot",
                                                                               setting="fitted", classes="own")
    assert sum(oracle.values()) > sum(zero.values())  # the updates learned something


def test_interference_is_the_mean_alpha_of_every_pair(listed):
    maps = listed["interference"]
    assert maps["updates"] == ["toy_1", "toy_2", "toy_3"] and maps["datasets"] == ["toy_1", "toy_2", "toy_3", "toy_4"]
    image, text = np.asarray(maps["image"]), np.asarray(maps["text"])
    assert image.shape == text.shape == (4, 3)
    off_diagonal = image[:3].copy()
    np.fill_diagonal(off_diagonal, 0.0)
    assert np.diag(image).min() > 100 * max(off_diagonal.max(), image[3].max())  # far apart: no interference
    np.testing.assert_allclose(np.diag(text), 0.5, rtol=1e-5)  # class texts are points of D_text: α = β
    assert maps["routing"] == {"toy_1": 1.0, "toy_2": 1.0, "toy_3": 1.0}


def test_holding_out_in_turn_scores_each_data_set_unseen(family):
    result = run_many_datasets(family[:3], shots=SHOTS, seeds=[1], llu=LLUClassifier(epochs=2, device="cpu"),
                               clip_adapter=CLIPAdapterClassifier(epochs=2, device="cpu"), combines=("max",),
                               progress=False)
    unseen = {(r["method"], r["dataset"]) for r in result["records"] if r["setting"] == "unseen"}
    assert unseen == {(m, f"toy_{k}") for m in ("multi_max", "union_llu", "sequential_clip_adapter", "zero_shot")
                      for k in (1, 2, 3)}
    multi, zero_shot = scores(result, method="multi_max", setting="unseen"), scores(result, method="zero_shot",
                                                                                   setting="unseen")
    assert multi == pytest.approx(zero_shot, abs=0.5)  # the model with that data set removed


def test_warm_start_continues_from_the_previous_adapter(family):
    A, B = family[:2]
    model = CLIPAdapterClassifier(epochs=5, device="cpu", warm_start=True).fit(A.train_X, A.train_y, A.text)
    trained = model.adapter_.up.weight.detach().clone()
    model.set_params(lr=0.0).fit(B.train_X, B.train_y, B.text)  # lr = 0: the trained adapter, unchanged
    np.testing.assert_array_equal(model.adapter_.up.weight.detach().numpy(), trained.numpy())
    model.set_params(warm_start=False).fit(B.train_X, B.train_y, B.text)  # a fresh adapter
    assert not np.array_equal(model.adapter_.up.weight.detach().numpy(), trained.numpy())
    model.set_params(warm_start=True)
    with pytest.raises(ValueError, match="warm_start=True continues the fitted adapter of dimension 64"):
        model.fit(np.eye(8, dtype=np.float32)[:2], [0, 1], np.eye(8, dtype=np.float32)[2:4])


def test_sequential_fine_tuning_shares_the_training_of_a_common_prefix(family):
    fitted = {}
    classifier = CLIPAdapterClassifier(epochs=3, device="cpu")
    after = fit_sequentially(classifier, family[:2], SHOTS, 1, fitted)
    other = fit_sequentially(classifier, [family[0], family[2]], SHOTS, 1, fitted)
    assert set(fitted) == {("toy_1",), ("toy_1", "toy_2"), ("toy_1", "toy_3")} and after is not other
    assert fitted[("toy_1",)].warm_start and fitted[("toy_1",)].seed == 1
    # Sharing the prefix's training gives the model trained on the whole order from scratch.
    alone = fit_sequentially(classifier, family[:2], SHOTS, 1)
    np.testing.assert_array_equal(after.decision_function(family[1].test_X, family[1].text),
                                  alone.decision_function(family[1].test_X, family[1].text))


def test_union_training_set_relabels_into_the_union(family):
    X, y, T = union_training_set(family[:2], SHOTS, 1)
    assert X.shape == (2 * 6 * SHOTS, 64) and len(T) == 12 and y.min() == 0 and y.max() == 11
    np.testing.assert_allclose(np.asarray(T)[y[-1]], np.asarray(family[1].text)[5], atol=1e-6)


def test_data_sets_that_cannot_share_a_model_are_refused(family):
    with pytest.raises(ValueError, match="at least two"):
        check_datasets(family[:1])
    with pytest.raises(ValueError, match=r"\['toy_1'\] are listed more than once"):
        check_datasets([family[0], family[1]], [family[0]])
    other = toy_family(1, dim=32)[0]
    other.name = "small"
    with pytest.raises(ValueError, match="'small' has embedding dimension 32"):
        check_datasets(family[:2] + [other])
    shifted = toy_family(3)[2]
    shifted.image_centre = shifted.image_centre + 1.0
    with pytest.raises(ValueError, match="'toy_3' was centred by another image centre"):
        check_datasets(family[:2] + [shifted])


def test_summary_gives_the_standard_error_over_seeds():
    records = [{"method": "m", "dataset": d, "setting": "fitted", "classes": "own", "shots": 4, "seed": s,
                "accuracy": a} for d, values in (("a", (50.0, 54.0, 58.0)), ("b", (70.0, 70.0, 70.0)))
               for s, a in zip((1, 2, 3), values)]
    rows = {row["dataset"]: row for row in summarise_many(records)}
    assert rows["a"]["accuracy_mean"] == 54.0 and rows["a"]["accuracy_se"] == pytest.approx(4.0 / math.sqrt(3))
    assert rows["b"]["accuracy_se"] == 0.0
    assert rows["average"]["accuracy_mean"] == 62.0  # per seed 60, 62, 64
    assert rows["average"]["accuracy_se"] == pytest.approx(2.0 / math.sqrt(3))
    single = summarise_many([dict(records[0])])
    assert math.isnan(single[0]["accuracy_se"])


def test_cost_grows_by_one_update_per_data_set(family):
    cost = measure_cost(family[:2], shots=SHOTS, llu=LLUClassifier(epochs=2, device="cpu"), repeats=1)
    assert [row["n_datasets"] for row in cost] == [1, 2] and [row["n_test"] for row in cost] == [120, 240]
    d = 64
    for row in cost:  # two affine adapters, D_image (24 training images) and D_text (6 class texts)
        assert row["update_floats"] == 2 * (d * d + d) + (6 * SHOTS + 6) * d
        assert all(row[key] > 0 for key in ("fit_added_s", "fit_union_s", "score_max_s", "score_mixture_s"))
    assert cost[1]["model_floats"] == 2 * cost[0]["model_floats"]
