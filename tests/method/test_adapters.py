"""The affine adapter, its identity distance (Eq. 6), and CLIP-Adapter's MLP."""

import math

import pytest
import torch

from llu_core.method.adapters import AffineAdapter, BottleneckAdapter


def test_identity_init_is_the_identity_with_zero_distance():
    adapter = AffineAdapter(16)
    x = torch.randn(5, 16, generator=torch.Generator().manual_seed(0))
    torch.testing.assert_close(adapter(x), x)
    assert adapter.identity_distance().item() == 0.0
    assert adapter.identity_distance("frobenius").item() == 0.0


def test_identity_distance_forms():
    adapter = AffineAdapter(4)
    with torch.no_grad():
        adapter.linear.weight[0, 1] = 2.0
        adapter.linear.bias[2] = 1.0
    # mean-squared: 4/16 + 1/4; Frobenius: 2 + 1.
    assert adapter.identity_distance("mean_squared").item() == pytest.approx(0.25 + 0.25)
    assert adapter.identity_distance("frobenius").item() == pytest.approx(3.0)
    with pytest.raises(ValueError, match="identity_norm"):
        adapter.identity_distance("l1")


def test_random_init_is_seeded_and_matches_table4_magnitude():
    first = AffineAdapter(512, "random", torch.Generator().manual_seed(3))
    second = AffineAdapter(512, "random", torch.Generator().manual_seed(3))
    torch.testing.assert_close(first.linear.weight, second.linear.weight)
    # Two such adapters give Table 4's "Linear" distance of about 6.5e-3.
    assert 2 * first.identity_distance().item() == pytest.approx(6.5e-3, rel=0.05)
    with pytest.raises(ValueError, match="init"):
        AffineAdapter(4, "zeros")


def test_bottleneck_adapter_shapes():
    adapter = BottleneckAdapter(16, reduction=4, generator=torch.Generator().manual_seed(0))
    assert adapter.down.weight.shape == (4, 16) and adapter.up.weight.shape == (16, 4)
    assert adapter.down.bias is None
    out = adapter(torch.randn(3, 16))
    assert out.shape == (3, 16) and (out >= 0).all()
    assert adapter.down.weight.abs().max() <= 1 / math.sqrt(16)
