"""The evaluation protocol of CoOp/CoCoOp: base/new split, few-shot sampling, harmonic mean.

Base-to-new generalisation (CoCoOp, Sec. 4.1 of the paper): the classes are split in half,
a classifier is fitted on few shots of the base classes and evaluated on the base classes'
test images (against the base classes only) and on the new classes' test images (against
the new classes only); the harmonic mean of both accuracies sums the trade-off up.
"""

import copy
import math

import numpy as np
from sklearn.base import clone

from ..estimators.together import fit_together
from ..utils.class_texts import as_class_rows
from ..utils.validation import as_labels, check_integer, check_seed


def base_new_split(class_ids):
    """Split class labels into (base, new) by CoOp's rule: sorted, the first ⌈n/2⌉ are base.

    Parameters
    ----------
    class_ids : array-like of int
        Class labels (duplicates are ignored).

    Returns
    -------
    (numpy.ndarray, numpy.ndarray), int64: base labels and new labels, each sorted.
    """
    labels = np.unique(np.asarray(class_ids).astype(np.int64))
    if labels.size == 0:
        raise ValueError("class_ids is empty; expected at least one class label")
    n_base = math.ceil(labels.size / 2)
    return labels[:n_base], labels[n_base:]


def few_shot_indices(labels, shots, seed):
    """Pick ``shots`` samples of every class without replacement, seeded.

    Parameters
    ----------
    labels : array-like of int, shape (n,)
        The class of every sample of the pool.
    shots : int
        Samples per class, at least 1.
    seed : int
        The same seed picks the same samples.

    Returns
    -------
    numpy.ndarray, int64, shape (n_classes · shots,): indices into ``labels``, class by class
    in sorted class order.
    """
    labels = np.asarray(labels)
    if labels.ndim != 1 or labels.size == 0:
        raise ValueError(f"labels must be a non-empty 1-D array, got shape {labels.shape}")
    check_integer("shots", shots)
    rng = np.random.default_rng(check_seed(seed))
    picked = []
    for label in np.unique(labels):
        members = np.flatnonzero(labels == label)
        if members.size < shots:
            raise ValueError(f"class {label} has {members.size} sample(s), fewer than shots={shots}")
        picked.append(rng.choice(members, size=shots, replace=False))
    return np.concatenate(picked).astype(np.int64)


def shots_and_seeds(shots, seeds):
    """The shot counts and seeds of a grid as lists of Python ints, checked.

    Raises ``ValueError`` naming ``shots`` or ``seeds`` for an empty list, a value that is not
    a positive integer (shots) or an integer in [0, 2**63) (seeds), or a value listed twice
    (a repeated seed would be counted twice in the mean over seeds).
    """
    checked = []
    for name, values, check in (("shots", shots, lambda v: check_integer("shots", v)),
                                ("seeds", seeds, lambda v: check_seed(v, "seeds"))):
        values = list(values)
        if not values:
            raise ValueError(f"{name} is empty; expected at least one value")
        for value in values:
            check(value)
        repeated = sorted({int(v) for v in values if values.count(v) > 1})
        if repeated:
            raise ValueError(f"{name} lists {repeated} more than once; expected distinct values")
        checked.append([int(value) for value in values])
    return checked


def check_shots(labels, classnames, shots, hold_out):
    """Raise ``ValueError`` naming the first class with fewer than ``shots`` images (``shots`` + 1
    when ``hold_out``: one to evaluate on), or when ``shots`` is not a positive integer.

    Parameters
    ----------
    labels : array-like of int, shape (n,)
        The pool's labels into ``classnames``.
    classnames : list of str
    shots : int
    hold_out : bool
        Whether the images not among the shots are the test split.
    """
    check_integer("shots", shots)
    needed = shots + int(hold_out)
    counts = np.bincount(np.asarray(labels, dtype=np.int64), minlength=len(classnames))
    for label in np.flatnonzero(counts < needed):
        held_out = " and at least one to hold out" if hold_out else ""
        raise ValueError(f"shots={shots}: class {classnames[label]!r} has {counts[label]} image(s); it needs {needed} "
                         f"({shots} to fit on{held_out}); use fewer shots or add images")


def hold_out_shots(data, shots, seed):
    """Fit on ``shots`` images per class, evaluate on the others: the training split becomes the shots.

    For a data set that is one pool of images, such as a folder of your own images without
    ``train/`` and ``test/`` folders (:mod:`llu_core.data.folders`), whose test split is empty: the
    training split becomes ``shots`` images of every class (:func:`few_shot_indices`, ``seed``) and
    the test split every other image of the pool. A data set with a test split keeps it and only
    its training split is cut to the shots. Nothing else changes; in particular the offline
    model's ``image_centre`` stays the mean feature of the whole pool (no label is used for it).

    Parameters
    ----------
    data : EmbeddedDataset
        As :func:`llu_core.embed_dataset` returns; ``train_X``/``train_y`` are the pool.
    shots, seed : int
        As in :func:`few_shot_indices`.

    Returns
    -------
    EmbeddedDataset
        A copy whose training rows are the shots, class by class, and whose test rows are the
        held-out images in the pool's order (or the data set's own test split).

    Raises
    ------
    ValueError
        When a class has too few images: ``shots``, and without a test split one more to hold
        out; the message names the class.
    """
    labels = np.asarray(data.train_y)
    pool_only = len(data.test_y) == 0
    check_shots(labels, data.classnames, shots, hold_out=pool_only)
    chosen = few_shot_indices(labels, shots, seed)
    split = copy.copy(data)
    split.train_X, split.train_y = data.train_X[chosen], labels[chosen]
    if pool_only:
        held_out = np.setdiff1d(np.arange(labels.size), chosen)
        split.test_X, split.test_y = data.train_X[held_out], labels[held_out]
    return split


def validation_shots(shots):
    """Validation samples per class for a ``shots``-shot run: min(shots, 4), CoOp's rule.

    (KaiyangZhou/CoOp, ``datasets/*.py``: ``num_shots_val = min(num_shots, 4)``.)
    """
    return min(shots, 4)


def harmonic_mean(base, new):
    """Harmonic mean 2·b·n / (b + n) of the base and new accuracies (0 when both are 0)."""
    if base + new == 0:
        return 0.0
    return 2.0 * base * new / (base + new)


def base_training_indices(y_train, n_classes, shots, seed):
    """The training pool rows that base-to-new training uses: ``shots`` of every base class.

    Parameters
    ----------
    y_train : numpy.ndarray of int, shape (n_train,)
        Labels of the training pool into ``range(n_classes)``.
    n_classes : int
        C, the number of classes (base and new).
    shots, seed : int
        As in :func:`few_shot_indices`.

    Returns
    -------
    numpy.ndarray, int64: indices into ``y_train``, base class by base class.
    """
    base, _ = base_new_split(np.arange(n_classes))
    pool = np.flatnonzero(np.isin(y_train, base))
    return pool[few_shot_indices(y_train[pool], shots, seed)]


def labelled_rows(X, y, T, name):
    """``X`` (n, d) as float32 rows, ``y`` as numpy labels into the rows of ``T`` (checked;
    ``name`` names them in errors) and ``T`` as class rows (a ClassTexts stays one)."""
    T, X = as_class_rows(T), np.asarray(X, dtype=np.float32)
    return X, as_labels(y, X.shape[0], T.shape[0], name).numpy(), T


def seeded_clone(classifier, seed):
    """An unfitted clone of ``classifier``, its ``seed`` set to ``seed`` when it has one."""
    model = clone(classifier)
    if "seed" in model.get_params():
        model.set_params(seed=seed)
    return model


def base_training_job(classifier, X_train, y_train, T, shots, seed):
    """What :func:`fit_on_base` fits: a clone of ``classifier`` and its few-shot base-class training set.

    Picks ``shots`` training samples of every base class from the pool (``seed``) and clones
    ``classifier`` (its ``seed`` set to ``seed`` when it has one); its classes are the rows of
    ``T[base]``, with ``base, new = base_new_split(range(C))``. The parameters are
    :func:`fit_on_base`'s.

    Returns
    -------
    (estimator, X, y, T_base): the unfitted clone and the arguments of its ``fit``.
    """
    X_train, y_train, T = labelled_rows(X_train, y_train, T, "y_train")
    base, _ = base_new_split(np.arange(T.shape[0]))
    chosen = base_training_indices(y_train, T.shape[0], shots, seed)
    return seeded_clone(classifier, seed), X_train[chosen], np.searchsorted(base, y_train[chosen]), T[base]


def fit_on_base(classifier, X_train, y_train, T, shots, seed):
    """Fit a clone of ``classifier`` on few shots of the base classes (CoCoOp's protocol).

    Picks ``shots`` training samples of every base class from the pool (``seed``) and fits a
    clone of ``classifier`` (its ``seed`` set to ``seed`` when it has one) on them against
    ``T[base]``, with ``base, new = base_new_split(range(C))``.

    Parameters
    ----------
    classifier : an estimator of :mod:`llu_core.estimators` (left unfitted).
    X_train : array-like, shape (n_train, d)
        The training pool's image embeddings.
    y_train : array-like of int, shape (n_train,)
        Labels into the rows of ``T``.
    T : array-like or ClassTexts, shape (C, d)
        Text embeddings of all classes; a :class:`~llu_core.utils.class_texts.ClassTexts` is sliced
        with its class names (what prompt learners need).
    shots, seed : int

    Returns
    -------
    The fitted clone; its classes are the rows of ``T[base]``.
    """
    model, X, y, T_base = base_training_job(classifier, X_train, y_train, T, shots, seed)
    return model.fit(X, y, T_base)


def fit_all_on_base(classifiers, X_train, y_train, T, shots, seed, progress=True):
    """:func:`fit_on_base` for several classifiers at once: the LLU models as one batched problem.

    Each fitted model equals its own :func:`fit_on_base` (see
    :func:`llu_core.estimators.together.fit_together`).

    Parameters
    ----------
    classifiers : dict of str -> estimator
        Unfitted classifiers by name (left unfitted).
    X_train, y_train, T, shots, seed
        As for :func:`fit_on_base`.
    progress : bool
        Show progress bars.

    Returns
    -------
    dict of str -> fitted clone, in the order of ``classifiers``.
    """
    jobs = [base_training_job(classifier, X_train, y_train, T, shots, seed) for classifier in classifiers.values()]
    return dict(zip(classifiers, fit_together(jobs, progress=progress)))


def correct_base_to_new(model, X_test, y_test, T):
    """Which test images a model fitted by :func:`fit_on_base` gets right, base to new.

    The base classes' test rows are scored against ``T[base]``, the new classes' against
    ``T[new]``, as :func:`score_base_to_new` does; image by image, two models can then be
    compared on the same images (:func:`llu_core.evaluation.noise.paired_difference`).

    Returns
    -------
    dict
        ``"base"``, ``"new"``: boolean arrays over the base and the new classes' test rows, in
        their order in ``y_test``; ``"new"`` is None for a classifier that cannot score unseen
        classes (the linear probe).
    """
    X_test, y_test, T = labelled_rows(X_test, y_test, T, "y_test")
    base, new = base_new_split(np.arange(T.shape[0]))
    if new.size == 0:
        raise ValueError(f"T has {T.shape[0]} class(es): a base-to-new evaluation needs at least two, "
                         "so that the new half is not empty")

    def correct(classes):
        rows = np.flatnonzero(np.isin(y_test, classes))
        if rows.size == 0:
            raise ValueError(f"y_test has no rows of classes {classes.tolist()[:5]}...; cannot evaluate")
        return model.predict(X_test[rows], T[classes]) == np.searchsorted(classes, y_test[rows])

    return {"base": correct(base), "new": correct(new) if model.scores_unseen_classes else None}


def score_base_to_new(model, X_test, y_test, T):
    """Score a model fitted by :func:`fit_on_base`: the base classes' test rows against
    ``T[base]``, the new classes' test rows against ``T[new]``, and the harmonic mean.

    Returns
    -------
    dict with "base", "new", "hm": accuracies in percent (:func:`correct_base_to_new`'s share
    right). A classifier that cannot score unseen classes (the linear probe) gets NaN for
    "new" and "hm".
    """
    correct = correct_base_to_new(model, X_test, y_test, T)
    result = {name: float("nan") if right is None else 100.0 * float(np.mean(right)) for name, right in correct.items()}
    result["hm"] = harmonic_mean(result["base"], result["new"])
    return result


def evaluate_base_to_new(classifier, X_train, y_train, X_test, y_test, T, shots, seed):
    """Base-to-new evaluation of one classifier on one data set (CoCoOp's protocol).

    :func:`fit_on_base` on the training pool (``X_train``, ``y_train``: labels into the rows
    of ``T``), then :func:`score_base_to_new` on the test rows; the parameters are theirs.

    Returns
    -------
    dict with "base", "new", "hm": accuracies in percent (see :func:`score_base_to_new`).
    """
    model = fit_on_base(classifier, X_train, y_train, T, shots, seed)
    return score_base_to_new(model, X_test, y_test, T)
