"""Every bad input raises a ValueError that names the problem."""

import numpy as np
import pytest

from llu_core.estimators import LLUClassifier, TipAdapterClassifier, ZeroShotClassifier
from llu_core.utils.validation import as_embeddings
from synthetic import small_problem

X, y, T = small_problem()


def test_non_unit_rows_are_normalised():
    np.testing.assert_allclose(as_embeddings(5.0 * X, "X").numpy(), X, rtol=1e-6)


@pytest.mark.parametrize("bad, message", [
    (lambda: (X[:, :5], y, T), "dimension"),
    (lambda: (X, y, T[:, :4]), "dimension"),
    (lambda: (X, np.where(y == 2, 3, y), T), "outside the rows of T"),
    (lambda: (X, -y, T), "outside the rows of T"),
    (lambda: (X, y[:5], T), "labels but there are 8"),
    (lambda: (np.where(np.arange(48).reshape(8, 6) == 7, np.nan, X), y, T), "NaN"),
    (lambda: (np.vstack([X[:7], np.zeros((1, 6))]), y, T), "zero-norm"),
    (lambda: (X[:0], y[:0], T), "empty"),
    (lambda: (X, y, T[:0]), "empty"),
    (lambda: (X[0], y, T), "2-D"),
])
def test_bad_fit_input_raises(bad, message):
    with pytest.raises(ValueError, match=message):
        LLUClassifier(epochs=1).fit(*bad())


def test_bad_predict_input_raises():
    model = ZeroShotClassifier().fit(X, y, T)
    with pytest.raises(ValueError, match="dimension"):
        model.decision_function(X[:, :4], T)
    with pytest.raises(ValueError, match="NaN"):
        model.predict(np.full((2, 6), np.nan), T)
    with pytest.raises(ValueError, match="outside the rows of T"):
        model.score(X, y + 1, T)
    with pytest.raises(ValueError, match="not fitted"):
        LLUClassifier().decision_function(X, T)


@pytest.mark.parametrize("params, message", [
    (dict(beta=1.5), "beta"), (dict(beta=-0.1), "beta"), (dict(gamma=-1.0), "gamma"), (dict(lam=-1.0), "lam"),
    (dict(mask="gauss"), "mask"), (dict(n_clusters=0), "n_clusters"), (dict(epochs=0), "epochs"),
    (dict(init="zeros"), "init"), (dict(identity_norm="l1"), "identity_norm"), (dict(batch_size=0), "batch_size"),
])
def test_bad_hyperparameters_raise(params, message):
    with pytest.raises(ValueError, match=message):
        LLUClassifier(**params).fit(X, y, T)


def test_bad_baseline_hyperparameters_raise():
    with pytest.raises(ValueError, match="beta"):
        TipAdapterClassifier(beta=-1.0).fit(X, y, T)
