"""Deterministic image corruptions: offline stand-ins for the domain shifts of Table 3.

The paper's domain-generalisation test (Sec. 4.3) fits on ImageNet and evaluates on the same
classes in other domains (ImageNet-V2, -Sketch, -A, -R). Offline, shifted domains are made
from the CIFAR-10 test images, in the spirit of CIFAR-10-C (Hendrycks & Dietterich, ICLR 2019):
each kind of corruption moves the images away from the source domain in its own way, at a
severity from 1 (mild) to 5 (strong), and applies to the image at its own resolution.

- ``sketch``: a pencil-sketch rendering: the grayscale gradient magnitude (Sobel), drawn as
  dark lines on white paper with a little paper grain; the stand-in for ImageNet-Sketch.
- ``gray_contrast``: grayscale with the contrast lowered towards the image's mean.
- ``blur_noise``: Gaussian blur followed by Gaussian pixel noise.
- ``jpeg``: heavy JPEG compression (blocking and ringing) after posterising to fewer levels.

A corruption is a function of the image, the severity and a NumPy random generator; the
random parts (grain, noise) come only from that generator, so the same seed gives the same
bytes (:func:`corrupt` seeds one generator per image from ``(seed, index)``).
"""

import io

import numpy as np
from PIL import Image, ImageFilter

#: The severities every corruption accepts.
SEVERITIES = (1, 2, 3, 4, 5)

# Per-severity parameters (index severity - 1).
_SKETCH_STRENGTH = (0.6, 0.7, 0.8, 0.9, 1.0)      # weight of the line drawing over the gray image
_CONTRAST = (0.6, 0.45, 0.3, 0.2, 0.12)           # remaining contrast
_BLUR_RADIUS = (0.5, 0.8, 1.1, 1.4, 1.8)          # Gaussian blur radius in pixels
_NOISE_SIGMA = (8.0, 14.0, 20.0, 28.0, 36.0)      # pixel noise, in gray levels
_JPEG_QUALITY = (30, 20, 12, 8, 5)
_POSTERISE_BITS = (6, 5, 4, 4, 3)


def _gray(image):
    return np.asarray(image.convert("L"), dtype=np.float64)


def _to_image(array):
    array = np.clip(np.rint(array), 0, 255).astype(np.uint8)
    if array.ndim == 2:
        array = np.repeat(array[..., None], 3, axis=2)
    return Image.fromarray(array, mode="RGB")


def _sketch(image, severity, rng):
    gray = _gray(image)
    padded = np.pad(gray, 1, mode="edge")
    dx = (padded[1:-1, 2:] - padded[1:-1, :-2]) * 2 + (padded[:-2, 2:] - padded[:-2, :-2]) + \
        (padded[2:, 2:] - padded[2:, :-2])
    dy = (padded[2:, 1:-1] - padded[:-2, 1:-1]) * 2 + (padded[2:, :-2] - padded[:-2, :-2]) + \
        (padded[2:, 2:] - padded[:-2, 2:])
    edges = np.hypot(dx, dy)
    lines = 255.0 - 255.0 * edges / max(float(np.percentile(edges, 98)), 1e-6)
    grain = rng.normal(0.0, 6.0, size=gray.shape)
    strength = _SKETCH_STRENGTH[severity - 1]
    return _to_image((1.0 - strength) * gray + strength * np.clip(lines, 0, 255) + grain)


def _gray_contrast(image, severity, rng):
    gray = _gray(image)
    return _to_image(gray.mean() + _CONTRAST[severity - 1] * (gray - gray.mean()))


def _blur_noise(image, severity, rng):
    blurred = np.asarray(image.filter(ImageFilter.GaussianBlur(_BLUR_RADIUS[severity - 1])), dtype=np.float64)
    return _to_image(blurred + rng.normal(0.0, _NOISE_SIGMA[severity - 1], size=blurred.shape))


def _jpeg(image, severity, rng):
    shift = 8 - _POSTERISE_BITS[severity - 1]
    posterised = Image.fromarray((np.asarray(image) >> shift << shift).astype(np.uint8), mode="RGB")
    buffer = io.BytesIO()
    posterised.save(buffer, format="JPEG", quality=_JPEG_QUALITY[severity - 1])
    buffer.seek(0)
    with Image.open(buffer) as compressed:
        return compressed.convert("RGB")


#: Corruption name -> function (RGB image, severity, numpy Generator) -> RGB image.
CORRUPTIONS = {"sketch": _sketch, "gray_contrast": _gray_contrast, "blur_noise": _blur_noise, "jpeg": _jpeg}


def check_corruption(kind, severity):
    """Raise ``ValueError`` unless ``kind`` is a known corruption and ``severity`` one of 1..5."""
    if kind not in CORRUPTIONS:
        raise ValueError(f"unknown corruption {kind!r}; known corruptions: {', '.join(CORRUPTIONS)}")
    if isinstance(severity, bool) or not isinstance(severity, (int, np.integer)) or severity not in SEVERITIES:
        raise ValueError(f"severity must be an integer from 1 to 5, got {severity!r}")


def corrupt(image, kind, severity, seed, index=0):
    """Corrupt one image deterministically.

    Parameters
    ----------
    image : PIL.Image.Image
        The clean image (converted to RGB).
    kind : str
        A key of :data:`CORRUPTIONS`.
    severity : int
        1 (mild) to 5 (strong).
    seed, index : int
        The random parts are drawn from ``numpy.random.default_rng((seed, index))``: the same
        seed and index give the same bytes, and every image of a data set (``index``) gets its
        own noise whatever order the images are read in.

    Returns
    -------
    PIL.Image.Image, RGB, the size of ``image``.
    """
    check_corruption(kind, severity)
    rng = np.random.default_rng((int(seed), int(index)))
    return CORRUPTIONS[kind](image.convert("RGB"), int(severity), rng)
