"""Summaries of result records: the mean over seeds, and the average over data sets.

A record is one run as a flat dict: keys that name the run (``method``, ``dataset``,
``shots``, ``seed``; for transfer also ``protocol`` and ``source``) and metrics, the numbers it
measured (:data:`METRICS`: accuracies in percent, mean α, identity distance). Both functions
group records that agree on every naming key but one, so the base-to-new grid
(:mod:`llu_core.evaluation.grids`) and the transfer protocols (:mod:`llu_core.evaluation.transfer`)
are summarised by the same code.

Conventions: the standard deviation is over seeds with ``ddof=0`` (NumPy's default). The
harmonic mean ``hm`` of an aggregate (a mean over seeds, an average over data sets) is that of
its aggregated base and new accuracies, CoCoOp's convention, which the paper's per-data-set
columns and its Table 1(a) follow; the spread of ``hm`` over seeds is that of the per-seed H.
"""

import numpy as np

from .protocols import harmonic_mean

#: Every key of a record that holds a measured number rather than naming the run.
METRICS = ("base", "new", "hm", "accuracy", "mean_alpha", "mean_alpha_text", "identity_distance")


def group_records(records, ignore):
    """Group records that agree on every naming key except those in ``ignore``.

    Parameters
    ----------
    records : iterable of dict
    ignore : iterable of str
        Naming keys to group across (e.g. ``("seed",)``); metrics never name a group.

    Returns
    -------
    dict
        ``{naming key-value pairs (a tuple sorted by key, so the records' key order does not
        matter): [records]}``, in first-seen order.
    """
    skipped = set(METRICS) | set(ignore)
    groups = {}
    for record in records:
        key = tuple(sorted((name, value) for name, value in record.items() if name not in skipped))
        groups.setdefault(key, []).append(record)
    return groups


def _shared_metrics(group):
    """The metrics every record of ``group`` has, in :data:`METRICS` order."""
    return [name for name in METRICS if all(name in record for record in group)]


def add_average(records, over="dataset", name="average", where=None):
    """Append the mean over the values of ``over`` (by default: over data sets) of every group.

    A group (records that agree on every naming key but ``over``) contributes an average only
    if it has a record for every value of ``over`` that occurs, so an average never mixes
    data sets that some method lacks.

    Parameters
    ----------
    records : list of dict
    over : str
        The naming key averaged over.
    name : str
        The value of ``over`` in the appended records (the paper's "Average" column).
    where : dict, optional
        Average only the records whose keys have these values, e.g.
        ``{"protocol": "cross_dataset"}`` (the paper's Table 2 averages over its targets, not
        the source); the others are kept as they are.

    Returns
    -------
    list of dict
        ``records`` followed by the averages. Each metric that all records of the group have is
        averaged; ``hm`` is the harmonic mean of the averaged ``base`` and ``new``.
    """
    where = where or {}
    chosen = [record for record in records if all(record.get(key) == value for key, value in where.items())]
    values = sorted({record[over] for record in chosen})
    averages = []
    for key, group in group_records(chosen, ignore=(over,)).items():
        if sorted(record[over] for record in group) != values:
            continue
        average = dict(key)
        average[over] = name
        for metric in _shared_metrics(group):
            average[metric] = float(np.mean([record[metric] for record in group]))
        if "hm" in average:
            average["hm"] = float(harmonic_mean(average["base"], average["new"]))
        averages.append(average)
    return list(records) + averages


def summarise(records):
    """Aggregate records over seeds: the mean and standard deviation of every metric per group.

    Returns
    -------
    list of dict
        One row per group of records that differ only in ``seed``, in first-seen order: the
        group's naming keys, ``n_seeds`` and ``<metric>_mean`` / ``<metric>_std`` for every
        metric all its records have. ``hm_mean`` is the harmonic mean of ``base_mean`` and
        ``new_mean``.
    """
    rows = []
    for key, group in group_records(records, ignore=("seed",)).items():
        row = dict(key, n_seeds=len(group))
        for metric in _shared_metrics(group):
            values = np.array([record[metric] for record in group], dtype=float)
            row[f"{metric}_mean"], row[f"{metric}_std"] = float(values.mean()), float(values.std())
        if "hm_mean" in row:
            row["hm_mean"] = float(harmonic_mean(row["base_mean"], row["new_mean"]))
        rows.append(row)
    return rows
