"""The two small data sets outside the benchmark that run the book offline: Fashion-MNIST and CIFAR-10.

- ``fashion_mnist``: Debian's ``dataset-fashion-mnist`` files (``*-idx?-ubyte.gz``) in
  ``<root>/fashion-mnist`` or ``/usr/share/datasets/fashion-mnist``, else torchvision's
  layout ``<root>/FashionMNIST/raw``. Grayscale 28x28 images become RGB and are **inverted to
  dark-on-white**, the way product photos look (a documented preprocessing of this loader; it
  is part of the feature cache key).
- ``cifar10``: ``<root>/cifar10/<split>/<class>/*.jpg`` (ImageFolder layout), else
  torchvision's ``<root>/cifar-10-batches-py``.

Both have a ``"train"`` and a ``"test"`` split; the registry (:mod:`llu_core.data.datasets`)
checks the split and resolves the data root ``root`` before calling a loader here.
"""

import gzip
import io
import math
import zlib
from pathlib import Path

import numpy as np

from ..utils.io import read_file
from .labelled import DEFAULT_TEMPLATE, ImageArrays, ImageFiles
from .paths import DEBIAN_FASHION_MNIST

# Class names of torchvision.datasets.FashionMNIST.classes (torchvision/datasets/mnist.py).
FASHION_MNIST_CLASSNAMES = [
    "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
    "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
]


def read_idx(path, n_dims):
    """Read an IDX file of unsigned bytes with ``n_dims`` dimensions, gzipped or not.

    The format of MNIST: two zero bytes, the type byte 0x08, the number of dimensions, each
    size as a big-endian 32-bit integer, then the data. Only as many bytes as the header
    announces are decompressed. Raises ``ValueError`` naming the file when it is not such a
    file, is truncated or holds more data than its header says.
    """
    raw = read_file(path, "IDX file")
    stream = gzip.GzipFile(fileobj=io.BytesIO(raw)) if str(path).endswith(".gz") else io.BytesIO(raw)
    try:
        magic = stream.read(4)
        if len(magic) < 4 or magic[:3] != b"\x00\x00\x08" or magic[3] != n_dims:
            raise ValueError(f"IDX file {path} is not an IDX file of unsigned bytes with {n_dims} dimension(s) "
                             f"(it starts with {magic.hex() or 'nothing'})")
        sizes = stream.read(4 * n_dims)
        if len(sizes) < 4 * n_dims:
            raise ValueError(f"IDX file {path} is truncated inside its header")
        shape = [int.from_bytes(sizes[4 * i: 4 * i + 4], "big") for i in range(n_dims)]
        expected = math.prod(shape)
        data = stream.read(expected + 1)
    except (OSError, EOFError, zlib.error) as error:
        raise ValueError(f"IDX file {path} cannot be decompressed ({error})") from None
    if len(data) != expected:
        raise ValueError(f"IDX file {path} holds {'more' if len(data) > expected else len(data)} bytes of data "
                         f"where its header announces {expected} (shape {shape}): it is truncated or damaged")
    return np.frombuffer(data, dtype=np.uint8).reshape(shape)


def load_fashion_mnist(split, root):
    """Split ``"train"`` or ``"test"`` of Fashion-MNIST under the data root ``root``, inverted to
    dark-on-white."""
    prefix = "train" if split == "train" else "t10k"
    for folder in (root / "fashion-mnist", DEBIAN_FASHION_MNIST):
        images = folder / f"{prefix}-images-idx3-ubyte.gz"
        if images.exists():
            labels_file = folder / f"{prefix}-labels-idx1-ubyte.gz"
            pixels, labels = read_idx(images, 3), read_idx(labels_file, 1)
            if len(pixels) != len(labels):
                raise ValueError(f"Fashion-MNIST in {folder}: {images.name} holds {len(pixels)} images but "
                                 f"{labels_file.name} {len(labels)} labels; the copy is incomplete or mixed")
            break
    else:
        if not (root / "FashionMNIST" / "raw").is_dir():
            raise FileNotFoundError(
                f"Fashion-MNIST not found in {root / 'fashion-mnist'}, {DEBIAN_FASHION_MNIST} or "
                f"{root / 'FashionMNIST'}: run `apt-get install -y dataset-fashion-mnist` or "
                "`python -m llu_core fetch-data` (the book's offline data), or set LLU_DATA_ROOT to the "
                "folder that holds fashion-mnist/")
        from torchvision.datasets import FashionMNIST

        original = FashionMNIST(str(root), train=split == "train", download=False)
        pixels, labels = original.data.numpy(), original.targets.numpy()
    return ImageArrays("fashion_mnist", split, pixels, labels, FASHION_MNIST_CLASSNAMES,
                       [DEFAULT_TEMPLATE], invert=True)


def load_cifar10(split, root):
    """Split ``"train"`` or ``"test"`` of CIFAR-10 under the data root ``root``: the book's JPEGs, else
    torchvision's batches."""
    folder = root / "cifar10" / split
    if folder.is_dir():
        from torchvision.datasets import ImageFolder

        images = ImageFolder(str(folder))
        paths = [Path(path).relative_to(folder) for path, _ in images.samples]
        return ImageFiles("cifar10", split, folder, paths, images.targets, images.classes,
                          [DEFAULT_TEMPLATE])
    if not (root / "cifar-10-batches-py").is_dir():
        raise FileNotFoundError(
            f"CIFAR-10 not found: expected {folder}/<class>/*.jpg, the book's offline data (run `python -m "
            "llu_core fetch-data`, or pass root= / set LLU_DATA_ROOT to the folder that holds it), or "
            f"torchvision's {root / 'cifar-10-batches-py'} (other pixels than the book's JPEGs)")
    from torchvision.datasets import CIFAR10

    original = CIFAR10(str(root), train=split == "train", download=False)
    return ImageArrays("cifar10", split, original.data, original.targets, original.classes,
                       [DEFAULT_TEMPLATE])
