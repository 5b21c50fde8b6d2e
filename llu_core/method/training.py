"""The fitting loop shared by the trainable estimators (LLU, CLIP-Adapter, Tip-Adapter-F, the prompt learners).

Everything runs on cached embeddings: an epoch is a seeded shuffle of the n training rows cut
into mini-batches, and each step minimises ``batch_loss(indices)``. The default schedule is
CoOp's (KaiyangZhou/CoOp, ``configs/trainers/CoOp/vit_b16*.yaml``): SGD, lr 0.002, batch 32,
cosine decay per epoch after one warm-up epoch at a constant 1e-5, with Dassl's SGD defaults
momentum 0.9 and weight decay 5e-4 (Dassl.pytorch ``dassl/config/defaults.py``).
"""

import math

import torch

from ..utils.progress import progress_bar

# CoOp's optimiser and warm-up (see the module docstring for the files).
COOP_MOMENTUM = 0.9
COOP_WEIGHT_DECAY = 5e-4
COOP_WARMUP_EPOCHS = 1
COOP_WARMUP_LR = 1e-5


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


def coop_optimizer(parameters, lr):
    """SGD with CoOp's momentum and weight decay."""
    return torch.optim.SGD(parameters, lr=lr, momentum=COOP_MOMENTUM, weight_decay=COOP_WEIGHT_DECAY)


def coop_schedule(optimizer, epochs, steps_per_epoch):
    """CoOp's learning-rate schedule, stepped once per mini-batch.

    The first epoch runs at the constant ``COOP_WARMUP_LR``; then the rate follows a cosine
    from the base rate down to 0 over the remaining epochs, changing once per epoch.
    """
    base_lr = optimizer.param_groups[0]["lr"]
    warmup = min(COOP_WARMUP_EPOCHS, epochs - 1)
    decay_epochs = max(1, epochs - warmup)

    def factor(step):
        epoch = step // steps_per_epoch
        if epoch < warmup:
            return COOP_WARMUP_LR / base_lr
        return 0.5 * (1.0 + math.cos(math.pi * (epoch - warmup) / decay_epochs))

    return torch.optim.lr_scheduler.LambdaLR(optimizer, factor)


def cosine_schedule(optimizer, epochs, steps_per_epoch):
    """Cosine decay to 0 over all steps, no warm-up (Tip-Adapter-F's ``CosineAnnealingLR``)."""
    return torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, epochs * steps_per_epoch)


def minimise(batch_loss, optimizer, n_samples, epochs, batch_size, seed, schedule=coop_schedule,
             description="training", before_step=None):
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
        The progress bar's label.
    before_step : callable, optional
        Called with no arguments after the backward pass and before the optimiser's step: a
        chance to change the gradients (ProGrad projects them).

    Returns
    -------
    list of float, length ``epochs``.

    Raises
    ------
    ValueError
        When the loss or a trained parameter stops being finite (a learning rate or a
        regularisation weight far too large for the data): training stops there, so no NaN
        model is ever returned.
    """
    epochs, batch_size = int(epochs), int(batch_size)
    generator = torch.Generator().manual_seed(int(seed))
    steps_per_epoch = math.ceil(n_samples / batch_size)
    scheduler = schedule(optimizer, epochs, steps_per_epoch)
    history = []
    for epoch in progress_bar(range(epochs), desc=description, leave=False):
        total = 0.0
        for indices in torch.randperm(n_samples, generator=generator).split(batch_size):
            loss = batch_loss(indices)
            if not torch.isfinite(loss):
                _diverged(description, epoch, f"the loss became {loss.item()}")
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            if before_step is not None:
                before_step()
            optimizer.step()
            scheduler.step()
            total += loss.item() * len(indices)
        history.append(total / n_samples)
    if not all(torch.isfinite(p).all() for group in optimizer.param_groups for p in group["params"]):
        _diverged(description, epochs - 1, "a trained parameter is no longer finite")
    return history


def _diverged(description, epoch, what):
    raise ValueError(f"{description}: training diverged in epoch {epoch + 1}: {what}. The hyperparameters "
                     "(learning rate lr, regularisation weight lam, logit_scale) are too large for these "
                     "embeddings; lower them")
