"""How the weights α_k of K local updates are combined, and Eq. 4 applied with the combined weights."""

import pytest
import torch
import torch.nn.functional as F

from llu_core.method.combination import COMBINATIONS, combination_weights, combine_updates
from llu_core.method.locality import interpolate


def test_combination_rules():
    alpha = torch.tensor([[0.5, 0.5, 0.0, 0.3], [0.1, 0.5, 0.0, 0.0]])
    maximum, mixture, share = (combination_weights(alpha, rule) for rule in COMBINATIONS)
    torch.testing.assert_close(maximum, torch.tensor([[0.5, 0.5, 0.0, 0.3], [0.0, 0.0, 0.0, 0.0]]))
    torch.testing.assert_close(mixture, alpha)  # sums at most 1: the weights as they are
    torch.testing.assert_close(combination_weights(alpha * 2, "mixture")[:, 1], torch.tensor([0.5, 0.5]))
    torch.testing.assert_close(share[:, 0], torch.tensor([0.25 / 0.6, 0.01 / 0.6]))
    assert share[:, 2].sum() == 0 and (share.sum(0) <= alpha.max(0).values + 1e-7).all()
    with pytest.raises(ValueError, match="rule must be one of"):
        combination_weights(alpha, "sum")
    with pytest.raises(ValueError, match=r"alpha must have shape \(K, n\) with K ≥ 1"):
        combination_weights(torch.zeros(0, 3), "max")


@pytest.mark.parametrize("rule", COMBINATIONS)
def test_one_update_is_the_plain_interpolation(rule):
    torch.manual_seed(0)
    X = F.normalize(torch.randn(6, 5), dim=1)
    alpha = torch.rand(1, 6)
    weights = combination_weights(alpha, rule)
    torch.testing.assert_close(weights, alpha)
    moved = combine_updates(X, [lambda E: 2.0 * E.flip(1)], weights)
    assert torch.equal(moved, interpolate(X, 2.0 * X.flip(1), alpha[0]))  # bit for bit, not merely close


def test_each_row_moves_by_the_updates_that_carry_weight():
    torch.manual_seed(1)
    X = F.normalize(torch.randn(4, 3), dim=1)
    first, second = (lambda E: E + 1.0), (lambda E: -E)
    torch.testing.assert_close(combine_updates(X, [first, second], torch.zeros(2, 4)), X)  # no weight: zero-shot
    weights = torch.tensor([[0.4, 0.0, 0.3, 0.0], [0.0, 0.6, 0.2, 0.0]])
    moved = combine_updates(X, [first, second], weights)
    torch.testing.assert_close(moved[0], interpolate(X[:1], first(X[:1]), weights[0, :1])[0])
    torch.testing.assert_close(moved[1], interpolate(X[1:2], second(X[1:2]), weights[1, 1:2])[0])
    direction = 0.3 * F.normalize(first(X[2:3]), dim=1) + 0.2 * F.normalize(second(X[2:3]), dim=1)
    torch.testing.assert_close(moved[2], interpolate(X[2:3], direction, torch.tensor([0.5]))[0])
    torch.testing.assert_close(moved[3], X[3])
    with pytest.raises(ValueError, match=r"weights must have shape \(2, 4\), got \(2, 3\)"):
        combine_updates(X, [first, second], weights[:, :3])
