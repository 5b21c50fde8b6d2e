"""Is the local mask in the right regime? The embedding geometry that Eq. 5 sees.

The paper's γ = 20 is tuned to CLIP's geometry: α(x, D) = β·exp(−γ·(1 − xᵀd)) only reaches a
useful size where test embeddings lie within a cosine distance of ~0.1 of the training
embeddings D, which on CLIP they do because CLIP's image embeddings sit in a narrow cone.
:func:`embedding_statistics` measures that geometry for any embedded data set, so a reader who
switches backbones sees at once whether the paper's β and γ still make the mask act, and
:func:`suggest_gamma` gives the γ that puts the mask back in CLIP's regime.
"""

import numpy as np
import torch

from ..method.defaults import BETA, GAMMA
from ..method.locality import local_weight, nearest_distance
from ..utils.validation import as_embeddings, as_labels
from .protocols import base_new_split, base_training_indices

#: What :func:`embedding_statistics` returns, in the order of the book's table.
STATISTICS = ("median_distance_base", "median_distance_new", "mean_alpha_base", "mean_alpha_new",
              "mean_cosine_images", "mean_cosine_texts", "cosine_own_text", "cosine_other_texts")


def mean_pairwise_cosine(E):
    """Mean cosine between distinct rows of the unit-norm matrix ``E`` (n, d), n ≥ 2.

    Uses ‖Σ e_i‖² = n + Σ_{i≠j} e_iᵀe_j, so it costs O(n·d), not O(n²·d).
    """
    E = np.asarray(E, dtype=np.float64)
    n = E.shape[0]
    if n < 2:
        raise ValueError(f"need at least two rows for a mean pairwise cosine, got {n}")
    total = E.sum(axis=0)
    return float((total @ total - np.einsum("ij,ij->", E, E)) / (n * (n - 1)))


def embedding_statistics(data, shots=16, seed=1, beta=BETA, gamma=GAMMA):
    """The geometry of an embedded data set as the local mask (Eq. 5) sees it.

    D is the image side of base-to-new training: ``shots`` training images of every base class
    (drawn with ``seed`` exactly as :func:`llu_core.evaluation.protocols.fit_on_base` draws them), not
    clustered. Test images are split by whether their class is a base or a new class.

    Parameters
    ----------
    data : embedded data set
        An object with ``train_X`` (n, d), ``train_y`` (n,), ``test_X`` (m, d), ``test_y`` (m,)
        and ``text`` (C, d), such as :func:`llu_core.data.embedded.embed_dataset` returns.
    shots, seed : int
        The few-shot draw that makes D.
    beta, gamma : float
        β and γ of Eq. 5 (the paper's defaults).

    Returns
    -------
    dict with the keys of :data:`STATISTICS`:

    - ``median_distance_base``, ``median_distance_new``: median of 1 − max_{d∈D} xᵀd over the
      base-class and the new-class test images;
    - ``mean_alpha_base``, ``mean_alpha_new``: mean α(x, D) over the same images;
    - ``mean_cosine_images``: mean cosine between two distinct test images (the cone);
    - ``mean_cosine_texts``: mean cosine between two distinct class text embeddings;
    - ``cosine_own_text``, ``cosine_other_texts``: mean cos(image, text of its class) and mean
      cos(image, text of another class) over the test images.
    """
    train_X = as_embeddings(data.train_X, "train_X")
    dim = train_X.shape[1]
    test_X = as_embeddings(data.test_X, "test_X", dim=dim)
    text = as_embeddings(data.text, "text", dim=dim)
    n_classes = text.shape[0]
    train_y = as_labels(data.train_y, train_X.shape[0], n_classes, "train_y").numpy()
    test_y = as_labels(data.test_y, test_X.shape[0], n_classes, "test_y").numpy()
    base, new = base_new_split(np.arange(n_classes))
    if new.size == 0:
        raise ValueError("the data set has a single class: there are no new classes to measure")
    D = train_X[torch.from_numpy(base_training_indices(train_y, n_classes, shots, seed))]

    statistics = {}
    for name, classes in (("base", base), ("new", new)):
        rows = torch.from_numpy(np.flatnonzero(np.isin(test_y, classes)))
        if rows.numel() == 0:
            raise ValueError(f"no test images of the {name} classes")
        statistics[f"median_distance_{name}"] = float(nearest_distance(test_X[rows], D).median())
        statistics[f"mean_alpha_{name}"] = float(local_weight(test_X[rows], D, beta, gamma).mean())
    statistics["mean_cosine_images"] = mean_pairwise_cosine(test_X.numpy())
    statistics["mean_cosine_texts"] = mean_pairwise_cosine(text.numpy())
    cosines = (test_X @ text.T).numpy()
    own = np.zeros_like(cosines, dtype=bool)
    own[np.arange(len(test_y)), test_y] = True
    statistics["cosine_own_text"] = float(cosines[own].mean())
    statistics["cosine_other_texts"] = float(cosines[~own].mean())
    return {key: statistics[key] for key in STATISTICS}


def statistics_range(statistics):
    """The (low, high) range of every statistic over several data sets.

    Parameters
    ----------
    statistics : iterable of dict
        Results of :func:`embedding_statistics`, one per data set (at least one).

    Returns
    -------
    dict with the keys of :data:`STATISTICS` -> (float, float), the form of :data:`CLIP_VIT_B32`.
    """
    rows = list(statistics)
    if not rows:
        raise ValueError("statistics is empty; expected the statistics of at least one data set")
    return {key: (min(row[key] for row in rows), max(row[key] for row in rows)) for key in STATISTICS}


#: The same statistics on real CLIP ViT-B/32 embeddings of two CoOp data sets (16 shots per
#: base class, seed 1, β = 0.5, γ = 20), as (low, high) over the two (:func:`statistics_range`),
#: rounded to two digits: the regime the paper's γ = 20 was tuned for. Not the paper's numbers:
#: computed by :func:`embedding_statistics` from public CLIP ViT-B/32 features, the Tip-Adapter
#: feature caches of Caltech101 (66 classes) and OxfordPets (24 classes) in the repository
#: bunnieslala/IMAS (commit 34a935a, ``caches/<dataset>/``), with class text embeddings from
#: CLIP ViT-B/32's ImageNet zero-shot head (singlasahil14/salient_imagenet, 80-prompt ensemble)
#: and Detic's CLIP class embeddings (facebookresearch/Detic, "a {name}"). With CLIP weights and
#: the data sets on disk, ``scripts/clip_geometry.py`` recomputes the row for any open_clip model.
CLIP_VIT_B32 = {"median_distance_base": (0.11, 0.12), "median_distance_new": (0.14, 0.23),
                "mean_alpha_base": (0.06, 0.06), "mean_alpha_new": (0.01, 0.035),
                "mean_cosine_images": (0.55, 0.77), "mean_cosine_texts": (0.60, 0.72),
                "cosine_own_text": (0.29, 0.33), "cosine_other_texts": (0.19, 0.21)}

#: CLIP's typical distance δ_CLIP: the median 1 − max_{d∈D} xᵀd of a base-class test image (16 shots
#: per base class), the middle of :data:`CLIP_VIT_B32`'s range: the distance the paper's γ was tuned at.
CLIP_TYPICAL_DISTANCE = sum(CLIP_VIT_B32["median_distance_base"]) / 2


def suggest_gamma(data, shots=16, seed=1, gamma=GAMMA, reference_distance=CLIP_TYPICAL_DISTANCE):
    """The γ that gives an image at this backbone's typical distance the α the paper's γ gives on CLIP.

    Eq. 5 weighs the update of x by α(x, D) = β · exp(−γ δ(x)), with δ(x) = 1 − max_{d∈D} xᵀd the
    cosine distance to the nearest training embedding. The paper's γ = 20 is tuned to CLIP, where a
    test image of a trained class lies at a typical distance δ_CLIP ≈ 0.115 from D
    (:data:`CLIP_TYPICAL_DISTANCE`), so it gets α = β · exp(−20 · 0.115) ≈ 0.1 β, while images of
    other classes, further away, get less. A backbone that packs its embeddings more tightly (a
    smaller typical distance δ) lets the same γ update everything almost as much as the training
    points; one that spreads them (a larger δ) switches the update off even for the images it was
    trained for. Asking for the paper's α at this backbone's δ,

        β · exp(−γ' δ) = β · exp(−γ δ_CLIP)   ⇒   γ' = γ · δ_CLIP / δ,

    keeps the mask in the regime the paper's numbers were obtained in. β is left as it is: it is
    α at the training points themselves (δ = 0), where the geometry does not enter.

    δ is measured as δ_CLIP was: the median distance of the base-class test images to ``shots``
    training images of every base class (``median_distance_base`` of :func:`embedding_statistics`).

    Parameters
    ----------
    data : embedded data set
        With a test split (for a folder of images, after
        :func:`llu_core.evaluation.protocols.hold_out_shots`).
    shots, seed : int
        The few-shot draw that makes D.
    gamma : float
        The γ tuned at ``reference_distance`` (the paper's 20).
    reference_distance : float
        The typical distance ``gamma`` was tuned at (CLIP's).

    Returns
    -------
    float
    """
    if len(data.test_y) == 0:
        raise ValueError("data has no test images to measure the typical distance on: for one pool of images (a "
                         "folder without train/ and test/ folders) hold some out first, with llu_core.hold_out_shots")
    distance = embedding_statistics(data, shots=shots, seed=seed, gamma=gamma)["median_distance_base"]
    if distance <= 0.0:
        raise ValueError("the median test image coincides with a training embedding (distance 0): the test "
                         "images must not be the training images")
    return float(gamma * reference_distance / distance)


def image_text_margin(X, y, T, classes=None):
    """The image-text margin: mean cos(image, its class's text) − mean cos(image, another class's text).

    Over all classes it is ``cosine_own_text − cosine_other_texts`` of :func:`embedding_statistics`.
    ``classes`` restricts it to the images of those classes against those classes' texts only:
    what base-to-new scoring sees of the new classes. Times the logit scale (100), the margin is
    the mean logit lead of an image's own class.

    Parameters
    ----------
    X : array-like, shape (n, d)
        Unit-norm image embeddings.
    y : array-like of int, shape (n,)
        Labels into the rows of ``T``.
    T : array-like, shape (C, d)
        Unit-norm class text embeddings.
    classes : array-like of int, optional
        At least two rows of ``T``; default all.

    Returns
    -------
    float
    """
    X = as_embeddings(X, "X")
    T = as_embeddings(T, "T", dim=X.shape[1])
    y = as_labels(y, X.shape[0], T.shape[0]).numpy()
    classes = np.arange(T.shape[0]) if classes is None else np.unique(np.asarray(classes, dtype=np.int64))
    if classes.size < 2 or classes.min() < 0 or classes.max() >= T.shape[0]:
        raise ValueError(f"classes must name at least two rows of T (0..{T.shape[0] - 1}), got {classes.tolist()}")
    rows = np.flatnonzero(np.isin(y, classes))
    if rows.size == 0:
        raise ValueError(f"no image of the classes {classes.tolist()}")
    cosines = (X[torch.from_numpy(rows)] @ T[torch.from_numpy(classes)].T).numpy()
    own = np.searchsorted(classes, y[rows])[:, None] == np.arange(classes.size)
    return float(cosines[own].mean() - cosines[~own].mean())
