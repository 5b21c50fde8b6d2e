"""Complete-linkage centres of D (Sec. 3.2, "Clustering"), on distances from matrix products."""

import numpy as np
import pytest
import torch
from scipy.spatial.distance import pdist
from sklearn.cluster import AgglomerativeClustering

from llu_core.method import clustering
from llu_core.method.clustering import cluster_centres, complete_linkage_labels, condensed_cosine_distances
from synthetic import random_unit, unit_rows


def scikit_learn_labels(X, n_clusters):
    """scikit-learn's complete linkage on cosine distance, clusters numbered by their first row."""
    labels = AgglomerativeClustering(n_clusters=n_clusters, metric="cosine", linkage="complete").fit_predict(X)
    _, first_rows, inverse = np.unique(labels, return_index=True, return_inverse=True)
    return np.argsort(np.argsort(first_rows))[inverse]


def grouped(n_groups, per_group, dim, spread, seed):
    rng = np.random.default_rng(seed)
    return unit_rows(random_unit(n_groups, dim, seed).repeat(per_group, axis=0)
                     + spread * rng.normal(size=(n_groups * per_group, dim)))


def test_centres_are_normalised_member_means():
    X = random_unit(40, 8, seed=0)
    centres = cluster_centres(torch.from_numpy(X), n_clusters=6).numpy()
    assert centres.shape == (6, 8)
    np.testing.assert_allclose(np.linalg.norm(centres, axis=1), 1.0, rtol=1e-5)
    labels = scikit_learn_labels(X, 6)
    for label in range(6):
        mean = X[labels == label].mean(axis=0)
        np.testing.assert_allclose(centres[label], mean / np.linalg.norm(mean), atol=1e-5)


@pytest.mark.parametrize("n, n_clusters, spread", [(300, 40, 0.05), (500, 64, 0.3), (257, 100, 1.0)])
def test_the_partition_is_scikit_learns_cosine_complete_linkage(n, n_clusters, spread, monkeypatch):
    monkeypatch.setattr(clustering, "_BLOCK_ROWS", 64)  # several blocks, the last one short
    X = grouped(n // 10, 10, 32, spread, seed=n)[:n]
    labels = complete_linkage_labels(torch.from_numpy(X), n_clusters)
    np.testing.assert_array_equal(labels, scikit_learn_labels(X, n_clusters))
    assert labels[0] == 0 and labels.max() == n_clusters - 1


def test_condensed_distances_are_scipys_cosine_distances_in_float32(monkeypatch):
    monkeypatch.setattr(clustering, "_BLOCK_ROWS", 7)
    X = np.concatenate([random_unit(30, 16, seed=4), random_unit(1, 16, seed=4)])  # a duplicate row: distance 0
    distances = condensed_cosine_distances(torch.from_numpy(X))
    assert distances.dtype == np.float64 and distances.shape == (31 * 30 // 2,)
    np.testing.assert_allclose(distances, pdist(X.astype(np.float64), "cosine"), atol=1e-6)
    assert distances.min() >= 0.0 and distances.max() <= 2.0
    assert distances[29] == pytest.approx(0.0, abs=1e-6)  # the pair (0, 30): index n·i − i(i + 1)/2 + j − i − 1


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
