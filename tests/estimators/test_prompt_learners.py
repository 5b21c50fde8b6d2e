"""Prompt learning: class texts with names, text towers with learned context, and the four prompt learners."""

import warnings

import numpy as np
import pytest
import torch
from sklearn.base import clone

from llu_core import LLUClassifier, ZeroShotClassifier, embed_dataset, load_backbone
from llu_core.backbones.openclip import OpenCLIPBackbone
from llu_core.utils.class_texts import ClassTexts
from llu_core.estimators.persistence import load_classifier, save_classifier
from llu_core.estimators.prompt_learners import (CoCoOpClassifier, CoOpClassifier, KgCoOpClassifier, ProGradClassifier,
                                      prograd_project)
from llu_core.evaluation.protocols import base_new_split, fit_on_base, score_base_to_new

NAMES = ["cat", "golden retriever", "sea lion", "banded", "airplane"]
LEARNERS = [CoOpClassifier(epochs=2), CoCoOpClassifier(epochs=1), ProGradClassifier(epochs=2),
            KgCoOpClassifier(epochs=2)]


@pytest.fixture(scope="module")
def offline():
    return load_backbone("offline", device="cpu")


@pytest.fixture(scope="module")
def vit_b32():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # random weights, on purpose: nothing may be downloaded
        return OpenCLIPBackbone("ViT-B-32", pretrained=None, device="cpu")


@pytest.fixture(scope="module")
def data():
    # A few real offline embeddings of CIFAR-10: 2 shots of the 5 base classes train, 4 test images per class.
    return embed_dataset("offline", "cifar10", train_per_class=4, test_per_class=4, device="cpu", progress=False)


@pytest.mark.parametrize("name", ["offline", "vit_b32"])
def test_context_of_a_photo_of_a_reproduces_encode_text(request, name):
    backbone = request.getfixturevalue(name)
    tower = backbone.context_tower()
    context = tower.word_embeddings("a photo of a")
    assert context.shape == (4, tower.ctx_dim)
    expected = backbone.encode_text(NAMES, ["a photo of a {}."]).cpu().numpy()
    np.testing.assert_allclose(tower(context, NAMES).detach().numpy(), expected, atol=1e-5)
    # One context per image (CoCoOp): the unchanged one reproduces the prompts, a moved one does not.
    moved = context + 0.5 * torch.randn(context.shape, generator=torch.Generator().manual_seed(0))
    per_image = tower(torch.stack([context, moved]), NAMES).detach().numpy()
    assert per_image.shape == (2, len(NAMES), tower.embed_dim)
    np.testing.assert_allclose(per_image[0], expected, atol=1e-5)
    assert np.abs(per_image[1] - expected).max() > 1e-3
    np.testing.assert_allclose(np.linalg.norm(per_image, axis=-1), 1.0, rtol=1e-5)


def test_gradients_reach_the_context_and_no_frozen_weight(offline):
    tower = offline.context_tower()
    context = tower.word_embeddings("a photo of a").clone().requires_grad_(True)
    tower(context, NAMES)[:, 0].sum().backward()
    assert context.grad is not None and context.grad.abs().sum() > 0
    assert all(p.grad is None for p in offline._text_tower.parameters())


def test_class_texts_is_an_array_whose_rows_keep_their_names(data):
    text = data.text
    assert isinstance(text, ClassTexts) and text.shape == (10, 512) and len(text) == 10
    base, new = base_new_split(np.arange(len(text)))
    assert text[new].classnames == tuple(data.classnames[5:])
    assert text[np.arange(10) % 2 == 0].classnames == tuple(data.classnames[::2])
    np.testing.assert_array_equal(np.asarray(text[base]), text.embeddings[base])
    assert text[3].shape == (512,) and isinstance(text[:, :2], np.ndarray)
    # Array-only estimators and the protocol treat it exactly as its array.
    as_class_texts = fit_on_base(LLUClassifier(epochs=2), data.train_X, data.train_y, text, 2, 1)
    as_array = fit_on_base(LLUClassifier(epochs=2), data.train_X, data.train_y, text.embeddings, 2, 1)
    assert score_base_to_new(as_class_texts, data.test_X, data.test_y, text) == score_base_to_new(
        as_array, data.test_X, data.test_y, text.embeddings)


@pytest.mark.parametrize("rows, names, message", [
    (0, [], "empty"), (3, ["cat", "dog", "cat"], "duplicate"), (2, ["cat", ""], "non-empty"),
    (3, ["cat", "dog"], "3 embedding rows")])
def test_bad_class_names_raise(rows, names, message):
    with pytest.raises(ValueError, match=message):
        ClassTexts(np.eye(rows, 4), names)


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


def test_scoring_needs_the_tower_it_was_trained_with(data, vit_b32):
    model = CoOpClassifier(epochs=1).fit(data.train_X, data.train_y, data.text)
    foreign = ClassTexts(data.text.embeddings, data.classnames, vit_b32.context_tower())
    with pytest.raises(ValueError, match="not the one this model was trained with"):
        model.decision_function(data.test_X, foreign)


def test_training_speed_records_table_and_figure(data):
    import matplotlib.pyplot as plt

    from llu_core.estimators import CLIPAdapterClassifier
    from llu_core.report.plots import plot_training_speed
    from llu_core.evaluation.training_speed import measure_training_speed
    from llu_core.report.tables import format_speed_table

    methods = {"llu": LLUClassifier(), "clip_adapter": CLIPAdapterClassifier(), "cocoop": CoCoOpClassifier()}
    records = measure_training_speed(data.train_X, data.train_y, data.text, [1, 2], methods=methods, steps=1,
                                     progress=False)
    # CoCoOp is timed at batch 1 only, as in the paper's Figure 3.
    assert [(r["method"], r["batch_size"]) for r in records] == [("llu", 1), ("clip_adapter", 1), ("cocoop", 1),
                                                                  ("llu", 2), ("clip_adapter", 2)]
    assert all(r["classes"] == 10 and r["encode_s"] == 0.0 and r["total_s"] == r["step_s"] for r in records)
    table = format_speed_table([dict(r, total_s=max(r["total_s"], 1e-6)) for r in records])
    assert table.splitlines()[0] == "| classes | batch | LLU | CLIP-Adapter | CoCoOp |"
    assert table.splitlines()[3].endswith("\u00a0(1.00×) | – |")  # batch 2: CLIP-Adapter is the reference, no CoCoOp
    fig = plot_training_speed([dict(r, setting=s) for r in records for s in ("a", "b")])
    assert [ax.get_title() for ax in fig.axes] == ["a, 10 classes", "b, 10 classes"]
    plt.close(fig)


def test_reproduce_passes_the_prompt_learners_to_chapter_5_only(monkeypatch, tmp_path):
    import llu_core.report.reproduce as reproduce

    calls = []
    monkeypatch.setattr(reproduce, "run_chapter", lambda chapter, datasets, output, **parameters: calls.append(
        (chapter, parameters.get("prompt_learners"))) or [])
    monkeypatch.setattr(reproduce, "save_and_format", lambda *arguments: "")
    reproduce.main(["--prompt-learners", "--chapters", "base_to_new", "ablations", "--output", str(tmp_path)])
    reproduce.main(["--chapters", "base_to_new", "--output", str(tmp_path)])
    assert calls == [("base_to_new", True), ("ablations", None), ("base_to_new", None)]
