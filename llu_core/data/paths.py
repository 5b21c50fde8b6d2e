"""Where the data sets are read from: the data root.

In order: the ``root`` argument of a loader; ``$LLU_DATA_ROOT``; the development layout, a
folder ``shared/data`` beside the repository when ``llu_core`` runs from a checkout
(:func:`llu_core.utils.locations.checkout_root`); else :func:`fetched_data_root`, the folder in
the user's cache that the offline data is fetched into (``python -m llu_core fetch-data``). No
other folder is ever guessed. Fashion-MNIST is also read from Debian's package
``dataset-fashion-mnist``, installed at :data:`DEBIAN_FASHION_MNIST`.
"""

import os
from pathlib import Path

from ..utils.locations import checkout_root, user_cache_folder

#: Where Debian's package ``dataset-fashion-mnist`` installs Fashion-MNIST's four IDX files.
DEBIAN_FASHION_MNIST = Path("/usr/share/datasets/fashion-mnist")


def fetched_data_root():
    """The folder in the user's cache that holds fetched data (``~/.cache/llu_book/data``)."""
    return user_cache_folder() / "data"


def development_data_root():
    """``shared/data`` beside the repository when running from a checkout that has it, else None."""
    checkout = checkout_root()
    folder = None if checkout is None else checkout.parent / "shared" / "data"
    return folder if folder is not None and folder.is_dir() else None


def data_root(root=None):
    """Return the folder that holds the data sets, as a :class:`~pathlib.Path`.

    Parameters
    ----------
    root : str or Path, optional
        An explicit folder; wins over ``$LLU_DATA_ROOT`` and the defaults.
    """
    if root is not None:
        if isinstance(root, (str, os.PathLike)) and not os.fspath(root):
            raise ValueError("the data root is empty; expected the path of a folder")
        return Path(root).expanduser()
    if os.environ.get("LLU_DATA_ROOT"):
        return Path(os.environ["LLU_DATA_ROOT"]).expanduser()
    return development_data_root() or fetched_data_root()
