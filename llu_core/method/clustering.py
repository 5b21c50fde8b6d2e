"""The set D of Eq. 5, bounded in size: complete-linkage centres of the training embeddings.

Sec. 3.2 clusters agglomeratively, merging by the maximum distance between members (complete
linkage) until ``n_clusters`` remain; each centre is the normalised mean of its members.
scikit-learn's :class:`~sklearn.cluster.AgglomerativeClustering` does the merging, on cosine
distance (the distance of Eq. 5).
"""

import numpy as np
import torch
import torch.nn.functional as F
from sklearn.cluster import AgglomerativeClustering

from .defaults import N_CLUSTERS


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
    torch.Tensor, shape (k, d), float32, unit-norm rows, k ≤ n_clusters.
    """
    if n_clusters is None or X.shape[0] <= n_clusters:
        return X.clone()
    labels = AgglomerativeClustering(n_clusters=n_clusters, metric="cosine", linkage="complete").fit_predict(
        X.cpu().numpy())
    labels = torch.from_numpy(labels.astype(np.int64))
    sums = torch.zeros(n_clusters, X.shape[1], dtype=X.dtype).index_add_(0, labels, X.cpu())
    return F.normalize(sums, dim=1).to(X.device)
