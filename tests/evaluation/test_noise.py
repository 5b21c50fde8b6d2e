"""The book's rule for noise: binomial standard errors, means over seeds, paired differences."""

import math

import numpy as np
import pytest

from llu_core.estimators import LinearProbeClassifier, LLUClassifier
from llu_core.evaluation.noise import (base_new_counts, binomial_standard_error, paired_difference,
                                       standard_errors_apart, summary_rows_apart, summary_standard_error)
from llu_core.evaluation.protocols import correct_base_to_new, fit_on_base, score_base_to_new
from llu_core.evaluation.summary import summarise
from synthetic import shifted_domain_task


def test_binomial_standard_error_of_an_accuracy():
    assert binomial_standard_error(70.0, 100) == pytest.approx(100 * math.sqrt(0.7 * 0.3 / 100))  # 4.58 points
    assert binomial_standard_error(70.0, 400) == pytest.approx(binomial_standard_error(70.0, 100) / 2)
    assert binomial_standard_error(100.0, 50) == 0.0 and math.isnan(binomial_standard_error(math.nan, 50))
    # The formula is the spread of accuracies measured on independent samples of n images.
    rng = np.random.default_rng(0)
    measured = 100 * rng.binomial(500, 0.66, size=20000) / 500
    assert measured.std() == pytest.approx(binomial_standard_error(66.0, 500), rel=0.03)
    for accuracy, n in ((101.0, 10), (50.0, 0), (50.0, 2.5)):
        with pytest.raises(ValueError):
            binomial_standard_error(accuracy, n)


def test_standard_errors_apart():
    spread = math.hypot(binomial_standard_error(70.0, 500), binomial_standard_error(65.0, 500))
    assert standard_errors_apart(70.0, 65.0, 500) == pytest.approx(5.0 / spread)
    assert standard_errors_apart(65.0, 70.0, 500) == pytest.approx(-5.0 / spread)
    assert standard_errors_apart(100.0, 100.0, 20) == 0.0 and standard_errors_apart(100.0, 0.0, 20) == math.inf


def test_summary_standard_error_adds_the_seeds_to_the_test_sample():
    records = [{"method": "m", "dataset": "d", "shots": 4, "seed": seed, "base": value, "new": 60.0, "hm": 65.0}
               for seed, value in enumerate([70.0, 72.0, 74.0])]
    row = summarise(records)[0]
    seeds = np.std([70.0, 72.0, 74.0], ddof=1) / math.sqrt(3)
    assert summary_standard_error(row, "base", 500) == pytest.approx(math.hypot(binomial_standard_error(72.0, 500),
                                                                                seeds))
    # Seeds that agree add nothing; one seed is the binomial standard error alone.
    assert summary_standard_error(row, "new", 500) == pytest.approx(binomial_standard_error(60.0, 500))
    single = summarise(records[:1])[0]
    assert summary_standard_error(single, "base", 500) == pytest.approx(binomial_standard_error(70.0, 500))
    other = dict(row, base_mean=62.0, base_std=0.0, n_seeds=1)
    spread = math.hypot(summary_standard_error(row, "base", 500), binomial_standard_error(62.0, 500))
    assert summary_rows_apart(row, other, "base", 500) == pytest.approx(10.0 / spread)


def test_paired_difference_counts_only_the_images_the_models_disagree_on():
    rng = np.random.default_rng(0)
    n = 400
    reference = rng.random(n) < 0.7
    correct = reference.copy()
    flips = rng.choice(n, 40, replace=False)
    correct[flips[:30]] = True  # 30 images made right (some were already), 10 made wrong
    correct[flips[30:]] = False
    result = paired_difference(correct, reference)
    d = correct.astype(float) - reference
    assert result["difference"] == pytest.approx(100 * d.mean())
    assert result["standard_error"] == pytest.approx(100 * d.std(ddof=1) / math.sqrt(n))
    assert result["apart"] == pytest.approx(result["difference"] / result["standard_error"])
    # Far tighter than treating the two accuracies as independent samples.
    independent = math.hypot(binomial_standard_error(100 * correct.mean(), n),
                             binomial_standard_error(100 * reference.mean(), n))
    assert result["standard_error"] < independent / 2
    # The same model against itself: no difference, no error.
    assert paired_difference(reference, reference) == {"difference": 0.0, "standard_error": 0.0, "apart": 0.0}


def test_paired_difference_over_seeds_matches_the_spread_of_repeated_experiments():
    # Each experiment draws new test images (an image's difficulty is uniform) and, per seed, a model
    # whose training draw moves each image's difficulty a little; the reference is one fixed model.
    # The standard error must cover the spread of the difference over repeated experiments, and not
    # by much more (the two terms count the training draw's noise a little twice).
    rng = np.random.default_rng(1)
    n, k, differences, errors = 300, 3, [], []
    for _ in range(2000):
        easy = rng.random(n)
        reference = np.stack([easy < 0.7] * k)
        correct = easy[None, :] + 0.05 * rng.standard_normal((k, n)) < 0.75
        result = paired_difference(correct, reference)
        differences.append(result["difference"])
        errors.append(result["standard_error"])
    assert np.std(differences) <= np.mean(errors) <= 1.25 * np.std(differences)


def test_paired_difference_rejects_mismatched_shapes():
    with pytest.raises(ValueError, match="one shape"):
        paired_difference(np.ones((2, 5), bool), np.ones(5, bool))
    with pytest.raises(ValueError, match="n ≥ 2"):
        paired_difference([True], [False])


def test_correct_base_to_new_is_what_the_accuracies_count():
    task = shifted_domain_task()
    X_train, y_train, X_test, y_test, T = task.X_train, task.y_train, task.X_test, task.y_test, task.T
    model = fit_on_base(LLUClassifier(epochs=5, device="cpu"), X_train, y_train, T, shots=4, seed=1)
    correct = correct_base_to_new(model, X_test, y_test, T)
    scores = score_base_to_new(model, X_test, y_test, T)
    assert 100 * correct["base"].mean() == pytest.approx(scores["base"])
    assert 100 * correct["new"].mean() == pytest.approx(scores["new"])
    probe = fit_on_base(LinearProbeClassifier(), X_train, y_train, T, shots=4, seed=1)
    assert correct_base_to_new(probe, X_test, y_test, T)["new"] is None

    class Embedded:
        text, test_y = T, y_test

    assert base_new_counts(Embedded) == {"base": len(correct["base"]), "new": len(correct["new"])}


def test_an_average_of_independent_differences_and_how_the_prose_quotes_one():
    from llu_core.evaluation.noise import average_difference, describe_difference

    parts = [{"difference": 3.0, "standard_error": 1.0, "apart": 3.0},
             {"difference": -1.0, "standard_error": 2.0, "apart": -0.5}]
    mean = average_difference(parts)
    assert mean["difference"] == pytest.approx(1.0) and mean["standard_error"] == pytest.approx(math.sqrt(5) / 2)
    assert mean["apart"] == pytest.approx(1.0 / (math.sqrt(5) / 2))
    assert describe_difference(parts[0]) == "+3.0 ± 1.0 points, beyond the noise"
    assert describe_difference(parts[1]) == "-1.0 ± 2.0 points, within the noise"
    assert describe_difference({"difference": -0.04, "standard_error": 0.1, "apart": -0.4}).startswith("+0.0 ±")
    with pytest.raises(ValueError):
        average_difference([])
