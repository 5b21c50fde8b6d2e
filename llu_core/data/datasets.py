"""The data-set registry: every name :func:`load_dataset` knows, its splits, and where it is read from.

``load_dataset(name, split, root=None)`` returns a :class:`~llu_core.data.labelled.LabelledImages`:
``ds[i]`` is a ``(PIL.Image, int label)`` pair, and ``ds.classnames``, ``ds.templates``,
``ds.labels``, ``ds.name`` and ``ds.split`` describe it. A name is resolved once
(:func:`resolve_dataset`): into a registered data set read from the data root
(:func:`llu_core.data.paths.data_root`: the ``root`` argument, else ``$LLU_DATA_ROOT``, else the
offline data beside the repository), or into a folder of your own images
(:mod:`llu_core.data.folders`). What it resolved to, with the data set's splits, is the loaded
set's ``ds.resolved`` (:class:`ResolvedDataset`); passing it back to :func:`load_dataset` reads
another split without deciding anything again.

The registered names:

- ``fashion_mnist`` and ``cifar10``, the two small data sets that run the book offline
  (:mod:`llu_core.data.offline_sets`);
- the 11 data sets of the CoOp benchmark and ImageNet's shifted test sets ``imagenet_v2``,
  ``imagenet_sketch``, ``imagenet_a``, ``imagenet_r`` (:mod:`llu_core.data.coop`);
- ``cifar10_<kind>`` for each corruption of :mod:`llu_core.data.corruptions` (``cifar10_sketch``,
  ``cifar10_gray_contrast``, ``cifar10_blur_noise``, ``cifar10_jpeg``): CIFAR-10's test split,
  corrupted at severity 3 with seed 0 when an image is read; ``cifar10_<kind>@<severity>``
  chooses another severity (1-5). No image file is written; the corruption is part of the
  loader's preprocessing and so of the feature cache key.

The shifted and corrupted sets are transfer targets (Sec. 4.2-4.3): their only split is ``"test"``.
"""

import os
from dataclasses import dataclass
from pathlib import Path

from .coop import COOP_DATASETS, IMAGENET_SHIFTS, load_coop_dataset, load_imagenet_shift
from .corruptions import CORRUPTIONS, check_corruption
from .folders import folder_splits, load_image_folder
from .labelled import SPLITS, CorruptedImages
from .offline_sets import load_cifar10, load_fashion_mnist
from .paths import data_root

#: The corrupted data sets' source, default severity and seed (see :mod:`llu_core.data.corruptions`).
CORRUPTED_SOURCE, DEFAULT_SEVERITY, CORRUPTION_SEED = "cifar10", 3, 0
CORRUPTED_DATASETS = tuple(f"{CORRUPTED_SOURCE}_{kind}" for kind in CORRUPTIONS)
DATASET_NAMES = ("fashion_mnist", "cifar10", *COOP_DATASETS, *IMAGENET_SHIFTS, *CORRUPTED_DATASETS)
#: Data sets that exist only as test sets: transfer targets, never fitted on.
TEST_ONLY = (*IMAGENET_SHIFTS, *CORRUPTED_DATASETS)
#: Registered data sets without a validation split (ImageNet's test split is its val folder, as in CoOp).
TRAIN_AND_TEST = ("fashion_mnist", "cifar10", "imagenet")


@dataclass(frozen=True)
class ResolvedDataset:
    """A data-set name resolved once: where its images are read from and which splits it has.

    Attributes
    ----------
    name : str
        The name as given: a registered name (with its ``@<severity>`` when given) or a folder.
    splits : tuple of str
        The splits the data set has.
    root : Path or None
        The data root a registered data set is read from; None for an image folder.
    folder : Path or None
        The image folder; None for a registered data set.
    registered : str or None
        The registered name without severity; None for an image folder.
    severity : int or None
        The corruption's severity of a corrupted data set, else None.
    classes_file : Path or None
        For an image folder, the file that names its classes (None: ``classnames.txt`` in the
        folder when there is one).
    """

    name: str
    splits: tuple
    root: Path | None = None
    folder: Path | None = None
    registered: str | None = None
    severity: int | None = None
    classes_file: Path | None = None

    @property
    def is_folder(self):
        """Whether the data set is a folder of your own images."""
        return self.folder is not None


def image_folder(name):
    """``name`` as the :class:`~pathlib.Path` of an image folder, or None when it names a registered data set.

    A ``Path``, a string that is not a registered name (:data:`DATASET_NAMES`, optionally with
    ``@<severity>``) and contains a path separator, starts with ``.`` or ``~``, or names an
    existing folder, is a folder.
    """
    if isinstance(name, os.PathLike):
        return Path(name).expanduser()
    if not isinstance(name, str) or not name or name.partition("@")[0] in DATASET_NAMES:
        return None
    if "/" in name or os.sep in name or name.startswith((".", "~")) or Path(name).is_dir():
        return Path(name).expanduser()
    return None


def resolve_dataset(name, root=None, classes_file=None):
    """Resolve ``name`` once: an image folder, or a registered data set under the data root.

    Parameters are :func:`load_dataset`'s. Returns a :class:`ResolvedDataset`; raises as
    :func:`load_dataset` does for an unknown name, a ``classes_file`` for a registered data set,
    and a folder that does not exist.
    """
    folder = image_folder(name)
    if folder is not None:
        return ResolvedDataset(str(name), folder_splits(folder), folder=folder,
                               classes_file=None if classes_file is None else Path(classes_file).expanduser())
    if classes_file is not None:
        raise ValueError(f"classes_file is for a folder of images; {name!r} is a registered data set")
    registered, severity = check_dataset_name(name)
    splits = ("test",) if registered in TEST_ONLY else ("train", "test") if registered in TRAIN_AND_TEST else SPLITS
    return ResolvedDataset(name, splits, root=data_root(root), registered=registered, severity=severity)


def load_dataset(name, split, root=None, classes_file=None):
    """Load split ``split`` of data set ``name``.

    Parameters
    ----------
    name : str, Path or ResolvedDataset
        One of :data:`DATASET_NAMES`: ``"fashion_mnist"``, ``"cifar10"``, a CoOp data set, a
        shifted ImageNet or a corrupted CIFAR-10 (``"cifar10_<kind>"``, optionally with
        ``"@<severity>"``); or a folder of your own images, one sub-folder per class
        (:mod:`llu_core.data.folders`; a ``Path``, or a string with a ``/``); or the ``resolved``
        of a split loaded before, which reads another split of the same data set.
    split : {"train", "val", "test"}
        ``"val"`` exists for the CoOp data sets only (ImageNet's test split is its val folder);
        the data sets of :data:`TEST_ONLY` have only ``"test"``; an image folder without split
        folders only ``"train"``.
    root : str or Path, optional
        The data root; default :func:`llu_core.data.paths.data_root` (not used for a folder).
    classes_file : str or Path, optional
        For an image folder: its class names (:func:`llu_core.data.folders.load_image_folder`).

    Returns
    -------
    LabelledImages
        With ``resolved``, the :class:`ResolvedDataset` it was read from.

    Raises
    ------
    ValueError
        For an unknown name, split, corruption or severity.
    FileNotFoundError
        When the data are not on disk; the message says what to download and where to put it.
    """
    if isinstance(name, ResolvedDataset):
        if root is not None or classes_file is not None:
            raise ValueError(f"root and classes_file are resolved already in {name!r}; pass them to "
                             "resolve_dataset, or a name to load_dataset")
        resolved = name
    else:
        resolved = resolve_dataset(name, root, classes_file)
    if resolved.is_folder:
        dataset = load_image_folder(resolved.folder, split, resolved.classes_file)
    else:
        _check_split(resolved, split)
        dataset = _load_registered(resolved, split)
    dataset.resolved = resolved
    return dataset


def check_dataset_name(name):
    """Split a data-set name into its registered name and severity (None for an uncorrupted one).

    Raises ``ValueError`` for anything but a name of :data:`DATASET_NAMES`, a corrupted one
    optionally followed by ``@<severity>`` with a severity of 1-5 in ASCII digits.
    """
    if not isinstance(name, str):
        raise ValueError(f"name must be a data-set name (a str), got {name!r}; known names: {', '.join(DATASET_NAMES)}")
    registered, at, severity = name.partition("@")
    if registered not in DATASET_NAMES or (at and registered not in CORRUPTED_DATASETS):
        raise ValueError(f"unknown data set {name!r}; known names: {', '.join(DATASET_NAMES)} "
                         f"(a corrupted one may end in @<severity>, e.g. {CORRUPTED_DATASETS[0]}@5), or a "
                         "folder of images such as './photos'")
    if registered not in CORRUPTED_DATASETS:
        return registered, None
    if not at:
        return registered, DEFAULT_SEVERITY
    if not (severity.isascii() and severity.isdigit()):
        raise ValueError(f"severity must be an integer from 1 to 5, got {severity!r} (in {name!r})")
    check_corruption(registered[len(CORRUPTED_SOURCE) + 1:], int(severity))
    return registered, int(severity)


def _check_split(resolved, split):
    """Raise ``ValueError`` for a split the registered data set does not have, saying which it has."""
    if split not in SPLITS:
        raise ValueError(f"unknown split {split!r}; expected one of {SPLITS}")
    if split in resolved.splits:
        return
    if resolved.splits == ("test",):
        raise ValueError(f"{resolved.registered} is a transfer target with only a 'test' split, not {split!r}: "
                         "fit on its source data set and evaluate on this one")
    raise ValueError(f"{resolved.registered} has only 'train' and 'test' splits, not {split!r}")


def _load_registered(resolved, split):
    """Split ``split`` (checked) of a registered data set, from its loader."""
    name, root = resolved.registered, resolved.root
    if name in CORRUPTED_DATASETS:  # CIFAR-10 (CORRUPTED_SOURCE), corrupted when read
        kind = name[len(CORRUPTED_SOURCE) + 1:]
        return CorruptedImages(f"{name}@{resolved.severity}", load_cifar10(split, root), kind, resolved.severity,
                               CORRUPTION_SEED)
    if name in IMAGENET_SHIFTS:
        return load_imagenet_shift(name, root)
    if name == "fashion_mnist":
        return load_fashion_mnist(split, root)
    if name == "cifar10":
        return load_cifar10(split, root)
    return load_coop_dataset(name, split, root)
