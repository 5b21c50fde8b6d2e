"""One image decoder for every loader: image files and pixel arrays become 8-bit RGB images.

Every data set of :mod:`llu_core.data.datasets` hands the backbones' preprocessing an 8-bit
RGB :class:`PIL.Image.Image` made here, or raises :class:`UnreadableImageError` naming the file.

**Modes.** Pillow's ``convert("RGB")`` is right for the 8-bit modes but clips wider ones: a
16-bit grayscale PNG (mode ``"I;16"``) becomes white, a float TIFF (``"F"``, values in [0, 1])
black. So every mode is converted by its range:

- the 8-bit modes (``1``, ``L``, ``LA``, ``P``, ``PA``, ``RGB``, ``RGBA``, ``CMYK``,
  ``YCbCr``): Pillow's conversion (16-bit RGB PNGs are already read as 8-bit ``RGB``);
- 16-bit integers (``I;16``, ``I;16L``, ``I;16B``, ``I;16N``): 0-65535 onto 0-255;
- 32-bit integers (``I``): as 16-bit when every value lies in [0, 65535], the range Pillow
  decodes 16-bit PGM data into; other values have no agreed range and are refused;
- 32-bit floats (``F``): [0, 1] onto 0-255; values outside [0, 1] are refused;
- any other mode Pillow cannot convert to RGB (``LAB``, ``HSV``) is refused.

**Sizes.** Before anything is decoded or resized, a file larger than :data:`MAX_FILE_BYTES`,
an image of more than :data:`MAX_PIXELS` pixels and one whose sides differ by more than
:data:`MAX_ASPECT_RATIO` are refused. The last matters because the backbones resize the
*shorter* side to 224 pixels: a PNG of a hundred bytes and 3000 × 1 pixels passes Pillow's
decompression-bomb check and becomes 672,000 × 224 pixels (150 million) in the resize. Within
these bounds an image has at most 67 million pixels to decode and 0.8 million after the resize.
"""

import io

import numpy as np
from PIL import Image

from ..utils.io import read_file

#: Images with more pixels are refused before decoding (8192 × 8192).
MAX_PIXELS = 8192 * 8192
#: Images whose longer side exceeds the shorter one by more than this factor are refused.
MAX_ASPECT_RATIO = 16
#: Image files larger than this are refused before they are read (256 MiB).
MAX_FILE_BYTES = 256 * 2 ** 20

_EIGHT_BIT_MODES = ("1", "L", "LA", "P", "PA", "RGB", "RGBA", "RGBX", "CMYK", "YCbCr")
_SIXTEEN_BIT_MODES = ("I;16", "I;16L", "I;16B", "I;16N")


class UnreadableImageError(ValueError):
    """An image that exists in a data set but cannot be decoded (truncated, damaged, an
    unsupported mode or an extreme size); the message names the file."""


def check_image_size(width, height, source):
    """Raise :class:`UnreadableImageError` naming ``source`` for an image too large or too
    elongated to decode and resize (the module's limits)."""
    if width < 1 or height < 1:
        raise UnreadableImageError(f"{source} has no pixels ({width} x {height})")
    if width * height > MAX_PIXELS:
        raise UnreadableImageError(f"{source} has {width} x {height} pixels, more than the {MAX_PIXELS} accepted")
    if max(width, height) > MAX_ASPECT_RATIO * min(width, height):
        raise UnreadableImageError(f"{source} is {width} x {height} pixels, an aspect ratio beyond "
                                   f"{MAX_ASPECT_RATIO}:1 that resizing its shorter side would blow up")


def to_rgb(image, source):
    """An 8-bit RGB copy of ``image`` (a decoded PIL image of any mode), converted by its range.

    Raises :class:`UnreadableImageError` naming ``source`` for values outside the mode's range
    and for modes that cannot be converted (module doc).
    """
    if image.mode in _EIGHT_BIT_MODES:
        return image.convert("RGB")
    if image.mode in _SIXTEEN_BIT_MODES + ("I", "F"):
        values = np.asarray(image, dtype=np.float32)  # exact for 16-bit integers
        low, high = (0.0, 1.0) if image.mode == "F" else (0.0, 65535.0)
        if not np.isfinite(values).all() or values.min() < low or values.max() > high:
            kind = "float" if image.mode == "F" else "32-bit integer"
            raise UnreadableImageError(f"{source} has {kind} pixels outside [{low:g}, {high:g}] (mode {image.mode}), "
                                       "a range that has no 8-bit equivalent; convert it to 8 or 16 bits")
        gray = np.rint(values * (255.0 / high)).astype(np.uint8)
        return Image.fromarray(gray).convert("RGB")
    try:
        return image.convert("RGB")
    except ValueError as error:
        raise UnreadableImageError(f"{source} has mode {image.mode}, which cannot be converted to RGB ({error})") \
            from None


def decode_image(path):
    """The 8-bit RGB image of the image file ``path``.

    The file is read once as a regular file (:func:`llu_core.utils.io.read_file`); the size
    limits are checked from its header, before its pixels are decoded. Raises
    :class:`UnreadableImageError` naming ``path`` when it cannot be read or decoded.
    """
    try:
        data = read_file(path, "image file", max_bytes=MAX_FILE_BYTES)
    except (OSError, ValueError) as error:
        raise UnreadableImageError(str(error)) from None
    try:
        with Image.open(io.BytesIO(data)) as image:
            check_image_size(*image.size, f"image file {path}")
            image.load()
            return to_rgb(image, f"image file {path}")
    except UnreadableImageError:
        raise
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as error:
        raise UnreadableImageError(f"image file {path} cannot be decoded ({error})") from None


def as_8bit_pixels(pixels):
    """In-memory images (n, H, W) or (n, H, W, 3) as uint8, checked.

    Integers in [0, 255] of any integer dtype are accepted; other values (wider ranges,
    floats) would wrap or be truncated by a plain cast and raise ``ValueError``, as do other
    shapes and sizes beyond the module's limits.
    """
    array = np.asarray(pixels)
    if array.ndim not in (3, 4) or (array.ndim == 4 and array.shape[3] != 3):
        raise ValueError(f"pixels must have shape (n, H, W) or (n, H, W, 3), got {array.shape}")
    if array.dtype != np.uint8:
        if array.dtype.kind not in "iu" or (array.size and (array.min() < 0 or array.max() > 255)):
            raise ValueError(f"pixels must be 8-bit: integers in [0, 255], got dtype {array.dtype}"
                             + (f" with values in [{array.min()}, {array.max()}]" if array.size else ""))
        array = array.astype(np.uint8)
    check_image_size(array.shape[2], array.shape[1], "pixels")
    return array
