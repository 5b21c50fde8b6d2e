"""What every estimator shares: the prediction side of the contract and the checks of ``fit``.

Every classifier follows one contract (scikit-learn's, with the class embeddings as a third
argument):

``fit(X, y, T)``
    ``X`` (n, d) image embeddings, ``y`` (n,) integer labels into the rows of ``T`` (C, d),
    the class text embeddings. numpy arrays or torch tensors.
``decision_function(X, T)`` → numpy float32 (n, C') (float64 for the linear probe)
    Scores against any class embeddings ``T`` (C', d): other classes than in training are
    allowed (new classes, another data set) except for the linear probe. Scores are always
    finite: a model whose scores overflow raises ``ValueError`` naming its hyperparameters.
``predict(X, T)`` → numpy int64 row indices of ``T``; ``score(X, y, T)`` → accuracy in [0, 1].

Rows that are not unit-norm are normalised; NaN or zero-norm rows, dimension mismatches,
empty input, labels outside ``T`` and two rows of ``T`` that are the same class embedding raise
``ValueError`` (see :mod:`llu_core.utils.validation`).
"""

import numpy as np
import torch
from sklearn.base import BaseEstimator

from ..utils.validation import (MAX_BATCH_SIZE, SAME_EMBEDDING, as_embeddings, as_labels, check_fit_inputs,
                                check_in_range, check_integer, check_is_fitted, check_predict_inputs, check_seed, default_device)

#: The CLIP temperature 1/τ accepted. CLIP learns it in [1, 100]; far outside that range float32
#: scores stop carrying the cosines: at 1e-45 every score underflows to a tie, near 3e38 they overflow.
LOGIT_SCALE_RANGE = (1e-2, 1e4)


def check_logit_scale(value):
    """Raise ``ValueError`` unless ``value`` is a temperature 1/τ in :data:`LOGIT_SCALE_RANGE`."""
    check_in_range("logit_scale", value, *LOGIT_SCALE_RANGE)


def match_classes(T, T_known):
    """For each row of ``T``, the index of the identical row of ``T_known``, or −1 if none.

    Parameters
    ----------
    T : torch.Tensor, shape (C, d)
        Unit-norm class embeddings asked about.
    T_known : torch.Tensor, shape (K, d)
        Unit-norm class embeddings seen in training.

    Returns
    -------
    torch.Tensor, shape (C,), int64.
    """
    similarity, index = (T @ T_known.T).max(dim=1)
    return torch.where(similarity >= SAME_EMBEDDING, index, torch.full_like(index, -1))


class EmbeddingClassifier(BaseEstimator):
    """Shared prediction side of every classifier: validation, numpy output, predict, score.

    Subclasses implement ``_check_params`` (the hyperparameter checks, run by ``fit`` and
    again when a saved model is loaded), ``fit`` (which starts with :meth:`_start_fit`),
    ``_logits(X, T)`` on validated unit-norm tensors already on ``device_`` and, if they hold
    torch modules, ``_build_modules`` (also used when loading a saved model).
    """

    #: Whether the classifier can score classes it was not trained on.
    scores_unseen_classes = True
    #: The dtype of ``decision_function``'s scores.
    score_dtype = np.float32
    #: The hyperparameters that set the scores' magnitude, named when the scores overflow.
    _score_params = ("logit_scale",)

    def _check_params(self):
        """Raise ``ValueError`` naming the first hyperparameter that is out of its range."""

    def _build_modules(self):
        """Create the (untrained) torch modules of a model of dimension ``dim_`` on ``device_``."""

    def _start_fit(self, X, y, T):
        """The first step of every ``fit``: check the hyperparameters and the input, and record
        the embedding dimension ``dim_`` and the device ``device_``.

        Returns ``X`` (n, d), ``y`` (n,) and ``T`` (C, d) as checked CPU tensors
        (:func:`~llu_core.utils.validation.check_fit_inputs`).
        """
        self._check_params()
        X, y, T = check_fit_inputs(X, y, T)
        self.dim_, self.device_ = T.shape[1], default_device(getattr(self, "device", None))
        return X, y, T

    def decision_function(self, X, T):
        """Scores of every row of ``X`` for every class embedding in ``T``.

        Parameters
        ----------
        X : array-like or torch.Tensor, shape (n, d)
            Image embeddings.
        T : array-like or torch.Tensor, shape (C, d)
            Class text embeddings (any classes).

        Returns
        -------
        numpy.ndarray, shape (n, C), float32: logits (``logit_scale`` · cosine for the CLIP
        based classifiers).
        """
        check_is_fitted(self, "dim_")
        X, T = check_predict_inputs(X, T, self.dim_)
        with torch.no_grad():
            return self._as_scores(self._logits(X.to(self.device_), T.to(self.device_)))

    def _as_scores(self, logits):
        """``logits`` as the numpy scores of ``decision_function``; ``ValueError`` when they are not finite."""
        scores = logits.cpu().numpy().astype(self.score_dtype, copy=False)
        if not np.isfinite(scores).all():
            self._overflow()
        return scores

    def _overflow(self):
        """Raise the ``ValueError`` of scores that overflow, naming the hyperparameters that scale them."""
        values = ", ".join(f"{name}={getattr(self, name)!r}" for name in self._score_params)
        raise ValueError(f"{values}: the scores of this {type(self).__name__} overflow {np.dtype(self.score_dtype)}; "
                         f"lower {' or '.join(self._score_params)}")

    def predict(self, X, T):
        """Predicted class of every row of ``X``: numpy int64 (n,) row indices into ``T``."""
        return self.decision_function(X, T).argmax(axis=1).astype(np.int64)

    def score(self, X, y, T):
        """Accuracy (a fraction in [0, 1]) of :meth:`predict` against labels ``y`` into ``T``."""
        predicted = self.predict(X, T)
        labels = as_labels(y, predicted.shape[0], len(T))
        return float((predicted == labels.numpy()).mean())


class MovedEmbeddings:
    """The moved embeddings of a classifier that moves both image and text embeddings.

    The classifier implements ``_transform(E, modality)`` on validated unit-norm tensors on
    ``device_`` (``modality``: ``"image"`` or ``"text"``) and records ``dim_`` when fitted.
    """

    def transform_images(self, X):
        """Moved unit-norm image embeddings, numpy float32 (n, d)."""
        return self._transform_numpy(X, "image")

    def transform_texts(self, T):
        """Moved unit-norm class text embeddings, numpy float32 (C, d)."""
        return self._transform_numpy(T, "text")

    def _transform_numpy(self, E, modality):
        check_is_fitted(self, "dim_")
        E = as_embeddings(E, "embeddings", dim=self.dim_).to(self.device_)
        with torch.no_grad():
            return self._transform(E, modality).cpu().numpy()


def store_params(estimator, params):
    """Store every argument of ``__init__`` (its ``locals()``) as the attribute of the same name.

    scikit-learn's rule: ``__init__`` only records the hyperparameters, unchecked and unchanged;
    ``fit`` checks them, and ``get_params``/``clone`` read them back by the argument names.
    """
    for name, value in params.items():
        if name != "self":
            setattr(estimator, name, value)


def check_training_params(estimator):
    """Validate the hyperparameters shared by the trainable classifiers: the CLIP temperature
    ``logit_scale`` (1/τ, :data:`LOGIT_SCALE_RANGE`), ``lr``, ``epochs``, ``batch_size`` and ``seed``."""
    check_logit_scale(estimator.logit_scale)
    check_in_range("lr", estimator.lr, low=0.0)
    check_integer("epochs", estimator.epochs, allow_none=True)
    check_integer("batch_size", estimator.batch_size, high=MAX_BATCH_SIZE)
    check_seed(estimator.seed)
