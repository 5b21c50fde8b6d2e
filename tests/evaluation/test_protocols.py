"""CoOp/CoCoOp's protocol (llu_core.evaluation.protocols): split, few-shot sampling, harmonic mean,
base-to-new evaluation and shots held out of a pool, on synthetic embeddings and on CoOp's real split files."""

import math

import numpy as np
import pytest

from llu_core.data.datasets import load_dataset
from llu_core.estimators import LinearProbeClassifier, LLUClassifier, ZeroShotClassifier
from llu_core.evaluation.protocols import (base_new_split, evaluate_base_to_new, few_shot_indices, harmonic_mean,
                                           hold_out_shots, validation_shots)
from coop_files import class_names, split_file
from our_errors import assert_raises_ours, our_error_cases
from synthetic import embedded_dataset, embedded_pool, shifted_domain_task, small_problem

X, y, T = small_problem()


# --- Base and new classes, few shots, the harmonic mean and its standard errors -------------------


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


def test_harmonic_mean_and_validation_shots():
    assert harmonic_mean(80.0, 60.0) == pytest.approx(2 * 80 * 60 / 140)
    assert harmonic_mean(0.0, 0.0) == 0.0
    assert harmonic_mean(83.48, 74.47) == pytest.approx(78.72, abs=0.01)
    assert [validation_shots(s) for s in (1, 2, 4, 8, 16)] == [1, 2, 4, 4, 4]


# --- Base-to-new evaluation, and shots held out of a pool -----------------------------------------


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


def test_hold_out_shots_fits_on_the_shots_and_tests_on_the_rest_of_the_pool():
    data = embedded_pool()
    split = hold_out_shots(data, shots=3, seed=1)
    assert np.bincount(split.train_y).tolist() == [3] * 4 and np.bincount(split.test_y).tolist() == [7] * 4
    rows = {tuple(row) for row in np.vstack([split.train_X, split.test_X]).round(6)}
    assert len(rows) == 40 == len({tuple(row) for row in data.train_X.round(6)} | rows)  # disjoint, all of the pool
    assert hold_out_shots(data, shots=3, seed=2).train_X.tolist() != split.train_X.tolist()
    with_test = embedded_dataset(n_classes=4, train_per_class=10, test_per_class=5)
    kept = hold_out_shots(with_test, shots=3, seed=1)
    assert kept.test_X is with_test.test_X and len(kept.train_y) == 12
    with pytest.raises(ValueError, match="class 'class 0' has 10 image\\(s\\); it needs 11"):
        hold_out_shots(data, shots=10, seed=1)


# --- CoOp's protocol on CoOp's real split files ---------------------------------------------------


@pytest.fixture(scope="module")
def dtd_real():
    return {split: load_dataset("dtd", split) for split in ("train", "val", "test")}


# Classes and train/val/test sizes of CoOp's split files, as published with CoOp
# (Zhou et al., IJCV 2022, Table on the 11 data sets).
COOP_SPLIT_FACTS = {
    "split_zhou_Caltech101.json": (100, 4128, 1649, 2465),
    "split_zhou_DescribableTextures.json": (47, 2820, 1128, 1692),
    "split_zhou_EuroSAT.json": (10, 13500, 5400, 8100),
    "split_zhou_OxfordFlowers.json": (102, 4093, 1633, 2463),
    "split_zhou_OxfordPets.json": (37, 2944, 736, 3669),
    "split_zhou_StanfordCars.json": (196, 6509, 1635, 8041),
    "split_zhou_UCF101.json": (101, 7639, 1898, 3783),
}


@pytest.mark.parametrize("name", sorted(COOP_SPLIT_FACTS))
def test_coop_split_file_classes_and_base_new_split(name):
    splits = split_file(name)
    n_classes, *sizes = COOP_SPLIT_FACTS[name]
    assert sorted(splits) == ["test", "train", "val"]
    assert [len(splits[s]) for s in ("train", "val", "test")] == sizes
    names = class_names(splits)
    # Labels are 0..n-1, one name per label, and every class is in every split.
    assert sorted(names) == list(range(n_classes))
    assert len(set(names.values())) == n_classes
    for items in splits.values():
        assert {label for _, label, _ in items} == set(range(n_classes))
        assert all(names[label] == cname for _, label, cname in items)
    labels = [label for _, label, _ in splits["test"]]
    base, new = base_new_split(labels)
    n_base = math.ceil(n_classes / 2)
    assert base.tolist() == list(range(n_base))
    assert new.tolist() == list(range(n_base, n_classes))


@pytest.mark.parametrize("name", sorted(COOP_SPLIT_FACTS))
def test_few_shot_sampling_on_coop_split_files(name):
    splits = split_file(name)
    train = np.array([label for _, label, _ in splits["train"]])
    val = np.array([label for _, label, _ in splits["val"]])
    n_classes = COOP_SPLIT_FACTS[name][0]
    counts = np.bincount(train)
    for shots in (1, 16):
        picks = [few_shot_indices(train, shots, seed) for seed in (1, 2, 3)]
        for seed, picked in zip((1, 2, 3), picks):
            assert picked.shape == (n_classes * shots,)
            assert len(set(picked.tolist())) == picked.size  # without replacement
            assert np.bincount(train[picked], minlength=n_classes).tolist() == [shots] * n_classes
            # Class by class in sorted class order.
            assert train[picked].tolist() == np.repeat(np.arange(n_classes), shots).tolist()
            np.testing.assert_array_equal(picked, few_shot_indices(train, shots, seed))
        for a, b in ((0, 1), (0, 2), (1, 2)):
            assert set(picks[a].tolist()) != set(picks[b].tolist())
    with pytest.raises(ValueError, match=f"class {counts.argmin()} has {counts.min()} sample"):
        few_shot_indices(train, int(counts.min()) + 1, seed=1)
    # CoOp's validation set for a 16-shot run: min(16, 4) = 4 images per class.
    val_picked = few_shot_indices(val, validation_shots(16), seed=1)
    assert np.bincount(val[val_picked]).tolist() == [4] * n_classes


def test_validation_shots_caps_at_four():
    assert [validation_shots(k) for k in (1, 2, 4, 8, 16)] == [1, 2, 4, 4, 4]


def test_few_shot_on_the_loaded_dtd_subset(dtd_real):
    """The real DTD subset has 60 training images per class: 16 shots fit, 61 do not."""
    labels = dtd_real["train"].labels
    picked = few_shot_indices(labels, 16, seed=1)
    assert np.bincount(labels[picked]).tolist() == [16] * 10
    with pytest.raises(ValueError, match="60 sample"):
        few_shot_indices(labels, 61, seed=1)


# --- Bad input is refused, naming the argument ----------------------------------------------------


def test_few_shot_indices_rejects_too_many_shots():
    with pytest.raises(ValueError, match="class 1 has 2 sample"):
        few_shot_indices([0, 0, 0, 1, 1], shots=3, seed=0)
    with pytest.raises(ValueError, match="shots"):
        few_shot_indices([0, 1], shots=0, seed=0)


BAD_INPUT = [
    ("base-to-new with no new class", lambda tmp: evaluate_base_to_new(ZeroShotClassifier(), X, 0 * y, X, 0 * y,
                                                                       T[:1], 1, 1), ValueError, r"^T has 1 class"),
    ("negative seed", lambda tmp: few_shot_indices(y, 1, -1), ValueError, r"^seed must be an integer >= 0"),
    ("fractional seed", lambda tmp: few_shot_indices(y, 1, 1.5), ValueError, r"^seed must be an integer >= 0"),
]


@our_error_cases(BAD_INPUT)
def test_bad_input_raises_our_error_naming_the_argument_or_file(call, error, message, tmp_path, cache):
    assert_raises_ours(call, error, message, tmp_path)
