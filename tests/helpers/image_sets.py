"""Small image sets for the tests: image files on disk and labelled sets over them or over pixel arrays."""

import io

import numpy as np
from PIL import Image

from llu_core.data.labelled import ImageArrays, ImageFiles


def png_files(folder, colours):
    """One 4x4 PNG per colour under ``folder/c/``; returns the relative paths."""
    (folder / "c").mkdir(parents=True, exist_ok=True)
    paths = [f"c/{index}.png" for index in range(len(colours))]
    for path, colour in zip(paths, colours):
        Image.new("RGB", (4, 4), colour).save(folder / path)
    return paths


def files_dataset(folder, paths):
    """The image files ``paths`` under ``folder`` as a labelled set of two classes."""
    return ImageFiles("toy", "train", folder, paths, np.arange(len(paths)) % 2, ["a", "b"], ["a {}."])


def toy_images():
    """Six distinct 4x4 images of two classes, in memory."""
    return ImageArrays("toy", "train", np.arange(6 * 48, dtype=np.uint8).reshape(6, 4, 4, 3), np.arange(6) % 2,
                       ["a", "b"], ["{}"])


def write_images(folder, counts, size=(8, 6)):
    """``counts[name]`` small distinct PNGs in ``folder/name/``."""
    rng = np.random.default_rng(len(str(folder)))
    for name, count in counts.items():
        (folder / name).mkdir(parents=True, exist_ok=True)
        for index in range(count):
            pixels = rng.integers(0, 256, size=(size[1], size[0], 3), dtype=np.uint8)
            Image.fromarray(pixels).save(folder / name / f"{index:03d}.png")
    return folder


def smooth_image(width, height, seed):
    """A smooth synthetic RGB image (JPEG-friendly), different for every seed."""
    y, x = np.mgrid[0:height, 0:width]
    phase = np.random.default_rng(seed).uniform(0, 6, size=3)
    pixels = np.stack([127 + 100 * np.sin(x / 7 + y / 11 + p) for p in phase], axis=-1)
    return Image.fromarray(pixels.astype(np.uint8))


def jpeg_bytes(image, quality=95):
    """``image`` encoded as a JPEG file's bytes."""
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=quality)
    return buffer.getvalue()


def random_images(n=40, seed=0, dataset_class=ImageArrays, invert=False):
    """``n`` random 4x4 images of four classes in memory, as ``dataset_class`` (ImageArrays or a subclass)."""
    rng = np.random.default_rng(seed)
    return dataset_class("toy", "train", rng.integers(0, 256, size=(n, 4, 4, 3)), np.arange(n) % 4,
                         ["a", "b", "c", "d"], ["a {}."], invert=invert)
