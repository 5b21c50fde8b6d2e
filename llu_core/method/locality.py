"""Where the adapter acts: the local weight α of Eq. 5, its kernel, and the local interpolation of Eq. 4.

α is computed per sample: every row x gets its own weight from its nearest point of D (the
training embeddings, or their cluster centres), never one weight per batch.
"""

import torch
import torch.nn.functional as F

from .defaults import DIRAC_THRESHOLD

MASKS = ("local", "global", "dirac")

# Rows handled per matrix product against D: at most 8192, and at most 2**26 numbers (256 MB of
# float32) in the product, however large D is (the "no cluster" ablation keeps every training row).
_CHUNK_ROWS = 8192
_CHUNK_NUMBERS = 2 ** 26


def nearest_distance(X, centres):
    """Cosine distance 1 − xᵀd from every row of ``X`` to its nearest point of D.

    Parameters
    ----------
    X : torch.Tensor, shape (n, d)
        Unit-norm embeddings.
    centres : torch.Tensor, shape (k, d)
        Unit-norm points of D.

    Returns
    -------
    torch.Tensor, shape (n,), in [0, 2] (rounding that makes xᵀd exceed 1 is clamped).
    """
    rows = max(1, min(_CHUNK_ROWS, _CHUNK_NUMBERS // max(1, centres.shape[0])))
    best = [(chunk @ centres.T).amax(dim=1) for chunk in X.split(rows)]
    return (1.0 - torch.cat(best)).clamp_(min=0.0)


def kernel(X, S, gamma):
    """The kernel of Eq. 5, exp(−γ(1 − xᵀs)), between every row of ``X`` and every row of ``S``.

    Eq. 5's mask α(x, D) is β times its largest value over D; Tip-Adapter's affinities and
    ProKeR's kernel (Bendou et al., CVPR 2025) are the same function with γ called β.

    Parameters
    ----------
    X : torch.Tensor, shape (n, d)
        Unit-norm embeddings.
    S : torch.Tensor, shape (m, d)
        Unit-norm embeddings.
    gamma : float
        γ ≥ 0, the concentration.

    Returns
    -------
    torch.Tensor, shape (n, m), in (0, 1], the dtype of ``X``; 1 − xᵀs is clamped at 0, so
    rounding that makes xᵀs exceed 1 never gives a value above 1.
    """
    return torch.exp(-gamma * (1.0 - X @ S.T).clamp_(min=0.0))


def local_weight(X, centres, beta, gamma, mask="local", dirac_threshold=DIRAC_THRESHOLD):
    """The interpolation weight α of every row of ``X`` (Eq. 5).

    ``local`` (the paper's mask): α(x, D) = β · max_{d∈D} exp(−γ(1 − xᵀd)), which equals β at a
    point of D and decays towards 0 away from D, the faster the larger γ.
    ``global`` (the "no mask" ablation): α = β for every x, as CLIP-Adapter's global ratio.
    ``dirac`` (the "Dirac mask" ablation, γ → ∞): α = β where 1 − xᵀd ≤ ``dirac_threshold``
    for some d ∈ D, else 0 (Sec. 4.4 clamps α by a small distance threshold).

    Parameters
    ----------
    X : torch.Tensor, shape (n, d)
        Unit-norm embeddings (the frozen model's output f(x), not the adapted one).
    centres : torch.Tensor, shape (k, d)
        D: unit-norm training embeddings or their cluster centres.
    beta : float
        β in [0, 1], the largest weight.
    gamma : float
        γ ≥ 0, the concentration of the mask.
    mask : {"local", "global", "dirac"}
    dirac_threshold : float
        The distance below which the Dirac mask counts x as a point of D
        (:data:`~llu_core.method.defaults.DIRAC_THRESHOLD`, 1e-4).

    Returns
    -------
    torch.Tensor, shape (n,), values in [0, β].
    """
    if mask == "global":
        return torch.full((X.shape[0],), float(beta), dtype=X.dtype, device=X.device)
    distance = nearest_distance(X, centres)
    if mask == "local":
        # max_d exp(−γ(1 − xᵀd)) = exp(−γ · min_d (1 − xᵀd)) since exp is monotone.
        return beta * torch.exp(-gamma * distance)
    if mask == "dirac":
        return beta * (distance <= dirac_threshold).to(X.dtype)
    raise ValueError(f"mask must be one of {MASKS}, got {mask!r}")


def interpolate(X, adapted, alpha):
    """Localised interpolation of Eq. 4: normalize(α · normalize(g(x)) + (1 − α) · x), per row.

    Parameters
    ----------
    X : torch.Tensor, shape (n, d) or (K, n, d)
        Unit-norm frozen embeddings f(x) (of K models at once: :mod:`llu_core.method.batched`).
    adapted : torch.Tensor, the shape of ``X``
        The adapter's output g(f(x)).
    alpha : torch.Tensor, shape (n,) or (K, n)
        One weight per row (from :func:`local_weight`).

    Returns
    -------
    torch.Tensor, the shape of ``X``, unit-norm rows.
    """
    alpha = alpha.unsqueeze(-1)
    return F.normalize(alpha * F.normalize(adapted, dim=-1) + (1.0 - alpha) * X, dim=-1)
