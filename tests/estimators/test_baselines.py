"""The baselines: CLIP-Adapter, Tip-Adapter(-F) and the linear probe against zero-shot, and their
scores kept finite and bounded."""

import numpy as np
import pytest
import torch
from torch.overrides import TorchFunctionMode

from llu_core import fit_on_base
from llu_core.data.toy import toy_dataset
from llu_core.estimators import CLIPAdapterClassifier, LinearProbeClassifier, TipAdapterClassifier, ZeroShotClassifier
from synthetic import shifted_domain_task


@pytest.fixture(scope="module")
def task():
    return shifted_domain_task()


@pytest.fixture(scope="module")
def small_task():
    return shifted_domain_task(n_test=6)


def _split(task, classes):
    rows = np.isin(task.y_test, classes)
    return task.X_test[rows], np.searchsorted(classes, task.y_test[rows]), task.T[classes]


# --- CLIP-Adapter learns the base classes on its image side ---------------------------------------


def test_clip_adapter_learns_the_base_classes(task):
    adapter = CLIPAdapterClassifier(epochs=60, seed=0).fit(task.X_train, task.y_train, task.T[task.base])
    zero_shot = ZeroShotClassifier().fit(task.X_train, task.y_train, task.T[task.base])
    base = _split(task, task.base)
    assert adapter.loss_history_[-1] < adapter.loss_history_[0]
    assert adapter.score(*base) > zero_shot.score(*base)


def test_clip_adapter_scores_are_its_transformed_images_against_the_texts():
    data = toy_dataset(0.4, train_per_class=10, test_per_class=5)
    model = fit_on_base(CLIPAdapterClassifier(epochs=3), data.train_X, data.train_y, data.text, 4, 1)
    texts = np.asarray(data.text)
    assert np.allclose(model.decision_function(data.test_X, texts),
                       model.logit_scale * model.transform_images(data.test_X) @ texts.T, atol=1e-4)


# --- Tip-Adapter's cache acts on seen classes only, a bounded block at a time ---------------------


@pytest.mark.parametrize("finetune", [False, True])
def test_tip_adapter_uses_cache_on_seen_and_zero_shot_on_new_classes(task, finetune):
    tip = TipAdapterClassifier(alpha=5.0, beta=5.0, finetune=finetune, epochs=5).fit(
        task.X_train, task.y_train, task.T[task.base])
    zero_shot = ZeroShotClassifier().fit(task.X_train, task.y_train, task.T[task.base])
    assert tip.score(*_split(task, task.base)) > zero_shot.score(*_split(task, task.base))
    X_new, _, T_new = _split(task, task.new)
    np.testing.assert_allclose(tip.decision_function(X_new, T_new), zero_shot.decision_function(X_new, T_new), atol=1e-4)
    # Mixed T: the cache adds to seen classes only, matched by identical embeddings.
    mixed = tip.decision_function(task.X_test, task.T)
    plain = zero_shot.decision_function(task.X_test, task.T)
    assert (mixed[:, task.base] > plain[:, task.base]).all()
    np.testing.assert_allclose(mixed[:, task.new], plain[:, task.new], atol=1e-4)
    assert bool(tip.loss_history_) == finetune


class LargestResult(TorchFunctionMode):
    """Records the shape of every tensor that torch operations produce."""

    def __init__(self):
        super().__init__()
        self.shapes = []

    def __torch_function__(self, func, types, args=(), kwargs=None):
        result = func(*args, **(kwargs or {}))
        if isinstance(result, torch.Tensor):
            self.shapes.append(tuple(result.shape))
        return result


def test_tip_adapter_scores_a_bounded_block_of_affinities_at_a_time(small_task, monkeypatch):
    import llu_core.estimators.baselines as classifiers

    model = TipAdapterClassifier().fit(small_task.X_train, small_task.y_train, small_task.T[small_task.base])
    n_keys, n_test = model.keys_.shape[0], small_task.X_test.shape[0]
    expected = model.decision_function(small_task.X_test, small_task.T)
    monkeypatch.setattr(classifiers, "_CHUNK_ELEMENTS", 7 * n_keys)  # 7 rows per block
    with LargestResult() as recorder:
        chunked = model.decision_function(small_task.X_test, small_task.T)
    np.testing.assert_allclose(chunked, expected, rtol=1e-5, atol=1e-5)
    assert (7, n_keys) in recorder.shapes and (n_test, n_keys) not in recorder.shapes  # never all n × keys


# --- The linear probe scores its trained classes as scikit-learn would ----------------------------


def test_linear_probe_scores_trained_classes_and_refuses_new_ones(task):
    probe = LinearProbeClassifier(C=10.0).fit(task.X_train, task.y_train, task.T[task.base])
    assert probe.score(*_split(task, task.base)) > 0.9
    # Any order of the trained classes works.
    reordered = task.base[::-1]
    X_base, _, _ = _split(task, task.base)
    np.testing.assert_allclose(probe.decision_function(X_base, task.T[reordered]),
                               probe.decision_function(X_base, task.T[task.base])[:, ::-1], rtol=1e-6)
    with pytest.raises(ValueError, match="not trained on"):
        probe.decision_function(task.X_test, task.T)


def test_the_linear_probe_agrees_with_scikit_learn_under_strong_regularisation(small_task):
    from sklearn.linear_model import LogisticRegression

    X_train, X_test = np.asarray(small_task.X_train, np.float32), np.asarray(small_task.X_test, np.float32)
    model = LinearProbeClassifier(C=1e-8).fit(X_train, small_task.y_train, small_task.T[small_task.base])
    reference = LogisticRegression(C=1e-8, max_iter=1000).fit(X_train, small_task.y_train)
    scores = model.decision_function(X_test, small_task.T[small_task.base])
    assert all((row == row.max()).sum() == 1 for row in scores)  # before: ties in most rows (float32)
    np.testing.assert_array_equal(model.predict(X_test, small_task.T[small_task.base]), reference.predict(X_test))
    assert scores.dtype == np.float64


# --- Scores that would underflow or overflow their float type are refused -------------------------


def test_scores_that_would_underflow_or_overflow_are_refused(small_task):
    Tb = small_task.T[small_task.base]
    with pytest.raises(ValueError, match=r"^logit_scale must lie in \[0.01, 10000.0\], got 1e-45"):
        # before: every score 0, all ties
        ZeroShotClassifier(logit_scale=1e-45).fit(small_task.X_train, small_task.y_train, Tb)
    with pytest.raises(ValueError, match=r"^alpha=1e\+38, logit_scale=100.0: the scores of this TipAdapterClassifier "
                                         "overflow float32"):
        TipAdapterClassifier(alpha=1e38).fit(small_task.X_train, small_task.y_train, Tb)  # before: infinite scores
    sharp = TipAdapterClassifier(beta=1e38).fit(small_task.X_train, small_task.y_train, Tb)
    scores = sharp.decision_function(small_task.X_train, Tb)  # each row is a key: 1 − xᵀk is 0 up to rounding
    assert np.isfinite(scores).all()  # before: exp of −β times a rounding error below 0: infinities
    zero_shot = ZeroShotClassifier().fit(small_task.X_train, small_task.y_train, Tb).decision_function(
        small_task.X_train, Tb)
    cache = scores - zero_shot  # α · the number of keys of each class at distance 0, at most its keys
    assert (cache >= -1e-3).all() and (cache <= np.bincount(small_task.y_train) + 1e-3).all()
