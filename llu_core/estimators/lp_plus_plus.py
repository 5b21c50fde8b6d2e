"""LP++ (Huang et al., "LP++: A Surprisingly Strong Linear Probe for Few-Shot CLIP", CVPR 2024).

A linear probe whose class weights are blended with the class text embeddings: the logit of
image embedding f for class k is

    l_k(f) = fᵀ(w_k + α_k t_k) + b_k,

with w_k a visual prototype, t_k the class's text embedding and α_k a learned, class-wise
blending weight. The cross-entropy over the N training rows is minimised by block coordinate
descent: a step on the prototypes (and biases) every iteration, a step on the blending weights
every ``alpha_interval`` iterations, each with a step size read off the data (the inverse of
an approximate Lipschitz constant of that block's gradient) instead of a searched learning
rate, from a data-informed start.

What we follow is the public code, FereshteShakeri/FewShot-CLIP-Strong-Baseline,
``methods/linear_probe_p2.py`` (``LinearProbe_P2``); its README ties the prototype step to the
paper's Prop. 2 and Eq. (13) ("case 1", the default). Its three closed forms are
:func:`lp_plus_plus_step_sizes` and :func:`lp_plus_plus_start`. Where we differ:

- The public code keeps the epoch of best accuracy on a few-shot validation split; we keep the
  last of ``epochs`` (the contract has no validation data), as for Tip-Adapter-F.
- The code never clears the blending weights' gradient, so each α step there uses the sum of
  the gradients of every epoch so far; we step along the current gradient, as a block
  Majorize-Minimize step does.
- The code's biases start from ``nn.Linear``'s random initialisation; ours start at 0, so a fit
  is deterministic and needs no seed.
- The features come from the embedding cache, not from augmented images.

Classes it never saw in training have no prototype: for them w = 0, b = 0 and α is the mean
of the learned α_k, so their logit is ᾱ fᵀt, zero-shot CLIP up to a positive scale. Scored
among new classes only, LP++ predicts exactly what zero-shot CLIP predicts.
"""

import torch
import torch.nn.functional as F

from ..method.training import DivergenceWatch, parameter_norm
from ..utils.progress import progress_bar
from ..utils.validation import check_in_range, check_integer
from ._base import EmbeddingClassifier, match_classes, store_params

#: ``configs/base.yaml``: ``train_epoch: 300`` ("linear-Probe: 300").
LPP_EPOCHS = 300
#: ``linear_probe_p2.py``: α is updated when ``(epoch + 1) % 10 == 0``.
LPP_ALPHA_INTERVAL = 10
#: ``linear_probe_p2.py``: ``alpha_init = 250 / shots * alpha_tilde``.
LPP_ALPHA_INIT_FACTOR = 250.0
#: ``linear_probe_p2.py``: ``torch.optim.SGD(classifier.parameters(), lr_temp, momentum=0.9)``.
LPP_MOMENTUM = 0.9


def lp_plus_plus_step_sizes(X, T):
    """LP++'s data-driven step sizes: η_w for the prototypes, η_α for the blending weights.

    η_w = 4N / λ_max(FᵀF), the inverse of the Lipschitz constant λ_max(FᵀF) / (4N) of the
    gradient of the mean cross-entropy with respect to one class's prototype (each softmax
    probability p satisfies p(1 − p) ≤ 1/4); η_α = N / (4 max_k Σ_i (f_iᵀ t_k)²). These are
    ``calculate_lr_w`` and ``calculate_lr_alpha`` of ``methods/linear_probe_p2.py``.

    Parameters
    ----------
    X : torch.Tensor, shape (N, d)
        F, the training image embeddings (unit rows).
    T : torch.Tensor, shape (K, d)
        The trained classes' text embeddings t_k.

    Returns
    -------
    (float, float): η_w and η_α.
    """
    X64, T64 = X.double(), T.double()
    largest = float(torch.linalg.eigvalsh(X64.T @ X64)[-1])
    text_energy = float(((X64 @ T64.T) ** 2).sum(dim=0).max())
    n = X.shape[0]
    return 4.0 * n / largest, n / (4.0 * text_energy)


def lp_plus_plus_start(X, y, T, alpha_init_factor=LPP_ALPHA_INIT_FACTOR):
    """LP++'s data-informed start: the prototypes w_k⁰ and one blending weight α⁰ for every class.

    w_k⁰ = Σ_{i: y_i = k} f_i, the sum of class k's embeddings (``compute_centroids`` of the
    public code, which does not divide by the count), and α⁰ = ``alpha_init_factor`` · the mean
    over the classes of the mean text similarity f_iᵀ t_k of class k's own embeddings
    (``calculate_init_alpha``: 250 / shots · shots · that mean).

    Parameters
    ----------
    X : torch.Tensor, shape (N, d)
    y : torch.Tensor, shape (N,), int64
        Labels in ``range(K)``, every class present.
    T : torch.Tensor, shape (K, d)
    alpha_init_factor : float

    Returns
    -------
    (torch.Tensor of shape (K, d), float): w⁰ and α⁰.
    """
    one_hot = F.one_hot(y, T.shape[0]).to(X.dtype)
    prototypes = one_hot.T @ X
    own_similarity = ((X @ T.T) * one_hot).sum(dim=0) / one_hot.sum(dim=0)
    return prototypes, float(alpha_init_factor * own_similarity.mean())


class LPPlusPlusClassifier(EmbeddingClassifier):
    """LP++: a linear probe with class weights w_k + α_k t_k, trained by block descent with
    data-driven step sizes (see the module docstring for the paper, the code and the differences).

    Parameters
    ----------
    epochs : int
        Full-batch iterations (300 in the public code).
    alpha_interval : int
        One step on the blending weights α every this many prototype steps (10).
    alpha_init_factor : float
        The factor of α⁰ in :func:`lp_plus_plus_start` (250).
    step_scale : float
        Multiplies both data-driven step sizes; 1 takes them as derived, 0 keeps the start.
    device : str or torch.device, optional

    Attributes
    ----------
    visual_prototypes_ : torch.Tensor, shape (K, d)
        w_k of the K classes that occur in ``y``.
    bias_ : torch.Tensor, shape (K,)
    blending_ : torch.Tensor, shape (K,)
        α_k.
    class_embeddings_ : torch.Tensor, shape (K, d)
        t_k: the rows of ``T`` of the classes in ``y``, in label order.
    prototype_step_, blending_step_ : float
        η_w and η_α (:func:`lp_plus_plus_step_sizes`), before ``step_scale``.
    loss_history_ : list of float
        The cross-entropy at every iteration.
    """

    _score_params = ("alpha_init_factor", "step_scale")

    def __init__(self, epochs=LPP_EPOCHS, alpha_interval=LPP_ALPHA_INTERVAL, alpha_init_factor=LPP_ALPHA_INIT_FACTOR,
                 step_scale=1.0, device=None):
        store_params(self, locals())

    def _check_params(self):
        check_integer("epochs", self.epochs)
        check_integer("alpha_interval", self.alpha_interval)
        check_in_range("alpha_init_factor", self.alpha_init_factor, low=0.0)
        check_in_range("step_scale", self.step_scale, low=0.0)

    def fit(self, X, y, T):
        """Train w, b and α on ``X`` (N, d) labelled ``y`` against the class embeddings ``T`` (C, d)."""
        X, y, T = self._start_fit(X, y, T)
        classes = torch.unique(y)
        if len(classes) < 2:
            raise ValueError(f"LP++ needs at least two classes in y, got {len(classes)}")
        labels = torch.searchsorted(classes, y).to(self.device_)
        X, T = X.to(self.device_), T[classes].to(self.device_)
        self.prototype_step_, self.blending_step_ = lp_plus_plus_step_sizes(X, T)
        start, alpha = lp_plus_plus_start(X, labels, T, self.alpha_init_factor)
        prototypes = start.clone().requires_grad_(True)
        bias = torch.zeros(len(classes), device=self.device_, requires_grad=True)
        blending = torch.full((len(classes),), alpha, device=self.device_, requires_grad=True)
        optimizer = torch.optim.SGD([prototypes, bias], lr=self.step_scale * self.prototype_step_,
                                    momentum=LPP_MOMENTUM)
        watch = DivergenceWatch("LP++", parameter_norm([prototypes, bias, blending]),
                                {"step_scale": self.step_scale, "alpha_init_factor": self.alpha_init_factor})
        text_logits = X @ T.T
        self.loss_history_ = []
        for epoch in progress_bar(range(int(self.epochs)), desc="LP++", leave=False):
            loss = F.cross_entropy(X @ prototypes.T + bias + blending * text_logits, labels)
            watch.check_loss(epoch, loss.item())
            optimizer.zero_grad(set_to_none=True)
            blending.grad = None
            loss.backward()
            optimizer.step()
            if (epoch + 1) % self.alpha_interval == 0:
                with torch.no_grad():
                    blending -= self.step_scale * self.blending_step_ * blending.grad
            self.loss_history_.append(loss.item())
            watch.end_epoch(epoch, loss.item(), parameter_norm([prototypes, bias, blending]))
        self.visual_prototypes_, self.bias_ = prototypes.detach(), bias.detach()
        self.blending_, self.class_embeddings_ = blending.detach(), T
        return self

    def _logits(self, X, T):
        known = match_classes(T, self.class_embeddings_)
        seen = known >= 0
        blending = torch.where(seen, self.blending_[known.clamp(min=0)], self.blending_.mean())
        logits = blending * (X @ T.T)
        if seen.any():
            index = known[seen]
            logits[:, seen] += X @ self.visual_prototypes_[index].T + self.bias_[index]
        return logits
