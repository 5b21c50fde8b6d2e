"""Encoding: images and class prompts into a backbone's embedding space, through the cache.

:func:`extract_features` embeds the images of a data set that the cache (:mod:`llu_core.data.cache`)
does not hold yet, chunk by chunk, and returns the raw features of the items asked for;
:func:`encode_images` is the same without any cache. :func:`extract_text_features` embeds class
names under prompt templates (checked by :func:`check_templates`), cached likewise. An image that
cannot be decoded (a truncated or damaged file) is left out with a warning naming its file; the
other images of its chunk are embedded and cached.
"""

import warnings
from string import Formatter

import numpy as np
import torch

from ..utils.progress import progress_bar
from ..utils.validation import MAX_BATCH_SIZE, check_integer
from .cache import (cached_rows, image_cache_folder, merge_parts, read_cached_text, text_cache_file,
                    write_cached_text, write_part)
from .images import UnreadableImageError


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
    dataset : :class:`llu_core.data.labelled.LabelledImages`
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
    cached_indices, cached_features = cached_rows(folder)
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
            writable = writable and write_part(folder, chunk, features) is not None
            cached_indices = torch.cat([cached_indices, chunk])
            cached_features = features if cached_features is None else torch.cat([cached_features, features])
        bar.close()
        if writable:
            merge_parts(folder)
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
    if isinstance(classnames, str):
        raise ValueError(f"classnames must be a list of class names, got the string {classnames!r}")
    classnames, templates = list(classnames), check_templates(templates)
    if not classnames:
        raise ValueError("classnames is empty")
    if not all(isinstance(name, str) and name.strip() for name in classnames):
        raise ValueError(f"classnames must be non-empty strings, got {classnames!r}")
    path = text_cache_file(backbone, classnames, templates)
    text = read_cached_text(path)
    if text is None:
        # A folder's name need not be UTF-8 (os.fsdecode keeps such bytes as lone surrogates, which no
        # tokenizer takes): the prompt gets U+FFFD for each of them, the class keeps its name.
        readable = [name.encode("utf-8", "surrogateescape").decode("utf-8", "replace") for name in classnames]
        text = backbone.encode_text(readable, templates).float().cpu().contiguous()
        write_cached_text(path, text)
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
