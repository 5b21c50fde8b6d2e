"""Experiment grids on cached embeddings: every method on every data set, shot count and seed.

A grid runs CoCoOp's base-to-new protocol (:func:`llu_core.evaluation.protocols.fit_on_base`
and :func:`~llu_core.evaluation.protocols.score_base_to_new`) and returns one flat record per
run: a dict of plain numbers, written to JSON/CSV as it is and summarised over seeds by
:mod:`llu_core.evaluation.summary`.
"""

from ..estimators import LLUClassifier
from ..utils.progress import progress_bar
from .protocols import fit_on_base, score_base_to_new, shots_and_seeds

#: The metrics of a base-to-new record, in percent.
METRICS = ("base", "new", "hm")


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
        :func:`llu_core.data.features.embed_dataset`.
    shots : iterable of int
        Training images per base class (distinct positive integers).
    seeds : iterable of int
        Seeds of the few-shot samples and of the training (distinct integers ≥ 0).
    progress : bool
        Show a tqdm progress bar over the runs.

    Returns
    -------
    list of dict
        One record per run: ``method``, ``dataset``, ``shots``, ``seed``, ``base``, ``new``,
        ``hm`` (percent; NaN where a method cannot score new classes) and, for LLU models,
        ``identity_distance`` (the fitted adapters' distance to the identity, see
        :func:`llu_core.evaluation.protocols.fit_on_base`).
    """
    datasets, (shots, seeds) = list(datasets), shots_and_seeds(shots, seeds)
    if not methods or not datasets:
        raise ValueError(f"run_grid needs at least one method, data set, shot count and seed; got "
                         f"{len(methods)} methods, {len(datasets)} data sets")
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
