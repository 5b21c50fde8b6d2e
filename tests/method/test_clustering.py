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


def test_the_linkage_memory_is_estimated_and_bounded():
    assert clustering.linkage_bytes(16_000) == 16 * (16_000 * 15_999 // 2)  # 2 × 1.0 GB, as measured
    n = clustering.MAX_LINKAGE_ROWS
    assert clustering.linkage_bytes(n) <= clustering.LINKAGE_MEMORY < clustering.linkage_bytes(n + 1)
    assert n >= 16_000  # every setting of the paper (16 shots of ImageNet's 1000 classes) is clustered whole


def test_beyond_max_rows_the_linkage_sees_spread_rows_and_the_others_join_their_nearest_centre(monkeypatch):
    X = torch.from_numpy(grouped(n_groups=6, per_group=100, dim=12, spread=0.02, seed=5))
    seen = []
    linkage = clustering.complete_linkage_labels
    monkeypatch.setattr(clustering, "complete_linkage_labels", lambda rows, k: seen.append(len(rows)) or linkage(rows, k))
    centres = cluster_centres(X, n_clusters=6, max_rows=120)
    assert seen == [120]  # the quadratic part ran on 120 rows, not 600
    assert centres.shape == (6, 12) and torch.isfinite(centres).all()
    torch.testing.assert_close(centres.norm(dim=1), torch.ones(6))
    # The six groups are found from a fifth of their rows: each group's mean has its centre.
    means = torch.nn.functional.normalize(X.reshape(6, 100, 12).mean(dim=1), dim=1)
    assert (means @ centres.T).max(dim=1).values.min() > 0.999
    np.testing.assert_array_equal(clustering.spread_rows(600, 120)[[0, -1]], [0, 599])


def test_cluster_centres_refuses_what_it_cannot_cluster():
    X = torch.from_numpy(random_unit(10, 4, seed=1))
    for bad in (0, -3, 2.5, True):
        with pytest.raises(ValueError, match="n_clusters must be None or an integer >= 1"):
            cluster_centres(X, bad)
    with pytest.raises(TypeError, match="X must be a torch.Tensor"):
        cluster_centres(X.numpy(), 3)
    with pytest.raises(ValueError, match="max_rows=2 is below n_clusters=3"):
        cluster_centres(X, 3, max_rows=2)
