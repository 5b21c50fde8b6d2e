"""The fitting loop shared by the trainable estimators (LLU, CLIP-Adapter, Tip-Adapter-F, the prompt learners).

Everything runs on cached embeddings: an epoch is a seeded shuffle of the n training rows cut
into mini-batches (:func:`shuffled_batches`), and each step minimises ``batch_loss(indices)``.
The default schedule is CoOp's (KaiyangZhou/CoOp, ``configs/trainers/CoOp/vit_b16*.yaml``):
SGD, lr 0.002, batch 32, cosine decay per epoch after one warm-up epoch at a constant 1e-5,
with Dassl's SGD defaults momentum 0.9 and weight decay 5e-4 (Dassl.pytorch
``dassl/config/defaults.py``).

Training watches itself (:class:`DivergenceWatch`): a loss that stops being finite, an epoch
whose mean loss rises far above the first epoch's, or trained parameters that grow far beyond
their initial size stop the fit with a ``ValueError`` that names the hyperparameters to lower.
The batched trainer of many LLU models (:mod:`llu_core.method.batched`) applies the same watch to
every model.
"""

import math

import torch

from ..utils.progress import progress_bar

# CoOp's optimiser and warm-up (see the module docstring for the files).
COOP_MOMENTUM = 0.9
COOP_WEIGHT_DECAY = 5e-4
COOP_WARMUP_EPOCHS = 1
COOP_WARMUP_LR = 1e-5

#: A fit has diverged when an epoch's mean loss exceeds the first epoch's by this factor.
LOSS_GROWTH_LIMIT = 10.0
#: ... or when the norm of its trained parameters exceeds this many times their initial norm
#: (or 1, whichever is larger).
WEIGHT_GROWTH_LIMIT = 1e3


def coop_epochs(shots):
    """The number of epochs CoOp trains for ``shots`` samples per class.

    CoOp's scripts run ``vit_b16_ep50`` for 1 shot, ``vit_b16_ep100`` for 2 and 4 shots and
    ``vit_b16`` (200 epochs) for 8 and 16 shots (KaiyangZhou/CoOp, ``scripts/coop/main.sh``
    usage in its README and ``configs/trainers/CoOp/``). Other shot counts take the epochs of
    the next smaller listed count.
    """
    if shots < 1:
        raise ValueError(f"shots must be at least 1, got {shots}")
    if shots < 2:
        return 50
    if shots < 8:
        return 100
    return 200


def shots_per_class(y):
    """The smallest number of training samples of any class present in the labels ``y`` (n,)."""
    labels = torch.as_tensor(y)
    return int(torch.bincount(labels)[torch.unique(labels)].min())


def training_epochs(epochs, y, default=None):
    """The epochs a fit trains for: ``epochs`` when set; else ``default`` (a method's published
    count) when given; else CoOp's for the fewest training samples of any class in the labels
    ``y`` (:func:`coop_epochs` of :func:`shots_per_class`)."""
    if epochs is not None:
        return int(epochs)
    if default is not None:
        return int(default)
    return coop_epochs(shots_per_class(y))


def coop_optimizer(parameters, lr):
    """SGD with CoOp's momentum and weight decay."""
    return torch.optim.SGD(parameters, lr=lr, momentum=COOP_MOMENTUM, weight_decay=COOP_WEIGHT_DECAY)


def coop_lr_factor(step, base_lr, epochs, steps_per_epoch):
    """CoOp's learning rate at mini-batch ``step`` (counted from 0), as a factor of ``base_lr``.

    The first epoch runs at the constant ``COOP_WARMUP_LR``; then the rate follows a cosine
    from the base rate down to 0 over the remaining epochs, changing once per epoch. A base
    rate of 0 stays 0 (no training at all, not even the warm-up).
    """
    warmup = min(COOP_WARMUP_EPOCHS, epochs - 1)
    epoch = step // steps_per_epoch
    if epoch < warmup:
        return COOP_WARMUP_LR / base_lr if base_lr else 0.0
    return 0.5 * (1.0 + math.cos(math.pi * (epoch - warmup) / max(1, epochs - warmup)))


def coop_schedule(optimizer, epochs, steps_per_epoch):
    """CoOp's learning-rate schedule (:func:`coop_lr_factor`), stepped once per mini-batch."""
    base_lr = optimizer.param_groups[0]["lr"]
    return torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda step: coop_lr_factor(step, base_lr, epochs, steps_per_epoch))


def cosine_schedule(optimizer, epochs, steps_per_epoch):
    """Cosine decay to 0 over all steps, no warm-up (Tip-Adapter-F's ``CosineAnnealingLR``)."""
    return torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, epochs * steps_per_epoch)


def shuffled_batches(generator, n_samples, batch_size):
    """One epoch's mini-batches: a shuffle of ``range(n_samples)`` drawn from ``generator``,
    cut into LongTensors of ``batch_size`` rows (the last one may be shorter)."""
    return torch.randperm(n_samples, generator=generator).split(batch_size)


class DivergenceWatch:
    """Stops a fit that diverges, with a ``ValueError`` naming the hyperparameters to lower.

    A fit diverges when its loss stops being finite (:meth:`check_loss`, every step), or, at
    the end of an epoch (:meth:`end_epoch`), when the epoch's mean loss exceeds
    ``LOSS_GROWTH_LIMIT`` times the first epoch's, or when the norm ‖θ‖ of the trained
    parameters (all entries of all of them, as one vector) exceeds ``WEIGHT_GROWTH_LIMIT`` times
    its initial value (at least 1).
    The first epoch is CoOp's warm-up at a learning rate of 1e-5, so its mean loss is the loss
    the fit started from; the losses watched are non-negative (a cross-entropy plus
    regularisers), and a first epoch at a loss of 0 leaves nothing to grow from.

    Parameters
    ----------
    description : str
        Names the fit in the error ("LLU", "CLIP-Adapter", ...).
    initial_size : float
        ‖θ‖ before training (:func:`parameter_norm`).
    hyperparameters : dict of str -> float, optional
        The hyperparameters that make a step too large (``lr``, ``lam``, ``logit_scale``, as
        they apply), named with their values in the error.
    """

    def __init__(self, description, initial_size, hyperparameters=None):
        self.description = description
        self.size_limit = WEIGHT_GROWTH_LIMIT * max(1.0, float(initial_size))
        self.hyperparameters = dict(hyperparameters or {})
        self.first_loss = None

    def check_loss(self, epoch, loss):
        """Raise unless the step's ``loss`` (a float) is finite."""
        if not math.isfinite(loss):
            self.diverged(epoch, f"the loss became {loss}")

    def end_epoch(self, epoch, mean_loss, size):
        """Raise if the epoch's ``mean_loss`` or the parameters' norm ``size`` at its end show divergence."""
        if self.first_loss is None:
            self.first_loss = mean_loss
        if self.first_loss > 0 and mean_loss > LOSS_GROWTH_LIMIT * self.first_loss:
            self.diverged(epoch, f"the mean loss rose to {mean_loss:.4g}, from {self.first_loss:.4g} in the first "
                                 "epoch")
        if not size <= self.size_limit:  # also catches NaN
            self.diverged(epoch, f"the norm of the trained parameters grew to {size:.3g} (the limit is "
                                 f"{self.size_limit:.3g}: {WEIGHT_GROWTH_LIMIT:g} times its initial value)")

    def diverged(self, epoch, what):
        """Raise the ``ValueError`` of a fit that diverged in ``epoch`` (counted from 0) because of ``what``."""
        if self.hyperparameters:
            named = " and ".join(f"{name}={value:g}" for name, value in self.hyperparameters.items())
            advice = f"The hyperparameters {named} are too large for these embeddings; lower them"
        else:
            advice = "The learning rate is too large for these embeddings; lower it"
        raise ValueError(f"{self.description}: training diverged in epoch {epoch + 1}: {what}. {advice}")


def parameter_norm(parameters):
    """‖θ‖: the Euclidean norm of all entries of ``parameters`` (tensors) together, as a float."""
    with torch.no_grad():
        return math.sqrt(sum(float(p.detach().square().sum()) for p in parameters))


def minimise(batch_loss, optimizer, n_samples, epochs, batch_size, seed, schedule=coop_schedule,
             description="training", before_step=None, hyperparameters=None):
    """Minimise ``batch_loss`` over seeded mini-batches; return the mean loss of every epoch.

    Parameters
    ----------
    batch_loss : callable
        ``batch_loss(indices)`` → scalar tensor: the total loss (including any regulariser)
        on the training rows ``indices`` (a LongTensor).
    optimizer : torch.optim.Optimizer
        Built on the trainable parameters.
    n_samples : int
        The number of training rows.
    epochs, batch_size : int
    seed : int
        Seeds the shuffling; the same seed gives the same batches.
    schedule : callable
        ``schedule(optimizer, epochs, steps_per_epoch)`` → a scheduler stepped per batch.
    description : str
        The progress bar's label, and the fit's name in errors.
    before_step : callable, optional
        Called with no arguments after the backward pass and before the optimiser's step: a
        chance to change the gradients (ProGrad projects them).
    hyperparameters : dict of str -> float, optional
        The hyperparameters a diverged fit should lower, named in its error (see
        :class:`DivergenceWatch`).

    Returns
    -------
    list of float, length ``epochs``.

    Raises
    ------
    ValueError
        When the fit diverges (:class:`DivergenceWatch`): training stops there, so no
        diverged model is ever returned.
    """
    epochs, batch_size = int(epochs), int(batch_size)
    generator = torch.Generator().manual_seed(int(seed))
    scheduler = schedule(optimizer, epochs, math.ceil(n_samples / batch_size))
    parameters = [p for group in optimizer.param_groups for p in group["params"]]
    watch = DivergenceWatch(description, parameter_norm(parameters), hyperparameters)
    history = []
    for epoch in progress_bar(range(epochs), desc=description, leave=False):
        total = 0.0
        for indices in shuffled_batches(generator, n_samples, batch_size):
            loss = batch_loss(indices)
            watch.check_loss(epoch, loss.item())
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            if before_step is not None:
                before_step()
            optimizer.step()
            scheduler.step()
            total += loss.item() * len(indices)
        history.append(total / n_samples)
        watch.end_epoch(epoch, history[-1], parameter_norm(parameters))
    return history
