"""How far a measured accuracy can be trusted: the book's one rule for noise.

Every accuracy of the book is measured on a finite test set, after training on one few-shot
draw (a seed). The book reads every number by the same rule (stated on its method page):

- **One accuracy** p (percent) on n test images carries the test sample's noise, its binomial
  standard error √(p (100 − p) / n) (:func:`binomial_standard_error`).
- **A mean over k seeds** carries, besides, the spread of the seeds: √(SE² + s² / k), with s
  the standard deviation over the seeds (:func:`mean_standard_error`; :func:`summary_standard_error`
  for the rows of :func:`~llu_core.evaluation.summary.summarise`).
- **A difference** is read as one only when it is at least two standard errors of the
  difference. Two models scored on the *same* test images are compared image by image
  (:func:`paired_difference`): the standard error comes from the images on which they
  disagree. Where only the accuracies are known, the two are treated as independent,
  √(SE_a² + SE_b²) (:func:`standard_errors_apart`, :func:`summary_rows_apart`), which
  overstates the noise of a difference on the same images: a difference this bound calls real
  is real, one it calls noise may not be.
"""

import math

import numpy as np

from ..utils.validation import check_integer
from .protocols import base_new_split

#: A difference of at least this many standard errors is read as a difference (≈ 5 % two-sided).
APART = 2.0


def binomial_standard_error(accuracy, n):
    """The standard error, in points, of an accuracy of ``accuracy`` percent measured on ``n`` test images.

    Each test image counts as right with probability p = ``accuracy`` / 100, independently of
    the others (the binomial model), so the measured accuracy scatters around p with standard
    deviation √(p (1 − p) / n): at 70 %, ± 4.6 points on 100 images, ± 2.0 on 500. It is the
    noise of the test sample alone, not the spread over training seeds. NaN stays NaN.
    """
    check_integer("n", n)
    if math.isnan(accuracy):
        return math.nan
    if not 0.0 <= accuracy <= 100.0:
        raise ValueError(f"accuracy must be a percentage in [0, 100], got {accuracy!r}")
    p = accuracy / 100.0
    return 100.0 * math.sqrt(p * (1.0 - p) / n)


def _ratio(difference, error):
    """``difference`` / ``error``, 0 for 0 / 0 and ±inf for a difference without error."""
    if error == 0.0:
        return 0.0 if difference == 0.0 else math.copysign(math.inf, difference)
    return difference / error


def standard_errors_apart(accuracy, reference, n):
    """How many standard errors of their difference two accuracies (percent, each on ``n`` test images) lie apart.

    (``accuracy`` − ``reference``) / √(SE² + SE_ref²), with the binomial standard errors of
    :func:`binomial_standard_error`. The two treated as independent samples, the bound is
    conservative when both were measured on the same images (:func:`paired_difference` is
    exact there); beyond :data:`APART` the difference is unlikely (≈ 5 %) to be the test
    sample's noise alone. 0 when both are exactly 0 or 100 %.
    """
    spread = math.hypot(binomial_standard_error(accuracy, n), binomial_standard_error(reference, n))
    return _ratio(accuracy - reference, spread)


def mean_standard_error(accuracies, n_test):
    """The standard error of a mean over seeds of accuracies (percent) each measured on ``n_test`` images.

    √(SE_binomial(mean, n)² + s² / k), s the standard deviation over the k seeds (ddof 1): the
    test sample's noise, which the seeds share (the same test images), and the spread of the
    training draws. One seed: the binomial standard error alone.
    """
    values = np.asarray(accuracies, dtype=float).ravel()
    if values.size == 0:
        raise ValueError("accuracies is empty; expected one accuracy per seed")
    seeds = values.var(ddof=1) / values.size if values.size > 1 else 0.0
    return math.sqrt(binomial_standard_error(float(values.mean()), n_test) ** 2 + seeds)


def summary_standard_error(row, metric, n_test):
    """:func:`mean_standard_error` of a summary row's mean over seeds.

    The row holds summarise's ddof-0 spread σ over its k seeds, and s² / k = σ² / (k − 1).

    Parameters
    ----------
    row : dict
        A row of :func:`~llu_core.evaluation.summary.summarise` (``<metric>_mean``,
        ``<metric>_std``, ``n_seeds``).
    metric : str
        ``"base"``, ``"new"`` or ``"accuracy"``.
    n_test : int
        The test images the accuracy was measured on (for an average over data sets, the sum).
    """
    mean, k = row[f"{metric}_mean"], row.get("n_seeds", 1)
    seeds = row[f"{metric}_std"] ** 2 / (k - 1) if k > 1 else 0.0
    return math.sqrt(binomial_standard_error(mean, n_test) ** 2 + seeds)


def summary_rows_apart(row, reference, metric, n_test):
    """How many standard errors apart two summary rows' means of ``metric`` lie (each on ``n_test`` images).

    (mean − mean_ref) / √(SE² + SE_ref²) with :func:`summary_standard_error`: independent, so
    conservative for two methods scored on the same images.
    """
    difference = row[f"{metric}_mean"] - reference[f"{metric}_mean"]
    return _ratio(difference, math.hypot(summary_standard_error(row, metric, n_test),
                                         summary_standard_error(reference, metric, n_test)))


def paired_difference(correct, reference):
    """The accuracy difference of two models on the same test images, with its standard error.

    With d_si = correct_si − reference_si ∈ {−1, 0, 1} for seed s and test image i, the
    difference is the mean of d (in points). Its standard error adds the test sample's, from
    the per-image means d̄_i over the seeds, s_d / √n (images on which both are right, or both
    wrong, have d̄_i = 0 and cost nothing), and the seeds', the spread of the per-seed
    differences D_s over √k:

        SE = 100 · √( var_i(d̄_i) / n + var_s(D_s) / k ).

    Both terms hold a little of the training draw's noise, so the error is slightly
    conservative (by about a tenth in the tests' simulation).

    Parameters
    ----------
    correct, reference : array-like of bool, shape (n,) or (k, n)
        Whether each model gets each test image right; rows are seeds (the same seeds and the
        same test images for both).

    Returns
    -------
    dict
        ``"difference"`` (points), ``"standard_error"`` (points) and ``"apart"`` (their ratio).
    """
    correct, reference = np.atleast_2d(correct).astype(float), np.atleast_2d(reference).astype(float)
    if correct.shape != reference.shape or correct.shape[1] < 2:
        raise ValueError(f"correct and reference must have one shape, (n,) or (seeds, n) with n ≥ 2 test images; "
                         f"got {correct.shape} and {reference.shape}")
    d = correct - reference
    per_image, per_seed = d.mean(axis=0), d.mean(axis=1)
    variance = per_image.var(ddof=1) / d.shape[1]
    if d.shape[0] > 1:
        variance += per_seed.var(ddof=1) / d.shape[0]
    difference, error = 100.0 * float(d.mean()), 100.0 * math.sqrt(variance)
    return {"difference": difference, "standard_error": error, "apart": _ratio(difference, error)}


def average_difference(differences):
    """The mean of several :func:`paired_difference` results (e.g. one per data set), with its standard error.

    The data sets' test samples and fits are independent, so the standard error of the mean
    of D differences is √(Σ SE_d²) / D.

    Parameters
    ----------
    differences : list of dict
        :func:`paired_difference` results.

    Returns
    -------
    dict
        ``"difference"``, ``"standard_error"``, ``"apart"``, as :func:`paired_difference`.
    """
    if not differences:
        raise ValueError("average_difference needs at least one difference")
    difference = float(np.mean([d["difference"] for d in differences]))
    error = math.sqrt(sum(d["standard_error"] ** 2 for d in differences)) / len(differences)
    return {"difference": difference, "standard_error": error, "apart": _ratio(difference, error)}


def describe_difference(difference, unit="points"):
    """A difference as the prose quotes it: "+1.2 ± 0.8 points, within the noise" (or "beyond the noise")."""
    where = "beyond" if abs(difference["apart"]) >= APART else "within"
    value = round(difference["difference"], 1) + 0.0  # + 0.0: no "−0.0"
    return f"{value:+.1f} ± {difference['standard_error']:.1f} {unit}, {where} the noise"


def base_new_counts(data):
    """How many test images of base and of new classes an embedded data set has: ``{"base": n, "new": n}``."""
    base, new = base_new_split(np.arange(len(data.text)))
    test_y = np.asarray(data.test_y)
    return {"base": int(np.isin(test_y, base).sum()), "new": int(np.isin(test_y, new).sum())}
