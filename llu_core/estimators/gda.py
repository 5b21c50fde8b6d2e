"""GDA (Wang et al., ICLR 2024): Gaussian discriminant analysis of the shots, added to zero-shot CLIP.

"A Hard-to-Beat Baseline for Training-free CLIP-based Adaptation", Z. Wang, J. Liang, L. Sheng,
R. He, Z. Wang, T. Tan (arXiv 2402.04087); code ``mrflogs/ICLR24`` (``main_few_shots.py``, ``main_base2new.py``).
Nothing is trained: the class means and one shared precision matrix of the shots give a linear
head in closed form (the paper's Eq. 3 and Eq. 4), which is added to the zero-shot logits.
"""

import math

import numpy as np
import torch

from ..utils.validation import check_in_range, check_integer, check_seed
from ._base import EmbeddingClassifier, match_classes, store_params
from .selection import N_FOLDS, best_setting, check_selection_params, shot_folds, training_classes

#: The weights α of the head searched on held-out shots (``main_few_shots.py``, ``main_base2new.py``).
ALPHA_GRID = (1e-4, 1e-3, 1e-2, 0.1, 1.0, 10.0, 100.0)
#: α when no shot can be held out (a class with one shot): the code's starting value ``best_alpha = 0.1``.
FALLBACK_ALPHA = 0.1


def shrunk_precision(A):
    """GDA's shrunk precision (Eq. 4, the code's "KS estimator"): d · ((m − 1) S + tr(S) I)⁺.

    S = AᵀA / (m − 1) is the scatter of the deviations ``A`` divided as an unbiased covariance,
    so (m − 1) S = AᵀA; the identity term keeps the matrix invertible with fewer samples than
    dimensions. For m ≤ d the inverse is taken by the Woodbury identity, an m × m solve:
    (AᵀA + t I)⁻¹ = (I − Aᵀ (t I + AAᵀ)⁻¹ A) / t. When every deviation is zero (t = 0) the
    pseudo-inverse of the zero matrix, zero, is returned, as the code's ``torch.linalg.pinv``.

    Parameters
    ----------
    A : torch.Tensor, shape (m, d), float64
        Deviations from the mean: features minus their class mean (the base classes' pooled
        covariance), or a new class's neighbours minus its text embedding.

    Returns
    -------
    torch.Tensor, shape (d, d), float64, symmetric.
    """
    m, d = A.shape
    t = float(A.pow(2).sum()) / max(m - 1, 1)  # tr(S)
    eye = torch.eye(d, dtype=A.dtype, device=A.device)
    if t == 0.0:
        return torch.zeros_like(eye)
    if m <= d:
        small = t * torch.eye(m, dtype=A.dtype, device=A.device) + A @ A.T
        return (d / t) * (eye - A.T @ torch.linalg.solve(small, A))
    return d * torch.linalg.inv(A.T @ A + t * eye)


def class_gaussians(X, labels, n_classes):
    """The class means μ_k and the shared precision Σ⁻¹ of the shots (Eq. 4 on the pooled deviations).

    Parameters
    ----------
    X : torch.Tensor, shape (n, d), float64
    labels : torch.Tensor, shape (n,), int64 in ``range(n_classes)``, every class present
    n_classes : int

    Returns
    -------
    (torch.Tensor (K, d), torch.Tensor (d, d)): the means and the precision.
    """
    means = torch.zeros(n_classes, X.shape[1], dtype=X.dtype, device=X.device).index_add_(0, labels, X)
    means /= torch.bincount(labels, minlength=n_classes).unsqueeze(1).to(X.dtype)
    return means, shrunk_precision(X - means[labels])


def gaussian_head(means, precision):
    """The linear head of GDA (Eq. 3): w_k = Σ⁻¹μ_k and b_k = −½ μ_kᵀΣ⁻¹μ_k.

    The log prior log p_k is left out here: GDA takes equal priors p_k = 1/C over the C classes
    scored, added by the caller. Returns ``(coef (K, d), intercept (K,))``.
    """
    coef = means @ precision  # Σ⁻¹ is symmetric: rows are (Σ⁻¹μ_k)ᵀ
    return coef, -0.5 * (coef * means).sum(dim=1)


class GDAClassifier(EmbeddingClassifier):
    """GDA: zero-shot CLIP plus α times a Gaussian discriminant head fitted on the shots.

    Scores are ``logit_scale`` · xᵀt_c + α (xᵀw_c + b_c + log(1/C)) over the C classes of ``T``,
    with w_c = Σ⁻¹μ_c and b_c = −½ μ_cᵀΣ⁻¹μ_c (Eq. 3): μ_c the class means of the shots and Σ⁻¹
    one shared precision from the shots' deviations from their class means, shrunk as Eq. 4
    (:func:`shrunk_precision`, as ``main_few_shots.py``). Nothing is trained.

    **Classes not in training** (base to new, ``main_base2new.py``): a new class's mean is the
    average of the ``n_neighbours`` training features closest to its text embedding t together
    with ``text_weight`` copies of t; its precision is Eq. 4 applied to those neighbours' deviations
    from t, averaged over the new classes scored. Classes of ``T`` seen in training (identical
    text embedding rows) keep their own means and the shots' precision.

    **Where this differs from the published protocol.** GDA chooses α among
    :data:`ALPHA_GRID` on a validation split: the whole validation split of each data set (the
    split Tip-Adapter uses; ProKeR's code, ``utils.py``, names GDA among the methods that do), and
    for ImageNet the test split itself (``val_loader`` is built on ``dataset.test``). Its
    features are 10 augmented views of every shot (``augment_epoch: 10``), and its base-to-new
    base classifier inverts the mean per-class covariance of those views without shrinkage.
    Here α is chosen on the shots alone (:mod:`llu_core.estimators.selection`: with 16 shots,
    4 folds of 4 held-out shots per class, CoOp's validation size), the cached embeddings have
    one view per shot, and every classifier uses the shrunk precision of Eq. 4, which stays
    invertible with fewer shots than dimensions. The new classes keep the code's numbers, 64
    neighbours (all the shots when there are fewer) and 16 copies of t, although its 64 neighbours
    are views of about 6 images: scaled to 6 images with 1.6 copies, the new classes of the
    offline Fashion-MNIST and DTD lost 7 to 8 points of new-class accuracy at 16 shots (3 seeds),
    CIFAR-10's none.

    Parameters
    ----------
    alpha : float or None
        α ≥ 0, the weight of the head; ``None`` chooses it among :data:`ALPHA_GRID` on held-out
        shots (:data:`FALLBACK_ALPHA` when a class has a single shot).
    n_neighbours : int
        Training features averaged into a new class's mean (the code's k = 64).
    text_weight : float
        Copies of a new class's text embedding averaged with its neighbours (≥ 0; the code's 16).
    n_folds : int
        The most folds of the shots for choosing α (at least 2).
    logit_scale : float
        The CLIP temperature 1/τ of the zero-shot logits.
    seed : int
        Deals the shots into folds.
    device : str or torch.device, optional

    Attributes
    ----------
    alpha_ : float
        The α used (chosen or given).
    coef_ : torch.Tensor, shape (K, d)
        w_k of the K training classes.
    intercept_ : torch.Tensor, shape (K,)
        b_k without the log prior.
    features_ : torch.Tensor, shape (n, d)
        The training features, from which new classes are synthesised.
    class_embeddings_ : torch.Tensor, shape (K, d)
        The training classes' text embeddings (rows of ``T`` that occur in ``y``, in label order).
    """

    _score_params = ("alpha", "logit_scale")

    def __init__(self, alpha=None, n_neighbours=64, text_weight=16.0, n_folds=N_FOLDS, logit_scale=100.0, seed=1,
                 device=None):
        store_params(self, locals())

    def _check_params(self):
        if self.alpha is not None:
            check_in_range("alpha", self.alpha, low=0.0)
        check_integer("n_neighbours", self.n_neighbours)
        check_in_range("text_weight", self.text_weight, low=0.0)
        check_selection_params(self)

    def fit(self, X, y, T):
        """Fit the class means and the shared precision on ``X`` (n, d) labelled ``y`` into ``T`` (C, d)."""
        X, y, T = self._start_fit(X, y, T)
        X, labels, self.class_embeddings_ = training_classes(X, y, T, self.device_)
        self.alpha_ = float(self.alpha) if self.alpha is not None else self._choose_alpha(X, labels)
        coef, intercept = gaussian_head(*class_gaussians(X, labels, len(self.class_embeddings_)))
        self.coef_, self.intercept_ = coef.float(), intercept.float()
        self.features_ = X.float()
        return self

    def _choose_alpha(self, X, labels):
        """The α of :data:`ALPHA_GRID` that classifies the most held-out shots right."""
        folds = shot_folds(labels.cpu().numpy(), self.n_folds, check_seed(self.seed))
        if not folds:
            return FALLBACK_ALPHA
        n_classes = self.class_embeddings_.shape[0]
        texts = self.class_embeddings_.double()
        correct = np.zeros(len(ALPHA_GRID))
        for fitting, held_out in folds:
            fitting, held_out = torch.as_tensor(fitting), torch.as_tensor(held_out)
            coef, intercept = gaussian_head(*class_gaussians(X[fitting], labels[fitting], n_classes))
            X_out, truth = X[held_out], labels[held_out]
            zero_shot = self.logit_scale * X_out @ texts.T
            head = X_out @ coef.T + intercept + math.log(1.0 / n_classes)
            correct += [int(((zero_shot + alpha * head).argmax(dim=1) == truth).sum()) for alpha in ALPHA_GRID]
        return best_setting(ALPHA_GRID, correct)

    def new_class_head(self, T_new):
        """The head (w, b without the log prior) of classes not seen in training, from their text embeddings.

        Parameters
        ----------
        T_new : torch.Tensor, shape (C, d)
            Unit-norm text embeddings on ``device_``.

        Returns
        -------
        (torch.Tensor (C, d), torch.Tensor (C,)), float32.
        """
        features, texts = self.features_.double(), T_new.double()
        k = min(int(self.n_neighbours), features.shape[0])
        neighbours = features[(texts @ features.T).topk(k, dim=1).indices]  # (C, k, d)
        means = (neighbours.sum(dim=1) + self.text_weight * texts) / (k + self.text_weight)
        precision = sum(shrunk_precision(group - text) for group, text in zip(neighbours, texts)) / len(texts)
        coef, intercept = gaussian_head(means, precision)
        return coef.float(), intercept.float()

    def _logits(self, X, T):
        known = match_classes(T, self.class_embeddings_)
        seen = known >= 0
        coef = torch.empty_like(T)
        intercept = torch.empty(T.shape[0], dtype=T.dtype, device=T.device)
        coef[seen], intercept[seen] = self.coef_[known[seen]], self.intercept_[known[seen]]
        if not seen.all():
            coef[~seen], intercept[~seen] = self.new_class_head(T[~seen])
        head = X @ coef.T + intercept + math.log(1.0 / T.shape[0])
        return self.logit_scale * X @ T.T + self.alpha_ * head
