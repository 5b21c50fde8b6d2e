"""Where the project reads data and writes caches.

Both locations are configurable, so the same code runs on the embedded offline data here and
on a user's copy of the CoOp datasets on a GPU machine:

- data root: the ``root`` argument of a loader, else ``$LLU_DATA_ROOT``, else the offline
  data this project is developed with: the ``shared/data`` folder beside this repository, or
  ``/work/shared/data`` where its machines keep it (so a clone elsewhere, such as a CI
  checkout in ``/tmp``, still finds it);
- cache directory: ``$LLU_CACHE_DIR``, else ``~/.cache/llu_book``. The Makefile points it
  at ``.cache/`` in the repository so that the tests and the book build share one cache.
"""

import os
from pathlib import Path

_REPO_ROOT = Path(__file__).resolve().parent.parent
#: Where the offline data is looked for when no root is given, in order.
OFFLINE_DATA_ROOTS = (_REPO_ROOT.parent / "shared" / "data", Path("/work/shared/data"))


def data_root(root=None):
    """Return the folder that holds the data sets, as a :class:`~pathlib.Path`.

    Parameters
    ----------
    root : str or Path, optional
        An explicit folder; wins over ``$LLU_DATA_ROOT`` and the default.
    """
    if root is not None:
        return Path(root).expanduser()
    if os.environ.get("LLU_DATA_ROOT"):
        return Path(os.environ["LLU_DATA_ROOT"]).expanduser()
    return next((folder for folder in OFFLINE_DATA_ROOTS if folder.is_dir()), OFFLINE_DATA_ROOTS[0])


def cache_dir():
    """Return the cache folder (created if missing): ``$LLU_CACHE_DIR`` or ``~/.cache/llu_book``."""
    folder = Path(os.environ.get("LLU_CACHE_DIR") or Path.home() / ".cache" / "llu_book").expanduser()
    folder.mkdir(parents=True, exist_ok=True)
    return folder
