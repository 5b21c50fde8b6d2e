"""What the training-free estimators (GDA, ProKeR) share: their training classes, and their
hyperparameters chosen on held-out shots of their own training set.

GDA and ProKeR pick their hyperparameters by accuracy on a validation split (GDA: the
weight α of its head; ProKeR: β and λ). The base-to-new protocol hands an estimator only its
training shots, so the validation images come from those shots: up to :data:`N_FOLDS`
stratified folds, every shot held out once. With 16 shots the 4 folds hold out 4 shots per class
each, the size of CoOp's few-shot validation split (min(shots, 4) per class, KaiyangZhou/CoOp,
``datasets/*.py``); with 2 shots, 2 folds hold out one each. The setting with the most held-out
images right over all folds wins.
"""

import numpy as np
import torch
from sklearn.model_selection import StratifiedKFold

from ..utils.validation import check_integer, check_seed
from ._base import check_logit_scale

#: Folds of the training shots (at most; never more than the smallest class has shots).
N_FOLDS = 4


def shot_folds(y, n_folds, seed):
    """Stratified folds of the training shots: (fitting rows, held-out rows) index pairs.

    Parameters
    ----------
    y : numpy.ndarray of int, shape (n,)
        The training labels.
    n_folds : int
        The most folds; fewer when a class has fewer shots, so that every class keeps at least
        one shot to fit on in every fold.
    seed : int
        Shuffles the shots before they are dealt into folds.

    Returns
    -------
    list of (numpy.ndarray, numpy.ndarray), int64: empty when some class has a single shot
    (nothing of it can be held out), else ``min(n_folds, fewest shots of a class)`` pairs.
    """
    counts = np.bincount(y)
    folds = min(int(n_folds), int(counts[counts > 0].min()))
    if folds < 2:
        return []
    splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
    return list(splitter.split(np.zeros((y.size, 1)), y))


def best_setting(settings, correct):
    """The setting with the most held-out images right; the first in ``settings`` order on a tie.

    Parameters
    ----------
    settings : sequence
        The candidate settings, in the order of the method's own search (its first best wins).
    correct : array-like, shape (len(settings),)
        Held-out images classified right with each setting, summed over the folds.
    """
    return settings[int(np.argmax(np.asarray(correct)))]


def check_selection_params(estimator):
    """Validate the hyperparameters of the search and the zero-shot logits: ``n_folds`` (≥ 2),
    ``logit_scale`` (1/τ) and ``seed``."""
    check_integer("n_folds", estimator.n_folds, low=2)
    check_logit_scale(estimator.logit_scale)
    check_seed(estimator.seed)


def training_classes(X, y, T, device):
    """The shots in float64 and their classes: the rows of ``T`` that occur in ``y``.

    Parameters
    ----------
    X, y, T : torch.Tensor
        As :meth:`~llu_core.estimators._base.EmbeddingClassifier._start_fit` returns them.
    device : torch.device

    Returns
    -------
    (X (n, d) float64, labels (n,) int64 in ``range(K)``, class embeddings (K, d)), on ``device``.
    """
    classes, labels = torch.unique(y, return_inverse=True)
    return X.to(device, torch.float64), labels.to(device), T[classes].to(device)
