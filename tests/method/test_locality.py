"""The local weight α (Eq. 5), its variants, and the interpolation (Eq. 4)."""

import numpy as np
import pytest
import torch

from llu_core.method.defaults import BETA, DIRAC_THRESHOLD, GAMMA
from llu_core.method.locality import interpolate, kernel, local_weight, nearest_distance
from synthetic import random_unit


@pytest.fixture
def centres():
    return torch.from_numpy(random_unit(20, 16, seed=1))


def test_alpha_is_beta_at_training_points_and_within_zero_beta(centres):
    queries = torch.cat([centres[:5], torch.from_numpy(random_unit(50, 16, seed=2))])
    alpha = local_weight(queries, centres, beta=BETA, gamma=GAMMA)
    assert alpha.shape == (55,)
    assert torch.allclose(alpha[:5], torch.full((5,), 0.5), atol=1e-5)
    assert (alpha >= 0).all() and (alpha <= 0.5 + 1e-6).all()


def test_alpha_matches_eq5_per_row(centres):
    queries = torch.from_numpy(random_unit(30, 16, seed=3))
    alpha = local_weight(queries, centres, beta=0.7, gamma=5.0)
    brute = [0.7 * max(np.exp(-5.0 * (1.0 - float(q @ d))) for d in centres) for q in queries]
    np.testing.assert_allclose(alpha.numpy(), brute, rtol=1e-5)
    # Per row: a row's α does not depend on which other rows share its batch.
    alone = torch.stack([local_weight(q[None], centres, 0.7, 5.0)[0] for q in queries])
    torch.testing.assert_close(alpha, alone)


def test_alpha_vanishes_far_from_d(centres):
    far = -centres[:3]  # antipodal points: distance 2 to their own centre, far from all
    far = far[nearest_distance(far, centres) > 0.5]
    assert len(far) > 0
    assert (local_weight(far, centres, beta=BETA, gamma=GAMMA) < 1e-4).all()


def test_global_mask_is_beta_everywhere(centres):
    queries = torch.from_numpy(random_unit(10, 16, seed=4))
    torch.testing.assert_close(local_weight(queries, centres, 0.3, 20.0, mask="global"), torch.full((10,), 0.3))


def test_dirac_mask_is_beta_on_d_and_zero_elsewhere(centres):
    queries = torch.cat([centres[:4], torch.from_numpy(random_unit(10, 16, seed=5))])
    alpha = local_weight(queries, centres, BETA, GAMMA, mask="dirac", dirac_threshold=DIRAC_THRESHOLD)
    torch.testing.assert_close(alpha, torch.tensor([0.5] * 4 + [0.0] * 10))


def test_unknown_mask_raises(centres):
    with pytest.raises(ValueError, match="mask"):
        local_weight(centres, centres, 0.5, 20.0, mask="gaussian")


def test_interpolation_is_unit_norm_and_weighted_per_row():
    x = torch.from_numpy(random_unit(3, 8, seed=6))
    adapted = 3.0 * torch.from_numpy(random_unit(3, 8, seed=7))
    alpha = torch.tensor([0.0, 1.0, 0.5])
    mixed = interpolate(x, adapted, alpha)
    torch.testing.assert_close(mixed.norm(dim=1), torch.ones(3))
    torch.testing.assert_close(mixed[0], x[0])
    torch.testing.assert_close(mixed[1], adapted[1] / adapted[1].norm())
    expected = 0.5 * adapted[2] / adapted[2].norm() + 0.5 * x[2]
    torch.testing.assert_close(mixed[2], expected / expected.norm())


def test_kernel_is_eq5_before_its_maximum_and_never_above_one(centres):
    X = torch.from_numpy(random_unit(6, centres.shape[1], seed=3))
    values = kernel(X, centres, GAMMA)
    expected = np.exp(-GAMMA * (1.0 - X.numpy() @ centres.numpy().T))
    np.testing.assert_allclose(values.numpy(), expected, rtol=1e-5)
    np.testing.assert_allclose(BETA * values.max(dim=1).values.numpy(), local_weight(X, centres, beta=BETA, gamma=GAMMA).numpy(),
                               rtol=1e-5)
    assert float(kernel(centres, centres, GAMMA).max()) <= 1.0


def test_the_distance_to_a_large_d_is_computed_in_blocks_that_shrink_with_d(monkeypatch):
    from llu_core.method import locality

    X = torch.nn.functional.normalize(torch.randn(50, 8, generator=torch.Generator().manual_seed(0)), dim=1)
    D = torch.nn.functional.normalize(torch.randn(40, 8, generator=torch.Generator().manual_seed(1)), dim=1)
    products = []
    real_split = torch.Tensor.split
    monkeypatch.setattr(locality, "_CHUNK_NUMBERS", 400)  # 400 numbers: 10 rows at a time against 40 centres
    monkeypatch.setattr(torch.Tensor, "split", lambda self, size: products.append(size) or real_split(self, size))
    distance = nearest_distance(X, D)
    assert products == [10]
    torch.testing.assert_close(distance, (1 - (X @ D.T).amax(dim=1)).clamp(min=0))
