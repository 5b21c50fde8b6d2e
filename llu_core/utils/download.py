"""HTTP downloads that resume: a file grows in a staging path until the server has sent all of it.

:func:`download` asks for the bytes a partial file lacks (an HTTP ``Range`` request), so an
interrupted transfer, in this run (it retries) or in a later one, continues where it stopped;
a server that ignores ``Range`` sends the whole file again, which replaces the partial one.
Nothing here writes the final file: the caller verifies the staged bytes and renames them into
place. Each thread keeps one ``requests`` session, so many small files share connections.
"""

import threading
import time

import requests

#: Seconds to wait for a connection and for the next bytes of a response.
TIMEOUT = (5, 60)
#: Further attempts after a failed transfer (connection refused or reset, a timeout, a cut body).
RETRIES = 2
#: Seconds before the first retry; doubled for each further one.
BACKOFF = 0.5

_local = threading.local()
_TRANSIENT = (requests.ConnectionError, requests.Timeout, requests.exceptions.ChunkedEncodingError)


class DownloadError(OSError):
    """A file that could not be downloaded; the message names its address and the reason."""


def _session():
    if not hasattr(_local, "session"):
        _local.session = requests.Session()
        # Ranges count stored bytes; a compressed transfer would count others.
        _local.session.headers.update({"User-Agent": "llu_core", "Accept-Encoding": "identity"})
    return _local.session


def _transfer(url, partial):
    have = partial.stat().st_size if partial.exists() else 0
    headers = {"Range": f"bytes={have}-"} if have else {}
    with _session().get(url, headers=headers, stream=True, timeout=TIMEOUT) as response:
        if response.status_code == 416 and have:  # the partial file is as long as the file, or longer
            partial.unlink()
            return _transfer(url, partial)
        response.raise_for_status()
        with open(partial, "ab" if have and response.status_code == 206 else "wb") as handle:
            for block in response.iter_content(1 << 16):
                handle.write(block)


def download(url, partial, retries=None):
    """Download ``url`` into the staging file ``partial``, resuming what it already holds.

    Parameters
    ----------
    url : str
        An ``http://`` or ``https://`` address.
    partial : pathlib.Path
        The staging file (its folder exists); bytes it holds from an earlier attempt are kept and
        the rest is requested.
    retries : int, optional
        Further attempts after a transfer that fails on the way, each resuming (default
        :data:`RETRIES`).

    Raises
    ------
    DownloadError
        When the server answers with an error status (no retry), or the transfer still fails
        after ``retries`` more attempts; ``partial`` keeps what arrived, for a later resume.
    """
    retries = RETRIES if retries is None else retries
    for attempt in range(retries + 1):
        try:
            return _transfer(url, partial)
        except requests.HTTPError as error:
            raise DownloadError(f"{url}: the server answered {error.response.status_code} "
                                f"{error.response.reason}") from None
        except _TRANSIENT as error:
            if attempt == retries:
                raise DownloadError(f"{url} could not be downloaded ({_reason(error)})") from None
            time.sleep(BACKOFF * 2 ** attempt)


def _reason(error):
    """The innermost cause of a requests error, in words (e.g. 'Connection refused')."""
    while error.__context__ is not None and not isinstance(error, (ConnectionRefusedError, TimeoutError)):
        error = error.__context__
    return str(error).split(": ", 1)[-1] if str(error) else type(error).__name__
