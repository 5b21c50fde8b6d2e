"""Every table of the book: one Markdown formatter, the paper's layouts, and CSV files of records.

:func:`markdown_table` is the one place a Markdown table is written; every formatter below
builds rows of cells and hands them to it. The formatters lay summaries
(:func:`llu_core.evaluation.summary.summarise`) out like the paper's tables:

- Table 1 (:func:`format_table_1`): a sub-table per data set, methods as rows, Base/New/H;
- Table 2 and 3 (:func:`format_table_2`, :func:`format_table_3`): methods as rows, the source
  and the targets as columns;
- Table 4 (:func:`format_table_4`): ablation variants as columns, Base/New/Mean/identity
  distance as rows;

optionally with the paper's numbers beside ours when the setting matches the paper's
(:func:`matches_paper`), and the paper's own tables on their own (``format_paper_table_*``).
Cells are mean ± standard deviation over seeds, the ± left out for a single seed, joined by
no-break spaces so that a browser never breaks a number over two lines. Data sets and methods
appear by their display names, data sets in the paper's order (:mod:`llu_core.report.labels`).
"""

import math

from ..evaluation.geometry import CLIP_VIT_B32
from ..evaluation.noise import binomial_standard_error, standard_errors_apart
from ..utils.io import write_bytes
from ..utils.records import as_bytes, csv_text
from .labels import VARIANT_LABELS, dataset_label, in_paper_order, method_label
from .paper_results import PAPER_SETTING, PEER_TABLE_1, TABLE_1, TABLE_2, TABLE_3, TABLE_4

BASE_NEW_METRICS = ("base", "new", "hm")
#: Joins a number to its spread or unit: a space the browser does not break a line at.
NO_BREAK_SPACE = "\u00a0"


def markdown_table(header, rows):
    """A Markdown table: ``header`` (a list of column titles) over ``rows`` (lists of cells).

    Every table of the book is written here; cells are turned into text with ``str``.
    """
    if any(len(row) != len(header) for row in rows):
        raise ValueError(f"every row needs {len(header)} cells, one per column of {header}")
    lines = ["| " + " | ".join(str(title) for title in header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(value) for value in row) + " |" for row in rows]
    return "\n".join(lines)


def format_cell(mean, std=None, digits=2):
    """``mean ± std`` with ``digits`` decimals (joined by no-break spaces), ``mean`` alone without
    a spread, "–" for a missing value."""
    if mean is None or math.isnan(mean):
        return "–"
    if std is None or math.isnan(std):
        return f"{mean:.{digits}f}"
    return f"{mean:.{digits}f}{NO_BREAK_SPACE}±{NO_BREAK_SPACE}{std:.{digits}f}"


def spread(row, metric):
    """The standard deviation over seeds to print beside a summary row's mean: None for a single seed."""
    return row[f"{metric}_std"] if row.get("n_seeds", 2) > 1 else None


def summary_cell(row, metric, digits=2):
    """The cell of ``metric`` in a summary row: its mean, ± its spread over seeds when there are several."""
    return format_cell(row[f"{metric}_mean"], spread(row, metric), digits)


def matches_paper(backbone, shots):
    """Whether results for ``backbone`` and ``shots`` are comparable with the paper's tables."""
    return str(backbone) == PAPER_SETTING["backbone"] and int(shots) == PAPER_SETTING["shots"]


def _covers_paper_average(summary):
    """Whether the summary's data sets are the paper's 11, so that our average is its average."""
    return set(TABLE_1) - {"average"} <= {row["dataset"] for row in summary}


def format_table_1(summary, shots, backbone="offline"):
    """Lay out a summary like the paper's Table 1: one sub-table per data set.

    Parameters
    ----------
    summary : list of dict
        Rows of :func:`~llu_core.evaluation.summary.summarise` (with or without the
        ``"average"`` data set).
    shots : int
        The shot count to show (the paper's Table 1 is at 16 shots).
    backbone : str
        The backbone the results come from; the paper's numbers are put beside ours only when
        the setting matches the paper's (``ViT-B-16`` at 16 shots, see :func:`matches_paper`),
        and beside our average only when it is over the paper's 11 data sets.

    Returns
    -------
    str
        Markdown: for each data set (the average first, then the paper's order,
        :func:`in_paper_order`) a heading and a table whose rows are the methods and whose columns are Base, New and H as mean ± std over seeds.
    """
    rows = [row for row in summary if row["shots"] == int(shots)]
    if not rows:
        raise ValueError(f"no summary rows at {shots} shots; available: {sorted({r['shots'] for r in summary})}")
    with_paper = matches_paper(backbone, shots)
    datasets = in_paper_order([row["dataset"] for row in rows])
    header = ["Method", "Base", "New", "H"] + (["Paper Base", "Paper New", "Paper H"] if with_paper else [])
    blocks = []
    for dataset in datasets:
        table = []
        for row in (row for row in rows if row["dataset"] == dataset):
            cells = [method_label(row["method"])]
            cells += [summary_cell(row, metric) for metric in BASE_NEW_METRICS]
            if with_paper:
                comparable = dataset != "average" or _covers_paper_average(summary)
                paper = TABLE_1.get(dataset, {}).get(row["method"]) if comparable else None
                cells += [f"{paper[m]:.2f}" if paper else "–" for m in BASE_NEW_METRICS]
            table.append(cells)
        blocks.append(f"**{dataset_label(dataset)}** ({shots} shots, {backbone})\n\n" + markdown_table(header, table))
    return "\n\n".join(blocks)


def format_binomial_table(summary, n_test, reference="zero_shot", digits=1):
    """A base-to-new table whose ± is the binomial standard error of each accuracy (chapter 9).

    Parameters
    ----------
    summary : list of dict
        Summary rows of one data set and shot count, one per method
        (:func:`~llu_core.evaluation.summary.summarise`).
    n_test : dict
        ``{"base": ..., "new": ...}``: how many test images each accuracy was measured on.
    reference : str
        The method the last two columns compare with.
    digits : int

    Returns
    -------
    str
        Markdown: methods as rows; Base and New as accuracy ± its binomial standard error
        (:func:`~llu_core.evaluation.noise.binomial_standard_error`), H, and each accuracy's
        difference from ``reference`` in points with, in brackets, that difference in standard
        errors (:func:`~llu_core.evaluation.noise.standard_errors_apart`).
    """
    rows = {row["method"]: row for row in summary}
    if len(rows) != len(summary) or len({(r["dataset"], r["shots"]) for r in summary}) != 1:
        raise ValueError("format_binomial_table takes the summary rows of one data set and shot count, one per method")
    if reference not in rows:
        raise ValueError(f"the summary has no rows of the reference method {reference!r}")
    table = []
    for method, row in rows.items():
        cells = [method_label(method)]
        for metric in ("base", "new"):
            value = row[f"{metric}_mean"]
            cells.append(format_cell(value, binomial_standard_error(value, n_test[metric]), digits))
        cells.append(format_cell(row["hm_mean"], digits=digits))
        for metric in ("base", "new"):
            value, against = row[f"{metric}_mean"], rows[reference][f"{metric}_mean"]
            if method == reference or math.isnan(value):
                cells.append("–")
            else:
                difference = round(value - against, digits) + 0.0  # + 0.0: no "−0.0"
                apart = round(standard_errors_apart(value, against, n_test[metric]), 1) + 0.0
                cells.append(f"{difference:+.{digits}f}{NO_BREAK_SPACE}({apart:+.1f}{NO_BREAK_SPACE}SE)")
        table.append(cells)
    name = method_label(reference)
    return markdown_table(["Method", "Base", "New", "H", f"Base − {name}", f"New − {name}"], table)


def _paper_value(variant, metric):
    value = TABLE_4.get(variant, {}).get(metric)
    if value is None:
        return "–"
    return f"{value:.3g}" if metric == "identity_distance" else f"{value:.2f}"


def _identity_distance_cell(row):
    if "identity_distance_mean" not in row:
        return "–"
    if spread(row, "identity_distance") is None:
        return f"{row['identity_distance_mean']:.3g}"
    return f"{row['identity_distance_mean']:.3g}{NO_BREAK_SPACE}±{NO_BREAK_SPACE}{row['identity_distance_std']:.2g}"


def format_table_4(summary, dataset="average", backbone="offline", shots=16):
    """Lay out an ablation summary like the paper's Table 4: variants as columns.

    Parameters
    ----------
    summary : list of dict
        Summary rows whose ``method`` names are ablation variants (keys of
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
        table.append([label] + [summary_cell(rows[v], metric) for v in variants])
        if with_paper:
            table.append([f"{label}, paper"] + [_paper_value(v, metric) for v in variants])
    table.append(["Identity distance"] + [_identity_distance_cell(rows[v]) for v in variants])
    if with_paper:
        table.append(["Identity distance, paper"] + [_paper_value(v, "identity_distance") for v in variants])
    header = [f"{dataset_label(dataset)}, {shots} shots, {backbone}"] + [VARIANT_LABELS.get(v, v) for v in variants]
    return markdown_table(header, table)


def format_paper_table_1(dataset="average", methods=None):
    """The paper's own Table 1 block for ``dataset`` (CLIP ViT-B/16, 16 shots), in Markdown.

    For chapters whose results come from another backbone or other data: the paper's numbers
    are shown beside ours, in their own table whose heading names the paper's setting, so that
    nobody mistakes one for the other. Under the average, the successors that publish numbers in
    the same setting (:data:`~llu_core.report.paper_results.PEER_TABLE_1`) follow, with their sources.

    Parameters
    ----------
    dataset : str
        A key of :data:`llu_core.report.paper_results.TABLE_1` (``"average"``: Table 1(a), the
        mean over the paper's 11 data sets).
    methods : iterable of str, optional
        Which rows, in this order (default: all the paper has, and the successors'), by ``llu_core``
        method name.
    """
    if dataset not in TABLE_1:
        raise ValueError(f"the paper's Table 1 has no data set {dataset!r}; it has {', '.join(TABLE_1)}")
    entries = TABLE_1[dataset]
    peers = PEER_TABLE_1 if dataset == "average" else {}
    methods = list(entries) + list(peers) if methods is None else list(methods)
    rows = [[method_label(m).replace("Zero-shot", "CLIP zero-shot")] + [f"{entries[m][k]:.2f}"
                                                                                 for k in BASE_NEW_METRICS]
            for m in methods if m in entries]
    published = [m for m in methods if m in peers and m not in entries]
    rows += [[f"{peers[m]['name']} (its authors)"] + [f"{peers[m][k]:.2f}" for k in BASE_NEW_METRICS]
             for m in published]
    where = "average over its 11 data sets" if dataset == "average" else dataset_label(dataset)
    sources = "".join(f"\n\n{peers[m]['name']}: {peers[m]['source']}." for m in published)
    return (f"**The paper's Table 1, {where}** (CLIP ViT-B/16, 16 shots)\n\n"
            + markdown_table(["Method", "Base", "New", "H"], rows) + sources)


def format_paper_table_4():
    """The paper's Table 4 (CLIP ViT-B/16, 16 shots, average over 11 data sets), in Markdown."""
    variants = list(VARIANT_LABELS)
    table = [[label] + [_paper_value(v, metric) for v in variants]
             for metric, label in (("base", "Base"), ("new", "New"), ("hm", "Mean (H)"),
                                   ("identity_distance", "Identity distance"))]
    header = ["The paper (ViT-B/16), 16 shots"] + [VARIANT_LABELS[v].replace("Zero-shot", "CLIP") for v in variants]
    return ("**The paper's Table 4** (CLIP ViT-B/16, 16 shots, average over 11 data sets)\n\n"
            + markdown_table(header, table))


def _transfer_table(summary, protocol, paper, shots, backbone, alpha_methods):
    rows = [row for row in summary if row["shots"] == int(shots)]
    targets = list(dict.fromkeys(row["dataset"] for row in rows if row["protocol"] == protocol))
    sources = list(dict.fromkeys(row["dataset"] for row in rows if row["protocol"] == "source"))
    if not targets or len(sources) != 1:
        raise ValueError(f"need {protocol} targets and one source at {shots} shots; found targets {targets} and "
                         f"sources {sources}")
    targets = in_paper_order(targets, average="last")
    columns = sources + targets
    cell = {(row["method"], row["dataset"]): row for row in rows if row["protocol"] in ("source", protocol)}
    methods = list(dict.fromkeys(method for method, _ in cell))
    table = [[method_label(m)] + [summary_cell(cell[m, c], "accuracy") if (m, c) in cell else "–"
                                  for c in columns] for m in methods]
    for method in (m for m in alpha_methods if m in methods):
        for key, what in (("mean_alpha", "test images"), ("mean_alpha_text", "class texts")):
            table.append([f"mean α of the {what} ({method_label(method)})"] + [
                f"{cell[method, c][f'{key}_mean']:.3g}" if f"{key}_mean" in cell.get((method, c), {}) else "–"
                for c in columns])
    if matches_paper(backbone, shots) and sources == ["imagenet"]:
        complete = set(paper["zero_shot"]) - {"imagenet", "average"} <= set(targets)
        for method in (m for m in methods if m in paper):
            table.append([f"{method_label(method)}, paper"] + [
                f"{paper[method][c]:.2f}" if c in paper[method] and (c != "average" or complete) else "–"
                for c in columns])
    header = ["Method", f"{dataset_label(sources[0])} (source)", *map(dataset_label, targets)]
    return (f"**{protocol.replace('_', ' ').capitalize()}** ({shots} shots, {backbone}; accuracy in %)\n\n"
            + markdown_table(header, table))


def format_table_2(summary, shots=16, backbone="offline", alpha_methods=("llu",)):
    """Lay out the cross-dataset results like the paper's Table 2.

    Parameters
    ----------
    summary : list of dict
        Summary rows of transfer records (with or without the targets' average,
        ``add_average(records, where={"protocol": "cross_dataset"})``).
    shots : int
        The shot count to show (the paper: 16).
    backbone : str
        The backbone of the results. The paper's rows are added only in its setting
        (``ViT-B-16``, 16 shots, :func:`matches_paper`) with ImageNet as the source; its
        "Average" only when all 10 of its targets were run.
    alpha_methods : sequence of str
        Methods whose mean α (test images, class texts) get a row under the accuracies.

    Returns
    -------
    str
        Markdown: methods as rows; the source, each target and the average as columns; cells
        mean ± std over seeds.
    """
    return _transfer_table(summary, "cross_dataset", TABLE_2, shots, backbone, alpha_methods)


def format_table_3(summary, shots=16, backbone="offline", alpha_methods=("llu",)):
    """Lay out the domain-generalisation results like the paper's Table 3 (the parameters and
    the paper's rows as in :func:`format_table_2`; Table 3 has no average column)."""
    return _transfer_table(summary, "domain_generalisation", TABLE_3, shots, backbone, alpha_methods)


def _paper_transfer_table(paper, title, methods, average):
    methods = [m for m in (paper if methods is None else methods) if m in paper]
    columns = [c for c in paper["zero_shot"] if c != "average" or average]
    rows = [["CLIP zero-shot" if m == "zero_shot" else method_label(m)]
            + [f"{paper[m][c]:.2f}" for c in columns] for m in methods]
    header = ["Method", f"{dataset_label(columns[0])} (source)", *map(dataset_label, columns[1:])]
    return (f"**{title}** (CLIP ViT-B/16, fitted on ImageNet with 16 shots; accuracy in %)\n\n"
            + markdown_table(header, rows))


def format_paper_table_2(methods=None):
    """The paper's own Table 2 in Markdown, in a table of its own headed by the paper's setting.

    ``methods``: which rows, in this order, by ``llu_core`` method name (default: all of the
    paper's, the prompt learners included).
    """
    return _paper_transfer_table(TABLE_2, "The paper's Table 2, cross-dataset", methods, average=True)


def format_paper_table_3(methods=None):
    """The paper's own Table 3 in Markdown (see :func:`format_paper_table_2`)."""
    return _paper_transfer_table(TABLE_3, "The paper's Table 3, domain generalisation", methods, average=False)


_STATISTICS_COLUMNS = (("median 1 − xᵀd, base / new", ("median_distance_base", "median_distance_new")),
                       ("mean α, base / new", ("mean_alpha_base", "mean_alpha_new")),
                       ("mean cos, images", ("mean_cosine_images",)),
                       ("mean cos, class texts", ("mean_cosine_texts",)),
                       ("cos(image, own / other class text)", ("cosine_own_text", "cosine_other_texts")))


def _significant(value):
    return f"{value:.2g}" if abs(value) < 0.01 else f"{value:.3g}"


def _range(low, high):
    return _significant(low) if low == high else f"{_significant(low)}-{_significant(high)}"


def format_statistics_table(statistics, reference=CLIP_VIT_B32, reference_name="CLIP ViT-B/32 (two CoOp data sets)"):
    """A Markdown table of :func:`~llu_core.evaluation.geometry.embedding_statistics` results,
    one row per data set.

    Parameters
    ----------
    statistics : dict of str -> dict
        Row name (e.g. ``"offline, CIFAR-10"``) → the statistics of one data set.
    reference : dict of str -> (float, float), optional
        A last row of (low, high) ranges; :data:`~llu_core.evaluation.geometry.CLIP_VIT_B32`
        by default, None for none.
    """
    rows = [[name] + [" / ".join(_significant(row[key]) for key in keys) for _, keys in _STATISTICS_COLUMNS]
            for name, row in statistics.items()]
    if reference is not None:
        rows.append([f"**{reference_name}**"] + [
            "**" + " / ".join(_range(*reference[key]) for key in keys) + "**" for _, keys in _STATISTICS_COLUMNS])
    return markdown_table(["embeddings"] + [title for title, _ in _STATISTICS_COLUMNS], rows)


def _short(value, digits=1):
    """``value`` with ``digits`` decimals below 10, without decimals from 10 on (the table stays narrow)."""
    return f"{value:.{digits}f}" if abs(value) < 10 else f"{value:.0f}"


def format_speed_table(records, reference="clip_adapter"):
    """Markdown: one row per (classes, batch size) of training-speed records
    (:func:`llu_core.evaluation.training_speed.measure_training_speed`), each method's total
    step time in ms and, in brackets, its ratio to ``reference``'s (decimals only below 10)."""
    methods = list(dict.fromkeys(record["method"] for record in records))
    totals = {(r["classes"], r["batch_size"], r["method"]): r["total_s"] for r in records}
    rows = []
    for classes, batch in sorted({(r["classes"], r["batch_size"]) for r in records}):
        base = totals.get((classes, batch, reference))
        cells = []
        for method in methods:
            value = totals.get((classes, batch, method))
            if value is None:
                cells.append("–")
            else:
                cells.append(_short(1000 * value) + (f"{NO_BREAK_SPACE}({_short(value / base, 2)}×)" if base else ""))
        rows.append([classes, batch, *cells])
    return markdown_table(["classes", "batch", *map(method_label, methods)], rows)


#: The columns that lead a CSV file of base-to-new grid records.
GRID_COLUMNS = ("method", "dataset", "shots", "seed", *BASE_NEW_METRICS)
#: The columns that lead a CSV file of transfer records.
TRANSFER_COLUMNS = ("protocol", "method", "source", "dataset", "shots", "seed", "accuracy", "mean_alpha",
                    "mean_alpha_text", "identity_distance")


def records_to_csv(records, leading=GRID_COLUMNS):
    """Render records as CSV text: the ``leading`` columns first (default: the grid's), then any
    other key seen in a record; a key a record lacks is an empty field.

    The order does not depend on the records' key order, which JSON files do not keep. Every
    string is quoted (:func:`llu_core.utils.records.csv_text`), so a data-set folder or method
    name with a comma, a quote, a tab or a line break stays one field.
    """
    columns = list(dict.fromkeys([*leading, *(key for record in records for key in record)]))
    return csv_text(columns, ([record.get(column) for column in columns] for record in records))


def write_csv(path, records, leading=GRID_COLUMNS):
    """Write records to a CSV file atomically (see :func:`records_to_csv`); names that are not
    UTF-8 keep their bytes."""
    write_bytes(path, as_bytes(records_to_csv(records, leading)))
