"""Encoding images and class texts (llu_core.data.features): the indices and templates it accepts,
and an image it cannot read, which loses only itself."""

import os
import re

import numpy as np
import pytest
import torch

from llu_core.data.embedded import class_balanced_subset
from llu_core.data.features import extract_features, extract_text_features
from llu_core.data.labelled import ImageArrays
from image_sets import files_dataset, png_files, random_images, toy_images
from our_errors import assert_raises_ours, our_error_cases
from stand_in_backbones import CountingBackbone


# --- Indices, batch sizes and templates are checked, naming the argument --------------------------


def test_bad_input_is_refused(cache):
    backbone, dataset = CountingBackbone(), random_images()
    with pytest.raises(ValueError, match=r"\[0, 40\)"):
        extract_features(backbone, dataset, indices=[0, 40], progress=False)
    with pytest.raises(ValueError, match="non-empty"):
        extract_features(backbone, dataset, indices=[], progress=False)
    with pytest.raises(ValueError, match="exactly one"):
        extract_text_features(backbone, ["cat"], ["no placeholder"])
    with pytest.raises(ValueError, match="per_class"):
        class_balanced_subset(dataset.labels, 0)


@pytest.mark.parametrize("indices, message", [
    (np.arange(40) < 5, "flatnonzero"), ([1.7, 2.2], "integers, got dtype float64"), (["3"], "integers"),
])
def test_indices_that_are_not_integers_are_refused(cache, indices, message):
    dataset = ImageArrays("toy", "train", np.zeros((40, 4, 4, 3), np.uint8), np.arange(40) % 4, list("abcd"), ["{}"])
    with pytest.raises(ValueError, match=message):
        extract_features(CountingBackbone(), dataset, indices=indices, progress=False)


BAD_INPUT = [
    ("extraction batch_size=True", lambda tmp: extract_features(CountingBackbone(), ImageArrays(
        "toy", "train", np.zeros((2, 4, 4, 3), np.uint8), [0, 1], ["a", "b"], ["{}"]), batch_size=True),
     ValueError, r"^batch_size must be"),
    ("extraction batch_size=10**30", lambda tmp: extract_features(CountingBackbone(), toy_images(),
                                                                  batch_size=10 ** 30), ValueError,
     r"^batch_size must be an integer in \[1, 2147483647\]"),
    ("template with a named field", lambda tmp: extract_text_features(CountingBackbone(), ["a"], ["a {} of {x}"]),
     ValueError, r"^templates: 'a \{\} of \{x\}' must hold exactly one replacement field"),
]


@our_error_cases(BAD_INPUT)
def test_bad_input_raises_our_error_naming_the_argument_or_file(call, error, message, tmp_path, cache):
    assert_raises_ours(call, error, message, tmp_path)


# --- An image that cannot be read loses only itself, and is named ---------------------------------


def test_a_truncated_image_loses_only_itself_and_is_named(cache, tmp_path):
    root = tmp_path / "images"
    paths = png_files(root, ["red", "green", "blue", "white", "black", "yellow"])
    dataset = files_dataset(root, paths)
    reference, _ = extract_features(CountingBackbone(), dataset, progress=False)
    damaged = root / paths[2]
    damaged.write_bytes(damaged.read_bytes()[:40])
    backbone = CountingBackbone()
    with pytest.warns(UserWarning, match=re.escape(str(damaged))):
        features, labels = extract_features(backbone, files_dataset(root, paths), progress=False)
    keep = [0, 1, 3, 4, 5]
    assert torch.equal(features, reference[keep]) and labels.tolist() == dataset.labels[keep].tolist()
    assert backbone.images_seen == 5  # the other images of the chunk were embedded and cached
    with pytest.warns(UserWarning, match=re.escape(str(damaged))):
        extract_features(backbone, files_dataset(root, paths), progress=False)
    assert backbone.images_seen == 5


def test_a_class_name_that_is_not_utf_8_reaches_the_text_tower_readable(cache):
    seen = []

    class Recording(CountingBackbone):
        def encode_text(self, classnames, templates):
            seen.extend(classnames)
            return super().encode_text(classnames, templates)

    name = os.fsdecode(b"caf\xe9")  # a folder's name in Latin-1
    text = extract_text_features(Recording("recording-v1"), [name, "tab\tname"], ["a photo of a {}."])
    assert text.shape == (2, 3) and seen == ["caf\ufffd", "tab\tname"]
    for bad in ("one string", [None], ["fine", " "]):
        with pytest.raises(ValueError, match="classnames must be"):
            extract_text_features(Recording("recording-v1"), bad, ["a photo of a {}."])
