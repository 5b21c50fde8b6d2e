"""Atomic file writes: every file the project writes appears whole or not at all.

A write goes to a temporary file in the target's folder, is flushed to disk, then renamed
over the target (``os.replace`` is atomic on POSIX and Windows). An interrupted run leaves at
most a stray ``*.tmp`` file, never a truncated cache entry or result. No pickle anywhere:
tensors go to safetensors, everything else to JSON.
"""

import json
import os
import tempfile
from contextlib import contextmanager
from pathlib import Path

from safetensors.torch import save_file


@contextmanager
def atomic_path(path):
    """Yield a temporary path beside ``path``; on success, move it onto ``path``.

    On an exception the temporary file is removed and ``path`` is left as it was.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(handle)
    try:
        yield Path(temporary)
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
    return json.loads(Path(path).read_text())


def write_tensors(path, tensors, metadata=None):
    """Write a dict of tensors to a safetensors file atomically.

    ``metadata`` is a flat dict of strings stored in the file's header (safetensors' rule).
    """
    contiguous = {name: tensor.detach().cpu().contiguous() for name, tensor in tensors.items()}
    with atomic_path(path) as temporary:
        save_file(contiguous, str(temporary), metadata=metadata)
