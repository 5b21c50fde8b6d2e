"""Experiment grids on cached embeddings: every method on every data set, shot count and seed.

A grid runs CoCoOp's base-to-new protocol (:func:`llu_core.evaluation.protocols.fit_on_base`
and :func:`~llu_core.evaluation.protocols.score_base_to_new`) and returns one flat record per
run: a dict of plain numbers, written to JSON/CSV as it is and summarised over seeds by
:mod:`llu_core.evaluation.summary`.
"""

from ..estimators import LLUClassifier
from ..estimators.together import fit_together
from ..utils.progress import progress_bar
from .protocols import base_training_job, score_base_to_new, shots_and_seeds

#: The metrics of a base-to-new record, in percent.
METRICS = ("base", "new", "hm")


def run_grid(methods, datasets, shots, seeds, progress=True):
    """Evaluate every method on every data set, shot count and seed (base-to-new protocol).

    The fits of one data set run together (:func:`llu_core.estimators.together.fit_together`):
    its LLU models, whatever their hyperparameters, seeds and shot counts, are trained as one
    batched problem; each equals its fit alone.

    Parameters
    ----------
    methods : dict of str -> estimator
        Unfitted classifiers following the ``llu_core`` contract, by method name. Each run
        fits a fresh clone (``sklearn.base.clone``), so the estimators passed are not changed.
    datasets : iterable of embedded data sets
        Objects with ``name``, ``train_X`` (n, d), ``train_y`` (n,), ``test_X`` (m, d),
        ``test_y`` (m,) and ``text`` (C, d), such as the result of
        :func:`llu_core.data.embedded.embed_dataset`.
    shots : iterable of int
        Training images per base class (distinct positive integers).
    seeds : iterable of int
        Seeds of the few-shot samples and of the training (distinct integers ≥ 0).
    progress : bool
        Show progress bars over the training steps and the runs.

    Returns
    -------
    list of dict
        One record per run, data set by data set, then shots, seed and method in the order
        given: ``method``, ``dataset``, ``shots``, ``seed``, ``base``, ``new``, ``hm`` (percent;
        NaN where a method cannot score new classes) and, for LLU models,
        ``identity_distance`` (the fitted adapters' distance to the identity, Table 4's last row).
    """
    datasets, (shots, seeds) = list(datasets), shots_and_seeds(shots, seeds)
    if not methods or not datasets:
        raise ValueError(f"run_grid needs at least one method, data set, shot count and seed; got "
                         f"{len(methods)} methods, {len(datasets)} data sets")
    if not isinstance(methods, dict):
        raise ValueError(f"methods must be a dict of method name -> estimator, got a {type(methods).__name__}")
    for index, data in enumerate(datasets):
        lacking = [name for name in ("name", "train_X", "train_y", "test_X", "test_y", "text") if not hasattr(data, name)]
        if lacking:
            raise ValueError(f"datasets[{index}] is a {type(data).__name__} without {', '.join(lacking)}; expected an "
                             "embedded data set (llu_core.embed_dataset)")
    records = []
    for data in datasets:
        runs = [(shot, seed, name) for shot in shots for seed in seeds for name in methods]
        fitted = fit_together([base_training_job(methods[name], data.train_X, data.train_y, data.text, shot, seed)
                               for shot, seed, name in runs], progress=progress)
        for (shot, seed, name), model in zip(progress_bar(runs, show=progress, desc=f"grid: {data.name}"), fitted):
            scores = score_base_to_new(model, data.test_X, data.test_y, data.text)
            record = {"method": name, "dataset": data.name, "shots": shot, "seed": seed}
            record.update({metric: float(scores[metric]) for metric in METRICS})
            if isinstance(model, LLUClassifier):  # Table 4's last row
                record["identity_distance"] = float(model.identity_distance_)
            records.append(record)
    return records
