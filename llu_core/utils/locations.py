"""Where the library writes: the cache folder, and the one place it looks for a source checkout.

- The cache: ``$LLU_CACHE_DIR``, else the user's cache folder (``$XDG_CACHE_HOME/llu_book``,
  by default ``~/.cache/llu_book``). The Makefile points ``LLU_CACHE_DIR`` at ``.cache/`` in
  the repository, so that the tests and the book build share one cache. The cache is a
  convenience, never a requirement: a cache file that cannot be written (a folder that cannot
  be created, a file or ``/dev/null`` as ``LLU_CACHE_DIR``, a read-only or full disk, a
  file-size limit) gives one warning per cache folder and process
  (:func:`write_cache_file`), and the caller goes on with what it computed in memory.
- The checkout: when ``llu_core`` runs from a clone of the repository (an editable install),
  :func:`checkout_root` is that clone's folder, recognised by the book's table of contents
  beside the package; installed as a wheel it is None. Only two defaults use it, each
  overridden by an explicit argument: the development data beside the clone
  (:func:`llu_core.data.paths.data_root`) and the chapter notebooks that ``reproduce`` runs.
"""

import contextlib
import os
import warnings
from pathlib import Path

from filelock import FileLock

from .io import write_tensors

#: The cache folders whose write failure was reported in this process.
_REPORTED = set()


def user_cache_folder():
    """The user's cache folder for this project: ``$XDG_CACHE_HOME/llu_book`` or ``~/.cache/llu_book``."""
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base).expanduser() / "llu_book"


def cache_dir():
    """The cache folder: ``$LLU_CACHE_DIR`` or :func:`user_cache_folder`.

    It is not created here: :func:`write_cache_file` creates the folders it writes into.
    """
    return Path(os.environ.get("LLU_CACHE_DIR") or user_cache_folder()).expanduser()


def write_cache_file(path, tensors, metadata):
    """Write a cache file atomically; True on success.

    On any failure to write (``OSError``: see :func:`llu_core.utils.io.write_bytes`) return
    False, with a ``UserWarning`` the first time in this process for the current cache folder,
    so that the caller computes in memory instead.
    """
    try:
        write_tensors(path, tensors, metadata=metadata)
    except OSError as error:
        folder = cache_dir()
        if folder not in _REPORTED:
            _REPORTED.add(folder)
            warnings.warn(f"the cache {folder} cannot be written ({error}); embeddings are computed in memory and "
                          "not cached (reported once)", stacklevel=3)
        return False
    return True


def build_once(path, read, build):
    """The cache file ``path``'s content, built and written first where it is missing or not current.

    ``read(path, warn)`` returns what the file holds, or None where it is missing, stale, unreadable
    or damaged (warning about the last when ``warn``); ``build()`` makes ``(tensors, metadata)``
    for :func:`write_cache_file`. Processes that need the file at once build it once: the builder
    holds a file lock beside it (``<name>.lock``), the others wait for it and read what it wrote.
    When the built file cannot be written, it is used from memory (:func:`write_cache_file` warns).
    """
    stored = read(path, warn=True)
    if stored is not None:
        return stored
    with contextlib.ExitStack() as held:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            held.enter_context(FileLock(path.with_suffix(".lock")))
        except OSError:  # a cache that cannot be written: nothing to share, the result lives in memory
            pass
        stored = read(path, warn=False)  # another process may have built it meanwhile
        if stored is None:
            stored = build()
            write_cache_file(path, *stored)
    return stored


def checkout_root():
    """The repository folder ``llu_core`` runs from, or None when it is installed as a package.

    A checkout holds the package next to the book's ``_toc.yml`` and its ``notebooks/``.
    """
    folder = Path(__file__).resolve().parents[2]
    return folder if (folder / "_toc.yml").is_file() and (folder / "notebooks").is_dir() else None
