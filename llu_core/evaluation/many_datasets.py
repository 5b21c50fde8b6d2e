"""Many data sets, one model: fitted one after another, scored on each and on a data set never fitted.

The protocol of the chapter "One model, many data sets" (the paper's Sec. 5, future work):
data sets A, B, C, ... embedded alike (one backbone; with the offline model, one image centre)
arrive one after another, and every method is fitted on ``shots`` training images of every
class of each. Each data set's test set is then scored

- against its **own** classes (the model is told which data set an image comes from), and
- against the **union** of the classes of every data set of the experiment (it is not);

and every method is scored on data sets it was never fitted on (the **unseen** setting), against
their own classes and the union: either given data sets (``unseen=[...]``) or, with
``unseen=None``, each fitted data set held out in turn, the methods fitted on the others.

Methods (the records' ``method``):

- ``"multi_<rule>"``: :class:`~llu_core.estimators.multi.MultiLLUClassifier` with combination
  rule ``<rule>``, assembled by adding each data set's LLU, fitted alone. Held out: the same
  model with that data set removed (nothing is refitted).
- ``"oracle_llu"``: the data set's own LLU, as if an oracle named each image's data set (the
  "union" column scores that LLU against the union's classes). No oracle for an unseen data set.
- ``"union_llu"``: one LLU fitted on the union of the training sets against the union of their
  classes: refitted on everything whenever a data set arrives.
- ``"sequential_clip_adapter"``: CLIP-Adapter fine-tuned on A, then B, then C, ... (warm start,
  each data set against its own classes): sequential fine-tuning, which forgets. What it
  forgot shows beside ``"sequential_clip_adapter_when_fitted"``: the same training scored on
  each data set right after its own turn (on A after A, on B after A then B, ...).
- ``"zero_shot"``.

A record is one score: ``method``, ``dataset``, ``setting`` (``"fitted"`` or ``"unseen"``),
``classes`` (``"own"`` or ``"union"``), ``shots``, ``seed`` and ``accuracy`` (percent).
"""

import copy

import numpy as np
import torch
from sklearn.base import clone

from ..estimators import CLIPAdapterClassifier, LLUClassifier, ZeroShotClassifier
from ..estimators.multi import MultiLLUClassifier, union_classes
from ..estimators.together import fit_together
from ..method.combination import COMBINATIONS
from ..utils.progress import progress_bar
from .protocols import few_shot_indices, seeded_clone, shots_and_seeds
from .summary import summarise
from .training_speed import best_seconds

SETTINGS = ("fitted", "unseen")
CLASSES = ("own", "union")


def check_datasets(datasets, unseen=()):
    """Raise ``ValueError`` unless the data sets can share one model: distinct names, one
    embedding dimension, one image centre (where they carry one), and at least two to fit."""
    every = list(datasets) + list(unseen)
    if len(datasets) < 2:
        raise ValueError(f"datasets: fit at least two data sets one after another, got {len(datasets)}")
    names = [data.name for data in every]
    repeated = sorted({name for name in names if names.count(name) > 1})
    if repeated:
        raise ValueError(f"data sets {repeated} are listed more than once; each data set needs its own name")
    first = every[0]
    for data in every[1:]:
        if np.asarray(data.text).shape[1] != np.asarray(first.text).shape[1]:
            raise ValueError(f"data set {data.name!r} has embedding dimension {np.asarray(data.text).shape[1]}, "
                             f"{first.name!r} has {np.asarray(first.text).shape[1]}: embed all with one backbone")
        centres = [getattr(item, "image_centre", None) for item in (first, data)]
        if all(centre is not None for centre in centres) and not np.array_equal(*centres):
            raise ValueError(f"data set {data.name!r} was centred by another image centre than {first.name!r}; one "
                             "model sees one embedding: embed every data set with centre=first.image_centre")


def few_shot_set(data, shots, seed):
    """``shots`` seeded training images of every class of ``data``: (X, y)."""
    chosen = few_shot_indices(data.train_y, shots, seed)
    return np.asarray(data.train_X, dtype=np.float32)[chosen], np.asarray(data.train_y)[chosen]


def union_training_set(datasets, shots, seed):
    """The few-shot training sets of ``datasets`` as one, labelled by the union of their classes.

    Returns
    -------
    (X, y, T): images (n, d), labels into ``T``, the union's class texts
    (:func:`~llu_core.estimators.multi.union_classes`).
    """
    T, rows = union_classes({data.name: data.text for data in datasets})
    parts = [few_shot_set(data, shots, seed) for data in datasets]
    X = np.concatenate([X for X, _ in parts])
    y = np.concatenate([rows[data.name][labels] for data, (_, labels) in zip(datasets, parts)])
    return X, y, T


def fit_sequentially(classifier, datasets, shots, seed, fitted=None):
    """Fine-tune one model on data set after data set: the usual way, which forgets.

    A clone of ``classifier`` (its ``seed`` set, ``warm_start=True``) is fitted on ``shots``
    images of every class of the first data set against its classes, then trained further on
    the second against the second's classes, and so on.

    Parameters
    ----------
    classifier : CLIPAdapterClassifier, or any estimator with ``warm_start``
    datasets : sequence of embedded data sets, in training order
    shots, seed : int
    fitted : dict, optional
        Models already trained on prefixes of an order, by the tuple of data set names; filled
        in, so orders that share a prefix share its training.

    Returns
    -------
    The model after the last data set.
    """
    fitted = {} if fitted is None else fitted
    key = tuple(data.name for data in datasets)
    if key not in fitted:
        if len(datasets) == 1:
            model = seeded_clone(classifier, seed).set_params(warm_start=True)
        else:
            model = copy.deepcopy(fit_sequentially(classifier, datasets[:-1], shots, seed, fitted))
        fitted[key] = model.fit(*few_shot_set(datasets[-1], shots, seed), datasets[-1].text)
    return fitted[key]


def assemble(updates, datasets, combine="max"):
    """A :class:`MultiLLUClassifier` with rule ``combine`` holding each data set's fitted LLU, in order."""
    model = MultiLLUClassifier(combine=combine)
    for update, data in zip(updates, datasets):
        model.add(update, data.name, data.text)
    return model


def interference(model, datasets):
    """How much each data set's update acts on every data set: the mean α (Eq. 5) per pair.

    Parameters
    ----------
    model : MultiLLUClassifier
    datasets : sequence of embedded data sets (fitted or not)

    Returns
    -------
    dict
        ``updates`` (the model's data sets, the columns), ``datasets`` (the rows), ``image`` and
        ``text``: lists of rows, the mean α_k of the row's test images (class texts) under
        column k's D_image (D_text); ``routing``: per fitted data set, the fraction of its test
        images whose largest α is its own update's.
    """
    updates = model.names_
    image = [model.local_weights(data.test_X, "image") for data in datasets]
    routing = {data.name: float((alphas.argmax(axis=1) == updates.index(data.name)).mean())
               for data, alphas in zip(datasets, image) if data.name in updates}
    return {"updates": updates, "datasets": [data.name for data in datasets],
            "image": [alphas.mean(axis=0).tolist() for alphas in image],
            "text": [model.local_weights(data.text, "text").mean(axis=0).tolist() for data in datasets],
            "routing": routing}


def run_many_datasets(datasets, unseen=None, shots=16, seeds=(1, 2, 3), llu=None, clip_adapter=None,
                      combines=COMBINATIONS, progress=True):
    """Fit every method on ``datasets`` one after another; score each data set and the unseen ones.

    Parameters
    ----------
    datasets : sequence of embedded data sets
        Fitted in this order: ``name``, ``train_X``, ``train_y``, ``test_X``, ``test_y``,
        ``text`` (a ClassTexts), embedded alike (:func:`check_datasets`).
    unseen : sequence of embedded data sets, optional
        Data sets never fitted (``name``, ``test_X``, ``test_y``, ``text``); ``None`` holds each
        of ``datasets`` out in turn (the methods fitted on the others, the multi-data-set model
        by removing it).
    shots : int
        Training images per class of every data set.
    seeds : iterable of int
        Seeds of the few-shot draws and the training.
    llu, clip_adapter : estimator, optional
        The unfitted LLU (default ``LLUClassifier()``) and CLIP-Adapter (default
        ``CLIPAdapterClassifier()``) every data set is fitted with.
    combines : iterable of str
        The combination rules compared (:data:`~llu_core.method.combination.COMBINATIONS`).
    progress : bool
        Show progress bars.

    Returns
    -------
    dict
        ``records`` (module docstring), ``interference`` (:func:`interference` of the model on
        every data set, the mean over seeds) and ``union_classes`` (the classes of the union).
    """
    datasets, held_out = list(datasets), unseen is None
    unseen = [] if held_out else list(unseen)
    check_datasets(datasets, unseen)
    shots, seeds = shots_and_seeds([shots], seeds)
    shots = shots[0]
    llu = LLUClassifier() if llu is None else llu
    clip_adapter = CLIPAdapterClassifier() if clip_adapter is None else clip_adapter
    every = datasets + unseen
    union_T, union_rows = union_classes({data.name: data.text for data in every})
    # The data sets each unseen one is scored with: the others (held out) or all of them.
    scopes = {data.name: [other for other in datasets if other is not data] for data in datasets} if held_out \
        else {data.name: datasets for data in unseen}
    records, maps = [], []
    for seed in progress_bar(seeds, show=progress, desc="seeds"):
        jobs = [(seeded_clone(llu, seed), *few_shot_set(data, shots, seed), data.text) for data in datasets]
        scope_lists = [datasets, *scopes.values()]
        jobs += [(seeded_clone(llu, seed), *union_training_set(scope, shots, seed)) for scope in scope_lists]
        fitted = fit_together(jobs, progress=progress)
        own_llu, union_llu = fitted[:len(datasets)], dict(zip(["*", *scopes], fitted[len(datasets):]))
        sequences = {}
        multi = {rule: assemble(own_llu, datasets, rule) for rule in combines}
        zero_shot = ZeroShotClassifier().fit(*few_shot_set(datasets[0], shots, seed), datasets[0].text)
        maps.append(interference(multi[combines[0]], every))

        def score(method, model, data, setting):
            for classes, T, labels in (("own", data.text, data.test_y),
                                       ("union", union_T, union_rows[data.name][data.test_y])):
                records.append({"method": method, "dataset": data.name, "setting": setting, "classes": classes,
                                "shots": shots, "seed": seed, "accuracy": 100.0 * model.score(data.test_X, labels, T)})

        for position, (data, own) in enumerate(zip(datasets, own_llu)):
            for rule, model in multi.items():
                score(f"multi_{rule}", model, data, "fitted")
            score("oracle_llu", own, data, "fitted")
            score("union_llu", union_llu["*"], data, "fitted")
            score("sequential_clip_adapter", fit_sequentially(clip_adapter, datasets, shots, seed, sequences), data,
                  "fitted")
            score("sequential_clip_adapter_when_fitted",
                  fit_sequentially(clip_adapter, datasets[:position + 1], shots, seed, sequences), data, "fitted")
            score("zero_shot", zero_shot, data, "fitted")
        for data in unseen or datasets:
            scope = scopes[data.name]
            for rule, model in multi.items():
                score(f"multi_{rule}", copy.deepcopy(model).remove(data.name) if held_out else model, data, "unseen")
            score("union_llu", union_llu[data.name], data, "unseen")
            score("sequential_clip_adapter", fit_sequentially(clip_adapter, scope, shots, seed, sequences), data,
                  "unseen")
            score("zero_shot", zero_shot, data, "unseen")
    return {"records": records, "interference": _mean_maps(maps), "union_classes": list(union_T.classnames)}


def _mean_maps(maps):
    """The mean over seeds of :func:`interference`'s results."""
    mean = dict(maps[0])
    for key in ("image", "text"):
        mean[key] = np.mean([m[key] for m in maps], axis=0).tolist()
    mean["routing"] = {name: float(np.mean([m["routing"][name] for m in maps])) for name in maps[0]["routing"]}
    return mean


def summarise_many(records):
    """Mean accuracy over seeds per (method, data set, setting, classes, shots), with its standard error.

    Returns :func:`~llu_core.evaluation.summary.summarise`'s rows plus ``accuracy_se``: the
    standard deviation over seeds (``ddof=1``) over √(seeds); NaN for one seed. The average over
    the data sets of each (method, setting, classes, shots) follows, its standard error from the
    per-seed averages (only for methods scored on every data set of the setting).
    """
    groups, names = {}, {}
    for record in records:
        key = (record["method"], record["setting"], record["classes"], record["shots"], record["seed"])
        groups.setdefault(key, []).append(record)
        names.setdefault(record["setting"], set()).add(record["dataset"])
    averaged = list(records)
    for (_, setting, *_), group in groups.items():
        if {record["dataset"] for record in group} == names[setting]:
            averaged.append({**group[0], "dataset": "average",
                             "accuracy": float(np.mean([record["accuracy"] for record in group]))})
    rows = summarise(averaged)
    for row in rows:
        n = row["n_seeds"]
        row["accuracy_se"] = row["accuracy_std"] * np.sqrt(n / (n - 1)) / np.sqrt(n) if n > 1 else float("nan")
    return rows


def measure_cost(datasets, shots=16, seed=1, llu=None, combines=("max", "mixture"), repeats=3):
    """What an added data set costs: its fit, the memory of its update, the model's scoring time.

    The data sets are added one after another; at every size K the function times (best of
    ``repeats``, wall clock) the fit of the new data set's LLU alone, the fit of one LLU on the
    union of the K data sets (what a single model would refit), and scoring every test image of
    the K data sets against the union's classes under each rule of ``combines``.

    Returns
    -------
    list of dict, one per K: ``n_datasets``, ``fit_added_s``, ``fit_union_s``, ``score_<rule>_s``,
    ``n_test``, ``update_floats`` (the float32 numbers the added update stores: its two adapters
    and its D_image and D_text) and ``model_floats`` (all updates so far).
    """
    llu = LLUClassifier() if llu is None else llu
    rows, updates = [], []
    for k, data in enumerate(datasets, start=1):
        X, y = few_shot_set(data, shots, seed)
        update = seeded_clone(llu, seed)
        added = best_seconds(lambda: update.fit(X, y, data.text), 1)
        union = seeded_clone(llu, seed)
        fit_union = best_seconds(lambda: union.fit(*union_training_set(datasets[:k], shots, seed)), 1)
        updates.append(update)
        size = sum(tensor.numel() for tensor in (*update.image_adapter_.parameters(), *update.text_adapter_.parameters(),
                                                 update.image_centres_, update.text_centres_))
        row = {"n_datasets": k, "fit_added_s": added, "fit_union_s": fit_union, "update_floats": int(size),
               "model_floats": int(size) + (rows[-1]["model_floats"] if rows else 0)}
        X_test = np.concatenate([other.test_X for other in datasets[:k]])
        row["n_test"] = int(X_test.shape[0])
        for rule in combines:
            model = assemble(updates, datasets[:k], rule)
            with torch.no_grad():
                row[f"score_{rule}_s"] = best_seconds(lambda: model.decision_function(X_test, model.text_), repeats)
        rows.append(row)
    return rows
