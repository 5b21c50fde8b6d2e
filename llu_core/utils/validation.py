"""Input checks shared by every estimator: bad input fails at the boundary, with a message
that says what was wrong and what was expected.

Embeddings may come as numpy arrays or torch tensors of real numbers, one row per sample. They
are returned as float32 torch tensors whose rows are L2-normalised: rows that are not unit-norm
are normalised here (CLIP compares directions only; each row is first scaled by its largest
entry, so no finite magnitude overflows or underflows), while rows that cannot be normalised
(NaN/inf entries, zero rows) and complex, boolean or string data raise ``ValueError``.

Hyperparameters are checked by the same helpers: numbers are finite reals and integers are
Python or numpy integers; booleans count as neither, so ``n_clusters=True`` is refused.
"""

import numbers

import numpy as np
import torch
from sklearn.exceptions import NotFittedError

#: Two unit vectors count as the same class embedding when their cosine is at least this.
SAME_EMBEDDING = 1.0 - 1e-5
#: Rows of class embeddings compared with all others at a time by :func:`check_distinct_classes`.
_ROWS_PER_BLOCK = 1024


def _real_array(values, name):
    """``values`` as a CPU tensor of real numbers (float32, or float64 when given wider data)."""
    if torch.is_tensor(values):
        tensor = values.detach().cpu()
        if tensor.is_complex() or tensor.dtype == torch.bool:
            raise ValueError(f"{name} must hold real numbers, got dtype {tensor.dtype}")
    else:
        try:
            array = np.asarray(values)
        except (ValueError, TypeError) as error:
            raise ValueError(f"{name} is not a numeric array: {error}") from None
        if array.dtype.kind not in "iuf":
            raise ValueError(f"{name} must hold real numbers, got dtype {array.dtype}")
        # A copy with positive strides (views such as X[::-1] are fine) in a dtype torch knows.
        tensor = torch.from_numpy(np.ascontiguousarray(array, dtype=np.float32 if array.dtype == np.float32
                                                       else np.float64))
    return tensor if tensor.dtype == torch.float32 else tensor.to(torch.float64)


def as_embeddings(values, name, dim=None):
    """Return ``values`` as a float32 tensor of unit-norm rows, checked.

    Rows are scaled by their largest absolute entry before the norm is taken, so finite
    entries of any magnitude (1e-40 or 1e30) give the right direction instead of a norm that
    underflows to 0 or overflows to inf.

    Parameters
    ----------
    values : array-like or torch.Tensor, shape (n, d)
        Embeddings, one row per sample: real numbers (not complex, boolean or strings).
    name : str
        How the error messages call this input (e.g. ``"X"``).
    dim : int, optional
        The dimension ``d`` the rows must have (that of the fitted model).

    Returns
    -------
    torch.Tensor, shape (n, d), float32, rows L2-normalised, on the CPU.
    """
    tensor = _real_array(values, name)
    if tensor.ndim != 2:
        raise ValueError(f"{name} must be a 2-D array of shape (n, d), got shape {tuple(tensor.shape)}")
    if tensor.shape[0] == 0 or tensor.shape[1] == 0:
        raise ValueError(f"{name} is empty (shape {tuple(tensor.shape)}); expected at least one row and column")
    if dim is not None and tensor.shape[1] != dim:
        raise ValueError(f"{name} has rows of dimension {tensor.shape[1]}, expected {dim} (dimension mismatch)")
    bad = ~torch.isfinite(tensor).all(dim=1)
    if bad.any():
        raise ValueError(f"{name} has {int(bad.sum())} row(s) with NaN or infinite entries, "
                         f"e.g. row {int(bad.nonzero()[0])}")
    scale = tensor.abs().amax(dim=1, keepdim=True)
    zero = scale.squeeze(1) == 0
    if zero.any():
        raise ValueError(f"{name} has {int(zero.sum())} zero-norm row(s), e.g. row {int(zero.nonzero()[0])}; "
                         "embeddings must have a direction")
    tensor = (tensor / scale).to(torch.float32)  # entries in [-1, 1]: the norm lies in [1, sqrt(d)]
    return tensor / tensor.norm(dim=1, keepdim=True)


def as_labels(values, n_samples, n_classes, name="y"):
    """Return integer labels as an int64 tensor, checked against ``n_samples`` and ``n_classes``.

    Parameters
    ----------
    values : array-like or torch.Tensor, shape (n,)
        Class indices into the rows of the class embeddings ``T``: integers, or floats with
        integer values; not booleans, strings or None.
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
    if array.size and array.dtype.kind not in "iu":
        if array.dtype.kind != "f" or not np.all(np.isfinite(array)) or not np.all(array == np.round(array)):
            raise ValueError(f"{name} must hold integer class indices (rows of T), got dtype {array.dtype}")
    array = array.astype(np.int64)
    outside = (array < 0) | (array >= n_classes)
    if outside.any():
        raise ValueError(f"{name} has labels outside the rows of T: {sorted(set(array[outside].tolist()))[:5]}; "
                         f"expected integers in [0, {n_classes})")
    return torch.from_numpy(array)


def check_distinct_classes(T, name="T", classnames=None):
    """Raise ``ValueError`` when two rows of the unit-norm class embeddings ``T`` (C, d) are the
    same embedding (cosine ≥ :data:`SAME_EMBEDDING`), naming both rows (and classes).

    Two such classes get the same score for every image, so one of them is never predicted
    (e.g. "banded" and "Banded" under a text tower that ignores case). Compared a block of rows
    at a time, so memory stays O(C) per row of the block.
    """
    T = torch.as_tensor(T)
    for start in range(0, T.shape[0], _ROWS_PER_BLOCK):
        similarity = T[start:start + _ROWS_PER_BLOCK] @ T.T
        own = torch.arange(similarity.shape[0])
        similarity[own, own + start] = -2.0
        same = (similarity >= SAME_EMBEDDING).nonzero()
        if same.numel():
            i, j = sorted((start + int(same[0, 0]), int(same[0, 1])))
            names = "" if classnames is None else f" ({classnames[i]!r} and {classnames[j]!r})"
            raise ValueError(f"{name} rows {i} and {j}{names} are the same class embedding (cosine "
                             f"{float(similarity[same[0, 0], same[0, 1]]):.6f}): one of the two classes could never "
                             "be predicted; merge them or describe them differently")


def check_fit_inputs(X, y, T):
    """Check the arguments of ``fit(X, y, T)``; return them as tensors (X, y, T).

    ``X`` (n, d) image embeddings, ``y`` (n,) labels into the rows of ``T`` (C, d), whose rows
    must be distinct classes (:func:`check_distinct_classes`).
    """
    classnames = getattr(T, "classnames", None)
    T = as_embeddings(T, "T")
    check_distinct_classes(T, "T", classnames)
    X = as_embeddings(X, "X", dim=T.shape[1])
    y = as_labels(y, X.shape[0], T.shape[0])
    return X, y, T


def check_predict_inputs(X, T, dim):
    """Check the arguments of ``decision_function(X, T)`` against the fitted dimension ``dim``."""
    classnames = getattr(T, "classnames", None)
    T = as_embeddings(T, "T", dim=dim)
    check_distinct_classes(T, "T", classnames)
    return as_embeddings(X, "X", dim=dim), T


def check_in_range(name, value, low=None, high=None, low_open=False):
    """Raise ``ValueError`` unless ``value`` is a real number in ``[low, high]`` (open ends when None).

    ``low_open=True`` excludes ``low`` itself (``(low, high]``). Booleans are not numbers
    here; numpy scalars are.
    """
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real) or not np.isfinite(value):
        raise ValueError(f"{name} must be a finite number, got {value!r}")
    if (low is not None and (value <= low if low_open else value < low)) or (high is not None and value > high):
        bounds = f"{'(' if low_open else '['}{'-inf' if low is None else low}, {'inf' if high is None else high}]"
        raise ValueError(f"{name} must lie in {bounds}, got {value!r}")


#: The largest batch size accepted (torch indexes batches with 32-bit sizes in places).
MAX_BATCH_SIZE = 2 ** 31 - 1


def check_integer(name, value, low=1, allow_none=False, high=None):
    """Raise ``ValueError`` unless ``value`` is an integer in ``[low, high]`` (or None when allowed).

    Python and numpy integers are accepted; booleans, floats and strings are not.
    """
    if value is None and allow_none:
        return
    if (isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral) or value < low
            or (high is not None and value > high)):
        expected = (f"an integer >= {low}" if high is None else f"an integer in [{low}, {high}]") + \
            (" or None" if allow_none else "")
        raise ValueError(f"{name} must be {expected}, got {value!r}")


def check_seed(value, name="seed"):
    """Return the seed ``value`` as a Python int in [0, 2**63); raise ``ValueError`` otherwise.

    Randomness comes only from explicit seeds, so None is refused.
    """
    check_integer(name, value, low=0)
    if value >= 2 ** 63:
        raise ValueError(f"{name} must be below 2**63, got {value!r}")
    return int(value)


def check_bool(name, value):
    """Raise ``ValueError`` unless ``value`` is True or False (a string such as "no" is not)."""
    if not isinstance(value, (bool, np.bool_)):
        raise ValueError(f"{name} must be True or False, got {value!r}")


def check_choice(name, value, choices):
    """Raise ``ValueError`` unless ``value`` is one of ``choices``."""
    if value not in choices:
        raise ValueError(f"{name} must be one of {sorted(choices)}, got {value!r}")


def check_is_fitted(estimator, attribute):
    """Raise scikit-learn's ``NotFittedError`` (a ``ValueError``) if ``estimator`` lacks ``attribute``."""
    if not hasattr(estimator, attribute):
        raise NotFittedError(f"this {type(estimator).__name__} is not fitted yet; call fit(X, y, T) first")


def default_device(device=None):
    """``device`` as a :class:`torch.device`; None means CUDA when available, else the CPU.

    Raises ``ValueError`` for a device torch does not know or that this machine lacks.
    """
    if device is None:
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(device)
    except (RuntimeError, TypeError):
        raise ValueError(f"device must be None, 'cpu', 'cuda', 'cuda:<index>' or 'mps', got {device!r}") from None
    if device.type == "cuda" and (device.index or 0) >= torch.cuda.device_count():
        raise ValueError(f"device {str(device)!r} is not available: torch sees {torch.cuda.device_count()} CUDA "
                         "device(s); use device='cpu' (or None: CUDA when available)")
    if device.type == "mps" and not torch.backends.mps.is_available():
        raise ValueError("device 'mps' is not available on this machine; use device='cpu'")
    return device
