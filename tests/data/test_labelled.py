"""Labelled image sets (llu_core.data.labelled): the content digest the cache keys on, which tracks
what a set holds, whatever its file names."""

import os

import numpy as np
import pytest
from PIL import Image

from llu_core.data.datasets import load_dataset
from llu_core.data.features import extract_features
from llu_core.data.labelled import ImageArrays, ImageFiles
from stand_in_backbones import CountingBackbone


@pytest.fixture(scope="module")
def dtd_real():
    return {split: load_dataset("dtd", split) for split in ("train", "val", "test")}


def test_image_files_digest_tracks_paths_and_labels(dtd_real):
    ds = dtd_real["train"]
    digest = ds.content_digest()
    assert len(digest) == 64 and digest == load_dataset("dtd", "train").content_digest()
    assert digest != dtd_real["test"].content_digest()

    def rebuilt(paths, labels):
        return ImageFiles("dtd", "train", ds.image_dir, paths, labels, ds.classnames,
                          ds.templates).content_digest()

    assert rebuilt(ds.paths, ds.labels) == digest
    labels = ds.labels.copy()
    labels[5] = (labels[5] + 1) % 10
    assert rebuilt(ds.paths, labels) != digest
    paths = list(ds.paths)
    paths[5] = paths[5].replace(".jpg", ".png")
    assert rebuilt(paths, ds.labels) != digest
    swapped = list(ds.paths)
    swapped[0], swapped[1] = swapped[1], swapped[0]
    assert rebuilt(swapped, ds.labels) != digest


def test_image_arrays_digest_tracks_pixels_and_labels():
    rng = np.random.default_rng(0)
    pixels = rng.integers(0, 256, size=(6, 8, 8), dtype=np.uint8)
    labels = np.array([0, 1, 2, 0, 1, 2])

    def digest(pixels, labels):
        return ImageArrays("toy", "train", pixels, labels, ["a", "b", "c"], ["{}"],
                           invert=True).content_digest()

    reference = digest(pixels, labels)
    assert reference == digest(pixels.copy(), list(labels))
    changed_labels = labels.copy()
    changed_labels[2] = 1
    assert digest(pixels, changed_labels) != reference
    changed_pixels = pixels.copy()
    changed_pixels[3, 4, 4] ^= 1
    assert digest(changed_pixels, labels) != reference


def test_file_names_that_are_not_utf_8_are_read(cache, tmp_path):
    folder = tmp_path / "cifar10" / "train"
    for label in ("a", "b"):
        (folder / label).mkdir(parents=True)
        Image.new("RGB", (4, 4), "red").save(folder / label / "plain.png")
    Image.new("RGB", (4, 4), "blue").save(os.fsdecode(bytes(folder / "a") + b"/caf\xe9.png"))  # Latin-1
    dataset = load_dataset("cifar10", "train", root=tmp_path)
    features, labels = extract_features(CountingBackbone(), dataset, progress=False)  # before: UnicodeEncodeError
    assert features.shape[0] == 3 and labels.tolist() == [0, 0, 1]


def test_names_with_tabs_or_line_breaks_cannot_make_two_folders_digest_alike(tmp_path):
    # As tab-separated lines these two lists would read the same: "a\t1\t<version>\nb" ...
    one = ImageFiles("x", "train", tmp_path, ["a\t0\tmissing\nb"], [1], ["c0", "c1"], ["{}"])
    other = ImageFiles("x", "train", tmp_path, ["a", "b"], [0, 1], ["c0", "c1"], ["{}"])
    assert one.content_digest() != other.content_digest()
    quoted = ImageFiles("x", "train", tmp_path, ['"a\\tb"'], [0], ["c0", "c1"], ["{}"])  # a name that looks escaped
    escaped = ImageFiles("x", "train", tmp_path, ["a\tb"], [0], ["c0", "c1"], ["{}"])
    assert quoted.content_digest() != escaped.content_digest()
