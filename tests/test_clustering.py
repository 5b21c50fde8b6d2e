"""Complete-linkage centres of D (Sec. 3.2, "Clustering")."""

import numpy as np
import torch
from sklearn.cluster import AgglomerativeClustering

from llu_core.method.clustering import cluster_centres
from synthetic_embeddings import random_unit


def test_centres_are_normalised_member_means():
    X = random_unit(40, 8, seed=0)
    centres = cluster_centres(torch.from_numpy(X), n_clusters=6).numpy()
    assert centres.shape == (6, 8)
    np.testing.assert_allclose(np.linalg.norm(centres, axis=1), 1.0, rtol=1e-5)
    labels = AgglomerativeClustering(n_clusters=6, metric="cosine", linkage="complete").fit_predict(X)
    for label in range(6):
        mean = X[labels == label].mean(axis=0)
        np.testing.assert_allclose(centres[label], mean / np.linalg.norm(mean), atol=1e-5)


def test_complete_linkage_keeps_tight_groups_together():
    rng = np.random.default_rng(1)
    anchors = random_unit(4, 16, seed=2)
    X = anchors.repeat(5, axis=0) + 0.01 * rng.normal(size=(20, 16))
    X = (X / np.linalg.norm(X, axis=1, keepdims=True)).astype(np.float32)
    centres = cluster_centres(torch.from_numpy(X), n_clusters=4).numpy()
    # Every anchor has a centre right beside it.
    assert (anchors @ centres.T).max(axis=1).min() > 0.999


def test_no_clustering_when_fewer_points_or_none():
    X = torch.from_numpy(random_unit(10, 8, seed=3))
    torch.testing.assert_close(cluster_centres(X, n_clusters=512), X)
    torch.testing.assert_close(cluster_centres(X, n_clusters=None), X)
    assert cluster_centres(X, n_clusters=3).shape[0] <= 3
