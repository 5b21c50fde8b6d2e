"""What a fitted update does beyond its training classes: LLU taken apart at test time.

The paper's argument for the local mask (Sec. 3.2, Table 4) is that an update applied
everywhere overfits the base classes and costs accuracy on the new ones. Whether that danger
appears depends on the backbone: where zero-shot is well aligned (an image's own class text
clearly closer than the others), a global update has little to correct on unseen classes and
mostly moves them away from a good answer; where it is weakly aligned, part of what the update
learns on the base classes may be a correction that holds for every class. These functions
measure which of the two a fitted :class:`~llu_core.estimators.LLUClassifier` learned:

- :func:`~llu_core.evaluation.geometry.image_text_margin`: how well aligned zero-shot is (own class
  text against the others);
- :func:`adapter_side_accuracies` (:func:`adapter_side_correct` image by image): the accuracy
  with only g_I, only g_T, both or neither applied, which splits a gain (or a loss) into its
  image-side and text-side parts;
- :func:`shift_shares`: how much of the shift the update gives the embeddings is one shift
  common to all of them, how much differs from class to class, and how much is left;
- :func:`common_shift_accuracies`: the accuracy when the update is replaced by its common part,
  the mean shift it gives the training images and class texts;
- :func:`training_weights`: the weight α that the training rows themselves get, which is all the
  training of Eq. 6 sees of the mask; :func:`mean_test_weights`: the mean α the test images of
  base and of new classes get.

:func:`decompose_update` collects them for one model. A model is a fitted
:class:`~llu_core.estimators.LLUClassifier` (both sides adapted) or
:class:`~llu_core.estimators.CLIPAdapterClassifier` (images only): anything with
``transform_images`` and, if it adapts the class texts, ``transform_texts``. An LLU model is
read with its own β, γ and mask: to read its update without the mask, pass a copy with
``set_params(gamma=0.0)`` (α = β everywhere, as the "no mask" ablation).
"""

import numpy as np
import torch
import torch.nn.functional as F

from ..method.clustering import cluster_centres
from ..method.locality import local_weight
from ..utils.validation import as_embeddings, as_labels
from .geometry import image_text_margin


def _checked(X, y, T):
    """``X`` (n, d), ``y`` (n,) into the rows of ``T`` (C, d) as numpy, validated."""
    T = as_embeddings(T, "T")
    X = as_embeddings(X, "X", dim=T.shape[1])
    y = as_labels(y, X.shape[0], T.shape[0], "y")
    return X.numpy(), y.numpy(), T.numpy()


def _adapted_texts(model, T):
    """The model's class texts: adapted where it has a text side, else ``T`` itself."""
    return model.transform_texts(T) if hasattr(model, "transform_texts") else T


def _correct(X, y, T):
    """Whether each row of ``X`` has its label's row of ``T`` as its most similar one."""
    return (X @ T.T).argmax(axis=1) == y


def _accuracy(X, y, T):
    """Percent of rows of ``X`` whose most similar row of ``T`` is their label."""
    return 100.0 * float(np.mean(_correct(X, y, T)))


def adapter_side_correct(model, X, y, T):
    """Which test images a fitted LLU model gets right with each adapter switched on alone.

    Eq. 4 adapts the image embeddings through g_I and the class texts through g_T; the scores
    are their cosines. With X' = ``model.transform_images(X)`` and T' =
    ``model.transform_texts(T)``, an image x with label y is right when its most similar class
    text is y's, scored four ways:

        neither: argmax_k xᵀt_k,   image: argmax_k x'ᵀt_k,   text: argmax_k xᵀt'_k,   both: argmax_k x'ᵀt'_k.

    Applying one side and leaving the other frozen splits a change of accuracy into the part
    each adapter carries (the two need not add up: each side's update is learned together with
    the other). Image by image, two sides can be compared on the same images
    (:func:`llu_core.evaluation.noise.paired_difference`).

    Parameters
    ----------
    model : LLUClassifier or CLIPAdapterClassifier
        Fitted (see the module documentation); an LLU model's β, γ and mask decide where each
        update acts. Without a text side, ``"text"`` is ``"neither"`` and ``"both"`` is ``"image"``.
    X : array-like, shape (n, d)
        Test image embeddings.
    y : array-like of int, shape (n,)
        Labels into the rows of ``T``.
    T : array-like, shape (C, d)
        The class texts to score against (base or new classes).

    Returns
    -------
    dict
        ``"neither"`` (zero-shot), ``"image"`` (g_I only), ``"text"`` (g_T only) and ``"both"``
        (the model itself): boolean arrays, one entry per row of ``X``.
    """
    X, y, T = _checked(X, y, T)
    X_adapted, T_adapted = model.transform_images(X), _adapted_texts(model, T)
    return {"neither": _correct(X, y, T), "image": _correct(X_adapted, y, T), "text": _correct(X, y, T_adapted),
            "both": _correct(X_adapted, y, T_adapted)}


def adapter_side_accuracies(model, X, y, T):
    """Accuracy (percent) of a fitted LLU model with each adapter switched on alone.

    The share right of :func:`adapter_side_correct`, whose parameters it takes.

    Returns
    -------
    dict
        ``"neither"`` (zero-shot), ``"image"`` (g_I only), ``"text"`` (g_T only) and ``"both"``
        (the model itself), accuracies in percent.
    """
    return {side: 100.0 * float(np.mean(right)) for side, right in adapter_side_correct(model, X, y, T).items()}


def shift_shares(E, adapted, labels):
    """How much of an update's shift is common to all rows, how much per class, how much left.

    The shift of row i is Δ_i = adapted_i − E_i. With m the mean shift over all rows and m_k the
    mean shift of the rows of class k, the mean squared shift splits exactly into

        mean ‖Δ_i‖² = ‖m‖² + mean ‖m_{y_i} − m‖² + mean ‖Δ_i − m_{y_i}‖²,

    the common part, the class part and the within-class part.

    Parameters
    ----------
    E : array-like, shape (n, d)
        Embeddings before the update.
    adapted : array-like, shape (n, d)
        The same embeddings after it (e.g. ``model.transform_images(E)``).
    labels : array-like of int, shape (n,)
        The class of every row.

    Returns
    -------
    dict
        ``"mean_squared_shift"`` (mean ‖Δ_i‖²) and the shares ``"common"``, ``"class"`` and
        ``"within"`` of it, which sum to 1 (all 0 when nothing moved).
    """
    E = np.asarray(E, dtype=np.float64)
    adapted = np.asarray(adapted, dtype=np.float64)
    labels = np.asarray(labels)
    if E.ndim != 2 or E.shape != adapted.shape or labels.shape != (E.shape[0],) or E.shape[0] == 0:
        raise ValueError(f"E and adapted must be non-empty (n, d) arrays of one shape with one label per row; got "
                         f"E {E.shape}, adapted {adapted.shape}, labels {labels.shape}")
    shift = adapted - E
    common = shift.mean(axis=0)
    classes, index = np.unique(labels, return_inverse=True)
    class_means = np.stack([shift[index == k].mean(axis=0) for k in range(len(classes))])
    total = float(np.einsum("ij,ij->", shift, shift) / len(shift))
    parts = {"common": float(common @ common),
             "class": float(np.mean(np.sum((class_means[index] - common) ** 2, axis=1))),
             "within": float(np.mean(np.sum((shift - class_means[index]) ** 2, axis=1)))}
    shares = {name: (value / total if total > 0 else 0.0) for name, value in parts.items()}
    return {"mean_squared_shift": total, **shares}


def common_shift_accuracies(model, X_train, T_train, X, y, T):
    """Accuracy (percent) when the update is replaced by its common part.

    The common part is what the update does to every embedding alike: the mean shift it gives
    the training images, m_I = mean(ĝ_I(x) − x) over ``X_train``, and the training class texts,
    m_T likewise over ``T_train``. Test embeddings then become normalize(x + m_I) and
    normalize(t + m_T). If the update's effect on classes it never saw were a correction common
    to all classes, this would keep it.

    Parameters
    ----------
    model : LLUClassifier or CLIPAdapterClassifier
        Fitted (see the module documentation).
    X_train : array-like, shape (n, d)
        The image embeddings it was fitted on.
    T_train : array-like, shape (K, d)
        The class texts it was fitted against.
    X, y, T :
        Test images, their labels into the rows of ``T``, and the class texts, as for
        :func:`adapter_side_accuracies`.

    Returns
    -------
    dict
        ``"image"`` (only the images shifted), ``"text"`` (only the texts) and ``"both"``.
    """
    X, y, T = _checked(X, y, T)
    X_train = as_embeddings(X_train, "X_train", dim=T.shape[1]).numpy()
    T_train = as_embeddings(T_train, "T_train", dim=T.shape[1]).numpy()
    image_shift = (model.transform_images(X_train) - X_train).mean(axis=0)
    text_shift = (_adapted_texts(model, T_train) - T_train).mean(axis=0)

    def shifted(E, shift):
        return F.normalize(torch.from_numpy(E + shift), dim=1).numpy()

    X_shifted, T_shifted = shifted(X, image_shift), shifted(T, text_shift)
    return {"image": _accuracy(X_shifted, y, T), "text": _accuracy(X, y, T_shifted),
            "both": _accuracy(X_shifted, y, T_shifted)}


def training_weights(classifier, X, T):
    """α (Eq. 5) of the training rows themselves, under the mask of an LLU configuration.

    The loss of Eq. 6 only ever evaluates the adapters at the training images and the training
    class texts, so two configurations whose α agree on every training row train identically
    and differ only at test time. With fewer training rows than ``n_clusters``, D holds every
    row itself: its distance to D is 0, and α = β under the local, the Dirac and the global
    mask alike.

    Parameters
    ----------
    classifier : LLUClassifier
        Fitted or not; its ``beta``, ``gamma``, ``mask``, ``n_clusters`` and ``dirac_threshold``
        are read.
    X : array-like, shape (n, d)
        The training image embeddings.
    T : array-like, shape (K, d)
        The training class texts.

    Returns
    -------
    (numpy.ndarray, numpy.ndarray)
        α of every row of ``X`` against D_image and of every row of ``T`` against D_text.
    """
    T = as_embeddings(T, "T")
    X = as_embeddings(X, "X", dim=T.shape[1])
    params = classifier.get_params()
    weights = []
    for E in (X, T):
        centres = E if params["mask"] == "global" else cluster_centres(E, params["n_clusters"])
        weights.append(local_weight(E, centres, params["beta"], params["gamma"], params["mask"],
                                    params["dirac_threshold"]).numpy())
    return tuple(weights)


def mean_test_weights(model, X, y, base):
    """The mean α(x, D_image) (Eq. 5) that a fitted LLU model gives the test images of base and of new classes.

    Parameters
    ----------
    model : LLUClassifier
        Fitted; read with its own β, γ and mask.
    X : array-like, shape (n, d)
        Test image embeddings.
    y : array-like of int, shape (n,)
        Their classes.
    base : array-like of int
        The base classes; every other class is new.

    Returns
    -------
    dict
        ``"mean_alpha_base"``, ``"mean_alpha_new"``.
    """
    alpha = model.local_weight(X, modality="image")
    is_base = np.isin(np.asarray(y), base)
    if is_base.all() or not is_base.any():
        raise ValueError("y holds test images of base classes only or of new classes only; expected both")
    return {"mean_alpha_base": float(alpha[is_base].mean()), "mean_alpha_new": float(alpha[~is_base].mean())}


def decompose_update(model, X_train, T_train, X, y, T):
    """Everything this module measures, for one fitted model on one set of test rows.

    Parameters
    ----------
    model, X_train, T_train, X, y, T :
        As for :func:`common_shift_accuracies`.

    Returns
    -------
    dict
        ``"margin"`` (:func:`image_text_margin` of the frozen embeddings); the accuracies of
        :func:`adapter_side_accuracies` under their keys (``"neither"``, ``"image"``, ``"text"``,
        ``"both"``); those of :func:`common_shift_accuracies` as ``"common_image"``,
        ``"common_text"``, ``"common_both"``; and :func:`shift_shares` of the test images'
        shift as ``"image_shift_common"``, ``"image_shift_class"``, ``"image_shift_within"``.
    """
    X, y, T = _checked(X, y, T)
    result = {"margin": image_text_margin(X, y, T), **adapter_side_accuracies(model, X, y, T)}
    result.update({f"common_{side}": value
                   for side, value in common_shift_accuracies(model, X_train, T_train, X, y, T).items()})
    shares = shift_shares(X, model.transform_images(X), y)
    result.update({f"image_shift_{part}": shares[part] for part in ("common", "class", "within")})
    return result
