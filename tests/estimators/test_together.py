"""Many fits as one problem (llu_core.estimators.together): LLU models batched, the others alone."""

import numpy as np
import pytest

from llu_core import LLUClassifier, embed_dataset
from llu_core.estimators.together import fit_together
from llu_core.evaluation.protocols import fit_all_on_base, fit_on_base
from fits_alike import COSINE_TOLERANCE, cosines
from synthetic import random_unit


@pytest.fixture(scope="module")
def cifar10():
    return embed_dataset("offline", "cifar10", train_per_class=50, test_per_class=100, progress=False)


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


def test_a_diverging_model_of_a_stack_raises_with_its_hyperparameters():
    X, T = random_unit(8, 6, seed=0), random_unit(3, 6, seed=1)
    y = np.array([0, 1, 2, 0, 1, 2, 0, 1])
    jobs = [(LLUClassifier(epochs=50), X, y, T), (LLUClassifier(lam=1e5, epochs=50), X, y, T)]
    with pytest.raises(ValueError, match=r"LLU: training diverged in epoch \d+: .*lr=0.002 and lam=100000 and "
                                         r"logit_scale=100 .* lower them"):
        fit_together(jobs, progress=False)


def test_one_estimator_object_in_two_jobs_is_refused_before_any_fit():
    from llu_core import ZeroShotClassifier
    from llu_core.estimators.llu import fit_llu_together

    X, T = random_unit(8, 6, seed=0), random_unit(3, 6, seed=1)
    y = np.array([0, 1, 2, 0, 1, 2, 0, 1])
    for shared in (LLUClassifier(epochs=1), ZeroShotClassifier()):
        with pytest.raises(ValueError, match="jobs 0 and 2 hold the same estimator object: it would be fitted twice"):
            fit_together([(shared, X, y, T), (LLUClassifier(epochs=1), X, y, T), (shared, X, y, T[::-1])],
                         progress=False)
        assert not hasattr(shared, "dim_")  # nothing was fitted
    model = LLUClassifier(epochs=1)
    with pytest.raises(ValueError, match="models\\[0\\] and models\\[1\\] are the same object"):
        fit_llu_together([model, model], [(X, y, T), (X[::-1], y[::-1], T)], progress=False)
    with pytest.raises(ValueError, match="models\\[0\\] is a ZeroShotClassifier; fit_llu_together fits LLUClassifier"):
        fit_llu_together([ZeroShotClassifier()], [(X, y, T)], progress=False)
    with pytest.raises(ValueError, match="inputs\\[0\\] must be a triple \\(X, y, T\\)"):
        fit_llu_together([model], [X], progress=False)
    assert not hasattr(model, "dim_")
