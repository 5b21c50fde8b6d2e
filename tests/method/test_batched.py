"""LLU models trained together (llu_core.method.batched) equal their fits alone."""

import numpy as np
import pytest
import torch
from sklearn.base import clone

from llu_core import ABLATIONS, LLUClassifier, embed_dataset, run_grid
from llu_core.estimators.llu import fit_llu_together
from llu_core.evaluation.protocols import base_training_job, fit_on_base, score_base_to_new
from llu_core.method import batched
from fits_alike import COSINE_TOLERANCE, cosines
from synthetic import shifted_domain_task


@pytest.fixture(scope="module")
def cifar10():
    return embed_dataset("offline", "cifar10", train_per_class=50, test_per_class=100, progress=False)


def assert_same_model(alone, together, X_test, T_test):
    np.testing.assert_allclose(cosines(together, X_test, T_test), cosines(alone, X_test, T_test), rtol=0.0,
                               atol=COSINE_TOLERANCE)
    np.testing.assert_allclose(together.loss_history_, alone.loss_history_, rtol=1e-4, atol=1e-6)
    assert together.identity_distance_ == pytest.approx(alone.identity_distance_, rel=1e-3, abs=1e-9)
    assert together.n_epochs_ == alone.n_epochs_
    torch.testing.assert_close(together.image_centres_, alone.image_centres_)


def test_every_ablation_of_table_4_equals_its_fit_alone(cifar10):
    # 16 and 1 shots in one stack (600 and 50 steps: the short ones leave the stack early), two seeds.
    jobs = [base_training_job(LLUClassifier(**kwargs), cifar10.train_X, cifar10.train_y, cifar10.text, shots, seed)
            for shots, seed in ((16, 1), (1, 2)) for kwargs in ABLATIONS.values()]
    alone = [clone(model).fit(X, y, T) for model, X, y, T in jobs]
    together = fit_llu_together([model for model, *_ in jobs], [inputs for _, *inputs in jobs], progress=False)
    assert len({model.n_epochs_ for model in together}) == 2
    for one, other in zip(alone, together):
        assert_same_model(one, other, cifar10.test_X, cifar10.text)


def test_a_stack_of_one_and_the_rest_of_the_method(monkeypatch):
    # More rows than dimensions (the basis is the identity), Eq. 6 as printed, another batch size and
    # learning rate, models split over stacks of two.
    task = shifted_domain_task(dim=16, shots=12)
    X, y, T = task.X_train, task.y_train, task.T[task.base]
    models = [LLUClassifier(identity_norm="frobenius", lam=3.0, epochs=15, seed=3),
              LLUClassifier(init="random", identity_norm="frobenius", lam=0.5, batch_size=7, lr=0.01, epochs=9),
              LLUClassifier(beta=1.0, gamma=5.0, n_clusters=6, epochs=12, logit_scale=30.0, seed=5)]
    alone = [clone(model).fit(X, y, T) for model in models]
    monkeypatch.setattr(batched, "MODELS_PER_STACK", 2)
    together = fit_llu_together([clone(model) for model in models], [(X, y, T)] * 3, progress=False)
    for one, other in zip(alone, together):
        assert_same_model(one, other, task.X_test, task.T)


@pytest.mark.parametrize("progress", [False, True])
def test_the_bar_over_the_steps_shows_only_when_asked(progress, monkeypatch, capsys):
    monkeypatch.delenv("TQDM_DISABLE", raising=False)
    task = shifted_domain_task(dim=16, shots=4)
    models = [LLUClassifier(epochs=3, seed=seed) for seed in (1, 2)]
    fit_llu_together(models, [(task.X_train, task.y_train, task.T[task.base])] * 2, progress=progress)
    assert ("2 LLU models" in capsys.readouterr().err) == progress


def test_run_grid_scores_what_the_fits_alone_score(cifar10):
    methods = {"default": LLUClassifier(epochs=20), "linear": LLUClassifier(**ABLATIONS["linear"], epochs=20)}
    records = run_grid(methods, [cifar10], shots=[4, 2], seeds=[1, 2], progress=False)
    assert [(r["shots"], r["seed"], r["method"]) for r in records] == [
        (shots, seed, name) for shots in (4, 2) for seed in (1, 2) for name in methods]
    for record in records:
        model = fit_on_base(methods[record["method"]], cifar10.train_X, cifar10.train_y, cifar10.text,
                            record["shots"], record["seed"])
        expected = score_base_to_new(model, cifar10.test_X, cifar10.test_y, cifar10.text)
        assert {metric: record[metric] for metric in expected} == pytest.approx(expected)
