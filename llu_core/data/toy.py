"""A toy vision-language model in which LLU's mechanism is clean (chapter 5).

Every embedding lies on one 2-sphere: the unit vectors of a 3-D subspace of R^d (d = 64 by
default, the subspace in a seeded random orientation). Near the sphere's pole the toy is
drawn flat, in *map coordinates* (u, v): the point at angle r = ‖(u, v)‖ from the pole in
the direction of (u, v) (the azimuthal equidistant map), so a distance on the map is an angle
on the sphere, and 1 − xᵀd ≈ (distance)² / 2.

- **Texts.** The C = 2k class texts stand in two rows of k, ``spacing`` apart along v: the
  base classes (the first k, CoOp's rule) at u = −``separation``/2, the new classes at
  u = +``separation``/2. ``separation`` controls how far the mask α(x, D) of Eq. 5 reaches
  from the base classes' training images into the new classes.
- **Images.** A class's images scatter around its text (Gaussian in map coordinates, ``spread``
  per axis). The base classes' images sit ``base_shift`` further along v: a misalignment of
  their own, which no new class shares.
- **The dial.** The image tower then squeezes every image, of every class, along v by the
  factor 1 − ``misalignment``: a misalignment common to all classes. At 0 the new classes'
  images sit around their texts (zero-shot is well aligned for them); towards 1 the images of
  a row crowd together, zero-shot confuses them, and the margin between an image's own text and
  the other texts shrinks.

A fit on the base classes therefore meets two misalignments: their own shift, which does not
carry over to the new classes, and the common squeeze, which does. A *global* update applies
what it learns about both to every class; LLU's local mask applies it only near the base
classes' training images.
"""

from dataclasses import dataclass

import numpy as np

from ..utils.class_texts import ClassTexts
from ..utils.validation import check_in_range, check_integer, check_seed
from .embedded import EmbeddedDataset

#: The toy's embedding dimension (the sphere spans 3 of these coordinates).
TOY_DIM = 64
#: The seed of the sphere's orientation in R^d (the same for every toy data set of one d).
FRAME_SEED = 0


@dataclass
class ToyDataset(EmbeddedDataset):
    """An :class:`~llu_core.data.embedded.EmbeddedDataset` of the toy, with its geometry.

    Attributes (beyond the embedded data set's)
    -------------------------------------------
    frame : ndarray, shape (d, 3)
        Orthonormal columns: the two map directions u, v and the pole of the sphere.
    text_map : ndarray, shape (C, 2)
        Map coordinates of the class texts.
    misalignment : float
        The dial: the common squeeze of the image side along v.
    """

    frame: np.ndarray = None
    text_map: np.ndarray = None
    misalignment: float = 0.0


def toy_frame(dim=TOY_DIM):
    """The sphere's subspace: a seeded orthonormal (d, 3) matrix (columns u, v, pole)."""
    check_integer("dim", dim, low=3)
    frame, _ = np.linalg.qr(np.random.default_rng(FRAME_SEED).normal(size=(dim, 3)))
    return frame


def from_map(frame, uv):
    """Unit embeddings (n, d), float32, of the points with map coordinates ``uv`` (n, 2).

    The point at angle r = ‖uv‖ from the pole, in the direction of uv: the inverse of :func:`to_map`.
    """
    uv = np.asarray(uv, dtype=np.float64).reshape(-1, 2)
    r = np.linalg.norm(uv, axis=1, keepdims=True)
    direction = np.divide(uv, r, out=np.zeros_like(uv), where=r > 0)
    sphere = np.concatenate([np.sin(r) * direction, np.cos(r)], axis=1)
    return (sphere @ frame.T).astype(np.float32)


def to_map(frame, E):
    """Map coordinates (n, 2) of embeddings ``E`` (n, d).

    Each row is first projected onto the sphere's subspace and normalised: the nearest point of
    the sphere. For a row off the subspace (CLIP-Adapter's output) this keeps every cosine with
    the class texts, which lie in the subspace, up to one positive factor per row, so the map
    shows where the row is classified.
    """
    E = np.asarray(E, dtype=np.float64)
    coordinates = E @ frame
    norms = np.linalg.norm(coordinates, axis=1, keepdims=True)
    if np.any(norms <= 1e-6 * np.linalg.norm(E, axis=1, keepdims=True)):
        raise ValueError("E has a row orthogonal to the toy's sphere; it has no place on the map")
    coordinates /= norms
    planar = coordinates[:, :2]
    sine = np.linalg.norm(planar, axis=1, keepdims=True)
    angle = np.arctan2(sine, coordinates[:, 2:])
    return np.divide(planar * angle, sine, out=np.zeros_like(planar), where=sine > 0)


def toy_text_map(per_row=3, spacing=0.35, separation=0.7):
    """Map coordinates (2·per_row, 2) of the class texts: the base row, then the new row."""
    check_integer("per_row", per_row)
    check_in_range("spacing", spacing, low=0.0, low_open=True)
    check_in_range("separation", separation, low=0.0, low_open=True)
    v = spacing * (np.arange(per_row) - (per_row - 1) / 2)
    row = np.stack([np.zeros(per_row), v], axis=1)
    return np.concatenate([row - [separation / 2, 0.0], row + [separation / 2, 0.0]])


def toy_dataset(misalignment=0.0, per_row=3, spacing=0.35, separation=0.7, spread=0.08, base_shift=0.12, dim=TOY_DIM,
                train_per_class=50, test_per_class=100, seed=0):
    """Sample the toy vision-language model (see the module docstring).

    Parameters
    ----------
    misalignment : float in [0, 1)
        The dial: images are squeezed along v by 1 − ``misalignment``, a distortion common to
        every class. 0: the image side reproduces the text side's layout.
    per_row : int
        Classes per row: ``per_row`` base and ``per_row`` new classes.
    spacing : float
        Angle (radians) between neighbouring classes of a row.
    separation : float
        Angle between the base row and the new row.
    spread : float
        Standard deviation (radians, per map axis) of a class's images around its centre.
    base_shift : float
        Angle by which the base classes' images sit off their texts along v, before the squeeze.
    dim : int
        The embedding dimension d ≥ 3.
    train_per_class, test_per_class : int
        Images per class in the training pool and in the test split.
    seed : int
        Seeds the images. The dial does not change the draws, so a sweep over it moves the same
        images.

    Returns
    -------
    ToyDataset
        ``train_X`` (C·train_per_class, d), ``test_X`` (C·test_per_class, d), labels into the rows
        of ``text`` (C, d), class names "A", "B", ...; base classes first.
    """
    check_in_range("misalignment", misalignment, 0.0, 1.0)
    if misalignment >= 1.0:
        raise ValueError(f"misalignment must be below 1 (1 squeezes every image onto the u axis), got {misalignment}")
    check_in_range("spread", spread, low=0.0)
    check_in_range("base_shift", base_shift)
    check_integer("train_per_class", train_per_class)
    check_integer("test_per_class", test_per_class)
    rng = np.random.default_rng(check_seed(seed))
    frame, text_map = toy_frame(dim), toy_text_map(per_row, spacing, separation)
    n_classes = text_map.shape[0]
    centres = text_map.copy()
    centres[:per_row, 1] += base_shift
    squeeze = np.array([1.0, 1.0 - misalignment])

    def images(per_class):
        labels = np.repeat(np.arange(n_classes), per_class)
        uv = centres[labels] + spread * rng.normal(size=(labels.size, 2))
        return from_map(frame, uv * squeeze), labels

    train_X, train_y = images(train_per_class)
    test_X, test_y = images(test_per_class)
    classnames = [chr(ord("A") + k) for k in range(n_classes)]
    return ToyDataset(name="toy", backbone="toy", classnames=classnames, templates=["{}"], train_X=train_X,
                      train_y=train_y, test_X=test_X, test_y=test_y,
                      text=ClassTexts(from_map(frame, text_map), classnames), image_centre=np.zeros(dim, np.float32),
                      frame=frame, text_map=text_map, misalignment=float(misalignment))


def map_extent(data, pad=0.1):
    """The map region (u_min, u_max, v_min, v_max) that holds every text and test image of ``data``, padded."""
    points = np.concatenate([data.text_map, to_map(data.frame, data.test_X)])
    (u_min, v_min), (u_max, v_max) = points.min(axis=0) - pad, points.max(axis=0) + pad
    return float(u_min), float(u_max), float(v_min), float(v_max)


def toy_family(n_datasets, dim=TOY_DIM, **toy_kwargs):
    """``n_datasets`` toy data sets, each on its own sphere: different tasks of one embedding space.

    Data set k (named ``"toy_k"``, k = 1, 2, ...) is :func:`toy_dataset` drawn with ``seed=k``
    and carried, with its frame, into its own random orientation of R^d (a seeded orthogonal
    map): within a data set every cosine is the toy's; between two data sets the spheres lie in
    random 3-D subspaces of R^d, nearly orthogonal for d = 64, so their embeddings are far
    apart (cosine near 0). Class names carry the data set's number ("A1", "B1", ... in toy_1).

    Parameters
    ----------
    n_datasets : int
        How many data sets.
    dim : int
        The embedding dimension d ≥ 3.
    **toy_kwargs
        Any other argument of :func:`toy_dataset` except ``seed`` (the misalignment, the sizes).

    Returns
    -------
    list of ToyDataset
    """
    check_integer("n_datasets", n_datasets)
    if "seed" in toy_kwargs:
        raise ValueError("toy_family seeds data set k with k; pass the other arguments of toy_dataset only")
    family = []
    for k in range(1, n_datasets + 1):
        data = toy_dataset(dim=dim, seed=k, **toy_kwargs)
        rotation, _ = np.linalg.qr(np.random.default_rng([FRAME_SEED, k]).normal(size=(dim, dim)))

        def turn(E, rotation=rotation):
            return (np.asarray(E, dtype=np.float64) @ rotation.T).astype(np.float32)

        classnames = [f"{name}{k}" for name in data.classnames]
        family.append(ToyDataset(name=f"toy_{k}", backbone="toy", classnames=classnames, templates=data.templates,
                                 train_X=turn(data.train_X), train_y=data.train_y, test_X=turn(data.test_X),
                                 test_y=data.test_y, text=ClassTexts(turn(data.text), classnames),
                                 image_centre=data.image_centre, frame=rotation @ data.frame, text_map=data.text_map,
                                 misalignment=data.misalignment))
    return family
