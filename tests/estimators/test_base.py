"""The contract every estimator shares (llu_core.estimators._base): scikit-learn's API over
embeddings, the same checks at the boundary, scores of the declared dtype."""

import numpy as np
import pytest
import torch
from sklearn.base import clone

from llu_core.estimators import (CLAPClassifier, CLIPAdapterClassifier, GDAClassifier, LinearProbeClassifier,
                                 LLUClassifier, LPPlusPlusClassifier, ProKeRClassifier, TipAdapterClassifier,
                                 ZeroShotClassifier)
from synthetic import shifted_domain_task


@pytest.fixture(scope="module")
def task():
    return shifted_domain_task()


@pytest.mark.parametrize("estimator", [ZeroShotClassifier(), LLUClassifier(epochs=1), CLIPAdapterClassifier(epochs=1),
                                       TipAdapterClassifier(), LinearProbeClassifier(), GDAClassifier(),
                                       ProKeRClassifier(), LPPlusPlusClassifier(epochs=2), CLAPClassifier(epochs=2)])
def test_common_contract(task, estimator):
    copy = clone(estimator)
    assert copy.fit(task.X_train, torch.from_numpy(task.y_train), torch.from_numpy(task.T[task.base])) is copy
    scores = copy.decision_function(torch.from_numpy(task.X_train), task.T[task.base])
    assert scores.dtype == estimator.score_dtype and scores.shape == (len(task.y_train), len(task.base))
    accuracy = copy.score(task.X_train, task.y_train, task.T[task.base])
    assert 0.0 <= accuracy <= 1.0
    # Non-unit rows are normalised: scaling the input changes nothing.
    np.testing.assert_allclose(copy.decision_function(3.0 * task.X_train, task.T[task.base]), scores, rtol=1e-4, atol=1e-4)
