"""Input checks (llu_core.utils.validation): every bad input raises our ValueError naming the problem;
what is merely unusual (any finite scale, numpy scalars, strided arrays) is accepted."""

import numpy as np
import pytest

from llu_core.estimators import (CLIPAdapterClassifier, LinearProbeClassifier, LLUClassifier, TipAdapterClassifier,
                                 ZeroShotClassifier)
from llu_core.utils.class_texts import ClassTexts
from llu_core.utils.validation import as_embeddings
from our_errors import assert_raises_ours, our_error_cases
from synthetic import small_problem

X, y, T = small_problem()


# --- Bad input raises our error, naming the argument ----------------------------------------------


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


BAD_INPUT = [
    ("string labels", lambda tmp: LLUClassifier(epochs=1).fit(X, list("abcabcab"), T), ValueError,
     r"^y must hold integer"),
    ("None labels", lambda tmp: LLUClassifier(epochs=1).fit(X, [None] * 8, T), ValueError, r"^y must hold integer"),
    ("boolean labels", lambda tmp: ZeroShotClassifier().fit(X, y > 0, T), ValueError, r"^y must hold integer"),
    ("complex X", lambda tmp: ZeroShotClassifier().fit(X + 1j, y, T), ValueError, r"^X must hold real numbers"),
    ("string T", lambda tmp: ZeroShotClassifier().fit(X, y, [["a"] * 6] * 3), ValueError, r"^T must hold real"),
    ("ragged X", lambda tmp: ZeroShotClassifier().fit([[1.0, 2.0], [1.0]], y, T), ValueError, r"^X is not a numeric"),
    ("n_clusters=True", lambda tmp: LLUClassifier(n_clusters=True).fit(X, y, T), ValueError, r"^n_clusters must be"),
    ("batch_size=True", lambda tmp: LLUClassifier(batch_size=True).fit(X, y, T), ValueError, r"^batch_size must be"),
    ("batch_size=10**30", lambda tmp: LLUClassifier(batch_size=10 ** 30, epochs=1).fit(X, y, T), ValueError,
     r"^batch_size must be an integer in \[1, 2147483647\]"),
    ("epochs=2.5", lambda tmp: CLIPAdapterClassifier(epochs=2.5).fit(X, y, T), ValueError, r"^epochs must be"),
    ('finetune="no"', lambda tmp: TipAdapterClassifier(finetune="no").fit(X, y, T), ValueError, r"^finetune must be"),
    ("seed=None", lambda tmp: LLUClassifier(seed=None).fit(X, y, T), ValueError, r"^seed must be"),
    ("seed=-1", lambda tmp: CLIPAdapterClassifier(seed=-1).fit(X, y, T), ValueError, r"^seed must be"),
    ("unavailable device", lambda tmp: LLUClassifier(epochs=1, device="cuda:99").fit(X, y, T), ValueError,
     r"^device 'cuda:99' is not available"),
    ("unknown device", lambda tmp: ZeroShotClassifier(device="gpu").fit(X, y, T), ValueError, r"^device must be"),
    ("logit_scale=0", lambda tmp: ZeroShotClassifier(logit_scale=0).fit(X, y, T), ValueError, r"^logit_scale must"),
    ("C=0", lambda tmp: LinearProbeClassifier(C=0).fit(X, y, T), ValueError, r"^C must lie in \(0"),
    ("max_iter=True", lambda tmp: LinearProbeClassifier(max_iter=True).fit(X, y, T), ValueError, r"^max_iter must"),
]


@our_error_cases(BAD_INPUT)
def test_bad_input_raises_our_error_naming_the_argument_or_file(call, error, message, tmp_path, cache):
    assert_raises_ours(call, error, message, tmp_path)


# --- Two classes with the same embedding are refused, naming both ---------------------------------


def test_classes_with_the_same_embedding_are_refused_naming_both(offline_cifar10):
    from llu_core.data.embedded import _shared_backbone

    offline = _shared_backbone("offline", None, "cpu")
    rows = offline.encode_text(["striped", "banded", "Banded"], ["{} texture."]).numpy()  # MiniLM ignores case
    assert float(rows[1] @ rows[2]) > 1 - 1e-6
    data = offline_cifar10
    for estimator in (ZeroShotClassifier(), LLUClassifier(epochs=1), TipAdapterClassifier()):
        with pytest.raises(ValueError, match="^T rows 1 and 2 are the same class embedding"):
            estimator.fit(data.train_X[:3], [0, 1, 2], rows)
    model = ZeroShotClassifier().fit(data.train_X[:2], [0, 1], rows[:2])
    with pytest.raises(ValueError, match="^T rows 1 and 2 are the same class embedding"):
        model.decision_function(data.test_X, rows)
    with pytest.raises(ValueError, match="^embeddings rows 1 and 2 \\('banded' and 'banded 2'\\) are the same"):
        ClassTexts(rows, ["striped", "banded", "banded 2"])


# --- Rows of any length or finite magnitude, numpy scalars and strided arrays are accepted --------


def test_non_unit_rows_are_normalised():
    np.testing.assert_allclose(as_embeddings(5.0 * X, "X").numpy(), X, rtol=1e-6)


@pytest.mark.parametrize("scale, dtype", [(1e20, np.float32), (1e30, np.float32), (1e300, np.float64),
                                          (1e-30, np.float32), (1e-300, np.float64)])
def test_rows_of_any_finite_magnitude_keep_their_direction(scale, dtype):
    model = ZeroShotClassifier().fit(X, y, T)
    expected = model.decision_function(X, T)
    np.testing.assert_allclose(model.decision_function(X.astype(dtype) * dtype(scale), T), expected, rtol=1e-5,
                               atol=1e-4)
    np.testing.assert_allclose(model.decision_function(X, T.astype(dtype) * dtype(scale)), expected, rtol=1e-5,
                               atol=1e-4)


def test_numpy_scalars_and_negative_strides_are_accepted():
    reference = LLUClassifier(epochs=2, seed=1, beta=0.5).fit(X, y, T)
    model = LLUClassifier(epochs=np.int64(2), seed=np.int64(1), beta=np.float32(0.5)).fit(X[::-1][::-1], y, T)
    np.testing.assert_array_equal(model.decision_function(X[::-1], T[::-1]),
                                  reference.decision_function(X[::-1].copy(), T[::-1].copy()))
