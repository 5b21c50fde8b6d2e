"""The embedding cache on disk: its folders and keys, verified reads, atomic writes of parts.

Embeddings are computed once and cached (the Tip-Adapter idea: cache first, then every method is
a few lines over embeddings). The image cache is a folder per backbone, data set and split, keyed
by everything that changes the numbers: the backbone's ``cache_key`` (weights), its
preprocessing, the data set's name, split, items and loader preprocessing.

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
- processes that embed the same images at the same time (two chapters executed at once) share
  the work instead of doing it twice: a process computes a part only while it holds that part's
  lock (:func:`claim_part`, a file lock beside the part), and reads the parts that another
  process holds once their locks are free. Merging parts holds the folder's lock, and a part
  that vanishes while it is read (merged by another process) is skipped without a warning.

Text embeddings of class prompts are cached the same way, one file per backbone, class list
and template list, whose name is its key digest. What is cached is computed by
:mod:`llu_core.data.features`.
"""

import hashlib
import json
import re
import warnings
from contextlib import contextmanager

import torch
from filelock import FileLock, Timeout

from ..utils.io import checksum, read_tensors
from ..utils.locations import cache_dir, write_cache_file

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


def text_cache_file(backbone, classnames, templates):
    """The cache file of the class embeddings of ``classnames`` under ``templates`` by ``backbone``.

    Its name (without ``.safetensors``) is the digest of the three: the key the file must carry.
    """
    key = {"format": CACHE_FORMAT, "backbone": backbone.cache_key, "classnames": classnames, "templates": templates}
    digest = hashlib.sha256(json.dumps(key).encode()).hexdigest()[:20]
    return cache_dir() / "text" / _safe_name(backbone.cache_key) / f"{digest}.safetensors"


def _read_verified(path, digest, names):
    """The tensors of a cache file whose key digest and checksum hold, else None (with a warning).

    The file is read once (:func:`llu_core.utils.io.read_tensors`); the checksum, of the tensors
    ``names`` in that order, is verified on the tensors built from those bytes, which are the
    ones returned.
    """
    if not path.exists():
        return None  # merged into another part by another process since the folder was listed
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
    except FileNotFoundError:
        return None  # merged away between the check above and the read
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


def read_cached_text(path):
    """The class embeddings (C, d) cached in ``path`` (from :func:`text_cache_file`), or None when
    there are none that verify."""
    if not path.exists():
        return None
    tensors = _read_verified(path, path.stem, ("text",))
    return None if tensors is None else tensors["text"]


def write_cached_text(path, text):
    """Cache the class embeddings ``text`` (C, d) in ``path`` (from :func:`text_cache_file`)."""
    write_cache_file(path, {"text": text}, {"key": path.stem, "checksum": checksum(text)})


def _part_file(folder, indices):
    """The part file of ``folder`` that holds ``indices`` (k,), int64: named by their digest."""
    digest = hashlib.sha256(torch.as_tensor(indices, dtype=torch.int64).contiguous().numpy().tobytes()).hexdigest()
    return folder / f"part-{digest[:16]}.safetensors"


@contextmanager
def _file_lock(path, wait):
    """Hold the file lock ``path``: yields True while held; False when another process holds it
    and ``wait`` is False. Where no lock file can be made (a cache that cannot be written), yields
    True without a lock: nothing can be shared there, and the caller computes alone."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        lock = FileLock(path, blocking=wait)
        lock.acquire()
    except Timeout:
        yield False
        return
    except OSError:
        yield True
        return
    try:
        yield True
    finally:
        lock.release()


def claim_part(folder, indices, wait=False):
    """Claim the computing of the part of ``folder`` that holds ``indices``, against other processes.

    A context manager: yields True while this process holds the part's lock (it computes and
    writes the part), False when another process holds it and ``wait`` is False (that process
    is computing it). With ``wait`` it blocks until the lock is free: the other process has
    written the part, or stopped. The lock (``part-<digest>.lock``) is released when the
    process ends, however it ends.
    """
    return _file_lock(_part_file(folder, indices).with_suffix(".lock"), wait)


def has_part(folder, indices):
    """Whether ``folder`` holds the part file of exactly ``indices`` (written by any process)."""
    return _part_file(folder, indices).is_file()


def write_part(folder, indices, features):
    """Write one part file of the image cache folder ``folder``: ``indices`` (k,) and their
    ``features`` (k, d). Returns its path, or None when the cache cannot be written."""
    indices, features = indices.contiguous(), features.contiguous()
    path = _part_file(folder, indices)
    written = write_cache_file(path, {"indices": indices, "features": features},
                               {"key": folder.name, "checksum": checksum(indices, features)})
    return path if written else None


def cached_rows(folder):
    """All verified cached rows of the image cache folder ``folder``: (indices (k,), features (k, d)),
    features None when there are none."""
    indices, features = [], []
    for part in sorted(folder.glob("part-*.safetensors")):
        tensors = _read_verified(part, folder.name, _PART_TENSORS)
        if tensors is not None:
            indices.append(tensors["indices"])
            features.append(tensors["features"])
    if not indices:
        return torch.empty(0, dtype=torch.int64), None
    return torch.cat(indices), torch.cat(features)


def merge_parts(folder):
    """Replace the part files of ``folder`` by one holding the same rows when there are more than
    :data:`MAX_PARTS` (holding the folder's lock, so that two processes never merge at once)."""
    if len(list(folder.glob("part-*.safetensors"))) <= MAX_PARTS:
        return
    with _file_lock(folder / "merge.lock", wait=True):
        parts = sorted(folder.glob("part-*.safetensors"))
        if len(parts) <= MAX_PARTS:
            return
        indices, features = cached_rows(folder)
        order = torch.argsort(indices)
        merged = write_part(folder, indices[order], features[order])
        if merged is None:
            return
        for part in parts:
            if part != merged and part.is_file():
                _remove(part)
