"""The held-out shots that GDA and ProKeR choose their hyperparameters on."""

import numpy as np
import pytest
import torch

from llu_core.estimators import GDAClassifier
from llu_core.estimators.selection import best_setting, check_selection_params, shot_folds, training_classes


def test_folds_hold_out_every_shot_once_and_keep_every_class_in_training():
    y = np.repeat(np.arange(3), 16)
    folds = shot_folds(y, n_folds=4, seed=1)
    assert len(folds) == 4
    held_out = np.concatenate([rows for _, rows in folds])
    assert sorted(held_out.tolist()) == list(range(y.size))
    for fitting, rows in folds:
        assert np.bincount(y[rows], minlength=3).tolist() == [4, 4, 4]
        assert set(y[fitting]) == {0, 1, 2}


def test_fewer_folds_than_asked_when_a_class_has_few_shots_and_none_for_one_shot():
    assert len(shot_folds(np.array([0, 0, 1, 1, 1]), n_folds=4, seed=0)) == 2
    assert shot_folds(np.array([0, 1, 1]), n_folds=4, seed=0) == []


def test_folds_follow_the_seed():
    y = np.repeat(np.arange(2), 8)
    same = [rows.tolist() for _, rows in shot_folds(y, 4, seed=3)]
    assert same == [rows.tolist() for _, rows in shot_folds(y, 4, seed=3)]
    assert same != [rows.tolist() for _, rows in shot_folds(y, 4, seed=4)]


def test_best_setting_takes_the_most_correct_and_the_first_on_a_tie():
    assert best_setting([0.1, 1.0, 10.0], [5, 9, 9]) == 1.0
    assert best_setting(["a", "b"], [3, 2]) == "a"


def test_training_classes_are_the_rows_of_T_that_occur_in_y():
    X = torch.eye(3)
    y = torch.tensor([2, 0, 2])
    T = torch.eye(3)[[0, 1, 2]]
    X64, labels, classes = training_classes(X, y, T, torch.device("cpu"))
    assert X64.dtype == torch.float64
    assert labels.tolist() == [1, 0, 1]
    assert torch.equal(classes, T[[0, 2]])


@pytest.mark.parametrize("params, name", [({"n_folds": 1}, "n_folds"), ({"logit_scale": 0.0}, "logit_scale"),
                                          ({"seed": -1}, "seed")])
def test_bad_search_parameters_are_named(params, name):
    with pytest.raises(ValueError, match=name):
        check_selection_params(GDAClassifier(**params))
