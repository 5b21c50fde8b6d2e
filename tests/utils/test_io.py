"""Files the library writes and reads (llu_core.utils.io): atomic, following the umask, refusing
what is not a regular file, saying when the disk is full."""

import os
import re

import pytest
import torch

from llu_core import ZeroShotClassifier, load_backbone
from llu_core.data.coop import read_split_file
from llu_core.estimators.persistence import load_classifier, save_classifier
from llu_core.utils.io import write_json, write_tensors
from synthetic import small_problem

X, y, T = small_problem()


# --- Writes are atomic: the old file or the new one, never a part ---------------------------------


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


def test_new_files_follow_the_umask_not_mode_0600(tmp_path):
    previous = os.umask(0o022)
    try:
        write_json(tmp_path / "result.json", {"a": 1})
        write_tensors(tmp_path / "part.safetensors", {"x": torch.zeros(2)})
    finally:
        os.umask(previous)
    assert {(tmp_path / name).stat().st_mode & 0o777 for name in ("result.json", "part.safetensors")} == {0o644}


# --- Reads take a whole regular file, once, or say what the path is -------------------------------


@pytest.mark.parametrize("reader, message", [
    (lambda path: load_classifier(path), "model file /dev/null is a character device; expected a regular file"),
    (lambda path: read_split_file(path), "split file /dev/null is a character device; expected a regular file"),
    (lambda path: load_backbone("RN50", pretrained=path, device="cpu"), "checkpoint /dev/null is not a regular file"),
], ids=["model", "split-file", "checkpoint"])
def test_a_device_is_refused(reader, message):
    with pytest.raises(ValueError, match=message):
        reader("/dev/null")
