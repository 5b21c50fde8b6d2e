"""Every figure the book draws.

Each function takes plain numbers (arrays, result records, summaries) and returns a
:class:`matplotlib.figure.Figure` made with pyplot, so a notebook cell shows it inline and a
test can inspect or close it. Figures are drawn for the column they land in: at most
``MAX_WIDTH`` inches wide at ``DPI`` (the book's text column on a wide screen shows them at
full size) and no text smaller than ``MIN_FONT_SIZE`` points, so that a phone 420 px wide,
which shrinks a figure to its ~380 px column, still shows every letter at 9 CSS pixels or more
(``tests/test_book.py`` measures it on the built pages). Legends sit beside or below the
data, never on it; labels never overlap each other (``tests/test_plots.py``); colour scales
span the data; spreads over seeds are error bars. Colours follow the paper's figures where it
has them: the original model blue, the adapter orange, the final (LLU) model green in Figure
1; zero-shot CLIP blue and LLU red in Figure 2. Data sets and methods appear by their display
names (:data:`llu_core.report.tables.DATASET_LABELS`, :data:`~llu_core.report.tables.METHOD_LABELS`).
"""

import functools
import itertools
import math

import matplotlib.pyplot as plt
import numpy as np
import torch
from matplotlib.colors import LinearSegmentedColormap
from matplotlib.lines import Line2D
from matplotlib.ticker import NullFormatter

from ..method.defaults import BETA, GAMMA
from ..method.locality import interpolate, local_weight
from .tables import VARIANT_LABELS, dataset_label, in_paper_order, method_label, spread

ORIGINAL, ADAPTER, FINAL = "tab:blue", "tab:orange", "tab:green"

#: The widest figure, in inches, and the resolution figures are drawn at: 640 px, the book's
#: text column on a wide screen.
MAX_WIDTH = 6.4
DPI = 100
#: The smallest text of any figure, in points: at 420 px a 6.4-inch figure is drawn about 380 px
#: wide, where 12 points at 100 dpi are 9.4 CSS pixels.
MIN_FONT_SIZE = 12
#: The book's figure style: fonts (points) and resolution.
STYLE = {"font.size": MIN_FONT_SIZE, "axes.titlesize": 13, "axes.labelsize": MIN_FONT_SIZE,
         "xtick.labelsize": MIN_FONT_SIZE, "ytick.labelsize": MIN_FONT_SIZE, "legend.fontsize": MIN_FONT_SIZE,
         "legend.title_fontsize": MIN_FONT_SIZE, "figure.titlesize": 13, "figure.dpi": DPI}

#: Colour per method, as in the paper's Figure 2 where it has the method.
METHOD_COLOURS = {
    "zero_shot": "tab:blue", "llu": "tab:red", "clip_adapter": "tab:purple", "tip_adapter": "tab:olive",
    "tip_adapter_f": "tab:brown", "linear_probe": "tab:gray", "coop": "tab:green", "cocoop": "gold",
    "prograd": "tab:cyan", "no_mask": "tab:pink", "kgcoop": "magenta",
}
#: Marker per method where colour alone would have to tell them apart.
METHOD_MARKERS = {"zero_shot": "o", "llu": "D", "clip_adapter": "s", "tip_adapter": "^", "tip_adapter_f": "v",
                  "linear_probe": "P", "coop": "<", "cocoop": ">", "prograd": "X", "no_mask": "o", "kgcoop": "h"}


def _styled(draw):
    """Draw the figure with the book's fonts and resolution (``STYLE``)."""

    @functools.wraps(draw)
    def styled(*args, **kwargs):
        with plt.rc_context(STYLE):
            return draw(*args, **kwargs)

    return styled


def _legend_below(fig, handles=None, labels=None, ncol=3):
    """The figure's legend, under its panels (constrained layout makes room for it), in as many
    columns as fit the figure's width, at most ``ncol``."""
    if handles is None:
        handles, labels = [], []
        for ax in fig.axes:
            for handle, label in zip(*ax.get_legend_handles_labels()):
                if label not in labels:
                    handles.append(handle)
                    labels.append(label)
    renderer = fig.canvas.get_renderer()
    for columns in range(min(ncol, len(labels)), 0, -1):
        legend = fig.legend(handles, labels, loc="outside lower center", ncol=columns, frameon=False)
        if columns == 1 or legend.get_window_extent(renderer).width <= 0.98 * fig.bbox.width:
            return legend
        legend.remove()


def _marker(marker, label, **style):
    """A legend entry that shows a marker alone (for points whose colour is a scale)."""
    return Line2D([], [], linestyle="none", marker=marker, label=label, **style)


def _circle(angles):
    angles = torch.as_tensor(angles, dtype=torch.float32)
    return torch.stack([torch.cos(angles), torch.sin(angles)], dim=1)


@_styled
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
    _legend_below(fig, *top.get_legend_handles_labels())
    return fig


@_styled
def plot_examples(images, true_names, predicted_names, ncols=4):
    """A grid of images titled with their predicted class; a wrong prediction is red and
    names the true class under it."""
    nrows = math.ceil(len(images) / ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(MAX_WIDTH, 2.3 * nrows * 4 / ncols + 0.4), squeeze=False,
                             layout="constrained")
    for ax in axes.flat:
        ax.axis("off")
    for ax, image, truth, predicted in zip(axes.flat, images, true_names, predicted_names):
        ax.imshow(image, cmap="gray" if np.asarray(image).ndim == 2 else None)
        right = predicted == truth
        ax.set_title(predicted if right else f"{predicted}\n(true: {truth})", color="black" if right else "red",
                     fontsize=MIN_FONT_SIZE)
    fig.suptitle("Predicted class (red: wrong, with the true class)")
    return fig


def _bar_rows(values, errors):
    groups = list(values)
    bars = list(dict.fromkeys(bar for group in groups for bar in values[group]))
    spread = {(g, b): (errors or {}).get(g, {}).get(b, np.nan) for g in groups for b in bars}
    return groups, bars, spread


@_styled
def plot_grouped_bars(values, value_label="accuracy (%)", title=None, errors=None, digits=1):
    """Grouped horizontal bars, one group per row: ``values[group][bar] -> number`` (e.g.
    data set -> prompt -> accuracy).

    Every bar carries its value at its end, so differences of a fraction of a point read as
    numbers on an axis from 0; ``errors`` (the same nesting: standard deviations over seeds)
    adds an error bar and puts the ± beside the value. Groups named by a data-set key are
    shown by its display name.

    Parameters
    ----------
    values : dict of str -> dict of str -> float
    value_label : str
        The label of the value axis.
    title : str, optional
    errors : dict of str -> dict of str -> float, optional
    digits : int
        Decimals of the value labels.
    """
    groups, bars, spread = _bar_rows(values, errors)
    height = 0.8 / len(bars)
    fig, ax = plt.subplots(figsize=(MAX_WIDTH, 1.2 + 0.34 * len(groups) * len(bars) + 0.3 * len(bars)),
                           layout="constrained")
    positions = np.arange(len(groups))
    largest = 0.0
    for index, bar in enumerate(bars):
        widths = np.array([values[group].get(bar, np.nan) for group in groups], dtype=float)
        sigma = np.array([spread[group, bar] for group in groups], dtype=float)
        drawn = ax.barh(positions + (index - (len(bars) - 1) / 2) * height, widths, height * 0.92, label=bar,
                        xerr=None if np.isnan(sigma).all() else np.nan_to_num(sigma), capsize=2,
                        error_kw={"elinewidth": 1.0})
        for y, width, sigma_ in zip(drawn.patches, widths, sigma):
            if np.isnan(width):
                continue
            text = f"{width:.{digits}f}" + ("" if np.isnan(sigma_) else f" ± {sigma_:.{digits}f}")
            ax.annotate(text, (width + np.nan_to_num(sigma_), y.get_y() + y.get_height() / 2), xytext=(4, 0),
                        textcoords="offset points", va="center", fontsize=MIN_FONT_SIZE)
        largest = max(largest, np.nanmax(np.nan_to_num(widths) + np.nan_to_num(sigma)))
    ax.set_yticks(positions, [dataset_label(group) for group in groups])
    ax.invert_yaxis()  # the first group on top
    ax.set_xlim(0.0, largest * (1.32 if errors else 1.18) if largest > 0 else 1.0)
    ax.set_xlabel(value_label)
    ax.spines[["top", "right"]].set_visible(False)
    if title:
        ax.set_title(title)
    _legend_below(fig)
    return fig


@_styled
def plot_base_new(rows, title=None):
    """Base- and new-class accuracy side by side per method: ``rows`` of dicts with ``label``,
    ``base`` and ``new`` (percent), optionally ``base_std`` and ``new_std`` (over seeds: error
    bars; None for none, as :func:`llu_core.report.tables.spread` gives for a single seed). The
    gap between the bars is the overfitting."""
    values = {row["label"]: {"base classes": row["base"], "new classes": row["new"]} for row in rows}
    errors = {row["label"]: {f"{metric} classes": np.nan if row.get(f"{metric}_std") is None else row[f"{metric}_std"]
                             for metric in ("base", "new")} for row in rows}
    has_errors = any(not np.isnan(value) for row in errors.values() for value in row.values())
    return plot_grouped_bars(values, title=title, errors=errors if has_errors else None)


@_styled
def plot_loss_curves(histories, title="Training loss (cross-entropy + regulariser)"):
    """Per-epoch training loss of several fitted models: ``histories[label] -> list of float``."""
    fig, ax = plt.subplots(figsize=(MAX_WIDTH, 4.2), layout="constrained")
    for label, history in histories.items():
        ax.plot(np.arange(1, len(history) + 1), history, label=label)
    ax.set_xlabel("epoch")
    ax.set_ylabel("mean training loss")
    ax.set_yscale("log")
    ax.set_title(title)
    _legend_below(fig)
    return fig


@_styled
def plot_mask_2d(coords, alpha, is_base, centre_coords, beta, gamma, accuracies=None):
    """α(x, D) over a 2-D view of the image embeddings (chapter 4).

    Parameters
    ----------
    coords : ndarray, shape (n, 2)
        Test image embeddings projected to 2-D (e.g. by PCA).
    alpha : ndarray, shape (n,)
        α of each test embedding, computed in the full space (Eq. 5).
    is_base : ndarray of bool, shape (n,)
        Whether each test image belongs to a base (training) class; new classes get crosses.
    centre_coords : ndarray, shape (k, 2)
        The points of D_image in the same 2-D view.
    beta, gamma : float
        The mask's β and γ, for the title; the colour scale runs from 0 to β, the largest
        value Eq. 5 can give (0 to 1 when β = 0, where every α is 0).
    accuracies : dict, optional
        ``{"base": ..., "new": ...}`` in percent, shown in the title.
    """
    fig, ax = plt.subplots(figsize=(MAX_WIDTH, 6.0), layout="constrained")
    is_base = np.asarray(is_base, dtype=bool)
    top = beta if beta > 0 else 1.0
    scatter = None
    groups = ((is_base, "o", "test image, base class"), (~is_base, "x", "test image, new class"))
    for selection, marker, label in groups:
        scatter = ax.scatter(coords[selection, 0], coords[selection, 1], c=alpha[selection], cmap="viridis",
                             vmin=0.0, vmax=top, marker=marker, s=18, label=label)
    ax.scatter(centre_coords[:, 0], centre_coords[:, 1], marker="*", s=90, facecolor="none", edgecolor="red",
               linewidths=1.0, label="$D_{image}$")
    fig.colorbar(scatter, ax=ax, label=rf"$\alpha(x, D_{{image}})$, 0 to $\beta$")
    title = rf"$\beta = {beta:g}$, $\gamma = {gamma:g}$"
    if accuracies is not None:
        title += f":  base {accuracies['base']:.1f} %, new {accuracies['new']:.1f} %"
    ax.set_title(title)
    ax.set_xlabel("principal component 1")
    ax.set_ylabel("principal component 2")
    entries = [_marker("o", "test image, base class", color="0.35", markersize=6),
               _marker("x", "test image, new class", color="0.35", markersize=7),
               _marker("*", "$D_{image}$", markerfacecolor="none", markeredgecolor="red", markersize=12)]
    _legend_below(fig, entries, [entry.get_label() for entry in entries])
    return fig


@_styled
def plot_cluster_sweep(rows):
    """Accuracy against the number of stored centres, with the memory they take (chapter 6).

    ``rows``: dicts with ``n_clusters`` (the requested count), ``n_centres`` (|D_image| +
    |D_text| actually stored), ``memory_kib``, ``base``/``new`` accuracies in percent and,
    optionally, ``base_std``/``new_std`` (over seeds: error bars). Memory is proportional to
    the centres (one embedding each), so it is the top axis of the same panel. The log axis is
    labelled at the measured counts only.
    """
    rows = sorted(rows, key=lambda row: row["n_centres"])
    centres = [row["n_centres"] for row in rows]
    kib_per_centre = rows[-1]["memory_kib"] / rows[-1]["n_centres"]
    fig, ax = plt.subplots(figsize=(MAX_WIDTH, 4.6), layout="constrained")
    for metric, marker in (("base", "o"), ("new", "x")):
        ax.errorbar(centres, [row[metric] for row in rows], yerr=[row.get(f"{metric}_std", 0.0) for row in rows],
                    marker=marker, capsize=3, label=f"{metric} classes")
    ax.set_xscale("log")
    ax.set_xticks(centres, [str(c) for c in centres])
    ax.xaxis.set_minor_formatter(NullFormatter())
    ax.set_xlabel("stored centres $|D_{image}| + |D_{text}|$")
    ax.set_ylabel("accuracy (%)")
    memory = ax.secondary_xaxis("top", functions=(lambda c: c * kib_per_centre, lambda m: m / kib_per_centre))
    memory.set_xticks([c * kib_per_centre for c in centres], [f"{c * kib_per_centre:.0f}" for c in centres])
    memory.xaxis.set_minor_formatter(NullFormatter())
    memory.set_xlabel("memory of D (KiB)")
    _legend_below(fig)
    return fig


@_styled
def plot_clusters(coords, labels, centre_coords):
    """Training embeddings coloured by cluster, with their centres, in a 2-D view (chapter 6).

    ``labels[i]`` is the row of ``centre_coords`` that embedding i belongs to; each centre is a
    star of its cluster's colour, outlined in black.
    """
    fig, ax = plt.subplots(figsize=(MAX_WIDTH, 5.4), layout="constrained")
    colours = {"cmap": "tab20", "vmin": 0, "vmax": max(len(centre_coords) - 1, 1)}
    ax.scatter(coords[:, 0], coords[:, 1], c=labels, s=16, label="training embeddings", **colours)
    ax.scatter(centre_coords[:, 0], centre_coords[:, 1], c=np.arange(len(centre_coords)), marker="*", s=260,
               edgecolors="black", linewidths=1.0, label="centres", **colours)
    ax.set_xlabel("principal component 1")
    ax.set_ylabel("principal component 2")
    entries = [_marker("o", "training embedding (colour: its cluster)", color="0.35", markersize=6),
               _marker("*", "centre", markerfacecolor="white", markeredgecolor="black", markersize=15)]
    _legend_below(fig, entries, [entry.get_label() for entry in entries])
    return fig


@_styled
def plot_accuracy_vs_shots(summary, datasets=None, methods=None):
    """Base (circles) and new (crosses) accuracy against shots, one panel per data set (in the
    paper's order), laid out like the paper's Figure 2; error bars: standard deviation over
    seeds. ``summary``: rows of :func:`llu_core.evaluation.summary.summarise`."""
    datasets = datasets or in_paper_order(row["dataset"] for row in summary)
    methods = methods or list(dict.fromkeys(row["method"] for row in summary))
    ncols = min(2, len(datasets))
    nrows = math.ceil(len(datasets) / ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(MAX_WIDTH, 3.4 * nrows + 1.3), squeeze=False,
                             layout="constrained")
    for ax in axes.flat[len(datasets):]:
        ax.remove()  # no empty panel; the legend goes below the figure
    shot_counts = sorted({r["shots"] for r in summary})
    for ax, dataset in zip(axes.flat, datasets):
        for method in methods:
            rows = sorted((r for r in summary if r["dataset"] == dataset and r["method"] == method),
                          key=lambda r: r["shots"])
            if not rows:
                continue
            shots = [r["shots"] for r in rows]
            colour = METHOD_COLOURS.get(method)
            for metric, marker, style in (("base", "o", "-"), ("new", "x", "--")):
                values = [r[f"{metric}_mean"] for r in rows]
                if all(np.isnan(values)):
                    continue
                ax.errorbar(shots, values, yerr=[r[f"{metric}_std"] for r in rows], color=colour, marker=marker,
                            linestyle=style, capsize=2, label=method_label(method) if metric == "base" else None)
        ax.set_xscale("log", base=2)
        ax.set_xticks(shot_counts, [str(s) for s in shot_counts])
        ax.xaxis.set_minor_formatter(NullFormatter())
        ax.set_title(dataset_label(dataset))
        ax.set_xlabel("shots per base class")
        ax.set_ylabel("accuracy (%)")
    _legend_below(fig)
    fig.suptitle("Base classes (circles, solid), new classes (crosses, dashed)")
    return fig


@_styled
def plot_image_rows(rows, ncols=None):
    """One row of images per label: ``rows[label] -> list of images`` (e.g. one domain shift
    per row, the same source images in every row), the label written above its row (a
    data-set key by its display name)."""
    ncols = ncols or max(len(images) for images in rows.values())
    gap, label_height = 0.06, 0.32  # inches
    side = (MAX_WIDTH - (ncols - 1) * gap) / ncols
    height = len(rows) * (label_height + side)
    fig = plt.figure(figsize=(MAX_WIDTH, height))
    for row, (label, images) in enumerate(rows.items()):
        top = height - row * (label_height + side)
        fig.text(0.0, (top - 0.04) / height, dataset_label(label), va="top", fontsize=MIN_FONT_SIZE)
        for column, image in enumerate(images[:ncols]):
            ax = fig.add_axes([column * (side + gap) / MAX_WIDTH, (top - label_height - side) / height,
                               side / MAX_WIDTH, side / height])
            ax.imshow(image, cmap="gray" if np.asarray(image).ndim == 2 else None, aspect="auto")
            ax.axis("off")
    return fig


def _gain_row_label(name, protocol, alpha):
    """Two lines: the data set (and "source"), then its severity, if a corruption, and its α."""
    registered, _, severity = name.partition("@")
    first = dataset_label(registered) + (" (source)" if protocol == "source" else "")
    return first + "\n" + (f"severity {severity}, " if severity else "") + rf"$\alpha$ = {alpha:.3g}"


@_styled
def plot_gain_vs_alpha(gains, alpha_label="LLU"):
    """Accuracy gain over zero-shot on each evaluated data set, the data sets ordered by the
    mean α of ``alpha_label``'s model on their test images (chapter 10).

    One row per data set, from the largest α (the source, top) to the smallest, its α written
    under its name; one marker per method at its gain, so that the points of one data set
    never cover each other's labels. ``gains``: rows of
    :func:`llu_core.evaluation.transfer.gains_over_zero_shot` (``method``, ``dataset``,
    ``protocol``, ``alpha``, ``gain``).
    """
    alpha = {row["dataset"]: row["alpha"] for row in gains}
    protocol = {row["dataset"]: row["protocol"] for row in gains}
    datasets = sorted(alpha, key=lambda name: -alpha[name])
    methods = list(dict.fromkeys(row["method"] for row in gains))
    fig, ax = plt.subplots(figsize=(MAX_WIDTH, 1.4 + 0.62 * len(datasets)), layout="constrained")
    ax.axvline(0.0, color="black", lw=0.8)
    offsets = np.linspace(-0.22, 0.22, len(methods)) if len(methods) > 1 else [0.0]
    for offset, method in zip(offsets, methods):
        points = [row for row in gains if row["method"] == method]
        ax.scatter([row["gain"] for row in points], [datasets.index(row["dataset"]) + offset for row in points],
                   marker=METHOD_MARKERS.get(method, "o"), color=METHOD_COLOURS.get(method, "black"), s=46,
                   zorder=3, label=method_label(method))
    ax.set_yticks(range(len(datasets)), [_gain_row_label(name, protocol[name], alpha[name]) for name in datasets])
    ax.set_ylim(len(datasets) - 0.5, -0.5)
    ax.grid(axis="y", color="0.9")
    ax.set_xlabel("accuracy − zero-shot (points)")
    fig.suptitle(rf"Data sets by the mean $\alpha(x, D_{{image}})$ of {alpha_label}")
    _legend_below(fig)
    return fig


@_styled
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


@_styled
def plot_training_speed(records):
    """The paper's Figure 3: milliseconds per training step against the batch size.

    One panel per setting and number of classes, one line per method (CoCoOp, timed at batch 1
    only, is a single dot as in the paper). ``records``: rows of
    :func:`llu_core.evaluation.training_speed.measure_training_speed`, optionally with a ``"setting"`` key
    (e.g. "end to end", "cached embeddings").
    """
    settings = list(dict.fromkeys(r.get("setting", "") for r in records))
    class_counts = sorted({r["classes"] for r in records})
    fig, axes = plt.subplots(len(settings), len(class_counts), figsize=(MAX_WIDTH, 3.4 * len(settings) + 1.0),
                             squeeze=False, sharey="row", layout="constrained")
    for (row, setting), (column, classes) in itertools.product(enumerate(settings), enumerate(class_counts)):
        ax = axes[row, column]
        rows = [r for r in records if r.get("setting", "") == setting and r["classes"] == classes]
        for method in dict.fromkeys(r["method"] for r in rows):
            points = sorted((r["batch_size"], 1000 * r["total_s"]) for r in rows if r["method"] == method)
            batch, ms = zip(*points)
            single = len(points) == 1  # CoCoOp's one point: larger, outlined, on top of the lines
            ax.plot(batch, ms, marker=METHOD_MARKERS.get(method, "o"), linestyle="none" if single else "-",
                    markersize=11 if single else 6, markeredgecolor="black" if single else None,
                    zorder=4 if single else 2, color=METHOD_COLOURS.get(method), label=method_label(method))
        sizes = sorted({r["batch_size"] for r in rows})
        ax.set_xscale("log", base=2)
        ax.set_xticks(sizes, [str(s) for s in sizes])
        ax.xaxis.set_minor_formatter(NullFormatter())
        ax.set_yscale("log")
        ax.set_xlabel("batch size")
        if column == 0:
            ax.set_ylabel("ms per training step")
        ax.set_title(f"{setting}, {classes} classes" if setting else f"{classes} classes", fontsize=MIN_FONT_SIZE)
    _legend_below(fig)
    return fig


@_styled
def plot_ablations(summary, dataset="average", shots=None, title=None):
    """Base- and new-class accuracy of each ablation variant (chapter 8), named as Table 4 names them.

    ``summary``: rows of :func:`llu_core.evaluation.summary.summarise` whose methods are
    ``llu_core.ABLATIONS`` keys (and ``"zero_shot"``); the rows of ``dataset`` at ``shots``
    (default: the largest) are drawn, in Table 4's order, labelled by
    :data:`llu_core.report.tables.VARIANT_LABELS`, each bar with its value and, where there
    are several seeds, its standard deviation as an error bar.
    """
    rows = [row for row in summary if row["dataset"] == dataset]
    if not rows:
        raise ValueError(f"the summary has no rows of data set {dataset!r}")
    shots = max(row["shots"] for row in rows) if shots is None else shots
    rows = {row["method"]: row for row in rows if row["shots"] == shots}
    order = [name for name in VARIANT_LABELS if name in rows] + [name for name in rows if name not in VARIANT_LABELS]
    return plot_base_new([{"label": VARIANT_LABELS.get(name, name), "base": rows[name]["base_mean"],
                           "new": rows[name]["new_mean"], "base_std": spread(rows[name], "base"),
                           "new_std": spread(rows[name], "new")} for name in order], title=title)


#: The toy's maps (chapter 5) are drawn for a narrow column: this wide, in inches.
TOY_WIDTH = 4.5
#: α's colour scale on the toy's maps: white at α = 0 to a mid grey at α = β, light enough
#: for the coloured points drawn on it.
ALPHA_COLOURS = LinearSegmentedColormap.from_list("alpha", ["white", "#707070"])
#: One colour per toy class, base classes first.
TOY_CLASS_COLOURS = ("tab:blue", "tab:orange", "tab:green", "tab:purple", "tab:brown", "tab:cyan", "tab:olive",
                     "tab:pink")


def _toy_colour(k):
    return TOY_CLASS_COLOURS[k % len(TOY_CLASS_COLOURS)]


def _draw_toy_texts(ax, text_map, n_base, moved_from=None):
    """Class texts as stars in their class's colour (filled: base class, open: new class); with
    ``moved_from``, a thin grey line from where each text was before the update."""
    for k, (u, v) in enumerate(text_map):
        if moved_from is not None:
            ax.plot([moved_from[k, 0], u], [moved_from[k, 1], v], color="0.35", lw=0.8, zorder=3)
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
    _legend_below(fig, handles, [handle.get_label() for handle in handles], ncol=3)


@_styled
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


@_styled
def plot_toy_updates(panels, extent, beta, classnames, n_base, per_class=12):
    """What an update does to the toy's test images and texts: one map per model (chapter 5).

    Each test image shown is a dot where the model puts it, joined by a line to where the frozen
    model had it; a cross marks an image that base-to-new scoring gets wrong. Stars are the class
    texts after the update, with a grey line from before. The grey shading is the weight α with
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
    fig, axes = plt.subplots(len(panels), 1, figsize=(TOY_WIDTH, 3.1 * len(panels) + 1.0), squeeze=False,
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
            ax.plot([start[0], end[0]], [start[1], end[1]], color=colour, lw=0.7, alpha=0.8)
        ax.scatter(after[correct, 0], after[correct, 1], s=12, c=[c for c, ok in zip(colours, correct) if ok])
        ax.scatter(after[~correct, 0], after[~correct, 1], s=30, marker="x", linewidths=1.2,
                   c=[c for c, ok in zip(colours, correct) if not ok])
        _draw_toy_texts(ax, view["texts_after"], n_base, moved_from=view["texts_before"])
        _toy_axes(ax, extent)
        ax.set_title(panel["title"])
    fig.colorbar(shading, ax=axes[:, 0], label=r"weight $\alpha$ of the update", location="bottom", shrink=0.7,
                 aspect=30)
    images = (Line2D([], [], marker="o", markersize=4, linestyle="none", color="0.3", label="image, right"),
              Line2D([], [], marker="x", markersize=6, linestyle="none", color="0.3", label="image, wrong"))
    _toy_legend(fig, classnames, n_base, extra=images)
    return fig


def _mean_and_spread(records, metric):
    """Per (method, misalignment): mean and standard deviation over seeds of ``metric``."""
    groups = {}
    for row in records:
        groups.setdefault((row["method"], row["misalignment"]), []).append(row[metric])
    return {key: (float(np.mean(values)), float(np.std(values))) for key, values in groups.items()}


@_styled
def plot_toy_sweep(records, metric="new"):
    """Accuracy on the toy against its dial, one line per method, mean ± std over seeds (chapter 5).

    ``records``: rows of :func:`llu_core.evaluation.alignment.sweep_misalignment`. The top axis
    reads the dial as what it controls, the new classes' image-text margin.
    """
    statistics = _mean_and_spread(records, metric)
    fig, ax = plt.subplots(figsize=(TOY_WIDTH, 3.8), layout="constrained")
    for method in dict.fromkeys(row["method"] for row in records):
        dials = sorted({m for name, m in statistics if name == method})
        means, spreads = zip(*(statistics[(method, m)] for m in dials))
        ax.errorbar(dials, means, yerr=spreads, marker="o", markersize=4, capsize=3,
                    color=METHOD_COLOURS.get(method), label=method_label(method))
    margins = sorted({(row["misalignment"], row["new_margin"]) for row in records})
    dials, margin_values = (np.array(values) for values in zip(*margins))
    if len(dials) > 1:
        top = ax.secondary_xaxis("top", functions=(lambda m: np.interp(m, dials, margin_values),
                                                   lambda g: np.interp(g, margin_values[::-1], dials[::-1])))
        top.set_xticks(margin_values, [f"{g:.2f}" for g in margin_values])
        top.set_xlabel("new-class image-text margin")
    ax.set_xlabel("misalignment (the dial)")
    ax.set_ylabel(f"{metric}-class accuracy (%)")
    _legend_below(fig, ncol=2)
    return fig


@_styled
def plot_margin_effect(toy, references):
    """What a global update does to new classes against the image-text margin (chapter 5).

    Parameters
    ----------
    toy : list of dict
        The toy's curve: ``margin`` (new-class margin), ``effect`` (new-class accuracy of the
        update without mask minus LLU's, in points) and ``spread`` (its std over seeds).
    references : list of dict
        Models measured elsewhere: ``label``, ``margin``, ``effect`` and optionally
        ``margin_range`` (low, high) where the margin is known only as a range.
    """
    fig, ax = plt.subplots(figsize=(TOY_WIDTH, 3.8), layout="constrained")
    ax.axhline(0.0, color="black", lw=0.8)
    toy = sorted(toy, key=lambda row: row["margin"])
    ax.errorbar([row["margin"] for row in toy], [row["effect"] for row in toy], yerr=[row["spread"] for row in toy],
                marker="o", markersize=4, capsize=3, color="0.45", label="toy model")
    markers = itertools.cycle(("s", "^", "D", "v", "P"))
    for reference, marker in zip(references, markers):
        low, high = reference.get("margin_range", (reference["margin"], reference["margin"]))
        ax.errorbar([reference["margin"]], [reference["effect"]],
                    xerr=[[reference["margin"] - low], [high - reference["margin"]]], marker=marker, markersize=7,
                    capsize=3, linestyle="none", label=reference["label"])
    ax.set_xlabel("new-class image-text margin")
    ax.set_ylabel("new classes: no mask − LLU (points)")
    _legend_below(fig, ncol=2)
    return fig
