"""The toy model's figures (chapter 5): α over its map, what an update does there, the dial's sweep.

The toy (:mod:`llu_core.data.toy`) embeds images and class texts on a 2-sphere, so its maps
show the embedding space itself, in radians: class texts are stars in their class's colour
(filled: base class, open: new class), α of Eq. 5 is grey shading from white (α = 0) to a mid
grey (α = β). The maps are drawn for a narrow column (:data:`TOY_WIDTH`), in the book's style
(:mod:`llu_core.report.style`).
"""

import itertools

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.colors import LinearSegmentedColormap
from matplotlib.lines import Line2D
from matplotlib.patches import FancyArrowPatch

from ..evaluation.noise import summary_standard_error
from ..evaluation.summary import summarise
from .labels import method_label
from .style import METHOD_COLOURS, legend_below, reference_style, styled

#: The toy's maps (chapter 5) are drawn for a narrow column: this wide, in inches.
TOY_WIDTH = 4.5
#: α's colour scale on the toy's maps: white at α = 0 to a light grey at α = β, light enough
#: for the coloured points and arrows drawn on it.
ALPHA_COLOURS = LinearSegmentedColormap.from_list("alpha", ["white", "#a0a0a0"])
#: The height of one map of :func:`plot_toy_updates`, in inches: with the toy's extent, about
#: as wide as :data:`TOY_WIDTH` leaves beside the axis labels.
MAP_HEIGHT = 4.0
#: One colour per toy class, base classes first.
TOY_CLASS_COLOURS = ("tab:blue", "tab:orange", "tab:green", "tab:purple", "tab:brown", "tab:cyan", "tab:olive",
                     "tab:pink")


def _toy_colour(k):
    return TOY_CLASS_COLOURS[k % len(TOY_CLASS_COLOURS)]


def _draw_toy_texts(ax, text_map, n_base, moved_from=None):
    """Class texts as stars in their class's colour (filled: base class, open: new class); with
    ``moved_from``, a black line from where each text was before the update."""
    for k, (u, v) in enumerate(text_map):
        if moved_from is not None:
            ax.plot([moved_from[k, 0], u], [moved_from[k, 1], v], color="black", lw=1.5, zorder=3)
        ax.scatter([u], [v], marker="*", s=190, zorder=4, linewidths=1.4 if k >= n_base else 0.8,
                   edgecolor="black" if k < n_base else _toy_colour(k),
                   facecolor=_toy_colour(k) if k < n_base else "white")


def _toy_axes(ax, extent):
    ax.set_xlim(extent[0], extent[1])
    ax.set_ylim(extent[2], extent[3])
    ax.set_aspect("equal")
    ax.set_xlabel("u (radians)")
    ax.set_ylabel("v (radians)")


def _toy_legend(fig, classnames, n_base, extra=()):
    """The legend under the maps: what the other marks are, then one star per class, named."""
    classes = [Line2D([], [], marker="*", markersize=13, linestyle="none",
                      markeredgecolor="black" if k < n_base else _toy_colour(k),
                      markerfacecolor=_toy_colour(k) if k < n_base else "white",
                      label=f"{name} ({'base' if k < n_base else 'new'})") for k, name in enumerate(classnames)]
    handles = [*extra, *classes]
    legend_below(fig, handles, [handle.get_label() for handle in handles], ncol=3)


@styled
def plot_toy_alpha(alpha, extent, beta, text_map, train_map, classnames, n_base):
    """α(x, D_image) of Eq. 5 over the toy's map, with D_image and the class texts (chapter 5).

    Parameters
    ----------
    alpha : ndarray, shape (rows, columns)
        α at a grid of map points spanning ``extent`` (row 0 at the bottom).
    extent : (u_min, u_max, v_min, v_max)
        The map region, in radians.
    beta : float
        β: the top of the colour scale (α ≤ β everywhere).
    text_map, train_map : ndarray, shapes (C, 2), (n, 2)
        Map coordinates of the class texts and of the training images D_image.
    classnames : sequence of str
    n_base : int
        The first ``n_base`` classes are the base classes.
    """
    fig, ax = plt.subplots(figsize=(TOY_WIDTH, 4.2), layout="constrained")
    shading = ax.imshow(alpha, origin="lower", extent=extent, cmap=ALPHA_COLOURS, vmin=0.0, vmax=beta,
                        interpolation="bilinear")
    fig.colorbar(shading, ax=ax, label=r"$\alpha(x, D_{image})$", shrink=0.8)
    ax.scatter(train_map[:, 0], train_map[:, 1], s=9, color="black", zorder=3)
    _draw_toy_texts(ax, text_map, n_base)
    _toy_axes(ax, extent)
    training = Line2D([], [], marker="o", markersize=4, linestyle="none", color="black",
                      label="training image ($D_{image}$)")
    _toy_legend(fig, classnames, n_base, extra=(training,))
    return fig


@styled
def plot_toy_updates(panels, extent, beta, classnames, n_base, per_class=12):
    """What an update does to the toy's test images and texts: one map per model (chapter 5).

    Each test image shown is a dot where the model puts it, at the head of an arrow from where the
    frozen model had it; a cross marks an image that base-to-new scoring gets wrong. Stars are the
    class texts after the update, with a black line from before. The grey shading is the weight α with
    which the update acts there (0 to ``beta``).

    Parameters
    ----------
    panels : list of dict
        One map each, top to bottom: ``"title"``; ``"view"``, a
        :func:`llu_core.evaluation.alignment.toy_view` result; ``"alpha"``, α on a grid over
        ``extent`` (or None: no update anywhere).
    extent : (u_min, u_max, v_min, v_max)
    beta : float
        The top of α's colour scale.
    classnames : sequence of str
    n_base : int
    per_class : int
        Test images drawn per class (the first ones).
    """
    fig, axes = plt.subplots(len(panels), 1, figsize=(TOY_WIDTH, MAP_HEIGHT * len(panels) + 1.6), squeeze=False,
                             layout="constrained")
    shading = None
    for ax, panel in zip(axes[:, 0], panels):
        view = panel["view"]
        alpha = panel["alpha"] if panel["alpha"] is not None else np.zeros((2, 2))
        shading = ax.imshow(alpha, origin="lower", extent=extent, cmap=ALPHA_COLOURS, vmin=0.0, vmax=beta,
                            interpolation="bilinear")
        labels = np.asarray(view["labels"])
        shown = np.concatenate([np.flatnonzero(labels == k)[:per_class] for k in range(len(classnames))])
        before, after, correct = view["images_before"][shown], view["images_after"][shown], view["correct"][shown]
        colours = [_toy_colour(k) for k in labels[shown]]
        for start, end, colour in zip(before, after, colours):
            ax.add_patch(FancyArrowPatch(start, end, arrowstyle="-|>", color=colour, lw=1.3, mutation_scale=9,
                                         shrinkA=0, shrinkB=0))
        ax.scatter(after[correct, 0], after[correct, 1], s=16, c=[c for c, ok in zip(colours, correct) if ok],
                   zorder=2)
        ax.scatter(after[~correct, 0], after[~correct, 1], s=40, marker="x", linewidths=1.5,
                   c=[c for c, ok in zip(colours, correct) if not ok], zorder=2)
        _draw_toy_texts(ax, view["texts_after"], n_base, moved_from=view["texts_before"])
        _toy_axes(ax, extent)
        ax.set_title(panel["title"])
    fig.colorbar(shading, ax=axes[:, 0], label=r"weight $\alpha$ of the update", location="bottom", shrink=0.7,
                 aspect=30)
    images = (Line2D([], [], marker="o", markersize=4, linestyle="none", color="0.3", label="image, right"),
              Line2D([], [], marker="x", markersize=6, linestyle="none", color="0.3", label="image, wrong"))
    _toy_legend(fig, classnames, n_base, extra=images)
    return fig


@styled
def plot_toy_sweep(records, metric="new", n_test=None):
    """Accuracy on the toy against its dial, one line per method, mean over seeds (chapter 5).

    ``records``: rows of :func:`llu_core.evaluation.alignment.sweep_misalignment`, summarised
    over seeds by :func:`llu_core.evaluation.summary.summarise`. Error bars: with ``n_test``
    (the test images each accuracy is measured on) the standard error of the mean
    (:func:`~llu_core.evaluation.noise.summary_standard_error`), else the standard deviation
    over the seeds. Zero-shot is a broad pale band under the others, so that a method on top of
    it stays visible. The top axis reads the dial as what it controls, the new classes'
    image-text margin.
    """
    summary = summarise(records)
    fig, ax = plt.subplots(figsize=(TOY_WIDTH, 3.8), layout="constrained")
    for method in dict.fromkeys(row["method"] for row in summary):
        rows = sorted((row for row in summary if row["method"] == method), key=lambda row: row["misalignment"])
        errors = [row[f"{metric}_std"] if n_test is None else summary_standard_error(row, metric, n_test)
                  for row in rows]
        ax.errorbar([row["misalignment"] for row in rows], [row[f"{metric}_mean"] for row in rows], yerr=errors,
                    capsize=3, color=METHOD_COLOURS.get(method), label=method_label(method),
                    **reference_style(method))
    margins = sorted({(row["misalignment"], row["new_margin"]) for row in records})
    dials, margin_values = (np.array(values) for values in zip(*margins))
    if len(dials) > 1:
        top = ax.secondary_xaxis("top", functions=(lambda m: np.interp(m, dials, margin_values),
                                                   lambda g: np.interp(g, margin_values[::-1], dials[::-1])))
        top.set_xticks(margin_values, [f"{g:.2f}" for g in margin_values])
        top.set_xlabel("new-class image-text margin")
    ax.set_xlabel("misalignment (the dial)")
    ax.set_ylabel(f"{metric}-class accuracy (%)")
    legend_below(fig, ncol=2)
    return fig


@styled
def plot_margin_effect(toy, references):
    """What a global update does to new classes against the image-text margin (chapter 5).

    Parameters
    ----------
    toy : list of dict
        The toy's curve: ``margin`` (new-class margin), ``effect`` (new-class accuracy of the
        update without mask minus LLU's, in points) and ``spread`` (its std over seeds).
    references : list of dict
        Models measured elsewhere: ``label``, ``margin``, ``effect`` and optionally
        ``effect_error`` (its standard error, an error bar) and ``margin_range`` (low, high) where
        the margin is known only as a range.
    """
    fig, ax = plt.subplots(figsize=(TOY_WIDTH, 3.8), layout="constrained")
    ax.axhline(0.0, color="black", lw=0.8)
    toy = sorted(toy, key=lambda row: row["margin"])
    ax.errorbar([row["margin"] for row in toy], [row["effect"] for row in toy], yerr=[row["spread"] for row in toy],
                marker="o", markersize=4, capsize=3, color="0.45", label="toy model")
    markers = itertools.cycle(("s", "^", "D", "v", "P"))
    for reference, marker in zip(references, markers):
        low, high = reference.get("margin_range", (reference["margin"], reference["margin"]))
        ax.errorbar([reference["margin"]], [reference["effect"]], yerr=reference.get("effect_error"),
                    xerr=[[reference["margin"] - low], [high - reference["margin"]]], marker=marker, markersize=7,
                    capsize=3, linestyle="none", label=reference["label"])
    ax.set_xlabel("new-class image-text margin")
    ax.set_ylabel("new classes: no mask − LLU (points)")
    legend_below(fig, ncol=2)
    return fig
