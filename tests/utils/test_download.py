"""Resumable downloads (llu_core.utils.download), against a loopback mirror (tests/helpers/mirror_server.py):
a staged file grows until it holds the whole file, resuming where it stopped, in this run or a later one."""

import os

import pytest

from llu_core.utils import download as download_module
from llu_core.utils.download import DownloadError, download
from mirror_server import MirrorServer

BODY = os.urandom(300_000)


@pytest.fixture
def mirror(tmp_path, monkeypatch):
    """A mirror serving ``file.bin`` (:data:`BODY`), and no wait between attempts."""
    (tmp_path / "served").mkdir()
    (tmp_path / "served" / "file.bin").write_bytes(BODY)
    monkeypatch.setattr(download_module, "BACKOFF", 0.0)
    with MirrorServer(tmp_path / "served") as server:
        yield server


def test_a_file_is_downloaded_whole_in_one_request(mirror, tmp_path):
    download(f"{mirror.address}/file.bin", tmp_path / "file.partial")
    assert (tmp_path / "file.partial").read_bytes() == BODY
    assert mirror.requests == [("/file.bin", None)]


def test_a_partial_file_from_an_earlier_run_is_completed_from_where_it_stopped(mirror, tmp_path):
    (tmp_path / "file.partial").write_bytes(BODY[:1000])
    download(f"{mirror.address}/file.bin", tmp_path / "file.partial")
    assert (tmp_path / "file.partial").read_bytes() == BODY
    assert mirror.requests == [("/file.bin", "bytes=1000-")]


def test_a_transfer_cut_on_the_way_is_resumed_in_the_same_run(mirror, tmp_path):
    mirror.cut["/file.bin"] = 70_000  # the connection closes after these bytes, once
    download(f"{mirror.address}/file.bin", tmp_path / "file.partial")
    assert (tmp_path / "file.partial").read_bytes() == BODY
    assert mirror.requests[0] == ("/file.bin", None) and mirror.requests[-1][1].startswith("bytes=")
    assert int(mirror.requests[-1][1][len("bytes="):-1]) > 0  # the retry asked only for the rest


def test_a_partial_file_as_long_as_the_file_or_longer_is_fetched_again(mirror, tmp_path):
    (tmp_path / "file.partial").write_bytes(BODY + b"stale bytes of another version")
    download(f"{mirror.address}/file.bin", tmp_path / "file.partial")
    assert (tmp_path / "file.partial").read_bytes() == BODY
    assert [range_ for _, range_ in mirror.requests] == [f"bytes={len(BODY) + 30}-", None]


def test_an_error_status_is_not_retried_and_is_named(mirror, tmp_path):
    with pytest.raises(DownloadError, match=f"^{mirror.address}/missing.bin: the server answered 404"):
        download(f"{mirror.address}/missing.bin", tmp_path / "missing.partial")
    assert len(mirror.requests) == 1


def test_an_unreachable_server_is_tried_again_after_growing_waits_then_named_with_the_reason(tmp_path, monkeypatch):
    waits = []
    monkeypatch.setattr(download_module.time, "sleep", waits.append)
    server = MirrorServer(tmp_path)
    address = server.address
    server.server_close()  # nothing listens there any more
    with pytest.raises(DownloadError, match=f"^{address}/file.bin could not be downloaded \\(.*refused"):
        download(f"{address}/file.bin", tmp_path / "file.partial", retries=2)
    assert waits == [download_module.BACKOFF, 2 * download_module.BACKOFF]  # three attempts, two waits
