"""Your own image folders as data sets (llu_core.data.folders): class folders, split folders and a
classes file."""

import pytest

from llu_core import load_image_folder
from llu_core.data.folders import folder_splits
from image_sets import write_images


def test_an_image_folder_is_a_data_set_with_its_class_names(tmp_path):
    folder = write_images(tmp_path / "photos", {"tabby_cat": 2, "dog": 3})
    (folder / "dog" / ".hidden.png").write_bytes(b"")
    (folder / "dog" / "notes.txt").write_text("not an image")
    (folder / ".thumbnails").mkdir()
    (folder / "classnames.txt").write_text("# folder, then the name in the prompts\ndog puppy\n")
    images = load_image_folder(folder)
    assert images.name == "photos" and images.split == "train" and folder_splits(folder) == ("train",)
    assert images.classnames == ["puppy", "tabby cat"]  # sorted folders; "_" read as a space
    assert images.paths == ["dog/000.png", "dog/001.png", "dog/002.png", "tabby_cat/000.png", "tabby_cat/001.png"]
    assert images.labels.tolist() == [0, 0, 0, 1, 1] and images.templates == ["a photo of a {}."]
    image, label = images[3]
    assert image.mode == "RGB" and label == 1
    with pytest.raises(ValueError, match="has the splits \\['train'\\], not 'test'.*hold_out_shots"):
        load_image_folder(folder, "test")


def test_an_image_folder_with_split_folders_has_those_splits(tmp_path):
    folder = tmp_path / "photos"
    write_images(folder / "train", {"a": 2, "b": 2})
    write_images(folder / "test", {"a": 1, "b": 1})
    assert folder_splits(folder) == ("train", "test")
    assert len(load_image_folder(folder, "test")) == 2
    write_images(folder / "test", {"c": 1})
    with pytest.raises(ValueError, match="the splits must have the same class folders"):
        load_image_folder(folder, "test")


@pytest.mark.parametrize("content, message", [
    ("fifo", "classes file .*names is a FIFO; expected a regular file"),
    (b"cat \xff\xfekitten\n", "classes file .*names is not UTF-8 text \\(byte 4\\)"),
    (b"cat kit\x00ten\n", "classes file .*names holds a NUL byte"),
    (b"cat\n", "names, line 1: 'cat' is not '<folder> <class name>'"),
])
def test_a_classes_file_that_cannot_be_read_as_names_is_refused_at_once(tmp_path, content, message):
    import os

    folder = write_images(tmp_path / "photos", {"cat": 1, "dog": 1})
    if content == "fifo":
        os.mkfifo(tmp_path / "names")  # read without blocking: refused, never waited on
    else:
        (tmp_path / "names").write_bytes(content)
    with pytest.raises(ValueError, match=message):
        load_image_folder(folder, classes_file=tmp_path / "names")
    with pytest.raises(FileNotFoundError, match="classes file .*nowhere does not exist"):
        load_image_folder(folder, classes_file=tmp_path / "nowhere")
