"""Experiment grids (llu_core.evaluation.grids): one record per run, deterministic, scoring the
models the protocol fits; seeds checked before any fit."""

import math

import numpy as np
import pytest
from types import SimpleNamespace

from llu_core import LLUClassifier, ZeroShotClassifier
from llu_core.evaluation.grids import run_grid
from llu_core.evaluation.protocols import base_new_split, fit_on_base, harmonic_mean
from our_errors import assert_raises_ours, our_error_cases
from synthetic import small_problem
from toy_grid import METHODS, grid_datasets, grid_records

X, y, T = small_problem()


@pytest.fixture(scope="module")
def datasets():
    return grid_datasets()


@pytest.fixture(scope="module")
def records(datasets):
    return grid_records(datasets)


# --- One record per run, the model the protocol fits ----------------------------------------------


def test_grid_has_one_record_per_run_with_sane_values(records):
    assert len(records) == 2 * 2 * 2 * 2
    keys = {(r["method"], r["dataset"], r["shots"], r["seed"]) for r in records}
    assert len(keys) == len(records)
    for record in records:
        for metric in ("base", "new", "hm"):
            assert 0.0 <= record[metric] <= 100.0
        assert math.isclose(record["hm"], harmonic_mean(record["base"], record["new"]))
        assert ("identity_distance" in record) == (record["method"] == "llu")
    assert all(r["identity_distance"] > 0 for r in records if r["method"] == "llu")


def test_zero_shot_ignores_shots_and_seeds(records):
    for dataset in ("toy_a", "toy_b"):
        scores = {(r["base"], r["new"]) for r in records if r["method"] == "zero_shot" and r["dataset"] == dataset}
        assert len(scores) == 1


def test_grid_is_deterministic(datasets, records):
    again = run_grid(METHODS, datasets[:1], shots=[2], seeds=[1], progress=False)
    expected = [r for r in records if r["dataset"] == "toy_a" and r["shots"] == 2 and r["seed"] == 1]
    assert again == expected


def test_fit_on_base_is_the_model_the_protocol_scores(datasets, records):
    data = datasets[0]
    model = fit_on_base(LLUClassifier(epochs=5), data.train_X, data.train_y, data.text, 2, 1)
    base, _ = base_new_split(np.arange(len(data.text)))
    rows = np.isin(data.test_y, base)
    accuracy = 100.0 * model.score(data.test_X[rows], np.searchsorted(base, data.test_y[rows]), data.text[base])
    record = next(r for r in records if (r["method"], r["dataset"], r["shots"], r["seed"]) == ("llu", "toy_a", 2, 1))
    assert accuracy == pytest.approx(record["base"])
    assert model.identity_distance_ == pytest.approx(record["identity_distance"])


# --- Seeds that are not whole, or repeated, are refused -------------------------------------------


TOY_DATA = SimpleNamespace(name="toy", train_X=X, train_y=y, test_X=X, test_y=y, text=T)


BAD_INPUT = [
    ("fractional grid seed", lambda tmp: run_grid({"zero_shot": ZeroShotClassifier()}, [TOY_DATA], [1], [1.5],
                                                  progress=False), ValueError,
     r"^seeds must be an integer >= 0, got 1.5"),  # before: int(1.5), seed 1 silently
    ("repeated grid seed", lambda tmp: run_grid({"zero_shot": ZeroShotClassifier()}, [TOY_DATA], [1], [1, 1],
                                                progress=False), ValueError,
     r"^seeds lists \[1\] more than once"),
]


@our_error_cases(BAD_INPUT)
def test_bad_input_raises_our_error_naming_the_argument_or_file(call, error, message, tmp_path, cache):
    assert_raises_ours(call, error, message, tmp_path)


def test_methods_and_data_sets_of_the_wrong_kind_are_named():
    with pytest.raises(ValueError, match="datasets\\[0\\] is a str without name, train_X, .*expected an embedded data set"):
        run_grid({"zero_shot": ZeroShotClassifier()}, ["cifar10"], shots=[1], seeds=[1], progress=False)
    with pytest.raises(ValueError, match="methods must be a dict of method name -> estimator, got a list"):
        run_grid([ZeroShotClassifier()], [SimpleNamespace()], shots=[1], seeds=[1], progress=False)
