"""Prompt learners: CoOp, CoCoOp, ProGrad and KgCoOp, trained on cached image embeddings.

An adapter (CLIP-Adapter, LLU) changes embeddings after the encoders; a prompt learner changes
the *input* of the text encoder: it learns context vectors that replace the words of "a photo
of a {class}." (Sec. 2 of the paper, "prompt engineering"). The image side stays frozen, so
training runs on cached image embeddings, but the text tower runs at every step, on every
class (:mod:`llu_core.backbones.prompt_towers`).

The estimators follow the contract of :mod:`llu_core.estimators` with one addition: ``T``
must be a :class:`~llu_core.utils.class_texts.ClassTexts` (``embed_dataset(...).text`` is one), which
carries the class names and the text tower besides the class embeddings; its rows are the
hand-crafted prompts' embeddings that ProGrad and KgCoOp hold the learned prompts to. Scoring
other classes (new classes, another data set) takes their ``ClassTexts``: the learned context
is put in front of their names. A fitted model remembers the key of its tower and refuses a
``T`` of another backbone; before its names are used, the rows of every ``T`` are checked to
be those names' embeddings by its tower (:meth:`~llu_core.utils.class_texts.ClassTexts.check_rows`).

Shared defaults (KaiyangZhou/CoOp): SGD with lr 0.002, CoOp's momentum, weight decay, warm-up
and cosine schedule (:mod:`llu_core.method.training`); the context initialised from the word
embeddings of "a photo of a" (``configs/trainers/CoOp/vit_b16_ctxv1.yaml``, ``CTX_INIT``), one
context for all classes, the class name at the end (``trainers/coop.py``); logits are
``logit_scale`` · cosine as in every other estimator of the book.
"""

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ..utils.class_texts import ClassTexts
from ..method.training import coop_optimizer, minimise, training_epochs
from ..utils.validation import check_in_range, check_is_fitted, check_predict_inputs
from ._base import EmbeddingClassifier, check_training_params, store_params

#: CoCoOp's training length (KaiyangZhou/CoOp, ``configs/trainers/CoCoOp/vit_b16_c4_ep10_batch1_ctxv1.yaml``).
COCOOP_EPOCHS = 10
#: KgCoOp's training length (htyao89/KgCoOp, ``configs/trainers/KgCoOp/vit_b16_ep100_ctxv1.yaml``).
KGCOOP_EPOCHS = 100
#: ProGrad's distillation temperature τ_KD accepted (the reference uses 1). Beyond 1e4 the softened
#: float32 predictions are uniform to float32 precision and the KL gradient vanishes: plain CoOp.
TEMPERATURE_RANGE = (1e-6, 1e4)
#: CoCoOp runs the text tower over all classes for every image; images are scored this many at a time.
_IMAGES_PER_CHUNK = 32


def prograd_project(gradient, kl_gradient, lam=1.0):
    """ProGrad's gradient: the cross-entropy gradient with its part against the KL gradient removed.

    With G the gradient of the cross-entropy and ĝ the unit gradient of the KL divergence to
    zero-shot CLIP, ProGrad (Zhu et al. 2022) updates along G when G·ĝ ≥ 0 and along
    G − λ (G·ĝ) ĝ otherwise, one parameter tensor at a time (BeierZhu/Prompt-align,
    ``Dassl.ProGrad.pytorch/dassl/engine/trainer.py``, ``prograd_backward_and_update``). With
    λ = 1 the result is orthogonal to ĝ, so the update never increases the KL divergence to
    first order.

    Parameters
    ----------
    gradient, kl_gradient : torch.Tensor, same shape
    lam : float
        λ, how much of the conflicting part is removed (ProGrad's ``LOSS.LAMBDA``, 1.0).

    Returns
    -------
    torch.Tensor, the shape of ``gradient``.
    """
    norm = kl_gradient.norm()
    if norm == 0:
        return gradient
    direction = kl_gradient / norm
    dot = (gradient * direction).sum()
    return gradient - lam * dot * direction if dot < 0 else gradient


def _check_class_texts(T, estimator):
    if not isinstance(T, ClassTexts):
        raise ValueError(f"{type(estimator).__name__} builds class embeddings from class names: T must be a "
                         "llu_core.utils.class_texts.ClassTexts (embeddings, class names and text tower; embed_dataset(...)"
                         f".text is one), got {type(T).__name__}")
    if T.tower is None:
        raise ValueError(f"{type(estimator).__name__} needs the text tower: T has none (ClassTexts(..., tower=None)); "
                         "pass tower=backbone.context_tower()")
    return T


class PromptLearnerClassifier(EmbeddingClassifier):
    """The shared part of the prompt learners: context, training loop, scoring through the tower.

    Subclasses set their defaults in ``__init__``; they override ``_logits(X, classnames, tower)``,
    ``_training_step`` and ``_modules`` where they differ from CoOp.

    Attributes (after ``fit``)
    --------------------------
    context_ : torch.Tensor, shape (n_ctx, ctx_dim)
        The learned context vectors, in the tower's word-embedding space.
    tower_key_ : str
        The key of the tower trained with; scoring needs a ``T`` whose tower has it.
    ctx_dim_ : int
        The width of the word-embedding space.
    loss_history_ : list of float
        Mean training loss of every epoch.
    n_epochs_ : int
    """

    _default_epochs = None  # None: CoOp's epochs for the number of shots

    def _check_params(self):
        if self.n_ctx is not None and (isinstance(self.n_ctx, bool) or not isinstance(self.n_ctx, (int, np.integer))
                                       or self.n_ctx < 1):
            raise ValueError(f"n_ctx must be a positive integer or None, got {self.n_ctx!r}")
        if self.ctx_init is not None and not (isinstance(self.ctx_init, str) and self.ctx_init.strip()):
            raise ValueError(f"ctx_init must be a non-empty string or None, got {self.ctx_init!r}")
        if self.ctx_init is None and self.n_ctx is None:
            raise ValueError("n_ctx must be given when ctx_init is None (random context)")
        check_training_params(self)

    def _initial_context(self, tower):
        """CoOp's initial context: the word embeddings of ``ctx_init``, or N(0, 0.02²) without it.

        With ``n_ctx`` larger than the words' tokens, the words fill the last places and the
        first ones start at zero (ProGrad's ``PromptLearner``, BeierZhu/Prompt-align,
        ``ProGrad.public/trainers/prograd.py``).
        """
        if self.ctx_init is None:
            generator = torch.Generator().manual_seed(self.seed)
            return 0.02 * torch.randn(self.n_ctx, tower.ctx_dim, generator=generator)
        words = tower.word_embeddings(self.ctx_init).detach().cpu()
        n_ctx = self.n_ctx if self.n_ctx is not None else words.shape[0]
        if n_ctx < words.shape[0]:
            raise ValueError(f"ctx_init {self.ctx_init!r} has {words.shape[0]} tokens, more than n_ctx={n_ctx}")
        context = torch.zeros(n_ctx, words.shape[1])
        context[n_ctx - words.shape[0]:] = words
        return context

    def _modules(self):
        """The trainable torch modules besides the context (CoCoOp's meta-net)."""
        return []

    def fit(self, X, y, T):
        """Learn the context on image embeddings ``X`` (n, d) labelled ``y`` into ``T``, a ClassTexts (C, d)."""
        texts = _check_class_texts(T, self)
        X, y, E = self._start_fit(X, y, texts)
        tower = texts.tower
        if tower.embed_dim != E.shape[1]:
            raise ValueError(f"T has rows of dimension {E.shape[1]} but its tower embeds in {tower.embed_dim} "
                             "(dimension mismatch)")
        texts.check_rows()
        self.tower_key_, self.ctx_dim_ = tower.key, int(tower.ctx_dim)
        self._build_modules()
        self.context_ = self._initial_context(tower).to(self.device_).requires_grad_(True)
        X, y, E = X.to(self.device_), y.to(self.device_), E.to(self.device_)
        batch_loss, before_step = self._training_step(X, y, E, texts.classnames, tower)
        self.n_epochs_ = training_epochs(self.epochs, y, default=self._default_epochs)
        parameters = [self.context_] + [p for module in self._modules() for p in module.parameters()]
        self.loss_history_ = minimise(batch_loss, coop_optimizer(parameters, self.lr), X.shape[0], self.n_epochs_,
                                      self.batch_size, self.seed, description=type(self).__name__[:-len("Classifier")],
                                      before_step=before_step,
                                      hyperparameters={"lr": self.lr, "logit_scale": self.logit_scale})
        self.context_ = self.context_.detach()
        return self

    def _training_step(self, X, y, E, classnames, tower):
        """``batch_loss(indices)`` for :func:`~llu_core.method.training.minimise`, and its ``before_step`` (or None)."""

        def batch_loss(indices):
            return F.cross_entropy(self._logits(X[indices], classnames, tower), y[indices])

        return batch_loss, None

    def decision_function(self, X, T):
        """Scores (n, C') of image embeddings ``X`` for the classes of ``T``, a ClassTexts of any classes.

        Returns
        -------
        numpy.ndarray, shape (n, C'), float32: ``logit_scale`` · cosine with the learned prompts' embeddings.
        """
        check_is_fitted(self, "dim_")
        texts = _check_class_texts(T, self)
        if texts.tower.key != self.tower_key_:
            raise ValueError(f"T's text tower ({texts.tower.key}) is not the one this model was trained with "
                             f"({self.tower_key_})")
        texts.check_rows()
        X, _ = check_predict_inputs(X, texts, self.dim_)
        with torch.no_grad():
            return self._as_scores(self._logits(X.to(self.device_), texts.classnames, texts.tower))

    def _class_embeddings(self, classnames, tower):
        """Unit embeddings (C, d) of the learned prompts of ``classnames``, on ``device_``."""
        return tower(self.context_, classnames).to(self.device_)

    def _logits(self, X, classnames, tower):
        return self.logit_scale * X @ self._class_embeddings(classnames, tower).T


class CoOpClassifier(PromptLearnerClassifier):
    """CoOp (Zhou et al. 2022, "Learning to prompt for vision-language models").

    M context vectors shared by all classes, the class name at the end: the text embedding of
    class c is the tower's output for [start] v₁ … v_M [c] "." [end]. Trained with
    cross-entropy (Eq. 3).

    Defaults: 4 context vectors from "a photo of a" (the paper, Sec. 4 "Training": CoOp and
    CoCoOp "have a context length of 4 initialized as the prompt 'a photo of a'"), SGD lr 0.002,
    batch 32 and CoOp's epochs per number of shots (KaiyangZhou/CoOp,
    ``configs/trainers/CoOp/vit_b16_ctxv1.yaml`` and the ``_ep50``/``_ep100`` variants,
    ``scripts/coop/main.sh``).

    Parameters
    ----------
    n_ctx : int or None
        M; None takes the number of tokens of ``ctx_init``.
    ctx_init : str or None
        The words whose embeddings start the context; None draws it from N(0, 0.02²) (CoOp's
        random initialisation; then ``n_ctx`` is required).
    logit_scale : float
        The CLIP temperature 1/τ.
    epochs : int or None
        None: CoOp's epochs for the number of shots per class.
    lr, batch_size, seed, device
        As for :class:`~llu_core.estimators.LLUClassifier`; the text tower runs where its
        backbone was loaded.
    """

    def __init__(self, n_ctx=None, ctx_init="a photo of a", logit_scale=100.0, epochs=None, lr=0.002, batch_size=32,
                 seed=1, device=None):
        store_params(self, locals())


class CoCoOpClassifier(PromptLearnerClassifier):
    """CoCoOp (Zhou et al. 2022, "Conditional prompt learning for vision-language models").

    A meta-net π = Linear(d, d/16) → ReLU → Linear(d/16, ctx_dim) adds the image-conditioned
    bias π(x) to every context vector, so each image x gets its own prompts v_m + π(x) and the
    text tower runs over all classes *for every image*. Trained with cross-entropy.

    Defaults from KaiyangZhou/CoOp, ``configs/trainers/CoCoOp/vit_b16_c4_ep10_batch1_ctxv1.yaml``
    (the base-to-new config of ``scripts/cocoop/base2new_train.sh``): 4 context vectors from
    "a photo of a", batch 1, 10 epochs, SGD lr 0.002 with CoOp's warm-up and cosine schedule;
    the meta-net's layers from ``trainers/cocoop.py`` (torch's default initialisation, drawn
    from ``seed``).

    Parameters
    ----------
    n_ctx, ctx_init, logit_scale, lr, seed, device
        As for :class:`CoOpClassifier`.
    epochs : int or None
        None: 10.
    batch_size : int

    Attributes
    ----------
    meta_net_ : torch.nn.Sequential
        π; besides the attributes of every prompt learner.
    """

    _default_epochs = COCOOP_EPOCHS

    def __init__(self, n_ctx=None, ctx_init="a photo of a", logit_scale=100.0, epochs=None, lr=0.002, batch_size=1,
                 seed=1, device=None):
        store_params(self, locals())

    def _build_modules(self):
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(self.seed)
            hidden = max(1, self.dim_ // 16)
            self.meta_net_ = nn.Sequential(nn.Linear(self.dim_, hidden), nn.ReLU(),
                                           nn.Linear(hidden, self.ctx_dim_)).to(self.device_)

    def _modules(self):
        return [self.meta_net_]

    def _logits(self, X, classnames, tower):
        chunks = []
        for images in X.split(_IMAGES_PER_CHUNK):
            context = self.context_.unsqueeze(0) + self.meta_net_(images).unsqueeze(1)  # (b, M, ctx_dim)
            texts = tower(context, classnames).to(self.device_)  # (b, C, d)
            chunks.append(self.logit_scale * torch.einsum("bd,bcd->bc", images, texts))
        return torch.cat(chunks)


class ProGradClassifier(PromptLearnerClassifier):
    """ProGrad (Zhu et al. 2022, "Prompt-aligned gradient for prompt tuning").

    CoOp's prompts, trained on the cross-entropy with gradients that may not conflict with
    zero-shot CLIP: the KL divergence from zero-shot CLIP's predictions (the hand-crafted
    class embeddings, the rows of ``T``) to the prompt learner's, at temperature τ_KD, gives
    the direction ĝ, and every step uses :func:`prograd_project` of the cross-entropy gradient.

    Defaults from BeierZhu/Prompt-align: temperature 1 (``configs/trainers/ProGrad/rn50_ep100.yaml``,
    ``LOSS.T``), λ = 1 (``scripts/base2new_train_prograd.sh``, ``LAMBDA``), 16 context vectors
    with the prompt's words in the last places (the same script's ``NCTX=16`` and
    ``trainers/prograd.py``), SGD lr 0.002, batch 32 and CoOp's schedule (same config); epochs
    as CoOp's per shots (the base-to-new script trains 4 shots for the config's 100 epochs,
    which is CoOp's count for 4 shots). The paper retrained ProGrad on ViT-B/16 (Sec. 4).

    Parameters
    ----------
    temperature : float
        τ_KD of the distillation term.
    lam : float
        λ of :func:`prograd_project`.
    n_ctx, ctx_init, logit_scale, epochs, lr, batch_size, seed, device
        As for :class:`CoOpClassifier`.
    """

    def __init__(self, temperature=1.0, lam=1.0, n_ctx=16, ctx_init="a photo of a", logit_scale=100.0, epochs=None,
                 lr=0.002, batch_size=32, seed=1, device=None):
        store_params(self, locals())

    def _check_params(self):
        check_in_range("temperature", self.temperature, *TEMPERATURE_RANGE)
        check_in_range("lam", self.lam, 0.0, 1.0)
        super()._check_params()

    def kl_to_zero_shot(self, logits, X, E):
        """ProGrad's distillation loss: −Σ p_zs log softmax(logits/τ) · τ², averaged over the batch.

        ``p_zs`` = softmax(``logit_scale`` · X Eᵀ / τ), zero-shot CLIP's prediction from the
        hand-crafted class embeddings E; the loss differs from KL(p_zs ‖ p) by p_zs's entropy,
        a constant, so it has the KL divergence's gradient (``ProGradLoss`` in ``trainers/prograd.py``).
        """
        tau = self.temperature
        teacher = F.softmax(self.logit_scale * X @ E.T / tau, dim=1)
        return -(teacher * F.log_softmax(logits / tau, dim=1)).sum(dim=1).mean() * tau ** 2

    def _training_step(self, X, y, E, classnames, tower):
        kl_gradient = {}

        def batch_loss(indices):
            logits = self._logits(X[indices], classnames, tower)
            kl = self.kl_to_zero_shot(logits, X[indices], E)
            kl_gradient["context"] = torch.autograd.grad(kl, self.context_, retain_graph=True)[0]
            return F.cross_entropy(logits, y[indices])

        def before_step():
            if not torch.isfinite(kl_gradient["context"]).all():
                raise ValueError(f"temperature={self.temperature!r}: the gradient of ProGrad's KL term is not finite, so "
                                 "the update would not be ProGrad's; use a temperature near 1 (the reference's)")
            self.context_.grad = prograd_project(self.context_.grad, kl_gradient["context"], self.lam)

        return batch_loss, before_step


class KgCoOpClassifier(PromptLearnerClassifier):
    """KgCoOp (Yao et al. 2023, "Visual-language prompt tuning with knowledge-guided context optimization").

    CoOp plus w · (1 − mean cosine between the learned and the hand-crafted class text
    embeddings), the hand-crafted ones being the rows of ``T``: the learned prompts are held
    near the prompts zero-shot CLIP uses. A later peer of LLU that the paper does not compare.

    Defaults from htyao89/KgCoOp: w = 8 (``scripts/base2new_train.sh``, ``WEIGHT=8.0``), 4
    context vectors from "a photo of a" (``trainers/kgcoop.py``), SGD lr 0.002, batch 128, 100
    epochs with CoOp's warm-up and cosine schedule (``configs/trainers/KgCoOp/vit_b16_ep100_ctxv1.yaml``).

    Parameters
    ----------
    weight : float
        w ≥ 0.
    n_ctx, ctx_init, logit_scale, lr, seed, device
        As for :class:`CoOpClassifier`.
    epochs : int or None
        None: 100.
    batch_size : int
    """

    _default_epochs = KGCOOP_EPOCHS

    def __init__(self, weight=8.0, n_ctx=None, ctx_init="a photo of a", logit_scale=100.0, epochs=None, lr=0.002,
                 batch_size=128, seed=1, device=None):
        store_params(self, locals())

    def _check_params(self):
        check_in_range("weight", self.weight, low=0.0)
        super()._check_params()

    def _training_step(self, X, y, E, classnames, tower):
        def batch_loss(indices):
            texts = self._class_embeddings(classnames, tower)
            logits = self.logit_scale * X[indices] @ texts.T
            return F.cross_entropy(logits, y[indices]) + self.weight * (1.0 - (texts * E).sum(dim=1).mean())

        return batch_loss, None
