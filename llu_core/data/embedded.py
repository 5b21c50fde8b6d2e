"""The library's front door from images to arrays: a data set's splits and class prompts, embedded.

:func:`embed_dataset` loads a data set's train and test splits (:func:`llu_core.load_dataset`),
embeds class-balanced subsets of them (:func:`class_balanced_subset`) and the class prompts through
the cache (:mod:`llu_core.data.features`), and returns an :class:`EmbeddedDataset` of unit-norm
arrays: what every classifier of ``llu_core`` consumes. :func:`embed_target` does the same for the
test split of a transfer target, centred as the source was.
"""

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import torch

from ..backbones import load_backbone
from ..utils.class_texts import ClassTexts
from ..utils.validation import check_integer, check_seed
from .datasets import load_dataset
from .features import extract_features, extract_text_features


def class_balanced_subset(labels, per_class, seed=0):
    """Indices of at most ``per_class`` items of every class, drawn at random, sorted.

    Subsets are nested: a larger ``per_class`` keeps every item of a smaller one, so their
    embeddings are shared in the cache. ``per_class=None`` keeps everything.
    """
    labels = np.asarray(labels)
    if per_class is None:
        return np.arange(labels.size)
    check_integer("per_class", per_class)
    rng = np.random.default_rng(check_seed(seed))
    picked = [rng.permutation(np.flatnonzero(labels == label))[:per_class] for label in np.unique(labels)]
    return np.sort(np.concatenate(picked))


@dataclass
class EmbeddedDataset:
    """One data set as unit-norm embeddings: what every classifier of ``llu_core`` consumes.

    ``train_X`` (n, d) and ``test_X`` (m, d) are image embeddings with labels ``train_y`` and
    ``test_y`` into the rows of ``text`` (C, d), the class text embeddings: a
    :class:`~llu_core.utils.class_texts.ClassTexts` that also carries the class names and the
    backbone's text tower with learned context (an array to every array-only estimator; the
    prompt learners need the rest). ``image_centre`` is
    the feature mean subtracted before normalisation (zeros when the backbone needs none).
    """

    name: str
    backbone: str
    classnames: list
    templates: list
    train_X: np.ndarray
    train_y: np.ndarray
    test_X: np.ndarray
    test_y: np.ndarray
    text: ClassTexts
    image_centre: np.ndarray


@lru_cache(maxsize=2)
def _shared_backbone(name, pretrained, device):
    return load_backbone(name, pretrained=pretrained, device=device)


def embed_dataset(backbone, name, train_per_class=None, test_per_class=None, root=None, device=None,
                  pretrained=None, centre=None, batch_size=None, num_workers=None, progress=True, classes_file=None):
    """Embed the train and test splits of data set ``name`` and its class prompts.

    Parameters
    ----------
    backbone : str or backbone object
        A backbone, or a name for :func:`llu_core.load_backbone` (loaded once per session).
    name : str, Path or ResolvedDataset
        A data set of :func:`llu_core.load_dataset`, or a folder of your own images, one
        sub-folder per class (:mod:`llu_core.data.folders`), or a loaded split's ``resolved``
        (:class:`llu_core.data.datasets.ResolvedDataset`). A folder without ``train/`` and
        ``test/`` folders is one pool: all its images are the training split and the test split
        is empty (:func:`llu_core.evaluation.protocols.hold_out_shots` holds images out).
    train_per_class, test_per_class : int, optional
        Size of the class-balanced random subsets embedded from each split (seed 0, nested
        across sizes); None embeds the whole split. The training subset is the pool that
        few-shot samples are drawn from.
    root : str or Path, optional
        Data root (see :func:`llu_core.data.paths.data_root`).
    device, pretrained :
        Passed to :func:`llu_core.load_backbone` when ``backbone`` is a name.
    centre : bool or array-like of shape (d,), optional
        Subtract the mean raw feature of the training pool from every image feature before
        normalising (the offline model's explicit centring step; no label is used by the mean,
        only to draw the pool). Default: ``backbone.centre_images``. An array is subtracted
        instead of the pool's mean: another data set's ``image_centre``, for a model fitted
        there (see :func:`embed_target`).
    batch_size, num_workers, progress :
        Passed to :func:`extract_features` (None: its defaults for the backbone's device; on a
        CPU, one worker process per torch thread decodes, preprocesses and embeds its batches on
        one thread).
    classes_file : str or Path, optional
        For an image folder: the class names put in the prompts
        (:func:`llu_core.data.folders.load_image_folder`; default ``classnames.txt`` in the folder).

    Returns
    -------
    EmbeddedDataset
    """
    if isinstance(backbone, str):
        backbone = _shared_backbone(backbone, pretrained, None if device is None else str(device))
    train = load_dataset(name, "train", root=root, classes_file=classes_file)
    train_features, train_y = extract_features(backbone, train, class_balanced_subset(train.labels, train_per_class),
                                               batch_size=batch_size, num_workers=num_workers, progress=progress)
    resolved = train.resolved
    if "test" not in resolved.splits:  # an image folder without split folders: one pool
        if test_per_class is not None:
            raise ValueError(f"test_per_class: image folder {resolved.folder} has no test split (no train/ and test/ "
                             "folders); hold images out with llu_core.hold_out_shots")
        test_features, test_y = train_features[:0], train_y[:0]
    else:
        test = load_dataset(resolved, "test")
        test_features, test_y = extract_features(backbone, test, class_balanced_subset(test.labels, test_per_class),
                                                 batch_size=batch_size, num_workers=num_workers, progress=progress)
    if centre is None or isinstance(centre, bool):
        centre = backbone.centre_images if centre is None else centre
        image_centre = train_features.mean(dim=0) if centre else torch.zeros(train_features.shape[1])
    else:
        image_centre = _as_centre(centre, train_features.shape[1])

    def embed(features):
        return backbone.embed_images(features, image_centre).numpy()

    text = extract_text_features(backbone, train.classnames, train.templates)
    return EmbeddedDataset(name=resolved.name, backbone=backbone.name, classnames=train.classnames,
                           templates=train.templates, train_X=embed(train_features), train_y=train_y.numpy(),
                           test_X=embed(test_features), test_y=test_y.numpy(), image_centre=image_centre.numpy(),
                           text=ClassTexts(text.numpy(), train.classnames, backbone.context_tower(), train.templates))


def _as_centre(centre, dim):
    """An explicit image centre as a float32 tensor (d,), checked against the features' size."""
    centre = torch.as_tensor(np.asarray(centre, dtype=np.float32))
    if centre.shape != (dim,) or not torch.isfinite(centre).all():
        raise ValueError(f"centre must be a finite array of shape ({dim},), the raw image feature size; got "
                         f"shape {tuple(centre.shape)}")
    return centre


def embed_target(backbone, name, centre, test_per_class=None, root=None, device=None, pretrained=None,
                 batch_size=None, num_workers=None, progress=True):
    """Embed the test split of data set ``name`` as a transfer target of a model fitted elsewhere.

    A model fitted on a source data set assumes the source's embedding: with the offline
    model, image features centred by the source's ``image_centre`` (CLIP has no such step, its
    centre is zeros). So the target's images are centred by ``centre``, never by a statistic of
    their own; the class prompts are the target's. Only the test split is embedded: a target is
    never fitted on, and the test-only data sets (``llu_core.data.datasets.TEST_ONLY``) have no other.

    Parameters
    ----------
    backbone : str or backbone object
        As for :func:`embed_dataset` (the source's backbone).
    name : str or ResolvedDataset
        A data set of :func:`llu_core.load_dataset` that has a ``"test"`` split.
    centre : array-like, shape (d,)
        The source's ``EmbeddedDataset.image_centre``.
    test_per_class : int, optional
        Size of the class-balanced random test subset (seed 0, nested across sizes, so it
        shares cached embeddings with :func:`embed_dataset`); None embeds the whole split.
    root, device, pretrained, batch_size, num_workers, progress :
        As for :func:`embed_dataset`.

    Returns
    -------
    EmbeddedDataset
        With an empty training split (``train_X`` of shape (0, d)) and ``image_centre`` = ``centre``.
    """
    if isinstance(backbone, str):
        backbone = _shared_backbone(backbone, pretrained, None if device is None else str(device))
    test = load_dataset(name, "test", root=root)
    features, test_y = extract_features(backbone, test, class_balanced_subset(test.labels, test_per_class),
                                        batch_size=batch_size, num_workers=num_workers, progress=progress)
    image_centre = _as_centre(centre, features.shape[1])
    test_X = backbone.embed_images(features, image_centre).numpy()
    text = extract_text_features(backbone, test.classnames, test.templates)
    return EmbeddedDataset(name=test.name, backbone=backbone.name, classnames=test.classnames,
                           templates=test.templates, train_X=np.empty((0, test_X.shape[1]), dtype=np.float32),
                           train_y=np.empty(0, dtype=np.int64), test_X=test_X, test_y=test_y.numpy(),
                           image_centre=image_centre.numpy(),
                           text=ClassTexts(text.numpy(), test.classnames, backbone.context_tower(), test.templates))
