"""Many LLU models trained at once, as one batched problem.

A grid of LLU fits (Table 4's ablations × seeds × shot counts) is hundreds of small problems.
One step of one model applies two d × d affine maps to a batch of 32 images and to the C class
embeddings, so a fit run alone spends most of its time on the overhead of Python and autograd
per operation, and what remains is memory traffic: SGD reads and writes every entry of both
d × d matrices and their momentum buffers at every step. :func:`train_together` runs every
step of K models with the same few operations, each a batched matrix product over the K
models, on a representation of the adapters that is as small as the training data.

**SGD never leaves the span of the inputs.** The gradient of the cross-entropy with respect to
W in g(x) = W x + b is Σ δ xᵀ over the rows x the adapter was applied to: its rows lie in the
span of the model's training images (for g_I) or of its class embeddings (for g_T). Weight
decay and the identity distance of Eq. 6 add multiples of W − I and of W, and momentum adds
multiples of earlier steps. So, in exact arithmetic, W stays of the form

    W = (1 + e) · I + a · Δ₀ + V U,

with Δ₀ = W₀ − I the initial offset (0 for the identity initialisation), U ``(r, d)`` a basis of
the inputs' rows (the n training images themselves when n < d, else I), V ``(d, r)`` and two
scalars a, e. SGD with momentum on W is then SGD with momentum on (V, a, e), each update being
the same linear combination of the same terms; g(x) for a training row is
(1 + e) x + a · x Δ₀ᵀ + (x Uᵀ) Vᵀ, whose two products with x are computed once per fit. At 16
shots of 5 classes (n = 80, d = 512) a step touches 80 × 512 entries per adapter instead of
512 × 512. W is formed once, at the end.

Layout of a stack of K models (N rows of all models' inputs concatenated, r the largest basis):

- per adapter (:class:`_Adapters`): the inputs ``(N, d)`` with their coordinates in their model's
  basis ``(N, r)``, ``x Uᵀ`` ``(N, r)`` and ``x Δ₀ᵀ`` ``(N, d)``; per model U ``(K, r, d)``, Δ₀
  ``(K, d, d)``, the trained V ``(K, d, r)``, a, e ``(K,)`` and b ``(K, d)``, each with its
  momentum buffer;
- per step: a ``(K, B)`` matrix of row indices (each model's mini-batch, padded with weight 0
  to the largest one, B), the class rows ``(K, C)`` and a ``(K,)`` vector of learning rates.

The models are sorted by their number of steps, longest first, so the models still training
at step s are a prefix ``[:K_s]`` of the stack, and a step works on views, never on copies.

**Why each model equals its fit alone** (scores within float rounding, see
``tests/method/test_batched.py``): the loss of model k depends only on model k's slice of the stack, so
the gradient of the summed loss with respect to that slice is model k's own gradient; its
batches are drawn from its own generator, seeded with its seed, exactly as
:func:`~llu_core.method.training.minimise` draws them; its learning rate follows CoOp's schedule
for its own epochs and steps per epoch (:func:`~llu_core.method.training.coop_lr_factor`); the
update is ``torch.optim.SGD``'s (momentum 0.9, weight decay 5e-4 on W and b, no dampening)
written out for a learning rate per model, on the representation above; and the identity
distance and its gradient are their closed forms in (V, a, e). Autograd differentiates only the
part of the loss after the adapters (Eq. 4, the cosine logits, the softmax) with respect to
the adapters' outputs.
"""

import math
from dataclasses import dataclass
from itertools import groupby

import torch
import torch.nn.functional as F

from ..utils.progress import progress_bar
from .adapters import IDENTITY_NORMS, AffineAdapter
from .locality import interpolate
from .training import COOP_MOMENTUM, COOP_WEIGHT_DECAY, DivergenceWatch, coop_lr_factor, shuffled_batches

#: The most models stacked into one batched problem (bounds the memory of a stack: Δ₀ and W
#: are d × d per model and adapter).
MODELS_PER_STACK = 32


@dataclass
class LLUProblem:
    """One LLU fit as :func:`train_together` reads it: frozen inputs, initial adapters, settings.

    Attributes
    ----------
    X : torch.Tensor, shape (n, d)
        Unit-norm training image embeddings.
    y : torch.Tensor, shape (n,)
        Labels into the rows of ``T``.
    T : torch.Tensor, shape (C, d)
        Unit-norm class text embeddings.
    alpha_image, alpha_text : torch.Tensor, shapes (n,) and (C,)
        α (Eq. 5) of every training row against D_image and of every class against D_text.
    image_adapter, text_adapter : AffineAdapter
        g_I and g_T at their initial values; :func:`train_together` leaves them trained.
    lam : float
        λ of Eq. 6.
    identity_norm : {"mean_squared", "frobenius"}
        The distance of Eq. 6 (:meth:`~llu_core.method.adapters.AffineAdapter.identity_distance`).
    logit_scale, lr : float
    epochs, batch_size, seed : int
    description : str
        Names the fit in progress bars and errors.
    """

    X: torch.Tensor
    y: torch.Tensor
    T: torch.Tensor
    alpha_image: torch.Tensor
    alpha_text: torch.Tensor
    image_adapter: AffineAdapter
    text_adapter: AffineAdapter
    lam: float
    identity_norm: str
    logit_scale: float
    lr: float
    epochs: int
    batch_size: int
    seed: int
    description: str = "LLU"

    @property
    def steps_per_epoch(self):
        return math.ceil(self.X.shape[0] / self.batch_size)

    @property
    def steps(self):
        return self.epochs * self.steps_per_epoch


def train_together(problems, models_per_stack=None, progress=True):
    """Train the adapters of every problem, a stack of models at a time; return each problem's loss history.

    Each problem ends as :class:`~llu_core.estimators.LLUClassifier`'s own fit would leave it
    (see the module docstring): its ``image_adapter`` and ``text_adapter`` hold the trained
    g_I and g_T, and its history is the mean total loss (cross-entropy + λ · identity distance)
    of every epoch.

    Parameters
    ----------
    problems : sequence of LLUProblem
        Any number; they must share the embedding dimension d and the device. Problems with
        the same number of classes are stacked together, longest first.
    models_per_stack : int, optional
        K, the most problems stacked into one batched problem; default :data:`MODELS_PER_STACK`.
    progress : bool
        Show a progress bar over the steps of each stack.

    Returns
    -------
    list of (list of float), in the order of ``problems``.

    Raises
    ------
    ValueError
        When a model diverges (:class:`~llu_core.method.training.DivergenceWatch`, applied to
        every model); the error names the model and its hyperparameters.
    """
    problems, models_per_stack = list(problems), models_per_stack or MODELS_PER_STACK
    for problem in problems:
        if problem.identity_norm not in IDENTITY_NORMS:
            raise ValueError(f"identity_norm must be one of {IDENTITY_NORMS}, got {problem.identity_norm!r}")
    histories = [None] * len(problems)
    order = sorted(range(len(problems)), key=lambda i: (problems[i].T.shape[0], -problems[i].steps))
    for _, same_classes in groupby(order, key=lambda i: problems[i].T.shape[0]):
        same_classes = list(same_classes)
        for start in range(0, len(same_classes), models_per_stack):
            stack = same_classes[start:start + models_per_stack]
            for index, history in zip(stack, _train_stack([problems[i] for i in stack], progress)):
                histories[index] = history
    return histories


class _Adapters:
    """One adapter (g_I or g_T) of each of K models, W kept as (1 + e) I + a Δ₀ + V U.

    Parameters
    ----------
    adapters : list of AffineAdapter
        The K adapters at their initial values.
    inputs : list of torch.Tensor, shapes (n_k, d)
        The rows each model applies its adapter to in training: its basis U is these rows
        when n_k < d, else the identity.
    """

    def __init__(self, adapters, inputs):
        with torch.no_grad():
            d = inputs[0].shape[1]
            self.identity = torch.eye(d, dtype=inputs[0].dtype, device=inputs[0].device)
            bases = [E if E.shape[0] < d else self.identity for E in inputs]
            r = max(U.shape[0] for U in bases)
            self.basis = torch.stack([F.pad(U, (0, 0, 0, r - U.shape[0])) for U in bases])          # U (K, r, d)
            self.basis_t = self.basis.mT.contiguous()                                                # Uᵀ (K, d, r)
            self.initial = torch.stack([a.linear.weight for a in adapters]) - self.identity         # Δ₀ (K, d, d)
            self.random_init = bool(self.initial.any())  # else Δ₀ = 0 and its terms are left out
            self.offsets = torch.tensor([0] + [E.shape[0] for E in inputs]).cumsum(0)[:-1].tolist()
            self.rows = torch.cat(inputs)                                                            # x (N, d)
            # A row's coordinates s in its model's basis (x = s U): a one-hot row when U holds the rows.
            self.coordinates = torch.cat([E if U is self.identity else F.pad(torch.eye(E.shape[0], dtype=E.dtype,
                                                                                       device=E.device),
                                                                             (0, r - U.shape[0]))
                                          for E, U in zip(inputs, bases)])                            # s (N, r)
            self.row_gram = torch.cat([E @ self.basis[k].T for k, E in enumerate(inputs)])           # x Uᵀ (N, r)
            self.row_initial = torch.cat([E @ self.initial[k].T for k, E in enumerate(inputs)])      # x Δ₀ᵀ (N, d)
            self.gram = self.basis @ self.basis.mT                                                   # U Uᵀ (K, r, r)
            self.initial_basis = self.initial @ self.basis_t                                        # Δ₀ Uᵀ (K, d, r)
            self.initial_square = self.initial.square().sum(dim=(1, 2))                              # ‖Δ₀‖² (K,)
            self.initial_trace = self.initial.diagonal(dim1=1, dim2=2).sum(dim=1)                    # tr Δ₀ (K,)
            K = len(adapters)
            self.V = torch.zeros(K, d, r, dtype=self.rows.dtype, device=self.rows.device)
            self.a = torch.ones(K, dtype=self.rows.dtype, device=self.rows.device)
            self.e = torch.zeros_like(self.a)
            self.b = torch.stack([adapter.linear.bias for adapter in adapters]).clone()              # (K, d)
        self.momentum = [torch.zeros_like(t) for t in (self.V, self.a, self.e, self.b)]

    def apply(self, active, index):
        """g(x) = W x + b of the first ``active`` models on their input rows ``index`` (K_s, rows):
        returns the rows (K_s, rows, d) and g of them (K_s, rows, d)."""
        x = self.rows[index]
        out = torch.baddbmm(self.b[:active, None], self.row_gram[index], self.V[:active].mT)    # b + (x Uᵀ) Vᵀ
        out.addcmul_(x, 1.0 + self.e[:active, None, None])                                       # + (1 + e) x
        if self.random_init:
            out.addcmul_(self.row_initial[index], self.a[:active, None, None])                    # + a x Δ₀ᵀ
        return x, out

    def norms(self, active):
        """‖W − I‖_F², tr(W − I) and ‖b‖² of the first ``active`` models, each (K_s,)."""
        V, a, e, d = self.V[:active], self.a[:active], self.e[:active], self.identity.shape[0]
        # ‖a Δ₀ + e I + V U‖² = a²‖Δ₀‖² + e² d + 2ae tr Δ₀ + ⟨VᵀV, UUᵀ⟩ + 2a ⟨V, Δ₀Uᵀ⟩ + 2e ⟨V, Uᵀ⟩,
        # and tr(a Δ₀ + e I + V U) = a tr Δ₀ + e d + ⟨V, Uᵀ⟩.
        basis_trace = _inner(V, self.basis_t[:active])
        square = (e.square() * d + _inner(V.mT @ V, self.gram[:active]) + 2.0 * e * basis_trace)
        trace = e * d + basis_trace
        if self.random_init:
            initial_trace = self.initial_trace[:active]
            square += (a.square() * self.initial_square[:active] + 2.0 * a * e * initial_trace
                       + 2.0 * a * _inner(V, self.initial_basis[:active]))
            trace += a * initial_trace
        return square.clamp_(min=0.0), trace, self.b[:active].square().sum(dim=1)

    def size(self, active):
        """‖W‖_F² + ‖b‖² of the first ``active`` models (K_s,)."""
        square, trace, bias_square = self.norms(active)
        return self.identity.shape[0] + 2.0 * trace + square + bias_square

    def sgd_step(self, active, index, output_gradient, weight_factor, bias_factor, lr):
        """One step of ``torch.optim.SGD`` (CoOp's momentum and weight decay) for the first ``active`` models.

        Parameters
        ----------
        index : torch.Tensor, shape (K_s, rows)
            The input rows the adapters were applied to.
        output_gradient : torch.Tensor, shape (K_s, rows, d)
            δ = ∂CE/∂g(x) for those rows: ∂CE/∂W = Σ δ xᵀ = (Σ δ sᵀ) U with s the rows'
            coordinates in U, and ∂CE/∂b = Σ δ.
        weight_factor, bias_factor : torch.Tensor, shapes (K_s,)
            The regulariser's gradient is ``weight_factor`` · (W − I) and ``bias_factor`` · b.
        lr : torch.Tensor, shape (K_s,)
        """
        V, a, e, b = self.V[:active], self.a[:active], self.e[:active], self.b[:active]
        V_momentum, a_momentum, e_momentum, b_momentum = (m[:active] for m in self.momentum)
        decay = weight_factor + COOP_WEIGHT_DECAY
        # ∇W = ∂CE/∂W + c (W − I) + wd W, in the parts of W: U's part ∂CE/∂W + (c + wd) V,
        # Δ₀'s part (c + wd) a, I's part (c + wd) e + wd. Momentum: buffer ← m · buffer + ∇.
        V_momentum.baddbmm_(output_gradient.mT, self.coordinates[index], beta=COOP_MOMENTUM)
        V_momentum.addcmul_(V, decay[:, None, None])
        a_momentum.mul_(COOP_MOMENTUM).addcmul_(a, decay)
        e_momentum.mul_(COOP_MOMENTUM).addcmul_(e, decay).add_(COOP_WEIGHT_DECAY)
        b_momentum.mul_(COOP_MOMENTUM).add_(output_gradient.sum(dim=1))
        b_momentum.addcmul_(b, (bias_factor + COOP_WEIGHT_DECAY)[:, None])
        for parameter, momentum, shape in ((V, V_momentum, (-1, 1, 1)), (a, a_momentum, (-1,)), (e, e_momentum, (-1,)),
                                           (b, b_momentum, (-1, 1))):
            parameter.addcmul_(momentum, lr.view(shape), value=-1.0)

    def write_to(self, adapters):
        """Form W = (1 + e) I + a Δ₀ + V U and copy it and b into the ``adapters`` (in stack order)."""
        with torch.no_grad():
            W = torch.baddbmm(self.initial * self.a[:, None, None] + self.identity * (1.0 + self.e[:, None, None]),
                              self.V, self.basis)
            for adapter, weight, bias in zip(adapters, W, self.b):
                adapter.linear.weight.copy_(weight)
                adapter.linear.bias.copy_(bias)


def _inner(first, second):
    """⟨F_k, S_k⟩ = Σ_ij F_kij S_kij of two stacks of matrices (K, m, n): (K,), without a temporary.

    One ``torch.dot`` per model: as a batched product of (1, mn) and (mn, 1) matrices the same sums
    took 5.7x longer on one CPU thread (16 models of 512 × 80: 2.1 against 0.38 ms), a third of
    the training time of a grid of LLU models.
    """
    return torch.stack([torch.dot(f, s) for f, s in zip(first.flatten(1), second.flatten(1))])


def _regulariser(adapters, active, lam, mean_squared):
    """λ · identity distance (Eq. 6) of one adapter per model, and the factors of its gradient, each (K_s,)."""
    square, _, bias_square = adapters.norms(active)
    d = adapters.identity.shape[0]
    norm, bias_norm = square.sqrt(), bias_square.sqrt()
    distance = torch.where(mean_squared, square / d ** 2 + bias_square / d, norm + bias_norm)
    # d/dW mean((W − I)²) = 2 (W − I)/d², d/db mean(b²) = 2b/d;
    # d/dW ‖W − I‖ = (W − I)/‖W − I‖, and 0 at W = I (as autograd has it).
    weight_factor = torch.where(mean_squared, 2.0 / d ** 2, 1.0 / norm.where(norm > 0, math.inf))
    bias_factor = torch.where(mean_squared, 2.0 / d, 1.0 / bias_norm.where(bias_norm > 0, math.inf))
    return lam * distance, lam * weight_factor, lam * bias_factor


def _train_stack(problems, progress):
    """Train K problems that share C and d, sorted by their number of steps, longest first."""
    K, C = len(problems), problems[0].T.shape[0]
    device = problems[0].X.device
    image = _Adapters([p.image_adapter for p in problems], [p.X for p in problems])
    text = _Adapters([p.text_adapter for p in problems], [p.T for p in problems])
    labels = torch.cat([p.y for p in problems])                                   # (N,)
    image_alpha = torch.cat([p.alpha_image for p in problems])                    # (N,)
    text_alpha = torch.cat([p.alpha_text for p in problems])                      # (K C,)
    classes = torch.tensor(text.offsets, device=device)[:, None] + torch.arange(C, device=device)  # (K, C)
    logit_scale = torch.tensor([float(p.logit_scale) for p in problems], device=device)
    lam = torch.tensor([float(p.lam) for p in problems], device=device)
    mean_squared = torch.tensor([p.identity_norm == "mean_squared" for p in problems], device=device)
    with torch.no_grad():
        initial_size = image.size(K) + text.size(K)
    watches = [DivergenceWatch(p.description, size, {"lr": p.lr, "lam": p.lam, "logit_scale": p.logit_scale})
               for p, size in zip(problems, initial_size.sqrt().tolist())]
    batches = [_batches(p, offset) for p, offset in zip(problems, image.offsets)]
    steps = [p.steps for p in problems]
    epoch_loss = torch.zeros(K, dtype=torch.float64, device=device)
    histories = [[] for _ in problems]
    description = problems[0].description if K == 1 else f"{K} {problems[0].description} models"
    for step in progress_bar(range(steps[0]), show=progress, desc=description, leave=False):
        active = sum(1 for total in steps if total > step)                        # K_s: a prefix of the stack
        indices = [next(batches[k]) for k in range(active)]
        sizes = torch.tensor([len(i) for i in indices], device=device)
        batch = torch.nn.utils.rnn.pad_sequence(indices, batch_first=True)       # (K_s, B), padded with row 0
        weight = (torch.arange(batch.shape[1], device=device) < sizes[:, None]) / sizes[:, None]  # 1/B_k or 0
        lr = torch.tensor([p.lr * coop_lr_factor(step, p.lr, p.epochs, p.steps_per_epoch)
                           for p in problems[:active]], device=device)

        with torch.no_grad():
            x, image_out = image.apply(active, batch)                             # (K_s, B, d) each
            t, text_out = text.apply(active, classes[:active])                    # (K_s, C, d) each
        image_out.requires_grad_(True)
        text_out.requires_grad_(True)
        images = interpolate(x, image_out, image_alpha[batch])                    # Eq. 4
        class_embeddings = interpolate(t, text_out, text_alpha[classes[:active]])
        logits = logit_scale[:active, None, None] * images @ class_embeddings.mT  # (K_s, B, C)
        cross_entropy = (F.cross_entropy(logits.flatten(0, 1), labels[batch].flatten(), reduction="none")
                         .view_as(weight) * weight).sum(dim=1)                    # (K_s,): each model's batch mean
        cross_entropy.sum().backward()

        with torch.no_grad():
            image_penalty, *image_factors = _regulariser(image, active, lam[:active], mean_squared[:active])
            text_penalty, *text_factors = _regulariser(text, active, lam[:active], mean_squared[:active])
            loss = cross_entropy.detach() + image_penalty + text_penalty
            finite = torch.isfinite(loss)
            if not finite.all():
                k = int(finite.logical_not().nonzero()[0])
                watches[k].check_loss(step // problems[k].steps_per_epoch, loss[k].item())
            image.sgd_step(active, batch, image_out.grad, *image_factors, lr)
            text.sgd_step(active, classes[:active], text_out.grad, *text_factors, lr)
            epoch_loss[:active] += loss.double() * sizes
        _end_epochs(step, problems[:active], epoch_loss, histories, watches, (image, text))
    image.write_to([p.image_adapter for p in problems])
    text.write_to([p.text_adapter for p in problems])
    return histories


def _batches(problem, offset):
    """Model ``problem``'s mini-batches, as :func:`~llu_core.method.training.minimise` draws them,
    as indices into the concatenated rows (its own rows start at ``offset``)."""
    generator = torch.Generator().manual_seed(int(problem.seed))
    for _ in range(problem.epochs):
        for indices in shuffled_batches(generator, problem.X.shape[0], problem.batch_size):
            yield indices.to(problem.X.device) + offset


def _end_epochs(step, problems, epoch_loss, histories, watches, adapters):
    """Close the epoch of every model whose epoch ends at ``step``: record its mean loss, and
    watch it and the size ‖θ‖ of its parameters (``adapters``: g_I and g_T of the stack)."""
    ending = [k for k, p in enumerate(problems) if (step + 1) % p.steps_per_epoch == 0]
    if not ending:
        return
    with torch.no_grad():
        sizes = sum(adapter.size(len(problems)) for adapter in adapters).sqrt().tolist()
    totals = epoch_loss.tolist()
    for k in ending:
        problem = problems[k]
        epoch = step // problem.steps_per_epoch
        histories[k].append(totals[k] / problem.X.shape[0])
        watches[k].end_epoch(epoch, histories[k][-1], sizes[k])
        epoch_loss[k] = 0.0
