"""The tables and the figure of the chapter "One model, many data sets".

The tables :func:`format_many_datasets_table` (the average over the data sets) and
:func:`format_per_dataset_table` (one column per data set) lay out
:func:`~llu_core.evaluation.many_datasets.summarise_many`'s rows (fitted and unseen data sets, against their own classes and the union's, mean ± standard
error over seeds), :func:`format_cost_table` what each added data set costs
(:func:`~llu_core.evaluation.many_datasets.measure_cost`), and :func:`plot_interference` the mean
α of every data set under every data set's update
(:func:`~llu_core.evaluation.many_datasets.interference`).
"""

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.colors import LogNorm

from .labels import dataset_label, method_label
from .style import MAX_WIDTH, MIN_FONT_SIZE, styled
from .tables import format_cell, markdown_table

#: The methods of the many-data-sets protocol, in the tables' order, with their display names.
MANY_DATASETS_LABELS = {
    "multi_max": "Multi-LLU, max (ours)", "multi_mixture": "Multi-LLU, mixture", "multi_share": "Multi-LLU, share",
    "oracle_llu": "LLU per data set, oracle", "union_llu": "LLU on the union",
    "sequential_clip_adapter": "CLIP-Adapter, sequential",
    "sequential_clip_adapter_when_fitted": "CLIP-Adapter, sequential, just after its turn",
    "zero_shot": method_label("zero_shot"),
}
_COLUMNS = (("fitted", "own"), ("fitted", "union"), ("unseen", "own"), ("unseen", "union"))


def format_many_datasets_table(summary, dataset="average", default="multi_max", digits=1):
    """The comparison table: one row per method, four columns, accuracy in percent ± standard error.

    Parameters
    ----------
    summary : list of dict
        :func:`~llu_core.evaluation.many_datasets.summarise_many`'s rows.
    dataset : str
        ``"average"`` (the mean over the data sets) or one data set's name.
    default : str
        The method labelled as the library's default (the other multi rules are marked as such).
    digits : int

    Returns
    -------
    str: a Markdown table. Columns: fitted data sets against their own classes, against the union
    of all classes, then the same on unseen data sets; "–" where a method has no score (no
    oracle for a data set it never saw).
    """
    rows = {(row["method"], row["setting"], row["classes"]): row for row in summary if row["dataset"] == dataset}
    if not rows:
        raise ValueError(f"the summary has no rows for dataset={dataset!r}")
    methods = [name for name in MANY_DATASETS_LABELS if any(key[0] == name for key in rows)]
    methods += sorted({key[0] for key in rows} - set(methods))

    def label(method):
        text = MANY_DATASETS_LABELS.get(method, method)
        return text.replace(" (ours)", "") + (" (default)" if method == default else "")

    def cell(method, setting, classes):
        row = rows.get((method, setting, classes))
        return "–" if row is None else format_cell(row["accuracy_mean"], row["accuracy_se"], digits)

    header = ["method", "fitted, own classes", "fitted, all classes", "unseen, own classes", "unseen, all classes"]
    return markdown_table(header, [[label(method), *(cell(method, *column) for column in _COLUMNS)]
                                   for method in methods])


def format_per_dataset_table(summary, methods, setting="fitted", classes="own", digits=1):
    """One row per method, one column per data set (then their average): mean accuracy in percent.

    Parameters
    ----------
    summary : list of dict
        :func:`~llu_core.evaluation.many_datasets.summarise_many`'s rows.
    methods : sequence of str
        The methods shown, in this order (keys of :data:`MANY_DATASETS_LABELS`).
    setting : {"fitted", "unseen"}
    classes : {"own", "union"}
    digits : int

    Returns
    -------
    str: a Markdown table; "–" where a method has no score on a data set.
    """
    rows = {(row["method"], row["dataset"]): row for row in summary
            if row["setting"] == setting and row["classes"] == classes}
    if not rows:
        raise ValueError(f"the summary has no rows for setting={setting!r}, classes={classes!r}")
    datasets = list(dict.fromkeys(name for _, name in rows if name != "average"))
    columns = datasets + (["average"] if any(name == "average" for _, name in rows) else [])

    def cell(method, dataset):
        row = rows.get((method, dataset))
        return "–" if row is None else f"{row['accuracy_mean']:.{digits}f}"

    header = [f"{setting}, {classes} classes", *(dataset_label(name) for name in columns)]
    return markdown_table(header, [[MANY_DATASETS_LABELS.get(method, method).replace(" (ours)", ""),
                                    *(cell(method, name) for name in columns)] for method in methods])


def format_cost_table(cost, rules=("max", "mixture")):
    """What each added data set costs: one row per model size K (:func:`~llu_core.evaluation.many_datasets.measure_cost`).

    Times are given as ratios to the first row's (the model of one data set), since wall-clock
    seconds depend on the machine; scoring time is per test image (the K data sets' test sets
    are scored together, so their number grows with K), as a ratio to the first row's under
    ``rules[0]``. The memory of the update added is given in MB of float32.
    """
    first = cost[0]

    def per_image(row, rule):
        return row[f"score_{rule}_s"] / row["n_test"]

    header = ["data sets K", "update added (MB)", "fit of the added LLU", "refit of one LLU on all K",
              *(f"scoring per image, {rule} rule" for rule in rules)]
    rows = [[row["n_datasets"], f"{4 * row['update_floats'] / 1e6:.2f}",
             f"{row['fit_added_s'] / first['fit_added_s']:.1f}×", f"{row['fit_union_s'] / first['fit_added_s']:.1f}×",
             *(f"{per_image(row, rule) / per_image(first, rules[0]):.1f}×" for rule in rules)] for row in cost]
    return markdown_table(header, rows)

def _short(value):
    """A weight in a few characters: two decimals from 0.01 up, else one significant digit (8e-4)."""
    if value >= 0.01 or value == 0:
        return f"{value:.2f}"
    mantissa, exponent = f"{value:.0e}".split("e")
    return f"{mantissa}e{int(exponent)}"


@styled
def plot_interference(interference):
    """The mean α (Eq. 5) of every data set under every data set's update: images and class texts.

    Parameters
    ----------
    interference : dict
        :func:`~llu_core.evaluation.many_datasets.interference`'s result: ``updates`` (columns),
        ``datasets`` (rows), ``image`` and ``text`` (rows × columns).

    Returns
    -------
    matplotlib.figure.Figure: two heat maps on one logarithmic colour scale spanning both, each
    cell carrying its value; the diagonal is a data set under its own update.
    """
    image, text = (np.asarray(interference[key], dtype=float) for key in ("image", "text"))
    values = np.concatenate([image.ravel(), text.ravel()])
    positive = values[values > 0]
    norm = LogNorm(vmin=positive.min(), vmax=positive.max())
    rows, columns = interference["datasets"], interference["updates"]
    fig, axes = plt.subplots(2, 1, figsize=(MAX_WIDTH, 2.4 + 1.1 * len(rows)), layout="constrained", sharex=True)
    for ax, matrix, title in zip(axes, (image, text), (r"test images under $D_\mathrm{image}$", r"class texts under $D_\mathrm{text}$")):
        shading = ax.imshow(np.where(matrix > 0, matrix, positive.min()), cmap="viridis", norm=norm, aspect="auto")
        for (i, j), value in np.ndenumerate(matrix):
            ax.text(j, i, _short(value), ha="center", va="center",
                    color="black" if norm(max(value, positive.min())) > 0.55 else "white")
        ax.set_yticks(range(len(rows)), [dataset_label(name) for name in rows])
        ax.set_title(title)
    many = len(columns) > 4
    axes[1].set_xticks(range(len(columns)), [dataset_label(name) for name in columns], rotation=30 if many else 0,
                       ha="right" if many else "center")
    axes[1].set_xlabel("update of")
    fig.supylabel("data set", fontsize=MIN_FONT_SIZE)
    fig.colorbar(shading, ax=axes, label=r"mean $\alpha_k$", shrink=0.8)
    return fig
