"""Fashion-MNIST (Debian's IDX files, inverted) and the offline CIFAR-10 subset (llu_core.data.offline_sets)."""

import gzip
import re

import numpy as np
import pytest

from llu_core.data.datasets import load_dataset
from llu_core.data.labelled import ImageFiles
from llu_core.data.paths import DEBIAN_FASHION_MNIST, data_root
from our_errors import assert_raises_ours, our_error_cases

DATA = data_root()


# --- Fashion-MNIST: the IDX files, inverted to dark on white --------------------------------------


def _raw_idx(path, magic):
    with gzip.open(path, "rb") as handle:
        data = handle.read()
    assert int.from_bytes(data[:4], "big") == magic
    n_dims = data[3]
    shape = [int.from_bytes(data[4 + 4 * i:8 + 4 * i], "big") for i in range(n_dims)]
    return np.frombuffer(data, np.uint8, offset=4 + 4 * n_dims).reshape(shape)


@pytest.mark.parametrize("split,prefix,n", [("train", "train", 60000), ("test", "t10k", 10000)])
def test_fashion_mnist_is_debians_files_inverted(split, prefix, n, tmp_path):
    # An empty root: the loader falls back to Debian's dataset-fashion-mnist files.
    ds = load_dataset("fashion_mnist", split, root=tmp_path)
    raw_pixels = _raw_idx(DEBIAN_FASHION_MNIST / f"{prefix}-images-idx3-ubyte.gz", 2051)
    raw_labels = _raw_idx(DEBIAN_FASHION_MNIST / f"{prefix}-labels-idx1-ubyte.gz", 2049)
    assert len(ds) == n and raw_pixels.shape == (n, 28, 28)
    assert ds.classnames[0] == "T-shirt/top" and ds.classnames[9] == "Ankle boot"
    assert len(ds.classnames) == 10 and ds.templates == ["a photo of a {}."]
    np.testing.assert_array_equal(ds.labels, raw_labels)
    assert np.bincount(ds.labels).tolist() == [n // 10] * 10
    assert ds.preprocessing == "rgb,inverted" and "invert" in ds.preprocessing
    for index in (0, 1, n // 2, n - 1):
        image, label = ds[index]
        assert image.mode == "RGB" and image.size == (28, 28) and label == raw_labels[index]
        rgb = np.asarray(image)
        for channel in range(3):
            np.testing.assert_array_equal(rgb[..., channel], 255 - raw_pixels[index])
    # The background (border) of the raw images is black: dark-on-white after inversion.
    first = np.asarray(ds[0][0])
    assert raw_pixels[0][0].max() == 0 and first[0].min() == 255


def idx_file(path, array):
    header = bytes([0, 0, 8, array.ndim]) + b"".join(size.to_bytes(4, "big") for size in array.shape)
    with gzip.open(path, "wb") as handle:
        handle.write(header + array.astype(np.uint8).tobytes())


def fashion_mnist_root(tmp, n_images, n_labels, cut=0):
    folder = tmp / "fashion-mnist"
    folder.mkdir(parents=True)
    for split in ("train", "t10k"):
        idx_file(folder / f"{split}-images-idx3-ubyte.gz", np.zeros((n_images, 28, 28)))
        idx_file(folder / f"{split}-labels-idx1-ubyte.gz", np.arange(n_labels) % 10)
    if cut:
        images = folder / "train-images-idx3-ubyte.gz"
        raw = gzip.decompress(images.read_bytes())
        images.write_bytes(gzip.compress(raw[:-cut]))
    return folder


def test_idx_image_and_label_counts_must_match(tmp_path):
    folder = fashion_mnist_root(tmp_path, 10, 6)
    with pytest.raises(ValueError, match=f"^Fashion-MNIST in {re.escape(str(folder))}: train-images-idx3-ubyte.gz "
                                         "holds 10 images but train-labels-idx1-ubyte.gz 6 labels"):
        load_dataset("fashion_mnist", "train", root=tmp_path)  # before: 6 items


def _truncated_idx(tmp):
    fashion_mnist_root(tmp, 10, 10, cut=100)
    return load_dataset("fashion_mnist", "train", root=tmp)


BAD_INPUT = [
    ("truncated IDX file", _truncated_idx, ValueError,
     r"^IDX file {tmp}/fashion-mnist/train-images-idx3-ubyte.gz holds 7740 bytes of data where its header announces "
     r"7840"),
]


@our_error_cases(BAD_INPUT)
def test_bad_input_raises_our_error_naming_the_argument_or_file(call, error, message, tmp_path, cache):
    assert_raises_ours(call, error, message, tmp_path)


# --- CIFAR-10: an image folder per split ----------------------------------------------------------


def test_cifar10_imagefolder_subset():
    expected_names = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse",
                      "ship", "truck"]
    for split, per_class in (("train", 500), ("test", 1000)):
        ds = load_dataset("cifar10", split)
        assert isinstance(ds, ImageFiles) and ds.image_dir == DATA / "cifar10" / split
        assert ds.classnames == expected_names and ds.preprocessing == "rgb"
        assert ds.templates == ["a photo of a {}."]
        assert len(ds) == 10 * per_class
        assert np.bincount(ds.labels).tolist() == [per_class] * 10
        for index in (0, len(ds) - 1):
            image, label = ds[index]
            assert image.mode == "RGB" and image.size == (32, 32)
            assert ds.paths[index].split("/")[0] == expected_names[label]
