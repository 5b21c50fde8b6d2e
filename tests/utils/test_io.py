"""Files the library writes and reads (llu_core.utils.io): atomic, following the umask, refusing
what is not a regular file, saying when the disk is full."""

import os
import re

import pytest
import torch

from llu_core import ZeroShotClassifier, load_backbone
from llu_core.data.coop import read_split_file
from llu_core.estimators.persistence import load_classifier, save_classifier
from llu_core.utils.io import (atomic_path, checksum, read_file, read_json, read_tensors, read_text_lines, target_path,
                               write_bytes, write_json, write_tensors)
from synthetic import small_problem

X, y, T = small_problem()


# --- Writes are atomic: the old file or the new one, never a part ---------------------------------


def test_a_write_replaces_the_file_whole_and_leaves_no_temporary_file(tmp_path):
    write_json(tmp_path / "deep" / "result.json", {"b": [1, 2], "a": "x"})  # folders created
    assert read_json(tmp_path / "deep" / "result.json") == {"a": "x", "b": [1, 2]}
    write_json(tmp_path / "deep" / "result.json", {"c": 3})
    assert read_json(tmp_path / "deep" / "result.json") == {"c": 3}
    assert [path.name for path in (tmp_path / "deep").iterdir()] == ["result.json"]


def test_a_write_that_fails_half_way_keeps_the_old_file(tmp_path, monkeypatch):
    path = tmp_path / "result.json"
    write_json(path, {"old": True})
    written = []

    def fails_after_four_bytes(descriptor, data):
        if written:
            raise OSError(5, "Input/output error")
        written.append(bytes(data[:4]))
        return 4

    monkeypatch.setattr(os, "write", fails_after_four_bytes)
    with pytest.raises(OSError, match=f"cannot write {re.escape(str(path))}: Input/output error"):
        write_bytes(path, b"new bytes, never complete")
    monkeypatch.undo()
    assert read_json(path) == {"old": True} and [p.name for p in tmp_path.iterdir()] == ["result.json"]


def test_a_full_disk_is_reported_and_leaves_no_file(tmp_path, monkeypatch):
    model = ZeroShotClassifier().fit(X, y, T)
    half = []

    def full_disk(descriptor, data):  # what the kernel answers once the disk is full
        if half:
            raise OSError(28, "No space left on device")
        half.append(data[:4])
        return 4

    monkeypatch.setattr(os, "write", full_disk)
    with pytest.raises(OSError, match=f"cannot write {re.escape(str(tmp_path))}/model.safetensors: the disk is full"):
        save_classifier(model, tmp_path / "model.safetensors")
    assert half and list(tmp_path.iterdir()) == []  # no partial file, no temporary file


def test_a_writer_that_takes_a_path_writes_atomically_too(tmp_path):
    with atomic_path(tmp_path / "table.csv") as temporary:
        temporary.write_text("a,b\n")
        assert not (tmp_path / "table.csv").exists()  # not there until the writer is done
    assert (tmp_path / "table.csv").read_text() == "a,b\n"
    with pytest.raises(RuntimeError):
        with atomic_path(tmp_path / "table.csv") as temporary:
            temporary.write_text("half")
            raise RuntimeError("the writer failed")
    assert (tmp_path / "table.csv").read_text() == "a,b\n" and len(list(tmp_path.iterdir())) == 1


def test_tensors_are_written_and_read_back_with_their_header(tmp_path):
    write_tensors(tmp_path / "t.safetensors", {"x": torch.arange(6.0).reshape(2, 3).T}, metadata={"k": "v"})
    stored = read_tensors(tmp_path / "t.safetensors")
    assert stored.metadata == {"k": "v"} and stored.layout == {"x": ("F32", (3, 2))}
    assert torch.equal(stored.tensors()["x"], torch.arange(6.0).reshape(2, 3).T)


def test_new_files_follow_the_umask_not_mode_0600(tmp_path):
    previous = os.umask(0o022)
    try:
        write_json(tmp_path / "result.json", {"a": 1})
        write_tensors(tmp_path / "part.safetensors", {"x": torch.zeros(2)})
    finally:
        os.umask(previous)
    assert {(tmp_path / name).stat().st_mode & 0o777 for name in ("result.json", "part.safetensors")} == {0o644}


# --- Reads take a whole regular file, once, or say what the path is -------------------------------


def test_a_file_is_read_whole_and_a_path_is_named_in_every_refusal(tmp_path, monkeypatch):
    (tmp_path / "a.txt").write_bytes(b"12345")
    assert read_file(tmp_path / "a.txt") == b"12345"
    with pytest.raises(ValueError, match=f"^split file {re.escape(str(tmp_path))}/a.txt has 5 bytes, more than the 4"):
        read_file(tmp_path / "a.txt", "split file", max_bytes=4)
    with pytest.raises(FileNotFoundError, match=f"^class file {re.escape(str(tmp_path))}/b.txt does not exist"):
        read_file(tmp_path / "b.txt", "class file")
    with pytest.raises(ValueError, match="is a directory; expected a regular file"):
        read_file(tmp_path)
    monkeypatch.setenv("HOME", str(tmp_path))
    assert read_file("~/a.txt") == b"12345" and target_path("~/new.json") == tmp_path / "new.json"
    with pytest.raises(ValueError, match=f"^model path {re.escape(str(tmp_path))} is a directory"):
        target_path("~", "model path")
    with pytest.raises(TypeError, match="path must be a str or os.PathLike file path, got int"):
        target_path(3)


@pytest.mark.parametrize("reader, message", [
    (lambda path: load_classifier(path), "model file /dev/null is a character device; expected a regular file"),
    (lambda path: read_split_file(path), "split file /dev/null is a character device; expected a regular file"),
    (lambda path: load_backbone("RN50", pretrained=path, device="cpu"), "checkpoint /dev/null is not a regular file"),
], ids=["model", "split-file", "checkpoint"])
def test_a_device_is_refused(reader, message):
    with pytest.raises(ValueError, match=message):
        reader("/dev/null")


def test_json_that_cannot_be_parsed_names_the_file(tmp_path):
    (tmp_path / "bad.json").write_text('{"a": ')
    with pytest.raises(ValueError, match=f"^JSON file {re.escape(str(tmp_path))}/bad.json"):
        read_json(tmp_path / "bad.json")
    (tmp_path / "deep.json").write_text("[" * 100000)
    with pytest.raises(ValueError, match="is nested too deeply"):
        read_json(tmp_path / "deep.json")


# --- Checksums ------------------------------------------------------------------------------------


def test_a_checksum_changes_with_any_bit_and_with_the_order_of_its_parts():
    a, b = torch.arange(4.0), torch.tensor([1.5])
    reference = checksum("header", a, b)
    assert len(reference) == 64 and reference == checksum("header", a.clone(), b.clone())
    assert reference == checksum("header", torch.arange(4.0).repeat_interleave(2)[::2], b)  # not contiguous
    flipped = a.clone()
    flipped.view(torch.int32)[2] ^= 1  # the lowest bit of one element
    assert checksum("header", flipped, b) != reference
    assert checksum("header", b, a) != reference and checksum("header!", a, b) != reference


def test_an_output_path_is_checked_before_any_work(tmp_path):
    from llu_core.utils.io import check_writable

    assert check_writable(tmp_path / "new" / "m.safetensors", "out") == tmp_path / "new" / "m.safetensors"
    assert (tmp_path / "new").is_dir() and list((tmp_path / "new").iterdir()) == []  # the probe file is gone
    (tmp_path / "old.bin").write_bytes(b"kept")
    check_writable(tmp_path / "old.bin")
    assert (tmp_path / "old.bin").read_bytes() == b"kept"
    os.mkfifo(tmp_path / "fifo")
    (tmp_path / "a file").write_text("")
    for path, error, message in [("", ValueError, "out is empty; expected a file path"),
                                 (tmp_path, ValueError, "is a directory; expected a file path"),
                                 (tmp_path / "fifo", ValueError, "out .*fifo is a FIFO; expected a regular file"),
                                 (tmp_path / "a file" / "m", NotADirectoryError, "a file is a file, not a folder"),
                                 ("/proc/llu-out/m", OSError, "out /proc/llu-out/m cannot be written")]:
        with pytest.raises(error, match=message):
            check_writable(path, "out")
    with pytest.raises(ValueError, match="path is empty"):
        target_path("")


def test_read_text_lines_gives_numbered_stripped_lines_and_names_bad_text(tmp_path):
    path = tmp_path / "classes.txt"
    path.write_text("# a comment\n  frog \n\n\ttruck\n", encoding="utf-8")
    assert read_text_lines(path, "classes file", "one class per line") == [(2, "frog"), (4, "truck")]
    path.write_bytes(b"frog\n\xff\n")
    with pytest.raises(ValueError, match=r"classes file .* is not UTF-8 text \(byte 5\)"):
        read_text_lines(path, "classes file", "one class per line")
    path.write_bytes(b"frog\x00\n")
    with pytest.raises(ValueError, match="holds a NUL byte; expected one class per line"):
        read_text_lines(path, "classes file", "one class per line")
