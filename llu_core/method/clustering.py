"""The set D of Eq. 5, bounded in size: complete-linkage centres of the training embeddings.

Sec. 3.2 clusters agglomeratively, merging by the maximum distance between members (complete
linkage) until ``n_clusters`` remain; each centre is the normalised mean of its members. The
distance is the cosine distance of Eq. 5, 1 − xᵀy for unit rows, so all n(n − 1)/2 distances
come from matrix products (:func:`condensed_cosine_distances`); SciPy's
:func:`~scipy.cluster.hierarchy.linkage` merges (the routine scikit-learn's
``AgglomerativeClustering(metric="cosine", linkage="complete")`` calls, there after computing
every distance pair by pair). For n points the distances take n(n − 1)/2 float64 numbers and
the linkage a working copy of them: 2 × 1.0 GB for 16,000 points, 16 bytes per pair
(:func:`linkage_bytes`).

That memory is estimated before anything is allocated. Up to :data:`MAX_LINKAGE_ROWS` rows
(:data:`LINKAGE_MEMORY`, 4 GiB, every setting of the paper: 16 shots of ImageNet's 1000 classes
are 16,000 rows) the linkage runs on all of them, as the paper's. Beyond, it runs on that many
rows spread evenly over ``X`` (a few-shot training set is ordered by class, so every class keeps
its share), and every other row joins the cluster of its nearest centre before the centres are
averaged: memory stays bounded whatever n, and D keeps at most ``n_clusters`` centres.
"""

import math

import numpy as np
import torch
import torch.nn.functional as F
from scipy.cluster.hierarchy import linkage
from scipy.sparse import coo_array
from scipy.sparse.csgraph import connected_components

from .defaults import N_CLUSTERS

#: Rows of X multiplied with X at a time: bounds the float32 block to 2048 × n numbers.
_BLOCK_ROWS = 2048
#: The most memory the complete linkage may take, in bytes.
LINKAGE_MEMORY = 4 * 2 ** 30


def linkage_bytes(n):
    """Bytes the complete linkage of n rows takes: the n(n − 1)/2 float64 distances and SciPy's working copy."""
    return 16 * (n * (n - 1) // 2)


#: The most rows clustered by complete linkage within :data:`LINKAGE_MEMORY` (23,170): the largest n
#: with n(n − 1)/2 · 16 bytes ≤ LINKAGE_MEMORY.
MAX_LINKAGE_ROWS = (1 + math.isqrt(1 + LINKAGE_MEMORY // 2)) // 2


def condensed_cosine_distances(X):
    """1 − xᵢᵀxⱼ for every pair i < j of rows of ``X``, in SciPy's condensed order.

    Computed in float32 by matrix products of blocks of rows with the rows after them (the
    upper triangle only), clamped to [0, 2] (rounding can leave 1 − xᵀx slightly outside).

    Parameters
    ----------
    X : torch.Tensor, shape (n, d)
        Unit-norm rows.

    Returns
    -------
    numpy.ndarray, float64, shape (n(n − 1)/2,): the distance of (i, j) at index
    n·i − i(i + 1)/2 + j − i − 1, as :func:`scipy.spatial.distance.squareform` lays it out.
    """
    X = X.detach().to("cpu", torch.float32)
    n = X.shape[0]
    distances = np.empty(n * (n - 1) // 2)
    start = 0
    for first in range(0, n, _BLOCK_ROWS):
        block = torch.mm(X[first:first + _BLOCK_ROWS], X[first:].T).neg_().add_(1.0).clamp_(0.0, 2.0).numpy()
        for row, distances_to_later in enumerate(block, start=first):
            later = distances_to_later[row - first + 1:]
            distances[start:start + later.size] = later
            start += later.size
    return distances


def complete_linkage_labels(X, n_clusters):
    """Cluster labels of the rows of ``X`` (n, d) after complete-linkage merging on cosine distance
    down to ``n_clusters`` clusters, numbered by their first row (row 0 is in cluster 0).

    The cut keeps the first n − ``n_clusters`` merges of the tree, so exactly ``n_clusters``
    clusters remain (as scikit-learn's ``AgglomerativeClustering`` cuts it).

    Returns
    -------
    numpy.ndarray, int64, shape (n,).
    """
    n = X.shape[0]
    merges = linkage(condensed_cosine_distances(X), method="complete")[:n - n_clusters, :2].astype(np.int64)
    # The tree's nodes: the n rows, then merge i as node n + i; its two edges join it to what it merged.
    parents = n + np.repeat(np.arange(len(merges)), 2)
    graph = coo_array((np.ones(parents.size), (merges.ravel(), parents)), shape=(2 * n - 1, 2 * n - 1))
    _, components = connected_components(graph, directed=False)
    _, first_rows, labels = np.unique(components[:n], return_index=True, return_inverse=True)
    return np.argsort(np.argsort(first_rows))[labels]


def spread_rows(n, m):
    """``m`` of the indices 0 … n − 1, spread evenly (the first and the last included), increasing."""
    return np.unique(np.round(np.linspace(0, n - 1, m)).astype(np.int64))


def cluster_centres(X, n_clusters=N_CLUSTERS, max_rows=MAX_LINKAGE_ROWS):
    """Return D: the complete-linkage cluster centres of ``X``, or ``X`` itself.

    Parameters
    ----------
    X : torch.Tensor, shape (n, d)
        Unit-norm embeddings.
    n_clusters : int or None
        At most this many centres. ``None`` (the "no cluster" ablation) or ``n ≤ n_clusters``
        keeps every row as its own centre (no clustering needed).
    max_rows : int
        The most rows the linkage runs on (its memory is :func:`linkage_bytes`); above it, on
        ``max_rows`` rows spread evenly over ``X`` (:func:`spread_rows`), and every other row
        joins the cluster whose centre is nearest (largest xᵀd) before the centres are averaged.

    Returns
    -------
    torch.Tensor, shape (k, d), float32, unit-norm rows, k ≤ n_clusters; centre c is the
    cluster of the c-th row of ``X`` that starts a new cluster.
    """
    if not isinstance(X, torch.Tensor):
        raise TypeError(f"X must be a torch.Tensor of unit-norm rows, shape (n, d); got {type(X).__name__}")
    if n_clusters is not None and (isinstance(n_clusters, bool) or not isinstance(n_clusters, (int, np.integer))
                                   or n_clusters < 1):
        raise ValueError(f"n_clusters must be None or an integer >= 1, got {n_clusters!r}")
    if n_clusters is None or X.shape[0] <= n_clusters:
        return X.clone()
    if max_rows < n_clusters:
        raise ValueError(f"max_rows={max_rows} is below n_clusters={n_clusters}")
    rows = X.cpu()
    if rows.shape[0] <= max_rows:
        labels = torch.from_numpy(complete_linkage_labels(rows, n_clusters))
    else:
        clustered = torch.from_numpy(spread_rows(rows.shape[0], max_rows))
        labels = torch.empty(rows.shape[0], dtype=torch.int64)
        labels[clustered] = torch.from_numpy(complete_linkage_labels(rows[clustered], n_clusters))
        sums = torch.zeros(n_clusters, rows.shape[1], dtype=rows.dtype).index_add_(0, labels[clustered],
                                                                                    rows[clustered])
        centres = F.normalize(sums, dim=1)
        others = torch.ones(rows.shape[0], dtype=torch.bool)
        others[clustered] = False
        labels[others] = torch.cat([(chunk @ centres.T).argmax(dim=1) for chunk in rows[others].split(_BLOCK_ROWS)])
    sums = torch.zeros(n_clusters, rows.shape[1], dtype=rows.dtype).index_add_(0, labels, rows)
    return F.normalize(sums, dim=1).to(X.device)
