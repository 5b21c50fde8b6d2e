"""The base-to-new grid's figures: accuracy against shots (laid out like the paper's Figure 2)
and base- against new-class accuracy, one point per method, with their standard errors
(:mod:`llu_core.evaluation.noise`)."""

import math

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.ticker import NullFormatter

from ..evaluation.noise import binomial_standard_error, summary_standard_error
from .labels import dataset_label, in_paper_order, method_label
from .style import MAX_WIDTH, METHOD_COLOURS, METHOD_MARKERS, legend_below, reference_style, styled


@styled
def plot_accuracy_vs_shots(summary, datasets=None, methods=None, n_test=None):
    """Base (circles) and new (crosses) accuracy against shots, one panel per data set (in the
    paper's order), laid out like the paper's Figure 2. ``summary``: rows of
    :func:`llu_core.evaluation.summary.summarise`. Error bars: with ``n_test`` (data set ->
    ``{"base": n, "new": n}`` test images) the standard error of each mean
    (:func:`~llu_core.evaluation.noise.summary_standard_error`), else the standard deviation
    over seeds. Zero-shot is a broad pale band under the other methods, so that a method that
    coincides with it (Tip-Adapter on new classes) stays visible."""
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
                errors = [r[f"{metric}_std"] if n_test is None else summary_standard_error(r, metric,
                                                                                           n_test[dataset][metric])
                          for r in rows]
                ax.errorbar(shots, values, yerr=errors, color=colour, linestyle=style, capsize=2,
                            label=method_label(method) if metric == "base" else None,
                            **reference_style(method, marker))
        ax.set_xscale("log", base=2)
        ax.set_xticks(shot_counts, [str(s) for s in shot_counts])
        ax.xaxis.set_minor_formatter(NullFormatter())
        ax.set_title(dataset_label(dataset))
        ax.set_xlabel("shots per base class")
        ax.set_ylabel("accuracy (%)")
    legend_below(fig)
    fig.suptitle("Base classes (circles, solid), new classes (crosses, dashed)")
    return fig


@styled
def plot_base_against_new(summary, n_test, methods=None, shots=None):
    """Base- against new-class accuracy, one point per method and one panel per data set, each
    with its binomial standard error as error bars; a method without new-class scores is left out.

    Parameters
    ----------
    summary : list of dict
        Rows of :func:`llu_core.evaluation.summary.summarise`.
    n_test : dict
        ``n_test[dataset] = {"base": ..., "new": ...}``: the test images behind each accuracy
        (:func:`~llu_core.evaluation.noise.binomial_standard_error`).
    methods : list of str, optional
        Which methods, in order (default: all of ``summary``).
    shots : int, optional
        Which shot count (default: the largest).
    """
    shots = shots or max(row["shots"] for row in summary)
    rows = [row for row in summary if row["shots"] == shots and row["dataset"] in n_test]
    datasets = in_paper_order(row["dataset"] for row in rows)
    methods = methods or list(dict.fromkeys(row["method"] for row in rows))
    fig, axes = plt.subplots(1, len(datasets), figsize=(MAX_WIDTH, 3.6), squeeze=False, layout="constrained")
    for ax, dataset in zip(axes.flat, datasets):
        for method in methods:
            row = next((r for r in rows if r["dataset"] == dataset and r["method"] == method), None)
            if row is None or np.isnan(row["new_mean"]):
                continue
            ax.errorbar(row["new_mean"], row["base_mean"], capsize=2, linestyle="none",
                        xerr=binomial_standard_error(row["new_mean"], n_test[dataset]["new"]),
                        yerr=binomial_standard_error(row["base_mean"], n_test[dataset]["base"]),
                        color=METHOD_COLOURS.get(method), marker=METHOD_MARKERS.get(method, "o"),
                        label=method_label(method) if ax is axes.flat[0] else None)
        ax.set_title(dataset_label(dataset))
        ax.set_xlabel("new (%)")
    axes.flat[0].set_ylabel("base (%)")
    legend_below(fig)
    return fig
