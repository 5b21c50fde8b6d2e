"""The figures that explain the method: the paper's Figure 1 on a circle, and where methods learn.

Both are drawn in the book's style (:mod:`llu_core.report.style`). Colours follow the paper's
Figure 1: the original model blue, the adapter orange, the final (LLU) model green.
"""

import math

import matplotlib.pyplot as plt
import numpy as np
import torch

from ..method.defaults import BETA, GAMMA
from ..method.locality import interpolate, local_weight
from .style import MAX_WIDTH, MIN_FONT_SIZE, legend_below, styled

ORIGINAL, ADAPTER, FINAL = "tab:blue", "tab:orange", "tab:green"


def _circle(angles):
    angles = torch.as_tensor(angles, dtype=torch.float32)
    return torch.stack([torch.cos(angles), torch.sin(angles)], dim=1)


@styled
def plot_local_interpolation(beta=BETA, gamma=GAMMA, train_angles=(1.2, 1.5, 4.0), rotation=0.8):
    """The paper's Figure 1 on the unit circle, computed with the real Eq. 4 and Eq. 5.

    Embeddings are the unit vectors x(θ) = (cos θ, sin θ). A class text embedding t is fixed;
    the plotted "feature" is the cosine similarity tᵀx of the original model f (blue), of an
    affine adapter g (a rotation by ``rotation`` radians, orange) and of the final model
    normalize(α g(x) + (1 − α) x) (green), with α(x, D) from Eq. 5 for D the training
    embeddings at ``train_angles`` (green points). The lower panel shows α, on an axis from 0
    to β, the largest value Eq. 5 can take.

    Parameters
    ----------
    beta, gamma : float
        β and γ of Eq. 5.
    train_angles : sequence of float
        Angles of the training embeddings D, in radians.
    rotation : float
        The angle by which the illustrative adapter g rotates the circle.
    """
    theta = torch.linspace(0.0, 2.0 * math.pi, 721)
    x, train = _circle(theta), _circle(train_angles)
    text = _circle([0.6])[0]
    cos, sin = math.cos(rotation), math.sin(rotation)
    adapted = x @ torch.tensor([[cos, sin], [-sin, cos]])
    alpha = local_weight(x, train, beta, gamma)
    final = interpolate(x, adapted, alpha)
    final_at_train = interpolate(train, train @ torch.tensor([[cos, sin], [-sin, cos]]),
                                 local_weight(train, train, beta, gamma))

    fig, (top, bottom) = plt.subplots(2, 1, figsize=(MAX_WIDTH, 5.6), sharex=True,
                                      gridspec_kw={"height_ratios": [3, 1.3]}, layout="constrained")
    top.plot(theta, x @ text, color=ORIGINAL, label="original $f$")
    top.plot(theta, adapted @ text, color=ADAPTER, label=r"adapter $g \circ f$")
    top.plot(theta, final @ text, color=FINAL, lw=2, label=r"final $\alpha (g \circ f) + (1-\alpha) f$")
    top.scatter(train_angles, final_at_train @ text, color=FINAL, zorder=3, label="training samples $D$")
    top.set_ylabel("similarity to a class")
    bottom.plot(theta, alpha, color="black")
    bottom.scatter(train_angles, np.zeros(len(train_angles)), color=FINAL, zorder=3, clip_on=False)
    bottom.set_ylim(0.0, max(beta, 1e-6) * 1.05)
    bottom.set_ylabel(r"$\alpha(x, D)$")
    bottom.set_xlabel(r"position on the unit circle $\theta$ (radians)")
    fig.suptitle(rf"Local interpolation, $\beta = {beta:g}$, $\gamma = {gamma:g}$")
    legend_below(fig, *top.get_legend_handles_labels())
    return fig


@styled
def plot_where_methods_learn():
    """Where an adapter learns and where a prompt learner learns: two data-flow diagrams.

    Frozen parts grey, learned parts orange. Adapters (CLIP-Adapter, LLU) learn functions on
    the embeddings after the encoders; prompt learners (CoOp and kin) learn context vectors
    that enter the text encoder in place of prompt words (CoCoOp adds an image-conditioned bias
    π(x), dashed), so the text encoder runs at every training step.
    """
    frozen, learned = "#d9d9d9", "#f5a65b"
    rows = {
        "Adapter (CLIP-Adapter, LLU)": {
            "image": [("image x", None), ("image\nencoder", frozen), ("$g_I$\n(both)", learned)],
            "text": [('"a photo of\na {class}."', None), ("text\nencoder", frozen), ("$g_T$\n(LLU)", learned)]},
        "Prompt learner (CoOp, CoCoOp,\nProGrad, KgCoOp)": {
            "image": [("image x", None), ("image\nencoder", frozen)],
            "text": [("[v₁ … v_M]\n{class}.", learned), ("text\nencoder", frozen)]},
    }
    fig, axes = plt.subplots(2, 1, figsize=(MAX_WIDTH, 6.6), layout="constrained")
    for ax, (title, paths) in zip(axes, rows.items()):
        ax.set_xlim(0, 10)
        ax.set_ylim(0.2, 3.8)
        ax.axis("off")
        ax.set_title(title)
        ends = {}
        for path, y in (("image", 3.0), ("text", 1.0)):
            previous = None
            for i, (label, colour) in enumerate(paths[path]):
                x = 1.0 + 2.45 * i
                box = ax.text(x, y, label, ha="center", va="center", fontsize=MIN_FONT_SIZE,
                              bbox=dict(boxstyle="round,pad=0.3", facecolor=colour or "white", edgecolor="black"))
                if previous is not None:  # an arrow from box to box, clipped at their outlines
                    ax.annotate("", xy=(0.0, 0.5), xycoords=box, xytext=(1.0, 0.5), textcoords=previous,
                                arrowprops=dict(arrowstyle="->", shrinkA=4, shrinkB=4))
                previous = box
            ends[path] = previous
        ax.text(8.9, 2.0, "cosine\n→ class\nscores", ha="center", va="center", fontsize=MIN_FONT_SIZE,
                bbox=dict(boxstyle="round,pad=0.3", facecolor="white", edgecolor="black"))
        for path, y in (("image", 3.0), ("text", 1.0)):
            ax.annotate("", xy=(8.9, 2.0 + (0.6 if y > 2 else -0.6)), xytext=(1.0, 0.5), textcoords=ends[path],
                        arrowprops=dict(arrowstyle="->", shrinkA=4))
        if "Prompt" in title:
            ax.annotate("π(x), CoCoOp", xy=(1.0, 1.55), xytext=(4.6, 2.0), fontsize=MIN_FONT_SIZE, ha="center",
                        va="center", arrowprops=dict(arrowstyle="->", linestyle="--", color="tab:orange"))
    return fig
