"""Embeddings of images and class prompts, computed once and cached on disk.

Everything after this module works on plain arrays (the Tip-Adapter idea: cache first, then
every method is a few lines over embeddings). The image cache is a folder per backbone, data
set and split, keyed by everything that changes the numbers: the backbone's ``cache_key``
(weights), its preprocessing, the data set's name, split, items and loader preprocessing.

Inside a folder, features are stored in *parts*: each a safetensors file holding the
``indices`` of the images it covers, their ``features`` and, in its header, the folder's name
(which ends in the key digest) and a SHA-256 checksum of both tensors. So

- a write is atomic (temporary file, then rename; :func:`llu_core.utils.io.write_tensors`);
- an interrupted extraction loses at most the part it was computing and resumes with the
  images no part holds yet;
- embedding a larger subset later reuses the images already embedded;
- a part that cannot be read, whose checksum fails or whose key differs is reported with a
  warning, deleted and recomputed, never used;
- a cache that cannot be written (a folder that cannot be created, read-only, full, a file-size
  limit) is reported with one warning (:func:`llu_core.utils.locations.write_cache_file`): the
  features are then computed in memory and returned all the same;
- an image that cannot be decoded (a truncated or damaged file) is left out with a warning
  naming its file; the other images of its chunk are embedded and cached.

Text embeddings of class prompts are cached the same way, one file per backbone, class list
and template list.
"""

import hashlib
import json
import re
import warnings
from dataclasses import dataclass
from functools import lru_cache
from string import Formatter

import numpy as np
import torch

from ..backbones import load_backbone
from ..utils.class_texts import ClassTexts
from ..utils.io import checksum, read_tensors
from ..utils.locations import cache_dir, write_cache_file
from ..utils.progress import progress_bar
from ..utils.validation import MAX_BATCH_SIZE, check_integer, check_seed
from .datasets import load_dataset
from .folders import folder_splits, image_folder
from .images import UnreadableImageError

#: Version of the on-disk layout; part of every key.
CACHE_FORMAT = 2
#: More parts than this in one folder are merged into one after an extraction.
MAX_PARTS = 16
#: The tensors of a part file, in the order of its checksum.
_PART_TENSORS = ("indices", "features")


def _describe(transform):
    """A stable text of a transform (function reprs carry memory addresses; drop them)."""
    return re.sub(r" at 0x[0-9a-fA-F]+", "", repr(transform))


def _safe_name(text):
    return re.sub(r"[^A-Za-z0-9._+-]+", "_", text)


def image_cache_folder(backbone, dataset):
    """The cache folder of ``dataset``'s embeddings by ``backbone``.

    Its name ends in a digest of everything an image embedding depends on; the name is the
    key that every part file in the folder must carry.
    """
    key = {"format": CACHE_FORMAT, "backbone": backbone.cache_key, "preprocess": _describe(backbone.preprocess),
           "dataset": dataset.name, "split": dataset.split, "items": dataset.content_digest(),
           "loader": dataset.preprocessing}
    digest = hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:20]
    return (cache_dir() / "features" / _safe_name(backbone.cache_key)
            / f"{_safe_name(dataset.name)}-{_safe_name(dataset.split)}-{digest}")


def _read_verified(path, digest, names):
    """The tensors of a cache file whose key digest and checksum hold, else None (with a warning).

    The file is read once (:func:`llu_core.utils.io.read_tensors`); the checksum, of the tensors
    ``names`` in that order, is verified on the tensors built from those bytes, which are the
    ones returned.
    """
    if not path.is_file():
        warnings.warn(f"cache path {path} is not a file and is ignored", stacklevel=3)
        return None
    try:
        stored = read_tensors(path, "cache file")
        tensors = stored.tensors()
        problem = ("it belongs to another key" if stored.metadata.get("key") != digest else
                   f"it does not hold the tensors {list(names)}" if set(tensors) != set(names) else
                   "its checksum does not match"
                   if stored.metadata.get("checksum") != checksum(*(tensors[name] for name in names)) else None)
    except (OSError, ValueError) as error:
        problem = f"it cannot be read ({error})"
    if problem is None:
        return tensors
    warnings.warn(f"cache file {path} is not used and will be rebuilt: {problem}", stacklevel=3)
    _remove(path)
    return None


def _remove(path):
    """Delete a cache file; in a read-only cache leave it (it is verified, and refused, on every read)."""
    try:
        path.unlink(missing_ok=True)
    except OSError:
        pass


def _write_part(folder, digest, indices, features):
    """Write one part file; its path, or None when the cache cannot be written."""
    indices, features = indices.contiguous(), features.contiguous()
    path = folder / f"part-{hashlib.sha256(indices.numpy().tobytes()).hexdigest()[:16]}.safetensors"
    written = write_cache_file(path, {"indices": indices, "features": features},
                                {"key": digest, "checksum": checksum(indices, features)})
    return path if written else None


def _cached_rows(folder, digest):
    """All verified cached rows of a folder: (indices (k,), features (k, d))."""
    indices, features = [], []
    for part in sorted(folder.glob("part-*.safetensors")):
        tensors = _read_verified(part, digest, _PART_TENSORS)
        if tensors is not None:
            indices.append(tensors["indices"])
            features.append(tensors["features"])
    if not indices:
        return torch.empty(0, dtype=torch.int64), None
    return torch.cat(indices), torch.cat(features)


def _merge_parts(folder, digest):
    """Replace many part files by one holding the same rows."""
    parts = sorted(folder.glob("part-*.safetensors"))
    if len(parts) <= MAX_PARTS:
        return
    indices, features = _cached_rows(folder, digest)
    order = torch.argsort(indices)
    merged = _write_part(folder, digest, indices[order], features[order])
    if merged is None:
        return
    for part in parts:
        if part != merged and part.is_file():
            _remove(part)


def _collate(batch):
    """Stack the decoded images of a batch; keep the positions and errors of the others apart."""
    decoded = [(position, image) for position, image, _ in batch if image is not None]
    errors = [error for _, image, error in batch if image is None]
    images = torch.stack([image for _, image in decoded]) if decoded else None
    return torch.tensor([position for position, _ in decoded], dtype=torch.int64), images, errors


class _Preprocessed(torch.utils.data.Dataset):
    """``(i, preprocessed image, None)`` for ``dataset[indices[i]]``; ``(i, None, error)`` when its
    image cannot be decoded (:class:`~llu_core.data.images.UnreadableImageError`, naming the file)."""

    def __init__(self, dataset, indices, preprocess):
        self.dataset, self.indices, self.preprocess = dataset, indices, preprocess

    def __len__(self):
        return len(self.indices)

    def __getitem__(self, i):
        try:
            image, _ = self.dataset[int(self.indices[i])]
        except UnreadableImageError as error:
            return i, None, str(error)
        return i, self.preprocess(image), None


def encode_images(backbone, dataset, indices, batch_size=32, num_workers=0, progress=None):
    """Image features of ``dataset[indices]``, computed without any cache.

    An image that cannot be decoded is left out, with a warning naming its file.

    Returns
    -------
    decoded : numpy.ndarray, int64, shape (k,)
        The entries of ``indices`` whose image was embedded, in order (all of them unless a
        file is damaged).
    features : torch.Tensor, float32, shape (k, d), or None when k = 0
    """
    indices = np.asarray(indices, dtype=np.int64)
    loader = torch.utils.data.DataLoader(_Preprocessed(dataset, indices, backbone.preprocess),
                                         batch_size=batch_size, num_workers=num_workers, collate_fn=_collate)
    positions, features = [], []
    for batch_positions, images, errors in loader:
        for error in errors:
            warnings.warn(f"{error}; this image is left out", stacklevel=2)
        if images is not None:
            positions.append(batch_positions)
            features.append(backbone.encode_image(images).float().cpu())
        if progress is not None:
            progress.update(len(batch_positions) + len(errors))
    if not features:
        return indices[:0], None
    return indices[torch.cat(positions).numpy()], torch.cat(features)


def _as_indices(indices, n):
    """``indices`` of a data set of ``n`` items, checked: a non-empty 1-D integer array in [0, n)."""
    if indices is None:
        return np.arange(n)
    array = np.asarray(indices)
    if array.ndim != 1 or array.size == 0:
        raise ValueError(f"indices must be a non-empty 1-D array, got shape {array.shape}")
    if array.dtype.kind not in "iu":
        hint = "; for a boolean mask pass np.flatnonzero(mask)" if array.dtype.kind == "b" else ""
        raise ValueError(f"indices must be integers, got dtype {array.dtype}{hint}")
    if array.min() < 0 or array.max() >= n:
        raise ValueError(f"indices must lie in [0, {n})")
    return array.astype(np.int64)


def extract_features(backbone, dataset, indices=None, batch_size=32, chunk_size=1024, num_workers=0,
                     progress=True):
    """Image features of ``dataset`` by ``backbone``, from the cache where it holds them.

    Parameters
    ----------
    backbone : object from :func:`llu_core.load_backbone`
        Runs on the device it was loaded on (CUDA when available).
    dataset : :class:`llu_core.data.datasets.LabelledImages`
        One split of a data set, from :func:`llu_core.load_dataset`.
    indices : array-like of int, optional
        Which items to embed (default: all), in the order the rows are returned.
    batch_size : int
        Images per forward pass. On a CPU a small batch keeps the activations in the caches
        (32 took a third less CPU time per image than 64 for the offline model); on a GPU a
        larger one may pay.
    chunk_size : int
        Images per cache part: an interruption loses at most this many.
    num_workers : int
        DataLoader worker processes that decode and preprocess images while this process runs
        the forward pass (0: all in this process).
    progress : bool
        Show a progress bar while images are embedded.

    Returns
    -------
    features : torch.Tensor, float32, shape (len(indices), d)
        Raw image features (``encode_image``'s output; not normalised, not centred). Images
        that cannot be decoded are left out with a warning naming their files: then there
        are fewer rows.
    labels : torch.Tensor, int64, shape (len(features),)
        The labels of the rows returned.

    Raises
    ------
    ValueError
        For indices that are not integers in ``[0, len(dataset))`` (a boolean mask is not
        indices), or when no requested image can be decoded.
    """
    try:
        indices = _as_indices(indices, len(dataset))
    except ValueError as error:
        raise ValueError(f"{error} for {dataset!r}") from None
    check_integer("batch_size", batch_size, high=MAX_BATCH_SIZE)
    check_integer("chunk_size", chunk_size)
    check_integer("num_workers", num_workers, low=0)
    folder = image_cache_folder(backbone, dataset)
    digest = folder.name
    cached_indices, cached_features = _cached_rows(folder, digest)
    missing = np.setdiff1d(indices, cached_indices.numpy())
    if missing.size:
        bar = progress_bar(total=missing.size, show=progress, desc=f"embedding {dataset.name}/{dataset.split}",
                           unit="img")
        writable = True
        for start in range(0, missing.size, chunk_size):
            decoded, features = encode_images(backbone, dataset, missing[start:start + chunk_size], batch_size,
                                              num_workers, bar)
            if features is None:
                continue
            chunk = torch.from_numpy(decoded)
            writable = writable and _write_part(folder, digest, chunk, features) is not None
            cached_indices = torch.cat([cached_indices, chunk])
            cached_features = features if cached_features is None else torch.cat([cached_features, features])
        bar.close()
        if writable:
            _merge_parts(folder, digest)
    row_of = torch.full((len(dataset),), -1, dtype=torch.int64)
    row_of[cached_indices] = torch.arange(len(cached_indices))
    rows = row_of[torch.from_numpy(indices)]
    kept = rows >= 0
    if not kept.any():
        raise ValueError(f"none of the {indices.size} requested images of {dataset!r} could be decoded")
    return cached_features[rows[kept]], torch.from_numpy(dataset.labels[indices[kept.numpy()]])


def extract_text_features(backbone, classnames, templates):
    """Unit-norm class embeddings (C, d) of ``classnames`` under ``templates``, cached.

    Each template is a string with one ``"{}"`` for the class name; a class's embedding
    averages over its prompts (``backbone.encode_text``).
    """
    classnames, templates = list(classnames), check_templates(templates)
    if not classnames:
        raise ValueError("classnames is empty")
    key = {"format": CACHE_FORMAT, "backbone": backbone.cache_key, "classnames": classnames, "templates": templates}
    digest = hashlib.sha256(json.dumps(key).encode()).hexdigest()[:20]
    path = cache_dir() / "text" / _safe_name(backbone.cache_key) / f"{digest}.safetensors"
    if path.exists():
        tensors = _read_verified(path, digest, ("text",))
        if tensors is not None:
            return tensors["text"]
    text = backbone.encode_text(classnames, templates).float().cpu().contiguous()
    write_cache_file(path, {"text": text}, {"key": digest, "checksum": checksum(text)})
    return text


def check_templates(templates):
    """``templates`` as a list, checked: strings whose only replacement field is one bare ``{}``.

    Raises ``ValueError`` starting with ``templates`` for a single string instead of a list,
    an empty list, and a template with no, two, named (``{name}``), numbered (``{0}``),
    formatted (``{:>9}``) or unbalanced braces: ``template.format(classname)`` would fail or
    mislead for them.
    """
    if isinstance(templates, str) or not templates:
        raise ValueError(f"templates must be a non-empty list of strings with one '{{}}' each, got {templates!r}")
    templates = list(templates)
    for template in templates:
        try:
            fields = [(name, spec, conversion) for _, name, spec, conversion in Formatter().parse(template)
                      if name is not None] if isinstance(template, str) else None
        except ValueError as error:
            raise ValueError(f"templates: {template!r} is not a format string ({error})") from None
        if fields != [("", "", None)]:
            raise ValueError(f"templates: {template!r} must hold exactly one replacement field, a bare '{{}}' for the "
                             "class name (no names, numbers, conversions or format specifications)")
    return templates


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
                  pretrained=None, centre=None, batch_size=32, num_workers=1, progress=True, classes_file=None):
    """Embed the train and test splits of data set ``name`` and its class prompts.

    Parameters
    ----------
    backbone : str or backbone object
        A backbone, or a name for :func:`llu_core.load_backbone` (loaded once per session).
    name : str or Path
        A data set of :func:`llu_core.load_dataset`, or a folder of your own images, one
        sub-folder per class (:mod:`llu_core.data.folders`). A folder without ``train/`` and
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
        Passed to :func:`extract_features`. One worker process decodes and preprocesses images
        beside the forward pass: in one process, torch runs those small operations on all its
        threads, which on a loaded 2-core machine made preprocessing slower than the forward pass.
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
    folder = image_folder(name)
    if folder is not None and "test" not in folder_splits(folder):
        if test_per_class is not None:
            raise ValueError(f"test_per_class: image folder {folder} has no test split (no train/ and test/ "
                             "folders); hold images out with llu_core.hold_out_shots")
        test_features, test_y = train_features[:0], train_y[:0]
    else:
        test = load_dataset(name, "test", root=root, classes_file=classes_file)
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
    return EmbeddedDataset(name=str(name), backbone=backbone.name, classnames=train.classnames, templates=train.templates,
                           train_X=embed(train_features), train_y=train_y.numpy(), test_X=embed(test_features),
                           test_y=test_y.numpy(), image_centre=image_centre.numpy(),
                           text=ClassTexts(text.numpy(), train.classnames, backbone.context_tower(), train.templates))


def _as_centre(centre, dim):
    """An explicit image centre as a float32 tensor (d,), checked against the features' size."""
    centre = torch.as_tensor(np.asarray(centre, dtype=np.float32))
    if centre.shape != (dim,) or not torch.isfinite(centre).all():
        raise ValueError(f"centre must be a finite array of shape ({dim},), the raw image feature size; got "
                         f"shape {tuple(centre.shape)}")
    return centre


def embed_target(backbone, name, centre, test_per_class=None, root=None, device=None, pretrained=None,
                 batch_size=32, num_workers=1, progress=True):
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
    name : str
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
