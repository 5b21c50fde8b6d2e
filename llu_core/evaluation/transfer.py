"""Transfer: the paper's cross-dataset (Sec. 4.2, Table 2) and domain-generalisation (Sec. 4.3,
Table 3) protocols, their records, summaries and tables.

Both protocols fit a classifier once on a *source* data set, on ``shots`` training images of
every one of its classes (no base/new split; the paper: ImageNet, 16 shots, seeds 1-3), and
evaluate the fitted model unchanged elsewhere:

- **cross-dataset**: on other data sets, each against its own classes (the text embeddings of
  its class names) and its own test split;
- **domain generalisation**: on test sets of the source's classes in another domain. Every
  target class must be a source class with the identical text embedding (same name, same
  prompts); a target that holds a subset of the classes is scored against that subset only
  (ImageNet-A and -R hold 200 of ImageNet's 1000 classes: a softmax over all 1000 would count
  confusions with classes that have no image there).

Targets are embedded as the fitted model sees its inputs: with the offline model, their image
features are centred by the *source's* centre (:func:`llu_core.data.embedded.embed_target`).

The local mask says where a fitted LLU can act: far from its training embeddings D, α → 0
(Eq. 5) and LLU scores like zero-shot CLIP. So every record of an LLU model carries the mean α
of the evaluated test images against D_image and of the evaluated class texts against D_text.

Records follow the base-to-new grid (:func:`llu_core.evaluation.grids.run_grid`): one flat dict per
(method, shots, seed, evaluated data set) with ``protocol`` (``"source"`` for the source's
own test split, ``"cross_dataset"`` or ``"domain_generalisation"``), ``method``, ``source``,
``dataset``, ``shots``, ``seed``, ``accuracy`` (percent) and, for LLU models, ``mean_alpha``,
``mean_alpha_text`` and ``identity_distance``.
"""

import numpy as np

from ..estimators import LLUClassifier, match_classes
from ..estimators.together import fit_together
from ..utils.progress import progress_bar
from ..utils.validation import as_embeddings, as_labels, check_distinct_classes
from .protocols import few_shot_indices, labelled_rows, seeded_clone, shots_and_seeds

PROTOCOLS = ("source", "cross_dataset", "domain_generalisation")


def source_training_job(classifier, X_train, y_train, T, shots, seed):
    """What :func:`fit_on_source` fits: a clone of ``classifier`` and its few-shot training set.

    The parameters are :func:`fit_on_source`'s. Returns ``(estimator, X, y, T)``: the unfitted
    clone (its ``seed`` set to ``seed`` when it has one) and the arguments of its ``fit``.
    """
    X_train, y_train, T = labelled_rows(X_train, y_train, T, "y_train")
    chosen = few_shot_indices(y_train, shots, seed)
    return seeded_clone(classifier, seed), X_train[chosen], y_train[chosen], T


def fit_on_source(classifier, X_train, y_train, T, shots, seed):
    """Fit a clone of ``classifier`` on ``shots`` training samples of every class (seeded).

    The source side of both transfer protocols: no base/new split, all classes are trained.

    Parameters
    ----------
    classifier : an estimator of :mod:`llu_core.estimators` (left unfitted).
    X_train : array-like, shape (n_train, d)
        The source's training pool of image embeddings.
    y_train : array-like of int, shape (n_train,)
        Labels into the rows of ``T``.
    T : array-like or ClassTexts, shape (C, d)
        The source's class text embeddings; a :class:`~llu_core.utils.class_texts.ClassTexts`
        stays one (the prompt learners need its names and tower).
    shots, seed : int
        Samples per class (:func:`llu_core.evaluation.protocols.few_shot_indices`), and the seed of the
        draw and of the training (set on the clone when it has a ``seed``).

    Returns
    -------
    The fitted clone.
    """
    model, X, y, T = source_training_job(classifier, X_train, y_train, T, shots, seed)
    return model.fit(X, y, T)


def check_target(source, target, protocol):
    """Raise ``ValueError`` unless ``target`` can be scored by a model fitted on ``source``.

    Both are embedded data sets (``name``, ``test_X``, ``test_y``, ``text``; the source also
    ``train_X``). The target's test rows must be finite embeddings, its labels rows of its
    ``text``, whose rows must be distinct classes; every message starts with ``target
    '<name>'``. The embedding dimensions must agree; where both carry an ``image_centre``,
    the target must have been centred by the source's (:func:`llu_core.data.embedded.embed_target`);
    for ``"domain_generalisation"`` every class text of the target must be one of the source's
    (cosine ≥ 1 − 1e-5, see :func:`llu_core.estimators.match_classes`).
    """
    if protocol not in PROTOCOLS[1:]:
        raise ValueError(f"protocol must be one of {PROTOCOLS[1:]}, got {protocol!r}")
    label = f"target {target.name!r}"
    rows = {what: as_embeddings(getattr(target, what), f"{label} {what}") for what in ("test_X", "text")}
    centres = [getattr(data, "image_centre", None) for data in (source, target)]
    if all(centre is not None for centre in centres) and not np.array_equal(*centres):
        raise ValueError(f"{label} was centred by another image centre than the source "
                         f"{source.name!r}; a model fitted on the source assumes the source's centre: embed the "
                         "target with llu_core.data.embedded.embed_target(..., centre=source.image_centre)")
    dim = np.asarray(source.text).shape[1]
    for what, values in rows.items():
        if values.shape[1] != dim:
            raise ValueError(f"{label} has {what} of embedding dimension {values.shape[1]}, but the source "
                             f"{source.name!r} has {dim}: embed both with the same backbone")
    check_distinct_classes(rows["text"], f"{label} text", getattr(target.text, "classnames", None))
    as_labels(target.test_y, rows["test_X"].shape[0], rows["text"].shape[0], f"{label} test_y")
    if protocol == "domain_generalisation":
        T, T_source = (as_embeddings(data.text, f"{data.name} text") for data in (target, source))
        unmatched = np.flatnonzero((match_classes(T, T_source) < 0).numpy())
        if unmatched.size:
            names = [target.classnames[i] for i in unmatched[:5]] if hasattr(target, "classnames") else unmatched[:5]
            raise ValueError(f"domain generalisation needs the source's classes, but {unmatched.size} class(es) of "
                             f"{target.name!r} (e.g. {names}) have no identical text embedding in {source.name!r}; "
                             "use the cross-dataset protocol for other classes")


def score_target(model, data):
    """Score a fitted model on the test split of ``data`` against its own classes.

    Returns
    -------
    dict with ``accuracy`` (percent) and, for an :class:`~llu_core.estimators.LLUClassifier`,
    ``mean_alpha`` / ``mean_alpha_text``: the mean α (Eq. 5) of the test images against
    D_image and of the class texts against D_text, and ``identity_distance``.
    """
    scores = {"accuracy": 100.0 * model.score(data.test_X, data.test_y, data.text)}
    if isinstance(model, LLUClassifier):
        scores["mean_alpha"] = float(model.local_weight(data.test_X, "image").mean())
        scores["mean_alpha_text"] = float(model.local_weight(data.text, "text").mean())
        scores["identity_distance"] = float(model.identity_distance_)
    return scores


def run_transfer(methods, source, cross_dataset=(), domain_generalisation=(), shots=(16,), seeds=(1, 2, 3),
                 progress=True, return_models=False):
    """Fit every method on the source once per shot count and seed; score it on every target.

    The fits run together (:func:`llu_core.estimators.together.fit_together`): the LLU models
    as one batched problem, each equal to its fit alone.

    Parameters
    ----------
    methods : dict of str -> estimator
        Unfitted classifiers by method name; each run fits a fresh clone.
    source : embedded data set
        ``name``, ``train_X`` (n, d), ``train_y``, ``test_X``, ``test_y``, ``text`` (C, d), such
        as :func:`llu_core.data.embedded.embed_dataset` returns.
    cross_dataset, domain_generalisation : iterables of embedded data sets
        Targets of each protocol (``name``, ``test_X``, ``test_y``, ``text``), such as
        :func:`llu_core.data.embedded.embed_target` returns; checked by :func:`check_target`.
    shots, seeds : iterables of int
        Training images per source class, and seeds (few-shot draw and training); distinct
        values (:func:`llu_core.evaluation.protocols.shots_and_seeds`).
    progress : bool
        Show a tqdm progress bar over the fits.
    return_models : bool
        Also return the fitted models (as scikit-learn's ``cross_validate(return_estimator=True)``
        does), to take one apart without fitting it again.

    Returns
    -------
    list of dict, or (list of dict, dict)
        One record per (shots, seed, method, evaluated data set): the source's own test split
        first (protocol ``"source"``), then the targets (see the module docstring). With
        ``return_models``, also ``{(method, shots, seed): fitted model}``.
    """
    targets = [("source", source)] + [("cross_dataset", data) for data in cross_dataset] + \
        [("domain_generalisation", data) for data in domain_generalisation]
    shots, seeds = shots_and_seeds(shots, seeds)
    if not methods or len(targets) == 1:
        raise ValueError(f"run_transfer needs at least one method, target, shot count and seed; got "
                         f"{len(methods)} methods, {len(targets) - 1} targets")
    names = [data.name for _, data in targets[1:]]
    repeated = sorted({name for name in names if names.count(name) > 1})
    if repeated:
        raise ValueError(f"targets {repeated} are listed more than once; each target is evaluated once")
    for protocol, data in targets[1:]:
        check_target(source, data, protocol)
    runs = [(shot, seed, name) for shot in shots for seed in seeds for name in methods]
    fitted = fit_together([source_training_job(methods[name], source.train_X, source.train_y, source.text, shot, seed)
                           for shot, seed, name in runs], progress=progress)
    records, models = [], {}
    for (shot, seed, name), model in zip(progress_bar(runs, show=progress, desc="transfer"), fitted):
        for protocol, data in targets:
            record = {"protocol": protocol, "method": name, "source": source.name, "dataset": data.name,
                      "shots": shot, "seed": seed}
            record.update(score_target(model, data))
            records.append(record)
        if return_models:
            models[name, shot, seed] = model
    return (records, models) if return_models else records


def gains_over_zero_shot(summary, shots=16, alpha_method="llu"):
    """Accuracy gain over zero-shot against the mean α of ``alpha_method``, per data set.

    Returns
    -------
    list of dict
        One row per (method other than zero-shot, evaluated data set except averages):
        ``method``, ``dataset``, ``protocol``, ``alpha`` (the mean α of ``alpha_method``'s
        model on the data set's test images) and ``gain`` (accuracy − zero-shot accuracy, in
        points; means over seeds).
    """
    rows = [row for row in summary if row["shots"] == int(shots) and row["dataset"] != "average"]
    zero_shot = {row["dataset"]: row["accuracy_mean"] for row in rows if row["method"] == "zero_shot"}
    alpha = {row["dataset"]: row["mean_alpha_mean"] for row in rows
             if row["method"] == alpha_method and "mean_alpha_mean" in row}
    if not zero_shot or not alpha:
        raise ValueError(f"the summary needs zero_shot and {alpha_method!r} rows at {shots} shots")
    return [{"method": row["method"], "dataset": row["dataset"], "protocol": row["protocol"],
             "alpha": alpha[row["dataset"]], "gain": row["accuracy_mean"] - zero_shot[row["dataset"]]}
            for row in rows if row["method"] != "zero_shot" and row["dataset"] in zero_shot and row["dataset"] in alpha]

