"""fetch-data: the manifest, downloads from a loopback mirror, verification, and its failures.

The sources here are small fixture files built by the tests (a copied file, images that go
through DTD's resize step, a gzip file checked by its content) behind a loopback HTTP server
(tests/helpers/mirror_server.py: 127.0.0.1 only, stopped with each test). The last tests compare a
sample of the real manifest with the real offline data, where it is present.
"""

import gzip
import hashlib
import io
import os
import subprocess
import time
import sys
from pathlib import Path

import pytest
from PIL import Image

from llu_core.data.fetch import DataUnavailableError, export_mirror, fetch_data
from llu_core.data.manifest import (PIXEL_TOLERANCE, Entry, Manifest, Source, compare, load_manifest,
                                    resize_shorter_side, signature, write_manifest)
from image_sets import jpeg_bytes, smooth_image
from mirror_server import MirrorServer

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def sources(tmp_path):
    """A source tree (what a mirror serves), the manifest of the offline files made from it, and
    the offline files' expected bytes."""
    tree = tmp_path / "mirror"
    files = {  # source -> {path in the source: bytes}
        "photos": {"train/cat/0000.bin": os.urandom(3000), "test/dog/0000.bin": os.urandom(200_000)},
        "textures": {"images/big.jpg": jpeg_bytes(smooth_image(128, 96, 1)),
                     "images/small.jpg": jpeg_bytes(smooth_image(40, 60, 2))},
        "digits": {"data/labels.gz": gzip.compress(bytes(range(256)) * 40, mtime=0)},
    }
    sources = {
        "photos": Source("photos", "https://example.invalid", "owner/photos/abc123", "copy", "byte copies", "MIT"),
        "textures": Source("textures", "https://example.invalid", "owner/textures/def456", "resize_shorter_side",
                           "resized", "MIT", {"shorter_side": 64, "resample": "bicubic", "quality": 90}),
        "digits": Source("digits", "https://example.invalid", "owner/digits/0a1b2c", "copy", "byte copies", "MIT"),
    }
    offline = {"photos": "photos/", "textures": "textures/", "digits": "digits/"}
    expected, entries = {}, []
    built = tmp_path / "built"
    built.mkdir()
    for name, contents in files.items():
        for source_path, data in contents.items():
            origin = tree / sources[name].path / source_path
            origin.parent.mkdir(parents=True, exist_ok=True)
            origin.write_bytes(data)
            path = offline[name] + source_path
            if sources[name].step == "resize_shorter_side":
                made = built / Path(source_path).name
                resize_shorter_side(origin, made, **sources[name].options)
                data, check = made.read_bytes(), signature("pixels", made)
            else:
                check = signature("gunzip", origin) if source_path.endswith(".gz") else ""
            expected[path] = data
            entries.append(Entry(path, len(data), hashlib.sha256(data).hexdigest(), name, source_path, check))
    folder = tmp_path / "manifest"
    folder.mkdir()
    write_manifest(Manifest(sources, tuple(entries)), folder)
    return tree, load_manifest(folder), expected


def _files_under(folder):
    return sorted(path.relative_to(folder).as_posix() for path in folder.rglob("*") if path.is_file())


def test_a_good_fetch_writes_every_file_verified_and_then_does_nothing(sources, tmp_path):
    tree, manifest, expected = sources
    root = tmp_path / "data"
    with MirrorServer(tree) as server:
        report = fetch_data(root, mirror=server.address, manifest=manifest, progress=False)
        assert sorted(report.fetched) == sorted(expected) and report.verified == len(expected)
        assert {path: (root / path).read_bytes() for path in expected} == expected
        assert _files_under(root) == sorted(expected)
        assert not (tmp_path / ".data.download").exists()  # the staging folder is removed
        requests = len(server.requests)
        again = fetch_data(root, mirror=server.address, manifest=manifest, progress=False)
        assert again.fetched == [] and again.verified == len(expected) and len(server.requests) == requests
    assert "5 files verified (5 fetched)" in report.summary()


def test_a_corrupted_byte_is_a_clear_error_and_leaves_nothing_behind(sources, tmp_path):
    tree, manifest, expected = sources
    root = tmp_path / "data"
    with MirrorServer(tree) as server:
        server.corrupt.add("/owner/photos/abc123/test/dog/0000.bin")
        with pytest.raises(DataUnavailableError) as raised:
            fetch_data(root, mirror=server.address, manifest=manifest, workers=1, progress=False)
    message = str(raised.value)
    assert "/owner/photos/abc123/test/dog/0000.bin fails verification as photos/test/dog/0000.bin" in message
    assert "SHA-256 differs" in message and "nothing of it is in the data root" in message
    assert "python -m llu_core fetch-data" in message and "LLU_DATA_ROOT" in message
    assert not (root / "photos/test/dog/0000.bin").exists()
    assert not [path for path in _files_under(tmp_path / ".data.download") if "dog" in path]
    assert all((root / path).read_bytes() == expected[path] for path in _files_under(root))  # only verified files


def test_an_interrupted_download_resumes_where_it_stopped(sources, tmp_path):
    tree, manifest, expected = sources
    root = tmp_path / "data"
    url = "/owner/photos/abc123/test/dog/0000.bin"
    with MirrorServer(tree) as server:
        server.cut[url] = 150_000
        fetch_data(root, mirror=server.address, manifest=manifest, progress=False)
    first, second = [header for path, header in server.requests if path == url]
    assert first is None and 0 < int(second.removeprefix("bytes=").removesuffix("-")) <= 150_000
    assert (root / "photos/test/dog/0000.bin").read_bytes() == expected["photos/test/dog/0000.bin"]


def test_an_interrupted_run_keeps_its_partial_file_outside_the_data_root_and_the_next_run_resumes(
        sources, tmp_path, monkeypatch):
    tree, manifest, expected = sources
    root = tmp_path / "data"
    url = "/owner/photos/abc123/test/dog/0000.bin"
    monkeypatch.setattr("llu_core.utils.download.RETRIES", 0)
    with MirrorServer(tree) as server:
        server.cut[url] = 150_000
        with pytest.raises(DataUnavailableError, match="could not be downloaded"):
            fetch_data(root, mirror=server.address, manifest=manifest, workers=1, progress=False)
        assert not (root / "photos/test/dog/0000.bin").exists()
        kept = (tmp_path / ".data.download/photos/test/dog/0000.bin.part").stat().st_size
        assert 0 < kept <= 150_000
        report = fetch_data(root, mirror=server.address, manifest=manifest, progress=False)
    assert server.requests[-1] == (url, f"bytes={kept}-") or (url, f"bytes={kept}-") in server.requests
    assert (root / "photos/test/dog/0000.bin").read_bytes() == expected["photos/test/dog/0000.bin"]
    assert report.verified == len(expected)


def test_an_unreachable_mirror_stops_with_one_message_and_writes_nothing(sources, tmp_path):
    _, manifest, _ = sources
    server = MirrorServer(tmp_path)  # bound, then closed: nothing listens on its port any more
    address = server.address
    server.server_close()
    root = tmp_path / "data"
    with pytest.raises(DataUnavailableError) as raised:
        fetch_data(root, mirror=address, manifest=manifest, progress=False)
    message = str(raised.value)
    assert f"The offline data in {root} is incomplete: 5 of its 5 files are missing or damaged" in message
    assert "could not be downloaded" in message and address in message
    assert not root.exists() or _files_under(root) == []


def test_a_damaged_or_truncated_file_is_fetched_again(sources, tmp_path):
    tree, manifest, expected = sources
    root = tmp_path / "data"
    with MirrorServer(tree) as server:
        fetch_data(root, mirror=server.address, manifest=manifest, progress=False)
        (root / "photos/train/cat/0000.bin").write_bytes(b"edited")
        (root / "digits/data/labels.gz").write_bytes(expected["digits/data/labels.gz"][:-10])
        report = fetch_data(root, mirror=server.address, manifest=manifest, progress=False)
    assert report.replaced == ["digits/data/labels.gz", "photos/train/cat/0000.bin"]
    assert {path: (root / path).read_bytes() for path in expected} == expected


def test_rebuilt_bytes_that_differ_pass_by_their_pixels_or_content_and_other_images_do_not(sources, tmp_path):
    _, manifest, expected = sources
    entries = {entry.path: entry for entry in manifest.entries}
    image = entries["textures/images/big.jpg"]
    rebuilt = tmp_path / "rebuilt.jpg"
    with Image.open(io.BytesIO(expected[image.path])) as decoded:
        decoded.save(rebuilt, "JPEG", quality=90)  # another encoder's bytes, the same picture
    verdict, detail = compare(image, rebuilt)
    assert verdict == "equivalent" and "grey levels" in detail
    smooth_image(*Image.open(rebuilt).size, seed=9).save(rebuilt, "JPEG", quality=90)  # another picture, same size
    verdict, detail = compare(image, rebuilt)
    assert verdict == "different" and f"tolerance {PIXEL_TOLERANCE}" in detail
    labels = entries["digits/data/labels.gz"]
    named = tmp_path / "labels.gz"
    with open(named, "wb") as raw, gzip.GzipFile("labels", "wb", fileobj=raw, mtime=0) as handle:
        handle.write(gzip.decompress(expected[labels.path]))  # upstream's files carry a name in the header
    assert compare(labels, named) == ("equivalent", "same decompressed content")


def test_a_mirror_exported_from_a_fetched_copy_serves_the_same_files(sources, tmp_path):
    tree, manifest, expected = sources
    first, second, exported = tmp_path / "first", tmp_path / "second", tmp_path / "exported"
    with MirrorServer(tree) as server:
        fetch_data(first, mirror=server.address, manifest=manifest, progress=False)
    assert export_mirror(exported, root=first, manifest=manifest) == len(expected)
    with MirrorServer(exported) as server:
        fetch_data(second, mirror=server.address, manifest=manifest, progress=False)
    assert {path: (second / path).read_bytes() for path in expected} == expected


def test_the_manifest_rejects_lines_it_cannot_trust(tmp_path, sources):
    _, manifest, _ = sources
    folder = tmp_path / "bad"
    folder.mkdir()
    for bad in (Entry("../outside", 1, "0" * 64, "photos", "x", ""), Entry("ok", 1, "0" * 64, "unknown", "x", "")):
        write_manifest(Manifest(manifest.sources, (bad,)), folder)
        with pytest.raises(ValueError, match="is not a manifest line"):
            load_manifest(folder)


def test_fetch_data_without_network_exits_with_one_message_and_no_traceback(tmp_path):
    server = MirrorServer(tmp_path)
    address = server.address
    server.server_close()
    environment = dict(os.environ, LLU_DATA_MIRROR=address, TQDM_DISABLE="1", PYTHONPATH=str(REPO))
    completed = subprocess.run([sys.executable, "-m", "llu_core", "fetch-data", "--root", str(tmp_path / "data")],
                               capture_output=True, text=True, env=environment, timeout=120)
    assert completed.returncode == 1 and completed.stdout == ""
    assert completed.stderr.startswith("error: The offline data in") and "Traceback" not in completed.stderr
    assert "cifar10/: 15,001" in completed.stderr and "LLU_DATA_ROOT=/path/to/data" in completed.stderr


@pytest.mark.parametrize("fault, message", [
    ("drip", "did not arrive within its deadline"),
    ("announce", "the server announces 10,000,000,000 bytes; the file has 200,000"),
    ("endless", "the server sent more than the file's 200,000 bytes"),
])
def test_fetch_data_stops_a_mirror_that_drips_lies_or_never_ends_within_its_deadline(
        sources, tmp_path, monkeypatch, capsys, fault, message):
    from llu_core.__main__ import main

    tree, manifest, expected = sources
    root, url = tmp_path / "data", "/owner/photos/abc123/test/dog/0000.bin"
    monkeypatch.setattr("llu_core.data.fetch.load_manifest", lambda: manifest)
    monkeypatch.setattr("llu_core.utils.download.DEADLINE_BASE", 1.0)  # the dog file's deadline: 1.2 s
    monkeypatch.setattr("llu_core.utils.download.MIN_RATE", 1_000_000)
    monkeypatch.setenv("TQDM_DISABLE", "1")  # stderr then holds the messages alone, not the bars before them
    with MirrorServer(tree) as server:
        if fault == "drip":
            server.drip[url] = 0.05
        elif fault == "announce":
            server.announce[url] = 10 ** 10
        else:
            server.endless.add(url)
        monkeypatch.setenv("LLU_DATA_MIRROR", server.address)
        started = time.monotonic()
        status = main(["fetch-data", "--root", str(root)])
        elapsed = time.monotonic() - started
    out, err = capsys.readouterr()
    assert status == 1 and out == "" and elapsed < 5
    assert err.startswith("error: The offline data in") and err.count("error:") == 1 and "Traceback" not in err
    assert f"{server.address}{url}" in err and message in err
    assert "photos/test/dog/0000.bin" not in _files_under(root)  # nothing half-written in the data root
    assert all((root / path).read_bytes() == expected[path] for path in _files_under(root))


def test_a_mirror_that_is_not_an_http_address_is_refused_before_anything_is_fetched(sources, tmp_path):
    _, manifest, _ = sources
    with pytest.raises(ValueError, match="the mirror \\(LLU_DATA_MIRROR or mirror=\\) must be an http:// or https:// "
                                         "address such as http://127.0.0.1:8000, got 'ftp://example.org'"):
        fetch_data(tmp_path / "data", mirror="ftp://example.org", manifest=manifest, progress=False)
    with pytest.raises(NotADirectoryError, match="is not a folder"):
        fetch_data(REPO / "README.md", manifest=manifest, progress=False)
    assert not (tmp_path / "data").exists()
