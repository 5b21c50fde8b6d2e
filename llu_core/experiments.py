"""Experiment grids on cached embeddings, and tables laid out like the paper's.

A grid runs every method on every data set for every shot count and seed through CoCoOp's
base-to-new protocol (:func:`llu_core.protocols.evaluate_base_to_new`) and returns one flat
record per run: a dict of plain numbers that is written to JSON/CSV as it is. Summaries
aggregate the records over seeds (mean ± standard deviation), and the formatters lay the
summaries out like the paper's Table 1 (a sub-table per data set, methods as rows,
Base/New/H as columns) and Table 4 (ablation variants as columns, Base/New/Mean/identity
distance as rows), optionally with the paper's numbers beside ours.

Conventions: accuracies are percentages, as the paper reports them; the standard deviation
is over seeds with ``ddof=0`` (NumPy's default); the harmonic mean of a summary row is that of
its mean base and mean new accuracies (CoCoOp's convention, which the paper's per-data-set
columns follow; see :mod:`llu_core.paper_results` for its average row), while its spread is the
standard deviation of the per-seed H.
"""

import csv
import math
from io import StringIO

import numpy as np

from .classifiers import LLUClassifier
from .io import atomic_path
from .paper_results import PAPER_SETTING, TABLE_1, TABLE_4
from .progress import progress_bar
from .protocols import fit_on_base, harmonic_mean, score_base_to_new

METRICS = ("base", "new", "hm")

#: How the tables call our methods (the paper's names where it has them).
METHOD_LABELS = {
    "zero_shot": "Zero-shot", "clip_adapter": "CLIP-Adapter", "tip_adapter": "Tip-Adapter",
    "tip_adapter_f": "Tip-Adapter-F", "linear_probe": "Linear probe", "llu": "LLU",
    "coop": "CoOp", "cocoop": "CoCoOp", "prograd": "ProGrad", "kgcoop": "KgCoOp",
    "no_mask": "LLU, no mask",  # the ablation, where chapter 8 compares it with the methods
}

#: How Table 4 calls the ablation variants (``llu_core.ABLATIONS`` keys).
VARIANT_LABELS = {
    "zero_shot": "Zero-shot", "default": "Default", "no_cluster": "no cluster", "no_damping": "no damp.",
    "no_mask": "no mask", "dirac_mask": "Dirac mask", "no_reg": "no reg", "random_init": "rand. init",
    "linear": "Linear",
}


def run_grid(methods, datasets, shots, seeds, progress=True):
    """Evaluate every method on every data set, shot count and seed (base-to-new protocol).

    Parameters
    ----------
    methods : dict of str -> estimator
        Unfitted classifiers following the ``llu_core`` contract, by method name. Each run
        fits a fresh clone (``sklearn.base.clone``), so the estimators passed are not changed.
    datasets : iterable of embedded data sets
        Objects with ``name``, ``train_X`` (n, d), ``train_y`` (n,), ``test_X`` (m, d),
        ``test_y`` (m,) and ``text`` (C, d), such as the result of
        :func:`llu_core.features.embed_dataset`.
    shots : iterable of int
        Training images per base class.
    seeds : iterable of int
        Seeds of the few-shot samples and of the training.
    progress : bool
        Show a tqdm progress bar over the runs.

    Returns
    -------
    list of dict
        One record per run: ``method``, ``dataset``, ``shots``, ``seed``, ``base``, ``new``,
        ``hm`` (percent; NaN where a method cannot score new classes) and, for LLU models,
        ``identity_distance`` (the fitted adapters' distance to the identity, see
        :func:`llu_core.protocols.fit_on_base`).
    """
    datasets, shots, seeds = list(datasets), [int(s) for s in shots], [int(s) for s in seeds]
    if not methods or not datasets or not shots or not seeds:
        raise ValueError("run_grid needs at least one method, data set, shot count and seed; got "
                         f"{len(methods)} methods, {len(datasets)} data sets, {shots} shots, {seeds} seeds")
    runs = [(data, shot, seed, name) for data in datasets for shot in shots for seed in seeds for name in methods]
    records = []
    for data, shot, seed, name in progress_bar(runs, show=progress, desc="grid"):
        fitted = fit_on_base(methods[name], data.train_X, data.train_y, data.text, shot, seed)
        scores = score_base_to_new(fitted, data.test_X, data.test_y, data.text)
        record = {"method": name, "dataset": data.name, "shots": shot, "seed": seed}
        record.update({metric: float(scores[metric]) for metric in METRICS})
        if isinstance(fitted, LLUClassifier):  # Table 4's last row
            record["identity_distance"] = float(fitted.identity_distance_)
        records.append(record)
    return records


def add_dataset_average(records, name="average"):
    """Append, per method, shot count and seed, the average over data sets (the paper's Table 1(a)).

    The average's ``hm`` is the harmonic mean of the averaged base and new accuracies
    (CoCoOp's convention for Table 1(a)). A (method, shots, seed) group contributes an average only if it has a record
    for every data set in ``records``.

    Returns
    -------
    list of dict
        ``records`` followed by the average records (``dataset == name``).
    """
    datasets = sorted({record["dataset"] for record in records})
    groups = {}
    for record in records:
        groups.setdefault((record["method"], record["shots"], record["seed"]), []).append(record)
    averages = []
    for (method, shot, seed), group in groups.items():
        if sorted(record["dataset"] for record in group) != datasets:
            continue
        average = {"method": method, "dataset": name, "shots": shot, "seed": seed}
        for key in ("base", "new", "identity_distance"):
            if all(key in record for record in group):
                average[key] = float(np.mean([record[key] for record in group]))
        average["hm"] = float(harmonic_mean(average["base"], average["new"]))
        averages.append(average)
    return list(records) + averages


def summarise(records):
    """Aggregate records over seeds: mean and standard deviation per (method, dataset, shots).

    Returns
    -------
    list of dict
        One row per group, in first-seen order, with ``method``, ``dataset``, ``shots``,
        ``n_seeds`` and ``<metric>_mean`` / ``<metric>_std`` for base, new, hm (and
        identity_distance where the records have it). ``hm_mean`` is the harmonic mean of
        ``base_mean`` and ``new_mean``.
    """
    groups = {}
    for record in records:
        groups.setdefault((record["method"], record["dataset"], record["shots"]), []).append(record)
    rows = []
    for (method, dataset, shot), group in groups.items():
        row = {"method": method, "dataset": dataset, "shots": shot, "n_seeds": len(group)}
        for key in ("base", "new", "hm", "identity_distance"):
            if all(key in record for record in group):
                values = np.array([record[key] for record in group], dtype=float)
                row[f"{key}_mean"] = float(values.mean())
                row[f"{key}_std"] = float(values.std())
        row["hm_mean"] = float(harmonic_mean(row["base_mean"], row["new_mean"]))
        rows.append(row)
    return rows


def matches_paper(backbone, shots):
    """Whether results for ``backbone`` and ``shots`` are comparable with the paper's tables."""
    return str(backbone) == PAPER_SETTING["backbone"] and int(shots) == PAPER_SETTING["shots"]


def _covers_paper_average(summary):
    """Whether the summary's data sets are the paper's 11, so that our average is its average."""
    return set(TABLE_1) - {"average"} <= {row["dataset"] for row in summary}


def _cell(mean, std):
    if mean is None or math.isnan(mean):
        return "–"
    return f"{mean:.2f} ± {std:.2f}" if std is not None and not math.isnan(std) else f"{mean:.2f}"


def _spread(row, metric):
    """The standard deviation over seeds to print beside a mean: None for a single seed."""
    return row[f"{metric}_std"] if row.get("n_seeds", 2) > 1 else None


def _markdown(header, rows):
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(value) for value in row) + " |" for row in rows]
    return "\n".join(lines)


def format_table_1(summary, shots, backbone="offline"):
    """Lay out a summary like the paper's Table 1: one sub-table per data set.

    Parameters
    ----------
    summary : list of dict
        Rows of :func:`summarise` (with or without the ``"average"`` data set).
    shots : int
        The shot count to show (the paper's Table 1 is at 16 shots).
    backbone : str
        The backbone the results come from; the paper's numbers are put beside ours only when
        the setting matches the paper's (``ViT-B-16`` at 16 shots, see :func:`matches_paper`),
        and beside our average only when it is over the paper's 11 data sets.

    Returns
    -------
    str
        Markdown: for each data set (the average first) a heading and a table whose rows are
        the methods and whose columns are Base, New and H as mean ± std over seeds.
    """
    rows = [row for row in summary if row["shots"] == int(shots)]
    if not rows:
        raise ValueError(f"no summary rows at {shots} shots; available: {sorted({r['shots'] for r in summary})}")
    with_paper = matches_paper(backbone, shots)
    datasets = sorted({row["dataset"] for row in rows}, key=lambda name: (name != "average", name))
    header = ["Method", "Base", "New", "H"] + (["Paper Base", "Paper New", "Paper H"] if with_paper else [])
    blocks = []
    for dataset in datasets:
        table = []
        for row in (row for row in rows if row["dataset"] == dataset):
            cells = [METHOD_LABELS.get(row["method"], row["method"])]
            cells += [_cell(row[f"{m}_mean"], _spread(row, m)) for m in METRICS]
            if with_paper:
                comparable = dataset != "average" or _covers_paper_average(summary)
                paper = TABLE_1.get(dataset, {}).get(row["method"]) if comparable else None
                cells += [f"{paper[m]:.2f}" if paper else "–" for m in METRICS]
            table.append(cells)
        blocks.append(f"**{dataset}** ({shots} shots, {backbone})\n\n" + _markdown(header, table))
    return "\n\n".join(blocks)


def format_table_4(summary, dataset="average", backbone="offline", shots=16):
    """Lay out an ablation summary like the paper's Table 4: variants as columns.

    Parameters
    ----------
    summary : list of dict
        Rows of :func:`summarise` whose ``method`` names are ablation variants (keys of
        ``llu_core.ABLATIONS``, plus ``"zero_shot"`` for the CLIP column).
    dataset : str
        Which data set's rows to show (the paper shows the average over its 11 data sets).
    backbone, shots :
        The setting of the results; the paper's rows are added when it matches and the average
        is over the paper's 11 data sets.

    Returns
    -------
    str
        Markdown with rows Base, New, Mean (harmonic mean, as in the paper) and Identity
        distance (the paper's row "Regularization"), each cell mean ± std over seeds.
    """
    rows = {row["method"]: row for row in summary if row["dataset"] == dataset and row["shots"] == int(shots)}
    if not rows:
        raise ValueError(f"no summary rows for data set {dataset!r} at {shots} shots")
    variants = [name for name in VARIANT_LABELS if name in rows] + [name for name in rows if name not in VARIANT_LABELS]
    with_paper = matches_paper(backbone, shots) and dataset == "average" and _covers_paper_average(summary)
    table = []
    for metric, label in (("base", "Base"), ("new", "New"), ("hm", "Mean (H)")):
        table.append([label] + [_cell(rows[v][f"{metric}_mean"], _spread(rows[v], metric)) for v in variants])
        if with_paper:
            table.append([f"{label}, paper"] + [_paper_value(v, metric) for v in variants])
    table.append(["Identity distance"] + [
        "–" if "identity_distance_mean" not in rows[v] else f"{rows[v]['identity_distance_mean']:.3g}"
        if _spread(rows[v], "identity_distance") is None else
        f"{rows[v]['identity_distance_mean']:.3g} ± {rows[v]['identity_distance_std']:.2g}" for v in variants])
    if with_paper:
        table.append(["Identity distance, paper"] + [_paper_value(v, "identity_distance") for v in variants])
    header = [f"{dataset}, {shots} shots, {backbone}"] + [VARIANT_LABELS.get(v, v) for v in variants]
    return _markdown(header, table)


def format_paper_table_1(dataset="average", methods=None):
    """The paper's own Table 1 block for ``dataset`` (CLIP ViT-B/16, 16 shots), in Markdown.

    For chapters whose results come from another backbone or other data: the paper's numbers
    are shown beside ours, in their own table whose heading names the paper's setting, so that
    nobody mistakes one for the other.

    Parameters
    ----------
    dataset : str
        A key of :data:`llu_core.paper_results.TABLE_1` (``"average"``: Table 1(a), the mean over
        the paper's 11 data sets).
    methods : iterable of str, optional
        Which rows, in this order (default: all the paper has), by ``llu_core`` method name.
    """
    if dataset not in TABLE_1:
        raise ValueError(f"the paper's Table 1 has no data set {dataset!r}; it has {', '.join(TABLE_1)}")
    entries = TABLE_1[dataset]
    methods = [method for method in (entries if methods is None else methods) if method in entries]
    where = "average over its 11 data sets" if dataset == "average" else dataset
    rows = [[METHOD_LABELS.get(m, m).replace("Zero-shot", "CLIP zero-shot")] + [f"{entries[m][k]:.2f}" for k in METRICS]
            for m in methods]
    return (f"**The paper's Table 1, {where}** (CLIP ViT-B/16, 16 shots)\n\n"
            + _markdown(["Method", "Base", "New", "H"], rows))


def format_paper_table_4():
    """The paper's Table 4 (CLIP ViT-B/16, 16 shots, average over 11 data sets), in Markdown."""
    variants = list(VARIANT_LABELS)
    table = [[label] + [_paper_value(v, metric) for v in variants]
             for metric, label in (("base", "Base"), ("new", "New"), ("hm", "Mean (H)"),
                                   ("identity_distance", "Identity distance"))]
    header = ["The paper (ViT-B/16), 16 shots"] + [VARIANT_LABELS[v].replace("Zero-shot", "CLIP") for v in variants]
    return "**The paper's Table 4** (CLIP ViT-B/16, 16 shots, average over 11 data sets)\n\n" + _markdown(header, table)


def _paper_value(variant, metric):
    value = TABLE_4.get(variant, {}).get(metric)
    if value is None:
        return "–"
    return f"{value:.3g}" if metric == "identity_distance" else f"{value:.2f}"


#: The columns that lead a CSV file of grid records.
GRID_COLUMNS = ("method", "dataset", "shots", "seed", *METRICS)


def records_to_csv(records, leading=GRID_COLUMNS):
    """Render records as CSV text: the ``leading`` columns first (default: the grid's), then any
    other key seen in a record.

    The order does not depend on the records' key order, which JSON files do not keep.
    """
    columns = list(dict.fromkeys([*leading, *(key for record in records for key in record)]))
    buffer = StringIO()
    writer = csv.DictWriter(buffer, fieldnames=columns, restval="", lineterminator="\n")
    writer.writeheader()
    writer.writerows(records)
    return buffer.getvalue()


def write_csv(path, records, leading=GRID_COLUMNS):
    """Write records to a CSV file atomically (see :func:`records_to_csv`)."""
    with atomic_path(path) as temporary:
        temporary.write_text(records_to_csv(records, leading))
