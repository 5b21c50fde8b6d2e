"""Atomic file writes and checksums: every file the project writes appears whole or not at all.

A write goes to a temporary file in the target's folder, is flushed to disk, then renamed
over the target (``os.replace`` is atomic on POSIX and Windows). An interrupted run leaves at
most a stray ``*.tmp`` file, never a truncated cache entry or result. New files get the
permissions of an ordinary ``open`` (``0o666`` less the umask), so a cache shared by a group
stays readable by it. No pickle anywhere: tensors go to safetensors, everything else to JSON.
"""

import hashlib
import json
import os
import secrets
from contextlib import contextmanager
from pathlib import Path


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
    """``path`` as a :class:`~pathlib.Path` with ``~`` expanded, refused when it is a folder."""
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"{name} must be a str or os.PathLike file path, got {type(path).__name__}")
    path = Path(path).expanduser()
    if path.is_dir():
        raise ValueError(f"{name} {path} is a directory; expected a file path")
    return path


@contextmanager
def atomic_path(path):
    """Yield a temporary path beside ``path``; on success, move it onto ``path``.

    On an exception the temporary file is removed and ``path`` is left as it was.
    """
    path = target_path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.parent / f".{path.name}.{secrets.token_hex(6)}.tmp"
    # O_EXCL: never an existing file; mode 0o666 lets the umask decide, unlike mkstemp's 0o600.
    os.close(os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))
    mode = os.stat(temporary).st_mode & 0o777
    try:
        yield temporary
        os.chmod(temporary, mode)  # a writer that recreated the file (safetensors does, 0o600) gets it back
        with open(temporary, "rb") as written:
            os.fsync(written.fileno())
        os.replace(temporary, path)
    finally:
        if os.path.exists(temporary):
            os.remove(temporary)


def write_json(path, data):
    """Write ``data`` as indented JSON to ``path`` atomically."""
    with atomic_path(path) as temporary:
        temporary.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")


def read_json(path):
    """Read a JSON file written by :func:`write_json`."""
    return json.loads(Path(path).expanduser().read_text())


def write_tensors(path, tensors, metadata=None):
    """Write a dict of tensors to a safetensors file atomically.

    ``metadata`` is a flat dict of strings stored in the file's header (safetensors' rule).
    """
    from safetensors.torch import save_file  # torch loads only where tensors are written

    contiguous = {name: tensor.detach().cpu().contiguous() for name, tensor in tensors.items()}
    with atomic_path(path) as temporary:
        save_file(contiguous, str(temporary), metadata=metadata)
