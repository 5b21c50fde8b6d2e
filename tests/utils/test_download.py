"""Resumable downloads (llu_core.utils.download), against a loopback mirror (tests/helpers/mirror_server.py):
a staged file grows until it holds the whole file, resuming where it stopped, in this run or a later one;
a server that drips, lies about the length or sends without end is cut off by the deadline or the size cap."""

import os
import time

import pytest

from llu_core.utils import download as download_module
from llu_core.utils.download import DEADLINE_BASE, MIN_RATE, DownloadError, deadline_for, download
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
    download(f"{mirror.address}/file.bin", tmp_path / "file.partial", len(BODY))
    assert (tmp_path / "file.partial").read_bytes() == BODY
    assert mirror.requests == [("/file.bin", None)]


def test_a_partial_file_from_an_earlier_run_is_completed_from_where_it_stopped(mirror, tmp_path):
    (tmp_path / "file.partial").write_bytes(BODY[:1000])
    download(f"{mirror.address}/file.bin", tmp_path / "file.partial", len(BODY))
    assert (tmp_path / "file.partial").read_bytes() == BODY
    assert mirror.requests == [("/file.bin", "bytes=1000-")]


def test_a_transfer_cut_on_the_way_is_resumed_in_the_same_run(mirror, tmp_path):
    mirror.cut["/file.bin"] = 70_000  # the connection closes after these bytes, once
    download(f"{mirror.address}/file.bin", tmp_path / "file.partial", len(BODY))
    assert (tmp_path / "file.partial").read_bytes() == BODY
    assert mirror.requests[0] == ("/file.bin", None) and mirror.requests[-1][1].startswith("bytes=")
    assert int(mirror.requests[-1][1][len("bytes="):-1]) > 0  # the retry asked only for the rest


def test_a_partial_file_as_long_as_the_file_or_longer_is_fetched_again(mirror, tmp_path):
    (tmp_path / "file.partial").write_bytes(BODY + b"stale bytes of another version")
    download(f"{mirror.address}/file.bin", tmp_path / "file.partial", len(BODY))
    assert (tmp_path / "file.partial").read_bytes() == BODY
    assert [range_ for _, range_ in mirror.requests] == [None]  # longer than the file: stale, fetched whole


def test_an_error_status_is_not_retried_and_is_named(mirror, tmp_path):
    with pytest.raises(DownloadError, match=f"^{mirror.address}/missing.bin: the server answered 404"):
        download(f"{mirror.address}/missing.bin", tmp_path / "missing.partial", 10)
    assert len(mirror.requests) == 1


def test_an_unreachable_server_is_tried_again_after_growing_waits_then_named_with_the_reason(tmp_path, monkeypatch):
    waits = []
    monkeypatch.setattr(download_module.time, "sleep", waits.append)
    server = MirrorServer(tmp_path)
    address = server.address
    server.server_close()  # nothing listens there any more
    with pytest.raises(DownloadError, match=f"^{address}/file.bin could not be downloaded \\(.*refused"):
        download(f"{address}/file.bin", tmp_path / "file.partial", 10, retries=2)
    assert waits == [download_module.BACKOFF, 2 * download_module.BACKOFF]  # three attempts, two waits


def test_the_deadline_grows_with_the_size():
    assert deadline_for(0) == DEADLINE_BASE and deadline_for(10 * MIN_RATE) == DEADLINE_BASE + 10


def test_a_server_that_drips_is_cut_off_at_the_deadline_and_what_came_is_kept(mirror, tmp_path):
    mirror.drip["/file.bin"] = 0.2  # one byte every 0.2 s: the read timeout between bytes never fires
    started = time.monotonic()
    with pytest.raises(DownloadError, match=f"^{mirror.address}/file.bin did not arrive within its deadline of 2 s "
                                            r"\((\d+) of 300,000 bytes came\)"):
        download(f"{mirror.address}/file.bin", tmp_path / "file.partial", len(BODY), deadline=2)
    assert time.monotonic() - started < 4
    kept = (tmp_path / "file.partial").read_bytes()
    assert 0 < len(kept) < 50 and BODY.startswith(kept)  # the bytes in order, for a later resume


def test_a_length_other_than_the_files_is_refused_before_the_body_is_read(mirror, tmp_path):
    mirror.announce["/file.bin"] = 10 ** 10
    mirror.drip["/file.bin"] = 1.0  # the body would take days: it is never waited for
    started = time.monotonic()
    with pytest.raises(DownloadError, match=f"^{mirror.address}/file.bin: the server announces 10,000,000,000 "
                                            "bytes; the file has 300,000"):
        download(f"{mirror.address}/file.bin", tmp_path / "file.partial", len(BODY))
    assert time.monotonic() - started < 2 and not (tmp_path / "file.partial").exists()
    assert len(mirror.requests) == 1  # not retried


def test_a_body_without_end_is_cut_past_the_files_size_and_deleted(mirror, tmp_path):
    mirror.endless.add("/file.bin")
    started = time.monotonic()
    with pytest.raises(DownloadError, match=f"^{mirror.address}/file.bin: the server sent more than the file's "
                                            "300,000 bytes"):
        download(f"{mirror.address}/file.bin", tmp_path / "file.partial", len(BODY))
    assert time.monotonic() - started < 5 and not (tmp_path / "file.partial").exists()


def test_a_size_that_is_a_bound_accepts_a_smaller_file_and_refuses_a_larger_one(mirror, tmp_path):
    download(f"{mirror.address}/file.bin", tmp_path / "file.partial", 10 * len(BODY), exact=False)
    assert (tmp_path / "file.partial").read_bytes() == BODY
    with pytest.raises(DownloadError, match="announces 300,000 bytes; the file has at most 1,000"):
        download(f"{mirror.address}/file.bin", tmp_path / "other.partial", 1000, exact=False)
