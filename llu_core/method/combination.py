"""Several local updates in one embedding space: how the weights α_k of K updates are combined.

One LLU update k (its adapter g_k, its set D_k, β_k, γ_k) moves an embedding x by Eq. 4 with
the weight α_k(x) = α(x, D_k) of Eq. 5. K updates fitted on K data sets all propose a move for
every x; a *combination rule* turns their weights (K, n) into the weights w_k(x) with which
each update acts. The combined embedding is then Eq. 4 with the update direction
u(x) = Σ_k w_k(x) · normalize(g_k(x)) and the weight W(x) = Σ_k w_k(x):
normalize(W · normalize(u) + (1 − W) · x) (:func:`~llu_core.method.locality.interpolate`).

The rules (:data:`COMBINATIONS`):

- ``"max"``: only the update of the largest α_k acts, with weight α_k: w = α_{k*} at
  k* = argmax_k α_k (the first on a tie), 0 for every other k. Where one data set's D is
  nearest, x moves exactly as that data set's LLU alone moves it; the other updates are never
  applied to x, so scoring needs one adapter per row whatever K is.
- ``"mixture"``: every update acts with its own weight, the sum capped at 1:
  w_k = α_k / max(1, Σ_j α_j). Updates whose D lie near each other add up.
- ``"share"``: every update acts in proportion to its share of the weights, the total weight
  being the share-weighted mean α: w_k = α_k · α_k / Σ_j α_j, so W = Σ α_k² / Σ α_k ≤ max α_k.
  Equal to ``"max"`` where one α dominates, and continuous where two D meet.

With K = 1 every rule gives w = α: one update is the plain LLU.
"""

import torch
import torch.nn.functional as F

from .locality import interpolate

COMBINATIONS = ("max", "mixture", "share")


def combination_weights(alpha, rule):
    """The weight w_k(x) with which each of K updates acts on each row.

    Parameters
    ----------
    alpha : torch.Tensor, shape (K, n)
        α_k(x) of Eq. 5 of every update k (rows of the embeddings in columns), each in [0, β_k].
    rule : {"max", "mixture", "share"}
        The combination rule (module docstring).

    Returns
    -------
    torch.Tensor, shape (K, n): w_k(x) ≥ 0 with Σ_k w_k(x) ≤ 1.
    """
    if alpha.ndim != 2 or alpha.shape[0] == 0:
        raise ValueError(f"alpha must have shape (K, n) with K ≥ 1, got {tuple(alpha.shape)}")
    if rule == "max":
        best, winner = alpha.max(dim=0)
        return torch.zeros_like(alpha).scatter_(0, winner.unsqueeze(0), best.unsqueeze(0))
    total = alpha.sum(dim=0)
    if rule == "mixture":
        return alpha / total.clamp(min=1.0)
    if rule == "share":
        share = alpha / total.clamp(min=torch.finfo(alpha.dtype).tiny)
        return alpha * share  # α · (α / Σα): exactly α where one update holds all the weight
    raise ValueError(f"rule must be one of {COMBINATIONS}, got {rule!r}")


def combine_updates(X, adapters, weights):
    """Eq. 4 for K updates: x moved towards Σ_k w_k · normalize(g_k(x)) with weight Σ_k w_k.

    Each adapter is applied only to the rows where its weight is positive, so under the
    ``"max"`` rule every row goes through one adapter. A row that one update alone moves is
    computed as that update's LLU computes it, interpolate(x, g_k(x), w_k), with the same float
    rounding: one update is exactly the plain LLU.

    Parameters
    ----------
    X : torch.Tensor, shape (n, d)
        Unit-norm frozen embeddings f(x).
    adapters : sequence of K callables
        g_k, each mapping (m, d) to (m, d).
    weights : torch.Tensor, shape (K, n)
        w_k(x), from :func:`combination_weights`.

    Returns
    -------
    torch.Tensor, shape (n, d), unit-norm rows.
    """
    if weights.shape != (len(adapters), X.shape[0]):
        raise ValueError(f"weights must have shape ({len(adapters)}, {X.shape[0]}), got {tuple(weights.shape)}")
    direction, mixed = torch.zeros_like(X), (weights > 0).sum(dim=0) > 1
    for adapter, weight in zip(adapters, weights):
        rows = torch.nonzero(weight > 0).squeeze(1)
        if rows.numel():
            moved = adapter(X[rows])
            blend = mixed[rows].unsqueeze(1)
            direction.index_add_(0, rows, torch.where(blend, weight[rows].unsqueeze(1) * F.normalize(moved, dim=-1),
                                                      moved))
    return interpolate(X, direction, weights.sum(dim=0))
