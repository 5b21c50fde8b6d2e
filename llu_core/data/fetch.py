"""Fetch the offline data: download it from its pinned public sources, rebuild it, verify it.

    python -m llu_core fetch-data [--root DIR]          # or: make data

Every file of the manifest (:mod:`llu_core.data.manifest`) that the data root
(:func:`llu_core.data.paths.data_root`) lacks, or holds damaged, is downloaded from its source
at the pinned commit, made into the offline file by its source's step (a copy, or DTD's resize)
and verified against the manifest before it enters the data root. So

- a file appears in the data root whole and verified, or not at all: it is built in a staging
  folder beside the data root (``.<name>.download``) and renamed into place (atomic on POSIX);
- an interrupted fetch resumes: finished files stay, and a partial download continues from its
  last byte (HTTP ``Range``, :func:`llu_core.utils.download.download`);
- a file that fails verification is deleted with an error that names its address;
- a download ends by a deadline derived from the file's size, never reads past that size, and
  fails with the address in its message (:mod:`llu_core.utils.download`);
- ``$LLU_DATA_MIRROR`` replaces every source's base address: a mirror serves each source's files
  under the same paths (``<mirror>/<owner>/<repository>/<commit>/<path>``); :func:`export_mirror`
  lays one out from a copy of the offline data;
- Fashion-MNIST is read from Debian's package folder where it holds the verified files
  (:data:`INSTALLED_ELSEWHERE`); elsewhere it is fetched into ``<root>/fashion-mnist``;
- files already present cost one ``stat`` each: their sizes are checked on every run and their
  hashes once (:class:`~llu_core.data.manifest.VerificationRecord`).

When the data cannot be made complete (no network, an unreachable mirror, a damaged download, a
read-only data root), :class:`DataUnavailableError` says what is missing, the command that
fetches it and ``$LLU_DATA_ROOT`` for data kept elsewhere.
"""

import os
import shutil
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from ..utils.progress import progress_bar
from ..utils.validation import check_integer
from .manifest import BUNDLED_FOLDER, VerificationRecord, compare, load_manifest, resize_shorter_side
from .paths import DEBIAN_FASHION_MNIST, data_root

#: The environment variable whose address replaces every source's base address.
MIRROR_VARIABLE = "LLU_DATA_MIRROR"
#: Folders of the data root whose files a system package may hold instead: folder -> its folder.
INSTALLED_ELSEWHERE = {"fashion-mnist": DEBIAN_FASHION_MNIST}
#: Files downloaded at a time.
WORKERS = 8
#: The most bytes a source file that is resized may have (the manifest holds the resized file's
#: size): DTD's images are at most 640 × 640 pixels (Cimpoi et al., CVPR 2014), a few hundred KB.
RESIZED_SOURCE_LIMIT = 8 * 2 ** 20
#: What a reader is told to do when the data is incomplete.
REMEDY = ("Fetch it on a machine with network access: python -m llu_core fetch-data (or: make data); from a "
          f"mirror of its sources: {MIRROR_VARIABLE}=URL python -m llu_core fetch-data; for data kept in another "
          "folder: LLU_DATA_ROOT=/path/to/data (or --root /path/to/data).")


class DataUnavailableError(RuntimeError):
    """The offline data is incomplete or damaged and could not be fetched.

    The message is the whole story: what is missing, why it could not be fetched, what to do.
    """


class _Rejected(ValueError):
    """A downloaded file that failed verification (deleted); the message names its address."""


@dataclass
class FetchReport:
    """What :func:`fetch_data` found and did.

    Attributes
    ----------
    root : Path
        The data root.
    verified : int
        Files of the manifest now present and verified (all of them).
    fetched : list of str
        Paths downloaded (or copied from the package) in this run.
    replaced : list of str
        Paths that were present but failed verification, fetched again.
    equivalent : dict
        Path -> how it passes: fetched files whose bytes differ from the manifest's but which pass
        its check (a DTD image rebuilt by another Pillow or libjpeg).
    elsewhere : dict
        Folder of the data root -> the system folder its files are read from.
    """

    root: Path
    verified: int = 0
    fetched: list = field(default_factory=list)
    replaced: list = field(default_factory=list)
    equivalent: dict = field(default_factory=dict)
    elsewhere: dict = field(default_factory=dict)

    def summary(self):
        """One paragraph for a reader."""
        text = f"offline data in {self.root}: {self.verified:,} files verified"
        if self.fetched:
            text += f" ({len(self.fetched):,} fetched"
            if self.replaced:
                text += f", of which {len(self.replaced):,} replaced damaged files"
            text += ")"
        if self.equivalent:
            text += (f"; {len(self.equivalent):,} rebuilt files are not bit-identical to the book's but pass the "
                     "manifest's check (see llu_core.data.manifest)")
        for folder, elsewhere in self.elsewhere.items():
            text += f"; {folder}/ is read from {elsewhere}"
        return text


def _candidates(entry, root):
    """The files that may hold ``entry``: in a system package's folder, then in the data root.

    Paths are strings here: this runs for every file on every ``make data``.
    """
    top, _, rest = entry.path.partition("/")
    elsewhere, inside = INSTALLED_ELSEWHERE.get(top), os.path.join(root, entry.path)
    return (os.path.join(elsewhere, rest), inside) if elsewhere is not None else (inside,)


def _check_present(manifest, root, record, progress):
    """Split the manifest's entries into verified ones and the others.

    Returns ``(verified, missing, damaged)``: verified {path: the file that holds it}, the entries
    to fetch, and {path: why} of the files in the data root that fail verification.
    """
    verified, missing, damaged = {}, [], {}
    unchecked = []
    for entry in manifest.entries:
        held = next((path for path in _candidates(entry, root) if record.holds(entry, path)), None)
        if held is not None:
            verified[entry.path] = held
        else:
            unchecked.append(entry)
    for entry in progress_bar(unchecked, show=progress and bool(unchecked), desc="verifying offline data",
                              unit="file"):
        for path in map(Path, _candidates(entry, root)):
            if not path.is_file():
                continue
            verdict, why = compare(entry, path)
            if verdict != "different":
                record.add(entry, path)
                verified[entry.path] = path
                break
            if path == root / entry.path:
                damaged[entry.path] = why
        else:
            missing.append(entry)
    return verified, missing, damaged


def _describe(entries, total):
    counts = {}
    for entry in entries:
        top = entry.path.split("/")[0]
        counts[top] = counts.get(top, 0) + 1
    folders = ", ".join(f"{folder}/: {count:,}" for folder, count in counts.items())
    return f"{len(entries):,} of its {total:,} files are missing or damaged ({folders})"


def _unavailable(root, todo, total, damaged, cause):
    lines = [f"The offline data in {root} is incomplete: {_describe(todo, total)}."]
    if damaged:
        path, why = next(iter(damaged.items()))
        lines.append(f"{len(damaged):,} of them fail verification, e.g. {path}: {why}.")
    lines += [f"They could not be fetched: {cause}", REMEDY]
    return DataUnavailableError("\n".join(lines))


def _remove(*paths):
    for path in paths:
        if path is not None and path.exists():
            path.unlink()


def _fetch_one(entry, source, root, staging, mirror):
    """Download, build and verify one file in ``staging``, then rename it into the data root.

    Returns ``(verdict, detail)`` of :func:`~llu_core.data.manifest.compare`.
    """
    from ..utils.download import download

    staged = staging / entry.path
    staged.parent.mkdir(parents=True, exist_ok=True)
    partial, built = staged.with_name(staged.name + ".part"), staged.with_name(staged.name + ".built")
    if source.step == "bundled":
        address, partial = str(BUNDLED_FOLDER / entry.source_path), None
        shutil.copyfile(address, built)
    else:
        address = source.address(entry.source_path, mirror)
        if source.step == "copy":
            download(address, partial, entry.size)
        else:
            download(address, partial, RESIZED_SOURCE_LIMIT, exact=False)
        if source.step == "copy":
            built = partial
        else:
            try:
                resize_shorter_side(partial, built, **source.options)
            except (OSError, ValueError, SyntaxError) as error:
                _remove(partial, built)
                raise _Rejected(f"{address} is not an image that can be decoded ({error}); it was deleted") from None
    verdict, detail = compare(entry, built)
    if verdict == "different":
        _remove(partial, built)
        raise _Rejected(f"{address} fails verification as {entry.path}: {detail}. The download was deleted; "
                        "nothing of it is in the data root")
    target = root / entry.path
    target.parent.mkdir(parents=True, exist_ok=True)
    os.replace(built, target)
    _remove(partial)
    return verdict, detail


def fetch_data(root=None, mirror=None, manifest=None, workers=WORKERS, progress=True):
    """Make the data root hold every file of the manifest, verified; fetch what is missing.

    Parameters
    ----------
    root : str or Path, optional
        The data root (default :func:`llu_core.data.paths.data_root`).
    mirror : str, optional
        An address that replaces every source's base address (default ``$LLU_DATA_MIRROR``).
    manifest : Manifest, optional
        Default: the package's (:func:`llu_core.data.manifest.load_manifest`).
    workers : int
        Files downloaded at a time.
    progress : bool
        Show progress bars.

    Returns
    -------
    FetchReport

    Raises
    ------
    DataUnavailableError
        When a missing or damaged file cannot be fetched and verified; files fetched before the
        failure stay (verified), so the next run continues.
    """
    root = data_root(root)
    if root.exists() and not root.is_dir():
        raise NotADirectoryError(f"the data root {root} is not a folder")
    mirror = check_mirror(mirror or os.environ.get(MIRROR_VARIABLE) or None)
    check_integer("workers", workers)
    manifest = manifest or load_manifest()
    record = VerificationRecord(root)
    try:
        verified, todo, damaged = _check_present(manifest, root, record, progress)
        report = FetchReport(root=root, elsewhere={
            folder: str(place) for folder, place in INSTALLED_ELSEWHERE.items()
            if any(str(path).startswith(f"{place}{os.sep}") for path in verified.values())})
        if todo:
            _fetch(manifest, root, todo, damaged, mirror, workers, progress, record, report)
        report.verified = len(manifest.entries)
        return report
    finally:
        record.save()


def check_mirror(mirror):
    """``mirror`` (None, or an ``http://`` or ``https://`` address with a host), else ``ValueError``."""
    if mirror is not None:
        parts = urlsplit(mirror)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError(f"the mirror ({MIRROR_VARIABLE} or mirror=) must be an http:// or https:// address "
                             f"such as http://127.0.0.1:8000, got {mirror!r}")
    return mirror


def _fetch(manifest, root, todo, damaged, mirror, workers, progress, record, report):
    from ..utils.download import DownloadError  # requests loads only when something is fetched

    staging = root.resolve().parent / f".{root.name}.download"
    try:
        root.mkdir(parents=True, exist_ok=True)
        staging.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise _unavailable(root, todo, len(manifest.entries), damaged,
                           f"the data root cannot be written ({error}).") from None
    try:
        with ThreadPoolExecutor(max(1, workers)) as pool:
            futures = {pool.submit(_fetch_one, entry, manifest.sources[entry.source], root, staging, mirror): entry
                       for entry in todo}
            with progress_bar(total=len(todo), show=progress, desc="fetching offline data", unit="file") as bar:
                try:
                    for future in as_completed(futures):
                        entry = futures[future]
                        verdict, detail = future.result()
                        record.add(entry, root / entry.path)
                        report.fetched.append(entry.path)
                        if verdict == "equivalent":
                            report.equivalent[entry.path] = detail
                        bar.update()
                except (DownloadError, _Rejected, OSError) as error:
                    for pending in futures:
                        pending.cancel()
                    raise _unavailable(root, todo, len(manifest.entries), damaged, f"{error}.") from None
    finally:
        _prune(staging)
    report.replaced = sorted(path for path in damaged if path in report.fetched)


def _prune(folder):
    """Remove the empty folders under ``folder`` and ``folder`` itself if empty; partial files stay."""
    for parent, _, files in sorted(os.walk(folder), key=lambda walked: -len(walked[0])):
        if not files and not os.listdir(parent):
            os.rmdir(parent)


def export_mirror(folder, root=None, manifest=None):
    """Lay out the sources' files under ``folder`` from a verified copy of the offline data.

    ``folder`` then serves as ``$LLU_DATA_MIRROR`` behind any static web server: each offline file
    is copied to ``<folder>/<source path>/<file's path in the source>``. DTD's images are served
    as the offline copy holds them (shorter side 224 px), which the resize step passes through
    unchanged. The package's own files (the READMEs) are not exported.

    Returns the number of files written.
    """
    root, folder = data_root(root), Path(folder)
    manifest = manifest or load_manifest()
    verified, missing, damaged = _check_present(manifest, root, VerificationRecord(root), progress=False)
    if missing:
        raise _unavailable(root, missing, len(manifest.entries), damaged, "export_mirror needs a complete copy.")
    written = 0
    for entry in manifest.entries:
        source = manifest.sources[entry.source]
        if source.step != "bundled":
            target = folder / source.path / entry.source_path
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(verified[entry.path], target)
            written += 1
    return written
