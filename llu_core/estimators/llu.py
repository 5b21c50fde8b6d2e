"""LLU, the paper's method (Sec. 3.2), and its ablations (Table 4) as parameter settings."""

from itertools import groupby

import torch
import torch.nn.functional as F

from ..method.adapters import IDENTITY_NORMS, AffineAdapter
from ..method.batched import LLUProblem, train_together
from ..method.clustering import cluster_centres
from ..method.defaults import BETA, DIRAC_THRESHOLD, GAMMA, LAM, N_CLUSTERS
from ..method.locality import MASKS, interpolate, local_weight
from ..method.training import coop_optimizer, minimise, training_epochs
from ..utils.validation import (as_embeddings, check_choice, check_in_range, check_integer,
                                check_is_fitted, check_seed)
from ._base import EmbeddingClassifier, MovedEmbeddings, check_training_params, store_params


class LLUClassifier(MovedEmbeddings, EmbeddingClassifier):
    """Localized Latent Updates (Sec. 3.2): local affine updates of both embedding spaces.

    An image embedding x becomes normalize(α_I · normalize(g_I(x)) + (1 − α_I) · x) with
    α_I = α(x, D_image) of Eq. 5, a text embedding t likewise with g_T and D_text; the scores
    are ``logit_scale`` · the cosine of the two. g_I and g_T are separate affine adapters
    (:class:`~llu_core.method.adapters.AffineAdapter`) trained with cross-entropy (Eq. 3) plus
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
        The form of α (see :func:`~llu_core.method.locality.local_weight`); ``global`` is the
        "no mask" ablation, ``dirac`` the "Dirac mask" one.
    init : {"identity", "random"}
        Initialisation of both adapters.
    identity_norm : {"mean_squared", "frobenius"}
        The distance of Eq. 6 (see :meth:`~llu_core.method.adapters.AffineAdapter.identity_distance`);
        ``mean_squared`` matches the paper's reported numbers and its public code.
    logit_scale : float
        The CLIP temperature 1/τ.
    epochs : int or None
        ``None`` takes CoOp's epochs for the number of shots per class
        (:func:`~llu_core.method.training.coop_epochs`).
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

    def __init__(self, beta=BETA, gamma=GAMMA, lam=LAM, n_clusters=N_CLUSTERS, mask="local", init="identity",
                 identity_norm="mean_squared", logit_scale=100.0, epochs=None, lr=0.002, batch_size=32, seed=1,
                 device=None, dirac_threshold=DIRAC_THRESHOLD):
        store_params(self, locals())

    def _check_params(self):
        check_in_range("beta", self.beta, 0.0, 1.0)
        check_in_range("gamma", self.gamma, low=0.0)
        check_in_range("lam", self.lam, low=0.0)
        check_in_range("dirac_threshold", self.dirac_threshold, low=0.0)
        check_choice("mask", self.mask, MASKS)
        check_choice("init", self.init, ("identity", "random"))
        check_choice("identity_norm", self.identity_norm, IDENTITY_NORMS)
        check_integer("n_clusters", self.n_clusters, allow_none=True)
        check_training_params(self)

    def _build_modules(self):
        generator = torch.Generator().manual_seed(check_seed(self.seed))
        self.image_adapter_ = AffineAdapter(self.dim_, self.init, generator).to(self.device_)
        self.text_adapter_ = AffineAdapter(self.dim_, self.init, generator).to(self.device_)

    def fit(self, X, y, T):
        """Train g_I and g_T on image embeddings ``X`` (n, d) labelled ``y`` against ``T`` (C, d)."""
        X, y, T = self._start_fit(X, y, T)
        X, y, T, alpha_image, alpha_text = self._prepare(X, y, T)

        def batch_loss(indices):
            images = interpolate(X[indices], self.image_adapter_(X[indices]), alpha_image[indices])
            texts = interpolate(T, self.text_adapter_(T), alpha_text)
            loss = F.cross_entropy(self.logit_scale * images @ texts.T, y[indices])
            if self.lam:
                loss = loss + self.lam * self._identity_distance()
            return loss

        parameters = [*self.image_adapter_.parameters(), *self.text_adapter_.parameters()]
        self.loss_history_ = minimise(batch_loss, coop_optimizer(parameters, self.lr), X.shape[0], self.n_epochs_,
                                      self.batch_size, check_seed(self.seed), description="LLU",
                                      hyperparameters={"lr": self.lr, "lam": self.lam, "logit_scale": self.logit_scale})
        return self._finish()

    def _prepare(self, X, y, T):
        """Everything of a fit before the training loop: the adapters at their initial values, D_image
        and D_text, the epochs; returns X, y, T on ``device_`` and α of the rows of X and of T."""
        self._build_modules()
        if self.mask == "global":  # α = β everywhere: D is never looked at
            self.image_centres_ = self.text_centres_ = torch.empty(0, self.dim_, device=self.device_)
        else:
            self.image_centres_ = cluster_centres(X, self.n_clusters).to(self.device_)
            self.text_centres_ = cluster_centres(T, self.n_clusters).to(self.device_)
        X, y, T = X.to(self.device_), y.to(self.device_), T.to(self.device_)
        self.n_epochs_ = training_epochs(self.epochs, y)
        # α depends only on the frozen embeddings and D, so it is computed once, per row.
        return X, y, T, self._alpha(X, "image"), self._alpha(T, "text")

    def _finish(self):
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


def fit_llu_together(models, inputs, progress=True):
    """Fit several :class:`LLUClassifier` at once, as one batched problem per stack of models.

    Every model ends as its own ``model.fit(X, y, T)`` would leave it (the same adapters up to
    float rounding: scores agree within 1e-4), but the grid's steps run as batched matrix
    products over the models (:func:`llu_core.method.batched.train_together`). Models on
    different devices or embedding dimensions are trained apart.

    Parameters
    ----------
    models : sequence of LLUClassifier
        Unfitted (or to be refitted); each has its own hyperparameters and seed. Each must be a
        distinct object: the same one twice is refused (it would hold only its second fit).
    inputs : sequence of (X, y, T)
        One training set per model, as ``fit`` takes it.
    progress : bool
        Show progress bars over the steps.

    Returns
    -------
    list of LLUClassifier: ``models``, fitted.
    """
    models, inputs = list(models), list(inputs)
    if len(models) != len(inputs):
        raise ValueError(f"models and inputs must have the same length, got {len(models)} and {len(inputs)}")
    for index, model in enumerate(models):
        if not isinstance(model, LLUClassifier):
            raise ValueError(f"models[{index}] is a {type(model).__name__}; fit_llu_together fits LLUClassifier "
                             "models only")
        first = next(i for i, other in enumerate(models) if other is model)
        if first != index:
            raise ValueError(f"models[{first}] and models[{index}] are the same object: it would be fitted twice in "
                             "place and hold only the second fit; pass sklearn.base.clone(model) for each fit")
        if not isinstance(inputs[index], (tuple, list)) or len(inputs[index]) != 3:
            raise ValueError(f"inputs[{index}] must be a triple (X, y, T), as fit takes it")
    problems = []
    for model, (X, y, T) in zip(models, inputs):
        X, y, T = model._start_fit(X, y, T)
        X, y, T, alpha_image, alpha_text = model._prepare(X, y, T)
        problems.append(LLUProblem(X=X, y=y, T=T, alpha_image=alpha_image, alpha_text=alpha_text,
                                   image_adapter=model.image_adapter_, text_adapter=model.text_adapter_,
                                   lam=model.lam, identity_norm=model.identity_norm, logit_scale=model.logit_scale,
                                   lr=model.lr, epochs=model.n_epochs_, batch_size=int(model.batch_size),
                                   seed=check_seed(model.seed)))
    by_setting = sorted(range(len(models)), key=lambda i: (str(models[i].device_), models[i].dim_))
    for _, group in groupby(by_setting, key=lambda i: (str(models[i].device_), models[i].dim_)):
        group = list(group)
        for i, history in zip(group, train_together([problems[i] for i in group], progress=progress)):
            models[i].loss_history_ = history
            models[i]._finish()
    return models


_DEFAULT = dict(beta=BETA, gamma=GAMMA, lam=LAM, n_clusters=N_CLUSTERS, mask="local", init="identity")

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
