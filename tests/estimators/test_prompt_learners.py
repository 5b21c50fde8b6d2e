"""Prompt learning: the four prompt learners (CoOp, CoCoOp, ProGrad, KgCoOp) on real offline embeddings."""

import json

import numpy as np
import pytest
import torch
from sklearn.base import clone

from llu_core import ZeroShotClassifier, load_backbone
from llu_core.estimators.persistence import load_classifier, save_classifier
from llu_core.estimators.prompt_learners import (CoCoOpClassifier, CoOpClassifier, KgCoOpClassifier, ProGradClassifier,
                                                 prograd_project)
from llu_core.evaluation.protocols import fit_on_base
from llu_core.utils.class_texts import ClassTexts
from stand_in_backbones import TINY_OPEN_CLIP


LEARNERS = [CoOpClassifier(epochs=2), CoCoOpClassifier(epochs=1), ProGradClassifier(epochs=2),
            KgCoOpClassifier(epochs=2)]


@pytest.fixture(scope="module")
def data(offline_cifar10):
    # 2 shots of the 5 base classes train, 4 test images per class.
    return offline_cifar10


# --- Seeded, and saved and loaded as every estimator ----------------------------------------------


@pytest.mark.parametrize("learner", LEARNERS, ids=lambda learner: type(learner).__name__)
def test_seeded_contract_save_and_load(data, learner, tmp_path):
    model = fit_on_base(learner, data.train_X, data.train_y, data.text, 1, 1)
    assert model.loss_history_ and model.n_epochs_ == learner.epochs
    again = fit_on_base(learner, data.train_X, data.train_y, data.text, 1, 1)
    assert torch.equal(model.context_, again.context_)
    other = fit_on_base(learner, data.train_X, data.train_y, data.text, 1, 2)
    assert not torch.equal(model.context_, other.context_)  # other seed: other shots and batches
    initial = model._initial_context(data.text.tower)
    assert not torch.allclose(model.context_, initial)  # training moved the context
    # Scores against every class, seen or not; unit-norm rows or not.
    X_test, y_test = data.test_X[::8], data.test_y[::8]
    scores = model.decision_function(X_test, data.text)
    assert scores.dtype == np.float32 and scores.shape == (len(y_test), 10)
    np.testing.assert_allclose(model.decision_function(3.0 * X_test, data.text), scores, rtol=1e-4, atol=1e-4)
    assert 0.0 <= model.score(X_test, y_test, data.text) <= 1.0
    path = tmp_path / "model.safetensors"
    save_classifier(model, path)
    loaded = load_classifier(path, device="cpu")
    assert type(loaded) is type(model) and loaded.get_params() == model.get_params()
    np.testing.assert_array_equal(loaded.decision_function(X_test, data.text), scores)
    assert loaded.loss_history_ == model.loss_history_ and loaded.tower_key_ == model.tower_key_


# --- Untrained, a prompt learner is zero-shot CLIP of its prompt ----------------------------------


def test_untrained_coop_is_zero_shot_clip_of_its_initial_prompt(data, offline):
    prompts = ClassTexts(offline.encode_text(data.classnames, ["a photo of a {}."]).numpy(), data.classnames,
                         data.text.tower)
    coop = CoOpClassifier(epochs=1, lr=0.0).fit(data.train_X, data.train_y, prompts)
    zero_shot = ZeroShotClassifier().fit(data.train_X, data.train_y, prompts)
    np.testing.assert_allclose(coop.decision_function(data.test_X, prompts),
                               zero_shot.decision_function(data.test_X, prompts), atol=1e-3)


def test_untrained_cocoop_with_a_zero_last_layer_is_coop(data):
    X, y, X_test = data.train_X[:6], data.train_y[:6], data.test_X[:8]  # CoCoOp runs the tower per image: few
    cocoop = CoCoOpClassifier(epochs=1, lr=0.0).fit(X, y, data.text)
    coop = CoOpClassifier(epochs=1, lr=0.0).fit(X, y, data.text)
    assert np.abs(cocoop.decision_function(X_test, data.text) - coop.decision_function(X_test, data.text)).max() > 1e-3
    with torch.no_grad():
        cocoop.meta_net_[-1].weight.zero_()
        cocoop.meta_net_[-1].bias.zero_()
    np.testing.assert_allclose(cocoop.decision_function(X_test, data.text), coop.decision_function(X_test, data.text),
                               atol=1e-4)


# --- ProGrad's update never opposes the KL gradient, which must be finite -------------------------


def test_prograd_projection():
    kl = torch.tensor([[1.0, 0.0], [0.0, 0.0]])
    against = torch.tensor([[-2.0, 1.0], [0.0, 3.0]])
    np.testing.assert_allclose(prograd_project(against, kl), [[0.0, 1.0], [0.0, 3.0]])  # the conflicting part is gone
    np.testing.assert_allclose(prograd_project(against, kl, lam=0.5), [[-1.0, 1.0], [0.0, 3.0]])
    along = torch.tensor([[2.0, 1.0], [0.0, 3.0]])
    assert torch.equal(prograd_project(along, kl), along)  # no conflict: the plain gradient


def test_prograd_applied_update_never_opposes_the_kl_gradient(data, monkeypatch):
    import llu_core.estimators.prompt_learners as module

    seen = []  # per step: G·g_kl before and after the projection, and the scale of the second
    original = module.prograd_project

    def spy(gradient, kl_gradient, lam=1.0):
        applied = original(gradient, kl_gradient, lam)
        seen.append(((gradient * kl_gradient).sum().item(), (applied * kl_gradient).sum().item(),
                     applied.norm().item() * kl_gradient.norm().item()))
        return applied

    monkeypatch.setattr(module, "prograd_project", spy)
    model = fit_on_base(ProGradClassifier(epochs=2, batch_size=5), data.train_X, data.train_y, data.text, 2, 1)
    assert len(seen) == 2 * 2  # every step of 2 epochs × 2 batches of 2 shots × 5 classes was projected
    for _, applied, scale in seen:
        assert applied >= -1e-5 * scale
    assert model.loss_history_[-1] > 0


def test_prograd_needs_a_finite_kl_gradient(offline_cifar10, monkeypatch):
    from llu_core.estimators.prompt_learners import ProGradClassifier

    data = offline_cifar10
    with pytest.raises(ValueError, match=r"^temperature must lie in \[1e-06, 10000.0\], got 1e\+30"):
        ProGradClassifier(temperature=1e30, epochs=1).fit(data.train_X, data.train_y, data.text)  # before: CoOp
    monkeypatch.setattr(ProGradClassifier, "kl_to_zero_shot", lambda self, logits, X, E: logits.sum() * float("inf"))
    with pytest.raises(ValueError, match="^temperature=1.0: the gradient of ProGrad's KL term is not finite"):
        ProGradClassifier(epochs=1).fit(data.train_X, data.train_y, data.text)


# --- Bad input raises, naming the problem ---------------------------------------------------------


@pytest.mark.parametrize("learner", LEARNERS, ids=lambda learner: type(learner).__name__)
def test_bad_inputs_raise(data, learner):
    X, y, T = data.train_X, data.train_y, data.text
    tower = T.tower
    bad = [
        ((X, y, T.embeddings), "ClassTexts"),
        ((X, y, ClassTexts(T.embeddings, T.classnames)), "text tower"),
        ((X[:, :5], y, T), "dimension"),
        ((X, y, ClassTexts(T.embeddings[:, :4], T.classnames, tower)), "dimension"),
        ((X, np.where(y == 2, 10, y), T), "outside the rows of T"),
        ((X, y[:5], T), "labels but there are"),
        ((np.where(np.arange(X.size).reshape(X.shape) == 7, np.nan, X), y, T), "NaN"),
        ((np.vstack([X[:-1], np.zeros((1, X.shape[1]))]), y, T), "zero-norm"),
        ((X[:0], y[:0], T), "empty"),
        ((X[0], y, T), "2-D"),
    ]
    for arguments, message in bad:
        with pytest.raises(ValueError, match=message):
            clone(learner).fit(*arguments)
    with pytest.raises(ValueError, match="not fitted"):
        clone(learner).decision_function(X, T)


@pytest.mark.parametrize("learner", LEARNERS, ids=lambda learner: type(learner).__name__)
@pytest.mark.parametrize("params, message", [
    (dict(n_ctx=0), "n_ctx"), (dict(ctx_init=""), "ctx_init"), (dict(ctx_init=None, n_ctx=None), "n_ctx must be given"),
    (dict(n_ctx=2), "more than n_ctx"), (dict(epochs=0), "epochs"), (dict(batch_size=0), "batch_size"),
    (dict(lr=-1.0), "lr"), (dict(logit_scale=-1.0), "logit_scale"),
])
def test_bad_hyperparameters_raise(data, learner, params, message):
    with pytest.raises(ValueError, match=message):
        clone(learner).set_params(**params).fit(data.train_X, data.train_y, data.text)


@pytest.mark.parametrize("learner, message", [(ProGradClassifier(lam=2.0), "lam"),
                                              (ProGradClassifier(temperature=0.0), "temperature"),
                                              (KgCoOpClassifier(weight=-1.0), "weight")])
def test_bad_method_hyperparameters_raise(data, learner, message):
    with pytest.raises(ValueError, match=message):
        learner.fit(data.train_X, data.train_y, data.text)


# --- A prompt learner scores only the class texts of its own tower --------------------------------


def test_scoring_needs_the_tower_it_was_trained_with(data, vit_b32):
    model = CoOpClassifier(epochs=1).fit(data.train_X, data.train_y, data.text)
    foreign = ClassTexts(data.text.embeddings, data.classnames, vit_b32.context_tower())
    with pytest.raises(ValueError, match="not the one this model was trained with"):
        model.decision_function(data.test_X, foreign)


TINY_512 = {**TINY_OPEN_CLIP, "embed_dim": 512}  # the offline model's width, another backbone


def test_a_prompt_learner_refuses_rows_that_are_not_its_names(offline_cifar10, tmp_path):
    data = offline_cifar10
    names = list(data.classnames)
    import open_clip

    (tmp_path / "llu-tiny-512.json").write_text(json.dumps(TINY_512))
    open_clip.add_model_config(tmp_path / "llu-tiny-512.json")
    with pytest.warns(UserWarning, match="random weights"):
        other = load_backbone("llu-tiny-512", device="cpu")
    assert data.templates == ["a photo of a {}."]  # ClassTexts' default templates
    cases = {"names in another order": ClassTexts(data.text.embeddings, names[1:] + names[:1], data.text.tower),
             "another backbone's tower of the same width": ClassTexts(data.text.embeddings, names,
                                                                      other.context_tower())}
    for case, texts in cases.items():
        with pytest.raises(ValueError, match="^T's rows are not its class names' embeddings by its text tower"):
            CoOpClassifier(epochs=1).fit(data.train_X, data.train_y, texts)
    model = CoOpClassifier(epochs=1).fit(data.train_X, data.train_y, data.text)  # the real one passes
    with pytest.raises(ValueError, match="^T's rows are not"):
        model.decision_function(data.test_X, cases["names in another order"])
