"""LLU's mask per sample, as Eq. 5 writes it and the book computes it, against one weight per
batch, as the authors' released code computes it.

In ``VCI-RWTH/TrainingTheArchive`` (``Embedding.py``, ``LocalLinearSplitNet``, which the file marks
as the model of the paper) the weight of a batch is the damping times exp(−γ δ) with δ the
smallest cosine distance 1 − xᵀd over *every* row x of the batch and every point d of D: the
largest α(x, D) of any row, given to all rows of the batch. Eq. 5 gives each sample its own
α(x, D). The two agree on a batch whose rows are all equally far from D and part ways on a batch
that mixes rows near D with rows far from it, where one row near D switches the update on for
all. :func:`batch_mask_base_to_new` scores a fitted :class:`~llu_core.estimators.LLUClassifier`
both ways on the same test images.

The same code learns the damping (``global_dampening`` becomes a parameter, started at 0.5,
when it is given as negative) and trains with another loss (``CenterMarginLoss``: the distance of
each image to its class text plus a hinge with margin 0.1 on the other images, with Adam); those
two differences are not measured here.
"""

import numpy as np
import torch

from ..method.locality import interpolate
from ..utils.validation import as_embeddings, as_labels, check_integer, check_seed
from .protocols import base_new_split

#: Dassl's test batch size (``DATALOADER.TEST.BATCH_SIZE: 100``), with which CoOp's benchmarks are scored.
TEST_BATCH_SIZE = 100


def batch_weights(alpha, batch_size):
    """One α per batch: every run of ``batch_size`` consecutive rows gets the largest α among them.

    Parameters
    ----------
    alpha : torch.Tensor, shape (n,)
        α(x, D) of every row (Eq. 5, per sample).
    batch_size : int
        Rows per batch; the last batch may be shorter.

    Returns
    -------
    torch.Tensor, shape (n,).
    """
    check_integer("batch_size", batch_size)
    return torch.cat([chunk.max().expand(len(chunk)) for chunk in alpha.split(int(batch_size))])


def batch_mask_accuracies(model, X, y, T, batch_size=TEST_BATCH_SIZE, seed=None):
    """Accuracy of a fitted LLU model with α per sample (Eq. 5) and with α per batch (the released code).

    The class texts are encoded as one batch, as a test loop encodes them once: per batch, all of
    them get the largest α of any of them against D_text.

    Parameters
    ----------
    model : LLUClassifier
        Fitted.
    X : array-like, shape (n, d)
        Test image embeddings, in the order a test loader reads them.
    y : array-like of int, shape (n,)
        Labels into the rows of ``T``.
    T : array-like, shape (C, d)
        The class texts scored against.
    batch_size : int
        Test images per batch.
    seed : int, optional
        Shuffle the images before they are cut into batches; ``None`` keeps their order.

    Returns
    -------
    dict: ``per_sample`` and ``per_batch`` (accuracies in percent), and the mean α of the images
    (``alpha_per_sample``, ``alpha_per_batch``) and of the class texts (``alpha_text_per_sample``,
    ``alpha_text_per_batch``) each way.
    """
    T = as_embeddings(T, "T", dim=model.dim_).to(model.device_)
    X = as_embeddings(X, "X", dim=model.dim_).to(model.device_)
    y = as_labels(y, X.shape[0], T.shape[0], "y").to(model.device_)
    order = torch.arange(len(X)) if seed is None else torch.from_numpy(
        np.random.default_rng(check_seed(seed)).permutation(len(X)))
    alpha = torch.as_tensor(model.local_weight(X, "image"), device=model.device_)
    alpha_text = torch.as_tensor(model.local_weight(T, "text"), device=model.device_)
    per_batch = torch.empty_like(alpha)
    per_batch[order] = batch_weights(alpha[order], batch_size)
    weights = {"per_sample": (alpha, alpha_text), "per_batch": (per_batch, alpha_text.max().expand(len(T)))}
    result = {}
    with torch.no_grad():
        for name, (image_alpha, text_alpha) in weights.items():
            images = interpolate(X, model.image_adapter_(X), image_alpha)
            texts = interpolate(T, model.text_adapter_(T), text_alpha)
            result[name] = 100.0 * float(((images @ texts.T).argmax(dim=1) == y).float().mean())
            result[f"alpha_{name}"] = float(image_alpha.mean())
            result[f"alpha_text_{name}"] = float(text_alpha.mean())
    return result


def batch_mask_base_to_new(model, X_test, y_test, T, batch_size=TEST_BATCH_SIZE, seed=None):
    """:func:`batch_mask_accuracies` on the base and on the new classes, scored as base-to-new scores them.

    Parameters
    ----------
    model : LLUClassifier
        Fitted on the base classes (:func:`~llu_core.evaluation.protocols.fit_on_base`).
    X_test, y_test, T :
        The test images, their labels into the rows of ``T`` (all C classes) and the class texts;
        the base classes' images are scored against ``T[base]``, the new classes' against ``T[new]``.
    batch_size, seed :
        As for :func:`batch_mask_accuracies`.

    Returns
    -------
    dict: ``"base"`` and ``"new"``, each :func:`batch_mask_accuracies`' result.
    """
    T = as_embeddings(T, "T", dim=model.dim_).numpy()
    X_test = as_embeddings(X_test, "X_test", dim=model.dim_).numpy()
    y_test = as_labels(y_test, X_test.shape[0], T.shape[0], "y_test").numpy()
    result = {}
    for name, classes in zip(("base", "new"), base_new_split(np.arange(len(T)))):
        rows = np.flatnonzero(np.isin(y_test, classes))
        if rows.size == 0:
            raise ValueError(f"y_test has no rows of the {name} classes {classes.tolist()[:5]}...")
        result[name] = batch_mask_accuracies(model, X_test[rows], np.searchsorted(classes, y_test[rows]), T[classes],
                                             batch_size=batch_size, seed=seed)
    return result
