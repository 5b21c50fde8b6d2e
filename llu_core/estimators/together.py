"""Many fits at once: each estimator on its own training set, LLU models as one batched problem."""

from ..utils.progress import progress_bar
from .llu import LLUClassifier, fit_llu_together


def fit_together(jobs, progress=True):
    """Fit every job's estimator on the job's training set; return the fitted estimators, in order.

    The :class:`~llu_core.estimators.LLUClassifier` jobs are trained together, stacked into
    batched problems (:func:`~llu_core.estimators.llu.fit_llu_together`); each ends as its own
    ``fit`` would leave it. Every other estimator runs its own ``fit``.

    Parameters
    ----------
    jobs : sequence of (estimator, X, y, T)
        An unfitted estimator of :mod:`llu_core.estimators` and its training set, as ``fit``
        takes it. The estimators are fitted in place (clone them first to keep them unfitted);
        one object in two jobs is refused.
    progress : bool
        Show progress bars.

    Returns
    -------
    list of fitted estimators, one per job.
    """
    jobs = list(jobs)
    estimators = [job[0] for job in jobs]
    for index, estimator in enumerate(estimators):
        first = next(i for i, other in enumerate(estimators) if other is estimator)
        if first != index:
            raise ValueError(f"jobs {first} and {index} hold the same estimator object: it would be fitted twice in "
                             "place and hold only the second fit; give each job its own (sklearn.base.clone)")
    together = [job for job in jobs if type(job[0]) is LLUClassifier]
    fit_llu_together([estimator for estimator, *_ in together], [inputs for _, *inputs in together], progress=progress)
    alone = [job for job in jobs if type(job[0]) is not LLUClassifier]
    for estimator, X, y, T in progress_bar(alone, show=progress and bool(alone), desc="fits", leave=False):
        estimator.fit(X, y, T)
    return [estimator for estimator, *_ in jobs]
