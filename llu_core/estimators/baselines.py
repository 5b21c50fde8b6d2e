"""The baselines that work on cached embeddings: zero-shot CLIP, CLIP-Adapter, Tip-Adapter(-F) and a linear probe."""

import numpy as np
import torch
import torch.nn.functional as F
from sklearn.linear_model import LogisticRegression

from ..method.adapters import BottleneckAdapter
from ..method.training import coop_optimizer, cosine_schedule, minimise, training_epochs
from ..utils.validation import as_embeddings, check_bool, check_in_range, check_integer, check_is_fitted, check_seed
from ._base import EmbeddingClassifier, check_logit_scale, check_training_params, match_classes, store_params

# Tip-Adapter-F's training length (gaopengcuhk/Tip-Adapter, configs/*.yaml: train_epoch: 20).
TIP_ADAPTER_F_EPOCHS = 20

# Tip-Adapter scores at most this many affinities (rows × cache keys) at once: 64 MB of float32.
_CHUNK_ELEMENTS = 1 << 24


class ZeroShotClassifier(EmbeddingClassifier):
    """Zero-shot CLIP: scores are ``logit_scale`` · cos(x, t); ``fit`` learns nothing.

    ``fit`` only checks its input and records the embedding dimension.

    Parameters
    ----------
    logit_scale : float
        The CLIP temperature 1/τ (100 for the released CLIP models).
    device : str or torch.device, optional
    """

    def __init__(self, logit_scale=100.0, device=None):
        self.logit_scale = logit_scale
        self.device = device

    def _check_params(self):
        check_logit_scale(self.logit_scale)

    def fit(self, X, y, T):
        """Check the input and record its dimension; returns self."""
        self._start_fit(X, y, T)
        return self

    def _logits(self, X, T):
        return self.logit_scale * X @ T.T


class CLIPAdapterClassifier(EmbeddingClassifier):
    """CLIP-Adapter (Gao et al. 2021): a bottleneck MLP on the image side, mixed in globally.

    x becomes normalize(ratio · A(x) + (1 − ratio) · x) with A the
    :class:`~llu_core.method.adapters.BottleneckAdapter`; text embeddings stay as they are.
    Reduction 4 and ratio 0.2 are the values of gaopengcuhk/CLIP-Adapter, ``clip_adapter.py``;
    training uses CoOp's schedule like LLU (CLIP-Adapter also trains with Dassl/CoOp's trainer).

    Parameters
    ----------
    reduction : int
        Bottleneck width is d // reduction.
    ratio : float
        The global residual ratio in [0, 1].
    logit_scale, epochs, lr, batch_size, seed, device
        As for :class:`LLUClassifier`.
    warm_start : bool
        As scikit-learn's ``warm_start``: a ``fit`` of a fitted model continues training its
        adapter instead of starting from a fresh one (fine-tuning on data set after data set,
        which forgets the earlier ones). Default: every ``fit`` starts afresh.

    Attributes
    ----------
    adapter_ : BottleneckAdapter
    loss_history_ : list of float
    n_epochs_ : int
    """

    def __init__(self, reduction=4, ratio=0.2, logit_scale=100.0, epochs=None, lr=0.002, batch_size=32, seed=1,
                 device=None, warm_start=False):
        store_params(self, locals())

    def _check_params(self):
        check_in_range("ratio", self.ratio, 0.0, 1.0)
        check_integer("reduction", self.reduction)
        check_bool("warm_start", self.warm_start)
        check_training_params(self)

    def fit(self, X, y, T):
        """Train the adapter on image embeddings ``X`` (n, d) labelled ``y`` against ``T`` (C, d)."""
        previous = getattr(self, "dim_", None) if self.warm_start else None
        X, y, T = self._start_fit(X, y, T)
        if previous is None:
            self._build_modules()
        elif previous != self.dim_:
            raise ValueError(f"warm_start=True continues the fitted adapter of dimension {previous}, but X and T have "
                             f"dimension {self.dim_}; set warm_start=False to start afresh")
        else:
            self.adapter_.to(self.device_)
        X, y, T = X.to(self.device_), y.to(self.device_), T.to(self.device_)

        def batch_loss(indices):
            return F.cross_entropy(self._logits(X[indices], T), y[indices])

        self.n_epochs_ = training_epochs(self.epochs, y)
        self.loss_history_ = minimise(batch_loss, coop_optimizer(self.adapter_.parameters(), self.lr), X.shape[0],
                                      self.n_epochs_, self.batch_size, check_seed(self.seed),
                                      description="CLIP-Adapter",
                                      hyperparameters={"lr": self.lr, "logit_scale": self.logit_scale})
        return self

    def _build_modules(self):
        generator = torch.Generator().manual_seed(check_seed(self.seed))
        self.adapter_ = BottleneckAdapter(self.dim_, self.reduction, generator).to(self.device_)

    def _images(self, X):
        return F.normalize(self.ratio * self.adapter_(X) + (1.0 - self.ratio) * X, dim=1)

    def _logits(self, X, T):
        return self.logit_scale * self._images(X) @ T.T

    def transform_images(self, X):
        """Adapted unit-norm image embeddings normalize(ratio · A(x) + (1 − ratio) · x), numpy float32 (n, d)."""
        check_is_fitted(self, "dim_")
        X = as_embeddings(X, "X", dim=self.dim_).to(self.device_)
        with torch.no_grad():
            return self._images(X).cpu().numpy()


class TipAdapterClassifier(EmbeddingClassifier):
    """Tip-Adapter (Zhang et al. 2022): a key-value cache of the training embeddings.

    Scores are ``logit_scale`` · xᵀt + α · exp(−β(1 − xᵀk)) · V, with keys k the training
    image embeddings and values V their one-hot labels. ``finetune=True`` is Tip-Adapter-F:
    the keys are trained with AdamW (eps 1e-4, cosine decay over all steps); the last epoch
    is kept (the reference code picks the best epoch on the test set, which we do not).

    Defaults follow gaopengcuhk/Tip-Adapter: ``configs/*.yaml`` start from β = 1 (``init_beta``)
    and α between 1 and 2 (``init_alpha``, then tuned on validation data), train Tip-Adapter-F
    with lr 0.001 for 20 epochs; ``main.py`` uses batch 256 and the 100 · cosine CLIP logits.

    Classes of the scoring ``T`` that were not in training get no cache contribution: such a
    class is matched to a training class only if its text embedding row is identical (cosine
    ≥ 1 − 1e-5), so on new classes Tip-Adapter falls back to zero-shot CLIP.

    Parameters
    ----------
    alpha : float
        α ≥ 0, the weight of the cache logits (residual ratio).
    beta : float
        β ≥ 0, the sharpness of the affinities.
    finetune : bool
        Train the keys (Tip-Adapter-F).
    logit_scale : float
    epochs, lr, batch_size, seed, device
        Training settings for ``finetune=True`` (``epochs=None``: 20).

    Attributes
    ----------
    keys_ : torch.Tensor, shape (n, d)
        The cache keys (trained when ``finetune``).
    values_ : torch.Tensor, shape (n, K)
        One-hot labels over the K training classes.
    class_embeddings_ : torch.Tensor, shape (K, d)
        The training classes' text embeddings (rows of ``T`` in ``fit``).
    loss_history_ : list of float
        Empty unless ``finetune``.
    """

    _score_params = ("alpha", "logit_scale")

    def __init__(self, alpha=1.0, beta=1.0, finetune=False, logit_scale=100.0, epochs=20, lr=0.001,
                 batch_size=256, seed=1, device=None):
        store_params(self, locals())

    def _check_params(self):
        check_in_range("alpha", self.alpha, low=0.0)
        check_in_range("beta", self.beta, low=0.0)
        check_bool("finetune", self.finetune)
        check_training_params(self)

    def fit(self, X, y, T):
        """Build the cache from ``X`` (n, d) and ``y``; with ``finetune`` train its keys."""
        X, y, T = self._start_fit(X, y, T)
        if self.logit_scale + self.alpha * float(torch.bincount(y).max()) > float(np.finfo(np.float32).max):
            self._overflow()  # the largest score: logit_scale plus α times a class's number of keys
        self.class_embeddings_ = T.to(self.device_)
        self.keys_ = X.clone().to(self.device_)
        self.values_ = F.one_hot(y, T.shape[0]).to(torch.float32).to(self.device_)
        self.loss_history_ = []
        if self.finetune:
            X, y = X.to(self.device_), y.to(self.device_)
            self.keys_.requires_grad_(True)
            optimizer = torch.optim.AdamW([self.keys_], lr=self.lr, eps=1e-4)

            def batch_loss(indices):
                return F.cross_entropy(self._training_logits(X[indices]), y[indices])

            epochs = training_epochs(self.epochs, y, default=TIP_ADAPTER_F_EPOCHS)
            self.loss_history_ = minimise(batch_loss, optimizer, X.shape[0], epochs, self.batch_size,
                                          check_seed(self.seed), schedule=cosine_schedule,
                                          description="Tip-Adapter-F",
                                          hyperparameters={"lr": self.lr, "alpha": self.alpha, "beta": self.beta,
                                                           "logit_scale": self.logit_scale})
            self.keys_ = self.keys_.detach()
        return self

    def _cache_logits(self, X):
        """α · exp(−β(1 − xᵀk)) · V: shape (n, K), one column per training class.

        Computed for a block of rows at a time, so the (rows, keys) affinities never exceed
        ``_CHUNK_ELEMENTS`` entries (scoring 50k images against 16k keys at once would need 3 GB).
        """
        rows = max(1, _CHUNK_ELEMENTS // max(1, self.keys_.shape[0]))
        # 1 − xᵀk ≥ 0 for unit rows; rounding can make it −1e-7, which a large β would blow up.
        return torch.cat([self.alpha * torch.exp(-self.beta * (1.0 - chunk @ self.keys_.T).clamp(min=0.0))
                          @ self.values_ for chunk in X.split(rows)])

    def _training_logits(self, X):
        return self.logit_scale * X @ self.class_embeddings_.T + self._cache_logits(X)

    def _logits(self, X, T):
        logits = self.logit_scale * X @ T.T
        known = match_classes(T, self.class_embeddings_)
        seen = known >= 0
        if seen.any():
            logits[:, seen] += self._cache_logits(X)[:, known[seen]]
        return logits


class LinearProbeClassifier(EmbeddingClassifier):
    """Linear probe: L2-regularised multinomial logistic regression on the image embeddings.

    As CoOp's ``lpclip/linear_probe.py`` (KaiyangZhou/CoOp): scikit-learn's
    ``LogisticRegression(solver="lbfgs", max_iter=1000, penalty="l2", C=...)``. CoOp picks C
    by a search on few-shot validation data; here C is a hyperparameter. Scores are the
    log-probabilities of the classes, computed and returned in float64: under strong
    regularisation (C = 1e-8) the classes' log-probabilities differ by less than float32 can
    tell apart from log(1/K), and float32 scores would tie. The probe knows only the classes it was trained on:
    scoring against a ``T`` with other class embeddings raises ``ValueError``.

    Parameters
    ----------
    C : float
        Inverse regularisation strength.
    max_iter : int
        L-BFGS iterations.

    Attributes
    ----------
    coef_ : torch.Tensor, shape (K, d) or (1, d) for two classes
    intercept_ : torch.Tensor, shape (K,) or (1,)
    class_embeddings_ : torch.Tensor, shape (K, d)
        Text embeddings of the K classes that occur in ``y``, in label order.
    """

    scores_unseen_classes = False
    score_dtype = np.float64
    _score_params = ("C",)

    def __init__(self, C=1.0, max_iter=1000):
        self.C = C
        self.max_iter = max_iter

    def _check_params(self):
        check_in_range("C", self.C, low=0.0, low_open=True)
        check_integer("max_iter", self.max_iter)

    def fit(self, X, y, T):
        """Fit the logistic regression on ``X`` (n, d) and labels ``y`` into ``T`` (C, d)."""
        X, y, T = self._start_fit(X, y, T)
        self.device_ = torch.device("cpu")  # scikit-learn fits on the CPU
        classes = torch.unique(y)
        if len(classes) < 2:
            raise ValueError(f"the linear probe needs at least two classes in y, got {len(classes)}")
        model = LogisticRegression(solver="lbfgs", max_iter=int(self.max_iter), C=float(self.C)).fit(X.numpy(),
                                                                                                  y.numpy())
        self.coef_ = torch.as_tensor(model.coef_, dtype=torch.float32).contiguous()
        self.intercept_ = torch.as_tensor(model.intercept_, dtype=torch.float32)
        self.class_embeddings_ = T[classes]
        return self

    def _logits(self, X, T):
        known = match_classes(T, self.class_embeddings_)
        if (known < 0).any():
            raise ValueError(f"the linear probe cannot score classes it was not trained on: {int((known < 0).sum())} "
                             "row(s) of T match no training class embedding")
        linear = X.double() @ self.coef_.double().T + self.intercept_.double()
        if linear.shape[1] == 1:  # two classes: scikit-learn keeps one logit z, p(second) = sigmoid(z)
            linear = torch.cat([torch.zeros_like(linear), linear], dim=1)
        return torch.log_softmax(linear, dim=1)[:, known]
