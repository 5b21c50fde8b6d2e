"""The functions g trained on top of frozen embeddings.

- :class:`AffineAdapter`: LLU's g(x) = Wx + b (Sec. 3.2), initialised to the identity (or at
  random, the "rand. init" ablation), with the identity distance of Eq. 6.
- :class:`BottleneckAdapter`: CLIP-Adapter's two-layer bottleneck MLP (Gao et al. 2021).
"""

import math

import torch
import torch.nn.functional as F
from torch import nn

IDENTITY_NORMS = ("mean_squared", "frobenius")


class AffineAdapter(nn.Module):
    """Affine map g(x) = Wx + b on d-dimensional embeddings.

    Parameters
    ----------
    dim : int
        The embedding dimension d; W is (d, d) and b is (d,).
    init : {"identity", "random"}
        ``"identity"`` starts at W = I, b = 0, so g is the identity before training (the
        paper's choice). ``"random"`` uses torch's default ``nn.Linear`` initialisation
        (uniform in ±1/√d), drawn from ``generator``: the "rand. init" and "Linear" ablations.
    generator : torch.Generator, optional
        Source of randomness for ``init="random"``.
    """

    def __init__(self, dim, init="identity", generator=None):
        super().__init__()
        self.linear = nn.Linear(dim, dim)
        self.register_buffer("identity", torch.eye(dim), persistent=False)
        with torch.no_grad():
            if init == "identity":
                self.linear.weight.copy_(torch.eye(dim))
                self.linear.bias.zero_()
            elif init == "random":
                bound = 1.0 / math.sqrt(dim)  # nn.Linear's default (kaiming_uniform with a=√5) bound
                self.linear.weight.uniform_(-bound, bound, generator=generator)
                self.linear.bias.uniform_(-bound, bound, generator=generator)
            else:
                raise ValueError(f"init must be 'identity' or 'random', got {init!r}")

    def forward(self, x):
        """Apply g to the rows of ``x`` (n, d); returns (n, d), not normalised."""
        return self.linear(x)

    def identity_distance(self, norm="mean_squared"):
        """Distance of g to the identity: Eq. 6 without the factor λ.

        Parameters
        ----------
        norm : {"mean_squared", "frobenius"}
            ``"mean_squared"`` (default): mean((W − I)²) + mean(b²), the form of the authors'
            public code; it reproduces the magnitudes of Table 4's last row (1.95e-5 for the
            default model, 6.5e-3 for a randomly initialised linear layer of d = 512).
            ``"frobenius"``: ‖W − I‖₂ + ‖b‖₂ as Eq. 6 is printed (Frobenius and Euclidean
            norms); with λ = 1e3 it pins g to the identity, so LLU then equals zero-shot.

        Returns
        -------
        torch.Tensor, a scalar that carries gradients.
        """
        weight, bias = self.linear.weight, self.linear.bias
        if norm == "mean_squared":
            # One fused op over the (d, d) matrix: cheaper than forming W − I first.
            return F.mse_loss(weight, self.identity) + bias.pow(2).mean()
        if norm == "frobenius":
            return torch.linalg.matrix_norm(weight - self.identity) + torch.linalg.vector_norm(bias)
        raise ValueError(f"identity_norm must be one of {IDENTITY_NORMS}, got {norm!r}")


class BottleneckAdapter(nn.Module):
    """CLIP-Adapter's image-side adapter: Linear(d, d/r) → ReLU → Linear(d/r, d) → ReLU, no biases.

    Layer sizes, the missing biases and the ReLUs follow ``Adapter`` in
    gaopengcuhk/CLIP-Adapter, ``clip_adapter.py``; its reduction factor r is 4 there.

    Parameters
    ----------
    dim : int
        The embedding dimension d.
    reduction : int
        The bottleneck has ``dim // reduction`` units.
    generator : torch.Generator, optional
        Source of randomness for the (torch-default, uniform ±1/√fan_in) initialisation.
    """

    def __init__(self, dim, reduction=4, generator=None):
        super().__init__()
        hidden = max(1, dim // reduction)
        self.down = nn.Linear(dim, hidden, bias=False)
        self.up = nn.Linear(hidden, dim, bias=False)
        with torch.no_grad():
            for layer in (self.down, self.up):
                bound = 1.0 / math.sqrt(layer.in_features)
                layer.weight.uniform_(-bound, bound, generator=generator)

    def forward(self, x):
        """Apply the MLP to the rows of ``x`` (n, d); returns (n, d)."""
        return torch.relu(self.up(torch.relu(self.down(x))))
