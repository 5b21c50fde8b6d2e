"""The one image decoder (llu_core.data.images): every mode scaled by its range to 8 bits, extreme
sizes refused before resizing, in-memory pixels held to 8 bits."""

import re

import numpy as np
import pytest
from PIL import Image

from llu_core.data.images import UnreadableImageError
from llu_core.data.labelled import ImageArrays
from image_sets import files_dataset


def _saved_image(folder, image, name):
    image.save(folder / name)
    return folder / name


def decoded(tmp_path, image, name):
    _saved_image(tmp_path, image, name)
    return np.asarray(files_dataset(tmp_path, [name]).load_image(0))


# --- Every mode is read by its range --------------------------------------------------------------


def test_a_16_bit_png_keeps_its_grey_levels(tmp_path):
    levels = np.array([[0, 257, 32896, 65535]], dtype=np.uint16)
    assert Image.open(_saved_image(tmp_path, Image.fromarray(levels), "gray16.png")).mode == "I;16"
    np.testing.assert_array_equal(decoded(tmp_path, Image.fromarray(levels), "gray16.png")[..., 0],
                                  [[0, 1, 128, 255]])  # before: [[0, 255, 255, 255]], white


@pytest.mark.parametrize("values, mode, expected", [
    (np.array([[0.0, 0.5, 1.0, 0.25]], np.float32), "F", [[0, 128, 255, 64]]),  # before: 0 and 1, black
    (np.array([[0, 257, 65535, 514]], np.int32), "I", [[0, 1, 255, 2]]),
], ids=["float", "int32"])
def test_float_and_integer_images_are_scaled_by_their_range(tmp_path, values, mode, expected):
    np.testing.assert_array_equal(decoded(tmp_path, Image.fromarray(values, mode=mode), "image.tiff")[..., 1], expected)


# --- What has no 8-bit equivalent, or would blow up when resized, is refused, naming the file -----


@pytest.mark.parametrize("values, mode, message", [
    (np.array([[0.0, 2.0]], np.float32), "F", r"float pixels outside \[0, 1\]"),
    (np.array([[0, 70000]], np.int32), "I", r"32-bit integer pixels outside \[0, 65535\]"),
], ids=["float", "int32"])
def test_pixels_without_an_8_bit_equivalent_are_refused_naming_the_file(tmp_path, values, mode, message):
    path = _saved_image(tmp_path, Image.fromarray(values, mode=mode), "image.tiff")
    with pytest.raises(UnreadableImageError, match=f"^image file {re.escape(str(path))} has {message}"):
        files_dataset(tmp_path, ["image.tiff"]).load_image(0)


@pytest.mark.parametrize("size", [(3000, 1), (1, 30000), (17, 1)])
def test_extreme_aspect_ratios_are_refused_before_resizing(tmp_path, cache, size):
    path = _saved_image(tmp_path, Image.new("RGB", size), "strip.png")
    assert path.stat().st_size < 200  # a few bytes that Resize(224) would blow up to 600 MiB (3000 x 1)
    with pytest.raises(UnreadableImageError, match=f"^image file {re.escape(str(path))} is .* aspect ratio"):
        files_dataset(tmp_path, ["strip.png"]).load_image(0)


def test_in_memory_pixels_must_be_8_bit():
    with pytest.raises(ValueError, match=r"^pixels must be 8-bit: integers in \[0, 255\], got dtype uint16"):
        ImageArrays("toy", "train", np.full((2, 4, 4), 1000, np.uint16), [0, 1], ["a", "b"], ["{}"])  # wrapped to 232
    with pytest.raises(ValueError, match="^pixels is 3000 x 1 pixels, an aspect ratio"):
        ImageArrays("toy", "train", np.zeros((2, 1, 3000), np.uint8), [0, 1], ["a", "b"], ["{}"])
    np.testing.assert_array_equal(ImageArrays("toy", "train", np.full((2, 4, 4), 200), [0, 1], ["a", "b"],
                                              ["{}"]).pixels, 200)  # any integer dtype within [0, 255]
