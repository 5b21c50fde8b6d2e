"""ProKeR (Bendou et al., CVPR 2025): a kernel ridge regression of zero-shot CLIP's residuals on the shots.

"ProKeR: A Kernel Perspective on Few-Shot Adaptation of Large Vision-Language Models",
Y. Bendou, A. Ouasfi, V. Gripon, A. Boukhayma (arXiv 2501.11175); project page
``ybendou/ProKeR``; the code read here is ``trainers/proker.py`` and ``utils.py`` of its public
release as kept in the fork ``omarnust/BReg-Adapter``. In closed form, with no training:
zero-shot CLIP is the base learner f₀, and a function of the reproducing kernel Hilbert space
of LLU's own kernel (Eq. 5's exp(−γ(1 − xᵀd)), with ProKeR's β in the role of γ) is fitted to
what f₀ gets wrong on the shots, regularised towards f₀ (the "proximal" term).
"""

import itertools

import numpy as np
import torch
import torch.nn.functional as F

from ..method.locality import kernel
from ..utils.validation import check_in_range, check_seed
from ._base import EmbeddingClassifier, match_classes, store_params
from .selection import N_FOLDS, best_setting, check_selection_params, shot_folds, training_classes

#: β searched on held-out shots: the span of the per-data-set ranges in ProKeR's configs (0.1 to 10).
BETA_GRID = (0.1, 0.5, 1.0, 2.0, 3.0, 5.0, 7.5, 10.0)
#: λ searched on held-out shots: the span of the per-data-set ranges in ProKeR's configs (0.001 to 10).
LAM_GRID = (1e-3, 3e-3, 1e-2, 3e-2, 0.1, 0.3, 1.0, 3.0, 10.0)
#: (β, λ) when no shot can be held out: the code's values for one shot transferred from ImageNet
#: (``configs/RN50/configs_proker/hyperparameters.json``, ``"1": {"beta": 3, "lmbda": 0.05}``).
FALLBACK = (3.0, 0.05)

# Scores at most this many kernel entries (rows × shots) at once: 64 MB of float32.
_CHUNK_ELEMENTS = 1 << 24


def residual_coefficients(K, residuals, lam):
    """The coefficients A of ProKeR's closed form: (K / λ + I) A = Y − f₀(S).

    (K/λ + I)⁻¹ = λ (K + λI)⁻¹, so A is λ times the kernel ridge regression of the residuals
    with ridge λ: K·A/λ interpolates the residuals as λ → 0, while the correction K·A itself
    vanishes (the model becomes f₀); as λ → ∞, A → Y − f₀(S), a Tip-Adapter cache of residuals.
    Solved through the eigendecomposition K = QΛQᵀ, A = Q diag(λ / (Λ + λ)) QᵀR.

    Parameters
    ----------
    K : torch.Tensor, shape (n, n), float64
        The kernel matrix of the shots.
    residuals : torch.Tensor, shape (n, K), float64
        One-hot labels minus the zero-shot cosines of the shots.
    lam : float or sequence of float
        λ > 0; a sequence gives one solution per λ from one decomposition.

    Returns
    -------
    torch.Tensor, shape (n, K) (or (len(lam), n, K) for a sequence), float64.
    """
    eigenvalues, Q = torch.linalg.eigh(K)
    eigenvalues = eigenvalues.clamp(min=0.0)  # K is positive semi-definite; rounding can dip below 0
    projected = Q.T @ residuals
    lams = torch.as_tensor(lam, dtype=K.dtype, device=K.device)
    shrink = lams.reshape(-1, 1) / (eigenvalues + lams.reshape(-1, 1))  # (L, n)
    solutions = Q @ (shrink.unsqueeze(-1) * projected)
    return solutions if lams.ndim else solutions[0]


class ProKeRClassifier(EmbeddingClassifier):
    """ProKeR: zero-shot CLIP plus a kernel ridge regression of its residuals on the shots.

    With f₀(x) = (xᵀt_1, …, xᵀt_K) the zero-shot cosines of the K training classes, S the n
    shots and Y their one-hot labels, ProKeR's closed form (``trainers/proker.py``) is

        f(x) = f₀(x) + k(x, S) A,    (K_SS / λ + I) A = Y − f₀(S),

    with the kernel k(x, s) = exp(−β(1 − xᵀs)) (:func:`~llu_core.method.locality.kernel`: LLU's
    Eq. 5 kernel, ProKeR's β being LLU's γ) and A from :func:`residual_coefficients`. Scores
    are ``logit_scale`` · f(x) (ProKeR's code scores f(x) itself; the scale changes no
    prediction and makes the scores CLIP logits, like the other estimators'). The fit is
    exact: one n × n eigendecomposition per β, no training.

    **Classes not in training** get no correction: the regression's outputs are the K training
    classes, so a class of ``T`` that matches no training class embedding (cosine ≥ 1 − 1e-5)
    keeps its zero-shot score. ProKeR's code scores only the classes it was fitted on; this is
    the base-to-new reading of its formula, as for Tip-Adapter.

    **β and λ** are chosen as ProKeR's code chooses them with ``--hp-selection coop`` (CoOp's
    min(shots, 4) validation shots per class): the grid pair whose model classifies the most
    validation images right, searched β-major (its first best wins). Here the validation
    images are held-out shots (:mod:`llu_core.estimators.selection`: with 16 shots, 4 folds of
    4 per class). Its grids are set per data set (``configs/<backbone>/configs_proker/*.yaml``,
    e.g. β in [0.5, 3] and λ in [0.001, 1] on Food-101 with RN50); ours, :data:`BETA_GRID` and
    :data:`LAM_GRID`, span those ranges, since the offline stand-in has no tuned ranges. The
    code's default selection uses the whole validation split (Tip-Adapter's), its third mode
    transfers ImageNet's values (``configs/RN50/configs_proker/hyperparameters.json``: for 16
    shots β = 1.7, λ = 0.1); a number given for ``beta`` or ``lam`` fixes it.

    Parameters
    ----------
    beta : float or None
        β ≥ 0, the kernel's concentration; ``None`` searches :data:`BETA_GRID`.
    lam : float or None
        λ > 0, the proximal regularisation; ``None`` searches :data:`LAM_GRID`. When either is
        searched and a class has a single shot, :data:`FALLBACK` gives the searched ones.
    n_folds : int
        The most folds of the shots for the search (at least 2).
    logit_scale : float
        The CLIP temperature 1/τ applied to f(x).
    seed : int
        Deals the shots into folds.
    device : str or torch.device, optional

    Attributes
    ----------
    beta_, lam_ : float
        The β and λ used (chosen or given).
    support_ : torch.Tensor, shape (n, d)
        The shots S.
    dual_coef_ : torch.Tensor, shape (n, K)
        A.
    class_embeddings_ : torch.Tensor, shape (K, d)
        The training classes' text embeddings (rows of ``T`` that occur in ``y``, in label order).
    """

    def __init__(self, beta=None, lam=None, n_folds=N_FOLDS, logit_scale=100.0, seed=1, device=None):
        store_params(self, locals())

    def _check_params(self):
        if self.beta is not None:
            check_in_range("beta", self.beta, low=0.0)
        if self.lam is not None:
            check_in_range("lam", self.lam, low=0.0, low_open=True)
        check_selection_params(self)

    def fit(self, X, y, T):
        """Solve ProKeR's closed form on the shots ``X`` (n, d) labelled ``y`` into ``T`` (C, d)."""
        X, y, T = self._start_fit(X, y, T)
        X, labels, self.class_embeddings_ = training_classes(X, y, T, self.device_)
        residuals = F.one_hot(labels, len(self.class_embeddings_)).to(torch.float64) - X @ self.class_embeddings_.double().T
        self.beta_, self.lam_ = self._choose(X, labels, residuals)
        self.dual_coef_ = residual_coefficients(kernel(X, X, self.beta_), residuals, self.lam_).float()
        self.support_ = X.float()
        return self

    def _choose(self, X, labels, residuals):
        """(β, λ): the given values, or the grid pair that classifies the most held-out shots right."""
        given = (self.beta, self.lam)
        if None not in given:
            return float(self.beta), float(self.lam)
        folds = shot_folds(labels.cpu().numpy(), self.n_folds, check_seed(self.seed))
        if not folds:
            return tuple(float(fallback if value is None else value) for value, fallback in zip(given, FALLBACK))
        betas = BETA_GRID if self.beta is None else (float(self.beta),)
        lams = LAM_GRID if self.lam is None else (float(self.lam),)
        correct = np.zeros((len(betas), len(lams)))
        texts = self.class_embeddings_.double()
        for fitting, held_out in folds:
            fitting, held_out = torch.as_tensor(fitting), torch.as_tensor(held_out)
            X_fit, X_out, truth = X[fitting], X[held_out], labels[held_out]
            zero_shot = X_out @ texts.T
            for i, beta in enumerate(betas):
                coefficients = residual_coefficients(kernel(X_fit, X_fit, beta), residuals[fitting], lams)
                scores = zero_shot + kernel(X_out, X_fit, beta) @ coefficients  # (L, m, K)
                correct[i] += (scores.argmax(dim=-1) == truth).sum(dim=-1).cpu().numpy()
        settings = list(itertools.product(betas, lams))
        return best_setting(settings, correct.reshape(-1))

    def _correction(self, X):
        """k(x, S) A for every row of ``X``: shape (n, K), in row blocks of bounded size."""
        rows = max(1, _CHUNK_ELEMENTS // max(1, self.support_.shape[0]))
        return torch.cat([kernel(chunk, self.support_, self.beta_) @ self.dual_coef_ for chunk in X.split(rows)])

    def _logits(self, X, T):
        scores = X @ T.T
        known = match_classes(T, self.class_embeddings_)
        seen = known >= 0
        if seen.any():
            scores[:, seen] += self._correction(X)[:, known[seen]]
        return self.logit_scale * scores
