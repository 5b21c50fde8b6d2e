"""The data-set registry (llu_core.data.datasets): names and paths resolved once into a data root
or an image folder and its splits; unknown names and splits refused, naming the known ones."""

import pytest

from llu_core import embed_dataset, load_dataset
from llu_core.data import datasets as registry
from llu_core.data.datasets import DATASET_NAMES, resolve_dataset
from llu_core.data.paths import data_root
from image_sets import write_images
from our_errors import assert_raises_ours, our_error_cases
from stand_in_backbones import FolderBackbone

DATA = data_root()


# --- A name or a path is resolved once ------------------------------------------------------------


def test_a_name_is_resolved_once_into_its_data_root_and_splits(tmp_path, monkeypatch):
    test = load_dataset("cifar10", "test")
    resolved = test.resolved
    assert resolved.root == DATA and resolved.splits == ("train", "test") and not resolved.is_folder
    assert (resolved.registered, resolved.severity) == ("cifar10", None)
    assert resolve_dataset("dtd").splits == ("train", "val", "test")
    shifted = resolve_dataset("cifar10_sketch@5", root=tmp_path)
    assert shifted.splits == ("test",) and shifted.root == tmp_path and shifted.severity == 5
    monkeypatch.setenv("LLU_DATA_ROOT", str(tmp_path))  # read from the root resolved, not resolved again
    train = load_dataset(resolved, "train")
    assert train.resolved is resolved and train.image_dir.is_relative_to(DATA)
    with pytest.raises(FileNotFoundError, match=str(tmp_path)):
        load_dataset("cifar10", "train")


def test_load_dataset_reads_a_path_as_a_folder_and_names_as_data_sets(tmp_path, monkeypatch):
    write_images(tmp_path / "photos", {"a": 1, "b": 1})
    assert load_dataset(tmp_path / "photos", "train").name == "photos"
    monkeypatch.chdir(tmp_path)
    assert len(load_dataset("./photos", "train")) == 2
    with pytest.raises(ValueError, match="or a folder of images"):
        load_dataset("photoz", "train")
    with pytest.raises(ValueError, match="classes_file is for a folder of images"):
        load_dataset("cifar10", "test", classes_file="names.txt")


def test_a_folder_is_resolved_once_and_its_splits_read_from_what_was_resolved(tmp_path, cache, monkeypatch):
    folder = tmp_path / "photos"
    write_images(folder / "train", {"a": 2, "b": 2})
    write_images(folder / "test", {"a": 1, "b": 1})
    train = load_dataset(folder, "train")
    resolved = train.resolved
    assert resolved.is_folder and resolved.folder == folder and resolved.root is None
    assert resolved.splits == ("train", "test") and resolved.name == str(folder)
    test = load_dataset(resolved, "test")
    assert len(test) == 2 and test.resolved is resolved
    with pytest.raises(ValueError, match="root and classes_file are resolved already"):
        load_dataset(resolved, "test", root=tmp_path)
    decisions = []
    decide = registry.image_folder
    monkeypatch.setattr(registry, "image_folder", lambda name: decisions.append(name) or decide(name))
    data = embed_dataset(FolderBackbone(), folder, progress=False, num_workers=0)
    assert decisions == [folder] and data.name == str(folder)  # the test split read from the resolved train split
    assert data.train_X.shape == (4, 16) and data.test_X.shape == (2, 16)


# --- Unknown names, splits and severities are refused, naming the known ones ----------------------


def test_unknown_name_and_split_name_the_known_options():
    with pytest.raises(ValueError, match="known names") as error:
        load_dataset("cifar100", "train")
    for name in DATASET_NAMES:
        assert name in str(error.value)
    assert "cifar100" in str(error.value)
    with pytest.raises(ValueError, match="unknown split") as error:
        load_dataset("dtd", "validation")
    for split in ("train", "val", "test"):
        assert f"'{split}'" in str(error.value)


@pytest.mark.parametrize("name", ["fashion_mnist", "cifar10"])
def test_no_val_split_outside_coop(name, tmp_path):
    with pytest.raises(ValueError, match=f"{name} has only 'train' and 'test'"):
        load_dataset(name, "val", root=tmp_path)


BAD_INPUT = [
    ("load_dataset(None)", lambda tmp: load_dataset(None, "test"), ValueError, r"^name must be a data-set name"),
    ("severity @²", lambda tmp: load_dataset("cifar10_jpeg@²", "test"), ValueError,
     r"^severity must be an integer from 1 to 5, got '²'"),
]


@our_error_cases(BAD_INPUT)
def test_bad_input_raises_our_error_naming_the_argument_or_file(call, error, message, tmp_path, cache):
    assert_raises_ours(call, error, message, tmp_path)
