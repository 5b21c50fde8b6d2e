"""CLAP (Silva-Rodríguez et al., "A Closer Look at the Few-Shot Adaptation of Large Vision-Language
Models", CVPR 2024): a linear probe on class prototypes held near the zero-shot ones.

The probe scores image embedding f for class k as ``logit_scale`` · cos(f, w_k), with the
prototypes w_k initialised at the class text embeddings t_k (the paper's zero-shot initialised
linear probe, ZS-LP). CLAP adds the constraint w_k = t_k, relaxed into a penalty whose weight
λ_k is set per class, once, from how well zero-shot CLIP already does on that class's support
samples:

    loss = cross-entropy + (1/K) Σ_k λ_k ‖w_k − t_k‖²,
    λ_k = (1/|S_k|) Σ_{i ∈ S_k} p̂_ik,

with p̂_ik the zero-shot softmax probability of class k for support sample i of class k
(:func:`class_adaptive_penalty_weights`; the anchors t_k become s · t_k below). A class that
zero-shot CLIP already recognises keeps its prototype close to its text embedding; a class it
gets wrong is free to move. The λ_k are the multipliers with which the code's augmented
Lagrangian variant starts (``outer_step`` updates them); the released CLAP keeps them fixed.

Everything follows jusiro/CLAP: ``trainers/adapters.py`` (``AdapterMethod.zero_shot_constraint``
with the ``l2`` constraint, ``init_lagrangian_multipliers``, ``CustomCLIP.forward_lp``),
``experiments/experiment_CLAP.txt`` (``ZS`` initialisation, ``l2`` constraint: without the
``adaptative`` option the multipliers stay fixed) and ``configs/trainers/SGD_lr1e-1_B256_ep300.yaml``:
SGD with lr 0.1, batch 256, 300 epochs, no weight decay, Dassl's momentum 0.9, one warm-up epoch
at 1e-5 and a cosine decay, i.e. CoOp's schedule (:func:`~llu_core.method.training.coop_schedule`).

Where we differ:

- The released code starts the prototypes at CLIP's raw text features, not normalised, and its
  lr 0.1 and its penalty act on vectors of that norm s: since the logits only see directions,
  a step of lr on prototypes of norm s turns their directions as a step of lr/s² on unit ones,
  and the penalty weighs s² times more against the cross-entropy. Our embeddings are unit norm
  (the raw norm is not kept), and lr 0.1 on unit prototypes diverges within a few epochs. We
  start the prototypes at s · t_k and hold them to s · t_k, with s = ``prototype_norm``; its
  default √50 ≈ 7.07 is the norm at which lr 0.1 turns the directions as CoOp's lr 0.002 turns
  unit-norm parameters (:data:`CLAP_PROTOTYPE_NORM`).
- The released code trains on features of 20 augmented copies of every support image (and
  draws one epoch's worth of batches from them); we train on the cached embeddings, one pass
  over them per epoch.
- ``penalty_scale`` multiplies every λ_k (1: CLAP; 0: ZS-LP, the paper's unconstrained probe).

Classes it never saw keep their text embedding as prototype: on new classes CLAP is zero-shot
CLIP, exactly.
"""

import math

import torch
import torch.nn.functional as F

from ..method.training import COOP_MOMENTUM, coop_schedule, minimise, training_epochs
from ..utils.validation import check_in_range, check_seed
from ._base import EmbeddingClassifier, check_training_params, match_classes, store_params

#: ``configs/trainers/SGD_lr1e-1_B256_ep300.yaml``: ``MAX_EPOCH: 300``, ``LR: 0.1``, ``BATCH_SIZE: 256``.
CLAP_EPOCHS = 300
CLAP_LR = 0.1
CLAP_BATCH_SIZE = 256
#: The prototypes' norm s at which CLAP's lr turns their directions as CoOp's lr 0.002
#: (``configs/trainers/CoOp/vit_b16.yaml``) turns unit-norm parameters: lr / s² = 0.002.
CLAP_PROTOTYPE_NORM = math.sqrt(CLAP_LR / 0.002)


def class_adaptive_penalty_weights(X, y, T, logit_scale=100.0):
    """CLAP's penalty weights λ_k: the mean zero-shot probability of the true class over each class's samples.

    λ_k = (1/|S_k|) Σ_{i ∈ S_k} softmax(``logit_scale`` · F Tᵀ)_ik with S_k the rows labelled k
    (jusiro/CLAP, ``trainers/adapters.py``, ``init_lagrangian_multipliers``).

    Parameters
    ----------
    X : torch.Tensor, shape (N, d)
        Support image embeddings (unit rows).
    y : torch.Tensor, shape (N,), int64
        Labels in ``range(K)``, every class present.
    T : torch.Tensor, shape (K, d)
        Text embeddings (unit rows).
    logit_scale : float

    Returns
    -------
    torch.Tensor, shape (K,), values in (0, 1].
    """
    probabilities = torch.softmax(logit_scale * X @ T.T, dim=1)
    one_hot = F.one_hot(y, T.shape[0]).to(probabilities.dtype)
    return (probabilities * one_hot).sum(dim=0) / one_hot.sum(dim=0)


class CLAPClassifier(EmbeddingClassifier):
    """CLAP: class prototypes trained from the zero-shot ones, each held to its text embedding with
    a class-adaptive weight (see the module docstring for the paper, the code and the differences).

    Parameters
    ----------
    penalty_scale : float
        Multiplies every λ_k; 1 is CLAP, 0 the unconstrained zero-shot initialised probe (ZS-LP).
    prototype_norm : float
        s > 0: the prototypes start at, and are held to, s · t_k.
    logit_scale : float
        The CLIP temperature 1/τ (100).
    epochs : int or None
        ``None``: CLAP's 300.
    lr : float
        SGD base learning rate (0.1).
    batch_size : int
        Mini-batch size (256).
    seed : int
        Seeds the batch order.
    device : str or torch.device, optional

    Attributes
    ----------
    prototypes_ : torch.Tensor, shape (K, d)
        w_k of the K classes that occur in ``y`` (not normalised; the scores normalise them).
    class_embeddings_ : torch.Tensor, shape (K, d)
        t_k: the rows of ``T`` of the classes in ``y``, in label order.
    penalty_weights_ : torch.Tensor, shape (K,)
        λ_k (:func:`class_adaptive_penalty_weights`), before ``penalty_scale``.
    loss_history_ : list of float
    n_epochs_ : int
    """

    _score_params = ("logit_scale",)

    def __init__(self, penalty_scale=1.0, prototype_norm=CLAP_PROTOTYPE_NORM, logit_scale=100.0, epochs=None,
                 lr=CLAP_LR, batch_size=CLAP_BATCH_SIZE, seed=1, device=None):
        store_params(self, locals())

    def _check_params(self):
        check_in_range("penalty_scale", self.penalty_scale, low=0.0)
        check_in_range("prototype_norm", self.prototype_norm, low=0.0, low_open=True)
        check_training_params(self)

    def fit(self, X, y, T):
        """Train the prototypes on ``X`` (N, d) labelled ``y`` against the class embeddings ``T`` (C, d)."""
        X, y, T = self._start_fit(X, y, T)
        classes = torch.unique(y)
        labels = torch.searchsorted(classes, y).to(self.device_)
        X, T = X.to(self.device_), T[classes].to(self.device_)
        self.class_embeddings_ = T
        self.penalty_weights_ = class_adaptive_penalty_weights(X, labels, T, self.logit_scale)
        anchors = self.prototype_norm * T
        prototypes = anchors.clone().requires_grad_(True)
        weights = self.penalty_scale * self.penalty_weights_

        def batch_loss(indices):
            logits = self.logit_scale * X[indices] @ F.normalize(prototypes, dim=1).T
            penalty = (weights * (prototypes - anchors).square().sum(dim=1)).mean()
            return F.cross_entropy(logits, labels[indices]) + penalty

        self.n_epochs_ = training_epochs(self.epochs, y, default=CLAP_EPOCHS)
        optimizer = torch.optim.SGD([prototypes], lr=self.lr, momentum=COOP_MOMENTUM)
        self.loss_history_ = minimise(batch_loss, optimizer, X.shape[0], self.n_epochs_, self.batch_size,
                                      check_seed(self.seed), schedule=coop_schedule, description="CLAP",
                                      hyperparameters={"lr": self.lr, "penalty_scale": self.penalty_scale})
        self.prototypes_ = prototypes.detach()
        return self

    def _logits(self, X, T):
        known = match_classes(T, self.class_embeddings_)
        seen = known >= 0
        prototypes = T.clone()
        prototypes[seen] = F.normalize(self.prototypes_[known[seen]], dim=1)
        return self.logit_scale * X @ prototypes.T
