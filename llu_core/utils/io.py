"""Reading and writing files: whole regular files in, atomic files out, checksums.

**Reading.** Every file the project reads (saved classifiers, cache files, the offline model's
alignment, split files, class lists, IDX files, images) goes through :func:`read_file`: the
path is opened without blocking, must be a regular file (a FIFO, a device or a folder is
refused instead of hanging or reading for ever), and its bytes are read once. What is
parsed, checked and used is those bytes: nothing stays mapped to the file, so a later copy
over the file or a truncation cannot change a loaded model or kill the process.
:func:`read_tensors` parses a safetensors file from such bytes.

**Writing.** A write goes to a temporary file in the target's folder, is flushed to disk,
then renamed over the target (``os.replace`` is atomic on POSIX and Windows). An interrupted
run leaves at most a stray ``*.tmp`` file, never a truncated cache entry or result; a failed
write (a full disk, a file-size limit) removes its temporary file and raises ``OSError``. New
files get the permissions of an ordinary ``open`` (``0o666`` less the umask), so a cache
shared by a group stays readable by it. No pickle anywhere: tensors go to safetensors,
everything else to JSON.
"""

import errno
import hashlib
import json
import os
import secrets
import stat
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from safetensors import SafetensorError
from safetensors.torch import load as tensors_from_bytes
from safetensors.torch import save as tensors_to_bytes

#: What a file that is not a regular file is, by its ``stat`` type.
_FILE_KINDS = ((stat.S_ISDIR, "a directory"), (stat.S_ISFIFO, "a FIFO"), (stat.S_ISCHR, "a character device"),
               (stat.S_ISBLK, "a block device"), (stat.S_ISSOCK, "a socket"))


def checksum(*parts):
    """SHA-256 hex digest of tensors (their raw bytes) and strings, in order.

    The feature cache, the offline model's alignment file and saved classifiers store it in
    their headers and compare it on every read.
    """
    digest = hashlib.sha256()
    for part in parts:
        if isinstance(part, str):
            digest.update(part.encode())
        else:
            digest.update(part.detach().cpu().contiguous().numpy().tobytes())
    return digest.hexdigest()


def target_path(path, name="path"):
    """``path`` as a :class:`~pathlib.Path` with ``~`` expanded, refused when it is empty or a folder."""
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"{name} must be a str or os.PathLike file path, got {type(path).__name__}")
    if not os.fspath(path):
        raise ValueError(f"{name} is empty; expected a file path")
    path = Path(path).expanduser()
    if path.is_dir():
        raise ValueError(f"{name} {path} is a directory; expected a file path")
    return path


def check_writable(path, name="path"):
    """``path`` as a :class:`~pathlib.Path`, once it is certain that a file can be written there.

    For the output arguments of a command, checked before any work starts: an empty path, a
    folder, or an existing FIFO, device or socket is refused (``ValueError``), a path under a file
    (``NotADirectoryError``), and a folder where no file can be created (the system's ``OSError``
    naming the path). Missing folders are created, as writing the file would; a probe file is
    created beside ``path`` and removed. An existing regular file stays as it is.
    """
    path = target_path(path, name)
    if os.path.lexists(path) and not path.is_file():
        kind = next((kind for test, kind in _FILE_KINDS if test(os.stat(path).st_mode)), "not a regular file")
        raise ValueError(f"{name} {path} is {kind}; expected a regular file or a new file")
    existing = next(folder for folder in path.parents if os.path.lexists(folder))
    if not existing.is_dir():
        raise NotADirectoryError(f"{name} {path} cannot be written: {existing} is a file, not a folder")
    try:
        temporary, descriptor = _temporary_beside(path)
        os.close(descriptor)
        os.remove(temporary)
    except OSError as error:
        raise _os_error(f"{name} {path} cannot be written", error) from None
    return path


def read_file(path, what="file", max_bytes=None):
    """The bytes of the regular file ``path``, read once.

    Parameters
    ----------
    path : str or Path
    what : str
        How messages call the file (``"split file"``, ``"model file"``).
    max_bytes : int, optional
        Refuse a larger file before reading it.

    Raises
    ------
    FileNotFoundError
        When ``path`` does not exist.
    PermissionError
        When the operating system refuses to open it.
    ValueError
        When it is a folder, a FIFO, a device or a socket, or larger than ``max_bytes``.
    OSError
        For any other failure to read it (the message names the file).
    """
    path = Path(path).expanduser()
    try:
        descriptor = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0))
    except FileNotFoundError:
        raise FileNotFoundError(f"{what} {path} does not exist") from None
    except PermissionError:
        raise PermissionError(f"{what} {path} cannot be read: permission denied") from None
    except OSError as error:
        raise _os_error(f"{what} {path} cannot be opened", error) from None
    status = os.fstat(descriptor)
    if not stat.S_ISREG(status.st_mode):  # before open(): it refuses a folder with its own error
        os.close(descriptor)
        kind = next((kind for test, kind in _FILE_KINDS if test(status.st_mode)), "not a regular file")
        raise ValueError(f"{what} {path} is {kind}; expected a regular file")
    with open(descriptor, "rb") as handle:
        if max_bytes is not None and status.st_size > max_bytes:
            raise ValueError(f"{what} {path} has {status.st_size} bytes, more than the {max_bytes} accepted")
        try:
            return handle.read()
        except OSError as error:
            raise _os_error(f"{what} {path} cannot be read", error) from None


def read_text_lines(path, what, expected, max_bytes=1 << 20):
    """The lines of the UTF-8 text file ``path`` that say something, stripped, with their numbers.

    Blank lines and lines starting with ``#`` are skipped. The file is read by :func:`read_file`
    (a FIFO or a folder is refused, never waited on). Raises ``ValueError`` naming the file for
    text that is not UTF-8 or holds a NUL byte; ``expected`` says what its lines should be.
    """
    data = read_file(path, what, max_bytes=max_bytes)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as error:
        raise ValueError(f"{what} {path} is not UTF-8 text (byte {error.start})") from None
    if "\x00" in text:
        raise ValueError(f"{what} {path} holds a NUL byte; expected {expected}")
    return [(number, line.strip()) for number, line in enumerate(text.splitlines(), start=1)
            if line.strip() and not line.lstrip().startswith("#")]


def _os_error(message, error):
    """An ``OSError`` of the same errno whose message is ``message`` and the system's reason."""
    return OSError(error.errno, f"{message}: {error.strerror or error}")


def parse_json(text, what):
    """``json.loads(text)``, every failure (bad syntax, bad encoding, deep nesting) a ``ValueError``
    whose message starts with ``what`` (e.g. the file's name)."""
    try:
        return json.loads(text)
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise ValueError(f"{what} is not valid JSON ({error})") from None
    except RecursionError:
        raise ValueError(f"{what} is nested too deeply to be read as JSON") from None


@dataclass(frozen=True)
class StoredTensors:
    """A safetensors file read into memory: its header, and the tensors on demand.

    Attributes
    ----------
    path : Path
    metadata : dict of str -> str
        The header's ``__metadata__``.
    layout : dict of str -> (str, tuple of int)
        Each tensor's safetensors dtype (``"F32"``, ``"I64"``) and shape, read from the header
        without building any tensor.
    data : bytes
        The file's bytes, as read.
    """

    path: Path
    metadata: dict
    layout: dict
    data: bytes

    def tensors(self):
        """Every tensor, built from :attr:`data` (its own memory, nothing mapped to the file)."""
        try:
            return tensors_from_bytes(self.data)
        except SafetensorError as error:
            raise ValueError(f"{self.path} cannot be read as a safetensors file ({error})") from None


def read_tensors(path, what="file"):
    """Read the safetensors file ``path`` once (:func:`read_file`) and parse its header.

    Raises the errors of :func:`read_file`, and ``ValueError`` naming the file when its
    header is not a safetensors header.
    """
    data = read_file(path, what)
    path = Path(path).expanduser()
    damaged = f"{path} cannot be read as a safetensors file"
    size = int.from_bytes(data[:8], "little") if len(data) >= 8 else -1
    if not 0 < size <= len(data) - 8:
        raise ValueError(f"{damaged} (it is truncated or has no safetensors header)")
    header = parse_json(data[8:8 + size], f"{damaged}: its header")
    if not isinstance(header, dict):
        raise ValueError(f"{damaged} (its header is not a JSON object)")
    metadata = header.pop("__metadata__", None) or {}
    try:
        layout = {name: (entry["dtype"], tuple(entry["shape"])) for name, entry in header.items()}
    except (TypeError, KeyError):
        raise ValueError(f"{damaged} (a tensor entry of its header lacks a dtype or shape)") from None
    if not isinstance(metadata, dict) or not all(isinstance(value, str) for value in metadata.values()):
        raise ValueError(f"{damaged} (its metadata is not a map of strings)")
    return StoredTensors(path, metadata, layout, data)


def _temporary_beside(path):
    """Create an empty temporary file in ``path``'s folder; return (its path, an open descriptor).

    O_EXCL: never an existing file; mode 0o666 lets the umask decide, unlike mkstemp's 0o600.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.parent / f".{path.name}.{secrets.token_hex(6)}.tmp"
    return temporary, os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0), 0o666)


def _remove_quietly(path):
    try:
        os.remove(path)
    except OSError:
        pass


@contextmanager
def atomic_path(path):
    """Yield a temporary path beside ``path``; on success, move it onto ``path``.

    For writers that take a path (matplotlib, csv). On an exception the temporary file is
    removed and ``path`` is left as it was.
    """
    path = target_path(path)
    temporary, descriptor = _temporary_beside(path)
    os.close(descriptor)
    mode = os.stat(temporary).st_mode & 0o777
    try:
        yield temporary
        os.chmod(temporary, mode)  # a writer that recreated the file gets the umask's mode back
        with open(temporary, "rb") as written:
            os.fsync(written.fileno())
        os.replace(temporary, path)
    finally:
        if os.path.exists(temporary):
            _remove_quietly(temporary)


def write_bytes(path, data):
    """Write ``data`` to ``path`` atomically.

    Raises
    ------
    OSError
        Naming ``path`` and the reason, when its folder cannot be created or the file cannot
        be written (``ENOSPC``: the disk is full; ``EFBIG``: a file-size limit); no partial
        file is left behind.
    """
    path = target_path(path)
    temporary = None
    try:
        temporary, descriptor = _temporary_beside(path)
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(descriptor, view):]
            os.fsync(descriptor)
        finally:
            os.close(descriptor)
        os.replace(temporary, path)
    except OSError as error:
        if temporary is not None:
            _remove_quietly(temporary)
        reason = {errno.ENOSPC: "the disk is full", errno.EFBIG: "the file would exceed the file-size limit"}.get(
            error.errno, error.strerror or str(error))
        raise OSError(error.errno, f"cannot write {path}: {reason}") from None


def write_json(path, data):
    """Write ``data`` as indented JSON to ``path`` atomically."""
    write_bytes(path, (json.dumps(data, indent=2, sort_keys=True) + "\n").encode())


def read_json(path):
    """Read a JSON file written by :func:`write_json`."""
    return parse_json(read_file(path, "JSON file"), f"JSON file {Path(path).expanduser()}")


def write_tensors(path, tensors, metadata=None):
    """Write a dict of tensors to a safetensors file atomically (errors as :func:`write_bytes`).

    ``metadata`` is a flat dict of strings stored in the file's header (safetensors' rule).
    """
    contiguous = {name: tensor.detach().cpu().contiguous() for name, tensor in tensors.items()}
    write_bytes(path, tensors_to_bytes(contiguous, metadata=metadata))
