"""Progress bars for long loops: ``tqdm.auto``, switched off by ``TQDM_DISABLE``.

tqdm reads its ``TQDM_*`` environment variables only as defaults of the arguments a caller
leaves out, and the notebook bar of ``tqdm.auto`` (an ipywidgets widget) always passes
``disable`` on to tqdm, so in a Jupyter kernel ``TQDM_DISABLE=1`` has no effect at all, and
neither has it for a call that passes ``disable=`` itself. The built book sets
``TQDM_DISABLE=1`` (a widget bar in a static page is JavaScript state with nothing to show), so
every bar of ``llu_core`` is made here, where the variable is honoured.
"""

import os

from tqdm.auto import tqdm


def bars_disabled():
    """Whether the environment switches progress bars off (``TQDM_DISABLE`` set and not 0/false)."""
    return os.environ.get("TQDM_DISABLE", "").strip().lower() not in ("", "0", "false", "no")


def progress_bar(iterable=None, show=True, **kwargs):
    """A ``tqdm.auto`` bar over ``iterable``, hidden when ``show`` is false or the environment says so.

    ``kwargs`` are tqdm's (``total``, ``desc``, ``unit``, ``leave``, ...), except ``disable``.
    """
    return tqdm(iterable, disable=not show or bars_disabled(), **kwargs)
