"""The toy's alignment dial (chapter 5): sweeps over it, what a fitted model does to the toy's
map, and the dial setting whose margin matches one measured on a real model.

The toy is :func:`llu_core.data.toy.toy_dataset`; its dial ``misalignment`` squeezes the image
side of every class, and the quantity it controls, measurably on any model, is the image-text
margin among the new classes (:func:`new_class_margin`).
"""

from dataclasses import dataclass

import numpy as np
import torch

from ..data.toy import from_map, to_map, toy_dataset
from ..utils.progress import progress_bar
from .geometry import image_text_margin
from .protocols import base_new_split, correct_base_to_new, fit_on_base, score_base_to_new

#: The dial's useful range: beyond 0.8 the squeeze (to a fifth along v and less) is more than
#: CoOp's schedule can undo on the base classes, and every method falls to chance.
DIAL_RANGE = (0.0, 0.8)


@dataclass
class ToySweep:
    """A sweep over the toy's dial (:func:`sweep_misalignment`).

    Attributes
    ----------
    records : list of dict
        One per run: ``method``, ``misalignment``, ``seed``, ``shots``, ``base``, ``new``, ``hm``
        (percent) and ``new_margin`` (:func:`new_class_margin` of the toy at that setting).
    models : dict
        The fitted models of the first seed, by ``(misalignment, method)``.
    toys : dict
        The toy data set at each misalignment.
    """

    records: list
    models: dict
    toys: dict


def new_class_margin(data):
    """The image-text margin (:func:`~llu_core.evaluation.geometry.image_text_margin`) among the
    new classes of an embedded data set: their test images against their texts."""
    _, new = base_new_split(np.arange(len(data.text)))
    return image_text_margin(data.test_X, data.test_y, data.text, new)


def sweep_misalignment(methods, misalignments, shots, seeds, progress=True, **toy_parameters):
    """Evaluate every method base to new on the toy at every setting of the dial.

    Parameters
    ----------
    methods : dict of str -> estimator
        Unfitted classifiers (each run fits a clone, as :func:`~llu_core.evaluation.grids.run_grid`).
    misalignments : iterable of float
        Settings of the dial (``toy_dataset``'s ``misalignment``).
    shots : int
        Training images per base class.
    seeds : iterable of int
        Seeds of the few-shot draw and of the training (the toy's images stay those of
        ``toy_parameters``' ``seed``).
    progress : bool
    **toy_parameters
        Further arguments of :func:`~llu_core.data.toy.toy_dataset`.

    Returns
    -------
    ToySweep
    """
    misalignments, seeds = [float(m) for m in misalignments], [int(s) for s in seeds]
    if not methods or not misalignments or not seeds:
        raise ValueError(f"the sweep needs at least one method, misalignment and seed; got {len(methods)} methods, "
                         f"misalignments {misalignments}, seeds {seeds}")
    toys = {m: toy_dataset(m, **toy_parameters) for m in misalignments}
    margins = {m: new_class_margin(data) for m, data in toys.items()}
    runs = [(m, seed, name) for m in misalignments for seed in seeds for name in methods]
    records, models = [], {}
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # the toy's small matrices: a second thread costs more time than it saves
    try:
        for m, seed, name in progress_bar(runs, show=progress, desc="toy"):
            data = toys[m]
            model = fit_on_base(methods[name], data.train_X, data.train_y, data.text, shots, seed)
            if seed == seeds[0]:
                models[(m, name)] = model
            scores = score_base_to_new(model, data.test_X, data.test_y, data.text)
            records.append({"method": name, "misalignment": m, "seed": seed, "shots": int(shots),
                            **{key: float(scores[key]) for key in ("base", "new", "hm")}, "new_margin": margins[m]})
    finally:
        torch.set_num_threads(threads)
    return ToySweep(records, models, toys)


def mask_effect(records, method="no_mask", reference="llu"):
    """What ``method`` gains over ``reference`` on the new classes, at every setting of the dial.

    Parameters
    ----------
    records : list of dict
        Rows of :attr:`ToySweep.records` holding both methods.
    method, reference : str

    Returns
    -------
    list of dict, by misalignment: ``misalignment``, ``margin`` (the new classes'), ``effect``
    (mean over seeds of new-class accuracy of ``method`` minus ``reference``'s, in points) and
    ``spread`` (its standard deviation over the seeds).
    """
    runs = {(r["method"], r["misalignment"], r["seed"]): r for r in records}
    curve = []
    for misalignment in sorted({r["misalignment"] for r in records}):
        seeds = sorted(s for name, m, s in runs if name == method and m == misalignment)
        gains = [runs[(method, misalignment, s)]["new"] - runs[(reference, misalignment, s)]["new"] for s in seeds]
        curve.append({"misalignment": misalignment, "margin": runs[(method, misalignment, seeds[0])]["new_margin"],
                      "effect": float(np.mean(gains)), "spread": float(np.std(gains))})
    return curve


def misalignment_for_margin(margin, tolerance=1e-4, **toy_parameters):
    """The dial setting at which the toy's new classes have the image-text margin ``margin``.

    The toy's new-class margin falls as the misalignment grows (the squeeze crowds each row's
    images together); bisection on :data:`DIAL_RANGE` finds the setting.

    Parameters
    ----------
    margin : float
        A measured margin (:func:`new_class_margin` of a real model's data set).
    tolerance : float
        Width of the final bracket of the misalignment.
    **toy_parameters
        Further arguments of :func:`~llu_core.data.toy.toy_dataset`.

    Returns
    -------
    float, or None when ``margin`` lies outside the toy's range (above its margin at the
    smallest misalignment or below that at the largest).
    """
    def toy_margin(misalignment):
        return new_class_margin(toy_dataset(misalignment, **toy_parameters))

    low, high = DIAL_RANGE
    if not toy_margin(high) <= margin <= toy_margin(low):
        return None
    while high - low > tolerance:
        middle = (low + high) / 2
        low, high = (middle, high) if toy_margin(middle) > margin else (low, middle)
    return (low + high) / 2


def toy_view(model, data):
    """Where a fitted model puts the toy's test images and class texts, on the toy's map.

    Parameters
    ----------
    model : a fitted classifier of :mod:`llu_core.estimators` (fitted on the base classes)
        Its ``transform_images`` / ``transform_texts`` are used where it has them (LLU moves
        both, CLIP-Adapter the images); a model without them leaves the embeddings as they are.
    data : ToyDataset

    Returns
    -------
    dict of numpy arrays
        ``images_before``, ``images_after`` (m, 2): map coordinates of the test images before and
        after the update; ``texts_before``, ``texts_after`` (C, 2), likewise for the class texts;
        ``labels`` (m,): the test labels; ``correct`` (m,) bool: whether base-to-new scoring
        (base images against base texts, new images against new texts) gets each test image
        right; ``accuracy``: ``{"base": ..., "new": ...}`` in percent, from ``correct``.
    """
    texts = np.asarray(data.text, dtype=np.float32)
    images_after = model.transform_images(data.test_X) if hasattr(model, "transform_images") else data.test_X
    texts_after = model.transform_texts(texts) if hasattr(model, "transform_texts") else texts
    base, new = base_new_split(np.arange(len(texts)))
    correct, accuracy = np.zeros(len(data.test_y), dtype=bool), {}
    for name, right in correct_base_to_new(model, data.test_X, data.test_y, texts).items():
        correct[np.isin(data.test_y, base if name == "base" else new)] = right
        accuracy[name] = 100.0 * float(right.mean())
    return {"images_before": to_map(data.frame, data.test_X), "images_after": to_map(data.frame, images_after),
            "texts_before": to_map(data.frame, texts), "texts_after": to_map(data.frame, texts_after),
            "labels": np.asarray(data.test_y), "correct": correct, "accuracy": accuracy}


def weight_on_map(model, data, extent, resolution=101):
    """The weight α with which a fitted model's image update acts, on a grid over the toy's map.

    LLU: α(x, D_image) of Eq. 5 (β everywhere for its "no mask" variant); CLIP-Adapter: its
    global residual ratio; a model without an update (zero-shot): ``None``.

    Parameters
    ----------
    model : a fitted classifier
    data : ToyDataset
    extent : (u_min, u_max, v_min, v_max)
        The map region, in radians.
    resolution : int
        Grid points per axis.

    Returns
    -------
    ndarray, shape (resolution, resolution), or None
        Row i is v = the i-th grid value from the bottom (``imshow(origin="lower")``).
    """
    u, v = np.meshgrid(np.linspace(extent[0], extent[1], resolution), np.linspace(extent[2], extent[3], resolution))
    if hasattr(model, "local_weight"):
        points = from_map(data.frame, np.stack([u.ravel(), v.ravel()], axis=1))
        return model.local_weight(points).reshape(u.shape)
    if hasattr(model, "ratio"):
        return np.full(u.shape, float(model.ratio))
    return None
