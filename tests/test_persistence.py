"""Save and load: safetensors plus a JSON header, identical scores, no pickle."""

import json

import numpy as np
import pytest
from safetensors import safe_open

from llu_core.estimators import (ABLATIONS, CLAPClassifier, CLIPAdapterClassifier, LinearProbeClassifier,
                                  LLUClassifier, LPPlusPlusClassifier, TipAdapterClassifier, ZeroShotClassifier)
from llu_core.estimators.persistence import load_classifier, save_classifier
from synthetic_embeddings import shifted_domain_task


@pytest.fixture(scope="module")
def task():
    return shifted_domain_task(n_test=10)


@pytest.mark.parametrize("estimator", [
    ZeroShotClassifier(logit_scale=50.0), LLUClassifier(epochs=3, n_clusters=20),
    LLUClassifier(**ABLATIONS["linear"], epochs=2), CLIPAdapterClassifier(epochs=2),
    TipAdapterClassifier(finetune=True, epochs=2), LinearProbeClassifier(), LPPlusPlusClassifier(epochs=12),
    CLAPClassifier(epochs=2)])
def test_save_then_load_gives_identical_scores(task, estimator, tmp_path):
    estimator.fit(task.X_train, task.y_train, task.T[task.base])
    path = tmp_path / "model.safetensors"
    save_classifier(estimator, path)
    loaded = load_classifier(path)
    assert type(loaded) is type(estimator) and loaded.get_params() == estimator.get_params()
    T = task.T[task.base] if isinstance(estimator, LinearProbeClassifier) else task.T
    np.testing.assert_array_equal(loaded.decision_function(task.X_test, T), estimator.decision_function(task.X_test, T))
    for attribute in ("identity_distance_", "loss_history_", "n_epochs_", "prototype_step_"):
        assert getattr(loaded, attribute, None) == getattr(estimator, attribute, None)
    with safe_open(str(path), framework="pt") as handle:
        header = json.loads(handle.metadata()["llu_core"])
    assert header["class"] == type(estimator).__name__
    assert not list(tmp_path.glob("*.tmp"))  # written atomically, nothing left behind


def test_unfitted_or_foreign_files_are_refused(tmp_path):
    with pytest.raises(ValueError, match="not fitted"):
        save_classifier(LLUClassifier(), tmp_path / "model.safetensors")
    from llu_core.utils.io import write_tensors
    import torch
    write_tensors(tmp_path / "other.safetensors", {"x": torch.zeros(1)})
    with pytest.raises(ValueError, match="not a classifier"):
        load_classifier(tmp_path / "other.safetensors")
