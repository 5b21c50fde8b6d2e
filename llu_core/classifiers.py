"""The estimators: LLU (the paper's method) and the baselines that work on cached embeddings.

Every classifier follows one contract (scikit-learn's, with the class embeddings as a third
argument):

``fit(X, y, T)``
    ``X`` (n, d) image embeddings, ``y`` (n,) integer labels into the rows of ``T`` (C, d),
    the class text embeddings. numpy arrays or torch tensors.
``decision_function(X, T)`` → numpy float32 (n, C')
    Scores against any class embeddings ``T`` (C', d): other classes than in training are
    allowed (new classes, another data set) except for the linear probe.
``predict(X, T)`` → numpy int64 row indices of ``T``; ``score(X, y, T)`` → accuracy in [0, 1].

Rows that are not unit-norm are normalised; NaN or zero-norm rows, dimension mismatches,
empty input and labels outside ``T`` raise ``ValueError`` (see :mod:`llu_core.validation`).
"""

import numpy as np
import torch
import torch.nn.functional as F
from sklearn.base import BaseEstimator
from sklearn.linear_model import LogisticRegression

from .adapters import IDENTITY_NORMS, AffineAdapter, BottleneckAdapter
from .clustering import cluster_centres
from .locality import MASKS, interpolate, local_weight
from .training import coop_epochs, coop_optimizer, cosine_schedule, minimise
from .validation import (as_embeddings, as_labels, check_bool, check_choice, check_fit_inputs, check_in_range,
                         check_integer, check_is_fitted, check_predict_inputs, check_seed, default_device)

# Tip-Adapter-F's training length (gaopengcuhk/Tip-Adapter, configs/*.yaml: train_epoch: 20).
TIP_ADAPTER_F_EPOCHS = 20

# Two unit vectors count as the same class embedding when their cosine is at least this.
_SAME_EMBEDDING = 1.0 - 1e-5

# Tip-Adapter scores at most this many affinities (rows × cache keys) at once: 64 MB of float32.
_CHUNK_ELEMENTS = 1 << 24


def _shots_per_class(y):
    """The smallest number of training samples of any class present in ``y``."""
    return int(torch.bincount(y)[torch.unique(y)].min())


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
    return torch.where(similarity >= _SAME_EMBEDDING, index, torch.full_like(index, -1))


class EmbeddingClassifier(BaseEstimator):
    """Shared prediction side of every classifier: validation, numpy output, predict, score.

    Subclasses implement ``_check_params`` (the hyperparameter checks, run by ``fit`` and
    again when a saved model is loaded), ``fit`` (setting ``dim_`` and ``device_``),
    ``_logits(X, T)`` on validated unit-norm tensors already on ``device_`` and, if they hold
    torch modules, ``_build_modules`` (also used when loading a saved model).
    """

    #: Whether the classifier can score classes it was not trained on.
    scores_unseen_classes = True

    def _check_params(self):
        """Raise ``ValueError`` naming the first hyperparameter that is out of its range."""

    def _build_modules(self):
        """Create the (untrained) torch modules of a model of dimension ``dim_`` on ``device_``."""

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
            logits = self._logits(X.to(self.device_), T.to(self.device_))
        return logits.cpu().numpy().astype(np.float32, copy=False)

    def predict(self, X, T):
        """Predicted class of every row of ``X``: numpy int64 (n,) row indices into ``T``."""
        return self.decision_function(X, T).argmax(axis=1).astype(np.int64)

    def score(self, X, y, T):
        """Accuracy (a fraction in [0, 1]) of :meth:`predict` against labels ``y`` into ``T``."""
        predicted = self.predict(X, T)
        labels = as_labels(y, predicted.shape[0], len(T))
        return float((predicted == labels.numpy()).mean())


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
        check_in_range("logit_scale", self.logit_scale, low=0.0, low_open=True)

    def fit(self, X, y, T):
        """Check the input and record its dimension; returns self."""
        self._check_params()
        X, y, T = check_fit_inputs(X, y, T)
        self.dim_, self.device_ = T.shape[1], default_device(self.device)
        return self

    def _logits(self, X, T):
        return self.logit_scale * X @ T.T


class LLUClassifier(EmbeddingClassifier):
    """Localized Latent Updates (Sec. 3.2): local affine updates of both embedding spaces.

    An image embedding x becomes normalize(α_I · normalize(g_I(x)) + (1 − α_I) · x) with
    α_I = α(x, D_image) of Eq. 5, a text embedding t likewise with g_T and D_text; the scores
    are ``logit_scale`` · the cosine of the two. g_I and g_T are separate affine adapters
    (:class:`~llu_core.adapters.AffineAdapter`) trained with cross-entropy (Eq. 3) plus
    λ · the identity distance of both adapters (Eq. 6).

    Parameters
    ----------
    beta : float
        β in [0, 1], the largest interpolation weight (global damping).
    gamma : float
        γ ≥ 0, how fast α decays away from D.
    lam : float
        λ ≥ 0, the weight of the identity regularisation (Eq. 6).
    n_clusters : int or None
        Size bound of D_image and D_text (complete-linkage centres); ``None`` keeps every
        training embedding (the "no cluster" ablation).
    mask : {"local", "global", "dirac"}
        The form of α (see :func:`~llu_core.locality.local_weight`); ``global`` is the
        "no mask" ablation, ``dirac`` the "Dirac mask" one.
    init : {"identity", "random"}
        Initialisation of both adapters.
    identity_norm : {"mean_squared", "frobenius"}
        The distance of Eq. 6 (see :meth:`~llu_core.adapters.AffineAdapter.identity_distance`);
        ``mean_squared`` matches the paper's reported numbers and its public code.
    logit_scale : float
        The CLIP temperature 1/τ.
    epochs : int or None
        ``None`` takes CoOp's epochs for the number of shots per class
        (:func:`~llu_core.training.coop_epochs`).
    lr : float
        SGD base learning rate (CoOp: 0.002).
    batch_size : int
        Training mini-batch size (CoOp: 32).
    seed : int
        Seeds the random initialisation and the batch order.
    device : str or torch.device, optional
        Where to fit and score; default CUDA when available, else CPU.
    dirac_threshold : float
        Cosine distance within which the Dirac mask counts x as a point of D.

    Attributes
    ----------
    image_adapter_, text_adapter_ : AffineAdapter
        g_I and g_T.
    image_centres_, text_centres_ : torch.Tensor, shapes (k_I, d), (k_T, d)
        D_image (centres of the training images) and D_text (centres of the rows of ``T``);
        empty for ``mask="global"``, which never looks at them.
    identity_distance_ : float
        Table 4's last row: the identity distance of Eq. 6 without λ, summed over g_I and g_T.
    loss_history_ : list of float
        Mean total training loss (cross-entropy + λ · identity distance) of every epoch.
    n_epochs_ : int
        Epochs trained.
    """

    def __init__(self, beta=0.5, gamma=20.0, lam=1e3, n_clusters=512, mask="local", init="identity",
                 identity_norm="mean_squared", logit_scale=100.0, epochs=None, lr=0.002, batch_size=32, seed=1,
                 device=None, dirac_threshold=1e-4):
        self.beta = beta
        self.gamma = gamma
        self.lam = lam
        self.n_clusters = n_clusters
        self.mask = mask
        self.init = init
        self.identity_norm = identity_norm
        self.logit_scale = logit_scale
        self.epochs = epochs
        self.lr = lr
        self.batch_size = batch_size
        self.seed = seed
        self.device = device
        self.dirac_threshold = dirac_threshold

    def _check_params(self):
        check_in_range("beta", self.beta, 0.0, 1.0)
        check_in_range("gamma", self.gamma, low=0.0)
        check_in_range("lam", self.lam, low=0.0)
        check_in_range("logit_scale", self.logit_scale, low=0.0, low_open=True)
        check_in_range("dirac_threshold", self.dirac_threshold, low=0.0)
        check_choice("mask", self.mask, MASKS)
        check_choice("init", self.init, ("identity", "random"))
        check_choice("identity_norm", self.identity_norm, IDENTITY_NORMS)
        check_integer("n_clusters", self.n_clusters, allow_none=True)
        _check_training_params(self)

    def _build_modules(self):
        generator = torch.Generator().manual_seed(check_seed(self.seed))
        self.image_adapter_ = AffineAdapter(self.dim_, self.init, generator).to(self.device_)
        self.text_adapter_ = AffineAdapter(self.dim_, self.init, generator).to(self.device_)

    def fit(self, X, y, T):
        """Train g_I and g_T on image embeddings ``X`` (n, d) labelled ``y`` against ``T`` (C, d)."""
        self._check_params()
        X, y, T = check_fit_inputs(X, y, T)
        self.dim_, self.device_ = T.shape[1], default_device(self.device)
        self._build_modules()
        if self.mask == "global":  # α = β everywhere: D is never looked at
            self.image_centres_ = self.text_centres_ = torch.empty(0, self.dim_, device=self.device_)
        else:
            self.image_centres_ = cluster_centres(X, self.n_clusters).to(self.device_)
            self.text_centres_ = cluster_centres(T, self.n_clusters).to(self.device_)
        X, y, T = X.to(self.device_), y.to(self.device_), T.to(self.device_)
        # α depends only on the frozen embeddings and D, so it is computed once, per row.
        alpha_image = self._alpha(X, "image")
        alpha_text = self._alpha(T, "text")

        def batch_loss(indices):
            images = interpolate(X[indices], self.image_adapter_(X[indices]), alpha_image[indices])
            texts = interpolate(T, self.text_adapter_(T), alpha_text)
            loss = F.cross_entropy(self.logit_scale * images @ texts.T, y[indices])
            if self.lam:
                loss = loss + self.lam * self._identity_distance()
            return loss

        self.n_epochs_ = int(self.epochs) if self.epochs is not None else coop_epochs(_shots_per_class(y))
        parameters = [*self.image_adapter_.parameters(), *self.text_adapter_.parameters()]
        self.loss_history_ = minimise(batch_loss, coop_optimizer(parameters, self.lr), X.shape[0], self.n_epochs_,
                                      self.batch_size, check_seed(self.seed), description="LLU")
        with torch.no_grad():
            self.identity_distance_ = self._identity_distance().item()
        return self

    def _identity_distance(self):
        return (self.image_adapter_.identity_distance(self.identity_norm)
                + self.text_adapter_.identity_distance(self.identity_norm))

    def _alpha(self, E, modality):
        centres = {"image": self.image_centres_, "text": self.text_centres_}[modality]
        return local_weight(E, centres, self.beta, self.gamma, self.mask, self.dirac_threshold)

    def _transform(self, E, modality):
        adapter = {"image": self.image_adapter_, "text": self.text_adapter_}[modality]
        return interpolate(E, adapter(E), self._alpha(E, modality))

    def _logits(self, X, T):
        return self.logit_scale * self._transform(X, "image") @ self._transform(T, "text").T

    def local_weight(self, X, modality="image"):
        """α (Eq. 5) of every row of ``X`` (n, d) against D_image or D_text: numpy float32 (n,)."""
        check_choice("modality", modality, ("image", "text"))
        check_is_fitted(self, "dim_")
        X = as_embeddings(X, "X", dim=self.dim_).to(self.device_)
        return self._alpha(X, modality).cpu().numpy()

    def transform_images(self, X):
        """Adapted unit-norm image embeddings, numpy float32 (n, d)."""
        return self._transform_numpy(X, "image")

    def transform_texts(self, T):
        """Adapted unit-norm text embeddings, numpy float32 (C, d)."""
        return self._transform_numpy(T, "text")

    def _transform_numpy(self, E, modality):
        check_is_fitted(self, "dim_")
        E = as_embeddings(E, "embeddings", dim=self.dim_).to(self.device_)
        with torch.no_grad():
            return self._transform(E, modality).cpu().numpy()


def _check_training_params(estimator):
    """Validate the training hyperparameters shared by the trainable classifiers."""
    check_in_range("lr", estimator.lr, low=0.0)
    check_integer("epochs", estimator.epochs, allow_none=True)
    check_integer("batch_size", estimator.batch_size)
    check_seed(estimator.seed)


_DEFAULT = dict(beta=0.5, gamma=20.0, lam=1e3, n_clusters=512, mask="local", init="identity")

#: Table 4's ablations, in its column order, as LLUClassifier keyword arguments.
ABLATIONS = {
    "default": dict(_DEFAULT),
    "no_cluster": {**_DEFAULT, "n_clusters": None},
    "no_damping": {**_DEFAULT, "beta": 1.0},
    "no_mask": {**_DEFAULT, "mask": "global"},
    "dirac_mask": {**_DEFAULT, "mask": "dirac"},
    "no_reg": {**_DEFAULT, "lam": 0.0},
    "random_init": {**_DEFAULT, "init": "random"},
    # A plain linear layer: random init, no mask, no damping, no regularisation.
    "linear": {**_DEFAULT, "init": "random", "mask": "global", "beta": 1.0, "lam": 0.0, "n_clusters": None},
}


class CLIPAdapterClassifier(EmbeddingClassifier):
    """CLIP-Adapter (Gao et al. 2021): a bottleneck MLP on the image side, mixed in globally.

    x becomes normalize(ratio · A(x) + (1 − ratio) · x) with A the
    :class:`~llu_core.adapters.BottleneckAdapter`; text embeddings stay as they are.
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

    Attributes
    ----------
    adapter_ : BottleneckAdapter
    loss_history_ : list of float
    n_epochs_ : int
    """

    def __init__(self, reduction=4, ratio=0.2, logit_scale=100.0, epochs=None, lr=0.002, batch_size=32, seed=1,
                 device=None):
        self.reduction = reduction
        self.ratio = ratio
        self.logit_scale = logit_scale
        self.epochs = epochs
        self.lr = lr
        self.batch_size = batch_size
        self.seed = seed
        self.device = device

    def _check_params(self):
        check_in_range("ratio", self.ratio, 0.0, 1.0)
        check_in_range("logit_scale", self.logit_scale, low=0.0, low_open=True)
        check_integer("reduction", self.reduction)
        _check_training_params(self)

    def fit(self, X, y, T):
        """Train the adapter on image embeddings ``X`` (n, d) labelled ``y`` against ``T`` (C, d)."""
        self._check_params()
        X, y, T = check_fit_inputs(X, y, T)
        self.dim_, self.device_ = T.shape[1], default_device(self.device)
        self._build_modules()
        X, y, T = X.to(self.device_), y.to(self.device_), T.to(self.device_)

        def batch_loss(indices):
            return F.cross_entropy(self._logits(X[indices], T), y[indices])

        self.n_epochs_ = int(self.epochs) if self.epochs is not None else coop_epochs(_shots_per_class(y))
        self.loss_history_ = minimise(batch_loss, coop_optimizer(self.adapter_.parameters(), self.lr), X.shape[0],
                                      self.n_epochs_, self.batch_size, check_seed(self.seed),
                                      description="CLIP-Adapter")
        return self

    def _build_modules(self):
        generator = torch.Generator().manual_seed(check_seed(self.seed))
        self.adapter_ = BottleneckAdapter(self.dim_, self.reduction, generator).to(self.device_)

    def _logits(self, X, T):
        images = F.normalize(self.ratio * self.adapter_(X) + (1.0 - self.ratio) * X, dim=1)
        return self.logit_scale * images @ T.T


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

    def __init__(self, alpha=1.0, beta=1.0, finetune=False, logit_scale=100.0, epochs=20, lr=0.001,
                 batch_size=256, seed=1, device=None):
        self.alpha = alpha
        self.beta = beta
        self.finetune = finetune
        self.logit_scale = logit_scale
        self.epochs = epochs
        self.lr = lr
        self.batch_size = batch_size
        self.seed = seed
        self.device = device

    def _check_params(self):
        check_in_range("alpha", self.alpha, low=0.0)
        check_in_range("beta", self.beta, low=0.0)
        check_in_range("logit_scale", self.logit_scale, low=0.0, low_open=True)
        check_bool("finetune", self.finetune)
        _check_training_params(self)

    def fit(self, X, y, T):
        """Build the cache from ``X`` (n, d) and ``y``; with ``finetune`` train its keys."""
        self._check_params()
        X, y, T = check_fit_inputs(X, y, T)
        self.dim_, self.device_ = T.shape[1], default_device(self.device)
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

            epochs = self.epochs if self.epochs is not None else TIP_ADAPTER_F_EPOCHS
            self.loss_history_ = minimise(batch_loss, optimizer, X.shape[0], epochs, self.batch_size,
                                          check_seed(self.seed), schedule=cosine_schedule,
                                          description="Tip-Adapter-F")
            self.keys_ = self.keys_.detach()
        return self

    def _cache_logits(self, X):
        """α · exp(−β(1 − xᵀk)) · V: shape (n, K), one column per training class.

        Computed for a block of rows at a time, so the (rows, keys) affinities never exceed
        ``_CHUNK_ELEMENTS`` entries (scoring 50k images against 16k keys at once would need 3 GB).
        """
        rows = max(1, _CHUNK_ELEMENTS // max(1, self.keys_.shape[0]))
        return torch.cat([self.alpha * torch.exp(-self.beta * (1.0 - chunk @ self.keys_.T)) @ self.values_
                          for chunk in X.split(rows)])

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
    log-probabilities of the classes. The probe knows only the classes it was trained on:
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

    def __init__(self, C=1.0, max_iter=1000):
        self.C = C
        self.max_iter = max_iter

    def _check_params(self):
        check_in_range("C", self.C, low=0.0, low_open=True)
        check_integer("max_iter", self.max_iter)

    def fit(self, X, y, T):
        """Fit the logistic regression on ``X`` (n, d) and labels ``y`` into ``T`` (C, d)."""
        self._check_params()
        X, y, T = check_fit_inputs(X, y, T)
        classes = torch.unique(y)
        if len(classes) < 2:
            raise ValueError(f"the linear probe needs at least two classes in y, got {len(classes)}")
        model = LogisticRegression(solver="lbfgs", max_iter=int(self.max_iter), C=float(self.C)).fit(X.numpy(),
                                                                                                  y.numpy())
        self.dim_, self.device_ = T.shape[1], torch.device("cpu")
        self.coef_ = torch.as_tensor(model.coef_, dtype=torch.float32).contiguous()
        self.intercept_ = torch.as_tensor(model.intercept_, dtype=torch.float32)
        self.class_embeddings_ = T[classes]
        return self

    def _logits(self, X, T):
        known = match_classes(T, self.class_embeddings_)
        if (known < 0).any():
            raise ValueError(f"the linear probe cannot score classes it was not trained on: {int((known < 0).sum())} "
                             "row(s) of T match no training class embedding")
        linear = X @ self.coef_.T + self.intercept_
        if linear.shape[1] == 1:  # two classes: scikit-learn keeps one logit z, p(second) = sigmoid(z)
            linear = torch.cat([torch.zeros_like(linear), linear], dim=1)
        return torch.log_softmax(linear, dim=1)[:, known]
