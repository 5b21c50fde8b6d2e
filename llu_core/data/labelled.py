"""Labelled image sets: the one interface every loader returns, whatever the images are stored as.

``ds[i]`` is a ``(PIL.Image, int label)`` pair, and ``ds.classnames``, ``ds.templates``,
``ds.labels``, ``ds.name`` and ``ds.split`` describe the set. The images are files
(:class:`ImageFiles`), pixels in memory (:class:`ImageArrays`) or another set's images corrupted
when read (:class:`CorruptedImages`); every one is decoded by :mod:`llu_core.data.images`. A
set also says what its items are (:meth:`LabelledImages.content_digest`) and what the loader does
to an image (``preprocessing``): both are part of the embedding cache's key.
"""

import hashlib
import json
import os
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from .corruptions import check_corruption, corrupt
from .images import as_8bit_pixels, decode_image

#: The splits a data set may have.
SPLITS = ("train", "val", "test")
#: The generic CLIP/CoOp prompt, for data sets without one of their own.
DEFAULT_TEMPLATE = "a photo of a {}."


class LabelledImages(torch.utils.data.Dataset):
    """A labelled image data set with the metadata zero-shot classification needs.

    Attributes
    ----------
    name, split : str
        Registry name and split ("train", "val" or "test").
    classnames : list of str
        One name per label, in label order.
    templates : list of str
        Prompt templates with one ``"{}"`` for the class name.
    labels : ndarray of int64, shape (n,)
    preprocessing : str
        What the loader does to an image beyond decoding it (part of the cache key).
    missing_classes : list of str
        Classes of the split file whose images are not on disk (empty when complete).
    resolved : :class:`llu_core.data.datasets.ResolvedDataset` or None
        What :func:`llu_core.load_dataset` resolved the name to (data root or image folder,
        splits); None for a set made directly.
    """

    preprocessing = "rgb"
    resolved = None

    def __init__(self, name, split, labels, classnames, templates, missing_classes=()):
        self.name = name
        self.split = split
        self.labels = np.asarray(labels, dtype=np.int64)
        self.classnames = list(classnames)
        self.templates = list(templates)
        self.missing_classes = list(missing_classes)

    def __len__(self):
        return len(self.labels)

    def __getitem__(self, index):
        return self.load_image(index), int(self.labels[index])

    def load_image(self, index):
        """Return image ``index`` as an RGB :class:`PIL.Image.Image`.

        Raises :class:`llu_core.data.images.UnreadableImageError`, naming the file, when it cannot
        be decoded (:func:`llu_core.data.images.decode_image`).
        """
        raise NotImplementedError

    def content_digest(self):
        """A hex digest of what the items are (files or pixels, and labels), for cache keys."""
        raise NotImplementedError

    def __repr__(self):
        return (f"{type(self).__name__}(name={self.name!r}, split={self.split!r}, "
                f"n={len(self)}, classes={len(self.classnames)})")


class ImageFiles(LabelledImages):
    """Images stored as files: ``paths[i]`` relative to ``image_dir``."""

    def __init__(self, name, split, image_dir, paths, labels, classnames, templates,
                 missing_classes=()):
        super().__init__(name, split, labels, classnames, templates, missing_classes)
        self.image_dir = Path(image_dir)
        self.paths = [str(path) for path in paths]

    def load_image(self, index):
        return decode_image(self.image_dir / self.paths[index])

    def content_digest(self):
        """A digest of the image folder, every item's path and label, and every file's size and
        modification time: the way build tools decide staleness, without reading the pixels.

        Another data root, an edited, replaced or damaged file changes it; a cache hit costs
        one ``stat`` per file.
        """
        digest = hashlib.sha256(os.fsencode(f"{_one_field(str(self.image_dir.resolve()))}\n"))  # names need not be UTF-8
        for path, label in zip(self.paths, self.labels.tolist()):
            try:
                stat = (self.image_dir / path).stat()
                version = f"{stat.st_size}\t{stat.st_mtime_ns}"
            except OSError:
                version = "missing"
            digest.update(os.fsencode(f"{_one_field(path)}\t{label}\t{version}\n"))
        return digest.hexdigest()


def _one_field(name):
    """``name`` as one field of a tab-separated line: as it is, unless it holds a tab or a line break or
    starts with a quote; then as a JSON string (which starts with a quote and holds neither), so two
    lists of names never make the same lines."""
    if "\t" in name or "\n" in name or "\r" in name or name.startswith('"'):
        return json.dumps(name)
    return name


class ImageArrays(LabelledImages):
    """Images held in memory as 8-bit pixels of shape (n, H, W) or (n, H, W, 3)
    (checked by :func:`llu_core.data.images.as_8bit_pixels`)."""

    def __init__(self, name, split, pixels, labels, classnames, templates, invert=False):
        super().__init__(name, split, labels, classnames, templates)
        self.pixels = as_8bit_pixels(pixels)
        self.invert = invert
        self.preprocessing = "rgb,inverted" if invert else "rgb"

    def load_image(self, index):
        pixels = self.pixels[index]
        if self.invert:
            pixels = 255 - pixels
        return Image.fromarray(pixels).convert("RGB")

    def content_digest(self):
        digest = hashlib.sha256(self.pixels.tobytes())
        digest.update(self.labels.tobytes())
        return digest.hexdigest()


class CorruptedImages(LabelledImages):
    """Another data set's images, corrupted when read (:func:`llu_core.data.corruptions.corrupt`).

    Item ``i`` is ``corrupt(source[i], kind, severity, seed, index=i)`` with ``source[i]``'s
    label, so the same seed gives the same bytes in any reading order.
    """

    def __init__(self, name, source, kind, severity, seed):
        check_corruption(kind, severity)
        super().__init__(name, source.split, source.labels, source.classnames, source.templates)
        self.source, self.kind, self.severity, self.seed = source, kind, int(severity), int(seed)
        self.preprocessing = f"{source.preprocessing},{kind}@{self.severity},seed={self.seed}"

    def load_image(self, index):
        return corrupt(self.source.load_image(index), self.kind, self.severity, self.seed, index)

    def content_digest(self):
        return self.source.content_digest()
