"""Input checks shared by every estimator: bad input fails at the boundary, with a message
that says what was wrong and what was expected.

Embeddings may come as numpy arrays or torch tensors, one row per sample. They are returned
as float32 torch tensors whose rows are L2-normalised: rows that are not unit-norm are
normalised here (CLIP compares directions only), while rows that cannot be normalised
(NaN/inf entries, zero norm) raise ``ValueError``.
"""

import numbers

import numpy as np
import torch
from sklearn.exceptions import NotFittedError


def as_embeddings(values, name, dim=None):
    """Return ``values`` as a float32 tensor of unit-norm rows, checked.

    Parameters
    ----------
    values : array-like or torch.Tensor, shape (n, d)
        Embeddings, one row per sample.
    name : str
        How the error messages call this input (e.g. ``"X"``).
    dim : int, optional
        The dimension ``d`` the rows must have (that of the fitted model).

    Returns
    -------
    torch.Tensor, shape (n, d), float32, rows L2-normalised, on the CPU.
    """
    tensor = torch.as_tensor(np.asarray(values) if not torch.is_tensor(values) else values)
    tensor = tensor.detach().to("cpu", torch.float32)
    if tensor.ndim != 2:
        raise ValueError(f"{name} must be a 2-D array of shape (n, d), got shape {tuple(tensor.shape)}")
    if tensor.shape[0] == 0 or tensor.shape[1] == 0:
        raise ValueError(f"{name} is empty (shape {tuple(tensor.shape)}); expected at least one row and column")
    if dim is not None and tensor.shape[1] != dim:
        raise ValueError(f"{name} has rows of dimension {tensor.shape[1]}, expected {dim} (dimension mismatch)")
    bad = ~torch.isfinite(tensor).all(dim=1)
    if bad.any():
        raise ValueError(f"{name} has {int(bad.sum())} row(s) with NaN or infinite entries, e.g. row {int(bad.nonzero()[0])}")
    norms = tensor.norm(dim=1, keepdim=True)
    zero = norms.squeeze(1) == 0
    if zero.any():
        raise ValueError(f"{name} has {int(zero.sum())} zero-norm row(s), e.g. row {int(zero.nonzero()[0])}; "
                         "embeddings must have a direction")
    return tensor / norms


def as_labels(values, n_samples, n_classes, name="y"):
    """Return integer labels as an int64 tensor, checked against ``n_samples`` and ``n_classes``.

    Parameters
    ----------
    values : array-like or torch.Tensor, shape (n,)
        Class indices into the rows of the class embeddings ``T``.
    n_samples : int
        The number of embedding rows the labels belong to.
    n_classes : int
        The number of rows of ``T``; labels must lie in ``[0, n_classes)``.
    """
    array = values.detach().cpu().numpy() if torch.is_tensor(values) else np.asarray(values)
    if array.ndim != 1:
        raise ValueError(f"{name} must be 1-D, got shape {array.shape}")
    if array.shape[0] != n_samples:
        raise ValueError(f"{name} has {array.shape[0]} labels but there are {n_samples} embedding rows")
    if array.size and not np.issubdtype(array.dtype, np.integer):
        if not np.all(np.isfinite(array)) or not np.all(array == np.round(array)):
            raise ValueError(f"{name} must hold integer class indices, got dtype {array.dtype}")
    array = array.astype(np.int64)
    outside = (array < 0) | (array >= n_classes)
    if outside.any():
        raise ValueError(f"{name} has labels outside the rows of T: {sorted(set(array[outside].tolist()))[:5]}; "
                         f"expected integers in [0, {n_classes})")
    return torch.from_numpy(array)


def check_fit_inputs(X, y, T):
    """Check the arguments of ``fit(X, y, T)``; return them as tensors (X, y, T).

    ``X`` (n, d) image embeddings, ``y`` (n,) labels into the rows of ``T`` (C, d).
    """
    T = as_embeddings(T, "T")
    X = as_embeddings(X, "X", dim=T.shape[1])
    y = as_labels(y, X.shape[0], T.shape[0])
    return X, y, T


def check_predict_inputs(X, T, dim):
    """Check the arguments of ``decision_function(X, T)`` against the fitted dimension ``dim``."""
    return as_embeddings(X, "X", dim=dim), as_embeddings(T, "T", dim=dim)


def check_in_range(name, value, low=None, high=None):
    """Raise ``ValueError`` unless ``value`` is a real number in ``[low, high]`` (open ends when None)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not np.isfinite(value):
        raise ValueError(f"{name} must be a finite number, got {value!r}")
    if (low is not None and value < low) or (high is not None and value > high):
        bounds = f"[{'-inf' if low is None else low}, {'inf' if high is None else high}]"
        raise ValueError(f"{name} must lie in {bounds}, got {value!r}")


def check_choice(name, value, choices):
    """Raise ``ValueError`` unless ``value`` is one of ``choices``."""
    if value not in choices:
        raise ValueError(f"{name} must be one of {sorted(choices)}, got {value!r}")


def check_is_fitted(estimator, attribute):
    """Raise scikit-learn's ``NotFittedError`` (a ``ValueError``) if ``estimator`` lacks ``attribute``."""
    if not hasattr(estimator, attribute):
        raise NotFittedError(f"this {type(estimator).__name__} is not fitted yet; call fit(X, y, T) first")


def default_device(device=None):
    """``device`` as a :class:`torch.device`; None means CUDA when available, else the CPU."""
    if device is None:
        device = "cuda" if torch.cuda.is_available() else "cpu"
    return torch.device(device)
