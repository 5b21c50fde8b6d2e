"""CoOp/CoCoOp's protocol: split, few-shot sampling, harmonic mean, base-to-new evaluation."""

import math

import numpy as np
import pytest

from llu_core.estimators import LinearProbeClassifier, LLUClassifier, ZeroShotClassifier
from llu_core.evaluation.protocols import (base_new_split, evaluate_base_to_new, few_shot_indices, harmonic_mean,
                                           validation_shots)
from synthetic_embeddings import shifted_domain_task


def test_base_new_split_is_coops_rule():
    base, new = base_new_split([4, 0, 2, 1, 3, 2])
    np.testing.assert_array_equal(base, [0, 1, 2])
    np.testing.assert_array_equal(new, [3, 4])
    base, new = base_new_split(np.arange(10))
    assert base.tolist() == [0, 1, 2, 3, 4] and new.tolist() == [5, 6, 7, 8, 9]
    with pytest.raises(ValueError, match="empty"):
        base_new_split([])


def test_few_shot_indices_per_class_without_replacement_and_seeded():
    labels = np.repeat([3, 1, 2], 10)
    picked = few_shot_indices(labels, shots=4, seed=7)
    assert picked.dtype == np.int64 and len(set(picked.tolist())) == 12
    assert np.bincount(labels[picked]).tolist() == [0, 4, 4, 4]
    np.testing.assert_array_equal(picked, few_shot_indices(labels, 4, seed=7))
    assert not np.array_equal(picked, few_shot_indices(labels, 4, seed=8))


def test_few_shot_indices_rejects_too_many_shots():
    with pytest.raises(ValueError, match="class 1 has 2 sample"):
        few_shot_indices([0, 0, 0, 1, 1], shots=3, seed=0)
    with pytest.raises(ValueError, match="shots"):
        few_shot_indices([0, 1], shots=0, seed=0)


def test_harmonic_mean_and_validation_shots():
    assert harmonic_mean(80.0, 60.0) == pytest.approx(2 * 80 * 60 / 140)
    assert harmonic_mean(0.0, 0.0) == 0.0
    assert harmonic_mean(83.48, 74.47) == pytest.approx(78.72, abs=0.01)
    assert [validation_shots(s) for s in (1, 2, 4, 8, 16)] == [1, 2, 4, 4, 4]


@pytest.fixture(scope="module")
def pool():
    task = shifted_domain_task(shots=20)
    return task.X_train, task.y_train, task.X_test, task.y_test, task.T


def _with_new_classes_in_pool(pool):
    X_train, y_train, X_test, y_test, T = pool
    # The training pool also holds new-class images; base-to-new must ignore them.
    new_rows = np.isin(y_test, np.arange(5, 10))
    return np.concatenate([X_train, X_test[new_rows]]), np.concatenate([y_train, y_test[new_rows]]), X_test, y_test, T


def test_evaluate_base_to_new_zero_shot_and_llu(pool):
    pool = _with_new_classes_in_pool(pool)
    zero_shot = evaluate_base_to_new(ZeroShotClassifier(), *pool, shots=4, seed=1)
    assert set(zero_shot) == {"base", "new", "hm"}
    assert zero_shot["new"] == 100.0 and zero_shot["base"] < 20.0
    llu = LLUClassifier(epochs=30)
    result = evaluate_base_to_new(llu, *pool, shots=16, seed=1)
    assert not hasattr(llu, "dim_")  # a clone was fitted, not the argument
    assert result["base"] > zero_shot["base"] + 50 and result["new"] == zero_shot["new"]
    assert result["hm"] == pytest.approx(harmonic_mean(result["base"], result["new"]))


def test_linear_probe_has_no_new_class_score(pool):
    result = evaluate_base_to_new(LinearProbeClassifier(C=10.0), *pool, shots=4, seed=1)
    assert result["base"] > 80.0
    assert math.isnan(result["new"]) and math.isnan(result["hm"])
