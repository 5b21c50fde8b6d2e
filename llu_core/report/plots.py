"""The book's figures of results and embeddings: accuracies, bars, sweeps, 2-D views, images.

Every function draws in the book's style (:mod:`llu_core.report.style`: page-wide at most,
legible at 420 px, legends under the panels, error bars over seeds) and names data sets and
methods by their display names (:mod:`llu_core.report.labels`). The figures that explain the
method are in :mod:`llu_core.report.diagrams`, the toy model's in
:mod:`llu_core.report.toy_plots`, the base-to-new grid's in :mod:`llu_core.report.grid_plots`.
"""

import itertools
import math

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.ticker import NullFormatter

from .labels import VARIANT_LABELS, dataset_label, method_label
from .quoting import significant
from .style import MAX_WIDTH, METHOD_COLOURS, METHOD_MARKERS, MIN_FONT_SIZE, legend_below, marker_entry, styled
from .tables import spread


@styled
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


@styled
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
    legend_below(fig)
    return fig


@styled
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


@styled
def plot_loss_curves(histories, title="Training loss (cross-entropy + regulariser)"):
    """Per-epoch training loss of several fitted models: ``histories[label] -> list of float``."""
    fig, ax = plt.subplots(figsize=(MAX_WIDTH, 4.2), layout="constrained")
    for label, history in histories.items():
        ax.plot(np.arange(1, len(history) + 1), history, label=label)
    ax.set_xlabel("epoch")
    ax.set_ylabel("mean training loss")
    ax.set_yscale("log")
    ax.set_title(title)
    legend_below(fig)
    return fig


@styled
def plot_mask_2d(coords, alpha, is_base, centre_coords, beta, gamma, accuracies=None, width=MAX_WIDTH):
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
    width : float
        The figure's width in inches (its height follows): narrower than the page for a control
        whose frames should not be shrunk on a narrow screen.
    """
    fig, ax = plt.subplots(figsize=(width, 0.94 * width), layout="constrained")
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
    title = rf"$\beta = {significant(beta):g}$, $\gamma = {significant(gamma):g}$"  # as the sliders show them
    if accuracies is not None:
        title += ("\n" if width < MAX_WIDTH else ":  ") + f"base {accuracies['base']:.1f} %, new {accuracies['new']:.1f} %"
    ax.set_title(title)
    ax.set_xlabel("principal component 1")
    ax.set_ylabel("principal component 2")
    entries = [marker_entry("o", "test image, base class", color="0.35", markersize=6),
               marker_entry("x", "test image, new class", color="0.35", markersize=7),
               marker_entry("*", "$D_{image}$", markerfacecolor="none", markeredgecolor="red", markersize=12)]
    legend_below(fig, entries, [entry.get_label() for entry in entries])
    return fig


@styled
def plot_gamma_sweep(rows, title=None):
    """Base- and new-class accuracy of one fitted LLU model read at every γ (chapter 4).

    ``rows``: :func:`llu_core.report.widgets.gamma_sweep`, the zero-shot row (``"gamma"`` None)
    first: drawn as two pale bands, its accuracy ± one standard error; every other row at its γ
    (a symmetric-log axis, which shows γ = 0), base classes solid with circles, new classes
    dashed with crosses, ± one standard error.
    """
    zero_shot, rows = rows[0], rows[1:]
    fig, ax = plt.subplots(figsize=(MAX_WIDTH, 3.9), layout="constrained")
    gammas = [row["gamma"] for row in rows]
    for metric, marker, style in (("base", "o", "-"), ("new", "x", "--")):
        low, high = (zero_shot[metric] + sign * zero_shot[f"{metric}_error"] for sign in (-1, 1))
        ax.axhspan(low, high, color=METHOD_COLOURS["zero_shot"], alpha=0.25, lw=0)
        ax.axhline(zero_shot[metric], color=METHOD_COLOURS["zero_shot"], linestyle=style, lw=1.2,
                   label=f"zero-shot, {metric} classes")
        ax.errorbar(gammas, [row[metric] for row in rows], yerr=[row[f"{metric}_error"] for row in rows],
                    color=METHOD_COLOURS["llu"], marker=marker, linestyle=style, capsize=3,
                    label=f"LLU, {metric} classes")
    ax.set_xscale("symlog", linthresh=1.0)
    ax.set_xticks(gammas, [f"{g:g}" for g in gammas])
    ax.xaxis.set_minor_formatter(NullFormatter())
    ax.set_xlabel(r"$\gamma$ (the mask's reach: 0 is no mask)")
    ax.set_ylabel("accuracy (%)")
    if title:
        ax.set_title(title)
    legend_below(fig, ncol=2)
    return fig


@styled
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
    legend_below(fig)
    return fig


@styled
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
    entries = [marker_entry("o", "training embedding (colour: its cluster)", color="0.35", markersize=6),
               marker_entry("*", "centre", markerfacecolor="white", markeredgecolor="black", markersize=15)]
    legend_below(fig, entries, [entry.get_label() for entry in entries])
    return fig


@styled
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


@styled
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
    legend_below(fig)
    return fig


@styled
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
    legend_below(fig)
    return fig


@styled
def plot_ablations(summary, dataset="average", shots=None, title=None):
    """Base- and new-class accuracy of each ablation variant (chapter 8), named as Table 4 names them.

    ``summary``: rows of :func:`llu_core.evaluation.summary.summarise` whose methods are
    ``llu_core.ABLATIONS`` keys (and ``"zero_shot"``); the rows of ``dataset`` at ``shots``
    (default: the largest) are drawn, in Table 4's order, labelled by
    :data:`llu_core.report.labels.VARIANT_LABELS`, each bar with its value and, where there
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
