"""LLU models trained together (llu_core.method.batched) equal their fits alone."""

import numpy as np
import pytest
import torch
from sklearn.base import clone

from llu_core import ABLATIONS, LLUClassifier, embed_dataset, run_grid
from llu_core.estimators.llu import fit_llu_together
from llu_core.estimators.together import fit_together
from llu_core.evaluation.protocols import base_training_job, fit_all_on_base, fit_on_base, score_base_to_new
from llu_core.method import batched
from synthetic import random_unit, shifted_domain_task

#: Cosine scores (decision_function / logit_scale) agree within float32 rounding of 600 steps: a
#: random initial W (the plain Linear layer) or ‖W − I‖'s gradient of norm λ reach a few 1e-6.
COSINE_TOLERANCE = 1e-5


def cosines(model, X, T):
    return model.decision_function(X, T) / model.logit_scale


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


def test_fit_together_leaves_other_estimators_to_their_own_fit(cifar10):
    from llu_core import CLIPAdapterClassifier, ZeroShotClassifier

    methods = {"zero_shot": ZeroShotClassifier(), "clip_adapter": CLIPAdapterClassifier(epochs=3),
               "llu": LLUClassifier(epochs=3)}
    fitted = fit_all_on_base(methods, cifar10.train_X, cifar10.train_y, cifar10.text, 2, 1, progress=False)
    assert list(fitted) == list(methods) and all(fitted[name] is not methods[name] for name in methods)
    for name, model in fitted.items():
        alone = fit_on_base(methods[name], cifar10.train_X, cifar10.train_y, cifar10.text, 2, 1)
        np.testing.assert_allclose(cosines(model, cifar10.test_X, cifar10.text),
                                   cosines(alone, cifar10.test_X, cifar10.text), atol=COSINE_TOLERANCE)
    assert not hasattr(methods["llu"], "loss_history_")


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


def test_a_diverging_model_of_a_stack_raises_with_its_hyperparameters():
    X, T = random_unit(8, 6, seed=0), random_unit(3, 6, seed=1)
    y = np.array([0, 1, 2, 0, 1, 2, 0, 1])
    jobs = [(LLUClassifier(epochs=50), X, y, T), (LLUClassifier(lam=1e5, epochs=50), X, y, T)]
    with pytest.raises(ValueError, match=r"LLU: training diverged in epoch \d+: .*lr=0.002 and lam=100000 and "
                                         r"logit_scale=100 .* lower them"):
        fit_together(jobs, progress=False)
