"""HTTP downloads that resume, end by a deadline and never read more than the file's size.

:func:`download` asks for the bytes a partial file lacks (an HTTP ``Range`` request), so an
interrupted transfer, in this run (it retries) or in a later one, continues where it stopped;
a server that ignores ``Range`` sends the whole file again, which replaces the partial one.
Nothing here writes the final file: the caller verifies the staged bytes and renames them into
place. Each thread keeps one ``requests`` session, so many small files share connections.

A server cannot keep a download going for ever:

- **a deadline** for the whole download, retries included, derived from the file's size
  (:func:`deadline_for`: :data:`DEADLINE_BASE` seconds plus the size at :data:`MIN_RATE`); when it
  passes, the connection is cut, even in the middle of a read (a server that sends one byte every
  few seconds never trips the read timeout, which counts the gap between bytes);
- **a size cap**: a server that announces another length than the file's is refused before its
  body is read, and one that sends more than the file's size (a wrong length, or a body without
  end) is cut as soon as it does, and the partial file deleted;
- every failure is a :class:`DownloadError` whose message starts with the address.
"""

import socket
import threading
import time

import requests
from urllib3.exceptions import HTTPError as TransportError

#: Seconds to wait for a connection and for the next bytes of a response.
TIMEOUT = (5, 60)
#: Further attempts after a failed transfer (connection refused or reset, a timeout, a cut body).
RETRIES = 2
#: Seconds before the first retry; doubled for each further one.
BACKOFF = 0.5
#: Seconds every download may take, whatever its size ...
DEADLINE_BASE = 30.0
#: ... plus its size at this rate (bytes per second): 32 KiB/s, a slow mobile connection.
MIN_RATE = 32 * 1024
#: Bytes read at a time.
_BLOCK = 1 << 16

_local = threading.local()
_TRANSIENT = (requests.ConnectionError, requests.Timeout, requests.exceptions.ChunkedEncodingError, TransportError,
              ConnectionError, TimeoutError)


class DownloadError(OSError):
    """A file that could not be downloaded; the message names its address and the reason."""


class _ShortBody(ConnectionError):
    """The connection ended before the whole file arrived: resumed like a cut connection."""


def deadline_for(size):
    """Seconds a download of ``size`` bytes may take in all: :data:`DEADLINE_BASE` + size / :data:`MIN_RATE`."""
    return DEADLINE_BASE + size / MIN_RATE


def _session():
    if not hasattr(_local, "session"):
        _local.session = requests.Session()
        # Ranges count stored bytes; a compressed transfer would count others.
        _local.session.headers.update({"User-Agent": "llu_core", "Accept-Encoding": "identity"})
    return _local.session


def _cut(response, expired):
    """The deadline passed: mark it, and shut the socket so that a read blocked on it returns."""
    expired.set()
    connection = getattr(response.raw, "connection", None)
    sock = getattr(connection, "sock", None)
    if sock is not None:
        try:
            sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass


def _transfer(url, partial, size, exact, stop_at, expired):
    """One request: append what it sends to ``partial``; returns the bytes ``partial`` holds."""
    have = partial.stat().st_size if partial.exists() else 0
    if have >= size:  # as long as the file or longer: a stale partial of another version
        partial.unlink()
        have = 0
    headers = {"Range": f"bytes={have}-"} if have else {}
    left = stop_at - time.monotonic()
    timeout = tuple(min(limit, max(left, 0.001)) for limit in TIMEOUT)
    with _session().get(url, headers=headers, stream=True, timeout=timeout) as response:
        if response.status_code == 416 and have:  # the server's file is shorter than the partial one
            partial.unlink()
            return _transfer(url, partial, size, exact, stop_at, expired)
        response.raise_for_status()
        resumed = bool(have) and response.status_code == 206
        start = have if resumed else 0
        announced = response.headers.get("Content-Length", "")
        if announced.isdigit() and (start + int(announced) != size if exact else start + int(announced) > size):
            raise DownloadError(f"{url}: the server announces {start + int(announced):,} bytes; the file has "
                                f"{'' if exact else 'at most '}{size:,}. Nothing of it was kept")
        watchdog = threading.Timer(max(stop_at - time.monotonic(), 0.0), _cut, (response, expired))
        watchdog.daemon = True
        watchdog.start()
        try:
            with open(partial, "ab" if resumed else "wb") as handle:
                held = start
                while block := response.raw.read1(_BLOCK):
                    if held + len(block) > size:
                        handle.close()
                        partial.unlink()
                        raise DownloadError(f"{url}: the server sent more than the file's {size:,} bytes; the "
                                            "download was stopped and deleted")
                    handle.write(block)
                    held += len(block)
        finally:
            watchdog.cancel()
    if expired.is_set():
        raise TimeoutError("the deadline passed")
    if exact and held < size:
        raise _ShortBody(f"the connection ended after {held:,} of {size:,} bytes")
    return held


def download(url, partial, size, exact=True, deadline=None, retries=None):
    """Download ``url`` into the staging file ``partial``, resuming what it already holds.

    Parameters
    ----------
    url : str
        An ``http://`` or ``https://`` address.
    partial : pathlib.Path
        The staging file (its folder exists); bytes it holds from an earlier attempt are kept and
        the rest is requested.
    size : int
        The file's size in bytes (``exact``), or the most it may have: nothing past it is read.
    exact : bool
        Whether the file must have exactly ``size`` bytes; a server that announces another length
        is refused at once, a body that ends early is resumed.
    deadline : float, optional
        Seconds the whole download may take, retries included (default :func:`deadline_for`).
    retries : int, optional
        Further attempts after a transfer that fails on the way, each resuming (default
        :data:`RETRIES`).

    Raises
    ------
    DownloadError
        When the server answers with an error status or a wrong length, sends more than ``size``
        bytes (no retry), the deadline passes, or the transfer still fails after ``retries`` more
        attempts; ``partial`` keeps what arrived in order, for a later resume.
    """
    retries = RETRIES if retries is None else retries
    deadline = deadline_for(size) if deadline is None else deadline
    stop_at, expired = time.monotonic() + deadline, threading.Event()
    for attempt in range(retries + 1):
        try:
            return _transfer(url, partial, size, exact, stop_at, expired)
        except requests.HTTPError as error:
            raise DownloadError(f"{url}: the server answered {error.response.status_code} "
                                f"{error.response.reason}") from None
        except _TRANSIENT as error:
            if expired.is_set() or time.monotonic() >= stop_at:
                held = partial.stat().st_size if partial.exists() else 0
                raise DownloadError(f"{url} did not arrive within its deadline of {deadline:.0f} s ({held:,} of "
                                    f"{size:,} bytes came); the server is too slow or stalled") from None
            if attempt == retries:
                raise DownloadError(f"{url} could not be downloaded ({_reason(error)})") from None
            time.sleep(min(BACKOFF * 2 ** attempt, max(stop_at - time.monotonic(), 0.0)))


def _reason(error):
    """The innermost cause of a requests error, in words (e.g. 'Connection refused')."""
    while error.__context__ is not None and not isinstance(error, (ConnectionRefusedError, TimeoutError)):
        error = error.__context__
    return str(error).split(": ", 1)[-1] if str(error) else type(error).__name__
