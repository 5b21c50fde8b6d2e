"""The set D of Eq. 5, bounded in size: complete-linkage centres of the training embeddings.

Sec. 3.2 clusters agglomeratively, merging by the maximum distance between members (complete
linkage) until ``n_clusters`` remain; each centre is the normalised mean of its members. The
distance is the cosine distance of Eq. 5, 1 − xᵀy for unit rows, so all n(n − 1)/2 distances
come from matrix products (:func:`condensed_cosine_distances`); SciPy's
:func:`~scipy.cluster.hierarchy.linkage` merges (the routine scikit-learn's
``AgglomerativeClustering(metric="cosine", linkage="complete")`` calls, there after computing
every distance pair by pair). For n points the distances take n(n − 1)/2 float64 numbers and
the linkage a working copy of them: 2 × 1.0 GB for 16,000 points.
"""

import numpy as np
import torch
import torch.nn.functional as F
from scipy.cluster.hierarchy import linkage
from scipy.sparse import coo_array
from scipy.sparse.csgraph import connected_components

from .defaults import N_CLUSTERS

#: Rows of X multiplied with X at a time: bounds the float32 block to 2048 × n numbers.
_BLOCK_ROWS = 2048


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


def cluster_centres(X, n_clusters=N_CLUSTERS):
    """Return D: the complete-linkage cluster centres of ``X``, or ``X`` itself.

    Parameters
    ----------
    X : torch.Tensor, shape (n, d)
        Unit-norm embeddings.
    n_clusters : int or None
        At most this many centres. ``None`` (the "no cluster" ablation) or ``n ≤ n_clusters``
        keeps every row as its own centre (no clustering needed).

    Returns
    -------
    torch.Tensor, shape (k, d), float32, unit-norm rows, k ≤ n_clusters; centre c is the
    cluster of the c-th row of ``X`` that starts a new cluster.
    """
    if n_clusters is None or X.shape[0] <= n_clusters:
        return X.clone()
    labels = torch.from_numpy(complete_linkage_labels(X, n_clusters))
    sums = torch.zeros(n_clusters, X.shape[1], dtype=X.dtype).index_add_(0, labels, X.cpu())
    return F.normalize(sums, dim=1).to(X.device)
