"""Encoding: images and class prompts into a backbone's embedding space, through the cache.

:func:`extract_features` embeds the images of a data set that the cache (:mod:`llu_core.data.cache`)
does not hold yet, chunk by chunk, and returns the raw features of the items asked for;
:func:`encode_images` is the same without any cache. :func:`extract_text_features` embeds class
names under prompt templates (checked by :func:`check_templates`), cached likewise. An image that
cannot be decoded (a truncated or damaged file) is left out with a warning naming its file; the
other images of its chunk are embedded and cached. Processes that embed the same images at the
same time share the chunks (:func:`llu_core.data.cache.claim_part`): each image is embedded once.
"""

import warnings
from string import Formatter

import numpy as np
import torch

from ..utils.progress import progress_bar
from ..utils.validation import MAX_BATCH_SIZE, check_integer
from .cache import (cached_rows, claim_part, has_part, image_cache_folder, merge_parts, read_cached_text,
                    text_cache_file, write_cached_text, write_part)
from .images import UnreadableImageError


#: Images per forward pass on a CPU: few, so that the activations of a batch stay in the CPU's caches.
#: The offline image tower in PyTorch took 1.3-1.9x less CPU time per image at 4 than at 32 on this
#: project's 2-core machines; in ONNX Runtime, which runs it on a CPU now, the batch size hardly
#: matters (benchmarks/bench_extraction.py, the README). On a GPU, :data:`GPU_BATCH_SIZE`.
CPU_BATCH_SIZE = 4
GPU_BATCH_SIZE = 128
#: Images per cache part: small enough for two processes embedding the same images to share them.
CHUNK_SIZE = 256


def _collate(batch):
    """Stack the decoded images of a batch; keep the positions and errors of the others apart."""
    decoded = [(position, image) for position, image, _ in batch if image is not None]
    errors = [error for _, image, error in batch if image is None]
    images = torch.stack([image for _, image in decoded]) if decoded else None
    return torch.tensor([position for position, _ in decoded], dtype=torch.int64), images, errors


class _Encode:
    """The collate function of worker processes that also run the forward pass (on a CPU): a batch's
    positions, features (None when no image of it could be decoded) and errors."""

    def __init__(self, backbone):
        self.backbone = backbone

    def __call__(self, batch):
        positions, images, errors = _collate(batch)
        return positions, None if images is None else self.backbone.encode_image(images).float().cpu(), errors


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


def encode_images(backbone, dataset, indices, batch_size=CPU_BATCH_SIZE, num_workers=0, progress=None):
    """Image features of ``dataset[indices]``, computed without any cache.

    With ``num_workers`` > 0 the images are decoded and preprocessed in that many worker
    processes; on a CPU the workers also run the forward pass, each on one thread, a batch at a
    time, so that one worker decodes while another computes (on 2 cores as fast as the forward
    pass in this process on both threads, within the noise: benchmarks/bench_extraction.py and
    the README). An image that cannot be decoded is left out, with a warning naming its file.

    Returns
    -------
    decoded : numpy.ndarray, int64, shape (k,)
        The entries of ``indices`` whose image was embedded, in order (all of them unless a
        file is damaged).
    features : torch.Tensor, float32, shape (k, d), or None when k = 0
    """
    indices = np.asarray(indices, dtype=np.int64)
    in_workers = num_workers > 0 and not _on_gpu(backbone)
    loader = torch.utils.data.DataLoader(_Preprocessed(dataset, indices, backbone.preprocess),
                                         batch_size=batch_size, num_workers=num_workers,
                                         collate_fn=_Encode(backbone) if in_workers else _collate)
    positions, features = [], []
    for batch_positions, batch, errors in loader:
        for error in errors:
            warnings.warn(f"{error}; this image is left out", stacklevel=2)
        if batch is not None:
            positions.append(batch_positions)
            features.append(batch if in_workers else backbone.encode_image(batch).float().cpu())
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


def _on_gpu(backbone):
    device = getattr(backbone, "device", None)
    return device is not None and torch.device(device).type == "cuda"


def default_batch_size(backbone):
    """Images per forward pass for ``backbone``: :data:`GPU_BATCH_SIZE` on a GPU, else :data:`CPU_BATCH_SIZE`."""
    return GPU_BATCH_SIZE if _on_gpu(backbone) else CPU_BATCH_SIZE


def default_num_workers(backbone):
    """Worker processes for ``backbone``'s extraction: on a CPU one per thread torch may use here
    (``torch.get_num_threads()``, e.g. ``OMP_NUM_THREADS``), each decoding and embedding its
    batches on one thread; on a GPU one, decoding beside the forward pass."""
    return 1 if _on_gpu(backbone) else torch.get_num_threads()


def extract_features(backbone, dataset, indices=None, batch_size=None, chunk_size=CHUNK_SIZE, num_workers=0,
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
    batch_size : int, optional
        Images per forward pass; default :func:`default_batch_size` (4 on a CPU, 128 on a GPU).
    chunk_size : int
        Images per cache part: an interruption loses at most this many, and processes that
        embed the same images at once share them part by part.
    num_workers : int or None
        Worker processes (0: all in this process; None: :func:`default_num_workers`). They decode
        and preprocess the images; on a CPU they also run the forward pass, each on one thread
        (:func:`encode_images`).
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
    batch_size = default_batch_size(backbone) if batch_size is None else batch_size
    check_integer("batch_size", batch_size, high=MAX_BATCH_SIZE)
    check_integer("chunk_size", chunk_size)
    num_workers = default_num_workers(backbone) if num_workers is None else num_workers
    check_integer("num_workers", num_workers, low=0)
    folder = image_cache_folder(backbone, dataset)
    cached_indices, cached_features = cached_rows(folder)
    missing = np.setdiff1d(indices, cached_indices.numpy())
    if missing.size:
        bar = progress_bar(total=missing.size, show=progress, desc=f"embedding {dataset.name}/{dataset.split}",
                           unit="img")
        embedded = _embed_chunks(backbone, dataset, folder, missing, batch_size, chunk_size, num_workers, bar)
        if embedded.deferred:  # chunks that other processes were embedding: read them, compute what they lack
            cached_indices, cached_features = embedded.join(*cached_rows(folder))
            still = np.setdiff1d(indices, cached_indices.numpy())
            if still.size:
                embedded = _embed_chunks(backbone, dataset, folder, still, batch_size, chunk_size, num_workers, bar,
                                         share=False)
        cached_indices, cached_features = embedded.join(cached_indices, cached_features)
        bar.close()
        if embedded.writable:
            merge_parts(folder)
    row_of = torch.full((len(dataset),), -1, dtype=torch.int64)
    row_of[cached_indices] = torch.arange(len(cached_indices))
    rows = row_of[torch.from_numpy(indices)]
    kept = rows >= 0
    if not kept.any():
        raise ValueError(f"none of the {indices.size} requested images of {dataset!r} could be decoded")
    return cached_features[rows[kept]], torch.from_numpy(dataset.labels[indices[kept.numpy()]])


class _Embedded:
    """The rows one pass of :func:`_embed_chunks` computed, the chunks it left to other processes,
    and whether every part it wrote reached the cache."""

    def __init__(self):
        self.indices, self.features, self.deferred, self.writable = [], [], [], True

    def join(self, indices, features):
        """``indices`` (k,) and ``features`` (k, d) or None, with the rows computed here appended."""
        indices = torch.cat([indices, *self.indices])
        parts = ([] if features is None else [features]) + self.features
        return indices, torch.cat(parts) if parts else None


def _embed_chunks(backbone, dataset, folder, missing, batch_size, chunk_size, num_workers, bar, share=True):
    """Embed the images ``missing`` in chunks of ``chunk_size``, each written as one cache part.

    With ``share``, a chunk is embedded only while this process holds its claim
    (:func:`llu_core.data.cache.claim_part`); a chunk claimed by another process, or written by one
    since the cache was read, is left to it and waited for once every other chunk is done
    (``deferred``: its rows are then in the cache).
    """
    embedded = _Embedded()
    for start in range(0, missing.size, chunk_size):
        chunk = missing[start:start + chunk_size]
        with claim_part(folder, chunk, wait=not share) as claimed:
            if not claimed or (share and has_part(folder, chunk)):  # being embedded, or just written, elsewhere
                embedded.deferred.append(chunk)
                continue
            decoded, features = encode_images(backbone, dataset, chunk, batch_size, num_workers, bar)
            if features is None:
                continue
            rows = torch.from_numpy(decoded)
            embedded.writable = embedded.writable and write_part(folder, rows, features) is not None
            embedded.indices.append(rows)
            embedded.features.append(features)
    for chunk in embedded.deferred:
        with claim_part(folder, chunk, wait=True):
            bar.update(len(chunk))
    return embedded


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
