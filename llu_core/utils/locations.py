"""Where the library writes: the cache folder, and the one place it looks for a source checkout.

- The cache: ``$LLU_CACHE_DIR``, else the user's cache folder (``$XDG_CACHE_HOME/llu_book``,
  by default ``~/.cache/llu_book``). The Makefile points ``LLU_CACHE_DIR`` at ``.cache/`` in
  the repository, so that the tests and the book build share one cache.
- The checkout: when ``llu_core`` runs from a clone of the repository (an editable install),
  :func:`checkout_root` is that clone's folder, recognised by the book's table of contents
  beside the package; installed as a wheel it is None. Only two defaults use it, each
  overridden by an explicit argument: the development data beside the clone
  (:func:`llu_core.data.paths.data_root`) and the chapter notebooks that ``reproduce`` runs.
"""

import os
from pathlib import Path


def user_cache_folder():
    """The user's cache folder for this project: ``$XDG_CACHE_HOME/llu_book`` or ``~/.cache/llu_book``."""
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base).expanduser() / "llu_book"


def cache_dir():
    """Return the cache folder (created if missing): ``$LLU_CACHE_DIR`` or :func:`user_cache_folder`."""
    folder = Path(os.environ.get("LLU_CACHE_DIR") or user_cache_folder()).expanduser()
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def checkout_root():
    """The repository folder ``llu_core`` runs from, or None when it is installed as a package.

    A checkout holds the package next to the book's ``_toc.yml`` and its ``notebooks/``.
    """
    folder = Path(__file__).resolve().parents[2]
    return folder if (folder / "_toc.yml").is_file() and (folder / "notebooks").is_dir() else None
